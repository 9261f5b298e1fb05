"""Holds a Locust process between loading its locustfile and starting its users.

A local run starts Locust while its other pre-flights and the target's start are still under way, so that
Locust's own start (about a second of imports) overlaps them. ``LocustTool.gated`` copies this file next to
the locustfile as ``crossload_gate.py`` and names it after the locustfile (``-f locustfile.py,crossload_gate.py``):
Locust imports it right after the locustfile, before it creates its runner, and it waits there until the
file ``.crossload-start`` exists next to it (crossload creates it once the target answers and every
pre-flight passed). No request is sent before. A plain ``locust -f locustfile.py`` never imports it. It gives
up, so the process ends without sending anything, when the process that started it is gone or after 10
minutes. Imported under any other name (as ``crossload.tools.locust_gate``) it does nothing.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

MODULE = "crossload_gate"
GATE_FILE = ".crossload-start"
POLL_S = 0.01


def wait_for_gate(gate: Path, timeout_s: float = 600.0) -> None:
    parent = os.getppid()
    deadline = time.monotonic() + timeout_s
    while not gate.exists():
        if os.getppid() != parent:
            sys.exit("crossload gate: the process that started Locust is gone; not starting the load")
        if time.monotonic() > deadline:
            sys.exit(f"crossload gate: {gate} did not appear in time; not starting the load")
        time.sleep(POLL_S)


if __name__ == MODULE:
    wait_for_gate(Path(__file__).resolve().with_name(GATE_FILE))
