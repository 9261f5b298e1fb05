"""Extra wall time of ``--runner docker`` over the local runner, for a smoke run of both tools.

Runs ``crossload run smoke --tool both --duration 10s`` (demo target) with the local runner and with the docker
runner, alternating (local, docker, local, docker, ...), each as its own process, and prints each run's wall
time, the extra seconds of the docker runner and the docker/local ratio (per pair and the median). While a
docker run goes on it also reads each tool's local store every 100 ms and reports the live lag (how long ago
the newest stored second ended), which must stay within 2 s as with local processes.

Needs a Docker engine (DOCKER_HOST) with the tools' images (``invoke docker.images``, or ``--offline``).

    python benchmarks/docker_overhead.py [--pairs 2] [--duration 10s]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from live_lag import newest_t

ROOT = Path(__file__).resolve().parents[1]


def one_run(runner: str, duration: str, results: Path) -> tuple[float, dict[str, float]]:
    """(wall seconds, worst live lag per tool while its load ran)."""
    env = dict(os.environ, CROSSLOAD_RESULTS_DIR=str(results), CROSSLOAD_DOTENV=str(results / "none.env"))
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "crossload", "run", "smoke", "--tool", "both", "--duration",
                             duration, "--runner", runner], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    samples: dict[str, list[tuple[float, int]]] = {"locust": [], "k6": []}
    while proc.poll() is None:
        time.sleep(0.1)
        for tool, seen in samples.items():
            stores = list(results.glob(f"*/{tool}/aggregates.jsonl"))
            t = newest_t(stores[0]) if stores else None
            if t is not None:
                seen.append((time.time(), t))
    out = proc.communicate()[0]
    wall = time.monotonic() - started
    if proc.returncode != 0:
        raise SystemExit(f"{runner} run failed (exit {proc.returncode}):\n{out[-2000:]}")
    worst: dict[str, float] = {}
    for tool, seen in samples.items():
        # While the tool produced (a newer second arrived later), from 2 s after its first stored second.
        last_t = max((t for _, t in seen), default=None)
        lags = [now - (t + 1) for now, t in seen if seen and now >= seen[0][0] + 2 and t < (last_t or 0)]
        worst[tool] = max(lags, default=float("nan"))
    return wall, worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=2, help="local/docker pairs, alternating (at least 2)")
    parser.add_argument("--duration", default="10s", help="smoke duration per tool")
    args = parser.parse_args()
    pairs = max(2, args.pairs)
    rows: list[tuple[float, float, dict[str, float]]] = []
    with tempfile.TemporaryDirectory(prefix="crossload-docker-overhead-") as tmp:
        for i in range(pairs):
            local, _ = one_run("local", args.duration, Path(tmp) / f"local-{i}")
            docker, lag = one_run("docker", args.duration, Path(tmp) / f"docker-{i}")
            rows.append((local, docker, lag))
            print(f"pair {i + 1}: local {local:.2f} s, docker {docker:.2f} s, extra {docker - local:+.2f} s, "
                  f"ratio {docker / local:.3f}; docker live lag max: locust {lag['locust']:.2f} s, "
                  f"k6 {lag['k6']:.2f} s", flush=True)
    extra = [d - loc for loc, d, _ in rows]
    ratio = [d / loc for loc, d, _ in rows]
    worst_lag = max(max(lag.values()) for _, _, lag in rows)
    print(f"\nsmoke, both tools, {args.duration} each, {pairs} pairs: local median "
          f"{statistics.median(r[0] for r in rows):.2f} s, docker median {statistics.median(r[1] for r in rows):.2f} s")
    print(f"extra wall time of --runner docker: {statistics.median(extra):+.2f} s (median; "
          f"{', '.join(f'{e:+.2f}' for e in extra)}), ratio docker/local {statistics.median(ratio):.3f} "
          f"({', '.join(f'{r:.3f}' for r in ratio)})")
    print(f"docker runner live lag, worst sample: {worst_lag:.2f} s (goal: <= 2 s)")


if __name__ == "__main__":
    main()
