"""A stored run read back for the reports: manifest, summary, and each tool's store as merged statistics and
as time series (per second, or per few seconds for a long run: histograms merge exactly, so a coarser step
still has exact percentiles).

Only the local store is read (results/<run-id>/), never InfluxDB: a report always shows what the run kept.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crossload.histogram import Histogram
from crossload.results import (
    IntervalAggregate,
    RequestStats,
    ToolStats,
    UsersSample,
    read_aggregates,
    read_json_object,
)
from crossload.summary import RunSummary

# At most this many points per series in a report: a 1 h run is drawn at 3 s steps.
MAX_POINTS = 1200
ALL = "ALL"


def success_hist(stats: RequestStats) -> Histogram:
    """Latencies of the successful responses (every request minus the failed ones, bucket by bucket)."""
    return stats.hist.minus(stats.fail_hist)


@dataclass
class Series:
    """One tool's time series: ``x`` is seconds since the tool's first collected second."""

    start: int = 0
    step: int = 1
    x: list[int] = field(default_factory=list)
    percentiles: dict[str, list[float | None]] = field(default_factory=dict)  # "p50" -> ms per point
    rps: list[float] = field(default_factory=list)
    errors: dict[str, list[float]] = field(default_factory=dict)  # cause -> failed requests/s per point
    users: list[int | None] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"start": self.start, "step": self.step, "x": self.x, "percentiles": self.percentiles,
                "rps": self.rps, "errors": self.errors, "users": self.users}


@dataclass
class ToolData:
    tool: str
    stats: ToolStats
    seconds: dict[int, IntervalAggregate] = field(default_factory=dict)  # every request name of a second

    def scope(self, request: str) -> RequestStats | None:
        return self.stats.overall if request == ALL else self.stats.requests.get(request)

    def series(self, max_points: int = MAX_POINTS) -> Series:
        times = sorted(set(self.seconds) | set(self.stats.users))
        if not times:
            return Series()
        start, end = times[0], times[-1]
        span = end - start + 1
        step = max(1, math.ceil(span / max_points))
        out = Series(start=start, step=step)
        out.percentiles = {f"p{q}": [] for q in (50, 90, 95, 99)}
        causes = sorted({c for a in self.seconds.values() for c in a.errors})
        out.errors = {c: [] for c in causes}
        for first in range(start, end + 1, step):
            merged = IntervalAggregate(tool=self.tool, t=first, name=ALL, method="")
            users: int | None = None
            for t in range(first, min(first + step, end + 1)):
                if t in self.seconds:
                    merged.merge(self.seconds[t])
                u = self.stats.users_at(t)
                if u is not None:
                    users = u if users is None else max(users, u)
            ok = merged.hist.minus(merged.fail_hist)
            out.x.append(first - start)
            for q in (50, 90, 95, 99):
                out.percentiles[f"p{q}"].append(round(ok.percentile_ms(q), 3) if ok.count else None)
            out.rps.append(round(merged.count / step, 3))
            for c in causes:
                out.errors[c].append(round(merged.errors.get(c, 0) / step, 3))
            out.users.append(users)
        return out


@dataclass
class RunData:
    run_id: str
    path: Path
    manifest: dict[str, Any]
    summary: RunSummary
    tools: dict[str, ToolData]

    @property
    def scenario(self) -> str:
        return self.summary.scenario

    @property
    def profile(self) -> dict[str, Any]:
        return dict(self.manifest.get("profile") or {})


def read_tool(path: Path, tool: str) -> ToolData:
    stats = ToolStats(tool)
    data = ToolData(tool, stats)
    for item in read_aggregates(path / tool / "aggregates.jsonl", tool):
        stats.add(item)
        if isinstance(item, UsersSample):
            continue
        second = data.seconds.get(item.t)
        if second is None:
            second = data.seconds[item.t] = IntervalAggregate(tool=tool, t=item.t, name=ALL, method="")
        second.merge(item)
    return data


def load_run(path: Path) -> RunData:
    """A run folder as the reports need it; a run without summary.json (still going, or killed) is
    summarized from its store."""
    from crossload.runs import read_summary

    manifest = read_json_object(path / "manifest.json")
    tools = [str(t) for t in manifest.get("tools") or []]
    raw = read_json_object(path / "summary.json")
    summary = read_summary(raw, path.name, manifest) if raw else None
    if summary is not None:
        tools = list(dict.fromkeys([*summary.tools, *tools]))
    data = {t: read_tool(path, t) for t in tools if (path / t).is_dir() or (summary and t in summary.tools)}
    if summary is None:
        summary = read_summary({"tools": {t: d.stats.summary().model_dump() for t, d in data.items()}},
                               path.name, manifest)
    for name, tool in data.items():
        if name in summary.tools and summary.tools[name].duration_s:
            tool.stats.load_duration_s = summary.tools[name].duration_s
    return RunData(run_id=path.name, path=path, manifest=manifest, summary=summary, tools=data)


__all__ = ["ALL", "MAX_POINTS", "RunData", "Series", "ToolData", "load_run", "read_tool", "success_hist"]
