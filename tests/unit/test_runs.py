"""Stored runs: list, show, prune and run references (on run folders written like a real run writes them)."""

from __future__ import annotations

import io
import json
import os
import time
from pathlib import Path

import pytest

from crossload import runs
from crossload.errors import InputError
from crossload.results import new_run_id, write_json


def _make_run(root: Path, profile: str, when: float, status: str = "passed") -> Path:
    run_id = new_run_id(profile, now=when)
    path = root / run_id
    path.mkdir(parents=True)
    write_json(path / "manifest.json", {
        "run_id": run_id, "status": status, "scenario": {"name": "demo", "file": "scenarios/demo.yaml"},
        "profile": {"profile": profile, "total_s": 15.0, "peak_users": 2}, "tool_versions": {"k6": "1.1.0"},
        "target": {"url": "http://127.0.0.1:8089"}, "started_at": "2026-11-21T10:00:00Z",
        "ended_at": "2026-11-21T10:00:15Z",
    })
    stats = {"count": 10, "failures": 1, "error_rate": 10.0, "rps": 1.0, "min_ms": 1.0, "mean_ms": 2.0,
             "p50_ms": 2.0, "p90_ms": 3.0, "p95_ms": 3.5, "p99_ms": 4.0, "max_ms": 4.0}
    write_json(path / "summary.json", {
        "tools": {"k6": {"overall": stats, "requests": {"home": stats}}},
        "thresholds": [{"tool": "k6", "threshold": "p95 < 1ms", "request": None, "measured": 3.5, "unit": "ms",
                        "passed": False}],
    })
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
    assert runs.find_run(old.name[:20], tmp_path).path == old
    with pytest.raises(InputError, match="no run"):
        runs.find_run("1999", tmp_path)
    show = io.StringIO()
    runs.show_run(new.name, show, tmp_path)
    text = show.getvalue()
    assert f"run {new.name}: passed" in text and "FAIL  k6: p95 < 1ms" in text and "home" in text


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


def test_run_ids_sort_by_time() -> None:
    ids = [new_run_id("smoke", now=t) for t in (1_700_000_000, 1_700_000_001, 1_800_000_000)]
    assert ids == sorted(ids)
    assert json.dumps(ids)
