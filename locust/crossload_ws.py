"""crossload support module for the WebSocket steps of rendered locustfiles.

Only a locustfile whose scenario has WebSocket steps imports it, so an HTTP-only locustfile needs nothing but
Locust. It uses ``websocket-client``, whose blocking socket calls cooperate with Locust's other users under
gevent's monkey-patching, and mirrors ``wsSession`` in k6/crossload.js action for action:

- the handshake is timed and recorded under the step's name (method ``WS``);
- ``send``: a text, JSON or binary message, recorded as one ``<name> sent`` row (0 ms);
- every message received is one ``<name> received`` row (0 ms), whatever the action under way;
- ``expect``: the next message that matches, within the timeout, timed from the last send (the round trip)
  and recorded under the expect's name; its extractions are judged after the match like checks;
- ``hold``: keep the connection open for a while, counting what arrives;
- then the session closes (messages that arrive during the closing handshake are still counted).

A failed handshake, a missed expect (``timeout``), the server closing the connection while an expect waits,
or before one (``ws closed``) fail the step: the journey's iteration ends there.
"""

from __future__ import annotations

import base64
import json as _json
import re
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

try:
    import websocket
except ImportError:  # pragma: no cover - depends on the Locust environment
    raise ImportError(
        "WebSocket steps need the websocket-client package next to Locust: pip install 'websocket-client>=1.6,<2' "
        "(with --runner docker: an image built FROM the Locust image with it installed, named by "
        "CROSSLOAD_LOCUST_IMAGE)") from None
from crossload_locust import (
    _LOCUST_CONTROL,
    _MISSING,
    Text,
    _filled,
    _lookup,
    _same,
    _texts,
    basic_auth_header,
    build_path,
    extract_value,
    resolve,
)
from crossload_recorder import CHECK_PREFIX, WS_CLOSED

WS_METHOD = "WS"
CLOSE_WAIT_S = 1.0  # how long the closing handshake may take


class _Upgraded:
    """The rows of a session after its handshake carry the handshake's status class (1xx)."""

    status_code = 101


_UPGRADED = _Upgraded()


class _Status:
    def __init__(self, code: int) -> None:
        self.status_code = code


class WsClosed(Exception):
    """The server closed the connection before the message an expect waits for."""

    def __init__(self) -> None:
        super().__init__(WS_CLOSED)


def _json_doc(text: str) -> Any:
    try:
        return _json.loads(text, parse_constant=_reject_constant)
    except ValueError:
        return _MISSING


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def message_matches(expect: Mapping[str, Any], text: str | None) -> bool:
    """Does a received message (``text``; None for a binary message) satisfy an expect's criteria: a value at
    a JSON path (that equals ``equals`` when given), a regular expression, or nothing (any message)?"""
    if "json" in expect:
        if text is None:
            return False
        doc = _json_doc(text)
        if doc is _MISSING:
            return False
        hit = _lookup(doc, expect["json"])
        return hit is not _MISSING and ("equals" not in expect or _same(hit, expect["equals"]))
    if "regex" in expect:
        return text is not None and re.search(expect["regex"], text, re.ASCII) is not None
    return True


class WsStep:
    """A WebSocket step of a journey: connect to ``url`` (a path on the target, or a full ws:// URL) with
    ``headers``, ``subprotocols`` and basic auth, run ``actions`` (the same literal as the k6 script's), close.
    ``send(user, values)`` returns True when every action succeeded, its extracted values then in ``values``."""

    def __init__(self, name: str, url: str, *, headers: Mapping[str, str] | None = None,
                 basic_auth: Sequence[str] | None = None, subprotocols: Sequence[str] = (),
                 actions: Sequence[Mapping[str, Any]] = (), timeout: float = 30.0) -> None:
        self.name = name
        self.url = Text(url)
        self.headers = {key: Text(value) for key, value in (headers or {}).items()}
        self.basic_auth = (Text(basic_auth[0]), Text(basic_auth[1])) if basic_auth is not None else None
        self.subprotocols = list(subprotocols)
        self.timeout = timeout
        self.sent_name = f"{name} sent"
        self.received_name = f"{name} received"
        self.actions: list[tuple[str, Any]] = []
        for action in actions:
            if "send" in action:
                kind, value = next(iter(action["send"].items()))
                if kind == "json":
                    self.actions.append(("json", _texts(value)))
                elif kind == "text":
                    self.actions.append(("text", Text(value)))
                else:
                    self.actions.append(("binary", base64.b64decode(value)))
            elif "expect" in action:
                self.actions.append(("expect", action["expect"]))
            else:
                self.actions.append(("hold", action["hold"] / 1000.0))

    def address(self, host: str, values: Mapping[str, Any]) -> str:
        url = build_path(self.url.fill(values), [])
        if url.startswith(("ws://", "wss://")):
            return url
        base = str(resolve(host)).rstrip("/")
        return ("ws" + base[4:] if base.startswith("http") else base) + url

    def send(self, user: Any, values: dict[str, Any]) -> bool:
        fire_event = user.environment.events.request.fire

        def fire(name: str, ms: float, exception: BaseException | None = None, response: Any = _UPGRADED) -> None:
            fire_event(request_type=WS_METHOD, name=name, response_time=ms, response_length=0,
                       exception=exception, context={}, response=response)

        start = time.perf_counter()
        try:
            headers = [f"{key}: {value.fill(values)}" for key, value in self.headers.items()]
            if self.basic_auth is not None:
                headers.append("Authorization: " + basic_auth_header(self.basic_auth[0].fill(values),
                                                                     self.basic_auth[1].fill(values)))
            if self.subprotocols:
                headers.append("Sec-WebSocket-Protocol: " + ", ".join(self.subprotocols))
            conn = websocket.create_connection(self.address(user.host, values), header=headers,
                                               timeout=self.timeout, suppress_origin=True,
                                               skip_utf8_validation=True)
        except _LOCUST_CONTROL:
            raise
        except websocket.WebSocketBadStatusException as e:
            fire(self.name, (time.perf_counter() - start) * 1000.0, RuntimeError(f"HTTP {e.status_code}"),
                 _Status(e.status_code))
            return False
        except websocket.WebSocketTimeoutException:
            fire(self.name, (time.perf_counter() - start) * 1000.0, TimeoutError("timeout"), None)
            return False
        except Exception as e:
            fire(self.name, (time.perf_counter() - start) * 1000.0, e, None)
            return False
        fire(self.name, (time.perf_counter() - start) * 1000.0)
        session = _Session(self, conn, fire)
        try:
            return session.run(values)
        finally:
            session.close()


class _Session:
    """One connection's actions; every message received is counted as it is read."""

    def __init__(self, step: WsStep, conn: Any, fire: Callable[..., None]) -> None:
        self.step = step
        self.conn = conn
        self.fire = fire
        self.closed = False

    def receive(self, deadline: float) -> tuple[bool, str | None]:
        """The next data message before ``deadline`` (perf_counter): (True, text or None for binary), or
        (False, None) at the deadline or when the server closed the connection (``self.closed``)."""
        while not self.closed:
            left = deadline - time.perf_counter()
            if left <= 0:
                return False, None
            self.conn.settimeout(left)
            try:
                opcode, frame = self.conn.recv_data_frame(False)
            except websocket.WebSocketTimeoutException:
                return False, None
            except (websocket.WebSocketConnectionClosedException, OSError):
                self.closed = True
                return False, None
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                self.closed = True
                return False, None
            self.fire(self.step.received_name, 0.0)
            if opcode == websocket.ABNF.OPCODE_TEXT:
                return True, frame.data.decode("utf-8", "replace")
            return True, None
        return False, None

    def run(self, values: dict[str, Any]) -> bool:
        last_send: float | None = None
        for kind, action in self.step.actions:
            if kind in ("text", "json", "binary"):
                if self.closed:
                    continue
                try:
                    if kind == "binary":
                        self.conn.send_bytes(action)
                    elif kind == "json":
                        self.conn.send_text(_json.dumps(_filled(action, values), ensure_ascii=False,
                                                        separators=(",", ":")))
                    else:
                        self.conn.send_text(action.fill(values))
                except (websocket.WebSocketConnectionClosedException, OSError):
                    self.closed = True
                    continue
                last_send = time.perf_counter()
                self.fire(self.step.sent_name, 0.0)
            elif kind == "hold":
                deadline = time.perf_counter() + action
                while not self.closed and time.perf_counter() < deadline:
                    self.receive(deadline)
            elif not self.expect(action, values, last_send):
                return False
        return True

    def expect(self, expect: Mapping[str, Any], values: dict[str, Any], last_send: float | None) -> bool:
        if self.closed:  # the server closed the connection before this expect began (as k6: 0 ms)
            self.fire(expect["name"], 0.0, WsClosed())
            return False
        since = last_send if last_send is not None else time.perf_counter()
        deadline = time.perf_counter() + expect["timeout"] / 1000.0
        while True:
            got, text = self.receive(deadline)
            if not got:
                took = (time.perf_counter() - since) * 1000.0
                self.fire(expect["name"], took, WsClosed() if self.closed else TimeoutError("timeout"))
                return False
            if message_matches(expect, text):
                took = (time.perf_counter() - since) * 1000.0
                break
        found: dict[str, Any] = {}
        for label, var, spec in expect.get("extract", ()):
            value = extract_value(spec, text, None) if text is not None else _MISSING
            if value is _MISSING:
                self.fire(expect["name"], took, RuntimeError(CHECK_PREFIX + label))
                return False
            found[var] = value
        values.update(found)
        self.fire(expect["name"], took)
        return True

    def close(self) -> None:
        """The closing handshake; data messages that arrive before the server's close frame are counted."""
        try:
            if not self.closed:
                self.conn.send_close()
                deadline = time.perf_counter() + CLOSE_WAIT_S
                while not self.closed:
                    got, _ = self.receive(deadline)
                    if not got and not self.closed:
                        break
        except _LOCUST_CONTROL:
            raise
        except Exception:  # the session's results are recorded; the socket goes anyway
            pass
        finally:
            self.conn.shutdown()
