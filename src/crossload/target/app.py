"""The demo HTTP service that load tests hit when no target is given.

It exists so a run always has something predictable to measure: fixed
catalogue data, an echo endpoint to verify what a load generator really
sends, and knobs for latency (`/delay/{ms}`), failures (`/error`) and a memory
leak (`/leak/{kb}`: every request keeps that many KiB, up to LEAK_CAP_BYTES in
all; DELETE /_crossload/leak frees them), so the resource monitor has
something to catch; and WebSocket endpoints: `/ws/echo` (every message
back) and `/ws/notifications` (a periodic stream); GET /_crossload/ws-log
lists every WebSocket connection accepted (its handshake headers, the
messages it received, how many it sent), so generators can be verified.
Transport options have their own routes: `/gzip` (a JSON body compressed
when the request accepts gzip), `/cookies` (Set-Cookie from the query) and
`/redirect/{n}` (a chain of n redirects, every hop in the echo log) and
`/pages` (pages that name the next one in a Link header and a JSON field).

The server must never be the bottleneck of the measurement, so the hot
handlers return pre-serialized bytes, there is no middleware and no
access log, and several processes can share one port via SO_REUSEPORT.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import gzip
import hashlib
import hmac
import importlib
import json
import math
import multiprocessing
import os
import queue
import random
import secrets
import signal
import sys
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from multiprocessing.connection import wait as wait_for_sentinels
from multiprocessing.context import ForkContext, SpawnContext
from multiprocessing.process import BaseProcess
from typing import Any, TypeGuard
from urllib.parse import urlencode

from aiohttp import web

from crossload.target.net import client_host, free_port, url_for

__all__ = [
    "CATALOGUE_SIZE",
    "DEFAULT_DEMO_TOKEN",
    "ECHO_LOG_SIZE",
    "TOKEN_ENV_VAR",
    "TargetState",
    "build_app",
    "client_host",
    "free_port",
    "serve",
    "url_for",
]

CATALOGUE_SIZE = 1000
MAX_PAGE_LIMIT = 100
SEARCH_LIMIT = 20
MAX_DELAY_MS = 60_000
ECHO_LOG_SIZE = 10_000
WS_LOG_SIZE = 2_000  # connections kept in the WebSocket log
WS_LOG_MESSAGES = 1_000  # messages kept per connection (the counts go on)
MAX_CREATED_ITEMS = 100_000
TOKEN_ENV_VAR = "CROSSLOAD_DEMO_TOKEN"
DEFAULT_DEMO_TOKEN = "demo-token"

_JSON = "application/json"
_SIGNATURE_CHARS = 32
_MAX_ID_DIGITS = 18  # longer numbers are never valid here; skips parsing huge ones

# --------------------------------------------------------------------------
# Catalogue: fixed, deterministic data so every run sees the same payloads.
# --------------------------------------------------------------------------

# fmt: off
_ADJECTIVES = (
    "Red", "Blue", "Green", "Silver", "Golden", "Compact", "Heavy", "Light", "Smart", "Classic",
    "Modern", "Rugged", "Quiet", "Rapid", "Tiny", "Giant", "Vintage", "Wireless", "Solar", "Foldable",
)
_NOUNS = (
    "Lamp", "Chair", "Kettle", "Backpack", "Keyboard", "Speaker", "Bottle", "Notebook", "Drill",
    "Blender", "Helmet", "Tent", "Camera", "Watch", "Router", "Mug", "Scarf", "Jacket", "Bicycle",
    "Monitor", "Pillow", "Toaster", "Umbrella", "Wallet", "Headphones",
)
# fmt: on


def _item_name(item_id: int) -> str:
    adjective = _ADJECTIVES[item_id % len(_ADJECTIVES)]
    noun = _NOUNS[(item_id // len(_ADJECTIVES)) % len(_NOUNS)]
    return f"{adjective} {noun} {item_id}"


def _item_price(item_id: int) -> float:
    return round(1 + (item_id * 7919 % 9900) / 100, 2)


def _make_catalogue() -> tuple[dict[str, Any], ...]:
    return tuple(
        {"id": i, "name": _item_name(i), "price": _item_price(i)} for i in range(1, CATALOGUE_SIZE + 1)
    )


def _dump(data: object) -> bytes:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()


CATALOGUE = _make_catalogue()
_ITEM_BODIES = {str(item["id"]): _dump(item) for item in CATALOGUE}
_LOWER_NAMES = tuple(str(item["name"]).lower() for item in CATALOGUE)

_HEALTH_BODY = _dump({"status": "ok"})
_NOT_FOUND_BODY = _dump({"error": "not found"})
_UNAUTHORIZED_BODY = _dump({"error": "unauthorized"})
_INJECTED_BODY = _dump({"error": "injected"})


@functools.lru_cache(maxsize=1024)
def _page_body(page: int, limit: int) -> bytes:
    start = (page - 1) * limit
    items = CATALOGUE[start : start + limit]
    return _dump({"items": items, "page": page, "limit": limit, "total": CATALOGUE_SIZE})


@functools.lru_cache(maxsize=4096)
def _search_body(query: str) -> bytes:
    needle = query.lower()
    results = []
    for item, lower_name in zip(CATALOGUE, _LOWER_NAMES, strict=True):
        if needle in lower_name:
            results.append(item)
            if len(results) == SEARCH_LIMIT:
                break
    return _dump({"query": query, "results": results})


# --------------------------------------------------------------------------
# Mutable per-process state: tokens, created items, echo log, error rate.
# --------------------------------------------------------------------------


@dataclass
class TargetState:
    """In-memory state of one server process; every collection is bounded.

    Login tokens are signed with ``secret`` instead of being stored: every
    worker of one server shares the secret, so a token issued by one
    process is accepted by all of them and no memory grows per login.
    Created items and the echo log stay local to the process; ids are
    interleaved (``worker_index``, step ``worker_count``) so they never
    collide across workers.
    """

    error_rate: float = 0.0
    secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    worker_index: int = 0
    worker_count: int = 1
    created: OrderedDict[int, bytes] = field(default_factory=OrderedDict)
    echo_log: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=ECHO_LOG_SIZE))
    # One entry per accepted WebSocket connection, in the order accepted (see _ws_entry).
    ws_log: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=WS_LOG_SIZE))
    ws_accepted: int = 0
    rng: random.Random = field(default_factory=random.Random)
    static_token: str = field(default_factory=lambda: os.environ.get(TOKEN_ENV_VAR, DEFAULT_DEMO_TOKEN))
    # Requests received per route (its pattern, e.g. "/delay/{ms}"), so a test can compare what the tools
    # report with what reached the server. Bounded: one key per route.
    received: dict[str, int] = field(default_factory=dict)
    # What /leak/{kb} keeps (bounded by LEAK_CAP_BYTES).
    leaked: list[bytes] = field(default_factory=list)
    leaked_bytes: int = 0
    next_id: int = field(init=False)

    def __post_init__(self) -> None:
        self.next_id = CATALOGUE_SIZE + 1 + self.worker_index

    def _sign(self, nonce: str) -> str:
        return hmac.new(self.secret, nonce.encode(), hashlib.sha256).hexdigest()[:_SIGNATURE_CHARS]

    def issue_token(self) -> str:
        nonce = secrets.token_urlsafe(18)
        return f"{nonce}.{self._sign(nonce)}"

    def token_is_valid(self, token: str) -> bool:
        if token == self.static_token:
            return True
        nonce, dot, signature = token.rpartition(".")
        return bool(dot) and hmac.compare_digest(signature, self._sign(nonce))

    def create_item(self, name: str, price: float) -> bytes:
        item_id = self.next_id
        self.next_id += self.worker_count
        body = _dump({"id": item_id, "name": name, "price": price})
        self.created[item_id] = body
        if len(self.created) > MAX_CREATED_ITEMS:
            self.created.popitem(last=False)
        return body


STATE_KEY = web.AppKey("crossload_target_state", TargetState)


def _state(request: web.Request) -> TargetState:
    return request.app[STATE_KEY]


# --------------------------------------------------------------------------
# Response helpers.
# --------------------------------------------------------------------------


def _raw(body: bytes, status: int = 200) -> web.Response:
    return web.Response(body=body, status=status, content_type=_JSON)


def _json(data: object, status: int = 200) -> web.Response:
    return _raw(_dump(data), status)


def _error(message: str, status: int) -> web.Response:
    return _json({"error": message}, status)


def _parse_int(text: str | None, default: int) -> int | None:
    """Parse a non-negative decimal integer; None means invalid."""
    if text is None:
        return default
    if not text.isascii() or not text.isdigit() or len(text) > _MAX_ID_DIGITS:
        return None
    return int(text)


async def _read_json(request: web.Request) -> Any:
    """Return the decoded JSON body, or raise ValueError."""
    raw = await request.read()
    return json.loads(raw)


# --------------------------------------------------------------------------
# Catalogue endpoints.
# --------------------------------------------------------------------------


async def health(request: web.Request) -> web.Response:
    return _raw(_HEALTH_BODY)


async def list_items(request: web.Request) -> web.Response:
    query = request.query
    page = _parse_int(query.get("page"), 1)
    limit = _parse_int(query.get("limit"), 20)
    if page is None or page < 1:
        return _error("page must be an integer >= 1", 400)
    if limit is None or not 1 <= limit <= MAX_PAGE_LIMIT:
        return _error(f"limit must be an integer in 1..{MAX_PAGE_LIMIT}", 400)
    listed = _raw(_page_body(page, limit))
    listed.headers["X-Total-Count"] = str(CATALOGUE_SIZE)
    return listed


async def get_item(request: web.Request) -> web.Response:
    raw_id = request.match_info["id"]
    body = _ITEM_BODIES.get(raw_id)
    if body is None and len(raw_id) <= _MAX_ID_DIGITS:
        body = _state(request).created.get(int(raw_id))
    if body is None:
        return _raw(_NOT_FOUND_BODY, 404)
    return _raw(body)


async def search(request: web.Request) -> web.Response:
    query = request.query.get("q")
    if query is None:
        return _error("missing query parameter q", 400)
    return _raw(_search_body(query))


# --------------------------------------------------------------------------
# Authentication and writes.
# --------------------------------------------------------------------------


def _non_empty_str(value: object) -> TypeGuard[str]:
    return isinstance(value, str) and value != ""


async def login(request: web.Request) -> web.Response:
    try:
        payload = await _read_json(request)
    except ValueError:
        return _raw(_UNAUTHORIZED_BODY, 401)
    if not isinstance(payload, dict) or not (
        _non_empty_str(payload.get("username")) and _non_empty_str(payload.get("password"))
    ):
        return _raw(_UNAUTHORIZED_BODY, 401)
    return _json({"token": _state(request).issue_token()})


def _bearer_token(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


def _valid_price(value: object) -> TypeGuard[float]:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return math.isfinite(value) and value >= 0


async def create_item(request: web.Request) -> web.Response:
    state = _state(request)
    token = _bearer_token(request)
    if token is None or not state.token_is_valid(token):
        return _raw(_UNAUTHORIZED_BODY, 401)
    try:
        payload = await _read_json(request)
    except ValueError:
        return _error("body must be valid JSON", 400)
    if not isinstance(payload, dict):
        return _error("body must be a JSON object", 400)
    name, price = payload.get("name"), payload.get("price")
    if not _non_empty_str(name) or not _valid_price(price):
        return _error('expected {"name": str, "price": number >= 0}', 400)
    item_id = state.next_id
    created = _raw(state.create_item(name, price), 201)
    created.headers["Location"] = f"/api/items/{item_id}"  # where to read it back (a journey's correlation)
    return created


# --------------------------------------------------------------------------
# Echo: reports exactly what arrived, so generators can be verified.
# --------------------------------------------------------------------------


def _decode_header(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _echo_entry(request: web.Request, body: bytes) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "method": request.method,
        "raw_path": request.raw_path,
        "path": request.path,
        "query": [[key, value] for key, value in request.query.items()],
        "headers": [[_decode_header(name), _decode_header(value)] for name, value in request.raw_headers],
    }
    try:
        entry["body"] = body.decode("utf-8")
    except UnicodeDecodeError:
        entry["body_b64"] = base64.b64encode(body).decode("ascii")
    return entry


async def echo(request: web.Request) -> web.Response:
    entry = _echo_entry(request, await request.read())
    _state(request).echo_log.append(entry)
    return _json(entry)


async def get_echo_log(request: web.Request) -> web.Response:
    return _json({"entries": list(_state(request).echo_log)})


async def clear_echo_log(request: web.Request) -> web.Response:
    log = _state(request).echo_log
    cleared = len(log)
    log.clear()
    return _json({"cleared": cleared})


# --------------------------------------------------------------------------
# Latency and failure injection.
# --------------------------------------------------------------------------


async def delay(request: web.Request) -> web.Response:
    ms = _parse_int(request.match_info["ms"], 0)
    if ms is None or ms > MAX_DELAY_MS:
        return _error(f"ms must be an integer in 0..{MAX_DELAY_MS}", 400)
    await asyncio.sleep(ms / 1000)
    return _json({"delayed_ms": ms})


# --------------------------------------------------------------------------
# Transport options: compressed responses, cookies.
# --------------------------------------------------------------------------


def _accepts_gzip(header: str) -> bool:
    for part in header.split(","):
        coding, _, params = part.partition(";")
        if coding.strip().lower() == "gzip":
            q = params.strip().lower()
            return not (q.startswith("q=") and _parse_float(q[2:]) == 0.0)
    return False


def _parse_float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


async def gzipped(request: web.Request) -> web.Response:
    """GET /gzip: ``{"gzipped": ..., "accept_encoding": ...}``, gzip-compressed (Content-Encoding: gzip)
    when the request's Accept-Encoding accepts gzip, else as is; it says what the request asked for."""
    asked = request.headers.get("Accept-Encoding", "")
    accepts = _accepts_gzip(asked)
    body = _dump({"gzipped": accepts, "accept_encoding": asked})
    response = _raw(gzip.compress(body, mtime=0) if accepts else body)
    response.headers["Vary"] = "Accept-Encoding"
    if accepts:
        response.headers["Content-Encoding"] = "gzip"
    return response


async def cookies(request: web.Request) -> web.Response:
    """GET /cookies?name=value&...: one ``Set-Cookie: name=value; Path=/`` per query parameter, in order; the
    body lists the cookies the request carried."""
    response = _json({"cookies": dict(request.cookies)})
    for name, value in request.query.items():
        response.headers.add("Set-Cookie", f"{name}={value}; Path=/")
    return response


MAX_REDIRECT_CHAIN = 50
_REDIRECT_CODES = frozenset((301, 302, 303, 307, 308))


async def redirect(request: web.Request) -> web.Response:
    """Any method on /redirect/{n}?code=302&to=/echo/done: a chain of ``n`` redirects of status ``code``
    (301, 302, 303, 307 or 308; default 302): ``Location: /redirect/{n-1}?...`` (the same query), and from
    /redirect/1 ``to`` (default /echo/redirected; a path or an absolute URL). /redirect/0 answers like the
    echo endpoint. Every hop is written to the echo log, as /echo writes its requests."""
    body = await request.read()
    entry = _echo_entry(request, body)
    _state(request).echo_log.append(entry)
    n = _parse_int(request.match_info["n"], 0)
    code = _parse_int(request.query.get("code"), 302)
    if n is None or n > MAX_REDIRECT_CHAIN or code not in _REDIRECT_CODES:
        return _error(f"n must be 0..{MAX_REDIRECT_CHAIN} and code one of 301, 302, 303, 307, 308", 400)
    if n == 0:
        return _json(entry)
    if n == 1:
        location = request.query.get("to", "/echo/redirected")
    else:
        query = request.raw_path.partition("?")[2]
        location = f"/redirect/{n - 1}" + (f"?{query}" if query else "")
    response = _json({"redirect": n, "location": location}, code)
    response.headers["Location"] = location
    return response


MAX_PAGES = 1000


async def pages(request: web.Request) -> web.Response:
    """GET /pages?page=1&pages=3&style=path: page ``page`` of ``pages``, ``{"page", "pages", "next"}``; while
    there is a next page, ``next`` names it (the same query, page + 1) and so does a Link header entry
    ``rel="next"`` (after one ``rel="first"``). ``style``: path (/pages?...), relative (pages?...),
    absolute (http://host/pages?...) or elsewhere (a host that is not this one). Every page is written to
    the echo log."""
    entry = _echo_entry(request, await request.read())
    _state(request).echo_log.append(entry)
    page = _parse_int(request.query.get("page"), 1)
    total = _parse_int(request.query.get("pages"), 3)
    style = request.query.get("style", "path")
    if page is None or total is None or not 1 <= page <= MAX_PAGES or total > MAX_PAGES or style not in (
            "path", "relative", "absolute", "elsewhere"):
        return _error(f"page and pages must be 1..{MAX_PAGES}; style path, relative, absolute or elsewhere", 400)

    def at(number: int) -> str:
        query = urlencode([(k, str(number) if k == "page" else v) for k, v in request.query.items()]
                          + ([] if "page" in request.query else [("page", str(number))]))
        prefix = {"path": "/", "relative": "", "absolute": f"{request.scheme}://{request.host}/",
                  "elsewhere": "http://elsewhere.invalid/"}[style]
        return f"{prefix}pages?{query}"

    following = at(page + 1) if page < total else None
    response = _json({"page": page, "pages": total, "next": following})
    if following is not None:
        response.headers["Link"] = f'<{at(1)}>; rel="first", <{following}>; rel="next"'
    return response


MAX_WS_INTERVAL_MS = 60_000
MAX_WS_MESSAGES = 100_000


def _ws_entry(request: web.Request, ws: web.WebSocketResponse) -> dict[str, Any]:
    """A connection in the WebSocket log: ``received`` lists the messages that arrived (``{"text": ...}`` or
    ``{"binary_b64": ...}``, the first WS_LOG_MESSAGES), ``received_count`` and ``sent`` count them all."""
    state = _state(request)
    state.ws_accepted += 1
    entry: dict[str, Any] = {
        "raw_path": request.raw_path,
        "protocol": ws.ws_protocol,
        "headers": [[_decode_header(name), _decode_header(value)] for name, value in request.raw_headers],
        "received": [],
        "received_count": 0,
        "sent": 0,
    }
    state.ws_log.append(entry)
    return entry


def _ws_received(entry: dict[str, Any], msg: Any) -> None:
    entry["received_count"] += 1
    if len(entry["received"]) < WS_LOG_MESSAGES:
        if msg.type == web.WSMsgType.TEXT:
            entry["received"].append({"text": msg.data})
        else:
            entry["received"].append({"binary_b64": base64.b64encode(msg.data).decode("ascii")})


async def ws_echo(request: web.Request) -> web.StreamResponse:
    """WebSocket echo: every text or binary message comes back as it was sent; a text message ``close``
    closes the connection from the server's side. Subprotocols offered are accepted when one is ``echo``."""
    ws = web.WebSocketResponse(protocols=("echo",), heartbeat=None)
    await ws.prepare(request)
    entry = _ws_entry(request, ws)
    async for msg in ws:
        if msg.type in (web.WSMsgType.TEXT, web.WSMsgType.BINARY):
            _ws_received(entry, msg)
        if msg.type == web.WSMsgType.TEXT:
            if msg.data == "close":
                await ws.close()
                break
            await ws.send_str(msg.data)
            entry["sent"] += 1
        elif msg.type == web.WSMsgType.BINARY:
            await ws.send_bytes(msg.data)
            entry["sent"] += 1
        elif msg.type == web.WSMsgType.ERROR:
            break
    return ws


async def ws_notifications(request: web.Request) -> web.StreamResponse:
    """A notification stream: ``{"seq": n, "sent_ms": <epoch ms>}`` every ``interval_ms`` (default 100), up
    to ``count`` messages (default: until the client closes); text messages from the client are answered
    with ``{"ack": <the message>}``."""
    interval = _parse_int(request.query.get("interval_ms"), 100)
    count = _parse_int(request.query.get("count"), MAX_WS_MESSAGES)
    if interval is None or not 1 <= interval <= MAX_WS_INTERVAL_MS:
        return _error(f"interval_ms must be an integer in 1..{MAX_WS_INTERVAL_MS}", 400)
    if count is None or count > MAX_WS_MESSAGES:
        return _error(f"count must be an integer in 0..{MAX_WS_MESSAGES}", 400)
    ws = web.WebSocketResponse(heartbeat=None)
    await ws.prepare(request)
    entry = _ws_entry(request, ws)

    async def push() -> None:
        for seq in range(1, count + 1):
            await asyncio.sleep(interval / 1000)
            if ws.closed:
                return
            await ws.send_str(json.dumps({"seq": seq, "sent_ms": int(time.time() * 1000)}))
            entry["sent"] += 1

    pusher = asyncio.ensure_future(push())
    try:
        async for msg in ws:
            if msg.type in (web.WSMsgType.TEXT, web.WSMsgType.BINARY):
                _ws_received(entry, msg)
            if msg.type == web.WSMsgType.TEXT:
                await ws.send_str(json.dumps({"ack": msg.data}))
                entry["sent"] += 1
            elif msg.type == web.WSMsgType.ERROR:
                break
    finally:
        pusher.cancel()
    return ws


MAX_LEAK_KB = 4096
LEAK_CAP_BYTES = 512 * 1024 * 1024


async def leak(request: web.Request) -> web.Response:
    """Keep ``kb`` KiB for good (a leak on purpose; written, so the pages count in RSS)."""
    kb = _parse_int(request.match_info["kb"], 0)
    if kb is None or kb > MAX_LEAK_KB:
        return _error(f"kb must be an integer in 0..{MAX_LEAK_KB}", 400)
    state = _state(request)
    size = min(kb * 1024, LEAK_CAP_BYTES - state.leaked_bytes)
    if size > 0:
        state.leaked.append(b"L" * size)
        state.leaked_bytes += size
    return _json({"leaked_bytes": state.leaked_bytes})


async def clear_leak(request: web.Request) -> web.Response:
    state = _state(request)
    state.leaked.clear()
    state.leaked_bytes = 0
    return web.Response(status=204)


def _maybe_fail(state: TargetState, probability: float) -> web.Response:
    if probability > 0 and state.rng.random() < probability:
        return _raw(_INJECTED_BODY, 500)
    return _raw(_HEALTH_BODY)


async def error_default(request: web.Request) -> web.Response:
    state = _state(request)
    return _maybe_fail(state, state.error_rate)


async def error_percent(request: web.Request) -> web.Response:
    try:
        percent = float(request.match_info["percent"])
    except ValueError:
        percent = math.nan
    if not 0 <= percent <= 100:
        return _error("percent must be a number in 0..100", 400)
    return _maybe_fail(_state(request), percent / 100)


# --------------------------------------------------------------------------
# Fallback: JSON 404/405 without putting a middleware on the hot path.
# --------------------------------------------------------------------------


async def _allowed_methods(request: web.Request, skip: object) -> set[str]:
    allowed: set[str] = set()
    for resource in request.app.router.resources():
        if resource is not skip:
            _, methods = await resource.resolve(request)
            allowed |= methods
    return allowed


async def fallback(request: web.Request) -> web.Response:
    """Reached only when no real route matched the path and method."""
    allowed = await _allowed_methods(request, request.match_info.route.resource)
    if not allowed:
        return _raw(_NOT_FOUND_BODY, 404)
    response = _error("method not allowed", 405)
    response.headers["Allow"] = ", ".join(sorted(allowed))
    return response


# --------------------------------------------------------------------------
# Application assembly.
# --------------------------------------------------------------------------


@web.middleware
async def _count_received(request: web.Request, handler: Any) -> web.StreamResponse:
    route = request.match_info.route.resource
    key = route.canonical if route is not None else "(unmatched)"
    if not key.startswith("/_crossload/"):
        counts = _state(request).received
        counts[key] = counts.get(key, 0) + 1
    response: web.StreamResponse = await handler(request)
    return response


async def get_received(request: web.Request) -> web.Response:
    """Requests received per route since the start (or the last DELETE)."""
    return _json(dict(sorted(_state(request).received.items())))


async def get_ws_log(request: web.Request) -> web.Response:
    """Every WebSocket connection accepted since the start (or the last DELETE), oldest first."""
    state = _state(request)
    return _json({"accepted": state.ws_accepted, "connections": list(state.ws_log)})


async def clear_ws_log(request: web.Request) -> web.Response:
    state = _state(request)
    cleared = state.ws_accepted
    state.ws_log.clear()
    state.ws_accepted = 0
    return _json({"cleared": cleared})


async def clear_received(request: web.Request) -> web.Response:
    _state(request).received.clear()
    return web.Response(status=204)


def _add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/health", health)
    router.add_get("/api/items", list_items)
    router.add_post("/api/items", create_item)
    router.add_get("/api/items/{id:[0-9]+}", get_item)
    router.add_get("/api/search", search)
    router.add_post("/api/login", login)
    router.add_route("*", "/echo", echo)
    router.add_route("*", "/echo/{tail:[\\s\\S]*}", echo)
    router.add_get("/_crossload/echo-log", get_echo_log, allow_head=False)
    router.add_delete("/_crossload/echo-log", clear_echo_log)
    router.add_get("/_crossload/received", get_received, allow_head=False)
    router.add_delete("/_crossload/received", clear_received)
    router.add_get("/_crossload/ws-log", get_ws_log, allow_head=False)
    router.add_delete("/_crossload/ws-log", clear_ws_log)
    router.add_get("/delay/{ms}", delay)
    router.add_get("/gzip", gzipped)
    router.add_get("/cookies", cookies)
    router.add_route("*", "/redirect/{n}", redirect)
    router.add_get("/pages", pages)
    router.add_get("/leak/{kb}", leak)
    router.add_get("/ws/echo", ws_echo)
    router.add_get("/ws/notifications", ws_notifications)
    router.add_delete("/_crossload/leak", clear_leak)
    router.add_get("/error", error_default)
    router.add_get("/error/{percent}", error_percent)
    router.add_route("*", "/{tail:[\\s\\S]*}", fallback)


def build_app(
    error_rate: float = 0.0,
    *,
    secret: bytes | None = None,
    worker_index: int = 0,
    worker_count: int = 1,
) -> web.Application:
    """Create the demo application; error_rate is a probability in 0..1.

    Processes serving one port together pass the same ``secret`` (login
    tokens) and their own ``worker_index`` (created item ids).
    """
    if not 0 <= error_rate <= 1:
        raise ValueError(f"error_rate must be within 0..1, got {error_rate!r}")
    if not 0 <= worker_index < worker_count:
        raise ValueError(f"worker_index must be within 0..{worker_count - 1}, got {worker_index}")
    state = TargetState(
        error_rate=error_rate,
        secret=secret if secret is not None else secrets.token_bytes(32),
        worker_index=worker_index,
        worker_count=worker_count,
    )
    app = web.Application(middlewares=[_count_received])
    app[STATE_KEY] = state
    _add_routes(app.router)
    return app


# --------------------------------------------------------------------------
# Serving: one process, or a supervisor with N processes on one port.
# --------------------------------------------------------------------------

_PARENT_POLL_S = 0.5
_WORKER_READY_TIMEOUT_S = 30.0
_WORKER_STOP_TIMEOUT_S = 5.0


def _install_fast_loop() -> None:
    """Use uvloop when it happens to be installed; it is optional."""
    try:
        uvloop = importlib.import_module("uvloop")
    except ImportError:
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


async def _watch_parent(stop: asyncio.Event) -> None:
    parent = os.getppid()
    while not stop.is_set():
        await asyncio.sleep(_PARENT_POLL_S)
        if os.getppid() != parent:
            stop.set()


@dataclass(frozen=True)
class _ServeOptions:
    host: str
    port: int
    error_rate: float
    reuse_port: bool = False
    exit_with_parent: bool = False
    stop_signals: tuple[signal.Signals, ...] = (signal.SIGINT, signal.SIGTERM)
    secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    worker_index: int = 0
    worker_count: int = 1


async def _run_server(options: _ServeOptions, on_ready: Callable[[int], None]) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in options.stop_signals:
        loop.add_signal_handler(signum, stop.set)
    runner = web.AppRunner(
        build_app(
            options.error_rate,
            secret=options.secret,
            worker_index=options.worker_index,
            worker_count=options.worker_count,
        ),
        access_log=None,
        handle_signals=False,
        shutdown_timeout=1.0,
    )
    await runner.setup()
    try:
        site = web.TCPSite(
            runner,
            options.host,
            options.port,
            reuse_port=options.reuse_port or None,
            backlog=1024,
        )
        await site.start()
        on_ready(int(runner.addresses[0][1]))
        watcher = None
        if options.exit_with_parent:
            watcher = asyncio.create_task(_watch_parent(stop))
        await stop.wait()
        if watcher is not None:
            watcher.cancel()
    finally:
        await runner.cleanup()


def _announce(host: str) -> Callable[[int], None]:
    def announce(port: int) -> None:
        print(f"demo target listening on {url_for(host, port)}", flush=True)

    return announce


def _serve_single(options: _ServeOptions) -> None:
    _install_fast_loop()
    asyncio.run(_run_server(options, _announce(options.host)))


def _worker_main(options: _ServeOptions, ready: Any) -> None:
    """Entry point of one worker process under the supervisor.

    Ctrl-C reaches the whole process group, but the supervisor coordinates
    the shutdown with SIGTERM, so workers ignore SIGINT entirely.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _install_fast_loop()
    try:
        asyncio.run(_run_server(options, ready.put))
    except OSError as exc:
        print(f"demo target worker {os.getpid()}: {exc}", file=sys.stderr)
        raise SystemExit(1) from None


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _stop_workers(workers: Sequence[BaseProcess]) -> None:
    for proc in workers:
        if proc.is_alive():
            proc.terminate()
    for proc in workers:
        proc.join(_WORKER_STOP_TIMEOUT_S)
        if proc.is_alive():
            proc.kill()
            proc.join()


def _wait_until_ready(ready: Any, workers: Sequence[BaseProcess]) -> int:
    """Collect one port per worker; fail fast if a worker dies first."""
    port, pending = 0, len(workers)
    deadline = time.monotonic() + _WORKER_READY_TIMEOUT_S
    while pending:
        try:
            port, pending = int(ready.get(timeout=0.1)), pending - 1
        except queue.Empty:
            dead = [proc.exitcode for proc in workers if proc.exitcode is not None]
            if dead:
                raise RuntimeError(f"a server worker exited with code {dead[0]} before listening") from None
            if time.monotonic() > deadline:
                raise RuntimeError("server workers did not start listening in time") from None
    return port


def _supervise(workers: Sequence[BaseProcess], exit_with_parent: bool) -> None:
    """Block until a worker exits or (optionally) our parent goes away."""
    parent = os.getppid()
    sentinels = [proc.sentinel for proc in workers]
    while not wait_for_sentinels(sentinels, timeout=_PARENT_POLL_S):
        if exit_with_parent and os.getppid() != parent:
            return


def _worker_options(options: _ServeOptions, index: int, count: int) -> _ServeOptions:
    return replace(
        options,
        reuse_port=True,
        exit_with_parent=True,  # the supervisor is the parent
        stop_signals=(signal.SIGTERM,),
        worker_index=index,
        worker_count=count,
    )


def _serve_workers(options: _ServeOptions, count: int) -> None:
    # fork starts workers fastest; nothing but the interpreter runs here yet.
    if "fork" in multiprocessing.get_all_start_methods():
        ctx: ForkContext | SpawnContext = multiprocessing.get_context("fork")
    else:
        ctx = multiprocessing.get_context("spawn")
    ready = ctx.Queue()
    workers = [
        ctx.Process(target=_worker_main, args=(_worker_options(options, i, count), ready), daemon=True)
        for i in range(count)
    ]
    # Installed explicitly: a shell may start background jobs with SIGINT ignored.
    previous = {signum: signal.signal(signum, _raise_interrupt) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        for proc in workers:
            proc.start()
        _announce(options.host)(_wait_until_ready(ready, workers))
        _supervise(workers, options.exit_with_parent)
    except KeyboardInterrupt:
        pass
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        _stop_workers(workers)


def serve(
    host: str = "127.0.0.1",
    port: int = 8089,
    error_rate: float = 0.0,
    workers: int = 1,
    *,
    exit_with_parent: bool = False,
) -> None:
    """Serve the demo target in the foreground until SIGINT or SIGTERM.

    With workers > 1 this process supervises that many server processes
    that share the port through SO_REUSEPORT; login tokens are valid on
    every worker, while created items and the echo log are per process.
    exit_with_parent makes the
    server stop when the process that started it goes away, so an
    orchestrator killed without cleanup leaves nothing behind.
    """
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    if not 0 <= error_rate <= 1:
        raise ValueError(f"error_rate must be within 0..1, got {error_rate!r}")
    if workers > 1 and port == 0:
        port = free_port(host)
    options = _ServeOptions(host=host, port=port, error_rate=error_rate, exit_with_parent=exit_with_parent)
    if workers == 1:
        _serve_single(options)
    else:
        _serve_workers(options, workers)
