"""The ``crossload`` command offers the Invoke tasks with the same flags, and the settings of .env.example mean
what that file says."""

from __future__ import annotations

import argparse
import importlib.util
import inspect
import os
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from crossload import __version__, cli, paths, settings, tasks_api

ROOT = Path(__file__).resolve().parents[2]


def _tasks() -> ModuleType:
    spec = importlib.util.spec_from_file_location("crossload_tasks_file", ROOT / "tasks.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _options(parser: argparse.ArgumentParser) -> set[str]:
    return {opt for action in parser._actions for opt in action.option_strings if opt.startswith("--")}


# --- the command ---------------------------------------------------------------------------------------

def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out == f"crossload {__version__}\n"
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" in pyproject["project"]["dynamic"]
    assert pyproject["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "crossload.__version__"}


@pytest.mark.parametrize(("argv", "expected"), [
    (["results", "list"], ("list",)),
    (["results", "show"], ("show", "latest")),
    (["results", "show", "latest"], ("show", "latest")),
    (["results", "show", "20261121T22"], ("show", "20261121T22")),
    (["results", "push"], ("push", "latest")),
    (["results", "push", "20261121T223959Z-smoke-89d6"], ("push", "20261121T223959Z-smoke-89d6")),
    (["results", "prune", "--keep", "50"], ("prune", "50", None, False)),
    (["results", "prune", "--older-than", "14d", "--dry-run"], ("prune", None, "14d", True)),
])
def test_results_commands_call_what_the_invoke_tasks_call(argv: list[str], expected: tuple[Any, ...],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[Any, ...]] = []
    monkeypatch.setattr(tasks_api, "results_list", lambda: calls.append(("list",)) or 0)
    monkeypatch.setattr(tasks_api, "results_show", lambda run: calls.append(("show", run)) or 0)
    monkeypatch.setattr(tasks_api, "results_push", lambda run: calls.append(("push", run)) or 0)
    monkeypatch.setattr(tasks_api, "results_prune", lambda *a: calls.append(("prune", *a)) or 0)
    assert cli.main(argv) == 0
    assert calls == [expected]


def test_the_command_and_the_tasks_offer_the_same_things() -> None:
    t = _tasks()
    commands = _subparsers(cli.build_parser())
    assert set(_subparsers(commands["results"])) == set(t.ns.collections["results"].tasks)
    pairs = {"run": t.smoke, "render": t.render, "target": t.target, "validate": t.validate}
    for command, task in pairs.items():
        params = {p.replace("_", "-") for p in inspect.signature(task.body).parameters if p != "c"}
        flags = {o[2:] for o in _options(commands[command])}
        positionals = {a.dest for a in commands[command]._actions if not a.option_strings and a.dest != "help"}
        assert params <= flags | positionals, (command, params - flags - positionals)


def test_validate_takes_files_either_way(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[list[str]] = []
    monkeypatch.setattr(tasks_api, "validate", lambda files: calls.append(files) or 0)
    for argv in (["validate", "a.yaml", "b.yaml"], ["validate", "--files", "a.yaml", "--files", "b.yaml"],
                 ["validate"]):
        assert cli.main(argv) == 0
    assert calls == [["a.yaml", "b.yaml"], ["a.yaml", "b.yaml"], []]


def test_run_passes_flags_as_typed(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, dict[str, Any]]] = []
    monkeypatch.setattr(tasks_api, "run_profile", lambda p, **kw: calls.append((p, kw)) or 3)
    assert cli.main(["run", "spike", "--tool", "k6", "--users", "7", "--duration", "30s", "--spawn-rate", "2",
                     "--scenario", "s.yaml", "--target", "http://127.0.0.1:1", "--target-pid", "42",
                     "--runner", "docker", "--docker-network", "shop_default", "--workers", "2"]) == 3
    assert calls == [("spike", {"tool": "k6", "target": "http://127.0.0.1:1", "scenario": "s.yaml", "users": "7",
                                "duration": "30s", "spawn_rate": "2", "target_pid": "42", "target_container": None,
                                "runner": "docker", "docker_network": "shop_default", "workers": "2"})]


def test_render_takes_the_shape_of_a_run_and_one_tool(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "rendered"
    assert cli.main(["render", "--out", str(out), "--tool", "k6", "--users", "7", "--duration", "10s",
                     "--spawn-rate", "1"]) == 0
    assert capsys.readouterr().out.splitlines() == [str(out / "k6" / "script.js")]
    assert sorted(p.name for p in out.iterdir()) == ["k6"]
    script = (out / "k6" / "script.js").read_text()
    assert re.search(r"\{ duration: '7s', target: 7 \},\s*\{ duration: '3s', target: 7 \}", script), script[:800]
    assert cli.main(["render", "--out", str(out), "--tool", "locust", "--profile", "load"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["k6", "locust"]


@pytest.mark.parametrize(("argv", "message"), [
    (["target", "--error-rate", "2"], "--error-rate must be a fraction from 0 to 1"),
    (["target", "--port", "70000"], "--port must be from 0 to 65535, got 70000"),
    (["target", "--port", "http"], "--port expects a whole number, got 'http'"),
    (["target", "--workers", "0"], "--workers must be 1 or more, got 0"),
    (["render", "--users", "many"], "--users expects a whole number, got 'many'"),
    (["render", "--tool", "jmeter"], "--tool must be locust, k6 or both, got 'jmeter'"),
    (["results", "prune", "--keep", "x"], "--keep expects a whole number, got 'x'"),
])
def test_bad_flags_are_one_line_and_exit_2(argv: list[str], message: str, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    import crossload.target

    monkeypatch.setattr(crossload.target, "serve", lambda *a: pytest.fail("served despite a bad flag"))
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1


def test_usage_errors_are_one_line_too(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["target", "--port"], ["run", "soak"], ["nonsense"], ["results"]):
        with pytest.raises(SystemExit) as info:
            cli.main(argv)
        assert info.value.code == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("crossload"), err


def test_target_with_a_bad_flag_never_shows_a_traceback(tmp_path: Path) -> None:
    for argv in (["target", "--error-rate", "2"], ["target", "--port", "99999"]):
        proc = subprocess.run([sys.executable, "-m", "crossload", *argv], cwd=tmp_path, capture_output=True,
                              text=True, timeout=60, check=False)
        assert proc.returncode == 2
        assert proc.stdout == "" and proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


def test_a_port_already_taken_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert cli.main(["target", "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"demo target: cannot listen on 127.0.0.1:{port}: ") and err.count("\n") == 1


# --- .env.example: every variable, its documented default, and the code that reads it ----------------------

def documented() -> dict[str, str]:
    """``# CROSSLOAD_X=default`` lines of .env.example (an empty default means: none)."""
    text = (ROOT / ".env.example").read_text()
    return dict(re.findall(r"^# (CROSSLOAD_[A-Z0-9_]+)=(.*)$", text, flags=re.MULTILINE))


def _sink_attr(env: dict[str, str], attr: str) -> str:
    from crossload.sinks import sink_from_env

    sink = sink_from_env({"CROSSLOAD_INFLUX_URL": "http://127.0.0.1:9", **env})
    assert sink is not None
    try:
        return f"{getattr(sink, attr):g}" if attr == "timeout_s" else str(getattr(sink, attr))
    finally:
        sink.close()


def _required(env: dict[str, str], name: str) -> str:
    from crossload.errors import InputError
    from crossload.sinks import sink_from_env

    with pytest.raises(InputError, match=name):
        sink_from_env({"CROSSLOAD_INFLUX_URL": "http://127.0.0.1:9", **env})
    return ""


def _v1_auth() -> str:
    from crossload.sinks import InfluxV1Sink, sink_from_env

    sink = sink_from_env({"CROSSLOAD_INFLUX_URL": "http://127.0.0.1:9", "CROSSLOAD_INFLUX_API": "v1"})
    assert isinstance(sink, InfluxV1Sink)
    return "" if "Authorization" not in sink._headers else "set"


def _scenario_default(name: str) -> str:
    from crossload.scenario import load_scenario

    found = {d for n, d, *_ in load_scenario(paths.resource_dir("scenarios/demo.yaml")).env_references()
             if n == name}
    assert len(found) == 1, found
    return str(found.pop())


def _demo_token() -> str:
    from crossload.target.app import TargetState

    token = TargetState(error_rate=0.0, secret=b"s", worker_index=0, worker_count=1).static_token
    assert token == _scenario_default("CROSSLOAD_DEMO_TOKEN"), "the demo scenario sends another default token"
    return token


def _guard() -> str:
    from crossload.thresholds import guards

    limits = [g.value for g in guards((), {}) if g.metric == "error_rate"]
    return f"{limits[0]:g}%"


def _skip_services() -> str:
    spec = importlib.util.spec_from_file_location("integration_conftest", ROOT / "tests/integration/conftest.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with pytest.raises(pytest.fail.Exception):  # unset: a missing server fails, it is not skipped
        module.require_binary("crossload-no-such-server", "none")
    return "0"


V2 = {"CROSSLOAD_INFLUX_TOKEN": "t", "CROSSLOAD_INFLUX_ORG": "o"}

# What each variable means when it is unset, found by asking the code that reads it.
UNSET: dict[str, Callable[[], str]] = {
    "CROSSLOAD_RESULTS_DIR": lambda: str(paths.results_root()),
    "CROSSLOAD_DOTENV": lambda: str(settings.dotenv_file()),
    "CROSSLOAD_HOME": lambda: "" if paths.resource_root() == paths.PROJECT_ROOT else str(paths.resource_root()),
    "CROSSLOAD_K6_BIN": lambda: "" if _binary("k6") == shutil.which("k6") else _binary("k6"),
    "CROSSLOAD_LOCUST_BIN": lambda: "" if _binary("locust") == shutil.which("locust") else _binary("locust"),
    "CROSSLOAD_ERROR_GUARD": _guard,
    "CROSSLOAD_DEMO_TOKEN": _demo_token,
    "CROSSLOAD_DEMO_PASSWORD": lambda: _scenario_default("CROSSLOAD_DEMO_PASSWORD"),
    "CROSSLOAD_INFLUX_URL": lambda: "" if _no_sink() else "a sink",
    "CROSSLOAD_INFLUX_API": lambda: "v2" if type(_sink_obj(V2)).__name__ == "InfluxV2Sink" else "v1",
    "CROSSLOAD_INFLUX_TOKEN": lambda: _required({"CROSSLOAD_INFLUX_ORG": "o"}, "CROSSLOAD_INFLUX_TOKEN"),
    "CROSSLOAD_INFLUX_ORG": lambda: _required({"CROSSLOAD_INFLUX_TOKEN": "t"}, "CROSSLOAD_INFLUX_ORG"),
    "CROSSLOAD_INFLUX_BUCKET": lambda: _sink_attr(V2, "bucket"),
    "CROSSLOAD_INFLUX_DB": lambda: _sink_attr({"CROSSLOAD_INFLUX_API": "v1"}, "db"),
    "CROSSLOAD_INFLUX_USERNAME": _v1_auth,
    "CROSSLOAD_INFLUX_PASSWORD": _v1_auth,
    "CROSSLOAD_INFLUX_TIMEOUT": lambda: _sink_attr({"CROSSLOAD_INFLUX_API": "v1"}, "timeout_s"),
    "CROSSLOAD_SKIP_SERVICES": _skip_services,
    "CROSSLOAD_RUNNER": lambda: _runner_name(),
    "CROSSLOAD_K6_IMAGE": lambda: _image("k6"),
    "CROSSLOAD_LOCUST_IMAGE": lambda: _image("locust"),
    "CROSSLOAD_IMAGE_CACHE": lambda: _image_cache(),
}


def _runner_name() -> str:
    from crossload.runners import runner_name

    return runner_name(None, {})


def _image(tool: str) -> str:
    from crossload.versions import tool_image

    return tool_image(tool, {})


def _image_cache() -> str:
    from crossload.images import cache_dir

    return str(cache_dir({})).replace(str(Path.home()), "~", 1)


def _binary(tool: str) -> str:
    from crossload.tools.k6 import k6_binary
    from crossload.tools.locust import locust_binary

    return k6_binary() if tool == "k6" else locust_binary()


def _no_sink() -> bool:
    from crossload.sinks import sink_from_env

    return sink_from_env({}) is None


def _sink_obj(env: dict[str, str]) -> object:
    from crossload.sinks import sink_from_env

    sink = sink_from_env({"CROSSLOAD_INFLUX_URL": "http://127.0.0.1:9", **env})
    assert sink is not None
    sink.close()
    return sink


@pytest.fixture()
def nothing_set(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("CROSSLOAD_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no ./.env here


def test_every_documented_default_is_what_the_code_does_when_unset(nothing_set: None) -> None:
    docs = documented()
    assert set(docs) == set(UNSET), "a variable of .env.example without a check here, or the reverse"
    for name, default in docs.items():
        assert UNSET[name]() == default, name


def test_every_setting_the_code_reads_is_documented() -> None:
    internal = {"CROSSLOAD_LOCUST_OUT"}  # set by crossload for its own Locust process
    # Set for the Locust workers by the Kubernetes manifests (crossload.k8s, docs/operations.md#kubernetes).
    internal |= {"CROSSLOAD_RECORDER_PUSH", "CROSSLOAD_RUN_ID", "CROSSLOAD_SCENARIO", "CROSSLOAD_PROFILE",
                 "CROSSLOAD_WORKER"}
    read: set[str] = set()
    for folder in ("src/crossload", "locust", "k6", "templates"):
        for path in (ROOT / folder).rglob("*"):
            if path.is_file() and path.suffix in (".py", ".js", ".jinja"):
                read.update(re.findall(r"CROSSLOAD_[A-Z0-9_]*[A-Z0-9]\b", path.read_text(encoding="utf-8")))
    read = {name for name in read if name not in ("CROSSLOAD_INFLUX",)}
    assert read - internal <= set(documented()), read - internal - set(documented())


def test_settings_come_from_dotenv_and_the_environment_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dotenv = tmp_path / "my.env"
    dotenv.write_text("CROSSLOAD_RESULTS_DIR=from-dotenv\nCROSSLOAD_HOME=\nCROSSLOAD_K6_BIN=/opt/k6\nOTHER=x\n")
    environ = {k: v for k, v in os.environ.items() if not k.startswith("CROSSLOAD_")}
    monkeypatch.setattr(os, "environ", {**environ, "CROSSLOAD_DOTENV": str(dotenv)})
    assert paths.results_root() == Path("from-dotenv")
    assert paths.resource_root() == paths.PROJECT_ROOT  # empty in .env: the default
    os.environ["CROSSLOAD_RESULTS_DIR"] = "from-env"
    assert paths.results_root() == Path("from-env")
    os.environ["CROSSLOAD_RESULTS_DIR"] = "  "
    assert paths.results_root() == Path("results")  # blank counts as unset
    settings.apply_dotenv()
    assert os.environ["CROSSLOAD_K6_BIN"] == "/opt/k6" and os.environ["CROSSLOAD_RESULTS_DIR"] == "  "
    assert "OTHER" not in os.environ  # only crossload's own settings are exported
