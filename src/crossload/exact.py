"""Exact whole-run latency figures for k6, from every sample of the run, in bounded memory.

k6 keeps every value of a trend and computes its end-of-test percentiles from all of them (linear
interpolation between the two samples around rank ``q * (n - 1)``). crossload's histograms keep three
significant digits (crossload.histogram), which is what the per-second series and Locust get; for k6's
whole-run figures the collector also appends every duration it reads to a binary file per request name
(8 bytes a request, on disk beside the run), and a second file of the failed ones' durations. When the run
ends, the exact figures are found without loading those files into memory:

1. the merged histograms already give, for the set (every request, or the successful ones: every request
   minus the failed ones, as ``hist - fail_hist``), the count in each bucket, so each rank needed (the
   minimum, the maximum, the two neighbours of every percentile's rank) lies in a known bucket;
2. one pass over the files keeps only the durations that fall in those few buckets; sorted, minus the
   failed ones in the same buckets, each rank's value is read off exactly.

The files are deleted afterwards: the tool's own raw output (kept, compressed) holds the same samples.
"""

from __future__ import annotations

import contextlib
import math
from array import array
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from crossload.histogram import Histogram, bucket_us, bucket_width_us
from crossload.results import ToolStats
from crossload.summary import PERCENTILES

_FLUSH = 1 << 16  # values buffered per file before they are appended to it
_CHUNK = 1 << 16  # values read at a time when the run ends (512 kB)


def k6_percentile(values: list[float], q: float) -> float:
    """k6's rule for a trend's percentile over sorted ``values``, ``q`` in 0..100."""
    if len(values) == 1:
        return values[0]
    i = q / 100.0 * (len(values) - 1)
    lo, hi = values[int(i)], values[math.ceil(i)]
    return lo + (hi - lo) * (i - math.floor(i))


def _bucket(ms: float) -> int:
    return bucket_us(int(ms * 1000.0 + 0.5))  # exactly what Histogram.add_ms files it under


class _Log:
    """One binary file of float64 durations, appended in blocks. A file that cannot be written (a full disk)
    is given up, never the run: its figures then come from the histograms."""

    __slots__ = ("buffer", "lost", "path", "written")

    def __init__(self, path: Path) -> None:
        self.path = path
        self.buffer = array("d")
        self.written = 0
        self.lost = False

    def add(self, ms: float) -> None:
        self.buffer.append(ms)
        if len(self.buffer) >= _FLUSH:
            self.flush()

    def flush(self) -> None:
        if self.lost:
            self.buffer = array("d")
        elif self.buffer:
            try:
                with self.path.open("ab") as f:
                    self.buffer.tofile(f)
            except OSError:
                self.lost = True
            self.written += len(self.buffer)
            self.buffer = array("d")

    def chunks(self) -> Iterator[array[float]]:
        self.flush()
        if not self.written:
            return
        with self.path.open("rb") as f:
            while True:
                block = array("d")
                with contextlib.suppress(EOFError):  # the last, shorter block: what was read is in ``block``
                    block.fromfile(f, _CHUNK)
                if not block:
                    return
                yield block


@dataclass(frozen=True)
class _Plan:
    """Where the figures of a set lie: each figure's two ranks and weight, the bucket of each rank, and the
    rank of each such bucket's first value (bucket counts from the set's histogram)."""

    ranks: dict[str, tuple[int, int, float]]
    at: dict[int, int]
    first_rank: dict[int, int]
    counts: Histogram


def _plan(counts: Histogram, quantiles: tuple[int, ...]) -> _Plan | None:
    n = counts.count
    if n <= 0:
        return None
    ranks: dict[str, tuple[int, int, float]] = {"min": (0, 0, 0.0), "max": (n - 1, n - 1, 0.0)}
    for q in quantiles:
        i = q / 100.0 * (n - 1)
        ranks[f"p{q}"] = (int(i), math.ceil(i), i - math.floor(i))
    wanted = sorted({r for lo, hi, _f in ranks.values() for r in (lo, hi)})
    first_rank: dict[int, int] = {}
    at: dict[int, int] = {}
    seen, k = 0, 0
    for key in sorted(counts.buckets):
        size = counts.buckets[key]
        while k < len(wanted) and wanted[k] < seen + size:
            at[wanted[k]] = key
            first_rank[key] = seen
            k += 1
        seen += size
        if k == len(wanted):
            break
    return _Plan(ranks, at, first_rank, counts)


def _read(plan: _Plan | None, ordered: dict[int, list[float]]) -> dict[str, float] | None:
    """The figures of ``plan`` from the sorted values of its buckets; None when a bucket does not hold what
    the histogram counted."""
    if plan is None:
        return None
    if any(len(ordered.get(key, ())) != plan.counts.buckets[key] for key in set(plan.at.values())):
        return None
    out: dict[str, float] = {}
    for label, (lo, hi, frac) in plan.ranks.items():
        a = ordered[plan.at[lo]][lo - plan.first_rank[plan.at[lo]]]
        b = ordered[plan.at[hi]][hi - plan.first_rank[plan.at[hi]]]
        out[label] = a + (b - a) * frac
    return out


class ExactValues:
    """Every duration of a tool's run, per request name, kept on disk until the run's figures are taken."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.all: dict[str, _Log] = {}
        self.failed: dict[str, _Log] = {}
        self.groups: set[str] = set()  # names of journey groups' rows: no requests, left out of the overall

    def _log(self, logs: dict[str, _Log], name: str, kind: str) -> _Log:
        log = logs.get(name)
        if log is None:
            log = logs[name] = _Log(self.folder / f"{kind}-{len(logs)}.f64")
            try:
                self.folder.mkdir(parents=True, exist_ok=True)
            except OSError:
                log.lost = True
        return log

    def add(self, name: str, ms: float) -> None:
        """A request's duration (every request, failed or not)."""
        self._log(self.all, name, "all").add(ms)

    def add_failed(self, name: str, ms: float) -> None:
        """The duration of a request already given to ``add`` that failed."""
        self._log(self.failed, name, "failed").add(ms)

    def figures(self, names: Iterable[str], hist: Histogram, fail_hist: Histogram,
                quantiles: Iterable[int]) -> tuple[dict[str, float] | None, dict[str, float] | None]:
        """Exact ``min``, ``max`` and ``p<q>`` over the named requests' durations, k6's rule, from one pass over
        their files: of the successful ones (every duration minus the failed ones) and of every one. Either is
        None when its set is empty or the files do not hold what the histograms counted."""
        quantiles = tuple(quantiles)
        names = [n for n in names if n in self.all]
        logs = [self.all[name] for name in names]
        failed = [self.failed[name] for name in names if name in self.failed]
        if not names or any(log.lost for log in logs):
            return None, None
        failed_lost = any(log.lost for log in failed)
        ok_plan = None if failed_lost else _plan(hist.minus(fail_hist), quantiles)
        all_plan = _plan(Histogram(hist.buckets), quantiles)
        buckets = {key for plan in (ok_plan, all_plan) if plan is not None for key in plan.at.values()}
        try:
            every = self._collect(logs, buckets)
            gone = self._collect(failed, buckets) if ok_plan is not None else {}
        except OSError:
            return None, None
        ok: dict[int, list[float]] = {}
        for key, values in every.items():
            left = Counter(values)
            left.subtract(gone.get(key, []))
            ok[key] = sorted(left.elements())
        return _read(ok_plan, ok), _read(all_plan, {key: sorted(values) for key, values in every.items()})

    @staticmethod
    def _collect(logs: Iterable[_Log], buckets: set[int]) -> dict[int, list[float]]:
        out: dict[int, list[float]] = {key: [] for key in buckets}
        # Bucket b holds the durations whose whole microseconds round into [b, b + w): a value is tested
        # exactly only when it lies within (a hair beyond) one of the few buckets' spans.
        keys = sorted(buckets)
        lows = [(key - 1) / 1000.0 for key in keys]
        highs = [(key + bucket_width_us(key) + 1) / 1000.0 for key in keys]
        for log in logs:
            for block in log.chunks():
                for v in block:
                    i = bisect_right(lows, v) - 1
                    if i >= 0 and v <= highs[i]:
                        key = _bucket(v)
                        if key in out:
                            out[key].append(v)
        return out

    def close(self) -> None:
        """Delete the files (the figures have been taken, or the run is given up)."""
        for log in (*self.all.values(), *self.failed.values()):
            log.buffer = array("d")
            log.path.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            self.folder.rmdir()


def take_figures(stats: ToolStats, values: ExactValues) -> None:
    """A tool's whole-run figures from every duration (k6's rule), in place of its histograms' ones: per
    request name and overall (journey groups' rows left out, as from the overall counts), for successful
    responses and for every request."""
    for name, one in stats.requests.items():
        one.exact_ok, one.exact_all = values.figures([name], one.hist, one.fail_hist, PERCENTILES)
    names = [name for name in stats.requests if name not in values.groups]
    overall = stats.overall
    overall.exact_ok, overall.exact_all = values.figures(names, overall.hist, overall.fail_hist, PERCENTILES)
