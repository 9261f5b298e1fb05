"""Teardown on the wire: each user that set up a journey runs its teardown once, when the load ends, with the
values it extracted, alike in both tools.

Three users per tool walk two journeys picked by weight: "session" signs in once (a token from the JSON body),
then works with the token; its teardown signs out with that token, then says goodbye. "browse" has no setup;
its teardown runs for a user that walked it at least once. The profile ramps down to one user before the end:
two users per tool stop early (Locust tears them down then, k6 when the load has ended) and one at the end.
The demo target's echo log shows, per user, the same sequence in both tools: work and browse requests, then
the teardown requests, exactly once, in journey order, the sign-out carrying that user's token. Each tool's
counts per name equal what the target received. The same with two worker processes per tool.

An interrupted run (Ctrl-C) skips the teardowns in both tools: k6 never starts its teardown scenario, Locust's
users see that the load did not end, so the interrupt is not delayed by them.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from demo_control import call

from crossload.errors import EXIT_RUN_FAILED
from crossload.paths import resource_dir

pytestmark = pytest.mark.integration

USERS = 3
TEARDOWN = ["/echo/session", "/echo/bye", "/echo/browsed"]  # the teardown requests of a user, in order


def _scenario() -> dict[str, Any]:
    return {
        "version": 1,
        "name": "wire-teardown",
        "defaults": {"think_time": "20ms", "timeout": "2s"},
        "data": {"visitor": {"generate": "uuid", "per": "user"}},
        "journeys": [
            {
                "name": "session",
                "headers": {"X-Visitor": "{{ visitor }}"},
                "setup": [{"name": "sign in", "method": "POST", "path": "/api/login",
                           "json": {"username": "{{ visitor }}", "password": "pw"},
                           "extract": {"token": {"json": "$.token"}}}],
                "steps": [{"name": "work", "path": "/echo/work", "auth": {"bearer": "{{ token }}"}}],
                "teardown": [
                    {"name": "sign out", "method": "DELETE", "path": "/echo/session",
                     "auth": {"bearer": "{{ token }}"}, "checks": {"status": 200}},
                    {"name": "goodbye", "path": "/echo/bye", "query": {"t": "{{ token }}"}},
                ],
            },
            {
                "name": "browse",
                "headers": {"X-Visitor": "{{ visitor }}"},
                "steps": [{"name": "look", "path": "/echo/look"}],
                "teardown": [{"name": "browsed", "method": "POST", "path": "/echo/browsed",
                              "body": "bye {{ visitor }}"}],
            },
        ],
        "profiles": {"smoke": {"stages": [
            {"duration": "300ms", "users": USERS},
            {"duration": "2s", "users": USERS},
            {"duration": "0s", "users": 1},
            {"duration": "1500ms", "users": 1},
        ]}},
    }


@pytest.mark.parametrize("workers", [0, 2])
def test_each_user_tears_down_once_with_its_own_values_in_both_tools(tmp_path: Path, demo_target: str,
                                                                      workers: int) -> None:
    """``workers``: 2 runs Locust as a master and two workers (the master tells them the shape ended) and k6 as
    two execution segments (each splits both scenarios' VUs alike)."""
    from crossload.run import RunRequest, execute

    scenario_file = tmp_path / "teardown.yaml"
    scenario_file.write_text(yaml.safe_dump(_scenario(), sort_keys=False), encoding="utf-8")
    call(demo_target, "/_crossload/echo-log", "DELETE")
    call(demo_target, "/_crossload/received", "DELETE")

    out = io.StringIO()
    result = execute(RunRequest(profile="smoke", target=demo_target, scenario=str(scenario_file),
                                results_dir=tmp_path / "results", quiet=True, workers=workers), out=out)
    assert result.exit_code == 0, (result.message, out.getvalue())
    assert result.path is not None
    summary = json.loads((result.path / "summary.json").read_text(encoding="utf-8"))

    entries = call(demo_target, "/_crossload/echo-log")["entries"]
    users: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for e in entries:
        headers = {k.lower(): v for k, v in e["headers"]}
        tool = "k6" if "k6/" in headers.get("user-agent", "") else "locust"
        users.setdefault((tool, headers["x-visitor"]), []).append({**e, "h": headers})
    assert sorted(t for t, _ in users) == ["k6"] * USERS + ["locust"] * USERS, list(users)

    tokens: dict[str, set[str]] = {"k6": set(), "locust": set()}
    for (tool, visitor), seen in users.items():
        paths = [e["raw_path"].split("?")[0] for e in seen]
        # Both journeys walked, then each teardown request exactly once, last, in journey order.
        assert paths[-3:] == TEARDOWN, (tool, paths)
        assert set(paths[:-3]) == {"/echo/work", "/echo/look"}, (tool, paths)
        work = [e for e in seen if e["raw_path"] == "/echo/work"]
        token = work[0]["h"]["authorization"].removeprefix("Bearer ")
        assert token and all(e["h"]["authorization"] == f"Bearer {token}" for e in work), tool
        sign_out, bye, browsed = seen[-3:]
        assert sign_out["method"] == "DELETE" and sign_out["h"]["authorization"] == f"Bearer {token}", tool
        assert bye["raw_path"] == f"/echo/bye?t={token}", tool
        assert browsed["method"] == "POST" and browsed["body"] == f"bye {visitor}", tool
        tokens[tool].add(token)
    # Every user its own token, in and out.
    assert len(tokens["k6"]) == len(tokens["locust"]) == USERS, tokens
    received = call(demo_target, "/_crossload/received")
    assert received.get("/api/login") == 2 * USERS, received

    # The teardown requests are rows of the results, counted like the others: each tool's count per name is
    # what the target received from it.
    names = {"/echo/work": "work", "/echo/look": "look", "/echo/session": "sign out", "/echo/bye": "goodbye",
             "/echo/browsed": "browsed"}
    for tool in ("k6", "locust"):
        rows = summary["tools"][tool]["requests"]
        for path, name in names.items():
            sent = sum(1 for (t, _), seen in users.items() if t == tool
                       for e in seen if e["raw_path"].split("?")[0] == path)
            assert rows[name]["count"] == sent, (tool, name, rows[name]["count"], sent)
            assert rows[name]["failures"] == 0, (tool, name)
        assert rows["sign out"]["count"] == rows["goodbye"]["count"] == rows["browsed"]["count"] == USERS, tool
        assert rows["sign in"]["count"] == USERS, tool
        # The load duration stays the schedule's: the teardowns come after it.
        assert summary["tools"][tool]["duration_s"] == pytest.approx(3.8), tool


@pytest.mark.parametrize("tool", ["locust", "k6"])
def test_an_interrupted_run_skips_the_teardown(tmp_path: Path, demo_target: str, tool: str) -> None:
    scenario = _scenario()
    scenario["profiles"] = {"smoke": {"users": 2, "duration": "60s"}}
    scenario_file = tmp_path / "teardown.yaml"
    scenario_file.write_text(yaml.safe_dump(scenario, sort_keys=False), encoding="utf-8")
    call(demo_target, "/_crossload/echo-log", "DELETE")
    results = tmp_path / "results"
    env = dict(os.environ, CROSSLOAD_RESULTS_DIR=str(results), CROSSLOAD_DOTENV=str(tmp_path / "none"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "crossload", "run", "smoke", "--tool", tool, "--scenario", str(scenario_file),
         "--target", demo_target],
        cwd=resource_dir("."), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            paths = [e["raw_path"] for e in call(demo_target, "/_crossload/echo-log")["entries"]]
            if paths.count("/echo/work") >= 2 and "/echo/look" in paths:
                break
            time.sleep(0.2)
        else:
            pytest.fail("the users did not walk both journeys within 60 s")
        os.killpg(proc.pid, signal.SIGINT)  # a terminal's Ctrl-C signals the whole foreground group
        signalled = time.monotonic()
        out, _ = proc.communicate(timeout=60)
        stopping_s = time.monotonic() - signalled
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == EXIT_RUN_FAILED, out
    assert "interrupted: the data collected so far is kept" in out
    paths = [e["raw_path"].split("?")[0] for e in call(demo_target, "/_crossload/echo-log")["entries"]]
    assert not set(paths) & set(TEARDOWN), paths
    # Stopping waits at most for a request under way (2 s timeout here), never for teardowns; slack for a
    # busy machine and the reports.
    assert stopping_s < 20, stopping_s
