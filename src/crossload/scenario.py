"""The scenario file (YAML, ``version: 1``): typed model, loader and validation.

Validation reads the YAML node tree rather than plain Python values so that every error can name the file,
the line and the field path (``requests[2].checks.status``). Nothing is rendered or sent before a scenario
has passed here. docs/scenario.md is the user's reference for every key below.

Unknown keys are errors, so constructs added later (journeys, data feeders, WebSocket steps, an arrival-rate
load model) arrive as new optional keys without changing the meaning of any file valid today.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import yaml

from crossload import envref
from crossload.errors import Location, ScenarioError
from crossload.units import parse_bytes, parse_duration_ms, parse_percent

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
PROFILE_NAMES = ("smoke", "load", "stress", "spike", "endurance")
LATENCY_METRICS = ("avg", "p50", "p90", "p95", "p99", "max")
# The target's resources while a tool's load ran (crossload.monitor): judged for the whole run, not per request.
TARGET_METRICS = ("target_rss_growth", "target_rss_max", "target_cpu_mean")
THRESHOLD_METRICS = (*LATENCY_METRICS, "error_rate", "rps", *TARGET_METRICS)

JsonValue = Any  # what YAML can express as JSON: dict, list, str, int, float, bool, None

_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_JSON_PATH_PART = re.compile(r"\.?([A-Za-z_][A-Za-z0-9_-]*)|\[(\d+)\]|\[\"([^\"]*)\"\]")
_THRESHOLD = re.compile(r"^\s*([a-z_0-9]+)\s*(<=|>=|<|>)\s*(.+?)\s*$")
_BARE_NUMBER = re.compile(r"^\d+(?:\.\d+)?$")
# Locust expands a task of weight N into N list entries, so weights stay small enough to expand.
MAX_WEIGHT = 10_000
# Bounds the work on a json body or an equals value (YAML aliases can multiply a small file).
MAX_JSON_VALUES = 100_000


@dataclass(frozen=True)
class ThinkTime:
    """Pause after each request, drawn uniformly from [min_s, max_s] seconds."""

    min_s: float
    max_s: float


@dataclass(frozen=True)
class JsonCheck:
    """A check on the JSON response body: the value at ``path`` exists (or not), or equals a value."""

    path: str
    steps: tuple[str | int, ...]
    exists: bool | None = None
    has_equals: bool = False
    equals: JsonValue = None


@dataclass(frozen=True)
class Checks:
    """What makes a response a success. Empty ``status`` means any 2xx or 3xx."""

    status: tuple[int, ...] = ()
    body_contains: tuple[str, ...] = ()
    json: tuple[JsonCheck, ...] = ()

    @property
    def reads_body(self) -> bool:
        return bool(self.body_contains or self.json)


@dataclass(frozen=True)
class Threshold:
    """``metric op value``: latency values in ms, error_rate in percent, rps in requests per second."""

    metric: str
    op: str
    value: float
    text: str
    request: str | None
    location: Location
    # Early stop: when breached during the run (judged on the last ``window_s`` seconds, or on everything
    # since the tool started when None; never in its first ``grace_s`` seconds), the run stops (abort.py).
    abort: bool = False
    grace_s: float = 0.0
    window_s: float | None = None

    def holds(self, measured: float) -> bool:
        if self.op == "<":
            return measured < self.value
        if self.op == "<=":
            return measured <= self.value
        if self.op == ">":
            return measured > self.value
        return measured >= self.value


@dataclass(frozen=True)
class Request:
    """One named HTTP request of the weighted mix that every virtual user loops over."""

    name: str
    method: str
    path: str
    query: tuple[tuple[str, str], ...] = ()
    headers: tuple[tuple[str, str], ...] = ()
    json_body: JsonValue = None
    has_json_body: bool = False
    raw_body: str | None = None
    weight: int = 1
    checks: Checks = field(default_factory=Checks)
    think_time: ThinkTime | None = None
    thresholds: tuple[Threshold, ...] = ()
    location: Location = Location("")  # noqa: RUF009 - Location is frozen


@dataclass(frozen=True)
class Defaults:
    headers: tuple[tuple[str, str], ...] = ()
    timeout_s: float = 30.0
    think_time: ThinkTime = ThinkTime(0.0, 0.0)


@dataclass(frozen=True)
class StageSpec:
    duration_ms: float
    users: int


@dataclass(frozen=True)
class ProfileOverride:
    """Per-profile settings from the scenario file; any field left None keeps the profile's default."""

    users: int | None = None
    duration_ms: float | None = None
    spawn_rate: float | None = None
    stages: tuple[StageSpec, ...] | None = None


@dataclass(frozen=True)
class Scenario:
    path: str
    name: str
    description: str
    target: str | None
    defaults: Defaults
    requests: tuple[Request, ...]
    thresholds: tuple[Threshold, ...]
    profiles: Mapping[str, ProfileOverride]
    lines: Mapping[str, int] = field(default_factory=dict)  # field path -> line in the file

    def line_of(self, where: str) -> int:
        """The line of a field path, or of its nearest enclosing field that has one (0 when unknown)."""
        path = where
        while path:
            if path in self.lines:
                return self.lines[path]
            cut = max(path.rfind("."), path.rfind("["))
            path = path[:cut] if cut > 0 else ""
        return 0

    @property
    def drain_s(self) -> int:
        """Seconds a user may need to finish what it is doing when the load stops: its request's timeout,
        the longest think time, one second of slack; rounded up. Both tools wait this long for requests in
        flight, so every request that reached the server is counted."""
        think = max([self.defaults.think_time.max_s] + [r.think_time.max_s for r in self.requests if r.think_time])
        return math.ceil(self.defaults.timeout_s + think + 1.0)

    @staticmethod
    def default_drain_s() -> int:
        """``drain_s`` of a scenario with default settings."""
        return math.ceil(Defaults().timeout_s + 1.0)

    @property
    def all_thresholds(self) -> tuple[Threshold, ...]:
        out = list(self.thresholds)
        for r in self.requests:
            out.extend(r.thresholds)
        return tuple(out)

    def env_references(self) -> list[tuple[str, str | None, str, int]]:
        """(variable, default, field path, line) for every ``${...}`` reference in the file."""
        found: list[tuple[str, str | None, str, int]] = []

        def visit(value: JsonValue, where: str) -> None:
            if isinstance(value, str):
                for name, default in envref.references(value):
                    found.append((name, default, where, self.line_of(where)))
            elif isinstance(value, dict):
                for k, v in value.items():
                    visit(v, f"{where}.{k}")
            elif isinstance(value, list):
                for i, v in enumerate(value):
                    visit(v, f"{where}[{i}]")

        if self.target:
            visit(self.target, "target")
        for k, v in self.defaults.headers:
            visit(v, f"defaults.headers.{k}")
        for i, r in enumerate(self.requests):
            base = f"requests[{i}]"
            visit(r.path, f"{base}.path")
            for k, v in r.query:
                visit(v, f"{base}.query.{k}")
            for k, v in r.headers:
                visit(v, f"{base}.headers.{k}")
            if r.has_json_body:
                visit(r.json_body, f"{base}.json")
            if r.raw_body is not None:
                visit(r.raw_body, f"{base}.body")
        return found


# --------------------------------------------------------------------------------------------------------
# Loading


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file; raise ScenarioError naming file, line and field on any problem."""
    p = Path(path)
    shown = str(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise ScenarioError(Location(shown), "", "file not found") from None
    except IsADirectoryError:
        raise ScenarioError(Location(shown), "", "is a directory, expected a YAML file") from None
    except OSError as e:
        raise ScenarioError(Location(shown), "", f"cannot be read: {e.strerror}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        problem = f"not UTF-8 text: {e.reason} (byte 0x{data[e.start]:02x} at offset {e.start})"
        raise ScenarioError(Location(shown, line), "", f"{problem}; save the file as UTF-8") from None
    return parse_scenario(text, shown)


def parse_scenario(text: str, file: str) -> Scenario:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark else 0
        problem = e.problem or e.context or "invalid YAML"
        if e.problem and e.context and e.context_mark and e.problem_mark \
                and e.context_mark.line != e.problem_mark.line:
            problem += f" ({e.context} started on line {e.context_mark.line + 1})"
        raise ScenarioError(Location(file, line), "", f"YAML syntax error: {problem}") from None
    except yaml.reader.ReaderError as e:
        line = text.count("\n", 0, e.position) + 1
        problem = f"character #x{e.character:04x} is not allowed in a YAML file"
        raise ScenarioError(Location(file, line), "", f"YAML error: {problem}") from None
    except yaml.YAMLError as e:
        raise ScenarioError(Location(file), "", f"YAML error: {' '.join(str(e).split())}") from None
    if node is None:
        what = "is empty" if not text.strip() else "holds only comments"
        raise ScenarioError(Location(file, 1), "", f"the file {what}; expected a scenario (version: 1, ...)")
    return _ScenarioReader(file).scenario(node)


T = TypeVar("T")
_constructor = yaml.SafeLoader("")


class _ScenarioReader:
    """Walks the YAML node tree; every accessor knows the node's line and the field path."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.lines: dict[str, int] = {}  # field path -> line, for messages about values found later

    # -- primitives ---------------------------------------------------------------------------------------
    def error(self, node: yaml.Node, where: str, message: str) -> ScenarioError:
        return ScenarioError(Location(self.file, node.start_mark.line + 1), where, message)

    def value(self, node: yaml.Node, where: str = "") -> JsonValue:
        if where and where not in self.lines:
            self.lines[where] = node.start_mark.line + 1
        try:
            return _constructor.construct_object(node, deep=True)
        except yaml.constructor.ConstructorError as e:
            mark = e.problem_mark or node.start_mark
            if e.problem and "tag:yaml.org,2002:merge" in e.problem:
                problem = "YAML merge keys (<<) are not supported; write the keys out"
            else:
                problem = f"unsupported YAML value: {e.problem or e}"
            raise ScenarioError(Location(self.file, mark.line + 1), where, problem) from None

    def mapping(self, node: yaml.Node, where: str, allowed: tuple[str, ...]) -> dict[str, yaml.Node]:
        if not isinstance(node, yaml.MappingNode):
            raise self.error(node, where, f"expected a mapping with keys {', '.join(allowed)}")
        out: dict[str, yaml.Node] = {}
        for k, v in node.value:
            key = self.value(k, where)
            if not isinstance(key, str):
                raise self.error(k, where, f"keys must be text, got {key!r}")
            if key in out:
                raise self.error(k, _join(where, key), "duplicate key")
            if key not in allowed:
                hint = difflib.get_close_matches(key, allowed, n=1)
                suggestion = f" (did you mean '{hint[0]}'?)" if hint else ""
                raise self.error(
                    k, _join(where, key), f"unknown key{suggestion}; expected one of {', '.join(allowed)}"
                )
            out[key] = v
        return out

    def free_mapping(self, node: yaml.Node, where: str) -> list[tuple[str, yaml.Node, yaml.Node]]:
        if not isinstance(node, yaml.MappingNode):
            raise self.error(node, where, "expected a mapping of name: value")
        seen: set[str] = set()
        out: list[tuple[str, yaml.Node, yaml.Node]] = []
        for k, v in node.value:
            key = self.value(k, where)
            if not isinstance(key, str | int | float) or isinstance(key, bool):
                raise self.error(k, where, f"names must be text, got {key!r}")
            key = str(key)
            if key in seen:
                raise self.error(k, _join(where, key), "duplicate key")
            seen.add(key)
            out.append((key, k, v))
        return out

    def sequence(self, node: yaml.Node, where: str, what: str) -> list[yaml.Node]:
        if not isinstance(node, yaml.SequenceNode):
            raise self.error(node, where, f"expected a list of {what}")
        return list(node.value)

    def string(self, node: yaml.Node, where: str, *, allow_empty: bool = False) -> str:
        v = self.value(node, where)
        if not isinstance(v, str):
            raise self.error(node, where, f"expected text, got {_kind(v)}")
        if not allow_empty and not v.strip():
            raise self.error(node, where, "must not be empty")
        return v

    def scalar_text(self, node: yaml.Node, where: str) -> str:
        """A header or query value: text, or a number/boolean written the way JSON would."""
        v = self.value(node, where)
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, int | float):
            return repr(v) if isinstance(v, float) else str(v)
        if isinstance(v, str):
            return v
        raise self.error(node, where, f"expected text or a number, got {_kind(v)}")

    def integer(self, node: yaml.Node, where: str, *, minimum: int, maximum: int | None = None) -> int:
        v = self.value(node, where)
        if isinstance(v, bool) or not isinstance(v, int):
            raise self.error(node, where, f"expected a whole number, got {_kind(v)}")
        if v < minimum:
            raise self.error(node, where, f"must be at least {minimum}, got {v}")
        if maximum is not None and v > maximum:
            raise self.error(node, where, f"must be at most {maximum}, got {v}")
        return v

    def number(self, node: yaml.Node, where: str, *, minimum: float, exclusive: bool = False) -> float:
        v = self.value(node, where)
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise self.error(node, where, f"expected a number, got {_kind(v)}")
        if not math.isfinite(v):
            raise self.error(node, where, f"expected a finite number, got {v}")
        if v < minimum or (exclusive and v == minimum):
            bound = "greater than" if exclusive else "at least"
            raise self.error(node, where, f"must be {bound} {minimum:g}, got {v}")
        return float(v)

    def duration_ms(self, node: yaml.Node, where: str, *, positive: bool = False) -> float:
        v = self.value(node, where)
        if isinstance(v, bool) or not isinstance(v, str | int | float):
            raise self.error(node, where, f"expected a duration such as 500ms, 30s, 5m or 1h, got {_kind(v)}")
        try:
            ms = parse_duration_ms(v)
        except ValueError as e:
            raise self.error(node, where, str(e)) from None
        if not math.isfinite(ms):
            raise self.error(node, where,
                             f"{v!r} is not a duration; expected e.g. 500ms, 30s, 5m, 1h or 1m30s")
        if positive and ms <= 0:
            raise self.error(node, where, "must be longer than 0s")
        return ms

    def optional(self, m: dict[str, yaml.Node], key: str, where: str, read: Callable[[yaml.Node, str], T],
                 default: T) -> T:
        if key not in m or _is_null(m[key]):
            return default
        return read(m[key], _join(where, key))

    # -- structure ----------------------------------------------------------------------------------------
    def scenario(self, root: yaml.Node) -> Scenario:
        if not isinstance(root, yaml.MappingNode):
            kind = "a list" if isinstance(root, yaml.SequenceNode) else _kind(self.value(root))
            raise self.error(root, "", "the top level must be a mapping (version: 1, name: ..., "
                                       f"requests: ...), got {kind}")
        top = self.mapping(root, "", ("version", "name", "description", "target", "defaults", "requests",
                                      "thresholds", "profiles"))
        if "version" not in top:
            raise self.error(root, "version", "missing; this format is version: 1")
        version = self.value(top["version"], "version")
        if isinstance(version, bool) or not isinstance(version, int) or version != 1:
            raise self.error(top["version"], "version", f"unsupported version {version!r}; expected 1")
        if "name" not in top:
            raise self.error(root, "name", "missing; give the scenario a name")
        name = self.string(top["name"], "name")
        description = self.optional(top, "description", "", lambda n, w: self.string(n, w, allow_empty=True),
                                    "")
        target = self.optional(top, "target", "", self.target_url, None)
        defaults = self.optional(top, "defaults", "", self.defaults, Defaults())
        if "requests" not in top:
            raise self.error(root, "requests", "missing; list at least one request")
        requests = self.requests(top["requests"], "requests", defaults)
        names = {r.name for r in requests}
        thresholds: tuple[Threshold, ...] = self.optional(
            top, "thresholds", "", lambda n, w: self.thresholds(n, w, None, names), ())
        profiles: dict[str, ProfileOverride] = self.optional(top, "profiles", "", self.profiles, {})
        return Scenario(
            path=self.file,
            name=name,
            description=description,
            target=target,
            defaults=defaults,
            requests=requests,
            thresholds=thresholds,
            profiles=profiles,
            lines=dict(self.lines),
        )

    def target_url(self, node: yaml.Node, where: str) -> str:
        url = self.string(node, where)
        check_target_url(url, lambda msg: self.error(node, where, msg))
        return url.rstrip("/")

    def defaults(self, node: yaml.Node, where: str) -> Defaults:
        m = self.mapping(node, where, ("headers", "timeout", "think_time"))
        headers: tuple[tuple[str, str], ...] = self.optional(m, "headers", where, self.headers, ())
        timeout_ms = self.optional(m, "timeout", where, lambda n, w: self.duration_ms(n, w, positive=True),
                                   30_000.0)
        think = self.optional(m, "think_time", where, self.think_time, ThinkTime(0.0, 0.0))
        return Defaults(headers=headers, timeout_s=timeout_ms / 1000.0, think_time=think)

    def headers(self, node: yaml.Node, where: str) -> tuple[tuple[str, str], ...]:
        out: list[tuple[str, str]] = []
        seen: set[str] = set()
        for key, knode, vnode in self.free_mapping(node, where):
            here = _join(where, key)
            if not _HEADER_NAME.match(key):
                raise self.error(knode, here,
                                 "not a valid HTTP header name (letters, digits and !#$%&'*+-.^_`|~)")
            if key.lower() in seen:
                raise self.error(knode, here, "duplicate header (names are case-insensitive)")
            seen.add(key.lower())
            value = self.scalar_text(vnode, here)
            if any(c in value for c in "\r\n\0"):
                raise self.error(vnode, here, "header values cannot contain line breaks or NUL")
            if not value.isascii():
                bad = next(c for c in value if not c.isascii())
                raise self.error(vnode, here, f"header values must be ASCII (found {bad!r}): the tools would send "
                                              "different bytes; percent-encode it or send it in the body")
            out.append((key, value))
        return tuple(out)

    def think_time(self, node: yaml.Node, where: str) -> ThinkTime:
        if isinstance(node, yaml.MappingNode):
            m = self.mapping(node, where, ("min", "max"))
            for key in ("min", "max"):
                if key not in m:
                    raise self.error(node, _join(where, key), "missing; think_time takes min and max")
            lo = self.duration_ms(m["min"], _join(where, "min")) / 1000.0
            hi = self.duration_ms(m["max"], _join(where, "max")) / 1000.0
            if hi < lo:
                raise self.error(m["max"], _join(where, "max"), "must not be smaller than min")
            return ThinkTime(lo, hi)
        fixed = self.duration_ms(node, where) / 1000.0
        return ThinkTime(fixed, fixed)

    def requests(self, node: yaml.Node, where: str, defaults: Defaults) -> tuple[Request, ...]:
        items = self.sequence(node, where, "requests")
        if not items:
            raise self.error(node, where, "list at least one request")
        out: list[Request] = []
        seen: dict[str, int] = {}
        for i, item in enumerate(items):
            req = self.request(item, f"{where}[{i}]")
            if req.name in seen:
                first = f"{where}[{seen[req.name]}]"
                raise self.error(item, f"{where}[{i}].name",
                                 f"duplicate request name {req.name!r} (first used by {first})")
            seen[req.name] = i
            out.append(req)
        return tuple(out)

    def request(self, node: yaml.Node, where: str) -> Request:
        m = self.mapping(node, where, ("name", "method", "path", "query", "headers", "json", "body", "weight",
                                       "checks", "think_time", "thresholds"))
        for key in ("name", "path"):
            if key not in m:
                raise self.error(node, _join(where, key), "missing")
        name = self.string(m["name"], _join(where, "name"))
        if "\0" in name or len(name) > 200:
            raise self.error(m["name"], _join(where, "name"), "must be at most 200 characters, without NUL")
        method = "GET"
        if "method" in m:
            raw = self.string(m["method"], _join(where, "method"))
            method = raw.upper()
            if method not in METHODS:
                raise self.error(m["method"], _join(where, "method"),
                                 f"unknown method {raw!r}; expected one of {', '.join(METHODS)}")
        path = self.string(m["path"], _join(where, "path"))
        if not path.startswith("/"):
            raise self.error(m["path"], _join(where, "path"),
                             "must start with '/' (the target's base URL comes from 'target' or --target)")
        query: tuple[tuple[str, str], ...] = ()
        if "query" in m and not _is_null(m["query"]):
            q: list[tuple[str, str]] = []
            for key, _kn, vnode in self.free_mapping(m["query"], _join(where, "query")):
                here = _join(_join(where, "query"), key)
                if isinstance(vnode, yaml.SequenceNode):
                    q.extend((key, self.scalar_text(v, f"{here}[{j}]")) for j, v in enumerate(vnode.value))
                else:
                    q.append((key, self.scalar_text(vnode, here)))
            query = tuple(q)
        headers: tuple[tuple[str, str], ...] = self.optional(m, "headers", where, self.headers, ())
        has_body = "body" in m and not _is_null(m["body"])  # an empty body: key counts as left out
        if "json" in m and has_body:
            raise self.error(m["body"], _join(where, "body"), "give either json or body, not both")
        if method in ("GET", "HEAD") and ("json" in m or has_body):
            key = "json" if "json" in m else "body"
            raise self.error(m[key], _join(where, key), f"a {method} request cannot carry a body")
        has_json = "json" in m
        if has_json:
            self.check_json_value(m["json"], _join(where, "json"))
        json_body = self.value(m["json"], _join(where, "json")) if has_json else None
        raw_body = self.optional(m, "body", where, lambda n, w: self.string(n, w, allow_empty=True), None)
        weight = self.optional(m, "weight", where,
                               lambda n, w: self.integer(n, w, minimum=1, maximum=MAX_WEIGHT), 1)
        checks = self.optional(m, "checks", where, self.checks, Checks())
        think = self.optional(m, "think_time", where, self.think_time, None)
        thresholds: tuple[Threshold, ...] = self.optional(
            m, "thresholds", where, lambda n, w: self.thresholds(n, w, name, None), ())
        return Request(
            name=name,
            method=method,
            path=path,
            query=query,
            headers=headers,
            json_body=json_body,
            has_json_body=has_json,
            raw_body=raw_body,
            weight=weight,
            checks=checks,
            think_time=think,
            thresholds=thresholds,
            location=Location(self.file, node.start_mark.line + 1),
        )

    def check_json_value(self, node: yaml.Node, where: str) -> None:
        budget = [MAX_JSON_VALUES]
        self._check_json(node, where, budget, set())

    def _check_json(self, node: yaml.Node, where: str, budget: list[int], open_nodes: set[int]) -> None:
        budget[0] -= 1
        if budget[0] < 0:
            raise self.error(node, where, f"too large: more than {MAX_JSON_VALUES} JSON values")
        if isinstance(node, yaml.MappingNode | yaml.SequenceNode):
            if id(node) in open_nodes:
                raise self.error(node, where, "a YAML alias cannot refer to the value that contains it")
            open_nodes.add(id(node))
        if isinstance(node, yaml.MappingNode):
            seen: set[str] = set()
            for k, v in node.value:
                key = self.value(k, where)
                if not isinstance(key, str):
                    raise self.error(k, where, f"JSON object keys must be text, got {key!r}")
                if key in seen:
                    raise self.error(k, _join(where, key), "duplicate key")
                seen.add(key)
                self._check_json(v, _join(where, key), budget, open_nodes)
        elif isinstance(node, yaml.SequenceNode):
            for i, v in enumerate(node.value):
                self._check_json(v, f"{where}[{i}]", budget, open_nodes)
        else:
            v = self.value(node, where)
            if v is not None and not isinstance(v, str | int | float | bool):
                raise self.error(node, where, f"{_kind(v)} cannot be sent as JSON; quote it to send text")
            if isinstance(v, float) and not math.isfinite(v):
                raise self.error(node, where, "NaN and infinity cannot be sent as JSON")
        open_nodes.discard(id(node))

    def checks(self, node: yaml.Node, where: str) -> Checks:
        m = self.mapping(node, where, ("status", "body_contains", "json"))
        status: tuple[int, ...] = ()
        if "status" in m:
            here = _join(where, "status")
            nodes = m["status"].value if isinstance(m["status"], yaml.SequenceNode) else [m["status"]]
            codes = []
            for j, sn in enumerate(nodes):
                at = f"{here}[{j}]" if isinstance(m["status"], yaml.SequenceNode) else here
                code = self.integer(sn, at, minimum=100)
                if code > 599:
                    raise self.error(sn, here, f"{code} is not an HTTP status code (100-599)")
                codes.append(code)
            if not codes:
                raise self.error(m["status"], here, "list at least one status code")
            status = tuple(codes)
        contains: tuple[str, ...] = ()
        if "body_contains" in m:
            here = _join(where, "body_contains")
            bnode = m["body_contains"]
            nodes = bnode.value if isinstance(bnode, yaml.SequenceNode) else [bnode]
            contains = tuple(self.string(n, here, allow_empty=False) for n in nodes)
        json_checks: tuple[JsonCheck, ...] = ()
        if "json" in m:
            here = _join(where, "json")
            items = self.sequence(m["json"], here, "checks")
            json_checks = tuple(self.json_check(n, f"{here}[{j}]") for j, n in enumerate(items))
        return Checks(status=status, body_contains=contains, json=json_checks)

    def json_check(self, node: yaml.Node, where: str) -> JsonCheck:
        m = self.mapping(node, where, ("path", "exists", "equals"))
        if "path" not in m:
            raise self.error(node, _join(where, "path"), "missing")
        path = self.string(m["path"], _join(where, "path"))
        steps = parse_json_path(path)
        if steps is None:
            raise self.error(m["path"], _join(where, "path"),
                             f"{path!r} is not a JSON path; expected e.g. $.items[0].id or token")
        exists = None
        if "exists" in m:
            v = self.value(m["exists"], _join(where, "exists"))
            if not isinstance(v, bool):
                raise self.error(m["exists"], _join(where, "exists"),
                                 f"expected true or false, got {_kind(v)}")
            exists = v
        has_equals = "equals" in m
        if has_equals:
            self.check_json_value(m["equals"], _join(where, "equals"))
        equals = self.value(m["equals"], _join(where, "equals")) if has_equals else None
        if exists is None and not has_equals:
            exists = True
        if exists is False and has_equals:
            raise self.error(m["equals"], _join(where, "equals"), "cannot combine equals with exists: false")
        return JsonCheck(path=path, steps=steps, exists=exists, has_equals=has_equals, equals=equals)

    def thresholds(self, node: yaml.Node, where: str, request: str | None,
                   request_names: set[str] | None) -> tuple[Threshold, ...]:
        out: list[Threshold] = []
        for j, item in enumerate(self.sequence(node, where, 'thresholds such as "p95 < 500ms"')):
            here = f"{where}[{j}]"
            req = request
            abort: tuple[bool, float, float | None] = (False, 0.0, None)
            if isinstance(item, yaml.MappingNode):
                # {check: "p95 < 300ms"} with a request (top level only) and/or an early stop:
                # {request: NAME, check: "...", abort: true, grace: 10s, window: 30s}
                m = self.mapping(item, here, ("request", "check", "abort", "grace", "window"))
                if request is not None and "request" in m:
                    raise self.error(item, here, 'the {request: NAME, check: "..."} form is only valid in the '
                                                 'top-level thresholds; here, write "metric < value"')
                if "check" not in m:
                    raise self.error(item, here, 'expected "metric < value", {request: NAME, check: "..."}, or '
                                                 '{check: "...", abort: true, grace: 10s, window: 30s}')
                if "request" in m:
                    req = self.string(m["request"], _join(here, "request"))
                    if request_names is not None and req not in request_names:
                        raise self.error(m["request"], _join(here, "request"), f"no request is named {req!r}")
                abort = self.abort(m, here)
                item = m["check"]
                here = _join(here, "check")
            text = self.string(item, here)
            th = self.threshold(item, here, text, req)
            if abort[0] and th.metric in TARGET_METRICS:
                raise self.error(item, here, f"{th.metric} cannot stop a run early (it is judged when a tool's "
                                             "load ends)")
            out.append(replace(th, abort=abort[0], grace_s=abort[1], window_s=abort[2]))
        return tuple(out)

    def abort(self, m: dict[str, yaml.Node], where: str) -> tuple[bool, float, float | None]:
        """``abort`` (a boolean), ``grace`` and ``window`` (durations; only with ``abort: true``)."""
        on = False
        if "abort" in m and not _is_null(m["abort"]):
            v = self.value(m["abort"], _join(where, "abort"))
            if not isinstance(v, bool):
                raise self.error(m["abort"], _join(where, "abort"), f"expected true or false, got {_kind(v)}")
            on = v
        grace = self.optional(m, "grace", where, lambda n, w: self.duration_ms(n, w), 0.0) / 1000.0
        window_ms = self.optional(m, "window", where, lambda n, w: self.duration_ms(n, w, positive=True), None)
        for key in ("grace", "window"):
            if key in m and not _is_null(m[key]) and not on:
                raise self.error(m[key], _join(where, key), f"{key} only applies with abort: true")
        return on, grace, None if window_ms is None else window_ms / 1000.0

    def threshold(self, node: yaml.Node, where: str, text: str, request: str | None) -> Threshold:
        loc = Location(self.file, node.start_mark.line + 1)
        try:
            metric, op, value = parse_threshold(text)
        except ValueError as e:
            raise self.error(node, where, str(e)) from None
        if request is not None and metric in TARGET_METRICS:
            raise self.error(node, where, f"{metric} is measured on the target as a whole: put it in the "
                                          "top-level thresholds, without a request")
        return Threshold(metric=metric, op=op, value=value, text=text.strip(), request=request, location=loc)

    def profiles(self, node: yaml.Node, where: str) -> dict[str, ProfileOverride]:
        m = self.mapping(node, where, PROFILE_NAMES)
        return {name: self.profile(m[name], _join(where, name)) for name in m}

    def profile(self, node: yaml.Node, where: str) -> ProfileOverride:
        m = self.mapping(node, where, ("users", "duration", "spawn_rate", "stages"))
        users = self.optional(m, "users", where, lambda n, w: self.integer(n, w, minimum=1), None)
        duration = self.optional(m, "duration", where, lambda n, w: self.duration_ms(n, w, positive=True),
                                 None)
        rate = self.optional(m, "spawn_rate", where,
                             lambda n, w: self.number(n, w, minimum=0, exclusive=True), None)
        stages: tuple[StageSpec, ...] | None = None
        if "stages" in m:
            here = _join(where, "stages")
            items = self.sequence(m["stages"], here, "stages ({duration: 30s, users: 10})")
            if not items:
                raise self.error(m["stages"], here, "list at least one stage")
            parsed = []
            for j, sn in enumerate(items):
                sm = self.mapping(sn, f"{here}[{j}]", ("duration", "users"))
                for key in ("duration", "users"):
                    if key not in sm:
                        raise self.error(sn, f"{here}[{j}].{key}", "missing")
                parsed.append(StageSpec(
                    duration_ms=self.duration_ms(sm["duration"], f"{here}[{j}].duration"),
                    users=self.integer(sm["users"], f"{here}[{j}].users", minimum=0),
                ))
            if sum(s.duration_ms for s in parsed) <= 0:
                raise self.error(m["stages"], here, "the stages must last longer than 0s in total")
            if max(s.users for s in parsed) < 1:
                raise self.error(m["stages"], here, "at least one stage needs users > 0")
            stages = tuple(parsed)
        return ProfileOverride(users=users, duration_ms=duration, spawn_rate=rate, stages=stages)


def check_target_url(url: str, fail: Callable[[str], Exception]) -> None:
    """Accept http(s)://host[:port][/base]; raise ``fail(message)`` otherwise."""
    if envref.has_refs(url):
        return  # resolved in the tool process at run time
    if any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in url):
        raise fail(f"{url!r} cannot contain spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as e:
        raise fail(f"{url!r} is not a valid URL ({e})") from None
    if parts.scheme not in ("http", "https"):
        raise fail(f"{url!r} is not an http:// or https:// URL")
    if not parts.hostname:
        raise fail(f"{url!r} has no host")
    if "?" in url or "#" in url:
        raise fail(f"{url!r}: a target is a base URL without ?query or #fragment")
    if port is not None and port == 0:
        raise fail(f"{url!r}: port 0 is not a valid target port")


def parse_threshold(text: str) -> tuple[str, str, float]:
    """``"p95 < 500ms"`` -> ("p95", "<", 500.0). Units: ms/s for latency, % for error_rate and target_cpu_mean,
    /s for rps, bytes (100MB, 64MiB) for target_rss_growth and target_rss_max."""
    m = _THRESHOLD.match(text)
    if not m:
        raise ValueError(f'{text!r} is not a threshold; expected "metric < value" such as "p95 < 500ms"')
    metric, op, raw = m.group(1), m.group(2), m.group(3).strip()
    if metric not in THRESHOLD_METRICS:
        hint = difflib.get_close_matches(metric, THRESHOLD_METRICS, n=1)
        suggestion = f" (did you mean '{hint[0]}'?)" if hint else ""
        expected = ", ".join(THRESHOLD_METRICS)
        raise ValueError(f"unknown metric {metric!r}{suggestion}; expected one of {expected}")
    if metric in LATENCY_METRICS:
        if _is_number(raw):
            raise ValueError(f"{raw!r} needs a unit: write e.g. {raw}ms or {raw}s")
        if not re.search(r"[a-z]$", raw):
            raise ValueError(f"{raw!r} is not a duration; expected e.g. 500ms, 30s, 5m, 1h or 1m30s")
        try:
            value = parse_duration_ms(raw)
        except ValueError as e:
            raise ValueError(str(e)) from None
        if not math.isfinite(value):
            raise ValueError(f"{raw!r} is not a duration; expected e.g. 500ms, 30s, 5m, 1h or 1m30s")
    elif metric in ("target_rss_growth", "target_rss_max"):
        try:
            value = parse_bytes(raw)
        except ValueError as e:
            raise ValueError(str(e)) from None
    elif metric in ("error_rate", "target_cpu_mean"):
        what = "the error rate" if metric == "error_rate" else "CPU (100% = one core busy)"
        if _is_number(raw):
            raise ValueError(f"{raw!r} needs a unit: write {what} in percent, e.g. {raw}%")
        if not raw.endswith("%"):
            raise ValueError(f"{raw!r} is not a percentage; write {what} in percent, e.g. 1%")
        if metric == "error_rate":
            value = parse_percent(raw)
        else:
            try:
                value = float(raw[:-1].strip())
            except ValueError:
                raise ValueError(f"{raw!r} is not a percentage; e.g. 150%") from None
            if value < 0:
                raise ValueError(f"{raw!r} is below 0%")
    else:
        s = raw[:-2].strip() if raw.endswith("/s") else raw
        if not _BARE_NUMBER.match(s):
            raise ValueError(f"{raw!r} is not a rate; expected requests per second, e.g. 50 or 50/s")
        value = float(s)
    return metric, op, value


def parse_json_path(path: str) -> tuple[str | int, ...] | None:
    """``$.items[0].id`` or ``items[0].id`` -> ("items", 0, "id"); None when not a path."""
    s = path.strip()
    if s in ("$", ""):
        return None
    if s.startswith("$"):
        s = s[1:]
        if s and s[0] not in ".[":
            return None
    elif s.startswith("."):
        return None
    steps: list[str | int] = []
    pos = 0
    while pos < len(s):
        m = _JSON_PATH_PART.match(s, pos)
        if not m or m.end() == pos:
            return None
        if m.group(1) is not None and s[pos] != "." and (pos > 0 or path.strip().startswith("$")):
            return None  # a name follows the root or another step only after a dot
        if m.group(1) is not None:
            steps.append(m.group(1))
        elif m.group(2) is not None:
            steps.append(int(m.group(2)))
        else:
            steps.append(m.group(3))
        pos = m.end()
    return tuple(steps) if steps else None


def _is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def _join(where: str, key: str) -> str:
    if not key.isprintable():
        key = repr(key)  # keeps the one-line message on one line
    return f"{where}.{key}" if where else key


def _is_null(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null"


def _kind(v: object) -> str:
    if v is None:
        return "nothing (null)"
    if isinstance(v, bool):
        return f"a boolean ({str(v).lower()})"
    if isinstance(v, int | float):
        return f"a number ({v})"
    if isinstance(v, str):
        return f"text ({v!r})" if len(v) < 40 else "text"
    if isinstance(v, list):
        return "a list"
    if isinstance(v, dict):
        return "a mapping"
    return type(v).__name__
