"""The end-of-run table: every request's numbers for every tool, then the failed requests by cause.

It reads the typed summary (``crossload.summary``) and fits the terminal: ``width`` is the number of
columns available (callers pass ``shutil.get_terminal_size().columns``); no line is longer. The first
layout that fits is used:

1. side by side (``width`` >= 120): one row per request, both tools in adjacent columns under every number;
2. one block per tool: one row per request, one column per number;
3. one block per tool, a few lines per request (narrow terminals).

Latency columns (p50, p90, p95, p99, mean, max) are those of successful responses, as the summary's
top-level latency fields are (``all_requests`` there holds every request); a footnote says so. Below the
table, the failed requests of each tool are listed by cause, per request: ``errors (locust) item detail:
HTTP 500 \u00d712, connection refused \u00d73`` (\u00d7: the multiplication sign).
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from dataclasses import dataclass

from crossload.summary import RequestSummary, RunSummary, ToolSummary

SIDE_BY_SIDE_MIN_WIDTH = 120
MIN_WIDTH = 20
ALL = "ALL"
_LABEL_MAX = 28
_LABEL_MIN = 8
FOOTNOTE = ("latency columns (p50, p90, p95, p99, mean, max): ms, successful responses only "
            "(summary.json's all_requests covers every request); errors %: failed / all requests")


@dataclass(frozen=True)
class Column:
    title: str  # side by side
    short: str  # in a block per tool
    field: str
    fmt: str


COLUMNS = (
    Column("requests", "requests", "count", "{:d}"),
    Column("req/s", "req/s", "rps", "{:.1f}"),
    Column("errors %", "err %", "error_rate", "{:.2f}"),
    Column("p50 ms", "p50", "p50_ms", "{:.1f}"),
    Column("p90 ms", "p90", "p90_ms", "{:.1f}"),
    Column("p95 ms", "p95", "p95_ms", "{:.1f}"),
    Column("p99 ms", "p99", "p99_ms", "{:.1f}"),
    Column("mean ms", "mean", "mean_ms", "{:.1f}"),
    Column("max ms", "max", "max_ms", "{:.1f}"),
)


def _cell(stats: RequestSummary | None, column: Column) -> str:
    if stats is None:  # the tool never sent this request
        return "0" if column.field == "count" else "-"
    value = getattr(stats, column.field)
    if value is None:
        return "-"
    return column.fmt.format(value)


def _printable(name: str) -> str:
    return ascii(name)[1:-1] if not name.isprintable() else name


def _label(name: str, width: int = _LABEL_MAX) -> str:
    shown = _printable(name)
    if len(shown) <= width:
        return shown
    return shown[: max(0, width - 1)] + "…" if width > 0 else ""


def _tool_summary(value: object) -> ToolSummary:
    return value if isinstance(value, ToolSummary) else ToolSummary.model_validate(value)


@dataclass(frozen=True)
class _Rows:
    """Rows of the table: (request name, that request's numbers per tool, in the tools' order); requests
    sorted by name, then ALL."""

    tools: list[str]
    rows: list[tuple[str, list[RequestSummary | None]]]

    @classmethod
    def of(cls, tools: Mapping[str, ToolSummary]) -> _Rows:
        names = sorted({name for summary in tools.values() for name in summary.requests})
        rows: list[tuple[str, list[RequestSummary | None]]] = [
            (name, [summary.requests.get(name) for summary in tools.values()]) for name in names
        ]
        rows.append((ALL, [summary.overall for summary in tools.values()]))
        return cls(list(tools), rows)


def _label_width(rows: _Rows, fixed: int, width: int) -> int | None:
    """The request column's width so that ``fixed`` more columns fit in ``width``; None if nothing fits."""
    longest = max(len("request"), *(len(_label(name)) for name, _ in rows.rows))
    available = width - fixed
    if available < min(longest, _LABEL_MIN):
        return None
    return min(longest, available)


def _side_by_side(rows: _Rows, width: int) -> list[str] | None:
    names = rows.tools
    cells = [[[_cell(s, c) for s in stats] for c in COLUMNS] for _name, stats in rows.rows]
    widths: list[tuple[int, int]] = []
    for ci, column in enumerate(COLUMNS):
        w = max(len(n) for n in names)
        for row in cells:
            w = max(w, *(len(v) for v in row[ci]))
        group = max(len(column.title), w * len(names) + (len(names) - 1))
        widths.append((w, group))
    fixed = sum(g + 3 for _w, g in widths)
    label_w = _label_width(rows, fixed, width)
    if label_w is None:
        return None
    head1 = [" " * label_w] + [c.title.center(g) for c, (_w, g) in zip(COLUMNS, widths, strict=True)]
    head2 = ["request".ljust(label_w)] + [" ".join(n.rjust(w) for n in names).rjust(g) for w, g in widths]
    sep = "─┼─".join(["─" * label_w] + ["─" * g for _w, g in widths])
    lines = [" │ ".join(head1).rstrip(), " │ ".join(head2), sep]
    for (name, _stats), row in zip(rows.rows, cells, strict=True):
        if name == ALL and len(rows.rows) > 1:
            lines.append(sep)
        parts = [_label(name, label_w).ljust(label_w)] + [
            " ".join(v.rjust(w) for v in values).rjust(g) for values, (w, g) in zip(row, widths, strict=True)
        ]
        lines.append(" │ ".join(parts))
    return lines


def _heading(tool: str, width: int) -> str:
    text = f"── {_label(tool, max(1, width - 4))} "
    return text + "─" * max(0, width - len(text))


def _tool_table(rows: _Rows, index: int, width: int) -> list[str] | None:
    cells = [[_cell(stats[index], c) for c in COLUMNS] for _name, stats in rows.rows]
    widths = [max(len(c.short), *(len(row[ci]) for row in cells)) for ci, c in enumerate(COLUMNS)]
    fixed = sum(w + 2 for w in widths)
    label_w = _label_width(rows, fixed, width)
    if label_w is None:
        return None
    total = label_w + fixed
    head = "request".ljust(label_w) + "".join("  " + c.short.rjust(w) for c, w in zip(COLUMNS, widths, strict=True))
    lines = [_heading(rows.tools[index], total), head, "─" * total]
    for (name, _stats), row in zip(rows.rows, cells, strict=True):
        if name == ALL and len(rows.rows) > 1:
            lines.append("─" * total)
        lines.append(_label(name, label_w).ljust(label_w)
                     + "".join("  " + v.rjust(w) for v, w in zip(row, widths, strict=True)))
    return lines


def _pack(items: list[str], width: int, indent: str = "", first: str = "", sep: str = "  ") -> list[str]:
    """Lay ``items`` out on lines of at most ``width`` characters; an item only breaks when it cannot fit."""
    lines: list[str] = []
    line = first
    for item in items:
        gap = sep if line.strip() else ""
        if len(line) + len(gap) + len(item) <= width:
            line += gap + item
            continue
        if line.strip():
            lines.append(line.rstrip())
            line = indent
        while 0 < width - len(line) < len(item):
            room = width - len(line)
            lines.append(line + item[:room])
            item = item[room:].lstrip()
            line = indent
        line += item
    if line.strip():
        lines.append(line.rstrip())
    return lines


def _tool_paragraphs(rows: _Rows, index: int, width: int) -> list[str]:
    lines = [_heading(rows.tools[index], width)]
    for name, stats in rows.rows:
        lines.append(_label(name, width))
        items = [f"{c.short} {_cell(stats[index], c)}" for c in COLUMNS]
        lines.extend(_pack(items, width, indent="  ", first="  "))
    return lines


def _wrap(text: str, width: int, indent: str = "  ") -> list[str]:
    return textwrap.wrap(text, width=width, subsequent_indent=indent, break_on_hyphens=False) or [""]


def error_lines(tools: Mapping[str, ToolSummary] | RunSummary, width: int = SIDE_BY_SIDE_MIN_WIDTH) -> list[str]:
    """``errors (TOOL) REQUEST: CAUSE \u00d7N, ...`` for every request with failures, wrapped to ``width``."""
    width = max(width, MIN_WIDTH)
    summaries = tools.tools if isinstance(tools, RunSummary) else tools
    lines: list[str] = []
    for tool, raw in summaries.items():
        summary = _tool_summary(raw)
        scoped = [(name, r) for name, r in summary.requests.items() if r.failures]
        if not scoped and summary.overall.failures:
            scoped = [(ALL, summary.overall)]
        for name, r in scoped:
            ranked = sorted(r.errors.items(), key=lambda kv: (-kv[1], kv[0]))
            items = [f"{_printable(cause)} ×{n}" for cause, n in ranked]
            unexplained = r.failures - sum(n for _c, n in ranked)
            if unexplained > 0:
                items.append(f"cause not recorded ×{unexplained}")
            items = [item + ("," if i < len(items) - 1 else "") for i, item in enumerate(items)]
            lines.extend(_pack([f"errors ({tool}) {_printable(name)}:", *items], width, indent="    ", sep=" "))
    return lines


def side_by_side_table(tools: Mapping[str, ToolSummary] | RunSummary, width: int = SIDE_BY_SIDE_MIN_WIDTH) -> str:
    """The table of a run's summary, at most ``width`` columns wide; tools appear in the order given."""
    width = max(width, MIN_WIDTH)
    summaries = {name: _tool_summary(s) for name, s in (tools.tools if isinstance(tools, RunSummary)
                                                         else tools).items()}
    if not summaries:
        return "no tool ran: nothing to show"
    rows = _Rows.of(summaries)
    lines = _side_by_side(rows, width) if width >= SIDE_BY_SIDE_MIN_WIDTH else None
    if lines is None:
        lines = []
        for i in range(len(rows.tools)):
            if i:
                lines.append("")
            lines.extend(_tool_table(rows, i, width) or _tool_paragraphs(rows, i, width))
    lines.append("")
    lines.extend(_wrap(FOOTNOTE, width))
    errors = error_lines(summaries, width)
    if errors:
        lines.append("")
        lines.extend(errors)
    return "\n".join(lines)


__all__ = ["COLUMNS", "FOOTNOTE", "SIDE_BY_SIDE_MIN_WIDTH", "error_lines", "side_by_side_table"]
