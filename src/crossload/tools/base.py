"""What the toolkit needs from a load tool: render, check, launch, read back.

Each tool module (locust, k6) implements ``LoadTool``; the registry in ``crossload.tools`` maps names to
them. Runners only see ``LaunchSpec`` (a command line, its environment and where its output goes), so the
same tool can be started as a local process or, later, in a container.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from crossload.profiles import StageSchedule
from crossload.render import RenderedFile
from crossload.scenario import Scenario


@dataclass(frozen=True)
class LaunchSpec:
    """A tool process to start: argv, extra environment, working directory and files it writes."""

    tool: str
    argv: tuple[str, ...]
    env: dict[str, str]
    cwd: Path
    log: Path
    raw_output: Path
    extra_outputs: tuple[Path, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class ToolTotals:
    """What a tool's own end-of-test report says: requests in all, per name when it tells, and bytes
    received when it counts them only at tool level (k6)."""

    requests: int
    per_name: dict[str, int] = field(default_factory=dict)
    bytes_received: int | None = None


class LoadTool(Protocol):
    name: str

    def render(self, scenario: Scenario, schedule: StageSchedule, target: str) -> RenderedFile: ...

    def preflight(self, script: Path, env: dict[str, str]) -> None:
        """Prove the rendered file is valid for the tool; raise InputError otherwise (no load is sent)."""

    def launch(self, script: Path, out_dir: Path) -> LaunchSpec: ...

    def version(self) -> str: ...

    def own_totals(self, out_dir: Path) -> ToolTotals | None:
        """The tool's own end-of-test report (None when unavailable)."""
