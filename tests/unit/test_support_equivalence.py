"""The support code shipped with each rendered file behaves exactly like the reference in crossload.

Locust's support module runs in a child Python process, k6's in a real `k6 run`, over the same generated
inputs. URL encoding and ${VAR} resolution must agree byte for byte, and so must the shape's user counts, the
status rule, and every check's verdict and label (the rendered callbacks of both tools, with their helpers).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from crossload import envref
from crossload.histogram import bucket_us
from crossload.paths import resource_dir
from crossload.profiles import build_schedule
from crossload.render import body_checks, js_key, status_check
from crossload.scenario import Checks, parse_scenario
from crossload.wire import PATH_SAFE, UNRESERVED, percent_encode, request_target

PARTS = ["%", "%41", "%7e", "%2f", "%zz", "?", "&", "=", "/", " ", "é", "😀", "\n", "${A}", "${B:-x}", "$${C}",
         "${A:-}", "${", "}", "$", "'", '"', "\\", "`"]
tricky = st.lists(st.sampled_from(PARTS) | st.text(max_size=3), max_size=6).map("".join)


# The Locust module imports locust, which monkey-patches the process with gevent: evaluate it in a child.
_LOCUST_PROBE = """
import json, os, sys
sys.path.insert(0, sys.argv[1])
import crossload_locust as cl
import crossload_recorder as rec
cases = json.load(open(sys.argv[2]))
out = {
    "urls": [cl.build_path(p, [tuple(q) for q in query]) for p, query in cases["urls"]],
    "resolved": [cl.resolve(t) for t in cases["texts"]],
    "buckets": [rec.bucket_us(v) for v in cases["buckets"]],
}
shape = type("Shape", (cl.StageShape,), {"stages": tuple(tuple(s) for s in cases["stages"])})
inst = shape.__new__(shape)
out["users"] = [inst.users_at(t / 10.0) for t in range(cases["tenths"] + 2)]
print(json.dumps(out))
"""


def _locust_support(tmp: Path, cases: dict[str, object]) -> dict[str, list[object]]:
    (tmp / "cases.json").write_text(json.dumps(cases), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in ("A", "B")}
    env.update({"A": "alpha", "B": ""})
    proc = subprocess.run([sys.executable, "-c", _LOCUST_PROBE, str(resource_dir("locust")), str(tmp / "cases.json")],
                          env=env, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


@settings(max_examples=1, deadline=None)
@given(st.lists(st.tuples(tricky, st.lists(st.tuples(tricky, tricky), max_size=2)), min_size=300, max_size=300),
       st.lists(st.integers(min_value=0, max_value=10**9), min_size=300, max_size=300))
def test_locust_support_behaves_like_the_reference(tmp_path_factory, cases, values) -> None:  # type: ignore[no-untyped-def]
    """One child process evaluates 300 generated cases through locust/crossload_locust.py."""
    scenario = parse_scenario("version: 1\nname: s\nrequests:\n  - name: a\n    path: /\n", "s.yaml")
    schedule = build_schedule("spike", scenario, users=50, duration_s=60)
    got = _locust_support(tmp_path_factory.mktemp("locust"), {
        "urls": cases, "texts": [c[0] for c in cases], "buckets": values,
        "stages": [[s.duration_s, s.users] for s in schedule.stages], "tenths": 600,
    })
    env = {"A": "alpha", "B": ""}
    for (path, query), url, resolved in zip(cases, got["urls"], got["resolved"], strict=True):
        assert url == request_target(path, [tuple(q) for q in query]), (path, query)
        assert resolved == envref.resolve(path, env), path
    assert got["buckets"] == [bucket_us(v) for v in values]
    users = got["users"]
    for tenth, count in enumerate(users[:600]):
        expected = schedule.users_at(tenth / 10.0)
        assert count is not None and abs(count - expected) < 1.0, (tenth, count, expected)  # type: ignore[operator]
    assert users[-1] is None  # past the end: the shape stops the test


@settings(max_examples=1, deadline=None)
@given(st.lists(st.tuples(tricky, st.lists(st.tuples(tricky, tricky), max_size=2)), min_size=150, max_size=150))
def test_k6_support_encodes_and_resolves_like_the_reference(tmp_path_factory, cases) -> None:  # type: ignore[no-untyped-def]
    """One real `k6 run` evaluates 150 generated cases through k6/crossload.js."""
    work: Path = tmp_path_factory.mktemp("k6enc")
    (work / "crossload.js").write_bytes((resource_dir("k6") / "crossload.js").read_bytes())
    (work / "cases.json").write_text(json.dumps(cases), encoding="utf-8")
    (work / "probe.js").write_text(
        "import { buildUrl, resolve } from './crossload.js';\n"
        "const CASES = JSON.parse(open('./cases.json'));\n"
        "export const options = { iterations: 1, vus: 1 };\n"
        "export default function () {\n"
        "  const out = CASES.map(function (c) {\n"
        "    return [buildUrl('', c[0], c[1]), resolve(c[0])];\n"
        "  });\n"
        "  console.log('RESULT ' + JSON.stringify(out));\n"
        "}\n",
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if k not in ("A", "B")}
    env.update({"A": "alpha", "B": ""})
    proc = subprocess.run(["k6", "run", "-q", "--no-summary", "--log-format", "raw", "probe.js"], cwd=work,
                          env=env, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    line = next(x for x in (proc.stdout + proc.stderr).splitlines() if x.startswith("RESULT "))
    results = json.loads(line[len("RESULT "):])
    for (path, query), (url, resolved) in zip(cases, results, strict=True):
        assert url == request_target(path, [tuple(q) for q in query]), (path, query)
        assert resolved == envref.resolve(path, {"A": "alpha", "B": ""}), path


def test_reference_encoding_examples() -> None:
    assert request_target("/a b/é", []) == "/a%20b/%C3%A9"
    assert request_target("/a%41%7e%2f%zz", []) == "/aA~%2F%25zz"
    assert request_target("/s?x=1", [("q", "a b&c")]) == "/s?x=1&q=a%20b%26c"
    assert request_target("/s", [("k", "v"), ("k", "w")]) == "/s?k=v&k=w"
    assert percent_encode("a+b", UNRESERVED, False) == "a%2Bb"
    assert percent_encode("a+b", PATH_SAFE, True) == "a+b"


# --- checks: the same labels and the same verdicts in both support modules --------------------------------

CHECKS = [
    {"body_contains": ['"id"', "é", "a\nb", "${X}", "results", "'", "</script>"]},
    {"json": [{"path": "$.items[0].id"}]},
    {"json": [{"path": "$.items[1]", "exists": False}]},
    {"json": [{"path": "$.id", "equals": 42}]},
    {"json": [{"path": "$.id", "equals": 42.0}]},
    {"json": [{"path": "$.ok", "equals": True}]},
    {"json": [{"path": "$.ok", "equals": 1}]},
    {"json": [{"path": "$.s", "equals": "é"}]},
    {"json": [{"path": "$.x", "equals": None}]},
    {"json": [{"path": "$.x", "exists": False}]},
    {"json": [{"path": '$["a b"][0]', "equals": {"k": [1, "2", None]}}]},
    {"json": [{"path": "$[0]"}]},
    {"json": [{"path": "$.items", "equals": []}]},
    {"json": [{"path": "$.obj", "equals": {}}]},
    {"json": [{"path": "$.__proto__", "exists": False}, {"path": "$.constructor", "exists": False}]},
    {"body_contains": ["id"], "json": [{"path": "$.id"}, {"path": "$.x", "exists": False},
                                       {"path": "$.ok", "equals": False}]},
]
RAW_BODIES = [
    "", "null", "NaN", "Infinity", "{", "[1,2]", '{"id": 42.0}', '{"id": true}', '{"ok": 1}', "not json",
    '{"items": [{"id": null}]}', ' {"id":42} ', '{"id":42}\n', "\ufeff{\"id\":42}", '{"id":4.2e1}', '{"s":"é"}',
    '{"id":42,"id":43}', '{"x": null}', '{"__proto__": 1}', '{"a b": [{"k": [1, "2", null]}]}', "[[]]",
    '{"items": [], "obj": {}}', '"id"', "a\nb ${X} results ' </script> é \"id\"",
]
KEYS = ["items", "id", "x", "s", "ok", "a b", "obj", "k", "__proto__"]
json_docs = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**53), max_value=2**53) | st.sampled_from([42, 42.0, 1, 0])
    | st.floats(allow_nan=False, allow_infinity=False) | st.sampled_from(["é", "", "a\nb", "2"]),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.sampled_from(KEYS), children, max_size=4),
    max_leaves=8,
)
STATUS_RULES: list[tuple[int, ...]] = [(), (200,), (200, 201), (404,)]
STATUS_CODES = [0, 100, 199, 200, 201, 204, 299, 300, 302, 399, 400, 404, 500, 599]

_LOCUST_CHECK_PROBE = """
import json, sys
sys.path.insert(0, sys.argv[1])
from crossload_locust import Request, first_failed_check, has_json_path, lacks_json_path, json_path_equals
cases = json.load(open(sys.argv[2], encoding="utf-8"))
verdicts = []
for checks in cases["checks"]:
    funcs = {label: eval(code) for label, code in checks}
    verdicts.append([[funcs[label](body) for label in funcs] + [first_failed_check(body, funcs)]
                     for body in cases["bodies"]])
statuses = [[Request("s", "GET", "/", expected_statuses=rule).status_ok(code) for code in cases["codes"]]
            for rule in cases["rules"]]
print(json.dumps({"verdicts": verdicts, "statuses": statuses}))
"""


def _reference_verdict(body: str, checks: Checks) -> list[bool]:
    """The documented rules (docs/scenario.md section 7), written out independently of both modules."""
    out = [needle in body for needle in checks.body_contains]
    try:
        doc: Any = json.loads(body, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))
        is_json = True
    except ValueError:
        doc, is_json = None, False
    missing = object()
    for c in checks.json:
        cur: Any = doc
        for step in c.steps:
            ok = (isinstance(step, int) and isinstance(cur, list) and step < len(cur)) or (
                isinstance(step, str) and isinstance(cur, dict) and step in cur)
            cur = cur[step] if ok else missing
            if cur is missing:
                break
        if c.has_equals:
            out.append(is_json and cur is not missing and _json_equal(cur, c.equals))
        elif c.exists is False:
            out.append(is_json and cur is missing)
        else:
            out.append(is_json and cur is not missing)
    return out


def _json_equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


@settings(max_examples=1, deadline=None)
@given(st.lists(json_docs, min_size=150, max_size=150))
def test_checks_judge_alike_in_both_tools(tmp_path_factory, docs) -> None:  # type: ignore[no-untyped-def]
    """Every check's rendered callback, in a child Python with crossload_locust and in a real `k6 run` with
    crossload.js, gives the same verdict as the documented rule, and the same first failing label."""
    doc = {"version": 1, "name": "checks",
           "requests": [{"name": f"r{i}", "path": "/", "checks": c} for i, c in enumerate(CHECKS)]}
    scenario = parse_scenario(yaml.safe_dump(doc, allow_unicode=False), "checks.yaml")
    rendered = [body_checks(r.checks) for r in scenario.requests]
    bodies = RAW_BODIES + [json.dumps(d, ensure_ascii=False) for d in docs]
    work: Path = tmp_path_factory.mktemp("checks")
    (work / "cases.json").write_text(json.dumps({
        "checks": [[[c.label, c.py] for c in checks] for checks in rendered], "bodies": bodies,
        "rules": STATUS_RULES, "codes": STATUS_CODES,
    }), encoding="utf-8")

    proc = subprocess.run([sys.executable, "-c", _LOCUST_CHECK_PROBE, str(resource_dir("locust")),
                           str(work / "cases.json")], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    locust_out = json.loads(proc.stdout.strip().splitlines()[-1])

    (work / "crossload.js").write_bytes((resource_dir("k6") / "crossload.js").read_bytes())
    checks_js = "".join(
        "  {\n" + "".join(f"    {js_key(c.label)}: {c.js},\n" for c in checks) + "  },\n" for checks in rendered)
    status_js = "".join(f"  {status_check(rule).js},\n" for rule in STATUS_RULES)
    (work / "probe.js").write_text(
        "import { firstFailedCheck, hasJsonPath, jsonPathEquals, lacksJsonPath } from './crossload.js';\n"
        "const CASES = JSON.parse(open('./cases.json'));\n"
        f"const CHECKS = [\n{checks_js}];\n"
        f"const STATUS = [\n{status_js}];\n"
        "export const options = { iterations: 1, vus: 1 };\n"
        "export default function () {\n"
        "  const verdicts = CHECKS.map(function (checks) {\n"
        "    return CASES.bodies.map(function (body) {\n"
        "      const r = { status: 200, body: body };\n"
        "      const first = firstFailedCheck(r, checks);\n"
        "      return Object.keys(checks).map(function (label) { return checks[label](r); })\n"
        "        .concat([first === undefined ? null : first]);\n"
        "    });\n"
        "  });\n"
        "  const statuses = STATUS.map(function (ok) {\n"
        "    return CASES.codes.map(function (code) { return ok({ status: code, body: '' }); });\n"
        "  });\n"
        "  console.log('RESULT ' + JSON.stringify({ verdicts: verdicts, statuses: statuses }));\n"
        "}\n",
        encoding="utf-8",
    )
    proc = subprocess.run(["k6", "run", "-q", "--no-summary", "--log-format", "raw", "probe.js"], cwd=work,
                          env={**os.environ, "K6_NO_USAGE_REPORT": "true"}, capture_output=True, text=True,
                          timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    line = next(x for x in (proc.stdout + proc.stderr).splitlines() if x.startswith("RESULT "))
    k6_out = json.loads(line[len("RESULT "):])

    for i, (request, checks) in enumerate(zip(scenario.requests, rendered, strict=True)):
        labels = [c.label for c in checks]
        for j, body in enumerate(bodies):
            expected = _reference_verdict(body, request.checks)
            first = next((label for label, ok in zip(labels, expected, strict=True) if not ok), None)
            assert locust_out["verdicts"][i][j] == [*expected, first], (labels, body)
            assert k6_out["verdicts"][i][j] == [*expected, first], (labels, body)
    for r, rule in enumerate(STATUS_RULES):
        expected_ok = [code in rule if rule else 200 <= code < 400 for code in STATUS_CODES]
        assert locust_out["statuses"][r] == expected_ok, rule
        assert k6_out["statuses"][r] == expected_ok, rule
