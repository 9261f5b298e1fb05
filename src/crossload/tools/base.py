"""What the toolkit needs from a load tool: render, check, launch, read back, report.

Each tool module (locust, k6) implements ``LoadTool``; the registry in ``crossload.tools`` maps names to
them. Runners only see ``LaunchSpec`` (a command line, its environment and where its output goes), so the
same tool can be started as a local process or in a container. Everything tool-specific (which parser reads
its raw output, what its exit codes mean, its own end-of-test totals, its version pin and image) lives
behind this seam.
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from crossload.collect import StreamParser
from crossload.errors import ToolError
from crossload.profiles import StageSchedule
from crossload.render import RenderedFile
from crossload.results import ToolStats
from crossload.scenario import Scenario


@dataclass(frozen=True)
class LaunchSpec:
    """A tool process to start: argv, extra environment, working directory and the files it writes.

    One run of a tool is a group of these (``LoadTool.launch``): a single process, or a Locust master and its
    workers, or k6 instances each running one execution segment. ``role`` says which ("main", "master",
    "worker"), ``name`` is a human name unique within the run (a process title, a container name's tail).
    A runner that starts the tool elsewhere (a container) runs ``argv[1:]`` with the tool's own ``argv[0]``.
    """

    tool: str
    argv: tuple[str, ...]
    env: dict[str, str]
    cwd: Path
    log: Path
    raw_output: Path
    role: str = "main"
    name: str = ""

    @property
    def label(self) -> str:
        return self.name or self.tool


@dataclass(frozen=True)
class ToolTotals:
    """What a tool's own end-of-test report says: requests in all, per name when it tells, and bytes
    received when it counts them only at tool level (k6)."""

    requests: int
    per_name: dict[str, int] = field(default_factory=dict)
    bytes_received: int | None = None
    dropped_iterations: int | None = None  # open model: iterations that could not start (k6)


def find_binary(name: str, variable: str, pin: str) -> str:
    """``$variable``, else the ``name`` of this Python environment, else the one on PATH.

    This environment's own copy comes before PATH, where a version manager's shim costs a process per call.
    """
    found = os.environ.get(variable)
    if found:
        return found
    sibling = Path(sys.executable).with_name(name)
    if sibling.exists():
        return str(sibling)
    found = shutil.which(name)
    if not found:
        raise ToolError(f"{name} is not installed: run `pip install {name}=={pin}` (or set {variable})")
    return found


def command(name: str, variable: str, pin: str) -> str:
    """The tool's command for a launch spec: ``find_binary``'s answer, or the bare ``name`` when this machine
    has no copy (a runner that starts the tool in its image runs ``argv[1:]`` with the image's own; the local
    runner's pre-flight has already said how to install it)."""
    try:
        return find_binary(name, variable, pin)
    except ToolError:
        return name


def worker_sources(specs: list[LaunchSpec]) -> list[tuple[str, Path]]:
    """(worker tag, raw output) of the specs that write raw output: ``"0"`` for a single process, ``"1"`` …
    ``"N"`` for the workers of a distributed run (a master writes none)."""
    workers = [spec for spec in specs if spec.role == "worker"]
    if not workers:
        return [("0", spec.raw_output) for spec in specs if spec.role == "main"]
    return [(str(i), spec.raw_output) for i, spec in enumerate(workers, start=1)]


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on now (for a Locust master's workers to connect to)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def drain_s(scenario: Scenario | None) -> int:
    """How long a tool waits for requests in flight when the load stops (``Scenario.drain_s``)."""
    return scenario.drain_s if scenario is not None else Scenario.default_drain_s()


class LoadTool(Protocol):
    name: str
    pinned_version: str
    image: str

    def render(self, scenario: Scenario, schedule: StageSchedule, target: str) -> RenderedFile: ...

    def preflight(self, script: Path, env: dict[str, str], at_start: bool = False) -> None:
        """Prove the rendered file is valid for the tool; raise InputError otherwise (no load is sent).

        ``at_start``: the tool's own run starts right after this one, on this machine, with nothing sent
        before it; a check that the tool's start proves as well (and that costs a second start of the tool)
        may be left to it: ``load_failure`` then names what the start found."""

    def load_failure(self, specs: Sequence[LaunchSpec]) -> str | None:
        """After a run of ``specs`` that failed before sending anything: the cause, when the tool could not
        load the rendered file at all (read from the specs' logs); None for any other failure."""

    def launch(self, script: Path, out_dir: Path, scenario: Scenario | None = None) -> LaunchSpec:
        """The single process of a run (``--workers 0``)."""

    def launch_group(self, script: Path, out_dir: Path, scenario: Scenario | None = None,
                     workers: int = 0) -> list[LaunchSpec]:
        """Every process of a run: ``[launch(...)]`` for 0 workers, else the tool's distributed mode (Locust: a
        master, then N workers; k6: N instances, one execution segment each). The specs whose role is not
        "master" write raw output, the i-th "worker" (from 1) as worker ``"i"`` (``worker_sources``)."""

    def gated(self, specs: list[LaunchSpec]) -> tuple[list[LaunchSpec], Path] | None:
        """``specs`` changed so that the tool starts, loads its file and then waits, before its first request,
        until the returned file exists (its start then overlaps the rest of the pre-flights); None when the
        tool does not (the specs start once everything is ready)."""

    def parser(self) -> StreamParser:
        """A fresh reader of the raw output ``launch`` names."""

    def failed(self, exit_code: int) -> bool:
        """Whether the tool's exit code means the tool itself failed (not: its thresholds were breached)."""

    def version(self) -> str: ...

    def own_totals(self, out_dir: Path) -> ToolTotals | None:
        """The tool's own end-of-test report (None when unavailable)."""

    def finish(self, out_dir: Path, stats: ToolStats, totals: ToolTotals | None) -> None:
        """Tool-specific completion of the collected numbers and of the stored raw output."""
