"""What each tool really sends equals the scenario: hostile strings end to end, checked at the echo endpoint.

Both tools run the same rendered scenario against the demo target; its echo endpoint records every
request as received on the wire (raw request target, headers, body). The expected bytes come from
crossload.wire (the documented encoding) and crossload.envref (the documented ${VAR} semantics).
"""

from __future__ import annotations

import http.client
import json
import os
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from crossload import envref
from crossload.wire import JSON_CONTENT_TYPE, TEXT_CONTENT_TYPE, request_target

pytestmark = pytest.mark.integration

SECRET = "s3cr3t-value-Q9"
PARTS = [
    "'", '"', "\\", "`", "${CROSSLOAD_WIRE_SECRET}", "${CROSSLOAD_WIRE_UNSET:-fallback}", "$${literal}",
    "{{ x }}", "{% raw %}", "</script>", "*/", "#", "\n", "\t", "é", "漢字", "😀", "\u2028", "%", "%41", "%zz",
    "?", "&", "=", "+", " ", "/", "..", ";", "'''", "\\u0041", "<!--",
]
hostile = st.lists(st.sampled_from(PARTS) | st.text(max_size=3), min_size=1, max_size=5).map("".join)
header_value = st.lists(
    st.sampled_from(["'", '"', "\\", "`", "${CROSSLOAD_WIRE_SECRET}", "{{ x }}", "</script>", " ", "%", "a"])
    | st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=3),
    min_size=1, max_size=5,
).map("".join).map(str.strip).filter(bool)
METHODS = ["POST", "PUT", "PATCH", "DELETE", "GET", "OPTIONS"]


def _get(base: str, path: str, method: str = "GET") -> Any:
    parts = urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.request(method, path)
        resp = conn.getresponse()
        return json.loads(resp.read() or b"null")
    finally:
        conn.close()


def _build(names: list[str], paths: list[str], bodies: list[str], headers: list[str],
           queries: list[tuple[str, str]]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    requests = []
    for i in range(len(names)):
        method = METHODS[i % len(METHODS)]
        req: dict[str, Any] = {
            "name": f"{i}:{names[i]}",
            "method": method,
            "path": f"/echo/{i}/" + paths[i],
            "query": {queries[i][0]: queries[i][1]},
            "headers": {"X-Hostile": headers[i]},
        }
        if method != "GET":
            if i % 2:
                # "__proto__" is an ordinary member in JSON, and must stay one in the k6 script.
                req["json"] = {"text": bodies[i], "nested": [bodies[i], {"k": bodies[i]}], "n": 1.5, "b": True,
                               "__proto__": {"k": bodies[i]}}
            else:
                req["body"] = bodies[i]
        requests.append(req)
    # Think time keeps both tools well inside the echo log (the last 10,000 requests).
    doc = {"version": 1, "name": "wire", "defaults": {"think_time": "10ms"}, "requests": requests}
    return doc, requests


def _resolve_deep(value: Any) -> Any:
    if isinstance(value, str):
        return envref.resolve(value, os.environ)
    if isinstance(value, list):
        return [_resolve_deep(v) for v in value]
    if isinstance(value, dict):
        return {k: _resolve_deep(v) for k, v in value.items()}
    return value


@settings(max_examples=2, deadline=None, derandomize=True, phases=[Phase.explicit, Phase.generate],
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(
    names=st.lists(hostile.filter(lambda s: s.strip() and "\0" not in s), min_size=6, max_size=6),
    paths=st.lists(hostile, min_size=6, max_size=6),
    bodies=st.lists(hostile, min_size=6, max_size=6),
    headers=st.lists(header_value, min_size=6, max_size=6),
    queries=st.lists(st.tuples(hostile, hostile), min_size=6, max_size=6),
)
def test_both_tools_send_exactly_what_the_scenario_says(
    tmp_path_factory: pytest.TempPathFactory, demo_target: str, monkeypatch: pytest.MonkeyPatch,
    names: list[str], paths: list[str], bodies: list[str], headers: list[str], queries: list[tuple[str, str]],
) -> None:
    monkeypatch.setenv("CROSSLOAD_WIRE_SECRET", SECRET)
    monkeypatch.delenv("CROSSLOAD_WIRE_UNSET", raising=False)
    from crossload.run import RunRequest, execute

    tmp = tmp_path_factory.mktemp("wire")
    doc, requests = _build(names, paths, bodies, headers, queries)
    scenario_file = tmp / "wire.yaml"
    scenario_file.write_text(yaml.safe_dump(doc, allow_unicode=False), encoding="utf-8")
    _get(demo_target, "/_crossload/echo-log", "DELETE")

    import io

    out = io.StringIO()
    result = execute(RunRequest(profile="smoke", target=demo_target, scenario=str(scenario_file), users=1,
                                duration_s=3, results_dir=tmp / "results", quiet=True), out=out)
    assert result.exit_code == 0, (result.message, out.getvalue())
    assert result.path is not None

    # Secrets never reach the rendered files.
    for rendered in (result.path / "locust" / "locustfile.py", result.path / "k6" / "script.js"):
        assert SECRET not in rendered.read_text(encoding="utf-8")

    entries = _get(demo_target, "/_crossload/echo-log")["entries"]
    by_tool: dict[str, list[dict[str, Any]]] = {"k6": [], "locust": []}
    for e in entries:
        agent = next((v for k, v in e["headers"] if k.lower() == "user-agent"), "")
        by_tool["k6" if "k6/" in agent else "locust"].append(e)

    for tool, seen in by_tool.items():
        for i, req in enumerate(requests):
            path = envref.resolve(req["path"], os.environ)
            query = [(envref.resolve(k, os.environ), envref.resolve(v, os.environ)) for k, v in req["query"].items()]
            expected_target = request_target(path, query)
            mine = [e for e in seen if e["raw_path"].startswith(f"/echo/{i}/")]
            assert mine, f"{tool} never sent request {i} ({req['name']!r}); got {[e['raw_path'] for e in seen][:5]}"
            for e in mine:
                assert e["method"] == req["method"], tool
                assert e["raw_path"] == expected_target, (tool, i)
                sent_headers = {k.lower(): v for k, v in e["headers"]}
                assert sent_headers["x-hostile"] == envref.resolve(req["headers"]["X-Hostile"], os.environ)
                if "json" in req:
                    assert sent_headers["content-type"] == JSON_CONTENT_TYPE
                    assert json.loads(e["body"]) == _resolve_deep(req["json"]), tool
                elif "body" in req:
                    assert sent_headers["content-type"] == TEXT_CONTENT_TYPE, tool
                    assert e["body"] == envref.resolve(req["body"], os.environ), tool
        # Request names survive both tools' result streams unchanged.
    summary = json.loads((result.path / "summary.json").read_text(encoding="utf-8"))
    expected_names = {r["name"] for r in requests}
    for tool in ("locust", "k6"):
        assert set(summary["tools"][tool]["requests"]) == expected_names, tool
