"""Paginated journey steps on the wire, alike in both tools.

Two users per tool, each with its own row of a data file (per user), walk a journey over the demo target's
``/pages`` (every page written to the echo log; the next page named both in a Link header, after a
``rel="first"`` entry, and in the JSON field ``next``):

- ``link pages``: three pages through the Link header's ``rel="next"`` (paths);
- ``json pages``: four pages through ``$.next`` (absolute URLs);
- ``bounded`` (in a group): fifty pages, ``max_pages: 2`` (relative references): two pages, a success;
- ``not elsewhere``: the next page is on another host: it is not fetched, a success;
- ``failing page``: its check holds on page 1 only: page 2 fails the step and ends the iteration.

The echo log shows each user's sequence of pages: the same in both tools; each tool's count per name equals
its pages in the echo log, and only the failing page is a failure.
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

U = "{{ row.name }}"
SCENARIO: dict[str, Any] = {
    "version": 1,
    "name": "wire-pagination",
    "defaults": {"think_time": "5ms"},
    "data": {"row": {"file": "rows.csv", "order": "sequential", "per": "user"}},
    "journeys": [{
        "name": "pages",
        "steps": [
            {"name": "link pages", "path": "/pages", "query": {"pages": 3, "s": "link", "u": U},
             "paginate": {"link": "next", "max_pages": 10},
             "checks": {"status": 200, "json": [{"path": "$.pages", "equals": 3}]}},
            {"name": "json pages", "path": "/pages", "query": {"pages": 4, "style": "absolute", "s": "json", "u": U},
             "paginate": {"json": "$.next"}},
            {"group": "bounded group", "steps": [
                {"name": "bounded", "path": "/pages", "query": {"pages": 50, "style": "relative", "s": "bound", "u": U},
                 "paginate": {"link": "NEXT", "max_pages": 2}},
            ]},
            {"name": "not elsewhere", "path": "/pages",
             "query": {"pages": 3, "style": "elsewhere", "s": "else", "u": U}, "paginate": {"json": "next"}},
            {"name": "failing page", "path": "/pages", "query": {"s": "fail", "u": U},
             "paginate": {"link": "next"}, "checks": {"json": [{"path": "$.page", "equals": 1}]}},
            {"name": "never", "path": "/echo/never", "query": {"s": "never", "u": U}},
        ],
    }],
}
STEP_OF = {"link": "link pages", "json": "json pages", "bound": "bounded", "else": "not elsewhere",
           "fail": "failing page", "never": "never"}
PATTERN = [("link", 1), ("link", 2), ("link", 3), ("json", 1), ("json", 2), ("json", 3), ("json", 4),
           ("bound", 1), ("bound", 2), ("else", 1), ("fail", 1), ("fail", 2)]


def test_pages_are_followed_until_none_is_named_alike_in_both_tools(tmp_path: Path, demo_target: str) -> None:
    from crossload.run import RunRequest, execute

    (tmp_path / "rows.csv").write_text("name\nann\nbob\n", encoding="utf-8")
    scenario_file = tmp_path / "pages.yaml"
    scenario_file.write_text(yaml.safe_dump(SCENARIO, sort_keys=False), encoding="utf-8")
    call(demo_target, "/_crossload/echo-log", "DELETE")
    out = io.StringIO()
    result = execute(RunRequest(profile="smoke", target=demo_target, scenario=str(scenario_file), users=2,
                                duration_s=3, results_dir=tmp_path / "results", quiet=True), out=out)
    assert result.path is not None, (result.message, out.getvalue())
    summary = json.loads((result.path / "summary.json").read_text(encoding="utf-8"))

    sequences: dict[tuple[str, str], list[tuple[str, int]]] = {}
    pages: dict[str, dict[str, int]] = {"k6": {}, "locust": {}}
    for e in call(demo_target, "/_crossload/echo-log")["entries"]:
        headers = {k.lower(): v for k, v in e["headers"]}
        tool = "k6" if "k6/" in headers.get("user-agent", "") else "locust"
        parts = urlsplit(e["raw_path"])
        query = parse_qs(parts.query)
        assert e["method"] == "GET" and parts.path == "/pages", e
        step = query["s"][0]
        sequences.setdefault((tool, query["u"][0]), []).append((step, int(query.get("page", ["1"])[0])))
        pages[tool][STEP_OF[step]] = pages[tool].get(STEP_OF[step], 0) + 1

    assert sorted(sequences) == [("k6", "ann"), ("k6", "bob"), ("locust", "ann"), ("locust", "bob")], list(sequences)
    for (tool, user), seen in sequences.items():
        assert_whole_iterations((tool, user), seen, PATTERN)

    for tool in ("k6", "locust"):
        rows = summary["tools"][tool]["requests"]
        assert "never" not in rows, (tool, "a step after a failed one was sent")
        # Every page is a request of its step; the group row counts once per run of the group.
        counts = {name: row["count"] for name, row in rows.items() if name != "bounded group"}
        assert counts == pages[tool], (tool, rows, pages[tool])
        assert rows["bounded group"]["count"] * 2 == rows["bounded"]["count"], (tool, rows)
        for name in ("link pages", "json pages", "not elsewhere"):
            assert rows[name]["failures"] == 0, (tool, name, rows[name])
        failing = rows["failing page"]
        assert failing["count"] >= 2 and failing["failures"] * 2 == failing["count"], (tool, failing)
        assert failing["errors"] == {"check failed: $.page == 1": failing["failures"]}, (tool, failing)
