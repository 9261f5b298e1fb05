"""Scenario files from what a team already has: an OpenAPI 3 description, or a browser session (HAR).

``openapi_scenario(spec)``: one request per operation, grouped by tag (in the order of the description's
``tags``, a comment per tag, the tag in the request's name), with the parameters' and bodies' examples (or a
value made from their schema), credentials of the operation's security scheme as ``${VAR}`` references, and
the lowest 2xx response as the expected status.

``har_scenario(har)``: the recorded session becomes one journey (its pages as groups): static assets,
requests to other hosts, CORS preflights and requests that got no answer are dropped; think times come from
the timestamps (capped); a value of a response that a later request sends back becomes an extraction there
and ``{{ name }}`` references after it (correlation); cookies a response set are left to the tools' per-user
cookie jars; credentials (Authorization and similar headers, password/token fields, session cookies) are
replaced by ``${VAR}`` references and never written into the file.

Both return YAML text that ``crossload validate`` accepts (``import_file`` checks it before writing).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote_plus, unquote, urlencode, urlsplit

import yaml

from crossload.errors import InputError
from crossload.scenario import METHODS, check_target_url, parse_scenario, regex_problem

# Headers the tools set themselves, or that only make sense in the recording browser.
_DROPPED_HEADERS = frozenset({
    "host", "content-length", "connection", "keep-alive", "user-agent", "accept-encoding", "accept-language",
    "cache-control", "pragma", "origin", "referer", "upgrade-insecure-requests", "te", "priority", "dnt",
    "if-none-match", "if-modified-since", "transfer-encoding", "upgrade", "expect", "purpose",
})
_SECRET_HEADER = re.compile(r"^(?:authorization|proxy-authorization)$|auth|token|secret|api-?key|session|csrf|xsrf"
                            r"|password", re.IGNORECASE)
_SECRET_FIELD = re.compile(r"pass(?:word|wd)?$|passphrase|secret|api_?key|token|^pin$|otp", re.IGNORECASE)
_SECRET_COOKIE = re.compile(r"sess|sid$|^sid|auth|token|jwt|remember|csrf|xsrf|secret|login", re.IGNORECASE)
_STATIC_PATH = re.compile(r"\.(?:css|js|mjs|map|png|jpe?g|gif|svg|ico|webp|avif|bmp|woff2?|ttf|otf|eot|mp4|webm|"
                          r"mp3|ogg|wav|webmanifest)$", re.IGNORECASE)
_STATIC_TYPES = ("image/", "font/", "text/css", "javascript", "video/", "audio/", "application/font",
                 "application/x-font", "manifest+json")
_STATIC_RESOURCES = frozenset({"script", "stylesheet", "image", "font", "media", "manifest", "texttrack"})
# Response headers never worth correlating (they change on every response or describe the transport).
_PLAIN_RESPONSE_HEADERS = frozenset({
    "date", "content-type", "content-length", "content-encoding", "server", "connection", "keep-alive", "vary",
    "cache-control", "expires", "last-modified", "etag", "age", "via", "transfer-encoding", "accept-ranges",
    "access-control-allow-origin", "access-control-allow-credentials", "access-control-allow-headers",
    "access-control-allow-methods", "access-control-expose-headers", "access-control-max-age", "set-cookie",
    "strict-transport-security", "x-content-type-options", "x-frame-options", "content-security-policy",
    "referrer-policy", "alt-svc", "x-xss-protection", "report-to", "nel", "permissions-policy",
})
_MIN_LONG_VALUE = 6  # a value this long is correlated wherever a later request sends it
_MIN_SHORT_VALUE = 3  # a shorter one (an id) only as a whole path segment, query value or JSON value
_MAX_THINK_S = 30.0
_MAX_NAME = 200
_JSON_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
_VAR_REF = re.compile(r"\{\{ [A-Za-z_][A-Za-z0-9_]* \}\}")


class ImportFileError(InputError):
    """A file that cannot be imported (unreadable, not JSON/YAML, not OpenAPI 3, not a HAR)."""


# --- shared -----------------------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """Parsed YAML as JSON-like data: dates as ISO text, keys as text (YAML 1.1 reads 2026-05-01 as a date and
    ``200:`` as a number)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return None  # NaN and infinity cannot be sent as JSON
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


def _literal(value: Any) -> Any:
    """Recorded or example text as crossload sends it as written: ``${`` escaped as ``$${``, at any depth."""
    if isinstance(value, str):
        return value.replace("${", "$${")
    if isinstance(value, dict):
        return {k: _literal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_literal(v) for v in value]
    return value


def _comment_text(text: str) -> str:
    return re.sub(r"[\x00-\x1f\x7f]", "?", text)


def _dump(value: Any) -> str:
    return yaml.safe_dump(value, sort_keys=False, allow_unicode=True, width=110, default_flow_style=False)


def _unique(name: str, used: set[str]) -> str:
    name = " ".join(name.split())[:_MAX_NAME] or "request"
    out, n = name, 2
    while out in used:
        suffix = f" ({n})"
        out = name[:_MAX_NAME - len(suffix)] + suffix
        n += 1
    used.add(out)
    return out


def _env_name(prefix: str, name: str) -> str:
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name)
    return prefix + (re.sub(r"[^A-Z0-9]+", "_", snake.upper()).strip("_") or "SECRET")


def _d(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _l(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _header_ok(name: str, value: str) -> bool:
    """A header both tools send as written: a token name, a one-line ASCII value."""
    return bool(re.match(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$", name)) and value.isascii() \
        and not re.search(r"[\x00-\x08\x0a-\x1f\x7f]", value)


def _scalar_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return str(value)


# --- OpenAPI ----------------------------------------------------------------------------------------------


class _OpenAPI:
    """One description being imported; ``notes`` collects what could not be expressed."""

    def __init__(self, spec: Mapping[str, Any], source: str) -> None:
        self.spec = spec
        self.source = source
        self.notes: list[str] = []
        self.target_note = ""

    def resolve(self, value: Any, depth: int = 0) -> Any:
        """A ``$ref`` (within this document) followed to what it names; other values as they are."""
        while isinstance(value, dict) and "$ref" in value and depth < 32:
            ref = str(value["$ref"])
            if not ref.startswith("#"):
                self._note(f"external $ref {ref!r} not followed")
                return {}
            target: Any = self.spec
            for part in [p for p in ref[1:].split("/") if p]:
                key = unquote(part).replace("~1", "/").replace("~0", "~")
                if isinstance(target, dict):
                    target = target.get(key)
                elif isinstance(target, list) and key.isdigit() and int(key) < len(target):
                    target = target[int(key)]
                else:
                    target = None
                if target is None:
                    self._note(f"$ref {ref!r} names nothing in the document")
                    return {}
            value, depth = target, depth + 1
        return value

    def _note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def example(self, schema: Any, depth: int = 0, writing: bool = True) -> Any:
        """A value for a schema: its example, default, const or first enum value, else one made from its type.
        ``readOnly`` properties are left out of what a client writes."""
        schema = self.resolve(schema)
        if not isinstance(schema, dict) or depth > 10:
            return None
        if "example" in schema:
            return schema["example"]
        if isinstance(schema.get("examples"), list) and schema["examples"]:
            return schema["examples"][0]
        for key in ("default", "const"):
            if key in schema:
                return schema[key]
        if isinstance(schema.get("enum"), list) and schema["enum"]:
            return schema["enum"][0]
        if isinstance(schema.get("allOf"), list) and schema["allOf"]:
            merged: dict[str, Any] = {}
            for part in schema["allOf"]:
                value = self.example(part, depth + 1, writing)
                if isinstance(value, dict):
                    merged.update(value)
                elif value is not None and not merged:
                    return value
            extra = {k: v for k, v in schema.items() if k != "allOf"}
            if extra.get("properties"):
                value = self.example(extra, depth + 1, writing)
                if isinstance(value, dict):
                    merged.update(value)
            return merged
        for key in ("oneOf", "anyOf"):
            if isinstance(schema.get(key), list) and schema[key]:
                return self.example(schema[key][0], depth + 1, writing)
        kind = schema.get("type")
        if isinstance(kind, list):
            kind = next((k for k in kind if k != "null"), None)
        if kind == "object" or (kind is None and "properties" in schema):
            out = {}
            for name, prop in _d(schema.get("properties")).items():
                resolved = self.resolve(prop)
                if writing and isinstance(resolved, dict) and resolved.get("readOnly"):
                    continue
                out[str(name)] = self.example(resolved, depth + 1, writing)
            return out
        if kind == "array":
            item = self.example(schema.get("items", {}), depth + 1, writing)
            return [] if item is None else [item]
        if kind in ("integer", "number"):
            low, high = schema.get("minimum"), schema.get("maximum")
            number: float = 1 if kind == "integer" else 1.5
            if isinstance(low, int | float) and not isinstance(low, bool):
                exclusive = schema.get("exclusiveMinimum") is True or schema.get("exclusiveMinimum") == low
                number = low + (1 if exclusive else 0)
            if isinstance(high, int | float) and not isinstance(high, bool) and number > high:
                number = high
            return int(number) if kind == "integer" else number
        if kind == "boolean":
            return True
        if kind == "string" or kind is None:
            fmt = str(schema.get("format", ""))
            text = {"uuid": "00000000-0000-4000-8000-000000000000", "date": "2026-01-01",
                    "date-time": "2026-01-01T00:00:00Z", "email": "user@example.com", "uri": "https://example.com/",
                    "url": "https://example.com/", "hostname": "example.com", "ipv4": "192.0.2.1",
                    "password": "password", "byte": "dGV4dA=="}.get(fmt, "text")
            low_len, high_len = schema.get("minLength"), schema.get("maxLength")
            if isinstance(low_len, int) and len(text) < low_len:
                text += "x" * (low_len - len(text))
            if isinstance(high_len, int) and high_len >= 0 and len(text) > high_len:
                text = text[:high_len]
            return text if kind == "string" or fmt else None
        return None

    def parameter_value(self, param: Mapping[str, Any]) -> Any:
        if "example" in param:
            return param["example"]
        examples = param.get("examples")
        if isinstance(examples, dict) and examples:
            first = self.resolve(next(iter(examples.values())))
            if isinstance(first, dict) and "value" in first:
                return first["value"]
        content = param.get("content")
        if isinstance(content, dict) and content:
            media = self.resolve(next(iter(content.values())))
            if isinstance(media, dict):
                return self.media_value(media)
        return self.example(param.get("schema", {}))

    def media_value(self, media: Mapping[str, Any]) -> Any:
        if not isinstance(media, dict):
            return None
        if "example" in media:
            return media["example"]
        examples = media.get("examples")
        if isinstance(examples, dict) and examples:
            first = self.resolve(next(iter(examples.values())))
            if isinstance(first, dict) and "value" in first:
                return first["value"]
            if isinstance(first, dict) and "externalValue" in first:
                self._note("an example given by externalValue is not fetched; made from the schema instead")
        return self.example(media.get("schema", {}))

    def server(self) -> tuple[str | None, str]:
        """The first server: (target URL or None, base path prefixed to every path)."""
        servers = self.spec.get("servers")
        if not isinstance(servers, list) or not servers or not isinstance(servers[0], dict):
            return None, ""
        url = str(servers[0].get("url") or "")
        for name, var in _d(servers[0].get("variables")).items():
            if isinstance(var, dict) and "default" in var:
                url = url.replace("{" + str(name) + "}", str(var["default"]))
        if url.startswith("/"):
            self.target_note = (f"The description's server URL {url} is relative: every path starts with it; give "
                                "the host with --target.")
            return None, url.rstrip("/")
        if not url:
            return None, ""
        try:
            check_target_url(url, ImportFileError)
            if "{" in url or "$" in url:
                raise ImportFileError(f"{url!r} holds an undefined variable")
        except ImportFileError as e:
            self._note(f"the server URL: {e}; give the target with --target")
            return None, ""
        return url.rstrip("/"), ""

    def security(self, op: Mapping[str, Any]) -> tuple[dict[str, Any] | None, dict[str, str], dict[str, str]]:
        """(auth, headers, query) for the first security requirement that applies to an operation."""
        requirements = op.get("security", self.spec.get("security"))
        auth: dict[str, Any] | None = None
        headers: dict[str, str] = {}
        query: dict[str, str] = {}
        if not isinstance(requirements, list) or not requirements or not isinstance(requirements[0], dict):
            return auth, headers, query
        schemes = _d(_d(self.spec.get("components")).get("securitySchemes"))
        cookies: list[str] = []
        for name in requirements[0]:
            scheme = self.resolve(schemes.get(name))
            if not isinstance(scheme, dict):
                self._note(f"security scheme {name!r} is not defined")
                continue
            kind = str(scheme.get("type", "")).lower()
            http_scheme = str(scheme.get("scheme", "")).lower()
            if kind == "http" and http_scheme == "basic":
                auth = {"basic": {"user": "${" + _env_name("", name) + "_USER}",
                                  "password": "${" + _env_name("", name) + "_PASSWORD}"}}
            elif (kind == "http" and http_scheme == "bearer") or kind in ("oauth2", "openidconnect"):
                auth = {"bearer": "${" + _env_name("", name) + "_TOKEN}"}
            elif kind == "apikey":
                ref = "${" + _env_name("", name) + "}"
                where, key = scheme.get("in"), str(scheme.get("name", ""))
                if where == "header" and key:
                    headers[key] = ref
                elif where == "query" and key:
                    query[key] = ref
                elif where == "cookie" and key:
                    cookies.append(f"{key}={ref}")
            else:
                self._note(f"security scheme {name!r} ({kind or 'no type'}) is not supported: add its credentials")
        if cookies:
            headers["Cookie"] = "; ".join(cookies)
        return auth, headers, query

    def body(self, op: Mapping[str, Any], method: str, title: str) -> dict[str, Any]:
        body = self.resolve(op.get("requestBody") or {})
        content = body.get("content") if isinstance(body, dict) else None
        if not isinstance(content, dict) or not content or method in ("GET", "HEAD"):
            return {}
        types = {str(t).split(";")[0].strip().lower(): t for t in content}
        json_type = next((types[t] for t in types if t == "application/json" or t.endswith("+json")), None)
        if json_type is not None:
            value = self.media_value(self.resolve(content[json_type]) or {})
            if value is None:
                self._note(f"{title}: no example or schema for the request body; sent without one")
                return {}
            return {"json": _literal(value)}
        form = types.get("application/x-www-form-urlencoded")
        if form is not None:
            value = self.media_value(self.resolve(content[form]) or {})
            pairs = [(k, _scalar_text(v)) for k, v in value.items()] if isinstance(value, dict) else []
            return {"headers": {"Content-Type": "application/x-www-form-urlencoded"},
                    "body": _literal(urlencode(pairs))}
        text = next((t for t in types if t.startswith("text/")), None)
        if text is not None:
            value = self.media_value(self.resolve(content[types[text]]) or {})
            return {"headers": {"Content-Type": text}, "body": _literal(_scalar_text(value))}
        self._note(f"{title}: request body of type {', '.join(types)} not imported")
        return {}

    def scenario(self) -> str:
        spec = self.spec
        info: dict[str, Any] = spec["info"] if isinstance(spec.get("info"), dict) else {}
        target, base = self.server()
        by_tag: dict[str, list[dict[str, Any]]] = {}
        for tag in _l(spec.get("tags")):
            if isinstance(tag, dict) and tag.get("name"):
                by_tag.setdefault(str(tag["name"]), [])
        used: set[str] = set()
        paths = spec.get("paths")
        for path, item in (paths.items() if isinstance(paths, dict) else ()):
            item = self.resolve(item)
            if not isinstance(item, dict):
                continue
            shared = [self.resolve(p) for p in _l(item.get("parameters"))]
            for method_key, op in item.items():
                method = str(method_key).upper()
                if method not in METHODS or not isinstance(op, dict):
                    if method == "TRACE":
                        self._note(f"TRACE {path}: method not supported")
                    continue
                tags = _l(op.get("tags"))
                tag = str(tags[0]) if tags else "untagged"
                title = str(op.get("operationId") or op.get("summary") or f"{method} {path}")
                request = self.request(str(path), base, method, op, shared, title)
                request = {"name": _unique(f"{tag}: {title}", used), **request}
                by_tag.setdefault(tag, []).append(request)
        by_tag = {tag: requests for tag, requests in by_tag.items() if requests}
        if not by_tag:
            raise ImportFileError(f"{self.source}: the description has no operations under 'paths'")
        doc: dict[str, Any] = {"version": 1, "name": " ".join(str(info.get("title") or "openapi-import").split())}
        version = f" {info['version']}" if info.get("version") else ""
        doc["description"] = (f"Imported from {Path(self.source).name} ({doc['name']}{version}, OpenAPI "
                              f"{spec.get('openapi')}): one request per operation.")
        if target:
            doc["target"] = target
        count = sum(len(r) for r in by_tag.values())
        header = [f"Imported from {self.source} by crossload: {count} operations, one request each, grouped by tag.",
                  "Values are the description's examples, or made from its schemas: review them before you send load.",
                  "Expected status: the lowest 2xx response of each operation."]
        variables = sorted(set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", json.dumps(by_tag))))
        if variables:
            header.append("Credentials of the security schemes are environment variables: set "
                          + ", ".join(variables) + " (or put them in .env).")
        if self.target_note:
            header.append(self.target_note)
        header += [f"Not imported: {n}" for n in self.notes]
        parts = ["".join(f"# {_comment_text(line)}\n" for line in header), _dump(doc), "requests:\n"]
        for tag, requests in by_tag.items():
            parts.append(f"  # tag: {_comment_text(tag)}\n")
            parts.append(_indent(_dump(requests), "  "))
        return "".join(parts)

    def request(self, path: str, base: str, method: str, op: Mapping[str, Any], shared: list[Any],
                title: str) -> dict[str, Any]:
        own = [self.resolve(p) for p in _l(op.get("parameters"))]
        params: dict[tuple[str, str], Mapping[str, Any]] = {}
        for p in [*shared, *own]:  # an operation's parameter replaces a path item's of the same name and place
            if isinstance(p, dict) and "name" in p:
                params[(str(p.get("in")), str(p["name"]))] = p
        concrete = path
        query: dict[str, Any] = {}
        headers: dict[str, str] = {}
        cookies: list[str] = []
        for (where, name), p in params.items():
            wanted = bool(p.get("required")) or "example" in p or bool(p.get("examples"))
            if where != "path" and not wanted:
                continue
            value = self.parameter_value(p)
            if where == "path":
                text = _scalar_text(value)
                if not text:
                    self._note(f"{method} {path}: no example or schema for path parameter {{{name}}}; 1 written")
                    text = "1"
                concrete = concrete.replace("{" + name + "}", _literal(text))
            elif where == "query":
                if isinstance(value, list) and all(isinstance(v, str | int | float | bool) for v in value) and value:
                    query[name] = _literal(value)
                else:
                    query[name] = _literal(value if isinstance(value, str | int | float | bool)
                                           else _scalar_text(value))
            elif where == "header" and name.lower() not in ("accept", "content-type", "authorization"):
                text = _scalar_text(value)
                if _header_ok(name, text):
                    headers[name] = _literal(text)
                else:
                    self._note(f"{method} {path}: header {name!r}: its example is not a one-line ASCII value")
            elif where == "cookie":
                cookies.append(f"{name}={_literal(_scalar_text(value))}")
        left = re.findall(r"\{[^{}/]+\}", concrete)
        for hole in left:
            self._note(f"{method} {path}: path parameter {hole} is not declared; 1 written in its place")
            concrete = concrete.replace(hole, "1")
        auth, auth_headers, auth_query = self.security(op)
        headers.update(auth_headers)
        query.update(auth_query)
        if cookies:
            headers["Cookie"] = "; ".join([*cookies, *filter(None, [headers.get("Cookie")])])
        out: dict[str, Any] = {}
        if method != "GET":
            out["method"] = method
        full = base + (concrete if concrete.startswith("/") else "/" + concrete)
        out["path"] = full
        if query:
            out["query"] = query
        body = self.body(op, method, title)
        headers.update(body.pop("headers", {}))
        if headers:
            out["headers"] = headers
        if auth:
            out["auth"] = auth
        out.update(body)
        codes = sorted(int(c) for c in _d(op.get("responses")) if str(c).isdigit() and 200 <= int(c) < 300)
        if codes:
            out["checks"] = {"status": codes[0]}
        return out


def openapi_scenario(spec: Any, source: str = "openapi") -> str:
    """A scenario with one request per operation of an OpenAPI 3 description."""
    if not isinstance(spec, dict):
        raise ImportFileError(f"{source}: not an OpenAPI 3 description (expected a mapping at the top)")
    if "swagger" in spec:
        raise ImportFileError(f"{source}: a Swagger {spec.get('swagger')} (OpenAPI 2) description; convert it "
                              "to OpenAPI 3 first")
    if not re.match(r"^3\.\d+(\.\d+)?$", str(spec.get("openapi", ""))):
        raise ImportFileError(f"{source}: not an OpenAPI 3 description (no 'openapi: 3.x' at the top)")
    return _OpenAPI(spec, source).scenario()


def _indent(text: str, pad: str) -> str:
    return "".join(pad + line if line.strip() else line for line in text.splitlines(keepends=True))


# --- HAR --------------------------------------------------------------------------------------------------


def _header_list(message: Mapping[str, Any]) -> list[tuple[str, str]]:
    out = []
    headers = message.get("headers")
    for h in headers if isinstance(headers, list) else []:
        if isinstance(h, dict) and h.get("name") is not None:
            out.append((str(h["name"]), str(h.get("value", ""))))
    return out


def _response(entry: Mapping[str, Any]) -> Mapping[str, Any]:
    response = entry.get("response")
    return response if isinstance(response, dict) else {}


def _response_text(entry: Mapping[str, Any]) -> tuple[str, str]:
    """(mime type, body text) of an entry's response; base64 content decoded."""
    content = _response(entry).get("content")
    if not isinstance(content, dict):
        return "", ""
    mime = str(content.get("mimeType", "")).lower()
    text = content.get("text")
    if not isinstance(text, str):
        return mime, ""
    if content.get("encoding") == "base64":
        try:
            text = base64.b64decode(text).decode("utf-8")
        except ValueError:
            return mime, ""
    return mime, text


def _is_static(entry: Mapping[str, Any]) -> bool:
    if str(entry.get("_resourceType", "")).lower() in _STATIC_RESOURCES:
        return True
    path = urlsplit(str(entry["request"]["url"])).path
    mime, _ = _response_text(entry)
    if "json" in mime and "manifest" not in mime:
        return False
    return bool(_STATIC_PATH.search(path)) or any(t in mime for t in _STATIC_TYPES)


def _started(entry: Mapping[str, Any]) -> float:
    text = str(entry.get("startedDateTime", ""))
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


def _json_leaves(doc: Any, steps: tuple[str | int, ...] = ()) -> Iterator[tuple[tuple[str | int, ...], Any]]:
    if isinstance(doc, dict):
        for k, v in doc.items():
            if isinstance(k, str) and k and '"' not in k:
                yield from _json_leaves(v, (*steps, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc[:100]):
            yield from _json_leaves(v, (*steps, i))
    elif isinstance(doc, str | int) and not isinstance(doc, bool) and steps:
        yield steps, doc


def _path_text(steps: tuple[str | int, ...]) -> str:
    out = "$"
    for s in steps:
        if isinstance(s, int):
            out += f"[{s}]"
        elif _JSON_NAME.match(s):
            out += f".{s}"
        else:
            out += f'["{s}"]'
    return out


def _new_var(hint: str, used: set[str]) -> str:
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", hint).lower()
    base = re.sub(r"[^a-z0-9_]+", "_", snake).strip("_") or "value"
    if not re.match(r"^[a-z_]", base):
        base = "v_" + base
    name, n = base, 2
    while name in used:
        name = f"{base}_{n}"
        n += 1
    used.add(name)
    return name


def _bounded(value: str) -> re.Pattern[str]:
    return re.compile(r"(?<![A-Za-z0-9])" + re.escape(value) + r"(?![A-Za-z0-9])")


def _regex_literal(text: str) -> str:
    return re.sub(r"([.^$*+?()\[\]{}|\\/])", r"\\\1", text)


class _Request:
    """What one kept entry sends, with every recorded text as the recording had it."""

    def __init__(self, entry: Mapping[str, Any]) -> None:
        req = entry["request"]
        url = urlsplit(str(req["url"]))
        self.entry = entry
        self.method = str(req.get("method", "GET")).upper()
        self.path = url.path or "/"
        self.query = parse_qsl(url.query, keep_blank_values=True)
        self.headers = _header_list(req)
        post = req.get("postData") if isinstance(req.get("postData"), dict) else {}
        self.mime = str(post.get("mimeType", "")).lower()
        text = post.get("text")
        if not isinstance(text, str) and isinstance(post.get("params"), list):
            text = urlencode([(str(p.get("name", "")), str(p.get("value", ""))) for p in post["params"]
                              if isinstance(p, dict)])
        self.body: str | None = text if isinstance(text, str) and text and self.method not in ("GET", "HEAD") \
            else None
        self.json: Any = None
        self.is_json = False
        if self.body is not None and "json" in self.mime:
            try:
                self.json = json.loads(self.body)
                self.is_json = True
            except ValueError:
                pass
        self.form = self.body is not None and "x-www-form-urlencoded" in self.mime
        self._texts = self._all_texts()
        self._parts = self._whole_parts()

    def texts(self) -> list[str]:
        return self._texts

    def parts(self) -> set[str]:
        return self._parts

    def _all_texts(self) -> list[str]:
        """Every text this request sends (decoded), where a long value is looked for."""
        out = [unquote(self.path), *(v for _, v in self.query), *(v for _, v in self.headers)]
        if self.body is not None:
            out.append(self.body)
            if self.form:
                out += [v for _, v in parse_qsl(self.body, keep_blank_values=True)]
        return out

    def _whole_parts(self) -> set[str]:
        """The whole parts of what this request sends, where a short value (an id) is looked for."""
        out = {unquote(s) for s in self.path.split("/") if s}
        out |= {v for _, v in self.query}
        out |= {v.strip() for _, v in self.headers}
        if self.is_json:
            out |= {str(v) for _, v in _json_leaves(self.json)}
        if self.form and self.body:
            out |= {v for _, v in parse_qsl(self.body, keep_blank_values=True)}
        return out


class _Sent:
    """What some requests sent: a long value is looked for anywhere in their texts, a short one (an id) among
    their whole parts (path segments, query values, header values, JSON values, form values)."""

    def __init__(self, requests: list[_Request]) -> None:
        self.text = "\n".join(t for r in requests for t in r.texts())
        self.parts: set[str] = set().union(*(r.parts() for r in requests))

    def has(self, value: str) -> bool:
        if len(value) >= _MIN_LONG_VALUE:
            return value in self.text and bool(_bounded(value).search(self.text))
        if len(value) >= _MIN_SHORT_VALUE:
            return value in self.parts
        return False


class _Har:
    def __init__(self, har: Any, source: str) -> None:
        self.source = source
        try:
            entries = har["log"]["entries"]
        except (KeyError, TypeError, IndexError):
            raise ImportFileError(f"{source}: not a HAR file (no log.entries)") from None
        if not isinstance(entries, list):
            raise ImportFileError(f"{source}: not a HAR file (log.entries is not a list)")
        self.entries = [e for e in entries if isinstance(e, dict) and isinstance(e.get("request"), dict)
                        and isinstance(e["request"].get("url"), str)]
        if not self.entries:
            raise ImportFileError(f"{source}: the recording holds no requests")
        self.entries.sort(key=_started)
        pages = har["log"].get("pages") if isinstance(har["log"], dict) else None
        self.pages = {str(p["id"]): " ".join(str(p.get("title") or p["id"]).split())
                      for p in (pages if isinstance(pages, list) else [])
                      if isinstance(p, dict) and p.get("id") is not None}
        self.dropped: dict[str, int] = {}
        self.known: list[tuple[str, str]] = []  # (recorded value, variable), longest first when replacing
        self.variables: set[str] = set()
        self.secrets: dict[str, str] = {}  # recorded secret value -> environment variable
        self.secret_vars: dict[str, str] = {}  # field name -> environment variable

    def _drop(self, why: str) -> bool:
        self.dropped[why] = self.dropped.get(why, 0) + 1
        return False

    def _origin(self) -> tuple[str, str]:
        """The host the session talked to most (requests that are not static assets), and its origin URL."""
        counts: dict[str, int] = {}
        for e in self.entries:
            url = urlsplit(e["request"]["url"])
            if url.scheme in ("http", "https") and url.hostname and not _is_static(e):
                counts[url.netloc.rpartition("@")[2]] = counts.get(url.netloc.rpartition("@")[2], 0) + 1
        if not counts:
            raise ImportFileError(f"{self.source}: the recording holds no http(s) requests but static assets")
        host = max(counts, key=lambda h: counts[h])  # the first of equals: dicts keep insertion order
        scheme = next(urlsplit(e["request"]["url"]).scheme for e in self.entries
                      if urlsplit(e["request"]["url"]).netloc.rpartition("@")[2] == host)
        return host, f"{scheme}://{host}"

    def _keep(self, entry: Mapping[str, Any], host: str) -> bool:
        url = urlsplit(entry["request"]["url"])
        if url.scheme not in ("http", "https"):
            return self._drop("not http(s)")
        if url.netloc.rpartition("@")[2] != host:
            return self._drop("other hosts")
        if _is_static(entry):
            return self._drop("static assets")
        method = str(entry["request"].get("method", "GET")).upper()
        names = {n.lower() for n, _ in _header_list(entry["request"])}
        if (method == "OPTIONS" and "access-control-request-method" in names) \
                or str(entry.get("_resourceType", "")).lower() == "preflight":
            return self._drop("CORS preflights")
        if "upgrade" in names or str(entry.get("_resourceType", "")).lower() in ("websocket", "eventsource"):
            return self._drop("WebSocket and event streams")
        if method not in METHODS:
            return self._drop("other methods")
        status = _response(entry).get("status")
        if not isinstance(status, int) or not 100 <= status <= 599:
            return self._drop("not answered")
        return True

    # correlation -------------------------------------------------------------------------------------------

    def _fill(self, text: str) -> str:
        for value, var in self.known:
            text = _bounded(value).sub("{{ " + var + " }}", text)  # names hold no backslash
        return text

    def _fill_json(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: self._fill_json(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._fill_json(v) for v in value]
        if isinstance(value, str | int) and not isinstance(value, bool):
            for known, var in self.known:
                if str(value) == known:
                    return "{{ " + var + " }}"  # one reference: sent with the extracted value's type
            if isinstance(value, str):
                return self._fill(_literal(value))
        return _literal(value)

    def _used_later(self, value: str, later: _Sent, before: _Sent) -> bool:
        """A value the server made up: a later request sends it, and no request up to this one sent it."""
        return all(value != v for v, _ in self.known) and not before.has(value) and later.has(value)

    def _extractions(self, entry: Mapping[str, Any], later: _Sent, sent_before: _Sent) -> dict[str, Any]:
        """What of this response a later request sends back: extracted here, referred to there."""
        extract: dict[str, Any] = {}
        mime, text = _response_text(entry)
        if "json" in mime and text:
            try:
                doc = json.loads(text)
            except ValueError:
                doc = None
            for steps, leaf in _json_leaves(doc):
                value = str(leaf)
                if self._used_later(value, later, sent_before):
                    words = [s for s in steps if isinstance(s, str)]
                    var = _new_var(words[-1] if words else "value", self.variables)
                    extract[var] = {"json": _path_text(steps)}
                    self.known.append((value, var))
        for name, value in _header_list(_response(entry)):
            low = name.lower()
            if low in _PLAIN_RESPONSE_HEADERS or len(value) < _MIN_LONG_VALUE \
                    or any(v in value for v, _ in self.known) or not self._used_later(value, later, sent_before):
                continue
            var = _new_var(low, self.variables)
            extract[var] = {"header": name}
            self.known.append((value, var))
        if ("html" in mime or "xml" in mime or mime.startswith("text/")) and text:
            for m in re.finditer(r"""(?:value|content)\s*=\s*["']([^"'<>\s]{8,})["']""", text):
                value = m.group(1)
                if not self._used_later(value, later, sent_before):
                    continue
                line_start = text.rfind("\n", 0, m.start(1)) + 1
                prefix = text[max(line_start, m.start(1) - 60):m.start(1)]
                prefix = prefix[prefix.rfind("<"):] if "<" in prefix else prefix
                quote = text[m.end(1)]
                pattern = _regex_literal(prefix) + "([^" + quote + "<>\\s]+)"
                found = re.search(pattern, text, re.ASCII)
                if regex_problem(pattern) or not found or found.group(1) != value:
                    continue
                hint = re.search(r"""(?:name|id|property)\s*=\s*["']([A-Za-z_][\w-]*)""", prefix)
                var = _new_var(hint.group(1) if hint else "value", self.variables)
                extract[var] = {"regex": pattern}
                self.known.append((value, var))
        self.known.sort(key=lambda kv: -len(kv[0]))
        return extract

    # secrets ------------------------------------------------------------------------------------------------

    def _secret(self, field: str, value: str) -> str:
        """The ${VAR} standing for a recorded credential (one variable per field name)."""
        var = self.secret_vars.setdefault(field.lower(), _env_name("HAR_", field))
        if len(value) >= 4:
            self.secrets.setdefault(value, var)
        return "${" + var + "}"

    def _mask_json(self, value: Any) -> Any:
        if isinstance(value, dict):
            out = {}
            for k, v in value.items():
                if isinstance(v, str) and v and not _VAR_REF.search(v) and _SECRET_FIELD.search(k):
                    out[k] = self._secret(k, v.replace("$${", "${"))
                else:
                    out[k] = self._mask_json(v)
            return out
        if isinstance(value, list):
            return [self._mask_json(v) for v in value]
        return value

    def _scrub(self, value: Any) -> Any:
        """A masked credential is replaced wherever else the recording had it too."""
        if isinstance(value, str):
            for secret, var in sorted(self.secrets.items(), key=lambda kv: -len(kv[0])):
                for form in {secret, _literal(secret)}:
                    value = _bounded(form).sub("${" + var + "}", value)  # names hold no backslash
            return value
        if isinstance(value, dict):
            return {k: self._scrub(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._scrub(v) for v in value]
        return value

    # steps --------------------------------------------------------------------------------------------------

    def _cookies(self, value: str, jar: set[str]) -> str | None:
        kept = []
        for pair in value.split(";"):
            name, eq, cookie = pair.strip().partition("=")
            if not name or not eq or name in jar:
                continue  # set by a response of the session: each tool's cookie jar sends it
            filled = self._fill(_literal(cookie))
            if filled == _literal(cookie) and _SECRET_COOKIE.search(name):
                filled = self._secret("cookie_" + name, cookie)
            kept.append(f"{name}={filled}")
        return "; ".join(kept) or None

    def _step(self, r: _Request, names: set[str], jar: set[str]) -> dict[str, Any]:
        path = self._fill(_literal(r.path))
        shown = _VAR_REF.sub(lambda m: "{" + m.group(0)[3:-3] + "}", path)
        step: dict[str, Any] = {"name": _unique(f"{r.method} {shown}", names)}
        if r.method != "GET":
            step["method"] = r.method
        step["path"] = path
        if r.query:
            query: dict[str, Any] = {}
            for k, v in r.query:
                filled = self._fill(_literal(v))
                if filled == _literal(v) and v and _SECRET_FIELD.search(k):
                    filled = self._secret(k, v)
                query[k] = [*query[k], filled] if isinstance(query.get(k), list) else \
                    ([query[k], filled] if k in query else filled)
            step["query"] = query
        headers: dict[str, str] = {}
        for name, raw in r.headers:
            low = name.lower()
            if name.startswith(":") or low in _DROPPED_HEADERS or low.startswith("sec-") or not _header_ok(name, raw):
                continue
            if low == "content-type" and r.is_json and raw.split(";")[0].strip().lower() == "application/json":
                continue  # the tools send application/json with a json body
            if any(k.lower() == low for k in headers):
                continue
            if low == "cookie":
                cookie = self._cookies(raw, jar)
                if cookie:
                    headers[name] = cookie
                continue
            value = self._fill(_literal(raw))
            if value == _literal(raw) and _SECRET_HEADER.search(low):
                value = self._secret(name, raw)
            headers[name] = value
        if r.is_json:
            step["json"] = self._mask_json(self._fill_json(r.json))
        elif r.body is not None:
            if r.form:
                pairs = []
                for k, v in parse_qsl(r.body, keep_blank_values=True):
                    filled = self._fill(_literal(v))
                    if filled == _literal(v) and v and _SECRET_FIELD.search(k):
                        filled = self._secret(k, v)
                    pairs.append(_form_pair(k, filled))
                step["body"] = "&".join(pairs)
            else:
                step["body"] = self._fill(_literal(r.body))
        if r.body is not None and not r.is_json and r.mime and not any(k.lower() == "content-type" for k in headers):
            headers["Content-Type"] = r.mime  # crossload sends no Content-Type of its own with a text body
        if headers:
            step["headers"] = headers
        status = _response(r.entry).get("status")
        if isinstance(status, int):
            step["checks"] = {"status": [200, 304] if status == 304 else status}
        return step

    def scenario(self) -> str:
        host, origin = self._origin()
        kept = [e for e in self.entries if self._keep(e, host)]
        if not kept:
            raise ImportFileError(f"{self.source}: nothing left after static assets and other hosts were dropped")
        requests = [_Request(e) for e in kept]
        jar: set[str] = set()  # cookies a response of the session set, before the request at hand
        all_entries = self.entries
        names: set[str] = set()
        steps: list[tuple[str | None, dict[str, Any]]] = []
        next_entry = 0
        for i, r in enumerate(requests):
            while next_entry < len(all_entries) and _started(all_entries[next_entry]) < _started(r.entry):
                jar |= _set_cookies(all_entries[next_entry])
                next_entry += 1
            step = self._step(r, names, jar)
            if i + 1 < len(requests):
                took = r.entry.get("time")
                if not isinstance(took, int | float) or isinstance(took, bool) or took < 0:
                    took = 0.0
                ends = _started(r.entry) + took / 1000.0
                gap = min(max(0.0, _started(requests[i + 1].entry) - ends), _MAX_THINK_S)
                if gap >= 0.001:
                    step["think_time"] = f"{round(gap * 1000)}ms"
            extract = self._extractions(r.entry, _Sent(requests[i + 1:]), _Sent(requests[:i + 1]))
            if extract:
                step["extract"] = extract
            steps.append((str(r.entry.get("pageref")) if r.entry.get("pageref") is not None else None, step))
        items = self._items(steps)
        journey: dict[str, Any] = {"name": "recorded session"}
        common = _common_headers([s for _, s in steps])
        if common:
            journey["headers"] = common
        journey["steps"] = items
        stem = re.sub(r"[^A-Za-z0-9._-]+", "-", Path(self.source).stem).strip("-") or "recorded-session"
        doc: dict[str, Any] = {
            "version": 1,
            "name": stem,
            "description": f"Imported from {Path(self.source).name}: {len(kept)} requests of a recorded session "
                           "as one journey.",
            "target": origin,
            "journeys": [journey],
        }
        doc = self._scrub(doc)
        dropped = ", ".join(f"{n} {why}" for why, n in self.dropped.items()) or "nothing"
        header = [f"Imported from {self.source} by crossload: the recorded session as one journey "
                  f"({len(kept)} of {len(self.entries)} requests).",
                  f"Left out: {dropped}.",
                  "Think times: the pauses between the recorded requests (at most 30s each).",
                  "Values a response gave and a later request sent back are extracted there and sent as {{ name }}.",
                  "Cookies a response set are kept per user by each tool's cookie jar."]
        if self.secret_vars:
            header.append("Recorded credentials are environment variables: set "
                          + ", ".join(sorted(set(self.secret_vars.values()))) + " (or put them in .env) before a run.")
        return "".join(f"# {_comment_text(line)}\n" for line in header) + _dump(doc)

    def _items(self, steps: list[tuple[str | None, dict[str, Any]]]) -> list[dict[str, Any]]:
        """Steps of one recorded page together as a group, when the session spans several pages."""
        refs = {ref for ref, _ in steps}
        if len(refs) < 2 or None in refs:
            return [s for _, s in steps]
        items: list[dict[str, Any]] = []
        # A group's name differs from every step's, and holds no "::" (k6 joins nested group names with it).
        groups: set[str] = {str(s["name"]) for _, s in steps}
        last: str | None = None
        for ref, step in steps:
            if ref != last or not items:
                title = re.sub(r":{2,}", ":", self.pages.get(str(ref), str(ref)))
                items.append({"group": _unique(title, groups), "steps": []})
                last = ref
            items[-1]["steps"].append(step)
        return items


def _form_pair(key: str, value: str) -> str:
    """``key=value`` of a form body: the key encoded, the value encoded around references kept as written."""
    pieces = re.split(r"(\{\{ [A-Za-z_][A-Za-z0-9_]* \}\}|(?<!\$)\$\{[A-Za-z_][A-Za-z0-9_]*\})", value)
    encoded = "".join(p if i % 2 else quote_plus(p.replace("$${", "${")) for i, p in enumerate(pieces))
    return quote_plus(key) + "=" + encoded


def _set_cookies(entry: Mapping[str, Any]) -> set[str]:
    response = _response(entry)
    names = {str(c.get("name")) for c in _l(response.get("cookies")) if isinstance(c, dict) and c.get("name")}
    for name, value in _header_list(response):
        if name.lower() == "set-cookie":
            for line in value.split("\n"):
                cookie = line.split(";", 1)[0].partition("=")[0].strip()
                if cookie:
                    names.add(cookie)
    return names


def _common_headers(steps: list[dict[str, Any]]) -> dict[str, str]:
    """Headers every step sends with the same value move to the journey's ``headers``."""
    if len(steps) < 2:
        return {}
    first = steps[0].get("headers") or {}
    common = {k: v for k, v in first.items() if all((s.get("headers") or {}).get(k) == v for s in steps[1:])}
    for s in steps:
        rest = {k: v for k, v in (s.get("headers") or {}).items() if k not in common}
        if rest:
            s["headers"] = rest
        else:
            s.pop("headers", None)
    return common


def har_scenario(har: Any, source: str = "session.har") -> str:
    """A scenario whose one journey replays a recorded browser session (see the module docstring)."""
    return _Har(har, source).scenario()


# --- files ------------------------------------------------------------------------------------------------


def load_document(text: str, source: str, json_only: bool = False) -> Any:
    """JSON or YAML text as data (an OpenAPI description may be either; a HAR is JSON)."""
    stripped = text.lstrip()
    if json_only or stripped.startswith(("{", "[")):
        try:
            return json.loads(text)
        except json.JSONDecodeError as e:
            if json_only:
                raise ImportFileError(f"{source}:{e.lineno}: not JSON: {e.msg} (column {e.colno})") from None
    try:
        return _plain(yaml.safe_load(text))
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f"{source}:{mark.line + 1}" if mark else source
        raise ImportFileError(f"{where}: neither JSON nor YAML: {e.problem or e.context}") from None
    except yaml.YAMLError as e:
        raise ImportFileError(f"{source}: neither JSON nor YAML ({' '.join(str(e).split())})") from None


KINDS = ("openapi", "har")


def import_text(kind: str, text: str, source: str) -> str:
    """The scenario (YAML text) imported from a document's text; ImportFileError when it cannot be."""
    if kind not in KINDS:
        raise ImportFileError(f"{source}: unknown import kind {kind!r} (expected openapi or har)")
    try:
        data = load_document(text, source, json_only=kind == "har")
        scenario = openapi_scenario(data, source) if kind == "openapi" else har_scenario(data, source)
    except RecursionError:
        raise ImportFileError(f"{source}: nested too deeply to be imported") from None
    try:
        parse_scenario(scenario, f"{source} (imported)")
    except InputError as e:
        raise ImportFileError(f"{e} (the imported scenario is invalid; please report this with the file)") \
            from None
    return scenario


def import_file(kind: str, source: str, out: str | None = None) -> int:
    """``crossload import openapi|har FILE``: write the scenario to ``out`` (default: stdout); 0, or 2 with one
    line on stderr for a file that cannot be read or imported."""
    try:
        try:
            text = Path(source).read_bytes().decode("utf-8-sig")
        except FileNotFoundError:
            raise ImportFileError(f"{source}: file not found") from None
        except IsADirectoryError:
            raise ImportFileError(f"{source}: is a directory") from None
        except OSError as e:
            raise ImportFileError(f"{source}: cannot be read: {e.strerror}") from None
        except UnicodeDecodeError as e:
            raise ImportFileError(f"{source}: not UTF-8 text (byte {e.start})") from None
        scenario = import_text(kind, text, source)
        if out:
            try:
                Path(out).parent.mkdir(parents=True, exist_ok=True)
                Path(out).write_text(scenario, encoding="utf-8")
            except OSError as e:
                raise ImportFileError(f"{out}: cannot be written: {e.strerror}") from None
    except InputError as e:
        print(str(e), file=sys.stderr)
        return e.exit_code
    if out:
        print(f"wrote {out}")
    else:
        sys.stdout.write(scenario)
    return 0
