"""Self-contained HTML reports: one file, viewable offline, with charts drawn by uPlot (inlined).

Nothing is ever loaded from the network: uPlot's minified JavaScript and CSS (package data, see
``assets/README.md``) are inlined, the data is a JSON island, and a Content-Security-Policy of
``default-src 'none'`` keeps the browser from fetching anything at all. Tables are written here, in
Python (every user string escaped); charts are described here as data (``Chart``) and drawn by a short
script that hands each one to uPlot.

Pages: the run report (``report.html``, every run), the comparison of both tools (``compare.html``), the
regression report against a baseline (``regression.html``).
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from crossload import __version__
from crossload.histogram import Histogram
from crossload.report.baseline import RegressionReport
from crossload.report.compare import LABELS, Comparison, format_diff
from crossload.report.rundata import ALL, RunData, Series, success_hist
from crossload.summary import RequestSummary, VerdictSummary

UPLOT_VERSION = "1.6.32"
TOOL_COLORS = {"locust": "#1f77b4", "k6": "#7d3cbd"}
OTHER_COLORS = ("#2ca02c", "#d62728", "#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22")
PERCENTILE_COLORS = {"p50": "#2ca02c", "p90": "#1f77b4", "p95": "#ff7f0e", "p99": "#d62728"}
BINS_PER_DECADE = 20
CSP = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:"


def _asset(name: str) -> str:
    return resources.files("crossload.report").joinpath("assets", name).read_text(encoding="utf-8")


def e(value: object) -> str:
    return html.escape(str(value), quote=True)


def tool_color(tool: str, index: int = 0) -> str:
    return TOOL_COLORS.get(tool, OTHER_COLORS[index % len(OTHER_COLORS)])


@dataclass
class Chart:
    """A chart as data: ``x`` and one list of values per series (None: no value there)."""

    id: str
    title: str
    xlabel: str
    ylabel: str
    x: list[float]
    series: list[dict[str, Any]] = field(default_factory=list)
    logx: bool = False
    stepped: bool = False
    integer_x: bool = False  # ticks on whole numbers only (run numbers)

    def add(self, label: str, values: Sequence[float | None], color: str, dash: bool = False) -> None:
        self.series.append({"label": label, "values": list(values), "color": color, "dash": dash})

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "xlabel": self.xlabel, "ylabel": self.ylabel, "x": self.x,
                "series": self.series, "logx": self.logx, "stepped": self.stepped,
                "integer_x": self.integer_x}


# --- charts from the data ------------------------------------------------------------------------------

def _aligned(series: Mapping[str, Series], pick: str) -> tuple[list[float], dict[str, list[float | None]]]:
    """Several tools' values on one elapsed-time axis (the union of their points)."""
    xs = sorted({x for s in series.values() for x in s.x})
    out: dict[str, list[float | None]] = {}
    for tool, s in series.items():
        values: list[float | None] = list(getattr(s, pick))
        by_x = dict(zip(s.x, values, strict=True))
        out[tool] = [by_x.get(x) for x in xs]
    return [float(x) for x in xs], out


def _step_label(series: Mapping[str, Series]) -> str:
    step = max((s.step for s in series.values()), default=1)
    return "seconds since the tool started" + (f" ({step} s steps)" if step > 1 else "")


def latency_chart(tool: str, s: Series, chart_id: str) -> Chart:
    c = Chart(chart_id, f"Latency percentiles over time: {tool}", _step_label({tool: s}),
              "ms (successful responses)", [float(x) for x in s.x])
    for name, values in s.percentiles.items():
        c.add(name, values, PERCENTILE_COLORS.get(name, "#333"))
    return c


def rps_chart(series: Mapping[str, Series], chart_id: str) -> Chart:
    xs, values = _aligned(series, "rps")
    c = Chart(chart_id, "Requests per second", _step_label(series), "requests/s", xs)
    for i, (tool, v) in enumerate(values.items()):
        c.add(tool, v, tool_color(tool, i))
    return c


def users_chart(series: Mapping[str, Series], chart_id: str) -> Chart:
    xs, values = _aligned(series, "users")
    c = Chart(chart_id, "Users", _step_label(series), "users / VUs", xs)
    for i, (tool, v) in enumerate(values.items()):
        c.add(tool, v, tool_color(tool, i))
    return c


def errors_chart(series: Mapping[str, Series], chart_id: str) -> Chart:
    xs = sorted({x for s in series.values() for x in s.x})
    any_errors = any(s.errors for s in series.values())
    c = Chart(chart_id, "Failed requests per second by cause" + ("" if any_errors else ": none failed"),
              _step_label(series), "failed requests/s", [float(x) for x in xs])
    n = 0
    for i, (tool, s) in enumerate(series.items()):
        by_x = {x: k for k, x in enumerate(s.x)}
        if not s.errors:
            c.add(f"{tool}: all causes", [0.0 if x in by_x else None for x in xs], tool_color(tool, i))
            continue
        for cause, values in s.errors.items():
            c.add(f"{tool}: {cause}", [values[by_x[x]] if x in by_x else None for x in xs],
                  OTHER_COLORS[n % len(OTHER_COLORS)], dash=i > 0)
            n += 1
    return c


def log_bins(hists: Mapping[str, Histogram]) -> tuple[list[float], dict[str, list[float]]]:
    """Share (%) of each histogram's requests in logarithmic bins (``BINS_PER_DECADE`` per decade)."""
    keys = [k for h in hists.values() for k in h.buckets]
    if not keys:
        return [], {}

    def index(key_us: int) -> int:
        return math.floor(BINS_PER_DECADE * math.log10(max(key_us, 1) / 1000.0))

    lo, hi = min(index(k) for k in keys), max(index(k) for k in keys)
    edges = [round(10 ** (i / BINS_PER_DECADE), 6) for i in range(lo, hi + 2)]
    shares: dict[str, list[float]] = {}
    for label, h in hists.items():
        counts = [0] * (hi - lo + 1)
        for key, n in h.buckets.items():
            counts[index(key) - lo] += n
        total = h.count or 1
        shares[label] = [round(100.0 * c / total, 4) for c in counts] + [0.0]
    return edges, shares


def distribution_chart(hists: Mapping[str, Histogram], chart_id: str, title: str,
                       colors: Mapping[str, str] | None = None, dashed: Iterable[str] = ()) -> Chart:
    edges, shares = log_bins(hists)
    c = Chart(chart_id, title, "ms (logarithmic)", "% of successful responses", edges, logx=True, stepped=True)
    dash = set(dashed)
    for i, (label, values) in enumerate(shares.items()):
        c.add(label, values, (colors or {}).get(label, tool_color(label, i)), dash=label in dash)
    return c


def resource_charts(data: RunData, prefix: str = "run") -> list[Chart]:
    """The target's memory and CPU and the generators' CPU per second (monitor.jsonl), each tool from its start."""
    from crossload.monitor import read_samples

    by_tool: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for sample in read_samples(data.path):
        kinds = by_tool.setdefault(str(sample.get("tool")), {})
        kinds.setdefault(str(sample.get("kind")), []).append(sample)
    if not by_tool:
        return []
    starts = {tool: min(float(s["t"]) for rows in kinds.values() for s in rows) for tool, kinds in by_tool.items()}

    def chart(chart_id: str, title: str, ylabel: str, kind: str, field: str, scale: float = 1.0) -> Chart | None:
        points = {tool: {round(float(s["t"]) - starts[tool]): float(s[field]) / scale for s in kinds.get(kind, [])}
                  for tool, kinds in by_tool.items()}
        points = {tool: p for tool, p in points.items() if p}
        if not points:
            return None
        xs = sorted({x for p in points.values() for x in p})
        c = Chart(chart_id, title, "seconds since the tool started", ylabel, [float(x) for x in xs])
        for i, (tool, p) in enumerate(points.items()):
            c.add(tool, [p.get(x) for x in xs], tool_color(tool, i))
        return c

    made = [
        chart(f"{prefix}-target-rss", "Target memory (RSS) while each tool ran", "MB", "target", "rss_bytes", 1e6),
        chart(f"{prefix}-target-cpu", "Target CPU while each tool ran", "% of one core", "target", "cpu_pct"),
        chart(f"{prefix}-generator-cpu", "Load generator CPU (the tool's own processes)", "% of one core",
              "generator", "cpu_pct"),
    ]
    return [c for c in made if c is not None]


def run_charts(data: RunData, prefix: str = "run") -> list[Chart]:
    series = {tool: t.series() for tool, t in data.tools.items()}
    series = {tool: s for tool, s in series.items() if s.x}
    charts = [latency_chart(tool, s, f"{prefix}-latency-{i}") for i, (tool, s) in enumerate(series.items())]
    if series:
        charts += [rps_chart(series, f"{prefix}-rps"), errors_chart(series, f"{prefix}-errors"),
                   users_chart(series, f"{prefix}-users")]
    hists = {tool: success_hist(t.stats.overall) for tool, t in data.tools.items()}
    hists = {tool: h for tool, h in hists.items() if h.count}
    if hists:
        charts.append(distribution_chart(hists, f"{prefix}-distribution", "Latency distribution (all request "
                                         "names, successful responses)"))
    return charts + resource_charts(data, prefix)


# --- tables -----------------------------------------------------------------------------------------------

def _num(value: float | int | None, digits: int = 1) -> str:
    if value is None:
        return "–"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.{digits}f}"


def _table(head: Sequence[str], rows: Iterable[Sequence[str]], cls: str = "") -> str:
    """Cells are HTML already (callers escape)."""
    out = [f'<table class="{cls}"><thead><tr>' + "".join(f"<th>{h}</th>" for h in head) + "</tr></thead><tbody>"]
    for row in rows:
        out.append("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def badge(text: str, kind: str) -> str:
    return f'<span class="badge {e(kind)}">{e(text)}</span>'


STATUS_KIND = {"passed": "ok", "thresholds_failed": "bad", "failed": "bad", "interrupted": "warn", "running": "warn",
               "aborted": "bad",
               "pass": "ok", "regressed": "bad", "improved": "good"}


def thresholds_table(verdicts: Sequence[VerdictSummary]) -> str:
    if not verdicts:
        return "<p>No thresholds were judged.</p>"
    rows = []
    for v in verdicts:
        rows.append([badge("pass" if v.passed else "FAIL", "ok" if v.passed else "bad"), e(v.tool),
                     e(v.threshold) + (' <span class="muted">(guard)</span>' if v.guard else ""),
                     e(v.scope), e(v.shown()), f'<span class="muted">{e(v.location)}</span>'])
    return _table(["verdict", "tool", "threshold", "scope", "measured", "defined at"], rows, "thresholds")


REQUEST_COLUMNS = (("count", "requests", 0), ("rps", "req/s", 1), ("error_rate", "errors %", 2),
                   ("p50_ms", "p50 ms", 1), ("p90_ms", "p90 ms", 1), ("p95_ms", "p95 ms", 1),
                   ("p99_ms", "p99 ms", 1), ("max_ms", "max ms", 1))


def requests_table(data: RunData) -> str:
    tools = list(data.summary.tools)
    names = sorted({n for t in data.summary.tools.values() for n in t.requests})
    head = ["request", "tool"] + [label for _k, label, _d in REQUEST_COLUMNS]
    rows = []
    for name in [*names, ALL]:
        for tool in tools:
            ts = data.summary.tools[tool]
            s: RequestSummary | None = ts.overall if name == ALL else ts.requests.get(name)
            cells = [f"<b>{e(name)}</b>" if name == ALL else e(name), e(tool)]
            for key, _label, digits in REQUEST_COLUMNS:
                value = None if s is None else getattr(s, key)
                cells.append(_num(value if key != "count" else (value or 0), digits))
            rows.append(cells)
    return _table(head, rows, "numbers")


def errors_table(data: RunData) -> str:
    rows = []
    for tool, ts in data.summary.tools.items():
        scoped = [(name, r) for name, r in ts.requests.items() if r.failures]
        for name, r in scoped:
            for cause, n in sorted(r.errors.items(), key=lambda kv: (-kv[1], kv[0])):
                rows.append([e(tool), e(name), e(cause), _num(n)])
    if not rows:
        return "<p>No request failed.</p>"
    return _table(["tool", "request", "cause", "failed requests"], rows, "errors")


def comparison_table(c: Comparison) -> str:
    """One row per request (ALL first), one column per metric; a cell reads ``first / second`` over the
    difference; a flagged cell is highlighted and its reason is listed below the table."""
    a, b = c.tools
    rows = []
    ordered = sorted(c.rows, key=lambda r: (r.request != ALL, r.request))
    for row in ordered:
        cells = [f"<b>{e(row.request)}</b>" if row.request == ALL else e(row.request)]
        for m in row.metrics:
            absolute, relative = format_diff(m)
            digits = 0 if m.unit == "requests" else 2 if m.unit == "%" else 1
            text = (f"{_num(m.values[a], digits)} / {_num(m.values[b], digits)}"
                    f'<br><span class="diff">{e(absolute)} ({e(relative)})</span>')
            cells.append(f'<span class="flagged" title="{e(m.reason)}">{text}</span>' if m.flagged else text)
        rows.append(cells)
    head = ["request"] + [e(LABELS[m.metric]) + (" ms" if m.unit == "ms" else "") for m in c.rows[0].metrics]
    out = _table(head, rows, "comparison")
    flagged = c.flagged
    if flagged:
        out += '<ul class="flags">' + "".join(f"<li>{badge('FLAG', 'warn')} <b>{e(request)}</b>, "
                                             f"{e(LABELS[m.metric])}: {e(m.reason)}</li>" for request, m in flagged)
        out += "</ul>"
    return out


# --- the page ---------------------------------------------------------------------------------------------

_CSS = """
:root { --fg: #1d2330; --muted: #6b7280; --line: #e3e6ec; --bg: #ffffff; --panel: #f6f7f9; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif;
       color: var(--fg); background: var(--bg); }
main { max-width: 1200px; margin: 0 auto; padding: 20px 24px 48px; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 28px 0 10px; }
h3 { font-size: 14px; margin: 0 0 6px; font-weight: 600; }
.meta { color: var(--muted); margin: 0 0 14px; } .meta b { color: var(--fg); font-weight: 600; }
.muted { color: var(--muted); }
.cards { display: flex; flex-wrap: wrap; gap: 12px; }
.card { background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: 10px 14px;
        min-width: 220px; }
.card .big { font-size: 20px; font-weight: 600; }
table { border-collapse: collapse; width: 100%; margin: 6px 0 4px; font-variant-numeric: tabular-nums; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: var(--panel); font-weight: 600; }
table.numbers td:nth-child(n+3), table.comparison td:nth-child(n+2) { text-align: right; }
table.comparison th:nth-child(n+2) { text-align: right; }
.diff { color: var(--muted); font-size: 12px; }
table.regression td:nth-child(-n+10), table.numbers td, table.comparison td { white-space: nowrap; }
.flagged { display: inline-block; background: #fff1d6; border-radius: 4px; padding: 0 4px; }
ul.flags { padding-left: 18px; } ul.flags li { margin: 3px 0; list-style: none; }
.badge { display: inline-block; padding: 0 7px; border-radius: 10px; font-size: 12px; font-weight: 600; }
.badge.ok { background: #e3f5e8; color: #17652f; } .badge.bad { background: #fde4e4; color: #a11d1d; }
.badge.warn { background: #fff1d6; color: #8a5300; } .badge.good { background: #e0edff; color: #1c4e9c; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(520px, 1fr)); gap: 16px; }
.panel { border: 1px solid var(--line); border-radius: 6px; padding: 10px 10px 4px; min-width: 0; }
.chart { width: 100%; min-height: 260px; }
.notes li { margin: 3px 0; }
details.licenses { margin-top: 36px; color: var(--muted); } details.licenses pre { white-space: pre-wrap; }
.uplot .u-legend { font-size: 12px; }
"""

_SCRIPT = """
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("crossload-data").textContent);
  var made = [];
  function range(u, min, max) { return [0, (max == null || max <= 0) ? 1 : max * 1.1]; }
  data.charts.forEach(function (spec) {
    var el = document.getElementById(spec.id);
    if (!el) { return; }
    var series = [{ label: spec.xlabel }];
    var columns = [spec.x];
    spec.series.forEach(function (s) {
      var one = { label: s.label, stroke: s.color, width: 1.6, points: { show: !spec.stepped && spec.x.length < 40 } };
      if (s.dash) { one.dash = [6, 4]; }
      if (spec.stepped) { one.paths = uPlot.paths.stepped({ align: 1 }); }
      series.push(one);
      columns.push(s.values);
    });
    var opts = {
      width: Math.max(320, el.clientWidth), height: 260,
      scales: { x: { time: false, distr: spec.logx ? 3 : 1 }, y: { range: range } },
      axes: [spec.integer_x ? { label: spec.xlabel, incrs: [1, 2, 5, 10, 20, 50] } : { label: spec.xlabel },
             { label: spec.ylabel, size: 64 }],
      series: series
    };
    made.push({ el: el, plot: new uPlot(opts, columns, el) });
  });
  window.addEventListener("resize", function () {
    made.forEach(function (m) { m.plot.setSize({ width: Math.max(320, m.el.clientWidth), height: 260 }); });
  });
  document.documentElement.setAttribute("data-charts", String(made.length));
})();
"""


def _json_island(data: object) -> str:
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def chart_panels(charts: Sequence[Chart]) -> str:
    return '<div class="grid">' + "".join(
        f'<div class="panel"><h3>{e(c.title)}</h3><div class="chart" id="{e(c.id)}" data-chart></div></div>'
        for c in charts) + "</div>"


def page(title: str, body: str, charts: Sequence[Chart]) -> str:
    """The whole document: inlined uPlot, our CSS, the body, the data and the script that draws the charts."""
    license_text = _asset("uPlot.LICENSE")
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<meta name=\"generator\" content=\"crossload {e(__version__)}\"><title>{e(title)}</title>"
        f"<style>{_asset('uPlot.min.css')}</style><style>{_CSS}</style></head><body><main>{body}"
        f'<details class="licenses"><summary>Made by crossload {e(__version__)}; charts by uPlot '
        f"{UPLOT_VERSION} (MIT license)</summary><pre>{e(license_text)}</pre></details></main>"
        f'<script type="application/json" id="crossload-data">'
        f"{_json_island({'charts': [c.to_json() for c in charts]})}</script>"
        f"<script>{_asset('uPlot.iife.min.js')}</script><script>{_SCRIPT}</script></body></html>\n"
    )


def _run_header(data: RunData, heading: str, status: str | None = None) -> str:
    m = data.manifest
    profile = data.profile
    versions = ", ".join(f"{k} {v}" for k, v in (m.get("tool_versions") or {}).items())
    status = status or data.summary.status
    return (
        f"<h1>{e(heading)} {badge(status, STATUS_KIND.get(status, 'warn'))}</h1>"
        f'<p class="meta">run <b>{e(data.run_id)}</b> · scenario <b>{e(data.scenario)}</b> · profile '
        f"<b>{e(profile.get('profile', data.summary.profile))}</b> ({e(profile.get('total_s', '?'))} s, peak "
        f"{e(profile.get('peak_users', '?'))} users) · target {e((m.get('target') or {}).get('url', '?'))} · "
        f"{e(versions)} · {e(m.get('started_at', ''))}</p>"
    )


def _cards(data: RunData) -> str:
    cards = []
    for tool, ts in data.summary.tools.items():
        o = ts.overall
        p95 = "–" if o.p95_ms is None else f"{o.p95_ms:.1f} ms"
        cards.append(f'<div class="card"><h3>{e(tool)}</h3><div class="big">{o.count:,} requests</div>'
                     f"<div>{o.rps:.1f} req/s · p95 {e(p95)} · errors {o.error_rate:.2f} %</div></div>")
    return '<div class="cards">' + "".join(cards) + "</div>"


def run_body(data: RunData, charts: Sequence[Chart]) -> str:
    return (_cards(data) + "<h2>Thresholds</h2>" + thresholds_table(data.summary.thresholds)
            + "<h2>Charts</h2>" + chart_panels(charts)
            + "<h2>Requests</h2>" + requests_table(data)
            + '<p class="muted">Latency columns: successful responses only (summary.json\'s all_requests covers '
              "every request); errors %: failed / all requests.</p>"
            + "<h2>Failed requests by cause</h2>" + errors_table(data)
            + resources_table(data))


def resources_table(data: RunData) -> str:
    """The target's and the generators' resources per tool (summary.json), or nothing when not measured."""
    from crossload.units import format_bytes

    rows = []
    for tool, t in data.summary.tools.items():
        if t.target is not None:
            g = t.target
            rows.append([e(tool), "target", f"{g.cpu_mean_pct:.1f} / {g.cpu_max_pct:.1f}",
                         f"{e(format_bytes(g.rss_start_bytes))} → {e(format_bytes(g.rss_end_bytes))} "
                         f"(growth {e(format_bytes(g.rss_growth_bytes))})",
                         f"{g.threads_max} threads, {g.connections_max} connections", ""])
        if t.generator is not None:
            q = t.generator
            verdict = (badge(f"saturated {q.saturated_s} s", "bad") if q.saturated else badge("not saturated", "ok"))
            rows.append([e(tool), f"generator ({q.processes_max} process{'es' if q.processes_max != 1 else ''})",
                         f"{q.cpu_mean_pct:.1f} / {q.cpu_max_pct:.1f}", e(f"max {format_bytes(q.rss_max_bytes)}"),
                         e(f"limit {q.saturation_limit_pct:g} % ({q.cores} cores)"), verdict])
    if not rows:
        return ""
    return ("<h2>Resources</h2>"
            + _table(["tool", "process", "CPU mean / max (% of one core)", "memory (RSS)", "", "generator"], rows)
            + '<p class="muted">Sampled every second while each tool ran. A saturated generator (k6 above 80 % '
              "of the cores, a Locust process above 90 % of its core, for 3 s or more) measures its own queueing "
              "as well as the target's latency.</p>")


def render_run(data: RunData) -> str:
    charts = run_charts(data)
    return page(f"crossload {data.run_id}", _run_header(data, "Load test report") + run_body(data, charts), charts)


def comparison_body(c: Comparison) -> str:
    a, b = c.tools
    flagged = c.flagged
    summary = (f"<p>{badge(f'{len(flagged)} flagged', 'warn')} differences larger than the tools' definitions "
               f"explain.</p>" if flagged else
               f"<p>{badge('consistent', 'ok')} no difference beyond what the tools' definitions explain.</p>")
    rule = c.rule
    lat = ", ".join(f"{LABELS[k]} {v:g} %" for k, v in rule.latency_tolerance_pct.items())
    return (f"<h2>{e(a)} vs {e(b)}</h2>" + summary
            + f'<p class="muted">Each cell: {e(a)} / {e(b)}, then the difference {e(b)} − {e(a)} and, in '
              f"brackets, relative to {e(a)}. Flag rule: a latency percentile when the larger value exceeds the "
              f"smaller by more than its tolerance ({e(lat)}) and by more than {rule.floor_ms:g} ms, judged only "
              f"when the tail above it holds at least twice as many successful responses as there are users (max "
              f"is never flagged); error rate when the two proportions differ significantly (p &lt; "
              f"{rule.alpha:g}) by more than {rule.error_floor_pp:g} percentage point; RPS when the rates differ "
              f"by more than {rule.rps_tolerance_pct:g} % and significantly (p &lt; {rule.alpha:g}).</p>"
            + comparison_table(c)
            + '<h3 style="margin-top:14px">Known definitional differences</h3><ul class="notes">'
            + "".join(f"<li>{e(n)}</li>" for n in c.notes) + "</ul>")


def render_compare(data: RunData, c: Comparison) -> str:
    charts = run_charts(data)
    body = _run_header(data, f"Tool comparison: {' vs '.join(c.tools)}") + comparison_body(c) + run_body(data, charts)
    return page(f"crossload compare {data.run_id}", body, charts)


def regression_charts(report: RegressionReport, run: RunData, baselines: Sequence[RunData]) -> list[Chart]:
    charts: list[Chart] = []
    for i, (tool, data) in enumerate(run.tools.items()):
        bases = [b for b in baselines if tool in b.tools]
        if not bases:
            continue
        pooled = Histogram()
        for b in bases:
            pooled.merge(success_hist(b.tools[tool].stats.overall))
        current = success_hist(data.stats.overall)
        if pooled.count and current.count:
            labels = {"this run": current, f"baseline ({len(bases)} run{'s' if len(bases) > 1 else ''})": pooled}
            charts.append(distribution_chart(labels, f"reg-distribution-{i}", f"Latency distribution: {tool}",
                                             colors=dict(zip(labels, ("#d62728", "#7f7f7f"), strict=True)),
                                             dashed=list(labels)[1:]))
        trend = Chart(f"reg-trend-{i}", f"p95 and p99 per run: {tool}", "run (baselines oldest first, then this run)",
                      "ms (successful responses)", [float(k + 1) for k in range(len(bases) + 1)], integer_x=True)
        for q, color in ((95, PERCENTILE_COLORS["p95"]), (99, PERCENTILE_COLORS["p99"])):
            values: list[float | None] = []
            for d in [*bases, run]:
                h = success_hist(d.tools[tool].stats.overall)
                values.append(round(h.percentile_ms(q), 3) if h.count else None)
            trend.add(f"p{q}", values, color)
        charts.append(trend)
    return charts


def regression_table(report: RegressionReport) -> str:
    rows = []
    order = {"regressed": 0, "improved": 1, "pass": 2}
    for c in sorted(report.checks, key=lambda c: order.get(c.verdict, 3)):
        tol = "–" if c.tolerance is None else f"{c.tolerance:.3g} ({c.tolerance_from})"
        rel = "–" if c.rel_delta_pct is None else f"{c.rel_delta_pct:+.1f} %"
        p = "–" if c.p_value is None else f"{c.p_value:.2g}"
        rows.append([badge(c.verdict, STATUS_KIND.get(c.verdict, "warn")), e(c.tool),
                     f"<b>{e(c.request)}</b>" if c.request == ALL else e(c.request), e(METRIC_LABELS[c.metric]),
                     _num(c.baseline, 2), _num(c.run, 2), _num(c.delta, 2), e(rel), e(tol), e(p),
                     f'<span class="muted">{e(c.note)}</span>'])
    return _table(["verdict", "tool", "request", "metric", "baseline", "run", "delta", "rel.", "tolerance", "p",
                   "why"], rows, "regression")


METRIC_LABELS = {"p95_ms": "p95 ms", "p99_ms": "p99 ms", "error_rate": "errors %", "rps": "req/s"}


def regression_body(report: RegressionReport, charts: Sequence[Chart]) -> str:
    counts = report.counts()
    s = report.settings
    return (f"<p>{badge(report.verdict, STATUS_KIND.get(report.verdict, 'warn'))} {counts['regressed']} regressed, "
            f"{counts['improved']} improved, {counts['pass']} pass · baseline <b>{e(report.baseline_spec)}</b>: "
            f"{e(', '.join(report.baselines))}</p>"
            f'<p class="muted">Each test at p &lt; {report.alpha_per_check or s.alpha:g} ({s.alpha:g} for the '
            "whole report, divided by its number of checks). Latency (p95, p99 of successful responses): "
            "regressed when a one-sided Kolmogorov–Smirnov test on the histograms is significant, the "
            "percentile's 99 % confidence intervals do not overlap, and the change exceeds the tolerance: the "
            f"largest of {s.floor_ms:g} ms, {s.tolerance_pct:g} % of the baseline and {s.k_sigma:g} standard "
            "deviations across the baseline runs; each user's first request (a connection's setup) may not "
            f"decide. Error rate: proportion test, change above {s.error_floor_pp:g} percentage point (or the "
            f"learned spread). RPS: Poisson rate test, change above {s.tolerance_pct:g} % (or the learned "
            "spread); lower is worse.</p>"
            + "<h2>Checks</h2>" + regression_table(report)
            + "<h2>Charts</h2>" + chart_panels(charts)
            + '<p class="muted">The run\'s own report: <a href="report.html">report.html</a>.</p>')


def render_regression(report: RegressionReport, run: RunData, baselines: Sequence[RunData]) -> str:
    charts = regression_charts(report, run, baselines)
    body = _run_header(run, "Regression report", report.verdict) + regression_body(report, charts)
    return page(f"crossload report {run.run_id}", body, charts)


__all__ = ["Chart", "comparison_body", "distribution_chart", "log_bins", "page", "regression_body", "render_compare",
           "render_regression", "render_run", "run_charts"]
