"""The Runner seam: start a tool's ``LaunchSpec`` somewhere, collect while it runs, stop it cleanly.

A runner turns the ``LaunchSpec`` group of one tool (one process, or a master and workers, or k6 segments:
argv, environment, working directory, log each) into a finished ``RunOutcome``. It starts every spec in
order, calls ``on_tick`` about every ``tick_s`` seconds while any runs (the caller reads the tools' output
there), and the run is over when all have exited. When one exits with a code ``failed`` calls a failure
while others still run, the others are stopped (a master must not wait forever for a crashed worker). On
Ctrl-C or SIGTERM it stops them the way the tool expects, reaps everything it started and returns with
``interrupted`` set: it never leaves a process or container behind.

``on_tick`` may raise ``StopRun`` to have the runner stop every spec the way Ctrl-C does (an early stop:
crossload.abort); the outcome then has ``stopped`` set, not ``interrupted``.

``RunOutcome.exit_code`` is the first failing code in spec order, else the first spec's code (k6's
"thresholds breached" is not a failure: the caller's ``failed`` decides).

Runners: ``local`` (a process group on this machine). ``FakeRunner`` replays a prepared outcome for tests.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import FrameType
from typing import Any, Protocol

from crossload.tools.base import LaunchSpec


@dataclass(frozen=True)
class RunOutcome:
    exit_code: int
    started_at: float
    ended_at: float
    interrupted: bool
    stopped: bool = False  # on_tick asked for it (StopRun)
    # Every spec's own exit code, by ``LaunchSpec.label`` (one entry for a single process).
    exit_codes: dict[str, int] = field(default_factory=dict)


class SigtermAsInterrupt:
    """While running in the main thread: SIGTERM raises KeyboardInterrupt, so a service manager's or CI's stop
    is a Ctrl-C: the tools stopped the way they expect, everything reaped or removed, the data kept."""

    def __enter__(self) -> None:
        self.previous: Any = None
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGTERM, self._raise)

    @staticmethod
    def _raise(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    def __exit__(self, *exc: object) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGTERM, self.previous)


class StopRun(Exception):
    """Raised by ``on_tick`` to ask the runner to stop the tool now, the way Ctrl-C does."""


def nonzero(code: int) -> bool:
    return code != 0


def combined_exit(codes: Sequence[int], failed: Callable[[int], bool]) -> int:
    """The first failing code in spec order, else the first code (0 when there is none)."""
    for code in codes:
        if failed(code):
            return code
    return codes[0] if codes else 0


class Runner(Protocol):
    name: str

    def run(self, specs: Sequence[LaunchSpec], env: dict[str, str], on_tick: Callable[[], None],
            tick_s: float = 0.25, failed: Callable[[int], bool] = nonzero) -> RunOutcome: ...


class FakeRunner:
    """Runs nothing: calls ``produce(spec)`` for each spec (which may write the tool's raw output), ticks,
    returns."""

    name = "fake"

    def __init__(self, produce: Callable[[LaunchSpec], int], ticks: int = 2) -> None:
        self.produce = produce
        self.ticks = ticks
        self.specs: list[LaunchSpec] = []

    def run(self, specs: Sequence[LaunchSpec], env: dict[str, str], on_tick: Callable[[], None],
            tick_s: float = 0.25, failed: Callable[[int], bool] = nonzero) -> RunOutcome:
        self.specs.extend(specs)
        started = time.time()
        codes = {spec.label: self.produce(spec) for spec in specs}
        for _ in range(self.ticks):
            on_tick()
        return RunOutcome(exit_code=combined_exit(list(codes.values()), failed), started_at=started,
                          ended_at=time.time(), interrupted=False, exit_codes=codes)
