"""Real runs of both tools against the demo target: the summary contract, verdicts and exit codes."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from crossload.errors import EXIT_INPUT, EXIT_PASS, EXIT_RUN_FAILED, EXIT_THRESHOLDS
from crossload.paths import resource_dir

pytestmark = pytest.mark.integration

STATS_KEYS = {"count", "failures", "error_rate", "rps", "min_ms", "mean_ms", "p50_ms", "p90_ms", "p95_ms",
              "p99_ms", "max_ms"}

SCENARIO = """\
version: 1
name: contract
defaults:
  think_time: {min: 20ms, max: 40ms}
requests:
  - name: health
    path: /health
    weight: 2
    checks:
      json:
        - path: $.status
          equals: ok
  - name: item
    path: /api/items/7
    checks:
      status: 200
  - name: broken on purpose
    path: /error/100
thresholds:
  - "p95 < 10s"
  - {request: health, check: "error_rate < 1%"}
"""


@pytest.fixture(scope="module")
def contract_run(tmp_path_factory: pytest.TempPathFactory, demo_target: str) -> tuple[object, str, Path]:
    import io

    from crossload.run import RunRequest, execute

    tmp = tmp_path_factory.mktemp("contract")
    scenario = tmp / "contract.yaml"
    scenario.write_text(SCENARIO, encoding="utf-8")
    out = io.StringIO()
    result = execute(RunRequest(profile="smoke", target=demo_target, scenario=str(scenario), users=3,
                                duration_s=4, results_dir=tmp / "results"), out=out)
    return result, out.getvalue(), tmp


def test_summary_follows_the_contract(contract_run: tuple[object, str, Path]) -> None:
    result, printed, _tmp = contract_run
    assert result.exit_code == EXIT_PASS, printed  # type: ignore[attr-defined]
    summary = json.loads((result.path / "summary.json").read_text())  # type: ignore[attr-defined]
    assert set(summary["tools"]) == {"locust", "k6"}
    for tool, data in summary["tools"].items():
        assert set(data["overall"]) >= STATS_KEYS, tool
        assert set(data["requests"]) == {"health", "item", "broken on purpose"}, tool
        for name, stats in data["requests"].items():
            assert set(stats) >= STATS_KEYS, (tool, name)
            assert stats["count"] > 0, (tool, name)
            assert stats["min_ms"] <= stats["p50_ms"] <= stats["p90_ms"] <= stats["p95_ms"] <= stats["p99_ms"]
            assert stats["p99_ms"] <= stats["max_ms"]
        # /error/100 always fails; the others never do.
        assert data["requests"]["broken on purpose"]["error_rate"] == 100.0, tool
        assert data["requests"]["health"]["failures"] == 0, tool
        assert data["requests"]["item"]["failures"] == 0, tool
        total = sum(s["count"] for s in data["requests"].values())
        assert data["overall"]["count"] == total
        assert abs(data["overall"]["rps"] - total / 4.0) < 0.01
    assert {(t["tool"], t["threshold"]) for t in summary["thresholds"]} == {
        (tool, text) for tool in ("locust", "k6") for text in ("p95 < 10s", "error_rate < 1%")
    }
    assert all(t["passed"] and t["measured"] is not None for t in summary["thresholds"])


def test_counts_equal_each_tools_own_totals(contract_run: tuple[object, str, Path]) -> None:
    result, _printed, _tmp = contract_run
    manifest = json.loads((result.path / "manifest.json").read_text())  # type: ignore[attr-defined]
    summary = json.loads((result.path / "summary.json").read_text())  # type: ignore[attr-defined]
    for tool in ("locust", "k6"):
        outcome = manifest["outcomes"][tool]
        assert outcome["tool_reported_requests"] == summary["tools"][tool]["overall"]["count"] > 0, tool


def test_manifest_and_files(contract_run: tuple[object, str, Path]) -> None:
    result, printed, _tmp = contract_run
    path: Path = result.path  # type: ignore[attr-defined]
    manifest = json.loads((path / "manifest.json").read_text())
    assert manifest["status"] == "passed"
    assert manifest["tool_versions"] == {"locust": "2.47.0", "k6": "1.1.0"}
    assert manifest["profile"]["profile"] == "smoke"
    assert manifest["profile"]["total_s"] == 4.0
    assert manifest["scenario"]["name"] == "contract"
    assert manifest["started_at"] < manifest["ended_at"]
    for rel in ("locust/locustfile.py", "locust/crossload_locust.py", "locust/aggregates.jsonl",
                "locust/intervals.jsonl", "k6/script.js", "k6/crossload.js", "k6/raw.json.gz", "k6/aggregates.jsonl",
                "scenario.yaml"):
        assert (path / rel).is_file(), rel
    # The side-by-side table: one row per request, both tools in adjacent columns.
    assert "locust     k6" in printed
    for row in ("health", "item", "broken on purpose", "ALL"):
        assert any(line.startswith(row) for line in printed.splitlines()), row
    assert str(path) in printed


def test_impossible_threshold_exits_1_and_names_it(demo_target: str, tmp_path: Path, run_crossload) -> None:  # type: ignore[no-untyped-def]
    scenario = tmp_path / "strict.yaml"
    scenario.write_text(SCENARIO.replace('"p95 < 10s"', '"p50 < 0.001ms"'), encoding="utf-8")
    result, printed = run_crossload(target=demo_target, scenario=str(scenario), users=1, duration_s=2)
    assert result.exit_code == EXIT_THRESHOLDS, printed
    for tool in ("locust", "k6"):
        assert f"threshold failed: {tool}: p50 < 0.001ms (all requests): measured" in printed
    summary = json.loads((result.path / "summary.json").read_text())
    failed = [t for t in summary["thresholds"] if not t["passed"]]
    assert {t["tool"] for t in failed} == {"locust", "k6"}
    assert summary["status"] == "thresholds_failed"


def test_bad_scenario_exits_2_before_anything_is_written(tmp_path: Path, run_crossload) -> None:  # type: ignore[no-untyped-def]
    scenario = tmp_path / "bad.yaml"
    scenario.write_text("version: 1\nname: x\nrequests:\n  - name: a\n    path: /\n    method: FETCH\n")
    result, _printed = run_crossload(scenario=str(scenario))
    assert result.exit_code == EXIT_INPUT
    assert result.message.startswith(f"{scenario}:6: requests[0].method: unknown method 'FETCH'")
    assert not (tmp_path / "results").exists()


def test_unset_variable_exits_2_before_load(tmp_path: Path, run_crossload, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("CROSSLOAD_TEST_UNSET", raising=False)
    scenario = tmp_path / "env.yaml"
    scenario.write_text("version: 1\nname: x\nrequests:\n  - name: a\n    path: /\n    headers:\n"
                        "      Authorization: Bearer ${CROSSLOAD_TEST_UNSET}\n")
    result, _printed = run_crossload(scenario=str(scenario))
    assert result.exit_code == EXIT_INPUT
    assert "requests[0].headers.Authorization: ${CROSSLOAD_TEST_UNSET} is not set" in result.message
    assert not (tmp_path / "results").exists()


def test_dotenv_supplies_variables(tmp_path: Path, run_crossload, monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
                                   demo_target: str) -> None:
    monkeypatch.delenv("CROSSLOAD_TEST_TOKEN", raising=False)
    dotenv = tmp_path / ".env"
    dotenv.write_text("CROSSLOAD_TEST_TOKEN=demo-token\n")
    monkeypatch.setenv("CROSSLOAD_DOTENV", str(dotenv))
    scenario = tmp_path / "env.yaml"
    scenario.write_text("version: 1\nname: x\ndefaults: {think_time: 50ms}\nrequests:\n  - name: create\n"
                        "    method: POST\n    path: /api/items\n    headers:\n"
                        "      Authorization: Bearer ${CROSSLOAD_TEST_TOKEN}\n    json: {name: a, price: 1}\n"
                        "    checks: {status: 201}\n")
    result, printed = run_crossload(scenario=str(scenario), target=demo_target, users=1, duration_s=2)
    assert result.exit_code == EXIT_PASS, printed
    for tool in ("locust", "k6"):
        stats = result.summary["tools"][tool]["requests"]["create"]
        assert stats["count"] > 0 and stats["failures"] == 0, tool
    # The token came from .env at run time and is not in the rendered files.
    assert "demo-token" not in (result.path / "k6" / "script.js").read_text()
    assert "demo-token" not in (result.path / "locust" / "locustfile.py").read_text()


def _k6_failing_on(tmp_path: Path, subcommand: str, message: str) -> str:
    """A k6 that fails ``subcommand`` with ``message`` (exit 107) and runs the real k6 for everything else."""
    real_k6 = subprocess.run(["which", "k6"], capture_output=True, text=True, check=True).stdout.strip()
    fake = tmp_path / "k6"
    fake.write_text(f'#!/bin/sh\nif [ "$1" = {subcommand} ]; then echo "{message}" >&2; exit 107; fi\n'
                    f'exec {real_k6} "$@"\n')
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    return str(fake)


def test_a_crashing_tool_exits_3_and_keeps_the_run(tmp_path: Path, run_crossload,  # type: ignore[no-untyped-def]
                                                   monkeypatch: pytest.MonkeyPatch, demo_target: str) -> None:
    monkeypatch.setenv("CROSSLOAD_K6_BIN", _k6_failing_on(tmp_path, "run", "panic: simulated crash"))
    result, printed = run_crossload(tool="k6", target=demo_target, users=1, duration_s=2)
    assert result.exit_code == EXIT_RUN_FAILED, printed
    assert "k6 exited with code 107" in result.message
    manifest = json.loads((result.path / "manifest.json").read_text())
    assert manifest["status"] == "failed"
    assert "simulated crash" in (result.path / "k6" / "k6.log").read_text()


def test_cli_default_runs_both_tools_against_the_demo_target(tmp_path: Path) -> None:
    """The README's first command, shortened: no --target, so the built-in demo target is used."""
    env = dict(os.environ, CROSSLOAD_RESULTS_DIR=str(tmp_path / "results"), CROSSLOAD_DOTENV=str(tmp_path / "x"))
    proc = subprocess.run(
        [sys.executable, "-m", "crossload", "run", "smoke", "--duration", "3s"], cwd=resource_dir("."),
        env=env, capture_output=True, text=True, timeout=180, check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "demo target started at http://127.0.0.1:" in proc.stdout
    assert "locust     k6" in proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr
    runs = list((tmp_path / "results").iterdir())
    assert len(runs) == 1
    summary = json.loads((runs[0] / "summary.json").read_text())
    assert summary["tools"]["locust"]["overall"]["count"] > 0
    assert summary["tools"]["k6"]["overall"]["count"] > 0
    assert summary["status"] == "passed"


def test_percentiles_agree_with_the_raw_samples_and_the_tools_own_reports(
        contract_run: tuple[object, str, Path]) -> None:
    import csv
    import gzip
    import math

    result, _printed, _tmp = contract_run
    path: Path = result.path  # type: ignore[attr-defined]
    summary = json.loads((path / "summary.json").read_text())
    # k6: every latency is in the raw stream; ours must be within the histogram's 0.5 %.
    samples = sorted(
        json.loads(line)["data"]["value"]
        for line in gzip.decompress((path / "k6" / "raw.json.gz").read_bytes()).decode().splitlines()
        if line.startswith('{"metric":"http_req_duration","type":"Point"')
    )
    ours = summary["tools"]["k6"]["overall"]
    assert ours["count"] == len(samples)
    for q in (50, 90, 95, 99):
        exact = samples[math.ceil(q / 100 * len(samples)) - 1]
        assert abs(ours[f"p{q}_ms"] - exact) <= exact * 0.005 + 0.001, (q, ours[f"p{q}_ms"], exact)
    own = json.loads((path / "k6" / "k6-summary.json").read_text())["metrics"]["http_req_duration"]
    assert math.isclose(ours["min_ms"], own["min"], abs_tol=0.001)
    assert math.isclose(ours["max_ms"], own["max"], abs_tol=0.001)
    assert math.isclose(ours["mean_ms"], own["avg"], rel_tol=1e-4, abs_tol=0.001)
    # Locust: its CSV keeps exact min/max/average, and percentiles rounded to whole milliseconds.
    with (path / "locust" / "locust_stats.csv").open(newline="") as f:
        rows = {r["Name"]: r for r in csv.DictReader(f)}
    for name, stats in summary["tools"]["locust"]["requests"].items():
        row = rows[name]
        assert stats["count"] == int(row["Request Count"])
        assert stats["failures"] == int(row["Failure Count"])
        assert math.isclose(stats["min_ms"], float(row["Min Response Time"]), abs_tol=0.001)
        assert math.isclose(stats["max_ms"], float(row["Max Response Time"]), abs_tol=0.001)
        assert math.isclose(stats["mean_ms"], float(row["Average Response Time"]), rel_tol=1e-4, abs_tol=0.001)
        for q, column in ((50, "50%"), (95, "95%"), (99, "99%")):
            theirs = float(row[column])
            assert abs(stats[f"p{q}_ms"] - theirs) <= max(1.0, 0.05 * theirs), (name, q)


def test_a_failed_preflight_exits_2_and_leaves_no_run(tmp_path: Path, run_crossload,  # type: ignore[no-untyped-def]
                                                      monkeypatch: pytest.MonkeyPatch, demo_target: str) -> None:
    monkeypatch.setenv("CROSSLOAD_K6_BIN", _k6_failing_on(tmp_path, "inspect", "SyntaxError: invented"))
    result, printed = run_crossload(target=demo_target, users=1, duration_s=2)
    assert result.exit_code == EXIT_INPUT, printed
    assert "k6 inspect rejected the rendered script: SyntaxError: invented" in result.message
    assert not any((tmp_path / "results").iterdir())
