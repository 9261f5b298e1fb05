"""Stream parsers on recorded real tool output, the file tail, and the histogram."""

from __future__ import annotations

import csv
import json
import math
import random
from pathlib import Path

from crossload.collect import FileTail, K6JsonParser, LocustRecordParser, _epoch_second
from crossload.histogram import Histogram, bucket_us, bucket_width_us
from crossload.results import IntervalAggregate, ToolStats, UsersSample

REC = Path(__file__).resolve().parents[1] / "fixtures" / "recorded"


def _parse_all(parser: K6JsonParser | LocustRecordParser, path: Path) -> list[IntervalAggregate | UsersSample]:
    out = []
    with path.open(encoding="utf-8") as f:
        for line in f:
            parser.feed(line.rstrip("\n"))
            out.extend(parser.drain(final=False))
    out.extend(parser.drain(final=True))
    return out


def test_k6_recorded_stream_matches_k6s_own_totals() -> None:
    items = _parse_all(K6JsonParser(), REC / "k6-raw.json")
    stats = ToolStats("k6")
    for i in items:
        if isinstance(i, IntervalAggregate):
            stats.add(i)
    own = json.loads((REC / "k6-summary.json").read_text())["metrics"]
    assert stats.overall.count == own["http_reqs"]["count"] == 58
    # k6's own min/max of http_req_duration are exact values: ours must equal them.
    assert math.isclose(stats.overall.min_ms, own["http_req_duration"]["min"], rel_tol=1e-9)
    assert math.isclose(stats.overall.max_ms, own["http_req_duration"]["max"], rel_tol=1e-9)
    assert math.isclose(stats.overall.sum_ms / stats.overall.count, own["http_req_duration"]["avg"], rel_tol=1e-9)
    assert set(stats.requests) == {"health", "list items", "item detail", "search", "login", "create item"}
    users = [i for i in items if isinstance(i, UsersSample)]
    assert users and max(u.users for u in users) == 2


def test_k6_parser_counts_failures_by_cause_and_status_classes() -> None:
    p = K6JsonParser()
    base = '{"metric":"http_req_duration","type":"Point","data":{"time":"2026-11-21T22:36:31.5Z","value":%s,"tags":%s}}'
    p.feed(base % ("1.5", '{"expected_response":"true","method":"GET","name":"a","status":"200"}'))
    p.feed(base % ("0", '{"error_code":"1212","expected_response":"false","method":"GET","name":"a","status":"0"}'))
    p.feed(base % ("2.5", '{"expected_response":"false","method":"GET","name":"a","status":"503"}'))
    p.feed(base % ("3.5", '{"expected_response":"true","method":"GET","name":"a","status":"200"}'))
    p.feed('{"metric":"crossload_check_failed","type":"Point","data":{"time":"2026-11-21T22:36:31.6Z","value":3.5,'
           '"tags":{"check":"$.id == 42","method":"GET","name":"a"}}}')
    p.feed('{"metric":"http_req_waiting","type":"Point","data":{"time":"2026-11-21T22:36:31.5Z","value":1}}')
    p.feed('not json at all: skipped by prefix')
    (agg,) = p.drain(final=True)
    assert isinstance(agg, IntervalAggregate)
    assert agg.count == 4 and agg.failures == 3
    assert agg.status == {"2xx": 2, "error": 1, "5xx": 1}
    assert agg.errors == {"connection refused": 1, "HTTP 503": 1, "check failed: $.id == 42": 1}
    assert agg.fail_hist.count == 3 and math.isclose(agg.fail_sum_ms, 6.0)
    assert agg.t == 1795300591
    assert agg.min_ms == 0 and agg.max_ms == 3.5
    stats = ToolStats("k6")
    stats.add(agg)
    summary = stats.summary().overall
    # Successful responses: only the 1.5 ms one (to the histogram's 3 significant digits when failures
    # hold the extremes); every request: exactly 0 .. 3.5 ms.
    assert summary.min_ms == 1.5
    for value in (summary.p50_ms, summary.p99_ms, summary.max_ms):
        assert value is not None and 1.5 <= value < 1.51
    assert summary.all_requests.min_ms == 0 and summary.all_requests.max_ms == 3.5


def test_k6_check_failure_after_its_interval_was_written_is_a_correction_line() -> None:
    now = [1795300591.2]
    p = K6JsonParser(grace_s=0.5, clock=lambda: now[0])
    p.feed('{"metric":"http_req_duration","type":"Point","data":{"time":"2026-11-21T22:36:31.9Z","value":2,'
           '"tags":{"expected_response":"true","method":"GET","name":"a","status":"200"}}}')
    assert p.drain(final=False) == []
    now[0] = 1795300592.6  # 0.6 s past the end of second 31: written
    (first,) = p.drain(final=False)
    p.feed('{"metric":"crossload_check_failed","type":"Point","data":{"time":"2026-11-21T22:36:31.95Z","value":2,'
           '"tags":{"check":"body contains \\"x\\"","method":"GET","name":"a"}}}')
    (late,) = p.drain(final=True)
    assert isinstance(first, IntervalAggregate) and isinstance(late, IntervalAggregate)
    assert (first.count, first.failures) == (1, 0)
    assert (late.t, late.count, late.failures) == (first.t, 0, 1)
    stats = ToolStats("k6")
    stats.add(first)
    stats.add(late)
    assert stats.overall.count == 1 and stats.overall.failures == 1
    assert stats.summary().overall.errors == {'check failed: body contains "x"': 1}
    assert stats.summary().overall.p50_ms is None  # no successful response left


def test_k6_parser_closes_an_interval_once_the_clock_is_past_it() -> None:
    now = [1795300570.0]
    p = K6JsonParser(grace_s=0.6, clock=lambda: now[0])
    line = ('{"metric":"http_req_duration","type":"Point","data":{"time":"2026-11-21T22:36:%02d.1Z","value":1,'
            '"tags":{"expected_response":"true","method":"GET","name":"a","status":"200"}}}')
    p.feed(line % 10)
    p.feed(line % 11)
    now[0] = 1795300571.5  # second 10 ended 0.5 s ago: not yet
    assert p.drain(final=False) == []
    now[0] = 1795300571.7
    closed = p.drain(final=False)
    assert [a.t % 60 for a in closed if isinstance(a, IntervalAggregate)] == [10]
    p.feed(line % 13)
    rest = p.drain(final=True)
    assert [a.t % 60 for a in rest if isinstance(a, IntervalAggregate)] == [11, 13]


def test_epoch_second_handles_offsets() -> None:
    assert _epoch_second("1970-01-01T00:00:10.123456789Z") == 10
    assert _epoch_second("1970-01-01T01:00:10.5+01:00") == 10


def test_locust_recorded_intervals_match_locusts_own_stats() -> None:
    items = _parse_all(LocustRecordParser(), REC / "locust-intervals.jsonl")
    stats = ToolStats("locust")
    for i in items:
        if isinstance(i, IntervalAggregate):
            stats.add(i)
    with (REC / "locust_stats.csv").open(newline="") as f:
        rows = {r["Name"]: r for r in csv.DictReader(f)}
    assert stats.overall.count == int(rows["Aggregated"]["Request Count"])
    for name, s in stats.requests.items():
        assert s.count == int(rows[name]["Request Count"]), name
        assert math.isclose(s.min_ms, float(rows[name]["Min Response Time"]), abs_tol=0.001)
        assert math.isclose(s.max_ms, float(rows[name]["Max Response Time"]), abs_tol=0.001)


def test_file_tail_returns_only_complete_lines(tmp_path: Path) -> None:
    path = tmp_path / "grow.jsonl"
    tail = FileTail(path)
    assert list(tail.lines()) == []
    with path.open("w") as f:
        f.write("one\ntw")
        f.flush()
        assert list(tail.lines()) == ["one"]
        f.write("o\nthree\n")
        f.flush()
        assert list(tail.lines()) == ["two", "three"]
    tail.close()


def test_histogram_buckets_are_within_one_percent() -> None:
    for us in [0, 1, 999, 1000, 1009, 1010, 54321, 999_999, 12_345_678]:
        lo = bucket_us(us)
        w = bucket_width_us(lo)
        assert lo <= us < lo + w
        assert us < 1000 or w / lo <= 0.01


def test_histogram_percentiles_and_exact_merge() -> None:
    rng = random.Random(7)
    values = [rng.lognormvariate(3.5, 0.6) for _ in range(20_000)]
    whole = Histogram()
    parts = [Histogram() for _ in range(7)]
    for i, v in enumerate(values):
        whole.add_ms(v)
        parts[i % 7].add_ms(v)
    merged = Histogram()
    for p in parts:
        merged.merge(p)
    assert merged.buckets == whole.buckets and merged.count == whole.count == 20_000
    ordered = sorted(values)
    for q in (50, 90, 95, 99, 99.9):
        exact = ordered[math.ceil(q / 100 * len(ordered)) - 1]
        assert abs(merged.percentile_ms(q) - exact) <= exact * 0.005 + 0.001, q
    assert math.isnan(Histogram().percentile_ms(50))
    assert Histogram.from_json(whole.to_json()).buckets == whole.buckets


def test_gzip_tail_reads_a_stream_while_it_is_written(tmp_path: Path) -> None:
    import gzip
    import zlib

    from crossload.collect import GzipFileTail

    path = tmp_path / "raw.json.gz"
    lines = [f'{{"n":{i},"text":"é{i}"}}' for i in range(5000)]
    payload = ("\n".join(lines) + "\n").encode()
    compressor = zlib.compressobj(wbits=16 + zlib.MAX_WBITS)
    tail = GzipFileTail(path, chunk=997)
    seen: list[str] = []
    with path.open("wb") as f:
        for start in range(0, len(payload), 4093):
            f.write(compressor.compress(payload[start:start + 4093]))
            f.write(compressor.flush(zlib.Z_SYNC_FLUSH))
            f.flush()
            seen.extend(tail.lines())
        f.write(compressor.flush())
    seen.extend(tail.lines())
    assert seen == lines
    tail.close()
    # A plain gzip file (one member) reads the same.
    other = tmp_path / "b.json.gz"
    other.write_bytes(gzip.compress(payload))
    other_tail = GzipFileTail(other)
    assert list(other_tail.lines()) == lines
    other_tail.close()
