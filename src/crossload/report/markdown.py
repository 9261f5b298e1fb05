"""Markdown summaries (GitHub-flavoured tables): the run (``report.md``), the tool comparison
(``compare.md``) and the regression report (``regression.md``). Each is also appended to the file
``$GITHUB_STEP_SUMMARY`` names when that is set (``crossload.report.outputs``), so a CI job shows it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from crossload.report.baseline import PASS, RegressionReport
from crossload.report.compare import LABELS, Comparison, format_diff
from crossload.report.rundata import ALL, RunData
from crossload.summary import RequestSummary
from crossload.units import format_bytes

STATUS_ICON = {"passed": "✅", "thresholds_failed": "❌", "failed": "❌", "interrupted": "⚠️", "running": "⏳",
               "aborted": "🛑", "pass": "✅", "regressed": "❌", "improved": "🟦"}


def cell(value: object) -> str:
    """Text safe inside a table cell: no pipe, no line break, no HTML."""
    text = str(value).replace("\\", "\\\\").replace("|", "\\|").replace("\r", " ").replace("\n", " ")
    return text.replace("<", "&lt;").replace(">", "&gt;")


def table(head: Sequence[str], rows: Iterable[Sequence[str]], right: Iterable[int] = ()) -> list[str]:
    align = set(right)
    lines = ["| " + " | ".join(head) + " |",
             "|" + "|".join("---:" if i in align else "---" for i in range(len(head))) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def _num(value: float | int | None, digits: int = 1) -> str:
    if value is None:
        return "–"
    if isinstance(value, int):
        return str(value)
    return f"{value:.{digits}f}"


COLUMNS = (("count", "requests", 0), ("rps", "req/s", 1), ("error_rate", "err %", 2), ("p50_ms", "p50", 1),
           ("p90_ms", "p90", 1), ("p95_ms", "p95", 1), ("p99_ms", "p99", 1), ("max_ms", "max", 1))


def run_markdown(data: RunData, html_name: str = "report.html") -> str:
    s = data.summary
    profile = data.profile
    versions = ", ".join(f"{k} {v}" for k, v in (data.manifest.get("tool_versions") or {}).items())
    lines = [f"## {STATUS_ICON.get(s.status, '')} crossload run `{data.run_id}`: {s.status}".replace("##  ", "## "),
             "",
             f"Scenario **{cell(s.scenario)}**, profile **{cell(profile.get('profile', s.profile))}** "
             f"({cell(profile.get('total_s', '?'))} s, peak {cell(profile.get('peak_users', '?'))} users); "
             f"{cell(versions)}. Latency in ms, successful responses only.", ""]
    names = sorted({n for t in s.tools.values() for n in t.requests})
    rows = []
    for name in [*names, ALL]:
        for tool, ts in s.tools.items():
            r: RequestSummary | None = ts.overall if name == ALL else ts.requests.get(name)
            label = f"**{ALL}**" if name == ALL else cell(name)
            rows.append([label, cell(tool)] + [_num(None if r is None else getattr(r, k), d) if k != "count"
                                               else str(0 if r is None else r.count) for k, _l, d in COLUMNS])
    lines += table(["request", "tool", *(label for _k, label, _d in COLUMNS)], rows, right=range(2, 10))
    if s.thresholds:
        lines += ["", "### Thresholds", ""]
        trows = []
        for v in s.thresholds:
            trows.append(["✅" if v.passed else "❌", cell(v.tool), cell(v.threshold) + (" (guard)" if v.guard else ""),
                          cell(v.scope), cell(v.shown())])
        lines += table(["", "tool", "threshold", "scope", "measured"], trows)
    errors = [(tool, name, cause, n) for tool, ts in s.tools.items() for name, r in ts.requests.items()
              for cause, n in r.errors.items() if r.failures]
    if errors:
        lines += ["", "### Failed requests by cause", ""]
        lines += table(["tool", "request", "cause", "count"],
                       [[cell(t), cell(nm), cell(c), str(n)] for t, nm, c, n in errors], right=[3])
    resources = []
    for tool, ts in s.tools.items():
        if ts.target is not None:
            g = ts.target
            resources.append([cell(tool), "target", f"{g.cpu_mean_pct:.1f} / {g.cpu_max_pct:.1f}",
                              cell(f"{format_bytes(g.rss_start_bytes)} → {format_bytes(g.rss_end_bytes)} "
                                   f"(growth {format_bytes(g.rss_growth_bytes)})"), ""])
        if ts.generator is not None:
            q = ts.generator
            resources.append([cell(tool), "generator", f"{q.cpu_mean_pct:.1f} / {q.cpu_max_pct:.1f}",
                              cell(f"max {format_bytes(q.rss_max_bytes)}"),
                              f"⚠️ saturated {q.saturated_s} s" if q.saturated else "ok"])
    if resources:
        lines += ["", "### Resources", ""]
        lines += table(["tool", "process", "CPU mean / max (% of one core)", "memory (RSS)", "generator"],
                       resources)
    lines += ["", f"Charts: `{cell(html_name)}` in the run's folder (`results/{data.run_id}/`).", ""]
    return "\n".join(lines)


def comparison_markdown(c: Comparison) -> str:
    a, b = c.tools
    flagged = c.flagged
    lines = [f"## {'⚠️' if flagged else '✅'} {cell(a)} vs {cell(b)}: run `{c.run_id}`", "",
             f"{len(flagged)} difference(s) beyond what the tools' definitions explain. Each cell: {cell(a)} / "
             f"{cell(b)} (difference {cell(b)} − {cell(a)}, relative to {cell(a)}); ⚠️ marks a flagged one.", ""]
    rows = []
    for row in sorted(c.rows, key=lambda r: (r.request != ALL, r.request)):
        cells = [f"**{ALL}**" if row.request == ALL else cell(row.request)]
        for m in row.metrics:
            absolute, relative = format_diff(m)
            digits = 0 if m.unit == "requests" else 2 if m.unit == "%" else 1
            cells.append(("⚠️ " if m.flagged else "") + f"{_num(m.values[a], digits)} / {_num(m.values[b], digits)} "
                         f"({absolute}, {relative})")
        rows.append(cells)
    head = ["request"] + [LABELS[m.metric] + (" ms" if m.unit == "ms" else "") for m in c.rows[0].metrics]
    lines += table(head, rows, right=range(1, len(head)))
    if flagged:
        lines += ["", "Flagged:", ""] + [f"- {cell(request)}, {LABELS[m.metric]}: {cell(m.reason)}"
                                         for request, m in flagged]
    lines += ["", "Known definitional differences:", ""] + [f"- {cell(n)}" for n in c.notes] + [""]
    return "\n".join(lines)


def regression_markdown(report: RegressionReport) -> str:
    counts = report.counts()
    lines = [f"## {STATUS_ICON.get(report.verdict, '')} regression report `{report.run_id}`: {report.verdict}", "",
             f"Against {len(report.baselines)} baseline run(s) (`{cell(report.baseline_spec)}`: "
             f"{', '.join(f'`{b}`' for b in report.baselines)}): {counts['regressed']} regressed, "
             f"{counts['improved']} improved, {counts['pass']} pass.", ""]
    shown = [c for c in report.checks if c.verdict != PASS] or []
    overall = [c for c in report.checks if c.request == ALL and c.verdict == PASS]
    rows = []
    for c in [*shown, *overall]:
        rel = "–" if c.rel_delta_pct is None else f"{c.rel_delta_pct:+.1f} %"
        rows.append([STATUS_ICON.get(c.verdict, "") + " " + c.verdict, cell(c.tool), cell(c.request), cell(c.metric),
                     _num(c.baseline, 2), _num(c.run, 2), rel, "–" if c.p_value is None else f"{c.p_value:.2g}",
                     cell(c.note)])
    lines += table(["verdict", "tool", "request", "metric", "baseline", "run", "rel.", "p", "why"], rows,
                   right=range(4, 8))
    lines += ["", "Every check (per request too) is in `regression.json` and `regression.html`.", ""]
    return "\n".join(lines)


__all__ = ["cell", "comparison_markdown", "regression_markdown", "run_markdown", "table"]
