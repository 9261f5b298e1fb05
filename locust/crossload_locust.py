"""crossload support module for rendered locustfiles.

It travels next to every rendered locustfile (the toolkit copies it into the run directory, or into the
container) and needs nothing but Locust itself. It holds:

- ``resolve``: ${VAR} / ${VAR:-default} from this process's environment ($${ is a literal ${);
- ``build_requests`` and ``tasks_for``: the prepared requests and the weighted task table;
- ``StageShape``: the load profile as a LoadTestShape that follows the same curve as k6's ramping-vus;
- the recorder (``crossload_recorder.py``, next to this file): crossload's exact per-second collection.

Behaviour mirrors k6/crossload.js: resolution, URL encoding, checks, failure rules and think time must stay
identical in both.
"""

from __future__ import annotations

import json
import math
import os
import random
import re
import time
from typing import Any

import gevent

from crossload_recorder import bucket_us, install_recorder  # noqa: F401 - the locustfile's entry points
from locust import LoadTestShape

_REF = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_PATH_SAFE = _UNRESERVED | frozenset(b"!$&'()*+,;=:@/?")
_HEX = frozenset(b"0123456789abcdefABCDEF")


def resolve(text: Any) -> Any:
    if not isinstance(text, str) or "${" not in text:
        return text

    def sub(m: re.Match[str]) -> str:
        if m.group(0) == "$${":
            return "${"
        value = os.environ.get(m.group(1))
        if value is None or (value == "" and m.group(2) is not None):
            return m.group(2) or ""
        return value

    return _REF.sub(sub, text)


def _resolve_deep(value: Any) -> Any:
    if isinstance(value, str):
        return resolve(value)
    if isinstance(value, list):
        return [_resolve_deep(v) for v in value]
    if isinstance(value, dict):
        return {k: _resolve_deep(v) for k, v in value.items()}
    return value


def encode(text: str, safe: frozenset[int], keep_escapes: bool) -> str:
    """Percent-encode every UTF-8 byte outside ``safe``; in a path an existing %XX escape is kept,
    normalized (an unreserved character written plainly, hex in upper case) as crossload.wire documents."""
    data = text.encode("utf-8")
    out = []
    i = 0
    n = len(data)
    while i < n:
        b = data[i]
        if b < 0x80 and b in safe:
            out.append(chr(b))
        elif keep_escapes and b == 0x25 and i + 2 < n and data[i + 1] in _HEX and data[i + 2] in _HEX:
            code = int(data[i + 1 : i + 3], 16)
            out.append(chr(code) if code in _UNRESERVED else "%" + data[i + 1 : i + 3].decode().upper())
            i += 3
            continue
        else:
            out.append(f"%{b:02X}")
        i += 1
    return "".join(out)


def build_path(path: str, query: list[tuple[str, str]]) -> str:
    url = encode(path, _PATH_SAFE, True)
    if query:
        parts = [f"{encode(k, _UNRESERVED, False)}={encode(v, _UNRESERVED, False)}" for k, v in query]
        url += ("&" if "?" in path else "?") + "&".join(parts)
    return url


class PreparedRequest:
    """One request with everything resolved and encoded once, at import time in this process."""

    __slots__ = ("body", "checks", "headers", "method", "name", "path", "reads_body", "status", "think", "weight")

    def __init__(self, spec: dict[str, Any], req: dict[str, Any]) -> None:
        headers: dict[str, str] = {}
        for key, value in spec["defaults"]["headers"]:
            headers[key] = resolve(value)
        for key, value in req["headers"]:
            for existing in [h for h in headers if h.lower() == key.lower()]:
                del headers[existing]
            headers[key] = resolve(value)
        body: bytes | None = None
        if "json" in req:
            body = json.dumps(_resolve_deep(req["json"]), ensure_ascii=False, separators=(",", ":")).encode()
            if not any(h.lower() == "content-type" for h in headers):
                headers["Content-Type"] = "application/json"
        elif "body" in req:
            body = resolve(req["body"]).encode("utf-8")
            if not any(h.lower() == "content-type" for h in headers):
                headers["Content-Type"] = "text/plain; charset=utf-8"
        self.name: str = req["name"]
        self.method: str = req["method"]
        self.path = build_path(resolve(req["path"]), [(k, resolve(v)) for k, v in req["query"]])
        self.headers = headers
        self.body = body
        self.weight: int = req["weight"]
        self.checks: dict[str, Any] = req["checks"]
        self.status: tuple[int, ...] = tuple(req["checks"]["status"])
        self.reads_body: bool = req["checks"]["reads_body"]
        think = req.get("think_s") or spec["defaults"]["think_s"]
        self.think: tuple[float, float] = (float(think[0]), float(think[1]))


def build_requests(spec: dict[str, Any]) -> list[PreparedRequest]:
    return [PreparedRequest(spec, r) for r in spec["requests"]]


def resolve_target(spec: dict[str, Any]) -> str:
    return str(resolve(spec["target"])).rstrip("/")


_MISSING = object()


def _lookup(doc: Any, steps: list[Any]) -> Any:
    cur = doc
    for step in steps:
        if isinstance(step, int):
            if not isinstance(cur, list) or step >= len(cur):
                return _MISSING
        elif not isinstance(cur, dict) or step not in cur:
            return _MISSING
        cur = cur[step]
    return cur


def _same(a: Any, b: Any) -> bool:
    """JSON equality: 1 == 1.0, but true != 1, and containers compare member by member."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


def body_check_failure(text: str, checks: dict[str, Any]) -> str | None:
    """The first failing body check, as a short reason; None when all pass."""
    for needle in checks["body_contains"]:
        if needle not in text:
            return "body does not contain the expected text"
    if checks["json"]:
        try:
            doc = json.loads(text)
        except ValueError:
            return "body is not JSON"
        for c in checks["json"]:
            hit = _lookup(doc, c["steps"])
            if c.get("exists") is True and hit is _MISSING:
                return f"JSON path {c['path']} is missing"
            if c.get("exists") is False and hit is not _MISSING:
                return f"JSON path {c['path']} is present"
            if c.get("has_equals") and (hit is _MISSING or not _same(hit, c["equals"])):
                return f"JSON path {c['path']} has another value"
    return None


def perform(user: Any, r: PreparedRequest) -> None:
    """Send one request, judge it exactly as the k6 side does, then think.

    Redirects are never followed (the user class sets max_redirects = 0). Without checks, Locust's own rule
    is already crossload's (a transport error or a status of 400 and above fails), so the request skips the
    catch_response machinery, which costs Locust measurable throughput.
    """
    if not r.status and not r.reads_body:
        user.client.request(r.method, r.path, name=r.name, data=r.body, headers=r.headers)
    else:
        _perform_checked(user, r)
    lo, hi = r.think
    if hi > 0:
        gevent.sleep(lo + random.random() * (hi - lo))


def _perform_checked(user: Any, r: PreparedRequest) -> None:
    with user.client.request(r.method, r.path, name=r.name, data=r.body, headers=r.headers,
                             catch_response=True) as resp:
        code = resp.status_code or 0
        ok = code in r.status if r.status else 200 <= code < 400
        if not ok:
            resp.failure(f"HTTP {code}" if code else "connection error")
        else:
            reason = body_check_failure(resp.text or "", r.checks) if r.reads_body else None
            if reason:
                resp.failure(reason)
            else:
                resp.success()


def tasks_for(requests: list[PreparedRequest]) -> dict[Any, int]:
    table: dict[Any, int] = {}
    for r in requests:

        def run(user: Any, r: PreparedRequest = r) -> None:
            perform(user, r)

        table[run] = r.weight
    return table


class StageShape(LoadTestShape):
    """Users follow ``stages`` [(duration_s, users), ...] linearly, like k6's ramping-vus executor.

    Ramping k6 adds a VU each time the straight line crosses a whole number, so the count is the line
    rounded towards the previous stage's users; this shape returns the same count each tick.
    """

    abstract = True
    stages: tuple[tuple[float, int], ...] = ()
    spawn_rate: float = 1.0

    def users_at(self, t: float) -> int | None:
        prev = 0
        elapsed = 0.0
        for duration, users in self.stages:
            if duration <= 0:
                prev = users
                continue
            if t < elapsed + duration:
                exact = prev + (users - prev) * (t - elapsed) / duration
                return math.floor(exact) if users >= prev else math.ceil(exact)
            elapsed += duration
            prev = users
        return None

    def tick(self) -> tuple[int, float] | None:
        users = self.users_at(self.get_run_time())
        if users is None:
            return None
        return users, self.spawn_rate


