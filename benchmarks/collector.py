"""How fast crossload normalizes k6's JSON stream, and how much memory that takes on a long run.

(a) Throughput. A real stream is recorded first: crossload renders a 5-request scenario and runs k6 the way
    ``crossload run`` does (``crossload.run.execute``, k6 writing the ``--out json=...`` file that
    ``K6Tool.launch`` names: raw.json, or raw.json.gz) for a few seconds against a loopback target. The
    recording is then replayed on one CPU core (this process pinned to it):
    - parser only: the lines, already in memory, through ``K6JsonParser.feed`` with a ``drain`` per 1 MB of
      input (what one read of the file tail hands over);
    - full pump: the recorded file read by the tail crossload uses for it (``crossload.collect.tail_for``:
      ``FileTail``, or ``GzipFileTail`` inflating a .gz file), fed to the parser, drained, written with
      ``AggregateWriter`` and merged into ``ToolStats``, the loop of ``crossload.run._run_tool``; when the
      recording is compressed, the same pump over an uncompressed copy too, to show what inflating costs.
    The recording is replayed as many times as needed for at least ``--replay-seconds`` of work, and the
    rate is requests (http_req_duration samples) normalized per second, next to k6's peak request rate on
    this machine, so the headroom is visible.

(b) Memory on a long run. A child process (pinned to one core, so its ru_maxrss is its own) generates the
    stream k6 writes for ``--requests`` requests (default 10 million) on the fly: every line of a request
    (http_reqs, http_req_duration, the six timing trends, http_req_failed, data_sent, data_received,
    iteration_duration, iterations, plus crossload_check_failed where a check failed: 13-14 lines) copied
    from the real recording's line shapes, per request name and outcome, with a lognormal latency, vus and
    vus_max once per simulated second, and timestamps advancing so that ~2,000 requests fall in each
    simulated second, spread over 5 request names. Every simulated second it drains the parser and writes
    the aggregates to a file with ``AggregateWriter``, as ``_run_tool`` does every tick. RSS is sampled
    from /proc/self/statm every simulated second; ru_maxrss is read at the end.

    python benchmarks/collector.py [--requests 10000000] [--replay-seconds 4] [--skip-memory]

Targets: the collector normalizes faster than k6 produces requests at its peak on this machine (a); RSS
stays flat (growth after the first 10 % under 10 MB) and under 150 MB (b). Exit 0 when met, 1 otherwise.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import math
import os
import random
import resource
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import (
    Target,
    fast_target,
    machine_line,
    table,
)

from crossload.collect import FileTail, K6JsonParser
from crossload.exact import ExactValues, take_figures
from crossload.results import AggregateWriter, IntervalAggregate, ToolStats, UsersSample
from crossload.run import RunRequest, execute
from crossload.tools import get_tool

# name, method, path, extra YAML lines; weight (of the synthetic stream, in percent)
REQUESTS: tuple[tuple[str, str, str, list[str], int], ...] = (
    ("health", "GET", "/health", [], 30),
    ("item detail", "GET", "/api/items/42", [], 40),
    ("create item", "POST", "/api/items", ["    json: {name: widget, price: 9.5}"], 18),
    ("search", "GET", "/api/search", ["    query: {q: item}", "    checks:", "      body_contains: no-such-text"],
     10),
    ("missing", "GET", "/missing", [], 2),
)
HTTP_METRICS = ("http_reqs", "http_req_duration", "http_req_blocked", "http_req_connecting",
                "http_req_tls_handshaking", "http_req_sending", "http_req_waiting", "http_req_receiving",
                "http_req_failed")
ITER_METRICS = ("data_sent", "data_received", "iteration_duration", "iterations")
PAGE = os.sysconf("SC_PAGE_SIZE")



def _requests_in(items: list[Any]) -> int:
    """Requests in a drained batch (users samples carry none)."""
    return sum(a.count for a in items if isinstance(a, IntervalAggregate))

def rss_mb() -> float:
    with open("/proc/self/statm", encoding="ascii") as f:
        return int(f.read().split()[1]) * PAGE / 1e6


def maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6  # Linux: kB


def hwm_mb() -> float:
    """VmHWM: this process's peak RSS, from /proc/self/status (kB)."""
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024 / 1e6
    return float("nan")


def pin_one_core() -> str:
    try:
        cpus = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpus[-1]})
        return f"pinned to CPU {cpus[-1]}"
    except (AttributeError, OSError):
        return "not pinned (no sched_setaffinity)"


# ---------------------------------------------------------------------------------------------------------
# Recording


def record(target: Target, work: Path, seconds: float, vus: int) -> Path:
    lines = ["version: 1", "name: collector-recording", f"target: {target.url}", "requests:"]
    for name, method, path, extra, _w in REQUESTS:
        lines += [f"  - name: {name}", f"    method: {method}", f"    path: {path}", *extra]
    lines += ["profiles:", "  smoke:", "    stages:", f"      - {{duration: 0s, users: {vus}}}",
              f"      - {{duration: {seconds:g}s, users: {vus}}}"]
    scenario = work / "recording.yaml"
    scenario.write_text("\n".join(lines) + "\n", encoding="utf-8")
    res = execute(RunRequest(profile="smoke", tool="k6", scenario=str(scenario), results_dir=work / "results",
                             quiet=True), out=io.StringIO())
    raw_name = get_tool("k6").launch(Path("script.js"), work).raw_output.name
    # k6's output is written plain and compressed once the run is over (K6Tool.finish): either may be there.
    for name in (raw_name, raw_name + ".gz"):
        if res.path is not None and (res.path / "k6" / name).exists():
            return res.path / "k6" / name
    raise SystemExit(f"recording failed: {res.message}")


def open_text(path: Path) -> TextIO:
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    return path.open(encoding="utf-8")


def crossload_tail(path: Path) -> Any:
    """The tail crossload's run loop uses for this file."""
    try:
        from crossload.collect import tail_for
    except ImportError:  # before compressed raw output existed
        return FileTail(path)
    return tail_for(path)


# ---------------------------------------------------------------------------------------------------------
# (a) throughput


def pump_like_run(tail: Any, parser: K6JsonParser, writer: AggregateWriter, stats: ToolStats,
                  final: bool) -> None:
    """The body of ``pump`` in crossload.run._run_tool (without the optional live sinks)."""
    for line in tail.lines():
        parser.feed(line)
    items = parser.drain(final)
    writer.write(items)
    for item in items:
        stats.add(item)


def throughput(raw: Path, work: Path, min_seconds: float) -> dict[str, Any]:
    with open_text(raw) as f:
        text = f.read()
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    size_mb = len(text.encode()) / 1e6
    plain: Path | None = None
    if raw.suffix == ".gz":
        plain = work / "uncompressed.json"
        plain.write_text(text, encoding="utf-8")
    del text
    per_pass = sum(1 for ln in lines if ln.startswith('{"metric":"http_req_duration","type":"Point"'))
    # drain once per ~1 MB of input, as a tail hands over at most 1 MB per read
    step = max(1, int(len(lines) / max(size_mb, 1e-9)))

    passes = 0
    samples = 0
    t0 = time.perf_counter()
    c0 = time.process_time()
    while True:
        parser = K6JsonParser()
        for i in range(0, len(lines), step):
            for ln in lines[i:i + step]:
                parser.feed(ln)
            samples += _requests_in(parser.drain(False))
        samples += _requests_in(parser.drain(True))
        passes += 1
        if time.perf_counter() - t0 >= min_seconds:
            break
    out: dict[str, Any] = {
        "lines": len(lines), "size_mb": size_mb, "file_mb": raw.stat().st_size / 1e6, "requests": per_pass,
        "lines_per_request": len(lines) / max(per_pass, 1),
        "modes": [("K6JsonParser.feed + drain (lines in memory)",
                   {"passes": passes, "samples": samples, "wall": time.perf_counter() - t0,
                    "cpu": time.process_time() - c0})],
    }
    del lines
    sources = [(raw, f"{type(crossload_tail(raw)).__name__} ({raw.name}) + parser + drain + AggregateWriter + "
                     "ToolStats + exact values: run.py's pump")]
    if plain is not None:
        sources.append((plain, "FileTail (uncompressed copy) + the same pump"))
    for src, label in sources:
        passes = 0
        samples = 0
        t0 = time.perf_counter()
        c0 = time.process_time()
        while True:
            parser = K6JsonParser()
            parser.values = ExactValues(work / f"exact-{passes}")  # every duration kept, as ToolCollector does
            tail = crossload_tail(src)
            writer = AggregateWriter(work / f"replay-{passes}.jsonl")
            stats = ToolStats(tool="k6")
            pump_like_run(tail, parser, writer, stats, final=False)
            pump_like_run(tail, parser, writer, stats, final=True)
            take_figures(stats, parser.values)
            parser.values.close()
            tail.close()
            writer.close()
            (work / f"replay-{passes}.jsonl").unlink()
            samples += stats.overall.count
            passes += 1
            if time.perf_counter() - t0 >= min_seconds:
                break
        out["modes"].append((label, {"passes": passes, "samples": samples, "wall": time.perf_counter() - t0,
                                     "cpu": time.process_time() - c0}))
    return out


# ---------------------------------------------------------------------------------------------------------
# (b) memory on a long synthetic stream


def split_template(line: str) -> tuple[str, str, str]:
    """A recorded Point line -> (before time, between time and value, after value)."""
    d = json.loads(line)["data"]
    stamp = d["time"]
    i = line.index('"time":"') + len('"time":"')
    assert line[i:i + len(stamp)] == stamp
    pre = line[:i]
    rest = line[i + len(stamp):]
    mid_end = rest.index('"value":') + len('"value":')
    mid = rest[:mid_end]
    post = rest[rest.index(',"tags":', mid_end):]
    return pre, mid, post


def extract_templates(raw: Path) -> dict[str, Any]:
    """Per request name: the recorded shape of each line a request produces, and the per-second lines."""
    names = {r[0] for r in REQUESTS}
    per_name: dict[str, dict[str, str]] = {n: {} for n in names}
    metric_lines: list[str] = []
    second_lines: dict[str, str] = {}
    iter_lines: dict[str, str] = {}  # per-iteration lines: k6 tags them without the request name
    values: dict[str, dict[str, str]] = {n: {} for n in names}
    with open_text(raw) as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith('{"type":"Metric"'):
                metric_lines.append(line)
                continue
            d = json.loads(line)
            metric = d["metric"]
            if metric in ("vus", "vus_max"):
                second_lines.setdefault(metric, line)
                continue
            name = d["data"]["tags"].get("name")
            if name is None and metric in ITER_METRICS:
                iter_lines.setdefault(metric, line)
                continue
            if name in names and metric not in per_name[name]:
                per_name[name][metric] = line
                values[name][metric] = json.dumps(d["data"]["value"])
    out: dict[str, Any] = {"metric_lines": metric_lines, "second": {}, "names": {}}
    for metric, line in second_lines.items():
        out["second"][metric] = split_template(line)
    for name, lines in per_name.items():
        for metric, line in iter_lines.items():
            if metric not in lines:
                lines[metric] = line
                values[name][metric] = json.dumps(json.loads(line)["data"]["value"])
        missing = [m for m in (*HTTP_METRICS, *ITER_METRICS) if m not in lines]
        if missing:
            raise SystemExit(f"the recording has no {missing} line for request {name!r}")
        order = [*HTTP_METRICS]
        if "crossload_check_failed" in lines:
            order.append("crossload_check_failed")
        order += ITER_METRICS
        out["names"][name] = [[m, *split_template(lines[m]), values[name][m]] for m in order]
    return out


def synthetic_stream(templates: dict[str, Any], requests: int, rate: int, seed: int = 1
                     ) -> Iterator[tuple[int, list[str]]]:
    """Yields (simulated second, the lines of that second), ``rate`` requests per second."""
    rnd = random.Random(seed)
    weights = {r[0]: r[4] for r in REQUESTS}
    names = list(templates["names"])
    table_ = [n for n in names for _ in range(weights[n])]
    # k6 writes durations with up to 6 decimals (ms): a lognormal around 20 ms, 1 % slow tail
    pool = []
    for _ in range(8192):
        ms = rnd.lognormvariate(math.log(20.0), 0.5)
        if rnd.random() < 0.01:
            ms *= 10
        pool.append(f"{ms:.6f}".rstrip("0").rstrip("."))
    start = 1_790_000_000  # a fixed simulated start (2026)
    step_ns = 1_000_000_000 // rate
    done = 0
    sec = 0
    while done < requests:
        t = start + sec
        prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + "."
        lines: list[str] = []
        if sec == 0:
            lines.extend(templates["metric_lines"])
        for metric in ("vus", "vus_max"):
            if metric in templates["second"]:
                pre, mid, post = templates["second"][metric]
                lines.append(f"{pre}{prefix}000000000Z{mid}20{post}")
        n = min(rate, requests - done)
        for i in range(n):
            stamp = f"{prefix}{i * step_ns + rnd.randrange(step_ns):09d}Z"
            name = table_[rnd.randrange(len(table_))]
            dur = pool[(done + i) & 8191]
            for metric, pre, mid, post, value in templates["names"][name]:
                lines.append(pre + stamp + mid + (dur if metric == "http_req_duration" else value) + post)
        done += n
        yield sec, lines
        sec += 1


PROGRESS_HEADER = (
    "    requests  seconds  RSS MB  peak RSS (VmHWM) MB  ru_maxrss MB  open intervals  aggregates written\n"
    "  ----------  -------  ------  -------------------  ------------  --------------  ------------------"
)


def _progress_row(p: dict[str, float]) -> str:
    return (f"  {p['requests']:>10,}  {p['seconds']:>7.0f}  {p['rss_mb']:>6.1f}  {p['hwm_mb']:>19.1f}  "
            f"{p['maxrss_mb']:>12.1f}  {p['open']:>14}  {p['aggregates']:>18,}")


def memory_child(args: argparse.Namespace) -> int:
    """Runs in its own process: prints one JSON object with the memory profile."""
    pinned = pin_one_core()
    templates = json.loads(Path(args.templates).read_text(encoding="utf-8"))
    parser = K6JsonParser()
    values = parser.values = ExactValues(Path(args.out).with_suffix(".exact"))  # as ToolCollector keeps them
    writer = AggregateWriter(Path(args.out))
    stats = ToolStats(tool="k6")
    state: dict[str, Any] = {"last": None}
    checkpoints = {max(1, int(args.requests * k / 10)) for k in range(1, 11)}
    profile: list[dict[str, float]] = []
    rss_series: list[float] = []
    lines_total = 0
    aggregates = 0
    done = 0
    t0 = time.perf_counter()
    base_rss = rss_mb()
    for sec, lines in synthetic_stream(templates, args.requests, args.rate):
        for line in lines:
            parser.feed(line)
        lines_total += len(lines)
        items = parser.drain(False)  # one drain per simulated second, as run.py drains every tick
        aggregates += writer.write(items)
        for item in items:
            stats.add(item)
            if not isinstance(item, UsersSample):
                last = state["last"]
                if last is None or item.t > last.t:
                    state["last"] = IntervalAggregate(tool="k6", t=item.t, name="", method="")
        before = done
        done = min(args.requests, (sec + 1) * args.rate)
        rss = rss_mb()
        rss_series.append(rss)
        for cp in sorted(checkpoints):
            if before < cp <= done:
                p = {"requests": done, "seconds": time.perf_counter() - t0, "rss_mb": rss,
                     "maxrss_mb": maxrss_mb(), "hwm_mb": hwm_mb(), "open": len(parser.open),
                     "aggregates": aggregates}
                profile.append(p)
                print(_progress_row(p), file=sys.stderr, flush=True)
    items = parser.drain(True)
    aggregates += writer.write(items)
    for item in items:
        if not isinstance(item, UsersSample):
            stats.add(item)
    writer.close()
    wall = time.perf_counter() - t0
    # The end of the run: the exact whole-run figures from every kept duration (crossload.exact).
    values_mb = sum(log.path.stat().st_size for log in (*values.all.values(), *values.failed.values())
                    if log.path.exists()) / 1e6
    e0 = time.perf_counter()
    take_figures(stats, values)
    exact_s = time.perf_counter() - e0
    values.close()
    print(json.dumps({
        "pinned": pinned, "requests": done, "collected": stats.overall.count, "failures": stats.overall.failures,
        "lines": lines_total, "seconds": wall, "cpu": time.process_time(), "base_rss_mb": base_rss,
        "profile": profile, "rss_min_mb": min(rss_series), "rss_max_mb": max(rss_series),
        "maxrss_mb": maxrss_mb(), "hwm_mb": hwm_mb(), "aggregates": aggregates,
        "out_bytes": Path(args.out).stat().st_size,
        "p99_ms": stats.overall.hist.percentile_ms(99), "simulated_seconds": len(rss_series),
        "exact_p99_ms": (stats.overall.exact_ok or {}).get("p99"), "exact_s": exact_s, "values_mb": values_mb,
        "maxrss_after_exact_mb": maxrss_mb(), "hwm_after_exact_mb": hwm_mb(),
    }))
    return 0


# ---------------------------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=10_000_000, help="requests in the long stream (b)")
    parser.add_argument("--rate", type=int, default=2000, help="requests per simulated second (b)")
    parser.add_argument("--replay-seconds", type=float, default=4.0, help="minimum replay time per mode (a)")
    parser.add_argument("--record-seconds", type=float, default=3.0)
    parser.add_argument("--record-vus", type=int, default=10)
    parser.add_argument("--skip-memory", action="store_true", help="only (a)")
    parser.add_argument("--server", choices=("nginx", "demo"), default="nginx")
    parser.add_argument("--rss-limit", type=float, default=150.0, help="MB")
    parser.add_argument("--k6-peak", type=float, default=0.0,
                        help="k6's peak req/s to compare with (default: measured by a 4 s raw k6 run)")
    parser.add_argument("--memory-child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--templates", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        return memory_child(args)

    print(machine_line())
    ok = True
    with tempfile.TemporaryDirectory(prefix="crossload-collector-") as tmp:
        work = Path(tmp)
        with fast_target(args.server) as target:
            # crossload's scenario paths must exist on nginx too: it answers every path, /missing with 404
            print(f"target: {target.kind}")
            raw = record(target, work, args.record_seconds, args.record_vus)
            peak = args.k6_peak or k6_peak(target, work)
        templates = extract_templates(raw)
        tpl_path = work / "templates.json"
        tpl_path.write_text(json.dumps(templates), encoding="utf-8")

        # (a) on one core
        pinned = pin_one_core()
        res = throughput(raw, work, args.replay_seconds)
        print(f"\n== (a) normalizing a recorded k6 stream, one core ({pinned}) ==")
        print(f"recording: crossload run of {len(REQUESTS)} requests, {args.record_vus} VUs, "
              f"{args.record_seconds:g} s: {res['requests']:,} requests, {res['lines']:,} lines "
              f"({res['lines_per_request']:.1f} per request), {res['size_mb']:.0f} MB of JSON "
              f"({1e6 * res['size_mb'] / max(res['requests'], 1):,.0f} B/request), {res['file_mb']:.1f} MB on disk "
              f"({raw.name})")
        rows = []
        for label, r in res["modes"]:
            rate = r["samples"] / r["wall"]
            rows.append([label, r["passes"], r["samples"], f"{r['wall']:.2f}", f"{rate:,.0f}",
                         f"{rate * res['lines_per_request']:,.0f}", f"{1e6 * r['cpu'] / r['samples']:.1f}",
                         f"{rate / peak:.2f}x", f"{peak / rate:.0%}"])
        print(table(["mode", "passes", "requests", "seconds", "requests/s", "lines/s", "CPU us/request",
                     "vs k6 peak", "one core at k6 peak"], rows, "lrrrrrrrr"))
        full = res["modes"][1][1]
        full_rate = full["samples"] / full["wall"]
        print(f"k6 peak on this machine (raw k6, 20 VUs, no output): {peak:,.0f} req/s")
        a_ok = full_rate >= peak
        print("(a) " + ("MET" if a_ok else "MISSED") + f": run.py's pump normalizes {full_rate:,.0f} requests/s "
              f"on one core, {full_rate / peak:.2f}x k6's peak rate"
              + ("" if a_ok else f" (short by {peak - full_rate:,.0f} requests/s)"))
        ok &= a_ok

        if args.skip_memory:
            return 0 if ok else 1
        print(f"\n== (b) memory while normalizing {args.requests:,} requests "
              f"(synthetic stream, {args.rate:,} requests per simulated second, {len(REQUESTS)} names) ==")
        print("every line of every request is generated and fed (none left out); progress every 10 % "
              "(MB = 10^6 bytes):", flush=True)
        print(PROGRESS_HEADER, flush=True)
        cmd = [sys.executable, __file__, "--memory-child", "--templates", str(tpl_path), "--out",
               str(work / "aggregates.jsonl"), "--requests", str(args.requests), "--rate", str(args.rate)]
        # Linux carries a parent's peak RSS into ru_maxrss across fork+exec; started from a shell that
        # forks (the trailing `exit` stops it from exec-ing directly), the child's ru_maxrss is its own.
        shell = [_sh(), "-c", " ".join(shlex.quote(c) for c in cmd) + "; exit $?"]
        t0 = time.perf_counter()
        proc = subprocess.run(shell, stdout=subprocess.PIPE, text=True, check=False)  # progress: stderr
        if proc.returncode != 0:
            print(f"the memory run failed (exit {proc.returncode})")
            return 1
        m = json.loads(proc.stdout.strip().splitlines()[-1])
        took = time.perf_counter() - t0
    first = m["profile"][0]["rss_mb"]
    growth = m["rss_max_mb"] - first
    print(f"child {m['pinned']}; {m['lines']:,} lines ({m['lines'] / m['requests']:.1f} per request), "
          f"{m['simulated_seconds']:,} simulated seconds, {m['collected']:,} requests collected "
          f"({m['failures']:,} failed), {m['aggregates']:,} aggregates = {m['out_bytes'] / 1e6:.0f} MB written")
    print(f"time: {m['seconds']:.0f} s for {m['requests']:,} requests ({m['requests'] / m['seconds']:,.0f} requests/s,"
          f" {m['lines'] / m['seconds']:,.0f} lines/s incl. generating them); {took:.0f} s with start-up")
    print(f"RSS: {m['base_rss_mb']:.1f} MB before the stream, {first:.1f} MB at 10 %, "
          f"{m['rss_max_mb']:.1f} MB highest of {m['simulated_seconds']:,} samples (one per simulated second), "
          f"peak (VmHWM) {m['hwm_mb']:.1f} MB, ru_maxrss {m['maxrss_mb']:.1f} MB; growth after 10 %: {growth:+.1f} MB")
    print(f"exact whole-run figures (crossload.exact) at the end: {m['exact_s']:.1f} s over "
          f"{m['values_mb']:.0f} MB of kept durations; p99 {m['exact_p99_ms']:.3f} ms exact vs "
          f"{m['p99_ms']:.3f} ms from the histogram; ru_maxrss after it {m['maxrss_after_exact_mb']:.1f} MB")
    flat = growth < 10.0
    peak = max(m["maxrss_mb"], m["hwm_mb"], m["rss_max_mb"], m["maxrss_after_exact_mb"])
    under = peak < args.rss_limit
    lost = m["collected"] != m["requests"]
    print("(b) flat: " + ("MET" if flat else f"MISSED (grew {growth:.1f} MB, limit 10 MB)")
          + f"; peak under {args.rss_limit:g} MB: " + ("MET" if under else
                                                       f"MISSED by {peak - args.rss_limit:.1f} MB")
          + ("; every request collected" if not lost else
             f"; MISSED: collected {m['collected']:,} of {m['requests']:,}"))
    ok &= flat and under and not lost
    return 0 if ok else 1


def _sh() -> str:
    return "/bin/sh" if os.path.exists("/bin/sh") else "sh"


def k6_peak(target: Target, work: Path) -> float:
    from _harness import run_k6

    script = work / "peak.js"
    script.write_text("import http from 'k6/http';\nexport const options = { vus: 20, duration: '4s' };\n"
                      f"export default function () {{ http.get('{target.url}{target.path}'); }}\n",
                      encoding="utf-8")
    m = run_k6("peak", script, counter=target.counter)
    steady = m.extra.get("steady")
    return max(m.rps, float(steady) if isinstance(steady, float) else 0.0)


if __name__ == "__main__":
    sys.exit(main())
