"""The resource monitor's arithmetic and formats (the sampling itself runs in tests/integration/test_monitor.py),
the target thresholds, and the InfluxDB points of the samples."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from crossload.errors import InputError
from crossload.monitor import MONITOR_FILE, ResourceMonitor, summarize, summarize_generator, summarize_target
from crossload.scenario import parse_threshold
from crossload.sinks.lineprotocol import RESOURCES, RunTags, resource_points, to_line
from crossload.summary import TargetSummary, ToolSummary
from crossload.thresholds import evaluate
from crossload.units import format_bytes, parse_bytes


def sample(tool: str, kind: str, t: float, cpu: float, rss: int, busiest: float | None = None) -> dict[str, object]:
    out: dict[str, object] = {"t": t, "tool": tool, "kind": kind, "cpu_pct": cpu, "rss_bytes": rss, "threads": 3,
                              "connections": 4, "processes": 1}
    if busiest is not None:
        out["busiest_process_pct"] = busiest
    return out


def test_target_figures_come_from_the_first_last_and_extreme_samples() -> None:
    rows = [sample("k6", "target", 100 + i, cpu, rss) for i, (cpu, rss) in
            enumerate([(10.0, 50_000_000), (30.0, 80_000_000), (20.0, 70_000_000)])]
    rows.append(sample("k6", "generator", 101, 99.0, 1))
    t = summarize_target(rows)
    assert t == TargetSummary(samples=3, cpu_mean_pct=20.0, cpu_max_pct=30.0, rss_start_bytes=50_000_000,
                              rss_end_bytes=70_000_000, rss_max_bytes=80_000_000, rss_growth_bytes=20_000_000,
                              threads_max=3, connections_max=4)
    assert summarize_target([]) is None


@pytest.mark.parametrize(("tool", "values", "saturated"), [
    # k6 may use every core: saturated above 80 % of 2 cores (160 %) for 3 s or more in all.
    ("k6", [170.0, 170.0, 170.0, 10.0], True),
    ("k6", [170.0, 150.0, 150.0, 170.0], False),
    # A Locust process has one core: saturated above 90 % of it, judged on its busiest process.
    ("locust", [95.0, 95.0, 95.0], True),
    ("locust", [85.0, 85.0, 85.0, 85.0], False),
])
def test_a_generator_is_saturated_above_its_limit_for_three_seconds(tool: str, values: list[float],
                                                                     saturated: bool) -> None:
    # Two Locust processes at 95 % each are 190 % in all, but each is judged on its own core.
    rows = [sample(tool, "generator", 100 + i, v * (2 if tool == "locust" else 1), 1, busiest=v)
            for i, v in enumerate(values)]
    g = summarize_generator(tool, rows, cores=2)
    assert g is not None and g.saturated is saturated
    assert g.saturation_limit_pct == (160.0 if tool == "k6" else 90.0)
    assert g.saturated_s == sum(1 for v in values if v > g.saturation_limit_pct)


def test_summarize_reads_one_tools_lines_of_the_file(tmp_path: Path) -> None:
    lines = [sample("locust", "target", 1, 5.0, 10), sample("k6", "target", 2, 7.0, 20),
             sample("k6", "target", 3, 9.0, 25)]
    (tmp_path / MONITOR_FILE).write_text("".join(__import__("json").dumps(s) + "\n" for s in lines) + '{"t": 4, "to')
    target, generator = summarize("k6", tmp_path)
    assert target is not None and target.samples == 2 and target.rss_growth_bytes == 5 and generator is None


def test_the_monitor_writes_a_target_and_a_generator_line_per_second_while_a_tool_runs(tmp_path: Path) -> None:
    import shutil
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    # A process whose command is named like the tool (as `k6 run ...` is); an unrelated child is not counted.
    k6 = tmp_path / "k6"
    k6.symlink_to(shutil.which("sleep") or "/bin/sleep")
    generator = subprocess.Popen([str(k6), "30"])
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        monitor = ResourceMonitor(tmp_path / MONITOR_FILE, lambda: child.pid, interval_s=0.2).start()
        time.sleep(0.5)  # no tool running: nothing written
        monitor.tool = "k6"
        time.sleep(1.0)
        monitor.tool = None
        monitor.close()
    finally:
        for p in (child, generator, other):
            p.kill()
            p.wait()
    from crossload.monitor import read_samples

    rows = read_samples(tmp_path)
    assert rows and {r["tool"] for r in rows} == {"k6"}
    target = [r for r in rows if r["kind"] == "target"]
    gen = [r for r in rows if r["kind"] == "generator"]
    assert 2 <= len(target) <= 8 and len(gen) == len(target)  # one per 0.2 s of the 1 s, give or take
    assert all(r["processes"] == 1 and r["rss_bytes"] > 1_000_000 for r in target)
    assert all(r["processes"] == 1 for r in gen)  # the k6 one: neither the target nor the unrelated child


def test_sizes_and_target_thresholds() -> None:
    assert parse_bytes("100MB") == 100e6 and parse_bytes("64MiB") == 64 * 2**20 and parse_bytes("1.5 GB") == 1.5e9
    assert format_bytes(52_428_800) == "52.4 MB" and format_bytes(-2048) == "-2.0 KB" and format_bytes(12) == "12 B"
    assert parse_threshold("target_rss_growth < 100MB") == ("target_rss_growth", "<", 100e6)
    assert parse_threshold("target_cpu_mean <= 150%") == ("target_cpu_mean", "<=", 150.0)
    for bad in ("target_rss_growth < 100", "target_rss_growth < 100 mb", "target_cpu_mean < 50"):
        with pytest.raises(ValueError):
            parse_threshold(bad)


def test_target_thresholds_are_judged_on_the_target_and_fail_when_it_was_not_measured() -> None:
    from crossload.errors import Location
    from crossload.scenario import Threshold

    th = Threshold(metric="target_rss_growth", op="<", value=10e6, text="target_rss_growth < 10MB", request=None,
                   location=Location("s.yaml", 3))
    measured = ToolSummary(target=TargetSummary(samples=5, rss_growth_bytes=20_000_000))
    ok = ToolSummary(target=TargetSummary(samples=5, rss_growth_bytes=1_000_000))
    verdicts = evaluate((th,), {"k6": measured, "locust": ok, "other": ToolSummary()})
    by_tool = {v.tool: v for v in verdicts}
    assert not by_tool["k6"].passed and by_tool["k6"].measured == 20_000_000
    assert "measured 20.0 MB" in by_tool["k6"].describe()
    assert by_tool["locust"].passed
    assert not by_tool["other"].passed and by_tool["other"].measured is None
    assert "not measured" in by_tool["other"].describe()


def test_a_target_threshold_on_one_request_is_an_input_error(tmp_path: Path) -> None:
    from crossload.scenario import load_scenario

    path = tmp_path / "s.yaml"
    path.write_text("version: 1\nname: x\nrequests:\n  - name: a\n    path: /\n    thresholds:\n"
                    "      - target_rss_growth < 10MB\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"s.yaml:7: .*target_rss_growth is measured on the target as a whole"):
        load_scenario(str(path))


def test_samples_become_resource_points() -> None:
    tags = RunTags(run_id="r1", scenario="s", profile="smoke")
    points = resource_points([sample("k6", "target", 1763800000.4, 12.5, 1000),
                              {"tool": "k6", "kind": "other", "t": 1}, {"kind": "target"}], tags)
    assert [to_line(p) for p in points] == [
        f"{RESOURCES},kind=target,profile=smoke,run_id=r1,scenario=s,tool=k6 cpu_pct=12.5,rss_bytes=1000i,"
        "threads=3i,connections=4i,processes=1i 1763800000"]


def test_no_pid_means_no_target_lines(tmp_path: Path) -> None:
    monitor = ResourceMonitor(tmp_path / MONITOR_FILE, lambda: None)
    totals = monitor.sample()
    monitor.close()
    assert totals["target"].processes == 0
    assert os.getpid() not in {p for p in monitor._procs}  # crossload itself is never counted
