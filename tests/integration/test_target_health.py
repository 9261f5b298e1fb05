"""A target that is down, dies, or answers only errors is reported with its cause, never passed; what the
tools report reconciles with what reached the server; failed checks count the same in both tools."""

from __future__ import annotations

import json
import socket
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from crossload.errors import EXIT_INPUT, EXIT_PASS, EXIT_THRESHOLDS
from crossload.target import DemoTarget

pytestmark = pytest.mark.integration


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # nothing listens once the socket is closed


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "scenario.yaml"
    path.write_text(text, encoding="utf-8")
    return str(path)


@pytest.fixture()
def own_target() -> Iterator[DemoTarget]:
    """A demo target of the test's own, which the test may stop."""
    target = DemoTarget(host="127.0.0.1", port=0).start()
    try:
        yield target
    finally:
        target.stop()


def received(url: str) -> dict[str, int]:
    with urllib.request.urlopen(f"{url}/_crossload/received", timeout=10) as resp:
        data: dict[str, int] = json.loads(resp.read())
    return data


def reset_received(url: str) -> None:
    req = urllib.request.Request(f"{url}/_crossload/received", method="DELETE")
    with urllib.request.urlopen(req, timeout=10):
        pass


NO_THRESHOLDS = """\
version: 1
name: plain
defaults:
  think_time: 20ms
requests:
  - name: page
    path: {path}
"""


def test_a_closed_port_is_an_input_error_before_any_load(run_crossload, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    port = closed_port()
    result, out = run_crossload(target=f"http://127.0.0.1:{port}", duration_s=2)
    assert result.exit_code == EXIT_INPUT, out
    assert result.message == f"cannot connect to http://127.0.0.1:{port}: connection refused"
    assert result.run_id is None
    assert not (tmp_path / "results").exists() or not any((tmp_path / "results").iterdir())


@pytest.mark.parametrize("tool", ["locust", "k6"])
def test_only_errors_fail_the_run_without_thresholds_and_name_the_cause(
        run_crossload, demo_target: str, tmp_path: Path, tool: str) -> None:  # type: ignore[no-untyped-def]
    scenario = write(tmp_path, NO_THRESHOLDS.format(path="/error/100"))
    result, out = run_crossload(target=demo_target, scenario=scenario, tool=tool, users=2, duration_s=2)
    assert result.exit_code == EXIT_THRESHOLDS, out
    overall = result.summary.tools[tool].overall
    assert overall.count > 0 and overall.failures == overall.count
    assert overall.errors == {"HTTP 500": overall.count}
    assert f"HTTP 500 ×{overall.count}" in out  # the final line names the cause with its count
    failed = [v for v in result.verdicts if not v.passed]
    assert failed and all(v.guard for v in failed)
    saved = json.loads((result.path / "summary.json").read_text())
    assert saved["tools"][tool]["overall"]["errors"] == {"HTTP 500": overall.count}


def test_the_error_guard_can_be_raised(run_crossload, demo_target: str, tmp_path: Path,  # type: ignore[no-untyped-def]
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    scenario = write(tmp_path, NO_THRESHOLDS.format(path="/error/30"))
    monkeypatch.setenv("CROSSLOAD_ERROR_GUARD", "90%")
    result, out = run_crossload(target=demo_target, scenario=scenario, tool="k6", users=2, duration_s=2)
    assert result.exit_code == EXIT_PASS, out
    overall = result.summary.tools["k6"].overall
    assert 0 < overall.failures < overall.count
    monkeypatch.setenv("CROSSLOAD_ERROR_GUARD", "1%")
    result, out = run_crossload(target=demo_target, scenario=scenario, tool="k6", users=2, duration_s=2)
    assert result.exit_code == EXIT_THRESHOLDS, out
    assert "error_rate < 1%" in out


@pytest.mark.parametrize("tool", ["locust", "k6"])
def test_a_target_that_dies_mid_run_is_reported_while_it_happens(
        run_crossload, own_target: DemoTarget, tmp_path: Path, tool: str) -> None:  # type: ignore[no-untyped-def]
    scenario = write(tmp_path, NO_THRESHOLDS.format(path="/health"))
    done_event = threading.Event()

    def kill_once_answered() -> None:
        # Stop the target 2 s after the first collected second: the tool is then in the middle of its load.
        while not done_event.wait(0.1):
            if any(p.stat().st_size for p in (tmp_path / "results").glob(f"*/{tool}/aggregates.jsonl")):
                if not done_event.wait(2.0):
                    own_target.stop()
                return

    killer = threading.Thread(target=kill_once_answered)
    killer.start()
    try:
        result, out = run_crossload(target=own_target.url, scenario=scenario, tool=tool, users=2, duration_s=8)
    finally:
        done_event.set()
        killer.join()
    lines = out.splitlines()
    news = [i for i, line in enumerate(lines) if "target not answering" in line]
    done = [i for i, line in enumerate(lines) if f"[{tool:>6}] done" in line]
    assert news and done and news[0] < done[0], out  # said during the run, before the closing line
    assert "connection refused" in lines[news[0]] or "connection reset" in lines[news[0]], lines[news[0]]
    overall = result.summary.tools[tool].overall
    assert overall.failures > 0 and set(overall.errors) <= {"connection refused", "connection reset", "timeout"}
    assert result.exit_code == EXIT_THRESHOLDS, out
    # Failed connections do not drag the successful responses' percentiles down.
    assert overall.p50_ms is not None and overall.p50_ms > 0


SLOW = """\
version: 1
name: in-flight
requests:
  - name: slow
    path: /delay/400
"""


@pytest.mark.parametrize("tool", ["locust", "k6"])
def test_every_request_that_reached_the_target_is_counted(
        run_crossload, own_target: DemoTarget, tmp_path: Path, tool: str) -> None:  # type: ignore[no-untyped-def]
    """Requests still in flight when the load stops complete and are counted (no think time, 400 ms each:
    at the end every user is in the middle of one)."""
    scenario = write(tmp_path, SLOW)
    reset_received(own_target.url)
    result, out = run_crossload(target=own_target.url, scenario=scenario, tool=tool, users=4, duration_s=3)
    assert result.exit_code == EXIT_PASS, out
    server = received(own_target.url).get("/delay/{ms}", 0)
    overall = result.summary.tools[tool].overall
    assert overall.failures == 0, overall.errors
    assert server == overall.count > 0, out


BODY_CHECK = """\
version: 1
name: body check
defaults:
  think_time: 10ms
requests:
  - name: health
    path: /health
    checks:
      body_contains: never-in-the-body
  - name: item
    path: /api/items/7
    weight: 2
"""


def test_a_failing_body_check_counts_the_same_in_both_tools(run_crossload, demo_target: str,  # type: ignore[no-untyped-def]
                                                            tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    scenario = write(tmp_path, BODY_CHECK)
    monkeypatch.setenv("CROSSLOAD_ERROR_GUARD", "off")  # a third of the requests fail on purpose
    result, out = run_crossload(target=demo_target, scenario=scenario, users=3, duration_s=3)
    assert result.exit_code == EXIT_PASS, out
    causes = {}
    for tool in ("locust", "k6"):
        stats = result.summary.tools[tool]
        health, item = stats.requests["health"], stats.requests["item"]
        assert health.count > 0 and health.failures == health.count, (tool, health)
        assert item.failures == 0, (tool, item.errors)
        assert len(health.errors) == 1 and sum(health.errors.values()) == health.count
        causes[tool] = set(health.errors)
        # Collected counts equal what the tool itself reported.
        assert result.path is not None
        manifest = json.loads((result.path / "manifest.json").read_text())
        assert manifest["outcomes"][tool]["tool_reported_requests"] == stats.overall.count
        # The tool's closing progress line carries the numbers of the table's ALL row.
        done = [line for line in out.splitlines() if line.startswith(f"[{tool:>6}] done")]
        o = stats.overall
        p95 = f"{o.p95_ms:.1f} ms" if o.p95_ms is not None else "-"
        assert len(done) == 1 and (f"requests {o.count}  rps {o.rps:.1f}/s  p95 {p95}  "
                                   f"errors {o.failures} ({o.error_rate:.2f}%") in done[0], (done, o)
    assert causes["locust"] == causes["k6"]
    (cause,) = causes["k6"]
    assert cause.startswith("check failed: ") and "never-in-the-body" in cause
    # k6's own summary counts the failed checks too: one per failed request of ours.
    k6_summary = json.loads((result.path / "k6" / "k6-summary.json").read_text())
    checks = k6_summary["metrics"]["checks"]
    assert checks["fails"] == result.summary.tools["k6"].requests["health"].failures
