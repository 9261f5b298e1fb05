"""k6's own record of a run, read the way the tests hold crossload's figures against it: every
``http_req_duration`` sample of its raw output (``raw.json.gz``, or ``raw-<i>.json.gz`` of each execution
segment), and k6's rule for a percentile over them."""

from __future__ import annotations

import gzip
import json
import math
from pathlib import Path

DURATION = '{"metric":"http_req_duration","type":"Point"'


def k6_durations(folder: Path) -> list[float]:
    """Every request's duration (ms) in k6's raw output under ``folder`` (one process or every segment)."""
    out: list[float] = []
    for raw in sorted(folder.glob("raw*.json.gz")):
        for line in gzip.decompress(raw.read_bytes()).decode().splitlines():
            if line.startswith(DURATION):
                out.append(float(json.loads(line)["data"]["value"]))
    return out


def k6_rule(values: list[float], q: float) -> float:
    """k6's percentile of sorted ``values``: linear interpolation between the samples around q/100 x (n - 1)."""
    if len(values) == 1:
        return values[0]
    i = q / 100.0 * (len(values) - 1)
    lo, hi = values[math.floor(i)], values[math.ceil(i)]
    return lo + (hi - lo) * (i - math.floor(i))
