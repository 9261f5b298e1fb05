"""Start-up work that overlaps: the demo target starts while files are rendered and pre-flighted, starting it
does not load the server into crossload, the local runner sees a tool's exit without waiting a tick, and
Locust starts (and loads its file) while k6's pre-flight runs, sending nothing until it passed."""

from __future__ import annotations

import io
import json
import os
import shlex
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from crossload.errors import EXIT_INPUT, EXIT_RUN_FAILED, ToolError
from crossload.run import RunRequest, execute
from crossload.runners.local import LocalRunner
from crossload.target import DemoTarget
from crossload.tools.base import LaunchSpec
from crossload.tools.k6 import k6_binary
from crossload.tools.locust import locust_binary

pytestmark = pytest.mark.integration


def test_launch_gives_the_url_at_once_and_wait_ready_waits_for_the_server() -> None:
    target = DemoTarget(host="127.0.0.1", port=0)
    try:
        t0 = time.monotonic()
        target.launch()
        launched_s = time.monotonic() - t0
        assert target.url.startswith("http://127.0.0.1:") and target.pid
        target.wait_ready()
        target.wait_ready()  # once ready, again is a no-op
        ready_s = time.monotonic() - t0
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(target.url + "/health", timeout=5) as resp:
            assert resp.status == 200
        # launching is a fork and exec; the server itself needs its interpreter and aiohttp first
        assert launched_s < ready_s, (launched_s, ready_s)
    finally:
        target.stop()
    with pytest.raises(RuntimeError):
        target.wait_ready()


def test_starting_a_demo_target_does_not_import_the_server() -> None:
    code = ("import sys\n"
            "from crossload.target import DemoTarget\n"
            "assert 'aiohttp' not in sys.modules, 'aiohttp imported'\n"
            "from crossload.target import build_app, serve\n"
            "assert callable(build_app) and callable(serve) and 'aiohttp' in sys.modules\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr


def test_a_demo_target_that_never_answers_leaves_no_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def never(self: DemoTarget, port: int) -> None:
        raise ToolError(f"demo target did not answer GET /health on port {port} (made up)")

    monkeypatch.setattr(DemoTarget, "_wait_healthy", never)
    out = io.StringIO()
    result = execute(RunRequest(profile="smoke", duration_s=2, users=1, results_dir=tmp_path / "results"), out=out)
    assert result.exit_code == EXIT_RUN_FAILED, (result.message, out.getvalue())
    assert "did not answer GET /health" in result.message and "(made up)" in result.message
    results = tmp_path / "results"
    assert not results.exists() or not any(results.iterdir())
    assert "demo target started" not in out.getvalue()


def test_the_local_runner_sees_an_exit_before_its_tick(tmp_path: Path) -> None:
    spec = LaunchSpec(tool="sleep", argv=(sys.executable, "-c", "import time; time.sleep(0.3)"), env={},
                      cwd=tmp_path, log=tmp_path / "sleep.log", raw_output=tmp_path / "none")
    ticks: list[float] = []
    t0 = time.monotonic()
    outcome = LocalRunner().run([spec], {}, lambda: ticks.append(time.monotonic()), tick_s=10.0)
    took = time.monotonic() - t0
    assert outcome.exit_code == 0
    assert took < 5.0, took  # a tick is 10 s: the exit was seen while waiting, not at the tick's end
    assert len(ticks) == 1  # and the collector still got its tick after the exit


def _slow_k6_inspect(tmp_path: Path, delay_s: float, code: int = 0) -> Path:
    """A k6 whose ``inspect`` takes ``delay_s`` longer (then exits ``code``, 0: the real answer) and writes
    when it finished to ``inspected``; everything else is the real k6."""
    real, done = shlex.quote(k6_binary()), shlex.quote(str(tmp_path / "inspected"))
    fail = f'echo "invented inspect failure" >&2; date +%s.%N > {done}; exit {code}' if code else ""
    script = tmp_path / "k6-slow"
    script.write_text(
        "#!/bin/sh\n"
        f'if [ "$1" = inspect ]; then sleep {delay_s}; {fail}\n'
        f'  {real} "$@"; rc=$?; date +%s.%N > {done}; exit $rc; fi\n'
        f'exec {real} "$@"\n', encoding="utf-8")
    script.chmod(0o755)
    return script


def _locust_spy(tmp_path: Path) -> Path:
    """The real Locust, writing its start time and pid to ``locust.calls`` first."""
    script = tmp_path / "locust-spy"
    script.write_text(f'#!/bin/sh\necho "$(date +%s.%N) $$ $*" >> {shlex.quote(str(tmp_path / "locust.calls"))}\n'
                      f'exec {shlex.quote(locust_binary())} "$@"\n', encoding="utf-8")
    script.chmod(0o755)
    return script


def _locust_runs(tmp_path: Path) -> list[tuple[float, int, str]]:
    """(start time, pid, arguments) of each Locust run (not ``--version``)."""
    rows = []
    for line in (tmp_path / "locust.calls").read_text(encoding="utf-8").splitlines():
        when, pid, args = line.split(" ", 2)
        if "-f" in args.split():
            rows.append((float(when), int(pid), args))
    return rows


def test_locust_loads_while_k6_is_checked_and_sends_nothing_before(tmp_path: Path, run_crossload,  # type: ignore[no-untyped-def]
                                                                   monkeypatch: pytest.MonkeyPatch,
                                                                   demo_target: str) -> None:
    monkeypatch.setenv("CROSSLOAD_K6_BIN", str(_slow_k6_inspect(tmp_path, 1.5)))
    monkeypatch.setenv("CROSSLOAD_LOCUST_BIN", str(_locust_spy(tmp_path)))
    result, printed = run_crossload(target=demo_target, users=1, duration_s=2, tool="both")
    assert result.exit_code in (0, 1), (result.message, printed)
    ((started, _pid, args),) = _locust_runs(tmp_path)
    inspected = float((tmp_path / "inspected").read_text(encoding="utf-8"))
    entries = json.loads((result.path / "locust" / "locust-final.json").read_text(encoding="utf-8"))
    first_request = min(float(e["start_time"]) for e in entries)
    assert "crossload_gate.py" in args and "--list" not in args.split(), args
    assert started < inspected - 1.0, (started, inspected)  # Locust started while k6 was being checked
    assert first_request >= inspected, (first_request, inspected)  # and sent nothing before it passed
    assert result.summary is not None and result.summary.tools["locust"].overall.count > 0
    assert result.summary.tools["k6"].overall.count > 0
    assert not (result.path / "locust" / ".crossload-start").exists()


def test_a_failed_pre_flight_stops_the_waiting_locust_and_leaves_no_run(
        tmp_path: Path, run_crossload, monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
        demo_target: str) -> None:
    monkeypatch.setenv("CROSSLOAD_K6_BIN", str(_slow_k6_inspect(tmp_path, 1.0, code=107)))
    monkeypatch.setenv("CROSSLOAD_LOCUST_BIN", str(_locust_spy(tmp_path)))
    result, printed = run_crossload(target=demo_target, users=1, duration_s=1, tool="both")
    assert result.exit_code == EXIT_INPUT, (result.message, printed)
    assert "k6 inspect rejected the rendered script: invented inspect failure" in result.message
    assert not any((tmp_path / "results").iterdir())
    ((started, pid, _args),) = _locust_runs(tmp_path)
    assert started < float((tmp_path / "inspected").read_text(encoding="utf-8"))
    with pytest.raises(ProcessLookupError):  # reaped: nothing left running
        os.kill(pid, 0)
    assert "starting" not in printed
