"""Line protocol: escaping, field types, deterministic identity, and no secret in any message."""

from __future__ import annotations

import socket
import time
from typing import Any

import pytest

from crossload.errors import InputError
from crossload.results import IntervalAggregate, UsersSample
from crossload.sinks import (
    InfluxV1Sink,
    InfluxV2Sink,
    Point,
    RunTags,
    interval_points,
    sink_from_env,
    to_line,
)
from crossload.sinks.base import MemorySink, redact_url
from crossload.sinks.lineprotocol import (
    REQUESTS,
    RUNS,
    STATUS,
    THRESHOLDS,
    USERS,
    format_field,
    run_point,
    sanitize_tag,
    split_lines,
    threshold_points,
)

TAGS = RunTags(run_id="20261121T223000Z-load-1a2b", scenario="shop", profile="load")
SECRET = "s3cr3t-t0ken-value"


def agg(tool: str = "k6", t: int = 1_800_000_000, name: str = "home", method: str = "GET",
        latencies: tuple[float, ...] = (10.0, 20.0, 30.0), failed: int = 0) -> IntervalAggregate:
    a = IntervalAggregate(tool=tool, t=t, name=name, method=method)
    for i, ms in enumerate(latencies):
        a.add(ms, i < failed, "5xx" if i < failed else "2xx", nbytes=100)
    return a


# --- escaping -----------------------------------------------------------------------------------------------

def test_tag_values_escape_commas_spaces_and_equals() -> None:
    p = Point.make("m", {"name": "a,b c=d"}, {"f": 1}, 5)
    assert to_line(p) == r"m,name=a\,b\ c\=d f=1i 5"


def test_quotes_and_unicode_in_tag_values_are_kept_verbatim() -> None:
    p = Point.make("m", {"name": 'say "hi" ✓'}, {"f": 1}, 5)
    assert to_line(p) == r'm,name=say\ "hi"\ ✓ f=1i 5'


@pytest.mark.parametrize(("raw", "stored"), [
    ("line\nbreak", "line break"),
    ("cr\r\nlf", "cr  lf"),
    ("tab\there", "tab here"),
    ("back\\slash", "back/slash"),
    ("trailing\\", "trailing/"),
    ("", "-"),
    ("plain", "plain"),
])
def test_tag_values_are_sanitized_the_same_for_every_server(raw: str, stored: str) -> None:
    assert sanitize_tag(raw) == stored
    p = Point.make("m", {"name": raw}, {"f": 1}, 5)
    assert p.tag("name") == stored
    line = to_line(p)
    assert "\n" not in line and "\r" not in line and "\\\\" not in line


def test_a_value_ending_in_an_escaped_character_does_not_swallow_the_separator() -> None:
    line = to_line(Point.make("m", {"a": "x ", "b": "y\\"}, {"f": 1}, 5))
    assert line == r"m,a=x\ ,b=y/ f=1i 5"


def test_measurement_and_keys_are_escaped() -> None:
    p = Point.make("my m,x", {"k ey=": "v"}, {"f,1 =": 1.5}, 7)
    assert to_line(p) == r"my\ m\,x,k\ ey\==v f\,1\ \==1.5 7"


def test_string_fields_escape_quotes_and_backslashes_and_drop_newlines() -> None:
    assert format_field('q"u\\o\nx') == r'"q\"u\\o x"'


# --- field types --------------------------------------------------------------------------------------------

def test_field_types() -> None:
    assert format_field(3) == "3i"
    assert format_field(-3) == "-3i"
    assert format_field(2.0) == "2.0"
    assert format_field(0.1) == "0.1"
    assert format_field(1e-7) == "1e-07"
    assert format_field(True) == "true"
    assert format_field(False) == "false"
    with pytest.raises(ValueError):
        format_field(float("nan"))


def test_non_finite_floats_are_left_out_and_a_point_needs_a_field() -> None:
    p = Point.make("m", {}, {"a": float("inf"), "b": 1}, 1)
    assert p.fields == (("b", 1),)
    with pytest.raises(ValueError):
        Point.make("m", {}, {"a": float("nan")}, 1)


def test_request_point_schema() -> None:
    a = agg(latencies=(10.0, 20.0, 30.0, 40.0), failed=1)
    points = interval_points([a], TAGS)
    req = [p for p in points if p.measurement == REQUESTS]
    assert len(req) == 1
    p = req[0]
    assert dict(p.tags) == {"tool": "k6", "run_id": TAGS.run_id, "scenario": "shop", "profile": "load",
                            "name": "home", "method": "GET", "worker": "0"}
    f = dict(p.fields)
    assert f["count"] == 4 and f["failures"] == 1 and f["bytes"] == 400
    assert isinstance(f["count"], int) and not isinstance(f["count"], bool)
    assert f["error_rate"] == 25.0
    assert f["sum_ms"] == 100.0 and f["mean_ms"] == 25.0 and f["min_ms"] == 10.0 and f["max_ms"] == 40.0
    for q in ("p50_ms", "p90_ms", "p95_ms", "p99_ms"):
        assert isinstance(f[q], float)
    assert f["p50_ms"] == pytest.approx(20.0, rel=0.01)
    assert p.ts_s == a.t
    line = to_line(p)
    assert " count=4i," in line and "failures=1i" in line and "bytes=400i" in line
    assert line.endswith(f" {a.t}")


def test_status_points_one_per_class() -> None:
    points = interval_points([agg(latencies=(1.0, 2.0, 3.0), failed=1)], TAGS)
    status = {p.tag("status_class"): p.field("count") for p in points if p.measurement == STATUS}
    assert status == {"2xx": 2, "5xx": 1}
    for p in points:
        if p.measurement == STATUS:
            assert {k for k, _ in p.tags} == {"tool", "run_id", "scenario", "profile", "name", "method",
                                              "status_class", "worker"}


def test_users_point() -> None:
    points = interval_points([UsersSample("locust", 100, 7), UsersSample("locust", 100, 9)], TAGS)
    assert len(points) == 1
    p = points[0]
    assert p.measurement == USERS and p.field("users") == 9 and p.ts_s == 100
    assert {k for k, _ in p.tags} == {"tool", "run_id", "scenario", "profile", "worker"}


def test_an_empty_interval_has_counts_but_no_latency_fields() -> None:
    empty = IntervalAggregate(tool="k6", t=1, name="x", method="GET")
    (p,) = interval_points([empty], TAGS)
    assert dict(p.fields) == {"count": 0, "failures": 0, "bytes": 0, "error_rate": 0.0, "sum_ms": 0.0}


def test_run_and_threshold_points() -> None:
    p = run_point(TAGS, "k6", started_ts_s=50, status="passed", verdict_passed=True,
                  started_at="2026-11-21T22:30:00.000Z", ended_at=None, tool_version="1.1.0", duration_s=30)
    assert p.measurement == RUNS and p.ts_s == 50
    assert dict(p.tags) == {"run_id": TAGS.run_id, "scenario": "shop", "profile": "load", "tool": "k6"}
    assert to_line(p) == (f"crossload_runs,profile=load,run_id={TAGS.run_id},scenario=shop,tool=k6 "
                          'status="passed",verdict_passed=true,started_at="2026-11-21T22:30:00.000Z",'
                          'ended_at="",tool_version="1.1.0",duration_s=30.0 50')
    verdicts: list[dict[str, Any]] = [
        {"threshold": "p95 < 500", "request": None, "limit": 500, "tool": "k6", "measured": 12.5,
         "passed": True},
        {"threshold": "error_rate < 1", "request": "home", "limit": 1, "tool": "k6", "measured": None,
         "passed": False},
    ]
    tp = threshold_points(verdicts, TAGS, 50)
    assert [p.measurement for p in tp] == [THRESHOLDS, THRESHOLDS]
    assert tp[0].tag("request") == "(all)" and tp[0].tag("threshold") == "p95 < 500"
    assert dict(tp[0].fields) == {"limit": 500.0, "passed": True, "measured": 12.5}
    assert dict(tp[1].fields) == {"limit": 1.0, "passed": False}
    assert r"threshold=p95\ <\ 500" in to_line(tp[0])


# --- identity -----------------------------------------------------------------------------------------------

def test_points_are_deterministic() -> None:
    items = [agg(name=n, t=t, tool=tool) for n in ("b", "a") for t in (2, 1) for tool in ("k6", "locust")]
    first = [to_line(p) for p in interval_points(items, TAGS)]
    second = [to_line(p) for p in interval_points(list(reversed(items)), TAGS)]
    assert first == second


def test_different_intervals_names_tools_runs_and_workers_never_collide() -> None:
    variants = [agg(), agg(t=1_800_000_001), agg(name="other"), agg(method="POST"), agg(tool="locust")]
    identities = [p.identity for v in variants for p in interval_points([v], TAGS)
                  if p.measurement == REQUESTS]
    identities.append(interval_points([agg()], RunTags("other-run", "shop", "load"))[0].identity)
    identities.append(interval_points([agg()], RunTags(TAGS.run_id, "shop", "load", worker="1"))[0].identity)
    assert len(set(identities)) == len(identities)


def test_lines_sharing_an_identity_are_merged_into_one_point() -> None:
    a, b = agg(latencies=(10.0,)), agg(latencies=(30.0, 50.0), failed=1)
    (req,) = [p for p in interval_points([a, b], TAGS) if p.measurement == REQUESTS]
    assert req.field("count") == 3 and req.field("failures") == 1
    assert req.field("min_ms") == 10.0 and req.field("max_ms") == 50.0
    assert a.count == 1 and b.count == 2, "inputs are not modified"


def test_memory_sink_overwrites_by_identity() -> None:
    sink = MemorySink()
    sink.write(interval_points([agg()], TAGS))
    sink.write(interval_points([agg()], TAGS))
    assert len(sink.measurement(REQUESTS)) == 1


def test_batches_hold_at_most_the_limit() -> None:
    points = [Point.make("m", {"n": str(i)}, {"f": i}, i) for i in range(12_001)]
    chunks = split_lines(points, 5000)
    assert [len(c) for c in chunks] == [5000, 5000, 2001]


def test_histogram_percentiles_come_from_the_interval() -> None:
    a = IntervalAggregate(tool="k6", t=1, name="x", method="GET")
    for ms in range(1, 101):
        a.add(float(ms), False, "2xx")
    (p,) = [p for p in interval_points([a], TAGS) if p.measurement == REQUESTS]
    # 1 .. 100 ms: the q-th percentile is q ms, to the histogram's 0.5 %.
    for q in (50, 90, 95, 99):
        value = p.field(f"p{q}_ms")
        assert isinstance(value, float) and abs(value - q) <= q * 0.005, (q, value)


# --- configuration and secrets ------------------------------------------------------------------------------

def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_no_url_means_no_sink() -> None:
    assert sink_from_env({}) is None
    assert sink_from_env({"CROSSLOAD_INFLUX_URL": " "}) is None


@pytest.mark.parametrize(("env", "variable"), [
    ({"CROSSLOAD_INFLUX_ORG": "o", "CROSSLOAD_INFLUX_BUCKET": "b"}, "CROSSLOAD_INFLUX_TOKEN"),
    ({"CROSSLOAD_INFLUX_TOKEN": SECRET, "CROSSLOAD_INFLUX_BUCKET": "b"}, "CROSSLOAD_INFLUX_ORG"),
    ({"CROSSLOAD_INFLUX_API": "v1", "CROSSLOAD_INFLUX_DB": "d", "CROSSLOAD_INFLUX_PASSWORD": SECRET},
     "CROSSLOAD_INFLUX_USERNAME"),
    ({"CROSSLOAD_INFLUX_API": "v3"}, "CROSSLOAD_INFLUX_API"),
    ({"CROSSLOAD_INFLUX_TIMEOUT": "soon"}, "CROSSLOAD_INFLUX_TIMEOUT"),
    ({"CROSSLOAD_INFLUX_TIMEOUT": "0"}, "CROSSLOAD_INFLUX_TIMEOUT"),
])
def test_missing_or_bad_settings_name_the_variable(env: dict[str, str], variable: str) -> None:
    with pytest.raises(InputError) as e:
        sink_from_env({"CROSSLOAD_INFLUX_URL": "http://127.0.0.1:8086", **env})
    assert variable in str(e.value)
    assert SECRET not in str(e.value)


def test_unset_bucket_and_database_take_the_documented_default() -> None:
    v2 = sink_from_env({"CROSSLOAD_INFLUX_URL": "http://127.0.0.1:8086", "CROSSLOAD_INFLUX_TOKEN": SECRET,
                        "CROSSLOAD_INFLUX_ORG": "o"})
    assert isinstance(v2, InfluxV2Sink) and v2.bucket == "crossload"
    v2.close()
    v1 = sink_from_env({"CROSSLOAD_INFLUX_URL": "http://127.0.0.1:8086", "CROSSLOAD_INFLUX_API": "v1"})
    assert isinstance(v1, InfluxV1Sink) and v1.db == "crossload"


def test_settings_build_the_right_sink() -> None:
    v2 = sink_from_env({"CROSSLOAD_INFLUX_URL": "http://127.0.0.1:8086/", "CROSSLOAD_INFLUX_TOKEN": SECRET,
                        "CROSSLOAD_INFLUX_ORG": "o", "CROSSLOAD_INFLUX_BUCKET": "b",
                        "CROSSLOAD_INFLUX_TIMEOUT": "2.5"})
    assert isinstance(v2, InfluxV2Sink) and v2.timeout_s == 2.5 and v2.url == "http://127.0.0.1:8086"
    assert SECRET not in v2.description and SECRET not in repr(vars(v2).get("url"))
    v2.close()
    v1 = sink_from_env({"CROSSLOAD_INFLUX_URL": "http://127.0.0.1:8086", "CROSSLOAD_INFLUX_API": "v1",
                        "CROSSLOAD_INFLUX_DB": "crossload", "CROSSLOAD_INFLUX_USERNAME": "u",
                        "CROSSLOAD_INFLUX_PASSWORD": SECRET})
    assert isinstance(v1, InfluxV1Sink) and v1.timeout_s == 5.0 and v1.db == "crossload"
    assert SECRET not in v1.description


def test_a_url_with_credentials_is_refused_without_echoing_them() -> None:
    with pytest.raises(InputError) as e:
        InfluxV1Sink(f"http://user:{SECRET}@127.0.0.1:8086", db="d")
    assert SECRET not in str(e.value)
    assert redact_url(f"http://user:{SECRET}@h:1/p?token={SECRET}") == "http://h:1/p"


@pytest.mark.parametrize("api", ["v1", "v2"])
def test_unreachable_server_messages_carry_no_secret(api: str) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    sink: InfluxV1Sink | InfluxV2Sink
    if api == "v1":
        sink = InfluxV1Sink(url, db="d", username="u", password=SECRET, timeout_s=2)
    else:
        sink = InfluxV2Sink(url, token=SECRET, org="o", bucket="b", timeout_s=2)
    started = time.monotonic()
    with pytest.raises(InputError) as e:
        sink.check()
    # Refused at once; the bound only tells that from a hang, with slack for a busy machine.
    assert time.monotonic() - started < 2 + 5
    text = str(e.value)
    assert "connection refused" in text and "CROSSLOAD_INFLUX_URL" in text
    assert SECRET not in text and "Basic" not in text
    assert e.value.__cause__ is None and e.value.__suppress_context__
    sink.close()
