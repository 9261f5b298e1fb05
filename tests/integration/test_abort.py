"""Early stop with real Locust and k6: a criterion marked ``abort: true`` ends a 20 s run within seconds, in
both tools, with exit code 1, status ``aborted`` and the criterion and time named."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from crossload.errors import EXIT_THRESHOLDS

# 60 % of the requests fail: a criterion of at most 20 % must stop the run once its window is full.
FAILING = """\
version: 1
name: failing
defaults:
  think_time: 20ms
requests:
  - name: flaky
    path: /error/60
thresholds:
  - {{check: "error_rate < 20%", abort: true, grace: 1s{window}}}
"""


def write(tmp_path: Path, window: str) -> str:
    path = tmp_path / "scenario.yaml"
    path.write_text(FAILING.format(window=f", window: {window}" if window else ""), encoding="utf-8")
    return str(path)


@pytest.mark.parametrize(("tool", "window"), [("both", "2s"), ("k6", ""), ("k6", "2s")])
def test_an_abort_criterion_stops_the_run_early(run_crossload, tmp_path: Path, tool: str,  # type: ignore[no-untyped-def]
                                                window: str) -> None:
    started = time.monotonic()
    result, out = run_crossload(scenario=write(tmp_path, window), tool=tool, users=2, duration_s=20)
    took = time.monotonic() - started
    assert result.exit_code == EXIT_THRESHOLDS, out
    assert result.summary is not None and result.path is not None
    assert result.summary.status == "aborted"
    first = "locust" if tool == "both" else "k6"
    # The first tool was stopped; with both tools, k6 never started.
    assert list(result.summary.tools) == [first], out
    aborted = result.summary.aborted
    assert aborted is not None and aborted["tool"] == first and aborted["threshold"] == "error_rate < 20%", aborted
    assert aborted["window_s"] == (2.0 if window else None)
    assert aborted["measured"] > 20 and 1 <= aborted["at_s"] < 12, aborted
    assert "aborted: " + first in out and "error_rate < 20% (all requests) not met after" in out, out
    assert took < 40, (took, out)  # 20 s of load (plus start-up) never ran to the end
    overall = result.summary.tools[first].overall
    assert overall.count > 0 and 0 < overall.error_rate < 100
    # Its rate is over the time it actually ran, not the 20 s profile.
    assert result.summary.tools[first].duration_s < 15, result.summary.tools[first]
    stored = json.loads((result.path / "summary.json").read_text())
    assert stored["status"] == "aborted" and stored["aborted"]["tool"] == first
    manifest = json.loads((result.path / "manifest.json").read_text())
    assert manifest["status"] == "aborted" and manifest["outcomes"][first]["stopped_early"]["tool"] == first
    script = (result.path / "k6" / "script.js").read_text() if (result.path / "k6").exists() else ""
    if tool == "k6" and not window:
        assert "abortOnFail: true," in script and "delayAbortEval: '1s'," in script, script
    elif tool == "k6":
        assert "abortOnFail" not in script and "k6 has no windows" in script, script


def test_a_criterion_that_holds_does_not_stop_the_run(run_crossload, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "ok.yaml"
    path.write_text(FAILING.replace("/error/60", "/health").format(window=", window: 1s"), encoding="utf-8")
    result, out = run_crossload(scenario=str(path), tool="locust", users=1, duration_s=3)
    assert result.exit_code == 0, out
    assert result.summary is not None and result.summary.status == "passed" and result.summary.aborted is None
    assert result.summary.tools["locust"].duration_s == 3.0
