"""Importers: OpenAPI 3 descriptions and HAR recordings become scenario files that validate.

Every scenario produced here is read back with the scenario parser (``import_text`` refuses one that does not
validate), so what a test asserts on is what ``crossload validate`` and a run would see.
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from crossload import cli
from crossload.importers import ImportFileError, import_file, import_text
from crossload.scenario import Group, load_scenario, parse_scenario

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "import"


def _openapi(spec: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    text = import_text("openapi", json.dumps(spec), "api.json")
    return text, yaml.safe_load(text)


def _spec(paths: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"openapi": "3.0.3", "info": {"title": "t", "version": "1"}, "paths": paths, **extra}


def _by_name(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["name"]: r for r in doc["requests"]}


# --- OpenAPI ----------------------------------------------------------------------------------------------


def test_operations_are_grouped_by_tag_in_the_order_of_the_tags_list() -> None:
    ok = {"responses": {"200": {"description": "ok"}}}
    spec = _spec({
        "/a": {"get": {"tags": ["zoo"], "operationId": "first", **ok}},
        "/b": {"get": {"tags": ["admin"], "operationId": "second", **ok},
               "delete": {"tags": ["zoo"], "summary": "remove b", **ok}},
        "/c": {"post": {"operationId": "third", **ok}},
    }, tags=[{"name": "admin"}, {"name": "zoo"}, {"name": "never used"}])
    text, doc = _openapi(spec)
    assert [r["name"] for r in doc["requests"]] == ["admin: second", "zoo: first", "zoo: remove b", "untagged: third"]
    comments = re.findall(r"^  # tag: (.+)$", text, re.MULTILINE)
    assert comments == ["admin", "zoo", "untagged"]
    assert _by_name(doc)["zoo: remove b"]["method"] == "DELETE"
    assert "method" not in _by_name(doc)["zoo: first"]


def test_examples_win_over_values_made_from_the_schema() -> None:
    spec = _spec({"/items/{id}": {
        "post": {
            "operationId": "make",
            "parameters": [
                {"name": "id", "in": "path", "required": True, "schema": {"type": "integer", "example": 5},
                 "example": 77},
                {"name": "q", "in": "query", "required": True,
                 "examples": {"one": {"value": "lamp"}, "two": {"value": "chair"}}, "schema": {"type": "string"}},
                {"name": "n", "in": "query", "required": True, "schema": {"type": "integer", "minimum": 3}},
                {"name": "kind", "in": "query", "required": True, "schema": {"type": "string", "enum": ["b", "a"]}},
                {"name": "opt", "in": "query", "schema": {"type": "string"}},  # neither required nor example
                {"name": "X-Trace", "in": "header", "required": True, "schema": {"type": "string", "format": "uuid"}},
            ],
            "requestBody": {"content": {"application/json": {"schema": {
                "type": "object",
                "properties": {
                    "id": {"type": "integer", "readOnly": True},
                    "name": {"type": "string", "example": "Desk lamp"},
                    "price": {"type": "number", "minimum": 2},
                    "tags": {"type": "array", "items": {"type": "string", "maxLength": 2}},
                    "when": {"type": "string", "format": "date-time"},
                    "ok": {"type": "boolean"},
                    "extra": {"allOf": [{"type": "object", "properties": {"a": {"type": "integer"}}},
                                        {"type": "object", "properties": {"b": {"type": "string"}}}]},
                },
            }}}},
            "responses": {"201": {"description": "made"}},
        }}})
    _, doc = _openapi(spec)
    request = doc["requests"][0]
    assert request["path"] == "/items/77"
    assert request["query"] == {"q": "lamp", "n": 3, "kind": "b"}
    assert request["headers"] == {"X-Trace": "00000000-0000-4000-8000-000000000000"}
    assert request["json"] == {"name": "Desk lamp", "price": 2, "tags": ["te"], "when": "2026-01-01T00:00:00Z",
                               "ok": True, "extra": {"a": 1, "b": "text"}}
    assert request["checks"] == {"status": 201}


def test_body_example_and_named_examples_are_used_as_written() -> None:
    spec = _spec({
        "/one": {"put": {"requestBody": {"content": {"application/json": {
            "schema": {"type": "object", "properties": {"x": {"type": "integer"}}},
            "example": {"x": 41, "note": "${NOT_AN_ENV_VAR}"}}}},
            "responses": {"204": {"description": "done"}}}},
        "/two": {"post": {"requestBody": {"content": {"application/json": {
            "examples": {"first": {"$ref": "#/components/examples/Full"}, "second": {"value": {"x": 2}}}}}},
            "responses": {"default": {"description": "whatever"}}}},
    }, components={"examples": {"Full": {"value": {"x": 1, "y": [1, 2]}}}})
    _, doc = _openapi(spec)
    one, two = doc["requests"]
    assert one["json"] == {"x": 41, "note": "$${NOT_AN_ENV_VAR}"}  # example text is sent as written
    assert one["checks"] == {"status": 204}
    assert two["json"] == {"x": 1, "y": [1, 2]}
    assert "checks" not in two  # no 2xx response listed: the default rule (200-399) applies


def test_refs_are_followed_for_parameters_bodies_and_schemas() -> None:
    spec = _spec({"/pets/{petId}": {
        "parameters": [{"$ref": "#/components/parameters/PetId"}],
        "put": {
            "operationId": "update",
            "requestBody": {"$ref": "#/components/requestBodies/Pet"},
            "responses": {"200": {"$ref": "#/components/responses/Ok"}},
        },
        "get": {"operationId": "read", "parameters": [  # the operation's own parameter replaces the path item's
            {"name": "petId", "in": "path", "required": True, "schema": {"type": "integer"}, "example": 9}],
            "responses": {"200": {"description": "ok"}}},
    }}, components={
        "parameters": {"PetId": {"name": "petId", "in": "path", "required": True,
                                 "schema": {"$ref": "#/components/schemas/Id"}}},
        "requestBodies": {"Pet": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Pet"}}}}},
        "responses": {"Ok": {"description": "ok"}},
        "schemas": {
            "Id": {"type": "integer", "example": 10},
            "Pet": {"type": "object", "properties": {"name": {"type": "string", "example": "doggie"},
                                                      "category": {"$ref": "#/components/schemas/Category"},
                                                      "parent": {"$ref": "#/components/schemas/Pet"}}},
            "Category": {"type": "object", "properties": {"id": {"$ref": "#/components/schemas/Id"}}},
        },
    })
    text, doc = _openapi(spec)
    update, read = _by_name(doc)["untagged: update"], _by_name(doc)["untagged: read"]
    assert update["path"] == "/pets/10"
    assert update["json"]["name"] == "doggie"
    assert update["json"]["category"] == {"id": 10}
    assert update["json"]["parent"]["parent"]["name"] == "doggie"  # a recursive schema ends, it does not hang
    assert read["path"] == "/pets/9"
    assert "Not imported" not in text


def test_a_broken_ref_and_an_undeclared_path_parameter_are_noted_in_the_file() -> None:
    spec = _spec({"/a/{who}/{what}": {"get": {
        "parameters": [{"name": "who", "in": "path", "required": True,
                        "schema": {"$ref": "#/components/schemas/Missing"}}],
        "responses": {"200": {"description": "ok"}}}}})
    text, doc = _openapi(spec)
    assert doc["requests"][0]["path"] == "/a/1/1"
    assert "# Not imported: $ref '#/components/schemas/Missing' names nothing in the document" in text
    assert "path parameter {what} is not declared; 1 written in its place" in text
    assert "no example or schema for path parameter {who}; 1 written" in text


def test_security_schemes_become_environment_references() -> None:
    ok = {"responses": {"200": {"description": "ok"}}}
    spec = _spec({
        "/bearer": {"get": {"operationId": "b", **ok}},
        "/basic": {"get": {"operationId": "basic", "security": [{"basicAuth": []}], **ok}},
        "/key": {"get": {"operationId": "k", "security": [{"headerKey": [], "queryKey": []}], **ok}},
        "/open": {"get": {"operationId": "o", "security": [], **ok}},
    }, security=[{"bearerAuth": []}], components={"securitySchemes": {
        "bearerAuth": {"type": "http", "scheme": "bearer"},
        "basicAuth": {"type": "http", "scheme": "basic"},
        "headerKey": {"type": "apiKey", "in": "header", "name": "X-Api-Key"},
        "queryKey": {"type": "apiKey", "in": "query", "name": "key"},
    }})
    text, doc = _openapi(spec)
    r = _by_name(doc)
    assert r["untagged: b"]["auth"] == {"bearer": "${BEARER_AUTH_TOKEN}"}
    assert r["untagged: basic"]["auth"] == {"basic": {"user": "${BASIC_AUTH_USER}",
                                                      "password": "${BASIC_AUTH_PASSWORD}"}}
    assert r["untagged: k"]["headers"] == {"X-Api-Key": "${HEADER_KEY}"}
    assert r["untagged: k"]["query"] == {"key": "${QUERY_KEY}"}
    assert "auth" not in r["untagged: o"] and "headers" not in r["untagged: o"]
    assert "set BASIC_AUTH_PASSWORD, BASIC_AUTH_USER, BEARER_AUTH_TOKEN, HEADER_KEY, QUERY_KEY" in text


def test_servers_give_the_target_or_a_base_path() -> None:
    ok = {"get": {"responses": {"200": {"description": "ok"}}}}
    _, absolute = _openapi(_spec({"/x": ok}, servers=[{"url": "https://{host}/api/", "variables": {
        "host": {"default": "shop.example.com"}}}]))
    assert absolute["target"] == "https://shop.example.com/api"
    assert absolute["requests"][0]["path"] == "/x"
    text, relative = _openapi(_spec({"/x": ok}, servers=[{"url": "/api/v3"}]))
    assert "target" not in relative
    assert relative["requests"][0]["path"] == "/api/v3/x"
    assert "relative" in text


def test_yaml_dates_in_examples_become_text(tmp_path: Path) -> None:
    spec = tmp_path / "api.yaml"
    spec.write_text("openapi: 3.1.0\ninfo: {title: dates, version: '1'}\npaths:\n  /d:\n    post:\n"
                    "      requestBody:\n        content:\n          application/json:\n"
                    "            example: {day: 2026-05-01}\n      responses:\n        200: {description: ok}\n",
                    encoding="utf-8")
    out = tmp_path / "out.yaml"
    assert import_file("openapi", str(spec), str(out)) == 0
    doc = yaml.safe_load(out.read_text(encoding="utf-8"))
    assert doc["requests"][0]["json"] == {"day": "2026-05-01"}
    assert doc["requests"][0]["checks"] == {"status": 200}


def test_the_demo_target_description_imports_every_operation() -> None:
    text = import_text("openapi", (FIXTURES / "demo-openapi.yaml").read_text(encoding="utf-8"), "demo-openapi.yaml")
    scenario = parse_scenario(text, "imported.yaml")
    names = [r.name for r in scenario.requests]
    assert names == ["catalogue: listItems", "catalogue: getItem", "catalogue: searchItems", "account: createItem",
                     "account: login", "diagnostics: health", "diagnostics: echo", "diagnostics: delay"]
    doc = yaml.safe_load(text)
    r = _by_name(doc)
    assert doc["target"] == "http://127.0.0.1:8089"
    assert r["catalogue: getItem"]["path"] == "/api/items/7"
    assert r["catalogue: listItems"]["query"] == {"page": 2, "limit": 5}
    assert r["account: createItem"]["auth"] == {"bearer": "${BEARER_AUTH_TOKEN}"}
    assert r["account: createItem"]["json"] == {"name": "Desk lamp", "price": 24.5}
    assert r["account: login"]["json"] == {"username": "shopper", "password": "demo"}
    assert r["diagnostics: echo"]["path"] == "/echo/orders"


def test_the_petstore_description_validates() -> None:
    text = import_text("openapi", (FIXTURES / "petstore-openapi.json").read_text(encoding="utf-8"), "petstore.json")
    scenario = parse_scenario(text, "petstore.yaml")
    assert len(scenario.requests) == 19
    r = _by_name(yaml.safe_load(text))
    assert r["pet: getPetById"]["headers"] == {"api_key": "${API_KEY}"}  # the first security alternative
    assert r["pet: addPet"]["auth"] == {"bearer": "${PETSTORE_AUTH_TOKEN}"}  # oauth2: a bearer token
    assert r["pet: findPetsByTags"]["query"] == {"tags": ["fluffy", "small"]}
    assert r["pet: deletePet"]["path"] == "/api/v3/pet/10"
    assert r["store: placeOrder"]["json"]["petId"] == 198772
    assert "uploadFile: request body of type application/octet-stream not imported" in text


# --- HAR --------------------------------------------------------------------------------------------------

API = "http://127.0.0.1:8089"


def _entry(url: str, at: float, method: str = "GET", status: int = 200, mime: str = "application/json",
           body: str | None = None, headers: tuple[tuple[str, str], ...] = (), post: tuple[str, str] | None = None,
           response_headers: tuple[tuple[str, str], ...] = (), time_ms: float = 5, **extra: Any) -> dict[str, Any]:
    minutes, seconds = divmod(at, 60)
    request: dict[str, Any] = {"method": method, "url": url, "httpVersion": "HTTP/1.1", "cookies": [],
                               "headers": [{"name": n, "value": v} for n, v in headers], "queryString": [],
                               "headersSize": -1, "bodySize": -1}
    if post:
        request["postData"] = {"mimeType": post[0], "text": post[1]}
    content: dict[str, Any] = {"size": len(body or ""), "mimeType": mime}
    if body is not None:
        content["text"] = body
    return {"startedDateTime": f"2026-05-01T10:{int(minutes):02d}:{seconds:06.3f}Z", "time": time_ms,
            "request": request,
            "response": {"status": status, "statusText": "", "httpVersion": "HTTP/1.1", "cookies": [],
                         "headers": [{"name": n, "value": v} for n, v in response_headers], "content": content,
                         "redirectURL": "", "headersSize": -1, "bodySize": -1},
            "cache": {}, "timings": {"send": 0, "wait": time_ms, "receive": 0}, **extra}


def _har(*entries: dict[str, Any], pages: list[dict[str, Any]] | None = None) -> str:
    log: dict[str, Any] = {"version": "1.2", "creator": {"name": "test", "version": "1"}, "entries": list(entries)}
    if pages is not None:
        log["pages"] = pages
    return json.dumps({"log": log})


def _import_har(*entries: dict[str, Any], pages: list[dict[str, Any]] | None = None) -> tuple[str, dict[str, Any]]:
    text = import_text("har", _har(*entries, pages=pages), "session.har")
    return text, yaml.safe_load(text)


def _steps(doc: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for item in doc["journeys"][0]["steps"]:
        out.extend(item["steps"] if "group" in item else [item])
    return out


def test_static_assets_other_hosts_preflights_and_unanswered_requests_are_dropped() -> None:
    text, doc = _import_har(
        _entry("http://localhost:3000/", 0.0, mime="text/html", body="<html></html>"),
        _entry(f"{API}/health", 0.1),
        _entry(f"{API}/static/app.js", 0.2, mime="application/javascript"),
        _entry(f"{API}/img/logo", 0.3, mime="image/png"),  # no extension: the type says it
        _entry(f"{API}/bundle", 0.35, mime="text/plain", _resourceType="script"),  # the browser says it
        _entry(f"{API}/api/items?page=1", 0.4, body='{"items": []}'),
        _entry("https://cdn.example.com/font.woff2", 0.5, mime="font/woff2"),
        _entry(f"{API}/api/items", 0.6, method="OPTIONS", status=204, mime="",
               headers=(("Access-Control-Request-Method", "POST"),)),
        _entry(f"{API}/api/blocked", 0.7, status=0),
        _entry(f"{API}/manifest.json", 0.8, mime="application/manifest+json"),
    )
    assert [s["name"] for s in _steps(doc)] == ["GET /health", "GET /api/items"]
    assert doc["target"] == API  # the host the session talked to most, not the first one
    assert "Left out: 2 other hosts, 4 static assets, 1 CORS preflights, 1 not answered." in text
    assert "(2 of 10 requests)" in text


def test_think_times_are_the_pauses_between_requests_capped_at_30s() -> None:
    _, doc = _import_har(
        _entry(f"{API}/a", 0.0, time_ms=100),    # ends at 0.1, next starts at 1.6: 1500ms
        _entry(f"{API}/b", 1.6, time_ms=50),     # ends at 1.65, next starts at 1.62: overlapping, no pause
        _entry(f"{API}/c", 1.62, time_ms=10),    # next starts two minutes later: capped
        _entry(f"{API}/d", 121.63, time_ms=5),   # the last step: no pause after it
    )
    steps = _steps(doc)
    assert steps[0]["think_time"] == "1500ms"
    assert "think_time" not in steps[1]
    assert steps[2]["think_time"] == "30000ms"
    assert "think_time" not in steps[3]


def test_a_value_a_later_request_sends_back_is_extracted_and_referred_to() -> None:
    token = "eyJhbGciOi.J9abc-123_xyz"
    _, doc = _import_har(
        _entry(f"{API}/api/login", 0.0, method="POST", post=("application/json", '{"username": "ann"}'),
               body=json.dumps({"token": token, "user": {"id": 4242, "name": "ann", "age": 42}})),
        _entry(f"{API}/api/items", 1.0, method="POST", status=201,
               headers=(("Authorization", f"Bearer {token}"),),
               post=("application/json", '{"name": "lamp", "price": 5}'),
               body='{"id": 1057, "name": "lamp", "price": 5}',
               response_headers=(("Location", "/api/items/1057"), ("X-Trace-Id", "trace-77f0a9b2"))),
        _entry(f"{API}/api/items/1057", 2.0, headers=(("Authorization", f"Bearer {token}"),
                                                       ("X-Trace-Id", "trace-77f0a9b2"))),
        _entry(f"{API}/api/items/10570/related?near=1057&not=x1057", 3.0, headers=(("X-Item", "1057"),)),
        _entry(f"{API}/api/orders", 4.0, method="POST", status=201,
               post=("application/json", json.dumps({"item": 1057, "owner": 4242, "age": 42, "label": "lamp"}))),
    )
    login, create, read, related, order = _steps(doc)
    assert login["extract"] == {"token": {"json": "$.token"}, "id": {"json": "$.user.id"}}
    assert create["headers"] == {"Authorization": "Bearer {{ token }}"}
    assert create["extract"] == {"id_2": {"json": "$.id"}, "x_trace_id": {"header": "X-Trace-Id"}}
    assert "name" not in str(create["extract"])  # "lamp" was sent by the client first: not the server's value
    assert read["path"] == "/api/items/{{ id_2 }}"
    assert read["name"] == "GET /api/items/{id_2}"
    assert read["headers"] == {"Authorization": "Bearer {{ token }}", "X-Trace-Id": "{{ x_trace_id }}"}
    # A short value only as a whole part: 10570 and x1057 are other values.
    assert related["path"] == "/api/items/10570/related"
    assert related["query"] == {"near": "{{ id_2 }}", "not": "x1057"}
    assert related["headers"] == {"X-Item": "{{ id_2 }}"}
    # 42 is too short to tell from any other 42.
    assert order["json"] == {"item": "{{ id_2 }}", "owner": "{{ id }}", "age": 42, "label": "lamp"}


def test_a_hidden_form_field_of_a_page_is_extracted_with_a_regex() -> None:
    csrf = "c5rf-9f8e7d6c5b4a"
    page = f'<html><form method="post"><input type="hidden" name="csrf_token" value="{csrf}"></form></html>'
    _, doc = _import_har(
        _entry(f"{API}/login", 0.0, mime="text/html; charset=utf-8", body=page),
        _entry(f"{API}/login", 1.0, method="POST", status=302, mime="text/html",
               post=("application/x-www-form-urlencoded", f"user=ann&csrf_token={csrf}&next=%2Fhome")),
    )
    form, submit = _steps(doc)
    pattern = form["extract"]["csrf_token"]["regex"]
    match = re.search(pattern, page)
    assert match and match.group(1) == csrf
    assert submit["body"] == "user=ann&csrf_token={{ csrf_token }}&next=%2Fhome"
    assert submit["headers"] == {"Content-Type": "application/x-www-form-urlencoded"}
    assert submit["checks"] == {"status": 302}


def test_credentials_are_environment_references_and_never_written(tmp_path: Path) -> None:
    secrets = ["Basic YW5uOnMzY3JldA==", "pa55-w0rd!", "k-9Zx-SECRET", "sess-4f1c2a9d", "qs-t0ken-77"]
    har = tmp_path / "s.har"
    har.write_text(_har(
        _entry(f"{API}/account", 0.0, headers=(("Authorization", secrets[0]), ("Cookie", f"theme=dark; "
               f"SESSIONID={secrets[3]}; seen=1"), ("Accept", "application/json"))),
        _entry(f"{API}/api/login", 1.0, method="POST", headers=(("X-Api-Key", secrets[2]),),
               post=("application/json", json.dumps({"user": "ann", "password": secrets[1],
                                                     "nested": [{"client_secret": secrets[2]}]})),
               response_headers=(("Set-Cookie", "seen=2; Path=/"),)),
        _entry(f"{API}/search?api_key={secrets[4]}&q=lamp&echo={secrets[1]}", 2.0,
               headers=(("Cookie", f"seen=2; SESSIONID={secrets[3]}"),)),
        _entry(f"{API}/form", 3.0, method="POST", mime="text/html",
               post=("application/x-www-form-urlencoded", f"user=ann&password={secrets[1]}")),
    ), encoding="utf-8")
    out = tmp_path / "out.yaml"
    assert import_file("har", str(har), str(out)) == 0
    text = out.read_text(encoding="utf-8")
    for secret in secrets:
        assert secret not in text
    account, login, search, form = _steps(yaml.safe_load(text))
    assert account["headers"]["Authorization"] == "${HAR_AUTHORIZATION}"
    assert account["headers"]["Cookie"] == "theme=dark; SESSIONID=${HAR_COOKIE_SESSIONID}; seen=1"
    assert login["headers"] == {"X-Api-Key": "${HAR_X_API_KEY}"}
    assert login["json"] == {"user": "ann", "password": "${HAR_PASSWORD}",
                             "nested": [{"client_secret": "${HAR_CLIENT_SECRET}"}]}
    # seen= was set by a response before: the tools' cookie jars send it; the recorded value is not replayed.
    assert search["headers"]["Cookie"] == "SESSIONID=${HAR_COOKIE_SESSIONID}"
    assert search["query"] == {"api_key": "${HAR_API_KEY}", "q": "lamp", "echo": "${HAR_PASSWORD}"}
    assert form["body"] == "user=ann&password=${HAR_PASSWORD}"
    header = "".join(line for line in text.splitlines(keepends=True) if line.startswith("#"))
    assert ("set HAR_API_KEY, HAR_AUTHORIZATION, HAR_CLIENT_SECRET, HAR_COOKIE_SESSIONID, HAR_PASSWORD, "
            "HAR_X_API_KEY") in header


def test_recorded_text_is_sent_as_written_and_user_info_is_not_the_target() -> None:
    _, doc = _import_har(
        _entry("http://ann:pw@127.0.0.1:8089/echo?x=${HOME}", 0.0, method="PUT",
               post=("text/plain", "literal ${PATH} and {{ nothing")),
    )
    assert doc["target"] == API
    step = _steps(doc)[0]
    assert step["query"] == {"x": "$${HOME}"}
    assert step["body"] == "literal $${PATH} and {{ nothing"


def test_pages_become_groups_and_common_headers_move_to_the_journey() -> None:
    pages = [{"id": "p1", "title": "Shop", "startedDateTime": "2026-05-01T10:00:00Z", "pageTimings": {}},
             {"id": "p2", "title": "Item", "startedDateTime": "2026-05-01T10:00:01Z", "pageTimings": {}}]
    accept = (("Accept", "application/json"),)
    _, doc = _import_har(
        _entry(f"{API}/a", 0.0, headers=accept, pageref="p1"),
        _entry(f"{API}/b", 0.5, headers=(*accept, ("X-Only", "b")), pageref="p1"),
        _entry(f"{API}/c", 1.0, headers=accept, pageref="p2"),
        pages=pages,
    )
    journey = doc["journeys"][0]
    assert journey["headers"] == {"Accept": "application/json"}
    assert [(g["group"], [s["name"] for s in g["steps"]]) for g in journey["steps"]] == [
        ("Shop", ["GET /a", "GET /b"]), ("Item", ["GET /c"])]
    assert journey["steps"][0]["steps"][1]["headers"] == {"X-Only": "b"}
    assert "headers" not in journey["steps"][0]["steps"][0]


def test_page_titles_that_are_no_valid_group_names_are_made_valid(tmp_path: Path) -> None:
    # k6 joins nested group names with "::", and a group may not share a step's name.
    pages = [{"id": "p1", "title": "Shop :: Home", "startedDateTime": "2026-05-01T10:00:00Z", "pageTimings": {}},
             {"id": "p2", "title": "GET /c", "startedDateTime": "2026-05-01T10:00:01Z", "pageTimings": {}}]
    text, doc = _import_har(_entry(f"{API}/a", 0.0, pageref="p1"), _entry(f"{API}/c", 1.0, pageref="p2"),
                            pages=pages)
    assert [g["group"] for g in doc["journeys"][0]["steps"]] == ["Shop : Home", "GET /c (2)"]
    path = tmp_path / "imported.yaml"
    path.write_text(text, encoding="utf-8")
    load_scenario(path)  # validates


def test_the_demo_session_becomes_a_correlated_journey() -> None:
    text = import_text("har", (FIXTURES / "demo-session.har").read_text(encoding="utf-8"), "demo-session.har")
    scenario = parse_scenario(text, "imported.yaml")
    journey = scenario.journeys[0]
    assert [type(i) for i in journey.items] == [Group, Group]
    assert [s.name for s in journey.steps] == ["GET /health", "GET /api/items", "GET /api/search", "POST /api/login",
                                               "POST /api/items", "GET /api/items/{id}", "GET /api/items (2)"]
    steps = {s["name"]: s for s in _steps(yaml.safe_load(text))}
    assert steps["POST /api/login"]["extract"] == {"token": {"json": "$.token"}}
    assert steps["POST /api/login"]["json"]["password"] == "${HAR_PASSWORD}"
    assert steps["POST /api/items"]["headers"] == {"Authorization": "Bearer {{ token }}"}
    assert steps["POST /api/items"]["extract"] == {"id": {"json": "$.id"}}
    assert steps["GET /api/items/{id}"]["path"] == "/api/items/{{ id }}"
    recorded = json.loads((FIXTURES / "demo-session.har").read_text(encoding="utf-8"))
    login = next(e for e in recorded["log"]["entries"] if e["request"]["url"].endswith("/api/login")
                 and e["request"]["method"] == "POST")
    assert json.loads(login["request"]["postData"]["text"])["password"] not in text
    assert json.loads(login["response"]["content"]["text"])["token"] not in text
    assert "localhost:3000" not in text and "fonts.gstatic.com" not in text


def test_the_demo_session_is_a_valid_har_1_2_document() -> None:
    """The fields HAR 1.2 requires, with their types, on every level."""
    log = json.loads((FIXTURES / "demo-session.har").read_text(encoding="utf-8"))["log"]
    assert log["version"] == "1.2"
    assert {"name", "version"} <= set(log["creator"])
    page_ids = set()
    for page in log["pages"]:
        assert {"startedDateTime", "id", "title", "pageTimings"} <= set(page)
        page_ids.add(page["id"])
    started = [e["startedDateTime"] for e in log["entries"]]
    assert started == sorted(started)
    for e in log["entries"]:
        assert {"startedDateTime", "time", "request", "response", "cache", "timings"} <= set(e)
        assert e.get("pageref", next(iter(page_ids))) in page_ids
        req, resp, timings = e["request"], e["response"], e["timings"]
        assert {"method", "url", "httpVersion", "cookies", "headers", "queryString", "headersSize",
                "bodySize"} <= set(req)
        assert {"status", "statusText", "httpVersion", "cookies", "headers", "content", "redirectURL",
                "headersSize", "bodySize"} <= set(resp)
        assert {"size", "mimeType"} <= set(resp["content"])
        if "postData" in req:
            assert {"mimeType"} <= set(req["postData"]) and ("text" in req["postData"] or "params" in req["postData"])
        assert {"send", "wait", "receive"} <= set(timings)
        assert e["time"] == pytest.approx(sum(v for k, v in timings.items() if v > 0 and k != "ssl"), abs=0.01)
        for h in [*req["headers"], *resp["headers"], *req["queryString"]]:
            assert set(h) >= {"name", "value"}


# --- bad input --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "content", "message"), [
    ("har", "this is not json", r"^{f}:1: not JSON: Expecting value \(column 1\)$"),
    ("har", '{"log": {"entries": [}', r"^{f}:1: not JSON: "),
    ("har", '{"openapi": "3.0.0"}', r"^{f}: not a HAR file \(no log.entries\)$"),
    ("har", '{"log": {"version": "1.2", "entries": []}}', r"^{f}: the recording holds no requests$"),
    ("har", json.dumps({"log": {"entries": [_entry("https://cdn.example.com/a.css", 0, mime="text/css")]}}),
     r"^{f}: the recording holds no http\(s\) requests but static assets$"),
    ("openapi", '{"swagger": "2.0", "paths": {}}', r"^{f}: a Swagger 2.0 \(OpenAPI 2\) description; convert it"),
    ("openapi", "openapi: 3.0.0\npaths: {}\n", r"^{f}: the description has no operations under 'paths'$"),
    ("openapi", "- a list\n", r"^{f}: not an OpenAPI 3 description \(expected a mapping at the top\)$"),
    ("openapi", "log: {entries: []}\n", r"^{f}: not an OpenAPI 3 description \(no 'openapi: 3.x' at the top\)$"),
    ("openapi", "openapi: 3.0.0\npaths: [\n", r"^{f}:3: neither JSON nor YAML: "),
])
def test_bad_input_is_one_line_naming_the_file_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                          kind: str, content: str, message: str) -> None:
    bad = tmp_path / "input.txt"
    bad.write_text(content, encoding="utf-8")
    out = tmp_path / "out.yaml"
    assert import_file(kind, str(bad), str(out)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert re.match(message.replace("{f}", re.escape(str(bad))), err.strip()), err
    assert not out.exists()


def test_missing_unreadable_and_non_utf8_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope.har"
    assert import_file("har", str(missing)) == 2
    assert capsys.readouterr().err == f"{missing}: file not found\n"
    assert import_file("openapi", str(tmp_path)) == 2
    assert capsys.readouterr().err == f"{tmp_path}: is a directory\n"
    latin = tmp_path / "latin.yaml"
    latin.write_bytes(b"openapi: 3.0.0\ninfo: {title: caf\xe9}\n")
    assert import_file("openapi", str(latin)) == 2
    assert capsys.readouterr().err == f"{latin}: not UTF-8 text (byte 32)\n"


def test_the_cli_imports_to_stdout_or_a_file_and_fails_with_exit_2(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    spec = str(FIXTURES / "demo-openapi.yaml")
    assert cli.main(["import", "openapi", spec]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("# Imported from ") and "requests:" in printed
    out = tmp_path / "deeper" / "imported.yaml"  # missing folders are made
    assert cli.main(["import", "openapi", spec, "--out", str(out)]) == 0
    assert capsys.readouterr().out == f"wrote {out}\n"
    assert out.read_text(encoding="utf-8") == printed
    assert cli.main(["import", "har", str(tmp_path / "missing.har")]) == 2
    assert capsys.readouterr().err == f"{tmp_path / 'missing.har'}: file not found\n"
    with pytest.raises(SystemExit) as stop:
        cli.main(["import", "postman", spec])
    assert stop.value.code == 2


def test_an_unknown_kind_is_an_input_error() -> None:
    with pytest.raises(ImportFileError, match="unknown import kind 'postman'"):
        import_text("postman", "{}", "x.json")


def test_header_examples_that_cannot_be_sent_and_bodies_without_values_are_noted() -> None:
    spec = _spec({"/h": {"post": {
        "operationId": "h",
        "parameters": [{"name": "X-City", "in": "header", "required": True, "example": "Zürich"},
                       {"name": "X-Plain", "in": "header", "required": True, "example": "Zurich"}],
        "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Gone"}}}},
        "responses": {"200": {"description": "ok"}}}}})
    text, doc = _openapi(spec)
    request = doc["requests"][0]
    assert request["headers"] == {"X-Plain": "Zurich"}
    assert "json" not in request
    assert "# Not imported: POST /h: header 'X-City': its example is not a one-line ASCII value" in text
    assert "# Not imported: h: no example or schema for the request body; sent without one" in text


def test_base64_responses_form_params_and_json_media_types() -> None:
    body = base64.b64encode(json.dumps({"order": {"number": "ORD-77310"}}).encode()).decode()
    created = _entry(f"{API}/orders", 0.0, method="POST", status=201,
                     headers=(("Content-Type", "application/vnd.api+json"),),
                     post=("application/vnd.api+json", '{"data": {"type": "orders"}}'))
    created["response"]["content"].update(text=body, encoding="base64")
    paid = _entry(f"{API}/pay", 1.0, method="POST", mime="text/html")
    paid["request"]["postData"] = {"mimeType": "application/x-www-form-urlencoded",
                                   "params": [{"name": "order", "value": "ORD-77310"}, {"name": "via", "value": "a b"}]}
    _, doc = _import_har(created, paid)
    first, second = _steps(doc)
    assert first["extract"] == {"number": {"json": "$.order.number"}}
    assert first["headers"] == {"Content-Type": "application/vnd.api+json"}  # not the tools' application/json
    assert first["json"] == {"data": {"type": "orders"}}
    assert second["body"] == "order={{ number }}&via=a+b"
    assert second["headers"] == {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.mark.parametrize("damage", [
    {"response": 1.5}, {"time": "slow"}, {"time": {"a": 1}}, {"startedDateTime": None},
    {"request": {"method": "GET", "url": f"{API}/x", "headers": 7}},
    {"response": {"status": 200, "content": "text", "headers": None, "cookies": 3}},
])
def test_entries_of_unexpected_shapes_do_not_stop_an_import(damage: dict[str, Any]) -> None:
    odd = {**_entry(f"{API}/odd", 0.5), **damage}
    _, doc = _import_har(_entry(f"{API}/a", 0.0), odd, _entry(f"{API}/b", 1.0))
    assert {"GET /a", "GET /b"} <= {s["name"] for s in _steps(doc)}


def test_a_document_nested_too_deeply_is_an_input_error() -> None:
    deep = "openapi: 3.0.0\npaths: " + "[" * 5000 + "]" * 5000 + "\n"
    with pytest.raises(ImportFileError, match=r"nested too deeply|neither JSON nor YAML"):
        import_text("openapi", deep, "deep.yaml")
    with pytest.raises(ImportFileError, match="nested too deeply"):
        import_text("har", '{"log": {"entries": ' + "[" * 100000 + "]" * 100000 + "}}", "deep.har")


def test_a_short_value_sent_back_as_a_whole_header_is_correlated() -> None:
    _, doc = _import_har(
        _entry(f"{API}/cart", 0.0, method="POST", body='{"cart": 7310, "size": 731}'),
        _entry(f"{API}/checkout", 1.0, headers=(("X-Cart", "7310"), ("X-Note", "size 731 of 7310"))),
    )
    cart, checkout = _steps(doc)
    assert cart["extract"] == {"cart": {"json": "$.cart"}}  # 731 is only part of a header: not taken
    assert checkout["headers"] == {"X-Cart": "{{ cart }}", "X-Note": "size 731 of {{ cart }}"}
