"""The statistics behind the regression report (``crossload.report.baseline``), on crossload's own data.

Everything works on what the store keeps: latency histograms with identical buckets in every run
(``crossload.histogram``), and counts. No sample is ever reconstructed, and no third-party statistics
package is needed: each test below is a few lines of textbook formulae.

- ``ks_one_sided``: the two-sample Kolmogorov-Smirnov statistic in one direction, on binned data. Both
  histograms share their bucket bounds, so the empirical CDFs are exact at every bound; ties inside a bucket
  only make the test conservative (the p-value is at least as large as for the unbinned samples).
- ``quantile_ci``: a distribution-free confidence interval of a percentile, from the binomial distribution of
  the rank of that percentile (order statistics), read off the histogram at the interval's ranks (bucket
  lower bound below, upper bound above: conservative by one bucket, at most 1 % of the value).
- ``proportion_test``: failures out of requests in two runs: Fisher's exact test when a cell's expected count
  is small, else the pooled two-proportion z-test.
- ``rate_test``: two request rates (counts over durations), conditional on the total count: exact binomial
  for small counts, else its normal approximation.

Every test here is one-sided in both directions: it returns (p_greater, p_less), where "greater" means the
first argument (the run) is larger (slower, more errors, faster rate) than the second (the baseline).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from crossload.histogram import Histogram, bucket_width_us


def norm_sf(z: float) -> float:
    """P(Z > z) for a standard normal Z."""
    return 0.5 * math.erfc(z / math.sqrt(2.0))


@dataclass(frozen=True)
class KS:
    """One-sided Kolmogorov-Smirnov results: ``d_slower`` = max(F_base - F_run) (the run's CDF below the
    baseline's: the run is slower there), ``d_faster`` = max(F_run - F_base)."""

    d_slower: float
    d_faster: float
    p_slower: float
    p_faster: float


def _cdf_steps(a: Histogram, b: Histogram) -> list[tuple[float, float]]:
    keys = sorted(set(a.buckets) | set(b.buckets))
    ca = cb = 0
    out: list[tuple[float, float]] = []
    for key in keys:
        ca += a.buckets.get(key, 0)
        cb += b.buckets.get(key, 0)
        out.append((ca / a.count, cb / b.count))
    return out


def ks_one_sided(run: Histogram, base: Histogram, suspect_run: int = 0, suspect_base: int = 0) -> KS:
    """Two-sample KS in both directions; the p-values use the one-sided asymptotic distribution
    P(D+ >= d) ~ exp(-2 n d^2) with n = n1 n2 / (n1 + n2). Empty input: no evidence (p = 1).

    ``suspect_run``/``suspect_base``: that many values of each sample may be displaced arbitrarily (a user's
    first request, which may carry a connection's setup); moving k of n values moves an empirical CDF by at
    most k/n anywhere, so each D is reduced by k1/n1 + k2/n2 before its p-value: only what the other values
    show counts as evidence."""
    if run.count <= 0 or base.count <= 0:
        return KS(0.0, 0.0, 1.0, 1.0)
    d_slower = d_faster = 0.0
    for f_run, f_base in _cdf_steps(run, base):
        d_slower = max(d_slower, f_base - f_run)
        d_faster = max(d_faster, f_run - f_base)
    slack = suspect_run / run.count + suspect_base / base.count
    d_slower, d_faster = max(0.0, d_slower - slack), max(0.0, d_faster - slack)
    n = run.count * base.count / (run.count + base.count)
    return KS(d_slower, d_faster, min(1.0, math.exp(-2.0 * n * d_slower ** 2)),
              min(1.0, math.exp(-2.0 * n * d_faster ** 2)))


def _value_at_rank(h: Histogram, rank: int, upper: bool) -> float:
    seen = 0
    keys = sorted(h.buckets)
    for key in keys:
        seen += h.buckets[key]
        if seen >= rank:
            return (key + (bucket_width_us(key) if upper else 0)) / 1000.0
    top = keys[-1]
    return (top + (bucket_width_us(top) if upper else 0)) / 1000.0


@dataclass(frozen=True)
class QuantileCI:
    low_ms: float
    high_ms: float
    bounded: bool  # False when the interval reaches the sample's extremes: too few samples to say much

    def overlaps(self, other: QuantileCI) -> bool:
        return self.low_ms <= other.high_ms and other.low_ms <= self.high_ms


def quantile_ci(h: Histogram, q: float, z: float, suspect: int = 0) -> QuantileCI | None:
    """Confidence interval of the ``q``-th percentile (0..100) at ``z`` standard deviations of its rank.

    The rank of the sample quantile is Binomial(n, q/100): the interval spans the ranks
    n p +/- z sqrt(n p (1 - p)), widened to whole ranks, each read at the outer bound of its bucket.
    ``suspect``: that many values may be too high (a connection's setup counted in); the percentile of the
    other values then lies up to that many ranks lower, so the interval starts that many ranks lower.
    """
    n = h.count
    if n <= 0:
        return None
    p = q / 100.0
    spread = z * math.sqrt(n * p * (1.0 - p))
    lo_rank = math.floor(n * p - spread) - suspect
    hi_rank = math.ceil(n * p + spread) + 1
    bounded = lo_rank >= 1 and hi_rank <= n
    lo_rank = min(max(1, lo_rank), n)
    hi_rank = min(max(1, hi_rank), n)
    return QuantileCI(_value_at_rank(h, lo_rank, upper=False), _value_at_rank(h, hi_rank, upper=True), bounded)


def _log_hypergeom_pmf(k: int, total: int, marked: int, drawn: int) -> float:
    def log_comb(n: int, r: int) -> float:
        return math.lgamma(n + 1) - math.lgamma(r + 1) - math.lgamma(n - r + 1)

    return log_comb(marked, k) + log_comb(total - marked, drawn - k) - log_comb(total, drawn)


def fisher_one_sided(x1: int, n1: int, x2: int, n2: int) -> tuple[float, float]:
    """Fisher's exact test of x1/n1 against x2/n2: (P(X >= x1), P(X <= x1)), X hypergeometric."""
    total, marked = n1 + n2, x1 + x2
    lo, hi = max(0, marked - n2), min(marked, n1)
    pmf = {k: math.exp(_log_hypergeom_pmf(k, total, marked, n1)) for k in range(lo, hi + 1)}
    greater = sum(v for k, v in pmf.items() if k >= x1)
    less = sum(v for k, v in pmf.items() if k <= x1)
    return min(1.0, greater), min(1.0, less)


SMALL_EXPECTED = 5.0


def proportion_test(x1: int, n1: int, x2: int, n2: int) -> tuple[float, float]:
    """Is the proportion x1/n1 larger (first p-value) or smaller (second) than x2/n2?"""
    if n1 <= 0 or n2 <= 0:
        return 1.0, 1.0
    pooled = (x1 + x2) / (n1 + n2)
    expected = min(n1 * pooled, n1 * (1 - pooled), n2 * pooled, n2 * (1 - pooled))
    if expected < SMALL_EXPECTED:
        return fisher_one_sided(x1, n1, x2, n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    z = (x1 / n1 - x2 / n2) / se
    return norm_sf(z), norm_sf(-z)


def _binomial_tails(k: int, n: int, p: float) -> tuple[float, float]:
    def log_pmf(i: int) -> float:
        return (math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1)
                + i * math.log(p) + (n - i) * math.log1p(-p))

    pmf = [math.exp(log_pmf(i)) for i in range(n + 1)]
    return min(1.0, sum(pmf[k:])), min(1.0, sum(pmf[: k + 1]))


def rate_test(c1: int, t1: float, c2: int, t2: float) -> tuple[float, float]:
    """Is the rate c1/t1 larger (first p-value) or smaller (second) than c2/t2? Conditional on c1 + c2,
    c1 is Binomial(c1 + c2, t1 / (t1 + t2)) when both rates are equal (Poisson counts)."""
    total = c1 + c2
    if total <= 0 or t1 <= 0 or t2 <= 0:
        return 1.0, 1.0
    p = t1 / (t1 + t2)
    if total <= 200:
        return _binomial_tails(c1, total, p)
    z = (c1 - total * p) / math.sqrt(total * p * (1 - p))
    return norm_sf(z), norm_sf(-z)


def z_for(confidence: float) -> float:
    """Two-sided normal quantile: z_for(0.99) = 2.576 (bisection on ``norm_sf``)."""
    target = (1.0 - confidence) / 2.0
    lo, hi = 0.0, 10.0
    for _ in range(80):
        mid = (lo + hi) / 2.0
        if norm_sf(mid) > target:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2.0


def stdev(values: list[float]) -> float:
    """Sample standard deviation (0 for fewer than two values)."""
    if len(values) < 2:
        return 0.0
    mean = sum(values) / len(values)
    return math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


__all__ = ["KS", "QuantileCI", "fisher_one_sided", "ks_one_sided", "norm_sf", "proportion_test", "quantile_ci",
           "rate_test", "stdev", "z_for"]
