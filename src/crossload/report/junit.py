"""JUnit XML, written with junitparser: what CI systems show as test results.

- ``junit.xml`` (every run): one ``testsuite`` per tool, one ``testcase`` per threshold per tool, guards
  included (named ``... (guard)``); a failed threshold is a ``failure`` with the measured value.
- ``regression.junit.xml`` (``crossload report``): one ``testsuite`` per tool, one ``testcase`` per regression
  check (tool, request, metric); a regression is a ``failure``, an improvement passes and says so.

The shape is the common one (testsuites > testsuite > testcase > failure, system-out), as CI servers read it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from junitparser import Failure, JUnitXml, TestCase, TestSuite

from crossload.report.baseline import IMPROVED, REGRESSED, RegressionReport
from crossload.summary import RunSummary, VerdictSummary


def _threshold_case(v: VerdictSummary) -> TestCase:
    scope = v.scope
    name = f"{v.threshold}{' (guard)' if v.guard else ''} [{scope}]"
    case = TestCase(name, classname=f"crossload.thresholds.{v.tool}", time=0.0)
    measured = v.shown()
    if not v.passed:
        case.result = [Failure(f"{v.tool}: {v.threshold} ({scope}): measured {measured}", "threshold")]
    case.system_out = f"measured {measured}; limit {v.op} {v.limit:g} {v.unit}; defined at {v.location}".strip()
    return case


def _suite(name: str, cases: Sequence[TestCase], duration_s: float = 0.0) -> TestSuite:
    suite = TestSuite(name)
    for case in cases:
        suite.add_testcase(case)
    suite.time = duration_s
    suite.update_statistics()  # type: ignore[no-untyped-call]
    return suite


def thresholds_junit(summary: RunSummary) -> JUnitXml:
    xml = JUnitXml(f"crossload {summary.run_id}")
    tools = list(dict.fromkeys([*summary.tools, *(v.tool for v in summary.thresholds)]))
    for tool in tools:
        cases = [_threshold_case(v) for v in summary.thresholds if v.tool == tool]
        duration = summary.tools[tool].duration_s if tool in summary.tools else 0.0
        xml.add_testsuite(_suite(f"crossload.thresholds.{tool}", cases, duration))
    xml.update_statistics()  # type: ignore[no-untyped-call]
    return xml


def regression_junit(report: RegressionReport) -> JUnitXml:
    xml = JUnitXml(f"crossload regression {report.run_id}")
    for tool in dict.fromkeys(c.tool for c in report.checks):
        cases = []
        for c in report.checks:
            if c.tool != tool:
                continue
            case = TestCase(f"{c.request}: {c.metric}", classname=f"crossload.regression.{tool}", time=0.0)
            text = (f"baseline {c.baseline} {c.unit}, run {c.run} {c.unit}, delta {c.delta}, tolerance "
                    f"{c.tolerance} ({c.tolerance_from}), p = {c.p_value}, test: {c.test}; verdict {c.verdict}: "
                    f"{c.note}")
            if c.verdict == REGRESSED:
                case.result = [Failure(f"{tool} {c.request}: {c.metric} regressed: {c.note}", "regression")]
            elif c.verdict == IMPROVED:
                text = "improved: " + text
            case.system_out = text
            cases.append(case)
        xml.add_testsuite(_suite(f"crossload.regression.{tool}", cases))
    xml.update_statistics()  # type: ignore[no-untyped-call]
    return xml


def write(xml: JUnitXml, path: Path) -> Path:
    xml.write(str(path), pretty=True)
    return path


__all__ = ["regression_junit", "thresholds_junit", "write"]
