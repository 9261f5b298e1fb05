"""The end-of-run table: typed summary in, every number shown, latency labelled, causes listed, width kept."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crossload.report.table import FOOTNOTE, SIDE_BY_SIDE_MIN_WIDTH, error_lines, side_by_side_table
from crossload.summary import LatencySummary, RequestSummary, RunSummary, ToolSummary


def stats(count: int, failures: int = 0, base: float = 1.0, errors: dict[str, int] | None = None,
          duration_s: float = 10.0) -> RequestSummary:
    """Distinct, recognisable numbers per column: p50 = base, p90 = base + 0.2, ... max = base + 0.9."""
    return RequestSummary(
        count=count, failures=failures, error_rate=round(100.0 * failures / count, 4) if count else 0.0,
        rps=count / duration_s, min_ms=base - 0.5, p50_ms=base, p90_ms=base + 0.2, p95_ms=base + 0.3,
        p99_ms=base + 0.4, mean_ms=base + 0.1, max_ms=base + 0.9,
        all_requests=LatencySummary(p50_ms=base + 100.0, max_ms=base + 900.0), errors=errors or {},
    )


def two_tools() -> dict[str, ToolSummary]:
    locust_errors = {"HTTP 500": 12, "connection refused": 3}
    k6_errors = {"check failed: $.id == 42": 2}
    return {
        "locust": ToolSummary(duration_s=10, overall=stats(131, 15, 2.0, locust_errors), requests={
            "health": stats(10, 0, 0.5), "item detail": stats(121, 15, 12.0, locust_errors)}),
        "k6": ToolSummary(duration_s=10, overall=stats(138, 2, 3.0, k6_errors), requests={
            "health": stats(11, 0, 0.7), "item detail": stats(127, 2, 11.0, k6_errors)}),
    }


def row(text: str, label: str) -> list[str]:
    """The cells of the first line that starts with ``label`` (side by side: │ separated groups)."""
    for line in text.splitlines():
        if line.startswith(label + " ") or line.startswith(label + "│"):
            return line[len(label):].replace("│", " ").split()
    raise AssertionError(f"no row {label!r} in\n{text}")


def test_wide_terminal_side_by_side_with_every_number() -> None:
    text = side_by_side_table(two_tools(), width=200)
    header = text.splitlines()[0]
    for title in ("requests", "req/s", "errors %", "p50 ms", "p90 ms", "p95 ms", "p99 ms", "mean ms", "max ms"):
        assert title in header
    assert header.index("p50 ms") < header.index("p90 ms") < header.index("p95 ms") < header.index("p99 ms") \
        < header.index("mean ms") < header.index("max ms")
    assert text.splitlines()[1].split()[1:5] == ["│", "locust", "k6", "│"]
    # ALL: requests, req/s, errors %, p50, p90, p95, p99, mean, max; locust then k6 in each group.
    assert row(text, "ALL") == ["131", "138", "13.1", "13.8", "11.45", "1.45", "2.0", "3.0", "2.2", "3.2",
                                "2.3", "3.3", "2.4", "3.4", "2.1", "3.1", "2.9", "3.9"]
    assert row(text, "item detail")[:6] == ["121", "127", "12.1", "12.7", "12.40", "1.57"]
    assert all(len(line) <= 200 for line in text.splitlines())


def test_latency_is_labelled_as_successful_responses_only() -> None:
    text = side_by_side_table(two_tools(), width=200)
    assert "successful responses only" in FOOTNOTE
    assert " ".join(text.split()).count("successful responses only") == 1
    # The all-request figures (base + 100) are not what the latency columns show.
    assert "102.0" not in text and "903.0" not in text


def test_failed_requests_are_listed_by_cause_per_tool_and_request() -> None:
    text = side_by_side_table(two_tools(), width=200)
    lines = text.splitlines()
    assert "errors (locust) item detail: HTTP 500 ×12, connection refused ×3" in lines
    assert "errors (k6) item detail: check failed: $.id == 42 ×2" in lines
    assert not any(line.startswith("errors (locust) health") for line in lines)
    # Below the table.
    assert lines.index("errors (locust) item detail: HTTP 500 ×12, connection refused ×3") > \
        max(i for i, line in enumerate(lines) if line.startswith("ALL"))


def test_largest_cause_first_and_unrecorded_failures_are_counted() -> None:
    tools = {"k6": ToolSummary(overall=stats(20, 9), requests={
        "login": stats(20, 9, errors={"timeout": 1, "HTTP 401": 5})})}
    assert error_lines(tools) == ["errors (k6) login: HTTP 401 ×5, timeout ×1, cause not recorded ×3"]
    assert error_lines({"k6": ToolSummary(overall=stats(5))}) == []


@pytest.mark.parametrize("width", [119, 100, 80, 60, 40, 30, 20])
def test_narrow_terminals_get_one_block_per_tool_and_no_long_line(width: int) -> None:
    text = side_by_side_table(two_tools(), width=width)
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= width, "\n" + text
    assert "│" not in text
    headings = [line for line in lines if line.startswith("── ")]
    assert [h.split()[1] for h in headings] == ["locust", "k6"]
    assert lines.index(headings[0]) < lines.index(headings[1])
    flat = " ".join(text.split())
    assert "successful responses only" in flat
    if width >= 30:  # a cause is only broken when it cannot fit on a line at all
        assert "HTTP 500 ×12" in flat and "connection refused ×3" in flat
    assert "connectionrefused×3" in "".join(text.split())


def test_block_per_tool_keeps_the_numbers() -> None:
    text = side_by_side_table(two_tools(), width=100)
    k6 = text[text.index("── k6"):]
    assert row(k6, "ALL") == ["138", "13.8", "1.45", "3.0", "3.2", "3.3", "3.4", "3.1", "3.9"]
    locust = text[text.index("── locust"):text.index("── k6")]
    assert row(locust, "health") == ["10", "1.0", "0.00", "0.5", "0.7", "0.8", "0.9", "0.6", "1.4"]


def test_side_by_side_needs_room_even_above_120_columns() -> None:
    wide = side_by_side_table(two_tools(), width=400)
    needed = max(len(line) for line in wide.splitlines() if "│" in line)
    assert needed > SIDE_BY_SIDE_MIN_WIDTH
    assert "│" in side_by_side_table(two_tools(), width=needed)
    squeezed = side_by_side_table(two_tools(), width=needed - 3)  # long request names are shortened first
    assert "│" in squeezed and "item de…" in squeezed
    assert max(len(line) for line in squeezed.splitlines()) <= needed - 3
    assert "│" not in side_by_side_table(two_tools(), width=SIDE_BY_SIDE_MIN_WIDTH)
    single = {"k6": two_tools()["k6"]}
    assert "│" in side_by_side_table(single, width=SIDE_BY_SIDE_MIN_WIDTH)


def test_takes_the_run_summary_and_old_dicts_alike() -> None:
    tools = two_tools()
    run = RunSummary(run_id="r", scenario="s", profile="smoke", tools=tools)
    expected = side_by_side_table(tools, width=150)
    assert side_by_side_table(run, width=150) == expected
    as_dicts = {name: t.model_dump(mode="json") for name, t in tools.items()}
    assert side_by_side_table(as_dicts, width=150) == expected  # type: ignore[arg-type]


def test_missing_numbers_and_requests_one_tool_never_sent() -> None:
    tools = {
        "locust": ToolSummary(overall=RequestSummary(count=3, failures=3, error_rate=100.0, rps=0.3,
                                                     errors={"connection refused": 3}),
                              requests={"a": RequestSummary(count=3, failures=3, error_rate=100.0, rps=0.3,
                                                            errors={"connection refused": 3})}),
        "k6": ToolSummary(overall=stats(4), requests={"b": stats(4)}),
    }
    text = side_by_side_table(tools, width=100)
    locust = text[text.index("── locust"):text.index("── k6")]
    assert row(locust, "a") == ["3", "0.3", "100.00", "-", "-", "-", "-", "-", "-"]
    assert row(locust, "b") == ["0", "-", "-", "-", "-", "-", "-", "-", "-"]
    assert side_by_side_table({}, width=80) == "no tool ran: nothing to show"


def test_long_and_unprintable_request_names() -> None:
    long_name = "a very long request name that goes on and on " * 3
    tools = {"k6": ToolSummary(overall=stats(2, 1, errors={"HTTP 503": 1}), requests={
        long_name: stats(1), "tab\there": stats(1, 1, errors={"HTTP 503": 1})})}
    for width in (200, 80, 40):
        text = side_by_side_table(tools, width=width)
        assert max(len(line) for line in text.splitlines()) <= width
        assert "\t" not in text and "tab\\there" in text
        assert "…" in text


names = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=60)
counts = st.integers(min_value=0, max_value=10**9)
latency = st.one_of(st.none(), st.floats(min_value=0, max_value=1e7, allow_nan=False))


@st.composite
def request_summaries(draw: st.DrawFn) -> RequestSummary:
    count = draw(counts)
    failures = draw(st.integers(min_value=0, max_value=count))
    causes = draw(st.dictionaries(names, st.integers(min_value=1, max_value=10**6), max_size=4))
    return RequestSummary(count=count, failures=failures, error_rate=100.0 * failures / count if count else 0.0,
                          rps=draw(st.floats(min_value=0, max_value=1e7)), p50_ms=draw(latency),
                          p90_ms=draw(latency), p95_ms=draw(latency), p99_ms=draw(latency), mean_ms=draw(latency),
                          max_ms=draw(latency), errors=causes)


tool_summaries = st.builds(ToolSummary, overall=request_summaries(),
                           requests=st.dictionaries(names, request_summaries(), max_size=4))


@settings(max_examples=150, deadline=None)
@given(tools=st.dictionaries(st.sampled_from(["locust", "k6", "a-third-tool"]), tool_summaries, min_size=1),
       width=st.integers(min_value=20, max_value=260))
def test_no_line_is_ever_longer_than_the_width(tools: dict[str, ToolSummary], width: int) -> None:
    text = side_by_side_table(tools, width=width)
    too_long = [line for line in text.splitlines() if len(line) > width]
    assert not too_long, f"width {width}:\n" + "\n".join(too_long)
    for tool in tools:
        assert re.search(rf"\b{re.escape(tool)}\b", text)
