"""Groups, conditional steps and loops of journeys on the wire, alike in both tools.

Groups: each tool runs the same journey with two users against the demo target: a step, a group of two steps
(the first one thinks), then a group whose first step fails (its second step is never sent). A group row
counts one per group run to its end, fails when one of its steps failed, lasts at least as long as its steps
and their think times, and stays out of the tool's overall numbers, so each tool's own total of requests
still equals crossload's.

Flow: two users per tool, each with its own row of a data file (per user): a step that runs only for the
"gold" row, a group repeated three times sending page=1, 2, 3, a loop of up to five rounds that stops when
the value its step extracted is 2, a group that runs only for the other row. The demo target's echo log shows
each user's sequence of requests: the same in both tools.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml
from demo_control import assert_whole_iterations, call

pytestmark = pytest.mark.integration

THINK_MS = 25


def _scenario() -> dict[str, Any]:
    return {
        "version": 1,
        "name": "wire-flow",
        # Judged on the group's row in both tools (k6's own options.thresholds too: crossload_group).
        "thresholds": [{"request": "timed", "check": "p95 < 10ms"}],
        "journeys": [{
            "name": "flow",
            "steps": [
                {"name": "first", "path": "/delay/20"},
                {"group": "timed", "steps": [
                    {"name": "inner a", "path": "/delay/30", "think_time": f"{THINK_MS}ms"},
                    {"name": "inner b", "path": "/echo/flow"},
                ]},
                {"group": "broken", "steps": [
                    {"name": "fails", "path": "/echo/broken", "checks": {"status": 201}, "think_time": "10ms"},
                    {"name": "never", "path": "/echo/never"},
                ]},
            ],
        }],
    }


def _rows(path: Path) -> dict[tuple[str, str], dict[str, Any]]:
    """(name, method) -> count, failures, sum_ms, min_ms, errors over the tool's store."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        d = json.loads(line)
        if d.get("kind") != "req":
            continue
        row = out.setdefault((d["name"], d["method"]), {"count": 0, "failures": 0, "sum_ms": 0.0,
                                                         "min_ms": float("inf"), "errors": {}})
        row["count"] += d["count"]
        row["failures"] += d["failures"]
        row["sum_ms"] += d["sum_ms"]
        if d["count"]:
            row["min_ms"] = min(row["min_ms"], d["min_ms"])
        for cause, n in d.get("errors", {}).items():
            row["errors"][cause] = row["errors"].get(cause, 0) + n
    return out


def test_group_rows_time_each_group_alike_in_both_tools(tmp_path: Path, demo_target: str) -> None:
    from crossload.run import RunRequest, execute

    scenario_file = tmp_path / "flow.yaml"
    scenario_file.write_text(yaml.safe_dump(_scenario(), sort_keys=False), encoding="utf-8")
    out = io.StringIO()
    result = execute(RunRequest(profile="smoke", target=demo_target, scenario=str(scenario_file), users=2,
                                duration_s=3, results_dir=tmp_path / "results", quiet=True), out=out)
    # The failing step is a quarter of the requests, and no group lasts under 10 ms: thresholds fail (exit 1).
    assert result.exit_code == 1 and "threshold" in result.message, (result.message, out.getvalue())
    assert result.path is not None
    manifest = json.loads((result.path / "manifest.json").read_text(encoding="utf-8"))
    summary = json.loads((result.path / "summary.json").read_text(encoding="utf-8"))
    for tool in ("k6", "locust"):
        rows = _rows(result.path / tool / "aggregates.jsonl")
        assert ("never", "GET") not in rows, (tool, "a step after a failed one was sent")
        timed, broken = rows[("timed", "GROUP")], rows[("broken", "GROUP")]
        steps = {name: rows[(name, "GET")] for name in ("first", "inner a", "inner b", "fails")}
        # One row per group run to its end: the group's last step (or its failed one) was its end.
        assert timed["count"] == steps["inner b"]["count"] >= 4, (tool, timed, steps)
        assert broken["count"] == steps["fails"]["count"] >= 4, (tool, broken, steps)
        assert timed["failures"] == 0 and timed["errors"] == {}, (tool, timed)
        assert broken["failures"] == broken["count"] and broken["errors"] == {"step failed": broken["count"]}
        assert steps["fails"]["failures"] == steps["fails"]["count"]
        # The wall time of a group holds its steps and the think time between them (k6's Date.now() has
        # whole milliseconds: 1 ms of slack per group).
        mean = {name: s["sum_ms"] / s["count"] for name, s in steps.items()}
        assert timed["sum_ms"] / timed["count"] >= mean["inner a"] + mean["inner b"] + THINK_MS - 1, (tool, timed)
        assert timed["min_ms"] >= 30 + THINK_MS - 1, (tool, timed)
        assert broken["sum_ms"] / broken["count"] >= mean["fails"] + 10 - 1, (tool, broken)
        # Group rows are results of their own: out of the overall numbers, which the tool's own total matches.
        requests = sum(s["count"] for s in steps.values())
        tool_summary = summary["tools"][tool]
        assert tool_summary["overall"]["count"] == requests, (tool, tool_summary["overall"])
        assert tool_summary["requests"]["timed"]["count"] == timed["count"]
        outcome = manifest["outcomes"][tool]
        assert outcome["tool_reported_requests"] == outcome["collected_requests"] == requests, (tool, outcome)
        verdict = next(t for t in summary["thresholds"] if t["tool"] == tool and t["request"] == "timed")
        assert verdict["passed"] is False and verdict["measured"] >= 30 + THINK_MS - 1, (tool, verdict)


FLOW = {
    "version": 1,
    "name": "wire-flow-steps",
    "defaults": {"think_time": "5ms"},
    "data": {"row": {"file": "rows.csv", "order": "sequential", "per": "user"}},
    "journeys": [{
        "name": "flow",
        "steps": [
            {"name": "first", "path": "/echo/first", "query": {"u": "{{ row.name }}"}},
            {"name": "gold only", "path": "/echo/gold", "query": {"u": "{{ row.name }}"},
             "if": {"var": "row.tier", "equals": "gold"}},
            {"group": "pages", "repeat": {"times": 3, "index": "page"}, "steps": [
                {"name": "page", "path": "/echo/page", "query": {"u": "{{ row.name }}", "page": "{{ page }}"}},
            ]},
            {"group": "scan", "repeat": {"times": 5, "index": "p", "until": {"var": "seen", "equals": 2}}, "steps": [
                {"name": "scan page", "path": "/echo/scan", "query": {"u": "{{ row.name }}", "p": "{{ p }}"},
                 "extract": {"seen": {"regex": "[?&]p=([0-9]+)"}}},
            ]},
            {"group": "basic extras", "if": {"var": "row.tier", "not_equals": "gold"}, "steps": [
                {"name": "extra", "path": "/echo/extra", "query": {"u": "{{ row.name }}"}},
            ]},
        ],
    }],
}
PATTERN = {
    "ann": ["first", "gold", "page 1", "page 2", "page 3", "scan 1", "scan 2"],
    "bob": ["first", "page 1", "page 2", "page 3", "scan 1", "scan 2", "extra"],
}


def test_conditions_and_loops_send_the_same_sequence_in_both_tools(tmp_path: Path, demo_target: str) -> None:
    from crossload.run import RunRequest, execute

    (tmp_path / "rows.csv").write_text("name,tier\nann,gold\nbob,basic\n", encoding="utf-8")
    scenario_file = tmp_path / "flow.yaml"
    scenario_file.write_text(yaml.safe_dump(FLOW, sort_keys=False), encoding="utf-8")
    call(demo_target, "/_crossload/echo-log", "DELETE")
    out = io.StringIO()
    result = execute(RunRequest(profile="smoke", target=demo_target, scenario=str(scenario_file), users=2,
                                duration_s=3, results_dir=tmp_path / "results", quiet=True), out=out)
    assert result.exit_code == 0, (result.message, out.getvalue())
    assert result.path is not None

    sequences: dict[tuple[str, str], list[str]] = {}
    for e in call(demo_target, "/_crossload/echo-log")["entries"]:
        headers = {k.lower(): v for k, v in e["headers"]}
        tool = "k6" if "k6/" in headers.get("user-agent", "") else "locust"
        parts = urlsplit(e["raw_path"])
        query = parse_qs(parts.query)
        kind = parts.path.rsplit("/", 1)[-1]
        if kind == "page":
            kind += " " + query["page"][0]
        elif kind == "scan":
            kind += " " + query["p"][0]
        sequences.setdefault((tool, query["u"][0]), []).append(kind)
    assert sorted(sequences) == [("k6", "ann"), ("k6", "bob"), ("locust", "ann"), ("locust", "bob")], list(sequences)
    summary = json.loads((result.path / "summary.json").read_text(encoding="utf-8"))
    for (tool, user), seen in sequences.items():
        assert_whole_iterations((tool, user), seen, PATTERN[user], at_least=2)
    for tool in ("k6", "locust"):
        requests = summary["tools"][tool]["requests"]
        assert summary["tools"][tool]["overall"]["failures"] == 0, tool
        pages_done = sum(seen.count("page 3") for (t, _), seen in sequences.items() if t == tool)
        extras = sum(seen.count("extra") for (t, _), seen in sequences.items() if t == tool)
        # One group row per group run to its end: the loop counts once, a skipped group not at all.
        assert requests["pages"]["count"] == pages_done, (tool, requests["pages"], pages_done)
        assert requests["basic extras"]["count"] == extras, (tool, requests["basic extras"], extras)
        # The loop of five stops after the round whose page it extracted is 2.
        scans = sum(seen.count("scan 2") for (t, _), seen in sequences.items() if t == tool)
        assert requests["scan"]["count"] == scans, (tool, requests["scan"], scans)
        assert requests["gold only"]["count"] == sum(
            seen.count("gold") for (t, _), seen in sequences.items() if t == tool)
        # Three pages with their think times in each run of the group.
        assert requests["pages"]["min_ms"] >= 3 * (requests["page"]["min_ms"] + 5) - 1, (tool, requests["pages"])
