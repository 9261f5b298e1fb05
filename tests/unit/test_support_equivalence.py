"""The support code shipped with each rendered file behaves exactly like the reference in crossload.

Locust's support module runs in a child Python process, k6's in a real `k6 run`, over the same generated
inputs. URL encoding and ${VAR} resolution must agree byte for byte, and so must the shape's user counts.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from crossload import envref
from crossload.histogram import bucket_us
from crossload.paths import resource_dir
from crossload.profiles import build_schedule
from crossload.scenario import parse_scenario
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
