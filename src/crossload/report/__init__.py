"""Reports of a run: the terminal table now; HTML, Markdown and JUnit reports build on summary.json."""

from __future__ import annotations

from crossload.report.table import side_by_side_table

__all__ = ["side_by_side_table"]
