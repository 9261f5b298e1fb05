"""The scenario file (YAML, ``version: 1``): typed model, loader and validation.

Validation reads the YAML node tree rather than plain Python values so that every error can name the file,
the line and the field path (``requests[2].checks.status``). Nothing is rendered or sent before a scenario
has passed here. docs/scenario.md is the user's reference for every key below.

Unknown keys are errors, so constructs added later (an arrival-rate load model) arrive as new optional keys
without changing the meaning of any file valid today; ``journeys``, ``data`` and WebSocket steps (``ws``)
arrived that way (their own section below: ordered steps per user, values extracted from responses, from
WebSocket messages and drawn from data, ``{{ name }}`` references that are only read inside journeys).
"""

from __future__ import annotations

import base64
import csv
import difflib
import io
import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import yaml

from crossload import envref, varref
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
# Data files are read when the scenario is, and their rows travel inside the rendered files.
MAX_DATA_ROWS = 100_000
MAX_DATA_BYTES = 10_000_000
GENERATORS = ("uuid", "integer", "choice", "timestamp")
TIMESTAMP_FORMATS = ("ms", "s", "iso")
DATA_ORDERS = ("sequential", "random")
DATA_PER = ("iteration", "user")
EXTRACT_SOURCES = ("json", "header", "regex", "cookie")
WS_EXTRACT_SOURCES = ("json", "regex")  # a WebSocket message has no headers
WS_SEND_KINDS = ("text", "json", "binary")
# compression: what both tools ask for (Accept-Encoding) and decode.
COMPRESSION = {"gzip": "gzip", "none": "identity"}
# Names the support files and rendered files take next to the CA file in a run's folder.
RENDERED_NAMES = frozenset({"locustfile.py", "script.js", "crossload.js", "crossload_locust.py",
                            "crossload_recorder.py", "crossload_ws.py"})
WS_METHOD = "WS"  # the method of every result row of a WebSocket step
HEADER_CHECK_OPS = ("exists", "equals", "at_least", "at_most")


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
class HeaderCheck:
    """A check on a response header: ``exists`` (true/false), ``equals`` (text), ``at_least``/``at_most``
    (the header read as a decimal number)."""

    name: str
    op: str  # one of HEADER_CHECK_OPS
    value: str | float | bool


@dataclass(frozen=True)
class Auth:
    """``auth: {basic: {user, password}}`` (the header computed by the tool, so a ${VAR} password is never
    written down) or ``auth: {bearer: TOKEN}``."""

    scheme: str  # "basic" or "bearer"
    user: str = ""
    password: str = ""
    token: str = ""


@dataclass(frozen=True)
class Checks:
    """What makes a response a success. Empty ``status`` means any 2xx or 3xx."""

    status: tuple[int, ...] = ()
    body_contains: tuple[str, ...] = ()
    json: tuple[JsonCheck, ...] = ()
    headers: tuple[HeaderCheck, ...] = ()

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
    # Journey steps only: values taken from the response, judged after the checks (a failure fails the step).
    extract: tuple[Extraction, ...] = ()
    where: str = ""  # the field path of the request in the file (requests[2], journeys[0].steps[1])
    auth: Auth | None = None
    # A WebSocket step (method WS, path: the URL's path): its session; None for an HTTP request.
    ws: WsSession | None = None
    timeout_s: float | None = None  # its own timeout; None: defaults.timeout
    compression: str | None = None  # its own compression (a key of COMPRESSION); None: defaults.compression
    condition: Condition | None = None  # journey steps only: ``if``, the step runs only when it holds

    @property
    def result_names(self) -> tuple[str, ...]:
        """The names this request or step is reported under: its name, and a WebSocket step's other rows."""
        return self.ws.result_names(self.name) if self.ws is not None else (self.name,)


@dataclass(frozen=True)
class WsSend:
    """``send: {text: ...}``, ``{json: ...}`` or ``{binary: BASE64}``: one message to the server."""

    kind: str  # one of WS_SEND_KINDS
    value: JsonValue  # the text, the JSON value, or the binary message written in base64


@dataclass(frozen=True)
class WsExpect:
    """``expect``: wait up to ``timeout_s`` for the next message that matches (a JSON path that exists or
    equals a value, a regular expression, or any message when neither is given); messages that do not match
    are skipped. Timed from the last send of the session (the round trip) or, before any send, from the
    expect itself; reported as the request ``name``."""

    name: str
    timeout_s: float
    json_steps: tuple[str | int, ...] | None = None
    json_path: str = ""
    has_equals: bool = False
    equals: JsonValue = None
    regex: str | None = None
    extract: tuple[Extraction, ...] = ()


@dataclass(frozen=True)
class WsHold:
    """``hold: 5s``: keep the connection open, counting the messages received."""

    duration_s: float


WsAction = WsSend | WsExpect | WsHold


@dataclass(frozen=True)
class WsSession:
    """A WebSocket step: connect (URL, headers, subprotocols, auth), then its actions in order, then close.

    Results: the handshake under the step's name, each expect under its name, and one row per message sent
    and received (``<name> sent``, ``<name> received``, 0 ms each); method ``WS`` for all of them."""

    subprotocols: tuple[str, ...]
    actions: tuple[WsAction, ...]
    absolute: bool = False  # the url is a full ws:// or wss:// URL rather than a path on the target

    @property
    def expects(self) -> tuple[WsExpect, ...]:
        return tuple(a for a in self.actions if isinstance(a, WsExpect))

    @property
    def longest_s(self) -> float:
        """The longest a session can last after its handshake: its holds and its expects' timeouts."""
        return sum(a.duration_s if isinstance(a, WsHold) else a.timeout_s
                   for a in self.actions if not isinstance(a, WsSend))

    def result_names(self, name: str) -> tuple[str, ...]:
        return (name, *(e.name for e in self.expects), sent_name(name), received_name(name))


def sent_name(ws_name: str) -> str:
    """The row that counts the messages a WebSocket step sent."""
    return f"{ws_name} sent"


def received_name(ws_name: str) -> str:
    """The row that counts the messages a WebSocket step received."""
    return f"{ws_name} received"


@dataclass(frozen=True)
class Extraction:
    """``var: {json: $.id}``, ``{header: Location}``, ``{regex: 'id=(\\d+)'}`` or ``{cookie: session}``: a value
    for later steps."""

    var: str
    source: str  # one of EXTRACT_SOURCES
    steps: tuple[str | int, ...] = ()  # json
    path: str = ""  # json, as written
    header: str = ""
    pattern: str = ""
    cookie: str = ""


@dataclass(frozen=True)
class Condition:
    """``if: {var: NAME[.field], equals: VALUE}`` (or ``not_equals``) on a step or a group: it runs only when
    the user's value, written as text the way it is filled in (crossload.varref.value_text), is (or is not)
    the condition's text."""

    name: str
    field: str | None
    op: str  # one of CONDITION_OPS
    text: str

    def spec(self) -> dict[str, str]:
        """What both support modules read (``holds(values, spec)``)."""
        out = {"name": self.name}
        if self.field is not None:
            out["field"] = self.field
        out[self.op] = self.text
        return out

    def holds(self, values: Mapping[str, Any]) -> bool:
        return varref.holds(values, self.name, self.field, self.op, self.text)

    def describe(self) -> str:
        var = self.name + (f".{self.field}" if self.field else "")
        return f"if {var} {'=' if self.op == 'equals' else '!='} {json.dumps(self.text, ensure_ascii=False)}"


CONDITION_OPS = ("equals", "not_equals")
MAX_REPEAT = 100


@dataclass(frozen=True)
class Group:
    """Steps of a journey timed as a whole (k6 ``group()``); one level deep. ``repeat`` runs its steps that
    many times in order inside the one group, ``index`` (1, 2, ...) naming the round for the steps; ``until``
    ends the loop after a round in which it holds."""

    name: str
    steps: tuple[Request, ...]
    condition: Condition | None = None
    repeat: int = 1
    index: str | None = None
    until: Condition | None = None  # checked after each round: the loop stops when it holds


@dataclass(frozen=True)
class Journey:
    """Ordered steps a virtual user walks through, one iteration at a time, picked by weight among the
    journeys and the single requests. ``setup`` runs once per user, before its first iteration."""

    name: str
    weight: int
    setup: tuple[Request, ...]
    items: tuple[Request | Group, ...]
    data: tuple[str, ...]  # the data names its steps refer to, in the order of the file's data section
    location: Location

    @property
    def steps(self) -> tuple[Request, ...]:
        """Every request of the journey, setup first, groups flattened, in order."""
        out = list(self.setup)
        for item in self.items:
            out.extend(item.steps if isinstance(item, Group) else (item,))
        return tuple(out)


@dataclass(frozen=True)
class DataSource:
    """A named value for journeys: a generator (uuid, integer, choice, timestamp) or a data file's rows.

    Drawn at the start of each iteration of a journey that refers to it (``per: iteration``), or once per
    user (``per: user``)."""

    name: str
    kind: str  # a generator name, or "file"
    per: str = "iteration"
    minimum: int = 0
    maximum: int = 0
    values: tuple[JsonValue, ...] = ()
    time_format: str = "ms"
    file: str = ""
    order: str = "sequential"
    columns: tuple[str, ...] = ()
    rows: tuple[tuple[tuple[str, JsonValue], ...], ...] = ()


@dataclass(frozen=True)
class Defaults:
    headers: tuple[tuple[str, str], ...] = ()
    timeout_s: float = 30.0
    think_time: ThinkTime = ThinkTime(0.0, 0.0)
    auth: Auth | None = None
    verify_tls: bool = True  # tls: {verify: false} is the explicit opt-out of certificate checks
    ca_file: str = ""  # tls: {ca: file}: a certificate authority both tools trust, resolved from the scenario file
    compression: str | None = None  # a key of COMPRESSION; None: each tool's own Accept-Encoding


def timeout_of(defaults: Defaults, r: Request) -> float:
    """The timeout of a request in seconds: its own, else the default one."""
    return r.timeout_s if r.timeout_s is not None else defaults.timeout_s


@dataclass(frozen=True)
class StageSpec:
    duration_ms: float
    users: int
    rate: float | None = None  # iterations per second (open model) instead of users


@dataclass(frozen=True)
class ProfileOverride:
    """Per-profile settings from the scenario file; any field left None keeps the profile's default."""

    users: int | None = None
    duration_ms: float | None = None
    spawn_rate: float | None = None
    stages: tuple[StageSpec, ...] | None = None
    rate: float | None = None  # peak iterations started per second: the open (arrival-rate) model
    max_users: int | None = None  # open model: iterations under way at once, at most

    @property
    def is_open(self) -> bool:
        return self.rate is not None or any(s.rate is not None for s in self.stages or ())


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
    journeys: tuple[Journey, ...] = ()
    data: tuple[DataSource, ...] = ()

    @property
    def all_requests(self) -> tuple[Request, ...]:
        """The single requests, then every step of every journey: each a named request in the results."""
        out = list(self.requests)
        for j in self.journeys:
            out.extend(j.steps)
        return tuple(out)

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
        think = max([self.defaults.think_time.max_s]
                    + [r.think_time.max_s for r in self.all_requests if r.think_time])
        # A WebSocket step in progress: its handshake, holds and expects.
        ws = max([r.ws.longest_s for r in self.all_requests if r.ws is not None], default=0.0)
        timeout = max([self.defaults.timeout_s] + [r.timeout_s for r in self.all_requests if r.timeout_s])
        return math.ceil(timeout + ws + think + 1.0)

    @staticmethod
    def default_drain_s() -> int:
        """``drain_s`` of a scenario with default settings."""
        return math.ceil(Defaults().timeout_s + 1.0)

    @property
    def all_thresholds(self) -> tuple[Threshold, ...]:
        out = list(self.thresholds)
        for r in self.all_requests:
            out.extend(r.thresholds)
        return tuple(out)

    def env_references(self) -> list[tuple[str, str | None, str, int]]:
        """(variable, default, field path, line) for every ``${...}`` reference in the file."""
        found: list[tuple[str, str | None, str, int]] = []

        def visit(value: JsonValue, where: str) -> None:
            if isinstance(value, str):
                # In journeys, ${VAR} is read in the text between {{ name }} references only.
                for part in varref.REF.split(value)[::3] if journey else (value,):
                    for name, default in envref.references(part):
                        found.append((name, default, where, self.line_of(where)))
            elif isinstance(value, dict):
                for k, v in value.items():
                    visit(v, f"{where}.{k}")
            elif isinstance(value, list):
                for i, v in enumerate(value):
                    visit(v, f"{where}[{i}]")

        journey = False
        if self.target:
            visit(self.target, "target")
        for k, v in self.defaults.headers:
            visit(v, f"defaults.headers.{k}")
        if self.defaults.auth is not None:
            for key in ("user", "password", "token"):
                visit(getattr(self.defaults.auth, key), f"defaults.auth.{self.defaults.auth.scheme}.{key}")
        for i, r in enumerate(self.all_requests):
            base = r.where or f"requests[{i}]"
            journey = i >= len(self.requests)
            visit(r.path, f"{base}.ws.url" if r.ws is not None else f"{base}.path")
            for k, v in r.query:
                visit(v, f"{base}.query.{k}")
            for k, v in r.headers:
                visit(v, f"{base}.ws.headers.{k}" if r.ws is not None else f"{base}.headers.{k}")
            if r.has_json_body:
                visit(r.json_body, f"{base}.json")
            if r.raw_body is not None:
                visit(r.raw_body, f"{base}.body")
            if r.auth is not None:
                at = f"{base}.ws" if r.ws is not None else base
                for key in ("user", "password", "token"):
                    visit(getattr(r.auth, key), f"{at}.auth.{r.auth.scheme}.{key}")
            if r.ws is not None:
                for n, action in enumerate(r.ws.actions):
                    if isinstance(action, WsSend) and action.kind != "binary":
                        visit(action.value, f"{base}.ws.actions[{n}].send.{action.kind}")
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
    document = _PlainReader(file)
    data = document.read(node)
    _validate(data, document.lines, file)
    return _ScenarioReader(file).scenario(node)


Path_ = tuple[str | int, ...]  # a field path as keys and list indexes: ("requests", 0, "checks", "status")
# Values of a file in all (aliases count each time they are used): YAML aliases can multiply a small file.
MAX_DOCUMENT_VALUES = 1_000_000


class _PlainReader:
    """The YAML pass: turns the node tree into plain data (dict, list, str, int, float, bool, None) and an index
    from field path to line, rejecting what a schema cannot see: non-standard tags, merge keys, duplicate
    keys, a value that contains itself, and aliases that multiply the file beyond MAX_DOCUMENT_VALUES."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.lines: dict[Path_, tuple[int, int]] = {}  # path -> (line of the value, line of its key)
        self.numeric_keys: dict[Path_, tuple[int, object]] = {}  # keys written as numbers: path -> (line, key)
        self.budget = MAX_DOCUMENT_VALUES
        self.done: dict[int, tuple[JsonValue, int]] = {}  # node id -> (value, values in it), for aliases
        self.open: set[int] = set()

    def error(self, node: yaml.Node, path: Path_, message: str) -> ScenarioError:
        return ScenarioError(Location(self.file, node.start_mark.line + 1), where_of(path), message)

    def scalar(self, node: yaml.Node, path: Path_) -> JsonValue:
        try:
            return _constructor.construct_object(node, deep=True)
        except yaml.constructor.ConstructorError as e:
            mark = e.problem_mark or node.start_mark
            if e.problem and "tag:yaml.org,2002:merge" in e.problem:
                problem = "YAML merge keys (<<) are not supported; write the keys out"
            else:
                problem = f"unsupported YAML value: {e.problem or e}"
            raise ScenarioError(Location(self.file, mark.line + 1), where_of(path), problem) from None

    def read(self, node: yaml.Node, path: Path_ = (), key_line: int = 0) -> JsonValue:
        line = node.start_mark.line + 1
        self.lines.setdefault(path, (line, key_line or line))
        known = self.done.get(id(node))
        if known is not None:  # an alias of a value read before: counted again, not read again
            self.budget -= known[1]
            if self.budget < 0:
                raise self.error(node, path, f"too large: more than {MAX_DOCUMENT_VALUES} values (YAML aliases "
                                             "multiply the values they refer to)")
            return known[0]
        self.budget -= 1
        if self.budget < 0:
            raise self.error(node, path, f"too large: more than {MAX_DOCUMENT_VALUES} values")
        if not isinstance(node, yaml.MappingNode | yaml.SequenceNode):
            return self.scalar(node, path)
        if id(node) in self.open:
            raise self.error(node, path, "a YAML alias cannot refer to the value that contains it")
        if node.tag not in ("tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"):
            self.scalar(node, path)  # a tag such as !!python/object is rejected here
        self.open.add(id(node))
        before = self.budget
        value: JsonValue
        if isinstance(node, yaml.SequenceNode):
            value = [self.read(item, (*path, i)) for i, item in enumerate(node.value)]
        else:
            value = {}
            for knode, vnode in node.value:
                key = self.scalar(knode, path)
                if isinstance(key, int | float) and not isinstance(key, bool):
                    self.numeric_keys[(*path, str(key))] = (knode.start_mark.line + 1, key)
                    key = str(key)
                if not isinstance(key, str):
                    raise self.error(knode, path, f"keys must be text, got {key!r}")
                if key in value:
                    raise self.error(knode, (*path, key), "duplicate key")
                value[key] = self.read(vnode, (*path, key), knode.start_mark.line + 1)
        self.open.discard(id(node))
        self.done[id(node)] = (value, before - self.budget + 1)
        return value


def where_of(path: Path_) -> str:
    """``("requests", 0, "checks", "status")`` -> ``requests[0].checks.status``."""
    where = ""
    for part in path:
        where = f"{where}[{part}]" if isinstance(part, int) else _join(where, part)
    return where


def _validate(data: JsonValue, lines: Mapping[Path_, tuple[int, int]], file: str) -> None:
    """Validate the plain data with the model (crossload.model); raise the first problem in reading order as
    a ScenarioError at the line of the deepest value of its field path that the file holds."""
    from pydantic import ValidationError

    from crossload.model import ScenarioDocument

    try:
        ScenarioDocument.model_validate(data)
    except ValidationError as e:
        problems = [_problem(err, data, lines) for err in e.errors(include_url=False)]
        line, where, message = min(problems, key=lambda p: p[0])
        raise ScenarioError(Location(file, line), where, message) from None


def _problem(err: Any, data: JsonValue, lines: Mapping[Path_, tuple[int, int]]) -> tuple[int, str, str]:
    ctx = err.get("ctx") or {}
    ours = err["type"] == "crossload"
    path: Path_ = ()
    value = data
    for part in err["loc"]:  # keys and indexes of the data; the rest names a form of a union (~step, ...)
        in_dict = isinstance(value, dict) and isinstance(part, str) and part in value
        if not in_dict and not (isinstance(value, list) and isinstance(part, int) and 0 <= part < len(value)):
            continue
        value = value[part]
        path = (*path, part)
    path = (*path, *(ctx.get("sub", ()) if ours else ()))
    known = path
    while known and known not in lines:
        known = known[:-1]
    value_line, key_line = lines.get(known, (0, 0))
    line = key_line if ours and ctx.get("at_key") and known == path else value_line
    return line, where_of(path), ctx["message"] if ours else err["msg"]


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
                                      "journeys", "data", "thresholds", "profiles"))
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
        if "requests" not in top and "journeys" not in top:
            raise self.error(root, "requests", "missing; list at least one request (or journey)")
        requests: tuple[Request, ...] = ()
        if "requests" in top:
            requests = self.requests(top["requests"], "requests", defaults, allow_empty="journeys" in top)
        data: tuple[DataSource, ...] = self.optional(top, "data", "", self.data, ())
        journeys: tuple[Journey, ...] = ()
        if "journeys" in top:
            journeys = _JourneyReader(self, data, {r.name: r.where for r in requests},
                                      defaults.timeout_s * 1000.0).journeys(top["journeys"])
        elif "data" in top and data:
            raise self.error(top["data"], "data", "data is only used by journeys (write {{ name }} in their steps); "
                                                  "add journeys or remove it")
        names = {r.name for r in requests} | {n for j in journeys for s in j.steps for n in s.result_names} | {
            i.name for j in journeys for i in j.items if isinstance(i, Group)}
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
            journeys=journeys,
            data=data,
        )

    def target_url(self, node: yaml.Node, where: str) -> str:
        url = self.string(node, where)
        check_target_url(url, lambda msg: self.error(node, where, msg))
        return url.rstrip("/")

    def defaults(self, node: yaml.Node, where: str) -> Defaults:
        m = self.mapping(node, where, ("headers", "timeout", "think_time", "auth", "tls", "compression"))
        headers: tuple[tuple[str, str], ...] = self.optional(m, "headers", where, self.headers, ())
        timeout_ms = self.optional(m, "timeout", where, lambda n, w: self.duration_ms(n, w, positive=True),
                                   30_000.0)
        think = self.optional(m, "think_time", where, self.think_time, ThinkTime(0.0, 0.0))
        auth = self.optional(m, "auth", where, self.auth, None)
        self.check_auth_header(auth, headers, m, where)
        verify, ca = self.optional(m, "tls", where, self.tls, (True, ""))
        compression = self.optional(m, "compression", where, self.compression, None)
        self.check_compression_header(compression, headers, m, where)
        return Defaults(headers=headers, timeout_s=timeout_ms / 1000.0, think_time=think, auth=auth,
                        verify_tls=verify, ca_file=ca, compression=compression)

    def tls(self, node: yaml.Node, where: str) -> tuple[bool, str]:
        m = self.mapping(node, where, ("verify", "ca"))
        if not m:
            raise self.error(node, _join(where, "verify"), "missing; write tls: {verify: false} to skip certificate "
                                                           "checks, or tls: {ca: file.pem} to trust a certificate "
                                                           "authority")
        verify = True
        if "verify" in m:
            v = self.value(m["verify"], _join(where, "verify"))
            if not isinstance(v, bool):
                raise self.error(m["verify"], _join(where, "verify"), f"expected true or false, got {_kind(v)}")
            verify = v
        ca = ""
        if "ca" in m:
            at = _join(where, "ca")
            if not verify:
                raise self.error(m["ca"], at, "a CA is only used to check certificates; give either verify: false "
                                              "or ca, not both")
            ca = self.ca_file(m["ca"], at)
        return verify, ca

    def ca_file(self, node: yaml.Node, where: str) -> str:
        """A PEM file of certificate authorities, relative to the scenario file; its absolute path."""
        written = self.string(node, where)
        path = (Path(self.file).parent / written).absolute()
        if path.name in RENDERED_NAMES:
            raise self.error(node, where, f"{written!r}: the CA file is copied next to the rendered files, which "
                                          "use this name; rename it")
        try:
            text = path.read_bytes().decode("ascii")
        except FileNotFoundError:
            raise self.error(node, where, f"{written!r} not found (relative to the scenario file: {path})") from None
        except IsADirectoryError:
            raise self.error(node, where, f"{written!r} is a directory, expected a PEM file") from None
        except UnicodeDecodeError:
            raise self.error(node, where, f"{written!r} is not a PEM file (it is not ASCII text)") from None
        except OSError as e:
            raise self.error(node, where, f"{written!r} cannot be read: {e.strerror}") from None
        if "-----BEGIN CERTIFICATE-----" not in text:
            raise self.error(node, where, f"{written!r} holds no certificate (-----BEGIN CERTIFICATE-----)")
        return str(path)

    def compression(self, node: yaml.Node, where: str) -> str:
        v = self.value(node, where)
        if not isinstance(v, str) or v not in COMPRESSION:
            raise self.error(node, where, f"expected one of {', '.join(COMPRESSION)}, got "
                                          f"{repr(v) if isinstance(v, str) else _kind(v)}")
        return v

    def check_compression_header(self, compression: str | None, headers: tuple[tuple[str, str], ...],
                                 m: dict[str, yaml.Node], where: str) -> None:
        if compression is not None and any(k.lower() == "accept-encoding" for k, _ in headers):
            raise self.error(m["compression"], _join(where, "compression"),
                             "give either compression or an Accept-Encoding header, not both")

    def auth(self, node: yaml.Node, where: str) -> Auth:
        m = self.mapping(node, where, ("basic", "bearer"))
        if len(m) != 1:
            raise self.error(node, where, "give one of basic: {user: ..., password: ...} or bearer: TOKEN")
        if "bearer" in m:
            here = _join(where, "bearer")
            token = self.string(m["bearer"], here)
            if any(c in token for c in "\r\n\0") or not token.isascii():
                raise self.error(m["bearer"], here, "a token is sent in a header: ASCII, without line breaks")
            return Auth(scheme="bearer", token=token)
        here = _join(where, "basic")
        bm = self.mapping(m["basic"], here, ("user", "password"))
        for key in ("user", "password"):
            if key not in bm:
                raise self.error(m["basic"], _join(here, key), "missing; basic takes user and password")
        user = self.scalar_text(bm["user"], _join(here, "user"))
        password = self.scalar_text(bm["password"], _join(here, "password"))
        if ":" in user:
            raise self.error(bm["user"], _join(here, "user"), "a basic-auth user name cannot contain ':' (RFC 7617)")
        for key, text in (("user", user), ("password", password)):
            if any(c in text for c in "\r\n\0"):
                raise self.error(bm[key], _join(here, key), "cannot contain line breaks or NUL")
        return Auth(scheme="basic", user=user, password=password)

    def check_auth_header(self, auth: Auth | None, headers: tuple[tuple[str, str], ...], m: dict[str, yaml.Node],
                          where: str) -> None:
        if auth is not None and any(k.lower() == "authorization" for k, _ in headers):
            raise self.error(m["auth"], _join(where, "auth"), "give either auth or an Authorization header, not both")

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

    def requests(self, node: yaml.Node, where: str, defaults: Defaults, *, allow_empty: bool = False
                 ) -> tuple[Request, ...]:
        if allow_empty and _is_null(node):
            return ()
        items = self.sequence(node, where, "requests")
        if not items and not allow_empty:
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

    def request(self, node: yaml.Node, where: str, *, step: bool = False) -> Request:
        keys: tuple[str, ...] = ("name", "method", "path", "query", "headers", "auth", "json", "body", "weight",
                                 "checks", "think_time", "thresholds", "timeout", "compression")
        if step:  # a journey step: no weight (the journey has one), values to extract
            keys = (*keys[:8], "checks", "extract", "think_time", "thresholds", "timeout", "compression", "if")
            weight = next((k for k, _ in getattr(node, "value", ()) if getattr(k, "value", None) == "weight"), None)
            if isinstance(node, yaml.MappingNode) and weight is not None:
                raise self.error(weight, _join(where, "weight"), "a step has no weight: the journey's weight sets how "
                                                                  "often it is picked, and its steps run in order")
        m = self.mapping(node, where, keys)
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
        # A journey step's path may start with a value that holds it (a Location header, a next link).
        if not path.startswith("/") and not (step and varref.REF.match(path)):
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
        auth = self.optional(m, "auth", where, self.auth, None)
        self.check_auth_header(auth, headers, m, where)
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
        timeout_ms = self.optional(m, "timeout", where, lambda n, w: self.duration_ms(n, w, positive=True), None)
        compression = self.optional(m, "compression", where, self.compression, None)
        self.check_compression_header(compression, headers, m, where)
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
            where=where,
            auth=auth,
            timeout_s=timeout_ms / 1000.0 if timeout_ms is not None else None,
            compression=compression,
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
        m = self.mapping(node, where, ("status", "headers", "body_contains", "json"))
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
        header_checks: tuple[HeaderCheck, ...] = ()
        if "headers" in m and not _is_null(m["headers"]):
            header_checks = self.header_checks(m["headers"], _join(where, "headers"))
        return Checks(status=status, body_contains=contains, json=json_checks, headers=header_checks)

    def header_checks(self, node: yaml.Node, where: str) -> tuple[HeaderCheck, ...]:
        """``Name: text`` (equals), or ``Name: {exists: false}``, ``{equals: text}``, ``{at_least: 100}``, ..."""
        out: list[HeaderCheck] = []
        seen: set[str] = set()
        for name, knode, vnode in self.free_mapping(node, where):
            here = _join(where, name)
            if not _HEADER_NAME.match(name):
                raise self.error(knode, here, "not a valid HTTP header name (letters, digits and !#$%&'*+-.^_`|~)")
            if name.lower() in seen:
                raise self.error(knode, here, "duplicate header (names are case-insensitive)")
            seen.add(name.lower())
            if not isinstance(vnode, yaml.MappingNode):
                out.append(HeaderCheck(name, "equals", self.scalar_text(vnode, here)))
                continue
            cm = self.mapping(vnode, here, HEADER_CHECK_OPS)
            if not cm:
                raise self.error(vnode, here, f"give at least one of {', '.join(HEADER_CHECK_OPS)}")
            for op, onode in cm.items():
                at = _join(here, op)
                if op == "exists":
                    v = self.value(onode, at)
                    if not isinstance(v, bool):
                        raise self.error(onode, at, f"expected true or false, got {_kind(v)}")
                    out.append(HeaderCheck(name, op, v))
                elif op == "equals":
                    out.append(HeaderCheck(name, op, self.scalar_text(onode, at)))
                else:
                    out.append(HeaderCheck(name, op, self.number(onode, at, minimum=-math.inf)))
            if cm.get("exists") is not None and self.value(cm["exists"]) is False and len(cm) > 1:
                raise self.error(vnode, here, "exists: false cannot be combined with other conditions")
        return tuple(out)

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
        m = self.mapping(node, where, ("users", "duration", "spawn_rate", "stages", "rate", "max_users"))
        users = self.optional(m, "users", where, lambda n, w: self.integer(n, w, minimum=1), None)
        duration = self.optional(m, "duration", where, lambda n, w: self.duration_ms(n, w, positive=True),
                                 None)
        rate = self.optional(m, "spawn_rate", where,
                             lambda n, w: self.number(n, w, minimum=0, exclusive=True), None)
        arrival = self.optional(m, "rate", where, self.iteration_rate, None)
        max_users = self.optional(m, "max_users", where, lambda n, w: self.integer(n, w, minimum=1), None)
        stages: tuple[StageSpec, ...] | None = None
        if "stages" in m:
            here = _join(where, "stages")
            items = self.sequence(m["stages"], here, "stages ({duration: 30s, users: 10} or {duration: 30s, rate: 5})")
            if not items:
                raise self.error(m["stages"], here, "list at least one stage")
            parsed = []
            kinds: set[str] = set()
            for j, sn in enumerate(items):
                at = f"{here}[{j}]"
                sm = self.mapping(sn, at, ("duration", "users", "rate"))
                if "duration" not in sm:
                    raise self.error(sn, f"{at}.duration", "missing")
                if ("users" in sm) == ("rate" in sm):
                    raise self.error(sn, f"{at}.users", "give users (closed model) or rate (open model), not both"
                                     if "users" in sm else "missing (or rate, for an arrival-rate stage)")
                kind = "users" if "users" in sm else "rate"
                if kinds and kind not in kinds:
                    raise self.error(sm[kind], f"{at}.{kind}", "every stage gives users, or every stage gives rate")
                kinds.add(kind)
                duration_ms = self.duration_ms(sm["duration"], f"{at}.duration")
                if kind == "users":
                    parsed.append(StageSpec(duration_ms, self.integer(sm["users"], f"{at}.users", minimum=0)))
                else:
                    parsed.append(StageSpec(duration_ms, 0, self.iteration_rate(sm["rate"], f"{at}.rate",
                                                                                zero=True)))
            if sum(s.duration_ms for s in parsed) <= 0:
                raise self.error(m["stages"], here, "the stages must last longer than 0s in total")
            if kinds == {"users"} and max(s.users for s in parsed) < 1:
                raise self.error(m["stages"], here, "at least one stage needs users > 0")
            if kinds == {"rate"} and max(s.rate or 0.0 for s in parsed) <= 0:
                raise self.error(m["stages"], here, "at least one stage needs rate > 0")
            stages = tuple(parsed)
        result = ProfileOverride(users=users, duration_ms=duration, spawn_rate=rate, stages=stages, rate=arrival,
                                 max_users=max_users)
        if result.is_open:
            for key, why in (("users", "an arrival-rate profile sets rate and max_users, not users"),
                             ("spawn_rate", "spawn_rate applies to users; an arrival-rate profile ramps its rate")):
                if key in m:
                    raise self.error(m[key], _join(where, key), why)
            if stages is not None and stages[0].rate is None:
                raise self.error(m["rate"], _join(where, "rate"), "the stages give users; give rate in every stage")
        elif max_users is not None:
            raise self.error(m["max_users"], _join(where, "max_users"),
                             "applies to the open model only (a profile with rate)")
        return result

    def iteration_rate(self, node: yaml.Node, where: str, zero: bool = False) -> float:
        """Iterations started per second: a number, optionally followed by /s (or /m for per minute)."""
        value = self.value(node, where)
        text = str(value).strip() if isinstance(value, (int, float, str)) and not isinstance(value, bool) else None
        match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(?:/\s*([sm]))?", text or "")
        if match is None:
            raise self.error(node, where, f"expected iterations per second such as 10 or 10/s or 90/m, got "
                                          f"{_kind(value) if text is None else repr(text)}")
        rate = float(match.group(1)) / (60.0 if match.group(2) == "m" else 1.0)
        if rate <= 0 and not zero:
            raise self.error(node, where, "must be greater than 0")
        return rate


    # -- data -----------------------------------------------------------------------------------------------
    def data(self, node: yaml.Node, where: str) -> tuple[DataSource, ...]:
        out = []
        for name, knode, vnode in self.free_mapping(node, where):
            here = _join(where, name)
            if not varref.NAME.match(name):
                raise self.error(knode, here, "a data name is a letter or _ followed by letters, digits or _ "
                                              "(it is written {{ name }} in journey steps)")
            out.append(self.data_source(name, vnode, here))
        return tuple(out)

    def data_source(self, name: str, node: yaml.Node, where: str) -> DataSource:
        if isinstance(node, yaml.ScalarNode) and not _is_null(node):
            kind = self.string(node, where)
            if kind not in ("uuid", "timestamp"):
                hint = difflib.get_close_matches(kind, GENERATORS, n=1)
                suggestion = f" (did you mean '{hint[0]}'?)" if hint else ""
                raise self.error(node, where, f"unknown generator {kind!r}{suggestion}; write uuid, timestamp, "
                                              "{generate: integer, min: 1, max: 10}, {generate: choice, values: "
                                              "[a, b]} or {file: data.csv}")
            return DataSource(name=name, kind=kind)
        keys = ("generate", "min", "max", "values", "format", "file", "order", "per")
        m = self.mapping(node, where, keys)
        per = "iteration"
        if "per" in m:
            per = self.choice(m["per"], _join(where, "per"), DATA_PER)
        if "file" in m:
            for key in ("generate", "min", "max", "values", "format"):
                if key in m:
                    raise self.error(m[key], _join(where, key), f"{key} does not apply to a data file")
            order = self.choice(m["order"], _join(where, "order"), DATA_ORDERS) if "order" in m else "sequential"
            columns, rows = self.data_file(m["file"], _join(where, "file"))
            return DataSource(name=name, kind="file", per=per, file=self.string(m["file"], _join(where, "file")),
                              order=order, columns=columns, rows=rows)
        if "generate" not in m:
            raise self.error(node, where, "expected a generator ({generate: uuid|integer|choice|timestamp}) or a data "
                                          "file ({file: users.csv})")
        kind = self.choice(m["generate"], _join(where, "generate"), GENERATORS)
        if "order" in m:
            raise self.error(m["order"], _join(where, "order"), "order only applies to a data file")
        allowed = {"uuid": (), "integer": ("min", "max"), "choice": ("values",), "timestamp": ("format",)}[kind]
        for key in ("min", "max", "values", "format"):
            if key in m and key not in allowed:
                raise self.error(m[key], _join(where, key), f"{key} does not apply to generate: {kind}")
        for key in allowed:
            if key not in m and key != "format":
                raise self.error(node, _join(where, key), f"missing; generate: {kind} needs {' and '.join(allowed)}")
        source = DataSource(name=name, kind=kind, per=per)
        if kind == "integer":
            lo = self.integer(m["min"], _join(where, "min"), minimum=-varref.MAX_SAFE_INTEGER,
                              maximum=varref.MAX_SAFE_INTEGER)
            hi = self.integer(m["max"], _join(where, "max"), minimum=lo, maximum=varref.MAX_SAFE_INTEGER)
            return replace(source, minimum=lo, maximum=hi)
        if kind == "choice":
            here = _join(where, "values")
            items = self.sequence(m["values"], here, "values to choose from")
            if not items:
                raise self.error(m["values"], here, "list at least one value")
            values = []
            for j, vn in enumerate(items):
                v = self.value(vn, f"{here}[{j}]")
                if v is None or not isinstance(v, str | int | float | bool) or \
                        (isinstance(v, float) and not math.isfinite(v)):
                    raise self.error(vn, f"{here}[{j}]", f"expected text, a number or a boolean, got {_kind(v)}")
                values.append(v)
            return replace(source, values=tuple(values))
        if kind == "timestamp" and "format" in m:
            return replace(source, time_format=self.choice(m["format"], _join(where, "format"), TIMESTAMP_FORMATS))
        return source

    def choice(self, node: yaml.Node, where: str, allowed: tuple[str, ...]) -> str:
        v = self.value(node, where)
        if not isinstance(v, str) or v not in allowed:
            shown = repr(v) if isinstance(v, str) else _kind(v)
            hint = difflib.get_close_matches(v, allowed, n=1) if isinstance(v, str) else []
            suggestion = f" (did you mean '{hint[0]}'?)" if hint else ""
            raise self.error(node, where, f"unknown value {shown}{suggestion}; expected one of {', '.join(allowed)}")
        return v

    def data_file(self, node: yaml.Node, where: str
                  ) -> tuple[tuple[str, ...], tuple[tuple[tuple[str, JsonValue], ...], ...]]:
        """The columns found in every row, and the rows, of a .csv (header line first) or .json (a list of
        objects) file, relative to the scenario file."""
        written = self.string(node, where)
        path = Path(self.file).parent / written
        suffix = path.suffix.lower()
        if suffix not in (".csv", ".json"):
            raise self.error(node, where, f"{written!r}: expected a .csv or .json file")
        try:
            if path.stat().st_size > MAX_DATA_BYTES:
                raise self.error(node, where, f"{written!r} is larger than {MAX_DATA_BYTES // 1_000_000} MB: its rows "
                                              "travel inside the rendered files")
            text = path.read_bytes().decode("utf-8-sig")
        except FileNotFoundError:
            raise self.error(node, where, f"{written!r} not found (relative to the scenario file: {path})") from None
        except UnicodeDecodeError:
            raise self.error(node, where, f"{written!r} is not UTF-8 text") from None
        except OSError as e:
            raise self.error(node, where, f"{written!r} cannot be read: {e.strerror}") from None
        shown = str(path)
        rows: list[dict[str, JsonValue]] = []
        if suffix == ".csv":
            reader = csv.reader(io.StringIO(text, newline=""), strict=True)
            try:
                table = [(reader.line_num, row) for row in reader if row]
            except csv.Error as e:
                raise ScenarioError(Location(shown, reader.line_num), where, f"not valid CSV: {e}") from None
            if not table:
                raise ScenarioError(Location(shown, 1), where, "the file is empty; expected a header line and rows")
            header = table[0][1]
            for j, col in enumerate(header):
                if not col.strip() or col in header[:j]:
                    problem = "an empty column name" if not col.strip() else f"column {col!r} appears twice"
                    raise ScenarioError(Location(shown, 1), where, f"the header line has {problem}")
            for line, row in table[1:]:
                if len(row) != len(header):
                    raise ScenarioError(Location(shown, line), where,
                                        f"this row has {len(row)} fields, the header line {len(header)}")
                rows.append(dict(zip(header, row, strict=True)))
        else:
            try:
                doc = json.loads(text, parse_constant=_reject_json_constant)
            except ValueError as e:
                line = getattr(e, "lineno", 0)
                raise ScenarioError(Location(shown, line), where, f"not valid JSON: {e}") from None
            if not isinstance(doc, list) or not all(isinstance(r, dict) for r in doc):
                raise ScenarioError(Location(shown, 1), where, "expected a list of objects ([{\"name\": \"a\"}, ...])")
            for j, r in enumerate(doc):
                for k, v in r.items():
                    if v is None or not isinstance(v, str | int | float | bool):
                        raise ScenarioError(Location(shown), where, f"row {j + 1}, {k!r}: expected text, a number or a "
                                                                    f"boolean, got {_kind(v)}")
                rows.append(r)
        if not rows:
            raise ScenarioError(Location(shown, 1), where, "the file has no rows")
        if len(rows) > MAX_DATA_ROWS:
            raise ScenarioError(Location(shown), where, f"more than {MAX_DATA_ROWS} rows")
        columns = tuple(c for c in rows[0] if all(c in r for r in rows))
        return columns, tuple(tuple(r.items()) for r in rows)


class _JourneyReader:
    """Reads ``journeys``: every step is a request (validated as one) plus what it extracts; every
    ``{{ name }}`` must name a data value or a value extracted by an earlier step of the same journey."""

    def __init__(self, reader: _ScenarioReader, data: tuple[DataSource, ...], request_names: dict[str, str],
                 timeout_ms: float = 30_000.0) -> None:
        self.r = reader
        self.r_timeout_ms = timeout_ms  # an expect's default timeout: the scenario's
        self.data = {d.name: d for d in data}
        self.names = dict(request_names)  # request name -> where first used

    def journeys(self, node: yaml.Node) -> tuple[Journey, ...]:
        items = self.r.sequence(node, "journeys", "journeys")
        if not items:
            raise self.r.error(node, "journeys", "list at least one journey")
        out: list[Journey] = []
        seen: dict[str, str] = {}
        for i, item in enumerate(items):
            journey = self.journey(item, f"journeys[{i}]")
            if journey.name in seen:
                raise self.r.error(item, f"journeys[{i}].name",
                                   f"duplicate journey name {journey.name!r} (first used by {seen[journey.name]})")
            seen[journey.name] = f"journeys[{i}]"
            out.append(journey)
        return tuple(out)

    def journey(self, node: yaml.Node, where: str) -> Journey:
        m = self.r.mapping(node, where, ("name", "weight", "headers", "setup", "steps"))
        for key in ("name", "steps"):
            if key not in m:
                raise self.r.error(node, _join(where, key), "missing")
        name = self.r.string(m["name"], _join(where, "name"))
        if "\0" in name or len(name) > 200 or "::" in name:
            raise self.r.error(m["name"], _join(where, "name"),
                               "must be at most 200 characters, without NUL or '::' (k6 joins group names with '::')")
        weight = self.r.optional(m, "weight", where,
                                 lambda n, w: self.r.integer(n, w, minimum=1, maximum=MAX_WEIGHT), 1)
        headers: tuple[tuple[str, str], ...] = self.r.optional(m, "headers", where, self.r.headers, ())
        known: dict[str, str] = {}  # extracted name -> the step that extracts it
        later = self.extracted_names(m, where)
        used: set[str] = set()
        for key, value in headers:
            self.check_refs(value, _join(_join(where, "headers"), key), m["headers"], known, later, used)
        setup: list[Request] = []
        if "setup" in m and not _is_null(m["setup"]):
            here = _join(where, "setup")
            nodes = self.r.sequence(m["setup"], here, "steps")
            for j, sn in enumerate(nodes):
                step = self.any_step(sn, f"{here}[{j}]", headers, known, later, used)
                if step.condition is not None:
                    key = next(k for k, _ in sn.value if getattr(k, "value", None) == "if")
                    raise self.r.error(key, f"{here}[{j}].if", "a setup step has no if: the setup runs once per "
                                                               "user, all of it")
                setup.append(step)
        here = _join(where, "steps")
        nodes = self.r.sequence(m["steps"], here, "steps")
        if not nodes:
            raise self.r.error(m["steps"], here, "list at least one step")
        items: list[Request | Group] = []
        groups: dict[str, str] = {}
        for j, sn in enumerate(nodes):
            at = f"{here}[{j}]"
            if _has_key(sn, "group"):
                gm = self.r.mapping(sn, at, ("group", "steps", "if", "repeat"))
                gname = self.r.string(gm["group"], _join(at, "group"))
                if gname in groups:
                    raise self.r.error(gm["group"], _join(at, "group"),
                                       f"duplicate group name {gname!r} (first used by {groups[gname]})")
                if "::" in gname or "\0" in gname or len(gname) > 200:
                    raise self.r.error(gm["group"], _join(at, "group"),
                                       "must be at most 200 characters, without NUL or '::' (k6 joins group names "
                                       "with '::')")
                if gname in self.names:
                    raise self.r.error(gm["group"], _join(at, "group"),
                                       f"{gname!r} is already the name of {self.names[gname]}; a group's results "
                                       f"are a row named after it, so names of groups, requests and steps are "
                                       f"unique in the file")
                groups[gname] = at
                self.names[gname] = at
                if "steps" not in gm:
                    raise self.r.error(sn, _join(at, "steps"), "missing")
                gnodes = self.r.sequence(gm["steps"], _join(at, "steps"), "steps")
                if not gnodes:
                    raise self.r.error(gm["steps"], _join(at, "steps"), "list at least one step")
                condition = None
                if "if" in gm and not _is_null(gm["if"]):
                    condition = self.condition(gm["if"], _join(at, "if"), known, later, used)
                repeat, index, until_node = 1, None, None
                if "repeat" in gm and not _is_null(gm["repeat"]):
                    repeat, index, until_node = self.repeat(gm["repeat"], _join(at, "repeat"), known, later)
                    if index is not None:
                        known[index] = _join(at, "repeat")
                gsteps = []
                for k, gn in enumerate(gnodes):
                    gat = f"{at}.steps[{k}]"
                    if _has_key(gn, "group"):
                        raise self.r.error(gn, gat, "groups cannot be nested; list the steps of the inner group here")
                    step = self.any_step(gn, gat, headers, known, later, used)
                    if condition is not None and step.extract:
                        raise self.r.error(gn, _join(gat, "extract"), "a step of a group with if cannot extract: the "
                                                                      "steps after the group could not rely on it")
                    gsteps.append(step)
                until = None
                if until_node is not None:
                    # After a round: its steps' values and the round's number are known.
                    until = self.condition(until_node, _join(at, "repeat.until"), known, later, used)
                if index is not None:
                    del known[index]  # the round's number, for the group's own steps
                items.append(Group(gname, tuple(gsteps), condition, repeat, index, until))
            else:
                items.append(self.any_step(sn, at, headers, known, later, used))
        data = tuple(d for d in self.data if d in used)
        return Journey(name=name, weight=weight, setup=tuple(setup), items=tuple(items), data=data,
                       location=Location(self.r.file, node.start_mark.line + 1))

    def extracted_names(self, m: dict[str, yaml.Node], where: str) -> dict[str, str]:
        """Every name some step of the journey extracts (for 'extracted by a later step' messages)."""
        out: dict[str, str] = {}

        def visit(node: yaml.Node, at: str) -> None:
            if not isinstance(node, yaml.MappingNode):
                return
            for k, v in node.value:
                if isinstance(k, yaml.ScalarNode) and k.value == "extract" and isinstance(v, yaml.MappingNode):
                    for vk, _ in v.value:
                        if isinstance(vk, yaml.ScalarNode):
                            out.setdefault(str(vk.value), at)
                if isinstance(k, yaml.ScalarNode) and k.value == "steps" and isinstance(v, yaml.SequenceNode):
                    for j, sn in enumerate(v.value):
                        visit(sn, f"{at}.steps[{j}]" if at != where else f"{where}.steps[{j}]")
                if isinstance(k, yaml.ScalarNode) and k.value == "ws" and isinstance(v, yaml.MappingNode):
                    for wk, wv in v.value:
                        if isinstance(wk, yaml.ScalarNode) and wk.value == "actions" \
                                and isinstance(wv, yaml.SequenceNode):
                            for j, an in enumerate(wv.value):
                                if _has_key(an, "expect"):
                                    em = dict((str(x.value), y) for x, y in an.value)
                                    visit(em["expect"], f"{at}.ws.actions[{j}].expect")

        for key in ("setup", "steps"):
            if key in m and isinstance(m[key], yaml.SequenceNode):
                for j, sn in enumerate(m[key].value):
                    visit(sn, f"{where}.{key}[{j}]")
        return out

    def any_step(self, node: yaml.Node, where: str, journey_headers: tuple[tuple[str, str], ...],
                 known: dict[str, str], later: dict[str, str], used: set[str]) -> Request:
        if _has_key(node, "ws"):
            return self.ws_step(node, where, journey_headers, known, later, used)
        return self.step(node, where, journey_headers, known, later, used)

    def claim_name(self, name: str, node: yaml.Node, where: str, why: str = "") -> None:
        if name in self.names:
            raise self.r.error(node, where, f"duplicate request name {name!r} ({why}first used by "
                                            f"{self.names[name]}); names are unique in the file")
        self.names[name] = where

    def ws_step(self, node: yaml.Node, where: str, journey_headers: tuple[tuple[str, str], ...],
                known: dict[str, str], later: dict[str, str], used: set[str]) -> Request:
        """``- ws: {name, url, subprotocols, headers, auth, think_time, actions: [send, expect, hold, close]}``."""
        here = _join(where, "ws")
        for k, _ in node.value if isinstance(node, yaml.MappingNode) else ():
            if isinstance(k, yaml.ScalarNode) and k.value != "ws":
                raise self.r.error(k, _join(where, str(k.value)), f"a WebSocket step is one key, ws: {{...}}; write "
                                                                  f"{k.value} inside it")
        outer = self.r.mapping(node, where, ("ws",))
        m = self.r.mapping(outer["ws"], here, ("name", "url", "subprotocols", "headers", "auth", "think_time",
                                                "actions"))
        for key in ("name", "url", "actions"):
            if key not in m:
                raise self.r.error(outer["ws"], _join(here, key), "missing")
        name = self.r.string(m["name"], _join(here, "name"))
        if "\0" in name or len(name) > 200:
            raise self.r.error(m["name"], _join(here, "name"), "must be at most 200 characters, without NUL")
        self.claim_name(name, m["name"], _join(here, "name"))
        url = self.r.string(m["url"], _join(here, "url"))
        absolute = url.startswith(("ws://", "wss://"))
        if not absolute and not url.startswith("/"):
            raise self.r.error(m["url"], _join(here, "url"), "a path on the target starting with '/' (ws:// or "
                                                             "wss:// follows the target's http:// or https://), or "
                                                             "a full ws:// or wss:// URL")
        bare = varref.REF.sub("", url)
        if any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in bare) or "#" in bare:
            raise self.r.error(m["url"], _join(here, "url"), "cannot contain spaces, control characters or #")
        self.check_refs(url, _join(here, "url"), m["url"], known, later, used)
        subprotocols: list[str] = []
        if "subprotocols" in m and not _is_null(m["subprotocols"]):
            at = _join(here, "subprotocols")
            for j, pn in enumerate(self.r.sequence(m["subprotocols"], at, "subprotocol names")):
                p = self.r.string(pn, f"{at}[{j}]")
                if not _HEADER_NAME.match(p):
                    raise self.r.error(pn, f"{at}[{j}]", "a subprotocol is a token: letters, digits and "
                                                         "!#$%&'*+-.^_`|~")
                if p in subprotocols:
                    raise self.r.error(pn, f"{at}[{j}]", f"{p!r} is listed twice")
                subprotocols.append(p)
        own_headers: tuple[tuple[str, str], ...] = self.r.optional(m, "headers", here, self.r.headers, ())
        for key, _ in own_headers:
            if key.lower() in ("sec-websocket-protocol", "sec-websocket-key", "sec-websocket-version",
                               "sec-websocket-extensions", "upgrade", "connection", "host"):
                hnode = next(k for k, _ in m["headers"].value if str(k.value) == key)
                raise self.r.error(hnode, _join(_join(here, "headers"), key),
                                   "the WebSocket handshake sets this header itself (subprotocols: [...] for "
                                   "Sec-WebSocket-Protocol)")
        auth = self.r.optional(m, "auth", here, self.r.auth, None)
        self.r.check_auth_header(auth, own_headers, m, here)
        for key, value in own_headers:
            self.check_refs(value, _join(_join(here, "headers"), key), m["headers"], known, later, used)
        if auth is not None:
            for key in ("user", "password", "token"):
                self.check_refs(getattr(auth, key), f"{here}.auth.{auth.scheme}.{key}", m["auth"], known, later,
                                used)
        think = self.r.optional(m, "think_time", here, self.r.think_time, None)
        actions = self.ws_actions(m["actions"], _join(here, "actions"), name, known, later, used)
        headers = list(journey_headers)
        for key, value in own_headers:
            headers = [(k, v) for k, v in headers if k.lower() != key.lower()]
            headers.append((key, value))
        session = WsSession(subprotocols=tuple(subprotocols), actions=actions, absolute=absolute)
        for extra in (sent_name(name), received_name(name)):
            self.claim_name(extra, m["name"], _join(here, "name"), f"the row that counts the messages of {name!r}; ")
        return Request(name=name, method=WS_METHOD, path=url, headers=tuple(headers), think_time=think,
                       location=Location(self.r.file, node.start_mark.line + 1), where=where, auth=auth,
                       ws=session)

    def ws_actions(self, node: yaml.Node, where: str, ws_name: str, known: dict[str, str], later: dict[str, str],
                   used: set[str]) -> tuple[WsAction, ...]:
        nodes = self.r.sequence(node, where, "actions (send, expect, hold, close)")
        if not nodes:
            raise self.r.error(node, where, "list at least one action (send, expect, hold, close)")
        out: list[WsAction] = []
        kinds = ("send", "expect", "hold", "close")
        for j, an in enumerate(nodes):
            at = f"{where}[{j}]"
            if isinstance(an, yaml.ScalarNode) and an.value == "close":
                if j != len(nodes) - 1:
                    raise self.r.error(an, at, "close ends the session: it is the last action")
                continue
            am = self.r.mapping(an, at, kinds)
            if len(am) != 1:
                raise self.r.error(an, at, "one action per item: send, expect, hold or close")
            kind, vn = next(iter(am.items()))
            here = _join(at, kind)
            if kind == "close":
                raise self.r.error(an, at, "write close on its own: - close")
            if kind == "hold":
                hv = vn
                if isinstance(vn, yaml.MappingNode):
                    hm = self.r.mapping(vn, here, ("duration",))
                    if "duration" not in hm:
                        raise self.r.error(vn, _join(here, "duration"), "missing")
                    hv = hm["duration"]
                    here = _join(here, "duration")
                out.append(WsHold(self.r.duration_ms(hv, here, positive=True) / 1000.0))
            elif kind == "send":
                out.append(self.ws_send(vn, here, known, later, used))
            else:
                n = sum(isinstance(a, WsExpect) for a in out) + 1
                out.append(self.ws_expect(vn, here, f"{ws_name} expect {n}", known))
        return tuple(out)

    def ws_send(self, node: yaml.Node, where: str, known: dict[str, str], later: dict[str, str],
                used: set[str]) -> WsSend:
        m = self.r.mapping(node, where, WS_SEND_KINDS)
        if len(m) != 1:
            raise self.r.error(node, where, "give exactly one of text, json, binary")
        kind, vn = next(iter(m.items()))
        here = _join(where, kind)
        if kind == "text":
            text = self.r.string(vn, here, allow_empty=True)
            self.check_refs(text, here, vn, known, later, used)
            return WsSend("text", text)
        if kind == "binary":
            raw = self.r.string(vn, here)
            try:
                base64.b64decode(raw.encode("ascii"), validate=True)
            except (ValueError, UnicodeEncodeError):
                raise self.r.error(vn, here, "a binary message is written in base64 (e.g. aGVsbG8= for 'hello')"
                                   ) from None
            return WsSend("binary", raw)
        self.r.check_json_value(vn, here)
        value = self.r.value(vn, here)

        def visit(v: JsonValue, at: str) -> None:
            if isinstance(v, str):
                self.check_refs(v, at, vn, known, later, used)
            elif isinstance(v, dict):
                for k, x in v.items():
                    visit(x, _join(at, k))
            elif isinstance(v, list):
                for i, x in enumerate(v):
                    visit(x, f"{at}[{i}]")

        visit(value, here)
        return WsSend("json", value)

    def ws_expect(self, node: yaml.Node, where: str, default_name: str, known: dict[str, str]) -> WsExpect:
        if _is_null(node):
            node_map: dict[str, yaml.Node] = {}
        else:
            node_map = self.r.mapping(node, where, ("name", "json", "regex", "timeout", "extract"))
        m = node_map
        name = default_name
        if "name" in m:
            name = self.r.string(m["name"], _join(where, "name"))
            if "\0" in name or len(name) > 200:
                raise self.r.error(m["name"], _join(where, "name"), "must be at most 200 characters, without NUL")
        self.claim_name(name, m.get("name", node), _join(where, "name"),
                        "" if "name" in m else "an expect's default name, give it a name: ")
        timeout = self.r.optional(m, "timeout", where, lambda n, w: self.r.duration_ms(n, w, positive=True),
                                  self.r_timeout_ms) / 1000.0
        if "json" in m and "regex" in m:
            raise self.r.error(m["regex"], _join(where, "regex"), "give json or regex, not both")
        expect = WsExpect(name=name, timeout_s=timeout)
        if "json" in m:
            at = _join(where, "json")
            jm = self.r.mapping(m["json"], at, ("path", "equals"))
            if "path" not in jm:
                raise self.r.error(m["json"], _join(at, "path"), "missing; e.g. path: $.seq")
            text = self.r.string(jm["path"], _join(at, "path"))
            steps = parse_json_path(text)
            if steps is None:
                raise self.r.error(jm["path"], _join(at, "path"),
                                   f"{text!r} is not a JSON path; expected e.g. $.items[0].id or token")
            expect = replace(expect, json_steps=steps, json_path=text.strip())
            if "equals" in jm:
                self.r.check_json_value(jm["equals"], _join(at, "equals"))
                expect = replace(expect, has_equals=True, equals=self.r.value(jm["equals"], _join(at, "equals")))
        if "regex" in m:
            pattern = self.r.string(m["regex"], _join(where, "regex"))
            problem = regex_problem(pattern)
            if problem:
                raise self.r.error(m["regex"], _join(where, "regex"), problem)
            expect = replace(expect, regex=pattern)
        if "extract" in m and not _is_null(m["extract"]):
            extract = self.extractions(m["extract"], _join(where, "extract"), known, WS_EXTRACT_SOURCES)
            expect = replace(expect, extract=extract)
        return expect

    def step(self, node: yaml.Node, where: str, journey_headers: tuple[tuple[str, str], ...],
             known: dict[str, str], later: dict[str, str], used: set[str]) -> Request:
        req = self.r.request(node, where, step=True)
        if req.name in self.names:
            raise self.r.error(node, _join(where, "name"), f"duplicate request name {req.name!r} (first used by "
                                                           f"{self.names[req.name]}); names are unique in the file")
        self.names[req.name] = where
        m = {str(k.value): v for k, v in node.value} if isinstance(node, yaml.MappingNode) else {}
        for text, at, vnode in self.step_strings(req, m, where):
            self.check_refs(text, at, vnode, known, later, used)
        headers = list(journey_headers)
        for key, value in req.headers:
            headers = [(k, v) for k, v in headers if k.lower() != key.lower()]
            headers.append((key, value))
        condition = None
        if "if" in m and not _is_null(m["if"]):
            condition = self.condition(m["if"], _join(where, "if"), known, later, used)
            if "extract" in m and not _is_null(m["extract"]):
                raise self.r.error(m["extract"], _join(where, "extract"),
                                   "a step with if cannot extract: the steps after it could not rely on the value")
        extract: tuple[Extraction, ...] = ()
        if "extract" in m and not _is_null(m["extract"]):
            extract = self.extractions(m["extract"], _join(where, "extract"), known)
        return replace(req, headers=tuple(headers), extract=extract, condition=condition)

    def condition(self, node: yaml.Node, where: str, known: dict[str, str], later: dict[str, str],
                  used: set[str]) -> Condition:
        """``{var: NAME[.field], equals: VALUE}`` or ``{var: ..., not_equals: VALUE}``."""
        m = self.r.mapping(node, where, ("var", *CONDITION_OPS))
        if "var" not in m:
            raise self.r.error(node, _join(where, "var"), "missing: the name of a value, such as var: row.tier")
        var = self.r.string(m["var"], _join(where, "var"))
        ref = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)(?:\.([A-Za-z_][A-Za-z0-9_]*))?", var.strip())
        if ref is None:
            raise self.r.error(m["var"], _join(where, "var"), f"{var!r} is not a value's name: write NAME or "
                                                               "NAME.column, without {{ }}")
        self.check_refs("{{ " + var.strip() + " }}", _join(where, "var"), m["var"], known, later, used)
        ops = [op for op in CONDITION_OPS if op in m]
        if len(ops) != 1:
            raise self.r.error(node, where, "give exactly one of equals, not_equals")
        value = self.r.value(m[ops[0]], _join(where, ops[0]))
        if value is None or isinstance(value, dict | list):
            raise self.r.error(m[ops[0]], _join(where, ops[0]), f"expected text, a number or true/false, got "
                                                                 f"{_kind(value)}")
        return Condition(ref.group(1), ref.group(2), ops[0], varref.value_text(value))

    def repeat(self, node: yaml.Node, where: str, known: dict[str, str], later: dict[str, str]
               ) -> tuple[int, str | None, yaml.Node | None]:
        """``repeat: N`` or ``repeat: {times: N, index: NAME, until: CONDITION}`` (the until read later, once
        the group's steps are known)."""
        if not isinstance(node, yaml.MappingNode):
            return self.r.integer(node, where, minimum=1, maximum=MAX_REPEAT), None, None
        m = self.r.mapping(node, where, ("times", "index", "until"))
        if "times" not in m:
            raise self.r.error(node, _join(where, "times"), "missing")
        times = self.r.integer(m["times"], _join(where, "times"), minimum=1, maximum=MAX_REPEAT)
        index = None
        if "index" in m and not _is_null(m["index"]):
            index = self.r.string(m["index"], _join(where, "index"))
            if not varref.NAME.match(index):
                raise self.r.error(m["index"], _join(where, "index"),
                                   f"{index!r} is not a name: a letter or _, then letters, digits, _")
            taken = ("a data name" if index in self.data else f"extracted by {known.get(index) or later[index]}"
                     if index in known or index in later else None)
            if taken is not None:
                raise self.r.error(m["index"], _join(where, "index"), f"{index!r} is already {taken}; name the "
                                                                       "round otherwise")
        until = m["until"] if "until" in m and not _is_null(m["until"]) else None
        return times, index, until

    def step_strings(self, req: Request, m: dict[str, yaml.Node], where: str
                     ) -> list[tuple[str, str, yaml.Node]]:
        """(text, field path, node) of every string of a step that may hold {{ name }}."""
        out: list[tuple[str, str, yaml.Node]] = [(req.path, _join(where, "path"), m["path"])]
        for key, value in req.query:
            out.append((value, _join(_join(where, "query"), key), m.get("query", m["path"])))
        for key, value in req.headers:
            out.append((value, _join(_join(where, "headers"), key), m.get("headers", m["path"])))
        if req.raw_body is not None:
            out.append((req.raw_body, _join(where, "body"), m["body"]))
        if req.auth is not None:
            for key in ("user", "password", "token"):
                out.append((getattr(req.auth, key), f"{where}.auth.{req.auth.scheme}.{key}", m["auth"]))

        def visit(value: JsonValue, at: str) -> None:
            if isinstance(value, str):
                out.append((value, at, m["json"]))
            elif isinstance(value, dict):
                for k, v in value.items():
                    visit(v, _join(at, k))
            elif isinstance(value, list):
                for j, v in enumerate(value):
                    visit(v, f"{at}[{j}]")

        if req.has_json_body:
            visit(req.json_body, _join(where, "json"))
        return out

    def check_refs(self, text: str, where: str, node: yaml.Node, known: dict[str, str], later: dict[str, str],
                   used: set[str]) -> None:
        line_node = node
        for name, fld in varref.references(text):
            ref = "{{ " + name + (f".{fld}" if fld else "") + " }}"
            if name in self.data:
                source = self.data[name]
                if source.kind == "file":
                    if fld is None:
                        raise self.r.error(line_node, where, f"{ref}: {name} is a row of {source.file}; name a column: "
                                                             f"{{{{ {name}.{(source.columns or ('column',))[0]} }}}}")
                    if fld not in source.columns:
                        hint = difflib.get_close_matches(fld, source.columns, n=1)
                        suggestion = f" (did you mean '{hint[0]}'?)" if hint else ""
                        raise self.r.error(line_node, where, f"{ref}: no column {fld!r} in every row of "
                                                             f"{source.file}{suggestion}; columns: "
                                                             f"{', '.join(source.columns)}")
                elif fld is not None:
                    raise self.r.error(line_node, where, f"{ref}: {name} is a single value (generate: {source.kind}); "
                                                         f"write {{{{ {name} }}}}")
                used.add(name)
                continue
            if name in known:
                if fld is not None:
                    raise self.r.error(line_node, where, f"{ref}: {name} is a single extracted value; write "
                                                         f"{{{{ {name} }}}}")
                continue
            if name in later:
                session = later[name].partition(".ws.actions[")
                if session[1] and where.startswith(session[0] + ".ws."):
                    raise self.r.error(line_node, where, f"{ref}: {name} is extracted by a later action of this "
                                                         f"WebSocket session ({later[name]}); an action can use what "
                                                         "the actions and steps before it extracted")
                if where.startswith(later[name] + "."):
                    raise self.r.error(line_node, where, f"{ref}: {name} is extracted from this step's response; the "
                                                         "steps after it can use it")
                raise self.r.error(line_node, where, f"{ref}: {name} is extracted by a later step ({later[name]}); "
                                                     "a step can only use what the steps before it extracted")
            candidates = [*self.data, *known]
            hint = difflib.get_close_matches(name, candidates, n=1)
            suggestion = f" (did you mean '{hint[0]}'?)" if hint else ""
            available = ", ".join(candidates) if candidates else "none"
            raise self.r.error(line_node, where, f"{ref}: unknown name{suggestion}; a step can use the data names and "
                                                 f"what earlier steps extracted (here: {available})")

    def extractions(self, node: yaml.Node, where: str, known: dict[str, str],
                    sources: tuple[str, ...] = EXTRACT_SOURCES) -> tuple[Extraction, ...]:
        out: list[Extraction] = []
        for var, knode, vnode in self.r.free_mapping(node, where):
            here = _join(where, var)
            if not varref.NAME.match(var):
                raise self.r.error(knode, here, "a variable name is a letter or _ followed by letters, digits or _ "
                                                "(it is written {{ name }} in later steps)")
            if var in self.data:
                raise self.r.error(knode, here, f"{var!r} is already a data name; extract it under another name")
            m = self.r.mapping(vnode, here, sources)
            if len(m) != 1:
                raise self.r.error(vnode, here, f"give exactly one of {', '.join(sources)}")
            source, snode = next(iter(m.items()))
            at = _join(here, source)
            text = self.r.string(snode, at)
            if source == "json":
                steps = parse_json_path(text)
                if steps is None:
                    raise self.r.error(snode, at, f"{text!r} is not a JSON path; expected e.g. $.items[0].id or token")
                out.append(Extraction(var=var, source=source, steps=steps, path=text.strip()))
            elif source == "header":
                if not _HEADER_NAME.match(text):
                    raise self.r.error(snode, at, "not a valid HTTP header name")
                out.append(Extraction(var=var, source=source, header=text))
            elif source == "cookie":
                if not _HEADER_NAME.match(text):
                    raise self.r.error(snode, at, "not a valid cookie name (letters, digits and !#$%&'*+-.^_`|~)")
                out.append(Extraction(var=var, source=source, cookie=text))
            else:
                problem = regex_problem(text)
                if problem:
                    raise self.r.error(snode, at, problem)
                out.append(Extraction(var=var, source=source, pattern=text))
            known[var] = where
        return tuple(out)


# Regular-expression syntax whose meaning differs between Python's re and JavaScript's RegExp.
_REGEX_UNPORTABLE = re.compile(r"\\[AZzGQEpP]|\(\?(?![:=!])|\[\[:|\\[0-9]")


def regex_problem(pattern: str) -> str | None:
    """Why a pattern cannot be used by both tools alike, or None. Both run it with their own engine (Python's
    re in ASCII mode, JavaScript's RegExp): the common subset is plain characters, classes, quantifiers,
    alternation, (groups), (?:...), lookahead, \\d \\w \\s \\b."""
    if not pattern:
        return "must not be empty"
    if _REGEX_UNPORTABLE.search(pattern.replace("\\\\", "")):
        return ("uses syntax Python and JavaScript read differently (named or inline-flag groups, lookbehind, "
                "\\A \\Z \\z, back references, [[:class:]]); use groups (...), (?:...), classes and quantifiers")
    try:
        compiled = re.compile(pattern, re.ASCII)
    except re.error as e:
        return f"not a regular expression: {e}"
    if compiled.groups > 1:
        return "use at most one capturing group (...): its text is the value; (?:...) groups without capturing"
    return None


def _has_key(node: yaml.Node, key: str) -> bool:
    return isinstance(node, yaml.MappingNode) and any(
        isinstance(k, yaml.ScalarNode) and k.value == key for k, _ in node.value)


def _reject_json_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


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
