"""The end-of-run table: one row per request, both tools in adjacent columns for every number."""

from __future__ import annotations

from typing import Any

_COLUMNS = (
    ("requests", "count", "{:d}"),
    ("req/s", "rps", "{:.1f}"),
    ("errors %", "error_rate", "{:.2f}"),
    ("p50 ms", "p50_ms", "{:.1f}"),
    ("p95 ms", "p95_ms", "{:.1f}"),
    ("p99 ms", "p99_ms", "{:.1f}"),
    ("max ms", "max_ms", "{:.1f}"),
)


def _cell(stats: dict[str, Any] | None, key: str, fmt: str) -> str:
    if stats is None:
        return "-"
    value = stats.get(key)
    if value is None:
        return "-"
    return fmt.format(value)


def _label(name: str, width: int = 28) -> str:
    shown = ascii(name)[1:-1] if not name.isprintable() else name
    return shown if len(shown) <= width else shown[: width - 1] + "…"


def side_by_side_table(tools: dict[str, dict[str, Any]]) -> str:
    """Render summary.json's ``tools`` as text; tools appear in the order given."""
    names = list(tools)
    requests: list[str] = []
    for summary in tools.values():
        for name in summary["requests"]:
            if name not in requests:
                requests.append(name)
    rows: list[tuple[str, list[dict[str, Any] | None]]] = [
        (r, [tools[t]["requests"].get(r) for t in names]) for r in requests
    ]
    rows.append(("ALL", [tools[t]["overall"] for t in names]))

    label_w = max(8, *(len(_label(r)) for r, _ in rows))
    cells = [[[_cell(s, key, fmt) for s in stats] for _title, key, fmt in _COLUMNS] for _r, stats in rows]
    widths = []
    for ci, (title, _k, _f) in enumerate(_COLUMNS):
        w = max(len(n) for n in names)
        for row in cells:
            w = max(w, *(len(v) for v in row[ci]))
        group = max(len(title), w * len(names) + (len(names) - 1))
        widths.append((w, group))

    def group_line(parts: list[str]) -> str:
        return " │ ".join(parts)

    head1 = [" " * label_w] + [title.center(g) for (title, _k, _f), (_w, g) in zip(_COLUMNS, widths, strict=True)]
    head2 = ["request".ljust(label_w)] + [
        " ".join(n.rjust(w) for n in names).rjust(g) for (w, g) in widths
    ]
    sep = ["─" * label_w] + ["─" * g for _w, g in widths]
    lines = [group_line(head1), group_line(head2), "─┼─".join(sep)]
    for (r, _stats), row in zip(rows, cells, strict=True):
        if r == "ALL":
            lines.append("─┼─".join(sep))
        parts = [_label(r).ljust(label_w)] + [
            " ".join(v.rjust(w) for v in vals).rjust(g) for vals, (w, g) in zip(row, widths, strict=True)
        ]
        lines.append(group_line(parts))
    return "\n".join(lines)
