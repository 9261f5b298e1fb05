"""The valid side of the scenario format: what a correct file turns into, and the functions it relies on."""

from __future__ import annotations

from pathlib import Path

import pytest

from crossload import envref
from crossload.errors import Location, ScenarioError
from crossload.scenario import (
    Checks,
    Defaults,
    JsonCheck,
    ProfileOverride,
    Scenario,
    StageSpec,
    ThinkTime,
    Threshold,
    check_target_url,
    load_scenario,
    parse_json_path,
    parse_scenario,
    parse_threshold,
)
from crossload.units import parse_duration_ms

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))


def parse(text: str) -> Scenario:
    return parse_scenario(text, "test.yaml")


def one_request(extra: str = "", top: str = "") -> str:
    """A valid file with one request named 'r' at /r; ``extra`` adds keys to the request."""
    return f"version: 1\nname: t\n{top}requests:\n  - name: r\n    path: /r\n{extra}"


# --------------------------------------------------------------------------------------------------------
# The shipped scenarios


def test_demo_scenario_has_the_expected_requests() -> None:
    s = load_scenario(ROOT / "scenarios" / "demo.yaml")
    assert s.name == "demo-api"
    assert s.description == "Browse, search and create items on the demo JSON API."
    assert s.target is None
    assert [(r.name, r.method, r.path, r.weight) for r in s.requests] == [
        ("health", "GET", "/health", 1),
        ("list items", "GET", "/api/items", 4),
        ("item detail", "GET", "/api/items/42", 6),
        ("search", "GET", "/api/search", 2),
        ("login", "POST", "/api/login", 1),
        ("create item", "POST", "/api/items", 1),
    ]
    by_name = {r.name: r for r in s.requests}
    assert by_name["list items"].query == (("page", "1"), ("limit", "20"))
    assert by_name["search"].query == (("q", "item"),)
    assert by_name["search"].checks == Checks(body_contains=("results",))
    assert by_name["health"].checks.status == (200,)
    assert by_name["health"].checks.json == (
        JsonCheck(path="$.status", steps=("status",), exists=None, has_equals=True, equals="ok"),
    )
    assert by_name["list items"].checks.json[0].steps == ("items", 0, "id")
    assert by_name["list items"].checks.json[0].exists is True
    assert by_name["item detail"].checks.json[0].equals == 42
    assert by_name["login"].has_json_body
    assert by_name["login"].json_body == {"username": "demo", "password": "${CROSSLOAD_DEMO_PASSWORD:-demo}"}
    auth = ("Authorization", "Bearer ${CROSSLOAD_DEMO_TOKEN:-demo-token}")
    assert by_name["create item"].headers == (auth,)
    assert by_name["create item"].json_body == {"name": "widget", "price": 9.5}
    assert by_name["create item"].checks.status == (201,)
    assert s.defaults == Defaults(headers=(("Accept", "application/json"),), timeout_s=10.0,
                                  think_time=ThinkTime(0.1, 0.3))
    assert [(t.metric, t.op, t.value, t.request) for t in s.all_thresholds] == [
        ("error_rate", "<", 1.0, None),
        ("p95", "<", 500.0, None),
        ("p99", "<", 1000.0, "item detail"),
    ]
    assert s.profiles == {}


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.name for p in SCENARIOS])
def test_every_example_scenario_loads(path: Path) -> None:
    s = load_scenario(path)
    assert s.path == str(path)
    assert s.all_requests
    assert s.target is None  # examples run against the demo target
    for r in s.requests:
        assert r.path.startswith("/")
        assert r.location.file == str(path) and r.location.line > 0


def test_the_examples_include_checkout_and_minimal() -> None:
    assert {"demo.yaml", "checkout.yaml", "minimal.yaml"} <= {p.name for p in SCENARIOS}


def test_minimal_scenario_keeps_every_default() -> None:
    s = load_scenario(ROOT / "scenarios" / "minimal.yaml")
    assert s.name == "minimal"
    assert s.description == ""
    assert s.defaults == Defaults()
    (r,) = s.requests
    assert (r.name, r.method, r.path, r.weight) == ("health", "GET", "/health", 1)
    assert r.checks == Checks()
    assert r.think_time is None
    assert s.all_thresholds == ()


def test_checkout_scenario_uses_every_kind_of_check_and_override() -> None:
    s = load_scenario(ROOT / "scenarios" / "checkout.yaml")
    by_name = {r.name: r for r in s.requests}
    kinds = set()
    for r in s.requests:
        if r.checks.status:
            kinds.add("status")
        if r.checks.body_contains:
            kinds.add("body_contains")
        for c in r.checks.json:
            kinds.add("equals" if c.has_equals else f"exists={c.exists}")
    assert kinds == {"status", "body_contains", "equals", "exists=True", "exists=False"}
    assert any(r.method == "POST" and r.has_json_body for r in s.requests)
    assert by_name["search"].query == (("q", "lamp"), ("q", "chair"))
    assert by_name["login"].think_time == ThinkTime(1.0, 2.0)
    assert by_name["health"].think_time == ThinkTime(0.0, 0.0)
    assert [t.text for t in by_name["add item"].thresholds] == ["p95 < 500ms", "error_rate < 1%"]
    assert all(t.request == "add item" for t in by_name["add item"].thresholds)
    assert s.profiles["smoke"] == ProfileOverride(users=3, duration_ms=20_000.0)
    assert s.profiles["load"] == ProfileOverride(users=30, duration_ms=180_000.0, spawn_rate=2.0)


# --------------------------------------------------------------------------------------------------------
# Requests, defaults and value forms


def test_defaults_when_nothing_is_given() -> None:
    s = parse(one_request())
    assert s.defaults == Defaults(headers=(), timeout_s=30.0, think_time=ThinkTime(0.0, 0.0))
    r = s.requests[0]
    assert r.method == "GET" and r.weight == 1 and r.query == () and r.headers == ()
    assert not r.has_json_body and r.json_body is None and r.raw_body is None
    assert r.checks == Checks() and not r.checks.reads_body
    assert r.location == Location("test.yaml", 4)


def test_defaults_block() -> None:
    s = parse(one_request(top="defaults:\n  headers: {X-Env: test}\n  timeout: 1m\n  think_time: 2\n"))
    assert s.defaults == Defaults(headers=(("X-Env", "test"),), timeout_s=60.0,
                                  think_time=ThinkTime(2.0, 2.0))


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("1s", ThinkTime(1.0, 1.0)),
        ("250ms", ThinkTime(0.25, 0.25)),
        ("3", ThinkTime(3.0, 3.0)),
        ("0", ThinkTime(0.0, 0.0)),
        ("{min: 100ms, max: 300ms}", ThinkTime(0.1, 0.3)),
        ("{min: 1s, max: 1s}", ThinkTime(1.0, 1.0)),
        ("{min: 0, max: 1.5s}", ThinkTime(0.0, 1.5)),
    ],
)
def test_think_time_forms(written: str, expected: ThinkTime) -> None:
    s = parse(one_request(f"    think_time: {written}\n"))
    assert s.requests[0].think_time == expected


def test_default_timeout() -> None:
    s = parse(one_request("", top="defaults:\n  timeout: 1m\n"))
    assert s.defaults.timeout_s == 60.0


def test_a_request_has_a_timeout_of_its_own() -> None:
    s = parse(one_request("    timeout: 1500ms\n", top="defaults:\n  timeout: 1m\n"))
    assert s.requests[0].timeout_s == 1.5
    assert s.defaults.timeout_s == 60.0


def test_method_is_case_insensitive() -> None:
    s = parse(one_request("    method: patch\n    body: x\n"))
    assert s.requests[0].method == "PATCH"
    assert s.requests[0].raw_body == "x"


def test_query_mapping_lists_repeat_the_key_and_scalars_become_text() -> None:
    s = parse(one_request("    query:\n      tag: [a, b, c]\n      page: 2\n      ratio: 0.5\n"
                          "      all: true\n      q: hello world\n"))
    assert s.requests[0].query == (
        ("tag", "a"), ("tag", "b"), ("tag", "c"), ("page", "2"), ("ratio", "0.5"), ("all", "true"),
        ("q", "hello world"),
    )


def test_query_numeric_keys_become_text() -> None:
    s = parse(one_request("    query:\n      1: one\n"))
    assert s.requests[0].query == (("1", "one"),)


def test_header_values_that_are_numbers_or_booleans_become_text() -> None:
    s = parse(one_request("    headers:\n      X-Count: 5\n      X-Ratio: 0.25\n      X-Flag: false\n"
                          "      X-Text: '007'\n"))
    assert s.requests[0].headers == (("X-Count", "5"), ("X-Ratio", "0.25"), ("X-Flag", "false"),
                                     ("X-Text", "007"))


def test_json_body_any_json_value() -> None:
    s = parse(one_request("    method: PUT\n    json: [1, 2.5, 'x', null, true, {a: {b: []}}]\n"))
    r = s.requests[0]
    assert r.has_json_body and r.json_body == [1, 2.5, "x", None, True, {"a": {"b": []}}]


def test_json_null_is_a_json_body() -> None:
    s = parse(one_request("    method: POST\n    json: null\n"))
    assert s.requests[0].has_json_body and s.requests[0].json_body is None


def test_an_empty_optional_key_counts_as_left_out() -> None:
    s = parse(one_request("    think_time:\n    weight:\n    headers:\n    query:\n", top="thresholds:\n"))
    r = s.requests[0]
    assert (r.think_time, r.weight, r.headers, r.query) == (None, 1, (), ())
    assert s.thresholds == ()


def test_checks_forms() -> None:
    s = parse(one_request(
        "    checks:\n"
        "      status: [200, 204]\n"
        "      body_contains: ok\n"
        "      json:\n"
        "        - path: $.items[0].id\n"
        "        - {path: error, exists: false}\n"
        "        - {path: '$[\"odd key\"][2]', equals: {a: [1]}}\n"
        "        - {path: $.n, exists: true, equals: null}\n"
    ))
    c = s.requests[0].checks
    assert c.status == (200, 204)
    assert c.body_contains == ("ok",)
    assert c.reads_body
    assert c.json == (
        JsonCheck("$.items[0].id", ("items", 0, "id"), exists=True),
        JsonCheck("error", ("error",), exists=False),
        JsonCheck('$["odd key"][2]', ("odd key", 2), exists=None, has_equals=True, equals={"a": [1]}),
        JsonCheck("$.n", ("n",), exists=True, has_equals=True, equals=None),
    )


@pytest.mark.parametrize(
    ("path", "steps"),
    [
        ("$.items[0].id", ("items", 0, "id")),
        ("items[0].id", ("items", 0, "id")),
        ("token", ("token",)),
        ("$.token", ("token",)),
        ("$[3]", (3,)),
        ("[3].name", (3, "name")),
        ('$["a b"].c', ("a b", "c")),
        ("$.with-dash_and_1", ("with-dash_and_1",)),
        ("$.a[0][1]", ("a", 0, 1)),
    ],
)
def test_json_paths(path: str, steps: tuple[object, ...]) -> None:
    assert parse_json_path(path) == steps


@pytest.mark.parametrize("path", ["", "$", "$..a", ".a", "a.", "a..b", "$a", "a[-1]", "a[x]", "a[0]b",
                                  "$.1a", "a b", "$['a']", "a[0", "a.*"])
def test_not_json_paths(path: str) -> None:
    assert parse_json_path(path) is None


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:8080", "https://shop.example.com/api/", "http://[::1]:9000/base", "${TARGET}",
     "http://${HOST:-127.0.0.1}:8080"],
)
def test_target_urls_accepted(url: str) -> None:
    check_target_url(url, ValueError)


def test_target_trailing_slash_is_dropped() -> None:
    s = parse(one_request(top="target: http://127.0.0.1:8080/api//\n"))
    assert s.target == "http://127.0.0.1:8080/api"


# --------------------------------------------------------------------------------------------------------
# Thresholds


@pytest.mark.parametrize(
    ("text", "metric", "op", "value"),
    [
        ("p95 < 500ms", "p95", "<", 500.0),
        ("p99 <= 1.5s", "p99", "<=", 1500.0),
        ("avg < 2m", "avg", "<", 120_000.0),
        ("max < 1m30s", "max", "<", 90_000.0),
        ("p50 >= 100 ms", "p50", ">=", 100.0),
        ("p90<250ms", "p90", "<", 250.0),
        ("error_rate < 1%", "error_rate", "<", 1.0),
        ("error_rate <= 0.5 %", "error_rate", "<=", 0.5),
        ("error_rate < 100%", "error_rate", "<", 100.0),
        ("rps > 50/s", "rps", ">", 50.0),
        ("rps >= 12.5", "rps", ">=", 12.5),
        ("  rps > 0 /s  ", "rps", ">", 0.0),
    ],
)
def test_threshold_units(text: str, metric: str, op: str, value: float) -> None:
    assert parse_threshold(text) == (metric, op, value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("p95 < 500", "needs a unit"),
        ("error_rate < 1", "needs a unit"),
        ("error_rate < 101%", "outside 0% .. 100%"),
        ("rps > fast", "is not a rate"),
        ("p95 = 5ms", "is not a threshold"),
        ("latency < 5ms", "unknown metric"),
    ],
)
def test_threshold_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_threshold(text)


@pytest.mark.parametrize(
    ("op", "measured", "holds"),
    [("<", 9.9, True), ("<", 10.0, False), ("<=", 10.0, True), ("<=", 10.1, False),
     (">", 10.1, True), (">", 10.0, False), (">=", 10.0, True), (">=", 9.9, False)],
)
def test_threshold_holds(op: str, measured: float, holds: bool) -> None:
    th = Threshold(metric="p95", op=op, value=10.0, text=f"p95 {op} 10ms", request=None,
                   location=Location("f"))
    assert th.holds(measured) is holds


def test_per_request_and_named_thresholds() -> None:
    text = (
        "version: 1\n"
        "name: t\n"
        "requests:\n"
        "  - name: a\n"
        "    path: /a\n"
        "    thresholds:\n"
        "      - 'p95 < 200ms'\n"
        "  - name: b\n"
        "    path: /b\n"
        "thresholds:\n"
        "  - 'error_rate < 2%'\n"
        "  - {request: b, check: 'p99 <= 1s'}\n"
    )
    s = parse(text)
    own = s.requests[0].thresholds
    assert [(t.text, t.request, t.location.line) for t in own] == [("p95 < 200ms", "a", 7)]
    assert [(t.text, t.request, t.location.line) for t in s.thresholds] == [
        ("error_rate < 2%", None, 11),
        ("p99 <= 1s", "b", 12),
    ]
    assert [t.text for t in s.all_thresholds] == ["error_rate < 2%", "p99 <= 1s", "p95 < 200ms"]
    assert s.thresholds[1].value == 1000.0


# --------------------------------------------------------------------------------------------------------
# Profiles in the file


def test_profile_overrides_parse() -> None:
    s = parse(one_request(top=(
        "profiles:\n"
        "  load: {users: 50, duration: 10m, spawn_rate: 2.5}\n"
        "  spike:\n"
        "    stages:\n"
        "      - {duration: 10s, users: 5}\n"
        "      - {duration: 0s, users: 80}\n"
        "      - {duration: 1m, users: 80}\n"
        "      - {duration: 20s, users: 0}\n"
    )))
    assert s.profiles == {
        "load": ProfileOverride(users=50, duration_ms=600_000.0, spawn_rate=2.5),
        "spike": ProfileOverride(stages=(StageSpec(10_000.0, 5), StageSpec(0.0, 80), StageSpec(60_000.0, 80),
                                         StageSpec(20_000.0, 0))),
    }


# --------------------------------------------------------------------------------------------------------
# ${VAR} references


def test_env_references_name_every_field() -> None:
    text = (
        "version: 1\n"
        "name: t\n"
        "target: 'http://${HOST:-127.0.0.1}:${PORT}'\n"
        "defaults:\n"
        "  headers: {X-Key: '${API_KEY}'}\n"
        "requests:\n"
        "  - name: a\n"
        "    method: POST\n"
        "    path: /users/${USER_ID:-1}\n"
        "    query: {q: '${Q:-}', plain: x, keep: '$${LITERAL}'}\n"
        "    headers: {Authorization: 'Bearer ${TOKEN}'}\n"
        "    json: {login: {name: '${NAME:-demo}'}, tags: ['${TAG}']}\n"
        "  - name: b\n"
        "    method: POST\n"
        "    path: /b\n"
        "    body: 'token=${TOKEN}'\n"
    )
    s = parse(text)
    assert s.env_references() == [
        ("HOST", "127.0.0.1", "target", 3),
        ("PORT", None, "target", 3),
        ("API_KEY", None, "defaults.headers.X-Key", 5),
        ("USER_ID", "1", "requests[0].path", 9),
        ("Q", "", "requests[0].query.q", 10),
        ("TOKEN", None, "requests[0].headers.Authorization", 11),
        ("NAME", "demo", "requests[0].json.login.name", 12),
        ("TAG", None, "requests[0].json.tags[0]", 12),
        ("TOKEN", None, "requests[1].body", 16),
    ]


def test_demo_references_all_have_defaults() -> None:
    s = load_scenario(ROOT / "scenarios" / "demo.yaml")
    assert s.env_references() == [
        ("CROSSLOAD_DEMO_PASSWORD", "demo", "requests[4].json.password", 49),
        ("CROSSLOAD_DEMO_TOKEN", "demo-token", "requests[5].headers.Authorization", 59),
    ]


ENV = {"A": "alpha", "EMPTY": "", "B": "beta"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("${A}", "alpha"),
        ("x-${A}-${B}-y", "x-alpha-beta-y"),
        ("${UNSET}", ""),
        ("${EMPTY}", ""),
        ("${UNSET:-d}", "d"),
        ("${EMPTY:-d}", "d"),
        ("${A:-d}", "alpha"),
        ("${UNSET:-}", ""),
        ("${UNSET:-with space and :-}", "with space and :-"),
        ("$${A}", "${A}"),
        ("$${", "${"),
        ("$$${A}", "$${A}"),
        ("${A", "${A"),
        ("pre ${A post", "pre ${A post"),
        ("${1A}", "${1A}"),
        ("${A-B}", "${A-B}"),
        ("$A", "$A"),
        ("no refs", "no refs"),
    ],
)
def test_envref_resolve(text: str, expected: str) -> None:
    assert envref.resolve(text, ENV) == expected


def test_envref_references_and_has_refs() -> None:
    assert envref.references("${A} ${B:-x} $${C} ${D") == [("A", None), ("B", "x")]
    assert envref.has_refs("a ${B}")
    assert envref.has_refs("$${literal}")
    assert not envref.has_refs("$HOME and {braces}")


# --------------------------------------------------------------------------------------------------------
# Durations


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("500ms", 500.0),
        ("1.5s", 1500.0),
        ("30s", 30_000.0),
        ("2m", 120_000.0),
        ("1h", 3_600_000.0),
        ("1h30m", 5_400_000.0),
        ("1m30s", 90_000.0),
        ("2m 15s", 135_000.0),
        ("0s", 0.0),
        ("10", 10_000.0),
        ("0.25", 250.0),
        (10, 10_000.0),
        (1.5, 1500.0),
        (0, 0.0),
    ],
)
def test_parse_duration_ms(text: str | float, ms: float) -> None:
    assert parse_duration_ms(text) == ms


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("10 parsecs", "is not a duration"),
        ("5x", "is not a duration"),
        ("ms", "is not a duration"),
        ("1.5.5s", "is not a duration"),
        ("-5s", "cannot be negative"),
        (-1, "cannot be negative"),
        ("", "expected a duration"),
        ("   ", "expected a duration"),
        (True, "expected a duration"),
    ],
)
def test_parse_duration_ms_errors(text: str | float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_duration_ms(text)


@pytest.mark.parametrize("written", ["inf", ".inf", "nan", ".nan", "Infinity"])
def test_non_finite_durations_are_rejected_in_files(written: str) -> None:
    with pytest.raises(ScenarioError, match="is not a duration"):
        parse(one_request(f"    think_time: {written}\n"))
