"""Stored runs: list, show, prune and run references (on run folders written like a real run writes them)."""

from __future__ import annotations

import io
import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from crossload import runs
from crossload.errors import InputError
from crossload.report.table import side_by_side_table
from crossload.results import is_run_id, new_run_id, write_json
from crossload.summary import RunSummary

# summary.json as the first schema wrote it: no p90, no all_requests, no errors, no guard.
SCHEMA_1_STATS = {"count": 10, "failures": 1, "error_rate": 10.0, "rps": 1.0, "min_ms": 1.0, "mean_ms": 2.0,
                  "p50_ms": 2.0, "p95_ms": 3.5, "p99_ms": 4.0, "max_ms": 4.0}


def _schema_1(run_id: str, profile: str, status: str) -> dict[str, Any]:
    return {
        "schema": 1, "run_id": run_id, "scenario": "demo", "profile": profile, "status": status,
        "units": {"latency": "ms", "error_rate": "%", "rps": "requests/s", "bytes": "bytes"},
        "tools": {"k6": {"overall": SCHEMA_1_STATS, "requests": {"home": SCHEMA_1_STATS}}},
        "thresholds": [{"threshold": "p95 < 1ms", "request": None, "metric": "p95", "op": "<", "limit": 1.0,
                        "unit": "ms", "tool": "k6", "measured": 3.5, "passed": False,
                        "location": "scenarios/demo.yaml:20"}],
    }


def _schema_2(run_id: str, profile: str, status: str) -> dict[str, Any]:
    stats = {**SCHEMA_1_STATS, "p90_ms": 3.0, "bytes": 100, "errors": {"HTTP 503": 1},
             "all_requests": {"p50_ms": 1.0, "max_ms": 30.0}}
    return {
        "schema": 2, "run_id": run_id, "scenario": "demo", "profile": profile, "status": status,
        "tools": {"locust": {"duration_s": 10.0, "overall": stats, "requests": {"home": stats}},
                  "k6": {"duration_s": 10.0, "overall": stats, "requests": {"home": stats}}},
        "thresholds": [{"threshold": "requests > 0", "request": None, "metric": "count", "op": ">", "limit": 0,
                        "unit": "requests", "tool": "k6", "measured": 10, "passed": True,
                        "location": "default guard (CROSSLOAD_ERROR_GUARD)", "guard": True}],
    }


def _make_run(root: Path, profile: str, when: float, status: str = "passed", schema: int = 1) -> Path:
    run_id = new_run_id(profile, now=when)
    path = root / run_id
    path.mkdir(parents=True)
    write_json(path / "manifest.json", {
        "run_id": run_id, "status": status, "scenario": {"name": "demo", "file": "scenarios/demo.yaml"},
        "profile": {"profile": profile, "total_s": 15.0, "peak_users": 2}, "tool_versions": {"k6": "1.1.0"},
        "target": {"url": "http://127.0.0.1:8089"}, "started_at": "2026-11-21T10:00:00Z",
        "ended_at": "2026-11-21T10:00:15Z",
    })
    summary = (_schema_1 if schema == 1 else _schema_2)(run_id, profile, status)
    write_json(path / "summary.json", summary)
    os.utime(path, (when, when))
    return path


def test_list_show_and_references(tmp_path: Path) -> None:
    now = time.time()
    old = _make_run(tmp_path, "smoke", now - 3 * 86400)
    new = _make_run(tmp_path, "load", now - 60)
    (tmp_path / "not-a-run").mkdir()
    out = io.StringIO()
    runs.list_runs(out, tmp_path)
    lines = out.getvalue().splitlines()
    assert lines[1].startswith(old.name) and lines[2].startswith(new.name) and len(lines) == 3
    assert "k6 10" in lines[2]
    assert runs.find_run("latest", tmp_path).path == new
    assert runs.find_run(None, tmp_path).path == new
    assert runs.find_run("", tmp_path).path == new
    assert runs.find_run(old.name[:20], tmp_path).path == old
    assert runs.find_run(new.name, tmp_path).path == new
    with pytest.raises(InputError, match="no run"):
        runs.find_run("1999", tmp_path)
    with pytest.raises(InputError, match="matches 2 runs"):
        runs.find_run("2", tmp_path)
    show = io.StringIO()
    runs.show_run(new.name, show, tmp_path, width=100)
    text = show.getvalue()
    assert f"run {new.name}: passed" in text and "FAIL  k6: p95 < 1ms (all requests): measured 3.5 ms" in text
    assert "home" in text


@pytest.mark.parametrize("schema", [1, 2])
def test_show_prints_the_table_of_the_typed_summary(tmp_path: Path, schema: int) -> None:
    path = _make_run(tmp_path, "smoke", time.time(), schema=schema)
    data = json.loads((path / "summary.json").read_text())
    summary = RunSummary.model_validate(data)
    assert summary.tools["k6"].overall.count == 10
    for width in (200, 80):
        out = io.StringIO()
        runs.show_run("latest", out, tmp_path, width=width)
        assert side_by_side_table(summary.tools, width=width) in out.getvalue()
    if schema == 2:
        assert "errors (k6) home: HTTP 503 ×1" in out.getvalue()
        assert "pass  k6: requests > 0 (guard) (all requests): measured 10 requests" in out.getvalue()


def test_summary_from_before_the_model_still_loads(tmp_path: Path) -> None:
    """Early files: no run_id/scenario/profile at the top, verdicts without metric/op/limit/location."""
    path = _make_run(tmp_path, "smoke", time.time())
    write_json(path / "summary.json", {
        "tools": {"k6": {"overall": SCHEMA_1_STATS, "requests": {"home": SCHEMA_1_STATS}}},
        "thresholds": [{"tool": "k6", "threshold": "p95 < 1ms", "request": None, "measured": 3.5, "unit": "ms",
                        "passed": False}],
    })
    stored = runs.find_run("latest", tmp_path)
    assert stored.summary is not None and stored.problem == ""
    assert stored.summary.run_id == path.name and stored.summary.profile == "smoke"
    assert stored.summary.scenario == "demo"
    out = io.StringIO()
    runs.show_run("latest", out, tmp_path, width=120)
    assert "FAIL  k6: p95 < 1ms (all requests): measured 3.5 ms" in out.getvalue()


def test_unreadable_or_missing_summary_is_said_not_raised(tmp_path: Path) -> None:
    broken = _make_run(tmp_path, "smoke", time.time() - 10)
    (broken / "summary.json").write_text('{"tools": {"k6": {"overall": {"count": "many"}}}}')
    running = _make_run(tmp_path, "load", time.time(), status="running")
    (running / "summary.json").unlink()
    out = io.StringIO()
    runs.show_run(broken.name, out, tmp_path, width=100)
    assert "summary.json does not match the summary schema" in out.getvalue()
    out = io.StringIO()
    runs.show_run("latest", out, tmp_path, width=100)
    assert f"run {running.name}: running" in out.getvalue() and "no summary.json yet" in out.getvalue()
    listing = io.StringIO()
    runs.list_runs(listing, tmp_path)
    assert [line.split()[0] for line in listing.getvalue().splitlines()[1:]] == [broken.name, running.name]


def test_prune_keeps_the_newest_and_respects_running(tmp_path: Path) -> None:
    now = time.time()
    paths = [_make_run(tmp_path, "smoke", now - age * 3600) for age in (120, 96, 72, 12)]
    running = _make_run(tmp_path, "load", now - 86400 * 10, status="running")
    dry = io.StringIO()
    runs.prune(dry, keep=2, dry_run=True, root=tmp_path)
    assert all(p.exists() for p in [*paths, running])
    assert "3 of 5 runs selected" in dry.getvalue()
    out = io.StringIO()
    runs.prune(out, keep=2, root=tmp_path)
    assert running.exists() and f"kept {running.name}: still running" in out.getvalue()
    assert [p.exists() for p in paths] == [False, False, True, True]
    runs.prune(io.StringIO(), older_than="1d", root=tmp_path)
    assert [p.exists() for p in paths] == [False, False, False, True]
    with pytest.raises(InputError):
        runs.prune(io.StringIO(), root=tmp_path)


def test_push_without_influx_settings_is_an_input_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run = _make_run(tmp_path, "smoke", time.time())
    monkeypatch.delenv("CROSSLOAD_INFLUX_URL", raising=False)
    with pytest.raises(InputError, match="CROSSLOAD_INFLUX_URL is not set"):
        runs.push(run.name, io.StringIO(), tmp_path)


def test_run_ids_sort_by_time_and_list_in_that_order(tmp_path: Path) -> None:
    times = [1_800_000_000, 1_700_000_000, 1_700_000_001, 1_700_086_400]
    ids = [new_run_id(profile, now=t) for profile, t in zip(["spike", "smoke", "load", "stress"], times,
                                                             strict=True)]
    assert all(is_run_id(i) for i in ids)
    assert ids[1].startswith("20231114T221320Z-smoke-")
    by_time = [i for _t, i in sorted(zip(times, ids, strict=True))]
    assert sorted(ids) == by_time  # the lexical order of ids is their time order, whatever the profile
    for run_id in ids:
        (tmp_path / run_id).mkdir()
    out = io.StringIO()
    runs.list_runs(out, tmp_path)
    assert [line.split()[0] for line in out.getvalue().splitlines()[1:]] == by_time
    assert runs.find_run("latest", tmp_path).run_id == ids[0]
