"""The gate that holds an early-started Locust between loading its file and its first user."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from crossload.tools import locust_gate
from crossload.tools.locust_gate import GATE_FILE, wait_for_gate


def test_it_waits_until_the_file_exists(tmp_path: Path) -> None:
    gate = tmp_path / GATE_FILE
    timer = threading.Timer(0.3, gate.touch)
    t0 = time.monotonic()
    timer.start()
    try:
        wait_for_gate(gate, timeout_s=30)
    finally:
        timer.cancel()
    took = time.monotonic() - t0
    assert gate.exists() and 0.25 <= took < 10.0, took


def test_it_gives_up_after_its_timeout(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="did not appear in time"):
        wait_for_gate(tmp_path / GATE_FILE, timeout_s=0.2)


def test_it_waits_only_when_imported_as_the_gate_next_to_a_locustfile(tmp_path: Path) -> None:
    # As part of the package (this test imported it) nothing waits; copied as crossload_gate.py, importing it
    # waits for the file next to it.
    copy = tmp_path / f"{locust_gate.MODULE}.py"
    copy.write_text(Path(locust_gate.__file__).read_text(encoding="utf-8"), encoding="utf-8")
    gate = tmp_path / GATE_FILE
    code = (f"import os, sys; sys.path.insert(0, {str(tmp_path)!r}); print('importing', flush=True); "
            f"import crossload_gate; print(os.path.exists({str(gate)!r}))")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "importing"
        time.sleep(0.3)
        assert proc.poll() is None  # still waiting at the gate
        gate.touch()
        out, _ = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0 and out.strip() == "True", out
