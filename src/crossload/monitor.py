"""Resource use of the target and of the load generators, sampled every second while the tools run.

The first question after a bad run is what the target was doing: its CPU, its memory (RSS, to catch leaks in
long runs), its threads and open connections. The second is whether the load generator itself was the
bottleneck: a saturated generator measures its own queueing, not the target's latency.

- The **target** is a process tree on this machine: the demo target (automatically), ``--target-pid PID`` or
  ``--target-container NAME`` (the container's main process, found through the Docker engine; the engine
  must run on this machine's kernel).
- The **generators** are the processes of the tool that is running among this process's descendants (a
  ``k6`` or ``locust`` command line, with their children; the target's tree excepted). Tools running in
  containers are not descendants: then nothing is recorded for them.

Samples go to ``monitor.jsonl`` in the run's folder, one line per second and kind, tagged with the tool
whose load was running then (the tools run one after the other):

    {"t": 1763800000.0, "tool": "k6", "kind": "target", "cpu_pct": 41.5, "rss_bytes": 52428800,
     "threads": 9, "connections": 21, "processes": 1}
    {"t": 1763800000.0, "tool": "k6", "kind": "generator", "cpu_pct": 150.0, "rss_bytes": 91226112,
     "threads": 14, "connections": 20, "processes": 1, "busiest_process_pct": 150.0}

``cpu_pct`` is percent of one core (200 = two cores busy). ``summarize`` turns the lines of one tool into
the ``target`` and ``generator`` figures of its summary; docs/schema.md documents both.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import psutil

from crossload.errors import InputError
from crossload.summary import GeneratorSummary, TargetSummary

MONITOR_FILE = "monitor.jsonl"
INTERVAL_S = 1.0
# When a generator's numbers stop being trustworthy (its latencies then include its own queueing): k6 above
# 80 % of the machine's cores, or any one Locust process above 90 % of the one core it can use, for at least
# SATURATED_MIN_S seconds of the run.
K6_SATURATION = 0.80
LOCUST_SATURATION = 0.90
SATURATED_MIN_S = 3


def saturation_limit_pct(tool: str, cores: int) -> float:
    """The CPU (percent of one core) above which a tool's generator counts as saturated."""
    if tool == "locust":
        return LOCUST_SATURATION * 100.0
    return K6_SATURATION * 100.0 * cores


def container_pid(name: str) -> int:
    """The host pid of a running container's main process (``--target-container``)."""
    from crossload.stack import StackError, docker_client

    try:
        client = docker_client()
    except StackError as e:
        raise InputError(f"--target-container {name}: {e}") from None
    try:
        container = client.containers.get(name)
        attrs: dict[str, Any] = container.attrs
    except Exception as e:
        raise InputError(f"--target-container {name}: no such container ({type(e).__name__})") from None
    finally:
        client.close()
    pid = int(attrs.get("State", {}).get("Pid") or 0)
    if not pid or not psutil.pid_exists(pid):
        raise InputError(f"--target-container {name}: not running, or not on this machine's kernel "
                         "(Docker Desktop runs containers in a VM: monitor them with its own tools)")
    return pid


def check_pid(pid: int, flag: str = "--target-pid") -> int:
    if pid <= 0 or not psutil.pid_exists(pid):
        raise InputError(f"{flag} {pid}: no such process")
    return pid


@dataclass
class _Totals:
    cpu_pct: float = 0.0
    rss_bytes: int = 0
    threads: int = 0
    connections: int = 0
    processes: int = 0
    busiest_process_pct: float = 0.0

    def add(self, cpu: float, rss: int, threads: int, connections: int) -> None:
        self.cpu_pct += cpu
        self.rss_bytes += rss
        self.threads += threads
        self.connections += connections
        self.processes += 1
        self.busiest_process_pct = max(self.busiest_process_pct, cpu)


class ResourceMonitor:
    """A daemon thread writing one target line and one generator line per second to ``monitor.jsonl``.

    ``tool`` names the tool whose load is running (set it before each tool's run, None between them: no
    lines then). ``target_pid`` returns the target's root pid, or None when it is not a local process.
    """

    def __init__(self, path: Path, target_pid: Callable[[], int | None], interval_s: float = INTERVAL_S) -> None:
        self.path = path
        self._target_pid = target_pid
        self.interval_s = interval_s
        self.tool: str | None = None
        self._procs: dict[int, psutil.Process] = {}
        self._me = psutil.Process()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="crossload-monitor", daemon=True)
        self._file = path.open("ab")

    def start(self) -> ResourceMonitor:
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop sampling and close the file (again: nothing)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5.0)
        if not self._file.closed:
            self._file.close()

    def __enter__(self) -> ResourceMonitor:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _loop(self) -> None:
        # Prime every process's CPU counter once, so that the first written line already covers a second.
        self.sample()
        while not self._stop.wait(self.interval_s):
            tool = self.tool
            lines = self.sample()
            if tool is None or tool != self.tool:
                continue
            now = round(time.time(), 3)
            for kind, totals in lines.items():
                if not totals.processes:
                    continue
                record: dict[str, Any] = {
                    "t": now, "tool": tool, "kind": kind, "cpu_pct": round(totals.cpu_pct, 1),
                    "rss_bytes": totals.rss_bytes, "threads": totals.threads, "connections": totals.connections,
                    "processes": totals.processes,
                }
                if kind == "generator":
                    record["busiest_process_pct"] = round(totals.busiest_process_pct, 1)
                self._file.write(orjson.dumps(record) + b"\n")
            self._file.flush()

    def _tree(self, root: psutil.Process) -> list[psutil.Process]:
        with contextlib.suppress(psutil.Error):
            return [root, *root.children(recursive=True)]
        return []

    def _process(self, proc: psutil.Process) -> psutil.Process:
        # Keep one Process object per pid: cpu_percent() measures since that object's previous call.
        known = self._procs.get(proc.pid)
        if known is None:
            self._procs[proc.pid] = known = proc
        return known

    def _generators(self, exclude: set[int]) -> list[psutil.Process]:
        """The running tool's processes among this process's descendants (a ``k6`` or ``locust`` command line:
        the tool, or each Locust master and worker), and their children."""
        tool = self.tool
        if tool is None:
            return []
        out: dict[int, psutil.Process] = {}
        for p in self._tree(self._me)[1:]:
            if p.pid in exclude or p.pid in out:
                continue
            try:
                argv = p.cmdline()[:2]
            except psutil.Error:
                continue
            if any(Path(arg).name == tool for arg in argv):
                for q in self._tree(p):
                    out.setdefault(q.pid, q)
        return list(out.values())

    def sample(self) -> dict[str, _Totals]:
        """CPU since the previous sample, RSS, threads and connections of the target and the generators."""
        target = _Totals()
        generator = _Totals()
        pid = self._target_pid()
        target_procs: list[psutil.Process] = []
        if pid is not None:
            with contextlib.suppress(psutil.Error):
                target_procs = self._tree(psutil.Process(pid))
        target_pids = {p.pid for p in target_procs}
        own = self._generators(target_pids)
        seen: set[int] = set()
        for procs, totals in ((target_procs, target), (own, generator)):
            for p in procs:
                proc = self._process(p)
                seen.add(proc.pid)
                with contextlib.suppress(psutil.Error):
                    with proc.oneshot():
                        cpu = proc.cpu_percent(None)
                        rss = proc.memory_info().rss
                        threads = proc.num_threads()
                    try:
                        connections = len(proc.net_connections(kind="inet"))
                    except psutil.AccessDenied:
                        connections = 0
                    totals.add(cpu, rss, threads, connections)
        for gone in set(self._procs) - seen:
            del self._procs[gone]
        return {"target": target, "generator": generator}


def read_samples(path: Path) -> list[dict[str, Any]]:
    """The lines of a run's ``monitor.jsonl`` (an unfinished last line is skipped)."""
    file = path / MONITOR_FILE if path.is_dir() else path
    out: list[dict[str, Any]] = []
    try:
        data = file.read_bytes()
    except OSError:
        return out
    for line in data.splitlines():
        with contextlib.suppress(orjson.JSONDecodeError):
            record = orjson.loads(line)
            if isinstance(record, dict):
                out.append(record)
    return out


def summarize_target(samples: Iterable[dict[str, Any]]) -> TargetSummary | None:
    rows = [s for s in samples if s.get("kind") == "target"]
    if not rows:
        return None
    cpu = [float(s["cpu_pct"]) for s in rows]
    rss = [int(s["rss_bytes"]) for s in rows]
    return TargetSummary(
        samples=len(rows), cpu_mean_pct=round(sum(cpu) / len(cpu), 1), cpu_max_pct=max(cpu),
        rss_start_bytes=rss[0], rss_end_bytes=rss[-1], rss_max_bytes=max(rss), rss_growth_bytes=rss[-1] - rss[0],
        threads_max=max(int(s["threads"]) for s in rows), connections_max=max(int(s["connections"]) for s in rows),
    )


def summarize_generator(tool: str, samples: Iterable[dict[str, Any]],
                        cores: int | None = None) -> GeneratorSummary | None:
    rows = [s for s in samples if s.get("kind") == "generator"]
    if not rows:
        return None
    cores = cores or os.cpu_count() or 1
    limit = saturation_limit_pct(tool, cores)
    measure = "busiest_process_pct" if tool == "locust" else "cpu_pct"
    over = sum(1 for s in rows if float(s.get(measure, 0.0)) > limit)
    cpu = [float(s["cpu_pct"]) for s in rows]
    return GeneratorSummary(
        samples=len(rows), cores=cores, processes_max=max(int(s["processes"]) for s in rows),
        cpu_mean_pct=round(sum(cpu) / len(cpu), 1), cpu_max_pct=max(cpu),
        rss_max_bytes=max(int(s["rss_bytes"]) for s in rows),
        saturation_limit_pct=round(limit, 1), saturated_s=over, saturated=over >= SATURATED_MIN_S,
    )


def summarize(tool: str, path: Path) -> tuple[TargetSummary | None, GeneratorSummary | None]:
    """The target and generator figures of one tool's part of the run."""
    samples = [s for s in read_samples(path) if s.get("tool") == tool]
    return summarize_target(samples), summarize_generator(tool, samples)


__all__ = ["MONITOR_FILE", "ResourceMonitor", "check_pid", "container_pid", "read_samples", "saturation_limit_pct",
           "summarize", "summarize_generator", "summarize_target"]
