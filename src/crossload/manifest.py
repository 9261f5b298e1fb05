"""``manifest.json``: what ran, where, with which versions, and how it ended (docs/schema.md).

Written when the run folder is created (status ``running``), again once the tools' versions are known, and
at the end; always atomically, so a reader never sees half a file.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from crossload.results import write_json


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class ToolOutcome:
    """How one tool's run ended, and whether crossload collected what the tool itself counted."""

    exit_code: int
    interrupted: bool
    started_at: str
    ended_at: str
    tool_reported_requests: int | None
    collected_requests: int
    # The abort criterion that stopped this tool early (crossload.abort.Abort.to_json), if one did.
    stopped_early: dict[str, Any] | None = None
    # Open model: iterations the arrival rate asked for that could not start, all max_users being busy
    # (k6's dropped_iterations; Locust does not count them).
    dropped_iterations: int | None = None


@dataclass
class Manifest:
    run_id: str
    crossload_version: str
    scenario: dict[str, str]
    profile: dict[str, Any]
    tools: list[str]
    tool_versions: dict[str, str]
    images: dict[str, str]
    runner: str
    started_at: str
    git_sha: str | None
    status: str = "running"
    target: dict[str, str] | None = None
    ended_at: str | None = None
    outcomes: dict[str, ToolOutcome] = field(default_factory=dict)
    workers: int = 0  # --workers: 0 for one process per tool, else the load generators per tool

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def save(self, run_dir: Path) -> None:
        write_json(run_dir / "manifest.json", self.to_json())
