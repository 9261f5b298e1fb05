"""Holds a Locust process between loading its locustfile and starting its users.

A local run starts Locust while its other pre-flights and the target's start are still under way, so that
Locust's own start (about a second of imports) overlaps them. ``LocustTool.gated`` copies this file next to
the locustfile as ``crossload_gate.py`` and names it after the locustfile (``-f locustfile.py,crossload_gate.py``):
Locust imports it right after the locustfile, before it creates its runner, and this module waits there until
the file ``$CROSSLOAD_LOCUST_GATE`` exists (crossload creates it once the target answers and every pre-flight
passed). No request is sent before. Without the variable (a plain ``locust -f`` run) it does nothing. It gives
up, so the process ends, when the process that started it is gone or after ``$CROSSLOAD_LOCUST_GATE_TIMEOUT``
seconds (default 600).
"""

from __future__ import annotations

import os
import sys
import time

GATE = "CROSSLOAD_LOCUST_GATE"
TIMEOUT = "CROSSLOAD_LOCUST_GATE_TIMEOUT"
POLL_S = 0.01


def wait_for_gate(environ: dict[str, str] | os._Environ[str]) -> None:
    path = environ.get(GATE)
    if not path:
        return
    parent = os.getppid()
    deadline = time.monotonic() + float(environ.get(TIMEOUT) or 600)
    while not os.path.exists(path):
        if os.getppid() != parent:
            sys.exit("crossload gate: the process that started Locust is gone; not starting the load")
        if time.monotonic() > deadline:
            sys.exit(f"crossload gate: {path} did not appear in time; not starting the load")
        time.sleep(POLL_S)


wait_for_gate(os.environ)
