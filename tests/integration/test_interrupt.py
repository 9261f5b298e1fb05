"""Ctrl-C (or SIGTERM, as a service manager or CI stops a job) in the middle of a run: the tools stop, the data
collected so far is kept, nothing is left behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from crossload.errors import EXIT_RUN_FAILED
from crossload.paths import resource_dir

pytestmark = pytest.mark.integration


def _running(procs: list[psutil.Process]) -> list[psutil.Process]:
    """The processes that still run (a zombie has exited; a pid taken by a new process is not ours)."""
    out = []
    for p in procs:
        try:
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                out.append(p)
        except psutil.NoSuchProcess:
            pass
    return out


def _cmdlines(procs: list[psutil.Process]) -> list[object]:
    out: list[object] = []
    for p in procs:
        try:
            out.append(p.cmdline())
        except psutil.Error:
            out.append(p.pid)
    return out


@pytest.mark.parametrize(("tool", "how"), [("locust", "ctrl-c"), ("k6", "ctrl-c"), ("locust", "sigterm"),
                                           ("k6", "sigterm")])
def test_ctrl_c_keeps_data_and_leaves_no_process(tmp_path: Path, tool: str, how: str) -> None:
    results = tmp_path / "results"
    env = dict(os.environ, CROSSLOAD_RESULTS_DIR=str(results), CROSSLOAD_DOTENV=str(tmp_path / "none"))
    # A terminal's Ctrl-C signals the whole foreground process group: reproduce that with a new group.
    proc = subprocess.Popen(
        [sys.executable, "-m", "crossload", "run", "smoke", "--tool", tool, "--duration", "60s"],
        cwd=resource_dir("."), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        store = None
        while time.monotonic() < deadline:
            runs = list(results.glob("*/" + tool + "/aggregates.jsonl")) if results.exists() else []
            if runs and runs[0].stat().st_size > 0 and '"kind":"req"' in runs[0].read_text():
                store = runs[0]
                break
            time.sleep(0.2)
        assert store is not None, "no data was collected within 60 s"
        descendants = psutil.Process(proc.pid).children(recursive=True)
        assert descendants, "the tool should be running"
        if how == "ctrl-c":
            os.killpg(proc.pid, signal.SIGINT)  # the terminal signals the whole foreground group
        else:
            proc.send_signal(signal.SIGTERM)  # crossload alone
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == EXIT_RUN_FAILED, out
    assert "interrupted: the data collected so far is kept" in out
    assert "Traceback" not in out
    run = store.parent.parent
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "interrupted"
    assert summary["tools"][tool]["overall"]["count"] > 0
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["status"] == "interrupted"
    # Every process the run had started ends (reparented ones may take a moment to notice their parent left).
    deadline = time.monotonic() + 20
    while _running(descendants) and time.monotonic() < deadline:
        time.sleep(0.1)
    alive = _running(descendants)
    assert not alive, f"left behind: {_cmdlines(alive)}"
