"""Start-up work that overlaps: the demo target starts while files are rendered and pre-flighted, starting it
does not load the server into crossload, and the local runner sees a tool's exit without waiting a tick."""

from __future__ import annotations

import io
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from crossload.errors import EXIT_RUN_FAILED, ToolError
from crossload.run import RunRequest, execute
from crossload.runners.local import LocalRunner
from crossload.target import DemoTarget
from crossload.tools.base import LaunchSpec

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
