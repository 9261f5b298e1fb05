"""Merging a distributed run's raw outputs (fakes only): one Source per worker, every line tagged with its
worker, counts added, users summed per second, percentiles from the merged histograms, worker tags in the
InfluxDB points; the launch groups of both tools."""

from __future__ import annotations

import json
from pathlib import Path

from crossload.collect import Source, ToolCollector
from crossload.histogram import Histogram
from crossload.results import IntervalAggregate, UsersSample, read_aggregates
from crossload.runners.base import FakeRunner
from crossload.sinks.lineprotocol import RunTags, interval_points
from crossload.tools import get_tool
from crossload.tools.base import LaunchSpec, worker_sources

T = 1795300591


def _record(t: int, latencies: list[float], failed: int = 0) -> str:
    agg = IntervalAggregate(tool="locust", t=t, name="item", method="GET")
    for i, ms in enumerate(latencies):
        agg.add(ms, i < failed, "5xx" if i < failed else "2xx", nbytes=100, cause="HTTP 500" if i < failed else None)
    return json.dumps(agg.to_json())


WORKER_LINES = {
    "1": [_record(T, [1.0, 2.0, 3.0]), json.dumps({"kind": "users", "t": T, "users": 2}),
          _record(T + 1, [10.0, 20.0], failed=1), json.dumps({"kind": "users", "t": T + 1, "users": 3})],
    "2": [_record(T, [4.0, 5.0]), json.dumps({"kind": "users", "t": T, "users": 1}),
          _record(T + 1, [100.0, 200.0, 300.0]), json.dumps({"kind": "users", "t": T + 1, "users": 2})],
}


def test_locust_workers_merge_exactly_through_a_fake_runner(tmp_path: Path) -> None:
    tool = get_tool("locust")
    specs = tool.launch_group(tmp_path / "locustfile.py", tmp_path, None, workers=2)
    assert [s.role for s in specs] == ["master", "worker", "worker"]
    sources = worker_sources(specs)
    assert [w for w, _ in sources] == ["1", "2"]

    def produce(spec: LaunchSpec) -> int:
        if spec.role == "worker":
            worker = spec.name.rsplit("-", 1)[1]
            spec.raw_output.write_text("\n".join(WORKER_LINES[worker]) + "\n", encoding="utf-8")
        return 0

    collector = ToolCollector("locust", [Source(w, tool.parser(), raw) for w, raw in sources],
                              tmp_path / "aggregates.jsonl")
    outcome = FakeRunner(produce).run(specs, {}, collector.pump)
    collector.close()
    assert outcome.exit_code == 0 and set(outcome.exit_codes) == {"locust-master", "locust-worker-1", "locust-worker-2"}

    stats = collector.stats
    assert stats.overall.count == 10 and stats.overall.failures == 1
    assert stats.users_at(T) == 3 and stats.users_at(T + 1) == 5 and stats.peak_users == 5
    every = Histogram()
    for ms in (1.0, 2.0, 3.0, 10.0, 20.0, 4.0, 5.0, 100.0, 200.0, 300.0):
        every.add_ms(ms)
    assert stats.summary().overall.all_requests.p50_ms == every.percentile_ms(50)
    assert stats.overall.hist.buckets == every.buckets

    stored = list(read_aggregates(tmp_path / "aggregates.jsonl", "locust"))
    assert {i.worker for i in stored if isinstance(i, IntervalAggregate)} == {"1", "2"}
    assert {i.source for i in stored if isinstance(i, UsersSample)} == {"1", "2"}
    points = interval_points(stored, RunTags(run_id="r", scenario="s", profile="load"))
    workers = {(p.measurement, p.tag("worker")) for p in points}
    assert workers == {(m, w) for m in ("crossload_requests", "crossload_status", "crossload_users")
                       for w in ("1", "2")} | {("crossload_errors", "1")}
    users = sorted((p.ts_s, p.tag("worker"), p.field("users")) for p in points if p.measurement == "crossload_users")
    assert users == [(T, "1", 2), (T, "2", 1), (T + 1, "1", 3), (T + 1, "2", 2)]


def test_single_process_lines_are_unchanged(tmp_path: Path) -> None:
    tool = get_tool("locust")
    specs = tool.launch_group(tmp_path / "locustfile.py", tmp_path, None, workers=0)
    assert len(specs) == 1 and specs[0] == tool.launch(tmp_path / "locustfile.py", tmp_path, None)
    assert worker_sources(specs) == [("0", specs[0].raw_output)]
    specs[0].raw_output.write_text(WORKER_LINES["1"][0] + "\n", encoding="utf-8")
    collector = ToolCollector("locust", [Source("0", tool.parser(), specs[0].raw_output)], tmp_path / "agg.jsonl")
    collector.close()
    line = json.loads((tmp_path / "agg.jsonl").read_text())
    assert "worker" not in line and list(line)[:3] == ["kind", "tool", "t"]


def test_k6_instances_run_one_segment_each_and_their_totals_add_up(tmp_path: Path) -> None:
    tool = get_tool("k6")
    specs = tool.launch_group(tmp_path / "script.js", tmp_path, None, workers=3)
    assert [s.name for s in specs] == ["k6-worker-1", "k6-worker-2", "k6-worker-3"]
    segments = [s.argv[s.argv.index("--execution-segment") + 1] for s in specs]
    assert segments == ["0/3:1/3", "1/3:2/3", "2/3:3/3"]
    assert {s.argv[s.argv.index("--execution-segment-sequence") + 1] for s in specs} == {"0/3,1/3,2/3,3/3"}
    assert len({s.raw_output for s in specs}) == 3 and all(s.argv[-1] == "script.js" for s in specs)
    for i, n in enumerate((10, 20, 30), start=1):
        summary = {"metrics": {"http_reqs": {"count": n}, "data_received": {"count": 1000 * n}}}
        (tmp_path / f"k6-summary-{i}.json").write_text(json.dumps(summary), encoding="utf-8")
    totals = tool.own_totals(tmp_path)
    assert totals is not None and totals.requests == 60 and totals.bytes_received == 60_000
