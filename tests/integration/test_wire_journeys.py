"""Journeys on the wire: both tools send the same per-user sequence of requests, correlated the same way.

Each tool runs the same journey with two users against the demo target: sign in once per user (token from
the JSON body), create an item (id from the JSON body, its URL from the Location header), then two echo steps
whose path, query, headers and bodies are built from those values, from generators and from a data file,
around hostile literal text; the second echo step uses what a regular expression found in the first one's
response. The echo log shows what arrived. The expected bytes of every request are computed from the
scenario by the reference modules (crossload.varref for {{ name }}, crossload.envref for ${VAR},
crossload.wire for the URL), from the values that request carried.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
from typing import Any

import pytest
import yaml
from demo_control import call

from crossload import envref, varref
from crossload.wire import JSON_CONTENT_TYPE, request_target

pytestmark = pytest.mark.integration

SECRET = "j0urney-s3cret"
HOSTILE = "a b&c=é/'\"\\`%41%zz ${CROSSLOAD_WIRE_J_SECRET} $${lit} {{ not closed </script> {{ n }}"
ROWS = [("ann", "Lisbon"), ("bob", "O'slo"), ("chen", "台北"), ("dana", "Quito, EC")]
COLOURS = ["red", "gr een", "${X}", "é&?"]
UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


ONE = {
    "name": "echo one",
    "method": "PUT",
    "path": "/echo/one/{{ id }}",
    "query": {"n": "{{ n }}", "c": "{{ colour }}", "h": HOSTILE},
    "headers": {"X-Token": "{{ token }}", "X-Where": "{{ where }}", "X-When": "{{ when }}"},
    "auth": {"basic": {"user": "{{ row.name }}", "password": "p:${CROSSLOAD_WIRE_J_SECRET}é"}},
    "json": {"id": "{{ id }}", "text": "id={{ id }}; row={{ row.name }} {{ row.city }}; " + HOSTILE,
             "n": "{{ n }}", "nested": ["{{ colour }}", {"k": "{{ row.city }}"}], "fixed": 1.5},
    "extract": {"echoed": {"regex": '"raw_path": ?"([^"]+)"'}, "method": {"json": "$.method"}},
}
TWO = {
    "name": "echo two",
    "method": "POST",
    "path": "/echo/two",
    "query": {"p": "{{ echoed }}"},
    "headers": {"Content-Type": "text/plain"},
    "body": "m={{ method }}&v={{ visitor }}&" + HOSTILE,
}


def _scenario(tmp: Any) -> dict[str, Any]:
    (tmp / "rows.csv").write_text("name,city\n" + "".join(f'{n},"{c}"\n' for n, c in ROWS), encoding="utf-8")
    return {
        "version": 1,
        "name": "wire-journeys",
        "defaults": {"think_time": "20ms"},
        "data": {
            "visitor": {"generate": "uuid", "per": "user"},
            "n": {"generate": "integer", "min": 1, "max": 9},
            "colour": {"generate": "choice", "values": COLOURS},
            "row": {"file": "rows.csv", "order": "sequential"},
            "when": "timestamp",
        },
        "requests": [{"name": "plain", "path": "/echo/plain", "weight": 1,
                      "auth": {"basic": {"user": "u", "password": "${CROSSLOAD_WIRE_J_SECRET}"}}}],
        "journeys": [{
            "name": "correlate",
            "weight": 3,
            "headers": {"X-Visitor": "{{ visitor }}"},
            "setup": [{
                "name": "sign in", "method": "POST", "path": "/api/login",
                "json": {"username": "{{ row.name }}", "password": "${CROSSLOAD_WIRE_J_SECRET}"},
                "checks": {"status": 200}, "extract": {"token": {"json": "$.token"}},
            }],
            "steps": [
                {"name": "create", "method": "POST", "path": "/api/items",
                 "headers": {"Authorization": "Bearer {{ token }}"},
                 "json": {"name": "{{ row.name }} {{ n }}", "price": "{{ n }}"},
                 "checks": {"status": 201, "headers": {"Location": {"exists": True}, "X-Nope": {"exists": False}}},
                 "extract": {"id": {"json": "$.id"}, "where": {"header": "location"}}},
                ONE,
                {"group": "second", "steps": [TWO]},
            ],
        }],
    }


def _expected(step: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """What the reference says a step sends with these values: request target, headers, body."""
    env = dict(os.environ)

    def text(t: str) -> str:
        pieces = varref.REF.split(t)
        out = ""
        for i in range(0, len(pieces), 3):
            out += envref.resolve(pieces[i], env)
            if i + 1 < len(pieces):
                out += varref.value_text(varref.lookup(values, pieces[i + 1], pieces[i + 2]))
        return out

    def deep(v: Any) -> Any:
        if isinstance(v, str):
            whole = varref.whole_reference(v)
            return varref.lookup(values, *whole) if whole else text(v)
        if isinstance(v, list):
            return [deep(x) for x in v]
        if isinstance(v, dict):
            return {k: deep(x) for k, x in v.items()}
        return v

    out: dict[str, Any] = {
        "target": request_target(text(step["path"]), [(k, text(v)) for k, v in step["query"].items()]),
        "headers": {k.lower(): text(v) for k, v in step["headers"].items()},
    }
    if "auth" in step:
        basic = step["auth"]["basic"]
        pair = f"{text(basic['user'])}:{text(basic['password'])}".encode()
        out["headers"]["authorization"] = "Basic " + base64.b64encode(pair).decode()
    if "json" in step:
        out["json"] = deep(step["json"])
    else:
        out["body"] = text(step["body"])
    return out


def test_journeys_send_the_same_correlated_requests_in_both_tools(
    tmp_path: Any, demo_target: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CROSSLOAD_WIRE_J_SECRET", SECRET)
    monkeypatch.delenv("X", raising=False)
    from crossload.run import RunRequest, execute

    scenario_file = tmp_path / "journeys.yaml"
    scenario_file.write_text(yaml.safe_dump(_scenario(tmp_path), allow_unicode=True, sort_keys=False), encoding="utf-8")
    call(demo_target, "/_crossload/echo-log", "DELETE")
    call(demo_target, "/_crossload/received", "DELETE")

    out = io.StringIO()
    result = execute(RunRequest(profile="smoke", target=demo_target, scenario=str(scenario_file), users=2,
                                duration_s=3, results_dir=tmp_path / "results", quiet=True), out=out)
    assert result.exit_code == 0, (result.message, out.getvalue())
    assert result.path is not None
    for rendered in (result.path / "locust" / "locustfile.py", result.path / "k6" / "script.js"):
        assert SECRET not in rendered.read_text(encoding="utf-8")

    # Setup ran once per user: two users per tool.
    received = call(demo_target, "/_crossload/received")
    assert received.get("/api/login") == 4, received

    entries = call(demo_target, "/_crossload/echo-log")["entries"]
    users: dict[tuple[str, str], list[dict[str, Any]]] = {}
    plain = {"k6": 0, "locust": 0}
    for e in entries:
        headers = {k.lower(): v for k, v in e["headers"]}
        tool = "k6" if "k6/" in headers.get("user-agent", "") else "locust"
        if e["raw_path"] == "/echo/plain":  # the single request, in the mix next to the journey
            assert headers["authorization"] == "Basic " + base64.b64encode(f"u:{SECRET}".encode()).decode()
            plain[tool] += 1
            continue
        users.setdefault((tool, headers["x-visitor"]), []).append({**e, "h": headers})
    assert plain["k6"] and plain["locust"], plain
    assert sorted(t for t, _ in users) == ["k6", "k6", "locust", "locust"], list(users)

    sequences: dict[str, list[list[str]]] = {"k6": [], "locust": []}
    first_rows: dict[str, set[int]] = {"k6": set(), "locust": set()}
    for (tool, visitor), seen in users.items():
        assert UUID4.match(visitor), visitor
        kinds = [e["raw_path"].split("/")[2].split("?")[0] for e in seen]
        # Each iteration: "one", then "two" (the run may end between them).
        assert kinds[: len(kinds) // 2 * 2] == ["one", "two"] * (len(kinds) // 2), (tool, kinds)
        assert len(kinds) >= 4, (tool, kinds)
        sequences[tool].append(kinds)
        token = None
        start_row = None
        previous_one: dict[str, Any] | None = None
        for k, e in enumerate(seen):
            h = e["h"]
            if e["raw_path"].startswith("/echo/one/"):
                iteration = k // 2
                sent = json.loads(e["body"])
                row = ROWS.index(next(r for r in ROWS if f"row={r[0]} {r[1]}; " in sent["text"]))
                if start_row is None:
                    start_row = row
                assert row == (start_row + iteration) % len(ROWS), (tool, iteration, row)
                token = token or h["x-token"]
                assert h["x-token"] == token, "the setup's token is the user's for all its iterations"
                values = {
                    "id": sent["id"], "n": sent["n"], "colour": sent["nested"][0], "token": token,
                    "where": h["x-where"], "when": h["x-when"], "visitor": visitor,
                    "row": dict(zip(("name", "city"), ROWS[row], strict=True)),
                }
                assert isinstance(values["id"], int) and h["x-where"] == f"/api/items/{values['id']}"
                assert isinstance(values["n"], int) and 1 <= values["n"] <= 9
                assert values["colour"] in COLOURS
                assert h["x-when"].isdigit() and len(h["x-when"]) == 13
                want = _expected(ONE, values)
                assert e["method"] == "PUT"
                assert e["raw_path"] == want["target"], tool
                assert sent == want["json"], tool
                assert h["content-type"] == JSON_CONTENT_TYPE
                for name, value in want["headers"].items():
                    assert h[name] == value, (tool, name)
                previous_one = {**values, "echoed": e["raw_path"], "method": "PUT"}
            else:
                assert previous_one is not None, (tool, "two before one")
                want = _expected(TWO, previous_one)
                assert e["method"] == "POST"
                assert e["raw_path"] == want["target"], tool
                assert e["body"] == want["body"], tool
        first_rows[tool].add(start_row or 0)
    # The users of one tool start at different rows: user N walks the file from row N - 1, in both tools.
    assert first_rows["k6"] == first_rows["locust"] == {0, 1}, first_rows
    for tool in ("k6", "locust"):
        summary = json.loads((result.path / "summary.json").read_text(encoding="utf-8"))
        assert set(summary["tools"][tool]["requests"]) == {"plain", "sign in", "create", "echo one", "echo two",
                                                           "second"}  # the group's row
        assert summary["tools"][tool]["overall"]["failures"] == 0, tool
