"""Groups of journeys on the wire: both tools record each group's wall time as a result row of its own.

Each tool runs the same journey with two users against the demo target: a step, a group of two steps (the
first one thinks), then a group whose first step fails (its second step is never sent). A group row counts
one per group run to its end, fails when one of its steps failed, lasts at least as long as its steps and
their think times, and stays out of the tool's overall numbers, so each tool's own total of requests still
equals crossload's.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.integration

THINK_MS = 25


def _scenario() -> dict[str, Any]:
    return {
        "version": 1,
        "name": "wire-flow",
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
    # The failing step is a quarter of the requests: the smoke profile's error-rate threshold fails (exit 1).
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
