"""One run: scenario + profile -> rendered files -> each tool in turn -> normalized results and a verdict.

Order of work, so that bad input never sends load and a failure never loses data:

1. load and validate the scenario, build the schedule, check every ``${VAR}`` without a default is set;
2. make sure the target answers a TCP connection (exit 2 with the cause otherwise), or start the demo target;
3. create results/<run-id>/, write manifest.json (status "running") and render both tools' files;
4. pre-flight every rendered file (``k6 inspect``; compile + ``locust --list``) before any load, while the
   demo target starts; then wait until it answers. The first tool of a local run leaves out what its own
   start proves (``locust --list``: a second Locust start): a file it then cannot load ends the run exactly
   like a failed pre-flight (exit 2, the run folder removed, no other tool started);
5. run each tool through the runner, collecting its raw output into the local store while it runs;
6. summary.json, threshold and guard verdicts, the side-by-side table, manifest.json completed; exit code.

The parts have their own homes: tools (crossload.tools), runners (crossload.runners), live collection
(crossload.collect.ToolCollector), console output (crossload.report.console), the manifest
(crossload.manifest), the summary model (crossload.summary) and verdicts (crossload.thresholds).
"""

from __future__ import annotations

import contextlib
import importlib
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from crossload import __version__, envref
from crossload.abort import Abort, AbortWatch, aborted_text
from crossload.collect import Source, ToolCollector
from crossload.errors import EXIT_PASS, EXIT_RUN_FAILED, EXIT_THRESHOLDS, CrossloadError, InputError
from crossload.manifest import Manifest, ToolOutcome, iso
from crossload.monitor import MONITOR_FILE, ResourceMonitor, check_pid, container_pid
from crossload.monitor import summarize as summarize_resources
from crossload.paths import resource_dir, results_root
from crossload.profiles import StageSchedule, build_schedule
from crossload.reach import check_reachable
from crossload.report.console import Progress, TargetWatch
from crossload.report.table import side_by_side_table
from crossload.results import ToolStats, git_sha, new_run_id, run_dir, write_json
from crossload.runners import LocalPlacement, LocalRunner, Runner, RunnerContext, StopRun, get_runner, placement
from crossload.scenario import Scenario, Threshold, check_target_url, load_scenario
from crossload.settings import load_environment
from crossload.sinks import LivePusher, RunTags, Sink, push_run, sink_from_env
from crossload.sinks.base import redact_url
from crossload.summary import RunSummary
from crossload.thresholds import Verdict, evaluate, guards
from crossload.tools import LoadTool, get_tool, select_tools
from crossload.tools.base import worker_sources
from crossload.units import format_duration_ms

DEFAULT_SCENARIO = "scenarios/demo.yaml"


@dataclass(frozen=True)
class RunRequest:
    profile: str
    tool: str = "both"
    target: str | None = None
    scenario: str | None = None
    users: int | None = None
    duration_s: float | None = None
    spawn_rate: float | None = None
    results_dir: Path | None = None
    quiet: bool = False
    runner: str = "local"
    width: int | None = None  # terminal columns for the table (None: ask the terminal)
    target_pid: int | None = None  # a local target process to monitor (the demo target is monitored anyway)
    target_container: str | None = None  # or a container on this machine's Docker engine
    docker_network: str | None = None  # the docker runner: a user network the tool containers join
    workers: int = 0  # 0: each tool as one process; N: Locust master + N workers, k6 as N execution segments


@dataclass
class RunResult:
    exit_code: int
    run_id: str | None = None
    path: Path | None = None
    summary: RunSummary | None = None
    verdicts: list[Verdict] = field(default_factory=list)
    message: str = ""


@dataclass(frozen=True)
class Prepared:
    """Everything checked before a file is written."""

    scenario: Scenario
    schedule: StageSchedule
    tools: list[str]
    env: dict[str, str]
    guards: tuple[Threshold, ...]


def prepare(request: RunRequest, need_env: bool = True) -> Prepared:
    """Everything that can be wrong with the input is found here, before a file is written.

    ``need_env``: every ``${VAR}`` without a default must be set (a run); rendering only writes the
    references, so it does not ask. InfluxDB settings are checked separately by ``connect_sink``.
    """
    tools = select_tools(request.tool)
    get_runner(request.runner)
    scenario_path = request.scenario or str(resource_dir(DEFAULT_SCENARIO))
    scenario = load_scenario(scenario_path)
    schedule = build_schedule(request.profile, scenario, users=request.users, duration_s=request.duration_s,
                              spawn_rate=request.spawn_rate)
    env = load_environment()
    missing = [(name, where, line) for name, default, where, line in scenario.env_references()
               if default is None and name not in env]
    if missing and need_env:
        name, where, line = missing[0]
        place = f"{scenario.path}:{line}" if line else scenario.path
        raise InputError(f"{place}: {where}: ${{{name}}} is not set in the environment or .env "
                         f"(set it, or write ${{{name}:-default}})")
    if request.target:
        check_target_url(request.target, lambda msg: InputError(f"--target: {msg}"))
    if request.target_pid is not None and request.target_container:
        raise InputError("--target-pid and --target-container name the same thing: give one")
    if request.target_pid is not None:
        check_pid(request.target_pid)
    return Prepared(scenario, schedule, tools, env, guards(scenario.all_thresholds, env))


@contextlib.contextmanager
def _target(request: RunRequest, scenario: Scenario, env: dict[str, str],
            out: TextIO) -> Iterator[tuple[str, str, Callable[[], int | None], Callable[[], None]]]:
    """Yield (url, kind, pid, ready): the --target, the scenario's target, or a demo target started for the
    run; ``pid()`` is the target's process to monitor (the demo target's, --target-pid's,
    --target-container's main process), or None; ``ready()`` returns once the target answers.

    A given target must accept a TCP connection now: a stopped service or a wrong port is an input error
    (exit 2) before any load, never a run of failed requests. A demo target is started here and its URL
    yielded at once, so rendering and the pre-flights run while it starts; ``ready()`` waits for it
    (``ToolError`` when it does not come up).
    """
    given = request.target.rstrip("/") if request.target else scenario.target
    if given:
        if not request.docker_network:
            # On a user network (--docker-network) the target is a name only the containers resolve: the
            # tools' own failures (causes, the "target not answering" news, the guards) report a dead target.
            check_reachable(envref.resolve(given, env), timeout_s=min(5.0, scenario.defaults.timeout_s))
        pid = request.target_pid
        if request.target_container:
            pid = container_pid(request.target_container)
        yield given, "flag" if request.target else "scenario", lambda: pid, lambda: None
        return
    if request.target_pid is not None or request.target_container:
        raise InputError("--target-pid/--target-container: the demo target is monitored already; "
                         "give them with --target")
    from crossload.target import DemoTarget

    demo = DemoTarget(host="127.0.0.1", port=0)
    announced: list[bool] = []

    def ready() -> None:
        demo.wait_ready()
        if not request.quiet and not announced:
            out.write(f"demo target started at {demo.url}\n")
            announced.append(True)

    demo.launch()
    try:
        yield demo.url, "demo", lambda: demo.pid, ready
    finally:
        demo.stop()


class _NotStarted(CrossloadError):
    """The run could not start (the demo target did not come up): nothing was sent, nothing is kept."""


def execute(request: RunRequest, out: TextIO = sys.stdout) -> RunResult:
    """Run and report; every error becomes an exit code and one line, never a traceback."""
    try:
        return _execute(request, out)
    except CrossloadError as e:
        return RunResult(exit_code=e.exit_code, message=str(e))


def connect_sink(env: dict[str, str], out: TextIO, quiet: bool) -> Sink | None:
    """The configured InfluxDB, checked now: a wrong URL or credentials stop the run before any load."""
    sink = sink_from_env(env)
    if sink is None:
        return None
    sink.check()
    if not quiet:
        out.write(f"influx: writing live to {sink.description}\n")
    return sink


def _execute(request: RunRequest, out: TextIO) -> RunResult:
    prep = prepare(request)
    scenario, schedule, env = prep.scenario, prep.schedule, prep.env
    sink = connect_sink(env, out, request.quiet)
    tools = {name: get_tool(name) for name in prep.tools}
    run_id = new_run_id(schedule.profile)
    path = run_dir(run_id, request.results_dir or results_root())
    runner = get_runner(request.runner, RunnerContext(
        run_id=run_id, run_dir=path, docker_network=request.docker_network,
        env_names=frozenset(name for name, _default, _where, _line in scenario.env_references())))
    where = placement(runner)
    where.check(prep.tools, env)  # e.g. the Docker engine and the tools' images, before anything is written
    started = time.time()
    manifest = Manifest(
        run_id=run_id, crossload_version=__version__,
        scenario={"name": scenario.name, "file": scenario.path}, profile=schedule.as_dict(), tools=prep.tools,
        tool_versions={name: tool.pinned_version for name, tool in tools.items()},
        images={name: where.image(name, env) for name in tools}, runner=runner.name,
        started_at=iso(started), git_sha=git_sha(), workers=request.workers,
    )
    stats: dict[str, ToolStats] = {}
    failure: str | None = None
    interrupted = False
    pusher: LivePusher | None = None
    monitor: ResourceMonitor | None = None
    try:
        with _target(request, scenario, env, out) as (target, target_kind, target_pid, target_ready):
            path.mkdir(parents=True, exist_ok=False)
            monitor = ResourceMonitor(path / MONITOR_FILE, target_pid).start()
            (path / "scenario.yaml").write_bytes(Path(scenario.path).read_bytes())
            # Credentials in a URL (user:password@host) never reach the manifest.
            manifest.target = {"url": redact_url(target), "kind": target_kind}
            manifest.save(path)
            pusher = LivePusher(path, sink, RunTags.from_manifest(manifest.to_json())) if sink else None
            if not request.quiet:
                out.write(f"run {run_id}: scenario {scenario.name!r}, profile {schedule.profile} "
                          f"({format_duration_ms(schedule.total_s * 1000)}, {_load_text(schedule)}), "
                          f"tools: {', '.join(prep.tools)}\n")
                if schedule.open is not None and "locust" in tools:
                    out.write(f"[locust] open model by pacing: each user starts an iteration every "
                              f"{schedule.open.pacing_s:g} s; an iteration that takes longer delays its user's next "
                              "one, and Locust does not count what it could not start (k6 reports them as "
                              "dropped_iterations)\n")
            url = where.target_url(target)
            # The first tool of a local run starts right after the pre-flights, with nothing sent before it: its
            # own start checks that it loads its file (LoadTool.preflight(at_start=True), load_failure).
            at_start = next(iter(tools)) if isinstance(where, LocalPlacement) else None

            def preflight(tool: LoadTool, script: Path, env: dict[str, str]) -> str:
                if tool.name != at_start:
                    return where.preflight(tool, script, env)
                tool.preflight(script, env, at_start=True)
                return tool.version()

            scripts: dict[str, Path] = {}

            def make_ready(names: list[str], meanwhile: Callable[[], None] | None = None) -> None:
                """Render and pre-flight ``names``; with the rest (``meanwhile``), wait for the target."""
                done, versions = _render_and_preflight(
                    {n: tools[n] for n in names},
                    lambda tool, name: tool.render(scenario, schedule, url).write(path / name), env, preflight,
                    meanwhile=meanwhile)
                scripts.update(done)
                manifest.tool_versions.update(versions)
                if meanwhile is None:
                    return
                manifest.save(path)
                try:
                    target_ready()  # a demo target started while the files were rendered and checked
                except CrossloadError as e:
                    raise _NotStarted(str(e)) from None

            hold: Callable[[], None] | None = None
            if at_start is not None:
                # Its file first: the tool may start (and load it) while the rest is made ready (``hold``).
                make_ready([at_start])
                rest = [n for n in tools if n != at_start]
                hold = lambda: make_ready(rest, meanwhile=_load_report_modules)  # noqa: E731
            else:
                make_ready(list(tools), meanwhile=_load_report_modules)
            for name, tool in tools.items():
                monitor.tool = name
                try:
                    ts, outcome = _run_tool(tool, runner, scripts[name], path / name, prep, request, out,
                                            first=name == at_start, hold=hold if name == at_start else None)
                finally:
                    monitor.tool = None
                stats[name] = ts
                manifest.outcomes[name] = outcome
                if outcome.interrupted:
                    interrupted = True
                    break
                if outcome.stopped_early:
                    break  # an abort criterion stops the whole run: the next tools do not start
                if tool.failed(outcome.exit_code):
                    failure = f"{name} exited with code {outcome.exit_code}; see {path / name / (name + '.log')}"
                    break
    except KeyboardInterrupt:
        interrupted = True
    except (InputError, _NotStarted) as e:
        if monitor:
            monitor.close()
        # Found by pre-flight (or by the first tool's own start, before it sent anything) or the
        # reachability check, or the demo target did not come up, before any load: leave no half-written run
        # behind.
        if pusher:
            pusher.close(timeout_s=1.0)
        shutil.rmtree(path, ignore_errors=True)
        if isinstance(e, _NotStarted):
            raise CrossloadError(str(e)) from None
        raise
    except CrossloadError as e:
        failure = str(e)
    finally:
        if monitor:
            monitor.close()
    if not path.exists():
        # The demo target or the runner failed before the run folder existed: nothing to keep.
        raise CrossloadError(failure or "the run did not start")
    return _finish(request, out, prep, manifest, path, stats, failure, interrupted, pusher, sink)


def _load_report_modules() -> None:
    """Import the report writers the end of a run needs, while this process would only wait for the
    pre-flights (child processes of their own) otherwise."""
    importlib.import_module("crossload.report.outputs")


def _render_and_preflight(tools: dict[str, LoadTool], render: Callable[[LoadTool, str], Path],
                          env: dict[str, str], preflight: Callable[[LoadTool, Path, dict[str, str]], str],
                          meanwhile: Callable[[], None] | None = None,
                          ) -> tuple[dict[str, Path], dict[str, str]]:
    """Each tool's file rendered, then its pre-flight and version where the runner runs it
    (``Placement.preflight``) started at once, side by side with the next tool's rendering and pre-flight
    (each is a child process or a container of its own); ``meanwhile`` runs while they do. The first
    failure, in tool order, is raised."""
    scripts: dict[str, Path] = {}
    with ThreadPoolExecutor(max_workers=max(1, len(tools)), thread_name_prefix="crossload-preflight") as pool:
        futures = {}
        for name, tool in tools.items():
            scripts[name] = render(tool, name)
            futures[name] = pool.submit(preflight, tool, scripts[name], env)
        if meanwhile is not None:
            meanwhile()
        return scripts, {name: future.result() for name, future in futures.items()}


def _finish(request: RunRequest, out: TextIO, prep: Prepared, manifest: Manifest, path: Path,
            stats: dict[str, ToolStats], failure: str | None, interrupted: bool, pusher: LivePusher | None,
            sink: Sink | None) -> RunResult:
    summary = RunSummary(run_id=manifest.run_id, scenario=prep.scenario.name, profile=prep.schedule.profile,
                         tools={name: s.summary() for name, s in stats.items()})
    for name, tool_summary in summary.tools.items():
        tool_summary.target, tool_summary.generator = summarize_resources(name, path)
    verdicts = evaluate(prep.scenario.all_thresholds, summary.tools, prep.guards)
    summary.thresholds = [v.to_model() for v in verdicts]
    passed = all(v.passed for v in verdicts)
    aborted = next((o.stopped_early for o in manifest.outcomes.values() if o.stopped_early), None)
    summary.aborted = aborted
    if interrupted:
        status, code = "interrupted", EXIT_RUN_FAILED
    elif aborted and not failure:
        status, code = "aborted", EXIT_THRESHOLDS
    elif failure:
        status, code = "failed", EXIT_RUN_FAILED
    else:
        status, code = ("passed", EXIT_PASS) if passed else ("thresholds_failed", EXIT_THRESHOLDS)
    summary.status = status
    write_json(path / "summary.json", summary.to_json())
    manifest.status = status
    manifest.ended_at = iso(time.time())
    manifest.save(path)
    influx_line = _finish_influx(pusher, sink, path) if pusher and sink else None

    if not request.quiet and summary.tools:
        width = request.width or shutil.get_terminal_size((120, 24)).columns
        out.write("\n" + side_by_side_table(summary.tools, width=width) + "\n\n")
    failed = [v for v in verdicts if not v.passed]
    if not request.quiet:
        for name, tool_summary in summary.tools.items():
            gen = tool_summary.generator
            if gen is not None and gen.saturated:
                out.write(f"warning: {name} was saturated: CPU above {gen.saturation_limit_pct:g}% of one core for "
                          f"{gen.saturated_s} s (max {gen.cpu_max_pct:g}%); its latencies include its own "
                          "queueing: use fewer users per process, or --workers\n")
        for v in failed:
            out.write(f"threshold failed: {v.describe()} [{v.threshold.location}]\n")
    own = [v for v in verdicts if not v.guard]
    message = {
        "interrupted": "interrupted: the data collected so far is kept",
        "failed": f"run failed: {failure}",
        "passed": "all thresholds passed" if own else "run complete (no thresholds defined; guards passed)",
        "thresholds_failed": f"{len(failed)} threshold check(s) failed",
        "aborted": f"aborted: {aborted_text(aborted)}" if aborted else "",
    }[status]
    from crossload.report.outputs import report_run

    report_run(path, None if request.quiet else out)  # report.html, report.md, junit.xml; a line saying where
    if not request.quiet:
        if influx_line:
            out.write(influx_line + "\n")
        out.write(f"{message}\nresults: {path}\n")
    return RunResult(exit_code=code, run_id=manifest.run_id, path=path, summary=summary, verdicts=verdicts,
                     message=message)


def _finish_influx(pusher: LivePusher, sink: Sink, path: Path) -> str:
    """Catch up, send the run-level points, and say what was written and what is still pending."""
    live = pusher.close(timeout_s=10.0)
    final = push_run(path, sink)
    sink.close()
    written = live.points + final.points
    if final.pending or final.error:
        why = f" ({final.error})" if final.error else ""
        return (f"influx: {written} points written, {final.pending} store lines pending{why}; they are kept in "
                f"{path.name} and sent by `invoke results.push {path.name}`")
    return f"influx: {written} points written to {sink.description}, nothing pending"


def _load_text(schedule: StageSchedule) -> str:
    if schedule.open is None:
        return f"peak {schedule.peak_users} users"
    return f"peak {schedule.open.peak_rate:g} iterations/s, at most {schedule.open.max_users} users at once"


def _run_tool(tool: LoadTool, runner: Runner, script: Path, out_dir: Path, prep: Prepared, request: RunRequest,
              out: TextIO, first: bool = False,
              hold: Callable[[], None] | None = None) -> tuple[ToolStats, ToolOutcome]:
    """One tool's run. ``first``: its pre-flight left to its start (``LoadTool.preflight(at_start=True)``):
    when it failed without a request because it could not load the file, that is an ``InputError``.

    ``hold``: what must be done before the tool's first request (the other pre-flights, the target's start).
    On the local runner a tool that can wait (``LoadTool.gated``) is started first and loads its file
    meanwhile; otherwise ``hold`` runs before the tool starts."""
    specs = tool.launch_group(script, out_dir, prep.scenario, request.workers)
    gated = tool.gated(specs) if hold is not None and isinstance(runner, LocalRunner) else None
    if hold is not None and gated is None:
        hold()
        hold = None
    progress = Progress(out, request.quiet, tool.name, prep.schedule.total_s)
    watch = TargetWatch(progress.say, started=time.time())
    sources = [Source(worker, tool.parser(), raw) for worker, raw in worker_sources(specs)]
    collector = ToolCollector(tool.name, sources, out_dir / "aggregates.jsonl", on_second=watch.observe)
    abort_watch = AbortWatch(tool.name, prep.scenario.all_thresholds, out_dir / "aggregates.jsonl",
                             started=time.time())
    stopped_by: list[Abort] = []

    def tick() -> None:
        collector.pump()
        progress.update(collector.users, collector.last, collector.stats)
        hit = abort_watch.check(time.time())
        if hit is not None and not stopped_by:
            stopped_by.append(hit)
            progress.say(f"{hit.describe()}: stopping {tool.name}")
            raise StopRun

    def starting() -> None:
        if not request.quiet:
            group = f" ({len(specs)} processes: {', '.join(spec.label for spec in specs)})" if len(specs) > 1 else ""
            out.write(f"[{tool.name:>6}] starting {' '.join(specs[0].argv[:2])} …{group}\n")

    try:
        if gated is not None and hold is not None and isinstance(runner, LocalRunner):
            ready, (specs, gate) = hold, gated

            def release() -> None:
                ready()
                starting()
                gate.touch()

            outcome = runner.run(specs, prep.env, tick, failed=tool.failed, hold=release)
        else:
            starting()
            outcome = runner.run(specs, prep.env, tick, failed=tool.failed)
    finally:
        collector.close()
        if gated is not None:
            gated[1].unlink(missing_ok=True)
    stats = collector.stats
    if (first and not outcome.interrupted and not outcome.stopped and tool.failed(outcome.exit_code)
            and stats.overall.count == 0):
        cause = tool.load_failure(specs)
        if cause is not None:
            raise InputError(f"{script}: {cause}")
    if not stopped_by and outcome.exit_code != 0 and not tool.failed(outcome.exit_code):
        # The tool stopped on its own thresholds (k6's abortOnFail, rendered from the same criteria): which
        # one, judged on everything collected.
        hit = abort_watch.check(time.time())
        if hit is not None:
            stopped_by.append(hit)
            progress.say(f"{hit.describe()} ({tool.name} stopped itself)")
    if not outcome.interrupted and not tool.failed(outcome.exit_code) and not stopped_by:
        stats.load_duration_s = prep.schedule.total_s
    totals = tool.own_totals(out_dir)
    tool.finish(out_dir, stats, totals)
    note = ""
    if totals is not None and totals.requests != stats.overall.count:
        note = f"  (warning: {tool.name} itself reported {totals.requests} requests)"
    dropped = totals.dropped_iterations if totals is not None else None
    if dropped and prep.schedule.open is not None:
        progress.say(f"{dropped} iterations of the arrival rate were dropped: all {prep.schedule.open.max_users} "
                     "users were busy (the target answers slower than the rate needs; raise max_users or expect "
                     "fewer requests)")
    progress.final(stats.summary().overall, stats.duration_s, note)
    return stats, ToolOutcome(
        exit_code=outcome.exit_code, interrupted=outcome.interrupted, started_at=iso(outcome.started_at),
        ended_at=iso(outcome.ended_at), tool_reported_requests=totals.requests if totals else None,
        collected_requests=stats.overall.count, stopped_early=stopped_by[0].to_json() if stopped_by else None,
        dropped_iterations=dropped,
    )


def render_only(profile: str, scenario_path: str | None, target: str | None, out_dir: Path,
                users: int | None = None, duration_s: float | None = None,
                spawn_rate: float | None = None, tool: str = "both") -> list[Path]:
    """Render both tools' files for inspection (``invoke render``); no load is sent.

    Unset ``${VAR}`` references are fine here: the rendered files hold only the references.
    """
    request = RunRequest(profile=profile, scenario=scenario_path, target=target, users=users,
                         duration_s=duration_s, spawn_rate=spawn_rate, tool=tool)
    prep = prepare(request, need_env=False)
    url = target or prep.scenario.target or "http://127.0.0.1:8089"
    return [get_tool(name).render(prep.scenario, prep.schedule, url).write(out_dir / name) for name in prep.tools]


__all__ = ["Prepared", "RunRequest", "RunResult", "execute", "prepare", "render_only"]
