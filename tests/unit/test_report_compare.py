"""The tool comparison's flag rule on hand-made summaries: what the tools' definitions explain is not
flagged, what they do not is."""

from __future__ import annotations

import pytest

from crossload.report.compare import ALL, Comparison, compare_tools, comparison_text
from crossload.summary import RequestSummary, RunSummary, ToolSummary


def req(count: int = 1000, failures: int = 0, rps: float | None = None, **latency: float) -> RequestSummary:
    base = {"p50_ms": 10.0, "p90_ms": 15.0, "p95_ms": 18.0, "p99_ms": 25.0, "max_ms": 40.0}
    base.update(latency)
    return RequestSummary(count=count, failures=failures, error_rate=100.0 * failures / count if count else 0.0,
                          rps=count / 10.0 if rps is None else rps, **base)


def run(locust: dict[str, RequestSummary], k6: dict[str, RequestSummary], users: int = 4) -> RunSummary:
    def tool(requests: dict[str, RequestSummary]) -> ToolSummary:
        overall = requests.get(ALL) or next(iter(requests.values()))
        return ToolSummary(duration_s=10.0, peak_users=users, overall=overall,
                           requests={k: v for k, v in requests.items() if k != ALL})

    return RunSummary(run_id="20270101T000000Z-smoke-0001", scenario="s", profile="smoke",
                      tools={"locust": tool(locust), "k6": tool(k6)})


def flags(c: Comparison, request: str = ALL) -> set[str]:
    return {m.metric for m in c.row(request).metrics if m.flagged}


def test_identical_numbers_flag_nothing_and_differences_are_second_minus_first() -> None:
    c = compare_tools(run({"page": req()}, {"page": req(p50_ms=12.0)}))
    assert flags(c) == set() and flags(c, "page") == set()
    m = c.row("page").metric("p50_ms")
    assert m.values == {"locust": 10.0, "k6": 12.0} and m.diff == 2.0 and m.rel_diff_pct == 20.0
    assert c.tools == ["locust", "k6"] and [r.request for r in c.rows] == ["page", ALL]


def test_latency_is_flagged_beyond_tolerance_and_floor_only() -> None:
    c = compare_tools(run({"page": req(p95_ms=18.0, p50_ms=10.0)}, {"page": req(p95_ms=40.0, p50_ms=14.0)}))
    assert flags(c, "page") == {"p95_ms"}  # p50: +40 % but 4 ms (below the 5 ms floor)
    assert "beyond" in c.row("page").metric("p95_ms").reason
    # Large relative differences of fast responses are within the floor.
    fast = compare_tools(run({"page": req(p50_ms=0.5, p95_ms=1.0, p99_ms=2.0)},
                             {"page": req(p50_ms=1.5, p95_ms=4.0, p99_ms=6.0)}))
    assert flags(fast, "page") == set()
    # p99 tolerates 50 %: +40 % of 25 ms (10 ms) is not flagged, +100 % is.
    assert flags(compare_tools(run({"page": req()}, {"page": req(p99_ms=35.0)})), "page") == set()
    assert flags(compare_tools(run({"page": req()}, {"page": req(p99_ms=50.0)})), "page") == {"p99_ms"}


def test_max_is_never_flagged() -> None:
    c = compare_tools(run({"page": req(max_ms=40.0)}, {"page": req(max_ms=900.0)}))
    assert flags(c, "page") == set()


def test_a_percentile_the_connects_could_make_is_not_judged() -> None:
    """50 requests, 4 users: Locust's 4 connecting requests are 8 % of them, so p95 and p99 (and p90: needs
    80) are not judged; p50 is."""
    c = compare_tools(run({"page": req(count=50, p50_ms=10.0, p95_ms=80.0)},
                          {"page": req(count=50, p50_ms=30.0, p95_ms=12.0)}))
    assert flags(c, "page") == {"p50_ms"}
    reason = c.row("page").metric("p95_ms").reason
    assert reason.startswith("too few successful responses to judge p95 (needs 160 per tool")


def test_error_rates_are_flagged_by_a_proportion_test_and_a_floor() -> None:
    c = compare_tools(run({"page": req(failures=0)}, {"page": req(failures=50)}))
    assert "error_rate" in flags(c, "page")
    small = compare_tools(run({"page": req(failures=0)}, {"page": req(failures=8)}))  # 0.8 points
    assert "error_rate" not in flags(small, "page")
    few = compare_tools(run({"page": req(count=20, failures=0)}, {"page": req(count=20, failures=1)}))
    assert "error_rate" not in flags(few, "page")  # 5 points, but one request: not significant


def test_rates_are_flagged_when_far_apart_and_significant() -> None:
    assert "rps" in flags(compare_tools(run({"page": req(count=1000)}, {"page": req(count=1500)})), "page")
    assert "rps" not in flags(compare_tools(run({"page": req(count=1000)}, {"page": req(count=1200)})), "page")
    assert "rps" not in flags(compare_tools(run({"page": req(count=4)}, {"page": req(count=8)})), "page")


def test_a_request_one_tool_never_sent() -> None:
    c = compare_tools(run({"page": req(), "only locust": req()}, {"page": req()}))
    m = c.row("only locust").metric("count")
    assert m.values["k6"] is None and m.diff is None and not m.flagged and m.reason == "sent by one tool only"


def test_the_json_round_trips_and_lists_the_flags() -> None:
    c = compare_tools(run({"page": req()}, {"page": req(p95_ms=60.0)}))
    data = c.to_json()
    assert data["schema"] == 1 and data["kind"] == "comparison" and data["flagged"] == ["page: p95", "ALL: p95"]
    assert data["rule"]["floor_ms"] == 5.0 and len(data["notes"]) == 4
    again = Comparison.model_validate(data)
    assert again.row("page").metric("p95_ms").flagged


def test_text_shows_the_overall_block_and_the_flags() -> None:
    c = compare_tools(run({ALL: req(p95_ms=18.0)}, {ALL: req(p95_ms=60.0)}))
    text = comparison_text(c)
    assert text.splitlines()[0] == "comparison locust vs k6 (diff = k6 - locust; rel = diff / locust)"
    assert "p95              18.0       60.0      +42.0   +233 %  FLAG" in text
    assert "flag: ALL: p95: differs by 42.0 ms" in text


def test_a_comparison_needs_two_tools() -> None:
    summary = run({"page": req()}, {"page": req()})
    del summary.tools["k6"]
    with pytest.raises(ValueError, match="needs two tools"):
        compare_tools(summary)
