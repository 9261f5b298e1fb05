"""What crossload adds around the load: wall time of a smoke run of both tools minus the load itself.

    python benchmarks/startup.py [--runs 5] [--duration 5s] [--limit 3.0] [--quiet-wait 30] [--no-phases]
                                 [--baseline DIR]

Runs ``invoke smoke --tool both --duration 5s`` (local runner, the built-in demo target, no InfluxDB) from the
repository root ``--runs`` times, each into a fresh results folder, and measures the wall time from starting
``invoke`` to its exit. The load is ``--duration`` per tool, Locust then k6 (10 s for 5s); what is left is
crossload's start-up, the tools' own start and stop, and the post-processing. The median of the runs is held
against ``--limit`` (default 3 s): PASS or MISS. Before each run it waits (up to ``--quiet-wait`` s) for the
machine to be quiet, and shows how busy and how fast it was.

Where the time goes is read from each run's own timestamps:

- ``manifest.json``: ``started_at`` (taken right after the scenario is loaded and the runner chosen) and each
  tool's ``started_at``/``ended_at`` (around its processes, taken by the runner; a Locust started early, which
  loads its file while the other pre-flights run, counts from when it is let go);
- the run folder's ``scenario.yaml`` (written as soon as the demo target answers) and the rendered files;
- the first and last request of each tool: Locust's own ``--json-file`` (``start_time`` and
  ``last_request_timestamp`` of its statistics) and the first and last ``http_reqs`` point of k6's JSON output.

Next to it, each phase timed by itself (median of ``--runs``): the interpreter alone, ``invoke --list``,
``import crossload.run``, the demo target from start until ``/health`` answers, ``k6 inspect`` and
``locust --list`` on the rendered files, and ``k6 version``.

Exit code 0 when the median meets the limit, 1 otherwise. Every target is on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import ROOT, busy_fraction, k6_bin, locust_bin, machine_line, table, wait_quiet

from crossload.target import DemoTarget


def ts(text: str) -> float:
    """An ISO 8601 time (``Z`` or an offset; k6 writes nanoseconds) as seconds since the epoch."""
    text = text.replace("Z", "+00:00")
    head, _, rest = text.partition(".")
    if rest:
        digits = "".join(c for c in rest if c.isdigit())
        tail = rest[len(digits):]
        text = f"{head}.{digits[:6]}{tail}"
    return datetime.fromisoformat(text).timestamp()


def k6_first_last(raw: Path) -> tuple[float, float]:
    """Times of the first and last ``http_reqs`` point in k6's JSON output (gzipped once the run is over)."""
    first = last = None
    opener = gzip.open if raw.suffix == ".gz" else open
    with opener(raw, "rt", encoding="utf-8") as f:
        for line in f:
            if '"http_reqs"' not in line or '"Point"' not in line:
                continue
            t = ts(json.loads(line)["data"]["time"])
            first = t if first is None else min(first, t)
            last = t if last is None else max(last, t)
    if first is None or last is None:
        raise RuntimeError(f"{raw}: no http_reqs point")
    return first, last


def locust_first_last(final: Path) -> tuple[float, float]:
    entries = json.loads(final.read_text(encoding="utf-8"))
    return (min(float(e["start_time"]) for e in entries),
            max(float(e["last_request_timestamp"]) for e in entries))


def run_env(results: Path, tree: Path = ROOT) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CROSSLOAD_INFLUX_")}
    if tree != ROOT:  # another checkout's package and resources, ahead of the installed one
        env["PYTHONPATH"] = str(tree / "src") + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        env["CROSSLOAD_HOME"] = str(tree)
    env["CROSSLOAD_RESULTS_DIR"] = str(results)
    env["CROSSLOAD_RUNNER"] = "local"
    return env


PHASES = [
    ("start", "invoke, imports, scenario, schedule (process start -> manifest started_at)"),
    ("target", "demo target start, run folder (-> scenario.yaml written)"),
    ("preflight", "render, pre-flights, versions, target ready (-> Locust released)"),
    ("locust_start", "Locust: released -> first request"),
    ("locust_load", "Locust: first -> last request (the load)"),
    ("locust_stop", "Locust: last request -> process exit"),
    ("between", "between the tools (collector close, Locust totals -> k6 started)"),
    ("k6_start", "k6: process start -> first request"),
    ("k6_load", "k6: first -> last request (the load)"),
    ("k6_stop", "k6: last request -> process exit"),
    ("finish", "summary, verdicts, table, manifest, exit (k6 exit -> invoke exit)"),
]


def one_run(duration: str, work: Path, n: int, tree: Path = ROOT) -> tuple[float, dict[str, float], int]:
    results = work / f"results-{n}-{'this' if tree == ROOT else 'baseline'}"
    results.mkdir()
    argv = [shutil.which("invoke") or "invoke", "smoke", "--tool", "both", "--duration", duration]
    t0 = time.time()
    p0 = time.perf_counter()
    proc = subprocess.run(argv, cwd=tree, env=run_env(results, tree), capture_output=True, text=True, timeout=600,
                          check=False)
    wall = time.perf_counter() - p0
    t_end = t0 + wall
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"run {n}: invoke exited {proc.returncode}:\n{(proc.stderr or proc.stdout)[-3000:]}")
    (run,) = [p for p in results.iterdir() if p.is_dir()]
    manifest = json.loads((run / "manifest.json").read_text(encoding="utf-8"))
    started = ts(manifest["started_at"])
    folder = (run / "scenario.yaml").stat().st_mtime
    lo = manifest["outcomes"]["locust"]
    ko = manifest["outcomes"]["k6"]
    l_start, l_end = ts(lo["started_at"]), ts(lo["ended_at"])
    k_start, k_end = ts(ko["started_at"]), ts(ko["ended_at"])
    l_first, l_last = locust_first_last(run / "locust" / "locust-final.json")
    k_first, k_last = k6_first_last(next(p for p in (run / "k6" / "raw.json.gz", run / "k6" / "raw.json")
                                         if p.exists()))
    phases = {
        "start": started - t0, "target": folder - started, "preflight": l_start - folder,
        "locust_start": l_first - l_start, "locust_load": l_last - l_first, "locust_stop": l_end - l_last,
        "between": k_start - l_end,
        "k6_start": k_first - k_start, "k6_load": k_last - k_first, "k6_stop": k_end - k_last,
        "finish": t_end - k_end,
    }
    return wall, phases, proc.returncode


def timed(argv: list[str], cwd: Path | None = None, env: dict[str, str] | None = None) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False)
    took = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {proc.returncode}:\n{proc.stderr[-2000:]}")
    return took


def demo_target_start() -> float:
    t0 = time.perf_counter()
    with DemoTarget(host="127.0.0.1", port=0):
        took = time.perf_counter() - t0
    return took


def standalone(runs: int, work: Path) -> list[tuple[str, float]]:
    """Each phase by itself, median of ``runs``."""
    rendered = work / "rendered"
    subprocess.run([shutil.which("invoke") or "invoke", "render", "--profile", "smoke", "--target",
                    "http://127.0.0.1:9", "--out", str(rendered)], cwd=ROOT, check=True, capture_output=True)
    k6_dir = next(p.parent for p in rendered.rglob("script.js"))
    locust_dir = next(p.parent for p in rendered.rglob("locustfile.py"))
    clean = {k: v for k, v in os.environ.items() if k != "CROSSLOAD_LOCUST_OUT"}
    probes: list[tuple[str, list[float], object]] = [
        ("python -c pass (the interpreter alone)", [], lambda: timed([sys.executable, "-c", "pass"])),
        ("python -c 'import crossload.run'", [], lambda: timed([sys.executable, "-c", "import crossload.run"])),
        ("invoke --list (invoke + tasks.py + crossload.tasks_api)", [],
         lambda: timed([shutil.which("invoke") or "invoke", "--list"], cwd=ROOT)),
        ("demo target: start until /health answers", [], demo_target_start),
        ("k6 inspect script.js", [], lambda: timed([k6_bin(), "inspect", "script.js"], cwd=k6_dir)),
        ("locust -f locustfile.py --list", [],
         lambda: timed([locust_bin(), "-f", "locustfile.py", "--list"], cwd=locust_dir, env=clean)),
        ("k6 version", [], lambda: timed([k6_bin(), "version"])),
    ]
    for _ in range(runs):
        for _label, values, fn in probes:
            values.append(fn())  # type: ignore[operator]
    return [(label, statistics.median(values)) for label, values, _fn in probes]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="smoke runs (default 5)")
    parser.add_argument("--duration", default="5s", help="load per tool (default 5s)")
    parser.add_argument("--limit", type=float, default=3.0, help="seconds allowed beyond the load (default 3)")
    parser.add_argument("--no-phases", action="store_true", help="leave out the phases timed by themselves")
    parser.add_argument("--baseline", type=Path, default=None,
                        help="another checkout (e.g. `git archive <commit> | tar -x -C DIR`): its smoke runs "
                             "alternate with this one's, and the medians are compared")
    parser.add_argument("--quiet-wait", type=float, default=30.0,
                        help="seconds to wait at most for a quiet machine before each run (default 30)")
    args = parser.parse_args()
    load_s = 2 * float(args.duration.rstrip("s"))
    print(machine_line())
    print(f"command: invoke smoke --tool both --duration {args.duration}   (local runner, demo target, "
          f"{load_s:g} s of load in all)")
    walls: list[float] = []
    base_walls: list[float] = []
    base_phase: dict[str, list[float]] = {key: [] for key, _ in PHASES}
    per_phase: dict[str, list[float]] = {key: [] for key, _ in PHASES}
    rows = []
    with tempfile.TemporaryDirectory(prefix="crossload-startup-") as tmp:
        work = Path(tmp)
        for n in range(1, args.runs + 1):
            if args.baseline is not None:
                wait_quiet(max_wait_s=args.quiet_wait)
                base_wall, base_phases, _code = one_run(args.duration, work, n, args.baseline.resolve())
                base_walls.append(base_wall)
                for key, value in base_phases.items():
                    base_phase[key].append(value)
                print(f"  run {n}: baseline wall {base_wall:.2f} s, beyond the load {base_wall - load_s:.2f} s",
                      flush=True)
            speed = wait_quiet(max_wait_s=args.quiet_wait)
            busy = busy_fraction(0.3)
            wall, phases, code = one_run(args.duration, work, n)
            walls.append(wall)
            for key, value in phases.items():
                per_phase[key].append(value)
            rows.append([n, f"{wall:.2f}", f"{wall - load_s:.2f}", code, f"{speed:.2f}", f"{busy:.2f}"]
                        + [f"{phases[key]:.2f}" for key, _ in PHASES])
            print(f"  run {n}: wall {wall:.2f} s, beyond the load {wall - load_s:.2f} s", flush=True)
        print()
        print(table(["run", "wall s", "wall - load s", "exit", "speed", "busy before"] + [key for key, _ in PHASES],
                    rows))
        print("speed: a fixed CPU loop just before the run, 1.00 = the fastest seen; busy before: share of both "
              "cores used by other work just before the run (each run waits up to --quiet-wait s for < 0.15).")
        print()
        if base_walls:
            print(table(["phase", "what", "median s", "baseline median s"],
                        [[key, what, f"{statistics.median(per_phase[key]):.3f}",
                          f"{statistics.median(base_phase[key]):.3f}"] for key, what in PHASES], "llrr"))
        else:
            print(table(["phase", "what", "median s"],
                        [[key, what, f"{statistics.median(per_phase[key]):.3f}"] for key, what in PHASES], "llr"))
        if not args.no_phases:
            print("\neach phase by itself (median of the runs):")
            print(table(["probe", "median s"], [[label, f"{v:.3f}"] for label, v in standalone(args.runs, work)],
                        "lr"))
    med = statistics.median(walls) - load_s
    ok = med < args.limit
    if base_walls:
        base = statistics.median(base_walls) - load_s
        print(f"\nbaseline ({args.baseline}): wall time minus {load_s:g} s of load, per run: "
              f"{', '.join(f'{w - load_s:.2f}' for w in base_walls)}; median {base:.2f} s; this checkout "
              f"{med - base:+.2f} s")
    print(f"\nwall time minus {load_s:g} s of load, per run: {', '.join(f'{w - load_s:.2f}' for w in walls)}; "
          f"median {med:.2f} s (limit < {args.limit:g} s): " + ("PASS" if ok else f"MISS by {med - args.limit:.2f} s"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
