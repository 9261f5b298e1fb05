"""Rendering: golden files byte for byte, determinism, literal escaping of hostile strings, identifiers,
check labels, k6 thresholds and the end-of-test grace period."""

from __future__ import annotations

import ast
import json
import keyword
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from crossload.golden import golden_inputs, rendered_examples
from crossload.paths import resource_dir
from crossload.profiles import build_schedule
from crossload.render import (
    JS_RESERVED,
    K6_SYSTEM_TAGS,
    LOCUST_SUPPORT,
    PY_RESERVED,
    PY_USER_ATTRIBUTES,
    body_checks,
    js_identifier,
    js_inline,
    js_key,
    js_literal,
    k6_tag_value_ok,
    k6_thresholds,
    py_docstring,
    py_identifier,
    py_inline,
    py_literal,
    render_k6,
    render_locust,
    status_label,
    unique_identifiers,
)
from crossload.scenario import load_scenario, parse_scenario

GOLDEN = resource_dir("tests") / "golden"
K6_ENV = {**os.environ, "K6_NO_USAGE_REPORT": "true"}

HOSTILE_PARTS = [
    "'", '"', "\\", "`", "${HOME}", "${NOPE:-d}", "$${x}", "{{ x }}", "{% if %}", "</script>", "*/", "#",
    "\n", "\r\n", "\t", "é", "漢字", "😀", "\u2028", "\u2029", "%", "%41", "?", "&", "=", "+", " ", "'''", '"""',
    "\\n", "\\u0041", "/*", "-->", "<!--", "\x7f", "__proto__", ",", ":", "{", "}",
]
hostile = st.lists(st.sampled_from(HOSTILE_PARTS) | st.text(max_size=4), min_size=1, max_size=6).map("".join)
header_safe = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=30)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**53), max_value=2**53)
    | st.floats(allow_nan=False, allow_infinity=False) | hostile,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(hostile, children, max_size=3),
    max_leaves=10,
)


def _k6_run(work: Path, script: str) -> str:
    (work / "probe.js").write_text(script, encoding="utf-8")
    proc = subprocess.run(["k6", "run", "-q", "--no-summary", "--log-format", "raw", "probe.js"], cwd=work,
                          env=K6_ENV, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    return next(x for x in (proc.stdout + proc.stderr).splitlines() if x.startswith("RESULT "))[len("RESULT "):]


# --- golden files -----------------------------------------------------------------------------------------


def test_golden_files_match_byte_for_byte() -> None:
    rendered = rendered_examples()
    assert rendered, "no example scenarios found"
    for rel, text in rendered.items():
        golden = GOLDEN / rel
        assert golden.exists(), f"{golden} is missing: run `invoke golden`"
        assert golden.read_bytes() == text.encode("utf-8"), f"{rel} differs from its golden file"


def test_rendering_is_deterministic() -> None:
    assert rendered_examples() == rendered_examples()


def test_golden_files_pass_preflight(tmp_path: Path) -> None:
    """Every golden k6 script passes `k6 inspect`; every golden locustfile loads in `locust --list`."""
    for scenario_dir in sorted(p for p in GOLDEN.iterdir() if p.is_dir()):
        k6_dir = tmp_path / scenario_dir.name / "k6"
        k6_dir.mkdir(parents=True)
        (k6_dir / "script.js").write_bytes((scenario_dir / "script.js").read_bytes())
        (k6_dir / "crossload.js").write_bytes((resource_dir("k6") / "crossload.js").read_bytes())
        proc = subprocess.run(["k6", "inspect", "script.js"], cwd=k6_dir, env=K6_ENV, capture_output=True,
                              text=True, check=False)
        assert proc.returncode == 0, proc.stderr
        options = json.loads(proc.stdout)
        executor = options["scenarios"]["crossload"]["executor"]
        assert executor == ("ramping-arrival-rate" if scenario_dir.name == "arrivals" else "ramping-vus")
        assert sorted(options["systemTags"]) == sorted(K6_SYSTEM_TAGS)

        locust_dir = tmp_path / scenario_dir.name / "locust"
        locust_dir.mkdir(parents=True)
        (locust_dir / "locustfile.py").write_bytes((scenario_dir / "locustfile.py").read_bytes())
        for name in LOCUST_SUPPORT:
            (locust_dir / name).write_bytes((resource_dir("locust") / name).read_bytes())
        env = {k: v for k, v in os.environ.items() if k != "CROSSLOAD_LOCUST_OUT"}
        proc = subprocess.run([sys.executable, "-m", "locust", "-f", "locustfile.py", "--list"], cwd=locust_dir,
                              env=env, capture_output=True, text=True, timeout=120, check=False)
        assert proc.returncode == 0 and "ScenarioUser" in proc.stdout, proc.stderr


def test_golden_only_inputs_show_what_no_example_does() -> None:
    """tests/golden/<name>/scenario.yaml: constructs the examples in scenarios/ do not show, pinned byte for byte
    too. Each validates against the committed JSON Schema, and renders the shapes a user of each tool reads."""
    only = {name for name, path in golden_inputs().items() if path.parent.parent == GOLDEN}
    assert only == {"coverage-requests", "coverage-journeys"}
    schema = json.loads((resource_dir("docs") / "scenario.schema.json").read_text(encoding="utf-8"))
    for name in only:
        text = (GOLDEN / name / "scenario.yaml").read_text(encoding="utf-8")
        assert text.splitlines()[0] == "# yaml-language-server: $schema=../../../docs/scenario.schema.json"
        assert not list(jsonschema.Draft202012Validator(schema).iter_errors(yaml.safe_load(text))), name
    script = (GOLDEN / "coverage-requests" / "script.js").read_text(encoding="utf-8")
    assert "const res = http.del(req.url, req.body, req.params);" in script
    assert "const res = http.head(req.url, req.params);" in script and "method: 'PATCH'," in script
    assert "basicAuth: ['tester', '${API_PASSWORD}'], // the Authorization header is computed at run time" in script
    assert "(r) => headerCheck(r, 'X-Total-Count', 'at_most', 1000)," in script
    assert "// 'error_rate < 5%' stops the run early when it fails over the last 30s" in script
    locustfile = (GOLDEN / "coverage-requests" / "locustfile.py").read_text(encoding="utf-8")
    assert "    ssl_context_factory = TrustedCa('ca.pem')" in locustfile
    assert "        'header X-Debug is absent': ['X-Debug', 'exists', False],\n" in locustfile
    script = (GOLDEN / "coverage-journeys" / "script.js").read_text(encoding="utf-8")
    assert "  insecureSkipTLSVerify: true, // tls: {verify: false}: no certificate check\n" in script
    assert "if (holds(vars, { name: 'tier', not_equals: 'basic' }) && !submit()) {" in script
    assert "    if (holds(vars, { name: 'tier', equals: 'gold' }) && !timedGroup('gold extras', function () {" in script
    assert "      { expect: { name: 'chat reply', timeout: 2000, json: ['state'], equals: 'done' } },\n" in script
    locustfile = (GOLDEN / "coverage-journeys" / "locustfile.py").read_text(encoding="utf-8")
    assert "    insecure = True  # tls: {verify: false}" in locustfile
    assert "                if holds(self.vars, {'name': 'state', 'equals': 'done'}):\n" in locustfile
    assert "    basic_auth=['chatter', '${CHAT_PASSWORD:-secret}']," in locustfile


def test_a_golden_only_input_cannot_take_an_example_s_name(tmp_path: Path) -> None:
    (tmp_path / "scenarios").mkdir()
    (tmp_path / "scenarios" / "demo.yaml").write_text("version: 1\n", encoding="utf-8")
    (tmp_path / "golden" / "extra").mkdir(parents=True)
    (tmp_path / "golden" / "extra" / "scenario.yaml").write_text("version: 1\n", encoding="utf-8")
    assert golden_inputs(tmp_path / "scenarios", tmp_path / "golden") == {
        "demo": tmp_path / "scenarios" / "demo.yaml", "extra": tmp_path / "golden" / "extra" / "scenario.yaml"}
    (tmp_path / "golden" / "demo").mkdir()
    (tmp_path / "golden" / "demo" / "scenario.yaml").write_text("version: 1\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"belongs to scenarios/demo\.yaml"):
        golden_inputs(tmp_path / "scenarios", tmp_path / "golden")


def test_golden_scripts_read_like_tool_code() -> None:
    """The shapes a user reads: k6 check() calls and one function per request, Locust @task methods."""
    script = (GOLDEN / "checkout" / "script.js").read_text(encoding="utf-8")
    assert "import { check, sleep } from 'k6';" in script
    assert "function addItem() {" in script and "addItem(); // weight 1" in script
    assert "'$.items[0].id exists': (r) => hasJsonPath(r, ['items', 0, 'id'])," in script
    assert "'status is 201': (r) => r.status === 201," in script
    assert "gracefulStop: '8s'," in script and "'0s'" not in script
    assert "'http_req_duration{name:slow recommendations,expected_response:true}': ['med>=50', 'max<2000']" in script
    assert all(not line.startswith("\t") and (len(line) - len(line.lstrip(" "))) % 2 == 0
               for line in script.splitlines())
    locustfile = (GOLDEN / "checkout" / "locustfile.py").read_text(encoding="utf-8")
    assert "    @task(8)\n    def browse(self) -> None:\n        \"\"\"GET /api/items\"\"\"\n" in locustfile
    assert "from crossload_recorder import install_recorder" in locustfile
    assert "wait_time = constant(0)" in locustfile  # think times differ per request: the tasks sleep
    demo = (GOLDEN / "demo" / "locustfile.py").read_text(encoding="utf-8")
    assert "wait_time = between(0.1, 0.3)" in demo and "time.sleep" not in demo


@pytest.mark.parametrize(("think", "k6_sleep", "locust_wait"), [
    ("500ms", "  sleep(0.5); // think time: 500ms\n}\n", "wait_time = constant(0.5)  # think time after each request"),
    ({"min": "1s", "max": "1.5s"}, "  sleep(1 + Math.random() * 0.5); // think time: 1s to 1.5s\n}\n",
     "wait_time = between(1.0, 1.5)  # think time after each request"),
    ("0s", "    b(); // weight 1\n  }\n}\n", "wait_time = constant(0)\n"),
])
def test_shared_think_time(think: object, k6_sleep: str, locust_wait: str) -> None:
    """One think time for every request: one sleep after the pick (k6), the user class's wait_time (Locust)."""
    text = yaml.safe_dump({"version": 1, "name": "t", "defaults": {"think_time": think},
                           "requests": [{"name": "a", "path": "/a", "weight": 3}, {"name": "b", "path": "/b"}]})
    scenario = parse_scenario(text, "t.yaml")
    schedule = build_schedule("smoke", scenario, duration_s=2)
    script = render_k6(scenario, schedule, "http://127.0.0.1:9").text
    assert script.endswith(k6_sleep) and script.count("sleep(") == k6_sleep.count("sleep(")
    assert "  const pick = Math.random() * 4;\n  if (pick < 3) {\n    a(); // weight 3\n  } else {\n" in script
    locustfile = render_locust(scenario, schedule, "http://127.0.0.1:9").text
    assert locust_wait in locustfile and "time.sleep" not in locustfile and "import time" not in locustfile


# --- literals ---------------------------------------------------------------------------------------------


@given(json_values)
def test_py_literal_round_trips(value: object) -> None:
    for text in (py_literal(value), py_inline(value)):
        assert text.isascii()
        assert ast.literal_eval(text) == value or value != value
    assert "\n" not in py_inline(value)


@given(json_values)
def test_js_literal_is_ascii_without_script_close_or_line_break_in_strings(value: object) -> None:
    for text in (js_literal(value), js_inline(value)):
        assert text.isascii()
        assert "</" not in text
    assert "\n" not in js_inline(value)


@settings(max_examples=1, deadline=None)
@given(st.lists(json_values, min_size=300, max_size=300))
def test_js_literal_evaluates_to_the_value_in_k6(tmp_path_factory: pytest.TempPathFactory,
                                                  values: list[Any]) -> None:
    """One `k6 run` evaluates 300 generated literals (both layouts) and prints them back as JSON."""
    work: Path = tmp_path_factory.mktemp("jslit")
    items = "".join(f"  {js_literal(v, 1)},\n  {js_inline(v)},\n" for v in values)
    out = _k6_run(work, "export const options = { iterations: 1, vus: 1 };\n"
                        f"const VALUES = [\n{items}];\n"
                        "export default function () { console.log('RESULT ' + JSON.stringify(VALUES)); }\n")
    got = json.loads(out)
    for i, value in enumerate(values):
        expected = json.loads(json.dumps(value))  # JSON's view: -0.0 -> 0 etc. are the same number
        assert got[2 * i] == expected, value
        assert got[2 * i + 1] == expected, value


@given(hostile)
def test_docstring_is_the_text(text: str) -> None:
    doc = py_docstring(text)
    assert doc.isascii() and doc.startswith('"""') and doc.endswith('"""') and "\n" not in doc
    tree = ast.parse(f"def f():\n    {doc}\n")
    assert ast.get_docstring(tree.body[0], clean=False) == text  # type: ignore[arg-type]


# --- identifiers ------------------------------------------------------------------------------------------


def test_identifier_examples() -> None:
    assert py_identifier("item detail") == "item_detail"
    assert js_identifier("item detail") == "itemDetail"
    assert js_identifier("GET items") == "getItems"
    assert js_identifier("listItems") == "listItems"
    assert py_identifier("Add-Item (v2)") == "add_item_v2"
    assert py_identifier("404 page") == "request_404_page"
    assert js_identifier("404 page") == "request404Page"
    assert py_identifier("client") == "client_request"
    assert py_identifier("on_start") == "on_start_request"
    assert py_identifier("class") == "class_request"
    assert js_identifier("delete") == "deleteRequest"
    assert js_identifier("check") == "checkRequest"
    assert js_identifier("setup") == "setupRequest"
    assert py_identifier("漢字") is None and js_identifier("!!!") is None
    names = ["a b", "a-b", "漢字", "request_3", "wait"]
    assert unique_identifiers(names, py_identifier, PY_RESERVED, "_") == [
        "a_b", "a_b_2", "request_3", "request_3_2", "wait_request"]
    assert unique_identifiers(names, js_identifier, JS_RESERVED, "") == ["aB", "aB2", "request_3", "request3", "wait"]


@given(st.lists(hostile, min_size=1, max_size=8, unique=True))
def test_identifiers_are_valid_unique_and_free(names: list[str]) -> None:
    py = unique_identifiers(names, py_identifier, PY_RESERVED, "_")
    js = unique_identifiers(names, js_identifier, JS_RESERVED, "")
    assert len(set(py)) == len(py) == len(names) and len(set(js)) == len(js)
    for ident in py:
        assert ident.isidentifier() and ident.isascii() and not keyword.iskeyword(ident)
        assert ident not in PY_RESERVED and ident == ident.lower() and not ident.startswith("_")
    for ident in js:
        assert re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", ident) and ident not in JS_RESERVED


def test_reserved_python_names_cover_the_user_class() -> None:
    """Every public attribute of Locust's FastHttpUser (class and instance) is kept free of task methods."""
    probe = (
        "import json\n"
        "from locust import FastHttpUser, task\n"
        "from locust.env import Environment\n"
        "class U(FastHttpUser):\n"
        "    host = 'http://127.0.0.1:9'\n"
        "    @task\n"
        "    def t(self): pass\n"
        "names = set(dir(FastHttpUser)) | set(vars(U(Environment(user_classes=[U]))))\n"
        "print(json.dumps(sorted(n for n in names if not n.startswith('_'))))\n"
    )
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert set(json.loads(proc.stdout.strip().splitlines()[-1])) <= PY_USER_ATTRIBUTES


# --- check labels -----------------------------------------------------------------------------------------


def _checks(yaml_checks: str) -> list[tuple[str, str, str]]:
    text = f"version: 1\nname: s\nrequests:\n  - name: a\n    path: /\n    checks:\n{yaml_checks}"
    request = parse_scenario(text, "s.yaml").requests[0]
    return [(c.label, c.js, c.py) for c in body_checks(request.checks)]


def test_check_labels() -> None:
    assert status_label(()) == "status is 2xx or 3xx"
    assert status_label((200,)) == "status is 200"
    assert status_label((200, 201)) == "status in [200, 201]"
    labels = [c[0] for c in _checks(
        "      body_contains: [results, '\"id\"', results]\n"
        "      json:\n"
        "        - {path: '$.items[0].id'}\n"
        "        - {path: token}\n"
        "        - {path: '$[\"a b\"]'}\n"
        "        - {path: $.x, exists: false}\n"
        "        - {path: $.id, equals: 42}\n"
        "        - {path: $.ok, equals: true}\n"
        "        - {path: $.obj, equals: {a: [1, 2]}}\n"
        "        - {path: $.s, equals: " + "y" * 60 + "}\n"
    )]
    assert labels == [
        'body contains "results"', "body contains '\"id\"'", 'body contains "results" (2)',
        "$.items[0].id exists", "$.token exists", '$["a b"] exists', "$.x is absent", "$.id == 42",
        "$.ok == true", '$.obj == {"a": [1, 2]}', '$.s == "' + "y" * 37 + '..."',
    ]


def test_check_callbacks_read_as_code() -> None:
    checks = _checks("      body_contains: results\n      json:\n        - {path: '$.a[1]', equals: {k: null}}\n")
    assert checks[0] == ('body contains "results"', "(r) => r.body.includes('results')",
                         "lambda body: 'results' in body")
    assert checks[1] == ("$.a[1] == {\"k\": null}", "(r) => jsonPathEquals(r, ['a', 1], { k: null })",
                         "lambda body: json_path_equals(body, ['a', 1], {'k': None})")


# --- thresholds and timing --------------------------------------------------------------------------------


def test_k6_thresholds_of_the_checkout_scenario() -> None:
    scenario = load_scenario(resource_dir("scenarios") / "checkout.yaml")
    got = k6_thresholds(scenario.all_thresholds)
    assert dict(got.entries) == {
        "http_req_failed": ("rate<0.01",),
        "http_req_duration{expected_response:true}": ("p(95)<500", "p(99)<1000"),
        "http_reqs": ("rate>1",),
        "http_req_duration{name:login,expected_response:true}": ("p(99)<800",),
        "http_req_duration{name:browse,expected_response:true}": ("avg<=200",),
        "http_req_duration{name:product,expected_response:true}": ("p(95)<300",),
        "http_req_duration{name:add item,expected_response:true}": ("p(95)<500",),
        "http_req_failed{name:add item}": ("rate<0.01",),
        "http_req_duration{name:slow recommendations,expected_response:true}": ("med>=50", "max<2000"),
    }
    assert got.left_out == ()


def test_k6_thresholds_leave_out_names_k6_cannot_select(tmp_path: Path) -> None:
    text = yaml.safe_dump({
        "version": 1, "name": "t",
        "requests": [{"name": n, "path": "/"} for n in ("a,b", "c:d", "e{f}", "'q'", " pad", "ok é", "x`y")],
        "thresholds": [{"request": n, "check": "p90 < 1.5s"} for n in ("a,b", "c:d", "e{f}", "'q'", " pad", "ok é")]
        + ["error_rate <= 0.5%", "rps >= 12.5/s", "max < 2s", "p50 < 100ms"],
    })
    scenario = parse_scenario(text, "t.yaml")
    got = k6_thresholds(scenario.all_thresholds)
    assert dict(got.entries) == {
        "http_req_duration{name:ok é,expected_response:true}": ("p(90)<1500",),
        "http_req_failed": ("rate<=0.005",),
        "http_reqs": ("rate>=12.5",),
        "http_req_duration{expected_response:true}": ("max<2000", "med<100"),
    }
    assert len(got.left_out) == 5 and "'a,b'" in got.left_out[0]
    assert not k6_tag_value_ok("x`y") and k6_tag_value_ok("item detail")
    # k6 accepts what is written, and the left-out thresholds appear as comments only.
    rendered = render_k6(scenario, build_schedule("smoke", scenario, duration_s=2), "http://127.0.0.1:9")
    rendered.write(tmp_path)
    proc = subprocess.run(["k6", "inspect", "script.js"], cwd=tmp_path, env=K6_ENV, capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    assert set(json.loads(proc.stdout)["thresholds"]) == set(dict(got.entries))
    assert rendered.text.count("judged by crossload only") == 5


tag_names = st.lists(
    st.sampled_from(["\\", "${HOME}", "</script>", "*/", "#", "\t", "é", "漢字", "😀", "%", "?", "&", "=", "+", " ",
                     "__proto__", "(", ")", "[", "]", "|", "\u00a0", "~"])
    | st.text(st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters=",:{}\"'`"), max_size=4),
    min_size=1, max_size=6,
).map("".join).filter(k6_tag_value_ok)


@settings(max_examples=1, deadline=None, phases=[Phase.explicit, Phase.generate],
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(tag_names, min_size=100, max_size=100, unique=True))
def test_k6_selects_exactly_the_names_written_into_thresholds(tmp_path_factory: pytest.TempPathFactory,
                                                              names: list[str]) -> None:
    """Every name k6_tag_value_ok accepts, written into a threshold's tag filter, selects exactly the samples
    tagged with it: one `k6 run` fails (exit 99) if any threshold sees no sample, and k6 refuses to start
    if it cannot parse one (`k6 inspect` does not parse threshold names)."""
    work: Path = tmp_path_factory.mktemp("k6tags")
    thresholds = "".join(f"    {js_key('tagged{name:' + n + '}')}: ['count==1'],\n" for n in names)
    script = (
        "import { Counter } from 'k6/metrics';\n"
        "const tagged = new Counter('tagged');\n"
        f"const NAMES = {js_literal(names)};\n"
        f"export const options = {{ iterations: 1, vus: 1, thresholds: {{\n{thresholds}  }} }};\n"
        "export default function () { for (const name of NAMES) { tagged.add(1, { name: name }); } }\n"
    )
    (work / "probe.js").write_text(script, encoding="utf-8")
    proc = subprocess.run(["k6", "run", "-q", "--no-summary", "probe.js"], cwd=work, env=K6_ENV,
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


def test_graceful_stop_lets_a_request_in_flight_finish() -> None:
    """k6 waits as long as Locust's --stop-timeout: the timeout, the longest think time and 1 s."""
    for name, seconds in (("demo", 12), ("checkout", 8), ("minimal", 31)):  # 10 s + 0.3 s, 5 s + 2 s, 30 s
        scenario = load_scenario(resource_dir("scenarios") / f"{name}.yaml")
        assert scenario.drain_s == seconds
        text = render_k6(scenario, build_schedule("smoke", scenario), "http://127.0.0.1:9").text
        assert f"      gracefulRampDown: '{seconds}s',\n      gracefulStop: '{seconds}s',\n" in text


# --- hostile strings --------------------------------------------------------------------------------------


def _scenario_yaml(name: str, path: str, header: str, body: str, query_value: str) -> str:
    doc = {
        "version": 1,
        "name": name,
        "defaults": {"headers": {"X-Default": header}},
        "requests": [
            {"name": name, "method": "POST", "path": "/echo/" + path, "query": {"q": query_value},
             "headers": {"X-Hostile": header}, "json": {"k": body, "list": [body, 1, True, None], "__proto__": body},
             "checks": {"body_contains": body if body.strip() else "x",
                        "json": [{"path": "$.method", "equals": body}, {"path": "$.k", "equals": {body: [body]}}]}},
            {"name": name + "-raw", "method": "PUT", "path": "/echo/raw", "body": body},
        ],
        "thresholds": [{"request": name, "check": "p95 < 1s"}],
    }
    # ASCII output: every other character is escaped, so the file reads back exactly (NEL, U+2028...).
    return yaml.safe_dump(doc, allow_unicode=False)


def _request_calls(tree: ast.Module) -> dict[str, dict[str, Any]]:
    """Constant -> the literal keyword arguments of its Request(...) call (checks: their labels)."""
    out: dict[str, dict[str, Any]] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            call = node.value
            if isinstance(call.func, ast.Name) and call.func.id == "Request":
                args: dict[str, Any] = {}
                for kw in call.keywords:
                    if kw.arg == "checks":
                        assert isinstance(kw.value, ast.Dict)
                        args["checks"] = [ast.literal_eval(k) for k in kw.value.keys if k is not None]
                    else:
                        args[str(kw.arg)] = ast.literal_eval(kw.value)
                out[node.targets[0].id] = args  # type: ignore[attr-defined]
    return out


# No shrinking: each example starts k6, and the first failing example is readable as it is.
@settings(max_examples=40, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate],
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=hostile.filter(lambda s: s.strip() and "\0" not in s and len(s) <= 200), path=hostile,
       header=header_safe, body=hostile, query_value=hostile)
def test_hostile_strings_render_valid_files(tmp_path_factory: pytest.TempPathFactory, name: str, path: str,
                                            header: str, body: str, query_value: str) -> None:
    scenario = parse_scenario(_scenario_yaml(name, path, header, body, query_value), "hostile.yaml")
    schedule = build_schedule("smoke", scenario, duration_s=2)
    target = "http://127.0.0.1:8089"
    locust_file = render_locust(scenario, schedule, target)
    tree = ast.parse(locust_file.text, "locustfile.py")
    # Every string is a literal that evaluates to exactly the scenario's strings.
    calls = list(_request_calls(tree).values())
    assert [c["name"] for c in calls] == [name, name + "-raw"]
    assert calls[0]["path"] == "/echo/" + path and calls[0]["query"] == [["q", query_value]]
    assert calls[0]["json"] == {"k": body, "list": [body, 1, True, None], "__proto__": body}
    assert calls[0]["headers"] == {"X-Default": header, "X-Hostile": header, "Content-Type": "application/json"}
    assert calls[0]["checks"] == [c.label for c in body_checks(scenario.requests[0].checks)]
    assert calls[1]["body"] == body
    user = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "ScenarioUser")
    docs = [ast.get_docstring(f, clean=False) for f in user.body if isinstance(f, ast.FunctionDef)]
    assert docs == [f"POST /echo/{path}", "PUT /echo/raw"]

    k6_file = render_k6(scenario, schedule, target)
    assert "</script>" not in k6_file.text and k6_file.text.isascii()
    out = tmp_path_factory.mktemp("k6")
    k6_file.write(out)
    proc = subprocess.run(["k6", "inspect", "script.js"], cwd=out, env=K6_ENV, capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 0, proc.stderr
