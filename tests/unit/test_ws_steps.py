"""WebSocket steps: the model, both renderings, both support modules' message matching, the k6 collector's rows,
and the demo target's WebSocket log."""

from __future__ import annotations

import ast
import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from crossload.paths import resource_dir
from crossload.profiles import build_schedule
from crossload.render import extraction_label, k6_thresholds, render_k6, render_locust, ws_rows
from crossload.scenario import WsExpect, WsHold, WsSend, load_scenario
from crossload.target import DemoTarget
from crossload.tools.k6 import K6WsJsonParser

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = resource_dir("tests") / "golden"
K6_ENV = {**os.environ, "K6_NO_USAGE_REPORT": "true"}


def test_realtime_scenario_model() -> None:
    s = load_scenario(ROOT / "scenarios" / "realtime.yaml")
    (journey,) = s.journeys
    notifications, echo = journey.steps[1:]
    assert notifications.method == echo.method == "WS" and notifications.ws and echo.ws
    assert notifications.path == "/ws/notifications?interval_ms=50&count=20"
    assert ("Authorization" not in dict(notifications.headers)) and notifications.auth is not None
    assert dict(notifications.headers) == {"X-Client": "{{ client }}"}  # the journey's headers
    first, ack = notifications.ws.expects
    assert (first.name, first.timeout_s, first.json_steps, first.has_equals) == ("first notification", 2.0, ("seq",),
                                                                                 False)
    assert (ack.name, ack.timeout_s) == ("acknowledged", 5.0)  # the scenario's timeout
    assert [type(a) for a in notifications.ws.actions] == [WsExpect, WsSend, WsExpect, WsHold]
    assert echo.ws.subprotocols == ("echo",) and echo.think_time is not None
    assert echo.result_names == ("echo", "echo round trip", "echo binary", "echo sent", "echo received")
    assert notifications.ws.longest_s == pytest.approx(2 + 5 + 0.5)
    # The drain covers a session under way: timeout + its expects and holds + think time + 1 s.
    assert s.drain_s == 5 + 8 + 1  # ceil(5 + 7.5 + 0.1 + 1)
    assert {t.request for t in s.thresholds} == {None, "echo round trip", "notifications"}
    refs = {(name, where) for name, _d, where, _l in s.env_references()}
    assert ("CROSSLOAD_DEMO_PASSWORD", "journeys[0].setup[0].json.password") in refs


def test_env_references_in_messages_are_found(tmp_path: Path) -> None:
    path = tmp_path / "ws.yaml"
    path.write_text("""version: 1
name: ws
journeys:
  - name: j
    steps:
      - ws:
          name: s
          url: /ws/echo?k=${KEY}
          actions:
            - send: {text: "a ${TEXT_SECRET} b"}
            - send: {json: {k: "${JSON_SECRET}"}}
""", encoding="utf-8")
    s = load_scenario(path)
    refs = {(name, where, line) for name, _d, where, line in s.env_references()}
    assert refs == {("KEY", "journeys[0].steps[0].ws.url", 8),
                    ("TEXT_SECRET", "journeys[0].steps[0].ws.actions[0].send.text", 10),
                    ("JSON_SECRET", "journeys[0].steps[0].ws.actions[1].send.json.k", 11)}


def test_rendered_websocket_steps_read_like_tool_code() -> None:
    script = (GOLDEN / "realtime" / "script.js").read_text(encoding="utf-8")
    assert "wsSession, wsStep } from './crossload.js';" in script
    assert "function echo() {\n  const ok = wsSession(steps.echo, vars);\n  sleep(0.1); // think time: 100ms\n" \
           "  return ok;\n}" in script
    assert "      { send: { binary: 'AAEC' } },\n" in script
    assert "    'crossload_ws{name:echo round trip}': ['p(95)<500'],\n" in script
    assert "    'ws_connecting{name:notifications,status:101}': ['p(95)<1000'],\n" in script
    locustfile = (GOLDEN / "realtime" / "locustfile.py").read_text(encoding="utf-8")
    assert "\nfrom crossload_ws import WsStep\n" in locustfile
    assert "ECHO = WsStep(\n    name='echo',\n    url='/ws/echo',\n" in locustfile
    assert "        {'hold': 500},\n" in locustfile
    # An HTTP-only locustfile never imports the WebSocket module (nor needs websocket-client).
    for name in ("demo", "shop-journeys", "checkout", "minimal"):
        assert "crossload_ws" not in (GOLDEN / name / "locustfile.py").read_text(encoding="utf-8"), name


def test_thresholds_on_websocket_rows() -> None:
    s = load_scenario(ROOT / "scenarios" / "realtime.yaml")
    rows = ws_rows(s)
    assert rows["notifications"] == "connect" and rows["echo round trip"] == "expect"
    assert rows["echo sent"] == rows["notifications received"] == "count"
    from dataclasses import replace

    extra = [replace(s.thresholds[1], metric="error_rate", text="error_rate < 1%", value=1.0),
             replace(s.thresholds[1], request="echo sent")]
    got = k6_thresholds([*s.thresholds, *extra], rows)
    assert dict(got.entries) == {"http_req_failed": ("rate<0.01",),
                                 "crossload_ws{name:echo round trip}": ("p(95)<500",),
                                 "ws_connecting{name:notifications,status:101}": ("p(95)<1000",)}
    assert len(got.left_out) == 2 and all("judged by crossload only" in t for t in got.left_out)


HOSTILE_PARTS = ["'", '"', "\\", "`", "${HOME}", "$${x}", "{% if %}", "</script>", "*/", "#", "\n", "\t", "é",
                 "😀", "\u2028", "%41", "?", "&", " ", "'''", "__proto__", ",", ":", "{", "}", "{{", "}}", "{{ c }}"]
hostile = st.lists(st.sampled_from(HOSTILE_PARTS) | st.text(max_size=3), min_size=1, max_size=5).map("".join)
url_text = hostile.map(lambda t: "".join(ch for ch in t if ch.isprintable() and not ch.isspace() and ch != "#"))
header_text = hostile.map(lambda t: "".join(ch for ch in t if ch.isascii() and ch.isprintable()))


@settings(max_examples=12, deadline=None, phases=[Phase.explicit, Phase.generate],
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=hostile.filter(lambda s: s.strip() and "\0" not in s and len(s) <= 150), text=hostile,
       path=url_text, header=header_text, equals=hostile)
def test_hostile_strings_in_websocket_steps_render_valid_files(tmp_path_factory: pytest.TempPathFactory, name: str,
                                                               text: str, path: str, header: str,
                                                               equals: str) -> None:
    tmp = tmp_path_factory.mktemp("hostile-ws")
    pattern = "(" + "".join(ch for ch in text if ch.isalnum()) + ")"
    expect = {"name": name + " reply", "json": {"path": "$.k", "equals": equals}, "timeout": "1s",
              "extract": {"v": {"regex": pattern}}}
    doc = {
        "version": 1, "name": name,
        "data": {"c": {"generate": "choice", "values": [equals, 1]}},
        "journeys": [{"name": name, "steps": [{"ws": {
            "name": name, "url": "/ws/" + path, "subprotocols": ["echo"], "headers": {"X-H": header},
            "actions": [{"send": {"text": text}}, {"send": {"json": {text: text, "c": "{{ c }}"}}},
                        {"expect": expect}, {"send": {"text": "{{ v }}" + text}}, {"hold": "10ms"}, "close"],
        }}]}],
    }
    path_file = tmp / "hostile.yaml"
    path_file.write_text(yaml.safe_dump(doc, allow_unicode=False, sort_keys=False), encoding="utf-8")
    s = load_scenario(path_file)
    schedule = build_schedule("smoke", s, duration_s=2)
    tree = ast.parse(render_locust(s, schedule, "http://127.0.0.1:8089").text, "locustfile.py")
    (call,) = [n.value for n in tree.body if isinstance(n, ast.Assign) and isinstance(n.value, ast.Call)
               and getattr(n.value.func, "id", "") == "WsStep"]
    kw = {k.arg: ast.literal_eval(k.value) for k in call.keywords}
    session = s.journeys[0].steps[0].ws
    assert session is not None
    label = extraction_label(session.expects[0].extract[0])
    assert kw["name"] == name and kw["url"] == "/ws/" + path and kw["headers"] == {"X-H": header}
    assert kw["actions"] == [
        {"send": {"text": text}}, {"send": {"json": {text: text, "c": "{{ c }}"}}},
        {"expect": {"name": name + " reply", "timeout": 1000, "json": ["k"], "equals": equals,
                    "extract": [[label, "v", {"regex": pattern}]]}},
        {"send": {"text": "{{ v }}" + text}}, {"hold": 10},
    ]
    k6_file = render_k6(s, schedule, "http://127.0.0.1:8089")
    assert "</script>" not in k6_file.text and k6_file.text.isascii()
    out = tmp_path_factory.mktemp("k6-ws")
    k6_file.write(out)
    proc = subprocess.run(["k6", "inspect", "script.js"], cwd=out, env=K6_ENV, capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 0, proc.stderr


# --- both support modules: which message an expect takes, what it extracts ---------------------------------

MESSAGES: list[str | None] = ['{"seq": 2, "sent_ms": 1}', '{"seq": "2"}', '{"ack": "hi"}', "who=ab-1; x", "plain",
                              "[1, 2]", "{bad json", None, '{"seq": 2.0, "list": [1, {"k": true}]}', "NaN"]
EXPECTS: list[dict[str, Any]] = [
    {}, {"json": ["seq"]}, {"json": ["seq"], "equals": 2}, {"json": ["seq"], "equals": "2"}, {"json": ["ack"]},
    {"json": [1]}, {"json": ["list", 1, "k"], "equals": True}, {"regex": "^who=[0-9a-f-]+; "}, {"regex": "seq"},
    {"regex": "x$"},
]
WS_EXTRACTS: list[dict[str, Any]] = [{"json": ["seq"]}, {"json": ["ack"]}, {"regex": "^who=([0-9a-f-]+);"},
                                     {"regex": "plain"}, {"json": ["list"]}]

_LOCUST_PROBE = """
import json, sys
sys.path.insert(0, sys.argv[1])
import crossload_locust as cl
import crossload_ws as cw
cases = json.load(open(sys.argv[2]))
print(json.dumps({
    "matches": [[cw.message_matches(e, m) for e in cases["expects"]] for m in cases["messages"]],
    "extracted": [[None if m is None or (v := cl.extract_value(s, m, None)) is cl._MISSING else v
                   for s in cases["extracts"]] for m in cases["messages"]],
}))
"""

_K6_PROBE = """
import { extractValue, messageMatches, wsCause } from './crossload.js';
const CASES = JSON.parse(open('./cases.json'));
export const options = { iterations: 1, vus: 1 };
export default function () {
  const text = function (m) { return m === null ? undefined : m; };
  console.log('RESULT ' + JSON.stringify({
    matches: CASES.messages.map(function (m) { return CASES.expects.map(function (e) {
      return messageMatches(e, text(m)); }); }),
    extracted: CASES.messages.map(function (m) { return CASES.extracts.map(function (s) {
      const v = m === null ? undefined : extractValue({ body: m }, s);
      return v === undefined ? null : v; }); }),
    causes: ['dial tcp 127.0.0.1:1: connect: connection refused', 'i/o timeout', 'lookup nope: no such host',
             'tls: handshake failure', 'read: connection reset by peer', 'websocket: bad handshake'].map(wsCause),
  }));
}
"""


def test_support_modules_match_and_extract_messages_alike(tmp_path: Path) -> None:
    cases = {"messages": MESSAGES, "expects": EXPECTS, "extracts": WS_EXTRACTS}
    (tmp_path / "cases.json").write_text(json.dumps(cases), encoding="utf-8")
    proc = subprocess.run([sys.executable, "-c", _LOCUST_PROBE, str(resource_dir("locust")),
                           str(tmp_path / "cases.json")], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    (tmp_path / "crossload.js").write_bytes((resource_dir("k6") / "crossload.js").read_bytes())
    (tmp_path / "probe.js").write_text(_K6_PROBE, encoding="utf-8")
    k6 = subprocess.run(["k6", "run", "-q", "--no-summary", "--log-format", "raw", "probe.js"], cwd=tmp_path,
                        env=K6_ENV, capture_output=True, text=True, timeout=120, check=False)
    assert k6.returncode == 0, k6.stderr
    k6_got = json.loads(next(x for x in (k6.stdout + k6.stderr).splitlines() if x.startswith("RESULT "))[7:])
    locust_got = json.loads(proc.stdout.strip().splitlines()[-1])
    T, F = True, False
    want_matches = [
        [T, T, T, F, F, F, F, F, T, F],  # {"seq": 2, ...}
        [T, T, F, T, F, F, F, F, T, F],  # {"seq": "2"}
        [T, F, F, F, T, F, F, F, F, F],  # {"ack": "hi"}
        [T, F, F, F, F, F, F, T, F, T],  # who=ab-1; x
        [T, F, F, F, F, F, F, F, F, F],  # plain
        [T, F, F, F, F, T, F, F, F, F],  # [1, 2]
        [T, F, F, F, F, F, F, F, F, F],  # {bad json
        [T, F, F, F, F, F, F, F, F, F],  # a binary message: only an expect without criteria takes it
        [T, T, T, F, F, F, T, F, T, F],  # 2.0 equals 2
        [T, F, F, F, F, F, F, F, F, F],  # NaN is not JSON
    ]
    want_extracted = [
        [2, None, None, None, None], ["2", None, None, None, None], [None, "hi", None, None, None],
        [None, None, "ab-1", None, None], [None, None, None, "plain", None], [None] * 5, [None] * 5, [None] * 5,
        [2, None, None, None, None], [None] * 5,
    ]
    for tool, got in (("locust", locust_got), ("k6", k6_got)):
        assert got["matches"] == want_matches, tool
        assert got["extracted"] == want_extracted, tool
    assert k6_got["causes"] == ["connection refused", "timeout", "DNS error", "TLS error", "connection reset",
                                "connection error"]


# --- the k6 collector --------------------------------------------------------------------------------------


def _line(metric: str, value: float, tags: dict[str, str], t: str = "2026-12-03T07:41:30.5Z") -> str:
    return json.dumps({"metric": metric, "type": "Point", "data": {"time": t, "value": value, "tags": tags}},
                      separators=(",", ":"))


def test_k6_collector_reads_websocket_rows() -> None:
    parser = K6WsJsonParser(clock=lambda: 0.0)
    for line in [
        _line("ws_connecting", 1.5, {"name": "chat", "status": "101"}),
        _line("ws_connecting", 2.0, {"name": "chat", "status": "403"}),
        _line("ws_connecting", 0.2, {"name": "chat"}),  # no response: the script's sample below reports it
        _line("crossload_ws_connect_failed", 0.0, {"name": "chat", "method": "WS", "cause": "connection refused"}),
        _line("ws_msgs_sent", 1, {"name": "chat", "status": "101"}),
        _line("ws_msgs_received", 1, {"name": "chat", "status": "101"}),
        _line("ws_msgs_received", 1, {"name": "chat", "status": "101"}),
        _line("crossload_ws", 3.0, {"name": "chat reply", "method": "WS"}),
        _line("crossload_ws", 2000.0, {"name": "chat reply", "method": "WS", "cause": "timeout"}),
        _line("ws_sessions", 1, {"name": "chat", "status": "101"}),
        _line("http_req_duration", 4.0, {"name": "home", "method": "GET", "status": "200",
                                         "expected_response": "true"}),
    ]:
        parser.feed(line)
    rows = {(a.name, a.method): a for a in parser.drain(final=True)}  # type: ignore[union-attr]
    assert set(rows) == {("chat", "WS"), ("chat sent", "WS"), ("chat received", "WS"), ("chat reply", "WS"),
                         ("home", "GET")}
    chat = rows["chat", "WS"]
    assert (chat.count, chat.failures, chat.status, chat.errors) == (
        3, 2, {"1xx": 1, "4xx": 1, "error": 1}, {"HTTP 403": 1, "connection refused": 1})
    assert (rows["chat sent", "WS"].count, rows["chat received", "WS"].count) == (1, 2)
    assert rows["chat received", "WS"].max_ms == 0.0 and rows["chat received", "WS"].status == {"1xx": 2}
    reply = rows["chat reply", "WS"]
    assert (reply.count, reply.failures, reply.errors, reply.max_ms) == (2, 1, {"timeout": 1}, 2000.0)
    assert rows["home", "GET"].count == 1


# --- the demo target's WebSocket log -----------------------------------------------------------------------


def test_target_logs_websocket_connections() -> None:
    import aiohttp

    async def go(base: str) -> tuple[Any, Any]:
        ws_base = base.replace("http://", "ws://", 1)
        async with aiohttp.ClientSession() as session:
            async with session.delete(f"{base}/_crossload/ws-log"):
                pass
            async with session.ws_connect(f"{ws_base}/ws/echo?u=1", protocols=("echo",),
                                          headers={"X-User": "ann"}) as ws:
                await ws.send_str("héllo")
                await ws.receive_str(timeout=10)
                await ws.send_bytes(b"\x00\xff")
                await ws.receive_bytes(timeout=10)
            async with session.ws_connect(f"{ws_base}/ws/notifications?interval_ms=5&count=2") as ws:
                await ws.send_str("ping")
                got = [await ws.receive_str(timeout=10) for _ in range(3)]
            await asyncio.sleep(0.2)
            async with session.get(f"{base}/_crossload/ws-log") as resp:
                log = await resp.json()
            async with session.delete(f"{base}/_crossload/ws-log") as resp:
                cleared = await resp.json()
            return log, (got, cleared)

    with DemoTarget(host="127.0.0.1", port=0) as target:
        log, (got, cleared) = asyncio.run(go(target.url))
    assert log["accepted"] == 2 and cleared == {"cleared": 2}
    echo, feed = log["connections"]
    assert echo["raw_path"] == "/ws/echo?u=1" and echo["protocol"] == "echo"
    assert ["X-User", "ann"] in echo["headers"]
    assert echo["received"] == [{"text": "héllo"}, {"binary_b64": "AP8="}]
    assert (echo["received_count"], echo["sent"]) == (2, 2)
    assert feed["received"] == [{"text": "ping"}] and feed["protocol"] is None
    assert feed["sent"] == 3 and sorted(got, key=len)[0] == '{"ack": "ping"}'
