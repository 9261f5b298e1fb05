"""Every report file, written into the run's folder, with the paths printed.

| when | files (in ``results/<run-id>/``) |
|---|---|
| every run (``crossload.run``) | ``report.html``, ``report.md``, ``junit.xml`` (``summary.json`` is the JSON) |
| ``crossload compare`` | ``compare.html``, ``compare.md``, ``compare.json`` |
| ``crossload report`` | ``regression.html``, ``regression.md``, ``regression.json``, ``regression.junit.xml`` |

Each Markdown file is also appended to ``$GITHUB_STEP_SUMMARY`` when that variable names a file.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from crossload.report import html, junit, markdown
from crossload.report.baseline import RegressionReport
from crossload.report.compare import Comparison
from crossload.report.rundata import RunData, load_run
from crossload.results import write_json

STEP_SUMMARY = "GITHUB_STEP_SUMMARY"


def _write_text(path: Path, text: str) -> Path:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return path


def append_step_summary(text: str) -> Path | None:
    """Append ``text`` to the file ``$GITHUB_STEP_SUMMARY`` names (GitHub Actions); None when unset."""
    name = os.environ.get(STEP_SUMMARY, "").strip()
    if not name:
        return None
    target = Path(name)
    with target.open("a", encoding="utf-8") as f:
        f.write(text.rstrip("\n") + "\n\n")
    return target


def _size(path: Path) -> str:
    n = path.stat().st_size
    return f"{n / 1024:.0f} KB" if n >= 1024 else f"{n} B"


def describe(paths: Sequence[Path]) -> str:
    """``results/ID/report.html (64 KB), report.md, junit.xml``: the first with its folder and size."""
    first, rest = paths[0], paths[1:]
    return ", ".join([f"{first} ({_size(first)})", *(p.name for p in rest)])


def write_run_reports(path: Path, data: RunData | None = None) -> list[Path]:
    """``report.html``, ``report.md`` and ``junit.xml`` of the run in ``path``; the Markdown also goes to the
    step summary."""
    data = data or load_run(path)
    md = markdown.run_markdown(data)
    written = [_write_text(path / "report.html", html.render_run(data)), _write_text(path / "report.md", md),
               junit.write(junit.thresholds_junit(data.summary), path / "junit.xml")]
    append_step_summary(md)
    return written


def report_run(path: Path, out: TextIO | None) -> list[Path]:
    """What a run calls at its end: write the reports and say where they are. A report that cannot be
    written never changes the run's outcome: the data is already stored, so it says why and goes on."""
    try:
        written = write_run_reports(path)
    except Exception as e:  # the run's data is safe: a report problem is news, not a crash
        if out is not None:
            out.write(f"reports: not written ({type(e).__name__}: {e})\n")
        return []
    if out is not None:
        out.write(f"reports: {describe(written)}\n")
    return written


def write_compare_outputs(data: RunData, comparison: Comparison) -> list[Path]:
    md = markdown.comparison_markdown(comparison)
    path = data.path
    written = [_write_text(path / "compare.html", html.render_compare(data, comparison)),
               _write_text(path / "compare.md", md)]
    write_json(path / "compare.json", comparison.to_json())
    written.append(path / "compare.json")
    append_step_summary(md)
    return written


def write_regression_outputs(report: RegressionReport, run: RunData, baselines: Sequence[RunData]) -> list[Path]:
    md = markdown.regression_markdown(report)
    path = run.path
    written = [_write_text(path / "regression.html", html.render_regression(report, run, baselines)),
               _write_text(path / "regression.md", md)]
    write_json(path / "regression.json", report.to_json())
    written.append(path / "regression.json")
    written.append(junit.write(junit.regression_junit(report), path / "regression.junit.xml"))
    append_step_summary(md)
    return written


__all__ = ["STEP_SUMMARY", "append_step_summary", "describe", "report_run", "write_compare_outputs",
           "write_regression_outputs", "write_run_reports"]
