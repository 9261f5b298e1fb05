"""Real runs of both tools pushed live to real InfluxDB 1.6.7 (v1 API) and VictoriaMetrics (v2 API).

Counts per tool and request name must agree three ways: InfluxDB == the local store == each tool's own
end-of-test totals. InfluxDB going away mid-run must not disturb the run, and `results push` refills it.
"""

from __future__ import annotations

import csv
import io
import json
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from crossload import runs
from crossload.errors import EXIT_INPUT, EXIT_PASS
from crossload.results import IntervalAggregate, read_aggregates
from crossload.run import RunRequest, RunResult, execute

pytestmark = pytest.mark.integration

SCENARIO = """\
version: 1
name: influx-e2e
defaults:
  think_time: {min: 20ms, max: 60ms}
requests:
  - name: health
    path: /health
  - name: item, with "odd" name=1
    path: /api/items/3
  - name: failing
    path: /error/100
thresholds:
  - "p99 < 5s"
"""


def _store_counts(run: Path) -> dict[tuple[str, str], int]:
    out: Counter[tuple[str, str]] = Counter()
    for tool in ("locust", "k6"):
        for item in read_aggregates(run / tool / "aggregates.jsonl", tool):
            if isinstance(item, IntervalAggregate):
                out[(tool, item.name)] += item.count
    return dict(out)


def _locust_own_counts(run: Path) -> dict[str, int]:
    with (run / "locust" / "locust_stats.csv").open(newline="") as f:
        return {r["Name"]: int(r["Request Count"]) for r in csv.DictReader(f) if r["Name"] != "Aggregated"}


def _v1_counts(server: Any, db: str, run_id: str) -> dict[tuple[str, str], int]:
    rows = server.rows(f"SELECT sum(\"count\") FROM crossload_requests WHERE run_id = '{run_id}' "
                       "GROUP BY tool, \"name\"", db)
    return {(r["tool"], r["name"]): int(r["sum"]) for r in rows}


def _vm_counts(server: Any, run_id: str) -> dict[tuple[str, str], int]:
    out: Counter[tuple[str, str]] = Counter()
    for series in server.export(f'{{__name__="crossload_requests_count",run_id="{run_id}"}}'):
        m = series["metric"]
        out[(m["tool"], m["name"])] += int(sum(series["values"]))
    return dict(out)


def _run(tmp: Path, target: str, duration: float, out: io.StringIO | None = None) -> RunResult:
    scenario = tmp / "s.yaml"
    scenario.write_text(SCENARIO, encoding="utf-8")
    return execute(RunRequest(profile="smoke", target=target, scenario=str(scenario), users=2, duration_s=duration,
                              results_dir=tmp / "results"), out=out or io.StringIO())


def _check_three_way(result: RunResult, counts_in_db: dict[tuple[str, str], int]) -> None:
    store = _store_counts(result.path)  # type: ignore[arg-type]
    assert store and counts_in_db == store
    locust_own = _locust_own_counts(result.path)  # type: ignore[arg-type]
    assert {name: n for (tool, name), n in store.items() if tool == "locust"} == locust_own
    manifest = json.loads((result.path / "manifest.json").read_text())  # type: ignore[operator]
    k6_total = sum(n for (tool, _), n in store.items() if tool == "k6")
    assert manifest["outcomes"]["k6"]["tool_reported_requests"] == k6_total > 0
    assert {name for (_tool, name) in store} == {"health", 'item, with "odd" name=1', "failing"}


def _env_v1(monkeypatch: pytest.MonkeyPatch, url: str, db: str) -> None:
    monkeypatch.setenv("CROSSLOAD_INFLUX_URL", url)
    monkeypatch.setenv("CROSSLOAD_INFLUX_API", "v1")
    monkeypatch.setenv("CROSSLOAD_INFLUX_DB", db)
    monkeypatch.setenv("CROSSLOAD_INFLUX_TIMEOUT", "2")


def test_v1_live_during_the_run_and_counts_reconcile(influxdb_v1: Any, demo_target: str, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    _env_v1(monkeypatch, influxdb_v1.url, "e2e_live")
    out = io.StringIO()
    holder: dict[str, RunResult] = {}
    thread = threading.Thread(target=lambda: holder.setdefault("r", _run(tmp_path, demo_target, 6, out)))
    thread.start()
    seen_live = False
    while thread.is_alive():
        try:
            rows = influxdb_v1.rows("SELECT sum(\"count\") FROM crossload_requests", "e2e_live")
        except AssertionError:
            rows = []  # the database is created by the first write
        if rows and rows[0]["sum"] > 0 and thread.is_alive():
            seen_live = True
            break
        time.sleep(0.25)
    thread.join(timeout=120)
    result = holder["r"]
    assert result.exit_code == EXIT_PASS, out.getvalue()
    assert seen_live, "no point reached InfluxDB while the run was going on"
    _check_three_way(result, _v1_counts(influxdb_v1, "e2e_live", result.run_id or ""))
    assert "influx: " in out.getvalue() and "nothing pending" in out.getvalue()
    runs_rows = influxdb_v1.rows(f"SELECT * FROM crossload_runs WHERE run_id = '{result.run_id}'", "e2e_live")
    assert {r["tool"] for r in runs_rows} == {"locust", "k6"}
    assert all(r["status"] == "passed" for r in runs_rows)
    th_rows = influxdb_v1.rows(f"SELECT * FROM crossload_thresholds WHERE run_id = '{result.run_id}'", "e2e_live")
    assert len(th_rows) == 2 and all(r["passed"] for r in th_rows)


def test_v2_api_counts_reconcile(victoria_metrics: Any, demo_target: str, tmp_path: Path,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CROSSLOAD_INFLUX_URL", victoria_metrics.url)
    monkeypatch.setenv("CROSSLOAD_INFLUX_API", "v2")
    monkeypatch.setenv("CROSSLOAD_INFLUX_TOKEN", "any-token")
    monkeypatch.setenv("CROSSLOAD_INFLUX_ORG", "crossload")
    monkeypatch.setenv("CROSSLOAD_INFLUX_BUCKET", "crossload")
    out = io.StringIO()
    result = _run(tmp_path, demo_target, 4, out)
    assert result.exit_code == EXIT_PASS, out.getvalue()
    _check_three_way(result, _vm_counts(victoria_metrics, result.run_id or ""))
    assert "any-token" not in out.getvalue()


def test_influx_killed_mid_run_then_refilled_by_push(influxdb_v1: Any, demo_target: str, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    _env_v1(monkeypatch, influxdb_v1.url, "e2e_outage")
    monkeypatch.setenv("CROSSLOAD_RESULTS_DIR", str(tmp_path / "results"))
    out = io.StringIO()
    holder: dict[str, RunResult] = {}
    thread = threading.Thread(target=lambda: holder.setdefault("r", _run(tmp_path, demo_target, 5, out)))
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                rows = influxdb_v1.rows("SELECT sum(\"count\") FROM crossload_requests", "e2e_outage")
            except AssertionError:
                rows = []
            if rows and rows[0]["sum"] > 0:
                break
            time.sleep(0.2)
        influxdb_v1.stop(kill=True)
        thread.join(timeout=180)
    finally:
        influxdb_v1.start()  # same port and data directory; a no-op if it is already running
    result = holder["r"]
    # The run was not disturbed: both tools ran to the end and the verdict is the normal one.
    assert result.exit_code == EXIT_PASS, out.getvalue()
    assert "pending" in out.getvalue() and "invoke results.push" in out.getvalue()
    run_id = result.run_id or ""

    push_out = io.StringIO()
    assert runs.push(run_id, push_out) == EXIT_PASS, push_out.getvalue()
    first = _v1_counts(influxdb_v1, "e2e_outage", run_id)
    _check_three_way(result, first)
    again = io.StringIO()
    assert runs.push(run_id, again) == EXIT_PASS
    assert "0 store lines pending" in again.getvalue()
    assert _v1_counts(influxdb_v1, "e2e_outage", run_id) == first
    points = influxdb_v1.rows(f"SELECT count(\"count\") FROM crossload_requests WHERE run_id = '{run_id}'",
                              "e2e_outage")
    store_lines = sum(1 for tool in ("locust", "k6")
                      for i in read_aggregates(result.path / tool / "aggregates.jsonl", tool)  # type: ignore[operator]
                      if isinstance(i, IntervalAggregate))
    assert points[0]["count"] <= store_lines  # identical identities were merged, never duplicated


def test_wrong_credentials_stop_the_run_before_load(influxdb_v1_auth: Any, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    _env_v1(monkeypatch, influxdb_v1_auth.url, "e2e_auth")
    monkeypatch.setenv("CROSSLOAD_INFLUX_USERNAME", "admin")
    monkeypatch.setenv("CROSSLOAD_INFLUX_PASSWORD", "not-the-password-42")
    result = _run(tmp_path, "http://127.0.0.1:9", 2)
    assert result.exit_code == EXIT_INPUT
    assert "not-the-password-42" not in result.message
    assert "401" in result.message or "credentials" in result.message.lower() or "auth" in result.message.lower()
    assert not (tmp_path / "results").exists()


def test_unreachable_influx_stops_the_run_before_load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    _env_v1(monkeypatch, f"http://127.0.0.1:{port}", "nowhere")
    started = time.monotonic()
    result = _run(tmp_path, "http://127.0.0.1:9", 2)
    assert result.exit_code == EXIT_INPUT
    assert f"127.0.0.1:{port}" in result.message
    assert time.monotonic() - started < 10
    assert not (tmp_path / "results").exists()
