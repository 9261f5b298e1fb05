"""Where the load tools run: the ``Runner`` seam and its implementations (see ``crossload.runners.base``).

Beside the ``Runner`` itself, a ``Placement`` says what running somewhere else changes before a tool starts:
whether the runner can start the tools at all (``check``: a Docker engine and the tools' images), the target
URL as the tools reach it, where the pre-flight runs and which image is recorded. ``placement(runner)`` gives
it for any runner: the local runner's is ``LocalPlacement`` (the tools' own pre-flight, nothing rewritten).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from crossload.errors import InputError
from crossload.runners.base import FakeRunner, Runner, RunOutcome, StopRun
from crossload.runners.docker import DockerRunner, RunnerContext
from crossload.runners.local import LocalRunner
from crossload.tools.base import LoadTool

RUNNER_NAMES = ("local", "docker")
RUNNER_SETTING = "CROSSLOAD_RUNNER"

__all__ = ["RUNNER_NAMES", "RUNNER_SETTING", "DockerRunner", "FakeRunner", "LocalPlacement", "LocalRunner",
           "Placement", "RunOutcome", "Runner", "RunnerContext", "StopRun", "get_runner", "placement",
           "runner_name"]


def runner_name(flag: str | None, env: dict[str, str]) -> str:
    """``--runner``, else ``CROSSLOAD_RUNNER``, else local; checked."""
    name = (flag or "").strip().lower() or env.get(RUNNER_SETTING, "").strip().lower() or "local"
    if name not in RUNNER_NAMES:
        where = "--runner" if (flag or "").strip() else RUNNER_SETTING
        raise InputError(f"{where}: unknown runner {name!r}; expected one of: {', '.join(RUNNER_NAMES)}")
    return name


def get_runner(name: str, context: RunnerContext | None = None) -> Runner:
    if name == "local":
        return LocalRunner()
    if name == "docker":
        return DockerRunner(context or RunnerContext())
    raise InputError(f"unknown runner {name!r}; expected one of: {', '.join(RUNNER_NAMES)}")


class Placement(Protocol):
    def check(self, tools: Sequence[str], env: dict[str, str]) -> None:
        """Before anything is written: can the tools run there? (raise CrossloadError otherwise)"""

    def target_url(self, url: str) -> str:
        """The target's URL as the tools reach it from where they run."""

    def preflight(self, tool: LoadTool, script: Path, env: dict[str, str]) -> str:
        """The tool's pre-flight where it will run; returns its version."""

    def image(self, tool: str, env: dict[str, str]) -> str: ...


class LocalPlacement:
    """Tools run on this machine: their own pre-flight, the target as given."""

    def check(self, tools: Sequence[str], env: dict[str, str]) -> None:
        return None

    def target_url(self, url: str) -> str:
        return url

    def preflight(self, tool: LoadTool, script: Path, env: dict[str, str]) -> str:
        tool.preflight(script, env)
        return tool.version()

    def image(self, tool: str, env: dict[str, str]) -> str:
        from crossload.tools import get_tool

        return get_tool(tool).image


def placement(runner: Runner) -> Placement:
    return runner if isinstance(runner, DockerRunner) else LocalPlacement()
