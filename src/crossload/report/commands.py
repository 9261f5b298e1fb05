"""``crossload compare`` and ``crossload report``: what the two commands do, between their flags
(``crossload.tasks_api``) and the reports (``crossload.report.outputs``)."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import TextIO

from crossload.errors import EXIT_PASS, EXIT_THRESHOLDS
from crossload.report.baseline import REGRESSED, RegressionSettings, build, verdict_text
from crossload.report.compare import compare_tools, comparison_text
from crossload.report.outputs import describe, write_compare_outputs, write_regression_outputs
from crossload.report.rundata import load_run
from crossload.run import RunRequest, execute


def compare(request: RunRequest, out: TextIO) -> int:
    """Run both tools (``crossload.run.execute`` with ``tool="both"``), then compare them.

    The exit code is the run's (thresholds, failures): a flagged difference is information, not a failure.
    """
    result = execute(dataclasses.replace(request, tool="both"), out)
    if result.run_id is None or result.path is None or result.summary is None:
        if result.message:
            print(result.message, file=sys.stderr)  # as `crossload run` says it: one line, before any load
        return result.exit_code
    if len(result.summary.tools) < 2:
        out.write(f"comparison: not possible, only {', '.join(result.summary.tools) or 'no tool'} ran "
                  f"({result.message})\n")
        return result.exit_code
    data = load_run(result.path)
    comparison = compare_tools(data.summary)
    written = write_compare_outputs(data, comparison)
    out.write("\n" + comparison_text(comparison) + "\n")
    out.write(f"comparison: {describe(written)}\n")
    return result.exit_code


def report(run: str | None, baseline: str | None, out: TextIO, root: Path | None = None,
           settings: RegressionSettings | None = None) -> int:
    """Judge a stored run against its baseline; exit 1 on a regression (2 for bad input, raised)."""
    result, current, baselines = build(run, baseline, root, settings)
    written = write_regression_outputs(result, current, baselines)
    out.write(verdict_text(result) + "\n")
    out.write(f"report: {describe(written)}\n")
    return EXIT_THRESHOLDS if result.verdict == REGRESSED else EXIT_PASS


__all__ = ["compare", "report"]
