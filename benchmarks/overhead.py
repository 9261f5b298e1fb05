"""What crossload costs in throughput: each tool run the way crossload runs it, next to the raw tool.

For each tool, on the same loopback target, same users, think time 0, the load generator CPU-bound:

- k6, toolkit: crossload's own steps, the ones ``crossload run`` takes: ``parse_scenario`` ->
  ``build_schedule`` -> ``render_k6`` (through ``K6Tool.render``) -> ``k6 inspect`` ->
  ``crossload.run._run_tool``, which starts ``K6Tool.launch``'s command line (``k6 run --quiet ...
  --out json=raw.json --summary-export ...``) and tails and normalizes raw.json live into aggregates.jsonl,
  exactly as in a real run;
- k6, raw: a hand-written script (``vus``/``duration`` options, ``http.get`` of the same URL) run with
  ``k6 run -q`` and no ``--out``;
- Locust, toolkit: the rendered locustfile (``render_locust``) with crossload's listener
  (CROSSLOAD_LOCUST_OUT set by ``LocustTool.launch``) through the same ``_run_tool``;
- Locust, raw: a plain FastHttpUser locustfile doing the same GET, ``locust --headless -u N -r N -t D``.

Runs alternate (raw, toolkit, raw, toolkit, ...), 3 pairs per tool by default; each pair gives a ratio
toolkit / raw, and the median of the ratios is held against 0.95 (PASS/MISS). With nginx as the
target the rate compared is the steady-state rate of requests the target answered (its stub_status counter
sampled every 0.2 s; the first 1.5 s and the last 0.5 s of load left out), the same yardstick for all four
arms whatever each tool counts at start and stop. The tools' own end-of-test rates (k6's http_reqs rate,
Locust's final Aggregated req/s) and the CPU time per request are printed next to it. Without nginx
(demo target) the tools' own rates are compared.

    python benchmarks/overhead.py [--tool both|k6|locust] [--users 20] [--duration 8] [--rounds 3] [--decompose]
                                  [--no-wrk]

For k6, each round also runs ``wrk -t1 -c<users>`` on the same target for the same time (when wrk is
installed: ``apt-get install -y wrk``): a C client that shows what the loopback and the target can take on this
machine, and crossload-k6's rate as a fraction of it. nginx: ``apt-get install -y nginx-light``.

``--decompose`` adds a third arm per round: crossload's rendered file run by the tool alone (k6 without
``--out``/``--summary-export``, Locust without the listener), to split the cost between the rendered script and
crossload's collection.

Exit code 0 when every measured tool met the target (median ratio >= 0.95 by default), 1 otherwise.
"""

from __future__ import annotations

import argparse
import io
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import (
    CpuClock,
    Measured,
    ServedSampler,
    Target,
    fast_target,
    locust_bin,
    locust_summary,
    machine_line,
    median,
    primary_rps,
    run_k6,
    scenario_yaml,
    table,
    wait_quiet,
)

from crossload import run as crossload_run
from crossload.profiles import build_schedule
from crossload.run import RunRequest
from crossload.runners import get_runner
from crossload.scenario import parse_scenario
from crossload.settings import load_environment
from crossload.thresholds import guards
from crossload.tools import get_tool

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


def run_tool(tool: Any, script: Path, out_dir: Path, scenario: Any, schedule: Any, env: dict[str, str],
             request: RunRequest) -> tuple[Any, Any]:
    """``crossload.run._run_tool`` with the local runner, as ``crossload run`` calls it for one tool."""
    prep = crossload_run.Prepared(scenario, schedule, [tool.name], env, guards(scenario.all_thresholds, env))
    return crossload_run._run_tool(tool, get_runner("local"), script, out_dir, prep, request, io.StringIO())


def toolkit_run(tool_name: str, scenario_file: Path, target: Target, work: Path, label: str) -> Measured:
    """One run the way ``crossload run`` does it; only the load phase (``_run_tool``) is measured."""
    scenario = parse_scenario(scenario_file.read_text(encoding="utf-8"), str(scenario_file))
    schedule = build_schedule("smoke", scenario)
    tool = get_tool(tool_name)
    out_dir = work / f"run-{time.monotonic_ns()}" / tool_name
    script = tool.render(scenario, schedule, target.url).write(out_dir)
    env = load_environment()
    tool.preflight(script, env)
    request = RunRequest(profile="smoke", tool=tool_name, scenario=str(scenario_file), quiet=True)
    with ServedSampler(target.counter) as sampler:
        clock = CpuClock(target.cpu)
        stats, outcome = run_tool(tool, script, out_dir, scenario, schedule, env, request)
        wall, self_cpu, child_cpu = clock.stop()
    if outcome.exit_code != 0:
        raise RuntimeError(f"{label}: {tool_name} exited {outcome.exit_code}; see {out_dir}")
    if tool_name == "k6":
        data = json.loads((out_dir / "k6-summary.json").read_text(encoding="utf-8"))
        count, rate = int(data["metrics"]["http_reqs"]["count"]), float(data["metrics"]["http_reqs"]["rate"])
        failures = stats.overall.failures
    else:
        count, failures, rate = locust_final(out_dir / "locust-final.json")
    return Measured(label, count, rate, wall, child_cpu, self_cpu,
                    {"collected": stats.overall.count, "failures": failures, "served": sampler.total,
                     "steady": sampler.steady_rps(), "other": clock.other_cores,
                     "target_cores": clock.target_cores})


def locust_final(path: Path) -> tuple[int, int, float]:
    """(requests, failures, requests/s) from Locust's own ``--json-file`` (one entry per request name)."""
    entries = json.loads(path.read_text(encoding="utf-8"))
    count = sum(int(e["num_requests"]) for e in entries)
    failures = sum(int(e["num_failures"]) for e in entries)
    first = min(float(e["start_time"]) for e in entries)
    last = max(float(e["last_request_timestamp"]) for e in entries)
    return count, failures, count / (last - first) if last > first else 0.0


def script_only_run(tool_name: str, scenario_file: Path, target: Target, work: Path, label: str) -> Measured:
    """crossload's rendered file run by the tool alone: k6 with no --out, Locust without the listener.

    Same command line as ``launch`` minus crossload's output (k6: ``--out`` and ``--summary-export``; Locust:
    CROSSLOAD_LOCUST_OUT unset), and nobody reading anything: what the rendered script itself costs.
    """
    scenario = parse_scenario(scenario_file.read_text(encoding="utf-8"), str(scenario_file))
    schedule = build_schedule("smoke", scenario)
    tool = get_tool(tool_name)
    out_dir = work / f"script-{time.monotonic_ns()}" / tool_name
    script = tool.render(scenario, schedule, target.url).write(out_dir)
    if tool_name == "k6":
        return run_k6(label, script, counter=target.counter, target_cpu=target.cpu)
    argv = [a for a in tool.launch(script, out_dir).argv]
    env = {k: v for k, v in load_environment().items() if k != "CROSSLOAD_LOCUST_OUT"}
    with ServedSampler(target.counter) as sampler:
        clock = CpuClock(target.cpu)
        proc = subprocess.run(argv, cwd=out_dir, env=env, capture_output=True, text=True, timeout=600, check=False)
        wall, self_cpu, child_cpu = clock.stop()
    if proc.returncode != 0:
        raise RuntimeError(f"{label}: locust exited {proc.returncode}:\n{proc.stderr[-3000:]}")
    count, failures, rate = locust_summary(proc.stdout + proc.stderr)
    return Measured(label, count, rate, wall, child_cpu, self_cpu,
                    {"collected": "-", "failures": failures, "served": sampler.total,
                     "steady": sampler.steady_rps(), "other": clock.other_cores,
                     "target_cores": clock.target_cores})


def raw_locust(locustfile: Path, target: Target, users: int, duration: float, label: str) -> Measured:
    argv = [locust_bin(), "-f", locustfile.name, "--headless", "-u", str(users), "-r", str(users),
            "-t", f"{duration:g}s", "-H", target.url, "--only-summary", "--loglevel", "WARNING",
            "--exit-code-on-error", "0", "--stop-timeout", "0", "--csv", "plain"]
    with ServedSampler(target.counter) as sampler:
        clock = CpuClock(target.cpu)
        proc = subprocess.run(argv, cwd=locustfile.parent, capture_output=True, text=True,
                              timeout=duration + 120, check=False)
        wall, self_cpu, child_cpu = clock.stop()
    if proc.returncode != 0:
        raise RuntimeError(f"{label}: locust exited {proc.returncode}:\n{proc.stderr[-3000:]}")
    count, failures, rate = locust_summary(proc.stdout + proc.stderr)
    return Measured(label, count, rate, wall, child_cpu, self_cpu,
                    {"collected": "-", "failures": failures, "served": sampler.total,
                     "steady": sampler.steady_rps(), "other": clock.other_cores,
                     "target_cores": clock.target_cores})


_WRK_REQUESTS = re.compile(r"^\s*(\d+) requests in ([\d.]+)(m?s)", re.MULTILINE)
_WRK_RPS = re.compile(r"^Requests/sec:\s+([\d.]+)", re.MULTILINE)
_WRK_ERRORS = re.compile(r"Non-2xx or 3xx responses: (\d+)|Socket errors: connect (\d+), read (\d+), write (\d+), "
                         r"timeout (\d+)")


def run_wrk(wrk: str, target: Target, connections: int, duration: float, label: str) -> Measured:
    """``wrk -t1 -c<connections> -d<duration>s`` on the target's path: the loopback ceiling on this machine."""
    argv = [wrk, "-t1", f"-c{connections}", f"-d{duration:g}s", target.url + target.path]
    with ServedSampler(target.counter) as sampler:
        clock = CpuClock(target.cpu)
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 60, check=False)
        wall, self_cpu, child_cpu = clock.stop()
    out = proc.stdout
    m_req, m_rps = _WRK_REQUESTS.search(out), _WRK_RPS.search(out)
    if proc.returncode != 0 or m_req is None or m_rps is None:
        raise RuntimeError(f"{label}: wrk exited {proc.returncode}:\n{(proc.stderr or out)[-2000:]}")
    failures = sum(int(g) for m in _WRK_ERRORS.finditer(out) for g in m.groups() if g)
    return Measured(label, int(m_req.group(1)), float(m_rps.group(1)), wall, child_cpu, self_cpu,
                    {"collected": "-", "failures": failures, "served": sampler.total,
                     "steady": sampler.steady_rps(), "other": clock.other_cores,
                     "target_cores": clock.target_cores})


def measure_tool(tool: str, target: Target, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    scenario = work / f"{tool}-scenario.yaml"
    scenario.write_text(scenario_yaml(f"overhead-{tool}", target.url, [("get", target.path)], args.users,
                                      args.duration), encoding="utf-8")
    if tool == "k6":
        raw_script = work / "raw.js"
        raw_script.write_text(RAW_K6.format(users=args.users, duration=f"{args.duration:g}",
                                            url=target.url + target.path), encoding="utf-8")
        warm = work / "warm.js"
        warm.write_text(RAW_K6.format(users=args.users, duration="2", url=target.url + target.path),
                        encoding="utf-8")
        run_k6("warm-up", warm)  # first-run effects (page cache, CPU frequency) land here, unmeasured

        def raw() -> Measured:
            return run_k6("raw k6 run -q", raw_script, counter=target.counter, target_cpu=target.cpu)

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
                    f"-t {args.duration:g}s (FastHttpUser, no listener)")

    print(f"\n== {tool}: {args.users} users, think time 0, {args.duration:g} s per run, {args.rounds} rounds ==")
    print(f"toolkit: {toolkit_desc}\n         with crossload tailing and normalizing its output live "
          "(crossload.run._run_tool)")
    print(f"raw:     {raw_desc}")
    if args.decompose:
        print(f"script:  crossload's rendered file run by {tool} alone ("
              + ("no --out, no --summary-export" if tool == "k6" else "CROSSLOAD_LOCUST_OUT unset: no listener")
              + ", nothing collected)")
    arms: tuple[str, ...] = ("raw", "script", "toolkit") if args.decompose else ("raw", "toolkit")
    wrk = None if args.no_wrk or tool != "k6" else shutil.which("wrk")
    if tool == "k6" and not args.no_wrk and wrk is None:
        print("wrk:     not installed (apt-get install -y wrk): no loopback ceiling measured")
    if wrk:
        arms += ("wrk",)
        print(f"wrk:     wrk -t1 -c{args.users} -d{args.duration:g}s {target.url + target.path}   "
              "(a C client: the loopback ceiling)")
    runs: list[tuple[int, str, Measured]] = []
    for n in range(1, args.rounds + 1):
        for arm in arms:
            speed = wait_quiet()
            if arm == "raw":
                m = raw()
            elif arm == "script":
                m = script_only_run(tool, scenario, target, work, f"crossload {tool} script only")
            elif arm == "wrk":
                assert wrk is not None
                m = run_wrk(wrk, target, args.users, args.duration, "wrk")
            else:
                m = toolkit_run(tool, scenario, target, work, f"crossload {tool}")
            m.extra["speed"] = speed
            runs.append((n, arm, m))
        print(f"  round {n}: " + ", ".join(f"{a} {primary_rps(m):,.0f} req/s" for r, a, m in runs if r == n),
              flush=True)

    rows = []
    for n, arm, m in runs:
        steady = m.extra.get("steady")
        rows.append([n, arm, f"{steady:,.0f}" if isinstance(steady, float) else "-", m.requests, m.rps,
                     m.extra.get("failures", 0), m.extra.get("collected", "-"),
                     m.extra["served"] if m.extra.get("served") is not None else "-",
                     f"{1e6 * m.child_cpu_s / m.requests:.1f}" if arm != "wrk" else "-",
                     f"{1e6 * m.self_cpu_s / m.requests:.1f}" if arm == "toolkit" else "-",
                     f"{m.child_cpu_s / m.wall_s:.2f}", f"{m.extra['target_cores']:.2f}",
                     f"{m.extra['other']:.2f}", f"{m.extra['speed']:.2f}"])
    print()
    print(table(["round", "arm", "steady req/s (target)", f"{tool} requests", f"{tool} req/s", "failures",
                 "collected", "served by target", f"{tool} CPU us/req", "collector CPU us/req",
                 f"{tool} cores", "target cores", "other load cores", "machine speed"], rows, "rlrrrrrrrrrrrr"))
    print("steady req/s (target): requests nginx answered per second at full load. other load: CPU (cores) used "
          "by work outside the benchmark during the run. machine speed: a fixed CPU loop just before the run, "
          "1.00 = the fastest seen (each run waits up to 30 s for >= 0.88; a shared host can slow every CPU).")
    ratios, own_ratios, cpu_ratios = [], [], []
    for n in range(1, args.rounds + 1):
        raw_m = next(m for r, a, m in runs if r == n and a == "raw")
        kit_m = next(m for r, a, m in runs if r == n and a == "toolkit")
        ratios.append(primary_rps(kit_m) / primary_rps(raw_m))
        own_ratios.append(kit_m.rps / raw_m.rps)
        cpu_ratios.append((raw_m.child_cpu_s / raw_m.requests)
                          / ((kit_m.child_cpu_s + kit_m.self_cpu_s) / kit_m.requests))
    if args.decompose:
        script_ratios = []
        for n in range(1, args.rounds + 1):
            raw_m = next(m for r, a, m in runs if r == n and a == "raw")
            scr_m = next(m for r, a, m in runs if r == n and a == "script")
            script_ratios.append(primary_rps(scr_m) / primary_rps(raw_m))
    med = median(ratios)
    measure = "steady-state req/s at the target" if target.counter else f"{tool}'s own req/s"
    ok = med >= args.target
    pair_rows: list[list[object]] = []
    wrk_fracs: list[float] = []
    for n in range(1, args.rounds + 1):
        raw_m = next(m for r, a, m in runs if r == n and a == "raw")
        kit_m = next(m for r, a, m in runs if r == n and a == "toolkit")
        row: list[object] = [n, f"{primary_rps(raw_m):,.0f}", f"{primary_rps(kit_m):,.0f}", f"{ratios[n - 1]:.3f}"]
        if wrk:
            wrk_m = next(m for r, a, m in runs if r == n and a == "wrk")
            wrk_fracs.append(primary_rps(kit_m) / primary_rps(wrk_m))
            row += [f"{primary_rps(wrk_m):,.0f}", f"{wrk_fracs[-1]:.3f}"]
        pair_rows.append(row)
    headers = ["pair", f"raw {tool} req/s", f"crossload {tool} req/s", "crossload/raw"]
    if wrk:
        headers += ["wrk req/s", "crossload/wrk"]
    print(f"\n{tool}: pairs ({measure})")
    print(table(headers, pair_rows, "r" * len(headers)))
    med_raw = median([primary_rps(m) for _n, a, m in runs if a == "raw"])
    med_kit = median([primary_rps(m) for _n, a, m in runs if a == "toolkit"])
    print(f"{tool}: median raw {med_raw:,.0f} req/s, median crossload {med_kit:,.0f} req/s, "
          f"median ratio {med:.3f} (>= {args.target:.2f}): " + ("PASS" if ok else f"MISS by {args.target - med:.3f}"))
    result: dict[str, Any] = {"ratio": med, "ok": ok, "raw": med_raw, "toolkit": med_kit}
    if wrk_fracs:
        med_wrk = median([primary_rps(m) for _n, a, m in runs if a == "wrk"])
        result["wrk"] = median(wrk_fracs)
        print(f"{tool}: P5: crossload-{tool} / wrk (loopback ceiling): "
              f"{', '.join(f'{r:.3f}' for r in wrk_fracs)}; median {median(wrk_fracs):.3f} "
              f"(wrk median {med_wrk:,.0f} req/s; raw {tool} / wrk {med_raw / med_wrk:.3f})")
    print(f"\n{tool}: toolkit/raw, {measure}, per round: {', '.join(f'{r:.3f}' for r in ratios)}; "
          f"median {med:.3f} (target >= {args.target:.2f}): "
          + ("MET" if ok else f"MISSED by {args.target - med:.3f} ({(args.target - med) * 100:.1f} points)"))
    print(f"{tool}: toolkit/raw, {tool}'s own end-of-test req/s: {', '.join(f'{r:.3f}' for r in own_ratios)}; "
          f"median {median(own_ratios):.3f}")
    print(f"{tool}: CPU per request, raw {tool} / (toolkit {tool} + collector): "
          f"{', '.join(f'{r:.3f}' for r in cpu_ratios)}; median {median(cpu_ratios):.3f}")
    if args.decompose:
        print(f"{tool}: script only/raw, {measure}: {', '.join(f'{r:.3f}' for r in script_ratios)}; "
              f"median {median(script_ratios):.3f} (the rendered file's own cost, before crossload collects anything)")
    lost = [m for _n, a, m in runs if a == "toolkit" and m.extra["collected"] != m.requests]
    if lost:
        print(f"{tool}: note: crossload collected a different count than {tool}'s final summary in {len(lost)} "
              "run(s): " + ", ".join(f"{m.extra['collected']} vs {m.requests}" for m in lost))
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tool", choices=("both", "k6", "locust"), default="both")
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--duration", type=float, default=8.0, help="seconds per run (default 8)")
    parser.add_argument("--rounds", type=int, default=3, help="raw/toolkit pairs per tool (default 3)")
    parser.add_argument("--target", type=float, default=0.95, help="minimum toolkit/raw ratio (default 0.95)")
    parser.add_argument("--decompose", action="store_true",
                        help="also run crossload's rendered file without crossload's output/listener (a third arm)")
    parser.add_argument("--server", choices=("nginx", "demo"), default="nginx",
                        help="target server (nginx falls back to the demo target when not installed)")
    parser.add_argument("--no-wrk", action="store_true", help="leave out the wrk arm (P5, k6 only)")
    args = parser.parse_args()
    tools = ["k6", "locust"] if args.tool == "both" else [args.tool]
    print(machine_line())
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="crossload-overhead-") as tmp, fast_target(args.server) as target:
        print(f"target: {target.kind}, GET {target.path}")
        for tool in tools:
            work = Path(tmp) / tool
            work.mkdir()
            results[tool] = measure_tool(tool, target, args, work)
    print("\n== summary ==")
    print(table(["tool", "pairs", "median raw req/s", "median crossload req/s", "median crossload/raw", "target",
                 "verdict", "crossload/wrk"],
                [[t, args.rounds, f"{r['raw']:,.0f}", f"{r['toolkit']:,.0f}", f"{r['ratio']:.3f}",
                  f">= {args.target:.2f}", "PASS" if r["ok"] else f"MISS by {args.target - r['ratio']:.3f}",
                  f"{r['wrk']:.3f}" if "wrk" in r else "-"]
                 for t, r in results.items()], "lrrrrrlr"))
    return 0 if all(r["ok"] for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
