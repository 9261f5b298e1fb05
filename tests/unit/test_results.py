"""The normalized model: users summed over sources, success vs all-request latency, guards."""

from __future__ import annotations

from crossload.results import IntervalAggregate, ToolStats, UsersSample
from crossload.scenario import parse_scenario
from crossload.sinks.lineprotocol import RunTags, interval_points
from crossload.thresholds import evaluate, guards


def test_users_of_two_sources_are_summed_per_second() -> None:
    stats = ToolStats("locust")
    stats.add(UsersSample("locust", 100, 5, source="w1"))
    stats.add(UsersSample("locust", 100, 5, source="w2"))
    stats.add(UsersSample("locust", 101, 4, source="w1"))
    stats.add(UsersSample("locust", 101, 5, source="w2"))
    stats.add(UsersSample("locust", 101, 6, source="w1"))  # a later sample of one source replaces its earlier one
    assert stats.users_at(100) == 10
    assert stats.users_at(101) == 11
    assert stats.peak_users == 11
    points = interval_points([UsersSample("locust", 100, 5, "w1"), UsersSample("locust", 100, 7, "w2")],
                             RunTags(run_id="r", scenario="s", profile="smoke"))
    # One point per worker, tagged with it: a second's users are their sum.
    assert [(p.tag("worker"), dict(p.fields)["users"]) for p in points] == [("w1", 5), ("w2", 7)]
    single = interval_points([UsersSample("locust", 100, 5)], RunTags(run_id="r", scenario="s", profile="smoke"))
    assert [(p.tag("worker"), dict(p.fields)["users"]) for p in single] == [("0", 5)]


def test_success_latency_excludes_failed_requests_and_all_requests_keeps_them() -> None:
    agg = IntervalAggregate(tool="k6", t=1, name="a", method="GET")
    for ms in (10.0, 20.0, 30.0):
        agg.add(ms, False, "2xx")
    for _ in range(7):
        agg.add(0.0, True, "error", cause="connection refused")
    stats = ToolStats("k6")
    stats.add(IntervalAggregate.from_json("k6", agg.to_json()))  # through the store format
    s = stats.summary().overall
    assert (s.count, s.failures) == (10, 7)
    assert s.errors == {"connection refused": 7}
    assert s.min_ms == 10.0 and s.max_ms == 30.0 and s.mean_ms == 20.0
    assert s.p50_ms is not None and 19.9 < s.p50_ms < 20.2
    assert s.all_requests.p50_ms == 0.0  # what an outage does to all-request percentiles
    assert s.all_requests.mean_ms == 6.0


SCENARIO = """\
version: 1
name: g
requests:
  - {name: a, path: /a}
thresholds:
  - "p95 < 1s"
"""


def _summary(count: int, failures: int) -> ToolStats:
    stats = ToolStats("k6")
    agg = IntervalAggregate(tool="k6", t=1, name="a", method="GET")
    for i in range(count):
        agg.add(1.0, i < failures, "5xx" if i < failures else "2xx", cause="HTTP 500" if i < failures else None)
    stats.add(agg)
    return stats


def test_guards_fail_a_run_of_errors_or_of_nothing_and_can_be_changed() -> None:
    scenario = parse_scenario(SCENARIO, "g.yaml")
    default = guards(scenario.all_thresholds, {})
    assert [g.text for g in default] == ["requests > 0", "error_rate < 10%"]

    def verdicts(count: int, failures: int, env: dict[str, str]) -> list[tuple[str, bool]]:
        tools = {"k6": _summary(count, failures).summary()}
        return [(v.threshold.text, v.passed) for v in evaluate(scenario.all_thresholds, tools,
                                                               guards(scenario.all_thresholds, env))]

    assert verdicts(10, 0, {}) == [("p95 < 1s", True), ("requests > 0", True), ("error_rate < 10%", True)]
    assert verdicts(10, 2, {}) == [("p95 < 1s", True), ("requests > 0", True), ("error_rate < 10%", False)]
    assert verdicts(10, 2, {"CROSSLOAD_ERROR_GUARD": "25%"})[-1] == ("error_rate < 25%", True)
    # Off keeps the guard against a run in which every request failed.
    assert verdicts(10, 9, {"CROSSLOAD_ERROR_GUARD": "off"})[-1] == ("error_rate < 100%", True)
    assert verdicts(10, 10, {"CROSSLOAD_ERROR_GUARD": "off"})[-1] == ("error_rate < 100%", False)
    assert verdicts(0, 0, {})[1] == ("requests > 0", False)
    own = parse_scenario(SCENARIO + '  - "error_rate < 50%"\n', "g.yaml")
    assert [g.text for g in guards(own.all_thresholds, {})] == ["requests > 0", "error_rate < 100%"]
