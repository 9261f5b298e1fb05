"""crossload support module for rendered locustfiles.

The rendered locustfile is plain Locust code: a FastHttpUser with one ``@task`` method per request and the
load shape. It travels with this module and ``crossload_recorder.py`` (crossload's exact per-second
collection), and needs nothing but Locust. This module holds what the locustfile needs beyond Locust,
mirroring k6/crossload.js (both are tested against the same reference, so ${VAR} resolution, URL encoding,
check semantics and failure rules stay identical):

- ``Request``: one request resolved (${VAR}), URL-encoded and serialized once, when the file is loaded;
  ``Request.send(user)`` sends it and records it in Locust's statistics, judged as the k6 script judges it;
- ``has_json_path``, ``lacks_json_path``, ``json_path_equals``: the JSON-path checks of the body;
- ``StageShape``: the load profile as a LoadTestShape that follows the same curve as k6's ramping-vus;
- ``Journey``, ``Step``: a journey as a SequentialTaskSet (its steps in order, setup once per user, a failed
  step ends the iteration), steps whose ``{{ name }}`` references are filled in from the user's values (drawn
  from the scenario's data, extracted from earlier responses) when they are sent;
- ``Journey.group``: a group of steps timed as a whole, recorded as one ``GROUP`` request (its wall time);
- ``holds``: a step's or group's ``if``;
- ``send_following``: a request that follows redirects as k6 does, each hop a request of its own.
- ``tear_down``: the journeys' teardowns, from the user's ``on_stop``, when the load ends or a ramp-down stops
  the user (not when the run is interrupted).
"""

from __future__ import annotations

import base64
import itertools
import json as _json
import math
import os
import random
import re
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urljoin, urlsplit

import gevent
import gevent.ssl
from crossload_recorder import CHECK_PREFIX, GROUP_FAILED, GROUP_METHOD, HTTP_STATUS_PREFIX
from locust.exception import InterruptTaskSet, RescheduleTask, RescheduleTaskImmediately, StopUser
from locust.runners import STATE_RUNNING, STATE_SPAWNING, MasterRunner, WorkerRunner
from locust.shape import LoadTestShape

from locust import SequentialTaskSet, constant, events

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


_DECIMAL = re.compile(r"^[ \t]*-?[0-9]+(?:\.[0-9]+)?[ \t]*$")


def header_value(headers: Any, name: str) -> str | None:
    """A response header's value (any letter case); several values joined by ', ', as k6 shows them."""
    hit = headers.get(name) if headers is not None else None
    if hit is None:
        return None
    return ", ".join(hit) if isinstance(hit, list) else str(hit)


def header_check(headers: Any, name: str, op: str, value: Any) -> bool:
    """``exists`` (value: true/false), ``equals`` (text), ``at_least``/``at_most`` (the header read as a
    decimal number; any other header value fails)."""
    found = header_value(headers, name)
    if op == "exists":
        return (found is not None) == value
    if found is None:
        return False
    if op == "equals":
        return found == value
    if not _DECIMAL.match(found):
        return False
    number = float(found)
    return number >= value if op == "at_least" else number <= value


def first_failed_header_check(headers: Any, checks: Mapping[str, Sequence[Any]]) -> str | None:
    for label, (name, op, value) in checks.items():
        if not header_check(headers, name, op, value):
            return label
    return None


def _cookie_value_ok(value: str) -> bool:
    return all(0x20 <= ord(c) < 0x7F and c not in '";\\' for c in value)


def cookie_value(headers: Any, name: str) -> str | None:
    """The value of the last cookie named ``name`` that the response sets (Set-Cookie), read as k6 reads it
    (Go's net/http): the text between the first ``=`` and ``;``, double quotes around it removed, a cookie with
    other than printable ASCII (or ``"``, ``;``, ``\\``) in its value skipped. None when there is none or its
    value is empty."""
    hit = headers.get("Set-Cookie") if headers is not None else None
    if hit is None:
        return None
    found = ""
    for line in hit if isinstance(hit, list) else [hit]:
        key, eq, value = str(line).strip(" \t\r\n").split(";", 1)[0].strip(" \t\r\n").partition("=")
        if not eq or key.strip(" \t\r\n") != name:
            continue
        if len(value) > 1 and value[0] == value[-1] == '"':
            value = value[1:-1]
        if _cookie_value_ok(value):
            found = value
    return found or None


class RequestTimeout(TimeoutError):
    """No complete response within the request's own timeout."""


def _start_timer(seconds: float | None) -> gevent.Timeout | None:
    """A timer on the whole request (as k6's timeout), for a request with its own timeout."""
    if seconds is None:
        return None
    timer = gevent.Timeout(seconds, RequestTimeout(f"no complete response within {seconds:g} s"))
    timer.start()
    return timer


def _timed_out(timer: gevent.Timeout | None) -> BaseException | None:
    """The timer's exception when it fired (it is then no longer pending), else None."""
    if timer is None or timer.pending:
        return None
    return timer.exception if isinstance(timer.exception, BaseException) else RequestTimeout("timed out")


class TrustedCa:
    """The user class's ssl_context_factory for tls: {ca: file}: the system's authorities and the file's. The
    file is read next to the locustfile, where crossload copies it."""

    def __init__(self, filename: str) -> None:
        self.path = os.path.join(os.path.dirname(os.path.abspath(__file__)), filename)

    def __call__(self, cafile: str | None = None) -> Any:
        context = gevent.ssl.create_default_context()
        context.load_verify_locations(cafile=self.path)
        if cafile:
            context.load_verify_locations(cafile=cafile)
        return context


def basic_auth_header(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


def first_failed_check(body: str, checks: Mapping[str, BodyCheck]) -> str | None:
    """The label of the first check that fails for ``body``; None when all pass."""
    for label, passes in checks.items():
        if not passes(body):
            return label
    return None


def body_text(content: bytes | None) -> str:
    """The body as the checks see it: UTF-8, undecodable bytes replaced (as k6 reads a body as text)."""
    return content.decode("utf-8", "replace") if content else ""


# --- redirects ----------------------------------------------------------------------------------------------

# The statuses k6 (Go's net/http) follows when the response names a Location; 301, 302 and 303 turn any
# method but GET and HEAD into a GET without body, 307 and 308 repeat the method and its body.
REDIRECT_STATUSES = frozenset((301, 302, 303, 307, 308))
_TO_GET = frozenset((301, 302, 303))
# Headers not sent on once a redirect leaves the first request's host (or its subdomains), as in Go.
_SENSITIVE_HEADERS = frozenset(("authorization", "www-authenticate", "cookie", "cookie2"))


def status_label(statuses: Sequence[int]) -> str:
    """The label of a step's status check (as the k6 script's check() names it), for listed statuses."""
    if len(statuses) == 1:
        return f"status is {statuses[0]}"
    return "status in [" + ", ".join(str(c) for c in statuses) + "]"


def _same_site(first: str, then: str) -> bool:
    """Whether a redirect to ``then`` keeps the sensitive headers of a request to ``first``: the same host
    and port, or the same host name or one of its subdomains."""
    a, b = urlsplit(first), urlsplit(then)
    if a.netloc == b.netloc:
        return True
    ihost, dhost = (a.hostname or "").lower(), (b.hostname or "").lower()
    return dhost == ihost or dhost.endswith("." + ihost)


def send_following(user: Any, method: str, path: str, data: bytes | None, headers: Mapping[str, str], name: str,
                   redirects: int, judge: Callable[[Any, str], Any], timer: gevent.Timeout | None = None) -> Any:
    """Send ``method path`` as ``user`` and follow up to ``redirects`` redirects as k6 does: every hop is
    recorded as a request of its own under ``name`` (with the method it was sent with), an intermediate hop
    as a success; ``judge(response, its URL)`` decides the final response (the first that is not a followed
    redirect, or the last one when the limit is reached) and its value is returned.

    The next hop: Location resolved against the current URL; after 301, 302 or 303 a GET without body (HEAD
    stays HEAD), after 307 or 308 the same method and body; the headers kept, with a Referer naming the
    previous URL (unless the request sets its own, or https leads to http), Authorization and Cookie dropped
    once the chain leaves the first host; cookies from the user's jar, as for any request."""
    first = current = absolute_url(user.client.base_url, path)
    url = path
    sent = dict(headers)
    stripped = False
    for hop in range(redirects + 1):
        with user.client.request(method, url, name=name, data=data, headers=sent, catch_response=True) as resp:
            code = resp.status_code or 0
            location = header_value(resp.headers, "Location") if code in REDIRECT_STATUSES else None
            if hop == redirects or not location or _timed_out(timer) is not None:
                return judge(resp, current)
            resp.success()
        following = urljoin(current, location)
        if code in _TO_GET:
            data = None
            if method != "HEAD":
                method = "GET"
        if not stripped and not _same_site(first, following):
            stripped = True
        sent = {k: v for k, v in headers.items() if not (stripped and k.lower() in _SENSITIVE_HEADERS)}
        if not any(k.lower() == "referer" for k in sent) and not (
                current.startswith("https:") and following.startswith("http:")):
            sent["Referer"] = current
        current = url = following
    raise AssertionError("unreachable")  # the last hop is always judged


# --- pagination -------------------------------------------------------------------------------------------

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")
_ORIGIN = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*")
# A Link header (RFC 8288): <target> and the parameters after it; rel="next" or rel=next, several
# space-separated relations in one value.
_LINK = re.compile(r"<([^>]*)>([^<]*)")
_REL = re.compile(r';\s*rel\s*=\s*(?:"([^"]*)"|([^\s;,"]+))', re.IGNORECASE)


def absolute_url(base: str, path: str) -> str:
    """A request's URL: ``path`` as it is when it is absolute (a next page, a redirect), else on ``base``."""
    return path if _SCHEME.match(path) else base + path


def resolve_url(current: str, ref: str) -> str:
    """``ref`` (a next link: absolute, //host/..., /path, ?query or a relative path) against ``current``; the
    same rule as k6/crossload.js resolveUrl (no dot segments are removed)."""
    if _SCHEME.match(ref):
        return ref
    m = _ORIGIN.match(current)
    origin = m.group(0) if m else ""
    if ref.startswith("//"):
        return current[: current.index(":") + 1] + ref
    if ref.startswith("/"):
        return origin + ref
    path = re.split(r"[?#]", current[len(origin):], maxsplit=1)[0] or "/"
    if ref.startswith("?"):
        return origin + path + ref
    return origin + path[: path.rindex("/") + 1] + ref


def _origin(url: str) -> str:
    m = _ORIGIN.match(url)
    return m.group(0).lower() if m else ""


def link_target(header: str | None, rel: str) -> str | None:
    """The target of the first entry of a Link header whose relations include ``rel`` (lower case)."""
    for m in _LINK.finditer(header or ""):
        found = _REL.search(m.group(2))
        if found is not None and rel in (found.group(1) or found.group(2) or "").lower().split():
            return m.group(1).strip()
    return None


def next_page(spec: Mapping[str, Any], headers: Any, body: str, current: str, base: str) -> str | None:
    """The URL of the page after the response to ``current``: ``{link: rel}`` a Link header entry of that
    relation, ``{json: steps}`` text at that JSON path (a URL or a path); resolved against ``current``. None
    when there is none (no such entry, a value that is not text or is empty) or when it is not on the target's
    origin (``base``): the pagination ends there, without failure."""
    if "link" in spec:
        ref = link_target(header_value(headers, "Link"), spec["link"])
    else:
        doc = _body_json(body)
        hit = _MISSING if doc is _NOT_JSON else _lookup(doc, spec["json"])
        ref = hit if isinstance(hit, str) else None
    if not ref:
        return None
    url = resolve_url(current, ref)
    return url if _origin(url) == _origin(base) else None


def _status_failure(code: int, expected: Sequence[int], redirects: int) -> str:
    """The cause of a final response whose status is not an expected one. A request that follows redirects
    and lists its statuses accepts every redirect status as a hop (in k6 too, whose responseCallback judges
    each hop alike); a redirect that ends it (the limit reached, or no Location) fails its status check."""
    if redirects and expected and code in REDIRECT_STATUSES:
        return CHECK_PREFIX + status_label(expected)
    return f"{HTTP_STATUS_PREFIX}{code}"


# --- requests ---------------------------------------------------------------------------------------------

_NO_BODY = object()


class Request:
    """One request of the scenario, prepared once when the locustfile is loaded.

    ``headers`` are complete (defaults merged, Content-Type included); ``json`` is serialized compactly as
    UTF-8, ``body`` sent as UTF-8 text. ``expected_statuses`` are the acceptable status codes (default: 200
    to 399); ``checks`` maps a label to a test of the body text, judged in order when the status is
    acceptable.
    """

    __slots__ = ("body", "checks", "expected_statuses", "header_checks", "headers", "method", "name", "path",
                 "plain", "redirects", "timeout")

    def __init__(self, name: str, method: str, path: str, *, query: Sequence[Sequence[str]] = (),
                 headers: Mapping[str, str] | None = None, basic_auth: Sequence[str] | None = None,
                 json: Any = _NO_BODY, body: str | None = None, expected_statuses: Sequence[int] = (),
                 header_checks: Mapping[str, Sequence[Any]] | None = None,
                 checks: Mapping[str, BodyCheck] | None = None, timeout: float | None = None,
                 redirects: int = 0) -> None:
        self.name = name
        self.timeout = timeout
        self.redirects = redirects
        self.method = method
        self.path = build_path(resolve(path), [(k, resolve(v)) for k, v in query])
        self.headers = {key: resolve(value) for key, value in (headers or {}).items()}
        if basic_auth is not None:
            self.headers["Authorization"] = basic_auth_header(resolve(basic_auth[0]), resolve(basic_auth[1]))
        self.header_checks = dict(header_checks or {})
        self.body: bytes | None = None
        if json is not _NO_BODY:
            self.body = _json.dumps(_resolve_deep(json), ensure_ascii=False, separators=(",", ":")).encode()
        elif body is not None:
            self.body = resolve(body).encode("utf-8")
        self.expected_statuses = tuple(expected_statuses)
        self.checks = dict(checks or {})
        # Judged by Locust's own rule (no checks, default statuses, no timer of its own): sent as it is.
        self.plain = (timeout is None and not self.expected_statuses and not self.checks and not self.header_checks
                      and not redirects)

    def status_ok(self, code: int) -> bool:
        return code in self.expected_statuses if self.expected_statuses else 200 <= code < 400

    def status_failure(self, code: int) -> str:
        return _status_failure(code, self.expected_statuses, self.redirects)

    def send(self, user: Any) -> None:
        """Send the request as ``user``; Locust records it once, as a success or a failure.

        Failures read as the recorder (crossload_recorder.failure_cause) classifies them: no response ->
        the client's own exception (connection refused, timeout...); an unexpected status -> ``HTTP <code>``;
        a failing body check -> ``check failed: <label>``. Anything the request path raises (a header that
        cannot be encoded, say) is recorded as a failed request too, with that exception. Without checks,
        Locust's own rule is crossload's (no response or a status of 400 and above fails), so the request
        skips the catch_response machinery, which costs Locust measurable throughput. Redirects are followed
        only up to ``redirects`` (send_following; the user class sets max_redirects = 0). A request with its
        own ``timeout`` runs under a timer on the whole request (every hop); when it fires, the request fails
        with RequestTimeout (cause ``timeout``).
        """
        start = time.perf_counter()
        if self.plain:
            try:
                user.client.request(self.method, self.path, name=self.name, data=self.body, headers=self.headers)
            except _LOCUST_CONTROL:
                raise
            except Exception as e:
                self._raised(user, start, e)
            return
        timer = _start_timer(self.timeout)
        try:
            if self.redirects:
                send_following(user, self.method, self.path, self.body, self.headers, self.name, self.redirects,
                               lambda resp, _url: self._judge(resp, timer), timer)
                return
            with user.client.request(self.method, self.path, name=self.name, data=self.body, headers=self.headers,
                                     catch_response=True) as resp:
                self._judge(resp, timer)
        except _LOCUST_CONTROL:
            raise
        except Exception as e:
            self._raised(user, start, e)
        finally:
            if timer is not None:
                timer.close()

    def _raised(self, user: Any, start: float, e: Exception) -> None:
        user.environment.events.request.fire(
            request_type=self.method, name=self.name, response_time=(time.perf_counter() - start) * 1000.0,
            response_length=0, exception=e, context={}, response=None,
        )

    def _judge(self, resp: Any, timer: gevent.Timeout | None = None) -> None:
        code = resp.status_code or 0
        if (late := _timed_out(timer)) is not None:
            resp.failure(late)
        elif not code:
            resp.failure(getattr(resp, "error", None) or ConnectionError("no response"))
        elif not self.status_ok(code):
            resp.failure(self.status_failure(code))
        elif self.header_checks and (failed := first_failed_header_check(resp.headers, self.header_checks)):
            resp.failure(CHECK_PREFIX + failed)
        elif self.checks:
            failed = first_failed_check(body_text(resp.content), self.checks)
            if failed is None:
                resp.success()
            else:
                resp.failure(CHECK_PREFIX + failed)
        else:
            resp.success()


# --- journeys ---------------------------------------------------------------------------------------------

# {{ name }} or {{ name.column }}; the same grammar as crossload.varref and k6/crossload.js.
_VAR = re.compile(r"\{\{ *([A-Za-z_][A-Za-z0-9_]*)(?:\.([A-Za-z_][A-Za-z0-9_]*))? *\}\}")
_MAX_SAFE_INTEGER = 2**53


def number_text(x: float) -> str:
    """JavaScript's String(x) for a double, so both tools write a number into text alike."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    if x == 0:
        return "0"
    sign = "-" if x < 0 else ""
    mantissa, _, exp = repr(abs(x)).partition("e")
    whole, _, frac = mantissa.partition(".")
    digits = whole + frac
    n = len(whole) + int(exp or 0)
    stripped = digits.lstrip("0")
    n -= len(digits) - len(stripped)
    digits = stripped.rstrip("0") or "0"
    k = len(digits)
    if k <= n <= 21:
        out = digits + "0" * (n - k)
    elif 0 < n <= 21:
        out = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        out = "0." + "0" * (-n) + digits
    else:
        e = n - 1
        out = digits[0] + ("." + digits[1:] if k > 1 else "") + "e" + ("+" if e >= 0 else "-") + str(abs(e))
    return sign + out


def value_text(value: Any) -> str:
    """A value filled into text: as JavaScript's String(value) writes it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value) if abs(value) <= _MAX_SAFE_INTEGER else number_text(float(value))
    if isinstance(value, float):
        return number_text(value)
    return str(value)


def _lookup_value(values: Mapping[str, Any], name: str, field: str | None) -> Any:
    value = values[name]
    return value[field] if field is not None else value


def holds(values: Mapping[str, Any], cond: Mapping[str, str]) -> bool:
    """A step's or group's if (crossload.varref.holds): ``{name, field?, equals | not_equals}``; the value
    written as text, as it is filled in, compared with the condition's text."""
    text = value_text(_lookup_value(values, cond["name"], cond.get("field")))
    return text == cond["equals"] if "equals" in cond else text != cond["not_equals"]


class Text:
    """A string of a journey step: its text between references with ${VAR}s resolved (once, when the file is
    loaded), and its {{ name }} references, filled in for each request."""

    __slots__ = ("parts", "whole")

    def __init__(self, text: str) -> None:
        pieces = _VAR.split(text)
        self.parts: list[str | tuple[str, str | None]] = []
        for i in range(0, len(pieces), 3):
            if pieces[i]:
                self.parts.append(resolve(pieces[i]))
            if i + 1 < len(pieces):
                self.parts.append((pieces[i + 1], pieces[i + 2]))
        m = _VAR.fullmatch(text)
        self.whole = (m.group(1), m.group(2)) if m else None

    def fill(self, values: Mapping[str, Any]) -> str:
        return "".join(p if isinstance(p, str) else value_text(_lookup_value(values, *p)) for p in self.parts)

    def value(self, values: Mapping[str, Any]) -> Any:
        """In a JSON body: a string that is exactly one reference takes the value with its type."""
        return _lookup_value(values, *self.whole) if self.whole else self.fill(values)


def _texts(value: Any) -> Any:
    if isinstance(value, str):
        return Text(value)
    if isinstance(value, list):
        return [_texts(v) for v in value]
    if isinstance(value, dict):
        return {k: _texts(v) for k, v in value.items()}
    return value


def _filled(value: Any, values: Mapping[str, Any]) -> Any:
    if isinstance(value, Text):
        return value.value(values)
    if isinstance(value, list):
        return [_filled(v, values) for v in value]
    if isinstance(value, dict):
        return {k: _filled(v, values) for k, v in value.items()}
    return value


def fill_json(value: Any, values: Mapping[str, Any]) -> str:
    """A JSON body with its references filled in, serialized compactly as UTF-8 text."""
    return _json.dumps(_filled(_texts(value), values), ensure_ascii=False, separators=(",", ":"))


def extract_value(spec: Mapping[str, Any], body: str, headers: Any) -> Any:
    """The value ``spec`` ({json: steps}, {header: name}, {regex: pattern} or {cookie: name}) finds in a
    response; _MISSING when there is none. A JSON value must be text, a number or a boolean; a header that
    appears several times gives its values joined by ', '; a regex gives its group's text (or the whole match);
    a cookie is read as ``cookie_value`` reads it."""
    if "json" in spec:
        doc = _body_json(body)
        if doc is _NOT_JSON:
            return _MISSING
        hit = _lookup(doc, spec["json"])
        return hit if isinstance(hit, str | int | float | bool) else _MISSING
    if "header" in spec:
        hit = header_value(headers, spec["header"])
        return _MISSING if hit is None else hit
    if "cookie" in spec:
        cookie = cookie_value(headers, spec["cookie"])
        return _MISSING if cookie is None else cookie
    m = re.search(spec["regex"], body, re.ASCII)
    if m is None:
        return _MISSING
    found = m.group(1) if m.re.groups else m.group(0)
    return _MISSING if found is None else found


class Step:
    """One step of a journey: a request whose strings may hold {{ name }} references, filled in from the
    user's values when it is sent; ``extract`` maps a label to (variable, where to find it), judged after the
    checks like one more check."""

    __slots__ = ("basic_auth", "body", "checks", "expected_statuses", "extract", "header_checks", "headers", "json",
                 "max_pages", "method", "name", "paginate", "path", "query", "reads_body", "redirects", "timeout")

    def __init__(self, name: str, method: str, path: str, *, query: Sequence[Sequence[str]] = (),
                 headers: Mapping[str, str] | None = None, basic_auth: Sequence[str] | None = None,
                 json: Any = _NO_BODY, body: str | None = None, expected_statuses: Sequence[int] = (),
                 header_checks: Mapping[str, Sequence[Any]] | None = None,
                 checks: Mapping[str, BodyCheck] | None = None,
                 extract: Mapping[str, tuple[str, Mapping[str, Any]]] | None = None,
                 timeout: float | None = None, redirects: int = 0, paginate: Mapping[str, Any] | None = None,
                 max_pages: int = 1) -> None:
        self.name = name
        self.timeout = timeout
        self.redirects = redirects
        self.paginate = dict(paginate) if paginate is not None else None
        self.max_pages = max_pages
        self.method = method
        self.path = Text(path)
        self.query = [(k, Text(v)) for k, v in query]
        self.headers = {key: Text(value) for key, value in (headers or {}).items()}
        self.basic_auth = (Text(basic_auth[0]), Text(basic_auth[1])) if basic_auth is not None else None
        self.header_checks = dict(header_checks or {})
        self.json = _texts(json) if json is not _NO_BODY else _NO_BODY
        self.body = Text(body) if body is not None else None
        self.expected_statuses = tuple(expected_statuses)
        self.checks = dict(checks or {})
        self.extract = dict(extract or {})
        self.reads_body = bool(self.checks) or any("header" not in spec and "cookie" not in spec
                                                   for _, spec in self.extract.values()) or (
            self.paginate is not None and "json" in self.paginate)

    def status_ok(self, code: int) -> bool:
        return code in self.expected_statuses if self.expected_statuses else 200 <= code < 400

    def send(self, user: Any, values: dict[str, Any]) -> bool:
        """Send the step as ``user``, recorded once as a success or a failure (as Request.send); True when it
        succeeded, its extracted values then stored in ``values``. A paginated step then fetches each next page
        (``next_page``) with GET, each a request of its own under the step's name judged by the step's checks,
        until a page names none, one fails, or ``max_pages`` pages were fetched."""
        start = time.perf_counter()
        try:
            path = build_path(self.path.fill(values), [(k, v.fill(values)) for k, v in self.query])
            headers = {key: value.fill(values) for key, value in self.headers.items()}
            if self.basic_auth is not None:
                headers["Authorization"] = basic_auth_header(self.basic_auth[0].fill(values),
                                                             self.basic_auth[1].fill(values))
            data: bytes | None = None
            if self.json is not _NO_BODY:
                data = _json.dumps(_filled(self.json, values), ensure_ascii=False, separators=(",", ":")).encode()
            elif self.body is not None:
                data = self.body.fill(values).encode("utf-8")
        except _LOCUST_CONTROL:
            raise
        except Exception as e:
            self._raised(user, start, e)
            return False
        ok, following = self._send_page(user, values, path, data, headers)
        pages = 1
        while ok and following is not None and pages < self.max_pages:
            ok, following = self._send_page(user, values, following, None, headers)
            pages += 1
        return ok

    def _send_page(self, user: Any, values: dict[str, Any], path: str, data: bytes | None,
                   headers: Mapping[str, str]) -> tuple[bool, str | None]:
        """One request of the step (its first, or a next page): whether it succeeded, and the next page's URL
        when the step is paginated and the response names one."""
        start = time.perf_counter()
        timer = _start_timer(self.timeout)

        def judge(resp: Any, url: str) -> tuple[bool, str | None]:
            ok = self._judge(resp, values, timer)
            if not ok or self.paginate is None:
                return ok, None
            body = body_text(resp.content) if "json" in self.paginate else ""
            return ok, next_page(self.paginate, resp.headers, body, url, user.client.base_url)

        try:
            if self.redirects:
                return send_following(user, self.method, path, data, headers, self.name,  # type: ignore[no-any-return]
                                      self.redirects, judge, timer)
            with user.client.request(self.method, path, name=self.name, data=data, headers=headers,
                                     catch_response=True) as resp:
                return judge(resp, absolute_url(user.client.base_url, path))
        except _LOCUST_CONTROL:
            raise
        except Exception as e:
            self._raised(user, start, e)
            return False, None
        finally:
            if timer is not None:
                timer.close()

    def _raised(self, user: Any, start: float, e: Exception) -> None:
        user.environment.events.request.fire(
            request_type=self.method, name=self.name, response_time=(time.perf_counter() - start) * 1000.0,
            response_length=0, exception=e, context={}, response=None,
        )

    def _judge(self, resp: Any, values: dict[str, Any], timer: gevent.Timeout | None = None) -> bool:
        code = resp.status_code or 0
        if (late := _timed_out(timer)) is not None:
            resp.failure(late)
            return False
        if not code:
            resp.failure(getattr(resp, "error", None) or ConnectionError("no response"))
            return False
        if not self.status_ok(code):
            resp.failure(_status_failure(code, self.expected_statuses, self.redirects))
            return False
        failed = first_failed_header_check(resp.headers, self.header_checks) if self.header_checks else None
        if failed is not None:
            resp.failure(CHECK_PREFIX + failed)
            return False
        body = body_text(resp.content) if self.reads_body else ""
        failed = first_failed_check(body, self.checks) if self.checks else None
        if failed is not None:
            resp.failure(CHECK_PREFIX + failed)
            return False
        found: dict[str, Any] = {}
        for label, (var, spec) in self.extract.items():
            value = extract_value(spec, body, resp.headers)
            if value is _MISSING:
                resp.failure(CHECK_PREFIX + label)
                return False
            found[var] = value
        values.update(found)
        resp.success()
        return True


_user_numbers = itertools.count(1)


class _UserState:
    """What one user keeps across its journeys: its number (the order users started in, as k6's __VU), its
    values, how often it drew from each data file, which journeys' setup ran."""

    __slots__ = ("draws", "number", "setup_done", "values")

    def __init__(self) -> None:
        self.number = next(_user_numbers)
        self.values: dict[str, Any] = {}
        self.draws: dict[str, int] = {}
        self.setup_done: set[str] = set()


def _iso_now() -> str:
    now = datetime.now(timezone.utc)  # noqa: UP017 - reads like the k6 side
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def draw_value(spec: Mapping[str, Any], number: int, draws: int) -> Any:
    """One value of a data source for user ``number`` (1, 2, ...) at its ``draws``-th draw (0, 1, ...)."""
    if "rows" in spec:
        rows = spec["rows"]
        if spec.get("order") == "random":
            return rows[random.randrange(len(rows))]
        return rows[(number - 1 + draws) % len(rows)]
    kind = spec["generate"]
    if kind == "uuid":
        return str(uuid.uuid4())
    if kind == "integer":
        return random.randint(spec["min"], spec["max"])
    if kind == "choice":
        return random.choice(spec["values"])
    fmt = spec.get("format", "ms")
    if fmt == "iso":
        return _iso_now()
    return int(time.time()) if fmt == "s" else int(time.time() * 1000)


class Journey(SequentialTaskSet):
    """A journey: its @task steps in order, once per iteration, then the user picks again. ``setup`` runs
    once per user before its first iteration; ``data`` (name -> source) is drawn at the start of each
    iteration, or once per user for ``per: user``. A failed step ends the iteration (``end_iteration``)."""

    journey = ""
    data: Mapping[str, Mapping[str, Any]] = {}
    wait_time = constant(0)  # the steps think themselves
    _group_failed = False  # whether a step of the group under way failed

    @property
    def state(self) -> _UserState:
        state = self.user.__dict__.get("_crossload_state")
        if state is None:
            state = self.user.__dict__["_crossload_state"] = _UserState()
        return state  # type: ignore[no-any-return]

    @property
    def vars(self) -> dict[str, Any]:
        return self.state.values

    def setup(self) -> bool:
        return True

    def teardown(self) -> None:
        return None

    def send(self, step: Step) -> bool:
        ok = step.send(self.user, self.state.values)
        if not ok:
            self._group_failed = True
        return ok

    def group(self, name: str) -> GroupTimer:
        """``with self.group(name):`` around a group's steps: its wall time, recorded when they end."""
        return GroupTimer(self, name)

    def end_iteration(self) -> None:
        # Back to the user, which waits its wait_time before it picks again: nothing (the steps think
        # themselves), or in the open model the rest of its pacing, so a journey is one paced iteration.
        self.interrupt(reschedule=False)

    def on_start(self) -> None:
        state = self.state
        for name, spec in self.data.items():
            if spec.get("per") == "user" and name in state.values:
                continue
            n = state.draws.get(name, 0)
            state.draws[name] = n + 1
            state.values[name] = draw_value(spec, state.number, n)
        self._left = len(self.tasks)
        if self.journey not in state.setup_done:
            if not self.setup():
                self.end_iteration()
            state.setup_done.add(self.journey)

    def get_next_task(self) -> Any:
        if self._left <= 0:
            self.end_iteration()
        self._left -= 1
        return super().get_next_task()


# --- teardown ---------------------------------------------------------------------------------------------

LOAD_ENDED = "crossload_load_ended"  # the master's message to its workers: the shape has ended
_load_ended = False  # whether the load shape reached its end (in this process, or told by the master)


def end_of_load(runner: Any) -> None:
    """The shape has ended: the users stopped from now on run their teardowns. A master tells its workers,
    before the stop it sends them."""
    global _load_ended
    _load_ended = True
    if isinstance(runner, MasterRunner):
        runner.send_message(LOAD_ENDED)


def _told_load_ended(**_kwargs: Any) -> None:
    global _load_ended
    _load_ended = True


@events.init.add_listener
def _listen_for_end_of_load(environment: Any, **_kwargs: Any) -> None:
    runner = environment.runner
    if isinstance(runner, WorkerRunner):
        runner.register_message(LOAD_ENDED, _told_load_ended)


def stopped_by_load(user: Any) -> bool:
    """Whether ``user`` stops because the load ended or ramped down, not because the run was interrupted
    (Ctrl-C, SIGTERM): the shape has ended at the end; during a ramp-down the runner still runs (a worker
    stops users of a ramp-down while it applies the master's new count)."""
    if _load_ended:
        return True
    runner = user.environment.runner
    if isinstance(runner, WorkerRunner):
        return bool(runner.worker_state == STATE_SPAWNING)
    return runner is not None and runner.state in (STATE_SPAWNING, STATE_RUNNING)


def tear_down(user: Any, journeys: Sequence[type[Journey]]) -> None:
    """From the user's ``on_stop``: the ``teardown`` of each of ``journeys`` whose setup the user completed
    (or, without setup, that it walked), in order, with the user's values. An interrupted run skips them, as
    k6 does, so that they never delay stopping."""
    state = user.__dict__.get("_crossload_state")
    if state is None or not stopped_by_load(user):
        return
    for journey in journeys:
        if journey.journey in state.setup_done:
            journey(user).teardown()


class GroupFailed(Exception):
    """A group one of whose steps failed (its cause in the results: ``step failed``)."""


class GroupTimer:
    """A journey's group as k6 times a ``group()`` call: from before its first step to after its last step's
    think time, or to after the think time of the step that failed and ended the iteration. Recorded as one
    request of method ``GROUP`` named after the group, failed when one of its steps failed. A group the run
    stopped in the middle of (the user stopped) is not recorded, as k6 records no group it did not finish."""

    __slots__ = ("journey", "name", "start")

    def __init__(self, journey: Journey, name: str) -> None:
        self.journey = journey
        self.name = name
        self.start = 0.0

    def __enter__(self) -> GroupTimer:
        self.journey._group_failed = False
        self.start = time.perf_counter()
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is not None and not issubclass(exc_type, InterruptTaskSet):
            return  # the user stopped, or an error: no group result, as in k6
        ms = (time.perf_counter() - self.start) * 1000.0
        failed = self.journey._group_failed
        self.journey._group_failed = False
        self.journey.user.environment.events.request.fire(
            request_type=GROUP_METHOD, name=self.name, response_time=ms, response_length=0, response=None,
            context={}, exception=GroupFailed(GROUP_FAILED) if failed else None)


# --- load shape -------------------------------------------------------------------------------------------


_users_started = itertools.count()


def arrival_phase(pacing_s: float) -> float:
    """Seconds a new user waits before its first iteration in the open model, so that the users' paced
    iterations spread over the pacing interval (as k6 spreads arrivals) instead of starting in bursts: the
    n-th user of this process waits frac(n x golden ratio) of the interval."""
    return (next(_users_started) * 0.6180339887498949) % 1.0 * pacing_s


def wait_arrival_phase(pacing_s: float) -> None:
    time.sleep(arrival_phase(pacing_s))


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
            end_of_load(self.runner)
            return None
        return users, self.spawn_rate
