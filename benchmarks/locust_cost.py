"""Where crossload's Locust throughput goes: each layer of the crossload path as a ratio against plain Locust.

One scenario (a GET of the target's path, 20 users, think time 0) is run in these arms, alternating within
each round, all against the same loopback target (nginx when installed), Locust CPU-bound on one core:

- ``plain``: a hand-written FastHttpUser (``self.client.get(path)``), ``locust --headless -u N -r N -t D``,
  as ``overhead.py``'s raw arm;
- ``settings``: the plain file with the rendered user class's settings (``network_timeout``,
  ``connection_timeout``, ``max_redirects = 0``, ``insecure = False``), same command line as ``plain``;
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
    python benchmarks/locust_cost.py --interleaved [--cycles 20] [--slice 1.5] [--baseline DIR]
    python benchmarks/locust_cost.py --micro [--baseline DIR]

``--interleaved`` measures the same layers inside one Locust process instead (Locust as a library, 20
users on the target the whole time): the layers take turns in short slices (``--slice`` seconds each, every
cycle in a rotated order) by switching what the task calls and which request listeners are registered, so
load from outside the benchmark falls on all layers alike; each cycle's layer is divided by the same
cycle's plain slice (requests per wall second, and CPU per request of the process). The layers: ``plain``
(``self.client.get``), ``script`` (the rendered file's ``Request.send``), ``listener`` (+ the recorder's
``on_request``), ``recorder`` (+ its per-second flush greenlet writing the file), and ``baseline`` (the
recorder of ``--baseline DIR``).

``--micro`` measures the request listener alone: Locust's request event fired with a completed request's
arguments, its own statistics handler registered as in a run, and then one more handler: a no-op, the
recorder's ``on_request`` (and ``--baseline DIR``'s): the CPU microseconds each adds per request (best of 30
batches of 20,000 events, process CPU time), the per-request floor of recording every request.

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

ARMS = ("plain", "settings", "script", "noop", "listener", "recorder", "crossload", "baseline")
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


SETTINGS = """
    network_timeout = 30.0
    connection_timeout = 30.0
    max_redirects = 0
    insecure = False
"""


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


INTERLEAVED = """
import json, os, sys, time, importlib.util
sys.path.insert(0, sys.argv[1])
import gevent
from locust import FastHttpUser, constant, events, task
from locust.env import Environment
import crossload_recorder
from crossload_locust import Request

host, path, users, cycles, slice_s, baseline, out_dir = sys.argv[2:9]
users, cycles, slice_s = int(users), int(cycles), float(slice_s)
REQ = Request(name="get", method="GET", path=path)
mode = {"script": False}


class User(FastHttpUser):
    # the rendered file's user class settings
    wait_time = constant(0)
    network_timeout = 30.0
    connection_timeout = 30.0
    max_redirects = 0
    insecure = False

    @task
    def get(self):
        if mode["script"]:
            REQ.send(self)
        else:
            self.client.get(path)


env = Environment(user_classes=[User], events=events, host=host)
modules = {"recorder": crossload_recorder}
if baseline:
    spec = importlib.util.spec_from_file_location("baseline_recorder", os.path.join(baseline, "crossload_recorder.py"))
    modules["baseline"] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(modules["baseline"])
arms = ["plain", "script", "listener", "recorder"] + (["baseline"] if baseline else [])
runner = env.create_local_runner()
runner.start(users, spawn_rate=users)
gevent.sleep(3.0)
results = []
for cycle in range(cycles):
    order = arms[cycle % len(arms):] + arms[:cycle % len(arms)]
    for arm in order:
        mode["script"] = arm != "plain"
        rec = None
        if arm in ("listener", "recorder", "baseline"):
            module = modules["baseline" if arm == "baseline" else "recorder"]
            rec = module.IntervalRecorder(env, os.path.join(out_dir, f"{arm}-{cycle}.jsonl"))
            if arm != "listener":
                rec.on_start()
        gevent.sleep(0.2)  # the switch settles
        n0, c0, t0 = env.stats.total.num_requests, time.process_time(), time.perf_counter()
        gevent.sleep(slice_s)
        n1, c1, t1 = env.stats.total.num_requests, time.process_time(), time.perf_counter()
        if rec is not None:
            env.events.request.remove_listener(rec.on_request)
            env.events.test_start.remove_listener(rec.on_start)
            env.events.quitting.remove_listener(rec.on_quit)
            rec.stop()
        results.append({"cycle": cycle, "arm": arm, "requests": n1 - n0, "wall": t1 - t0, "cpu": c1 - c0})
runner.quit()
print(json.dumps(results))
"""


MICRO = """
import importlib.util, json, os, random, sys, time
from locust.event import Events
from locust.stats import RequestStats

support, baseline, out_dir = sys.argv[1:4]


class Env:
    runner = None

    def __init__(self):
        self.events = Events()
        self.stats = RequestStats()

        def stats_handler(request_type, name, response_time, response_length, exception=None, **_kw):
            # as Locust's runner registers it
            self.stats.log_request(request_type, name, response_time, response_length)
            if exception:
                self.stats.log_error(request_type, name, exception)

        self.events.request.add_listener(stats_handler)


class Response:
    status_code = 200


def load(folder, name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(folder, "crossload_recorder.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


hooks = {}
for arm, folder in (("locust stats only", None), ("+ no-op listener", None), ("+ recorder", support),
                    ("+ baseline recorder", baseline)):
    if arm == "+ baseline recorder" and not baseline:
        continue
    env = Env()
    if arm == "+ no-op listener":
        env.events.request.add_listener(lambda **_kw: None)
    elif folder:
        load(folder, arm.replace(" ", "_").strip("+_")).IntervalRecorder(env, os.path.join(out_dir, arm[2:] + ".jsonl"))
    hooks[arm] = env.events.request
times = [random.lognormvariate(1.0, 0.5) for _ in range(2000)]
response = Response()
cycles = {arm: [] for arm in hooks}
for _ in range(40):
    for arm, hook in hooks.items():
        fire = hook.fire
        t0 = time.process_time()
        for _ in range(10):
            for ms in times:
                fire(request_type="GET", name="get", response_time=ms, response_length=12, exception=None,
                     context={}, response=response, start_time=0.0, url="http://127.0.0.1/health")
        cycles[arm].append((time.process_time() - t0) / 20000 * 1e6)
print(json.dumps(cycles))
"""


def micro(args: argparse.Namespace, work: Path) -> int:
    """The request listener alone (see ``--micro``)."""
    import json

    from crossload.paths import resource_dir

    proc = subprocess.run([sys.executable, "-c", MICRO, str(resource_dir("locust")), str(args.baseline or ""),
                           str(work)], capture_output=True, text=True, timeout=600, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"micro run exited {proc.returncode}:\n{proc.stderr[-3000:]}")
    cycles = json.loads(proc.stdout.strip().splitlines()[-1])
    base = cycles["locust stats only"]
    rows = []
    for arm, times in cycles.items():
        added = [t - b for t, b in zip(times, base, strict=True)]
        rows.append([arm, f"{min(times):.3f}", f"{median(times):.3f}",
                     f"{median(added):+.3f}" if arm != "locust stats only" else "-",
                     f"{sorted(added)[len(added) // 4]:+.3f} .. {sorted(added)[3 * len(added) // 4]:+.3f}"
                     if arm != "locust stats only" else "-"])
    print("\nmicro: Locust's request event fired 20,000 times per batch, 40 batches per handler set taking turns "
          "(process CPU time); added = this batch minus the same cycle's Locust-stats-only batch")
    print(table(["handlers", "best us/event", "median us/event", "added (median)", "added (quartiles)"], rows,
                "lrrrr"))
    return 0


def interleaved(args: argparse.Namespace, target: Target, work: Path) -> int:
    """All layers in one Locust process, in turns (see ``--interleaved``)."""
    import json

    scenario = work / "scenario.yaml"
    scenario.write_text(scenario_yaml("locust-cost", target.url, [("get", target.path)], args.users,
                                      args.duration), encoding="utf-8")
    out_dir = work / "interleaved"
    rendered(scenario, target, out_dir, "script")
    wait_quiet()
    proc = subprocess.run([sys.executable, "-c", INTERLEAVED, str(out_dir), target.url, target.path, str(args.users),
                           str(args.cycles), str(args.slice), str(args.baseline or ""), str(out_dir)],
                          capture_output=True, text=True, timeout=60 + args.cycles * 6 * (args.slice + 0.3),
                          check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"interleaved run exited {proc.returncode}:\n{proc.stderr[-3000:]}")
    slices = json.loads(proc.stdout.strip().splitlines()[-1])
    arms = list(dict.fromkeys(s["arm"] for s in slices))
    by = {(s["cycle"], s["arm"]): s for s in slices}
    rows = []
    for arm in arms:
        rate, cpu = [], []
        for c in range(args.cycles):
            base, m = by[(c, "plain")], by[(c, arm)]
            rate.append((m["requests"] / m["wall"]) / (base["requests"] / base["wall"]))
            cpu.append((base["cpu"] / base["requests"]) / (m["cpu"] / m["requests"]))
        per_req = median([1e6 * by[(c, arm)]["cpu"] / by[(c, arm)]["requests"] for c in range(args.cycles)])
        total = sum(by[(c, arm)]["requests"] for c in range(args.cycles))
        rows.append([arm, total, f"{median(rate):.3f}", f"{min(rate):.3f}-{max(rate):.3f}", f"{median(cpu):.3f}",
                     f"{per_req:.1f}"])
    print(f"\ninterleaved: one Locust process, {args.users} users, {args.cycles} cycles of "
          f"{args.slice:g} s slices per layer; ratios per cycle against that cycle's plain slice")
    print(table(["layer", "requests", "req/s / plain (median)", "range", "CPU/req: plain / layer (median)",
                 "median CPU us/req"], rows, "lrrrrr"))
    return 0


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
    parser.add_argument("--interleaved", action="store_true",
                        help="all layers in one Locust process, taking turns in short slices")
    parser.add_argument("--cycles", type=int, default=20, help="--interleaved: cycles of all layers (default 20)")
    parser.add_argument("--slice", type=float, default=1.5, help="--interleaved: seconds per slice (default 1.5)")
    parser.add_argument("--micro", action="store_true", help="the request listener's CPU per request alone")
    args = parser.parse_args()
    if args.micro:
        if args.baseline is not None and not (args.baseline / "crossload_recorder.py").is_file():
            parser.error("--baseline DIR needs DIR/crossload_recorder.py")
        print(machine_line())
        with tempfile.TemporaryDirectory(prefix="crossload-locust-cost-") as tmp:
            return micro(args, Path(tmp))
    if args.interleaved:
        if args.baseline is not None and not (args.baseline / "crossload_recorder.py").is_file():
            parser.error("--baseline DIR needs DIR/crossload_recorder.py")
        print(machine_line())
        with tempfile.TemporaryDirectory(prefix="crossload-locust-cost-") as tmp, \
                fast_target(args.server) as target:
            print(f"target: {target.kind}, GET {target.path}")
            return interleaved(args, target, Path(tmp))
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
        settings = work / "settings_locustfile.py"
        settings.write_text(RAW_LOCUST.format(path=target.path).replace(
            "    wait_time = constant(0)\n", "    wait_time = constant(0)\n" + SETTINGS), encoding="utf-8")
        runs: list[tuple[int, str, Measured]] = []
        for n in range(1, args.rounds + 1):
            for arm in arms if n % 2 else arms[::-1]:  # even rounds in reverse: drift cancels out
                speed = wait_quiet()
                if arm in ("plain", "settings"):
                    m = raw_locust(plain if arm == "plain" else settings, target, args.users, args.duration, arm)
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
