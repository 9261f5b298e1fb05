"""The support code shipped with each rendered file behaves exactly like the reference in crossload.

Locust's support module is imported from locust/; k6's is executed by a real `k6 run` over the same
inputs. URL encoding and ${VAR} resolution must agree byte for byte, and so must the shape's user counts.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
from pathlib import Path
from types import ModuleType

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


def _locust_support() -> ModuleType:
    spec = importlib.util.spec_from_file_location("crossload_locust", resource_dir("locust") / "crossload_locust.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SUPPORT = _locust_support()


@given(tricky, st.lists(st.tuples(tricky, tricky), max_size=3))
def test_locust_support_encodes_like_the_reference(path: str, query: list[tuple[str, str]]) -> None:
    assert SUPPORT.build_path(path, query) == request_target(path, query)


@given(tricky)
def test_locust_support_resolves_like_the_reference(text: str) -> None:
    env = {"A": "alpha", "B": ""}
    old = dict(os.environ)
    try:
        os.environ.pop("A", None)
        os.environ.pop("B", None)
        os.environ.update(env)
        assert SUPPORT.resolve(text) == envref.resolve(text, env)
    finally:
        os.environ.clear()
        os.environ.update(old)


@given(st.integers(min_value=0, max_value=10**9))
def test_locust_histogram_buckets_match(us: int) -> None:
    assert SUPPORT.bucket_us(us) == bucket_us(us)


def test_locust_shape_follows_the_schedule() -> None:
    scenario = parse_scenario("version: 1\nname: s\nrequests:\n  - name: a\n    path: /\n", "s.yaml")
    schedule = build_schedule("spike", scenario, users=50, duration_s=60)
    shape = type("Shape", (SUPPORT.StageShape,), {"stages": tuple((s.duration_s, s.users) for s in schedule.stages)})
    inst = shape.__new__(shape)
    for tenth in range(0, 600):
        t = tenth / 10.0
        expected = schedule.users_at(t)
        got = inst.users_at(t)
        assert got is not None and abs(got - expected) < 1.0, (t, got, expected)
    assert inst.users_at(60.01) is None


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
    line = next(l for l in (proc.stdout + proc.stderr).splitlines() if l.startswith("RESULT "))
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
