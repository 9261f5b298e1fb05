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

import orjson

from crossload.histogram import Histogram
from crossload.paths import PROJECT_ROOT, results_root, running_from_checkout
from crossload.summary import PERCENTILES, LatencySummary, RequestSummary, ToolSummary

# The method of a journey group's row: the group's wall time, one per execution (docs/schema.md). Its rows are
# results of their own, left out of the tool's overall numbers, which count requests.
GROUP_METHOD = "GROUP"


@dataclass
class IntervalAggregate:
    """What one tool did for one request name and method during one interval starting at ``t``.

    ``hist``, ``sum_ms``, ``min_ms`` and ``max_ms`` cover every request; ``fail_hist`` and ``fail_sum_ms`` the
    failed ones, so successful responses are ``hist - fail_hist`` exactly (same buckets). ``status`` counts
    responses by status class (``error``: no response) and adds up to ``count``; ``errors`` counts failed
    requests by cause (crossload.causes) and adds up to ``failures``.

    A line may be a correction for an interval written earlier (count 0, failures 1: a k6 body check that
    failed after its request's second was closed); readers add lines of one identity up.

    ``worker`` names the load generator that measured it when a tool ran as several (``--workers N``: a
    Locust worker or a k6 execution segment, ``"1"`` … ``"N"``); ``"0"`` for a single process.
    """

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
    errors: dict[str, int] = field(default_factory=dict)
    fail_sum_ms: float = 0.0
    fail_hist: Histogram = field(default_factory=Histogram)
    worker: str = "0"

    def add(self, ms: float, failed: bool, status_class: str, nbytes: int = 0, cause: str | None = None) -> None:
        self.count += 1
        self.bytes += nbytes
        self.sum_ms += ms
        if ms < self.min_ms:
            self.min_ms = ms
        if ms > self.max_ms:
            self.max_ms = ms
        self.status[status_class] = self.status.get(status_class, 0) + 1
        self.hist.add_ms(ms)
        if failed:
            self.add_failure(ms, cause or "unknown")

    def add_failure(self, ms: float, cause: str) -> None:
        """Count a request already in ``count`` (or in an earlier line of this identity) as failed."""
        self.failures += 1
        self.fail_sum_ms += ms
        self.fail_hist.add_ms(ms)
        self.errors[cause] = self.errors.get(cause, 0) + 1

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
        if other.failures:
            for cause, n in other.errors.items():
                self.errors[cause] = self.errors.get(cause, 0) + n
            self.fail_sum_ms += other.fail_sum_ms
            self.fail_hist.merge(other.fail_hist)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
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
        if self.failures:
            out["errors"] = dict(sorted(self.errors.items()))
            out["fail_sum_ms"] = round(self.fail_sum_ms, 3)
            out["fail_hist"] = self.fail_hist.to_json()
        if self.worker != "0":
            out["worker"] = self.worker
        return out

    @classmethod
    def from_json(cls, tool: str, d: dict[str, Any]) -> IntervalAggregate:
        failures = int(d["failures"])
        errors = {str(k): int(v) for k, v in d.get("errors", {}).items()}
        if failures and not errors:
            errors = {"unknown": failures}  # a store written before causes were recorded
        return cls(
            tool=tool,
            t=int(d["t"]),
            name=str(d["name"]),
            method=str(d["method"]),
            count=int(d["count"]),
            failures=failures,
            bytes=int(d.get("bytes", 0)),
            sum_ms=float(d["sum_ms"]),
            min_ms=float(d["min_ms"]) if d["count"] else math.inf,
            max_ms=float(d["max_ms"]),
            status={str(k): int(v) for k, v in d.get("status", {}).items()},
            hist=Histogram.from_json(d["hist"]),
            errors=errors,
            fail_sum_ms=float(d.get("fail_sum_ms", 0.0)),
            fail_hist=Histogram.from_json(d.get("fail_hist", {})),
            worker=str(d.get("worker", "0")),
        )


@dataclass(frozen=True)
class UsersSample:
    """Users/VUs of one source (a tool process, a worker) at second ``t``."""

    tool: str
    t: int
    users: int
    source: str = "0"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": "users", "tool": self.tool, "t": self.t, "users": self.users}
        if self.source != "0":
            out["source"] = self.source
        return out


def _latency(count: int, sum_ms: float, lo: float, hi: float, hist: Histogram,
             exact: dict[str, float] | None = None) -> LatencySummary:
    if count <= 0 or hist.count <= 0:
        return LatencySummary()
    if exact is not None:  # from every sample (crossload.exact): k6's own figures
        return LatencySummary(min_ms=_r(exact["min"]), mean_ms=_r(sum_ms / count), max_ms=_r(exact["max"]),
                              **{f"p{q}_ms": _r(exact[f"p{q}"]) for q in PERCENTILES})
    values: dict[str, float | None] = {"min_ms": _r(lo), "mean_ms": _r(sum_ms / count), "max_ms": _r(hi)}
    for q in PERCENTILES:
        # A bucket's midpoint can lie past the extreme sample it holds: report within [min, max].
        values[f"p{q}_ms"] = _r(min(max(hist.percentile_ms(q), lo), hi))
    return LatencySummary(**values)


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
    fail_sum_ms: float = 0.0
    fail_hist: Histogram = field(default_factory=Histogram)
    errors: dict[str, int] = field(default_factory=dict)
    first_t: int | None = None
    last_t: int | None = None
    # Exact figures from every sample of the run (crossload.exact), when the tool's collection kept them:
    # successful responses and every request.
    exact_ok: dict[str, float] | None = None
    exact_all: dict[str, float] | None = None

    def merge(self, a: IntervalAggregate) -> None:
        self.count += a.count
        self.failures += a.failures
        self.bytes += a.bytes
        self.sum_ms += a.sum_ms
        self.min_ms = min(self.min_ms, a.min_ms)
        self.max_ms = max(self.max_ms, a.max_ms)
        self.hist.merge(a.hist)
        if a.failures:
            self.fail_sum_ms += a.fail_sum_ms
            self.fail_hist.merge(a.fail_hist)
            for cause, n in a.errors.items():
                self.errors[cause] = self.errors.get(cause, 0) + n
        if a.count:
            self.first_t = a.t if self.first_t is None else min(self.first_t, a.t)
            self.last_t = a.t if self.last_t is None else max(self.last_t, a.t)

    def success_latency(self) -> LatencySummary:
        """Successful responses: every request minus the failed ones, bucket by bucket (exact)."""
        ok = self.hist.minus(self.fail_hist)
        n = self.count - self.failures
        if n <= 0 or ok.count <= 0:
            return LatencySummary()
        lo, hi = ok.min_ms(), ok.max_ms()
        # Exact extremes when no failure shares them; else the bucket bounds (three significant digits).
        lo = max(lo, self.min_ms)
        hi = min(hi, self.max_ms)
        return _latency(n, self.sum_ms - self.fail_sum_ms, lo, hi, ok, self.exact_ok)

    def summary(self, duration_s: float) -> RequestSummary:
        n = self.count
        ok = self.success_latency()
        return RequestSummary(
            count=n,
            failures=self.failures,
            error_rate=round(100.0 * self.failures / n, 4) if n else 0.0,
            rps=round(n / duration_s, 3) if duration_s > 0 else 0.0,
            bytes=self.bytes,
            all_requests=_latency(n, self.sum_ms, self.min_ms, self.max_ms, self.hist, self.exact_all),
            errors=dict(sorted(self.errors.items(), key=lambda kv: (-kv[1], kv[0]))),
            **ok.model_dump(),
        )


def _r(v: float | None) -> float | None:
    if v is None or math.isnan(v) or math.isinf(v):
        return None
    return round(v, 3)


@dataclass
class ToolStats:
    """Everything one tool measured in a run, merged from its interval aggregates.

    Users are kept per second and per source (a tool process, a Locust worker, a k6 segment): the users of
    a second are the sum over the sources, so two workers of 5 users make 10.
    """

    tool: str
    overall: RequestStats = field(default_factory=RequestStats)
    requests: dict[str, RequestStats] = field(default_factory=dict)
    users: dict[int, dict[str, int]] = field(default_factory=dict)
    load_duration_s: float | None = None

    def add(self, item: IntervalAggregate | UsersSample) -> None:
        if isinstance(item, UsersSample):
            self.users.setdefault(item.t, {})[item.source] = item.users
            return
        if item.method != GROUP_METHOD:
            self.overall.merge(item)
        self.requests.setdefault(item.name, RequestStats()).merge(item)

    def users_at(self, t: int) -> int | None:
        per_source = self.users.get(t)
        return sum(per_source.values()) if per_source else None

    @property
    def peak_users(self) -> int:
        return max((sum(v.values()) for v in self.users.values()), default=0)

    @property
    def duration_s(self) -> float:
        """Load time: the schedule's length for a completed run, else the span of intervals with requests."""
        if self.load_duration_s:
            return self.load_duration_s
        if self.overall.first_t is None or self.overall.last_t is None:
            return 0.0
        return float(self.overall.last_t - self.overall.first_t + 1)

    def summary(self) -> ToolSummary:
        d = self.duration_s
        return ToolSummary(
            duration_s=round(d, 3),
            overall=self.overall.summary(d),
            requests={name: s.summary(d) for name, s in sorted(self.requests.items())},
            peak_users=self.peak_users,
        )


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
            yield item_from_json(tool, orjson.loads(line))


def item_from_json(tool: str, d: dict[str, Any]) -> IntervalAggregate | UsersSample:
    """One decoded line of the store format (also what the Locust listener writes)."""
    if d.get("kind") == "users":
        return UsersSample(tool, int(d["t"]), int(d["users"]), str(d.get("source", "0")))
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
    """The checkout's commit when crossload runs from one (an installed wheel has none of its own)."""
    if not running_from_checkout():
        return None
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    sha = out.stdout.strip()
    return sha if out.returncode == 0 and sha else None


def read_json_object(path: Path) -> dict[str, Any]:
    """A JSON object from a file; ``{}`` when the file is missing, damaged or holds something else."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def write_json(path: Path, data: Any) -> None:
    """Write atomically: a reader never sees half a file."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False, sort_keys=False) + "\n", encoding="utf-8")
    tmp.replace(path)
