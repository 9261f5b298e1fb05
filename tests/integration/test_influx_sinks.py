"""Both InfluxDB sinks against real servers, and the pending-points bookkeeping around them.

InfluxDB 1.6.7 is the real server for the v1 API; VictoriaMetrics 1.79 for the v2 write API (it accepts
influxdb-client's writes; fields arrive as ``<measurement>_<field>`` series with the tags as labels). Tests
without a real server (the spool with the in-memory sink, a stub answering 401) are not marked
``integration``.
"""

from __future__ import annotations

import gzip
import http.server
import json
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pytest

from crossload.errors import InputError
from crossload.results import AggregateWriter, IntervalAggregate, UsersSample, new_run_id
from crossload.sinks import (
    InfluxV1Sink,
    InfluxV2Sink,
    LivePusher,
    MemorySink,
    Point,
    RunTags,
    Sink,
    SinkRejected,
    SinkUnavailable,
    interval_points,
    push_run,
)
from crossload.sinks.lineprotocol import REQUESTS, RUNS, STATUS, THRESHOLDS, USERS, sanitize_tag
from crossload.sinks.spool import STATE_FILE

HOSTILE_NAMES = [
    "home",
    "GET /api/items?id={id}",
    "a,b",
    "with space",
    " leading and trailing ",
    "eq=sign",
    "k=v,k2=v2 x",
    'quote"d',
    "back\\slash",
    "trailing\\",
    "x\\,y",
    "x\\ y",
    "new\nline",
    "tab\there",
    "ünïcödé ✓ 日本",
    "#hash",
    "=",
    ",",
    "comma, space= and \\ \"all\"",
]
TOOLS = ("locust", "k6")
METHODS = {"home": "GET", "a,b": "POST"}
# Scheduling slack for every bound on elapsed time: the machine running the tests may be small and shared
# (servers, tools and other processes). Such a bound says that a timeout is honoured (seconds, not the
# minutes a hang takes), never how fast something is.
SLACK_S = 5.0

# The server fixtures (tests/integration/conftest.py) hand out objects with: url, stop(kill=), start(),
# and query()/rows() for InfluxDB 1.x or export() for VictoriaMetrics.
Server = Any


def free_port() -> int:
    """A port nothing listens on (bound once, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_items(base_t: int, intervals: int = 4, names: Sequence[str] = HOSTILE_NAMES
               ) -> list[IntervalAggregate | UsersSample]:
    """Deterministic aggregates: several names, intervals and both tools, with 2xx/5xx/error classes."""
    items: list[IntervalAggregate | UsersSample] = []
    for tool in TOOLS:
        for i in range(intervals):
            t = base_t + i
            for n, name in enumerate(names):
                a = IntervalAggregate(tool=tool, t=t, name=name, method=METHODS.get(name, "GET"))
                for k in range(1 + (n + i + len(tool)) % 5):
                    failed = k == 3
                    a.add(5.0 + 7.3 * k + n, failed, "5xx" if failed else ("error" if k == 4 else "2xx"),
                          nbytes=120)
                items.append(a)
            items.append(UsersSample(tool, t, 10 + i))
    return items


def expected_counts(items: Sequence[IntervalAggregate | UsersSample]) -> dict[tuple[str, str], int]:
    out: Counter[tuple[str, str]] = Counter()
    for a in items:
        if isinstance(a, IntervalAggregate):
            out[(a.tool, sanitize_tag(a.name))] += a.count
    return dict(out)


def expected_status(items: Sequence[IntervalAggregate | UsersSample]) -> dict[tuple[str, str], int]:
    out: Counter[tuple[str, str]] = Counter()
    for a in items:
        if isinstance(a, IntervalAggregate):
            for cls, n in a.status.items():
                out[(a.tool, cls)] += n
    return dict(out)


# --- backends: one sink and one way to read back per server -------------------------------------------------

@dataclass
class Backend:
    name: str
    server: Server
    make_sink: Callable[[], Sink]
    counts: Callable[[str], dict[tuple[str, str], int]]
    status: Callable[[str], dict[tuple[str, str], int]]
    samples: Callable[[str], int]
    # InfluxDB replaces a point written again with the same identity. VictoriaMetrics 1.79 keeps one of
    # the samples sharing a timestamp, not necessarily the last written: identical rewrites are harmless,
    # a changed value (a late line folded into an interval already written) may not win there.
    replaces: bool = True


def v1_backend(server: Server, db: str) -> Backend:
    def grouped(measurement: str, tag: str, run_id: str) -> dict[tuple[str, str], int]:
        rows = server.rows(f"SELECT sum(\"count\") FROM {measurement} WHERE run_id='{run_id}' "
                           f'GROUP BY tool, "{tag}"', db)
        return {(r["tool"], r[tag]): int(r["sum"]) for r in rows}

    def samples(run_id: str) -> int:
        rows = server.rows(f"SELECT count(\"count\") FROM {REQUESTS} WHERE run_id='{run_id}'", db)
        return int(rows[0]["count"]) if rows else 0

    return Backend(
        name="influxdb-1.6.7",
        server=server,
        make_sink=lambda: InfluxV1Sink(server.url, db=db, timeout_s=5),
        counts=lambda run_id: grouped(REQUESTS, "name", run_id),
        status=lambda run_id: grouped(STATUS, "status_class", run_id),
        samples=samples,
    )


def vm_backend(server: Server) -> Backend:
    def grouped(metric: str, label: str, run_id: str) -> dict[tuple[str, str], int]:
        out: Counter[tuple[str, str]] = Counter()
        for series in server.export(f'{{__name__="{metric}",run_id="{run_id}"}}'):
            m = series["metric"]
            out[(m["tool"], m[label])] += int(sum(series["values"]))
        return dict(out)

    def samples(run_id: str) -> int:
        return sum(len(s["values"]) for s in
                   server.export(f'{{__name__="{REQUESTS}_count",run_id="{run_id}"}}'))

    return Backend(
        name="victoria-metrics",
        server=server,
        # VictoriaMetrics accepts any token; the org and bucket only matter to InfluxDB itself.
        make_sink=lambda: InfluxV2Sink(server.url, token="any-token", org="crossload", bucket="crossload",
                                       timeout_s=5),
        counts=lambda run_id: grouped(f"{REQUESTS}_count", "name", run_id),
        status=lambda run_id: grouped(f"{STATUS}_count", "status_class", run_id),
        samples=samples,
        replaces=False,
    )


@pytest.fixture(params=["v1", "v2"])
def backend(request: pytest.FixtureRequest) -> Backend:
    if request.param == "v1":
        return v1_backend(request.getfixturevalue("influxdb_v1"), db="crossload_test")
    return vm_backend(request.getfixturevalue("victoria_metrics"))


def recent_base_t() -> int:
    """Recent enough for every server's retention, and distinct per call."""
    return int(time.time()) - 3600


def run_tags() -> RunTags:
    return RunTags(run_id=new_run_id("load"), scenario="shop, \"hostile\" = yes", profile="load")


# --- real writes --------------------------------------------------------------------------------------------

@pytest.mark.integration
def test_counts_read_back_per_tool_and_name_and_pushing_twice_changes_nothing(backend: Backend) -> None:
    tags = run_tags()
    items = make_items(recent_base_t())
    points = interval_points(items, tags)
    sink = backend.make_sink()
    try:
        sink.check()
        sink.write(points)
        counts = backend.counts(tags.run_id)
        assert counts == expected_counts(items)
        assert {name for _tool, name in counts} == {sanitize_tag(n) for n in HOSTILE_NAMES}
        assert backend.status(tags.run_id) == expected_status(items)
        n_intervals = sum(isinstance(i, IntervalAggregate) for i in items)
        assert backend.samples(tags.run_id) == n_intervals

        sink.write(points)
        assert backend.counts(tags.run_id) == counts
        assert backend.samples(tags.run_id) == n_intervals
    finally:
        sink.close()


@pytest.mark.integration
def test_v1_fields_tags_and_types_read_back(influxdb_v1: Server) -> None:
    db = "crossload_fields"
    tags = run_tags()
    items = make_items(recent_base_t(), intervals=1, names=["quote\"d, and = \\ all", "home"])
    points = interval_points(items, tags)
    sink = InfluxV1Sink(influxdb_v1.url, db=db)
    sink.check()  # creates the database
    sink.write(points)
    rows = influxdb_v1.rows(f"SELECT * FROM {REQUESTS} WHERE run_id='{tags.run_id}'", db)
    by_key = {(r["tool"], r["name"], r["time"]): r for r in rows}
    for p in points:
        if p.measurement != REQUESTS:
            continue
        row = by_key[(p.tag("tool"), p.tag("name"), p.ts_s)]
        for tag, text in p.tags:
            assert row[tag] == text
        for key, value in p.fields:
            assert row[key] == value, key
    users = influxdb_v1.rows(f'SELECT "users" FROM {USERS} WHERE run_id=\'{tags.run_id}\' GROUP BY tool', db)
    assert sorted((r["tool"], r["users"]) for r in users) == [("k6", 10), ("locust", 10)]
    series = influxdb_v1.rows(f"SHOW SERIES FROM {REQUESTS} WHERE run_id='{tags.run_id}'", db)
    assert len(series) == 4  # 2 names x 2 tools: identical tags across intervals, one series each


@pytest.mark.integration
def test_v1_database_is_created_when_missing(influxdb_v1: Server) -> None:
    db = f"created_on_write_{free_port()}"
    sink = InfluxV1Sink(influxdb_v1.url, db=db)
    sink.write([Point.make("m", {"a": "b"}, {"f": 1}, recent_base_t())])
    assert influxdb_v1.rows("SELECT f FROM m", db)[0]["f"] == 1


@pytest.mark.integration
def test_v1_batches_of_5000_lines(influxdb_v1: Server) -> None:
    tags = run_tags()
    base = recent_base_t()
    names = [f"request {i}" for i in range(50)]
    items = make_items(base, intervals=40, names=names)
    points = interval_points(items, tags)
    assert len(points) > 2 * 5000
    sink = InfluxV1Sink(influxdb_v1.url, db="crossload_batches", timeout_s=10)
    sink.check()
    sent: list[int] = []
    original = sink._send

    def counting(lines: list[str]) -> None:
        sent.append(len(lines))
        original(lines)

    sink._send = counting  # type: ignore[method-assign]
    started = time.perf_counter()
    sink.write(points)
    elapsed = time.perf_counter() - started
    assert max(sent) == 5000 and sum(sent) == len(points)
    print(f"\nv1: {len(points)} points in {len(sent)} requests, {elapsed:.3f} s "
          f"({elapsed / len(sent) * 1000:.0f} ms per 5000-line request)")
    rows = influxdb_v1.rows(f"SELECT sum(\"count\") FROM {REQUESTS} WHERE run_id='{tags.run_id}'",
                            "crossload_batches")
    assert rows[0]["sum"] == sum(expected_counts(items).values())


@pytest.mark.integration
def test_v1_wrong_password_is_an_input_error_without_the_password(influxdb_v1_auth: Server) -> None:
    wrong = "not-the-password-42"
    sink = InfluxV1Sink(influxdb_v1_auth.url, db="crossload", username=influxdb_v1_auth.username,
                        password=wrong)
    with pytest.raises(InputError) as e:
        sink.check()
    text = str(e.value)
    assert "401" in text and "CROSSLOAD_INFLUX_PASSWORD" in text
    assert wrong not in text and influxdb_v1_auth.password not in text
    no_user = InfluxV1Sink(influxdb_v1_auth.url, db="crossload")
    with pytest.raises(InputError, match="CROSSLOAD_INFLUX_USERNAME"):
        no_user.check()

    good = InfluxV1Sink(influxdb_v1_auth.url, db="crossload_auth", username=influxdb_v1_auth.username,
                        password=influxdb_v1_auth.password)
    good.check()  # creates the database as admin
    good.write([Point.make("m", {"a": "b"}, {"f": 2}, recent_base_t())])
    assert influxdb_v1_auth.rows("SELECT f FROM m", "crossload_auth")[0]["f"] == 2


@pytest.mark.integration
def test_v1_missing_database_a_user_cannot_create(influxdb_v1_auth: Server) -> None:
    influxdb_v1_auth.query("CREATE USER writer WITH PASSWORD 'writer-pw'")
    sink = InfluxV1Sink(influxdb_v1_auth.url, db="nobody_made_this", username="writer", password="writer-pw")
    with pytest.raises(InputError) as e:
        sink.check()
    assert "nobody_made_this" in str(e.value) and "CROSSLOAD_INFLUX_DB" in str(e.value)
    assert "writer-pw" not in str(e.value)


@pytest.mark.integration
@pytest.mark.parametrize("api", ["v1", "v2"])
def test_unreachable_url_is_an_input_error_within_the_timeout(api: str) -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    timeout_s = 2.0
    sink: Sink = (InfluxV1Sink(url, db="d", timeout_s=timeout_s) if api == "v1"
                  else InfluxV2Sink(url, token="t", org="o", bucket="b", timeout_s=timeout_s))
    started = time.monotonic()
    with pytest.raises(InputError, match="CROSSLOAD_INFLUX_URL"):
        sink.check()
    assert time.monotonic() - started < timeout_s + SLACK_S
    with pytest.raises(SinkUnavailable):
        sink.write([Point.make("m", {}, {"f": 1}, 1)])
    sink.close()


@pytest.mark.integration
def test_run_level_points_after_the_run(influxdb_v1: Server, tmp_path: Path) -> None:
    db = "crossload_runs"
    tags = run_tags()
    run = tmp_path / tags.run_id
    base = recent_base_t()
    write_store(run, make_items(base, intervals=2, names=["home"]))
    write_run_files(run, tags, base)
    sink = InfluxV1Sink(influxdb_v1.url, db=db)
    report = push_run(run, sink)
    assert report.error is None and report.pending == 0 and report.run_points
    runs = influxdb_v1.rows(f"SELECT * FROM {RUNS} WHERE run_id='{tags.run_id}'", db)
    assert sorted(r["tool"] for r in runs) == ["k6", "locust"]
    k6 = next(r for r in runs if r["tool"] == "k6")
    assert k6["status"] == "thresholds_failed" and k6["verdict_passed"] is False
    assert k6["tool_version"] == "1.1.0" and k6["duration_s"] == 2.0 and k6["time"] == base
    assert k6["scenario"] == tags.scenario
    th = influxdb_v1.rows(f"SELECT * FROM {THRESHOLDS} WHERE run_id='{tags.run_id}'", db)
    assert {(r["tool"], r["threshold"], r["request"], r["passed"]) for r in th} == {
        ("k6", "p95 < 10", "(all)", False), ("locust", "p95 < 10", "(all)", True)}
    again = push_run(run, sink)
    assert again.written == 0 and again.points == 0 and again.run_points


# --- the server goes away in the middle of a run ------------------------------------------------------------

def write_store(run: Path, items: Sequence[IntervalAggregate | UsersSample]) -> int:
    """Append items to the run's local store the way the run does; returns how many lines."""
    for tool in TOOLS:
        writer = AggregateWriter(run / tool / "aggregates.jsonl")
        writer.write([i for i in items if i.tool == tool])
        writer.close()
    return len(items)


def write_run_files(run: Path, tags: RunTags, started_t: int) -> None:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(started_t))
    ended = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(started_t + 2))
    manifest = {"run_id": tags.run_id, "status": "thresholds_failed",
                "scenario": {"name": tags.scenario, "file": "s.yaml"}, "profile": {"profile": tags.profile},
                "tools": list(TOOLS), "tool_versions": {"locust": "2.47.0", "k6": "1.1.0"},
                "started_at": stamp, "ended_at": ended,
                "outcomes": {t: {"started_at": stamp, "ended_at": ended} for t in TOOLS}}
    thresholds = [{"threshold": "p95 < 10", "request": None, "limit": 10, "tool": tool,
                   "measured": 12.0 if tool == "k6" else 8.0, "passed": tool != "k6"} for tool in TOOLS]
    summary = {"run_id": tags.run_id, "tools": {t: {"duration_s": 2.0} for t in TOOLS},
               "thresholds": thresholds}
    (run / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    (run / "summary.json").write_text(json.dumps(summary), encoding="utf-8")


def wait_for(condition: Callable[[], bool], timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.05)


@pytest.mark.integration
def test_server_killed_mid_stream_then_refilled_from_the_store(backend: Backend, tmp_path: Path) -> None:
    tags = run_tags()
    run = tmp_path / tags.run_id
    base = recent_base_t()
    first = make_items(base, intervals=3)
    second = make_items(base + 3, intervals=3)
    # A late line for an interval pushed before the outage: it must add to it, not replace it.
    late = [IntervalAggregate(tool="k6", t=base, name="home", method="GET")]
    late[0].add(42.0, True, "5xx")
    if not backend.replaces:
        late = []
    everything = [*first, *second, *late]

    sink = backend.make_sink()
    pusher = LivePusher(run, sink, tags, interval_s=0.2, max_backoff_s=0.5)
    try:
        n_first = write_store(run, first)  # the pusher reads the store: nothing else tells it
        wait_for(lambda: pusher.written == n_first)
        assert backend.counts(tags.run_id) == expected_counts(first)

        # InfluxDB's WAL is synced per write, so it survives SIGKILL; VictoriaMetrics keeps the last second
        # in memory and needs a clean stop to keep what it acknowledged.
        backend.server.stop(kill=backend.name.startswith("influxdb"))
        n_more = write_store(run, [*second, *late])
        wait_for(lambda: pusher.failures >= 2)
        assert pusher.last_error is not None and "cannot reach" in pusher.last_error
        started = time.monotonic()
        report = pusher.close(timeout_s=3)
        assert time.monotonic() - started < 3 + SLACK_S
    finally:
        backend.server.start()
    assert report.pending == n_more and report.written == n_first and report.error

    refill = push_run(run, sink, tags)
    assert refill.error is None and refill.pending == 0 and refill.written == n_more
    assert backend.counts(tags.run_id) == expected_counts(everything)
    assert backend.status(tags.run_id) == expected_status(everything)
    n_intervals = len({(i.tool, i.t, i.name) for i in everything if isinstance(i, IntervalAggregate)})
    assert backend.samples(tags.run_id) == n_intervals

    assert push_run(run, sink, tags).written == 0
    (run / STATE_FILE).unlink()  # forget everything: the whole store is written again
    full = push_run(run, sink, tags)
    assert full.written == n_first + n_more and full.pending == 0
    assert backend.counts(tags.run_id) == expected_counts(everything)
    assert backend.samples(tags.run_id) == n_intervals
    sink.close()


# --- the v2 error seam: a stub that refuses every token -----------------------------------------------------

class _Refuse401(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(204 if self.path.startswith("/ping") else 404)
        self.end_headers()

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        self.send_response(401)
        body = b'{"code":"unauthorized","message":"unauthorized access"}'
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def refusing_server() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Refuse401)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_v2_bad_token_is_an_input_error_without_the_token(refusing_server: str) -> None:
    token = "tok-very-secret-0123456789"
    sink = InfluxV2Sink(refusing_server, token=token, org="o", bucket="b", timeout_s=2)
    with pytest.raises(InputError) as e:
        sink.check()
    text = str(e.value)
    assert "401" in text and "CROSSLOAD_INFLUX_TOKEN" in text and token not in text
    with pytest.raises(SinkRejected) as w:
        sink.write([Point.make("m", {}, {"f": 1}, 1)])
    assert token not in str(w.value)
    sink.close()


# --- the spool with the in-memory sink ----------------------------------------------------------------------

def test_push_run_is_incremental_and_idempotent(tmp_path: Path) -> None:
    tags = RunTags("r1", "s", "load")
    items = make_items(1000, intervals=2, names=["a", "b"])
    write_store(tmp_path, items)
    sink = MemorySink()
    report = push_run(tmp_path, sink, tags, batch_records=3)
    assert report.written == len(items) and report.pending == 0 and report.error is None
    assert not report.run_points  # no manifest: the run-level points wait for the run's end
    before = dict(sink.points)
    assert push_run(tmp_path, sink, tags).written == 0
    more = make_items(1002, intervals=1, names=["a"])
    write_store(tmp_path, more)
    assert push_run(tmp_path, sink, tags).written == len(more)
    assert len(sink.points) > len(before)
    state = json.loads((tmp_path / STATE_FILE).read_text())
    assert state["files"]["k6"]["offset"] == (tmp_path / "k6" / "aggregates.jsonl").stat().st_size


def test_a_torn_last_line_waits_and_a_late_line_is_folded_in(tmp_path: Path) -> None:
    tags = RunTags("r1", "s", "load")
    write_store(tmp_path, make_items(1000, intervals=1, names=["a"]))
    sink = MemorySink()
    push_run(tmp_path, sink, tags)
    late = IntervalAggregate(tool="k6", t=1000, name="a", method="GET")
    late.add(1.0, False, "2xx")
    line = json.dumps(late.to_json(), separators=(",", ":"))
    store = tmp_path / "k6" / "aggregates.jsonl"
    with store.open("a") as f:
        f.write(line[:10])
    assert push_run(tmp_path, sink, tags).written == 0
    with store.open("a") as f:
        f.write(line[10:] + "\n")
    assert push_run(tmp_path, sink, tags).written == 1
    (point,) = [p for p in sink.measurement(REQUESTS) if p.tag("tool") == "k6"]
    first = make_items(1000, intervals=1, names=["a"])
    assert point.field("count") == expected_counts(first)[("k6", "a")] + 1


def test_live_pusher_keeps_pending_while_down_and_never_blocks(tmp_path: Path) -> None:
    tags = RunTags("r1", "s", "load")
    sink = MemorySink()
    pusher = LivePusher(tmp_path, sink, tags, interval_s=0.05, max_backoff_s=0.1)
    items = make_items(1000, intervals=2, names=["a"])
    write_store(tmp_path, items)
    wait_for(lambda: pusher.written == len(items))
    assert len(sink.points) == len(interval_points(items, tags))
    sink.down = True
    more = make_items(1002, intervals=2, names=["a"])
    write_store(tmp_path, more)
    wait_for(lambda: pusher.failures >= 2)
    report = pusher.close(timeout_s=1)
    assert report.pending == len(more) and report.written == len(items) and report.error
    sink.down = False
    assert push_run(tmp_path, sink, tags).written == len(more)


def test_close_returns_in_time_when_the_server_hangs(tmp_path: Path) -> None:
    entered = threading.Event()
    release = threading.Event()

    class Hanging(MemorySink):
        """A write that never returns until the test is over: a server that accepted and went silent."""

        def write(self, points: Sequence[Point]) -> None:
            entered.set()
            release.wait(120)
            super().write(points)

    tags = RunTags("r1", "s", "load")
    items = make_items(1000, intervals=1, names=["a"])
    write_store(tmp_path, items)
    pusher = LivePusher(tmp_path, Hanging(), tags, interval_s=0.05)
    try:
        assert entered.wait(30), "the pusher never tried to write"
        started = time.monotonic()
        report = pusher.close(timeout_s=0.5)
        # Back long before the hanging write could return (the test releases it only at the end).
        assert time.monotonic() - started < 0.5 + SLACK_S
        assert report.pending == len(items) and report.error
    finally:
        release.set()


# --- slow servers and body limits (local sockets, no real server) ------------------------------------------

@pytest.fixture
def silent_server() -> Iterator[str]:
    """Accepts connections (the kernel does, from the backlog) and never answers."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(16)
        yield f"http://127.0.0.1:{s.getsockname()[1]}"


@pytest.mark.parametrize("api", ["v1", "v2"])
def test_a_silent_server_is_unavailable_within_the_timeout(api: str, silent_server: str) -> None:
    timeout_s = 1.0
    sink: Sink = (InfluxV1Sink(silent_server, db="d", timeout_s=timeout_s) if api == "v1"
                  else InfluxV2Sink(silent_server, token="t", org="o", bucket="b", timeout_s=timeout_s))
    started = time.monotonic()
    with pytest.raises(SinkUnavailable, match="no answer in time"):
        sink.write([Point.make("m", {}, {"f": 1}, 1)])
    assert time.monotonic() - started < timeout_s + SLACK_S
    started = time.monotonic()
    with pytest.raises(InputError, match="no answer in time"):
        sink.check()
    assert time.monotonic() - started < timeout_s + SLACK_S
    sink.close()


class _BodyLimit(http.server.BaseHTTPRequestHandler):
    """Answers 413 to bodies of more than 100 lines, like a server with a small max body size."""

    bodies: ClassVar[list[int]] = []

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.headers.get("Content-Encoding") == "gzip":
            raw = gzip.decompress(raw)
        lines = sum(1 for line in raw.decode().split("\n") if line)
        if lines > 100:
            self.send_response(413)
        else:
            type(self).bodies.append(lines)
            self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.mark.parametrize("api", ["v1", "v2"])
def test_a_body_too_large_is_split(api: str) -> None:
    _BodyLimit.bodies = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _BodyLimit)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        sink: Sink = (InfluxV1Sink(url, db="d", batch_lines=300) if api == "v1"
                      else InfluxV2Sink(url, token="t", org="o", bucket="b", batch_lines=300))
        sink.write([Point.make("m", {"n": str(i)}, {"f": i}, i) for i in range(700)])
        assert sum(_BodyLimit.bodies) == 700 and max(_BodyLimit.bodies) <= 100
        sink.close()
    finally:
        server.shutdown()
        server.server_close()
