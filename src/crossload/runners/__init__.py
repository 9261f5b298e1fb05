"""Where the load tools run: the ``Runner`` seam and its implementations (see ``crossload.runners.base``)."""

from __future__ import annotations

from crossload.errors import InputError
from crossload.runners.base import FakeRunner, Runner, RunOutcome, StopRun
from crossload.runners.local import LocalRunner

RUNNER_NAMES = ("local",)

__all__ = ["RUNNER_NAMES", "FakeRunner", "LocalRunner", "RunOutcome", "Runner", "StopRun", "get_runner"]


def get_runner(name: str) -> Runner:
    if name == "local":
        return LocalRunner()
    raise InputError(f"unknown runner {name!r}; expected one of: {', '.join(RUNNER_NAMES)}")
