"""The Grafana dashboards: the committed JSON is what dashboards/generate.py produces, and its structure holds
(every panel reads the data source variable with raw InfluxQL, says what it computes, never aggregates a
percentile into a whole-run figure); and the whole-run measurement (crossload_summary) they read.

Every query is also run against a real InfluxDB holding a real run: tests/integration/test_dashboard_queries.py.
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from crossload.sinks import MemorySink, push_run
from crossload.sinks.lineprotocol import ALL_REQUESTS, SUMMARY, RunTags, summary_points, to_line
from crossload.sinks.spool import run_level_points

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = ROOT / "dashboards"
DS = {"type": "influxdb", "uid": "${datasource}"}
MACROS = {"timeFilter", "__interval", "__interval_ms"}
LATENCY_FIELD = re.compile(r"^(all_)?(p\d+|mean|min|max)_ms$")
PERCENTILE_FIELD = re.compile(r"^(all_)?p\d+_ms$")
CALL = re.compile(r'(\w+)\(\s*"([^"]+)"\s*\)')


def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("crossload_dashboards_generate", DASHBOARDS / "generate.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def committed() -> dict[str, dict[str, Any]]:
    return {p.name: json.loads(p.read_text(encoding="utf-8")) for p in sorted(DASHBOARDS.glob("*.json"))}


def panels(dash: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in dash["panels"] if p["type"] != "row"]


def variables(dash: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {v["name"]: v for v in dash["templating"]["list"]}


def test_committed_json_is_what_the_generator_produces(tmp_path: Path) -> None:
    gen = generator()
    rendered = gen.render()
    assert set(rendered) == {p.name for p in DASHBOARDS.glob("*.json")}, "a dashboard file without generator"
    for name, text in rendered.items():
        assert (DASHBOARDS / name).read_text(encoding="utf-8") == text, f"{name}: run `invoke dashboards`"
    # --check says so, and exits 1, when a file differs; without --check it rewrites it.
    for name, text in rendered.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    assert gen.main(["--check"], folder=tmp_path) == 0
    first = next(iter(rendered))
    (tmp_path / first).write_text("{}\n", encoding="utf-8")
    assert gen.main(["--check"], folder=tmp_path) == 1
    assert gen.main([], folder=tmp_path) == 0
    assert (tmp_path / first).read_text(encoding="utf-8") == rendered[first]


def test_the_json_is_what_grafanas_dashboard_schema_models_read() -> None:
    """Read back through grafana-foundation-sdk's models (generated from Grafana's dashboard schema, panel
    plugins included), every dashboard comes out unchanged: no field that Grafana's schema does not know, none
    of the wrong type. Only the annotations' InfluxQL targets are beyond the schema's generic annotation target,
    and the import dialog's ``__inputs``/``__requires`` are outside the dashboard model (Grafana's export adds
    them the same way)."""
    from grafana_foundation_sdk.cog.encoder import JSONEncoder
    from grafana_foundation_sdk.models import dashboard as model

    for name, data in committed().items():
        back = json.loads(json.dumps(model.Dashboard.from_json(data), cls=JSONEncoder))
        outside = {"annotations", "__inputs", "__requires"}
        assert {k: v for k, v in back.items() if k not in outside} == \
            {k: v for k, v in data.items() if k not in outside}, name
        for ours, read in zip(data["annotations"]["list"], back["annotations"]["list"], strict=True):
            assert {k: v for k, v in read.items() if k != "target"} == {k: v for k, v in ours.items() if k != "target"}


def test_the_four_dashboards_exist_with_unique_uids_and_link_to_each_other() -> None:
    dashes = committed()
    assert set(dashes) == {"crossload-run-overview.json", "crossload-cross-tool.json", "crossload-run-vs-run.json",
                           "crossload-request-drilldown.json"}
    uids = [d["uid"] for d in dashes.values()]
    assert len(set(uids)) == len(uids) and all(u.startswith("crossload-") for u in uids)
    for dash in dashes.values():
        assert dash["title"].startswith("crossload: ") and dash["description"]
        assert "crossload" in dash["tags"]
        assert any(link["type"] == "dashboards" and link["tags"] == ["crossload"] and link["includeVars"]
                   for link in dash["links"])
        for panel in panels(dash):
            for link in panel.get("fieldConfig", {}).get("defaults", {}).get("links", []):
                uid = re.match(r"^/d/([\w-]+)/", link["url"])
                assert uid and uid.group(1) in uids, link


GRAFANA_SCHEMA_VERSION = 41  # the dashboard schema of Grafana 11.6, which grafana-foundation-sdk here models
ALIAS_PATTERNS = re.compile(r"^(tag_\w+|col|m|measurement)$")
BUILTIN = {"timeFilter", "__interval", "__interval_ms", "__timeFilter", "__from", "__to", "__url_time_range",
           "__all_variables", "__field", "__value", "__data", "__series", "__cell", "__name"}


def all_panels(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every panel, rows and the panels a collapsed row holds included."""
    out: list[dict[str, Any]] = []
    for item in items:
        out.append(item)
        out.extend(all_panels(item.get("panels", [])))
    return out


def test_panel_ids_are_unique_grid_cells_do_not_overlap_and_the_schema_is_current() -> None:
    for name, dash in committed().items():
        assert dash["schemaVersion"] == GRAFANA_SCHEMA_VERSION, name
        ids = [p.get("id") for p in all_panels(dash["panels"])]
        assert all(isinstance(i, int) and i > 0 for i in ids) and len(set(ids)) == len(ids), (name, ids)
        taken: dict[tuple[int, int], str] = {}
        for panel in dash["panels"]:
            g = panel["gridPos"]
            assert g["x"] >= 0 and g["x"] + g["w"] <= 24 and g["w"] > 0 and g["h"] > 0, (name, panel.get("title"))
            for x in range(g["x"], g["x"] + g["w"]):
                for y in range(g["y"], g["y"] + g["h"]):
                    assert (x, y) not in taken, (name, panel.get("title"), taken[(x, y)])
                    taken[(x, y)] = str(panel.get("title"))


def test_every_template_variable_is_defined_and_used() -> None:
    for name, dash in committed().items():
        defined = set(variables(dash)) | {i["name"] for i in dash["__inputs"]}
        text = json.dumps(dash)
        referenced = {m for m in re.findall(r"\$\{?(\w+)", text)
                      if m not in BUILTIN and not ALIAS_PATTERNS.match(m)}
        assert referenced <= defined, (name, referenced - defined)
        outside = json.dumps({k: v for k, v in dash.items() if k != "templating"})
        for var in defined:
            used = f"${var}" in outside or f"${{{var}" in outside
            # A variable may also serve only other variables' queries (e.g. scenario narrows run_id).
            used = used or any(f"${var}" in json.dumps(v) or f"${{{var}" in json.dumps(v)
                               for other, v in variables(dash).items() if other != var)
            assert used, (name, var)


def test_the_data_source_is_a_variable_and_every_panel_and_query_uses_it() -> None:
    for name, dash in committed().items():
        ds = variables(dash)["datasource"]
        assert ds["type"] == "datasource" and ds["query"] == "influxdb", name
        for panel in panels(dash):
            assert panel["datasource"] == DS, (name, panel["title"])
            assert panel["targets"], (name, panel["title"])
            for target in panel["targets"]:
                assert target["datasource"] == DS, (name, panel["title"])
        for var in dash["templating"]["list"]:
            if var["type"] == "query":
                assert var["datasource"] == DS, (name, var["name"])
                # From the measurement a run fills while it goes on: a running run can be picked.
                assert var["query"].startswith('SHOW TAG VALUES FROM "crossload_requests"'), (name, var["name"])
        for ann in dash["annotations"]["list"]:
            assert ann["datasource"] == DS, (name, ann["name"])


def test_each_dashboard_imports_by_hand_with_a_data_source_input() -> None:
    """Grafana's import dialog asks for each ``__inputs`` entry and replaces its ``${NAME}`` everywhere in the
    file (only the names it declares): done here as Grafana does, the datasource variable starts on the data
    source picked, and nothing else changes."""
    compose = (ROOT / "docker" / "compose.yml").read_text(encoding="utf-8")
    for name, dash in committed().items():
        inputs = dash["__inputs"]
        assert [(i["name"], i["type"], i["pluginId"]) for i in inputs] == [("DS_INFLUXDB", "datasource", "influxdb")]
        text = json.dumps(dash)
        declared = {"${" + i["name"] + "}" for i in inputs}
        assert set(re.findall(r"\$\{DS_[A-Z_]+\}", text)) == declared, name
        imported = json.loads(re.sub(r"\$\{DS_INFLUXDB\}", "picked-uid", text))
        assert variables(imported)["datasource"]["current"]["value"] == "picked-uid", name
        assert imported["panels"] == dash["panels"], name  # panels read the variable, not the input
        requires = {(r["type"], r["id"]): r for r in dash["__requires"]}
        assert ("datasource", "influxdb") in requires, name
        assert f"grafana/grafana:{requires[('grafana', 'grafana')]['version']}" in compose, name
        used = {p["type"] for p in panels(dash)}
        assert {kind for (t, kind) in requires if t == "panel"} == used, name


def test_every_panel_says_what_it_computes_with_raw_influxql() -> None:
    for name, dash in committed().items():
        names = set(variables(dash)) | MACROS
        for panel in panels(dash):
            where = (name, panel["title"])
            assert panel["title"].strip() and len(panel["description"]) > 40, where
            refs = [t["refId"] for t in panel["targets"]]
            assert len(set(refs)) == len(refs), where
            for target in panel["targets"]:
                query = target["query"]
                assert target["rawQuery"] is True and query.startswith("SELECT "), where
                assert target["resultFormat"] in ("time_series", "table"), where
                used = {m.strip("{}") for m in re.findall(r"\$(\{\w+\}|\w+)", query)}
                assert used <= names, (where, used - names)
                # Every query is bounded: by the dashboard's time range or by the selected run(s).
                assert "$timeFilter" in query or re.search(r'"run_id" =~ /\^\$run_(id|a|b)\$/', query), where
                if panel["type"] == "timeseries" and "GROUP BY time(" in query:
                    assert "GROUP BY time($__interval)" in query and panel["interval"] == "1s", where


def _aggregated_latency(query: str) -> list[tuple[str, str]]:
    return [(fn, field) for fn, field in CALL.findall(query) if LATENCY_FIELD.match(field)]


def test_no_query_averages_a_percentile_and_whole_run_figures_come_from_whole_run_data() -> None:
    for name, dash in committed().items():
        for panel in panels(dash):
            for target in panel["targets"]:
                query = target["query"]
                where = (name, panel["title"], target["refId"])
                calls = _aggregated_latency(query)
                # A latency field is never averaged, summed or taken a median/percentile of: the only
                # aggregate is max(), over the per-second values of crossload_requests, in a graph whose
                # description says it shows the highest second.
                assert all(fn == "max" for fn, _ in calls), (where, calls)
                if calls:
                    assert 'FROM "crossload_requests"' in query and panel["type"] == "timeseries", where
                    assert "highest" in panel["description"] and "never" in panel["description"], where
                if 'FROM "crossload_summary"' in query:
                    assert not CALL.search(query), where  # whole-run figures exactly as stored
                if target["resultFormat"] == "table":
                    fields = set(re.findall(r'"(\w+)"', query.split(" FROM ", 1)[0]))
                    percentiles = {f for f in fields if PERCENTILE_FIELD.match(f)}
                    if percentiles:
                        assert 'FROM "crossload_summary"' in query, where
                        assert "$timeFilter" not in query, where  # the whole run, whatever the range
        for ann in dash["annotations"]["list"]:
            assert not _aggregated_latency(ann["target"]["query"]), (name, ann["name"])


def test_transformations_refer_to_columns_the_queries_return() -> None:
    checked = 0
    for name, dash in committed().items():
        for panel in panels(dash):
            columns: set[str] = set()
            groups: list[set[str]] = []
            for target in panel["targets"]:
                head, _, tail = target["query"].partition(" FROM ")
                columns |= {alias or field for field, alias in re.findall(r'"(\w+)"(?: AS "([^"]+)")?', head)}
                groups.append(set(re.findall(r'"(\w+)"', tail.partition("GROUP BY")[2])))
            for t in panel.get("transformations", []):
                if t["id"] == "joinByField":
                    assert all(t["options"]["byField"] in g for g in groups), (name, panel["title"])
                if t["id"] == "calculateField":
                    binary = t["options"]["binary"]
                    assert {binary["left"], binary["right"]} <= columns, (name, panel["title"], binary)
                    assert binary["operator"] in ("-", "/")
                    checked += 1
    assert checked >= 10


def test_annotations_show_run_start_and_each_tool_from_start_to_end() -> None:
    for name, dash in committed().items():
        anns = dash["annotations"]["list"]
        sources = {re.search(r'FROM "(\w+)"', a["target"]["query"]).group(1) for a in anns}  # type: ignore[union-attr]
        assert sources == {"crossload_runs", "crossload_summary"}, name
        for ann in anns:
            target = ann["target"]
            selected = set(re.findall(r'"(\w+)"', target["query"].split(" FROM ", 1)[0]))
            needed = {target["textColumn"], *target["tagsColumn"].split(","), target.get("timeEndColumn")} - {None}
            assert needed <= selected, (name, ann["name"], needed - selected)
            assert target["rawQuery"] and "$timeFilter" in target["query"]


def test_the_dashboards_cover_what_the_issue_asks() -> None:
    dashes = committed()
    text = {name: json.dumps(d) for name, d in dashes.items()}
    overview = text["crossload-run-overview.json"]
    for measurement in ("crossload_summary", "crossload_thresholds", "crossload_requests", "crossload_users",
                        "crossload_errors"):
        assert measurement in overview
    for var in ("scenario", "run_id", "tool", "request"):
        assert var in variables(dashes["crossload-run-overview.json"])
    assert {"run_a", "run_b"} <= set(variables(dashes["crossload-run-vs-run.json"]))
    assert "\\\"tool\\\" = 'locust'" in text["crossload-cross-tool.json"]
    assert "\\\"tool\\\" = 'k6'" in text["crossload-cross-tool.json"]
    drill = dashes["crossload-request-drilldown.json"]
    table = next(p for p in panels(drill) if p["type"] == "table")
    assert table["fieldConfig"]["defaults"]["links"][0]["url"].count("${__data.fields.") == 2


# --- crossload_summary: the whole-run measurement ---------------------------------------------------------

TAGS = RunTags(run_id="20261121T223959Z-smoke-89d6", scenario="shop", profile="smoke")
LAT = {"min_ms": 0.74, "mean_ms": 1.45, "p50_ms": 1.005, "p90_ms": 1.835, "p95_ms": 3.915, "p99_ms": 12.35,
       "max_ms": 12.331}


def tool_summary() -> dict[str, Any]:
    overall = {"count": 131, "failures": 2, "error_rate": 1.5267, "rps": 8.733, "bytes": 53112, **LAT,
               "all_requests": {**LAT, "min_ms": 0.5}, "errors": {"HTTP 503": 2}}
    empty = {"count": 3, "failures": 3, "error_rate": 100, "rps": 0, "bytes": 0,
             **dict.fromkeys(LAT), "all_requests": {**LAT}, "errors": {"timeout": 3}}
    return {"duration_s": 15.0, "peak_users": 2, "overall": overall,
            "requests": {"health": {**overall, "count": 128, "failures": 0, "error_rate": 0.0}, "slow, one": empty}}


def test_summary_points_carry_summary_json_unchanged() -> None:
    points = summary_points("k6", tool_summary(), TAGS, started_ts_s=1795300000, ended_ms=1795300015123)
    assert [p.tag("name") for p in points] == [ALL_REQUESTS, "health", "slow, one"]
    assert all(p.measurement == SUMMARY and p.ts_s == 1795300000 and p.tag("tool") == "k6" for p in points)
    overall = dict(points[0].fields)
    assert overall == {"count": 131, "failures": 2, "bytes": 53112, "error_rate": 1.5267, "rps": 8.733,
                       **LAT, **{f"all_{k}": v for k, v in {**LAT, "min_ms": 0.5}.items()},
                       "duration_s": 15.0, "ended_ms": 1795300015123, "peak_users": 2}
    empty = dict(points[2].fields)
    # Nothing measured: no latency field (line protocol has no null); types never change with the JSON's.
    assert not {"p95_ms", "min_ms"} & set(empty) and empty["all_p95_ms"] == 3.915
    assert isinstance(empty["error_rate"], float) and isinstance(empty["rps"], float)
    assert "peak_users" not in empty
    line = to_line(points[2])
    assert line.startswith("crossload_summary,name=slow\\,\\ one,profile=smoke,run_id=") and " count=3i," in line


def _run_dir(tmp_path: Path) -> Path:
    run = tmp_path / TAGS.run_id
    run.mkdir()
    manifest = {"run_id": TAGS.run_id, "scenario": {"name": "shop"}, "profile": {"profile": "smoke"},
                "tools": ["locust", "k6"], "status": "passed", "started_at": "2026-11-21T22:39:59.100Z",
                "ended_at": "2026-11-21T22:40:40.000Z", "tool_versions": {"locust": "2.47.0", "k6": "1.1.0"},
                "outcomes": {
                    "locust": {"started_at": "2026-11-21T22:40:01.900Z", "ended_at": "2026-11-21T22:40:17.250Z"},
                    "k6": {"started_at": "2026-11-21T22:40:20.500Z", "ended_at": "2026-11-21T22:40:36.001Z"}}}
    summary = {"schema": 2, "run_id": TAGS.run_id, "scenario": "shop", "profile": "smoke", "status": "passed",
               "tools": {"locust": tool_summary(), "k6": tool_summary()}, "thresholds": []}
    (run / "manifest.json").write_text(json.dumps(manifest))
    (run / "summary.json").write_text(json.dumps(summary))
    return run


def test_run_level_push_writes_the_summary_once_at_each_tools_start(tmp_path: Path) -> None:
    run = _run_dir(tmp_path)
    points = [p for p in run_level_points(run, TAGS) if p.measurement == SUMMARY]
    assert len(points) == 6
    starts = {p.tag("tool"): p.ts_s for p in points}
    assert starts == {"locust": 1795300801, "k6": 1795300820}
    ends = {p.tag("tool"): p.field("ended_ms") for p in points}
    assert ends == {"locust": 1795300817250, "k6": 1795300836001}
    sink = MemorySink()
    first = push_run(run, sink)
    assert first.run_points and first.error is None
    stored = dict(sink.points)
    # Pushing again sends nothing; writing the points again changes nothing (deterministic identity).
    assert push_run(run, sink).points == 0
    sink.write(run_level_points(run, TAGS))
    assert sink.points == stored
    assert len(sink.measurement(SUMMARY)) == 6


@pytest.mark.parametrize("status", ["running", None])
def test_no_summary_point_before_the_run_has_ended(tmp_path: Path, status: str | None) -> None:
    run = _run_dir(tmp_path)
    manifest = json.loads((run / "manifest.json").read_text())
    manifest["status"] = status
    (run / "manifest.json").write_text(json.dumps(manifest))
    sink = MemorySink()
    push_run(run, sink)
    assert sink.measurement(SUMMARY) == []
