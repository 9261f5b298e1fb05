"""Followed redirects on the wire, alike in both tools.

Two users per tool, each with its own row of a data file (per user), walk a journey against the demo target's
``/redirect/{n}`` chains (every hop written to the echo log, the hop's ``s`` and ``u`` query kept along the
chain):

- ``see other``: a POST with a JSON body through two 302s (``defaults.redirects: 5``): the hops after the first
  are GETs without a body;
- ``kept``: a POST through a 307: the POST and its body are sent again;
- ``elsewhere``: a 302 to the other host name of the loopback (localhost): the bearer token is not sent there,
  the other headers are, with a Referer naming the previous URL;
- ``not followed``: ``redirects: 0`` overrides the default: the 302 is the response, a success;
- ``at the limit``: a chain of four with ``redirects: 1`` and no statuses listed: two hops, the 302 a success;
- ``too far``: a chain of four with ``redirects: 2`` and ``status: 200``: three hops, the last 302 fails the
  status check (``check failed: status is 200``) and ends the iteration.

The echo log shows each user's sequence of (method, path, step, body) and the headers that matter: the same
in both tools. Every hop is counted as a request of its step: each tool's count per name equals its hops in
the echo log, and only the final response of ``too far`` fails.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml
from demo_control import assert_whole_iterations, call

pytestmark = pytest.mark.integration


def _scenario(port: int) -> dict[str, Any]:
    u = "{{ row.name }}"
    return {
        "version": 1,
        "name": "wire-redirects",
        "defaults": {"redirects": 5, "think_time": "5ms"},
        "data": {"row": {"file": "rows.csv", "order": "sequential", "per": "user"}},
        "journeys": [{
            "name": "redirects",
            "steps": [
                {"name": "see other", "method": "POST", "path": "/redirect/2",
                 "query": {"s": "see", "u": u, "to": f"/echo/landed?s=see&u={u}"}, "json": {"u": u},
                 "checks": {"status": 200, "json": [{"path": "$.method", "equals": "GET"}]}},
                {"name": "kept", "method": "POST", "path": "/redirect/1",
                 "query": {"code": 307, "s": "kept", "u": u, "to": f"/echo/kept?s=kept&u={u}"},
                 "body": f"payload of {u}", "redirects": 1,
                 "checks": {"status": 200, "json": [{"path": "$.method", "equals": "POST"}],
                            "body_contains": "payload of"}},
                {"name": "elsewhere", "path": "/redirect/1", "auth": {"bearer": "t0ken"}, "headers": {"X-Keep": "k"},
                 "query": {"s": "else", "u": u, "to": f"http://localhost:{port}/echo/elsewhere?s=else&u={u}"},
                 "checks": {"status": 200}},
                {"name": "not followed", "path": "/redirect/1", "redirects": 0, "query": {"s": "not", "u": u}},
                {"name": "at the limit", "path": "/redirect/4", "redirects": 1, "query": {"s": "limit", "u": u}},
                {"name": "too far", "path": "/redirect/4", "redirects": 2, "query": {"s": "far", "u": u},
                 "checks": {"status": 200}},
                {"name": "never", "path": "/echo/never", "query": {"s": "never", "u": u}},
            ],
        }],
    }


STEP_OF = {"see": "see other", "kept": "kept", "else": "elsewhere", "not": "not followed", "limit": "at the limit",
           "far": "too far", "never": "never"}


def _pattern(user: str) -> list[tuple[str, str, str, str]]:
    """One iteration of ``user``: (method, path, step, body) of every hop."""
    return [
        ("POST", "/redirect/2", "see", json.dumps({"u": user}, separators=(",", ":"))),
        ("GET", "/redirect/1", "see", ""),
        ("GET", "/echo/landed", "see", ""),
        ("POST", "/redirect/1", "kept", f"payload of {user}"),
        ("POST", "/echo/kept", "kept", f"payload of {user}"),
        ("GET", "/redirect/1", "else", ""),
        ("GET", "/echo/elsewhere", "else", ""),
        ("GET", "/redirect/1", "not", ""),
        ("GET", "/redirect/4", "limit", ""),
        ("GET", "/redirect/3", "limit", ""),
        ("GET", "/redirect/4", "far", ""),
        ("GET", "/redirect/3", "far", ""),
        ("GET", "/redirect/2", "far", ""),
    ]


def test_redirects_are_followed_hop_by_hop_alike_in_both_tools(tmp_path: Path, demo_target: str) -> None:
    from crossload.run import RunRequest, execute

    port = urlsplit(demo_target).port
    assert port is not None
    (tmp_path / "rows.csv").write_text("name\nann\nbob\n", encoding="utf-8")
    scenario_file = tmp_path / "redirects.yaml"
    scenario_file.write_text(yaml.safe_dump(_scenario(port), sort_keys=False), encoding="utf-8")
    call(demo_target, "/_crossload/echo-log", "DELETE")
    out = io.StringIO()
    result = execute(RunRequest(profile="smoke", target=demo_target, scenario=str(scenario_file), users=2,
                                duration_s=3, results_dir=tmp_path / "results", quiet=True), out=out)
    assert result.path is not None, (result.message, out.getvalue())
    summary = json.loads((result.path / "summary.json").read_text(encoding="utf-8"))

    sequences: dict[tuple[str, str], list[tuple[str, str, str, str]]] = {}
    hops: dict[str, dict[str, int]] = {"k6": {}, "locust": {}}
    for e in call(demo_target, "/_crossload/echo-log")["entries"]:
        headers: dict[str, str] = {}
        for k, v in e["headers"]:
            headers[k.lower()] = v
        tool = "k6" if "k6/" in headers.get("user-agent", "") else "locust"
        parts = urlsplit(e["raw_path"])
        query = parse_qs(parts.query)
        step, user = query["s"][0], query["u"][0]
        sequences.setdefault((tool, user), []).append((e["method"], parts.path, step, e.get("body", "")))
        hops[tool][STEP_OF[step]] = hops[tool].get(STEP_OF[step], 0) + 1
        # The headers of each hop: the bearer token stays on its host, the others follow with a Referer.
        if step == "else":
            assert headers.get("x-keep") == "k", (tool, e)
            if parts.path == "/redirect/1":
                assert headers["host"] == f"127.0.0.1:{port}" and headers["authorization"] == "Bearer t0ken", e
            else:
                assert headers["host"] == f"localhost:{port}" and "authorization" not in headers, (tool, e)
                assert headers["referer"].startswith(f"http://127.0.0.1:{port}/redirect/1?s=else&u="), (tool, e)
        elif step == "see" and parts.path == "/redirect/1":
            assert headers["referer"].startswith(f"http://127.0.0.1:{port}/redirect/2?s=see&u="), (tool, e)

    assert sorted(sequences) == [("k6", "ann"), ("k6", "bob"), ("locust", "ann"), ("locust", "bob")], list(sequences)
    for (tool, user), seen in sequences.items():
        assert_whole_iterations((tool, user), seen, _pattern(user))

    for tool in ("k6", "locust"):
        rows = summary["tools"][tool]["requests"]
        assert "never" not in rows, (tool, "a step after a failed one was sent")
        # Every hop is a request of its step, in the tool's own results as on the wire.
        assert {name: row["count"] for name, row in rows.items()} == hops[tool], (tool, rows, hops[tool])
        for name in ("see other", "kept", "elsewhere", "not followed", "at the limit"):
            assert rows[name]["failures"] == 0, (tool, name, rows[name])
        far = rows["too far"]
        # One failure per run of the step: its final response, the third hop, a 302.
        assert far["count"] >= 3 and far["failures"] * 3 == far["count"], (tool, far)
        assert far["errors"] == {"check failed: status is 200": far["failures"]}, (tool, far)
