"""Rendering: golden files byte for byte, determinism, and literal escaping of hostile strings."""

from __future__ import annotations

import ast
import json
import subprocess
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from crossload.golden import rendered_examples
from crossload.paths import resource_dir
from crossload.profiles import build_schedule
from crossload.render import js_literal, py_literal, render_k6, render_locust
from crossload.scenario import parse_scenario

GOLDEN = resource_dir("tests") / "golden"

HOSTILE_PARTS = [
    "'", '"', "\\", "`", "${HOME}", "${NOPE:-d}", "$${x}", "{{ x }}", "{% if %}", "</script>", "*/", "#",
    "\n", "\r\n", "\t", "é", "漢字", "😀", "\u2028", "\u2029", "%", "%41", "?", "&", "=", "+", " ", "'''", '"""',
    "\\n", "\\u0041", "/*", "-->", "<!--", "\x7f",
]
hostile = st.lists(st.sampled_from(HOSTILE_PARTS) | st.text(max_size=4), min_size=1, max_size=6).map("".join)
header_safe = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=30)


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
    """Every golden k6 script passes `k6 inspect`; every golden locustfile compiles and lists its user."""
    for scenario_dir in sorted(p for p in GOLDEN.iterdir() if p.is_dir()):
        k6_dir = tmp_path / scenario_dir.name / "k6"
        k6_dir.mkdir(parents=True)
        (k6_dir / "script.js").write_bytes((scenario_dir / "script.js").read_bytes())
        (k6_dir / "crossload.js").write_bytes((resource_dir("k6") / "crossload.js").read_bytes())
        proc = subprocess.run(["k6", "inspect", "script.js"], cwd=k6_dir, capture_output=True, text=True,
                              check=False)
        assert proc.returncode == 0, proc.stderr
        options = json.loads(proc.stdout)
        assert options["scenarios"]["crossload"]["executor"] == "ramping-vus"
        compile((scenario_dir / "locustfile.py").read_text(encoding="utf-8"), "locustfile.py", "exec")


@given(st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | hostile,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(hostile, children, max_size=3),
    max_leaves=10,
))
def test_py_literal_round_trips(value: object) -> None:
    text = py_literal(value)
    assert text.isascii()
    assert ast.literal_eval(text) == value or value != value


@given(st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**53), max_value=2**53) | hostile,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(hostile, children, max_size=3),
    max_leaves=10,
))
def test_js_literal_is_ascii_json_without_script_close(value: object) -> None:
    text = js_literal(value)
    assert text.isascii()
    assert "</" not in text
    # A JS literal of JSON data minus trailing commas is JSON: parse it back.
    assert json.loads(_strip_trailing_commas(text)) == value


def _strip_trailing_commas(text: str) -> str:
    import re

    return re.sub(r",(\s*[\]}])", r"\1", text)


def _scenario_yaml(name: str, path: str, header: str, body: str, query_value: str) -> str:
    doc = {
        "version": 1,
        "name": name,
        "defaults": {"headers": {"X-Default": header}},
        "requests": [
            {"name": name, "method": "POST", "path": "/echo/" + path, "query": {"q": query_value},
             "headers": {"X-Hostile": header}, "json": {"k": body, "list": [body, 1, True, None]},
             "checks": {"body_contains": body if body.strip() else "x",
                        "json": [{"path": "$.method", "equals": body}]}},
            {"name": name + "-raw", "method": "PUT", "path": "/echo/raw", "body": body},
        ],
        "thresholds": [{"request": name, "check": "p95 < 1s"}],
    }
    # ASCII output: every other character is escaped, so the file reads back exactly (NEL, U+2028...).
    return yaml.safe_dump(doc, allow_unicode=False)


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
    tree = compile(locust_file.text, "locustfile.py", "exec", flags=ast.PyCF_ONLY_AST)
    # The spec is data: its literal evaluates to exactly the scenario's strings.
    spec_node = next(n for n in tree.body if isinstance(n, ast.Assign) and n.targets[0].id == "SPEC")  # type: ignore[attr-defined]
    spec = ast.literal_eval(spec_node.value)
    assert spec["requests"][0]["name"] == name
    assert spec["requests"][0]["path"] == "/echo/" + path
    assert spec["requests"][0]["json"]["k"] == body
    assert spec["requests"][1]["body"] == body
    assert spec["defaults"]["headers"] == [["X-Default", header]]

    k6_file = render_k6(scenario, schedule, target)
    assert "</script>" not in k6_file.text
    out = tmp_path_factory.mktemp("k6")
    k6_file.write(out)
    proc = subprocess.run(["k6", "inspect", "script.js"], cwd=out, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
