"""The normalized result model (one schema for both tools) and the local store of a run.

Per tool, per request name and method, per 1-second interval: count, failures, bytes, latency sum/min/max,
counts per status class and a mergeable latency histogram (see crossload.histogram). Users/VUs are sampled
per interval too. docs/schema.md documents the meaning of every field for each tool.

The local store (results/<run-id>/) is the source of truth: ``<tool>/aggregates.jsonl`` holds one JSON
object per line, appended while the run goes on, so an interrupted run keeps everything collected so far.
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from crossload.histogram import Histogram
from crossload.paths import PROJECT_ROOT, results_root

TOOLS = ("locust", "k6")
PERCENTILES = (50, 90, 95, 99)


@dataclass
class IntervalAggregate:
    """What one tool did for one request name and method during one interval starting at ``t``."""

    tool: str
    t: int
    name: str
    method: str
    count: int = 0
    failures: int = 0
    bytes: int = 0
    sum_ms: float = 0.0
    min_ms: float = math.inf
    max_ms: float = 0.0
    status: dict[str, int] = field(default_factory=dict)
    hist: Histogram = field(default_factory=Histogram)

    def add(self, ms: float, failed: bool, status_class: str, nbytes: int = 0) -> None:
        self.count += 1
        if failed:
            self.failures += 1
        self.bytes += nbytes
        self.sum_ms += ms
        if ms < self.min_ms:
            self.min_ms = ms
        if ms > self.max_ms:
            self.max_ms = ms
        self.status[status_class] = self.status.get(status_class, 0) + 1
        self.hist.add_ms(ms)

    def merge(self, other: IntervalAggregate) -> None:
        """Add ``other`` in: every field of the model is a sum, a min, a max or a histogram."""
        self.count += other.count
        self.failures += other.failures
        self.bytes += other.bytes
        self.sum_ms += other.sum_ms
        self.min_ms = min(self.min_ms, other.min_ms)
        self.max_ms = max(self.max_ms, other.max_ms)
        for cls, n in other.status.items():
            self.status[cls] = self.status.get(cls, 0) + n
        self.hist.merge(other.hist)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": "req",
            "tool": self.tool,
            "t": self.t,
            "name": self.name,
            "method": self.method,
            "count": self.count,
            "failures": self.failures,
            "bytes": self.bytes,
            "sum_ms": round(self.sum_ms, 3),
            "min_ms": round(self.min_ms, 3) if self.count else 0.0,
            "max_ms": round(self.max_ms, 3),
            "status": dict(sorted(self.status.items())),
            "hist": self.hist.to_json(),
        }

    @classmethod
    def from_json(cls, tool: str, d: dict[str, Any]) -> IntervalAggregate:
        return cls(
            tool=tool,
            t=int(d["t"]),
            name=str(d["name"]),
            method=str(d["method"]),
            count=int(d["count"]),
            failures=int(d["failures"]),
            bytes=int(d.get("bytes", 0)),
            sum_ms=float(d["sum_ms"]),
            min_ms=float(d["min_ms"]) if d["count"] else math.inf,
            max_ms=float(d["max_ms"]),
            status={str(k): int(v) for k, v in d.get("status", {}).items()},
            hist=Histogram.from_json(d["hist"]),
        )


@dataclass(frozen=True)
class UsersSample:
    tool: str
    t: int
    users: int

    def to_json(self) -> dict[str, Any]:
        return {"kind": "users", "tool": self.tool, "t": self.t, "users": self.users}


@dataclass
class RequestStats:
    """Run-level numbers for one request name (or the whole tool), merged from intervals."""

    count: int = 0
    failures: int = 0
    bytes: int = 0
    sum_ms: float = 0.0
    min_ms: float = math.inf
    max_ms: float = 0.0
    hist: Histogram = field(default_factory=Histogram)
    first_t: int | None = None
    last_t: int | None = None

    def merge(self, a: IntervalAggregate) -> None:
        self.count += a.count
        self.failures += a.failures
        self.bytes += a.bytes
        self.sum_ms += a.sum_ms
        self.min_ms = min(self.min_ms, a.min_ms)
        self.max_ms = max(self.max_ms, a.max_ms)
        self.hist.merge(a.hist)
        self.first_t = a.t if self.first_t is None else min(self.first_t, a.t)
        self.last_t = a.t if self.last_t is None else max(self.last_t, a.t)

    def summary(self, duration_s: float) -> dict[str, Any]:
        n = self.count
        out: dict[str, Any] = {
            "count": n,
            "failures": self.failures,
            "error_rate": round(100.0 * self.failures / n, 4) if n else 0.0,
            "rps": round(n / duration_s, 3) if duration_s > 0 else 0.0,
            "bytes": self.bytes,
            "min_ms": _r(self.min_ms if n else None),
            "mean_ms": _r(self.sum_ms / n if n else None),
        }
        for q in PERCENTILES:
            # A bucket's midpoint can lie past the extreme sample it holds: report within [min, max].
            value = min(max(self.hist.percentile_ms(q), self.min_ms), self.max_ms) if n else None
            out[f"p{q}_ms"] = _r(value)
        out["max_ms"] = _r(self.max_ms if n else None)
        return out


def _r(v: float | None) -> float | None:
    if v is None or math.isnan(v) or math.isinf(v):
        return None
    return round(v, 3)


@dataclass
class ToolStats:
    """Everything one tool measured in a run, merged from its interval aggregates."""

    tool: str
    overall: RequestStats = field(default_factory=RequestStats)
    requests: dict[str, RequestStats] = field(default_factory=dict)
    users: list[UsersSample] = field(default_factory=list)
    load_duration_s: float | None = None

    def add(self, a: IntervalAggregate) -> None:
        self.overall.merge(a)
        self.requests.setdefault(a.name, RequestStats()).merge(a)

    @property
    def duration_s(self) -> float:
        """Load time: the schedule's length for a completed run, else the span of intervals with requests."""
        if self.load_duration_s:
            return self.load_duration_s
        if self.overall.first_t is None or self.overall.last_t is None:
            return 0.0
        return float(self.overall.last_t - self.overall.first_t + 1)

    def summary(self) -> dict[str, Any]:
        d = self.duration_s
        return {
            "duration_s": round(d, 3),
            "overall": self.overall.summary(d),
            "requests": {name: s.summary(d) for name, s in sorted(self.requests.items())},
            "peak_users": max((u.users for u in self.users), default=0),
        }


class AggregateWriter:
    """Appends aggregates to ``<run>/<tool>/aggregates.jsonl`` as they are produced (flushed per batch)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._file: TextIO = path.open("a", encoding="utf-8")

    def write(self, items: Iterable[IntervalAggregate | UsersSample]) -> int:
        lines = [json.dumps(i.to_json(), separators=(",", ":"), ensure_ascii=False) for i in items]
        if lines:
            self._file.write("\n".join(lines) + "\n")
            self._file.flush()
        return len(lines)

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()


def read_aggregates(path: Path, tool: str) -> Iterator[IntervalAggregate | UsersSample]:
    """Read a local store file back; a torn last line (run killed mid-write) is skipped."""
    if not path.exists():
        return
    with path.open(encoding="utf-8") as f:
        for line in f:
            if not line.endswith("\n"):
                break
            yield item_from_json(tool, json.loads(line))


def item_from_json(tool: str, d: dict[str, Any]) -> IntervalAggregate | UsersSample:
    """One decoded line of the store format (also what the Locust listener writes)."""
    if d.get("kind") == "users":
        return UsersSample(tool, int(d["t"]), int(d["users"]))
    return IntervalAggregate.from_json(tool, d)


def new_run_id(profile: str, now: float | None = None) -> str:
    """Sortable by time: 20261121T223000Z-smoke-1a2b (UTC, then profile, then a short random suffix)."""
    stamp = datetime.fromtimestamp(now if now is not None else time.time(), tz=UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{profile}-{os.urandom(2).hex()}"


_RUN_ID = re.compile(r"^\d{8}T\d{6}Z-[a-z]+-[0-9a-f]{4}$")


def is_run_id(name: str) -> bool:
    return bool(_RUN_ID.match(name))


def run_dir(run_id: str, root: Path | None = None) -> Path:
    return (root or results_root()) / run_id


def git_sha() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    sha = out.stdout.strip()
    return sha if out.returncode == 0 and sha else None


def write_json(path: Path, data: Any) -> None:
    """Write atomically: a reader never sees half a file."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False, sort_keys=False) + "\n", encoding="utf-8")
    tmp.replace(path)
