"""Ctrl-C stops crossload even when it was started with SIGINT ignored (a shell's background job)."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

CHILD = """
import os, signal, sys
{setup}
try:
    os.kill(os.getpid(), signal.SIGINT)
    import time; time.sleep(2)
except KeyboardInterrupt:
    print("interrupted")
    sys.exit(0)
print("ignored")
"""


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.parametrize(("setup", "expected"), [
    ("", "ignored"),  # what Python does by itself: the premise
    ("from crossload.errors import honour_ctrl_c; honour_ctrl_c()", "interrupted"),
    ("from crossload.tasks_api import _guard; _guard(lambda: 0)", "interrupted"),  # every invoke task
    ("from crossload.cli import main; main(['validate', 'no-such-file.yaml'])", "interrupted"),  # the CLI
])
def test_sigint_interrupts_after_honour_ctrl_c(setup: str, expected: str) -> None:
    out = subprocess.run([sys.executable, "-c", CHILD.format(setup=setup)], preexec_fn=_ignore_sigint,
                         capture_output=True, text=True, timeout=60, check=False)
    assert out.stdout.strip() == expected, (out.stdout, out.stderr)
