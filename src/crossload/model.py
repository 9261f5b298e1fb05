"""The scenario file as written in YAML, as pydantic models: its validation and its JSON Schema.

Every key the loader (crossload.scenario) accepts is a field here, with its type, its bounds and a
description that editors show (docs/scenario.schema.json, written by ``crossload schema``). Unknown keys
are errors and types are strict: ``"5"`` is not a number and ``1`` is not a boolean. An optional key written
with no value counts as left out where docs/scenario.md says so.

Every problem is raised in crossload's own words (a ``PydanticCustomError`` of type ``crossload`` whose
context may carry ``sub``, keys below the error's location, ``at_key``, pointing at the key rather than its
value, and ``line``, list indexes whose item's line is meant); crossload.scenario turns it into
``file:line: field: message``. Forms that are one of several
(a think time as a duration or ``{min, max}``; a step, WebSocket step or group) are told apart by their
shape, so an error names the form the user meant. What a schema cannot express (names unique in the file,
``{{ name }}`` references defined before use, files that exist) is checked by crossload.scenario.
"""

import difflib
import json
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, ClassVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    Tag,
    model_validator,
)
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

from crossload import varref
from crossload.errors import InputError
from crossload.scenario import (
    COMPRESSION,
    DATA_ORDERS,
    DATA_PER,
    GENERATORS,
    MAX_REPEAT,
    MAX_WEIGHT,
    METHODS,
    TIMESTAMP_FORMATS,
    kind_of,
)
from crossload.units import parse_duration_ms

SCHEMA_ID = "https://crossload.dev/schemas/scenario.schema.json"
SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"

COMPRESSIONS = tuple(COMPRESSION)
MAX_SAFE_INTEGER = varref.MAX_SAFE_INTEGER  # JavaScript's: integers beyond it are not exact in k6
MAX_REDIRECTS = 20
MAX_PAGES = 100

_DURATION_TEXT = r"^\s*(\d+(\.\d+)?\s*(ms|s|m|h|d)?\s*)+$"
_RATE_TEXT = r"^\s*\d+(\.\d+)?\s*(/\s*[sm])?\s*$"
_HEADER_TOKEN = r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$"
_VAR_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"


def fail(message: str, *sub: str | int, at_key: bool = False, line: tuple[int, ...] = ()) -> PydanticCustomError:
    """A problem in crossload's words, ``sub`` keys below where it was found; ``line``: indexes below the field
    path whose value's line the message points at."""
    return PydanticCustomError("crossload", "{message}", {"message": message, "sub": sub, "at_key": at_key,
                                                          "line": line})


def _suggest(word: str, choices: tuple[str, ...] | list[str]) -> str:
    hint = difflib.get_close_matches(word, choices, n=1)
    return f" (did you mean '{hint[0]}'?)" if hint else ""


@dataclass(frozen=True, eq=False)
class _Check:
    """Annotation metadata: ``func`` validates the value as written; ``schema`` is its JSON Schema."""

    func: Callable[[Any], Any]
    schema: dict[str, Any]

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_plain_validator_function(self.func)

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler) -> dict[str, Any]:
        return dict(self.schema)


def _check(func: Callable[[Any], Any], schema: dict[str, Any]) -> _Check:
    return _Check(func, schema)


# --------------------------------------------------------------------------------------------------------
# Values


def _text(allow_empty: bool) -> Callable[[Any], Any]:
    def check(v: Any) -> Any:
        if not isinstance(v, str):
            raise fail(f"expected text, got {kind_of(v)}")
        if not allow_empty and not v.strip():
            raise fail("must not be empty")
        return v

    return check


Text = Annotated[Any, _check(_text(False), {"type": "string", "pattern": r"\S"})]
AnyText = Annotated[Any, _check(_text(True), {"type": "string"})]
_SCALAR_SCHEMA = {"type": ["string", "number", "boolean"]}


def _scalar(message: str, finite: bool = False) -> Callable[[Any], Any]:
    def check(v: Any) -> Any:
        if v is None or not isinstance(v, str | int | float | bool) or \
                (finite and isinstance(v, float) and not math.isfinite(v)):
            raise fail(f"{message}, got {kind_of(v)}")
        return v

    return check


# A header, query or credential value: text, or a number or boolean written the way JSON would.
Scalar = Annotated[Any, _check(_scalar("expected text or a number"), _SCALAR_SCHEMA)]
ChoiceValue = Annotated[Any, _check(_scalar("expected text, a number or a boolean", finite=True), _SCALAR_SCHEMA)]
ConditionValue = Annotated[Any, _check(_scalar("expected text, a number or true/false"), _SCALAR_SCHEMA)]


def _bool(v: Any) -> Any:
    if not isinstance(v, bool):
        raise fail(f"expected true or false, got {kind_of(v)}")
    return v


Bool = Annotated[Any, _check(_bool, {"type": "boolean"})]


def _int(minimum: int, maximum: int | None = None) -> _Check:
    def check(v: Any) -> Any:
        if isinstance(v, bool) or not isinstance(v, int):
            raise fail(f"expected a whole number, got {kind_of(v)}")
        if v < minimum:
            raise fail(f"must be at least {minimum}, got {v}")
        if maximum is not None and v > maximum:
            raise fail(f"must be at most {maximum}, got {v}")
        return v

    schema: dict[str, Any] = {"type": "integer", "minimum": minimum}
    if maximum is not None:
        schema["maximum"] = maximum
    return _check(check, schema)


def _number(minimum: float, exclusive: bool = False) -> _Check:
    def check(v: Any) -> Any:
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise fail(f"expected a number, got {kind_of(v)}")
        if not math.isfinite(v):
            raise fail(f"expected a finite number, got {v}")
        if v < minimum or (exclusive and v == minimum):
            raise fail(f"must be {'greater than' if exclusive else 'at least'} {minimum:g}, got {v}")
        return v

    schema: dict[str, Any] = {"type": "number"}
    if math.isfinite(minimum):
        schema["exclusiveMinimum" if exclusive else "minimum"] = minimum
    return _check(check, schema)


def _duration(positive: bool) -> _Check:
    def check(v: Any) -> Any:
        if isinstance(v, bool) or not isinstance(v, str | int | float):
            raise fail(f"expected a duration such as 500ms, 30s, 5m or 1h, got {kind_of(v)}")
        try:
            ms = parse_duration_ms(v)
        except ValueError as e:
            raise fail(str(e)) from None
        if not math.isfinite(ms):
            raise fail(f"{v!r} is not a duration; expected e.g. 500ms, 30s, 5m, 1h or 1m30s")
        if positive and ms <= 0:
            raise fail("must be longer than 0s")
        return v

    number: dict[str, Any] = {"type": "number", ("exclusiveMinimum" if positive else "minimum"): 0}
    return _check(check, {"anyOf": [{"type": "string", "pattern": _DURATION_TEXT}, number],
                          "examples": ["500ms", "30s", "1m30s"]})


Duration = Annotated[Any, _duration(False)]
PositiveDuration = Annotated[Any, _duration(True)]


def _rate(zero: bool) -> _Check:
    import re

    pattern = re.compile(r"(\d+(?:\.\d+)?)\s*(?:/\s*([sm]))?")

    def check(v: Any) -> Any:
        text = str(v).strip() if isinstance(v, int | float | str) and not isinstance(v, bool) else None
        match = pattern.fullmatch(text or "")
        if match is None:
            shown = kind_of(v) if text is None else repr(text)
            raise fail(f"expected iterations per second such as 10 or 10/s or 90/m, got {shown}")
        if float(match.group(1)) <= 0 and not zero:
            raise fail("must be greater than 0")
        return v

    number: dict[str, Any] = {"type": "number", ("minimum" if zero else "exclusiveMinimum"): 0}
    return _check(check, {"anyOf": [{"type": "string", "pattern": _RATE_TEXT}, number],
                          "examples": [10, "10/s", "90/m"]})


def _choice(allowed: tuple[str, ...]) -> _Check:
    def check(v: Any) -> Any:
        if not isinstance(v, str) or v not in allowed:
            shown = repr(v) if isinstance(v, str) else kind_of(v)
            suggestion = _suggest(v, allowed) if isinstance(v, str) else ""
            raise fail(f"unknown value {shown}{suggestion}; expected one of {', '.join(allowed)}")
        return v

    return _check(check, {"enum": list(allowed)})


def _compression(v: Any) -> Any:
    if not isinstance(v, str) or v not in COMPRESSIONS:
        raise fail(f"expected one of {', '.join(COMPRESSIONS)}, got {repr(v) if isinstance(v, str) else kind_of(v)}")
    return v


Compression = Annotated[Any, _check(_compression, {"enum": list(COMPRESSIONS)})]


def _method(v: Any) -> Any:
    if not isinstance(v, str):
        raise fail(f"expected text, got {kind_of(v)}")
    if not v.strip():
        raise fail("must not be empty")
    if v.upper() not in METHODS:
        raise fail(f"unknown method {v!r}; expected one of {', '.join(METHODS)}")
    return v


_METHOD_PATTERN = "^(" + "|".join("".join(f"[{c}{c.lower()}]" for c in m) for m in METHODS) + ")$"
Method = Annotated[Any, _check(_method, {"anyOf": [{"enum": list(METHODS)},
                                                   {"type": "string", "pattern": _METHOD_PATTERN}]})]


def _path(step: bool) -> _Check:
    def check(v: Any) -> Any:
        text = _text(False)(v)
        # A journey step's path may start with a value that holds it (a Location header, a next link).
        if not text.startswith("/") and not (step and varref.REF.match(text)):
            raise fail("must start with '/' (the target's base URL comes from 'target' or --target)")
        return v

    return _check(check, {"type": "string", "pattern": "^/" if not step else r"^(/|\{\{)"})


def _version(v: Any) -> Any:
    if isinstance(v, bool) or not isinstance(v, int) or v != 1:
        raise fail(f"unsupported version {v!r}; expected 1")
    return v


Version = Annotated[Any, _check(_version, {"const": 1})]


def _status(v: Any) -> Any:
    codes = v if isinstance(v, list) else [v]
    for j, code in enumerate(codes):
        sub: tuple[int, ...] = (j,) if isinstance(v, list) else ()
        if isinstance(code, bool) or not isinstance(code, int):
            raise fail(f"expected a whole number, got {kind_of(code)}", *sub)
        if code < 100:
            raise fail(f"must be at least 100, got {code}", *sub)
        if code > 599:
            raise fail(f"{code} is not an HTTP status code (100-599)", line=sub)
    if not codes:
        raise fail("list at least one status code")
    return v


_STATUS_CODE = {"type": "integer", "minimum": 100, "maximum": 599}
Status = Annotated[Any, _check(_status, {"anyOf": [_STATUS_CODE,
                                                   {"type": "array", "items": _STATUS_CODE, "minItems": 1}]})]


def _body_contains(v: Any) -> Any:
    for j, item in enumerate(v if isinstance(v, list) else [v]):
        try:
            _text(False)(item)
        except PydanticCustomError as e:
            raise fail(e.message(), line=(j,) if isinstance(v, list) else ()) from None
    return v


_NONEMPTY = {"type": "string", "pattern": r"\S"}
BodyContains = Annotated[Any, _check(_body_contains, {"anyOf": [_NONEMPTY, {"type": "array", "items": _NONEMPTY}]})]


def _query_value(v: Any) -> Any:
    if isinstance(v, list):
        for j, item in enumerate(v):
            try:
                _scalar("expected text or a number")(item)
            except PydanticCustomError as e:
                raise fail(e.message(), j) from None
        return v
    return _scalar("expected text or a number")(v)


QueryValue = Annotated[Any, _check(_query_value, {"anyOf": [_SCALAR_SCHEMA,
                                                            {"type": "array", "items": _SCALAR_SCHEMA}]})]


def _json_value(v: Any) -> Any:
    return v


JsonAny = Annotated[Any, _check(_json_value, {"description": "any JSON value, written in YAML"})]


# --------------------------------------------------------------------------------------------------------
# Lists and mappings of names


def _without_null(schema: dict[str, Any]) -> dict[str, Any]:
    """A field's JSON Schema without its ``null`` branch (a key that cannot be left empty)."""
    branches = [b for b in schema.get("anyOf", []) if b != {"type": "null"}]
    if len(branches) == 1 and "anyOf" in schema:
        rest = {k: v for k, v in schema.items() if k != "anyOf"}
        return {**branches[0], **rest}
    return schema


@dataclass(frozen=True)
class _Listed:
    """Annotation metadata of a list: anything else is "expected a list of ``what``"."""

    what: str
    min_items: int = 0

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        def check(v: Any) -> Any:
            if not isinstance(v, list):
                raise fail(f"expected a list of {self.what}")
            return v

        return core_schema.no_info_before_validator_function(check, handler(source))

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler) -> dict[str, Any]:
        out = dict(handler(schema))
        if self.min_items:
            out["minItems"] = self.min_items
        return out


@dataclass(frozen=True)
class _Names:
    """Annotation metadata of a mapping of free names (checked by crossload.scenario) to values."""

    pattern: str = ""

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        def check(v: Any) -> Any:
            if not isinstance(v, dict):
                raise fail("expected a mapping of name: value")
            return v

        return core_schema.no_info_before_validator_function(check, handler(source))

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler) -> dict[str, Any]:
        out = dict(handler(schema))
        if self.pattern:
            out["propertyNames"] = {"pattern": self.pattern}
        return out


@dataclass(frozen=True)
class _Given:
    """Annotation metadata of an optional key that, when written, needs a value (null is not left out)."""

    model: Any = None  # the mapping's model, for its message; None: a list

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        def check(v: Any) -> Any:
            if v is None and self.model is not None:
                raise self.model.not_a_mapping(v)
            return v

        return core_schema.no_info_before_validator_function(check, handler(source))

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler) -> dict[str, Any]:
        return _without_null(dict(handler(schema)))


# --------------------------------------------------------------------------------------------------------
# Mappings with fixed keys


class _Doc(BaseModel):
    """A mapping of the file: unknown keys, missing keys and other shapes answered in crossload's words."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=False, defer_build=True)
    # Per model: the keys shown when one is unknown (default: the fields), messages for missing keys
    # (text, and whether the key is named in the field path), and "exactly one of" key groups.
    shown_keys: ClassVar[tuple[str, ...] | None] = None
    missing: ClassVar[dict[str, tuple[str, bool]]] = {}
    one_of: ClassVar[tuple[tuple[str, ...], str] | None] = None

    @classmethod
    def keys(cls) -> tuple[str, ...]:
        return tuple(f.alias or name for name, f in cls.model_fields.items())

    @classmethod
    def not_a_mapping(cls, v: Any) -> PydanticCustomError:
        return fail(f"expected a mapping with keys {', '.join(cls.shown_keys or cls.keys())}")

    @classmethod
    def unknown(cls, key: str) -> PydanticCustomError:
        shown = cls.shown_keys or cls.keys()
        return fail(f"unknown key{_suggest(key, shown)}; expected one of {', '.join(shown)}", key, at_key=True)

    @classmethod
    def more_checks(cls, v: dict[str, Any]) -> None:
        """Checks on the mapping as a whole, after its keys (none by default)."""

    @model_validator(mode="before")
    @classmethod
    def _shape(cls, v: Any) -> Any:
        if not isinstance(v, dict):
            raise cls.not_a_mapping(v)
        known = cls.keys()
        for key in v:
            if key not in known:
                raise cls.unknown(key)
        for name, f in cls.model_fields.items():
            key = f.alias or name
            if f.is_required() and key not in v:
                message, named = cls.missing.get(key, ("missing", True))
                raise fail(message, *((key,) if named else ()))
        if cls.one_of is not None and sum(k in v for k in cls.one_of[0]) != 1:
            raise fail(cls.one_of[1])
        cls.more_checks(v)
        return v


_HEADER_NAMES = Annotated[dict[str, Scalar], _Names(_HEADER_TOKEN)]
_D = {
    "headers": "HTTP headers, name: value (names case-insensitive and unique; values ASCII, one line)",
    "think_time": "pause after the request: a duration (500ms, 2s) or {min: 1s, max: 3s}",
    "compression": "gzip: ask for gzip-compressed responses and decode them; none: ask for identity",
    "auth": "authentication: basic: {user, password} or bearer: TOKEN (the tools compute the header)",
    "timeout": "request timeout, longer than 0s",
    "redirects": "redirects followed (0 to 20, default 0: a 3xx is the response); every hop is a request of its own",
    "name": "unique name: results are reported under it (at most 200 characters)",
    "method": "HTTP method (default GET; any case); GET and HEAD carry no body",
    "query": "query parameters: name: value, or name: [values] for a repeated parameter",
    "json": "a JSON body (Content-Type: application/json); not with body",
    "body": "a raw text body; not with json",
    "checks": "what makes a response a success: status, headers, body_contains, json",
    "thresholds": 'pass/fail criteria for this request, e.g. ["p95 < 300ms"]',
}


class ThinkRange(_Doc):
    """A pause drawn uniformly between min and max."""

    missing: ClassVar[dict[str, tuple[str, bool]]] = {k: ("missing; think_time takes min and max", True)
                                                      for k in ("min", "max")}
    min: Duration = Field(description="shortest pause, e.g. 1s")
    max: Duration = Field(description="longest pause, e.g. 3s; not smaller than min")


ThinkTime = Annotated[
    Annotated[Duration, Tag("~duration")] | Annotated[ThinkRange, Tag("~range")],
    Discriminator(lambda v: "~range" if isinstance(v, dict | ThinkRange) else "~duration"),
]


class BasicCredentials(_Doc):
    missing: ClassVar[dict[str, tuple[str, bool]]] = {k: ("missing; basic takes user and password", True)
                                                      for k in ("user", "password")}
    user: Scalar = Field(description="user name, without ':'; ${VAR} reads it from the environment")
    password: Scalar = Field(description="password; ${VAR} reads it from the environment, and it is never written "
                                         "into rendered files")


class Auth(_Doc):
    """Exactly one of basic or bearer."""

    model_config = ConfigDict(json_schema_extra={"minProperties": 1, "maxProperties": 1})
    one_of: ClassVar[tuple[tuple[str, ...], str] | None] = (
        ("basic", "bearer"), "give one of basic: {user: ..., password: ...} or bearer: TOKEN")
    basic: Annotated[BasicCredentials | None, _Given(BasicCredentials)] = Field(
        None, description="HTTP basic authentication: {user, password}")
    bearer: Text = Field(None, description="a bearer token (Authorization: Bearer TOKEN), ASCII: e.g. ${API_TOKEN}")


class Tls(_Doc):
    model_config = ConfigDict(json_schema_extra={"minProperties": 1})
    verify: Bool = Field(None, description="false skips certificate checks (explicit opt-in)")
    ca: Text = Field(None, description="a PEM file of certificate authorities both tools trust, relative to the "
                                       "scenario file")

    @classmethod
    def more_checks(cls, v: dict[str, Any]) -> None:
        if not v:
            raise fail("missing; write tls: {verify: false} to skip certificate checks, or tls: {ca: file.pem} to "
                       "trust a certificate authority", "verify")


class Defaults(_Doc):
    """Settings of every request, unless it gives its own."""

    headers: _HEADER_NAMES | None = Field(None, description=_D["headers"])
    timeout: PositiveDuration | None = Field(None, description="request timeout (default 30s), longer than 0s")
    think_time: ThinkTime | None = Field(None, description=_D["think_time"])
    auth: Auth | None = Field(None, description=_D["auth"])
    tls: Tls | None = Field(None, description="HTTPS: {verify: false} or {ca: file.pem}")
    compression: Compression | None = Field(None, description=_D["compression"])
    redirects: Annotated[Any, _int(0, MAX_REDIRECTS)] | None = Field(None, description=_D["redirects"])


# --------------------------------------------------------------------------------------------------------
# Checks


class HeaderCondition(_Doc):
    """Conditions on one response header; exists: false stands alone."""

    model_config = ConfigDict(json_schema_extra={"minProperties": 1})
    exists: Bool = Field(None, description="the header is present (true) or absent (false)")
    equals: Scalar = Field(None, description="the header's value is exactly this text")
    at_least: Annotated[Any, _number(-math.inf)] = Field(
        None, description="the header, read as a number, is at least this")
    at_most: Annotated[Any, _number(-math.inf)] = Field(
        None, description="the header, read as a number, is at most this")

    @classmethod
    def more_checks(cls, v: dict[str, Any]) -> None:
        if not v:
            raise fail(f"give at least one of {', '.join(cls.keys())}")


HeaderCheck = Annotated[
    Annotated[Scalar, Tag("~value")] | Annotated[HeaderCondition, Tag("~condition")],
    Discriminator(lambda v: "~condition" if isinstance(v, dict | HeaderCondition) else "~value"),
]


class JsonCheck(_Doc):
    path: Text = Field(description="a JSON path into the response body: $.items[0].id or items[0].id")
    exists: Bool = Field(None, description="the value exists (true, the default without equals) or not (false)")
    equals: JsonAny = Field(None, description="the value equals this JSON value")


class Checks(_Doc):
    """What makes a response a success; without status, any 2xx or 3xx."""

    status: Status = Field(None, description="expected status code(s), e.g. 200 or [200, 201]")
    headers: Annotated[dict[str, HeaderCheck], _Names(_HEADER_TOKEN)] | None = Field(
        None, description="response headers: Name: value (equals), or Name: {exists, equals, at_least, at_most}")
    body_contains: BodyContains = Field(None, description="text(s) the response body contains")
    json_: Annotated[list[JsonCheck] | None, _Listed("checks"), _Given()] = Field(
        None, alias="json", description="checks on the JSON response body")


# --------------------------------------------------------------------------------------------------------
# Thresholds


class ThresholdSpec(_Doc):
    missing: ClassVar[dict[str, tuple[str, bool]]] = {"check": (
        'expected "metric < value", {request: NAME, check: "..."}, or {check: "...", abort: true, grace: 10s, '
        'window: 30s}', False)}
    request: Text = Field(None, description="the request, step or group judged (top-level thresholds only)")
    check: Text = Field(description='"metric op value", e.g. "p95 < 500ms"')
    abort: Bool | None = Field(None, description="stop the run early when breached during it")
    grace: Duration | None = Field(None, description="with abort: not judged in the run's first seconds")
    window: PositiveDuration | None = Field(None, description="with abort: judged on the last seconds only")


_THRESHOLD_TEXT = Annotated[Any, _check(_text(False), {
    "type": "string", "pattern": r"^\s*[a-z_0-9]+\s*(<=|>=|<|>)",
    "description": '"metric op value": avg, p50, p90, p95, p99, max (ms, s), error_rate (%), rps (/s), '
                   "target_rss_growth, target_rss_max (bytes), target_cpu_mean (%)",
    "examples": ["p95 < 500ms", "error_rate < 1%", "rps >= 50"]})]
Threshold = Annotated[
    Annotated[_THRESHOLD_TEXT, Tag("~text")] | Annotated[ThresholdSpec, Tag("~spec")],
    Discriminator(lambda v: "~spec" if isinstance(v, dict | ThresholdSpec) else "~text"),
]
Thresholds = Annotated[list[Threshold], _Listed('thresholds such as "p95 < 500ms"')]


# --------------------------------------------------------------------------------------------------------
# Requests


class _HttpRequest(_Doc):
    name: Text = Field(description=_D["name"])
    method: Method = Field(None, description=_D["method"])
    path: Annotated[Any, _path(False)] = Field(
        description="path on the target, starting with '/'; ${VAR} reads the environment")
    query: Annotated[dict[str, QueryValue], _Names()] | None = Field(None, description=_D["query"])
    headers: _HEADER_NAMES | None = Field(None, description=_D["headers"])
    auth: Auth | None = Field(None, description=_D["auth"])
    json_: JsonAny = Field(None, alias="json", description=_D["json"])
    body: AnyText | None = Field(None, description=_D["body"])
    redirects: Annotated[Any, _int(0, MAX_REDIRECTS)] | None = Field(None, description=_D["redirects"])


class Request(_HttpRequest):
    """One named HTTP request of the weighted mix every virtual user loops over."""

    weight: Annotated[Any, _int(1, MAX_WEIGHT)] | None = Field(
        None, description="how often the request is picked relative to the others (1 to 10000, default 1)")
    checks: Checks | None = Field(None, description=_D["checks"])
    think_time: ThinkTime | None = Field(None, description=_D["think_time"])
    thresholds: Thresholds | None = Field(None, description=_D["thresholds"])
    timeout: PositiveDuration | None = Field(None, description=_D["timeout"])
    compression: Compression | None = Field(None, description=_D["compression"])


# --------------------------------------------------------------------------------------------------------
# Journeys


class Extraction(_Doc):
    """Where a value comes from: exactly one of json, header, regex, cookie."""

    model_config = ConfigDict(json_schema_extra={"minProperties": 1, "maxProperties": 1})
    one_of: ClassVar[tuple[tuple[str, ...], str] | None] = (
        ("json", "header", "regex", "cookie"), "give exactly one of json, header, regex, cookie")
    json_: Text = Field(None, alias="json", description="a JSON path into the response body, e.g. $.id")
    header: Text = Field(None, description="a response header's value, e.g. Location")
    regex: Text = Field(None, description="a regular expression on the body: its one (group), else the whole match")
    cookie: Text = Field(None, description="a cookie the response sets")


class WsExtraction(_Doc):
    """Where a value comes from in a WebSocket message: exactly one of json, regex."""

    model_config = ConfigDict(json_schema_extra={"minProperties": 1, "maxProperties": 1})
    one_of: ClassVar[tuple[tuple[str, ...], str] | None] = (("json", "regex"), "give exactly one of json, regex")
    json_: Text = Field(None, alias="json", description="a JSON path into the message, e.g. $.id")
    regex: Text = Field(None, description="a regular expression on the message")


class Condition(_Doc):
    """The step or group runs only when the value is (or is not) the given one."""

    model_config = ConfigDict(json_schema_extra={"oneOf": [{"required": ["equals"]}, {"required": ["not_equals"]}]})
    missing: ClassVar[dict[str, tuple[str, bool]]] = {
        "var": ("missing: the name of a value, such as var: row.tier", True)}
    one_of: ClassVar[tuple[tuple[str, ...], str] | None] = (
        ("equals", "not_equals"), "give exactly one of equals, not_equals")
    var: Text = Field(description="the value's name: NAME or NAME.column (without {{ }})")
    equals: ConditionValue = Field(None, description="runs when the value, as text, is this")
    not_equals: ConditionValue = Field(None, description="runs when the value, as text, is not this")


class Paginate(_Doc):
    """Following next-page links: exactly one of link, json; at most max_pages pages."""

    one_of: ClassVar[tuple[tuple[str, ...], str] | None] = (
        ("link", "json"), "give exactly one of link (a Link header's rel, e.g. next) or json (a path such as $.next)")
    link: Text = Field(None, description="the rel of the response's Link header entry naming the next page: next")
    json_: Text = Field(None, alias="json", description="a JSON path to the next page's URL or path, e.g. $.next")
    max_pages: Annotated[Any, _int(1, MAX_PAGES)] = Field(
        None, description="pages fetched at most, the first one included (1 to 100, default 10)")


class Step(_HttpRequest):
    """A request of a journey: the steps run in order and may extract values for later steps."""

    path: Annotated[Any, _path(True)] = Field(
        description="path starting with '/', or a {{ name }} that holds one (a Location header, a next link)")
    checks: Checks | None = Field(None, description=_D["checks"])
    extract: Annotated[dict[str, Extraction], _Names(_VAR_NAME)] | None = Field(
        None, description="values taken from the response: name: {json | header | regex | cookie: ...}")
    think_time: ThinkTime | None = Field(None, description=_D["think_time"])
    thresholds: Thresholds | None = Field(None, description=_D["thresholds"])
    timeout: PositiveDuration | None = Field(None, description=_D["timeout"])
    compression: Compression | None = Field(None, description=_D["compression"])
    if_: Condition | None = Field(None, alias="if", description="run the step only when {var, equals | not_equals} "
                                                                "holds")
    paginate: Annotated[Paginate | None, _Given(Paginate)] = Field(
        None, description="then fetch each next page ({link: next} or {json: $.next}, max_pages) under the step's "
                          "name, until there is none")

    @classmethod
    def unknown(cls, key: str) -> PydanticCustomError:
        if key == "weight":
            return fail("a step has no weight: the journey's weight sets how often it is picked, and its steps run "
                        "in order", key, at_key=True)
        if key == "group":
            return fail("groups cannot be nested; list the steps of the inner group here")
        return super().unknown(key)


class WsSend(_Doc):
    """One message to the server: exactly one of text, json, binary."""

    model_config = ConfigDict(json_schema_extra={"minProperties": 1, "maxProperties": 1})
    one_of: ClassVar[tuple[tuple[str, ...], str] | None] = (
        ("text", "json", "binary"), "give exactly one of text, json, binary")
    text: AnyText = Field(None, description="a text message; may hold {{ name }}")
    json_: JsonAny = Field(None, alias="json", description="a JSON message")
    binary: Text = Field(None, description="a binary message, written in base64")


class WsJsonMatch(_Doc):
    missing: ClassVar[dict[str, tuple[str, bool]]] = {"path": ("missing; e.g. path: $.seq", True)}
    path: Text = Field(description="a JSON path into the message, e.g. $.seq")
    equals: JsonAny = Field(None, description="the value at path equals this (else: it exists)")


class WsExpect(_Doc):
    """Wait for the next message that matches (any message without json or regex)."""

    name: Text = Field(None, description="the row the round trip is reported under (default: '<step> expect N')")
    json_: Annotated[WsJsonMatch | None, _Given(WsJsonMatch)] = Field(
        None, alias="json", description="match on a JSON path of the message")
    regex: Text = Field(None, description="match a regular expression; not with json")
    timeout: PositiveDuration | None = Field(None, description="how long to wait (default: defaults.timeout)")
    extract: Annotated[dict[str, WsExtraction], _Names(_VAR_NAME)] | None = Field(
        None, description="values taken from the message")


class WsHold(_Doc):
    duration: PositiveDuration = Field(description="how long to keep the connection open")


Hold = Annotated[
    Annotated[PositiveDuration, Tag("~duration")] | Annotated[WsHold, Tag("~mapping")],
    Discriminator(lambda v: "~mapping" if isinstance(v, dict | WsHold) else "~duration"),
]


class WsAction(_Doc):
    """One action: send, expect or hold (close is written on its own: - close)."""

    model_config = ConfigDict(json_schema_extra={"minProperties": 1, "maxProperties": 1})
    shown_keys: ClassVar[tuple[str, ...] | None] = ("send", "expect", "hold", "close")
    one_of: ClassVar[tuple[tuple[str, ...], str] | None] = (
        ("send", "expect", "hold"), "one action per item: send, expect, hold or close")
    send: Annotated[WsSend | None, _Given(WsSend)] = Field(
        None, description="send a message: {text | json | binary: ...}")
    expect: WsExpect | None = Field(None, description="wait for a matching message")
    hold: Hold = Field(None, description="keep the connection open for a while, counting messages: 5s")

    @classmethod
    def unknown(cls, key: str) -> PydanticCustomError:
        if key == "close":
            return fail("write close on its own: - close")
        return super().unknown(key)


_CLOSE = Annotated[Any, _check(lambda v: v, {"const": "close"})]
WsActionItem = Annotated[
    Annotated[_CLOSE, Tag("~close")] | Annotated[WsAction, Tag("~action")],
    Discriminator(lambda v: "~close" if v == "close" else "~action"),
]


class WsSession(_Doc):
    """A WebSocket session: connect, run the actions in order, close."""

    name: Text = Field(description="the row the handshake is reported under (also '<name> sent', '<name> received')")
    url: Text = Field(description="a path on the target starting with '/', or a full ws:// or wss:// URL")
    subprotocols: Annotated[list[Text], _Listed("subprotocol names")] | None = Field(
        None, description="subprotocols offered in the handshake (Sec-WebSocket-Protocol)")
    headers: _HEADER_NAMES | None = Field(None, description=_D["headers"])
    auth: Auth | None = Field(None, description="authentication of the handshake")
    think_time: ThinkTime | None = Field(None, description=_D["think_time"])
    actions: Annotated[list[WsActionItem], _Listed("actions (send, expect, hold, close)", 1)] = Field(
        description="send, expect, hold; close as the last one")


class WsStep(_Doc):
    """A WebSocket step: one key, ws."""

    ws: WsSession = Field(description="{name, url, subprotocols, headers, auth, think_time, actions}")

    @classmethod
    def unknown(cls, key: str) -> PydanticCustomError:
        return fail(f"a WebSocket step is one key, ws: {{...}}; write {key} inside it", key, at_key=True)


class RepeatSpec(_Doc):
    times: Annotated[Any, _int(1, MAX_REPEAT)] = Field(description="rounds, 1 to 100")
    index: Text | None = Field(None, description="a name for the round's number (1, 2, ...) in the group's steps")
    until: Condition | None = Field(None, description="stop after a round in which this holds")


Repeat = Annotated[
    Annotated[Annotated[Any, _int(1, MAX_REPEAT)], Tag("~times")] | Annotated[RepeatSpec, Tag("~spec")],
    Discriminator(lambda v: "~spec" if isinstance(v, dict | RepeatSpec) else "~times"),
]


def _step_kind(v: Any) -> str:
    return "~ws" if (isinstance(v, dict) and "ws" in v) or isinstance(v, WsStep) else "~step"


StepItem = Annotated[
    Annotated[Step, Tag("~step")] | Annotated[WsStep, Tag("~ws")],
    Discriminator(_step_kind),
]


class Group(_Doc):
    """Steps timed as a whole, reported as one more row named after the group; one level deep."""

    group: Text = Field(description="the group's name: unique in the file, without '::'")
    steps: Annotated[list[StepItem], _Listed("steps", 1)] = Field(description="the group's steps, in order")
    if_: Condition | None = Field(None, alias="if", description="run the group only when this holds")
    repeat: Repeat | None = Field(None, description="run the steps N times (1 to 100), or {times, index, until}")


def _item_kind(v: Any) -> str:
    if (isinstance(v, dict) and "group" in v) or isinstance(v, Group):
        return "~group"
    return _step_kind(v)


JourneyItem = Annotated[
    Annotated[Step, Tag("~step")] | Annotated[WsStep, Tag("~ws")] | Annotated[Group, Tag("~group")],
    Discriminator(_item_kind),
]


class Journey(_Doc):
    """Ordered steps a virtual user walks through, one iteration at a time."""

    name: Text = Field(description="the journey's name (without '::')")
    weight: Annotated[Any, _int(1, MAX_WEIGHT)] | None = Field(
        None, description="how often the journey is picked (1 to 10000, default 1)")
    headers: _HEADER_NAMES | None = Field(None, description="headers of every step")
    setup: Annotated[list[StepItem], _Listed("steps")] | None = Field(
        None, description="steps run once per user, before its first iteration (log in once); no if")
    steps: Annotated[list[JourneyItem], _Listed("steps", 1)] = Field(description="steps and groups, in order")
    teardown: Annotated[list[StepItem], _Listed("steps")] | None = Field(
        None, description="steps run once per user that set up the journey (or walked it), when the load ends "
                          "(log out); no if")


# --------------------------------------------------------------------------------------------------------
# Data


class DataSpec(_Doc):
    """A generator ({generate: ...}) or a data file ({file: ...})."""

    generate: Annotated[Any, _choice(GENERATORS)] = Field(
        None, description="the generator: uuid, integer, choice, timestamp")
    min: Annotated[Any, _int(-MAX_SAFE_INTEGER, MAX_SAFE_INTEGER)] = Field(
        None, description="generate: integer: the smallest value")
    max: Annotated[Any, _int(-MAX_SAFE_INTEGER, MAX_SAFE_INTEGER)] = Field(
        None, description="generate: integer: the largest value")
    values: Annotated[list[ChoiceValue] | None, _Listed("values to choose from", 1), _Given()] = Field(
        None, description="generate: choice: the values")
    format: Annotated[Any, _choice(TIMESTAMP_FORMATS)] = Field(
        None, description="generate: timestamp: ms (default), s or iso")
    file: Text = Field(None, description="a .csv (header line first) or .json (a list of objects) file, relative to "
                                         "the scenario file")
    order: Annotated[Any, _choice(DATA_ORDERS)] = Field(
        None, description="a data file's row order (default sequential)")
    per: Annotated[Any, _choice(DATA_PER)] = Field(
        None, description="a new value each iteration (default), or once per user")


def _generator_name(v: Any) -> Any:
    text = _text(False)(v)
    if text not in ("uuid", "timestamp"):
        raise fail(f"unknown generator {text!r}{_suggest(text, GENERATORS)}; write uuid, timestamp, {{generate: "
                   "integer, min: 1, max: 10}, {generate: choice, values: [a, b]} or {file: data.csv}")
    return v


DataSource = Annotated[
    Annotated[Any, _check(_generator_name, {"enum": ["uuid", "timestamp"]}), Tag("~name")]
    | Annotated[DataSpec, Tag("~spec")],
    Discriminator(lambda v: "~name" if isinstance(v, str | int | float) else "~spec"),
]


# --------------------------------------------------------------------------------------------------------
# Profiles


class Stage(_Doc):
    duration: Duration = Field(description="how long the stage ramps to its target")
    users: Annotated[Any, _int(0)] = Field(None, description="users at the stage's end (closed model)")
    rate: Annotated[Any, _rate(True)] = Field(
        None, description="iterations started per second at the stage's end (open model)")


_STAGES = "stages ({duration: 30s, users: 10} or {duration: 30s, rate: 5})"


class Profile(_Doc):
    """This scenario's settings for one profile; what is left out keeps the profile's default."""

    users: Annotated[Any, _int(1)] | None = Field(None, description="peak users (closed model)")
    duration: PositiveDuration | None = Field(None, description="total duration, e.g. 5m")
    spawn_rate: Annotated[Any, _number(0, exclusive=True)] | None = Field(
        None, description="users started per second on ramps")
    stages: Annotated[list[Stage] | None, _Listed(_STAGES, 1), _Given()] = Field(
        None, description="the load's shape: {duration, users} or {duration, rate} per stage")
    rate: Annotated[Any, _rate(False)] | None = Field(
        None, description="open model: peak iterations started per second, e.g. 10/s")
    max_users: Annotated[Any, _int(1)] | None = Field(
        None, description="open model: iterations under way at once, at most")


class Profiles(_Doc):
    smoke: Annotated[Profile | None, _Given(Profile)] = Field(None, description="settings of the smoke profile")
    load: Annotated[Profile | None, _Given(Profile)] = Field(None, description="settings of the load profile")
    stress: Annotated[Profile | None, _Given(Profile)] = Field(None, description="settings of the stress profile")
    spike: Annotated[Profile | None, _Given(Profile)] = Field(None, description="settings of the spike profile")
    endurance: Annotated[Profile | None, _Given(Profile)] = Field(None, description="settings of the endurance profile")


# --------------------------------------------------------------------------------------------------------
# The file


class ScenarioDocument(_Doc):
    """A crossload scenario (version: 1): rendered into a Locust file and a k6 script."""

    model_config = ConfigDict(title="crossload scenario",
                              json_schema_extra={"anyOf": [{"required": ["requests"]}, {"required": ["journeys"]}]})
    missing: ClassVar[dict[str, tuple[str, bool]]] = {
        "version": ("missing; this format is version: 1", True), "name": ("missing; give the scenario a name", True)}
    version: Version = Field(description="the format's version: 1")
    name: Text = Field(description="the scenario's name")
    description: AnyText | None = Field(None, description="free text")
    target: Text | None = Field(None, description="base URL of the system under test: http(s)://host[:port][/base]; "
                                                  "--target overrides it")
    defaults: Defaults | None = Field(None, description="headers, timeout, think_time, auth, tls, compression, "
                                                        "redirects of every request")
    requests: Annotated[list[Request], _Listed("requests")] | None = Field(
        None, description="the weighted mix of single requests")
    journeys: Annotated[list[Journey], _Listed("journeys")] | None = Field(
        None, description="ordered steps per virtual user, picked by weight")
    data: Annotated[dict[str, DataSource], _Names(_VAR_NAME)] | None = Field(
        None, description="named values for journeys: uuid, timestamp, {generate: ...} or {file: ...}")
    thresholds: Thresholds | None = Field(
        None, description='pass/fail criteria: "p95 < 500ms" or {request, check, abort, grace, window}')
    profiles: Profiles | None = Field(None, description="per-profile settings: users, duration, stages, rate")

    @classmethod
    def not_a_mapping(cls, v: Any) -> PydanticCustomError:
        return fail("the top level must be a mapping (version: 1, name: ..., requests: ...), got "
                    f"{kind_of(v)}")

    @classmethod
    def more_checks(cls, v: dict[str, Any]) -> None:
        if "requests" not in v and "journeys" not in v and "version" in v and "name" in v:
            raise fail("missing; list at least one request (or journey)", "requests")


def json_schema() -> dict[str, Any]:
    """The JSON Schema of a scenario file (draft 2020-12)."""
    schema = ScenarioDocument.model_json_schema(by_alias=True)
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


__all__ = ["SCHEMA_ID", "ScenarioDocument", "fail", "json_schema", "kind_of", "schema_text", "write_schema"]
