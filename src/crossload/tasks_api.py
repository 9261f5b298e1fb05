"""What the Invoke tasks call: string flags in, exit codes out, one-line errors on stderr."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable
from pathlib import Path

from crossload.errors import EXIT_INPUT, CrossloadError, InputError
from crossload.paths import resource_dir
from crossload.units import parse_duration_ms


def _int(flag: str, value: str | int | None) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise InputError(f"--{flag} expects a whole number, got {value!r}") from None


def _float(flag: str, value: str | float | None) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(value)
    except ValueError:
        raise InputError(f"--{flag} expects a number, got {value!r}") from None


def _duration(value: str | None) -> float | None:
    if value is None or value == "":
        return None
    try:
        return parse_duration_ms(value) / 1000.0
    except ValueError as e:
        raise InputError(f"--duration: {e}") from None


def run_profile(profile: str, *, tool: str = "both", target: str | None = None, scenario: str | None = None,
                users: str | int | None = None, duration: str | None = None,
                spawn_rate: str | float | None = None) -> int:
    from crossload.run import RunRequest, execute

    try:
        request = RunRequest(profile=profile, tool=tool, target=target or None, scenario=scenario or None,
                             users=_int("users", users), duration_s=_duration(duration),
                             spawn_rate=_float("spawn-rate", spawn_rate))
    except CrossloadError as e:
        print(str(e), file=sys.stderr)
        return e.exit_code
    result = execute(request)
    if result.run_id is None and result.message:
        print(result.message, file=sys.stderr)
    return result.exit_code


def validate(files: list[str]) -> int:
    from crossload.cli import validate as validate_files

    paths = files or sorted(str(p) for p in resource_dir("scenarios").glob("*.yaml"))
    return validate_files(paths)


def render(profile: str, scenario: str | None, target: str | None, out: str) -> int:
    from crossload.run import render_only

    try:
        for path in render_only(profile, scenario or None, target or None, Path(out)):
            print(path)
    except CrossloadError as e:
        print(str(e), file=sys.stderr)
        return e.exit_code
    return 0


def serve_target(host: str, port: int, error_rate: float, workers: int) -> None:
    from crossload.target import serve

    with contextlib.suppress(KeyboardInterrupt):
        serve(host, int(port), float(error_rate), int(workers))


def golden(check: bool) -> int:
    from crossload.golden import regenerate

    try:
        return regenerate(check=check)
    except CrossloadError as e:
        print(str(e), file=sys.stderr)
        return e.exit_code or EXIT_INPUT


def _guard(fn: Callable[[], int]) -> int:
    try:
        return fn()
    except CrossloadError as e:
        print(str(e), file=sys.stderr)
        return e.exit_code


def results_list() -> int:
    from crossload import runs

    return _guard(lambda: runs.list_runs(sys.stdout))


def results_show(run: str) -> int:
    from crossload import runs

    return _guard(lambda: runs.show_run(run, sys.stdout))


def results_push(run: str) -> int:
    from crossload import runs

    return _guard(lambda: runs.push(run, sys.stdout))


def results_prune(keep: str | int | None, older_than: str | None, dry_run: bool) -> int:
    from crossload import runs

    return _guard(lambda: runs.prune(sys.stdout, keep=_int("keep", keep), older_than=older_than or None,
                                     dry_run=dry_run))
