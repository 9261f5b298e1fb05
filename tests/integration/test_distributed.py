"""--workers 2 with the local runner: Locust as a master and two workers, k6 as two execution segments.

The merged results must add up exactly: to what the tool itself reports (Locust's master, the sum of the k6
instances' summary exports) and to what the demo target received; every worker appears as a tag; run
percentiles are those of the merged histograms (Locust) or k6's rule over every sample of both segments
(k6); the users of a second, summed over the workers, follow the profile within one tick (as the
single-process curve test asks). Ctrl-C in the middle leaves no process.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from k6_raw import k6_durations, k6_rule

from crossload.errors import EXIT_PASS, EXIT_RUN_FAILED
from crossload.paths import resource_dir
from crossload.profiles import build_schedule
from crossload.results import IntervalAggregate, RequestStats, UsersSample, read_aggregates
from crossload.scenario import load_scenario
from crossload.target import DemoTarget

pytestmark = pytest.mark.integration

# The single-process curve test's scenario and its fitting of samples to the schedule, reused as they are.
_spec = importlib.util.spec_from_file_location("curve_test", Path(__file__).with_name("test_profile_equivalence.py"))
assert _spec is not None and _spec.loader is not None
curve = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(curve)


@pytest.fixture()
def own_target() -> Iterator[DemoTarget]:
    target = DemoTarget(host="127.0.0.1", port=0).start()
    try:
        yield target
    finally:
        target.stop()


def _received(url: str, method: str = "GET") -> dict[str, int]:
    req = urllib.request.Request(f"{url}/_crossload/received", method=method)
    with urllib.request.urlopen(req, timeout=10) as resp:
        body = resp.read()
    return json.loads(body) if method == "GET" and body else {}


@pytest.mark.parametrize("tool", ["locust", "k6"])
def test_two_workers_add_up_exactly_and_follow_the_profile(
        run_crossload, own_target: DemoTarget, tmp_path: Path, tool: str) -> None:  # type: ignore[no-untyped-def]
    scenario = tmp_path / "curve.yaml"
    scenario.write_text(curve.SCENARIO, encoding="utf-8")
    _received(own_target.url, "DELETE")
    result, printed = run_crossload("load", target=own_target.url, scenario=str(scenario), tool=tool, workers=2)
    assert result.exit_code == EXIT_PASS, printed
    assert "warning" not in printed, printed

    # Counts: the store, the tool's own totals and the target's count are one number.
    manifest = json.loads((result.path / "manifest.json").read_text())
    assert manifest["workers"] == 2
    outcome = manifest["outcomes"][tool]
    overall = result.summary.tools[tool].overall
    server = sum(_received(own_target.url).values())
    assert overall.count == outcome["tool_reported_requests"] == outcome["collected_requests"] == server > 0
    assert overall.failures == 0, overall.errors

    items = list(read_aggregates(result.path / tool / "aggregates.jsonl", tool))
    requests = [i for i in items if isinstance(i, IntervalAggregate)]
    users = [i for i in items if isinstance(i, UsersSample)]
    # Every worker measured and is a tag; each line has one.
    per_worker: dict[str, int] = {}
    for a in requests:
        per_worker[a.worker] = per_worker.get(a.worker, 0) + a.count
    assert sorted(per_worker) == ["1", "2"] and all(per_worker.values()), per_worker
    assert sum(per_worker.values()) == server
    assert {u.source for u in users} == {"1", "2"}

    # Percentiles: Locust's are those of the histograms of both workers merged; k6's are exact, k6's own rule
    # over every sample both segments wrote (docs/schema.md, section 2).
    merged = RequestStats()
    for a in requests:
        merged.merge(a)
    assert merged.hist.count == server
    got = (overall.p50_ms, overall.p95_ms, overall.p99_ms)
    if tool == "locust":
        expected = merged.success_latency()
        assert got == (expected.p50_ms, expected.p95_ms, expected.p99_ms)
    else:
        values = sorted(k6_durations(result.path / tool))
        assert len(values) == server
        assert got == tuple(round(k6_rule(values, q), 3) for q in (50, 95, 99))

    # The users of a second, summed over the workers, follow the profile within one tick.
    schedule = build_schedule("load", load_scenario(scenario))
    by_second: dict[int, dict[str, int]] = {}
    for u in users:
        by_second.setdefault(u.t, {})[u.source] = u.users
    # Seconds both workers sampled (a busy machine may make one skip a second).
    summed = [UsersSample(tool, t, sum(v.values())) for t, v in sorted(by_second.items()) if len(v) == 2]
    _t0, points = curve._fit(summed, schedule)
    assert len(points) >= 6, summed
    for r, n in points:
        lo, hi = curve._window(schedule, r)
        assert lo <= n <= hi, f"{tool}: {n} users at {r:.1f}s, schedule allows {lo}..{hi}"
    assert any(n == schedule.peak_users for _r, n in points), points


@pytest.mark.parametrize("tool", ["locust", "k6"])
def test_ctrl_c_stops_every_worker_and_keeps_the_data(tmp_path: Path, tool: str) -> None:
    results = tmp_path / "results"
    env = dict(os.environ, CROSSLOAD_RESULTS_DIR=str(results), CROSSLOAD_DOTENV=str(tmp_path / "none"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "crossload", "run", "smoke", "--tool", tool, "--duration", "60s", "--workers", "2"],
        cwd=resource_dir("."), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        store = None
        while time.monotonic() < deadline:
            runs = list(results.glob(f"*/{tool}/aggregates.jsonl")) if results.exists() else []
            if runs and '"worker":"1"' in runs[0].read_text() and '"worker":"2"' in runs[0].read_text():
                store = runs[0]
                break
            if proc.poll() is not None:
                break
            time.sleep(0.2)
        if store is None:
            os.killpg(proc.pid, signal.SIGINT)
            pytest.fail(f"no data from both workers within 60 s:\n{proc.communicate(timeout=60)[0]}")
        descendants = psutil.Process(proc.pid).children(recursive=True)
        tools = [p for p in descendants if tool in " ".join(p.cmdline())]
        assert len(tools) >= (3 if tool == "locust" else 2), [p.cmdline() for p in tools]
        os.killpg(proc.pid, signal.SIGINT)  # the terminal signals the whole foreground group
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == EXIT_RUN_FAILED, out
    assert "interrupted: the data collected so far is kept" in out and "Traceback" not in out
    summary: dict[str, Any] = json.loads((store.parent.parent / "summary.json").read_text())
    assert summary["status"] == "interrupted" and summary["tools"][tool]["overall"]["count"] > 0
    deadline = time.monotonic() + 20
    while _running(descendants) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _running(descendants), [p.pid for p in _running(descendants)]


def _running(procs: list[psutil.Process]) -> list[psutil.Process]:
    alive = []
    for p in procs:
        try:
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                alive.append(p)
        except psutil.NoSuchProcess:
            pass
    return alive
