"""The report files of a run, on synthetic stored runs: the HTML is one self-contained file with its charts
as data, every user string escaped; the Markdown is safe in a table and reaches $GITHUB_STEP_SUMMARY; the
JUnit XML validates against the common JUnit schema, one testcase per threshold (guards included) per tool
and one per regression check."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
import xmlschema
from test_report_baseline import lognormal, run_id, write_run

from crossload.report import baseline as regression
from crossload.report import html, junit, markdown, outputs
from crossload.report.compare import compare_tools
from crossload.report.rundata import load_run
from crossload.summary import RunSummary, VerdictSummary

# The common JUnit XML shape CI servers read (the Ant/Jenkins junit schema, in its usual lenient form:
# a testcase holds any of skipped/error/failure/system-out/system-err).
JUNIT_XSD = """<?xml version="1.0" encoding="UTF-8"?>
<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" elementFormDefault="qualified">
  <xs:element name="testsuites">
    <xs:complexType>
      <xs:sequence><xs:element ref="testsuite" minOccurs="0" maxOccurs="unbounded"/></xs:sequence>
      <xs:attribute name="name" type="xs:string"/>
      <xs:attribute name="time" type="xs:decimal"/>
      <xs:attribute name="tests" type="xs:nonNegativeInteger"/>
      <xs:attribute name="failures" type="xs:nonNegativeInteger"/>
      <xs:attribute name="errors" type="xs:nonNegativeInteger"/>
      <xs:attribute name="skipped" type="xs:nonNegativeInteger"/>
      <xs:attribute name="disabled" type="xs:nonNegativeInteger"/>
    </xs:complexType>
  </xs:element>
  <xs:element name="testsuite">
    <xs:complexType>
      <xs:sequence>
        <xs:element name="properties" minOccurs="0">
          <xs:complexType><xs:sequence>
            <xs:element name="property" minOccurs="0" maxOccurs="unbounded">
              <xs:complexType>
                <xs:attribute name="name" type="xs:string" use="required"/>
                <xs:attribute name="value" type="xs:string" use="required"/>
              </xs:complexType>
            </xs:element>
          </xs:sequence></xs:complexType>
        </xs:element>
        <xs:element ref="testcase" minOccurs="0" maxOccurs="unbounded"/>
        <xs:element name="system-out" type="xs:string" minOccurs="0"/>
        <xs:element name="system-err" type="xs:string" minOccurs="0"/>
      </xs:sequence>
      <xs:attribute name="name" type="xs:string" use="required"/>
      <xs:attribute name="tests" type="xs:nonNegativeInteger" use="required"/>
      <xs:attribute name="failures" type="xs:nonNegativeInteger"/>
      <xs:attribute name="errors" type="xs:nonNegativeInteger"/>
      <xs:attribute name="skipped" type="xs:nonNegativeInteger"/>
      <xs:attribute name="disabled" type="xs:nonNegativeInteger"/>
      <xs:attribute name="time" type="xs:decimal"/>
      <xs:attribute name="timestamp" type="xs:string"/>
      <xs:attribute name="hostname" type="xs:string"/>
      <xs:attribute name="id" type="xs:string"/>
      <xs:attribute name="package" type="xs:string"/>
    </xs:complexType>
  </xs:element>
  <xs:element name="testcase">
    <xs:complexType>
      <xs:choice minOccurs="0" maxOccurs="unbounded">
        <xs:element name="skipped" type="result"/>
        <xs:element name="error" type="result"/>
        <xs:element name="failure" type="result"/>
        <xs:element name="system-out" type="xs:string"/>
        <xs:element name="system-err" type="xs:string"/>
      </xs:choice>
      <xs:attribute name="name" type="xs:string" use="required"/>
      <xs:attribute name="classname" type="xs:string"/>
      <xs:attribute name="time" type="xs:decimal"/>
      <xs:attribute name="assertions" type="xs:string"/>
      <xs:attribute name="status" type="xs:string"/>
    </xs:complexType>
  </xs:element>
  <xs:complexType name="result" mixed="true">
    <xs:attribute name="message" type="xs:string"/>
    <xs:attribute name="type" type="xs:string"/>
  </xs:complexType>
</xs:schema>
"""
SCHEMA = xmlschema.XMLSchema(JUNIT_XSD)
NASTY = 'a|b </script><script>alert("x")</script> & <b>'


def verdict(tool: str, text: str, passed: bool, guard: bool = False, request: str | None = None) -> VerdictSummary:
    return VerdictSummary(threshold=text, request=request, metric="p95", op="<", limit=500.0, unit="ms", tool=tool,
                          measured=12.5, passed=passed, location="s.yaml:3" if not guard else "default guard",
                          guard=guard)


def stored_run(tmp_path: Path, names: tuple[str, ...] = ("page", NASTY)) -> Path:
    path = write_run(tmp_path, run_id(1), {"locust": lognormal(1, 20, n=500), "k6": lognormal(2, 18, n=600)},
                     failures={"k6": 7}, names=names)
    summary = RunSummary.model_validate(json.loads((path / "summary.json").read_text()))
    summary.thresholds = [verdict("locust", "p95 < 500ms", True), verdict("locust", "requests > 0", True, True),
                          verdict("k6", "p95 < 500ms", False, request=NASTY),
                          verdict("k6", "error_rate < 10%", True, True)]
    (path / "summary.json").write_text(json.dumps(summary.to_json()))
    return path


def island(page: str) -> dict[str, object]:
    match = re.search(r'<script type="application/json" id="crossload-data">(.*?)</script>', page, re.S)
    assert match
    data: dict[str, object] = json.loads(match.group(1))
    return data


def test_the_run_report_is_one_self_contained_file(tmp_path: Path) -> None:
    path = stored_run(tmp_path)
    written = outputs.write_run_reports(path)
    assert [p.name for p in written] == ["report.html", "report.md", "junit.xml"]
    page = (path / "report.html").read_text()
    # Nothing is loaded from anywhere: no external element, and the browser is told so (CSP).
    assert "default-src 'none'" in page
    assert not re.search(r"<(link|img|iframe|object|embed)\b", page, re.I)
    assert not re.search(r"<script[^>]*\bsrc=", page, re.I)
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page, re.I)
    assert not re.search(r"url\(\s*['\"]?(https?:)?//", page, re.I) and "@import" not in page
    assert "uPlot" in page and "The MIT License" in page  # the library and its license, inlined
    assert len(page.encode()) < 200_000


def test_every_chart_is_data_for_uplot_and_user_strings_stay_data(tmp_path: Path) -> None:
    path = stored_run(tmp_path)
    page = html.render_run(load_run(path))
    charts = island(page)["charts"]
    assert isinstance(charts, list)
    titles = [c["title"] for c in charts]
    assert titles == ["Latency percentiles over time: locust", "Latency percentiles over time: k6",
                      "Requests per second", "Failed requests per second by cause", "Users",
                      "Latency distribution (all request names, successful responses)"]
    for c in charts:  # every chart has its element, and series as long as the x axis
        assert f'id="{c["id"]}" data-chart' in page
        assert c["series"] and all(len(s["values"]) == len(c["x"]) for s in c["series"])
    errors = next(c for c in charts if c["id"] == "run-errors")
    assert [s["label"] for s in errors["series"]] == ["locust: all causes", "k6: HTTP 500"]
    # The hostile request name is escaped in tables and never closes the data island.
    assert "</script><script>alert" not in page
    assert html.e(NASTY) in page
    dist = charts[-1]
    assert dist["logx"] and dist["stepped"]
    assert all(sum(s["values"]) == pytest.approx(100.0, abs=0.01) for s in dist["series"])


def test_log_bins_keep_every_request() -> None:
    from crossload.histogram import Histogram

    h = Histogram()
    for ms in (0.0, 0.2, 0.9, 1.0, 15.0, 15.5, 999.0, 12345.0):
        h.add_ms(ms)
    edges, shares = html.log_bins({"x": h})
    assert edges[0] <= 0.001 and edges[-1] >= 12345.0
    assert len(shares["x"]) == len(edges) and sum(shares["x"]) == pytest.approx(100.0)
    assert html.log_bins({}) == ([], {})


def test_markdown_tables_are_safe_and_go_to_the_step_summary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    step = tmp_path / "step.md"
    step.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step))
    path = stored_run(tmp_path / "results")
    outputs.write_run_reports(path)
    md = (path / "report.md").read_text()
    assert md.startswith("## ❌ crossload run `") or md.startswith("## ✅ crossload run `")
    assert "a\\|b &lt;/script&gt;" in md and "<script>" not in md
    for block in re.findall(r"(?:^\|.*\n)+", md, re.M):  # every table: as many cells on every line
        widths = {len(re.split(r"(?<!\\)\|", line)) for line in block.splitlines()}
        assert len(widths) == 1, block
    assert "| ❌ | k6 | p95 < 500ms |" in md.replace("&lt;", "<")
    assert "| HTTP 500 |" in md
    assert step.read_text().startswith("earlier step\n## ")
    monkeypatch.delenv("GITHUB_STEP_SUMMARY")
    assert outputs.append_step_summary("x") is None


def test_junit_has_one_testcase_per_threshold_and_tool_and_validates(tmp_path: Path) -> None:
    path = stored_run(tmp_path)
    outputs.write_run_reports(path)
    xml_file = path / "junit.xml"
    SCHEMA.validate(str(xml_file))
    doc = SCHEMA.to_dict(str(xml_file))
    suites = {s["@name"]: s for s in doc["testsuite"]}
    assert set(suites) == {"crossload.thresholds.locust", "crossload.thresholds.k6"}
    k6 = suites["crossload.thresholds.k6"]
    assert k6["@tests"] == 2 and k6["@failures"] == 1
    names = [c["@name"] for c in k6["testcase"]]
    assert names == [f"p95 < 500ms [{NASTY}]", "error_rate < 10% (guard) [all requests]"]
    failed = k6["testcase"][0]
    assert failed["failure"][0]["@type"] == "threshold" and "measured 12.5 ms" in failed["failure"][0]["@message"]
    assert doc["@tests"] == 4 and doc["@failures"] == 1


def test_regression_junit_has_one_testcase_per_check(tmp_path: Path) -> None:
    write_run(tmp_path, run_id(1), {"k6": lognormal(1, 20)})
    write_run(tmp_path, run_id(2), {"k6": lognormal(2, 35)})
    report, current, bases = regression.build(run_id(2), None, tmp_path)
    written = outputs.write_regression_outputs(report, current, bases)
    xml_file = tmp_path / run_id(2) / "regression.junit.xml"
    assert xml_file in written
    SCHEMA.validate(str(xml_file))
    doc = SCHEMA.to_dict(str(xml_file))
    (suite,) = doc["testsuite"]
    assert suite["@name"] == "crossload.regression.k6" and suite["@tests"] == len(report.checks)
    failed = [c for c in suite["testcase"] if "failure" in c]
    assert {c["@name"] for c in failed} == {f"{c.request}: {c.metric}" for c in report.checks
                                            if c.verdict == regression.REGRESSED}
    assert "ALL: p95_ms" in {c["@name"] for c in failed}
    page = (tmp_path / run_id(2) / "regression.html").read_text()
    titles = [c["title"] for c in island(page)["charts"]]  # type: ignore[union-attr]
    assert titles == ["Latency distribution: k6", "p95 and p99 per run: k6"]
    assert "regressed" in (tmp_path / run_id(2) / "regression.md").read_text()


def test_compare_outputs(tmp_path: Path) -> None:
    path = stored_run(tmp_path, names=("page",))
    data = load_run(path)
    written = outputs.write_compare_outputs(data, compare_tools(data.summary))
    assert [p.name for p in written] == ["compare.html", "compare.md", "compare.json"]
    page = (path / "compare.html").read_text()
    assert "Known definitional differences" in page and "Tool comparison: locust vs k6" in page
    md = (path / "compare.md").read_text()
    assert "locust / k6" in md and "http_req_duration" in md
    assert json.loads((path / "compare.json").read_text())["tools"] == ["locust", "k6"]


def test_a_report_problem_never_fails_the_run(tmp_path: Path) -> None:
    out = io.StringIO()
    assert outputs.report_run(tmp_path / "missing", out) == []
    assert out.getvalue().startswith("reports: not written (")


def test_the_printed_line_names_the_first_file_with_its_size(tmp_path: Path) -> None:
    path = stored_run(tmp_path)
    out = io.StringIO()
    written = outputs.report_run(path, out)
    size = round(written[0].stat().st_size / 1024)
    assert out.getvalue() == f"reports: {path / 'report.html'} ({size} KB), report.md, junit.xml\n"


def test_junit_of_a_run_without_thresholds_is_still_valid(tmp_path: Path) -> None:
    summary = RunSummary(run_id="x", scenario="s", profile="smoke")
    xml_file = junit.write(junit.thresholds_junit(summary), tmp_path / "j.xml")
    SCHEMA.validate(str(xml_file))


def test_markdown_cells() -> None:
    assert markdown.cell("a|b\nc") == "a\\|b c"
    assert markdown.table(["x", "y"], [["1", "2"]], right=[1]) == ["| x | y |", "|---|---:|", "| 1 | 2 |"]
