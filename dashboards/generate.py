"""crossload's Grafana dashboards as code: ``python dashboards/generate.py`` (or ``invoke dashboards``) writes
dashboards/*.json; ``--check`` only compares and exits 1 when a committed file differs from what this produces.

Built with grafana-foundation-sdk (Grafana's own dashboards-as-code library, pinned in pyproject's dev extra).
The SDK has no InfluxDB query type, so ``InfluxQL`` below is one: every target is a raw InfluxQL query, which
runs unchanged on InfluxDB 1.x, on 2.x through a DBRP mapping and on 3.x. Every panel and every target reads
the data source chosen in the ``datasource`` variable.

Percentiles are never averaged (docs/dashboards.md):
- whole-run figures (tables, per-run trends) are read as stored in ``crossload_summary``, the whole-run
  numbers of summary.json written once at the end of a run: one point per run, tool and request name;
- over time, a panel shows the per-second percentiles of ``crossload_requests`` (every request of that
  second, failed ones included) and, when one point of the graph covers several seconds, the highest of
  them (``max()``); the titles and descriptions say so.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders import stat, table, timeseries
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as model

HERE = Path(__file__).resolve().parent
TAG = "crossload"
DS_VAR = "datasource"
DS = model.DataSourceRef(type_val="influxdb", uid="${" + DS_VAR + "}")
# Grafana's import dialog (Dashboards > New > Import) asks for every entry of ``__inputs`` and replaces each
# ``${DS_INFLUXDB}`` of the file by the uid of the data source picked there: it becomes the datasource
# variable's initial value. Provisioned, nothing replaces it and the variable starts on the first InfluxDB
# data source (the stack provisions one,
# docker/grafana/provisioning/datasources/crossload.yaml, its default).
DS_INPUT = "DS_INFLUXDB"
# The Grafana the stack runs (docker/compose.yml's default image), named in ``__requires``.
GRAFANA_VERSION = "11.6.0"
ALL = "(all)"

UIDS = {
    "overview": "crossload-run-overview",
    "cross_tool": "crossload-cross-tool",
    "run_vs_run": "crossload-run-vs-run",
    "drilldown": "crossload-request-drilldown",
}

# InfluxQL filters on the template variables (Grafana writes a multi-value selection as (a|b), escaped).
RUN = '"run_id" =~ /^$run_id$/'
TOOL = '"tool" =~ /^$tool$/'
REQUEST = '"name" =~ /^$request$/'
SCENARIO = '"scenario" =~ /^$scenario$/'
PROFILE = '"profile" =~ /^$profile$/'
TIME = "$timeFilter"
PER_SECOND = "($__interval_ms / 1000)"
BUCKET = "GROUP BY time($__interval)"
MIN_INTERVAL = "1s"  # the store's resolution: a graph point never covers less than one stored second


class InfluxQL(cogvariants.Dataquery):
    """A raw InfluxQL target of Grafana's InfluxDB data source."""

    def __init__(self, ref_id: str, query: str, result_format: str = "time_series", alias: str = "") -> None:
        self.ref_id = ref_id
        self.query = query
        self.result_format = result_format
        self.alias = alias

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {"refId": self.ref_id, "datasource": DS, "query": self.query, "rawQuery": True,
                                  "resultFormat": self.result_format}
        if self.alias:
            out["alias"] = self.alias
        return out


class Q(cogbuilder.Builder[cogvariants.Dataquery]):
    def __init__(self, ref_id: str, query: str, result_format: str = "time_series", alias: str = "") -> None:
        self._query = InfluxQL(ref_id, query, result_format, alias)

    def build(self) -> cogvariants.Dataquery:
        return self._query


class InfluxAnnotationTarget(model.AnnotationTarget):
    """The target of an InfluxDB annotation: a raw InfluxQL query in table form and the columns to show."""

    def __init__(self, query: str, text_column: str, tags_column: str, time_end_column: str = "") -> None:
        super().__init__()
        self.query = query
        self.text_column = text_column
        self.tags_column = tags_column
        self.time_end_column = time_end_column

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {"refId": "Anno", "query": self.query, "rawQuery": True, "resultFormat": "table",
                                  "fromAnnotations": True, "textColumn": self.text_column,
                                  "tagsColumn": self.tags_column, "limit": 100, "matchAny": False, "tags": [],
                                  "type": "tags"}
        if self.time_end_column:
            out["timeEndColumn"] = self.time_end_column
        return out


class AnnotationTargetBuilder(cogbuilder.Builder[model.AnnotationTarget]):
    def __init__(self, target: InfluxAnnotationTarget) -> None:
        self._target = target

    def build(self) -> model.AnnotationTarget:
        return self._target


# --- variables -----------------------------------------------------------------------------------------
# Their values come from crossload_requests, which a run fills while it goes on (its run-level points, such as
# crossload_runs and crossload_summary, are written at its end): a run shows up while it is running.
LIVE = '"crossload_requests"'

def datasource_variable() -> db.DatasourceVariable:
    return (db.DatasourceVariable(DS_VAR).label("InfluxDB").type("influxdb")
            .description("The InfluxDB (1.x, 2.x with a DBRP mapping, or 3.x) holding crossload's measurements")
            .current(model.VariableOption(selected=True, text="${" + DS_INPUT + "}", value="${" + DS_INPUT + "}")))


def tag_variable(name: str, label: str, query: str, *, multi: bool = False, include_all: bool = False,
                 sort: model.VariableSort = model.VariableSort.ALPHABETICAL_ASC,
                 description: str = "") -> db.QueryVariable:
    var = (db.QueryVariable(name).label(label).query(query).datasource(DS)
           .refresh(model.VariableRefresh.ON_TIME_RANGE_CHANGED).sort(sort).multi(multi).include_all(include_all))
    if include_all:
        var = var.all_value(".*")
    if description:
        var = var.description(description)
    return var


def scenario_var() -> db.QueryVariable:
    return tag_variable("scenario", "Scenario", f'SHOW TAG VALUES FROM {LIVE} WITH KEY = "scenario"',
                        description="The scenario's name (its `name:`)")


def run_var(name: str = "run_id", label: str = "Run") -> db.QueryVariable:
    # Run ids sort by time: newest first.
    return tag_variable(name, label, f'SHOW TAG VALUES FROM {LIVE} WITH KEY = "run_id" WHERE {SCENARIO}',
                        sort=model.VariableSort.ALPHABETICAL_DESC, description="A run id (newest first)")


def tool_var(multi: bool = True) -> db.QueryVariable:
    return tag_variable("tool", "Tool", f'SHOW TAG VALUES FROM {LIVE} WITH KEY = "tool"',
                        multi=multi, include_all=multi, description="locust, k6, or both")


def request_var(run_filter: str = RUN) -> db.QueryVariable:
    return tag_variable("request", "Request",
                        f'SHOW TAG VALUES FROM {LIVE} WITH KEY = "name" WHERE {run_filter}',
                        multi=True, include_all=True,
                        description="Request names of the scenario (All also shows (all), every request of a "
                                    "tool together, in the whole-run tables)")


def profile_var() -> db.QueryVariable:
    return tag_variable("profile", "Profile",
                        f'SHOW TAG VALUES FROM {LIVE} WITH KEY = "profile" WHERE {SCENARIO}',
                        multi=True, include_all=True, description="smoke, load, stress, spike, endurance")


# --- panels ----------------------------------------------------------------------------------------------

def _legend() -> common.VizLegendOptions:
    return common.VizLegendOptions(display_mode=common.LegendDisplayMode.TABLE,
                                   placement=common.LegendPlacement.BOTTOM, show_legend=True,
                                   calcs=["min", "max", "lastNotNull"])


class _Legend(cogbuilder.Builder[common.VizLegendOptions]):
    def build(self) -> common.VizLegendOptions:
        return _legend()


def graph(title: str, description: str, targets: Sequence[Q], unit: str, *, span: int = 12, height: int = 8,
          bars: bool = False, points: bool = False) -> timeseries.Panel:
    panel = (timeseries.Panel().title(title).description(description).datasource(DS).unit(unit).span(span)
             .height(height).interval(MIN_INTERVAL).legend(_Legend()).targets(list(targets)))
    if bars:
        panel = panel.draw_style(common.GraphDrawStyle.BARS).fill_opacity(60)
    elif points:
        panel = (panel.draw_style(common.GraphDrawStyle.LINE).show_points(common.VisibilityMode.ALWAYS)
                 .point_size(7))
    return panel


def grid(title: str, description: str, targets: Sequence[Q], *, span: int = 24, height: int = 8,
         transformations: Sequence[model.DataTransformerConfig] = (),
         links: Sequence[db.DashboardLink] = ()) -> table.Panel:
    panel = (table.Panel().title(title).description(description).datasource(DS).span(span).height(height)
             .targets(list(targets)))
    for t in transformations:
        panel = panel.with_transformation(t)
    if links:
        panel = panel.data_links(list(links))
    return panel


def tile(title: str, description: str, target: Q, unit: str, *, span: int = 4) -> stat.Panel:
    return (stat.Panel().title(title).description(description).datasource(DS).unit(unit).span(span).height(4)
            .with_target(target))


def transform(kind: str, options: dict[str, object]) -> model.DataTransformerConfig:
    return model.DataTransformerConfig(id_val=kind, options=options)


def join_by(field: str) -> model.DataTransformerConfig:
    return transform("joinByField", {"byField": field, "mode": "outer"})


def difference(left: str, right: str, alias: str, operator: str = "-") -> model.DataTransformerConfig:
    return transform("calculateField", {"mode": "binary", "alias": alias,
                                        "binary": {"left": left, "operator": operator, "right": right},
                                        "replaceFields": False})


def hide_time() -> model.DataTransformerConfig:
    return transform("organize", {"excludeByName": {"Time": True, "Time 1": True, "Time 2": True}})


# --- queries ---------------------------------------------------------------------------------------------

# Rows of a journey's groups (method GROUP: a group's wall time, docs/schema.md) stand next to the requests per
# name; a panel that adds requests up over names leaves them out, as summary.json's overall does.
PER_NAME_MEASUREMENTS = ("crossload_requests", "crossload_errors", "crossload_status")
NOT_GROUP = "\"method\" != 'GROUP'"


def interval_query(select: str, where: Sequence[str], group: Sequence[str], fill: str = "none",
                   measurement: str = "crossload_requests") -> str:
    tags = "".join(f', "{g}"' for g in group)
    if measurement in PER_NAME_MEASUREMENTS and "name" not in group:
        where = [*where, NOT_GROUP]
    return f'SELECT {select} FROM "{measurement}" WHERE {" AND ".join([*where, TIME])} {BUCKET}{tags} fill({fill})'


def summary_query(fields: Sequence[str], where: Sequence[str], group: Sequence[str], alias_prefix: str = "") -> str:
    select = ", ".join(f'"{f}" AS "{alias_prefix}{f}"' if alias_prefix else f'"{f}"' for f in fields)
    tags = ", ".join(f'"{g}"' for g in group)
    return f'SELECT {select} FROM "crossload_summary" WHERE {" AND ".join(where)} GROUP BY {tags}'


def percentile_targets(where: Sequence[str], group: Sequence[str]) -> list[Q]:
    names = " ".join(f"$tag_{g}" for g in group)
    return [Q(ref, interval_query(f'max("p{q}_ms")', where, group), alias=f"p{q} {names}")
            for ref, q in (("A", 50), ("B", 95), ("C", 99))]


PERCENTILES_OVER_TIME = (
    "Per-second p50, p95 and p99 of each request as crossload_requests stores them: the percentiles of the "
    "requests that completed in that second, failed ones included, from that second's histogram. When one "
    "point of the graph covers several seconds it shows the highest of their per-second values (max), never "
    "an average: percentiles cannot be averaged. Whole-run percentiles are in the tables, from summary.json.")


def run_annotations() -> list[db.AnnotationQuery]:
    runs = InfluxAnnotationTarget(
        f'SELECT "status", "verdict_passed", "tool_version", "started_at", "ended_at", "tool", "run_id" '
        f'FROM "crossload_runs" WHERE {SCENARIO} AND {TIME}',
        text_column="status", tags_column="tool,run_id")
    windows = InfluxAnnotationTarget(
        f'SELECT "ended_ms", "count", "error_rate", "p95_ms", "tool", "run_id" FROM "crossload_summary" '
        f"WHERE \"name\" = '{ALL}' AND {SCENARIO} AND {TIME}",
        text_column="count", tags_column="tool,run_id", time_end_column="ended_ms")
    return [
        db.AnnotationQuery().name("Run start (crossload_runs)").datasource(DS).enable(True).icon_color("#8F3BB8")
        .target(AnnotationTargetBuilder(runs)),
        db.AnnotationQuery().name("Each tool's run, start to end (crossload_summary)").datasource(DS).enable(True)
        .icon_color("rgba(0, 211, 255, 0.25)").target(AnnotationTargetBuilder(windows)),
    ]


def links() -> list[db.DashboardLink]:
    return [db.DashboardLink("crossload dashboards").type(model.DashboardLinkType.DASHBOARDS).tags([TAG])
            .as_dropdown(True).include_vars(True).keep_time(True)]


def base(uid: str, title: str, description: str, time_from: str) -> db.Dashboard:
    dash = (db.Dashboard(title).uid(uid).description(description).tags([TAG]).time(time_from, "now")
            .timezone("browser").tooltip(model.DashboardCursorSync.CROSSHAIR).refresh("").editable())
    for link in links():
        dash = dash.link(link)
    return dash


# --- the dashboards --------------------------------------------------------------------------------------

def run_overview() -> db.Dashboard:
    where = [RUN, TOOL, REQUEST]
    dash = base(UIDS["overview"], "crossload: run overview",
                "One run: whole-run figures from summary.json, then requests/s, errors, latency, users and bytes "
                "over time for one or both tools", "now-6h")
    for var in (datasource_variable(), scenario_var(), run_var(), tool_var(), request_var()):
        dash = dash.with_variable(var)
    for ann in run_annotations():
        dash = dash.annotation(ann)
    whole = ["count", "failures", "error_rate", "rps", "p50_ms", "p90_ms", "p95_ms", "p99_ms", "max_ms", "mean_ms",
             "bytes", "peak_users", "duration_s"]
    return (
        dash.with_row(db.Row("Whole run (summary.json)"))
        .with_panel(grid(
            "Whole run per tool (summary.json)",
            "Each tool's whole-run figures exactly as summary.json has them (crossload_summary, name = (all)): "
            "requests, failed requests, error rate (%), requests/s over the run's duration, and latency of "
            "successful responses in ms, p50/p90/p95/p99 from the run's merged histograms (never a mean of "
            "per-second percentiles); bytes received; peak users/VUs.",
            [Q("A", summary_query(whole, [RUN, TOOL, f"\"name\" = '{ALL}'"], ["tool"]), "table")], height=5))
        .with_panel(grid(
            "Threshold verdicts",
            "Every threshold and guard of the run per tool, as crossload judged it on the whole-run numbers "
            "(crossload_thresholds): the measured value, the limit and whether it passed.",
            [Q("A", 'SELECT "measured", "limit", "passed" FROM "crossload_thresholds" WHERE '
                    f'{RUN} AND {TOOL} GROUP BY "tool", "request", "threshold"', "table")], height=6))
        .with_row(db.Row("Over time (per-second data of crossload_requests)"))
        .with_panel(graph(
            "Requests per second",
            "Requests completed per second, per tool: the requests of each graph point divided by its length "
            "(sum of count / interval).",
            [Q("A", interval_query(f'sum("count") / {PER_SECOND}', where, ["tool"], fill="0"), alias="$tag_tool")],
            "reqps"))
        .with_panel(graph(
            "Error rate (%)",
            "Failed requests as a percentage of all requests in each graph point, per tool: "
            "100 * sum(failures) / sum(count), an exact ratio of counts.",
            [Q("A", interval_query('sum("failures") * 100 / sum("count")', where, ["tool"]), alias="$tag_tool")],
            "percent"))
        .with_panel(graph("Latency per second: p50, p95, p99 per request (highest second per point)",
                          PERCENTILES_OVER_TIME, percentile_targets(where, ["tool", "name"]), "ms", span=24,
                          height=10))
        .with_panel(graph(
            "Active users / VUs",
            "Concurrent Locust users or k6 VUs, sampled once per second (crossload_users): the highest sample in "
            "each graph point, one series per tool and load generator (worker).",
            [Q("A", interval_query('max("users")', [RUN, TOOL], ["tool", "worker"], measurement="crossload_users"),
               alias="$tag_tool (worker $tag_worker)")], "short"))
        .with_panel(graph(
            "Data received (bytes/s)",
            "Response bytes per second, per tool (sum of bytes / interval). Locust counts response bodies per "
            "request; k6 reports bytes only for the whole run (see the whole-run table), so its series is 0.",
            [Q("A", interval_query(f'sum("bytes") / {PER_SECOND}', where, ["tool"], fill="0"), alias="$tag_tool")],
            "Bps"))
        .with_panel(graph(
            "Failed requests by cause",
            "Failed requests per graph point by cause (crossload_errors: HTTP <code>, connection refused, "
            "timeout, check failed: <label>, ...), per tool.",
            [Q("A", interval_query('sum("count")', where, ["tool", "cause"], measurement="crossload_errors"),
               alias="$tag_tool: $tag_cause")], "short", span=24, bars=True))
        .with_row(db.Row("Resources (crossload_resources, sampled every second)"))
        .with_panel(graph(
            "Target memory (RSS)",
            "Resident memory of the target's process tree while each tool's load ran (the demo target, or one "
            "named with --target-pid / --target-container): the highest sample in each graph point. A curve "
            "that keeps climbing is a leak; target_rss_growth thresholds judge its growth.",
            [Q("A", interval_query('max("rss_bytes")', [RUN, TOOL, "\"kind\" = 'target'"], ["tool"],
                                   measurement="crossload_resources"), alias="$tag_tool")], "bytes"))
        .with_panel(graph(
            "CPU: target and load generators (% of one core)",
            "CPU of the target's process tree and of each tool's own processes, in percent of one core "
            "(200 = two cores busy): the highest sample in each graph point. A generator near its limit (k6: 80 % "
            "of the cores, a Locust process: 90 % of one) measures its own queueing.",
            [Q("A", interval_query('max("cpu_pct")', [RUN, TOOL], ["tool", "kind"],
                                   measurement="crossload_resources"), alias="$tag_tool $tag_kind")], "percent"))
    )


def _tool_side(tool: str, ref: str, fields: Sequence[str]) -> Q:
    return Q(ref, summary_query(fields, [RUN, f"\"tool\" = '{tool}'", REQUEST], ["name"], alias_prefix=f"{tool} "),
             "table")


def cross_tool() -> db.Dashboard:
    dash = base(UIDS["cross_tool"], "crossload: Locust vs k6",
                "One scenario run by both tools: per request, Locust and k6 side by side, and their differences",
                "now-6h")
    for var in (datasource_variable(), scenario_var(), run_var(), request_var()):
        dash = dash.with_variable(var)
    for ann in run_annotations():
        dash = dash.annotation(ann)
    latency = ["p50_ms", "p95_ms", "p99_ms"]
    counts = ["count", "rps", "error_rate"]
    where = [RUN, REQUEST]
    return (
        dash.with_row(db.Row("Whole run, per request (summary.json)"))
        .with_panel(grid(
            "Latency per request: Locust | k6 | difference (ms, whole run)",
            "Whole-run p50/p95/p99 of successful responses per request name for each tool, from summary.json "
            "(crossload_summary), and k6 minus Locust. (all) is every request of the tool together.",
            [_tool_side("locust", "A", latency), _tool_side("k6", "B", latency)],
            transformations=[join_by("name"), hide_time(),
                             *(difference(f"k6 {f}", f"locust {f}", f"k6 - locust {f}") for f in latency)],
            height=9))
        .with_panel(grid(
            "Requests, requests/s and error rate per request: Locust | k6 | difference (whole run)",
            "Whole-run request count, requests/s (count / the run's duration) and error rate (%) per request "
            "name for each tool, from summary.json, and k6 minus Locust.",
            [_tool_side("locust", "A", counts), _tool_side("k6", "B", counts)],
            transformations=[join_by("name"), hide_time(),
                             *(difference(f"k6 {f}", f"locust {f}", f"k6 - locust {f}") for f in counts)],
            height=9))
        .with_row(db.Row("Over time: the tools run one after the other, so their series follow each other"))
        .with_panel(graph("p95 per second, per tool and request (highest second per point)", PERCENTILES_OVER_TIME,
                          [Q("A", interval_query('max("p95_ms")', where, ["tool", "name"]),
                             alias="$tag_tool $tag_name")], "ms", span=24, height=9))
        .with_panel(graph(
            "Requests per second, per tool",
            "Requests completed per second, per tool (sum of count / interval).",
            [Q("A", interval_query(f'sum("count") / {PER_SECOND}', where, ["tool"], fill="0"), alias="$tag_tool")],
            "reqps"))
        .with_panel(graph(
            "Error rate (%), per tool",
            "100 * sum(failures) / sum(count) in each graph point, per tool.",
            [Q("A", interval_query('sum("failures") * 100 / sum("count")', where, ["tool"]), alias="$tag_tool")],
            "percent"))
    )


def run_vs_run() -> db.Dashboard:
    dash = base(UIDS["run_vs_run"], "crossload: run vs run",
                "Two runs side by side per request, and the whole-run figures of every run of a scenario over "
                "time (nightly runs), to spot regressions", "now-30d")
    for var in (datasource_variable(), scenario_var(), profile_var(), tool_var(multi=False),
                request_var(run_filter=SCENARIO), run_var("run_a", "Run A"), run_var("run_b", "Run B (baseline)")):
        dash = dash.with_variable(var)
    for ann in run_annotations():
        dash = dash.annotation(ann)
    fields = ["p50_ms", "p95_ms", "p99_ms", "error_rate", "rps", "count"]

    def side(ref: str, var: str) -> Q:
        return Q(ref, summary_query(fields, [f'"run_id" =~ /^${var}$/', TOOL, REQUEST], ["name"],
                                    alias_prefix=f"{ref} "), "table")

    trend_where = [SCENARIO, PROFILE, TOOL, REQUEST, TIME]

    def trend(title: str, field: str, unit: str, what: str) -> timeseries.Panel:
        query = f'SELECT "{field}" FROM "crossload_summary" WHERE {" AND ".join(trend_where)} GROUP BY "name"'
        return graph(title, f"{what} of every run of the scenario in the time range, one point per run at its "
                     "start (crossload_summary: the run's summary.json, never a mean of per-second values).",
                     [Q("A", query, alias="$tag_name")], unit, span=8, points=True)

    return (
        dash.with_row(db.Row("Run A vs run B, per request (summary.json)"))
        .with_panel(grid(
            "Run A | run B | A - B and A / B per request (whole run)",
            "Whole-run p50/p95/p99 of successful responses (ms), error rate (%), requests/s and request count "
            "per request name of the selected tool in run A and run B (crossload_summary, from each run's "
            "summary.json), A minus B, and A / B for p95 (above 1: A is slower).",
            [side("A", "run_a"), side("B", "run_b")],
            transformations=[join_by("name"), hide_time(),
                             *(difference(f"A {f}", f"B {f}", f"A - B {f}") for f in fields),
                             difference("A p95_ms", "B p95_ms", "A / B p95_ms", "/")],
            height=10))
        .with_row(db.Row("Every run over time (nightly runs)"))
        .with_panel(trend("Whole-run p95 per run (ms)", "p95_ms", "ms", "Whole-run p95 of successful responses"))
        .with_panel(trend("Whole-run error rate per run (%)", "error_rate", "percent", "Whole-run error rate"))
        .with_panel(trend("Whole-run requests/s per run", "rps", "reqps", "Whole-run requests/s"))
    )


def request_drilldown() -> db.Dashboard:
    dash = base(UIDS["drilldown"], "crossload: request drill-down",
                "Every request of a run in a table (count, errors, p95, p99), linked to its time series; failed "
                "requests by cause", "now-6h")
    for var in (datasource_variable(), scenario_var(), run_var(), tool_var(), request_var()):
        dash = dash.with_variable(var)
    for ann in run_annotations():
        dash = dash.annotation(ann)
    where = [RUN, TOOL, REQUEST]
    link = (db.DashboardLink("Show this request over time")
            .url(f"/d/{UIDS['drilldown']}/?${{__url_time_range}}&var-datasource=${{datasource}}"
                 "&var-scenario=${scenario}&var-run_id=${run_id}&var-tool=${__data.fields.tool}"
                 "&var-request=${__data.fields.name}"))
    return (
        dash.with_row(db.Row("Whole run (summary.json)"))
        .with_panel(grid(
            "Requests (whole run): click a row for its time series",
            "Per tool and request name: requests, failed requests, error rate (%) and the whole-run p95/p99 "
            "of successful responses (ms) from summary.json (crossload_summary). A click on a row selects that "
            "tool and request in the panels below.",
            [Q("A", summary_query(["count", "failures", "error_rate", "p95_ms", "p99_ms"],
                                  [RUN, TOOL, f"\"name\" != '{ALL}'"], ["tool", "name"]), "table")],
            links=[link], height=9))
        .with_panel(grid(
            "Failed requests by cause (whole run)",
            "Failed requests of the selected requests by cause over the whole run: the sum of the per-second "
            "counts of crossload_errors (counts add up exactly; they equal summary.json's errors).",
            [Q("A", 'SELECT sum("count") AS "failed" FROM "crossload_errors" WHERE '
                    f'{" AND ".join(where)} GROUP BY "tool", "name", "cause"', "table")], height=7))
        .with_row(db.Row("The selected requests over time"))
        .with_panel(graph(
            "Requests per second",
            "Requests completed per second (sum of count / interval), per tool and request.",
            [Q("A", interval_query(f'sum("count") / {PER_SECOND}', where, ["tool", "name"], fill="0"),
               alias="$tag_tool $tag_name")], "reqps"))
        .with_panel(graph(
            "Error rate (%)",
            "100 * sum(failures) / sum(count) in each graph point, per tool and request.",
            [Q("A", interval_query('sum("failures") * 100 / sum("count")', where, ["tool", "name"]),
               alias="$tag_tool $tag_name")], "percent"))
        .with_panel(graph("Latency per second: p50, p95, p99 (highest second per point)", PERCENTILES_OVER_TIME,
                          percentile_targets(where, ["tool", "name"]), "ms", span=24, height=10))
        .with_panel(graph(
            "Failed requests by cause",
            "Failed requests per graph point by cause (crossload_errors), per tool and request.",
            [Q("A", interval_query('sum("count")', where, ["tool", "name", "cause"], measurement="crossload_errors"),
               alias="$tag_tool $tag_name: $tag_cause")], "short", bars=True))
        .with_panel(graph(
            "Responses by status class",
            "Requests per graph point by status class (crossload_status: 2xx ... 5xx, error = no response).",
            [Q("A", interval_query('sum("count")', where, ["tool", "status_class"], measurement="crossload_status"),
               alias="$tag_tool $tag_status_class")], "short", bars=True))
    )


DASHBOARDS = {
    "crossload-run-overview.json": run_overview,
    "crossload-cross-tool.json": cross_tool,
    "crossload-run-vs-run.json": run_vs_run,
    "crossload-request-drilldown.json": request_drilldown,
}


def render() -> dict[str, str]:
    """File name -> the JSON text this module generates."""
    out: dict[str, str] = {}
    for name, make in DASHBOARDS.items():
        data = json.loads(json.dumps(make().build(), cls=JSONEncoder))
        _number_panels(data["panels"])
        _importable(data)
        out[name] = json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    return out


def _importable(data: dict[str, object]) -> None:
    """What Grafana's import dialog reads: the data source input and the plugins the dashboard needs."""
    data["__inputs"] = [{
        "name": DS_INPUT, "label": "InfluxDB", "type": "datasource", "pluginId": "influxdb",
        "pluginName": "InfluxDB",
        "description": "InfluxDB holding crossload's measurements (1.x, 2.x with a DBRP mapping, or 3.x; InfluxQL)",
    }]
    kinds: set[str] = set()

    def collect(panels: object) -> None:
        for panel in panels if isinstance(panels, list) else []:
            if isinstance(panel, dict):
                if panel.get("type") != "row":
                    kinds.add(str(panel.get("type")))
                collect(panel.get("panels"))

    collect(data.get("panels"))
    requires = [{"type": "grafana", "id": "grafana", "name": "Grafana", "version": GRAFANA_VERSION},
                {"type": "datasource", "id": "influxdb", "name": "InfluxDB", "version": "1.0.0"}]
    requires += [{"type": "panel", "id": kind, "name": kind, "version": ""} for kind in sorted(kinds)]
    data["__requires"] = requires


def _number_panels(panels: list[dict[str, object]], start: int = 1) -> int:
    """Give every panel (rows and the panels they hold included) a unique id, in reading order: Grafana
    links, embeds and repeats panels by id, and an imported dashboard keeps them."""
    next_id = start
    for panel in panels:
        panel["id"] = next_id
        next_id += 1
        inner = panel.get("panels")
        if isinstance(inner, list):
            next_id = _number_panels(inner, next_id)
    return next_id


def main(argv: Sequence[str] | None = None, folder: Path = HERE) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="compare only; exit 1 when a file differs")
    args = parser.parse_args(argv)
    differ = []
    for name, text in render().items():
        path = folder / name
        if path.exists() and path.read_text(encoding="utf-8") == text:
            continue
        differ.append(name)
        if not args.check:
            path.write_text(text, encoding="utf-8")
    if args.check:
        for name in differ:
            print(f"{folder / name}: differs from what dashboards/generate.py produces "
                  "(run `invoke dashboards` and commit the result)", file=sys.stderr)
        return 1 if differ else 0
    for name in differ:
        print(f"wrote {folder / name}")
    print(f"{len(DASHBOARDS)} dashboards, {len(differ)} changed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
