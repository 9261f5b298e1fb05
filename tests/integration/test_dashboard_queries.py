"""Every query of the Grafana dashboards (panels, annotations, variables) runs against a real InfluxDB 1.6.7
holding a real crossload run of both tools, and returns data; the whole-run figures they show are summary.json's.

No Grafana server can run here, so the test does what Grafana's InfluxDB data source does with a raw InfluxQL
query: it substitutes the macros ($timeFilter, $__interval, $__interval_ms) and the template variables (a
multi-value or "All" selection becomes a regex alternative, each value regex-escaped), then sends the query to
/query. What the panels' transformations compute from these results (joins, differences) is checked for
structure only (tests/unit/test_dashboards.py).
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from crossload.errors import EXIT_PASS
from crossload.run import RunRequest, execute

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
DB = "dashboards"
SCENARIO = """\
version: 1
name: dashboards-e2e
defaults:
  think_time: {min: 20ms, max: 50ms}
requests:
  - name: health
    path: /health
  - name: item (v2) detail
    path: /api/items/7
  - name: failing
    path: /error/100
thresholds:
  - "p99 < 5s"
  - {request: health, check: "p95 < 2s"}
  # One request in three fails on purpose: say so instead of tripping the default error-rate guard.
  - "error_rate < 80%"
"""
ALL_VALUE = ".*"
MACRO = re.compile(r"\$(\{[A-Za-z0-9_]+\}|[A-Za-z0-9_]+)")


def dashboards() -> dict[str, dict[str, Any]]:
    return {p.name: json.loads(p.read_text(encoding="utf-8")) for p in sorted((ROOT / "dashboards").glob("*.json"))}


def regex_escape(value: str) -> str:
    """What Grafana's InfluxDB data source does to a variable's value inside /regex/ (special characters
    escaped, the / delimiter too)."""
    return re.sub(r"([\\^$*+?.()|\[\]{}/])", r"\\\1", value)


@dataclass(frozen=True)
class Selection:
    """Template variable values (a list: a multi-value selection; None: All) and the dashboard time range."""

    values: Mapping[str, list[str] | None]
    start_ms: int
    end_ms: int

    def substitute(self, query: str) -> str:
        def one(m: re.Match[str]) -> str:
            name = m.group(1).strip("{}")
            if name == "timeFilter":
                return f"time >= {self.start_ms}ms and time <= {self.end_ms}ms"
            if name == "__interval":
                return "1s"
            if name == "__interval_ms":
                return "1000"
            if name not in self.values:
                raise AssertionError(f"{name!r} is no template variable of the test: {query}")
            chosen = self.values[name]
            if chosen is None:
                return ALL_VALUE
            escaped = [regex_escape(v) for v in chosen]
            return escaped[0] if len(escaped) == 1 else "(" + "|".join(escaped) + ")"

        return MACRO.sub(one, query)


def series(server: Any, query: str) -> list[dict[str, Any]]:
    """Every series of the answer (InfluxDB1.query raises on any error)."""
    answer = server.query(query, DB)
    return [s for r in answer.get("results", []) for s in r.get("series", [])]


def rows_of(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for s in found:
        for values in s.get("values", []):
            row = dict(zip(s["columns"], values, strict=True))
            row.update(s.get("tags", {}))
            out.append(row)
    return out


def panel_targets(dash: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    for panel in dash["panels"]:
        for target in panel.get("targets", []):
            yield panel["title"], panel, target


@pytest.fixture(scope="module")
def pushed(influxdb_v1: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One real run of both tools (3 s each) pushed live to InfluxDB 1.6.7 over the v1 API, against a demo
    target of its own (so the target's resources are sampled too)."""
    tmp = tmp_path_factory.mktemp("dash")
    scenario = tmp / "s.yaml"
    scenario.write_text(SCENARIO, encoding="utf-8")
    out = io.StringIO()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CROSSLOAD_INFLUX_URL", influxdb_v1.url)
        mp.setenv("CROSSLOAD_INFLUX_API", "v1")
        mp.setenv("CROSSLOAD_INFLUX_DB", DB)
        mp.setenv("CROSSLOAD_DOTENV", str(tmp / "no.env"))
        result = execute(RunRequest(profile="smoke", scenario=str(scenario), users=2,
                                    duration_s=3, results_dir=tmp / "results"), out=out)
    assert result.exit_code == EXIT_PASS, out.getvalue()
    assert "nothing pending" in out.getvalue(), out.getvalue()
    run: Path = result.path  # type: ignore[assignment]
    manifest = json.loads((run / "manifest.json").read_text())
    summary = json.loads((run / "summary.json").read_text())

    def ms(text: str) -> int:
        return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)

    return {"run_id": result.run_id, "path": run, "summary": summary, "manifest": manifest,
            "start_ms": ms(manifest["started_at"]) - 60_000, "end_ms": ms(manifest["ended_at"]) + 60_000}


def selection(pushed: dict[str, Any], **override: list[str] | None) -> Selection:
    run_id = pushed["run_id"]
    values: dict[str, list[str] | None] = {
        "scenario": ["dashboards-e2e"], "run_id": [run_id], "run_a": [run_id], "run_b": [run_id],
        "tool": ["locust", "k6"], "request": None, "profile": None,
    }
    values.update(override)
    return Selection(values, pushed["start_ms"], pushed["end_ms"])


def _queries() -> list[tuple[str, str, str, str]]:
    """(dashboard, where, query id, query): every panel target, annotation and variable query."""
    out = []
    for name, dash in dashboards().items():
        for title, _panel, target in panel_targets(dash):
            out.append((name, f"panel {title!r}", target["refId"], target["query"]))
        for ann in dash["annotations"]["list"]:
            out.append((name, f"annotation {ann['name']!r}", "Anno", ann["target"]["query"]))
        for var in dash["templating"]["list"]:
            if var["type"] == "query":
                out.append((name, f"variable {var['name']!r}", "var", var["query"]))
    return out


QUERIES = _queries()


@pytest.mark.parametrize(("dash", "where", "ref", "query"), QUERIES,
                         ids=[f"{d}:{w}:{r}" for d, w, r, _ in QUERIES])
def test_every_query_runs_and_returns_data(dash: str, where: str, ref: str, query: str, influxdb_v1: Any,
                                           pushed: dict[str, Any]) -> None:
    # Dashboards with a single tool variable (run vs run) get one tool, the others both.
    tool = ["k6"] if "run-vs-run" in dash else ["locust", "k6"]
    sent = selection(pushed, tool=tool).substitute(query)
    found = series(influxdb_v1, sent)
    assert found and any(s.get("values") for s in found), f"{dash} {where} {ref}: no data for\n{sent}"


def test_a_single_request_with_regex_characters_selects_exactly_it(influxdb_v1: Any, pushed: dict[str, Any]) -> None:
    query = next(t["query"] for _title, _p, t in panel_targets(dashboards()["crossload-request-drilldown.json"])
                 if "crossload_errors" not in t["query"] and "max(\"p95_ms\")" in t["query"])
    for chosen in (["item (v2) detail"], ["item (v2) detail", "health"]):
        found = series(influxdb_v1, selection(pushed, request=chosen).substitute(query))
        assert {s["tags"]["name"] for s in found} == set(chosen)


ALIAS = re.compile(r'"(\w+)"(?: AS "([^"]+)")?')


def _selected(query: str) -> dict[str, str]:
    """column shown -> field of crossload_summary, for a ``SELECT "f" [AS "alias"], ... FROM`` query."""
    head = query.split(" FROM ", 1)[0].removeprefix("SELECT ")
    return {alias or field: field for field, alias in ALIAS.findall(head)}


def test_whole_run_figures_equal_summary_json(influxdb_v1: Any, pushed: dict[str, Any]) -> None:
    """Every whole-run table (crossload_summary) shows, per tool and request, exactly summary.json's numbers."""
    summary = pushed["summary"]["tools"]
    checked = 0
    for name, dash in dashboards().items():
        tools = ["k6"] if "run-vs-run" in name else ["locust", "k6"]
        for title, _panel, target in panel_targets(dash):
            query = target["query"]
            if 'FROM "crossload_summary"' not in query or "$timeFilter" in query:
                continue
            columns = _selected(query)
            fixed_tool = re.search(r"\"tool\" = '(\w+)'", query)
            rows = rows_of(series(influxdb_v1, selection(pushed, tool=tools).substitute(query)))
            assert rows, (name, title)
            seen = set()
            for row in rows:
                # The tool is a fixed filter, a GROUP BY tag, or the one tool of a single-value variable.
                tool = fixed_tool.group(1) if fixed_tool else row.get("tool") or tools[0]
                assert fixed_tool or "tool" in row or len(tools) == 1
                request = row.get("name", "(all)")
                figures = summary[tool]["overall"] if request == "(all)" else summary[tool]["requests"][request]
                figures = {**figures, "duration_s": summary[tool]["duration_s"],
                           "peak_users": summary[tool]["peak_users"]}
                for column, field in columns.items():
                    assert row[column] == figures[field], (name, title, tool, request, field)
                    checked += 1
                seen.add((tool, request))
            expected_requests = {"(all)"} if "'(all)'" in query and '"name" = ' in query else set()
            if "\"name\" != '(all)'" in query:
                expected_requests = set(summary["k6"]["requests"])
            if expected_requests:
                assert {r for _t, r in seen} == expected_requests, (name, title)
    assert checked > 100


def test_errors_by_cause_for_the_whole_run_equal_summary_json(influxdb_v1: Any, pushed: dict[str, Any]) -> None:
    dash = dashboards()["crossload-request-drilldown.json"]
    query = next(t["query"] for _title, p, t in panel_targets(dash)
                 if p["type"] == "table" and "crossload_errors" in t["query"])
    rows = rows_of(series(influxdb_v1, selection(pushed).substitute(query)))
    got = {(r["tool"], r["name"], r["cause"]): r["failed"] for r in rows}
    expected = {(tool, name, cause): n for tool, ts in pushed["summary"]["tools"].items()
                for name, figures in ts["requests"].items() for cause, n in figures["errors"].items()}
    assert got == expected and sum(got.values()) > 0


def test_annotations_mark_each_tool_from_its_start_to_its_end(influxdb_v1: Any, pushed: dict[str, Any]) -> None:
    dash = dashboards()["crossload-run-overview.json"]
    window = next(a["target"] for a in dash["annotations"]["list"] if "timeEndColumn" in a["target"])
    rows = rows_of(series(influxdb_v1, selection(pushed).substitute(window["query"])))
    outcomes = pushed["manifest"]["outcomes"]
    assert {r["tool"] for r in rows} == {"locust", "k6"}
    for r in rows:
        start = datetime.fromisoformat(outcomes[r["tool"]]["started_at"].replace("Z", "+00:00")).timestamp()
        end = datetime.fromisoformat(outcomes[r["tool"]]["ended_at"].replace("Z", "+00:00")).timestamp()
        assert r["time"] == int(start)  # InfluxDB1.query asks for epoch seconds
        assert r[window["timeEndColumn"]] == round(end * 1000)


def test_pushing_the_run_again_changes_no_whole_run_point(influxdb_v1: Any, pushed: dict[str, Any]) -> None:
    from crossload.sinks import InfluxV1Sink, push_run
    from crossload.sinks.lineprotocol import RunTags
    from crossload.sinks.spool import run_level_points

    query = f"SELECT * FROM crossload_summary WHERE run_id = '{pushed['run_id']}'"
    before = rows_of(series(influxdb_v1, query))
    assert len(before) == sum(1 + len(t["requests"]) for t in pushed["summary"]["tools"].values())
    sink = InfluxV1Sink(influxdb_v1.url, db=DB)
    try:
        # The same points once more, past the spool's digest (as after a lost influx.json), then a push.
        sink.write(run_level_points(pushed["path"], RunTags.from_manifest(pushed["manifest"])))
        again = push_run(pushed["path"], sink)
    finally:
        sink.close()
    assert again.error is None and again.points == 0
    assert rows_of(series(influxdb_v1, query)) == before
