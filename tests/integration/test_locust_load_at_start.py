"""A local run starts Locust without a separate ``locust --list`` pre-flight: a rendered file that Locust
cannot load still ends the run like a failed pre-flight (exit 2, the cause in one line, no run folder, k6
never started), and any other early Locust failure is still a tool failure (exit 3, the run kept)."""

from __future__ import annotations

import dataclasses
import shlex
from pathlib import Path

import pytest

from crossload.errors import EXIT_INPUT, EXIT_RUN_FAILED
from crossload.render import RenderedFile
from crossload.tools.k6 import k6_binary
from crossload.tools.locust import LocustTool, locust_binary

pytestmark = pytest.mark.integration


def _spy(tmp_path: Path, name: str, real: str, before: str = "") -> Path:
    """A stand-in for ``real`` that appends its arguments to ``<name>.calls``, runs ``before`` (shell), then
    execs the real tool."""
    calls = tmp_path / f"{name}.calls"
    script = tmp_path / f"{name}-spy"
    script.write_text(f'#!/bin/sh\necho "$*" >> {shlex.quote(str(calls))}\n{before}\n'
                      f'exec {shlex.quote(real)} "$@"\n', encoding="utf-8")
    script.chmod(0o755)
    return script


def _calls(tmp_path: Path, name: str) -> list[str]:
    path = tmp_path / f"{name}.calls"
    return path.read_text(encoding="utf-8").splitlines() if path.exists() else []


@pytest.fixture()
def spies(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CROSSLOAD_LOCUST_BIN", str(_spy(tmp_path, "locust", locust_binary())))
    monkeypatch.setenv("CROSSLOAD_K6_BIN", str(_spy(tmp_path, "k6", k6_binary())))


def _break_locustfile(monkeypatch: pytest.MonkeyPatch, change: str) -> None:
    """The rendered locustfile with ``change``: "import" adds an import of a module that does not exist (the
    file compiles, Locust fails importing it); "no-user" replaces it by a file without a User class."""
    render = LocustTool.render

    def broken(self: LocustTool, *args: object, **kw: object) -> RenderedFile:
        rendered = render(self, *args, **kw)  # type: ignore[arg-type]
        text = (rendered.text + "\nimport crossload_no_such_module  # noqa\n" if change == "import"
                else '"""No user here."""\nANSWER = 42\n')
        return dataclasses.replace(rendered, text=text)

    monkeypatch.setattr(LocustTool, "render", broken)


def _locust_starts(tmp_path: Path) -> list[str]:
    return [c for c in _calls(tmp_path, "locust") if "-f" in c.split()]


@pytest.mark.parametrize(("change", "cause"), [
    ("import", "ModuleNotFoundError: No module named 'crossload_no_such_module'"),
    ("no-user", "No User class found!"),
])
def test_a_locustfile_locust_cannot_load_exits_2_leaves_no_run_and_k6_never_runs(
        tmp_path: Path, run_crossload, spies: None, monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
        demo_target: str, change: str, cause: str) -> None:
    _break_locustfile(monkeypatch, change)
    result, printed = run_crossload(target=demo_target, users=1, duration_s=2, tool="both")
    assert result.exit_code == EXIT_INPUT, (result.message, printed)
    assert result.message.endswith(f"locustfile.py: Locust could not load the rendered file: {cause}"), result.message
    assert "\n" not in result.message
    assert not any((tmp_path / "results").iterdir()), list((tmp_path / "results").rglob("*"))
    # one Locust start, the run's own (no `--list` pre-flight before it), and k6 was checked but never run
    starts = _locust_starts(tmp_path)
    assert len(starts) == 1 and "--headless" in starts[0] and "--list" not in starts[0], starts
    assert not [c for c in _calls(tmp_path, "k6") if c.startswith("run ")], _calls(tmp_path, "k6")
    assert "[    k6] starting" not in printed


def test_a_locustfile_no_worker_can_load_exits_2_with_workers(
        tmp_path: Path, run_crossload, spies: None, monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
        demo_target: str) -> None:
    _break_locustfile(monkeypatch, "import")
    result, printed = run_crossload(target=demo_target, users=2, duration_s=2, tool="locust", workers=2)
    assert result.exit_code == EXIT_INPUT, (result.message, printed)
    assert "Locust could not load the rendered file: ModuleNotFoundError: No module named " \
           "'crossload_no_such_module'" in result.message
    assert not any((tmp_path / "results").iterdir())
    starts = _locust_starts(tmp_path)
    assert not [c for c in starts if "--list" in c.split()], starts
    assert any("--master" in c.split() for c in starts), starts


def test_an_early_locust_failure_that_is_not_loading_is_still_a_tool_failure(
        tmp_path: Path, run_crossload, monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
        demo_target: str) -> None:
    # Locust itself refuses to start the run (after the file loaded fine): exit 3, the run folder kept.
    before = 'case "$*" in *--headless*) echo "locust: invented start failure" >&2; exit 1;; esac'
    monkeypatch.setenv("CROSSLOAD_LOCUST_BIN", str(_spy(tmp_path, "locust", locust_binary(), before)))
    result, printed = run_crossload(target=demo_target, users=1, duration_s=2, tool="both")
    assert result.exit_code == EXIT_RUN_FAILED, (result.message, printed)
    assert "locust exited with code 1" in result.message
    (run,) = (tmp_path / "results").iterdir()
    assert "invented start failure" in (run / "locust" / "locust.log").read_text(encoding="utf-8")
    assert not (run / "k6").joinpath("raw.json.gz").exists()


def test_the_golden_path_runs_locust_once_and_sends_load(
        tmp_path: Path, run_crossload, spies: None, demo_target: str) -> None:  # type: ignore[no-untyped-def]
    result, printed = run_crossload(target=demo_target, users=1, duration_s=2, tool="locust")
    assert result.exit_code in (0, 1), (result.message, printed)
    assert result.summary is not None and result.summary.tools["locust"].overall.count > 0
    starts = _locust_starts(tmp_path)
    assert len(starts) == 1 and "--headless" in starts[0], starts

