"""A mergeable latency histogram with three significant digits.

Latencies are recorded in whole microseconds and kept in buckets that hold three significant digits: exact
below 1 ms, 10 us wide from 1 ms, 100 us wide from 10 ms, 1 ms wide from 100 ms, and so on. A bucket is
at most 1 % of its value wide, and a percentile is reported at its bucket's midpoint, so its error is
at most 0.5 % of the value (0.25 ms at 50 ms). Merging two histograms is adding their counts, which is
exact, so run-level percentiles come from merged intervals and workers, never from averaged percentiles.

The same bucketing is done inside the Locust recorder (locust/crossload_recorder.py, ``bucket_us``); a unit
test holds the two equal.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

# Bucket width by number of decimal digits of the value in microseconds: three significant digits kept.
_WIDTH: tuple[int, ...] = tuple(10 ** max(0, digits - 3) for digits in range(40))


def bucket_us(us: int) -> int:
    """The lower bound (in microseconds) of the bucket holding ``us``."""
    if us < 1000:
        return us if us > 0 else 0
    return us - us % _WIDTH[len(str(us))]


def bucket_width_us(lower: int) -> int:
    if lower < 1000:
        return 1
    return _WIDTH[len(str(lower))]


class Histogram:
    """Counts per bucket; ``add`` a latency in ms, ``merge`` another, read ``percentile``."""

    __slots__ = ("buckets", "count")

    def __init__(self, buckets: Mapping[int, int] | None = None) -> None:
        self.buckets: dict[int, int] = dict(buckets) if buckets else {}
        self.count = sum(self.buckets.values())

    def add_ms(self, ms: float, n: int = 1) -> None:
        key = bucket_us(int(ms * 1000.0 + 0.5))
        self.buckets[key] = self.buckets.get(key, 0) + n
        self.count += n

    def merge(self, other: Histogram | Mapping[int, int]) -> None:
        items = other.buckets if isinstance(other, Histogram) else other
        b = self.buckets
        for key, n in items.items():
            b[key] = b.get(key, 0) + n
            self.count += n

    def percentile_ms(self, q: float) -> float:
        """Value at quantile ``q`` (0..100): the midpoint of the bucket holding that rank, in ms."""
        if self.count == 0:
            return math.nan
        rank = max(1, math.ceil(q / 100.0 * self.count))
        seen = 0
        for key in sorted(self.buckets):
            seen += self.buckets[key]
            if seen >= rank:
                return (key + bucket_width_us(key) / 2.0) / 1000.0 if key >= 1000 else key / 1000.0
        last = max(self.buckets)
        return last / 1000.0

    def minus(self, other: Histogram) -> Histogram:
        """This histogram without the values of ``other`` (a subset recorded with the same buckets)."""
        out = Histogram(self.buckets)
        for key, n in other.buckets.items():
            left = out.buckets.get(key, 0) - n
            if left > 0:
                out.buckets[key] = left
            else:
                out.buckets.pop(key, None)
        out.count = sum(out.buckets.values())
        return out

    def min_ms(self) -> float:
        """Lower bound of the lowest non-empty bucket (NaN when empty)."""
        return min(self.buckets) / 1000.0 if self.count else math.nan

    def max_ms(self) -> float:
        """Upper bound of the highest non-empty bucket (NaN when empty)."""
        if not self.count:
            return math.nan
        top = max(self.buckets)
        return (top + bucket_width_us(top) - (1 if top >= 1000 else 0)) / 1000.0

    def to_json(self) -> dict[str, int]:
        return {str(k): v for k, v in sorted(self.buckets.items())}

    @classmethod
    def from_json(cls, data: Mapping[str, int]) -> Histogram:
        return cls({int(k): int(v) for k, v in data.items()})
