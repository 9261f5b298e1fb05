"""What crossload costs in throughput: each tool run the way crossload runs it, next to the raw tool.

For each tool, on the same loopback target, same users, think time 0, the load generator CPU-bound:

- k6, toolkit: a scenario file -> ``crossload.run.execute`` (parse_scenario, build_schedule, render_k6,
  ``k6 inspect``, then ``K6Tool.launch``: ``k6 run --quiet ... --out json=raw.json --summary-export ...``
  while crossload tails and normalizes raw.json live, exactly what ``crossload run`` does);
- k6, raw: a hand-written script (``vus``/``duration`` options, ``http.get`` of the same URL) run with
  ``k6 run -q`` and no ``--out``;
- Locust, toolkit: the rendered locustfile with crossload's listener (CROSSLOAD_LOCUST_OUT set by
  ``LocustTool.launch``) through the same ``execute``;
- Locust, raw: a plain FastHttpUser locustfile doing the same GET, ``locust --headless -u N -r N -t D``.

Runs alternate (raw, toolkit, raw, toolkit, ...). Each pair gives a ratio toolkit RPS / raw RPS, both taken
from the tool's own end-of-test numbers (k6's http_reqs rate; Locust's Aggregated Requests/s), and the
median ratio is compared with the target (default 0.95).

    python benchmarks/overhead.py [--tool both|k6|locust] [--users 20] [--duration 8] [--rounds 2]

Exit code 0 when every measured tool met the target, 1 otherwise.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import (  # noqa: E402
    CpuClock,
    Measured,
    Target,
    dedent,
    fast_target,
    locust_aggregate,
    locust_bin,
    machine_line,
    median,
    run_k6,
    scenario_yaml,
    table,
)

from crossload.run import RunRequest, execute  # noqa: E402
from crossload.tools import get_tool  # noqa: E402

RAW_K6 = """\
import http from 'k6/http';

export const options = {{ vus: {users}, duration: '{duration}s' }};

export default function () {{
  http.get('{url}');
}}
"""

RAW_LOCUST = """\
from locust import FastHttpUser, constant, task


class PlainUser(FastHttpUser):
    wait_time = constant(0)

    @task
    def get(self):
        self.client.get("{path}")
"""


def toolkit_run(tool: str, scenario: Path, results: Path, label: str) -> Measured:
    clock = CpuClock()
    res = execute(RunRequest(profile="smoke", tool=tool, scenario=str(scenario), results_dir=results, quiet=True),
                  out=io.StringIO())
    wall, self_cpu, child_cpu = clock.stop()
    if res.exit_code != 0 or res.path is None:
        raise RuntimeError(f"{label}: crossload run failed (exit {res.exit_code}): {res.message}")
    collected = int(res.summary["tools"][tool]["overall"]["count"])
    out_dir = res.path / tool
    if tool == "k6":
        data = json.loads((out_dir / "k6-summary.json").read_text(encoding="utf-8"))
        count, rate = int(data["metrics"]["http_reqs"]["count"]), float(data["metrics"]["http_reqs"]["rate"])
        failures = int(res.summary["tools"][tool]["overall"]["failures"])
    else:
        count, failures, rate = locust_aggregate(out_dir / "locust_stats.csv")
    return Measured(label, count, rate, wall, child_cpu, self_cpu,
                    {"collected": collected, "failures": failures, "run": res.path.name})


def raw_locust(locustfile: Path, target: Target, users: int, duration: float, label: str) -> Measured:
    import subprocess

    prefix = locustfile.parent / "plain"
    argv = [locust_bin(), "-f", locustfile.name, "--headless", "-u", str(users), "-r", str(users),
            "-t", f"{duration:g}s", "-H", target.url, "--only-summary", "--loglevel", "WARNING",
            "--exit-code-on-error", "0", "--stop-timeout", "0", "--csv", prefix.name]
    clock = CpuClock()
    proc = subprocess.run(argv, cwd=locustfile.parent, capture_output=True, text=True, timeout=duration + 120,
                          check=False)
    wall, self_cpu, child_cpu = clock.stop()
    if proc.returncode != 0:
        raise RuntimeError(f"{label}: locust exited {proc.returncode}:\n{proc.stderr[-3000:]}")
    count, failures, rate = locust_aggregate(prefix.with_name("plain_stats.csv"))
    return Measured(label, count, rate, wall, child_cpu, self_cpu, {"collected": "-", "failures": failures})


def measure_tool(tool: str, target: Target, args: argparse.Namespace, work: Path) -> tuple[float, bool]:
    scenario = work / f"{tool}-scenario.yaml"
    scenario.write_text(scenario_yaml(f"overhead-{tool}", target.url, [("get", target.path)], args.users,
                                      args.duration), encoding="utf-8")
    results = work / "results"
    if tool == "k6":
        raw_script = work / "raw.js"
        raw_script.write_text(RAW_K6.format(users=args.users, duration=f"{args.duration:g}",
                                            url=target.url + target.path), encoding="utf-8")
        warm = work / "warm.js"
        warm.write_text(RAW_K6.format(users=args.users, duration="2", url=target.url + target.path),
                        encoding="utf-8")
        run_k6("warm-up", warm)  # first-run effects (page cache, CPU frequency) land here, unmeasured

        def raw() -> Measured:
            return run_k6("raw k6 run -q", raw_script)

        argv = get_tool("k6").launch(Path("script.js"), work / "k6").argv
        toolkit_desc = " ".join(Path(argv[0]).name if i == 0 else a for i, a in enumerate(argv))
        raw_desc = f"k6 run -q raw.js   (vus {args.users}, duration {args.duration:g}s, http.get, no --out)"
    else:
        plain = work / "plain_locustfile.py"
        plain.write_text(RAW_LOCUST.format(path=target.path), encoding="utf-8")

        def raw() -> Measured:
            return raw_locust(plain, target, args.users, args.duration, "raw locust")

        argv = get_tool("locust").launch(Path("locustfile.py"), work / "locust").argv
        toolkit_desc = ("CROSSLOAD_LOCUST_OUT=intervals.jsonl "
                        + " ".join(Path(argv[0]).name if i == 0 else a for i, a in enumerate(argv)))
        raw_desc = (f"locust -f plain_locustfile.py --headless -u {args.users} -r {args.users} "
                    f"-t {args.duration:g}s --csv plain (FastHttpUser, no listener)")

    print(f"\n== {tool}: {args.users} users, think time 0, {args.duration:g} s per run, {args.rounds} rounds ==")
    print(f"toolkit: {toolkit_desc}\n         + crossload collecting the raw output live (crossload.run.execute)")
    print(f"raw:     {raw_desc}")
    runs: list[tuple[int, str, Measured]] = []
    for n in range(1, args.rounds + 1):
        runs.append((n, "raw", raw()))
        runs.append((n, "toolkit", toolkit_run(tool, scenario, results, f"crossload {tool}")))
        print(f"  round {n}: raw {runs[-2][2].rps:,.0f} req/s, toolkit {runs[-1][2].rps:,.0f} req/s", flush=True)

    rows = []
    for n, arm, m in runs:
        dur = m.requests / m.rps if m.rps else 0.0
        rows.append([n, arm, m.requests, m.rps, m.extra.get("failures", 0), m.extra.get("collected", "-"),
                     f"{m.child_cpu_s / dur:.2f}" if dur else "-",
                     f"{m.self_cpu_s / dur:.2f}" if dur and arm == "toolkit" else "-"])
    print()
    print(table(["round", "arm", "requests", "req/s", "failures", "collected by crossload",
                 f"{tool} CPU (cores)", "collector CPU (cores)"], rows, "rlrrrrrr"))
    ratios = []
    for n in range(1, args.rounds + 1):
        raw_m = next(m for r, a, m in runs if r == n and a == "raw")
        kit_m = next(m for r, a, m in runs if r == n and a == "toolkit")
        ratios.append(kit_m.rps / raw_m.rps)
    med = median(ratios)
    lost = [m for _n, a, m in runs if a == "toolkit" and m.extra["collected"] != m.requests]
    ok = med >= args.target
    print(f"\n{tool}: toolkit/raw RPS per round: {', '.join(f'{r:.3f}' for r in ratios)}; "
          f"median {med:.3f} (target >= {args.target:.2f}): "
          + ("MET" if ok else f"MISSED by {args.target - med:.3f} ({(args.target - med) * 100:.1f} points)"))
    if lost:
        print(f"{tool}: WARNING: crossload collected a different count than {tool} reported in "
              f"{len(lost)} run(s): " + ", ".join(f"{m.extra['collected']} vs {m.requests}" for m in lost))
        ok = False
    return med, ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tool", choices=("both", "k6", "locust"), default="both")
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--duration", type=float, default=8.0, help="seconds per run (default 8)")
    parser.add_argument("--rounds", type=int, default=2, help="raw/toolkit pairs per tool (default 2)")
    parser.add_argument("--target", type=float, default=0.95, help="minimum toolkit/raw RPS ratio")
    parser.add_argument("--server", choices=("nginx", "demo"), default="nginx",
                        help="target server (nginx falls back to the demo target when not installed)")
    args = parser.parse_args()
    tools = ["k6", "locust"] if args.tool == "both" else [args.tool]
    print(machine_line())
    results: dict[str, tuple[float, bool]] = {}
    with tempfile.TemporaryDirectory(prefix="crossload-overhead-") as tmp, fast_target(args.server) as target:
        print(f"target: {target.kind}, GET {target.path}")
        for tool in tools:
            work = Path(tmp) / tool
            work.mkdir()
            results[tool] = measure_tool(tool, target, args, work)
    print("\n== summary ==")
    print(table(["tool", "median toolkit/raw RPS", "target", "verdict"],
                [[t, f"{m:.3f}", f">= {args.target:.2f}", "PASS" if ok else f"MISS by {args.target - m:.3f}"]
                 for t, (m, ok) in results.items()], "lrrl"))
    return 0 if all(ok for _m, ok in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
