"""Where crossload's Locust throughput goes: each layer of the crossload path as a ratio against plain Locust.

One scenario (a GET of the target's path, 20 users, think time 0) is run in these arms, alternating within
each round, all against the same loopback target (nginx when installed), Locust CPU-bound on one core:

- ``plain``: a hand-written FastHttpUser (``self.client.get(path)``), ``locust --headless -u N -r N -t D``,
  as ``overhead.py``'s raw arm;
- ``script``: crossload's rendered locustfile with ``LocustTool.launch``'s command line, CROSSLOAD_LOCUST_OUT
  unset: no recorder, what the rendered file itself costs;
- ``noop``: the rendered file plus one request listener that does nothing: the cost of Locust dispatching the
  request event to one more handler;
- ``listener``: the rendered file with crossload's recorder whose per-request listener runs but whose
  background flush never starts (nothing is encoded or written until the end);
- ``recorder``: the rendered file with the whole recorder (listener + per-second flush to intervals.jsonl),
  Locust started alone, nobody reading the file;
- ``crossload``: the full path as ``crossload run`` takes it (``crossload.run._run_tool``: the same Locust
  command, with crossload tailing and normalizing the recording live), as ``overhead.py``'s toolkit arm;
- ``baseline`` (with ``--baseline DIR``): the ``recorder`` arm with the support modules
  (``crossload_locust.py``, ``crossload_recorder.py``) copied from DIR instead, e.g. another commit's
  ``locust/`` folder (``git show REV:locust/crossload_recorder.py``), to compare two versions side by side.

Each arm's rate is the target's steady-state rate (nginx stub_status, as in overhead.py; Locust's own
end-of-test rate without nginx), each round's arm divided by the same round's ``plain`` (even rounds run the
arms in reverse order, so a drift of the machine's speed over a round does not favour one end); the median per arm
over the rounds is printed with the CPU microseconds per request of the Locust process.

    python benchmarks/locust_cost.py [--rounds 3] [--users 20] [--duration 8] [--arms plain,script,...]
                                     [--baseline DIR] [--profile] [--server nginx|demo]

``--profile`` also samples the ``recorder`` arm's Locust process with py-spy (``pip install py-spy``) and
prints the functions with the most samples, on their own (self) and with what they call (inclusive).
"""

from __future__ import annotations

import argparse
import collections
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import (
    CpuClock,
    Measured,
    ServedSampler,
    Target,
    fast_target,
    locust_summary,
    machine_line,
    median,
    primary_rps,
    scenario_yaml,
    table,
    wait_quiet,
)
from overhead import RAW_LOCUST, locust_final, raw_locust, toolkit_run

from crossload.profiles import build_schedule
from crossload.scenario import parse_scenario
from crossload.settings import load_environment
from crossload.tools import get_tool

ARMS = ("plain", "script", "noop", "listener", "recorder", "crossload", "baseline")
HOOK = "from crossload_recorder import install_recorder\n"
NOOP_LISTENER = (
    "from locust import events as _events\n\n\n"
    "@_events.request.add_listener\n"
    "def _nothing(**_kw):\n"
    "    pass\n\n\n"
)
NO_FLUSH = (
    "import crossload_recorder as _rec\n\n"
    "_rec.IntervalRecorder.on_start = lambda self, **_kw: None  # no per-second flush greenlet\n\n"
)


def rendered(scenario_file: Path, target: Target, out_dir: Path, arm: str,
             baseline: Path | None = None) -> tuple[Path, list[str]]:
    """The rendered locustfile (patched for ``noop``/``listener``; ``baseline``: DIR's support modules) and
    ``LocustTool.launch``'s argv."""
    scenario = parse_scenario(scenario_file.read_text(encoding="utf-8"), str(scenario_file))
    schedule = build_schedule("smoke", scenario)
    tool = get_tool("locust")
    script = tool.render(scenario, schedule, target.url).write(out_dir)
    text = script.read_text(encoding="utf-8")
    if HOOK not in text:
        raise RuntimeError(f"the rendered locustfile no longer imports install_recorder: {script}")
    if arm == "noop":
        text = text.replace(HOOK, HOOK + NOOP_LISTENER, 1)
    elif arm == "listener":
        text = text.replace(HOOK, HOOK + NO_FLUSH, 1)
    script.write_text(text, encoding="utf-8")
    if arm == "baseline":
        assert baseline is not None
        for name in ("crossload_locust.py", "crossload_recorder.py"):
            shutil.copyfile(baseline / name, out_dir / name)
    return script, list(tool.launch(script, out_dir).argv)


def locust_alone(scenario_file: Path, target: Target, work: Path, arm: str,
                 profile: Path | None = None, baseline: Path | None = None) -> Measured:
    """The rendered file run by Locust with ``launch``'s command line; the recorder on for listener/recorder
    (and baseline)."""
    out_dir = work / f"{arm}-{time.monotonic_ns()}"
    argv = rendered(scenario_file, target, out_dir, arm, baseline)[1]
    env = {k: v for k, v in load_environment().items() if k != "CROSSLOAD_LOCUST_OUT"}
    record = out_dir / "intervals.jsonl"
    if arm in ("listener", "recorder", "baseline"):
        env["CROSSLOAD_LOCUST_OUT"] = str(record)
    if profile is not None:
        argv = ["py-spy", "record", "--format", "raw", "--rate", "250", "--nonblocking", "-o", str(profile),
                "--", *argv]
    with ServedSampler(target.counter) as sampler:
        clock = CpuClock(target.cpu)
        proc = subprocess.run(argv, cwd=out_dir, env=env, capture_output=True, text=True, timeout=600, check=False)
        wall, self_cpu, child_cpu = clock.stop()
    if proc.returncode != 0:
        raise RuntimeError(f"{arm}: locust exited {proc.returncode}:\n{proc.stderr[-3000:]}")
    try:
        count, failures, rate = locust_final(out_dir / "locust-final.json")
    except (OSError, ValueError):
        count, failures, rate = locust_summary(proc.stdout + proc.stderr)
    collected: object = "-"
    if arm in ("listener", "recorder", "baseline") and record.exists():
        collected = recorded_count(record)
    return Measured(arm, count, rate, wall, child_cpu, self_cpu,
                    {"collected": collected, "failures": failures, "served": sampler.total,
                     "steady": sampler.steady_rps(), "other": clock.other_cores,
                     "target_cores": clock.target_cores})


def recorded_count(path: Path) -> int:
    import json

    total = 0
    with path.open(encoding="utf-8") as f:
        for line in f:
            rec = json.loads(line)
            if rec.get("kind") == "req":
                total += int(rec["count"])
    return total


def top_functions(raw_profile: Path, n: int = 25) -> str:
    """py-spy's raw (collapsed) stacks: the functions with the most samples, self and inclusive."""
    own: collections.Counter[str] = collections.Counter()
    incl: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw_profile.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = [f.split(" (")[0] + " (" + f.split(" (")[-1].split(":")[0].rsplit("/", 1)[-1] + ")"
                  if " (" in f else f for f in stack.split(";")]
        own[frames[-1]] += count
        for f in set(frames):
            incl[f] += count
    if not total:
        return "(no samples)"
    rows = [[f, f"{100.0 * c / total:.1f}", f"{100.0 * incl[f] / total:.1f}"] for f, c in own.most_common(n)]
    text = table(["function (self time)", "self %", "inclusive %"], rows, "lrr")
    interesting = [f for f in incl if any(k in f for k in ("on_request", "crossload_recorder", "crossload_locust",
                                                            "fire (event", "flush", "_loop"))]
    rows2 = [[f, f"{100.0 * own[f] / total:.1f}", f"{100.0 * incl[f] / total:.1f}"]
             for f in sorted(interesting, key=lambda f: -incl[f])[:n]]
    return text + "\n\ncrossload's code and Locust's event dispatch:\n" + table(
        ["function", "self %", "inclusive %"], rows2, "lrr") + f"\n({total} samples)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--duration", type=float, default=8.0, help="seconds per run (default 8)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of all arms (default 3)")
    parser.add_argument("--arms", default=",".join(ARMS[:-1]),
                        help=f"comma-separated, from {','.join(ARMS)} (default: all but baseline)")
    parser.add_argument("--baseline", type=Path, help="a folder with other crossload_locust.py and "
                        "crossload_recorder.py: adds the baseline arm")
    parser.add_argument("--profile", action="store_true", help="py-spy the recorder arm once, after the rounds")
    parser.add_argument("--server", choices=("nginx", "demo"), default="nginx")
    args = parser.parse_args()
    arms = [a.strip() for a in args.arms.split(",") if a.strip()]
    if args.baseline is not None and "baseline" not in arms:
        arms.append("baseline")
    if "baseline" in arms and (args.baseline is None or not (args.baseline / "crossload_recorder.py").is_file()):
        parser.error("the baseline arm needs --baseline DIR with crossload_locust.py and crossload_recorder.py")
    unknown = [a for a in arms if a not in ARMS]
    if unknown or "plain" not in arms:
        parser.error(f"--arms: unknown {unknown}" if unknown else "--arms must include plain")
    print(machine_line())
    with tempfile.TemporaryDirectory(prefix="crossload-locust-cost-") as tmp, fast_target(args.server) as target:
        work = Path(tmp)
        print(f"target: {target.kind}, GET {target.path}; {args.users} users, think time 0, "
              f"{args.duration:g} s per run, {args.rounds} rounds, arms {', '.join(arms)}")
        scenario = work / "scenario.yaml"
        scenario.write_text(scenario_yaml("locust-cost", target.url, [("get", target.path)], args.users,
                                          args.duration), encoding="utf-8")
        plain = work / "plain_locustfile.py"
        plain.write_text(RAW_LOCUST.format(path=target.path), encoding="utf-8")
        runs: list[tuple[int, str, Measured]] = []
        for n in range(1, args.rounds + 1):
            for arm in arms if n % 2 else arms[::-1]:  # even rounds in reverse: drift cancels out
                speed = wait_quiet()
                if arm == "plain":
                    m = raw_locust(plain, target, args.users, args.duration, "plain")
                elif arm == "crossload":
                    m = toolkit_run("locust", scenario, target, work, "crossload")
                else:
                    m = locust_alone(scenario, target, work, arm, baseline=args.baseline)
                m.extra["speed"] = speed
                runs.append((n, arm, m))
            print(f"  round {n}: " + ", ".join(f"{a} {primary_rps(m):,.0f}" for r, a, m in runs if r == n)
                  + " req/s", flush=True)

        rows = []
        for n, arm, m in runs:
            plain_m = next(x for r, a, x in runs if r == n and a == "plain")
            rows.append([n, arm, f"{primary_rps(m):,.0f}", f"{primary_rps(m) / primary_rps(plain_m):.3f}",
                         m.requests, m.extra.get("collected", "-"), m.extra.get("failures", 0),
                         f"{1e6 * m.child_cpu_s / m.requests:.1f}", f"{m.child_cpu_s / m.wall_s:.2f}",
                         f"{m.extra['other']:.2f}", f"{m.extra['speed']:.2f}"])
        print()
        print(table(["round", "arm", "steady req/s", "/ plain", "locust requests", "collected", "failures",
                     "locust CPU us/req", "locust cores", "other load cores", "machine speed"], rows,
                    "rlrrrrrrrrr"))
        summary = []
        for arm in arms:
            ratios = []
            for n in range(1, args.rounds + 1):
                plain_m = next(x for r, a, x in runs if r == n and a == "plain")
                m = next(x for r, a, x in runs if r == n and a == arm)
                ratios.append(primary_rps(m) / primary_rps(plain_m))
            cpu = median([1e6 * m.child_cpu_s / m.requests for _n, a, m in runs if a == arm])
            summary.append([arm, ", ".join(f"{r:.3f}" for r in ratios), f"{median(ratios):.3f}", f"{cpu:.1f}"])
        measure = "steady req/s at the target" if target.counter else "Locust's own req/s"
        print(f"\nper arm, {measure} / the same round's plain Locust:")
        print(table(["arm", "per round", "median", "median CPU us/req"], summary, "lrrr"))

        if args.profile:
            if shutil.which("py-spy") is None:
                print("\n--profile: py-spy is not installed (pip install py-spy)")
            else:
                prof = work / "recorder.pyspy.txt"
                wait_quiet()
                m = locust_alone(scenario, target, work, "recorder", profile=prof)
                print(f"\npy-spy on the recorder arm ({m.requests} requests, {primary_rps(m):,.0f} req/s "
                      "while sampled):")
                print(top_functions(prof))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
