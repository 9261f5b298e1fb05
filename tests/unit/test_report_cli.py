"""`crossload compare` / `invoke compare` and `crossload report` / `invoke report` take the same flags and call
the same functions; bad values are one line and exit code 2."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from invoke import MockContext

from crossload import cli, tasks_api
from crossload.report import commands
from crossload.run import RunRequest

ROOT = Path(__file__).resolve().parents[2]


def _tasks() -> ModuleType:
    spec = importlib.util.spec_from_file_location("crossload_tasks_file_report", ROOT / "tasks.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(("argv", "expected"), [
    (["compare"], ("smoke", {"target": None, "scenario": None, "users": None, "duration": None,
                             "spawn_rate": None, "runner": None, "docker_network": None, "workers": None})),
    (["compare", "load", "--target", "http://127.0.0.1:1", "--users", "3", "--duration", "4s", "--spawn-rate", "2",
      "--scenario", "s.yaml", "--runner", "docker", "--workers", "2"],
     ("load", {"target": "http://127.0.0.1:1", "scenario": "s.yaml", "users": "3", "duration": "4s",
               "spawn_rate": "2", "runner": "docker", "docker_network": None, "workers": "2"})),
])
def test_crossload_compare_passes_its_flags(argv: list[str], expected: tuple[str, dict[str, Any]],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, dict[str, Any]]] = []
    monkeypatch.setattr(tasks_api, "compare", lambda p, **kw: calls.append((p, kw)) or 0)
    assert cli.main(argv) == 0
    assert calls == [expected]


@pytest.mark.parametrize(("argv", "expected"), [
    (["report"], ("latest", None, None, None)),
    (["report", "2027", "--baseline", "last:3", "--tolerance", "30%", "--floor", "2ms"],
     ("2027", "last:3", "30%", "2ms")),
])
def test_crossload_report_passes_its_flags(argv: list[str], expected: tuple[Any, ...],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[Any, ...]] = []
    monkeypatch.setattr(tasks_api, "report", lambda *a: calls.append(a) or 0)
    assert cli.main(argv) == 0
    assert calls == [expected]


def test_invoke_tasks_call_the_same_functions(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[Any, ...]] = []
    monkeypatch.setattr(tasks_api, "compare", lambda p, **kw: calls.append(("compare", p, kw)) or 0)
    monkeypatch.setattr(tasks_api, "report", lambda *a: calls.append(("report", *a)) or 0)
    t = _tasks()
    t.compare(MockContext(), "spike", target="http://127.0.0.1:1", users="2")
    t.report(MockContext(), "latest", baseline="last:2", tolerance=None, floor="3ms")
    assert calls == [("compare", "spike", {"target": "http://127.0.0.1:1", "scenario": None, "users": "2",
                                           "duration": None, "spawn_rate": None, "runner": None,
                                           "docker_network": None, "workers": None}),
                     ("report", "latest", "last:2", None, "3ms")]
    params = {p for task in (t.compare, t.report) for p in task.help}
    assert {"profile", "target", "scenario", "users", "duration", "spawn_rate", "run", "baseline", "tolerance",
            "floor"} <= params


def test_compare_always_runs_both_tools(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    seen: list[RunRequest] = []

    def fake_execute(request: RunRequest, out: object) -> Any:
        from crossload.run import RunResult

        seen.append(request)
        return RunResult(exit_code=2, message="bad")

    monkeypatch.setattr(commands, "execute", fake_execute)
    assert tasks_api.compare("stress", users="5", duration="3s") == 2
    assert capsys.readouterr().err == "bad\n"  # a run that never started says why, in one line
    assert seen[0].tool == "both" and seen[0].profile == "stress" and seen[0].users == 5 and seen[0].duration_s == 3


@pytest.mark.parametrize(("call", "message"), [
    (lambda: tasks_api.compare("soak"), "profile must be one of smoke, load, stress, spike, endurance, got 'soak'"),
    (lambda: tasks_api.compare("smoke", users="many"), "--users expects a whole number, got 'many'"),
    (lambda: tasks_api.report("latest", None, floor="soon"), "--floor: "),
    (lambda: tasks_api.report("latest", None, tolerance="-5%"), "--tolerance: '-5%' is outside 0% .. 100%"),
])
def test_bad_values_are_one_line_and_exit_2(call: Any, message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert call() == 2
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1
