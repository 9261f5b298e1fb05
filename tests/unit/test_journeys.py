"""Journeys, correlation and data: the model, the rendered shapes, and both support modules against the
reference (crossload.varref): the same {{ name }} fill, the same text for a number, the same extraction and
the same rows drawn; hostile strings in journeys render valid files."""

from __future__ import annotations

import ast
import base64
import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import strategies as st

from crossload import envref, varref
from crossload.errors import ScenarioError
from crossload.paths import resource_dir
from crossload.profiles import build_schedule
from crossload.render import render_k6, render_locust, step_checks
from crossload.scenario import Condition, Group, load_scenario, regex_problem
from crossload.wire import request_target

GOLDEN = resource_dir("tests") / "golden"
K6_ENV = {**os.environ, "K6_NO_USAGE_REPORT": "true", "A": "alpha"}
SHOP = resource_dir("scenarios") / "shop-journeys.yaml"


def _journey_file(tmp: Path, body: str) -> Path:
    path = tmp / "j.yaml"
    path.write_text("version: 1\nname: j\n" + body, encoding="utf-8")
    return path


# --- the model --------------------------------------------------------------------------------------------


def test_shop_scenario_model() -> None:
    s = load_scenario(SHOP)
    assert s.requests == () and [j.name for j in s.journeys] == ["buy", "browse"]
    buy = s.journeys[0]
    assert [r.name for r in buy.setup] == ["sign in"]
    assert isinstance(buy.items[-2], Group) and buy.items[-2].name == "look around"
    assert [r.name for r in buy.steps] == ["sign in", "create item", "read item", "read item by location",
                                          "list items", "search colour", "search matching shades"]
    shades = buy.steps[-1]
    assert shades.condition is not None and shades.condition.spec() == {"name": "colour", "equals": "red"}
    pages = s.journeys[1].items[-1]
    assert isinstance(pages, Group) and (pages.name, pages.repeat, pages.index) == ("first pages", 3, "page_no")
    assert buy.data == ("shopper", "item_ref", "price", "colour", "page")
    assert s.journeys[1].data == ("page",)
    # Journey headers come first in every step; a step's own header of the same name replaces them.
    create = buy.steps[1]
    assert create.headers == (("X-Shopper", "{{ shopper.username }}"),)
    assert create.auth is not None and (create.auth.scheme, create.auth.token) == ("bearer", "{{ token }}")
    assert [(e.var, e.source) for e in create.extract] == [("item_id", "json"), ("item_url", "header")]
    assert {r.name for r in s.all_requests} >= {"sign in", "browsed product"}
    assert [t.request for t in s.all_thresholds] == [None, None, "create item", "look around"]
    shopper = s.data[0]
    assert shopper.columns == ("username", "city") and dict(shopper.rows[1]) == {"username": "bob", "city": "Oslo"}
    # ${VAR} is read in the text between {{ }} references only; the password is the only one here.
    assert [(name, where) for name, _d, where, _l in s.env_references()] == [
        ("CROSSLOAD_DEMO_PASSWORD", "journeys[0].setup[0].json.password")]


def test_a_file_without_journeys_reads_braces_as_text(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text("version: 1\nname: r\nrequests:\n  - name: a\n    path: /x/{{ id }}\n", encoding="utf-8")
    s = load_scenario(path)
    assert s.requests[0].path == "/x/{{ id }}" and s.journeys == ()
    text = render_k6(s, build_schedule("smoke", s), "http://127.0.0.1:1").text
    assert "path: '/x/{{ id }}'" in text and "prepare(defaults" in text and "fill(" not in text


def test_journey_thresholds_and_drain_see_the_steps(tmp_path: Path) -> None:
    s = load_scenario(_journey_file(tmp_path, """
journeys:
  - name: j
    steps:
      - name: slow
        path: /
        think_time: 9s
        thresholds: ["p95 < 1s"]
thresholds:
  - {request: slow, check: "p99 < 2s"}
"""))
    assert s.drain_s == 40  # 30 s timeout + 9 s think + 1
    assert [t.request for t in s.all_thresholds] == ["slow", "slow"]


def test_csv_problems_name_the_data_file_and_its_line(tmp_path: Path) -> None:
    (tmp_path / "u.csv").write_text("name,city\nann,Lisbon\nbob\n", encoding="utf-8")
    path = _journey_file(tmp_path, "data:\n  u: {file: u.csv}\njourneys:\n  - name: j\n    steps:\n"
                                   "      - name: a\n        path: /{{ u.name }}\n")
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert str(info.value) == f"{tmp_path / 'u.csv'}:3: data.u.file: this row has 1 fields, the header line 2"


def test_json_data_files(tmp_path: Path) -> None:
    (tmp_path / "p.json").write_text(json.dumps([{"sku": "a", "qty": 2}, {"sku": "b", "qty": 3, "x": True}]),
                                     encoding="utf-8")
    path = _journey_file(tmp_path, "data:\n  p: {file: p.json, order: random, per: user}\njourneys:\n"
                                   "  - name: j\n    steps:\n      - name: a\n        method: POST\n"
                                   "        path: /{{ p.sku }}\n        json: {qty: '{{ p.qty }}'}\n")
    s = load_scenario(path)
    assert s.data[0].columns == ("sku", "qty") and s.data[0].order == "random" and s.data[0].per == "user"
    (tmp_path / "p.json").write_text(json.dumps([{"sku": None}]), encoding="utf-8")
    with pytest.raises(ScenarioError, match="expected text, a number or a boolean"):
        load_scenario(path)


@pytest.mark.parametrize(("pattern", "problem"), [
    (r"id=(\d+)", None),
    (r'"token":"([^"]+)"', None),
    (r"(?:a|b)+(?=c)", None),
    (r"\\A literal backslash", None),
    (r"(?P<x>a)", "read differently"),
    (r"(?i)abc", "read differently"),
    (r"(?<=a)b", "read differently"),
    (r"\Aabc", "read differently"),
    (r"(a)(b)", "at most one capturing group"),
    (r"a(", "not a regular expression"),
])
def test_regex_subset(pattern: str, problem: str | None) -> None:
    found = regex_problem(pattern)
    assert (found is None) if problem is None else (found is not None and problem in found)


def test_number_text_is_javascript_string() -> None:
    cases = {0.0: "0", 1.0: "1", 1.5: "1.5", 0.1: "0.1", 1e21: "1e+21", 1e20: "100000000000000000000",
             1e-7: "1e-7", 1.5e-7: "1.5e-7", 0.000001: "0.000001", 123456789012345680000.0: "123456789012345680000",
             -2.5e-10: "-2.5e-10", 1.7976931348623157e308: "1.7976931348623157e+308"}
    for value, text in cases.items():
        assert varref.number_text(value) == text, value
    assert varref.number_text(-0.0) == "0"
    assert varref.value_text(True) == "true" and varref.value_text(2**53 + 1) == "9007199254740992"


# --- both support modules against the reference -----------------------------------------------------------

PARTS = ["{{ a }}", "{{a}}", "{{ b.c }}", "{{ n }}", "{{ f }}", "{{ t }}", "{{ a", "{{ 1x }}", "{{{ a }}}",
         "${A}", "${B:-d}", "$${A}", "${A", "é", "😀", "%41", " ", "/", "?", "&", "'", '"', "\\", "{", "}"]
template = st.lists(st.sampled_from(PARTS) | st.text(max_size=2), max_size=6).map("".join)
VALUES: dict[str, Any] = {"a": "x y/é", "b": {"c": "C&D"}, "n": 12, "f": 1e-7, "t": True}
NUMBERS = [0.1, 1.5, 1e21, 1e-7, 123.456, -0.5, 2.0**60, 1 / 3, 5e-324, 2**53 + 2]
RESPONSE = {"body": '{"id": 7, "name": "lamp", "ok": true, "n": null, "list": [1, {"k": "v"}], "html": "<a csrf=c-1>"}',
            "headers": {"Location": "/api/items/7", "X-Many": ["a", "b"], "X-Total": "120", "X-Bad": "12a",
                        "X-Neg": " -1.5 "}}
HEADER_CHECKS = [  # [name, op, value], verdict
    (["location", "exists", True], True), (["X-None", "exists", False], True), (["X-Total", "exists", False], False),
    (["x-total", "equals", "120"], True), (["X-Total", "equals", "12"], False), (["X-Many", "equals", "a, b"], True),
    (["X-Total", "at_least", 120], True), (["X-Total", "at_least", 120.5], False), (["X-Total", "at_most", 120], True),
    (["X-Bad", "at_least", 1], False), (["X-Neg", "at_most", -1.5], True), (["X-None", "at_least", 0], False),
    (["X-None", "equals", ""], False),
]
BASIC = [["ann", "s3cret"], ["é", "p:w d"], ["", ""]]
# A step's if: [name, field, op, text] against VALUES, and its verdict (the value written as text, as filled in).
CONDITIONS = [
    (["a", None, "equals", "x y/é"], True), (["a", None, "equals", "x y"], False),
    (["a", None, "not_equals", "x y"], True), (["b", "c", "equals", "C&D"], True),
    (["b", "c", "not_equals", "C&D"], False), (["n", None, "equals", "12"], True),
    (["n", None, "equals", "12.0"], False), (["f", None, "equals", "1e-7"], True),
    (["t", None, "equals", "true"], True), (["t", None, "equals", "True"], False),
    (["t", None, "not_equals", "false"], True),
]
EXTRACTS = [{"json": ["id"]}, {"json": ["name"]}, {"json": ["ok"]}, {"json": ["n"]}, {"json": ["list"]},
            {"json": ["list", 1, "k"]}, {"json": ["missing"]}, {"header": "location"}, {"header": "X-Many"},
            {"header": "X-None"}, {"regex": "csrf=([a-z0-9-]+)"}, {"regex": "lamp"}, {"regex": "(z)?lamp"},
            {"regex": "nothing"}]


def _reference(texts: list[str]) -> dict[str, Any]:
    env = {"A": "alpha"}
    filled = []
    for t in texts:
        pieces = varref.REF.split(t)
        out = ""
        for i in range(0, len(pieces), 3):
            out += envref.resolve(pieces[i], env)
            if i + 1 < len(pieces):
                out += varref.value_text(varref.lookup(VALUES, pieces[i + 1], pieces[i + 2]))
        filled.append(out)
    return {"filled": filled, "urls": [request_target(f, [("q", f)]) for f in filled],
            "numbers": [varref.value_text(n) for n in NUMBERS]}


_LOCUST_PROBE = """
import json, sys
sys.path.insert(0, sys.argv[1])
import crossload_locust as cl
from geventhttpclient.header import Headers
cases = json.load(open(sys.argv[2]))
values = cases["values"]
headers = Headers()
for k, v in cases["response"]["headers"].items():
    for one in (v if isinstance(v, list) else [v]):
        headers.add(k, one)
out = {
    "filled": [cl.Text(t).fill(values) for t in cases["texts"]],
    "json": cl.fill_json(cases["doc"], values),
    "numbers": [cl.value_text(n) for n in cases["numbers"]],
    "extracted": [None if (v := cl.extract_value(s, cases["response"]["body"], headers)) is cl._MISSING else v
                  for s in cases["extracts"]],
    "rows": [[cl.draw_value({"rows": [0, 1, 2], "order": "sequential"}, user, n) for n in range(4)]
             for user in (1, 2)],
    "header_checks": [cl.header_check(headers, *c) for c in cases["header_checks"]],
    "basic": [cl.basic_auth_header(u, p) for u, p in cases["basic"]],
    "conditions": [cl.holds(values, c) for c in cases["conditions"]],
}
out["urls"] = [cl.build_path(f, [("q", f)]) for f in out["filled"]]
print(json.dumps(out))
"""

_K6_PROBE = """
import {
  basicAuthHeader, buildUrl, drawValue, extractValue, fill, fillJson, headerCheck, holds, step,
} from './crossload.js';
const CASES = JSON.parse(open('./cases.json'));
export const options = { iterations: 1, vus: 1 };
export default function () {
  const res = { body: CASES.response.body, headers: {} };
  for (const k of Object.keys(CASES.response.headers)) {
    const v = CASES.response.headers[k];
    res.headers[k] = Array.isArray(v) ? v.join(', ') : v;
  }
  const filled = CASES.texts.map(function (t) {
    return fill(step({ baseUrl: '' }, { name: 'x', method: 'GET', path: '/', body: t }), CASES.values).body;
  });
  const extracted = CASES.extracts.map(function (s) {
    const v = extractValue(res, s);
    return v === undefined ? null : v;
  });
  console.log('RESULT ' + JSON.stringify({
    filled: filled,
    urls: filled.map(function (f) { return buildUrl('', f, [['q', f]]); }),
    json: fillJson(CASES.doc, CASES.values),
    numbers: CASES.numbers.map(function (n) { return String(n); }),
    extracted: extracted,
    rows: [1, 2].map(function (u) { return [0, 1, 2, 3].map(function (n) {
      return drawValue({ rows: [0, 1, 2], order: 'sequential' }, u, n); }); }),
    header_checks: CASES.header_checks.map(function (c) { return headerCheck(res, c[0], c[1], c[2]); }),
    basic: CASES.basic.map(function (c) { return basicAuthHeader(c[0], c[1]); }),
    conditions: CASES.conditions.map(function (c) { return holds(CASES.values, c); }),
  }));
}
"""


@settings(max_examples=1, deadline=None, phases=[Phase.explicit, Phase.generate],
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(template, min_size=150, max_size=150))
def test_support_modules_fill_extract_and_draw_like_the_reference(tmp_path_factory: pytest.TempPathFactory,
                                                                   texts: list[str]) -> None:
    doc = {"whole": "{{ n }}", "float": "{{ f }}", "flag": "{{ t }}", "col": "{{ b.c }}",
           "mixed": "n={{ n }} ${A}", "list": ["{{ a }}", 1.5, None, {"k": "{{a}}"}], "__proto__": "{{ n }}"}
    cases = {"texts": texts, "values": VALUES, "doc": doc, "numbers": NUMBERS, "response": RESPONSE,
             "extracts": EXTRACTS, "header_checks": [c for c, _ in HEADER_CHECKS], "basic": BASIC,
             "conditions": [Condition(*c).spec() for c, _ in CONDITIONS]}
    want = _reference(texts)
    want_json = {"whole": 12, "float": 1e-7, "flag": True, "col": "C&D", "mixed": "n=12 alpha",
                 "list": ["x y/é", 1.5, None, {"k": "x y/é"}], "__proto__": 12}
    want_extracted = [7, "lamp", True, None, None, "v", None, "/api/items/7", "a, b", None, "c-1", "lamp", None,
                      None]
    work = tmp_path_factory.mktemp("journeys")
    (work / "cases.json").write_text(json.dumps(cases), encoding="utf-8")

    env = {**{k: v for k, v in os.environ.items() if k not in ("A", "B")}, "A": "alpha"}
    proc = subprocess.run([sys.executable, "-c", _LOCUST_PROBE, str(resource_dir("locust")), str(work / "cases.json")],
                          env=env, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    (work / "crossload.js").write_bytes((resource_dir("k6") / "crossload.js").read_bytes())
    (work / "probe.js").write_text(_K6_PROBE, encoding="utf-8")
    k6 = subprocess.run(["k6", "run", "-q", "--no-summary", "--log-format", "raw", "probe.js"], cwd=work, env=env,
                        capture_output=True, text=True, timeout=120, check=False)
    assert k6.returncode == 0, k6.stderr
    k6_line = next(x for x in (k6.stdout + k6.stderr).splitlines() if x.startswith("RESULT "))

    for tool, got in (("locust", json.loads(proc.stdout.strip().splitlines()[-1])),
                      ("k6", json.loads(k6_line[len("RESULT "):]))):
        for text, filled, expected in zip(texts, got["filled"], want["filled"], strict=True):
            assert filled == expected, (tool, text)
        assert got["urls"] == want["urls"], tool
        assert json.loads(got["json"]) == want_json, tool
        assert got["numbers"] == want["numbers"], tool
        assert got["extracted"] == want_extracted, tool
        assert got["rows"] == [[0, 1, 2, 0], [1, 2, 0, 1]], tool
        assert got["header_checks"] == [verdict for _, verdict in HEADER_CHECKS], tool
        assert got["basic"] == ["Basic " + base64.b64encode(f"{u}:{p}".encode()).decode() for u, p in BASIC], tool
        assert got["conditions"] == [verdict for _, verdict in CONDITIONS], tool
    assert [Condition(*c).holds(VALUES) for c, _ in CONDITIONS] == [verdict for _, verdict in CONDITIONS]


# --- rendering --------------------------------------------------------------------------------------------


def test_rendered_journeys_read_like_tool_code() -> None:
    script = (GOLDEN / "shop-journeys" / "script.js").read_text(encoding="utf-8")
    assert "import { check, group, sleep } from 'k6';" in script
    assert "import { SharedArray } from 'k6/data';" in script
    assert "function buy() {\n  group('buy', function () {\n" in script
    assert "    if (!setupDone.buy) {\n" in script and "setupDone.buy = signIn();" in script
    assert ("    if (!timedGroup('look around', function () {\n      if (!listItems()) {\n        return false;\n"
            in script)
    assert ("    if (holds(vars, { name: 'colour', equals: 'red' })) {\n      searchMatchingShades();\n    }\n"
            in script)
    assert ("    timedGroup('first pages', function () {\n      for (let round = 1; round <= 3; round++) {\n"
            "        vars.page_no = round;\n        if (!listPage()) {\n          return false;\n        }\n"
            "      }\n      return true;\n    });\n") in script
    assert "'extract item_id from $.id': (r) => extract(r, vars, 'item_id', { json: ['id'] })," in script
    assert "    buy(); // journey, weight 3\n" in script
    locustfile = (GOLDEN / "shop-journeys" / "locustfile.py").read_text(encoding="utf-8")
    assert "class BuyJourney(Journey):" in locustfile
    assert "    tasks = {BuyJourney: 3, BrowseJourney: 1}" in locustfile
    assert "    def setup(self) -> bool:\n" in locustfile and "        return self.send(SIGN_IN)\n" in locustfile
    assert ("    @task\n    def create_item(self) -> None:\n        \"\"\"POST /api/items\"\"\"\n"
            "        ok = self.send(CREATE_ITEM)\n        time.sleep(0.1)  # think time: 100ms\n"
            "        if not ok:\n            self.end_iteration()\n") in locustfile
    assert "'extract item_url from header Location': ('item_url', {'header': 'Location'})," in locustfile
    assert ("    def look_around(self) -> None:\n        \"\"\"Group 'look around': list items, search colour.\"\"\"\n"
            "        with self.group('look around'):\n            if not self.send(LIST_ITEMS):\n"
            "                self.end_iteration()\n") in locustfile
    assert ("        if holds(self.vars, {'name': 'colour', 'equals': 'red'}):\n"
            "            self.send(SEARCH_MATCHING_SHADES)\n") in locustfile
    assert ("        with self.group('first pages'):\n            for round_ in range(1, 3 + 1):\n"
            "                self.vars['page_no'] = round_\n                ok = self.send(LIST_PAGE)\n") in locustfile


def test_journeys_take_part_in_the_mix_with_requests(tmp_path: Path) -> None:
    s = load_scenario(_journey_file(tmp_path, """
requests:
  - name: health
    path: /health
    weight: 2
journeys:
  - name: j
    weight: 3
    steps:
      - name: a
        path: /a
"""))
    schedule = build_schedule("smoke", s)
    k6 = render_k6(s, schedule, "http://127.0.0.1:1").text
    assert "const pick = Math.random() * 5;" in k6 and "    j(); // journey, weight 3\n" in k6
    assert "prepare(defaults" in k6 and "step(defaults" in k6
    py = render_locust(s, schedule, "http://127.0.0.1:1").text
    assert "    tasks = {JJourney: 3}" in py and "    @task(2)\n    def health(self)" in py
    assert "wait_time = constant(0)" in py


HOSTILE_PARTS = ["'", '"', "\\", "`", "${HOME}", "$${x}", "{% if %}", "</script>", "*/", "#", "\n", "\t", "é",
                 "😀", "\u2028", "%41", "?", "&", " ", "'''", "__proto__", ",", ":", "{", "}", "{{", "}}",
                 "{{ c }}", "{{ row.k }}"]
hostile = st.lists(st.sampled_from(HOSTILE_PARTS) | st.text(max_size=3), min_size=1, max_size=5).map("".join)
# Text a first step can hold: references to data only (the extracted v and w exist from the next step on).
first_step_text = hostile.filter(lambda t: {ref for ref in varref.references(t)} <= {("c", None), ("row", "k")})


@settings(max_examples=12, deadline=None, phases=[Phase.explicit, Phase.generate],
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=hostile.filter(lambda s: s.strip() and "\0" not in s and "::" not in s and len(s) <= 200),
       text=first_step_text, value=hostile,
       group=hostile.filter(lambda s: s.strip() and "\0" not in s and "::" not in s and len(s) <= 200))
def test_hostile_strings_in_journeys_render_valid_files(tmp_path_factory: pytest.TempPathFactory, name: str,
                                                        text: str, value: str, group: str) -> None:
    assume(group not in (name, name + "-2"))  # a group's row is named after it: names are unique
    tmp = tmp_path_factory.mktemp("hostile")
    (tmp / "rows.json").write_text(json.dumps([{"k": value}]), encoding="utf-8")
    doc = {
        "version": 1, "name": name,
        "data": {"row": {"file": "rows.json"}, "c": {"generate": "choice", "values": [value, 1]}},
        "journeys": [{
            "name": name,
            "steps": [
                {"name": name, "method": "POST", "path": "/echo/" + text, "query": {text: text},
                 "json": {text: text, "v": "{{ row.k }}"},
                 "extract": {"v": {"regex": "(" + "".join(ch for ch in value if ch.isalnum()) + ")"},
                             "w": {"json": '$["' + text.replace('"', "") + '"]'}}},
                {"group": group, "steps": [{"name": name + "-2", "method": "PUT", "path": "/echo/{{ v }}",
                                            "body": text + "{{ w }}{{ c }}"}]},
            ],
        }],
    }
    path = tmp / "hostile.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=False, sort_keys=False), encoding="utf-8")
    s = load_scenario(path)
    schedule = build_schedule("smoke", s, duration_s=2)
    locust_file = render_locust(s, schedule, "http://127.0.0.1:8089")
    tree = ast.parse(locust_file.text, "locustfile.py")
    steps = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call) and \
                getattr(node.value.func, "id", "") == "Step":
            steps[node.targets[0].id] = {kw.arg: ast.literal_eval(kw.value) for kw in node.value.keywords  # type: ignore[attr-defined]
                                         if kw.arg != "checks"}
    first, second = steps.values()
    assert first["name"] == name and first["path"] == "/echo/" + text
    assert first["json"] == {text: text, "v": "{{ row.k }}"}
    labels, _ = step_checks(s.journeys[0].steps[0])
    assert list(first["extract"]) == [c.label for c in labels]
    assert second["body"] == text + "{{ w }}{{ c }}"
    data = next(n for n in tree.body if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", "") == "DATA")
    assert ast.literal_eval(data.value)["row"]["rows"] == [{"k": value}]

    k6_file = render_k6(s, schedule, "http://127.0.0.1:8089")
    assert "</script>" not in k6_file.text and k6_file.text.isascii()
    out = tmp_path_factory.mktemp("k6")
    k6_file.write(out)
    proc = subprocess.run(["k6", "inspect", "script.js"], cwd=out, env=K6_ENV, capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 0, proc.stderr


# --- cookie extraction ------------------------------------------------------------------------------------

# Set-Cookie lines of one response, and what {cookie: name} finds in it (None: nothing).
SET_COOKIES = ['sid="s-1"; Path=/', "plain=abc", "dup=first", "dup=second; HttpOnly", "spaced = v w ; Path=/",
               "bad=ok", 'bad=x"y', "slash=a\\b", "empty=", "noeq", "utf=café", "Case=1", 'q="a b"', "semi=v;;",
               "comma=a,b", "eq=a=b"]
COOKIES = {"sid": "s-1", "plain": "abc", "dup": "second", "spaced": " v w", "bad": "ok", "slash": None,
           "empty": None, "noeq": None, "utf": None, "case": None, "Case": "1", "q": "a b", "semi": "v",
           "comma": "a,b", "eq": "a=b", "missing": None}


class _SetsCookies(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self.send_response(200)
        for line in SET_COOKIES:
            self.send_header("Set-Cookie", line)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


_COOKIE_LOCUST_PROBE = """
import json, sys
sys.path.insert(0, sys.argv[1])
import crossload_locust as cl
from locust.contrib.fasthttp import LocustUserAgent
resp = LocustUserAgent().urlopen(sys.argv[2] + "/")
found = {}
for name in json.loads(sys.argv[3]):
    v = cl.extract_value({"cookie": name}, "", resp.headers)
    found[name] = None if v is cl._MISSING else v
print(json.dumps(found))
"""

_COOKIE_K6_PROBE = """
import http from 'k6/http';
import { extractValue } from './crossload.js';
export const options = { iterations: 1, vus: 1 };
export default function () {
  const res = http.get(__ENV.URL);
  const found = {};
  for (const name of JSON.parse(__ENV.NAMES)) {
    const v = extractValue(res, { cookie: name });
    found[name] = v === undefined ? null : v;
  }
  console.log('RESULT ' + JSON.stringify(found));
}
"""


def test_both_support_modules_read_set_cookie_alike(tmp_path: Path) -> None:
    """A real response's Set-Cookie headers, read by Locust's client and by k6 (whose res.cookies Go parses):
    quotes removed, the last of a name, invalid values skipped, names compared exactly."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _SetsCookies)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    names = json.dumps(list(COOKIES))
    try:
        proc = subprocess.run([sys.executable, "-c", _COOKIE_LOCUST_PROBE, str(resource_dir("locust")), url, names],
                              capture_output=True, text=True, timeout=60, check=False)
        assert proc.returncode == 0, proc.stderr
        (tmp_path / "crossload.js").write_bytes((resource_dir("k6") / "crossload.js").read_bytes())
        (tmp_path / "probe.js").write_text(_COOKIE_K6_PROBE, encoding="utf-8")
        k6 = subprocess.run(["k6", "run", "-q", "--no-summary", "--log-format", "raw", "probe.js"], cwd=tmp_path,
                            env={**K6_ENV, "URL": url, "NAMES": names}, capture_output=True, text=True, timeout=60,
                            check=False)
        assert k6.returncode == 0, k6.stderr
    finally:
        server.shutdown()
        server.server_close()
    k6_line = next(x for x in (k6.stdout + k6.stderr).splitlines() if x.startswith("RESULT "))
    assert json.loads(k6_line[len("RESULT "):]) == COOKIES
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == COOKIES


# --- conditions and loops ---------------------------------------------------------------------------------


def test_conditions_and_loops_render_files_both_tools_load(tmp_path: Path) -> None:
    """Every shape of if and repeat (a single round with an index, until, a conditional last step of a loop, a
    conditional group last in the journey) renders a k6 script `k6 inspect` accepts and a locustfile Python
    compiles; the model keeps what the file says."""
    s = load_scenario(_journey_file(tmp_path, """
data:
  tier: {generate: choice, values: [gold, basic, 3]}
journeys:
  - name: j
    steps:
      - name: one
        path: /echo/one
        if: {var: tier, not_equals: 3}
        extract: null
      - group: single
        repeat: {times: 1, index: i}
        steps:
          - name: two
            path: /echo/{{ i }}
            extract: {got: {regex: "([0-9]+)"}}
      - group: scan
        repeat: {times: 4, until: {var: got, equals: 1}}
        steps:
          - name: three
            path: /echo/three
            extract: {got: {regex: "([0-9]+)"}}
          - name: four
            path: /echo/four
            if: {var: tier, equals: gold}
      - group: last
        if: {var: got, equals: 7}
        steps:
          - name: five
            path: /echo/five
            think_time: 5ms
"""))
    single, scan, last = s.journeys[0].items[1:]
    assert isinstance(single, Group) and (single.repeat, single.index, single.until) == (1, "i", None)
    assert isinstance(scan, Group) and scan.until is not None and scan.until.spec() == {"name": "got", "equals": "1"}
    assert isinstance(last, Group) and last.condition is not None and last.condition.describe() == 'if got = "7"'
    assert s.journeys[0].steps[0].condition is not None and s.journeys[0].steps[0].condition.text == "3"
    schedule = build_schedule("smoke", s, duration_s=2)
    locust_text = render_locust(s, schedule, "http://127.0.0.1:8089").text
    compile(locust_text, "locustfile.py", "exec")
    assert "            for round_ in range(1, 1 + 1):\n                self.vars['i'] = round_\n" in locust_text
    assert "                if holds(self.vars, {'name': 'got', 'equals': '1'}):\n                    break\n" \
        in locust_text
    k6_file = render_k6(s, schedule, "http://127.0.0.1:8089")
    assert "        if (holds(vars, { name: 'got', equals: '1' })) {\n          break;\n        }\n" in k6_file.text
    assert "    if (holds(vars, { name: 'got', equals: '7' })) timedGroup('last', function () {\n" in k6_file.text
    out = tmp_path / "k6"
    out.mkdir()
    k6_file.write(out)
    proc = subprocess.run(["k6", "inspect", "script.js"], cwd=out, env=K6_ENV, capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 0, proc.stderr
