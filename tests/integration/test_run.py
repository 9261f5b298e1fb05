"""Real runs of both tools against the demo target: the summary contract, verdicts and exit codes."""

from __future__ import annotations

import json
import math
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from k6_raw import k6_rule

from crossload.errors import EXIT_INPUT, EXIT_PASS, EXIT_RUN_FAILED, EXIT_THRESHOLDS
from crossload.paths import resource_dir

pytestmark = pytest.mark.integration

STATS_KEYS = {"count", "failures", "error_rate", "rps", "min_ms", "mean_ms", "p50_ms", "p90_ms", "p95_ms",
              "p99_ms", "max_ms"}
LATENCY_KEYS = ("min_ms", "mean_ms", "p50_ms", "p90_ms", "p95_ms", "p99_ms", "max_ms")
# Wide enough for the side-by-side table whatever terminal (or none) the tests run in.
TABLE_WIDTH = 200


def every_request(stats: dict[str, Any]) -> dict[str, Any]:
    """Latency over every request, failed ones included: ``all_requests`` from summary schema 2 on; before
    that, the top-level figures were over every request."""
    return stats.get("all_requests") or stats


def assert_latency_ordered(lat: dict[str, Any], where: object) -> None:
    values = [lat[k] for k in ("min_ms", "p50_ms", "p90_ms", "p95_ms", "p99_ms", "max_ms")]
    assert all(isinstance(v, int | float) for v in values), (where, lat)
    assert values == sorted(values), (where, lat)
    assert lat["min_ms"] <= lat["mean_ms"] <= lat["max_ms"], (where, lat)


def rank_index(q: float, n: int) -> int:
    """Index of the q-th percentile in n sorted samples, by nearest rank, computed as crossload.histogram
    does (the same float expression, so an exact integer rank never lands one sample off)."""
    return max(1, math.ceil(q / 100.0 * n)) - 1


def locust_half_step(ms: float) -> float:
    """Half of the step Locust rounds a response time to for its percentiles (locust.stats.
    bucket_response_time: whole ms below 100 ms, 10 ms below 1 s, 100 ms below 10 s, then 1 s)."""
    return 0.5 if ms < 100 else 5.0 if ms < 1000 else 50.0 if ms < 10000 else 500.0

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
  # One request in four fails on purpose: say so, instead of tripping the default 10 % error-rate guard.
  - "error_rate < 80%"
"""
SCENARIO_THRESHOLDS = ("p95 < 10s", "error_rate < 1%", "error_rate < 80%")


@pytest.fixture(scope="module")
def contract_run(tmp_path_factory: pytest.TempPathFactory, demo_target: str) -> tuple[object, str, Path]:
    import io

    from crossload.run import RunRequest, execute

    tmp = tmp_path_factory.mktemp("contract")
    scenario = tmp / "contract.yaml"
    scenario.write_text(SCENARIO, encoding="utf-8")
    out = io.StringIO()
    result = execute(RunRequest(profile="smoke", target=demo_target, scenario=str(scenario), users=3,
                                duration_s=4, results_dir=tmp / "results", width=TABLE_WIDTH), out=out)
    return result, out.getvalue(), tmp


def test_summary_follows_the_contract(contract_run: tuple[object, str, Path]) -> None:
    result, printed, _tmp = contract_run
    assert result.exit_code == EXIT_PASS, printed  # type: ignore[attr-defined]
    summary = json.loads((result.path / "summary.json").read_text())  # type: ignore[attr-defined]
    schema = summary.get("schema", 1)
    assert set(summary["tools"]) == {"locust", "k6"}
    for tool, data in summary["tools"].items():
        assert set(data["overall"]) >= STATS_KEYS, tool
        assert set(data["requests"]) == {"health", "item", "broken on purpose"}, tool
        for name, stats in data["requests"].items():
            assert set(stats) >= STATS_KEYS, (tool, name)
            assert stats["count"] > 0, (tool, name)
            assert_latency_ordered(every_request(stats), (tool, name))
        # /error/100 always fails; the others never do.
        broken = data["requests"]["broken on purpose"]
        assert broken["failures"] == broken["count"] and broken["error_rate"] == 100.0, tool
        for name in ("health", "item"):
            stats = data["requests"][name]
            assert stats["failures"] == 0 and stats["error_rate"] == 0.0, (tool, name)
        if schema >= 2:
            # Top-level latency is that of successful responses: none for a request that always fails, the
            # same as over every request for one that never fails.
            assert all(broken[k] is None for k in LATENCY_KEYS), (tool, broken)
            assert broken["errors"] == {"HTTP 500": broken["failures"]}, (tool, broken["errors"])
            for name in ("health", "item"):
                stats = data["requests"][name]
                for k in LATENCY_KEYS:
                    assert math.isclose(stats[k], stats["all_requests"][k], abs_tol=0.001), (tool, name, k)
                assert stats["errors"] == {}, (tool, name)
            assert_latency_ordered(data["overall"], (tool, "overall, successful"))
        total = sum(s["count"] for s in data["requests"].values())
        assert data["overall"]["count"] == total
        assert data["overall"]["failures"] == sum(s["failures"] for s in data["requests"].values())
        assert_latency_ordered(every_request(data["overall"]), (tool, "overall"))
        assert abs(data["overall"]["rps"] - total / 4.0) < 0.01
    # Every threshold of the scenario was judged for each tool (guards, schema 2, come on top) and passed.
    own = [t for t in summary["thresholds"] if not t.get("guard")]
    assert sorted((t["tool"], t["threshold"]) for t in own) == sorted(
        (tool, text) for tool in ("locust", "k6") for text in SCENARIO_THRESHOLDS
    )
    assert summary["thresholds"] and all(t["passed"] and t["measured"] is not None for t in summary["thresholds"])


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
    summary = json.loads((result.path / "summary.json").read_text())
    for tool in ("locust", "k6"):
        stats = summary["tools"][tool]["requests"]["create"]
        # 201 only with the right token: every request counted, none failed.
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
    env = dict(os.environ, CROSSLOAD_RESULTS_DIR=str(tmp_path / "results"), CROSSLOAD_DOTENV=str(tmp_path / "x"),
               COLUMNS=str(TABLE_WIDTH))  # the table's width; not that of whatever terminal runs the tests
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
    """Our numbers against each tool's authoritative record of the run: k6's raw sample stream and its
    --summary-export; Locust's final statistics (--json-file, written once the run is over). Never Locust's
    CSV: it is written periodically and can miss the last requests."""
    import gzip
    from collections import Counter

    result, _printed, _tmp = contract_run
    path: Path = result.path  # type: ignore[attr-defined]
    summary = json.loads((path / "summary.json").read_text())
    schema = summary.get("schema", 1)

    # k6: every latency is in the raw stream; ours must be within the histogram's 0.5 %.
    points = [json.loads(line)["data"]
              for line in gzip.decompress((path / "k6" / "raw.json.gz").read_bytes()).decode().splitlines()
              if line.startswith('{"metric":"http_req_duration","type":"Point"')]
    samples = sorted(p["value"] for p in points)
    k6 = summary["tools"]["k6"]
    ours = every_request(k6["overall"])
    own = json.loads((path / "k6" / "k6-summary.json").read_text())["metrics"]
    assert k6["overall"]["count"] == len(samples) == own["http_reqs"]["count"] > 0
    assert {name: s["count"] for name, s in k6["requests"].items()} == Counter(p["tags"]["name"] for p in points)
    # No check of this scenario can fail on an expected response: the failures are the unexpected ones.
    assert {name: s["failures"] for name, s in k6["requests"].items()} == {
        name: sum(1 for p in points if p["tags"]["name"] == name and p["tags"]["expected_response"] == "false")
        for name in k6["requests"]}
    # k6's whole-run figures are exact (docs/schema.md, section 2): k6's own rule over every sample, equal
    # to its end-of-test summary for every request and, with no body check failing here, for the expected ones.
    duration = own["http_req_duration"]
    for q, k6_stat in ((50, "med"), (90, "p(90)"), (95, "p(95)"), (99, "p(99)")):
        assert math.isclose(ours[f"p{q}_ms"], duration[k6_stat], abs_tol=0.0005), (q, ours[f"p{q}_ms"], duration)
        assert math.isclose(ours[f"p{q}_ms"], k6_rule(samples, q), abs_tol=0.0005), q
    assert math.isclose(ours["min_ms"], duration["min"], abs_tol=0.001)
    assert math.isclose(ours["max_ms"], duration["max"], abs_tol=0.001)
    assert math.isclose(ours["mean_ms"], duration["avg"], rel_tol=1e-4, abs_tol=0.001)
    if schema >= 2:
        # Top-level latency: successful responses only, exact as well.
        ok = sorted(p["value"] for p in points if p["tags"]["expected_response"] == "true")
        top = k6["overall"]
        assert top["count"] - top["failures"] == len(ok) > 0
        for q in (50, 90, 95, 99):
            assert math.isclose(top[f"p{q}_ms"], k6_rule(ok, q), abs_tol=0.0005), (q, top[f"p{q}_ms"])
        assert math.isclose(top["min_ms"], ok[0], abs_tol=0.0005)
        assert math.isclose(top["max_ms"], ok[-1], abs_tol=0.0005)
        assert math.isclose(top["mean_ms"], sum(ok) / len(ok), rel_tol=1e-3, abs_tol=0.002)

    # Locust: its final statistics keep exact counts, min, max and total time, and every response time
    # rounded (to whole ms below 100 ms); a percentile is compared with the rounded sample of the same rank.
    final = json.loads((path / "locust" / "locust-final.json").read_text())
    entries = {e["name"]: e for e in final}
    locust = summary["tools"]["locust"]
    assert set(entries) == set(locust["requests"]) and len(entries) == len(final)
    assert locust["overall"]["count"] == sum(e["num_requests"] for e in final) > 0
    for name, stats in locust["requests"].items():
        entry = entries[name]
        lat = every_request(stats)
        assert entry["num_none_requests"] == 0, name
        assert stats["count"] == entry["num_requests"], name
        assert stats["failures"] == entry["num_failures"], name
        assert math.isclose(lat["min_ms"], entry["min_response_time"], abs_tol=0.001), name
        assert math.isclose(lat["max_ms"], entry["max_response_time"], abs_tol=0.001), name
        assert math.isclose(lat["mean_ms"], entry["total_response_time"] / entry["num_requests"],
                            rel_tol=1e-4, abs_tol=0.001), name
        rounded = sorted(float(ms) for ms, n in entry["response_times"].items() for _ in range(n))
        assert len(rounded) == entry["num_requests"], name
        for q in (50, 90, 95, 99):
            theirs = rounded[rank_index(q, len(rounded))]
            mine = lat[f"p{q}_ms"]
            assert abs(mine - theirs) <= locust_half_step(theirs) + mine * 0.005 + 0.001, (name, q, mine, theirs)


def test_a_failed_preflight_exits_2_and_leaves_no_run(tmp_path: Path, run_crossload,  # type: ignore[no-untyped-def]
                                                      monkeypatch: pytest.MonkeyPatch, demo_target: str) -> None:
    monkeypatch.setenv("CROSSLOAD_K6_BIN", _k6_failing_on(tmp_path, "inspect", "SyntaxError: invented"))
    result, printed = run_crossload(target=demo_target, users=1, duration_s=2)
    assert result.exit_code == EXIT_INPUT, printed
    assert "k6 inspect rejected the rendered script: SyntaxError: invented" in result.message
    assert not any((tmp_path / "results").iterdir())
