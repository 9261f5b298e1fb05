"""Command-line front: ``crossload run|validate|render|target``. tasks.py calls the same functions.

Errors the user can fix print one line (file:line: field: message) and exit 2; no traceback ever reaches
the terminal for a CrossloadError.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from crossload.errors import EXIT_INPUT, CrossloadError
from crossload.scenario import PROFILE_NAMES, load_scenario
from crossload.units import parse_duration_ms


def _duration_s(text: str) -> float:
    try:
        return parse_duration_ms(text) / 1000.0
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


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
        print(f"{p}: ok ({n} request{'s' if n != 1 else ''}, {t} threshold{'s' if t != 1 else ''})")
    return code


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="crossload", description=__doc__.splitlines()[0] if __doc__ else None)
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run a profile with Locust and/or k6")
    run.add_argument("profile", choices=PROFILE_NAMES)
    add_run_flags(run)

    val = sub.add_parser("validate", help="validate scenario files")
    val.add_argument("files", nargs="+")

    ren = sub.add_parser("render", help="render the Locust file and k6 script without running them")
    ren.add_argument("--profile", default="smoke", choices=PROFILE_NAMES)
    ren.add_argument("--scenario", default=None)
    ren.add_argument("--target", default=None)
    ren.add_argument("--out", default="rendered")

    tgt = sub.add_parser("target", help="serve the demo target in the foreground")
    tgt.add_argument("--host", default="127.0.0.1")
    tgt.add_argument("--port", type=int, default=8089)
    tgt.add_argument("--error-rate", type=float, default=0.0)
    tgt.add_argument("--workers", type=int, default=1)
    return parser


def add_run_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--tool", default="both", help="locust, k6 or both (default: both, one after the other)")
    p.add_argument("--target", default=None, help="base URL of the system under test (default: demo target)")
    p.add_argument("--scenario", default=None, help="scenario file (default: scenarios/demo.yaml)")
    p.add_argument("--users", type=int, default=None, help="peak users/VUs")
    p.add_argument("--duration", type=_duration_s, default=None, help="total duration, e.g. 30s or 5m")
    p.add_argument("--spawn-rate", type=float, default=None, help="users started per second on ramps")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "validate":
            return validate(args.files)
        if args.command == "run":
            from crossload.run import RunRequest, execute

            result = execute(RunRequest(profile=args.profile, tool=args.tool, target=args.target,
                                        scenario=args.scenario, users=args.users, duration_s=args.duration,
                                        spawn_rate=args.spawn_rate))
            if result.run_id is None and result.message:
                print(result.message, file=sys.stderr)
            return result.exit_code
        if args.command == "render":
            from crossload.run import render_only

            for path in render_only(args.profile, args.scenario, args.target, Path(args.out)):
                print(path)
            return 0
        if args.command == "target":
            from crossload.target import serve

            serve(args.host, args.port, args.error_rate, args.workers)
            return 0
    except CrossloadError as e:
        print(str(e), file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        return 130
    return EXIT_INPUT
