"""Transport options on the wire: per-request timeouts, compressed responses and cookie extraction behave the
same in both tools against the demo target.

One scenario, three users per tool for a few seconds (every request and step is picked many times):

- ``/delay/300`` with its own ``timeout: 100ms`` fails every time with the cause ``timeout``; the same route
  with ``timeout: 5s`` (longer than the default of 2 s) and ``/health`` with the default never fail;
- ``/gzip`` with ``compression: gzip`` comes back gzip-compressed (``Content-Encoding: gzip``), both tools
  decode it for the body and JSON checks, and the body says the request asked for exactly ``gzip``; with
  ``compression: none`` the request asked for ``identity`` and the body is plain;
- a journey reads cookies from ``Set-Cookie`` (``/cookies`` sets one per query parameter: a quoted value, a
  name set twice) and sends them in the next step's path, which the echo log shows; a cookie the response
  does not set fails the step with the same cause in both tools.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from demo_control import call

pytestmark = pytest.mark.integration


SCENARIO: dict[str, Any] = {
    "version": 1,
    "name": "wire-transport",
    "defaults": {"timeout": "2s", "think_time": "20ms"},
    "requests": [
        {"name": "cut short", "path": "/delay/300", "timeout": "100ms"},
        {"name": "waited for", "path": "/delay/300", "timeout": "5s"},
        {"name": "health", "path": "/health"},
        {"name": "zipped", "path": "/gzip", "compression": "gzip",
         "checks": {"headers": {"Content-Encoding": "gzip"}, "body_contains": '"gzipped":true',
                    "json": [{"path": "$.accept_encoding", "equals": "gzip"}]}},
        {"name": "plain", "path": "/gzip", "compression": "none",
         "checks": {"headers": {"Content-Encoding": {"exists": False}},
                    "json": [{"path": "$.gzipped", "equals": False},
                             {"path": "$.accept_encoding", "equals": "identity"}]}},
    ],
    "journeys": [{
        "name": "cookies",
        "steps": [
            {"name": "get cookies", "path": "/cookies",
             "query": {"sid": '"s-1"', "other": "x", "last": ["a", "b"]},
             "extract": {"sid": {"cookie": "sid"}, "last": {"cookie": "last"}}},
            {"name": "send cookies", "path": "/echo/cookie/{{ sid }}/{{ last }}",
             "checks": {"body_contains": "s-1"}},
            {"name": "no such cookie", "path": "/cookies", "query": {"sid": "again"},
             "extract": {"nope": {"cookie": "nope"}}},
        ],
    }],
}


def test_timeouts_compression_and_cookies_behave_alike_in_both_tools(tmp_path: Path, demo_target: str) -> None:
    from crossload.run import RunRequest, execute

    scenario_file = tmp_path / "transport.yaml"
    scenario_file.write_text(yaml.safe_dump(SCENARIO, sort_keys=False), encoding="utf-8")
    call(demo_target, "/_crossload/echo-log", "DELETE")
    out = io.StringIO()
    result = execute(RunRequest(profile="smoke", target=demo_target, scenario=str(scenario_file), users=3,
                                duration_s=4, results_dir=tmp_path / "results", quiet=True), out=out)
    assert result.path is not None, (result.message, out.getvalue())
    summary = json.loads((result.path / "summary.json").read_text(encoding="utf-8"))

    for tool in ("k6", "locust"):
        rows = summary["tools"][tool]["requests"]
        assert set(rows) == {"cut short", "waited for", "health", "zipped", "plain", "get cookies",
                             "send cookies", "no such cookie"}, (tool, set(rows))
        for name, row in rows.items():
            assert row["count"] > 0, (tool, name, row)
        cut = rows["cut short"]
        assert cut["failures"] == cut["count"] and set(cut["errors"]) == {"timeout"}, (tool, cut)
        for name in ("waited for", "health", "zipped", "plain", "get cookies", "send cookies"):
            assert rows[name]["failures"] == 0, (tool, name, rows[name])
        missing = rows["no such cookie"]
        assert missing["failures"] == missing["count"], (tool, missing)
        assert set(missing["errors"]) == {"check failed: extract nope from cookie nope"}, (tool, missing)

    # The cookies' values went out in the path: the quotes around "s-1" removed, the last "last" taken.
    entries = call(demo_target, "/_crossload/echo-log")["entries"]
    paths: dict[str, set[str]] = {"k6": set(), "locust": set()}
    for e in entries:
        headers = {k.lower(): v for k, v in e["headers"]}
        tool = "k6" if "k6/" in headers.get("user-agent", "") else "locust"
        paths[tool].add(e["raw_path"])
    assert paths["k6"] == paths["locust"] == {"/echo/cookie/s-1/b"}, paths
