"""The scenario's JSON Schema (docs/scenario.schema.json): current with the model, accepted by editors' validators,
and in agreement with the loader on the scenarios shipped and a set of malformed fixtures."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from crossload import model
from crossload.errors import ScenarioError
from crossload.importers import import_file
from crossload.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "docs" / "scenario.schema.json"
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))
INVALID = ROOT / "tests" / "fixtures" / "invalid"
IMPORTS = ROOT / "tests" / "fixtures" / "import"

# Malformed fixtures whose problem is one of structure (a key, a type, a bound, a missing field): the JSON Schema
# rejects them as the loader does.
STRUCTURAL = [
    "unknown_top_level_key.yaml", "missing_version.yaml", "version_2.yaml", "missing_name.yaml",
    "missing_requests.yaml", "unknown_request_key.yaml", "request_missing_path.yaml", "unknown_method.yaml",
    "weight_as_text.yaml", "weight_too_large.yaml", "status_700.yaml", "headers_as_list.yaml",
    "compression_unknown.yaml", "tls_verify_text.yaml", "journey_unknown_key.yaml", "journey_step_weight.yaml",
    "journey_extract_two_sources.yaml", "journey_repeat_too_many.yaml", "data_per_typo.yaml",
    "ws_unknown_key.yaml", "ws_no_actions.yaml", "ws_send_two_kinds.yaml", "unknown_profile.yaml",
    "users_as_text.yaml", "stage_negative_users.yaml", "duration_unknown_unit.yaml",
]


def _validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(COMMITTED.read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema)


def _problems(data: Any) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in _validator().iter_errors(data)]


def test_committed_schema_is_current() -> None:
    assert COMMITTED.read_text(encoding="utf-8") == model.schema_text(), (
        "docs/scenario.schema.json differs from the model (crossload.model): regenerate it with "
        "`invoke schema --output docs/scenario.schema.json`")


def test_committed_schema_is_a_valid_draft_2020_12_schema() -> None:
    schema = json.loads(COMMITTED.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"].endswith("scenario.schema.json") and schema["title"]
    # Editors show descriptions: every property of every mapping has one.
    missing = []
    for name, definition in [("", schema), *schema["$defs"].items()]:
        for key, prop in definition.get("properties", {}).items():
            if "description" not in prop:
                missing.append(f"{name}.{key}")
    assert not missing, missing


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.name for p in SCENARIOS])
def test_every_shipped_scenario_validates_and_names_the_schema(path: Path) -> None:
    load_scenario(path)
    text = path.read_text(encoding="utf-8")
    assert text.splitlines()[0] == "# yaml-language-server: $schema=../docs/scenario.schema.json"
    assert _problems(yaml.safe_load(text)) == []


@pytest.mark.parametrize("source", ["demo-openapi.yaml", "petstore-openapi.json", "demo-session.har"])
def test_imported_scenarios_validate(source: str, tmp_path: Path) -> None:
    out = tmp_path / "imported.yaml"
    kind = "har" if source.endswith(".har") else "openapi"
    assert import_file(kind, str(IMPORTS / source), str(out)) == 0
    load_scenario(out)
    assert _problems(yaml.safe_load(out.read_text(encoding="utf-8"))) == []


@pytest.mark.parametrize("name", STRUCTURAL)
def test_structural_mistakes_are_rejected_by_the_schema(name: str) -> None:
    data = yaml.safe_load((INVALID / name).read_text(encoding="utf-8"))
    assert _problems(data), f"{name} passes the JSON Schema"


def test_schema_rejects_what_the_loader_rejects_by_type(tmp_path: Path) -> None:
    base = {"version": 1, "name": "x", "requests": [{"name": "a", "path": "/"}]}
    assert _problems(base) == []
    for bad in ({"weight": "5"}, {"weight": True}, {"method": "FETCH"}, {"think_time": "3 parsecs"},
                {"think_time": {"min": "1s"}}, {"checks": {"status": "200"}}, {"timeout": -1}):
        doc = {**base, "requests": [{"name": "a", "path": "/", **bad}]}
        assert _problems(doc), bad
    assert _problems({**base, "requests": [{"name": "a", "path": "/", "method": "post"}]}) == []
    assert _problems({"version": 1, "name": "x"}), "a scenario needs requests or journeys"


def test_crossload_schema_command(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "crossload", "schema"], cwd=ROOT, capture_output=True, text=True,
                          timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == model.schema_text()
    out = tmp_path / "s.json"
    proc = subprocess.run([sys.executable, "-m", "crossload", "schema", "--output", str(out)], cwd=ROOT,
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert out.read_text(encoding="utf-8") == model.schema_text()
    proc = subprocess.run([sys.executable, "-m", "crossload", "schema", "--output", str(tmp_path / "no" / "s.json")],
                          cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 2 and len(proc.stderr.splitlines()) == 1 and "Traceback" not in proc.stderr


def test_aliases_that_multiply_the_file_are_rejected(tmp_path: Path) -> None:
    # Nine levels of ten aliases each: a billion values from a file of a few hundred bytes.
    lines = ["version: 1", "name: bomb", "a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 10)]
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(lines) + "\nrequests: [{name: a, path: /}]\n", encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert "too large" in info.value.message and info.value.exit_code == 2


def test_model_problems_point_at_the_value_and_come_in_reading_order(tmp_path: Path) -> None:
    path = tmp_path / "two.yaml"
    path.write_text("version: 1\nname: x\nrequests:\n  - name: a\n    path: /\n    weight: '5'\n"
                    "    think_time: {min: 1s, mx: 2s}\n", encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert str(info.value) == f"{path}:6: requests[0].weight: expected a whole number, got text ('5')"
    path.write_text("version: 1\nname: x\nrequests:\n  - name: a\n    path: /\n    think_time:\n      min: 1s\n"
                    "      mx: 2s\n", encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert (info.value.location.line, info.value.field) == (8, "requests[0].think_time.mx")
    assert info.value.message.startswith("unknown key (did you mean 'max'?); expected one of min, max")
