"""The Runner seam: start a tool's ``LaunchSpec`` somewhere, collect while it runs, stop it cleanly.

A runner turns a ``LaunchSpec`` (argv, environment, working directory, log) into a finished ``RunOutcome``.
It calls ``on_tick`` about every ``tick_s`` seconds while the tool runs (the caller reads the tool's output
there), and on Ctrl-C or SIGTERM it stops the tool the way the tool expects, reaps everything it started and
returns with ``interrupted`` set: it never leaves a process or container behind.

Runners: ``local`` (a process group on this machine). ``FakeRunner`` replays a prepared outcome for tests.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from crossload.tools.base import LaunchSpec


@dataclass(frozen=True)
class RunOutcome:
    exit_code: int
    started_at: float
    ended_at: float
    interrupted: bool


class Runner(Protocol):
    name: str

    def run(self, spec: LaunchSpec, env: dict[str, str], on_tick: Callable[[], None],
            tick_s: float = 0.25) -> RunOutcome: ...


class FakeRunner:
    """Runs nothing: calls ``produce(spec)`` (which may write the tool's raw output), ticks, returns."""

    name = "fake"

    def __init__(self, produce: Callable[[LaunchSpec], int], ticks: int = 2) -> None:
        self.produce = produce
        self.ticks = ticks
        self.specs: list[LaunchSpec] = []

    def run(self, spec: LaunchSpec, env: dict[str, str], on_tick: Callable[[], None],
            tick_s: float = 0.25) -> RunOutcome:
        self.specs.append(spec)
        started = time.time()
        code = self.produce(spec)
        for _ in range(self.ticks):
            on_tick()
        return RunOutcome(exit_code=code, started_at=started, ended_at=time.time(), interrupted=False)
