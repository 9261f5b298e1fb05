"""Group rows (method GROUP): read from k6's crossload_group samples and kept out of a tool's overall numbers."""

from __future__ import annotations

import json
from pathlib import Path

from crossload.render import k6_thresholds, special_rows
from crossload.results import GROUP_METHOD, IntervalAggregate, ToolStats
from crossload.scenario import load_scenario
from crossload.tools.k6 import K6WsJsonParser
from crossload.tools.locust import FINAL_STATS, LocustTool


def _line(metric: str, value: float, tags: dict[str, str], stamp: str = "2026-12-03T09:00:00.5Z") -> str:
    return json.dumps({"metric": metric, "type": "Point", "data": {"time": stamp, "value": value, "tags": tags}},
                      separators=(",", ":"))


def test_k6_group_samples_become_group_rows() -> None:
    parser = K6WsJsonParser(clock=lambda: 0.0)
    parser.feed(_line("crossload_group", 81.0, {"name": "look around", "method": "GROUP"}))
    parser.feed(_line("crossload_group", 40.0, {"name": "look around", "method": "GROUP", "cause": "step failed"}))
    parser.feed(_line("http_req_duration", 12.5, {"name": "list items", "method": "GET", "status": "200",
                                                  "expected_response": "true"}))
    rows = {(a.name, a.method): a for a in parser.drain(final=True) if isinstance(a, IntervalAggregate)}
    group = rows[("look around", GROUP_METHOD)]
    assert (group.count, group.failures, group.sum_ms, group.max_ms) == (2, 1, 121.0, 81.0)
    assert group.errors == {"step failed": 1} and group.status == {"group": 2}
    assert rows[("list items", "GET")].count == 1


def test_group_rows_stay_out_of_the_overall_numbers() -> None:
    stats = ToolStats(tool="k6")
    request = IntervalAggregate(tool="k6", t=10, name="list items", method="GET")
    request.add(12.0, False, "2xx")
    group = IntervalAggregate(tool="k6", t=10, name="look around", method=GROUP_METHOD)
    group.add(500.0, True, "group", cause="step failed")
    stats.add(request)
    stats.add(group)
    assert (stats.overall.count, stats.overall.failures, stats.overall.max_ms) == (1, 0, 12.0)
    summary = stats.summary()
    assert summary.requests["look around"].count == 1 and summary.requests["look around"].failures == 1


def test_locust_own_total_leaves_group_entries_out(tmp_path: Path) -> None:
    entries = [{"name": "list items", "method": "GET", "num_requests": 7},
               {"name": "look around", "method": "GROUP", "num_requests": 3}]
    (tmp_path / f"{FINAL_STATS}.json").write_text(json.dumps(entries), encoding="utf-8")
    totals = LocustTool().own_totals(tmp_path)
    assert totals is not None and totals.requests == 7 and totals.per_name == {"list items": 7}


def test_a_threshold_names_a_group_and_k6_judges_its_trend(tmp_path: Path) -> None:
    path = tmp_path / "g.yaml"
    path.write_text("""version: 1
name: g
journeys:
  - name: j
    steps:
      - group: look around
        steps:
          - {name: list items, path: /api/items}
thresholds:
  - {request: look around, check: "p95 < 800ms"}
  - {request: look around, check: "error_rate < 1%"}
""", encoding="utf-8")
    s = load_scenario(path)
    assert [t.request for t in s.all_thresholds] == ["look around", "look around"]
    rows = special_rows(s)
    assert rows == {"look around": "group"}
    k6 = k6_thresholds(s.all_thresholds, rows)
    assert dict(k6.entries) == {"crossload_group{name:look around}": ("p(95)<800",)}
    assert k6.left_out == ("'error_rate < 1%' on 'look around': a group's row, judged by crossload only",)
