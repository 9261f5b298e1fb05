"""Behaviour of the demo target, checked over real HTTP on loopback.

Load-test numbers are only meaningful if the target answers exactly as
documented, so every endpoint is exercised against a server started the
way the toolkit starts it: ``DemoTarget`` in a separate process.
"""

from __future__ import annotations

import http.client
import itertools
import json
import os
import re
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from crossload.errors import ToolError
from crossload.target import DemoTarget
from crossload.target.app import ECHO_LOG_SIZE, TOKEN_ENV_VAR, TargetState

SRC_DIR = Path(__file__).resolve().parents[2] / "src"
# Scheduling slack for bounds on elapsed time: the machine running the tests may be small and busy. A bound
# here tells a delay of the right size from one in the wrong unit or a hang, never measures speed.
SLACK_S = 4.0


@dataclass(frozen=True)
class Reply:
    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def _send(
    conn: http.client.HTTPConnection,
    method: str,
    target: str,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
) -> Reply:
    conn.request(method, target, body=body, headers=dict(headers or {}))
    response = conn.getresponse()
    return Reply(response.status, dict(response.getheaders()), response.read())


def _connect(base_url: str) -> http.client.HTTPConnection:
    parts = urlsplit(base_url)
    assert parts.hostname is not None and parts.port is not None
    return http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)


def call(
    base_url: str,
    method: str,
    target: str,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
) -> Reply:
    """One request on a fresh connection; the target is sent verbatim."""
    conn = _connect(base_url)
    try:
        return _send(conn, method, target, body, headers)
    finally:
        conn.close()


def post_json(base_url: str, target: str, payload: object, token: str | None = None) -> Reply:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return call(base_url, "POST", target, json.dumps(payload).encode(), headers)


def _pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _running(pid: int) -> bool:
    """The process exists and has not exited (a zombie waiting to be reaped has exited)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()  # Linux; the tests using this are skipped elsewhere
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _wait_gone(pids: list[int], timeout_s: float = 20.0) -> list[int]:
    """The pids still running after up to ``timeout_s`` (a process outliving its parent exits on its own)."""
    deadline = time.monotonic() + timeout_s
    while any(_running(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    return [p for p in pids if _running(p)]


def _readline(stream: Any, timeout_s: float) -> bytes:
    """One line from a child's pipe, or what came before ``timeout_s`` ran out (never blocks for ever)."""
    data = b""
    deadline = time.monotonic() + timeout_s
    while not data.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([stream], [], [], left)[0]:
            break
        chunk = os.read(stream.fileno(), 1)
        if not chunk:
            break
        data += chunk
    return data


def _child_pids(pid: int) -> list[int]:
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if parent == pid:
            children.append(int(stat.parent.name))
    return children


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv(TOKEN_ENV_VAR, raising=False)
        with DemoTarget(host="127.0.0.1", port=0) as target:
            yield target.url


# ---------------------------------------------------------------- basics


def test_health_is_json(url: str) -> None:
    reply = call(url, "GET", "/health")
    assert reply.status == 200
    assert reply.headers["Content-Type"] == "application/json"
    assert reply.json() == {"status": "ok"}


def test_connection_is_kept_alive(url: str) -> None:
    conn = _connect(url)
    try:
        first = _send(conn, "GET", "/health")
        sock = conn.sock
        second = _send(conn, "GET", "/api/items/1")
        assert sock is not None and conn.sock is sock
    finally:
        conn.close()
    assert (first.status, second.status) == (200, 200)


def test_unknown_path_is_json_404(url: str) -> None:
    reply = call(url, "GET", "/no/such/thing")
    assert reply.status == 404
    assert reply.headers["Content-Type"] == "application/json"
    assert reply.json() == {"error": "not found"}


def test_wrong_method_is_json_405(url: str) -> None:
    reply = call(url, "POST", "/health", b"")
    assert reply.status == 405
    assert reply.json() == {"error": "method not allowed"}
    assert reply.headers["Allow"] == "GET, HEAD"


# ---------------------------------------------------------------- catalogue


def test_items_default_page(url: str) -> None:
    data = call(url, "GET", "/api/items").json()
    assert (data["page"], data["limit"], data["total"]) == (1, 20, 1000)
    assert [item["id"] for item in data["items"]] == list(range(1, 21))
    for item in data["items"]:
        assert set(item) == {"id", "name", "price"}
        assert isinstance(item["name"], str) and item["name"]
        assert isinstance(item["price"], float) and item["price"] > 0


def test_items_last_and_past_last_page(url: str) -> None:
    last = call(url, "GET", "/api/items?page=50&limit=20").json()
    assert [item["id"] for item in last["items"]] == list(range(981, 1001))
    beyond = call(url, "GET", "/api/items?page=51&limit=20").json()
    assert beyond["items"] == [] and beyond["total"] == 1000


def test_catalogue_is_deterministic(url: str) -> None:
    first = call(url, "GET", "/api/items?page=3&limit=7").body
    assert call(url, "GET", "/api/items?page=3&limit=7").body == first
    names = [item["name"] for item in call(url, "GET", "/api/items?limit=100").json()["items"]]
    assert len(set(names)) == 100


@pytest.mark.parametrize(
    "query",
    [
        "page=0",
        "page=-1",
        "page=x",
        "limit=0",
        "limit=101",
        "limit=2.5",
        "page=1&limit=",
        "page=" + "9" * 5000,
    ],
)
def test_items_bad_paging_is_400(url: str, query: str) -> None:
    reply = call(url, "GET", f"/api/items?{query}")
    assert reply.status == 400
    assert reply.headers["Content-Type"] == "application/json"
    assert "error" in reply.json()


def test_item_detail_matches_listing(url: str) -> None:
    listed = call(url, "GET", "/api/items?page=2&limit=10").json()["items"]
    for item in (listed[0], listed[-1]):
        reply = call(url, "GET", f"/api/items/{item['id']}")
        assert reply.status == 200
        assert reply.json() == item
    assert call(url, "GET", "/api/items/1000").json()["id"] == 1000


@pytest.mark.parametrize("item_id", ["0", "999999", "abc", "9" * 5000])
def test_missing_item_is_404(url: str, item_id: str) -> None:
    reply = call(url, "GET", f"/api/items/{item_id}")
    assert reply.status == 404
    assert reply.json() == {"error": "not found"}


def test_search_is_case_insensitive_and_capped(url: str) -> None:
    lower = call(url, "GET", "/api/search?q=lamp").json()
    mixed = call(url, "GET", "/api/search?q=LaMp").json()
    assert lower["query"] == "lamp" and mixed["query"] == "LaMp"
    assert 0 < len(lower["results"]) <= 20
    assert lower["results"] == mixed["results"]
    assert all("lamp" in item["name"].lower() for item in lower["results"])


def test_search_without_match_or_query(url: str) -> None:
    assert call(url, "GET", "/api/search?q=zzzz-nothing").json() == {
        "query": "zzzz-nothing",
        "results": [],
    }
    assert call(url, "GET", "/api/search").status == 400


# ---------------------------------------------------------------- auth and writes


def test_login_then_create_item(url: str) -> None:
    login = post_json(url, "/api/login", {"username": "ann", "password": "pw"})
    assert login.status == 200
    token = login.json()["token"]
    assert isinstance(token, str) and len(token) >= 16

    forged = token[:-1] + ("0" if token[-1] != "0" else "1")
    assert post_json(url, "/api/items", {"name": "Forged", "price": 1}, forged).status == 401

    created = post_json(url, "/api/items", {"name": "Probe", "price": 9.5}, token)
    assert created.status == 201
    item = created.json()
    assert item["id"] > 1000 and (item["name"], item["price"]) == ("Probe", 9.5)
    assert call(url, "GET", f"/api/items/{item['id']}").json() == item

    second = post_json(url, "/api/items", {"name": "Probe 2", "price": 1}, token).json()
    assert second["id"] == item["id"] + 1


def test_each_login_issues_a_new_token(url: str) -> None:
    tokens = {
        post_json(url, "/api/login", {"username": "u", "password": "p"}).json()["token"] for _ in range(3)
    }
    assert len(tokens) == 3


@pytest.mark.parametrize(
    "payload",
    [
        {"username": "ann", "password": ""},
        {"username": "", "password": "x"},
        {"username": "ann"},
        ["ann", "pw"],
    ],
)
def test_login_rejects_bad_credentials(url: str, payload: object) -> None:
    assert post_json(url, "/api/login", payload).status == 401


def test_login_rejects_malformed_json(url: str) -> None:
    assert call(url, "POST", "/api/login", b"{nope", {"Content-Type": "application/json"}).status == 401


def test_default_demo_token_is_accepted(url: str) -> None:
    reply = post_json(url, "/api/items", {"name": "Fixed", "price": 3}, "demo-token")
    assert reply.status == 201


@pytest.mark.parametrize("authorization", [None, "Bearer not-a-token", "Basic demo-token", "Bearer "])
def test_create_requires_valid_token(url: str, authorization: str | None) -> None:
    headers = {"Content-Type": "application/json"}
    if authorization is not None:
        headers["Authorization"] = authorization
    body = json.dumps({"name": "X", "price": 1}).encode()
    reply = call(url, "POST", "/api/items", body, headers)
    assert reply.status == 401
    assert reply.headers["Content-Type"] == "application/json"


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b'"a string"',
        b'{"name": "", "price": 1}',
        b'{"name": "X", "price": "1"}',
        b'{"name": "X"}',
    ],
)
def test_create_rejects_bad_body(url: str, body: bytes) -> None:
    headers = {"Content-Type": "application/json", "Authorization": "Bearer demo-token"}
    reply = call(url, "POST", "/api/items", body, headers)
    assert reply.status == 400
    assert "error" in reply.json()


# ---------------------------------------------------------------- echo


def test_echo_reports_raw_and_decoded_request(url: str) -> None:
    target = "/echo/a%2Fb/%C3%A9t%C3%A9?q=%20x&tag=1&tag=two%26three"
    reply = call(url, "PATCH", target, "héllo".encode(), {"X-Zulu": "1", "X-Alpha": "2"})
    assert reply.status == 200
    data = reply.json()
    assert data["method"] == "PATCH"
    assert data["raw_path"] == target
    assert data["path"] == "/echo/a/b/été"
    assert data["query"] == [["q", " x"], ["tag", "1"], ["tag", "two&three"]]
    names = [name for name, _ in data["headers"]]
    assert names.index("X-Zulu") < names.index("X-Alpha")
    assert ["X-Alpha", "2"] in data["headers"]
    assert data["body"] == "héllo"
    assert "body_b64" not in data


def test_echo_bare_path_and_binary_body(url: str) -> None:
    data = call(url, "POST", "/echo", b"\xff\x00\xfe").json()
    assert (data["raw_path"], data["path"], data["query"]) == ("/echo", "/echo", [])
    assert data["body_b64"] == "/wD+"
    assert "body" not in data


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
def test_echo_accepts_every_method(url: str, method: str) -> None:
    reply = call(url, method, "/echo/m")
    assert reply.status == 200
    assert reply.json()["method"] == method


def test_echo_head_has_no_body(url: str) -> None:
    reply = call(url, "HEAD", "/echo/head")
    assert reply.status == 200
    assert reply.body == b""


def test_echo_log_records_and_clears(url: str) -> None:
    cleared = call(url, "DELETE", "/_crossload/echo-log")
    assert cleared.status == 200
    assert call(url, "GET", "/_crossload/echo-log").json() == {"entries": []}

    first = call(url, "GET", "/echo/one?x=1").json()
    second = call(url, "PUT", "/echo/two", b"payload").json()
    call(url, "HEAD", "/echo/three")
    entries = call(url, "GET", "/_crossload/echo-log").json()["entries"]
    assert entries[:2] == [first, second]
    assert [entry["method"] for entry in entries] == ["GET", "PUT", "HEAD"]

    assert call(url, "DELETE", "/_crossload/echo-log").json() == {"cleared": 3}
    assert call(url, "GET", "/_crossload/echo-log").json() == {"entries": []}


def test_echo_log_is_bounded() -> None:
    state = TargetState()
    for i in range(ECHO_LOG_SIZE + 5):
        state.echo_log.append({"n": i})
    # Full, it keeps the newest ECHO_LOG_SIZE entries in order and drops the oldest.
    assert len(state.echo_log) == ECHO_LOG_SIZE > 0
    assert state.echo_log[0] == {"n": 5} and state.echo_log[-1] == {"n": ECHO_LOG_SIZE + 4}


# ---------------------------------------------------------------- delay and errors


def test_delay_waits_at_least_the_requested_time(url: str) -> None:
    started = time.monotonic()
    reply = call(url, "GET", "/delay/500")
    elapsed = time.monotonic() - started
    assert reply.json() == {"delayed_ms": 500}
    # At least the delay; far less than ten times it (a unit mistake), whatever the machine's load.
    assert 0.5 <= elapsed < 0.5 + SLACK_S


@pytest.mark.parametrize("ms", ["60001", "-1", "abc"])
def test_delay_rejects_out_of_range(url: str, ms: str) -> None:
    assert call(url, "GET", f"/delay/{ms}").status == 400


def test_error_percent_forces_outcome(url: str) -> None:
    failed = call(url, "GET", "/error/100")
    assert failed.status == 500
    assert failed.json() == {"error": "injected"}
    assert call(url, "GET", "/error/0").status == 200


def test_error_percent_is_random_in_between(url: str) -> None:
    conn = _connect(url)
    try:
        statuses = {_send(conn, "GET", "/error/50").status for _ in range(200)}
    finally:
        conn.close()
    assert statuses == {200, 500}


def test_error_uses_configured_rate_zero(url: str) -> None:
    assert {call(url, "GET", "/error").status for _ in range(20)} == {200}


@pytest.mark.parametrize("percent", ["101", "-5", "nan", "lots"])
def test_error_rejects_bad_percent(url: str, percent: str) -> None:
    assert call(url, "GET", f"/error/{percent}").status == 400


# ---------------------------------------------------------------- lifecycle


def test_custom_token_error_rate_and_clean_exit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TOKEN_ENV_VAR, "s3cret")
    with DemoTarget(error_rate=1.0) as target:
        pid = target.pid
        assert pid is not None and _pid_exists(pid)
        assert target.url == f"http://127.0.0.1:{target.port}"
        assert post_json(target.url, "/api/items", {"name": "A", "price": 1}, "s3cret").status == 201
        assert post_json(target.url, "/api/items", {"name": "A", "price": 1}, "demo-token").status == 401
        assert call(target.url, "GET", "/error").status == 500
        port = target.port
    assert not _pid_exists(pid)
    with pytest.raises(ConnectionRefusedError):
        call(f"http://127.0.0.1:{port}", "GET", "/health")


def test_child_is_reaped_after_keyboard_interrupt() -> None:
    pid = None
    with pytest.raises(KeyboardInterrupt), DemoTarget() as target:
        pid = target.pid
        raise KeyboardInterrupt
    assert pid is not None and not _pid_exists(pid)


def test_start_failure_raises_tool_error() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        port = busy.getsockname()[1]
        target = DemoTarget(port=port)
        with pytest.raises(ToolError, match=f"port {port}"):
            target.start()
        assert target.pid is None


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_workers_share_the_port_and_all_exit() -> None:
    with DemoTarget(workers=2) as target:
        supervisor = target.pid
        assert supervisor is not None
        workers = _child_pids(supervisor)
        assert len(workers) == 2
        # Each call is a new connection, spread over both workers by the kernel;
        # tokens and item ids must hold regardless of which worker answers.
        token = post_json(target.url, "/api/login", {"username": "u", "password": "p"}).json()["token"]
        # The kernel picks a worker per connection by hashing its addresses: with 40 connections, all
        # landing on one worker has a chance of 2 in 2**40.
        created = [post_json(target.url, "/api/items", {"name": "W", "price": 1}, token) for _ in range(40)]
        assert {reply.status for reply in created} == {201}
        ids = [reply.json()["id"] for reply in created]
        assert len(set(ids)) == 40 and min(ids) > 1000
        # Worker k hands out ids k, k+2, ...: both parities means both workers answered.
        assert {i % 2 for i in ids} == {0, 1}
    assert not _running(supervisor)  # stop() reaps the supervisor
    assert _wait_gone(workers) == [], "workers outlived the supervisor"


def test_module_entry_point_announces_and_stops_on_sigint() -> None:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(SRC_DIR), os.environ.get("PYTHONPATH")])),
    }
    with subprocess.Popen(
        [sys.executable, "-m", "crossload.target", "--host", "127.0.0.1", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    ) as proc:
        try:
            assert proc.stdout is not None
            line = _readline(proc.stdout, timeout_s=60).decode()
            match = re.fullmatch(r"demo target listening on (http://127\.0\.0\.1:(\d+))\n", line)
            assert match, line
            assert call(match.group(1), "GET", "/health").status == 200
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 0, err.decode()


def _ws_session(url: str, script: Any) -> Any:
    import asyncio

    import aiohttp

    async def go() -> Any:
        async with aiohttp.ClientSession() as session:
            return await script(session, url.replace("http://", "ws://", 1))

    return asyncio.run(go())


def test_websocket_echo_returns_every_message_and_closes_on_request(url: str) -> None:
    async def script(session: Any, ws_url: str) -> Any:
        async with session.ws_connect(f"{ws_url}/ws/echo", protocols=("echo",)) as ws:
            await ws.send_str('{"hello": "wörld"}')
            text = await ws.receive_str(timeout=SLACK_S)
            await ws.send_bytes(b"\x00\xff")
            data = await ws.receive_bytes(timeout=SLACK_S)
            await ws.send_str("close")
            closing = await ws.receive(timeout=SLACK_S)
            return ws.protocol, text, data, closing.type

    import aiohttp

    protocol, text, data, closing = _ws_session(url, script)
    assert (protocol, text, data) == ("echo", '{"hello": "wörld"}', b"\x00\xff")
    assert closing in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING)


def test_websocket_notifications_arrive_in_order_at_the_interval_and_messages_are_acknowledged(url: str) -> None:
    async def script(session: Any, ws_url: str) -> Any:
        async with session.ws_connect(f"{ws_url}/ws/notifications?interval_ms=50&count=4") as ws:
            got = [json.loads(await ws.receive_str(timeout=SLACK_S)) for _ in range(4)]
            await ws.send_str("ping")
            ack = json.loads(await ws.receive_str(timeout=SLACK_S))
            return got, ack

    got, ack = _ws_session(url, script)
    assert [m["seq"] for m in got] == [1, 2, 3, 4] and ack == {"ack": "ping"}
    gaps = [b["sent_ms"] - a["sent_ms"] for a, b in itertools.pairwise(got)]
    assert all(40 <= g <= 50 + SLACK_S * 1000 for g in gaps), gaps
    assert call(url, "GET", "/ws/notifications?interval_ms=0").status == 400
