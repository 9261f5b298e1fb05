"""Do both tools, run through crossload, report the same latency for the same endpoint?

A scenario with one request, ``GET /delay/50`` (the demo target answers after 50 ms), 10 users, no think
time, keep-alive as both tools do by default (the scenario sets no Connection header), is run through
crossload itself: ``crossload.run.execute`` with ``--tool both`` semantics renders both files, runs Locust
and then k6 and collects their results into ``results/<run>/<tool>/aggregates.jsonl``. From those
per-second aggregates the first ``--warmup`` seconds (connection set-up, spawning) and the last, partial
second of each tool are left out and the rest are merged into one histogram per tool
(``crossload.histogram.Histogram``: merging is exact).

The target is the demo target started here exactly as crossload starts it when a scenario names none
(``DemoTarget``, 127.0.0.1, one worker), so that two references can be taken on the same server first:
one sequential keep-alive client (http.client: what the endpoint takes with no concurrency) and, when
installed, wrk with as many connections as users (a C client at the same concurrency). They show how much
of the distance to the nominal delay is the server's and how much the tools'.

    python benchmarks/fidelity.py [--users 10] [--duration 15] [--delay-ms 50] [--warmup 3]

Criteria: both p50 within 2 ms of the delay and within 2 ms of each other; p99 within 5 ms of each other.
Exit code 0 when all are met, 1 otherwise.
"""

from __future__ import annotations

import argparse
import http.client
import io
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import machine_line, table

from crossload.histogram import Histogram
from crossload.results import IntervalAggregate, read_aggregates
from crossload.run import RunRequest, execute
from crossload.target import DemoTarget

SCENARIO = """\
version: 1
name: fidelity
description: One fixed-latency endpoint, to compare what the two tools measure.
target: {target}
requests:
  - name: delay {delay}
    path: /delay/{delay}
    checks:
      status: 200
profiles:
  smoke:
    stages:
      - {{duration: 0s, users: {users}}}
      - {{duration: {duration:g}s, users: {users}}}
"""


def steady_histogram(path: Path, tool: str, warmup_s: int) -> tuple[Histogram, dict[str, int]]:
    aggs = [a for a in read_aggregates(path, tool) if isinstance(a, IntervalAggregate) and a.count]
    if not aggs:
        raise SystemExit(f"{path}: no request aggregates")
    first = min(a.t for a in aggs)
    last = max(a.t for a in aggs)
    kept = [a for a in aggs if first + warmup_s <= a.t < last]
    hist = Histogram()
    for a in kept:
        hist.merge(a.hist)
    info = {
        "intervals": len({a.t for a in aggs}),
        "kept_intervals": len({a.t for a in kept}),
        "requests": sum(a.count for a in aggs),
        "kept_requests": sum(a.count for a in kept),
        "failures": sum(a.failures for a in kept),
    }
    return hist, info


def sequential_probe(port: int, path: str, n: int) -> dict[int, float]:
    """One keep-alive connection, one request at a time: the endpoint's own latency (ms)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    times = []
    try:
        for i in range(n + 5):
            t0 = time.perf_counter()
            conn.request("GET", path)
            conn.getresponse().read()
            if i >= 5:  # connection set-up and first-request effects
                times.append((time.perf_counter() - t0) * 1000)
    finally:
        conn.close()
    times.sort()
    return {q: times[min(len(times) - 1, max(0, int(q / 100 * len(times) + 0.5) - 1))] for q in (50, 90, 99)} | {
        0: statistics.mean(times)}


def wrk_probe(url: str, connections: int, seconds: int) -> dict[int, float] | None:
    wrk = shutil.which("wrk")
    if wrk is None:
        return None
    subprocess.run([wrk, "-t1", f"-c{connections}", "-d1s", url], capture_output=True, check=False)
    out = subprocess.run([wrk, "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", url], capture_output=True,
                         text=True, check=False).stdout
    found = {}
    for q in (50, 90, 99):
        m = re.search(rf"^\s+{q}%\s+([\d.]+)(us|ms|s)\s*$", out, re.MULTILINE)
        if m is None:
            return None
        found[q] = float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--duration", type=float, default=15.0, help="seconds per tool (default 15)")
    parser.add_argument("--delay-ms", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=3, help="seconds left out at each tool's start")
    parser.add_argument("--workers", type=int, default=1, help="demo target processes (crossload's default: 1)")
    parser.add_argument("--keep", help="keep the results in this directory instead of a temporary one")
    args = parser.parse_args()

    print(machine_line())
    path = f"/delay/{args.delay_ms}"
    with tempfile.TemporaryDirectory(prefix="crossload-fidelity-") as tmp, \
            DemoTarget(host="127.0.0.1", port=0, workers=args.workers) as target:
        root = Path(args.keep) if args.keep else Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        print(f"demo target at {target.url} ({args.workers} worker{'s' if args.workers > 1 else ''}), GET {path}")
        seq = sequential_probe(target.port, path, 100)
        wrk = wrk_probe(target.url.rstrip("/") + path, args.users, 5)
        scenario = root / "fidelity.yaml"
        scenario.write_text(SCENARIO.format(target=target.url.rstrip("/"), delay=args.delay_ms, users=args.users,
                                            duration=args.duration), encoding="utf-8")
        log = io.StringIO()
        print(f"crossload run: scenario {scenario.name} (GET {path}, {args.users} users, {args.duration:g} s per "
              "tool, think time 0), profile smoke, tool both", flush=True)
        res = execute(RunRequest(profile="smoke", tool="both", scenario=str(scenario), results_dir=root / "results",
                                 quiet=True), out=log)
        if res.path is None or res.exit_code != 0:
            print(log.getvalue()[-3000:])
            print(f"crossload run failed (exit {res.exit_code}): {res.message}")
            return 1
        stats = {}
        for tool in ("locust", "k6"):
            hist, info = steady_histogram(res.path / tool / "aggregates.jsonl", tool, args.warmup)
            stats[tool] = (hist, info)
        run_id = res.path.name

    delay = float(args.delay_ms)
    rows = []
    pct: dict[str, dict[int, float]] = {}
    for tool, (hist, info) in stats.items():
        pct[tool] = {q: hist.percentile_ms(q) for q in (50, 90, 99)}
        rows.append([tool, info["requests"], f"{info['kept_intervals']} of {info['intervals']}", info["kept_requests"],
                     info["failures"], f"{pct[tool][50]:.2f}", f"{pct[tool][90]:.2f}", f"{pct[tool][99]:.2f}"])
    rows.append(["k6 - locust", "", "", "", "", f"{pct['k6'][50] - pct['locust'][50]:+.2f}",
                 f"{pct['k6'][90] - pct['locust'][90]:+.2f}", f"{pct['k6'][99] - pct['locust'][99]:+.2f}"])
    print(f"\nrun {run_id}; first {args.warmup} s and the last (partial) second of each tool left out")
    print(table(["tool", "requests", "seconds kept", "requests kept", "failures", "p50 ms", "p90 ms", "p99 ms"],
                rows, "lrrrrrrr"))
    ref_rows = [["sequential client (1 connection, 1 request at a time, 100 requests)", f"{seq[50]:.2f}",
                 f"{seq[90]:.2f}", f"{seq[99]:.2f}"]]
    if wrk:
        ref_rows.append([f"wrk -t1 -c{args.users} -d5s --latency (same concurrency)", f"{wrk[50]:.2f}",
                         f"{wrk[90]:.2f}", f"{wrk[99]:.2f}"])
    print("\nreferences on the same target, taken just before:")
    print(table(["reference client", "p50 ms", "p90 ms", "p99 ms"], ref_rows, "lrrr"))

    checks = [
        (f"locust p50 within 2 ms of {delay:g} ms", abs(pct["locust"][50] - delay), 2.0),
        (f"k6 p50 within 2 ms of {delay:g} ms", abs(pct["k6"][50] - delay), 2.0),
        ("p50 within 2 ms of each other", abs(pct["k6"][50] - pct["locust"][50]), 2.0),
        ("p99 within 5 ms of each other", abs(pct["k6"][99] - pct["locust"][99]), 5.0),
    ]
    print()
    crit_rows = []
    for label, got, limit in checks:
        verdict = "PASS" if got <= limit else f"MISS by {got - limit:.2f} ms"
        crit_rows.append([label, f"{got:.2f} ms", f"<= {limit:g} ms", verdict])
    print(table(["criterion", "measured", "limit", "verdict"], crit_rows, "lrrl"))
    server = wrk[50] if wrk else seq[50]
    who = f"wrk at {args.users} connections" if wrk else "the sequential client"
    print(f"\nof the distance from p50 to {delay:g} ms: {server - delay:+.2f} ms is the target's own ({who} sees "
          f"p50 {server:.2f} ms; one request at a time {seq[50]:.2f} ms); locust adds "
          f"{pct['locust'][50] - server:+.2f} ms and k6 {pct['k6'][50] - server:+.2f} ms on top of that.")
    return 0 if all(got <= limit for _l, got, limit in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
