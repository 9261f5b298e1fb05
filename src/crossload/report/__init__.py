"""Reports of a run, all built on the typed summary and the local store.

table (end-of-run terminal table), console (progress, target news), outputs (report.html, report.md,
junit.xml of every run), compare (Locust vs k6), baseline + stats (run vs baseline regression), html /
markdown / junit (the formats), commands (the compare and report entry points).
"""

from __future__ import annotations

from crossload.report.table import side_by_side_table

__all__ = ["side_by_side_table"]
