"""What the Invoke tasks (tasks.py) and the ``crossload`` command call: string flags in, exit codes out.

Both fronts pass flags through as the user typed them; every value is checked here, so a bad one is one
line on stderr and exit code 2 in both, never a traceback. Also here: ``OptionalPositionalTask``, the Invoke
task class that lets a task take an optional positional argument (``invoke results.show`` and ``invoke
results.show latest``), something Invoke's parser does not offer by itself.
"""

from __future__ import annotations

import contextlib
import inspect
import math
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

from invoke.parser.argument import Argument
from invoke.tasks import Task

from crossload import __version__
from crossload.errors import EXIT_INPUT, EXIT_RUN_FAILED, CrossloadError, InputError, honour_ctrl_c
from crossload.paths import resource_dir

DEFAULT_TARGET_HOST = "127.0.0.1"
DEFAULT_TARGET_PORT = 8089


def version_text() -> str:
    return f"crossload {__version__}"


def _fail(e: CrossloadError) -> int:
    print(str(e), file=sys.stderr)
    return e.exit_code


def _guard(fn: Callable[[], int]) -> int:
    """Run ``fn``; a CrossloadError becomes its one-line message on stderr and its exit code."""
    honour_ctrl_c()
    try:
        return fn()
    except CrossloadError as e:
        return _fail(e)


# --- flag values ---------------------------------------------------------------------------------------

def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _int(flag: str, value: str | int | None, minimum: int | None = None, maximum: int | None = None) -> int | None:
    if _blank(value):
        return None
    try:
        number = int(str(value).strip())
    except ValueError:
        raise InputError(f"--{flag} expects a whole number, got {value!r}") from None
    if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
        bounds = f"from {minimum} to {maximum}" if maximum is not None else f"{minimum} or more"
        raise InputError(f"--{flag} must be {bounds}, got {number}")
    return number


def _float(flag: str, value: str | float | None) -> float | None:
    if _blank(value):
        return None
    try:
        number = float(str(value).strip())
    except ValueError:
        raise InputError(f"--{flag} expects a number, got {value!r}") from None
    if not math.isfinite(number):
        raise InputError(f"--{flag} expects a finite number, got {value!r}")
    return number


def _duration(value: str | None) -> float | None:
    from crossload.units import parse_duration_ms

    if _blank(value):
        return None
    try:
        return parse_duration_ms(str(value)) / 1000.0
    except ValueError as e:
        raise InputError(f"--duration: {e}") from None


def _runner(runner: str | None, docker_network: str | None) -> dict[str, Any]:
    """``--runner`` (else CROSSLOAD_RUNNER, else local) and ``--docker-network``, checked."""
    from crossload.runners import runner_name
    from crossload.settings import load_environment

    name = runner_name(runner, load_environment())
    network = (docker_network or "").strip() or None
    if network and name != "docker":
        raise InputError("--docker-network applies to the docker runner only: add --runner docker")
    return {"runner": name, "docker_network": network}


MAX_WORKERS = 64  # load generators per tool on one machine (or Docker engine); beyond, see k8s.render


def _workers(value: str | int | None) -> int:
    """``--workers``: 0 (one process per tool) to MAX_WORKERS."""
    return _int("workers", value, minimum=0, maximum=MAX_WORKERS) or 0


def _tool(value: str | None) -> str:
    from crossload.tools import select_tools

    choice = (value or "both").strip() or "both"
    select_tools(choice)  # InputError for anything but locust, k6, both
    return choice.lower()


# --- run, validate, render, target, golden -------------------------------------------------------------

def run_profile(profile: str, *, tool: str | None = "both", target: str | None = None, scenario: str | None = None,
                users: str | int | None = None, duration: str | None = None,
                spawn_rate: str | float | None = None, target_pid: str | int | None = None,
                target_container: str | None = None, runner: str | None = None,
                docker_network: str | None = None, workers: str | int | None = None) -> int:
    from crossload.run import RunRequest, execute

    try:
        request = RunRequest(profile=profile, tool=_tool(tool), target=target or None, scenario=scenario or None,
                             users=_int("users", users), duration_s=_duration(duration),
                             spawn_rate=_float("spawn-rate", spawn_rate),
                             target_pid=_int("target-pid", target_pid, minimum=1),
                             target_container=target_container or None, workers=_workers(workers),
                             **_runner(runner, docker_network))
    except CrossloadError as e:
        return _fail(e)
    result = execute(request)
    if result.run_id is None and result.message:
        print(result.message, file=sys.stderr)
    return result.exit_code


def validate(files: list[str]) -> int:
    from crossload.cli import validate as validate_files

    paths = files or sorted(str(p) for p in resource_dir("scenarios").glob("*.yaml"))
    return validate_files(paths)


def render(profile: str | None = "smoke", scenario: str | None = None, target: str | None = None,
           out: str | None = "rendered", *, users: str | int | None = None, duration: str | None = None,
           spawn_rate: str | float | None = None, tool: str | None = "both") -> int:
    """Write the Locust file and/or the k6 script (with their support modules) under ``out``; print the paths."""
    from crossload.run import render_only

    def go() -> int:
        paths = render_only(profile or "smoke", scenario or None, target or None, Path(out or "rendered"),
                            users=_int("users", users), duration_s=_duration(duration),
                            spawn_rate=_float("spawn-rate", spawn_rate), tool=_tool(tool))
        for path in paths:
            print(path)
        return 0

    return _guard(go)


def k8s_render(profile: str | None = "smoke", scenario: str | None = None, target: str | None = None,
               out: str | None = "rendered/k8s", *, users: str | int | None = None, duration: str | None = None,
               spawn_rate: str | float | None = None, tool: str | None = "both", workers: str | int | None = None,
               parallelism: str | int | None = None) -> int:
    """Write the Kubernetes manifests (crossload.k8s) under ``out``; print the paths."""
    from crossload.k8s import MAX_PARALLELISM, render_manifests, write_manifests
    from crossload.run import RunRequest, prepare

    def go() -> int:
        count = _int("workers", workers, minimum=1, maximum=MAX_PARALLELISM)
        alias = _int("parallelism", parallelism, minimum=1, maximum=MAX_PARALLELISM)
        if count is not None and alias is not None and count != alias:
            raise InputError(f"--workers {count} and --parallelism {alias} disagree: give one")
        prep = prepare(RunRequest(profile=profile or "smoke", scenario=scenario or None, target=target or None,
                                  users=_int("users", users), duration_s=_duration(duration),
                                  spawn_rate=_float("spawn-rate", spawn_rate), tool=_tool(tool)), need_env=False)
        url = target or prep.scenario.target or f"http://{DEFAULT_TARGET_HOST}:{DEFAULT_TARGET_PORT}"
        manifests = render_manifests(prep.scenario, prep.schedule, url, count or alias or 1, prep.env, prep.tools)
        for path in write_manifests(manifests, Path(out or "rendered/k8s")):
            print(path)
        return 0

    return _guard(go)


def target_options(host: str | None, port: str | int | None, error_rate: str | float | None,
                   workers: str | int | None) -> tuple[str, int, float, int]:
    """The demo target's flags, checked: (host, port 0-65535, error rate 0-1, workers >= 1)."""
    chosen_host = (host or "").strip() or DEFAULT_TARGET_HOST
    chosen_port = _int("port", port, minimum=0, maximum=65535)
    rate = _float("error-rate", error_rate)
    if rate is not None and not 0.0 <= rate <= 1.0:
        raise InputError(f"--error-rate must be a fraction from 0 to 1 (0.1 = 10 % of /error requests fail), "
                         f"got {error_rate!r}")
    count = _int("workers", workers, minimum=1)
    return (chosen_host, DEFAULT_TARGET_PORT if chosen_port is None else chosen_port, rate or 0.0,
            1 if count is None else count)


def serve_target(host: str | None = None, port: str | int | None = None, error_rate: str | float | None = None,
                 workers: str | int | None = None) -> int:
    """Serve the demo target in the foreground until Ctrl-C; flags are checked before anything starts."""
    try:
        options = target_options(host, port, error_rate, workers)
    except CrossloadError as e:
        return _fail(e)
    from crossload.target import serve

    chosen_host, chosen_port, rate, count = options
    try:
        with contextlib.suppress(KeyboardInterrupt):
            serve(chosen_host, chosen_port, rate, count)
    except OSError as e:
        return _fail(InputError(f"demo target: cannot listen on {chosen_host}:{chosen_port}: "
                                f"{e.strerror or e}"))
    except (RuntimeError, ValueError) as e:
        print(f"demo target failed: {e}", file=sys.stderr)
        return EXIT_RUN_FAILED
    return 0


def golden(check: bool) -> int:
    from crossload.golden import regenerate

    try:
        return regenerate(check=check)
    except CrossloadError as e:
        print(str(e), file=sys.stderr)
        return e.exit_code or EXIT_INPUT


# --- stored runs ---------------------------------------------------------------------------------------

def _columns() -> int:
    return shutil.get_terminal_size((120, 24)).columns


def results_list() -> int:
    from crossload import runs

    return _guard(lambda: runs.list_runs(sys.stdout))


def results_show(run: str | None = None) -> int:
    from crossload import runs

    return _guard(lambda: runs.show_run(run, sys.stdout, width=_columns()))


def results_push(run: str | None = None) -> int:
    from crossload import runs

    return _guard(lambda: runs.push(run, sys.stdout))


def results_prune(keep: str | int | None, older_than: str | None, dry_run: bool) -> int:
    from crossload import runs

    return _guard(lambda: runs.prune(sys.stdout, keep=_int("keep", keep), older_than=older_than or None,
                                     dry_run=dry_run))


# --- the results stack (docker/compose.yml) and the dashboards ----------------------------------------

def stack_up(profile: str | None = None, timeout: str | int | None = None, build: bool = False) -> int:
    """Create and start the stack, wait until it is healthy, write its CROSSLOAD_INFLUX_* settings into .env."""
    from crossload import stack

    def go() -> int:
        seconds = _int("timeout", timeout, minimum=1)
        chosen = stack.load_stack()
        code = stack.up(chosen, stack.docker_client(), sys.stdout, profiles=stack.profiles_from(profile),
                        timeout_s=float(seconds) if seconds is not None else stack.UP_TIMEOUT_S, build=build)
        from crossload.settings import apply_dotenv

        apply_dotenv()  # the settings up wrote count in this process too (`invoke stack.up smoke`)
        return code

    return _guard(go)


def stack_down(volumes: bool = False) -> int:
    from crossload import stack

    return _guard(lambda: stack.down(stack.load_stack(), stack.docker_client(), sys.stdout, volumes=volumes))


def stack_status(profile: str | None = None) -> int:
    from crossload import stack

    return _guard(lambda: stack.status(stack.load_stack(), stack.docker_client(), sys.stdout,
                                       profiles=stack.profiles_from(profile)))


def stack_logs(service: str | None = None, tail: str | int | None = None, follow: bool = False) -> int:
    from crossload import stack

    def go() -> int:
        lines = _int("tail", tail, minimum=0)
        return stack.logs(stack.load_stack(), stack.docker_client(), sys.stdout, service=service or None,
                          tail=100 if lines is None else lines, follow=follow)

    return _guard(go)


def docker_images(offline: bool = False) -> int:
    """Pull the tools' images (or build stand-ins tagged like them, ``offline``) for the docker runner."""
    from crossload import images
    from crossload.settings import load_environment

    return _guard(lambda: images.images(offline, load_environment(), sys.stdout))


def docker_clean(run: str | None = None) -> int:
    """Remove the containers crossload left behind (label crossload.run_id; of one run id, or all)."""
    from crossload.runners.docker import clean, engine_client

    def go() -> int:
        client = engine_client()
        try:
            removed = list(clean(client, (run or "").strip() or None))
        finally:
            client.close()
        for name in removed:
            print(f"removed {name}")
        print(f"{len(removed)} container(s) removed" if removed else "nothing to remove")
        return 0

    return _guard(go)


def dashboards(check: bool = False) -> int:
    """Regenerate dashboards/*.json with dashboards/generate.py (``check``: compare only, exit 1 on a difference)."""
    import importlib.util

    from crossload.paths import PROJECT_ROOT

    script = PROJECT_ROOT / "dashboards" / "generate.py"
    if not script.is_file():
        return _fail(InputError(f"{script} not found: the dashboards are generated from crossload's repository"))
    try:
        import grafana_foundation_sdk  # noqa: F401
    except ImportError:
        return _fail(InputError("grafana-foundation-sdk is not installed: pip install -e '.[dev]'"))
    spec = importlib.util.spec_from_file_location("crossload_dashboards_generate", script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return int(module.main(["--check"] if check else []))


# --- compare and report ---------------------------------------------------------------------------------

def compare(profile: str | None = "smoke", *, target: str | None = None, scenario: str | None = None,
            users: str | int | None = None, duration: str | None = None,
            spawn_rate: str | float | None = None, runner: str | None = None,
            docker_network: str | None = None, workers: str | int | None = None) -> int:
    """Run both tools on one profile and scenario against one target, then compare them side by side."""
    from crossload.report.commands import compare as run_compare
    from crossload.run import RunRequest
    from crossload.scenario import PROFILE_NAMES

    def go() -> int:
        chosen = (profile or "smoke").strip() or "smoke"
        if chosen not in PROFILE_NAMES:
            raise InputError(f"profile must be one of {', '.join(PROFILE_NAMES)}, got {profile!r}")
        request = RunRequest(profile=chosen, tool="both", target=target or None, scenario=scenario or None,
                             users=_int("users", users), duration_s=_duration(duration),
                             spawn_rate=_float("spawn-rate", spawn_rate), workers=_workers(workers),
                             **_runner(runner, docker_network))
        return run_compare(request, sys.stdout)

    return _guard(go)


def _percent(flag: str, value: str | float | None) -> float | None:
    from crossload.units import parse_percent

    if _blank(value):
        return None
    try:
        return parse_percent(str(value))  # 0% to 100%
    except ValueError as e:
        raise InputError(f"--{flag}: {e} (write e.g. 20%)") from None


def _ms(flag: str, value: str | None) -> float | None:
    from crossload.units import parse_duration_ms

    if _blank(value):
        return None
    try:
        return parse_duration_ms(str(value))
    except ValueError as e:
        raise InputError(f"--{flag}: {e} (write e.g. 5ms)") from None


def report(run: str | None = None, baseline: str | None = None, tolerance: str | float | None = None,
           floor: str | None = None) -> int:
    """A stored run against its baseline (a run id, or last:N); exit 1 on a regression, 2 for bad input."""
    from crossload.report.baseline import RegressionSettings
    from crossload.report.commands import report as run_report

    def go() -> int:
        settings = RegressionSettings()
        pct, ms = _percent("tolerance", tolerance), _ms("floor", floor)
        if pct is not None:
            settings.tolerance_pct = pct
        if ms is not None:
            settings.floor_ms = ms
        return run_report(run, baseline, sys.stdout, settings=settings)

    return _guard(go)


# --- Invoke: optional positional arguments -------------------------------------------------------------

def _parser_wants_a_word(depth: int = 6) -> bool:
    """Is Invoke's parser, up the stack, deciding whether the word it holds is a positional argument?

    True for a word that is neither a flag (``-x``, ``--help``) nor a task name; False when the parser is
    finishing a task's words, and outside the parser (the task body receiving its value).
    """
    frame: FrameType | None = sys._getframe(2)
    for _ in range(depth):
        if frame is None:
            return False
        code = frame.f_code.co_name
        if code == "complete_context":
            return False
        if code == "handle" and "token" in frame.f_locals:
            token = frame.f_locals["token"]
            contexts = getattr(frame.f_locals.get("self"), "contexts", {})
            return isinstance(token, str) and not token.startswith("-") and token not in contexts
        frame = frame.f_back
    return False


class OptionalPositional(Argument):
    """A positional argument that may be left out; then the task gets the parameter's default.

    Invoke's parser treats every positional argument as required (pyinvoke/invoke#159): it takes the next
    word as its value while the value is None, and complains about a None value when the task's words end.
    This argument reads as None only while the parser holds a word it could take (not a flag, not a task
    name), and as its default otherwise.
    """

    @property
    def value(self) -> Any:
        if self._value is None and self.default is not None and _parser_wants_a_word():
            return None
        return super().value

    @value.setter
    def value(self, arg: str) -> None:
        self.set_value(arg, cast=True)


class OptionalPositionalTask(Task):  # type: ignore[type-arg]
    """A Task whose positional parameters with a default may be left out on the command line:
    ``@task(klass=OptionalPositionalTask, positional=["run"])`` with ``def show(c, run="latest")``
    accepts ``invoke show``, ``invoke show ID`` and ``invoke show --run ID``."""

    def get_arguments(self, ignore_unknown_help: bool | None = None) -> list[Argument]:
        params = inspect.signature(self.body).parameters
        out: list[Argument] = []
        for arg in super().get_arguments(ignore_unknown_help=ignore_unknown_help):
            name = arg.attr_name or arg.name or ""
            if arg.positional and name in params and params[name].default not in (None, inspect.Parameter.empty):
                arg = OptionalPositional(names=arg.names, kind=arg.kind, default=arg.default, help=arg.help,
                                         positional=True, optional=arg.optional, attr_name=arg.attr_name)
            out.append(arg)
        return out


__all__ = ["OptionalPositional", "OptionalPositionalTask", "compare", "dashboards", "docker_clean", "docker_images",
           "golden", "render", "report",
           "results_list", "results_prune", "results_push", "results_show", "run_profile", "serve_target", "stack_down",
           "stack_logs", "stack_status", "stack_up", "target_options", "validate", "version_text"]
