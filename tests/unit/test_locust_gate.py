"""The gate that holds an early-started Locust between loading its file and its first user."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from crossload.tools.locust_gate import GATE, TIMEOUT, wait_for_gate


def test_without_the_variable_it_does_not_wait() -> None:
    t0 = time.monotonic()
    wait_for_gate({})
    assert time.monotonic() - t0 < 0.5


def test_it_waits_until_the_file_exists(tmp_path: Path) -> None:
    gate = tmp_path / "start"
    timer = threading.Timer(0.3, gate.touch)
    t0 = time.monotonic()
    timer.start()
    try:
        wait_for_gate({GATE: str(gate), TIMEOUT: "30"})
    finally:
        timer.cancel()
    took = time.monotonic() - t0
    assert gate.exists() and 0.25 <= took < 10.0, took


def test_it_gives_up_after_its_timeout(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="did not appear in time"):
        wait_for_gate({GATE: str(tmp_path / "never"), TIMEOUT: "0.2"})
