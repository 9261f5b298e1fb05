"""How many requests per second the demo target sustains, measured with wrk.

The demo target must never be what limits a load test, so this number
has to stay well above what the load generators reach on the same box
(6k-20k requests/s). It starts the target the way the toolkit does
(``DemoTarget``, a separate process) and drives it with ``wrk``, a C
load generator that is much faster than the target itself.

    python benchmarks/target_throughput.py [--workers N] [--duration 5]

Exits 0 with a message when wrk is not installed.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

try:
    from crossload.target import DemoTarget
except ImportError:  # running from a checkout without installing the package
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from crossload.target import DemoTarget

ENDPOINTS = ("/health", "/api/items/1")


@dataclass(frozen=True)
class WrkResult:
    path: str
    requests_per_s: float
    errors: str | None


def _parse(path: str, output: str) -> WrkResult:
    rate = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.MULTILINE)
    if rate is None:
        raise RuntimeError(f"unexpected wrk output:\n{output}")
    problems = re.findall(r"^\s*(Non-2xx or 3xx responses: \d+|Socket errors: .*)$", output, re.MULTILINE)
    return WrkResult(path, float(rate.group(1)), "; ".join(problems) or None)


def run_wrk(wrk: str, url: str, path: str, args: argparse.Namespace) -> WrkResult:
    base = [wrk, f"-t{args.threads}", f"-c{args.connections}"]
    if args.warmup > 0:  # first requests pay for imports, caches and connection setup
        subprocess.run([*base, f"-d{args.warmup}s", url + path], capture_output=True, check=True)
    completed = subprocess.run(
        [*base, f"-d{args.duration}s", url + path], capture_output=True, text=True, check=True
    )
    return _parse(path, completed.stdout)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=1, help="demo target processes (default: 1)")
    parser.add_argument("--duration", type=int, default=5, help="seconds per endpoint (default: 5)")
    parser.add_argument("--warmup", type=int, default=1, help="unmeasured seconds first (default: 1)")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (default: 1)")
    parser.add_argument("--connections", type=int, default=20, help="wrk connections (default: 20)")
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    wrk = shutil.which("wrk")
    if wrk is None:
        print("wrk is not installed; skipping the demo target throughput benchmark.")
        print("Install it (e.g. `apt-get install -y wrk`) and run this script again.")
        return 0
    with DemoTarget(workers=args.workers) as target:
        print(
            f"demo target at {target.url}, workers={args.workers}; wrk -t{args.threads} "
            f"-c{args.connections} -d{args.duration}s"
        )
        for path in ENDPOINTS:
            result = run_wrk(wrk, target.url, path, args)
            suffix = f"  ({result.errors})" if result.errors else ""
            print(f"GET {path:<14} {result.requests_per_s:>10,.0f} requests/s{suffix}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
