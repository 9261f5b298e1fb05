"""What InfluxDB already holds of a run, so the local store stays the source of truth and nothing is lost.

``results/<run-id>/influx.json`` records, per tool, the byte offset in ``<tool>/aggregates.jsonl`` up to
which every line has been acknowledged by the sink, and a digest of the run-level points (runs,
thresholds and the whole-run summary) last acknowledged. Pushing means: read the store from those offsets,
write, move the offsets.
Nothing pending is ever held in memory, so an InfluxDB that is away for an hour costs no memory, and
``push_run`` after the fact (or after a crash) fills the replica from the store.

Identity makes this idempotent: a point is keyed by series + interval start, so re-sending overwrites with
identical values. The store may hold several lines with one identity (a late k6 sample reopens an interval,
Locust workers report the same interval); they are folded into one point before writing, including lines
acknowledged by an earlier push, so a late line never replaces the earlier counts.

One writer at a time per run directory: either a ``LivePusher`` during the run or ``push_run`` after it.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from crossload.errors import CrossloadError
from crossload.monitor import MONITOR_FILE
from crossload.results import IntervalAggregate, UsersSample, item_from_json, read_json_object, write_json
from crossload.sinks.base import Sink, SinkUnavailable
from crossload.sinks.lineprotocol import (
    Merged,
    Point,
    RunTags,
    aggregate_key,
    interval_points,
    resource_points,
    run_point,
    summary_points,
    threshold_points,
    to_lines,
)

STATE_FILE = "influx.json"
# The resource samples' entry in influx.json's files (not a tool name).
MONITOR_MARK = "(monitor)"
AGGREGATES = "aggregates.jsonl"
BATCH_RECORDS = 2000  # store lines per write: about 3 points each (requests, status classes, users)

# The writer's fixed key order lets the time of a line be read without decoding it (see results.py).
_HEAD = re.compile(rb'^\{"kind":"(req|users)","tool":"[^"]*","t":(-?\d+)')

Item = IntervalAggregate | UsersSample


@dataclass(frozen=True)
class PushReport:
    """``written``: store lines acknowledged by this push; ``pending``: store lines still waiting."""

    written: int
    pending: int
    points: int = 0
    run_points: bool = False
    error: str | None = None


@dataclass
class FileMark:
    """How far one tool's aggregates file is acknowledged, and the newest interval in that part."""

    offset: int = 0
    lines: int = 0
    max_t: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"offset": self.offset, "lines": self.lines, "max_t": dict(sorted(self.max_t.items()))}

    @classmethod
    def from_json(cls, d: Any) -> FileMark:
        if not isinstance(d, dict):
            return cls()
        max_t = d.get("max_t")
        return cls(offset=int(d.get("offset", 0)), lines=int(d.get("lines", 0)),
                   max_t={str(k): int(v) for k, v in max_t.items()} if isinstance(max_t, dict) else {})


class Spool:
    """The ``influx.json`` bookkeeping of one run directory."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.path = run_dir / STATE_FILE
        self.marks: dict[str, FileMark] = {}
        self.run_points: str | None = None
        self.frozen = False  # set when its owner gave up waiting on a stuck write: the state is not saved
        if self.path.exists():
            try:
                data = json.loads(self.path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                data = {}  # a damaged state only means pushing everything again
            if isinstance(data, dict):
                files = data.get("files")
                if isinstance(files, dict):
                    self.marks = {str(k): FileMark.from_json(v) for k, v in files.items()}
                rp = data.get("run_points")
                self.run_points = rp if isinstance(rp, str) else None

    def tools(self) -> list[str]:
        """Tools with a store file in this run, in a stable order."""
        return sorted(p.parent.name for p in self.run_dir.glob(f"*/{AGGREGATES}"))

    def store(self, tool: str) -> Path:
        return self.run_dir / tool / AGGREGATES

    def mark(self, tool: str) -> FileMark:
        return self.mark_of(tool, self.store(tool))

    def mark_of(self, key: str, path: Path) -> FileMark:
        mark = self.marks.get(key, FileMark())
        size = path.stat().st_size if path.exists() else 0
        if mark.offset > size:
            return FileMark()  # the file was replaced: start over (identity makes it harmless)
        return FileMark(mark.offset, mark.lines, dict(mark.max_t))

    def save(self) -> None:
        if self.frozen:
            return
        data = {"schema": 1, "files": {k: v.to_json() for k, v in sorted(self.marks.items())},
                "run_points": self.run_points}
        write_json(self.path, data)

    def pending(self) -> int:
        """Complete store lines past the acknowledged offsets."""
        total = 0
        for tool in self.tools():
            mark = self.mark(tool)
            total += sum(1 for _ in _complete_lines(self.store(tool), mark.offset))
        monitor = self.run_dir / MONITOR_FILE
        total += sum(1 for _ in _complete_lines(monitor, self.mark_of(MONITOR_MARK, monitor).offset))
        return total


def _complete_lines(path: Path, offset: int, end: int | None = None) -> Iterator[tuple[int, bytes]]:
    """(offset after the line, line) for each newline-terminated line from ``offset`` (up to ``end``)."""
    if not path.exists():
        return
    with path.open("rb") as f:
        f.seek(offset)
        pos = offset
        while end is None or pos < end:
            line = f.readline()
            if not line.endswith(b"\n"):
                return
            pos += len(line)
            yield pos, line


def _decode(tool: str, line: bytes) -> Item | None:
    try:
        return item_from_json(tool, orjson.loads(line))
    except (ValueError, KeyError, TypeError, AttributeError):
        return None  # a damaged line cannot be pushed; it must not stop the rest


def _kind(item: Item) -> str:
    return "users" if isinstance(item, UsersSample) else "req"


def _fold_earlier(path: Path, end: int, tool: str, merged: Merged, mark: FileMark) -> None:
    """Fold lines before ``end`` that share an identity with the batch into it (late lines)."""
    wanted = {("req", k[1]) for k in merged.aggregates if k[1] <= mark.max_t.get("req", -1)}
    wanted |= {("users", k[1]) for k in merged.users if k[1] <= mark.max_t.get("users", -1)}
    if not wanted or end == 0:
        return
    agg_keys = set(merged.aggregates)
    user_keys = set(merged.users)
    for _pos, line in _complete_lines(path, 0, end):
        m = _HEAD.match(line)
        if m is not None and (m.group(1).decode(), int(m.group(2))) not in wanted:
            continue
        item = _decode(tool, line)
        if item is None:
            continue
        if isinstance(item, UsersSample):
            if (item.tool, item.t) in user_keys:
                merged.add(item)
        elif aggregate_key(item) in agg_keys:
            merged.add(item)


@dataclass
class _Progress:
    written: int = 0
    points: int = 0


def _push_store(spool: Spool, sink: Sink, tags: RunTags, progress: _Progress, batch: int,
                go_on: Callable[[], bool]) -> None:
    """Write every unacknowledged store line, batch by batch, saving the offsets after each write."""
    for tool in spool.tools():
        path = spool.store(tool)
        while go_on():
            mark = spool.mark(tool)
            merged = Merged()
            end, n, max_t = mark.offset, 0, dict(mark.max_t)
            for pos, line in _complete_lines(path, mark.offset):
                item = _decode(tool, line)
                end, n = pos, n + 1
                if item is not None:
                    merged.add(item)
                    kind = _kind(item)
                    max_t[kind] = max(max_t.get(kind, item.t), item.t)
                if n >= batch:
                    break
            if n == 0:
                break
            _fold_earlier(path, mark.offset, tool, merged, mark)
            points = interval_points(merged, tags)
            if points:
                sink.write(points)
            spool.marks[tool] = FileMark(end, mark.lines + n, max_t)
            spool.save()
            progress.written += n
            progress.points += len(points)
    _push_monitor(spool, sink, tags, progress, batch, go_on)


def _push_monitor(spool: Spool, sink: Sink, tags: RunTags, progress: _Progress, batch: int,
                  go_on: Callable[[], bool]) -> None:
    """The resource samples (monitor.jsonl) as ``crossload_resources`` points, live like the store."""
    path = spool.run_dir / MONITOR_FILE
    while go_on():
        mark = spool.mark_of(MONITOR_MARK, path)
        samples: list[dict[str, Any]] = []
        end, n = mark.offset, 0
        for pos, line in _complete_lines(path, mark.offset):
            end, n = pos, n + 1
            try:
                sample = orjson.loads(line)
            except orjson.JSONDecodeError:
                sample = None
            if isinstance(sample, dict):
                samples.append(sample)
            if n >= batch:
                break
        if n == 0:
            break
        points = resource_points(samples, tags)
        if points:
            sink.write(points)
        spool.marks[MONITOR_MARK] = FileMark(end, mark.lines + n)
        spool.save()
        progress.written += n
        progress.points += len(points)


def _parse_iso(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())


def _parse_iso_ms(text: object) -> int | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        return round(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        return None


def run_level_points(run_dir: Path, tags: RunTags) -> list[Point]:
    """``crossload_runs``, ``crossload_thresholds`` and ``crossload_summary`` points from manifest.json and
    summary.json (the summary points: each tool's whole-run figures, stamped with the tool's start)."""
    manifest = read_json_object(run_dir / "manifest.json")
    if not manifest.get("started_at"):
        return []
    summary = read_json_object(run_dir / "summary.json")
    started = _parse_iso(str(manifest["started_at"]))
    verdicts = [v for v in summary.get("thresholds", []) if isinstance(v, dict)]
    outcomes = manifest.get("outcomes") or {}
    versions = manifest.get("tool_versions") or {}
    summaries = summary.get("tools") or {}
    points: list[Point] = []
    for tool in manifest.get("tools") or sorted(summaries):
        outcome = outcomes.get(tool) or {}
        tool_summary = summaries.get(tool) or {}
        duration = tool_summary.get("duration_s")
        points.append(run_point(
            tags, str(tool), started_ts_s=started, status=str(manifest.get("status", "running")),
            verdict_passed=all(bool(v.get("passed")) for v in verdicts if v.get("tool") == tool),
            started_at=str(outcome.get("started_at") or manifest["started_at"]),
            ended_at=outcome.get("ended_at") or manifest.get("ended_at"),
            tool_version=versions.get(tool), duration_s=float(duration) if duration is not None else None))
    points.extend(threshold_points(verdicts, tags, started))
    for tool in sorted(summaries):
        tool_summary = summaries.get(tool)
        if not isinstance(tool_summary, dict):
            continue
        outcome = outcomes.get(tool) or {}
        tool_start_ms = _parse_iso_ms(outcome.get("started_at"))
        points.extend(summary_points(
            str(tool), tool_summary, tags,
            started_ts_s=started if tool_start_ms is None else tool_start_ms // 1000,
            ended_ms=_parse_iso_ms(outcome.get("ended_at") or manifest.get("ended_at"))))
    return points


def _tags_for(run_dir: Path, run_tags: RunTags | None) -> RunTags:
    if run_tags is not None:
        return run_tags
    manifest = read_json_object(run_dir / "manifest.json")
    if "run_id" not in manifest:
        raise CrossloadError(f"{run_dir} has no manifest.json: pass the run's tags explicitly")
    return RunTags.from_manifest(manifest)


def push_run(run_dir: Path, sink: Sink, run_tags: RunTags | None = None,
             batch_records: int = BATCH_RECORDS) -> PushReport:
    """Write whatever the sink does not hold yet of a run; run-level points once the run has ended.

    Never raises for an unavailable or refusing sink: the report says what is still pending and why.
    """
    spool = Spool(run_dir)
    tags = _tags_for(run_dir, run_tags)
    progress = _Progress()
    error: str | None = None
    try:
        _push_store(spool, sink, tags, progress, batch_records, lambda: True)
    except CrossloadError as e:
        error = str(e)
    sent_run = False
    manifest = read_json_object(run_dir / "manifest.json")
    if error is None and manifest.get("status") not in (None, "running"):
        points = run_level_points(run_dir, tags)
        digest = hashlib.sha256(to_lines(points).encode("utf-8")).hexdigest()
        if digest == spool.run_points:
            sent_run = True
        else:
            try:
                sink.write(points)
            except CrossloadError as e:
                error = str(e)
            else:
                spool.run_points = digest
                spool.save()
                progress.points += len(points)
                sent_run = True
    return PushReport(written=progress.written, pending=spool.pending(), points=progress.points,
                      run_points=sent_run, error=error)


class LivePusher:
    """Pushes a run's store to a sink while the run goes on, in a background thread, once a second.

    The pusher reads what the collector appended to the local store at its acknowledged offsets, so it
    holds nothing in memory whatever happens to the server.
    On ``SinkUnavailable`` it backs off (1 s, 2 s, 4 s ... up to ``max_backoff_s``) and catches up when the
    server is back. Nothing here ever blocks the caller: the collector only appends to the store, and
    ``close`` waits at most its timeout.
    """

    def __init__(self, run_dir: Path, sink: Sink, run_tags: RunTags, interval_s: float = 1.0,
                 max_backoff_s: float = 30.0, batch_records: int = BATCH_RECORDS) -> None:
        self.run_dir = run_dir
        self.sink = sink
        self.tags = run_tags
        self.interval_s = interval_s
        self.max_backoff_s = max_backoff_s
        self.batch_records = batch_records
        self.failures = 0
        self.last_error: str | None = None
        self._progress = _Progress()
        self._spool = Spool(run_dir)
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._deadline: float | None = None
        self._abandoned = False
        self._thread = threading.Thread(target=self._loop, name="crossload-influx", daemon=True)
        self._thread.start()

    @property
    def written(self) -> int:
        return self._progress.written

    def _go_on(self) -> bool:
        if self._abandoned:
            return False
        return self._deadline is None or time.monotonic() < self._deadline

    def _loop(self) -> None:
        backoff = 0.0
        while True:
            self._wake.wait(backoff or self.interval_s)
            stopping = self._stop.is_set()
            try:
                _push_store(self._spool, self.sink, self.tags, self._progress, self.batch_records,
                            self._go_on)
                backoff = 0.0
                self.last_error = None
            except SinkUnavailable as e:
                self.failures += 1
                self.last_error = str(e)
                backoff = min(self.max_backoff_s, max(self.interval_s, backoff * 2))
            except Exception as e:  # a refusing server or a damaged file must not stop the run
                self.failures += 1
                self.last_error = str(e) or type(e).__name__
                backoff = self.max_backoff_s
            if stopping:
                return

    def close(self, timeout_s: float = 5.0) -> PushReport:
        """One last attempt to catch up (bounded by ``timeout_s``), then what is still pending."""
        self._deadline = time.monotonic() + timeout_s
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout_s)
        if self._thread.is_alive():
            self._abandoned = True  # stuck in a slow write: it stops, and its offsets are not saved any more
            self._spool.frozen = True
            self.last_error = self.last_error or f"{self.sink.description} did not answer in {timeout_s:g} s"
        pending = Spool(self.run_dir).pending()
        return PushReport(written=self._progress.written, pending=pending, points=self._progress.points,
                          error=self.last_error if pending else None)
