"""crossload support module for rendered locustfiles.

The rendered locustfile is plain Locust code: a FastHttpUser with one ``@task`` method per request and the
load shape. It travels with this module and ``crossload_recorder.py`` (crossload's exact per-second
collection), and needs nothing but Locust. This module holds what the locustfile needs beyond Locust,
mirroring k6/crossload.js (both are tested against the same reference, so ${VAR} resolution, URL encoding,
check semantics and failure rules stay identical):

- ``Request``: one request resolved (${VAR}), URL-encoded and serialized once, when the file is loaded;
  ``Request.send(user)`` sends it and records it in Locust's statistics, judged as the k6 script judges it;
- ``has_json_path``, ``lacks_json_path``, ``json_path_equals``: the JSON-path checks of the body;
- ``StageShape``: the load profile as a LoadTestShape that follows the same curve as k6's ramping-vus.
"""

from __future__ import annotations

import json as _json
import math
import os
import re
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from crossload_recorder import CHECK_PREFIX, HTTP_STATUS_PREFIX
from locust.exception import InterruptTaskSet, RescheduleTask, RescheduleTaskImmediately, StopUser
from locust.shape import LoadTestShape

_REF = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_PATH_SAFE = _UNRESERVED | frozenset(b"!$&'()*+,;=:@/?")
_HEX = frozenset(b"0123456789abcdefABCDEF")
# Locust's own control flow passes through a task untouched.
_LOCUST_CONTROL = (StopUser, InterruptTaskSet, RescheduleTask, RescheduleTaskImmediately)

BodyCheck = Callable[[str], bool]


def resolve(text: Any) -> Any:
    """${VAR} / ${VAR:-default} from this process's environment; $${ is a literal ${."""
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


def build_path(path: str, query: Sequence[Sequence[str]]) -> str:
    url = encode(path, _PATH_SAFE, True)
    if query:
        parts = [f"{encode(k, _UNRESERVED, False)}={encode(v, _UNRESERVED, False)}" for k, v in query]
        url += ("&" if "?" in path else "?") + "&".join(parts)
    return url


def resolve_target(target: str) -> str:
    """The user class's host: the target with ${VAR}s resolved and no trailing slash."""
    return str(resolve(target)).rstrip("/")


# --- body checks ------------------------------------------------------------------------------------------

_MISSING = object()
_NOT_JSON = object()


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # NaN and Infinity, which JSON.parse rejects too


# The body last looked at and its parsed value, so that all JSON checks of a response parse it once. The
# cache holds the text itself, so an identity test can never confuse two bodies.
_parsed: tuple[str, Any] = ("", _NOT_JSON)


def _body_json(body: str) -> Any:
    global _parsed
    if _parsed[0] is not body:
        try:
            doc = _json.loads(body, parse_constant=_reject_constant)
        except ValueError:
            doc = _NOT_JSON
        _parsed = (body, doc)
    return _parsed[1]


def _lookup(doc: Any, steps: Sequence[str | int]) -> Any:
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


def has_json_path(body: str, steps: Sequence[str | int]) -> bool:
    """The body is JSON and has a value at the path (steps: ['items', 0, 'id'] for $.items[0].id)."""
    doc = _body_json(body)
    return doc is not _NOT_JSON and _lookup(doc, steps) is not _MISSING


def lacks_json_path(body: str, steps: Sequence[str | int]) -> bool:
    """The body is JSON and has no value at the path."""
    doc = _body_json(body)
    return doc is not _NOT_JSON and _lookup(doc, steps) is _MISSING


def json_path_equals(body: str, steps: Sequence[str | int], expected: Any) -> bool:
    """The body is JSON and the value at the path equals ``expected``."""
    doc = _body_json(body)
    if doc is _NOT_JSON:
        return False
    hit = _lookup(doc, steps)
    return hit is not _MISSING and _same(hit, expected)


def first_failed_check(body: str, checks: Mapping[str, BodyCheck]) -> str | None:
    """The label of the first check that fails for ``body``; None when all pass."""
    for label, passes in checks.items():
        if not passes(body):
            return label
    return None


def body_text(content: bytes | None) -> str:
    """The body as the checks see it: UTF-8, undecodable bytes replaced (as k6 reads a body as text)."""
    return content.decode("utf-8", "replace") if content else ""


# --- requests ---------------------------------------------------------------------------------------------

_NO_BODY = object()


class Request:
    """One request of the scenario, prepared once when the locustfile is loaded.

    ``headers`` are complete (defaults merged, Content-Type included); ``json`` is serialized compactly as
    UTF-8, ``body`` sent as UTF-8 text. ``expected_statuses`` are the acceptable status codes (default: 200
    to 399); ``checks`` maps a label to a test of the body text, judged in order when the status is
    acceptable.
    """

    __slots__ = ("body", "checks", "expected_statuses", "headers", "method", "name", "path")

    def __init__(self, name: str, method: str, path: str, *, query: Sequence[Sequence[str]] = (),
                 headers: Mapping[str, str] | None = None, json: Any = _NO_BODY, body: str | None = None,
                 expected_statuses: Sequence[int] = (), checks: Mapping[str, BodyCheck] | None = None) -> None:
        self.name = name
        self.method = method
        self.path = build_path(resolve(path), [(k, resolve(v)) for k, v in query])
        self.headers = {key: resolve(value) for key, value in (headers or {}).items()}
        self.body: bytes | None = None
        if json is not _NO_BODY:
            self.body = _json.dumps(_resolve_deep(json), ensure_ascii=False, separators=(",", ":")).encode()
        elif body is not None:
            self.body = resolve(body).encode("utf-8")
        self.expected_statuses = tuple(expected_statuses)
        self.checks = dict(checks or {})

    def status_ok(self, code: int) -> bool:
        return code in self.expected_statuses if self.expected_statuses else 200 <= code < 400

    def send(self, user: Any) -> None:
        """Send the request as ``user``; Locust records it once, as a success or a failure.

        Failures read as the recorder (crossload_recorder.failure_cause) classifies them: no response ->
        the client's own exception (connection refused, timeout...); an unexpected status -> ``HTTP <code>``;
        a failing body check -> ``check failed: <label>``. Anything the request path raises (a header that
        cannot be encoded, say) is recorded as a failed request too, with that exception. Without checks,
        Locust's own rule is crossload's (no response or a status of 400 and above fails), so the request
        skips the catch_response machinery, which costs Locust measurable throughput. Redirects are never
        followed (the user class sets max_redirects = 0).
        """
        start = time.perf_counter()
        try:
            if not self.expected_statuses and not self.checks:
                user.client.request(self.method, self.path, name=self.name, data=self.body, headers=self.headers)
                return
            with user.client.request(self.method, self.path, name=self.name, data=self.body, headers=self.headers,
                                     catch_response=True) as resp:
                self._judge(resp)
        except _LOCUST_CONTROL:
            raise
        except Exception as e:
            user.environment.events.request.fire(
                request_type=self.method, name=self.name, response_time=(time.perf_counter() - start) * 1000.0,
                response_length=0, exception=e, context={}, response=None,
            )

    def _judge(self, resp: Any) -> None:
        code = resp.status_code or 0
        if not code:
            resp.failure(getattr(resp, "error", None) or ConnectionError("no response"))
        elif not self.status_ok(code):
            resp.failure(f"{HTTP_STATUS_PREFIX}{code}")
        elif self.checks:
            failed = first_failed_check(body_text(resp.content), self.checks)
            if failed is None:
                resp.success()
            else:
                resp.failure(CHECK_PREFIX + failed)
        else:
            resp.success()


# --- load shape -------------------------------------------------------------------------------------------


class StageShape(LoadTestShape):
    """Users follow ``stages`` [(duration_s, users), ...] linearly, like k6's ramping-vus executor.

    Ramping k6 adds a VU each time the straight line crosses a whole number, so the count is the line
    rounded towards the previous stage's users; this shape returns the same count each tick.
    """

    abstract = True
    stages: Sequence[Sequence[float]] = ()
    spawn_rate: float = 1.0

    def users_at(self, t: float) -> int | None:
        prev = 0
        elapsed = 0.0
        for duration, users in self.stages:
            if duration <= 0:
                prev = int(users)
                continue
            if t < elapsed + duration:
                exact = prev + (users - prev) * (t - elapsed) / duration
                return math.floor(exact) if users >= prev else math.ceil(exact)
            elapsed += duration
            prev = int(users)
        return None

    def tick(self) -> tuple[int, float] | None:
        users = self.users_at(self.get_run_time())
        if users is None:
            return None
        return users, self.spawn_rate
