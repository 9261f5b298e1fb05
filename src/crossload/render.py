"""Rendering a scenario and a schedule into a Locust file and a k6 script.

The rendered files are a user's first contact with each tool, so they read like code written by hand for
that tool: one k6 function with real ``check()`` calls per request and a visible weighted pick; one Locust
``@task`` method per request. Everything they need at run time that is not plain tool code (``${VAR}``
resolution, URL encoding, JSON-path checks, crossload's failure bookkeeping) lives in the support modules
next to them (``k6/crossload.js``, ``locust/crossload_locust.py``, ``locust/crossload_recorder.py``).

One Jinja2 environment (StrictUndefined, no autoescape) and one view-model per tool. The templates hold no
logic: every user string they print goes through a filter that writes a literal of the target language
(``py``, ``js``, ``comment``, ``docstring``), and the few pieces of code computed here (check callbacks,
threshold keys) are assembled from the same literal writers, so a user's string can never become code,
whatever quotes, backslashes, ``${...}``, ``{{ }}``, ``</script>`` or line breaks it holds. Output is
deterministic: the same input gives the same bytes, which the golden tests compare.
"""

from __future__ import annotations

import json
import keyword
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from crossload import __version__
from crossload.paths import resource_dir
from crossload.profiles import StageSchedule
from crossload.scenario import (
    COMPRESSION,
    TARGET_METRICS,
    Checks,
    DataSource,
    Extraction,
    Group,
    HeaderCheck,
    Journey,
    JsonCheck,
    Request,
    Scenario,
    Threshold,
    WsExpect,
    WsHold,
    WsSend,
    redirects_of,
    timeout_of,
)
from crossload.units import format_duration_ms
from crossload.wire import JSON_CONTENT_TYPE, TEXT_CONTENT_TYPE

LOCUST_TEMPLATE = "locustfile.py.jinja"
K6_TEMPLATE = "script.js.jinja"
LOCUST_SUPPORT = ("crossload_locust.py", "crossload_recorder.py", "crossload_ws.py")
K6_SUPPORT = "crossload.js"
REDIRECT_STATUSES = (301, 302, 303, 307, 308)  # what both tools follow when a request allows redirects

# k6 systemTags: `check` makes k6's end-of-test summary list the checks by name; error_code says why a
# request without a response failed.
K6_SYSTEM_TAGS = ("status", "method", "name", "expected_response", "error_code", "check")
K6_DEFAULT_TIMEOUT_MS = 60_000
# How many characters of a checked value a check label shows.
LABEL_VALUE_CHARS = 40
LABEL_MAX_CHARS = 100
IDENTIFIER_MAX_CHARS = 48


@dataclass(frozen=True)
class RenderedFile:
    """A generated file and the support files that must sit next to it."""

    filename: str
    text: str
    support: tuple[Path, ...]

    def write(self, directory: Path) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        out = directory / self.filename
        out.write_text(self.text, encoding="utf-8")
        for src in self.support:
            (directory / src.name).write_text(src.read_text(encoding="utf-8"), encoding="utf-8")
        return out


# --- literals ---------------------------------------------------------------------------------------------


def py_literal(value: Any, indent: int = 0) -> str:
    """A Python literal for JSON-like data: ASCII only, deterministic, multi-line for containers."""
    pad = "    " * (indent + 1)
    end = "    " * indent
    if value is None or isinstance(value, bool):
        return repr(value)
    if isinstance(value, int):
        return repr(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise ValueError("NaN and infinity have no literal")
        return repr(value)
    if isinstance(value, str):
        return ascii(value)
    if isinstance(value, list | tuple):
        if not value:
            return "[]"
        if all(not isinstance(v, dict | list | tuple) for v in value):
            return "[" + ", ".join(py_literal(v) for v in value) + "]"
        return "[\n" + "".join(f"{pad}{py_literal(v, indent + 1)},\n" for v in value) + end + "]"
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = "".join(f"{pad}{str(k)!a}: {py_literal(v, indent + 1)},\n" for k, v in value.items())
        return "{\n" + items + end + "}"
    raise TypeError(f"no Python literal for {type(value).__name__}")


def py_inline(value: Any) -> str:
    """``py_literal`` on one line, for a value inside an expression."""
    if isinstance(value, list | tuple):
        return "[" + ", ".join(py_inline(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{str(k)!a}: {py_inline(v)}" for k, v in value.items()) + "}"
    return py_literal(value)


def py_docstring(text: str) -> str:
    """A one-line ``\"\"\"docstring\"\"\"`` that evaluates to exactly ``text``: ASCII, every quote escaped."""
    out = []
    for ch in text:
        code = ord(ch)
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif 0x20 <= code < 0x7F:
            out.append(ch)
        elif code <= 0xFF:
            out.append(f"\\x{code:02x}")
        elif code <= 0xFFFF:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    return '"""' + "".join(out) + '"""'


_JS_IDENTIFIER_NAME = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$]*$")
_JS_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def js_string(text: str) -> str:
    """A JavaScript string: ASCII only, no line terminator, ``</`` broken up; single-quoted unless the text
    holds single quotes and no double quotes (as Python's repr chooses)."""
    quote = '"' if "'" in text and '"' not in text else "'"
    out = [quote]
    for ch in text:
        code = ord(ch)
        if ch == quote or ch == "\\":
            out.append("\\" + ch)
        elif ch in _JS_ESCAPES:
            out.append(_JS_ESCAPES[ch])
        elif 0x20 <= code < 0x7F:
            out.append(ch)
        elif code <= 0xFFFF:
            out.append(f"\\u{code:04x}")
        else:
            code -= 0x10000
            out.append(f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}")
    out.append(quote)
    return "".join(out).replace("</", "<\\/")


def js_key(key: Any) -> str:
    text = str(key)
    if text == "__proto__":
        return "['__proto__']"  # a computed key is an own property; a plain one would set the prototype
    return text if _JS_IDENTIFIER_NAME.match(text) else js_string(text)


def js_property(key: str) -> str:
    """Member access: ``.name`` where the name allows it, else ``['name']``."""
    return "." + key if _JS_IDENTIFIER_NAME.match(key) and key != "__proto__" else "[" + js_string(key) + "]"


def _js_scalar(value: Any) -> str:
    if isinstance(value, str):
        return js_string(value)
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        raise ValueError("NaN and infinity have no literal")
    return json.dumps(value, allow_nan=False)


def js_literal(value: Any, indent: int = 0) -> str:
    """A JavaScript literal written as a person would: single-quoted strings, bare keys where possible.

    ASCII only, never ``</``, never a line terminator inside a string. Objects go one member per line and
    lists of containers one item per line; lists of scalars stay on one line.
    """
    pad = "  " * (indent + 1)
    end = "  " * indent
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = "".join(f"{pad}{js_key(k)}: {js_literal(v, indent + 1)},\n" for k, v in value.items())
        return "{\n" + items + end + "}"
    if isinstance(value, list | tuple):
        if not value:
            return "[]"
        if all(not isinstance(v, dict | list | tuple) for v in value):
            return "[" + ", ".join(_js_scalar(v) for v in value) + "]"
        return "[\n" + "".join(f"{pad}{js_literal(v, indent + 1)},\n" for v in value) + end + "]"
    return _js_scalar(value)


def js_inline(value: Any) -> str:
    """``js_literal`` on one line, for a value inside an expression."""
    if isinstance(value, dict):
        if not value:
            return "{}"
        return "{ " + ", ".join(f"{js_key(k)}: {js_inline(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(js_inline(v) for v in value) + "]"
    return _js_scalar(value)


def comment_text(value: Any) -> str:
    """Text safe inside a one-line comment of either language."""
    return ascii(str(value))[1:-1].replace("*/", "*\\/").replace("</", "<\\/")


def number_text(value: float) -> str:
    """A number as a person writes it: ``500``, ``0.01``, ``0.6`` (12 significant digits)."""
    return format(value, ".12g")


# --- identifiers ------------------------------------------------------------------------------------------

# Names a task method of the Locust user class must not take: attributes of FastHttpUser and User (class
# and instance; tests/unit/test_render.py checks this list against the installed Locust), what the rendered
# file itself imports or defines (a method named `task` would shadow the decorator in the class body).
PY_USER_ATTRIBUTES = frozenset({
    "abstract", "client", "client_pool", "concurrency", "connection_timeout", "context", "default_headers",
    "environment", "fixed_count", "fullname", "greenlet", "group", "host", "insecure", "json", "max_redirects",
    "max_retries", "max_wait", "min_wait", "network_timeout", "on_start", "on_stop", "proxy_host", "proxy_port",
    "rest", "rest_", "run", "ssl_context_factory", "start", "stop", "tasks", "wait", "wait_function",
    "wait_time", "weight",
})
PY_FILE_NAMES = frozenset({
    "self", "task", "between", "constant", "random", "time", "locust", "install_recorder", "resolve_target",
    "has_json_path", "lacks_json_path", "json_path_equals", "crossload_locust", "crossload_recorder",
    # journeys: the methods a Journey task set has besides its steps
    "setup", "send", "end_iteration", "journey", "data", "vars", "interrupt", "user", "parent", "schedule_task",
    "execute_task", "execute_next_task", "get_next_task", "wait", "teardown", "tear_down", "state",
})
PY_RESERVED = frozenset(keyword.kwlist) | frozenset(keyword.softkwlist) | PY_USER_ATTRIBUTES | PY_FILE_NAMES

JS_KEYWORDS = frozenset((
    "arguments", "as", "async", "await", "break", "case", "catch", "class", "const", "continue", "debugger",
    "default", "delete", "do", "else", "enum", "eval", "export", "extends", "false", "finally", "for", "from",
    "function", "get", "if", "implements", "import", "in", "instanceof", "interface", "let", "new", "null", "of",
    "package", "private", "protected", "public", "return", "set", "static", "super", "switch", "this", "throw",
    "true", "try", "typeof", "var", "void", "while", "with", "yield", "undefined", "NaN", "Infinity",
))
JS_GLOBALS = frozenset((
    "globalThis", "console", "open", "require", "module", "exports", "Math", "JSON", "Object", "Array", "String",
    "Number", "Boolean", "Date", "Error", "RegExp", "Symbol", "Map", "Set", "WeakMap", "Promise", "Proxy",
    "Reflect", "parseInt", "parseFloat", "isNaN", "isFinite", "encodeURI", "encodeURIComponent", "decodeURI",
    "decodeURIComponent", "setTimeout", "setInterval", "clearTimeout", "clearInterval", "__ENV", "__VU", "__ITER",
))
# Imports and top-level names of the rendered script, and the functions k6 itself looks for.
JS_FILE_NAMES = frozenset((
    "http", "check", "sleep", "options", "defaults", "requests", "prepare", "countFailedCheck", "countRedirectStop",
    "nextPage", "url", "page", "hasJsonPath", "lacksJsonPath", "jsonPathEquals", "setup", "teardown", "handleSummary",
    "req", "res", "r", "pick", "statusOk", "bodyChecks",
    # journeys
    "group", "SharedArray", "data", "steps", "vars", "setupDone", "step", "fill", "draw", "extract", "ok",
    "userTeardown",
    "headerCheck", "holds", "timedGroup", "round",
    # WebSocket steps
    "wsStep", "wsSession",
))
JS_RESERVED = JS_KEYWORDS | JS_GLOBALS | JS_FILE_NAMES

_WORD = re.compile(r"[A-Za-z0-9]+")


def py_identifier(name: str) -> str | None:
    """``item detail`` -> ``item_detail``; None when the name has no ASCII letter or digit."""
    ident = "_".join(w.lower() for w in _WORD.findall(name))[:IDENTIFIER_MAX_CHARS].strip("_")
    if not ident:
        return None
    if ident[0].isdigit():
        ident = "request_" + ident
    if ident in PY_RESERVED:
        ident += "_request"
    return ident


def js_identifier(name: str) -> str | None:
    """``item detail`` -> ``itemDetail``; None when the name has no ASCII letter or digit."""
    words: list[str] = _WORD.findall(name)
    if not words:
        return None
    first = words[0].lower() if words[0].isupper() else words[0][0].lower() + words[0][1:]
    ident = (first + "".join(w[0].upper() + w[1:] for w in words[1:]))[:IDENTIFIER_MAX_CHARS]
    if ident[0].isdigit():
        ident = "request" + ident
    if ident in JS_RESERVED:
        ident += "Request"
    return ident


def unique_identifiers(names: Iterable[str], derive: Callable[[str], str | None], reserved: frozenset[str],
                       separator: str, fallback: str = "request_") -> list[str]:
    """One identifier per name, in order: derived from the name, else ``request_N``; repeats numbered."""
    used: set[str] = set()
    out = []
    for i, name in enumerate(names, start=1):
        base = derive(name) or f"{fallback}{i}"
        ident = base
        n = 2
        while ident in used or ident in reserved:
            ident = f"{base}{separator}{n}"
            n += 1
        used.add(ident)
        out.append(ident)
    return out


def py_class_name(name: str) -> str | None:
    """``look around`` -> ``LookAroundJourney``; None when the name has no ASCII letter or digit."""
    words: list[str] = _WORD.findall(name)
    if not words:
        return None
    ident = "".join(w[0].upper() + w[1:] for w in words)[:IDENTIFIER_MAX_CHARS]
    if ident[0].isdigit():
        ident = "J" + ident
    return ident + "Journey"


# --- checks -----------------------------------------------------------------------------------------------


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _quoted(text: str) -> str:
    """Text in a label: double-quoted, or single-quoted when it holds double quotes only (``'"id"'``)."""
    text = _shorten(text, LABEL_VALUE_CHARS)
    dumped = json.dumps(text, ensure_ascii=False)
    if '"' in text and "'" not in text:
        return "'" + dumped[1:-1].replace('\\"', '"') + "'"
    return dumped


_NAME_STEP = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


def json_path_text(steps: Iterable[str | int]) -> str:
    """The canonical written form of a JSON path: ``$.items[0].id``, ``$["content-type"]``."""
    out = "$"
    for step in steps:
        if isinstance(step, int):
            out += f"[{step}]"
        elif _NAME_STEP.match(step):
            out += "." + step
        else:
            out += "[" + json.dumps(step, ensure_ascii=False) + "]"
    return out


def status_label(statuses: Iterable[int]) -> str:
    codes = list(statuses)
    if not codes:
        return "status is 2xx or 3xx"
    if len(codes) == 1:
        return f"status is {codes[0]}"
    return "status in [" + ", ".join(str(c) for c in codes) + "]"


def json_check_label(check: JsonCheck) -> str:
    path = json_path_text(check.steps)
    if check.has_equals:
        value = check.equals
        shown = _quoted(value) if isinstance(value, str) else _shorten(
            json.dumps(value, ensure_ascii=False, separators=(", ", ": ")), LABEL_VALUE_CHARS)
        return _shorten(f"{path} == {shown}", LABEL_MAX_CHARS)
    if check.exists is False:
        return _shorten(f"{path} is absent", LABEL_MAX_CHARS)
    return _shorten(f"{path} exists", LABEL_MAX_CHARS)


@dataclass(frozen=True)
class CheckCode:
    """One check: its label (shown by k6, reported by both tools) and its callback in each language."""

    label: str
    js: str
    py: str = ""  # the Locust file judges the status from its expected_statuses list
    header: list[Any] | None = None  # a header check: [name, op, value] for the Locust support module


def status_check(statuses: tuple[int, ...]) -> CheckCode:
    if not statuses:
        js = "(r) => r.status >= 200 && r.status < 400"
    elif len(statuses) == 1:
        js = f"(r) => r.status === {statuses[0]}"
    else:
        js = f"(r) => {js_inline(list(statuses))}.includes(r.status)"
    return CheckCode(status_label(statuses), js)


_HEADER_OPS = {"equals": "==", "at_least": ">=", "at_most": "<="}


def header_check_label(c: HeaderCheck) -> str:
    if c.op == "exists":
        return _shorten(f"header {c.name} {'exists' if c.value else 'is absent'}", LABEL_MAX_CHARS)
    shown = _quoted(str(c.value)) if c.op == "equals" else number_text(float(c.value))
    return _shorten(f"header {c.name} {_HEADER_OPS[c.op]} {shown}", LABEL_MAX_CHARS)


def header_check_spec(c: HeaderCheck) -> list[Any]:
    """What the support modules' header check reads: [name, op, value]."""
    value = c.value if c.op in ("exists", "equals") else float(number_text(float(c.value)))
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        value = int(value)
    return [c.name, c.op, value]


def body_checks(checks: Checks) -> list[CheckCode]:
    """The response checks after the status, in the order they are judged (headers, texts, then JSON), with
    unique labels. (Header checks, in the Locust file, are data: see ``CheckCode.header``.)"""
    out: list[CheckCode] = []
    for hc in checks.headers:
        spec = header_check_spec(hc)
        out.append(CheckCode(header_check_label(hc), f"(r) => headerCheck(r, {js_inline(spec)[1:-1]})",
                             header=spec))
    for needle in checks.body_contains:
        out.append(CheckCode(f"body contains {_quoted(needle)}", f"(r) => r.body.includes({js_string(needle)})",
                             f"lambda body: {needle!a} in body"))
    for c in checks.json:
        js_steps, py_steps = js_inline(list(c.steps)), py_inline(list(c.steps))
        if c.has_equals:
            js = f"(r) => jsonPathEquals(r, {js_steps}, {js_inline(c.equals)})"
            py = f"lambda body: json_path_equals(body, {py_steps}, {py_inline(c.equals)})"
        elif c.exists is False:
            js = f"(r) => lacksJsonPath(r, {js_steps})"
            py = f"lambda body: lacks_json_path(body, {py_steps})"
        else:
            js = f"(r) => hasJsonPath(r, {js_steps})"
            py = f"lambda body: has_json_path(body, {py_steps})"
        out.append(CheckCode(json_check_label(c), js, py))
    return _unique_labels(out)


def extraction_label(e: Extraction) -> str:
    if e.source == "json":
        return _shorten(f"extract {e.var} from {json_path_text(e.steps)}", LABEL_MAX_CHARS)
    if e.source == "header":
        return _shorten(f"extract {e.var} from header {e.header}", LABEL_MAX_CHARS)
    if e.source == "cookie":
        return _shorten(f"extract {e.var} from cookie {e.cookie}", LABEL_MAX_CHARS)
    return _shorten(f"extract {e.var} from regex {_quoted(e.pattern)}", LABEL_MAX_CHARS)


def extraction_spec(e: Extraction) -> dict[str, Any]:
    """What the support modules' extract() reads: {json: steps}, {header: name}, {regex: pattern} or
    {cookie: name}."""
    if e.source == "json":
        return {"json": list(e.steps)}
    if e.source == "header":
        return {"header": e.header}
    if e.source == "cookie":
        return {"cookie": e.cookie}
    return {"regex": e.pattern}


def step_checks(r: Request) -> tuple[list[CheckCode], list[dict[str, Any]]]:
    """A journey step's body checks, then its extractions (each judged like a check: a value that is not
    there fails the step), with labels unique over both; and the extractions as {label, var, spec}."""
    checks = body_checks(r.checks)
    extracts = [CheckCode(extraction_label(e), f"(r) => extract(r, vars, {js_string(e.var)}, "
                                               f"{js_inline(extraction_spec(e))})")
                for e in r.extract]
    labelled = _unique_labels([*checks, *extracts])
    views = [{"label": c.label, "var": e.var, "spec": extraction_spec(e)}
             for c, e in zip(labelled[len(checks):], r.extract, strict=True)]
    return labelled, views


def _unique_labels(out: list[CheckCode]) -> list[CheckCode]:
    seen: set[str] = set()
    unique = []
    for check in out:
        label = check.label
        n = 2
        while label in seen:
            label = f"{check.label} ({n})"
            n += 1
        seen.add(label)
        unique.append(CheckCode(label, check.js, check.py, check.header))
    return unique


# --- thresholds -------------------------------------------------------------------------------------------

_K6_LATENCY = {"avg": "avg", "p50": "med", "p90": "p(90)", "p95": "p(95)", "p99": "p(99)", "max": "max"}
# k6 splits a threshold's tag filter on "," and ":", looks for "{" and "}", and trims spaces and quotes from
# each value (metrics.ParseMetricName and Metric.AddSubmetric): a name with any of these cannot be selected.
_K6_TAG_UNSAFE = frozenset(",:{}\"'`")


def k6_tag_value_ok(value: str) -> bool:
    return (bool(value) and value == value.strip() and not any(c in _K6_TAG_UNSAFE for c in value)
            and all(c.isprintable() for c in value))


@dataclass(frozen=True)
class K6Thresholds:
    # metric (with tag filter) -> expressions: a text, or {threshold, abortOnFail, delayAbortEval} for an
    # early-stop criterion
    entries: tuple[tuple[str, tuple[str | dict[str, object], ...]], ...]
    left_out: tuple[str, ...]


def ws_rows(scenario: Scenario) -> dict[str, str]:
    """The rows of the scenario's WebSocket steps: name -> ``connect`` (a handshake, k6's ws_connecting),
    ``expect`` (a round trip, the script's crossload_ws) or ``count`` (messages sent or received)."""
    out: dict[str, str] = {}
    for r in scenario.all_requests:
        if r.ws is not None:
            out.update(dict.fromkeys(r.result_names, "count"))
            out[r.name] = "connect"
            out.update((e.name, "expect") for e in r.ws.expects)
    return out


def special_rows(scenario: Scenario) -> dict[str, str]:
    """``ws_rows``, and the groups of journeys: name -> ``group`` (a group's wall time, the script's
    crossload_group)."""
    out = ws_rows(scenario)
    out.update((i.name, "group") for j in scenario.journeys for i in j.items if isinstance(i, Group))
    return out


def k6_thresholds(thresholds: Iterable[Threshold], ws: dict[str, str] | None = None) -> K6Thresholds:
    """The scenario's thresholds as k6 ``options.thresholds``: metric (with tag filter) -> expressions.
    ``ws``: the rows of WebSocket steps and groups (``special_rows``), whose latencies k6 keeps in metrics of
    their own."""
    entries: dict[str, list[str | dict[str, object]]] = {}
    left_out: list[str] = []
    ws = ws or {}
    for t in thresholds:
        if t.metric in TARGET_METRICS:
            left_out.append(f"'{t.text}': the target's resources, judged by crossload only")
            continue
        kind = ws.get(t.request) if t.request is not None else None
        if kind is not None and (kind == "count" or t.metric not in _K6_LATENCY):
            row = "a group's row" if kind == "group" else "a WebSocket step's row"
            left_out.append(f"'{t.text}' on {t.request!r}: {row}, judged by crossload only")
            continue
        if t.request is not None and not k6_tag_value_ok(t.request):
            left_out.append(f"'{t.text}' on request {t.request!r}: judged by crossload only (k6 cannot select a "
                            "name with , : { } or quotes)")
            continue
        tags = [f"name:{t.request}"] if t.request is not None else []
        if kind is not None:
            # A handshake that succeeded (status 101); an expect or a group, failed ones included (k6 cannot
            # select on a missing cause tag).
            metric = {"connect": "ws_connecting", "group": "crossload_group"}.get(kind, "crossload_ws")
            if kind == "connect":
                tags.append("status:101")
            expression = f"{_K6_LATENCY[t.metric]}{t.op}{number_text(t.value)}"
        elif t.metric in _K6_LATENCY:
            metric = "http_req_duration"
            tags.append("expected_response:true")
            expression = f"{_K6_LATENCY[t.metric]}{t.op}{number_text(t.value)}"
        elif t.metric == "error_rate":
            metric = "http_req_failed"
            expression = f"rate{t.op}{number_text(t.value / 100.0)}"
        else:
            metric = "http_reqs"
            expression = f"rate{t.op}{number_text(t.value)}"
        key = metric + ("{" + ",".join(tags) + "}" if tags else "")
        exprs = entries.setdefault(key, [])
        entry: str | dict[str, object] = expression
        if t.abort and t.window_s is None:
            # k6 judges it on everything since the start, every few seconds, after the grace period.
            entry = {"threshold": expression, "abortOnFail": True}
            if t.grace_s:
                entry["delayAbortEval"] = format_duration_ms(t.grace_s * 1000)
        elif t.abort and t.window_s is not None:
            left_out.append(f"'{t.text}' stops the run early when it fails over the last "
                            f"{format_duration_ms(t.window_s * 1000)}: crossload judges that while the run goes on "
                            "(k6 has no windows)")
        if entry not in exprs:
            exprs.append(entry)
    return K6Thresholds(tuple((k, tuple(v)) for k, v in entries.items()), tuple(left_out))


# --- view models ------------------------------------------------------------------------------------------


def basic_auth_of(scenario: Scenario, r: Request) -> list[str] | None:
    """[user, password] when the request authenticates with basic auth (its own, else the default one unless
    the request sets an Authorization header): the tool computes the header, so a ${VAR} is never resolved
    into a rendered file."""
    auth = r.auth
    if auth is None and not any(k.lower() == "authorization" for k, _ in r.headers):
        auth = scenario.defaults.auth
    return [auth.user, auth.password] if auth is not None and auth.scheme == "basic" else None


def merged_headers(scenario: Scenario, r: Request) -> dict[str, str]:
    """Default headers (and default bearer auth), then the request's (replacing a default of the same name,
    any letter case; its auth replaces an Authorization header), then the Content-Type a body implies when
    neither sets one. Basic auth is not a header here: see basic_auth_of."""
    headers: dict[str, str] = dict(scenario.defaults.headers)
    if scenario.defaults.compression is not None:
        headers["Accept-Encoding"] = COMPRESSION[scenario.defaults.compression]
    own: list[tuple[str, str]] = list(r.headers)
    default_auth = scenario.defaults.auth
    if default_auth is not None and default_auth.scheme == "bearer":
        headers["Authorization"] = "Bearer " + default_auth.token
    if r.auth is not None or (default_auth is not None and default_auth.scheme == "basic"):
        headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
    if r.auth is not None:
        own = [(k, v) for k, v in own if k.lower() != "authorization"]
        if r.auth.scheme == "bearer":
            own.append(("Authorization", "Bearer " + r.auth.token))
    for key, value in own:
        for existing in [h for h in headers if h.lower() == key.lower()]:
            del headers[existing]
        headers[key] = value
    if r.compression is not None:
        headers = {k: v for k, v in headers.items() if k.lower() != "accept-encoding"}
        headers["Accept-Encoding"] = COMPRESSION[r.compression]
    if not any(h.lower() == "content-type" for h in headers):
        if r.has_json_body:
            headers["Content-Type"] = JSON_CONTENT_TYPE
        elif r.raw_body is not None:
            headers["Content-Type"] = TEXT_CONTENT_TYPE
    return headers


def think_of(scenario: Scenario, r: Request) -> tuple[float, float]:
    think = r.think_time or scenario.defaults.think_time
    return (think.min_s, think.max_s)


def _duration_text(ms: int) -> str:
    return f"{ms // 1000}s" if ms % 1000 == 0 else f"{ms}ms"


def _seconds_text(s: float) -> str:
    """A think time as a person writes it: ``200ms``, ``1s``, ``1.5s``."""
    ms = round(s * 1000)
    return f"{number_text(ms / 1000)}s" if ms >= 1000 else f"{ms}ms"


def _think_view(think: tuple[float, float]) -> dict[str, Any] | None:
    lo, hi = think
    if hi <= 0:
        return None
    return {"min": lo, "max": hi, "width": float(number_text(hi - lo)), "constant": lo == hi,
            "text": _seconds_text(lo) if lo == hi else f"{_seconds_text(lo)} to {_seconds_text(hi)}"}


def _common(scenario: Scenario, schedule: StageSchedule, target: str) -> dict[str, Any]:
    thinks = {think_of(scenario, r) for r in scenario.requests}
    # A journey thinks after each of its steps: the single requests then think after themselves too. In the
    # open model the think time stays inside the iteration in both tools (Locust's wait_time paces instead).
    shared = (next(iter(thinks)) if len(thinks) == 1 and not scenario.journeys and schedule.open is None
              else None)
    return {
        "version": __version__,
        "scenario_name": scenario.name,
        "profile": schedule.profile,
        "target": target,
        "timeout_s": user_timeout_s(scenario),
        "verify_tls": scenario.defaults.verify_tls,
        "ca_file": Path(scenario.defaults.ca_file).name if scenario.defaults.ca_file else "",
        "shared_think": _think_view(shared) if shared else None,
        "per_request_think": shared is None,
        "total_weight": sum(r.weight for r in scenario.requests) + sum(j.weight for j in scenario.journeys),
    }


def user_timeout_s(scenario: Scenario) -> float:
    """The timeouts of Locust's user class (connect, and each read): the longest timeout of any request. A
    request with a shorter one is cut by its own timer, on the whole request as k6's timeout is."""
    return max([scenario.defaults.timeout_s]
               + [r.timeout_s for r in scenario.all_requests if r.timeout_s is not None and r.ws is None])


def _request_common(scenario: Scenario, r: Request) -> dict[str, Any]:
    own = timeout_of(scenario.defaults, r)
    view: dict[str, Any] = {
        "name": r.name,
        "method": r.method,
        "path": r.path,
        "query": [list(kv) for kv in r.query],
        "headers": merged_headers(scenario, r),
        "basic_auth": basic_auth_of(scenario, r),
        "reads_body": r.checks.reads_body or any(e.source not in ("header", "cookie") for e in r.extract)
        or (r.paginate is not None and bool(r.paginate.steps)),
        "weight": r.weight,
        "statuses": list(r.checks.status),
        "status_check": status_check(r.checks.status),
        "body_checks": body_checks(r.checks),
        "think": _think_view(think_of(scenario, r)),
        "has_json": r.has_json_body,
        "json": r.json_body,
        "body": r.raw_body,
        "summary": f"{r.method} {r.path}",
        "ws": None,
        "timeout": _duration_text(round(r.timeout_s * 1000))
        if r.timeout_s is not None and r.timeout_s != scenario.defaults.timeout_s else None,
        "timer": own if own < user_timeout_s(scenario) else None,
    }
    redirects = redirects_of(scenario.defaults, r)
    view["redirects"] = redirects or None
    # With its statuses listed, a request that follows redirects accepts the redirect statuses too: k6's
    # responseCallback judges every hop, and a hop is not a failure. A redirect that is the final response
    # fails the status check instead (counted by countRedirectStop).
    view["callback_statuses"] = list(r.checks.status)
    view["redirect_stop"] = None
    if redirects and r.checks.status:
        view["callback_statuses"] += [c for c in REDIRECT_STATUSES if c not in r.checks.status]
        view["redirect_stop"] = view["status_check"].label
    return view


_K6_CALLS = {
    "GET": "http.get(req.url, req.params)",
    "HEAD": "http.head(req.url, req.params)",
    "POST": "http.post(req.url, req.body, req.params)",
    "PUT": "http.put(req.url, req.body, req.params)",
    "PATCH": "http.patch(req.url, req.body, req.params)",
    "DELETE": "http.del(req.url, req.body, req.params)",
    "OPTIONS": "http.options(req.url, req.body, req.params)",
}


def data_view(d: DataSource) -> dict[str, Any]:
    """A data source as the support modules' draw() reads it (the same literal in both tools)."""
    if d.kind == "file":
        return {"file": d.file, "order": d.order, "per": d.per}
    spec: dict[str, Any] = {"generate": d.kind}
    if d.kind == "integer":
        spec.update(min=d.minimum, max=d.maximum)
    elif d.kind == "choice":
        spec["values"] = list(d.values)
    elif d.kind == "timestamp":
        spec["format"] = d.time_format
    spec["per"] = d.per
    return spec


def _data_views(scenario: Scenario) -> list[dict[str, Any]]:
    return [{"name": d.name, "spec": data_view(d), "rows": [dict(r) for r in d.rows] if d.kind == "file" else None,
             "comment": f"rows of {d.file}" if d.kind == "file" else d.kind}
            for d in scenario.data]


def ws_view(scenario: Scenario, r: Request) -> dict[str, Any] | None:
    """A WebSocket step as both support modules read it (the same literal in both tools): url,
    subprotocols, and actions ({send: {text|json|binary: ...}}, {expect: {...}}, {hold: ms})."""
    if r.ws is None:
        return None
    actions: list[dict[str, Any]] = []
    for a in r.ws.actions:
        if isinstance(a, WsSend):
            actions.append({"send": {a.kind: a.value}})
        elif isinstance(a, WsHold):
            actions.append({"hold": round(a.duration_s * 1000)})
        elif isinstance(a, WsExpect):
            e: dict[str, Any] = {"name": a.name, "timeout": round(a.timeout_s * 1000)}
            if a.json_steps is not None:
                e["json"] = list(a.json_steps)
                if a.has_equals:
                    e["equals"] = a.equals
            if a.regex is not None:
                e["regex"] = a.regex
            if a.extract:
                labels = _unique_labels([CheckCode(extraction_label(x), "") for x in a.extract])
                e["extract"] = [[c.label, x.var, extraction_spec(x)] for c, x in zip(labels, a.extract, strict=True)]
            actions.append({"expect": e})
    return {"url": r.path, "subprotocols": list(r.ws.subprotocols), "actions": actions,
            "timeout": scenario.defaults.timeout_s}


def _step_view(scenario: Scenario, r: Request, ident: str, where: str) -> dict[str, Any]:
    if r.condition is not None:
        where += ", " + r.condition.describe()
    view = _request_common(scenario, r)
    view["ws"] = ws_view(scenario, r)
    checks, extracts = step_checks(r)
    user_checks = checks[: len(checks) - len(extracts)]
    view["paginate"] = paginate_view(r)
    if view["paginate"] is not None:
        view["summary"] += ", " + view["paginate"]["text"]
    view.update(ident=ident, where=where, body_checks=checks, extracts=extracts,
                user_checks=[c for c in user_checks if c.header is None],
                header_checks=[c for c in user_checks if c.header is not None],
                condition=r.condition.spec() if r.condition is not None else None)
    return view


def paginate_view(r: Request) -> dict[str, Any] | None:
    """A paginated step's next-page rule as both support modules read it ({link: rel} or {json: steps}), its
    page limit, and how it reads."""
    p = r.paginate
    if p is None:
        return None
    if p.link:
        spec: dict[str, Any] = {"link": p.link}
        how = f"Link rel={p.link}"
    else:
        spec = {"json": list(p.steps)}
        how = f"the URL at {p.path}"
    return {"spec": spec, "max_pages": p.max_pages, "text": f"then each next page ({how}), {p.max_pages} pages at most"}


def _uses_conditions(journeys: list[dict[str, Any]]) -> bool:
    return any(item.get("condition") or item.get("until") or any(st["condition"] for st in item["steps"])
               for j in journeys for item in j["items"])


def _journey_views(scenario: Scenario, step_ident: Callable[[Request], str],
                   group_ident: Callable[[str], str] | None = None) -> list[dict[str, Any]]:
    """Each journey: its setup steps, then its items (a step, or a group of steps), as views."""
    out = []
    for j in scenario.journeys:
        setup = [_step_view(scenario, r, step_ident(r), f"setup of {j.name}") for r in j.setup]
        teardown = [_step_view(scenario, r, step_ident(r), f"teardown of {j.name}") for r in j.teardown]
        items: list[dict[str, Any]] = []
        for item in j.items:
            if isinstance(item, Group):
                steps = [_step_view(scenario, r, step_ident(r), f"{j.name}, group {item.name}") for r in item.steps]
                summary = ", ".join(s["name"] for s in steps)
                if item.condition is not None:
                    summary += ", " + item.condition.describe()
                if item.repeat > 1:
                    summary += f", {item.repeat} times"
                    if item.index:
                        summary += f" ({item.index} = 1 to {item.repeat})"
                    if item.until is not None:
                        summary += ", until " + item.until.describe()[3:]
                items.append({"group": item.name, "steps": steps,
                              "ident": group_ident(item.name) if group_ident else "",
                              "condition": item.condition.spec() if item.condition is not None else None,
                              "repeat": item.repeat, "index": item.index, "summary": summary,
                              "loop": item.repeat > 1 or item.index is not None or item.until is not None,
                              "until": item.until.spec() if item.until is not None else None})
            else:
                items.append({"group": None, "steps": [_step_view(scenario, item, step_ident(item), j.name)]})
        words = [s["name"] for s in setup]
        summary = (f"{', '.join(words)} once per user, then each iteration: " if words else "each iteration: ") + \
            ", ".join(f"group '{i['group']}'" if i["group"] else i["steps"][0]["name"] for i in items)
        if teardown:
            summary += "; " + ", ".join(s["name"] for s in teardown) + " once per user when the load ends"
        out.append({"name": j.name, "weight": j.weight, "setup": setup, "items": items, "data": list(j.data),
                    "summary": summary, "teardown": teardown})
    return out


def _journey_request_names(journeys: Iterable[Journey]) -> list[Request]:
    return [r for j in journeys for r in j.steps]


def k6_view(scenario: Scenario, schedule: StageSchedule, target: str) -> dict[str, Any]:
    """Everything the k6 template prints."""
    view = _common(scenario, schedule, target)
    idents = unique_identifiers((r.name for r in scenario.requests), js_identifier, JS_RESERVED, "")
    requests = []
    cumulative = 0
    helpers = {"prepare"}
    for r, ident in zip(scenario.requests, idents, strict=True):
        req = _request_common(scenario, r)
        cumulative += r.weight
        req.update(ident=ident, call=_K6_CALLS[r.method], upper_bound=cumulative)
        if req["redirect_stop"]:
            helpers.add("countRedirectStop")
        for check in req["body_checks"]:
            helpers.add("countFailedCheck")
            helpers.update(h for h in ("hasJsonPath", "lacksJsonPath", "jsonPathEquals", "headerCheck")
                           if h + "(" in check.js)
        requests.append(req)
    step_requests = _journey_request_names(scenario.journeys)
    all_idents = unique_identifiers([*(r.name for r in scenario.requests), *(r.name for r in step_requests)],
                                    js_identifier, JS_RESERVED, "")
    step_idents = dict(zip((id(r) for r in step_requests), all_idents[len(scenario.requests):], strict=True))
    journeys = _journey_views(scenario, lambda r: step_idents[id(r)])
    journey_idents = unique_identifiers([j.name for j in scenario.journeys], js_identifier,
                                        JS_RESERVED | frozenset(all_idents), "", "journey")
    for j, ident in zip(journeys, journey_idents, strict=True):
        cumulative += j["weight"]
        j.update(ident=ident, upper_bound=cumulative)
        for st in [*j["setup"], *(s for item in j["items"] for s in item["steps"]), *j["teardown"]]:
            if st["ws"] is not None:
                helpers.update(("wsStep", "wsSession"))
                continue
            st["call"] = _K6_CALLS[st["method"]]
            if st["redirect_stop"]:
                helpers.add("countRedirectStop")
            if st["paginate"]:
                helpers.add("nextPage")
            if st["body_checks"]:
                helpers.add("countFailedCheck")
            helpers.update(h for h in ("hasJsonPath", "lacksJsonPath", "jsonPathEquals", "extract", "headerCheck")
                           for c in st["body_checks"] if h + "(" in c.js)
    if journeys:
        helpers.update(("step", "fill"))
        if any(item["group"] is not None for j in journeys for item in j["items"]):
            helpers.add("timedGroup")
        if _uses_conditions(journeys):
            helpers.add("holds")
        if not requests:
            helpers.discard("prepare")
    if scenario.data:
        helpers.add("draw")
    picks = [*({"kind": "request", **r} for r in requests), *({"kind": "journey", **j} for j in journeys)]
    timeout_ms = round(scenario.defaults.timeout_s * 1000)
    view.update(
        requests=requests,
        journeys=journeys,
        picks=picks,
        data=_data_views(scenario),
        shared_array=any(d.kind == "file" for d in scenario.data),
        helpers=sorted(helpers),
        uses_sleep=any(req["think"] for req in requests) or any(
            s["think"] for j in journeys
            for s in [*j["setup"], *(x for i in j["items"] for x in i["steps"]), *j["teardown"]]),
        stages=[{"duration": _duration_text(round(s.duration_s * 1000)), "target": s.users} for s in schedule.stages],
        arrival=_k6_arrival(schedule),
        graceful_stop=f"{scenario.inflight_s}s",  # what Locust's --stop-timeout waits, too (and the teardown)
        teardown=_k6_teardown(scenario, schedule),
        timeout=None if timeout_ms == K6_DEFAULT_TIMEOUT_MS else _duration_text(timeout_ms),
        thresholds=k6_thresholds(scenario.all_thresholds, special_rows(scenario)),
        system_tags=list(K6_SYSTEM_TAGS),
    )
    return view


def _k6_teardown(scenario: Scenario, schedule: StageSchedule) -> dict[str, Any] | None:
    """The follow-up scenario that runs the journeys' teardowns: every VU of the load, once, when the load
    (its graceful stop included) has ended, so that k6 hands it the VUs that ran the load, with their values
    (scenarios that overlap in time get VUs of their own)."""
    if not any(j.teardown for j in scenario.journeys):
        return None
    if schedule.open is not None:
        stages_ms = sum(round(s.duration_s * 1000) for s in schedule.open.rates)
        vus = schedule.open.max_users
    else:
        stages_ms = sum(round(s.duration_s * 1000) for s in schedule.stages)
        vus = schedule.peak_users
    return {"vus": vus, "start": _duration_text(stages_ms + scenario.inflight_s * 1000),
            "max_duration": f"{scenario.teardown_s + 1}s"}


def _k6_arrival(schedule: StageSchedule) -> dict[str, Any] | None:
    """ramping-arrival-rate options: whole iterations per second, or per minute when a rate needs it."""
    if schedule.open is None:
        return None
    rates = [s.rate for s in schedule.open.rates]
    per_second = all(abs(r - round(r)) < 1e-9 for r in rates)
    scale = 1 if per_second else 60
    return {
        "time_unit": "1s" if per_second else "1m",
        "unit_name": "second" if per_second else "minute",
        "max_users": schedule.open.max_users,
        "stages": [{"duration": _duration_text(round(s.duration_s * 1000)), "target": round(s.rate * scale)}
                   for s in schedule.open.rates],
    }


def locust_view(scenario: Scenario, schedule: StageSchedule, target: str) -> dict[str, Any]:
    """Everything the Locust template prints."""
    view = _common(scenario, schedule, target)
    idents = unique_identifiers((r.name for r in scenario.requests), py_identifier, PY_RESERVED, "_")
    requests = []
    helpers = {"Request", "StageShape", "resolve_target"}
    if scenario.defaults.ca_file:
        helpers.add("TrustedCa")
    for r, ident in zip(scenario.requests, idents, strict=True):
        req = _request_common(scenario, r)
        req.update(ident=ident, constant=ident.upper(), docstring=py_docstring(req["summary"]),
                   header_checks=[c for c in req["body_checks"] if c.header is not None],
                   text_checks=[c for c in req["body_checks"] if c.header is None])
        for check in req["body_checks"]:
            helpers.update(h for h in ("has_json_path", "lacks_json_path", "json_path_equals") if h + "(" in check.py)
        requests.append(req)
    step_requests = _journey_request_names(scenario.journeys)
    all_idents = unique_identifiers([*(r.name for r in scenario.requests), *(r.name for r in step_requests)],
                                    py_identifier, PY_RESERVED, "_")
    step_idents = dict(zip((id(r) for r in step_requests), all_idents[len(scenario.requests):], strict=True))
    group_names = [i.name for j in scenario.journeys for i in j.items if isinstance(i, Group)]
    group_idents = iter(unique_identifiers(group_names, py_identifier, PY_RESERVED | frozenset(all_idents), "_",
                                           "group_"))
    journeys = _journey_views(scenario, lambda r: step_idents[id(r)], lambda _name: next(group_idents))
    class_names = unique_identifiers([j.name for j in scenario.journeys], py_class_name,
                                     frozenset({"ScenarioUser", "ScenarioShape", "Journey", "Request", "Step"}), "",
                                     "Journey")
    for j, ident in zip(journeys, class_names, strict=True):
        j.update(ident=ident, docstring=py_docstring(f"Journey '{j['name']}': {j['summary']}."))
        for st in [*j["setup"], *(s for item in j["items"] for s in item["steps"]), *j["teardown"]]:
            st.update(constant=st["ident"].upper(), docstring=py_docstring(st["summary"]))
            helpers.update(h for h in ("has_json_path", "lacks_json_path", "json_path_equals")
                           for c in st["user_checks"] if h + "(" in c.py)
        for item in j["items"]:
            if item["group"] is not None:
                item["docstring"] = py_docstring(f"Group '{item['group']}': {item['summary']}.")
    steps = [s for j in journeys for s in [*j["setup"], *(x for i in j["items"] for x in i["steps"]), *j["teardown"]]]
    if journeys:
        helpers.update(("Journey",))
        if any(j["teardown"] for j in journeys):
            helpers.add("tear_down")
        if _uses_conditions(journeys):
            helpers.add("holds")
        if any(s["ws"] is None for s in steps):
            helpers.add("Step")
        if not requests:
            helpers.discard("Request")
    shared = view["shared_think"]
    if schedule.open is not None:
        helpers.add("wait_arrival_phase")
        pacing = py_literal(round(schedule.open.pacing_s, 6))
        wait_function, wait_call = "constant_pacing", f"constant_pacing({pacing})"
    elif shared is None:
        wait_function, wait_call = "constant", "constant(0)"
    elif shared["constant"]:
        wait_function, wait_call = "constant", f"constant({py_literal(shared['min'])})"
    else:
        wait_function, wait_call = "between", f"between({py_literal(shared['min'])}, {py_literal(shared['max'])})"
    view.update(
        requests=requests,
        journeys=journeys,
        data=_data_views(scenario),
        helpers=sorted(helpers, key=lambda h: (not h[0].isupper(), h)),
        wait_function=wait_function,
        wait_call=wait_call,
        uses_ws=any(s["ws"] is not None for s in steps),
        uses_sleep=(view["per_request_think"] and any(req["think"] for req in requests)) or any(
            s["think"] for j in journeys
            for s in [*j["setup"], *(x for i in j["items"] for x in i["steps"]), *j["teardown"]]),
        stages=[[s.duration_s, s.users] for s in schedule.stages],
        spawn_rate=float(math.ceil(schedule.max_ramp_rate)),
        arrival=None if schedule.open is None else {"pacing": round(schedule.open.pacing_s, 6),
                                                    "pacing_text": f"{schedule.open.pacing_s:.6g} s"},
    )
    return view


# --- environment and entry points -------------------------------------------------------------------------


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(resource_dir("templates"))),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["py"] = py_literal
    env.filters["pyi"] = py_inline
    env.filters["jsi"] = js_inline
    env.filters["jsprop"] = js_property
    env.filters["js"] = js_literal
    env.filters["jskey"] = js_key
    env.filters["comment"] = comment_text
    env.filters["num"] = number_text
    return env


_ENV: jinja2.Environment | None = None


def environment() -> jinja2.Environment:
    global _ENV
    if _ENV is None:
        _ENV = _environment()
    return _ENV


def render_locust(scenario: Scenario, schedule: StageSchedule, target: str) -> RenderedFile:
    text = environment().get_template(LOCUST_TEMPLATE).render(**locust_view(scenario, schedule, target))
    return RenderedFile("locustfile.py", text,
                        tuple(resource_dir("locust") / name for name in LOCUST_SUPPORT) + _ca_files(scenario))


def render_k6(scenario: Scenario, schedule: StageSchedule, target: str) -> RenderedFile:
    text = environment().get_template(K6_TEMPLATE).render(**k6_view(scenario, schedule, target))
    return RenderedFile("script.js", text, (resource_dir("k6") / K6_SUPPORT, *_ca_files(scenario)))


def _ca_files(scenario: Scenario) -> tuple[Path, ...]:
    """The CA file of tls: {ca: ...}, copied next to the rendered file (both tools read it from there)."""
    return (Path(scenario.defaults.ca_file),) if scenario.defaults.ca_file else ()
