"""Real runs of both tools pushed live to real InfluxDB 1.6.7 (v1 API) and VictoriaMetrics (v2 API).

Counts per tool and request name must agree three ways: InfluxDB == the local store == each tool's own
end-of-test totals. InfluxDB going away mid-run must not disturb the run, and `results push` refills it.
"""

from __future__ import annotations

import io
import json
import re
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
  # One request in three fails on purpose: say so, instead of tripping the default 10 % error-rate guard.
  - "error_rate < 80%"
"""


def _store_counts(run: Path) -> dict[tuple[str, str], int]:
    out: Counter[tuple[str, str]] = Counter()
    for tool in ("locust", "k6"):
        for item in read_aggregates(run / tool / "aggregates.jsonl", tool):
            if isinstance(item, IntervalAggregate):
                out[(tool, item.name)] += item.count
    return dict(out)


def _store_lines(run: Path) -> int:
    return sum(1 for tool in ("locust", "k6") for i in read_aggregates(run / tool / "aggregates.jsonl", tool)
               if isinstance(i, IntervalAggregate))


def _locust_own_counts(run: Path) -> dict[str, int]:
    """Locust's final statistics (--json-file), written once the run is over. Not its CSV: that one is
    written periodically and can miss the last requests."""
    final = json.loads((run / "locust" / "locust-final.json").read_text())
    return dict(Counter({str(e["name"]): int(e["num_requests"]) for e in final}))


def _k6_own_total(run: Path) -> int:
    """k6's own count of HTTP requests (--summary-export)."""
    return int(json.loads((run / "k6" / "k6-summary.json").read_text())["metrics"]["http_reqs"]["count"])


def _unsent_store_lines(run: Path) -> int:
    """Complete store and resource-sample lines past the offsets InfluxDB acknowledged (influx.json), counted
    from the files."""
    state = json.loads((run / "influx.json").read_text()) if (run / "influx.json").exists() else {}
    total = 0
    for key, path in (("locust", run / "locust" / "aggregates.jsonl"), ("k6", run / "k6" / "aggregates.jsonl"),
                      ("(monitor)", run / "monitor.jsonl")):
        offset = int(state.get("files", {}).get(key, {}).get("offset", 0))
        total += path.read_bytes()[offset:].count(b"\n")
    return total


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
    """InfluxDB == the local store == each tool's own end-of-test totals, per tool and request name."""
    run: Path = result.path  # type: ignore[assignment]
    store = _store_counts(run)
    assert {name for (_tool, name) in store} == {"health", 'item, with "odd" name=1', "failing"}
    assert counts_in_db == store
    assert {name: n for (tool, name), n in store.items() if tool == "locust"} == _locust_own_counts(run)
    assert sum(n for (tool, _), n in store.items() if tool == "k6") == _k6_own_total(run) > 0


def _run_id_when_started(results: Path, thread: threading.Thread, timeout_s: float = 60.0) -> str:
    """The id of the run going on in ``thread``, once its folder exists."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = [p.parent.name for p in results.glob("*/manifest.json")] if results.exists() else []
        if found:
            assert len(found) == 1, found
            return found[0]
        if not thread.is_alive() or time.monotonic() > deadline:
            raise AssertionError(f"no run folder appeared under {results}")
        time.sleep(0.1)


def _wait_for_points(server: Any, db: str, run_id: str, thread: threading.Thread,
                     timeout_s: float = 60.0) -> dict[tuple[str, str], int]:
    """Counts of the run in InfluxDB as soon as there are any, while the run is still going on ({} if the
    run ended, or the time ran out, first)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and thread.is_alive():
        try:
            counts = _v1_counts(server, db, run_id)
        except AssertionError:
            counts = {}  # the database is created by the first write
        if sum(counts.values()) > 0 and thread.is_alive():
            return counts
        time.sleep(0.2)
    return {}


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
    try:
        run_id = _run_id_when_started(tmp_path / "results", thread)
        live = _wait_for_points(influxdb_v1, "e2e_live", run_id, thread)
    finally:
        thread.join(timeout=180)
    assert not thread.is_alive(), "the run did not end in 180 s"
    result = holder["r"]
    printed = out.getvalue()
    assert result.exit_code == EXIT_PASS, printed
    assert result.run_id == run_id
    assert live, f"no point reached InfluxDB while the run was going on:\n{printed}"
    _check_three_way(result, _v1_counts(influxdb_v1, "e2e_live", run_id))
    written = re.search(r"^influx: (\d+) points written to InfluxDB 1\.x at \S+ \(database 'e2e_live'\), "
                        r"nothing pending$", printed, re.MULTILINE)
    assert written and int(written.group(1)) > 0, printed
    assert _unsent_store_lines(result.path) == 0  # type: ignore[arg-type]
    runs_rows = influxdb_v1.rows(f"SELECT * FROM crossload_runs WHERE run_id = '{run_id}'", "e2e_live")
    assert sorted(r["tool"] for r in runs_rows) == ["k6", "locust"]
    assert all(r["status"] == "passed" and r["verdict_passed"] is True for r in runs_rows), runs_rows
    # Every verdict of summary.json (the scenario's thresholds and crossload's guards) is in InfluxDB.
    verdicts = json.loads((result.path / "summary.json").read_text())["thresholds"]  # type: ignore[operator]
    th_rows = influxdb_v1.rows(f"SELECT * FROM crossload_thresholds WHERE run_id = '{run_id}'", "e2e_live")
    assert {(r["tool"], r["threshold"], r["request"]): r["passed"] for r in th_rows} == {
        (v["tool"], v["threshold"], v["request"] or "(all)"): v["passed"] for v in verdicts}
    assert {(v["tool"], v["threshold"]) for v in verdicts} >= {
        (tool, text) for tool in ("locust", "k6") for text in ("p99 < 5s", "error_rate < 80%")}
    assert len(th_rows) == len(verdicts) and all(r["passed"] for r in th_rows)


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
    assert re.search(r"^influx: [1-9]\d* points written to .*, nothing pending$", out.getvalue(), re.MULTILINE), \
        out.getvalue()
    assert "any-token" not in out.getvalue()


def test_influx_killed_mid_run_then_refilled_by_push(influxdb_v1: Any, demo_target: str, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    db = "e2e_outage"
    _env_v1(monkeypatch, influxdb_v1.url, db)
    monkeypatch.setenv("CROSSLOAD_RESULTS_DIR", str(tmp_path / "results"))
    out = io.StringIO()
    holder: dict[str, RunResult] = {}
    thread = threading.Thread(target=lambda: holder.setdefault("r", _run(tmp_path, demo_target, 5, out)))
    thread.start()
    try:
        run_id = _run_id_when_started(tmp_path / "results", thread)
        before_kill = _wait_for_points(influxdb_v1, db, run_id, thread)
        # Killed (SIGKILL, as in a crash) only once points of the run were in it, while the run goes on.
        influxdb_v1.stop(kill=True)
        thread.join(timeout=180)
    finally:
        influxdb_v1.start()  # same port and data directory; a no-op if it is already running
        thread.join(timeout=180)
    assert not thread.is_alive(), "the run did not end in 180 s"
    result = holder["r"]
    printed = out.getvalue()
    assert before_kill, f"no point of the run reached InfluxDB before it was killed:\n{printed}"
    # The run was not disturbed: both tools ran to the end and the verdict is the normal one.
    assert result.exit_code == EXIT_PASS, printed
    assert result.run_id == run_id
    run: Path = result.path  # type: ignore[assignment]
    # It says what is pending, and the number is that of the store lines InfluxDB never acknowledged.
    said = re.search(r"^influx: \d+ points written, (\d+) store lines pending \(.+\); they are kept in "
                     rf"{run_id} and sent by `invoke results\.push {run_id}`$", printed, re.MULTILINE)
    assert said, printed
    pending = int(said.group(1))
    assert pending == _unsent_store_lines(run) > 0
    assert "nothing pending" not in printed

    # What InfluxDB acknowledged before the kill survived it; the rest of the run is not there yet.
    store = _store_counts(run)
    after_restart = _v1_counts(influxdb_v1, db, run_id)
    assert all(after_restart.get(key, 0) >= n for key, n in before_kill.items()), (before_kill, after_restart)
    assert sum(after_restart.values()) < sum(store.values()), (after_restart, store)

    push_out = io.StringIO()
    assert runs.push(run_id, push_out) == EXIT_PASS, push_out.getvalue()
    assert re.fullmatch(rf"{run_id}: [1-9]\d* points written to .*, 0 store lines pending\n", push_out.getvalue()), \
        push_out.getvalue()
    first = _v1_counts(influxdb_v1, db, run_id)
    _check_three_way(result, first)
    assert _unsent_store_lines(run) == 0
    again = io.StringIO()
    assert runs.push(run_id, again) == EXIT_PASS
    assert re.fullmatch(rf"{run_id}: 0 points written to .*, 0 store lines pending\n", again.getvalue()), \
        again.getvalue()
    assert _v1_counts(influxdb_v1, db, run_id) == first
    points = influxdb_v1.rows(f"SELECT count(\"count\") FROM crossload_requests WHERE run_id = '{run_id}'", db)
    # Store lines of one identity (tool, request, method, second) were merged into one point, never
    # duplicated, and none is missing.
    identities = {(tool, i.name, i.method, i.t) for tool in ("locust", "k6")
                  for i in read_aggregates(run / tool / "aggregates.jsonl", tool) if isinstance(i, IntervalAggregate)}
    assert points[0]["count"] == len(identities) <= _store_lines(run)


def test_wrong_credentials_stop_the_run_before_load(influxdb_v1_auth: Any, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    _env_v1(monkeypatch, influxdb_v1_auth.url, "e2e_auth")
    monkeypatch.setenv("CROSSLOAD_INFLUX_USERNAME", "admin")
    monkeypatch.setenv("CROSSLOAD_INFLUX_PASSWORD", "not-the-password-42")
    result = _run(tmp_path, "http://127.0.0.1:9", 2)
    assert result.exit_code == EXIT_INPUT
    assert "not-the-password-42" not in result.message
    assert "refused the credentials (HTTP 401)" in result.message, result.message
    assert "CROSSLOAD_INFLUX_PASSWORD" in result.message, result.message
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
