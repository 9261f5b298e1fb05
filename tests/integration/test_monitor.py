"""The target's and the load generators' resources, sampled while real Locust and k6 runs go on.

A demo target made to leak (``/leak/{kb}`` keeps that much memory per request) trips a memory-growth
threshold in both tools, the curve is in the report (drawn by a real Chromium), and a target given by pid is
monitored while one given by URL alone is not.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_compare_report import open_in_chromium

from crossload.errors import EXIT_INPUT, EXIT_PASS, EXIT_THRESHOLDS
from crossload.monitor import read_samples
from crossload.target import DemoTarget

LEAKY = """\
version: 1
name: leaky
defaults:
  think_time: 50ms
requests:
  - name: leak
    path: /leak/1024
thresholds:
  - target_rss_growth < 8MB
"""

PLAIN = """\
version: 1
name: plain
defaults:
  think_time: 50ms
requests:
  - name: health
    path: /health
thresholds:
  - target_rss_growth < 100MB
"""


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "scenario.yaml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_a_leaking_target_trips_the_memory_growth_threshold_in_both_tools(
        run_crossload, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result, out = run_crossload(scenario=write(tmp_path, LEAKY), users=2, duration_s=4)
    assert result.exit_code == EXIT_THRESHOLDS, out
    assert result.summary is not None and result.path is not None
    growth = {v.tool: v for v in result.verdicts if v.threshold.metric == "target_rss_growth"}
    assert set(growth) == {"locust", "k6"}
    for tool, verdict in growth.items():
        tool_summary = result.summary.tools[tool]
        target = tool_summary.target
        assert target is not None and tool_summary.generator is not None, tool
        requests = tool_summary.overall.count
        assert requests > 10 and tool_summary.overall.failures == 0, (tool, tool_summary.overall)
        # Every request kept 1 MiB: the RSS grew by (about) that much while this tool ran. The last sample
        # may come before the last requests, so half of it is the floor.
        assert target.rss_growth_bytes >= 0.5 * requests * 1024 * 1024, (tool, target, requests)
        assert not verdict.passed and verdict.measured == target.rss_growth_bytes, (tool, verdict)
        assert 3 <= target.samples <= 15, (tool, target)  # one per second of a 4 s run (plus the drain)
        assert target.rss_end_bytes - target.rss_start_bytes == target.rss_growth_bytes
        assert f"{tool}: target_rss_growth < 8MB" in out and "(the target): measured" in out, out
    samples = read_samples(result.path)
    assert {(s["tool"], s["kind"]) for s in samples} == {(t, k) for t in ("locust", "k6")
                                                         for k in ("target", "generator")}
    stored = json.loads((result.path / "summary.json").read_text())
    assert stored["tools"]["k6"]["target"]["rss_growth_bytes"] == result.summary.tools["k6"].target.rss_growth_bytes  # type: ignore[union-attr]

    page = result.path / "report.html"
    html = page.read_text(encoding="utf-8")
    charts = json.loads(html.split('id="crossload-data">', 1)[1].split("</script>", 1)[0])["charts"]
    rss = next(c for c in charts if c["id"] == "run-target-rss")
    assert {s["label"] for s in rss["series"]} == {"locust", "k6"}
    for series in rss["series"]:  # the curve climbs: last point well above the first, in MB
        values = [v for v in series["values"] if v is not None]
        assert values[-1] - values[0] > 5, series
    assert "run-generator-cpu" in {c["id"] for c in charts} and "<h2>Resources</h2>" in html
    markdown = (result.path / "report.md").read_text(encoding="utf-8")
    assert "### Resources" in markdown, markdown
    assert "| ❌ | k6 | target_rss_growth &lt; 8MB | the target | " in markdown, markdown
    load = open_in_chromium(page)
    assert load.problems == []
    assert load.ready == str(len(charts)) and all(n >= 1 for n in load.canvases_per_chart)


def test_a_target_given_by_pid_is_monitored_and_one_given_by_url_alone_is_not(
        run_crossload, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    scenario = write(tmp_path, PLAIN)
    target = DemoTarget(host="127.0.0.1", port=0).start()
    try:
        assert target.pid is not None
        result, out = run_crossload(target=target.url, target_pid=target.pid, scenario=scenario, tool="locust",
                                    users=2, duration_s=3)
        assert result.exit_code == EXIT_PASS, out
        assert result.summary is not None
        measured = result.summary.tools["locust"].target
        assert measured is not None and measured.samples >= 2 and measured.rss_max_bytes > 1_000_000, measured
        assert abs(measured.rss_growth_bytes) < 100_000_000

        result, out = run_crossload(target=target.url, scenario=scenario, tool="locust", users=1, duration_s=2)
        assert result.summary is not None and result.summary.tools["locust"].target is None
        # Nothing measured is never a pass.
        assert result.exit_code == EXIT_THRESHOLDS, out
        assert "the target's resources were not measured" in out, out

        result, out = run_crossload(target=target.url, target_pid=2**22 + 12345, scenario=scenario, tool="locust",
                                    users=1, duration_s=2)
        assert result.exit_code == EXIT_INPUT and result.run_id is None
        assert "--target-pid 4206649: no such process" in result.message
    finally:
        target.stop()


@pytest.mark.parametrize("flags", [{"target_pid": 1}, {"target_container": "shop"}])
def test_the_demo_target_is_monitored_already(run_crossload, flags: dict[str, object]) -> None:  # type: ignore[no-untyped-def]
    result, _ = run_crossload(tool="locust", users=1, duration_s=1, **flags)
    assert result.exit_code == EXIT_INPUT and result.run_id is None
    assert "the demo target is monitored already" in result.message
