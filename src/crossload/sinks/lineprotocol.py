"""The normalized model as InfluxDB points, and those points as line protocol.

Every point has a deterministic identity, series key (measurement + tags) plus timestamp, so writing the
same run again overwrites each point with identical values instead of adding a duplicate, and two different
intervals, tools, runs, request names or workers never land on the same identity. Timestamps are whole
seconds: write with ``precision=s``.

Schema
======

Common tags: ``run_id`` (``20261121T223000Z-load-1a2b``), ``scenario`` (the scenario's name), ``profile``
(smoke, load, stress, spike, endurance) and ``tool`` (``locust`` or ``k6``). Tag values are low-cardinality
by construction: request names come from the scenario, never raw URLs, ids or error texts.

``crossload_requests``: one point per interval aggregate (one tool, one request name and method, one
interval starting at the timestamp).
    tags    tool, run_id, scenario, profile, name, method, worker (``"0"`` for a single process; with
            ``--workers N`` the load generator, ``"1"`` … ``"N"``: a Locust worker, a k6 execution segment)
    fields  count (integer), failures (integer), bytes (integer): what happened during the interval
            error_rate (float, percent: 100 * failures / count)
            sum_ms (float, sum of all latencies, so ``sum(sum_ms) / sum(count)`` is an exact mean)
            mean_ms, min_ms, max_ms (float)
            p50_ms, p90_ms, p95_ms, p99_ms (float, from the interval's histogram, at most 0.5 % off)
    time    interval start, epoch seconds
    Latency fields are left out of an interval without requests (line protocol has no NaN). Store lines
    sharing an identity (a late sample reopening an interval, workers reporting one interval under the
    same worker tag) are merged into one point: counts add up, histograms merge.

``crossload_status``: per interval aggregate and per status class seen in it.
    tags    tool, run_id, scenario, profile, name, method, status_class, worker
            status_class is one of 2xx, 3xx, 4xx, 5xx (1xx if a server sends one) or ``error`` (no HTTP
            response: connection or timeout error); the classes of an interval add up to its count
    fields  count (integer)
    time    interval start

``crossload_errors``: per interval aggregate and per failure cause seen in it (crossload.causes).
    tags    tool, run_id, scenario, profile, name, method, cause, worker
            cause is ``HTTP <code>``, ``connection refused``, ``connection reset``, ``timeout``,
            ``TLS error``, ``DNS error``, ``connection error``, ``check failed: <check label>`` or
            ``exception: <type>``; the causes of an interval add up to its failures
    fields  count (integer)
    time    interval start

``crossload_users``: concurrent users (Locust) or VUs (k6) sampled during the interval.
    tags    tool, run_id, scenario, profile, worker
    fields  users (integer; per worker with ``--workers N``: a second's users are the sum over its workers)
    time    interval start

``crossload_runs``: one point per run and tool, usable as a Grafana annotation.
    tags    run_id, scenario, profile, tool
    fields  status (string, the run's: passed, thresholds_failed, failed, interrupted; written once the
            run has ended)
            verdict_passed (boolean: every threshold held for this tool)
            started_at, ended_at (strings, ISO 8601 UTC; ended_at is "" while unknown)
            tool_version (string), duration_s (float, load time)
    time    run start

``crossload_thresholds``: one point per threshold and tool.
    tags    run_id, scenario, profile, tool, threshold (its text, e.g. ``p95 < 500``), request (the request
            name it applies to, or ``(all)`` for all requests)
    fields  limit (float), measured (float; absent when nothing was measured), passed (boolean)
    time    run start

``crossload_summary``: one point per run, tool and request name (and ``(all)`` for every request), written
once after the run with the run-level points: the whole-run figures of summary.json, exactly as they are there.
    tags    run_id, scenario, profile, tool, name (a request name, or ``(all)``: the tool's ``overall``)
    fields  count, failures, bytes (integers); error_rate (float, %), rps (float, requests/s),
            duration_s (float, the duration rps is computed over);
            min_ms, mean_ms, p50_ms, p90_ms, p95_ms, p99_ms, max_ms (float, successful responses; absent
            when nothing was measured); all_min_ms ... all_max_ms (the same over every request);
            ended_ms (integer, epoch milliseconds: the end of the tool's run, for Grafana region
            annotations); peak_users (integer; on ``(all)`` only)
    time    the start of the tool's run (the run's start when unknown)
    Whole-run percentiles come from the merged histograms of the run (summary.json): read them from here,
    never as an aggregate of the per-interval percentiles of ``crossload_requests``.

``name``, ``users`` and ``limit`` are InfluxQL keywords: double-quote identifiers in InfluxQL
(``SELECT sum("count") FROM crossload_requests GROUP BY "name"``).

On the v2 write API of VictoriaMetrics (used in tests) a field becomes the series
``<measurement>_<field>`` with the tags as labels; string fields are dropped and booleans read 1/0.
Rewriting an identity with identical values is harmless there too (with ``-dedup.minScrapeInterval``),
but unlike InfluxDB it does not guarantee that a changed value replaces the old one.

Text rules
==========

Tag values are stored as the point holds them: control characters (newline, carriage return, tab, ...)
become a space, a backslash becomes ``/`` (InfluxDB 1.x keeps both characters of ``\\\\`` while 2.x and
VictoriaMetrics read it as one backslash, and a value ending in a backslash would escape the separator, so
no spelling reads back the same everywhere) and an empty value becomes ``-`` (line protocol cannot carry
it). Everything else (commas, spaces, equals signs, quotes, any Unicode) is escaped and reads back
unchanged. String field values keep backslashes and quotes (escaped) but not control characters.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from crossload.histogram import Histogram
from crossload.results import IntervalAggregate, UsersSample

REQUESTS = "crossload_requests"
STATUS = "crossload_status"
ERRORS = "crossload_errors"
USERS = "crossload_users"
RUNS = "crossload_runs"
THRESHOLDS = "crossload_thresholds"
SUMMARY = "crossload_summary"
RESOURCES = "crossload_resources"

ALL_REQUESTS = "(all)"
EMPTY_TAG = "-"

FieldValue = int | float | bool | str

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def sanitize_tag(value: str) -> str:
    """The value a tag will hold on every server (see the module docstring)."""
    text = _CONTROL.sub(" ", value).replace("\\", "/")
    return text if text else EMPTY_TAG


def _escape(text: str, specials: str) -> str:
    out = text.replace("\\", "\\\\") if "\\" in specials else text
    for ch in specials:
        if ch != "\\":
            out = out.replace(ch, "\\" + ch)
    return out


def escape_measurement(name: str) -> str:
    return _escape(_CONTROL.sub(" ", name), ", ")


def escape_key(key: str) -> str:
    """Tag keys and field keys."""
    return _escape(_CONTROL.sub(" ", key), ",= ")


def escape_tag_value(value: str) -> str:
    return _escape(sanitize_tag(value), ",= ")


def format_field(value: FieldValue) -> str:
    """Integers carry ``i``, floats always a dot or exponent, booleans are ``true``/``false``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value}i"
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("line protocol cannot carry NaN or infinity")
        return repr(value)
    text = _CONTROL.sub(" ", value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


@dataclass(frozen=True)
class Point:
    """One InfluxDB point; tags are sanitized and sorted, non-finite float fields dropped."""

    measurement: str
    tags: tuple[tuple[str, str], ...]
    fields: tuple[tuple[str, FieldValue], ...]
    ts_s: int

    def __post_init__(self) -> None:
        tags = tuple(sorted((k, sanitize_tag(v)) for k, v in self.tags))
        fields = tuple(
            (k, v) for k, v in self.fields if not (isinstance(v, float) and not math.isfinite(v))
        )
        if not fields:
            raise ValueError(f"a {self.measurement} point needs at least one field")
        object.__setattr__(self, "tags", tags)
        object.__setattr__(self, "fields", fields)
        object.__setattr__(self, "ts_s", int(self.ts_s))

    @classmethod
    def make(cls, measurement: str, tags: Mapping[str, str], fields: Mapping[str, FieldValue],
             ts_s: int) -> Point:
        return cls(measurement, tuple(tags.items()), tuple(fields.items()), ts_s)

    @property
    def identity(self) -> tuple[str, tuple[tuple[str, str], ...], int]:
        """What the server keys a point by: writing a point with the same identity replaces it."""
        return (self.measurement, self.tags, self.ts_s)

    def tag(self, key: str) -> str | None:
        return dict(self.tags).get(key)

    def field(self, key: str) -> FieldValue | None:
        return dict(self.fields).get(key)


def to_line(point: Point) -> str:
    """One line of line protocol, without the trailing newline."""
    head = escape_measurement(point.measurement)
    if point.tags:
        head += "," + ",".join(f"{escape_key(k)}={escape_tag_value(v)}" for k, v in point.tags)
    body = ",".join(f"{escape_key(k)}={format_field(v)}" for k, v in point.fields)
    return f"{head} {body} {point.ts_s}"


def to_lines(points: Iterable[Point]) -> str:
    """A request body: one line per point, newline-terminated."""
    return "".join(to_line(p) + "\n" for p in points)


@dataclass(frozen=True)
class RunTags:
    """The tags every point of one run carries (and the worker, for distributed runs)."""

    run_id: str
    scenario: str
    profile: str
    worker: str = "0"

    @classmethod
    def from_manifest(cls, manifest: Mapping[str, Any], worker: str = "0") -> RunTags:
        scenario = manifest.get("scenario")
        profile = manifest.get("profile")
        return cls(
            run_id=str(manifest["run_id"]),
            scenario=str(scenario.get("name", "") if isinstance(scenario, Mapping) else scenario or ""),
            profile=str(profile.get("profile", "") if isinstance(profile, Mapping) else profile or ""),
            worker=worker,
        )

    def base(self, tool: str) -> dict[str, str]:
        return {"tool": tool, "run_id": self.run_id, "scenario": self.scenario, "profile": self.profile}


AggregateKey = tuple[str, int, str, str, str]


def aggregate_key(item: IntervalAggregate) -> AggregateKey:
    return (item.tool, item.t, item.name, item.method, item.worker)


def copy_aggregate(item: IntervalAggregate) -> IntervalAggregate:
    return IntervalAggregate(
        tool=item.tool, t=item.t, name=item.name, method=item.method, count=item.count,
        failures=item.failures, bytes=item.bytes, sum_ms=item.sum_ms, min_ms=item.min_ms,
        max_ms=item.max_ms, status=dict(item.status), hist=Histogram(item.hist.buckets),
        errors=dict(item.errors), fail_sum_ms=item.fail_sum_ms, fail_hist=Histogram(item.fail_hist.buckets),
        worker=item.worker,
    )


@dataclass
class Merged:
    """Items folded by identity: lines of the local store that share an identity become one point."""

    aggregates: dict[AggregateKey, IntervalAggregate] = field(default_factory=dict)
    # (tool, t) -> users per source (a tool process, a worker): the second's users are their sum.
    users: dict[tuple[str, int], dict[str, int]] = field(default_factory=dict)

    def add(self, item: IntervalAggregate | UsersSample) -> None:
        if isinstance(item, UsersSample):
            self.users.setdefault((item.tool, item.t), {})[item.source] = item.users
            return
        akey = aggregate_key(item)
        agg = self.aggregates.get(akey)
        if agg is None:
            self.aggregates[akey] = copy_aggregate(item)
        else:
            agg.merge(item)

    def __len__(self) -> int:
        return len(self.aggregates) + len(self.users)


def _r3(v: float) -> float:
    return round(v, 3)


def _aggregate_points(a: IntervalAggregate, tags: RunTags) -> list[Point]:
    base = tags.base(a.tool)
    req_tags = {**base, "name": a.name, "method": a.method, "worker": a.worker if a.worker != "0" else tags.worker}
    fields: dict[str, FieldValue] = {
        "count": a.count,
        "failures": a.failures,
        "bytes": a.bytes,
        "error_rate": round(100.0 * a.failures / a.count, 4) if a.count else 0.0,
        "sum_ms": _r3(a.sum_ms),
    }
    if a.count:
        fields["mean_ms"] = _r3(a.sum_ms / a.count)
        fields["min_ms"] = _r3(a.min_ms)
        fields["max_ms"] = _r3(a.max_ms)
        if a.hist.count:
            for q in (50, 90, 95, 99):
                fields[f"p{q}_ms"] = _r3(a.hist.percentile_ms(q))
    points = [Point.make(REQUESTS, req_tags, fields, a.t)]
    for cls, n in sorted(a.status.items()):
        if n:
            points.append(Point.make(STATUS, {**req_tags, "status_class": cls}, {"count": n}, a.t))
    for cause, n in sorted(a.errors.items()):
        if n:
            points.append(Point.make(ERRORS, {**req_tags, "cause": cause}, {"count": n}, a.t))
    return points


def interval_points(items: Iterable[IntervalAggregate | UsersSample] | Merged,
                    run_tags: RunTags) -> list[Point]:
    """Points for interval aggregates and users samples; items sharing an identity are merged first."""
    merged = items if isinstance(items, Merged) else _merge(items)
    points: list[Point] = []
    for key in sorted(merged.aggregates):
        points.extend(_aggregate_points(merged.aggregates[key], run_tags))
    for (tool, t) in sorted(merged.users):
        sources = merged.users[(tool, t)]
        workers = {s: n for s, n in sources.items() if s != "0"}
        if len(workers) < len(sources):  # a single process (or a source without a worker): the whole second
            tags = {**run_tags.base(tool), "worker": run_tags.worker}
            points.append(Point.make(USERS, tags, {"users": sum(n for s, n in sources.items() if s == "0")}, t))
        for worker, n in sorted(workers.items()):  # one point per load generator: its own users
            points.append(Point.make(USERS, {**run_tags.base(tool), "worker": worker}, {"users": n}, t))
    return points


def _merge(items: Iterable[IntervalAggregate | UsersSample]) -> Merged:
    merged = Merged()
    for item in items:
        merged.add(item)
    return merged


def run_point(run_tags: RunTags, tool: str, *, started_ts_s: int, status: str, verdict_passed: bool,
              started_at: str, ended_at: str | None, tool_version: str | None,
              duration_s: float | None) -> Point:
    """The run's annotation point for one tool (timestamp: run start)."""
    fields: dict[str, FieldValue] = {
        "status": status,
        "verdict_passed": verdict_passed,
        "started_at": started_at,
        "ended_at": ended_at or "",
        "tool_version": tool_version or "",
    }
    if duration_s is not None:
        fields["duration_s"] = float(duration_s)
    tags = {"run_id": run_tags.run_id, "scenario": run_tags.scenario, "profile": run_tags.profile,
            "tool": tool}
    return Point.make(RUNS, tags, fields, started_ts_s)


def threshold_points(verdicts: Iterable[Mapping[str, Any]], run_tags: RunTags,
                     started_ts_s: int) -> list[Point]:
    """One point per verdict; ``verdicts`` are ``Verdict.to_json()`` dicts (as in summary.json)."""
    points: list[Point] = []
    for v in verdicts:
        request = v.get("request")
        tags = {"run_id": run_tags.run_id, "scenario": run_tags.scenario, "profile": run_tags.profile,
                "tool": str(v["tool"]), "threshold": str(v["threshold"]),
                "request": ALL_REQUESTS if request is None else str(request)}
        fields: dict[str, FieldValue] = {"limit": float(v["limit"]), "passed": bool(v["passed"])}
        measured = v.get("measured")
        if measured is not None:
            fields["measured"] = float(measured)
        points.append(Point.make(THRESHOLDS, tags, fields, started_ts_s))
    return points


SUMMARY_COUNTS = ("count", "failures", "bytes")
SUMMARY_RATES = ("error_rate", "rps")
SUMMARY_LATENCY = ("min_ms", "mean_ms", "p50_ms", "p90_ms", "p95_ms", "p99_ms", "max_ms")


def _summary_fields(figures: Mapping[str, Any]) -> dict[str, FieldValue]:
    """The fields of one ``requests.<name>`` (or ``overall``) object of summary.json, typed for InfluxDB.

    Types are fixed per field (a field written as an integer once must stay one), whatever the JSON holds.
    """
    fields: dict[str, FieldValue] = {}
    for key in SUMMARY_COUNTS:
        fields[key] = int(figures.get(key) or 0)
    for key in SUMMARY_RATES:
        fields[key] = float(figures.get(key) or 0.0)
    every = figures.get("all_requests")
    for key in SUMMARY_LATENCY:
        value = figures.get(key)
        if value is not None:
            fields[key] = float(value)
        value = every.get(key) if isinstance(every, Mapping) else None
        if value is not None:
            fields[f"all_{key}"] = float(value)
    return fields


def summary_points(tool: str, tool_summary: Mapping[str, Any], run_tags: RunTags, started_ts_s: int,
                   ended_ms: int | None = None) -> list[Point]:
    """``crossload_summary`` points of one tool: ``(all)`` (its ``overall``) and one per request name.

    ``tool_summary`` is ``summary.json``'s ``tools.<tool>`` object; values are taken unchanged, so what a
    dashboard reads from these points is what summary.json says.
    """
    base = {"run_id": run_tags.run_id, "scenario": run_tags.scenario, "profile": run_tags.profile, "tool": tool}
    common: dict[str, FieldValue] = {"duration_s": float(tool_summary.get("duration_s") or 0.0)}
    if ended_ms is not None:
        common["ended_ms"] = int(ended_ms)
    points: list[Point] = []
    overall = tool_summary.get("overall")
    if isinstance(overall, Mapping):
        fields = {**_summary_fields(overall), **common, "peak_users": int(tool_summary.get("peak_users") or 0)}
        points.append(Point.make(SUMMARY, {**base, "name": ALL_REQUESTS}, fields, started_ts_s))
    requests = tool_summary.get("requests")
    if isinstance(requests, Mapping):
        for name in sorted(requests):
            figures = requests[name]
            if isinstance(figures, Mapping):
                fields = {**_summary_fields(figures), **common}
                points.append(Point.make(SUMMARY, {**base, "name": str(name)}, fields, started_ts_s))
    return points


RESOURCE_FIELDS = ("cpu_pct", "rss_bytes", "threads", "connections", "processes")


def resource_points(samples: Iterable[Mapping[str, Any]], run_tags: RunTags) -> list[Point]:
    """``crossload_resources`` points: one per second, tool and kind (target, generator) of monitor.jsonl."""
    points: list[Point] = []
    for s in samples:
        tool, kind, t = s.get("tool"), s.get("kind"), s.get("t")
        if not isinstance(tool, str) or kind not in ("target", "generator") or not isinstance(t, int | float):
            continue
        fields: dict[str, FieldValue] = {}
        for key in RESOURCE_FIELDS:
            value = s.get(key)
            if isinstance(value, bool) or not isinstance(value, int | float):
                continue
            fields[key] = float(value) if key == "cpu_pct" else int(value)
        if fields:
            points.append(Point.make(RESOURCES, {**run_tags.base(tool), "kind": str(kind)}, fields, int(t)))
    return points


def split_lines(points: Sequence[Point], max_lines: int) -> list[list[str]]:
    """Line protocol in chunks of at most ``max_lines`` lines (one request body each)."""
    lines = [to_line(p) for p in points]
    return [lines[i:i + max_lines] for i in range(0, len(lines), max_lines)]
