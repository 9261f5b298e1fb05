"""Live lag of the local store: how far behind the wall clock the newest stored second is, for both tools.

A real crossload run (demo target, both tools one after the other) goes on in a thread; this script reads
each tool's ``<run>/<tool>/aggregates.jsonl`` every 100 ms while that tool runs and records

    lag = wall clock - (newest interval start t + 1 s)

that is, how long ago the newest stored second ended. Samples are taken from 2 s after a tool's first stored second
until the end of its load. The goal is a lag of at most 2 s for both tools.

    python benchmarks/live_lag.py [--duration 12] [--users 5]
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import tempfile
import threading
import time
from pathlib import Path

from crossload.run import RunRequest, RunResult, execute


def newest_t(store: Path) -> int | None:
    try:
        data = store.read_bytes()
    except OSError:
        return None
    newest = None
    for line in data.splitlines()[-200:]:
        try:
            item = json.loads(line)
        except ValueError:
            continue
        if item.get("kind") == "req" and item.get("count", 0) > 0:
            t = int(item["t"])
            newest = t if newest is None else max(newest, t)
    return newest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=12.0, help="seconds of load per tool")
    parser.add_argument("--users", type=int, default=5)
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="crossload-lag-"))
    result: list[RunResult] = []
    request = RunRequest(profile="smoke", users=args.users, duration_s=args.duration, results_dir=root,
                         quiet=True)
    worker = threading.Thread(target=lambda: result.append(execute(request, out=io.StringIO())))
    worker.start()
    lags: dict[str, list[float]] = {"locust": [], "k6": []}
    first_seen: dict[str, float] = {}
    while worker.is_alive():
        time.sleep(0.1)
        runs = [p for p in root.iterdir() if p.is_dir()]
        if not runs:
            continue
        run = runs[0]
        for tool in lags:
            store = run / tool / "aggregates.jsonl"
            t = newest_t(store)
            if t is None:
                continue
            now = time.time()
            first_seen.setdefault(tool, now)
            # Only while this tool's load runs: from 2 s after its first stored second to the end of its load.
            if 2.0 <= now - first_seen[tool] <= args.duration - 1.5:
                lags[tool].append(now - (t + 1))
    worker.join()
    code = result[0].exit_code if result else "?"
    print(f"run exit code {code}; {args.users} users, {args.duration:g} s per tool; lag = now - end of newest "
          "stored second")
    for tool, values in lags.items():
        if not values:
            print(f"{tool:>6}: no samples")
            continue
        values.sort()
        p95 = values[min(len(values) - 1, int(0.95 * len(values)))]
        print(f"{tool:>6}: samples {len(values):4d}  median {statistics.median(values):5.2f} s  "
              f"p95 {p95:5.2f} s  max {values[-1]:5.2f} s  (goal: max <= 2 s)")


if __name__ == "__main__":
    main()
