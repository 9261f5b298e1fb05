"""The scenario file as written in YAML, as pydantic models: the source of its JSON Schema.

Every key the loader (crossload.scenario) accepts is a field here, with its type, its bounds and a
description that editors show (docs/scenario.schema.json, written by ``crossload schema``). Unknown keys
are errors (``extra="forbid"``) and types are strict: ``"5"`` is not a number and ``1`` is not a boolean.
A key written with the value null counts as left out, so every optional field also takes null.

Forms that are one of several (a think time as a duration or ``{min, max}``; a journey step, WebSocket
step or group) are told apart by their keys, so an error names the form the user meant. What a schema
cannot express (names unique in the file, ``{{ name }}`` references defined before use, a request's
thresholds naming known requests, data files that exist) is checked by crossload.scenario.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    Tag,
    WithJsonSchema,
)

from crossload.errors import InputError

SCHEMA_ID = "https://crossload.dev/schemas/scenario.schema.json"
SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"

METHOD_NAMES = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
PROFILE_KEYS = ("smoke", "load", "stress", "spike", "endurance")
MAX_WEIGHT = 10_000
MAX_REPEAT = 100
MAX_SAFE_INTEGER = 2**53 - 1

# A duration as text (``500ms``, ``30s``, ``1m30s``, ``2h``; a bare number is seconds) or a number of seconds.
_DURATION_TEXT = r"^\s*(\d+(\.\d+)?\s*(ms|s|m|h|d)?\s*)+$"
_RATE_TEXT = r"^\s*\d+(\.\d+)?\s*(/\s*[sm])?\s*$"
_HEADER_TOKEN = r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$"
_VAR_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"


def _case_insensitive(word: str) -> str:
    return "".join(f"[{c.upper()}{c.lower()}]" for c in word)


_METHOD_PATTERN = "^(" + "|".join(_case_insensitive(m) for m in METHOD_NAMES) + ")$"


_HEADERS_DOC = "HTTP headers, name: value (names case-insensitive and unique; values ASCII, one line)"
_THINK_DOC = "pause after the request: a duration (500ms, 2s) or {min: 1s, max: 3s}"
_COMPRESSION_DOC = "gzip: ask for gzip-compressed responses and decode them; none: ask for identity"


class _Doc(BaseModel):
    """Base of every mapping of the file: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", populate_by_name=False, frozen=True)


Text = StrictStr
# A header, query or condition value: text, or a number or boolean written the way JSON would.
Scalar = StrictStr | StrictInt | StrictFloat | StrictBool
# Any JSON value: a body, an equals value, a WebSocket json message.
JsonAny = Annotated[Any, Field(json_schema_extra={"description": "any JSON value written in YAML"})]
Duration = Annotated[
    StrictStr | Annotated[StrictFloat, Field(ge=0)],
    WithJsonSchema({"anyOf": [{"type": "string", "pattern": _DURATION_TEXT}, {"type": "number", "minimum": 0}],
                    "examples": ["500ms", "30s", "1m30s"]}),
]


def _one_of(*keys: str) -> dict[str, Any]:
    """JSON Schema for a mapping holding exactly one of ``keys``."""
    return {"minProperties": 1, "maxProperties": 1, "oneOf": [{"required": [k]} for k in keys]}


def _by_key(*keys: str, default: str) -> Any:
    """A discriminator: the first of ``keys`` present in a mapping, else ``default``."""

    def pick(value: Any) -> str:
        if isinstance(value, dict):
            for key in keys:
                if key in value:
                    return key
        elif isinstance(value, BaseModel):
            return type(value).__name__
        return default

    return Discriminator(pick)


# --------------------------------------------------------------------------------------------------------
# Small forms


class ThinkRange(_Doc):
    """A pause drawn uniformly between min and max."""

    min: Duration = Field(description="shortest pause, e.g. 1s")
    max: Duration = Field(description="longest pause, e.g. 3s; not smaller than min")


ThinkTime = Annotated[
    Duration | ThinkRange,
    Field(description="pause after the request: a duration (500ms, 2s) or {min: 1s, max: 3s}"),
]


class BasicCredentials(_Doc):
    user: Scalar = Field(description="user name (no ':'); ${VAR} reads it from the environment")
    password: Scalar = Field(description="password; ${VAR} reads it from the environment and it is never written "
                                         "into rendered files")


class Auth(_Doc):
    """Exactly one of basic or bearer; the tools compute the Authorization header."""

    model_config = ConfigDict(json_schema_extra=_one_of("basic", "bearer"))
    basic: BasicCredentials | None = Field(None, description="HTTP basic authentication: {user, password}")
    bearer: Text | None = Field(None, description="a bearer token (Authorization: Bearer TOKEN); ASCII, e.g. "
                                                  "${API_TOKEN}")


Headers = Annotated[
    dict[Annotated[str, Field(pattern=_HEADER_TOKEN)], Scalar],
    Field(description="HTTP headers, name: value (names case-insensitive and unique; values ASCII, one line)"),
]


class Tls(_Doc):
    verify: StrictBool | None = Field(None, description="false skips certificate checks (explicit opt-in)")
    ca: Text | None = Field(None, description="a PEM file of certificate authorities both tools trust, relative to "
                                              "the scenario file")


Compression = Annotated[
    Literal["gzip", "none"],
    Field(description="gzip: ask for gzip-compressed responses and decode them; none: ask for identity"),
]


class Defaults(_Doc):
    """Settings every request uses unless it gives its own."""

    headers: Headers | None = Field(None, description=_HEADERS_DOC)
    timeout: Duration | None = Field(None, description="request timeout (default 30s); longer than 0s")
    think_time: ThinkTime | None = Field(None, description=_THINK_DOC)
    auth: Auth | None = Field(None, description="authentication of every request: basic: {user, password} or "
                                                "bearer: TOKEN")
    tls: Tls | None = Field(None, description="HTTPS: {verify: false} or {ca: file.pem}")
    compression: Compression | None = Field(None, description=_COMPRESSION_DOC)


# --------------------------------------------------------------------------------------------------------
# Checks


class HeaderCondition(_Doc):
    """Conditions on one response header; exists: false stands alone."""

    model_config = ConfigDict(json_schema_extra={"minProperties": 1})
    exists: StrictBool | None = Field(None, description="the header is present (true) or absent (false)")
    equals: Scalar | None = Field(None, description="the header's value is exactly this text")
    at_least: StrictFloat | StrictInt | None = Field(None, description="the header read as a number is at least this")
    at_most: StrictFloat | StrictInt | None = Field(None, description="the header read as a number is at most this")


class JsonCheck(_Doc):
    path: Text = Field(description="a JSON path into the response body: $.items[0].id or items[0].id")
    exists: StrictBool | None = Field(None, description="the value exists (true, the default without equals) or "
                                                        "does not (false)")
    equals: JsonAny = Field(None, description="the value equals this JSON value")


StatusCode = Annotated[StrictInt, Field(ge=100, le=599)]


class Checks(_Doc):
    """What makes a response a success; without status, any 2xx or 3xx."""

    status: StatusCode | list[StatusCode] | None = Field(
        None, description="expected status code(s), e.g. 200 or [200, 201]")
    headers: dict[Annotated[str, Field(pattern=_HEADER_TOKEN)], Scalar | HeaderCondition] | None = Field(
        None, description="response headers: Name: value (equals), or Name: {exists, equals, at_least, at_most}")
    body_contains: Text | list[Text] | None = Field(None, description="text(s) the response body contains")
    json_: list[JsonCheck] | None = Field(None, alias="json", description="checks on the JSON response body")


# --------------------------------------------------------------------------------------------------------
# Thresholds


class ThresholdSpec(_Doc):
    request: Text | None = Field(None, description="the request (or step, group) judged; top-level thresholds only")
    check: Text = Field(description='"metric op value", e.g. "p95 < 500ms"')
    abort: StrictBool | None = Field(None, description="stop the run early when breached during it")
    grace: Duration | None = Field(None, description="with abort: not judged in the run's first seconds")
    window: Duration | None = Field(None, description="with abort: judged on the last seconds only (longer than 0s)")


_THRESHOLD_TEXT = Annotated[
    StrictStr,
    Field(description='"metric op value": avg, p50, p90, p95, p99, max (ms, s), error_rate (%), rps (/s), '
                      "target_rss_growth, target_rss_max (bytes), target_cpu_mean (%)",
          examples=["p95 < 500ms", "error_rate < 1%", "rps >= 50"]),
]
Threshold = Annotated[
    Annotated[_THRESHOLD_TEXT, Tag("text")] | Annotated[ThresholdSpec, Tag("spec")],
    Discriminator(lambda v: "spec" if isinstance(v, dict | ThresholdSpec) else "text"),
]


# --------------------------------------------------------------------------------------------------------
# Requests


_REQUEST_DOC = {
    "name": "unique name of the request: its results are reported under it (at most 200 characters)",
    "method": "HTTP method (default GET); GET and HEAD carry no body",
    "path": "path on the target, starting with '/'; ${VAR} reads the environment",
    "query": "query parameters: name: value, or name: [values] for a repeated parameter",
    "json": "a JSON body (sets Content-Type: application/json); not with body",
    "body": "a raw text body; not with json",
    "timeout": "this request's timeout (longer than 0s; default: defaults.timeout)",
    "thresholds": 'pass/fail criteria for this request, e.g. ["p95 < 300ms"]',
}
Query = dict[str, Scalar | list[Scalar]]
Method = Annotated[
    StrictStr,
    Field(json_schema_extra={"anyOf": [{"enum": list(METHOD_NAMES)}, {"pattern": _METHOD_PATTERN}]}),
]


class Request(_Doc):
    """One named HTTP request of the weighted mix every virtual user loops over."""

    name: Text = Field(description=_REQUEST_DOC["name"])
    method: Method | None = Field(None, description=_REQUEST_DOC["method"])
    path: Text = Field(description=_REQUEST_DOC["path"])
    query: Query | None = Field(None, description=_REQUEST_DOC["query"])
    headers: Headers | None = Field(None, description=_HEADERS_DOC)
    auth: Auth | None = Field(None, description="authentication: basic: {user, password} or bearer: TOKEN")
    json_: JsonAny = Field(None, alias="json", description=_REQUEST_DOC["json"])
    body: Text | None = Field(None, description=_REQUEST_DOC["body"])
    weight: Annotated[StrictInt, Field(ge=1, le=MAX_WEIGHT)] | None = Field(
        None, description="how often the request is picked relative to the others (1 to 10000, default 1)")
    checks: Checks | None = Field(None, description="what makes a response a success: status, headers, "
                                                   "body_contains, json")
    think_time: ThinkTime | None = Field(None, description=_THINK_DOC)
    thresholds: list[Threshold] | None = Field(None, description=_REQUEST_DOC["thresholds"])
    timeout: Duration | None = Field(None, description=_REQUEST_DOC["timeout"])
    compression: Compression | None = Field(None, description=_COMPRESSION_DOC)


# --------------------------------------------------------------------------------------------------------
# Journeys


class Extraction(_Doc):
    """Where a value comes from: exactly one of json, header, regex, cookie."""

    model_config = ConfigDict(json_schema_extra=_one_of("json", "header", "regex", "cookie"))
    json_: Text | None = Field(None, alias="json", description="a JSON path into the response body, e.g. $.id")
    header: Text | None = Field(None, description="a response header's value, e.g. Location")
    regex: Text | None = Field(None, description="a regular expression on the body; the value is its one (group), "
                                                 "else the whole match")
    cookie: Text | None = Field(None, description="a cookie the response sets")


class WsExtraction(_Doc):
    """Where a value comes from in a WebSocket message: exactly one of json, regex."""

    model_config = ConfigDict(json_schema_extra=_one_of("json", "regex"))
    json_: Text | None = Field(None, alias="json", description="a JSON path into the message, e.g. $.id")
    regex: Text | None = Field(None, description="a regular expression on the message")


VarName = Annotated[str, Field(pattern=_VAR_NAME)]


class Condition(_Doc):
    """The step (or group) runs only when the value is (or is not) the given one."""

    model_config = ConfigDict(json_schema_extra={"required": ["var"], "oneOf": [
        {"required": ["equals"]}, {"required": ["not_equals"]}]})
    var: Text = Field(description="the value's name: NAME or NAME.column (without {{ }})")
    equals: Scalar | None = Field(None, description="runs when the value, as text, is this")
    not_equals: Scalar | None = Field(None, description="runs when the value, as text, is not this")


class Step(_Doc):
    """A request of a journey: run in order, may extract values for later steps."""

    name: Text = Field(description=_REQUEST_DOC["name"])
    method: Method | None = Field(None, description=_REQUEST_DOC["method"])
    path: Text = Field(description="path starting with '/', or a {{ name }} holding one (a Location, a next link)")
    query: Query | None = Field(None, description=_REQUEST_DOC["query"])
    headers: Headers | None = Field(None, description=_HEADERS_DOC)
    auth: Auth | None = Field(None, description="authentication: basic: {user, password} or bearer: TOKEN")
    json_: JsonAny = Field(None, alias="json", description=_REQUEST_DOC["json"])
    body: Text | None = Field(None, description=_REQUEST_DOC["body"])
    checks: Checks | None = Field(None, description="what makes a response a success: status, headers, "
                                                   "body_contains, json")
    extract: dict[VarName, Extraction] | None = Field(
        None, description="values taken from the response: name: {json | header | regex | cookie: ...}")
    think_time: ThinkTime | None = Field(None, description=_THINK_DOC)
    thresholds: list[Threshold] | None = Field(None, description=_REQUEST_DOC["thresholds"])
    timeout: Duration | None = Field(None, description=_REQUEST_DOC["timeout"])
    compression: Compression | None = Field(None, description=_COMPRESSION_DOC)
    if_: Condition | None = Field(None, alias="if", description="run the step only when {var, equals | not_equals} "
                                                                "holds")


class WsSend(_Doc):
    """One message to the server: exactly one of text, json, binary."""

    model_config = ConfigDict(json_schema_extra=_one_of("text", "json", "binary"))
    text: Text | None = Field(None, description="a text message; may hold {{ name }}")
    json_: JsonAny = Field(None, alias="json", description="a JSON message")
    binary: Text | None = Field(None, description="a binary message written in base64")


class WsJsonMatch(_Doc):
    path: Text = Field(description="a JSON path into the message, e.g. $.seq")
    equals: JsonAny = Field(None, description="the value at path equals this (else: it exists)")


class WsExpect(_Doc):
    """Wait for the next message that matches (any message without json or regex)."""

    name: Text | None = Field(None, description="the row its round trip is reported under (default: '<step> "
                                                "expect N')")
    json_: WsJsonMatch | None = Field(None, alias="json", description="match on a JSON path of the message")
    regex: Text | None = Field(None, description="match a regular expression; not with json")
    timeout: Duration | None = Field(None, description="how long to wait (default: defaults.timeout)")
    extract: dict[VarName, WsExtraction] | None = Field(None, description="values taken from the message")


class WsHold(_Doc):
    duration: Duration = Field(description="how long to keep the connection open (longer than 0s)")


class WsAction(_Doc):
    """One action: send, expect, hold (close is written on its own: - close)."""

    model_config = ConfigDict(json_schema_extra=_one_of("send", "expect", "hold"))
    send: WsSend | None = Field(None, description="send a message: {text | json | binary: ...}")
    expect: WsExpect | None = Field(None, description="wait for a matching message")
    hold: Duration | WsHold | None = Field(None, description="keep the connection open for a while: 5s")


WsActionItem = Annotated[
    Annotated[Literal["close"], Tag("close")] | Annotated[WsAction, Tag("action")],
    Discriminator(lambda v: "close" if isinstance(v, str) else "action"),
]


class WsSession(_Doc):
    """A WebSocket session: connect, run the actions in order, close."""

    name: Text = Field(description="the row the handshake is reported under (also '<name> sent', '<name> received')")
    url: Text = Field(description="a path on the target starting with '/', or a full ws:// or wss:// URL")
    subprotocols: list[Annotated[str, Field(pattern=_HEADER_TOKEN)]] | None = Field(
        None, description="subprotocols offered in the handshake (Sec-WebSocket-Protocol)")
    headers: Headers | None = Field(None, description=_HEADERS_DOC)
    auth: Auth | None = Field(None, description="authentication of the handshake")
    think_time: ThinkTime | None = Field(None, description=_THINK_DOC)
    actions: Annotated[list[WsActionItem], Field(min_length=1)] = Field(
        description="send, expect, hold, and close as the last one")


class WsStep(_Doc):
    """A WebSocket step: one key, ws."""

    ws: WsSession = Field(description="{name, url, subprotocols, headers, auth, think_time, actions}")


class RepeatSpec(_Doc):
    times: Annotated[StrictInt, Field(ge=1, le=MAX_REPEAT)] = Field(description="rounds, 1 to 100")
    index: Text | None = Field(None, description="a name for the round's number (1, 2, ...) in the steps")
    until: Condition | None = Field(None, description="stop after a round in which this holds")


StepItem = Annotated[
    Annotated[Step, Tag("step")] | Annotated[WsStep, Tag("ws")],
    _by_key("ws", default="step"),
]


class Group(_Doc):
    """Steps timed as a whole, reported as one more row named after the group; one level deep."""

    group: Text = Field(description="the group's name (unique in the file, without '::')")
    steps: list[StepItem] = Field(description="the group's steps, in order")
    if_: Condition | None = Field(None, alias="if", description="run the group only when this holds")
    repeat: Annotated[StrictInt, Field(ge=1, le=MAX_REPEAT)] | RepeatSpec | None = Field(
        None, description="run the steps N times (1 to 100), or {times, index, until}")


JourneyItem = Annotated[
    Annotated[Step, Tag("step")] | Annotated[WsStep, Tag("ws")] | Annotated[Group, Tag("group")],
    _by_key("ws", "group", default="step"),
]


class Journey(_Doc):
    """Ordered steps a virtual user walks through, one iteration at a time."""

    name: Text = Field(description="the journey's name (without '::')")
    weight: Annotated[StrictInt, Field(ge=1, le=MAX_WEIGHT)] | None = Field(
        None, description="how often the journey is picked (1 to 10000, default 1)")
    headers: Headers | None = Field(None, description=_HEADERS_DOC)
    setup: list[StepItem] | None = Field(None, description="steps run once per user before its first iteration "
                                                           "(log in once); no if")
    steps: list[JourneyItem] = Field(description="steps and groups, in order")


# --------------------------------------------------------------------------------------------------------
# Data


class DataSpec(_Doc):
    """A generator ({generate: ...}) or a data file ({file: ...})."""

    generate: Literal["uuid", "integer", "choice", "timestamp"] | None = Field(None, description="the generator")
    min: Annotated[StrictInt, Field(ge=-MAX_SAFE_INTEGER, le=MAX_SAFE_INTEGER)] | None = Field(
        None, description="generate: integer: the smallest value")
    max: Annotated[StrictInt, Field(ge=-MAX_SAFE_INTEGER, le=MAX_SAFE_INTEGER)] | None = Field(
        None, description="generate: integer: the largest value")
    values: list[Scalar] | None = Field(None, description="generate: choice: the values to choose from")
    format: Literal["ms", "s", "iso"] | None = Field(None, description="generate: timestamp: ms (default), s or iso")
    file: Text | None = Field(None, description="a .csv (header line first) or .json (list of objects) file, "
                                                "relative to the scenario file")
    order: Literal["sequential", "random"] | None = Field(None, description="data file: row order (default "
                                                                            "sequential)")
    per: Literal["iteration", "user"] | None = Field(None, description="a new value each iteration (default) or "
                                                                       "once per user")


DataSource = Annotated[
    Annotated[Literal["uuid", "timestamp"], Tag("name")] | Annotated[DataSpec, Tag("spec")],
    Discriminator(lambda v: "name" if isinstance(v, str) else "spec"),
]


# --------------------------------------------------------------------------------------------------------
# Profiles


Rate = Annotated[
    StrictStr | Annotated[StrictFloat, Field(ge=0)],
    WithJsonSchema({"anyOf": [{"type": "string", "pattern": _RATE_TEXT}, {"type": "number", "minimum": 0}],
                    "examples": [10, "10/s", "90/m"]}),
]


class Stage(_Doc):
    duration: Duration = Field(description="how long the stage ramps to its target")
    users: Annotated[StrictInt, Field(ge=0)] | None = Field(None, description="users at the stage's end (closed "
                                                                              "model)")
    rate: Rate | None = Field(None, description="iterations started per second at the stage's end (open model)")


class Profile(_Doc):
    """This scenario's settings for one profile; what is left out keeps the profile's default."""

    users: Annotated[StrictInt, Field(ge=1)] | None = Field(None, description="peak users (closed model)")
    duration: Duration | None = Field(None, description="total duration, e.g. 5m")
    spawn_rate: Annotated[StrictFloat | StrictInt, Field(gt=0)] | None = Field(
        None, description="users started per second on ramps")
    stages: Annotated[list[Stage], Field(min_length=1)] | None = Field(
        None, description="the load's shape: {duration, users} or {duration, rate} per stage")
    rate: Rate | None = Field(None, description="open model: peak iterations started per second, e.g. 10/s")
    max_users: Annotated[StrictInt, Field(ge=1)] | None = Field(
        None, description="open model: iterations under way at once, at most")


class Profiles(_Doc):
    smoke: Profile | None = Field(None, description="settings of the smoke profile")
    load: Profile | None = Field(None, description="settings of the load profile")
    stress: Profile | None = Field(None, description="settings of the stress profile")
    spike: Profile | None = Field(None, description="settings of the spike profile")
    endurance: Profile | None = Field(None, description="settings of the endurance profile")


# --------------------------------------------------------------------------------------------------------
# The file


class ScenarioDocument(_Doc):
    """A crossload scenario (version: 1): rendered into a Locust file and a k6 script."""

    model_config = ConfigDict(title="crossload scenario")
    version: Literal[1] = Field(description="the format's version: 1")
    name: Text = Field(description="the scenario's name")
    description: Text | None = Field(None, description="free text")
    target: Text | None = Field(None, description="base URL of the system under test: http(s)://host[:port][/base]; "
                                                  "--target overrides it")
    defaults: Defaults | None = Field(None, description="headers, timeout, think_time, auth, tls, compression "
                                                       "of every request")
    requests: list[Request] | None = Field(None, description="the weighted mix of single requests")
    journeys: list[Journey] | None = Field(None, description="ordered steps per virtual user, picked by weight")
    data: dict[VarName, DataSource] | None = Field(
        None, description="named values for journeys: uuid, timestamp, {generate: ...} or {file: ...}")
    thresholds: list[Threshold] | None = Field(
        None, description='pass/fail criteria: "p95 < 500ms" or {request, check, abort, grace, window}')
    profiles: Profiles | None = Field(None, description="per-profile settings: users, duration, stages, rate")


def json_schema() -> dict[str, Any]:
    """The JSON Schema of a scenario file (draft 2020-12)."""
    schema = ScenarioDocument.model_json_schema(by_alias=True)
    schema.setdefault("anyOf", [{"required": ["requests"]}, {"required": ["journeys"]}])
    return {"$schema": SCHEMA_DIALECT, "$id": SCHEMA_ID, **schema}


def schema_text() -> str:
    """The JSON Schema as committed in docs/scenario.schema.json."""
    return json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"


def write_schema(output: str | None) -> int:
    """``crossload schema [--output FILE]``: print the JSON Schema, or write it to a file."""
    text = schema_text()
    if output is None:
        sys.stdout.write(text)
        return 0
    try:
        Path(output).write_text(text, encoding="utf-8")
    except OSError as e:
        raise InputError(f"{output}: cannot be written: {e.strerror}") from None
    print(f"wrote {output}")
    return 0


__all__ = ["SCHEMA_ID", "ScenarioDocument", "json_schema", "schema_text", "write_schema"]
