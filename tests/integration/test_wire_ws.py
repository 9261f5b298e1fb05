"""WebSocket steps on the wire: both tools send the same messages on the same connections, correlated alike.

Each tool runs one journey with two users against the demo target: sign in once per user (token from the
JSON body), then a session on /ws/echo (subprotocol echo, bearer token, a JSON, a text and a binary message,
each expected back: by JSON path and value, by regular expression, any message; values extracted from the
echoed messages go into the next message), then a session on /ws/notifications (expect the second
notification, extract its number, send it back, expect the acknowledgement, hold), then an HTTP step that
uses what the notification carried. The target's WebSocket log shows every connection it accepted, with its
handshake headers and the messages it received; the expected messages are computed from the scenario by the
reference modules (crossload.varref, crossload.envref) with the values each user had.

The tools' results are checked against the target: every handshake counted (the target's accepted
connections), messages sent and received counted as the target received and sent them, every expect timed,
no failure.
"""

from __future__ import annotations

import io
import json
import os
import re
from typing import Any

import pytest
import yaml
from demo_control import call

from crossload import envref, varref

pytestmark = pytest.mark.integration

SECRET = "w5-s3cret"
HOSTILE = "a b&c=é/'\"\\`%41 ${CROSSLOAD_WIRE_WS_SECRET} $${lit} {{ not closed </script> 台北"
UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
NOTIFICATIONS = 3  # what /ws/notifications pushes per connection, before the hold ends

CHAT_JSON = {"hello": "{{ visitor }}", "n": 7, "text": HOSTILE, "nested": ["{{ visitor }}", {"k": 1.5}]}
CHAT_TEXT = "who={{ who }}; token={{ token }}; " + HOSTILE
FEED_TEXT = "seen {{ seq }} by {{ again }}"


def _scenario() -> dict[str, Any]:
    return {
        "version": 1,
        "name": "wire-ws",
        "data": {"visitor": {"generate": "uuid", "per": "user"}},
        "journeys": [{
            "name": "realtime",
            "headers": {"X-Visitor": "{{ visitor }}"},
            "setup": [{
                "name": "sign in", "method": "POST", "path": "/api/login",
                "json": {"username": "{{ visitor }}", "password": "${CROSSLOAD_WIRE_WS_SECRET}"},
                "checks": {"status": 200}, "extract": {"token": {"json": "$.token"}},
            }],
            "steps": [
                {"ws": {
                    "name": "chat", "url": "/ws/echo?v={{ visitor }}", "subprotocols": ["echo"],
                    "auth": {"bearer": "{{ token }}"},
                    "actions": [
                        {"send": {"json": CHAT_JSON}},
                        {"expect": {"name": "chat json", "json": {"path": "$.n", "equals": 7}, "timeout": "10s",
                                    "extract": {"who": {"json": "$.hello"}}}},
                        {"send": {"text": CHAT_TEXT}},
                        {"expect": {"name": "chat text", "regex": "^who=[0-9a-f-]+; ", "timeout": "10s",
                                    "extract": {"again": {"regex": "^who=([0-9a-f-]+);"}}}},
                        {"send": {"binary": "AP8="}},
                        {"expect": {"name": "chat binary", "timeout": "10s"}},
                        "close",
                    ],
                }},
                {"ws": {
                    "name": "feed", "url": f"/ws/notifications?interval_ms=20&count={NOTIFICATIONS}",
                    "actions": [
                        {"expect": {"name": "feed second", "json": {"path": "$.seq", "equals": 2}, "timeout": "10s",
                                    "extract": {"seq": {"json": "$.seq"}}}},
                        {"send": {"text": FEED_TEXT}},
                        {"expect": {"name": "feed ack", "json": {"path": "$.ack"}, "timeout": "10s"}},
                        {"hold": "400ms"},
                    ],
                }},
                {"name": "after", "method": "POST", "path": "/echo/ws", "body": "seq={{ seq }}",
                 "headers": {"Content-Type": "text/plain"}},
            ],
        }],
    }


def _text(t: str, values: dict[str, Any]) -> str:
    """A string of a step as the reference fills it: ${VAR} in the text between {{ }}, then the values."""
    env = dict(os.environ)
    pieces = varref.REF.split(t)
    out = ""
    for i in range(0, len(pieces), 3):
        out += envref.resolve(pieces[i], env)
        if i + 1 < len(pieces):
            out += varref.value_text(varref.lookup(values, pieces[i + 1], pieces[i + 2]))
    return out


def _deep(v: Any, values: dict[str, Any]) -> Any:
    if isinstance(v, str):
        whole = varref.whole_reference(v)
        return varref.lookup(values, *whole) if whole else _text(v, values)
    if isinstance(v, list):
        return [_deep(x, values) for x in v]
    if isinstance(v, dict):
        return {k: _deep(x, values) for k, x in v.items()}
    return v


def test_websocket_steps_send_the_same_messages_in_both_tools(
    tmp_path: Any, demo_target: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CROSSLOAD_WIRE_WS_SECRET", SECRET)
    from crossload.run import RunRequest, execute

    scenario_file = tmp_path / "ws.yaml"
    scenario_file.write_text(yaml.safe_dump(_scenario(), allow_unicode=True, sort_keys=False), encoding="utf-8")
    for log in ("echo-log", "received", "ws-log"):
        call(demo_target, f"/_crossload/{log}", "DELETE")

    out = io.StringIO()
    result = execute(RunRequest(profile="smoke", target=demo_target, scenario=str(scenario_file), users=2,
                                duration_s=3, results_dir=tmp_path / "results", quiet=True), out=out)
    assert result.exit_code == 0, (result.message, out.getvalue())
    assert result.path is not None
    for rendered in (result.path / "locust" / "locustfile.py", result.path / "k6" / "script.js"):
        assert SECRET not in rendered.read_text(encoding="utf-8")

    # Setup ran once per user: two users per tool.
    assert call(demo_target, "/_crossload/received").get("/api/login") == 4

    # Which tool each user was: its HTTP step's User-Agent; what the HTTP step sent after the sessions.
    tool_of: dict[str, str] = {}
    for e in call(demo_target, "/_crossload/echo-log")["entries"]:
        h = {k.lower(): v for k, v in e["headers"]}
        tool = "k6" if "k6/" in h.get("user-agent", "") else "locust"
        assert tool_of.setdefault(h["x-visitor"], tool) == tool
        assert e["raw_path"] == "/echo/ws" and e["body"] == "seq=2", (tool, e)
    assert sorted(tool_of.values()) == ["k6", "k6", "locust", "locust"], tool_of

    log = call(demo_target, "/_crossload/ws-log")
    connections = log["connections"]
    assert log["accepted"] == len(connections) > 0
    per_user: dict[str, list[dict[str, Any]]] = {}
    for c in connections:
        h = {k.lower(): v for k, v in c["headers"]}
        per_user.setdefault(h["x-visitor"], []).append({**c, "h": h})
    assert set(per_user) == set(tool_of), (set(per_user), set(tool_of))

    counts: dict[str, dict[str, int]] = {t: {"chat": 0, "feed": 0, "chat sent": 0, "chat received": 0,
                                             "feed sent": 0, "feed received": 0} for t in ("k6", "locust")}
    sessions: dict[str, list[int]] = {"k6": [], "locust": []}
    for visitor, seen in per_user.items():
        tool = tool_of[visitor]
        assert UUID4.match(visitor), visitor
        kinds = [c["raw_path"].split("?")[0] for c in seen]
        # Each iteration: the echo session, then the notifications (the run may end between them).
        assert kinds[: len(kinds) // 2 * 2] == ["/ws/echo", "/ws/notifications"] * (len(kinds) // 2), (tool, kinds)
        assert len(kinds) >= 2, (tool, kinds)
        sessions[tool].append(len(kinds))
        token = None
        for c in seen:
            h = c["h"]
            for name in ("sec-websocket-protocol", "authorization"):
                assert (name in h) == (c["raw_path"].startswith("/ws/echo")), (tool, name, c["raw_path"])
            if c["raw_path"].startswith("/ws/echo"):
                assert c["raw_path"] == f"/ws/echo?v={visitor}", tool
                assert c["protocol"] == "echo" and h["sec-websocket-protocol"] == "echo", tool
                token = token or h["authorization"].removeprefix("Bearer ")
                assert h["authorization"] == f"Bearer {token}", "the setup's token for every session"
                values = {"visitor": visitor, "token": token, "who": visitor}
                want = [
                    {"text": json.dumps(_deep(CHAT_JSON, values), ensure_ascii=False, separators=(",", ":"))},
                    {"text": _text(CHAT_TEXT, values)},
                    {"binary_b64": "AP8="},
                ]
                assert c["received"] == want, tool
                counts[tool]["chat"] += 1
                counts[tool]["chat sent"] += c["received_count"]
                counts[tool]["chat received"] += c["sent"]
            else:
                assert c["raw_path"] == f"/ws/notifications?interval_ms=20&count={NOTIFICATIONS}", tool
                assert c["received"] == [{"text": _text(FEED_TEXT, {"seq": 2, "again": visitor})}], tool
                assert c["sent"] == NOTIFICATIONS + 1, (tool, c["sent"])  # the notifications and the ack
                counts[tool]["feed"] += 1
                counts[tool]["feed sent"] += c["received_count"]
                counts[tool]["feed received"] += c["sent"]
        assert token is not None and SECRET not in token

    summary = json.loads((result.path / "summary.json").read_text(encoding="utf-8"))
    for tool in ("k6", "locust"):
        figures = summary["tools"][tool]
        requests = figures["requests"]
        assert set(requests) == {"sign in", "after", "chat", "chat json", "chat text", "chat binary", "chat sent",
                                 "chat received", "feed", "feed second", "feed ack", "feed sent",
                                 "feed received"}, (tool, sorted(requests))
        assert figures["overall"]["failures"] == 0, (tool, figures["overall"].get("errors"))
        # Every handshake the target accepted, every message it received and sent, as the tool counted them.
        for name, want in counts[tool].items():
            assert requests[name]["count"] == want, (tool, name, requests[name]["count"], want)
        assert requests["chat"]["count"] == requests["chat json"]["count"] == requests["chat text"]["count"] \
            == requests["chat binary"]["count"], tool
        assert requests["feed second"]["count"] == requests["feed ack"]["count"] == requests["feed"]["count"], tool
        for name in ("chat", "chat json", "chat text", "chat binary", "feed", "feed second", "feed ack"):
            assert requests[name]["max_ms"] is not None and requests[name]["max_ms"] < 10_000, (tool, name)
        # The second notification comes 40 ms after the handshake at the earliest.
        assert requests["feed second"]["min_ms"] >= 30, (tool, requests["feed second"]["min_ms"])
    assert sum(counts[t]["chat"] + counts[t]["feed"] for t in counts) == log["accepted"]
    manifest = json.loads((result.path / "manifest.json").read_text(encoding="utf-8"))
    for tool in ("k6", "locust"):
        outcome = manifest["outcomes"][tool]
        assert outcome["tool_reported_requests"] == outcome["collected_requests"], (tool, outcome)


FAILURES = """version: 1
name: ws-failures
defaults: {timeout: 2s}
journeys:
  - name: refused
    steps:
      - ws:
          name: nobody
          url: ws://127.0.0.1:PORT/ws/echo
          actions:
            - send: {text: hi}
  - name: missing
    steps:
      - ws: {name: not found, url: /nope, actions: [{send: {text: hi}}]}
  - name: quiet
    steps:
      - ws:
          name: quiet
          url: /ws/echo
          actions:
            - send: {text: hi}
            - expect: {name: never, regex: nothing-like-this, timeout: 300ms}
  - name: closing
    steps:
      - ws:
          name: closing
          url: /ws/echo?closing
          actions:
            - send: {text: close}
            - expect: {name: after close, timeout: 1s}
  - name: closing hold
    steps:
      - ws:
          name: closing hold
          url: /ws/echo?hold
          actions:
            - send: {text: close}
            - hold: 300ms
            - send: {text: skipped}
            - expect: {name: after hold}
  - name: no extract
    steps:
      - ws:
          name: noext
          url: /ws/echo?noext
          actions:
            - send: {text: hello}
            - expect: {name: extract fails, extract: {n: {json: $.n}}}
"""


def test_websocket_failures_have_the_same_causes_in_both_tools(
    tmp_path: Any, demo_target: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    import socket

    from crossload.run import RunRequest, execute

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("CROSSLOAD_ERROR_GUARD", "off")
    scenario_file = tmp_path / "failures.yaml"
    scenario_file.write_text(FAILURES.replace("PORT", str(port)), encoding="utf-8")
    call(demo_target, "/_crossload/ws-log", "DELETE")
    out = io.StringIO()
    result = execute(RunRequest(profile="smoke", target=demo_target, scenario=str(scenario_file), users=2,
                                duration_s=3, results_dir=tmp_path / "results", quiet=True), out=out)
    assert result.exit_code == 0, (result.message, out.getvalue())
    assert result.path is not None

    # The server closed each "closing" session on its first message; nothing after it was sent.
    for c in call(demo_target, "/_crossload/ws-log")["connections"]:
        if c["raw_path"] in ("/ws/echo?closing", "/ws/echo?hold"):
            assert c["received"] == [{"text": "close"}] and c["sent"] == 0, c
    summary = json.loads((result.path / "summary.json").read_text(encoding="utf-8"))
    for tool in ("k6", "locust"):
        requests = summary["tools"][tool]["requests"]
        errors = {name: r.get("errors") or {} for name, r in requests.items()}
        failed = {name: r["failures"] for name, r in requests.items()}
        count = {name: r["count"] for name, r in requests.items()}
        want = {"nobody": "connection refused", "not found": "HTTP 404", "never": "timeout",
                "after close": "ws closed", "after hold": "ws closed",
                "extract fails": "check failed: extract n from $.n"}
        for name, cause in want.items():
            assert count[name] > 0 and errors[name] == {cause: count[name]}, (tool, name, errors[name])
        for name in ("quiet", "closing", "closing hold", "noext", "quiet sent", "quiet received", "closing sent",
                     "closing hold sent", "noext sent", "noext received"):
            assert failed[name] == 0, (tool, name)
        # Every session that connected ran its expect; a session the server closed sent nothing more.
        assert count["quiet"] == count["never"] == count["quiet sent"] == count["quiet received"], tool
        assert count["closing"] == count["after close"] == count["closing sent"], tool
        assert count["closing hold"] == count["after hold"] == count["closing hold sent"], tool
        assert count["noext"] == count["extract fails"] == count["noext received"], tool
        assert "nobody sent" not in count and "not found sent" not in count, tool
        # A refused connection fails at once; an expect's timeout is waited for in full.
        assert requests["never"]["all_requests"]["min_ms"] >= 290, (tool, requests["never"]["all_requests"])
    manifest = json.loads((result.path / "manifest.json").read_text(encoding="utf-8"))
    for tool in ("k6", "locust"):
        outcome = manifest["outcomes"][tool]
        assert outcome["tool_reported_requests"] == outcome["collected_requests"], (tool, outcome)
