"""The ``crossload`` command: run, validate, render, target, results and stack, with the flags of the Invoke tasks.

``crossload run smoke`` is ``invoke smoke``, ``crossload results show latest`` is ``invoke results.show
latest``, and so on: both call the same functions (crossload.tasks_api, crossload.runs), which check every
flag value. Errors the user can fix print one line (file:line: field: message) and exit 2; no traceback
ever reaches the terminal for a CrossloadError.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import NoReturn

from crossload import tasks_api
from crossload.errors import EXIT_INPUT, CrossloadError, honour_ctrl_c
from crossload.scenario import PROFILE_NAMES, load_scenario
from crossload.settings import apply_dotenv

RUN_REF_HELP = "run id, a unique prefix of it, or 'latest' (the default)"


def validate(paths: Sequence[str], out: object = None) -> int:
    """Validate scenario files; print one line per file. Exit code of the first failure, else 0."""
    code = 0
    for p in paths:
        try:
            s = load_scenario(p)
        except CrossloadError as e:
            print(str(e), file=sys.stderr)
            code = code or e.exit_code
            continue
        n, t = len(s.requests), len(s.all_thresholds)
        parts = [f"{n} request{'s' if n != 1 else ''}"] if n or not s.journeys else []
        if s.journeys:
            j, steps = len(s.journeys), sum(len(x.steps) for x in s.journeys)
            parts.append(f"{j} journey{'s' if j != 1 else ''} with {steps} step{'s' if steps != 1 else ''}")
        parts.append(f"{t} threshold{'s' if t != 1 else ''}")
        print(f"{p}: ok ({', '.join(parts)})")
    return code


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (and exit code 2), like every other input error."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_INPUT, f"{self.prog}: {message} (see {self.prog} --help)\n")


def add_run_flags(p: argparse.ArgumentParser) -> None:
    """The flags of every profile (``crossload run PROFILE``, ``invoke PROFILE``); values are checked later."""
    p.add_argument("--tool", default="both", help="locust, k6 or both (default: both, one after the other)")
    p.add_argument("--target", default=None, help="base URL of the system under test (default: demo target)")
    p.add_argument("--scenario", default=None, help="scenario file (default: scenarios/demo.yaml)")
    p.add_argument("--target-pid", default=None,
                   help="a local target process to monitor (CPU, memory, threads, connections)")
    p.add_argument("--target-container", default=None,
                   help="or a target container on this machine's Docker engine, by name or id")
    add_shape_flags(p)
    add_runner_flags(p)


def add_runner_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--runner", default=None, help="local or docker (default: CROSSLOAD_RUNNER, else local)")
    p.add_argument("--docker-network", default=None, help="docker runner: a Docker network the tool containers join")
    p.add_argument("--workers", default=None, help="load generators per tool, 0 to 64 (default 0: one process each)")


def add_shape_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--users", default=None,
                   help="peak users/VUs (scales the profile's user curve; an open profile: max_users)")
    p.add_argument("--duration", default=None, help="total duration, e.g. 45s, 5m, 1h")
    p.add_argument("--spawn-rate", default=None, help="users started (or stopped) per second on ramps")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="crossload", description="One scenario file, rendered for Locust and k6, run, and "
                                                     "reported with one set of numbers.")
    parser.add_argument("--version", action="version", version=tasks_api.version_text())
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)

    run = sub.add_parser("run", help="run a profile with Locust and/or k6")
    run.add_argument("profile", choices=PROFILE_NAMES)
    add_run_flags(run)

    val = sub.add_parser("validate", help="validate scenario files (default: every file under scenarios/)")
    val.add_argument("files", nargs="*", help="scenario files")
    val.add_argument("--files", dest="more_files", action="append", default=[], metavar="FILE",
                     help="a scenario file (as `invoke validate --files F`); may be repeated")

    ren = sub.add_parser("render", help="render the Locust file and k6 script without running them")
    ren.add_argument("--profile", default="smoke", choices=PROFILE_NAMES)
    ren.add_argument("--scenario", default=None, help="scenario file (default: scenarios/demo.yaml)")
    ren.add_argument("--target", default=None, help="base URL written into the files")
    ren.add_argument("--out", default="rendered", help="output folder (default: rendered)")
    ren.add_argument("--tool", default="both", help="locust, k6 or both (default: both)")
    add_shape_flags(ren)

    tgt = sub.add_parser("target", help="serve the demo target in the foreground (Ctrl-C stops it)")
    tgt.add_argument("--host", default=None, help="address to bind (default 127.0.0.1)")
    tgt.add_argument("--port", default=None, help="port, 0 to 65535; 0 picks a free one (default 8089)")
    tgt.add_argument("--error-rate", default=None, help="fraction of /error requests that fail, 0 to 1 (default 0)")
    tgt.add_argument("--workers", default=None, help="server processes sharing the port (default 1)")

    cmp = sub.add_parser("compare", help="run Locust and k6 on one profile and compare them side by side")
    cmp.add_argument("profile", nargs="?", default="smoke", choices=PROFILE_NAMES, help="profile (default smoke)")
    cmp.add_argument("--target", default=None, help="base URL of the system under test (default: demo target)")
    cmp.add_argument("--scenario", default=None, help="scenario file (default: scenarios/demo.yaml)")
    add_shape_flags(cmp)
    add_runner_flags(cmp)

    rep = sub.add_parser("report", help="a stored run against a baseline: regressed, improved or pass (exit 1 on "
                                        "a regression)")
    rep.add_argument("run", nargs="?", default="latest", help=RUN_REF_HELP)
    rep.add_argument("--baseline", default=None, help="a run id, or last:N (the N newest earlier runs of the same "
                                                      "scenario and profile; default last:5)")
    rep.add_argument("--tolerance", default=None, help="relative tolerance for p95, p99 and RPS (default 20%%)")
    rep.add_argument("--floor", default=None, help="latency changes below this never regress (default 5ms)")

    res = sub.add_parser("results", help="stored runs: list, show, push, prune")
    rsub = res.add_subparsers(dest="action", required=True, metavar="ACTION", parser_class=_Parser)
    rsub.add_parser("list", help="list stored runs: id, status, scenario, tools and request counts")
    show = rsub.add_parser("show", help="one stored run: manifest, the end-of-run table, every verdict")
    show.add_argument("run", nargs="?", default="latest", help=RUN_REF_HELP)
    push = rsub.add_parser("push", help="send a stored run to InfluxDB: only what it lacks")
    push.add_argument("run", nargs="?", default="latest", help=RUN_REF_HELP)
    prune = rsub.add_parser("prune", help="delete old runs (needs --keep and/or --older-than)")
    prune.add_argument("--keep", default=None, help="keep the newest N runs")
    prune.add_argument("--older-than", default=None, help="delete runs older than this, e.g. 7d or 12h")
    prune.add_argument("--dry-run", action="store_true", help="only print what would be deleted")

    stk = sub.add_parser("stack", help="the InfluxDB + Grafana stack of docker/compose.yml: up, down, status, logs")
    ssub = stk.add_subparsers(dest="action", required=True, metavar="ACTION", parser_class=_Parser)
    profile_help = "compose profiles to include, comma-separated (default: COMPOSE_PROFILES, else none)"
    sup = ssub.add_parser("up", help="start it and write its CROSSLOAD_INFLUX_* settings into .env")
    sup.add_argument("--profile", default=None, help=profile_help)
    sup.add_argument("--timeout", default=None, help="seconds to wait for every service to be healthy (default 180)")
    sup.add_argument("--build", action="store_true", help="rebuild the images built from this checkout first")
    sdown = ssub.add_parser("down", help="remove its containers and network (data volumes are kept)")
    sdown.add_argument("--volumes", action="store_true", help="also delete the data volumes")
    sstatus = ssub.add_parser("status", help="each service: container, health, image, ports")
    sstatus.add_argument("--profile", default=None, help=profile_help)
    slogs = ssub.add_parser("logs", help="the logs of its containers")
    slogs.add_argument("--service", default=None, help="one service (default: all)")
    slogs.add_argument("--tail", default=None, help="lines per service (default 100)")
    slogs.add_argument("--follow", action="store_true", help="keep streaming until Ctrl-C")

    dkr = sub.add_parser("docker", help="the docker runner's images and leftovers: images, clean")
    dsub = dkr.add_subparsers(dest="action", required=True, metavar="ACTION", parser_class=_Parser)
    dimg = dsub.add_parser("images", help="pull the pinned k6 and Locust images (or build them here: --offline)")
    dimg.add_argument("--offline", action="store_true", help="build stand-ins tagged like the official images")
    dcln = dsub.add_parser("clean", help="remove containers left by crashed runs (label crossload.run_id)")
    dcln.add_argument("--run", default=None, help="only this run id's containers")

    imp = sub.add_parser("import", help="write a scenario from an OpenAPI 3 description or a recorded session (HAR)")
    isub = imp.add_subparsers(dest="action", required=True, metavar="KIND", parser_class=_Parser)
    for kind, what in (("openapi", "an OpenAPI 3 description (JSON or YAML): one request per operation, by tag"),
                       ("har", "a browser session saved as HAR: one journey, with correlation and think times")):
        ip = isub.add_parser(kind, help=what)
        ip.add_argument("file", help="the file to import")
        ip.add_argument("--out", "-o", default=None, help="scenario file to write (default: standard output)")

    sch = sub.add_parser("schema", help="print the JSON Schema of scenario files (for editors; docs/scenario.md)")
    sch.add_argument("--output", "-o", default=None, help="write it to this file instead of standard output")
    return parser


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "validate":
        return tasks_api.validate([*args.files, *args.more_files])
    if args.command == "run":
        return tasks_api.run_profile(args.profile, tool=args.tool, target=args.target, scenario=args.scenario,
                                     users=args.users, duration=args.duration, spawn_rate=args.spawn_rate,
                                     target_pid=args.target_pid, target_container=args.target_container,
                                     runner=args.runner, docker_network=args.docker_network,
                                     workers=args.workers)
    if args.command == "render":
        return tasks_api.render(args.profile, args.scenario, args.target, args.out, users=args.users,
                                duration=args.duration, spawn_rate=args.spawn_rate, tool=args.tool)
    if args.command == "target":
        return tasks_api.serve_target(args.host, args.port, args.error_rate, args.workers)
    if args.command == "compare":
        return tasks_api.compare(args.profile, target=args.target, scenario=args.scenario, users=args.users,
                                 duration=args.duration, spawn_rate=args.spawn_rate, runner=args.runner,
                                 docker_network=args.docker_network, workers=args.workers)
    if args.command == "report":
        return tasks_api.report(args.run, args.baseline, args.tolerance, args.floor)
    if args.command == "results":
        if args.action == "list":
            return tasks_api.results_list()
        if args.action == "show":
            return tasks_api.results_show(args.run)
        if args.action == "push":
            return tasks_api.results_push(args.run)
        return tasks_api.results_prune(args.keep, args.older_than, args.dry_run)
    if args.command == "stack":
        if args.action == "up":
            return tasks_api.stack_up(args.profile, args.timeout, args.build)
        if args.action == "down":
            return tasks_api.stack_down(args.volumes)
        if args.action == "status":
            return tasks_api.stack_status(args.profile)
        return tasks_api.stack_logs(args.service, args.tail, args.follow)
    if args.command == "import":
        from crossload.importers import import_file

        return import_file(args.action, args.file, args.out)
    if args.command == "schema":
        from crossload.model import write_schema

        return write_schema(args.output)
    if args.command == "docker":
        return tasks_api.docker_images(args.offline) if args.action == "images" else tasks_api.docker_clean(args.run)
    return EXIT_INPUT


def main(argv: Sequence[str] | None = None) -> int:
    honour_ctrl_c()
    apply_dotenv()
    args = build_parser().parse_args(argv)
    try:
        return _dispatch(args)
    except CrossloadError as e:
        print(str(e), file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        return 130


__all__ = ["add_run_flags", "add_runner_flags", "build_parser", "main", "validate"]
