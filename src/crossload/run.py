"""One run: scenario + profile -> rendered files -> each tool in turn -> normalized results and a verdict.

Order of work, so that bad input never sends load and a failure never loses data:

1. load and validate the scenario, build the schedule, check every ``${VAR}`` without a default is set;
2. create results/<run-id>/, write manifest.json (status "running") and render both tools' files;
3. pre-flight every rendered file (``k6 inspect``; compile + ``locust --list``) before any load;
4. start the demo target if no target was given;
5. run each tool, tailing its raw output into the local store while it runs, with a progress line;
6. summary.json, threshold verdicts, the side-by-side table, manifest.json completed; exit code.
"""

from __future__ import annotations

import contextlib
import shutil
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from crossload import __version__
from crossload.collect import parser_for, tail_for
from crossload.errors import (
    EXIT_PASS,
    EXIT_RUN_FAILED,
    EXIT_THRESHOLDS,
    CrossloadError,
    InputError,
)
from crossload.paths import resource_dir, results_root
from crossload.profiles import StageSchedule, build_schedule
from crossload.report.table import side_by_side_table
from crossload.results import (
    AggregateWriter,
    IntervalAggregate,
    ToolStats,
    UsersSample,
    git_sha,
    new_run_id,
    run_dir,
    write_json,
)
from crossload.runners.local import run_to_completion
from crossload.scenario import Scenario, check_target_url, load_scenario
from crossload.settings import load_environment
from crossload.sinks import LivePusher, RunTags, Sink, push_run, sink_from_env
from crossload.sinks.base import redact_url
from crossload.thresholds import Verdict, evaluate
from crossload.tools import get_tool, select_tools
from crossload.units import format_duration_ms
from crossload.versions import K6_IMAGE, K6_VERSION, LOCUST_IMAGE, LOCUST_VERSION

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


@dataclass
class RunResult:
    exit_code: int
    run_id: str | None = None
    path: Path | None = None
    summary: dict[str, Any] = field(default_factory=dict)
    verdicts: list[Verdict] = field(default_factory=list)
    message: str = ""


class Progress:
    """One status line per second: elapsed/total, users, RPS, p95 and errors of the last second."""

    def __init__(self, out: TextIO, quiet: bool) -> None:
        self.out = out
        self.quiet = quiet
        self.tty = out.isatty()
        self.last_print = 0.0

    def update(self, tool: str, elapsed: float, total: float, users: int | None,
               last: IntervalAggregate | None, stats: ToolStats) -> None:
        if self.quiet:
            return
        now = time.monotonic()
        if now - self.last_print < (0.5 if self.tty else 5.0):
            return
        self.last_print = now
        rps = f"{last.count:>6d}/s" if last else "     -/s"
        p95 = f"{last.hist.percentile_ms(95):7.1f} ms" if last and last.count else "      - ms"
        total_n = stats.overall.count
        err = stats.overall.failures
        pct = 100.0 * err / total_n if total_n else 0.0
        line = (f"[{tool:>6}] {_clock(elapsed)}/{_clock(total)}  users {users if users is not None else '-':>4}  "
                f"rps {rps}  p95 {p95}  errors {err} ({pct:.2f}%)  requests {total_n}")
        if self.tty:
            self.out.write("\r" + line + "\x1b[K")
        else:
            self.out.write(line + "\n")
        self.out.flush()

    def done(self) -> None:
        if self.tty and not self.quiet and self.last_print:
            self.out.write("\n")
            self.out.flush()
        self.last_print = 0.0


def _clock(seconds: float) -> str:
    s = max(0, int(seconds))
    return f"{s // 60:02d}:{s % 60:02d}"


def prepare(request: RunRequest, need_env: bool = True) -> tuple[Scenario, StageSchedule, list[str], dict[str, str]]:
    """Everything that can be wrong with the input is found here, before a file is written.

    ``need_env``: every ``${VAR}`` without a default must be set (a run); rendering only writes the
    references, so it does not ask. InfluxDB settings are checked separately by ``connect_sink``.
    """
    tools = select_tools(request.tool)
    scenario_path = request.scenario or str(resource_dir(DEFAULT_SCENARIO))
    scenario = load_scenario(scenario_path)
    schedule = build_schedule(request.profile, scenario, users=request.users, duration_s=request.duration_s,
                              spawn_rate=request.spawn_rate)
    env = load_environment()
    missing = [(name, where) for name, default, where in scenario.env_references()
               if default is None and name not in env]
    if missing and need_env:
        name, where = missing[0]
        raise InputError(f"{scenario.path}: {where}: ${{{name}}} is not set in the environment or .env "
                         f"(set it, or write ${{{name}:-default}})")
    if request.target:
        check_target_url(request.target, lambda msg: InputError(f"--target: {msg}"))
    return scenario, schedule, tools, env


@contextlib.contextmanager
def _target(request: RunRequest, scenario: Scenario, out: TextIO) -> Iterator[tuple[str, str]]:
    """Yield (url, kind): the --target, the scenario's target, or a demo target started for the run."""
    if request.target:
        yield request.target.rstrip("/"), "flag"
        return
    if scenario.target:
        yield scenario.target, "scenario"
        return
    from crossload.target import DemoTarget

    with DemoTarget(host="127.0.0.1", port=0) as demo:
        if not request.quiet:
            out.write(f"demo target started at {demo.url}\n")
        yield demo.url, "demo"


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
    scenario, schedule, tool_names, env = prepare(request)
    sink = connect_sink(env, out, request.quiet)
    tools = {name: get_tool(name) for name in tool_names}
    run_id = new_run_id(schedule.profile)
    root = request.results_dir or results_root()
    path = run_dir(run_id, root)
    path.mkdir(parents=True, exist_ok=False)
    started = time.time()
    manifest: dict[str, Any] = {
        "run_id": run_id,
        "status": "running",
        "crossload_version": __version__,
        "scenario": {"name": scenario.name, "file": scenario.path},
        "profile": schedule.as_dict(),
        "tools": tool_names,
        "tool_versions": {"locust": LOCUST_VERSION, "k6": K6_VERSION},
        "images": {"locust": LOCUST_IMAGE, "k6": K6_IMAGE},
        "runner": "local",
        "target": None,
        "started_at": _iso(started),
        "ended_at": None,
        "git_sha": git_sha(),
    }
    (path / "scenario.yaml").write_bytes(Path(scenario.path).read_bytes())
    write_json(path / "manifest.json", manifest)
    pusher = LivePusher(path, sink, RunTags.from_manifest(manifest)) if sink else None
    if not request.quiet:
        out.write(f"run {run_id}: scenario {scenario.name!r}, profile {schedule.profile} "
                  f"({format_duration_ms(schedule.total_s * 1000)}, peak {schedule.peak_users} users), "
                  f"tools: {', '.join(tool_names)}\n")

    stats: dict[str, ToolStats] = {}
    outcomes: dict[str, dict[str, Any]] = {}
    failure: str | None = None
    interrupted = False
    try:
        with _target(request, scenario, out) as (target, target_kind):
            # Credentials in a URL (user:password@host) never reach the manifest.
            manifest["target"] = {"url": redact_url(target), "kind": target_kind}
            scripts = {}
            for name, tool in tools.items():
                rendered = tool.render(scenario, schedule, target)
                scripts[name] = rendered.write(path / name)
            for name, tool in tools.items():
                tool.preflight(scripts[name], env)
            for name, tool in tools.items():
                manifest["tool_versions"][name] = tool.version()
            write_json(path / "manifest.json", manifest)
            for name, tool in tools.items():
                ts, outcome = _run_tool(name, tool, scripts[name], path / name, schedule, env, request, out,
                                        pusher)
                stats[name] = ts
                outcomes[name] = outcome
                if outcome["interrupted"]:
                    interrupted = True
                    break
                if outcome["exit_code"] != 0:
                    failure = (f"{name} exited with code {outcome['exit_code']}; "
                               f"see {path / name / (name + '.log')}")
                    break
    except KeyboardInterrupt:
        interrupted = True
    except InputError:
        # Found by pre-flight, before any load: leave no half-written run behind.
        if pusher:
            pusher.close(timeout_s=1.0)
        shutil.rmtree(path, ignore_errors=True)
        raise
    except CrossloadError as e:
        failure = str(e)

    summary = _summarize(run_id, scenario, schedule, stats, outcomes)
    verdicts = evaluate(scenario.all_thresholds, summary["tools"])
    summary["thresholds"] = [v.to_json() for v in verdicts]
    passed = all(v.passed for v in verdicts)
    if interrupted:
        status, code = "interrupted", EXIT_RUN_FAILED
    elif failure:
        status, code = "failed", EXIT_RUN_FAILED
    else:
        status, code = ("passed", EXIT_PASS) if passed else ("thresholds_failed", EXIT_THRESHOLDS)
    summary["status"] = status
    write_json(path / "summary.json", summary)
    manifest["status"] = status
    manifest["ended_at"] = _iso(time.time())
    manifest["outcomes"] = outcomes
    write_json(path / "manifest.json", manifest)
    influx_line = _finish_influx(pusher, sink, path) if pusher and sink else None

    if not request.quiet and summary["tools"]:
        out.write("\n" + side_by_side_table(summary["tools"]) + "\n\n")
    for v in verdicts:
        if not v.passed and not request.quiet:
            out.write(f"threshold failed: {v.describe()} [{v.threshold.location}]\n")
    message = {
        "interrupted": "interrupted: the data collected so far is kept",
        "failed": f"run failed: {failure}",
        "passed": "all thresholds passed" if verdicts else "run complete (no thresholds defined)",
        "thresholds_failed": f"{sum(not v.passed for v in verdicts)} threshold check(s) failed",
    }[status]
    if not request.quiet:
        if influx_line:
            out.write(influx_line + "\n")
        out.write(f"{message}\nresults: {path}\n")
    return RunResult(exit_code=code, run_id=run_id, path=path, summary=summary, verdicts=verdicts, message=message)


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


def _run_tool(name: str, tool: Any, script: Path, out_dir: Path, schedule: StageSchedule, env: dict[str, str],
              request: RunRequest, out: TextIO, pusher: LivePusher | None) -> tuple[ToolStats, dict[str, Any]]:
    spec = tool.launch(script, out_dir)
    parser = parser_for(name)
    tail = tail_for(spec.raw_output)
    writer = AggregateWriter(out_dir / "aggregates.jsonl")
    stats = ToolStats(tool=name)
    progress = Progress(out, request.quiet)
    state: dict[str, Any] = {"last": None, "users": None, "start": time.time()}

    def pump(final: bool) -> None:
        for line in tail.lines():
            parser.feed(line)
        items = parser.drain(final)
        writer.write(items)
        if pusher is not None and items:
            pusher.offer(items)
        for item in items:
            if isinstance(item, UsersSample):
                stats.users.append(item)
                state["users"] = item.users
            else:
                stats.add(item)
                last = state["last"]
                if last is None or item.t > last.t:
                    state["last"] = IntervalAggregate(tool=name, t=item.t, name="", method="")
                if state["last"].t == item.t:
                    state["last"].merge(item)

    def tick() -> None:
        pump(final=False)
        progress.update(name, time.time() - state["start"], schedule.total_s, state["users"], state["last"], stats)

    if not request.quiet:
        out.write(f"[{name:>6}] starting {' '.join(spec.argv[:2])} …\n")
    try:
        outcome = run_to_completion(spec, env, tick)
    finally:
        try:
            pump(final=True)
        finally:
            tail.close()
            writer.close()
            progress.done()
    if not outcome.interrupted and outcome.exit_code == 0:
        stats.load_duration_s = schedule.total_s
    own = tool.own_totals(out_dir)
    if own and own.bytes_received is not None and not stats.overall.bytes:
        stats.overall.bytes = own.bytes_received  # k6 counts bytes per iteration only: tool level
    result = {
        "exit_code": outcome.exit_code,
        "interrupted": outcome.interrupted,
        "started_at": _iso(outcome.started_at),
        "ended_at": _iso(outcome.ended_at),
        "tool_reported_requests": own.requests if own else None,
        "collected_requests": stats.overall.count,
    }
    if own and own.requests != stats.overall.count and not request.quiet:
        out.write(f"warning: {name} reported {own.requests} requests, crossload collected "
                  f"{stats.overall.count}\n")
    return stats, result


def _summarize(run_id: str, scenario: Scenario, schedule: StageSchedule, stats: dict[str, ToolStats],
               outcomes: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {
        "schema": 1,
        "run_id": run_id,
        "scenario": scenario.name,
        "profile": schedule.profile,
        "units": {"latency": "ms", "error_rate": "%", "rps": "requests/s", "bytes": "bytes"},
        "tools": {name: s.summary() for name, s in stats.items()},
    }


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def render_only(profile: str, scenario_path: str | None, target: str | None, out_dir: Path,
                users: int | None = None, duration_s: float | None = None,
                spawn_rate: float | None = None) -> list[Path]:
    """Render both tools' files for inspection (``invoke render``); no load is sent.

    Unset ``${VAR}`` references are fine here: the rendered files hold only the references.
    """
    request = RunRequest(profile=profile, scenario=scenario_path, target=target, users=users,
                         duration_s=duration_s, spawn_rate=spawn_rate)
    scenario, schedule, tool_names, _env = prepare(request, need_env=False)
    url = target or scenario.target or "http://127.0.0.1:8089"
    written = []
    for name in tool_names:
        written.append(get_tool(name).render(scenario, schedule, url).write(out_dir / name))
    return written


__all__ = ["RunRequest", "RunResult", "execute", "prepare", "render_only"]
