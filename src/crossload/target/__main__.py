"""Run the demo target in the foreground: ``python -m crossload.target``.

This is also how ``DemoTarget`` starts it, in a child process, so the
server never shares an interpreter (and its GIL) with the load generator.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from crossload.target.app import serve


def _rate(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be within 0..1, got {text}")
    return value


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {text}")
    return value


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be within 0..65535, got {text}")
    return value


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m crossload.target",
        description="Serve the crossload demo target until SIGINT or SIGTERM.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default: %(default)s)")
    parser.add_argument(
        "--port", type=_port, default=8089, help="TCP port, 0 picks one (default: %(default)s)"
    )
    parser.add_argument(
        "--error-rate",
        type=_rate,
        default=0.0,
        help="probability in 0..1 that GET /error answers 500 (default: %(default)s)",
    )
    parser.add_argument(
        "--workers",
        type=_positive,
        default=1,
        help="server processes sharing the port via SO_REUSEPORT (default: %(default)s)",
    )
    # Used by DemoTarget: stop when the starting process disappears.
    parser.add_argument("--exit-with-parent", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    try:
        serve(
            host=args.host,
            port=args.port,
            error_rate=args.error_rate,
            workers=args.workers,
            exit_with_parent=args.exit_with_parent,
        )
    except (OSError, RuntimeError) as exc:
        # Typically the port is taken; one readable line beats a traceback.
        print(f"demo target failed on {args.host}:{args.port}: {exc}", file=sys.stderr)
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
