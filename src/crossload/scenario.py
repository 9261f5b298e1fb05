"""The scenario file (YAML, ``version: 1``): typed model, loader and validation.

Loading is three passes, and every error names the file, the line and the field path
(``requests[2].checks.status``): the YAML pass turns the node tree into plain data and an index from field
path to line, rejecting what a schema cannot see (tags, merge keys, duplicate keys, aliases that contain or
multiply themselves); the model (crossload.model, pydantic, also the source of the published JSON Schema)
checks keys, types and bounds; the builder makes the dataclasses below and checks what a schema cannot
express (names unique in the file, ``{{ name }}`` references, files, thresholds naming requests). Nothing is
rendered or sent before a scenario has passed here. docs/scenario.md is the user's reference for every key.

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
from typing import Any
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
    redirects: int | None = None  # redirects followed, each hop a request of its own; None: defaults.redirects
    paginate: Paginate | None = None  # journey steps only: the next pages, fetched under the step's name

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
class Paginate:
    """``paginate: {link: next}`` or ``{json: $.next}``, ``max_pages``: after the step's response, each next
    page (a Link header entry of that rel, or a URL or path at a JSON path; on the target's origin) is
    fetched with GET under the step's name, until there is none or ``max_pages`` pages were fetched."""

    link: str = ""  # the rel, lower case
    steps: tuple[str | int, ...] = ()  # json
    path: str = ""  # json, as written
    max_pages: int = 10


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
    journeys and the single requests. ``setup`` runs once per user, before its first iteration; ``teardown``
    once per user that completed the setup (or, without setup, walked the journey), when the load ends."""

    name: str
    weight: int
    setup: tuple[Request, ...]
    items: tuple[Request | Group, ...]
    data: tuple[str, ...]  # the data names its steps refer to, in the order of the file's data section
    location: Location
    teardown: tuple[Request, ...] = ()

    @property
    def steps(self) -> tuple[Request, ...]:
        """Every request of the journey, setup first, groups flattened, in order, teardown last."""
        out = list(self.setup)
        for item in self.items:
            out.extend(item.steps if isinstance(item, Group) else (item,))
        out.extend(self.teardown)
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
    redirects: int = 0  # redirects followed by every request that gives none of its own (0: a 3xx is the response)


def redirects_of(defaults: Defaults, r: Request) -> int:
    """How many redirects a request follows: its own number, else the default one."""
    return r.redirects if r.redirects is not None else defaults.redirects


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
        """Seconds a user may need when the load stops: to finish what it is doing (``inflight_s``), then to
        run the journeys' teardowns (``teardown_s``). Locust's stop timeout."""
        return self.inflight_s + self.teardown_s

    @property
    def teardown_s(self) -> int:
        """Seconds one user's teardowns may take, all of them in turn: each step's timeout, think time and
        WebSocket session; rounded up. 0 without teardown."""
        total = 0.0
        for j in self.journeys:
            for r in j.teardown:
                total += r.timeout_s or self.defaults.timeout_s
                total += (r.think_time or self.defaults.think_time).max_s
                total += r.ws.longest_s if r.ws is not None else 0.0
        return math.ceil(total)

    @property
    def inflight_s(self) -> int:
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
    return _Builder(file, document.lines, document.numeric_keys).scenario(data)


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
    known = (*path, *(ctx.get("line", ()) if ours else ()))
    while known and known not in lines:
        known = known[:-1]
    value_line, key_line = lines.get(known, (0, 0))
    line = key_line if ours and ctx.get("at_key") and known == path else value_line
    return line, where_of(path), ctx["message"] if ours else err["msg"]


_constructor = yaml.SafeLoader("")


def _scalar_text(v: JsonValue) -> str:
    """A header or query value as sent: text, or a number/boolean written the way JSON would."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return repr(v)
    return str(v)


def _ms(v: JsonValue) -> float:
    """A duration the model accepted, in milliseconds."""
    return parse_duration_ms(v)


class _Builder:
    """Builds the Scenario from data the model (crossload.model) accepted, with the checks a schema cannot
    express; every problem names the line of its field path (``lines``, from the YAML pass)."""

    def __init__(self, file: str, lines: Mapping[Path_, tuple[int, int]],
                 numeric_keys: Mapping[Path_, tuple[int, object]]) -> None:
        self.file = file
        self.index = lines
        self.numeric_keys = numeric_keys

    # -- locations ----------------------------------------------------------------------------------------
    def line(self, path: Path_) -> int:
        while path and path not in self.index:
            path = path[:-1]
        return self.index.get(path, (0, 0))[0]

    def location(self, path: Path_) -> Location:
        return Location(self.file, self.line(path))

    def error(self, path: Path_, message: str, where: Path_ | None = None) -> ScenarioError:
        """A problem at the value of ``path`` (its field path: ``where``, default ``path``)."""
        return ScenarioError(self.location(path), where_of(path if where is None else where), message)

    def key_error(self, path: Path_, message: str) -> ScenarioError:
        """A problem with the key that ends ``path``, at the key's line."""
        line = self.index[path][1] if path in self.index else self.line(path)
        return ScenarioError(Location(self.file, line), where_of(path), message)

    # -- the file -----------------------------------------------------------------------------------------
    def scenario(self, doc: dict[str, JsonValue]) -> Scenario:
        target = None
        if doc.get("target") is not None:
            url = doc["target"]
            check_target_url(url, lambda msg: self.error(("target",), msg))
            target = url.rstrip("/")
        defaults = self.defaults(doc["defaults"]) if doc.get("defaults") is not None else Defaults()
        requests: tuple[Request, ...] = ()
        if "requests" in doc:
            requests = self.requests(doc["requests"], allow_empty="journeys" in doc)
        data = self.data(doc["data"]) if doc.get("data") is not None else ()
        journeys: tuple[Journey, ...] = ()
        if "journeys" in doc:
            journeys = _JourneyBuilder(self, data, {r.name: r.where for r in requests},
                                       defaults.timeout_s * 1000.0).journeys(doc["journeys"])
        elif data:
            raise self.error(("data",), "data is only used by journeys (write {{ name }} in their steps); add "
                                        "journeys or remove it")
        names = {r.name for r in requests} | {n for j in journeys for s in j.steps for n in s.result_names} | {
            i.name for j in journeys for i in j.items if isinstance(i, Group)}
        thresholds: tuple[Threshold, ...] = ()
        if doc.get("thresholds") is not None:
            thresholds = self.thresholds(doc["thresholds"], ("thresholds",), None, names)
        profiles = {name: self.profile(p, ("profiles", name)) for name, p in (doc.get("profiles") or {}).items()}
        return Scenario(
            path=self.file,
            name=doc["name"],
            description=doc.get("description") or "",
            target=target,
            defaults=defaults,
            requests=requests,
            thresholds=thresholds,
            profiles=profiles,
            lines={where_of(p): lines[0] for p, lines in self.index.items() if p},
            journeys=journeys,
            data=data,
        )

    def defaults(self, m: dict[str, JsonValue]) -> Defaults:
        p: Path_ = ("defaults",)
        headers = self.headers(m["headers"], (*p, "headers")) if m.get("headers") is not None else ()
        auth = self.auth(m["auth"], (*p, "auth")) if m.get("auth") is not None else None
        self.check_auth_header(auth, headers, p)
        verify, ca = self.tls(m["tls"], (*p, "tls")) if m.get("tls") is not None else (True, "")
        compression = m.get("compression")
        self.check_compression_header(compression, headers, p)
        return Defaults(headers=headers,
                        timeout_s=_ms(m["timeout"]) / 1000.0 if m.get("timeout") is not None else 30.0,
                        think_time=self.think_time(m["think_time"], (*p, "think_time"))
                        if m.get("think_time") is not None else ThinkTime(0.0, 0.0),
                        auth=auth, verify_tls=verify, ca_file=ca, compression=compression,
                        redirects=m.get("redirects") or 0)

    def tls(self, m: dict[str, JsonValue], p: Path_) -> tuple[bool, str]:
        verify = m.get("verify", True)
        if "ca" not in m:
            return verify, ""
        if not verify:
            raise self.error((*p, "ca"), "a CA is only used to check certificates; give either verify: false or ca, "
                                         "not both")
        return verify, self.ca_file(m["ca"], (*p, "ca"))

    def ca_file(self, written: str, p: Path_) -> str:
        """A PEM file of certificate authorities, relative to the scenario file; its absolute path."""
        path = (Path(self.file).parent / written).absolute()
        if path.name in RENDERED_NAMES:
            raise self.error(p, f"{written!r}: the CA file is copied next to the rendered files, which use this "
                                "name; rename it")
        try:
            text = path.read_bytes().decode("ascii")
        except FileNotFoundError:
            raise self.error(p, f"{written!r} not found (relative to the scenario file: {path})") from None
        except IsADirectoryError:
            raise self.error(p, f"{written!r} is a directory, expected a PEM file") from None
        except UnicodeDecodeError:
            raise self.error(p, f"{written!r} is not a PEM file (it is not ASCII text)") from None
        except OSError as e:
            raise self.error(p, f"{written!r} cannot be read: {e.strerror}") from None
        if "-----BEGIN CERTIFICATE-----" not in text:
            raise self.error(p, f"{written!r} holds no certificate (-----BEGIN CERTIFICATE-----)")
        return str(path)

    def check_compression_header(self, compression: str | None, headers: tuple[tuple[str, str], ...],
                                 p: Path_) -> None:
        if compression is not None and any(k.lower() == "accept-encoding" for k, _ in headers):
            raise self.error((*p, "compression"), "give either compression or an Accept-Encoding header, not both")

    def auth(self, m: dict[str, JsonValue], p: Path_) -> Auth:
        if "bearer" in m:
            token = m["bearer"]
            if any(c in token for c in "\r\n\0") or not token.isascii():
                raise self.error((*p, "bearer"), "a token is sent in a header: ASCII, without line breaks")
            return Auth(scheme="bearer", token=token)
        here = (*p, "basic")
        basic = m["basic"]
        user, password = _scalar_text(basic["user"]), _scalar_text(basic["password"])
        if ":" in envref.resolve(user, {}):  # the written text and any ${VAR:-default}'s default
            raise self.error((*here, "user"), "a basic-auth user name cannot contain ':' (RFC 7617)")
        for key, text in (("user", user), ("password", password)):
            if any(c in text for c in "\r\n\0"):
                raise self.error((*here, key), "cannot contain line breaks or NUL")
        return Auth(scheme="basic", user=user, password=password)

    def check_auth_header(self, auth: Auth | None, headers: tuple[tuple[str, str], ...], p: Path_) -> None:
        if auth is not None and any(k.lower() == "authorization" for k, _ in headers):
            raise self.error((*p, "auth"), "give either auth or an Authorization header, not both")

    def headers(self, m: dict[str, JsonValue], p: Path_) -> tuple[tuple[str, str], ...]:
        out: list[tuple[str, str]] = []
        seen: set[str] = set()
        for key, raw in m.items():
            here = (*p, key)
            if not _HEADER_NAME.match(key):
                raise self.key_error(here, "not a valid HTTP header name (letters, digits and !#$%&'*+-.^_`|~)")
            if key.lower() in seen:
                raise self.key_error(here, "duplicate header (names are case-insensitive)")
            seen.add(key.lower())
            value = _scalar_text(raw)
            if any(c in value for c in "\r\n\0"):
                raise self.error(here, "header values cannot contain line breaks or NUL")
            if not value.isascii():
                bad = next(c for c in value if not c.isascii())
                raise self.error(here, f"header values must be ASCII (found {bad!r}): the tools would send different "
                                       "bytes; percent-encode it or send it in the body")
            out.append((key, value))
        return tuple(out)

    def think_time(self, v: JsonValue, p: Path_) -> ThinkTime:
        if isinstance(v, dict):
            lo, hi = _ms(v["min"]) / 1000.0, _ms(v["max"]) / 1000.0
            if hi < lo:
                raise self.error((*p, "max"), "must not be smaller than min")
            return ThinkTime(lo, hi)
        fixed = _ms(v) / 1000.0
        return ThinkTime(fixed, fixed)

    # -- requests -----------------------------------------------------------------------------------------
    def requests(self, items: list[JsonValue] | None, *, allow_empty: bool = False) -> tuple[Request, ...]:
        p: Path_ = ("requests",)
        if items is None:
            if allow_empty:
                return ()
            raise self.error(p, "expected a list of requests")
        if not items and not allow_empty:
            raise self.error(p, "list at least one request")
        out: list[Request] = []
        seen: dict[str, int] = {}
        for i, item in enumerate(items):
            req = self.request(item, (*p, i))
            if req.name in seen:
                first = f"requests[{seen[req.name]}]"
                raise self.error((*p, i), f"duplicate request name {req.name!r} (first used by {first})",
                                 (*p, i, "name"))
            seen[req.name] = i
            out.append(req)
        return tuple(out)

    def request(self, m: dict[str, JsonValue], p: Path_) -> Request:
        name = m["name"]
        if "\0" in name or len(name) > 200:
            raise self.error((*p, "name"), "must be at most 200 characters, without NUL")
        method = m["method"].upper() if "method" in m else "GET"
        query: list[tuple[str, str]] = []
        for key, value in (m.get("query") or {}).items():
            query.extend((key, _scalar_text(v)) for v in (value if isinstance(value, list) else [value]))
        headers = self.headers(m["headers"], (*p, "headers")) if m.get("headers") is not None else ()
        auth = self.auth(m["auth"], (*p, "auth")) if m.get("auth") is not None else None
        self.check_auth_header(auth, headers, p)
        has_body = m.get("body") is not None  # an empty body: the key counts as left out
        if "json" in m and has_body:
            raise self.error((*p, "body"), "give either json or body, not both")
        if method in ("GET", "HEAD") and ("json" in m or has_body):
            key = "json" if "json" in m else "body"
            raise self.error((*p, key), f"a {method} request cannot carry a body")
        if "json" in m:
            self.check_json(m["json"], (*p, "json"))
        compression = m.get("compression")
        self.check_compression_header(compression, headers, p)
        return Request(
            name=name,
            method=method,
            path=m["path"],
            query=tuple(query),
            headers=headers,
            json_body=m.get("json"),
            has_json_body="json" in m,
            raw_body=m.get("body"),
            weight=m.get("weight") or 1,
            checks=self.checks(m["checks"], (*p, "checks")) if m.get("checks") is not None else Checks(),
            think_time=self.think_time(m["think_time"], (*p, "think_time"))
            if m.get("think_time") is not None else None,
            thresholds=self.thresholds(m["thresholds"], (*p, "thresholds"), name, None)
            if m.get("thresholds") is not None else (),
            location=self.location(p),
            where=where_of(p),
            auth=auth,
            timeout_s=_ms(m["timeout"]) / 1000.0 if m.get("timeout") is not None else None,
            compression=compression,
            redirects=m.get("redirects"),
        )

    def check_json(self, value: JsonValue, p: Path_) -> None:
        """A value sent or compared as JSON: text keys, JSON scalars, at most MAX_JSON_VALUES values."""
        budget = [MAX_JSON_VALUES]

        def visit(v: JsonValue, at: Path_) -> None:
            budget[0] -= 1
            if budget[0] < 0:
                raise self.error(at, f"too large: more than {MAX_JSON_VALUES} JSON values")
            if isinstance(v, dict):
                for key, item in v.items():
                    if (*at, key) in self.numeric_keys:
                        line, written = self.numeric_keys[(*at, key)]
                        raise ScenarioError(Location(self.file, line), where_of(at),
                                            f"JSON object keys must be text, got {written!r}")
                    visit(item, (*at, key))
            elif isinstance(v, list):
                for i, item in enumerate(v):
                    visit(item, (*at, i))
            elif v is not None and not isinstance(v, str | int | float | bool):
                raise self.error(at, f"{kind_of(v)} cannot be sent as JSON; quote it to send text")
            elif isinstance(v, float) and not math.isfinite(v):
                raise self.error(at, "NaN and infinity cannot be sent as JSON")

        visit(value, p)

    def checks(self, m: dict[str, JsonValue], p: Path_) -> Checks:
        status = m.get("status")
        contains = m.get("body_contains")
        json_checks = tuple(self.json_check(c, (*p, "json", j)) for j, c in enumerate(m.get("json") or ()))
        header_checks = self.header_checks(m["headers"], (*p, "headers")) if m.get("headers") is not None else ()
        return Checks(status=tuple(status if isinstance(status, list) else [status] if status is not None else []),
                      body_contains=tuple(contains if isinstance(contains, list) else [contains]
                                          if contains is not None else []),
                      json=json_checks, headers=header_checks)

    def header_checks(self, m: dict[str, JsonValue], p: Path_) -> tuple[HeaderCheck, ...]:
        """``Name: text`` (equals), or ``Name: {exists: false}``, ``{equals: text}``, ``{at_least: 100}``, ..."""
        out: list[HeaderCheck] = []
        seen: set[str] = set()
        for name, value in m.items():
            here = (*p, name)
            if not _HEADER_NAME.match(name):
                raise self.key_error(here, "not a valid HTTP header name (letters, digits and !#$%&'*+-.^_`|~)")
            if name.lower() in seen:
                raise self.key_error(here, "duplicate header (names are case-insensitive)")
            seen.add(name.lower())
            if not isinstance(value, dict):
                out.append(HeaderCheck(name, "equals", _scalar_text(value)))
                continue
            for op, v in value.items():
                out.append(HeaderCheck(name, op, v if op == "exists" else _scalar_text(v) if op == "equals"
                                       else float(v)))
            if value.get("exists") is False and len(value) > 1:
                raise self.error(here, "exists: false cannot be combined with other conditions")
        return tuple(out)

    def json_check(self, m: dict[str, JsonValue], p: Path_) -> JsonCheck:
        path = m["path"]
        steps = parse_json_path(path)
        if steps is None:
            raise self.error((*p, "path"), f"{path!r} is not a JSON path; expected e.g. $.items[0].id or token")
        exists = m.get("exists")
        has_equals = "equals" in m
        if has_equals:
            self.check_json(m["equals"], (*p, "equals"))
        if exists is None and not has_equals:
            exists = True
        if exists is False and has_equals:
            raise self.error((*p, "equals"), "cannot combine equals with exists: false")
        return JsonCheck(path=path, steps=steps, exists=exists, has_equals=has_equals, equals=m.get("equals"))

    # -- thresholds ---------------------------------------------------------------------------------------
    def thresholds(self, items: list[JsonValue], p: Path_, request: str | None,
                   request_names: set[str] | None) -> tuple[Threshold, ...]:
        out: list[Threshold] = []
        for j, item in enumerate(items):
            here: Path_ = (*p, j)
            req = request
            abort: tuple[bool, float, float | None] = (False, 0.0, None)
            text = item
            if isinstance(item, dict):
                # {check: "p95 < 300ms"} with a request (top level only) and/or an early stop:
                # {request: NAME, check: "...", abort: true, grace: 10s, window: 30s}
                if request is not None and "request" in item:
                    raise self.error(here, 'the {request: NAME, check: "..."} form is only valid in the top-level '
                                           'thresholds; here, write "metric < value"')
                if "request" in item:
                    req = item["request"]
                    if request_names is not None and req not in request_names:
                        raise self.error((*here, "request"), f"no request is named {req!r}")
                abort = self.abort(item, here)
                text = item["check"]
                here = (*here, "check")
            th = self.threshold(text, here, req)
            if abort[0] and th.metric in TARGET_METRICS:
                raise self.error(here, f"{th.metric} cannot stop a run early (it is judged when a tool's load ends)")
            out.append(replace(th, abort=abort[0], grace_s=abort[1], window_s=abort[2]))
        return tuple(out)

    def abort(self, m: dict[str, JsonValue], p: Path_) -> tuple[bool, float, float | None]:
        """``abort`` (a boolean), ``grace`` and ``window`` (durations; only with ``abort: true``)."""
        on = bool(m.get("abort"))
        for key in ("grace", "window"):
            if m.get(key) is not None and not on:
                raise self.error((*p, key), f"{key} only applies with abort: true")
        grace = _ms(m["grace"]) / 1000.0 if m.get("grace") is not None else 0.0
        window = _ms(m["window"]) / 1000.0 if m.get("window") is not None else None
        return on, grace, window

    def threshold(self, text: str, p: Path_, request: str | None) -> Threshold:
        try:
            metric, op, value = parse_threshold(text)
        except ValueError as e:
            raise self.error(p, str(e)) from None
        if request is not None and metric in TARGET_METRICS:
            raise self.error(p, f"{metric} is measured on the target as a whole: put it in the top-level thresholds, "
                                "without a request")
        return Threshold(metric=metric, op=op, value=value, text=text.strip(), request=request,
                         location=self.location(p))

    # -- profiles -----------------------------------------------------------------------------------------
    def profile(self, m: dict[str, JsonValue], p: Path_) -> ProfileOverride:
        stages: tuple[StageSpec, ...] | None = None
        if "stages" in m:
            stages = self.stages(m["stages"], (*p, "stages"))
        result = ProfileOverride(
            users=m.get("users"),
            duration_ms=_ms(m["duration"]) if m.get("duration") is not None else None,
            spawn_rate=float(m["spawn_rate"]) if m.get("spawn_rate") is not None else None,
            stages=stages,
            rate=_iteration_rate(m["rate"]) if m.get("rate") is not None else None,
            max_users=m.get("max_users"))
        if result.is_open:
            for key, why in (("users", "an arrival-rate profile sets rate and max_users, not users"),
                             ("spawn_rate", "spawn_rate applies to users; an arrival-rate profile ramps its rate")):
                if key in m:
                    raise self.error((*p, key), why)
            if stages is not None and stages[0].rate is None:
                raise self.error((*p, "rate"), "the stages give users; give rate in every stage")
        elif result.max_users is not None:
            raise self.error((*p, "max_users"), "applies to the open model only (a profile with rate)")
        return result

    def stages(self, items: list[dict[str, JsonValue]], p: Path_) -> tuple[StageSpec, ...]:
        if not items:
            raise self.error(p, "list at least one stage")
        parsed = []
        kinds: set[str] = set()
        for j, stage in enumerate(items):
            at: Path_ = (*p, j)
            if ("users" in stage) == ("rate" in stage):
                raise self.error(at, "give users (closed model) or rate (open model), not both" if "users" in stage
                                 else "missing (or rate, for an arrival-rate stage)", (*at, "users"))
            kind = "users" if "users" in stage else "rate"
            if kinds and kind not in kinds:
                raise self.error((*at, kind), "every stage gives users, or every stage gives rate")
            kinds.add(kind)
            duration_ms = _ms(stage["duration"])
            if kind == "users":
                parsed.append(StageSpec(duration_ms, stage["users"]))
            else:
                parsed.append(StageSpec(duration_ms, 0, _iteration_rate(stage["rate"])))
        if sum(s.duration_ms for s in parsed) <= 0:
            raise self.error(p, "the stages must last longer than 0s in total")
        if kinds == {"users"} and max(s.users for s in parsed) < 1:
            raise self.error(p, "at least one stage needs users > 0")
        if kinds == {"rate"} and max(s.rate or 0.0 for s in parsed) <= 0:
            raise self.error(p, "at least one stage needs rate > 0")
        return tuple(parsed)

    # -- data -----------------------------------------------------------------------------------------------
    def data(self, m: dict[str, JsonValue]) -> tuple[DataSource, ...]:
        out = []
        for name, value in m.items():
            here: Path_ = ("data", name)
            if not varref.NAME.match(name):
                raise self.key_error(here, "a data name is a letter or _ followed by letters, digits or _ (it is "
                                           "written {{ name }} in journey steps)")
            out.append(self.data_source(name, value, here))
        return tuple(out)

    def data_source(self, name: str, v: JsonValue, p: Path_) -> DataSource:
        if isinstance(v, str):
            return DataSource(name=name, kind=v)
        per = v.get("per", "iteration")
        if "file" in v:
            for key in ("generate", "min", "max", "values", "format"):
                if key in v:
                    raise self.error((*p, key), f"{key} does not apply to a data file")
            columns, rows = self.data_file(v["file"], (*p, "file"))
            return DataSource(name=name, kind="file", per=per, file=v["file"], order=v.get("order", "sequential"),
                              columns=columns, rows=rows)
        if "generate" not in v:
            raise self.error(p, "expected a generator ({generate: uuid|integer|choice|timestamp}) or a data file "
                                "({file: users.csv})")
        kind = v["generate"]
        if "order" in v:
            raise self.error((*p, "order"), "order only applies to a data file")
        allowed = {"uuid": (), "integer": ("min", "max"), "choice": ("values",), "timestamp": ("format",)}[kind]
        for key in ("min", "max", "values", "format"):
            if key in v and key not in allowed:
                raise self.error((*p, key), f"{key} does not apply to generate: {kind}")
        for key in allowed:
            if key not in v and key != "format":
                raise self.error(p, f"missing; generate: {kind} needs {' and '.join(allowed)}", (*p, key))
        source = DataSource(name=name, kind=kind, per=per)
        if kind == "integer":
            if v["max"] < v["min"]:
                raise self.error((*p, "max"), f"must be at least {v['min']}, got {v['max']}")
            return replace(source, minimum=v["min"], maximum=v["max"])
        if kind == "choice":
            if not v["values"]:
                raise self.error((*p, "values"), "list at least one value")
            return replace(source, values=tuple(v["values"]))
        return replace(source, time_format=v.get("format", "ms"))

    def data_file(self, written: str, p: Path_
                  ) -> tuple[tuple[str, ...], tuple[tuple[tuple[str, JsonValue], ...], ...]]:
        """The columns found in every row, and the rows, of a .csv (header line first) or .json (a list of
        objects) file, relative to the scenario file."""
        where = where_of(p)
        path = Path(self.file).parent / written
        suffix = path.suffix.lower()
        if suffix not in (".csv", ".json"):
            raise self.error(p, f"{written!r}: expected a .csv or .json file")
        try:
            if path.stat().st_size > MAX_DATA_BYTES:
                raise self.error(p, f"{written!r} is larger than {MAX_DATA_BYTES // 1_000_000} MB: its rows travel "
                                    "inside the rendered files")
            text = path.read_bytes().decode("utf-8-sig")
        except FileNotFoundError:
            raise self.error(p, f"{written!r} not found (relative to the scenario file: {path})") from None
        except UnicodeDecodeError:
            raise self.error(p, f"{written!r} is not UTF-8 text") from None
        except OSError as e:
            raise self.error(p, f"{written!r} cannot be read: {e.strerror}") from None
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
                                                                    f"boolean, got {kind_of(v)}")
                rows.append(r)
        if not rows:
            raise ScenarioError(Location(shown, 1), where, "the file has no rows")
        if len(rows) > MAX_DATA_ROWS:
            raise ScenarioError(Location(shown), where, f"more than {MAX_DATA_ROWS} rows")
        columns = tuple(c for c in rows[0] if all(c in r for r in rows))
        return columns, tuple(tuple(r.items()) for r in rows)


def _iteration_rate(v: JsonValue) -> float:
    """Iterations started per second from a rate the model accepted: 10, 10/s or 90/m."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(?:/\s*([sm]))?", str(v).strip())
    assert match is not None  # the model accepted it
    return float(match.group(1)) / (60.0 if match.group(2) == "m" else 1.0)


class _JourneyBuilder:
    """Builds ``journeys``: every step is a request (built as one) plus what it extracts; every ``{{ name }}``
    must name a data value or a value extracted by an earlier step of the same journey."""

    def __init__(self, builder: _Builder, data: tuple[DataSource, ...], request_names: dict[str, str],
                 timeout_ms: float = 30_000.0) -> None:
        self.b = builder
        self.timeout_ms = timeout_ms  # an expect's default timeout: the scenario's
        self.data = {d.name: d for d in data}
        self.names = dict(request_names)  # request name -> where first used

    def journeys(self, items: list[dict[str, JsonValue]] | None) -> tuple[Journey, ...]:
        p: Path_ = ("journeys",)
        if items is None:
            raise self.b.error(p, "expected a list of journeys")
        if not items:
            raise self.b.error(p, "list at least one journey")
        out: list[Journey] = []
        seen: dict[str, str] = {}
        for i, item in enumerate(items):
            journey = self.journey(item, (*p, i))
            if journey.name in seen:
                raise self.b.error((*p, i), f"duplicate journey name {journey.name!r} (first used by "
                                            f"{seen[journey.name]})", (*p, i, "name"))
            seen[journey.name] = f"journeys[{i}]"
            out.append(journey)
        return tuple(out)

    def journey(self, m: dict[str, JsonValue], p: Path_) -> Journey:
        name = m["name"]
        if "\0" in name or len(name) > 200 or "::" in name:
            raise self.b.error((*p, "name"), "must be at most 200 characters, without NUL or '::' (k6 joins group "
                                             "names with '::')")
        headers = self.b.headers(m["headers"], (*p, "headers")) if m.get("headers") is not None else ()
        known: dict[str, str] = {}  # extracted name -> the step that extracts it
        later = self.extracted_names(m, where_of(p))
        used: set[str] = set()
        for key, value in headers:
            self.check_refs(value, where_of((*p, "headers", key)), (*p, "headers"), known, later, used)
        setup: list[Request] = []
        for j, sm in enumerate(m.get("setup") or ()):
            step = self.any_step(sm, (*p, "setup", j), headers, known, later, used)
            if step.condition is not None:
                raise self.b.key_error((*p, "setup", j, "if"), "a setup step has no if: the setup runs once per user, "
                                                               "all of it")
            setup.append(step)
        after_setup = dict(known)
        if not m["steps"]:
            raise self.b.error((*p, "steps"), "list at least one step")
        items: list[Request | Group] = []
        groups: dict[str, str] = {}
        for j, sm in enumerate(m["steps"]):
            at: Path_ = (*p, "steps", j)
            if "group" in sm:
                items.append(self.group(sm, at, groups, headers, known, later, used))
            else:
                items.append(self.any_step(sm, at, headers, known, later, used))
        teardown: list[Request] = []
        for j, sm in enumerate(m.get("teardown") or ()):
            # What the setup and the teardown steps before it extracted: an iteration may have ended before a
            # step of the journey extracted its value.
            step = self.any_step(sm, (*p, "teardown", j), headers, after_setup, later, used)
            if step.condition is not None:
                raise self.b.key_error((*p, "teardown", j, "if"), "a teardown step has no if: the teardown runs once "
                                                                  "per user, all of it")
            teardown.append(step)
        data = tuple(d for d in self.data if d in used)
        return Journey(name=name, weight=m.get("weight") or 1, setup=tuple(setup), items=tuple(items), data=data,
                       location=self.b.location(p), teardown=tuple(teardown))

    def group(self, m: dict[str, JsonValue], at: Path_, groups: dict[str, str],
              headers: tuple[tuple[str, str], ...], known: dict[str, str], later: dict[str, str],
              used: set[str]) -> Group:
        gname = m["group"]
        where = where_of(at)
        if gname in groups:
            raise self.b.error((*at, "group"), f"duplicate group name {gname!r} (first used by {groups[gname]})")
        if "::" in gname or "\0" in gname or len(gname) > 200:
            raise self.b.error((*at, "group"), "must be at most 200 characters, without NUL or '::' (k6 joins group "
                                               "names with '::')")
        if gname in self.names:
            raise self.b.error((*at, "group"), f"{gname!r} is already the name of {self.names[gname]}; a group's "
                                               "results are a row named after it, so names of groups, requests and "
                                               "steps are unique in the file")
        groups[gname] = where
        self.names[gname] = where
        if not m["steps"]:
            raise self.b.error((*at, "steps"), "list at least one step")
        condition = None
        if m.get("if") is not None:
            condition = self.condition(m["if"], (*at, "if"), known, later, used)
        repeat, index, until_spec = 1, None, None
        if m.get("repeat") is not None:
            repeat, index, until_spec = self.repeat(m["repeat"], (*at, "repeat"), known, later)
            if index is not None:
                known[index] = where_of((*at, "repeat"))
        steps = []
        for k, sm in enumerate(m["steps"]):
            step = self.any_step(sm, (*at, "steps", k), headers, known, later, used)
            if condition is not None and step.extract:
                raise self.b.error((*at, "steps", k), "a step of a group with if cannot extract: the steps after the "
                                                      "group could not rely on it", (*at, "steps", k, "extract"))
            steps.append(step)
        until = None
        if until_spec is not None:
            # After a round: its steps' values and the round's number are known.
            until = self.condition(until_spec, (*at, "repeat", "until"), known, later, used)
        if index is not None:
            del known[index]  # the round's number, for the group's own steps
        return Group(gname, tuple(steps), condition, repeat, index, until)

    def extracted_names(self, m: dict[str, JsonValue], where: str) -> dict[str, str]:
        """Every name some step of the journey extracts (for 'extracted by a later step' messages)."""
        out: dict[str, str] = {}

        def visit(step: JsonValue, at: str) -> None:
            if not isinstance(step, dict):
                return
            for name in step.get("extract") or ():
                out.setdefault(name, at)
            for j, inner in enumerate(step.get("steps") or ()):
                visit(inner, f"{at}.steps[{j}]")
            for j, action in enumerate((step.get("ws") or {}).get("actions") or ()):
                if isinstance(action, dict) and "expect" in action:
                    visit(action["expect"], f"{at}.ws.actions[{j}].expect")

        for key in ("setup", "steps", "teardown"):
            for j, step in enumerate(m.get(key) or ()):
                visit(step, f"{where}.{key}[{j}]")
        return out

    def any_step(self, m: dict[str, JsonValue], p: Path_, journey_headers: tuple[tuple[str, str], ...],
                 known: dict[str, str], later: dict[str, str], used: set[str]) -> Request:
        if "ws" in m:
            return self.ws_step(m["ws"], p, journey_headers, known, later, used)
        return self.step(m, p, journey_headers, known, later, used)

    def claim_name(self, name: str, line_at: Path_, at: Path_, why: str = "") -> None:
        if name in self.names:
            raise self.b.error(line_at, f"duplicate request name {name!r} ({why}first used by {self.names[name]}); "
                                        "names are unique in the file", at)
        self.names[name] = where_of(at)

    def ws_step(self, m: dict[str, JsonValue], p: Path_, journey_headers: tuple[tuple[str, str], ...],
                known: dict[str, str], later: dict[str, str], used: set[str]) -> Request:
        """``- ws: {name, url, subprotocols, headers, auth, think_time, actions: [send, expect, hold, close]}``."""
        here: Path_ = (*p, "ws")
        name = m["name"]
        if "\0" in name or len(name) > 200:
            raise self.b.error((*here, "name"), "must be at most 200 characters, without NUL")
        self.claim_name(name, (*here, "name"), (*here, "name"))
        url = m["url"]
        absolute = url.startswith(("ws://", "wss://"))
        if not absolute and not url.startswith("/"):
            raise self.b.error((*here, "url"), "a path on the target starting with '/' (ws:// or wss:// follows the "
                                               "target's http:// or https://), or a full ws:// or wss:// URL")
        bare = varref.REF.sub("", url)
        if any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in bare) or "#" in bare:
            raise self.b.error((*here, "url"), "cannot contain spaces, control characters or #")
        self.check_refs(url, where_of((*here, "url")), (*here, "url"), known, later, used)
        subprotocols: list[str] = []
        for j, protocol in enumerate(m.get("subprotocols") or ()):
            if not _HEADER_NAME.match(protocol):
                raise self.b.error((*here, "subprotocols", j), "a subprotocol is a token: letters, digits and "
                                                               "!#$%&'*+-.^_`|~")
            if protocol in subprotocols:
                raise self.b.error((*here, "subprotocols", j), f"{protocol!r} is listed twice")
            subprotocols.append(protocol)
        own_headers = self.b.headers(m["headers"], (*here, "headers")) if m.get("headers") is not None else ()
        for key, _ in own_headers:
            if key.lower() in ("sec-websocket-protocol", "sec-websocket-key", "sec-websocket-version",
                               "sec-websocket-extensions", "upgrade", "connection", "host"):
                raise self.b.key_error((*here, "headers", key), "the WebSocket handshake sets this header itself "
                                                                "(subprotocols: [...] for Sec-WebSocket-Protocol)")
        auth = self.b.auth(m["auth"], (*here, "auth")) if m.get("auth") is not None else None
        self.b.check_auth_header(auth, own_headers, here)
        for key, value in own_headers:
            self.check_refs(value, where_of((*here, "headers", key)), (*here, "headers"), known, later, used)
        if auth is not None:
            for key in ("user", "password", "token"):
                self.check_refs(getattr(auth, key), f"{where_of(here)}.auth.{auth.scheme}.{key}", (*here, "auth"),
                                known, later, used)
        think = self.b.think_time(m["think_time"], (*here, "think_time")) if m.get("think_time") is not None else None
        actions = self.ws_actions(m["actions"], (*here, "actions"), name, known, later, used)
        headers = list(journey_headers)
        for key, value in own_headers:
            headers = [(k, v) for k, v in headers if k.lower() != key.lower()]
            headers.append((key, value))
        session = WsSession(subprotocols=tuple(subprotocols), actions=actions, absolute=absolute)
        for extra in (sent_name(name), received_name(name)):
            self.claim_name(extra, (*here, "name"), (*here, "name"), f"the row that counts the messages of {name!r}; ")
        return Request(name=name, method=WS_METHOD, path=url, headers=tuple(headers), think_time=think,
                       location=self.b.location(p), where=where_of(p), auth=auth, ws=session)

    def ws_actions(self, items: list[JsonValue], p: Path_, ws_name: str, known: dict[str, str],
                   later: dict[str, str], used: set[str]) -> tuple[WsAction, ...]:
        if not items:
            raise self.b.error(p, "list at least one action (send, expect, hold, close)")
        out: list[WsAction] = []
        for j, action in enumerate(items):
            at: Path_ = (*p, j)
            if action == "close":
                if j != len(items) - 1:
                    raise self.b.error(at, "close ends the session: it is the last action")
                continue
            kind, value = next(iter(action.items()))
            here: Path_ = (*at, kind)
            if kind == "hold":
                if isinstance(value, dict):
                    value, here = value["duration"], (*here, "duration")
                out.append(WsHold(_ms(value) / 1000.0))
            elif kind == "send":
                out.append(self.ws_send(value, here, known, later, used))
            else:
                n = sum(isinstance(a, WsExpect) for a in out) + 1
                out.append(self.ws_expect(value or {}, here, f"{ws_name} expect {n}", known))
        return tuple(out)

    def ws_send(self, m: dict[str, JsonValue], p: Path_, known: dict[str, str], later: dict[str, str],
                used: set[str]) -> WsSend:
        kind, value = next(iter(m.items()))
        here: Path_ = (*p, kind)
        if kind == "text":
            self.check_refs(value, where_of(here), here, known, later, used)
            return WsSend("text", value)
        if kind == "binary":
            try:
                base64.b64decode(value.encode("ascii"), validate=True)
            except (ValueError, UnicodeEncodeError):
                raise self.b.error(here, "a binary message is written in base64 (e.g. aGVsbG8= for 'hello')") from None
            return WsSend("binary", value)
        self.b.check_json(value, here)
        for text, at in _strings(value, where_of(here)):
            self.check_refs(text, at, here, known, later, used)
        return WsSend("json", value)

    def ws_expect(self, m: dict[str, JsonValue], p: Path_, default_name: str, known: dict[str, str]) -> WsExpect:
        name = m.get("name", default_name)
        if "name" in m and ("\0" in name or len(name) > 200):
            raise self.b.error((*p, "name"), "must be at most 200 characters, without NUL")
        self.claim_name(name, (*p, "name") if "name" in m else p, (*p, "name"),
                        "" if "name" in m else "an expect's default name, give it a name: ")
        timeout_ms = _ms(m["timeout"]) if m.get("timeout") is not None else self.timeout_ms
        if "json" in m and "regex" in m:
            raise self.b.error((*p, "regex"), "give json or regex, not both")
        expect = WsExpect(name=name, timeout_s=timeout_ms / 1000.0)
        if "json" in m:
            match = m["json"]
            steps = parse_json_path(match["path"])
            if steps is None:
                raise self.b.error((*p, "json", "path"), f"{match['path']!r} is not a JSON path; expected e.g. "
                                                         "$.items[0].id or token")
            expect = replace(expect, json_steps=steps, json_path=match["path"].strip())
            if "equals" in match:
                self.b.check_json(match["equals"], (*p, "json", "equals"))
                expect = replace(expect, has_equals=True, equals=match["equals"])
        if "regex" in m:
            problem = regex_problem(m["regex"])
            if problem:
                raise self.b.error((*p, "regex"), problem)
            expect = replace(expect, regex=m["regex"])
        if m.get("extract") is not None:
            expect = replace(expect, extract=self.extractions(m["extract"], (*p, "extract"), known))
        return expect

    def step(self, m: dict[str, JsonValue], p: Path_, journey_headers: tuple[tuple[str, str], ...],
             known: dict[str, str], later: dict[str, str], used: set[str]) -> Request:
        req = self.b.request(m, p)
        if req.name in self.names:
            raise self.b.error(p, f"duplicate request name {req.name!r} (first used by {self.names[req.name]}); names "
                                  "are unique in the file", (*p, "name"))
        self.names[req.name] = where_of(p)
        for text, at, line_at in self.step_strings(req, m, p):
            self.check_refs(text, at, line_at, known, later, used)
        headers = list(journey_headers)
        for key, value in req.headers:
            headers = [(k, v) for k, v in headers if k.lower() != key.lower()]
            headers.append((key, value))
        condition = None
        if m.get("if") is not None:
            condition = self.condition(m["if"], (*p, "if"), known, later, used)
            if m.get("extract") is not None:
                raise self.b.error((*p, "extract"), "a step with if cannot extract: the steps after it could not rely "
                                                    "on the value")
        extract: tuple[Extraction, ...] = ()
        if m.get("extract") is not None:
            extract = self.extractions(m["extract"], (*p, "extract"), known)
        paginate = self.paginate(m["paginate"], p, req, extract) if m.get("paginate") is not None else None
        return replace(req, headers=tuple(headers), extract=extract, condition=condition, paginate=paginate)

    def paginate(self, m: dict[str, JsonValue], p: Path_, req: Request, extract: tuple[Extraction, ...]) -> Paginate:
        here: Path_ = (*p, "paginate")
        if req.method != "GET":
            raise self.b.key_error(here, "the next pages are fetched with GET: a paginated step is a GET, not "
                                         f"{req.method}")
        if extract:
            raise self.b.key_error(here, "a paginated step cannot extract: its pages are many responses; extract "
                                         "in another step")
        max_pages = m.get("max_pages") or 10
        if "link" in m:
            rel = m["link"].strip()
            if not _HEADER_NAME.match(rel):
                raise self.b.error((*here, "link"), "a link relation is one word, such as next")
            return Paginate(link=rel.lower(), max_pages=max_pages)
        steps = parse_json_path(m["json"])
        if steps is None:
            raise self.b.error((*here, "json"), f"{m['json']!r} is not a JSON path; expected e.g. $.next or "
                                                "links.next")
        return Paginate(steps=steps, path=m["json"].strip(), max_pages=max_pages)

    def step_strings(self, req: Request, m: dict[str, JsonValue], p: Path_) -> list[tuple[str, str, Path_]]:
        """(text, field path, where its line is) of every string of a step that may hold {{ name }}."""
        where = where_of(p)
        out: list[tuple[str, str, Path_]] = [(req.path, _join(where, "path"), (*p, "path"))]
        for key, value in req.query:
            out.append((value, _join(_join(where, "query"), key), (*p, "query")))
        for key, value in req.headers:
            out.append((value, _join(_join(where, "headers"), key), (*p, "headers")))
        if req.raw_body is not None:
            out.append((req.raw_body, _join(where, "body"), (*p, "body")))
        if req.auth is not None:
            for key in ("user", "password", "token"):
                out.append((getattr(req.auth, key), f"{where}.auth.{req.auth.scheme}.{key}", (*p, "auth")))
        if req.has_json_body:
            out.extend((text, at, (*p, "json")) for text, at in _strings(req.json_body, _join(where, "json")))
        return out

    def check_refs(self, text: str, where: str, line_at: Path_, known: dict[str, str], later: dict[str, str],
                   used: set[str]) -> None:
        def fail(message: str) -> ScenarioError:
            return ScenarioError(self.b.location(line_at), where, message)

        for name, fld in varref.references(text):
            ref = "{{ " + name + (f".{fld}" if fld else "") + " }}"
            if name in self.data:
                source = self.data[name]
                if source.kind == "file":
                    if fld is None:
                        raise fail(f"{ref}: {name} is a row of {source.file}; name a column: "
                                   f"{{{{ {name}.{(source.columns or ('column',))[0]} }}}}")
                    if fld not in source.columns:
                        hint = difflib.get_close_matches(fld, source.columns, n=1)
                        suggestion = f" (did you mean '{hint[0]}'?)" if hint else ""
                        raise fail(f"{ref}: no column {fld!r} in every row of {source.file}{suggestion}; columns: "
                                   f"{', '.join(source.columns)}")
                elif fld is not None:
                    raise fail(f"{ref}: {name} is a single value (generate: {source.kind}); write {{{{ {name} }}}}")
                used.add(name)
                continue
            if name in known:
                if fld is not None:
                    raise fail(f"{ref}: {name} is a single extracted value; write {{{{ {name} }}}}")
                continue
            if name in later:
                session = later[name].partition(".ws.actions[")
                if session[1] and where.startswith(session[0] + ".ws."):
                    raise fail(f"{ref}: {name} is extracted by a later action of this WebSocket session "
                               f"({later[name]}); an action can use what the actions and steps before it extracted")
                if where.startswith(later[name] + "."):
                    raise fail(f"{ref}: {name} is extracted from this step's response; the steps after it can use it")
                if ".teardown[" in where and ".teardown[" not in later[name]:
                    raise fail(f"{ref}: {name} is extracted by a step of the journey ({later[name]}); a teardown step "
                               "can use the data names and what the setup and the teardown steps before it extracted "
                               "(an iteration may end before that step)")
                raise fail(f"{ref}: {name} is extracted by a later step ({later[name]}); a step can only use what the "
                           "steps before it extracted")
            candidates = [*self.data, *known]
            hint = difflib.get_close_matches(name, candidates, n=1)
            suggestion = f" (did you mean '{hint[0]}'?)" if hint else ""
            available = ", ".join(candidates) if candidates else "none"
            raise fail(f"{ref}: unknown name{suggestion}; a step can use the data names and what earlier steps "
                       f"extracted (here: {available})")

    def condition(self, m: dict[str, JsonValue], p: Path_, known: dict[str, str], later: dict[str, str],
                  used: set[str]) -> Condition:
        """``{var: NAME[.field], equals: VALUE}`` or ``{var: ..., not_equals: VALUE}``."""
        var = m["var"]
        ref = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)(?:\.([A-Za-z_][A-Za-z0-9_]*))?", var.strip())
        if ref is None:
            raise self.b.error((*p, "var"), f"{var!r} is not a value's name: write NAME or NAME.column, without {{ }}")
        self.check_refs("{{ " + var.strip() + " }}", where_of((*p, "var")), (*p, "var"), known, later, used)
        op = next(op for op in CONDITION_OPS if op in m)
        return Condition(ref.group(1), ref.group(2), op, varref.value_text(m[op]))

    def repeat(self, v: JsonValue, p: Path_, known: dict[str, str], later: dict[str, str]
               ) -> tuple[int, str | None, JsonValue]:
        """``repeat: N`` or ``repeat: {times: N, index: NAME, until: CONDITION}`` (the until read later, once
        the group's steps are known)."""
        if not isinstance(v, dict):
            return v, None, None
        index = v.get("index")
        if index is not None:
            if not varref.NAME.match(index):
                raise self.b.error((*p, "index"), f"{index!r} is not a name: a letter or _, then letters, digits, _")
            taken = ("a data name" if index in self.data else f"extracted by {known.get(index) or later[index]}"
                     if index in known or index in later else None)
            if taken is not None:
                raise self.b.error((*p, "index"), f"{index!r} is already {taken}; name the round otherwise")
        return v["times"], index, v.get("until")

    def extractions(self, m: dict[str, JsonValue], p: Path_, known: dict[str, str]) -> tuple[Extraction, ...]:
        out: list[Extraction] = []
        for var, spec in m.items():
            here: Path_ = (*p, var)
            if not varref.NAME.match(var):
                raise self.b.key_error(here, "a variable name is a letter or _ followed by letters, digits or _ (it is "
                                             "written {{ name }} in later steps)")
            if var in self.data:
                raise self.b.key_error(here, f"{var!r} is already a data name; extract it under another name")
            source, text = next(iter(spec.items()))
            at: Path_ = (*here, source)
            if source == "json":
                steps = parse_json_path(text)
                if steps is None:
                    raise self.b.error(at, f"{text!r} is not a JSON path; expected e.g. $.items[0].id or token")
                out.append(Extraction(var=var, source=source, steps=steps, path=text.strip()))
            elif source == "header":
                if not _HEADER_NAME.match(text):
                    raise self.b.error(at, "not a valid HTTP header name")
                out.append(Extraction(var=var, source=source, header=text))
            elif source == "cookie":
                if not _HEADER_NAME.match(text):
                    raise self.b.error(at, "not a valid cookie name (letters, digits and !#$%&'*+-.^_`|~)")
                out.append(Extraction(var=var, source=source, cookie=text))
            else:
                problem = regex_problem(text)
                if problem:
                    raise self.b.error(at, problem)
                out.append(Extraction(var=var, source=source, pattern=text))
            known[var] = where_of(p)
        return tuple(out)


def _strings(value: JsonValue, where: str) -> list[tuple[str, str]]:
    """(text, field path) of every string inside a JSON value."""
    out: list[tuple[str, str]] = []

    def visit(v: JsonValue, at: str) -> None:
        if isinstance(v, str):
            out.append((v, at))
        elif isinstance(v, dict):
            for k, x in v.items():
                visit(x, _join(at, k))
        elif isinstance(v, list):
            for i, x in enumerate(v):
                visit(x, f"{at}[{i}]")

    visit(value, where)
    return out


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


def kind_of(v: object) -> str:
    """How a value the user wrote is named in a message."""
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
