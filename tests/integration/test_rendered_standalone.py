"""The rendered files work on their own, as a user runs them: plain `k6 run script.js`, `locust -f locustfile.py`.

Every run is short and sends traffic to 127.0.0.1 only (the demo target, or a closed local port).
"""

from __future__ import annotations

import gzip
import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from crossload.collect import K6JsonParser
from crossload.results import IntervalAggregate
from crossload.run import render_only

pytestmark = pytest.mark.integration

K6_ENV = {**os.environ, "K6_NO_USAGE_REPORT": "true"}
NEVER = "never-returned-by-the-demo-target"


def _render(tmp: Path, doc: dict[str, Any], target: str, duration_s: float = 2.0,
            users: int = 1) -> tuple[Path, Path]:
    """Render `doc` for `users` users over `duration_s` seconds; returns (k6 dir, locust dir)."""
    tmp.mkdir(parents=True, exist_ok=True)
    scenario = tmp / "scenario.yaml"
    scenario.write_text(yaml.safe_dump({"version": 1, "name": "standalone", **doc}, allow_unicode=False),
                        encoding="utf-8")
    written = render_only("smoke", str(scenario), target, tmp / "rendered", users=users, duration_s=duration_s)
    assert {p.name for p in written} == {"script.js", "locustfile.py"}
    return tmp / "rendered" / "k6", tmp / "rendered" / "locust"


def _k6_run(k6_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["k6", "run", "--no-color", *args, "script.js"], cwd=k6_dir, env=K6_ENV,
                          capture_output=True, text=True, timeout=120, check=False)


def _points(path: Path) -> list[dict[str, Any]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        return [d for d in (json.loads(line) for line in f if line.strip()) if d.get("type") == "Point"]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


CHECKED: dict[str, Any] = {
    "defaults": {"timeout": "2s", "think_time": {"min": "20ms", "max": "40ms"}},
    "requests": [
        {"name": "search", "path": "/api/search", "query": {"q": "item"}, "weight": 2,
         "checks": {"status": 200, "body_contains": "results"}},
        {"name": "list items", "path": "/api/items", "weight": 2,
         "checks": {"json": [{"path": "$.items[0].id"}, {"path": "$.error", "exists": False}]}},
        {"name": "item detail", "path": "/api/items/42", "checks": {"json": [{"path": "$.id", "equals": 42}]}},
        {"name": "slow", "path": "/delay/20"},
    ],
}


def test_k6_alone_shows_the_checks_by_name_and_enforces_the_thresholds(tmp_path: Path, demo_target: str) -> None:
    passing = {**CHECKED, "thresholds": [
        "p95 < 10s", "error_rate < 50%", "rps > 0.1/s", {"request": "item detail", "check": "max < 10s"}]}
    k6_dir, _ = _render(tmp_path / "pass", passing, demo_target)
    proc = _k6_run(k6_dir)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for label in ("status is 200", 'body contains "results"', "status is 2xx or 3xx", "$.items[0].id exists",
                  "$.error is absent", "$.id == 42"):
        assert f"✓ {label}" in proc.stdout, (label, proc.stdout)
    assert "http_req_duration{name:item detail,expected_response:true}" in proc.stdout
    assert "✓ 'rate>0.1'" in proc.stdout

    breached = {**CHECKED, "thresholds": ["error_rate < 50%", {"request": "slow", "check": "p50 < 1ms"}]}
    k6_dir, _ = _render(tmp_path / "breach", breached, demo_target)
    proc = _k6_run(k6_dir)
    assert proc.returncode == 99, proc.stdout + proc.stderr
    assert "✗ 'med<1'" in proc.stdout, proc.stdout


_LOCUST_PROBE = """
import json, sys
sys.path.insert(0, ".")
import locustfile as lf
counts = {}
for fn in lf.ScenarioUser.tasks:
    counts[fn.__name__] = counts.get(fn.__name__, 0) + 1
docs = {name: getattr(lf.ScenarioUser, name).__doc__ for name in counts}
waits = [lf.ScenarioUser.wait_time(None) for _ in range(4000)]
shape = lf.ScenarioShape()
print(json.dumps({"counts": counts, "docs": docs, "waits": waits, "users": shape.users_at(1.5),
                  "host": lf.ScenarioUser.host}))
"""


def _inspect_locustfile(locust_dir: Path) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if k != "CROSSLOAD_LOCUST_OUT"}
    proc = subprocess.run([sys.executable, "-c", _LOCUST_PROBE], cwd=locust_dir, env=env, capture_output=True,
                          text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_locustfile_has_one_weighted_task_per_request_and_a_wait_time(tmp_path: Path, demo_target: str) -> None:
    _, locust_dir = _render(tmp_path / "uniform", CHECKED, demo_target)
    got = _inspect_locustfile(locust_dir)
    assert got["counts"] == {"search": 2, "list_items": 2, "item_detail": 1, "slow": 1}
    assert got["docs"] == {"search": "GET /api/search", "list_items": "GET /api/items",
                           "item_detail": "GET /api/items/42", "slow": "GET /delay/20"}
    waits = got["waits"]
    assert all(0.02 <= w <= 0.04 for w in waits)
    assert min(waits) < 0.022 and max(waits) > 0.038  # between(0.02, 0.04), not a constant
    assert got["users"] == 1 and got["host"] == demo_target

    # Think times that differ per request: no wait between tasks, each task sleeps its own think time.
    differing = {**CHECKED, "requests": [*CHECKED["requests"][:3],
                                         {"name": "slow", "path": "/delay/20", "think_time": "50ms"}]}
    _, locust_dir = _render(tmp_path / "differing", differing, demo_target)
    got = _inspect_locustfile(locust_dir)
    assert set(got["waits"]) == {0}
    text = (locust_dir / "locustfile.py").read_text(encoding="utf-8")
    assert "        SLOW.send(self)\n        time.sleep(0.05)  # think time: 50ms\n" in text
    assert text.count("time.sleep(random.uniform(0.02, 0.04))") == 3


def test_a_failed_body_check_is_one_crossload_check_failed_sample(tmp_path: Path, demo_target: str) -> None:
    doc = {
        "defaults": {"timeout": "2s", "think_time": "20ms"},
        "requests": [
            {"name": "never", "path": "/health", "checks": {"body_contains": NEVER}},
            {"name": "wrong status", "path": "/health", "checks": {"status": 201, "body_contains": NEVER}},
            {"name": "fine", "path": "/health", "checks": {"json": [{"path": "$.status", "equals": "ok"}]}},
        ],
    }
    k6_dir, _ = _render(tmp_path, doc, demo_target)
    proc = _k6_run(k6_dir, "--quiet", "--out", "json=raw.json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    points = _points(k6_dir / "raw.json")
    durations: dict[str, list[float]] = {}
    for p in points:
        if p["metric"] == "http_req_duration":
            tags = p["data"]["tags"]
            durations.setdefault(tags["name"], []).append(p["data"]["value"])
            assert tags["expected_response"] == ("false" if tags["name"] == "wrong status" else "true")
    samples = [p["data"] for p in points if p["metric"] == "crossload_check_failed"]
    assert durations.get("never") and durations.get("wrong status") and durations.get("fine")
    assert all(s["tags"] == {"name": "never", "method": "GET", "check": f'body contains "{NEVER}"'} for s in samples)
    assert all(s["value"] > 0 for s in samples)
    # One sample per failed request, valued at that request's duration.
    assert sorted(s["value"] for s in samples) == sorted(durations["never"])

    # crossload's collector counts each of them as one failure, with the check's label as the cause.
    parser = K6JsonParser()
    for line in (k6_dir / "raw.json").read_text(encoding="utf-8").splitlines():
        parser.feed(line)
    aggs = [a for a in parser.drain(final=True) if isinstance(a, IntervalAggregate)]
    by_name: dict[str, tuple[int, int]] = {}
    for a in aggs:
        count, failures = by_name.get(a.name, (0, 0))
        by_name[a.name] = (count + a.count, failures + a.failures)
    assert by_name["never"] == (len(durations["never"]), len(durations["never"]))
    assert by_name["wrong status"] == (len(durations["wrong status"]), len(durations["wrong status"]))
    assert by_name["fine"] == (len(durations["fine"]), 0)
    causes = {cause for a in aggs if a.name == "never" for cause in a.errors}
    assert causes == {f'check failed: body contains "{NEVER}"'}


def test_failures_without_a_response_are_counted_with_their_cause(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A closed port and a header Locust cannot encode: every request is a counted failure, with its cause
    (k6: error_code; Locust: the client's exception, or the exception its request path raised)."""
    monkeypatch.setenv("CROSSLOAD_TEST_HEADER", "漢字")  # resolved at run time; not latin-1
    doc = {
        # Four requests picked at random: enough iterations (2 users, 3 s, 5 ms apart) that each is sent
        # even on a loaded machine (a few dozen iterations would leave one out with a chance of ~1e-4 each).
        "defaults": {"timeout": "1s", "think_time": "5ms"},
        "requests": [
            {"name": "refused checked", "path": "/health", "checks": {"status": 200}},
            {"name": "refused plain", "path": "/health"},
            {"name": "unencodable checked", "path": "/health", "headers": {"X-Token": "${CROSSLOAD_TEST_HEADER}"},
             "checks": {"status": 200}},
            {"name": "unencodable plain", "path": "/health", "headers": {"X-Token": "${CROSSLOAD_TEST_HEADER}"}},
        ],
    }
    k6_dir, locust_dir = _render(tmp_path, doc, f"http://127.0.0.1:{_closed_port()}", duration_s=3.0, users=2)
    assert "漢字" not in (locust_dir / "locustfile.py").read_text(encoding="utf-8")

    proc = _k6_run(k6_dir, "--quiet", "--out", "json=raw.json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    codes = {p["data"]["tags"].get("error_code") for p in _points(k6_dir / "raw.json")
             if p["metric"] == "http_req_duration"}
    assert codes == {"1212"}  # k6's "connection refused"

    record = locust_dir / "intervals.jsonl"
    env = {**os.environ, "CROSSLOAD_LOCUST_OUT": str(record)}
    proc = subprocess.run(
        [sys.executable, "-m", "locust", "-f", "locustfile.py", "--headless", "--only-summary", "--loglevel",
         "WARNING", "--exit-code-on-error", "0", "--stop-timeout", "0", "--json-file", "final"],
        cwd=locust_dir, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    totals: dict[str, list[int]] = {}
    causes: dict[str, set[str]] = {}
    for line in record.read_text(encoding="utf-8").splitlines():
        rec = json.loads(line)
        if rec["kind"] == "req":
            t = totals.setdefault(rec["name"], [0, 0])
            t[0] += rec["count"]
            t[1] += rec["failures"]
            causes.setdefault(rec["name"], set()).update(rec.get("errors", {}))
    assert set(totals) == {"refused checked", "refused plain", "unencodable checked", "unencodable plain"}
    for name, (count, failures) in totals.items():
        assert count > 0 and failures == count, name
    assert causes["refused checked"] == causes["refused plain"] == {"connection refused"}
    assert causes["unencodable checked"] == causes["unencodable plain"] == {"exception: ValueError"}
    # Locust's own statistics count the same requests and failures.
    final = {e["name"]: e for e in json.loads((locust_dir / "final.json").read_text(encoding="utf-8"))}
    for name, (count, failures) in totals.items():
        assert (final[name]["num_requests"], final[name]["num_failures"]) == (count, failures), name
