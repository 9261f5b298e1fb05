"""The statistics of the regression report against known values and against brute force on samples."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crossload.histogram import Histogram
from crossload.report import stats


def hist(values: list[float]) -> Histogram:
    h = Histogram()
    for v in values:
        h.add_ms(v)
    return h


def test_normal_tail_and_quantile() -> None:
    assert stats.norm_sf(0.0) == pytest.approx(0.5)
    assert stats.norm_sf(1.959964) == pytest.approx(0.025, abs=1e-6)
    assert stats.z_for(0.99) == pytest.approx(2.5758, abs=1e-4)
    assert stats.z_for(0.95) == pytest.approx(1.96, abs=1e-3)


def test_fisher_exact_matches_the_tea_tasting_example() -> None:
    # Fisher's lady tasting tea: 3 of 4 right in each group; one-sided p = 17/70.
    greater, less = stats.fisher_one_sided(3, 4, 1, 4)
    assert greater == pytest.approx(17 / 70)
    assert less == pytest.approx(1 - 1 / 70)


def test_proportion_test_directions_and_no_evidence() -> None:
    more, less = stats.proportion_test(60, 1000, 20, 1000)
    assert more < 1e-5 and less > 0.99
    more, less = stats.proportion_test(0, 1000, 0, 1000)
    assert more == pytest.approx(1.0) and less == pytest.approx(1.0)
    assert stats.proportion_test(1, 0, 1, 10) == (1.0, 1.0)
    # Small counts go to Fisher's exact test: identical to calling it.
    assert stats.proportion_test(3, 40, 0, 40) == stats.fisher_one_sided(3, 40, 0, 40)


def test_rate_test_exact_and_approximate_agree_near_the_switch() -> None:
    exact = stats.rate_test(120, 10.0, 80, 10.0)  # 200 in total: exact binomial
    approx = stats.rate_test(121, 10.0, 80, 10.0)  # 201: normal approximation
    assert exact[0] < 0.01 and approx[0] < 0.01
    assert exact[0] == pytest.approx(approx[0], rel=0.6)
    assert stats.rate_test(100, 10.0, 100, 10.0)[0] > 0.4
    assert stats.rate_test(0, 10.0, 0, 10.0) == (1.0, 1.0)


def test_ks_on_histograms_equals_ks_on_the_samples_when_buckets_are_exact() -> None:
    """Below 1 ms every microsecond is its own bucket: the binned statistic is the exact one."""
    rng = random.Random(7)
    a = [round(rng.uniform(0.1, 0.9), 3) for _ in range(300)]
    b = [round(rng.uniform(0.15, 0.95), 3) for _ in range(400)]
    ks = stats.ks_one_sided(hist(a), hist(b))
    points = sorted(set(a) | set(b))

    def cdf(xs: list[float], x: float) -> float:
        return sum(1 for v in xs if v <= x) / len(xs)

    d_slower = max(cdf(b, x) - cdf(a, x) for x in points)
    d_faster = max(cdf(a, x) - cdf(b, x) for x in points)
    assert ks.d_slower == pytest.approx(max(0.0, d_slower))
    assert ks.d_faster == pytest.approx(max(0.0, d_faster))
    n = 300 * 400 / 700
    assert ks.p_faster == pytest.approx(math.exp(-2 * n * ks.d_faster ** 2))


def test_ks_sees_a_shift_in_its_direction_only() -> None:
    rng = random.Random(1)
    base = hist([rng.lognormvariate(math.log(20), 0.2) for _ in range(1000)])
    slower = hist([rng.lognormvariate(math.log(26), 0.2) for _ in range(1000)])
    ks = stats.ks_one_sided(slower, base)
    assert ks.p_slower < 1e-10 and ks.p_faster > 0.5
    assert stats.ks_one_sided(Histogram(), base) == stats.KS(0.0, 0.0, 1.0, 1.0)


@settings(max_examples=40, deadline=None)
@given(st.integers(min_value=0, max_value=2**31), st.sampled_from([50, 90, 95, 99]))
def test_quantile_ci_holds_the_sample_quantile_and_the_point_estimate(seed: int, q: int) -> None:
    rng = random.Random(seed)
    values = [rng.lognormvariate(math.log(15), 0.5) for _ in range(rng.randint(1, 3000))]
    h = hist(values)
    ci = stats.quantile_ci(h, q, 2.576)
    assert ci is not None
    point = h.percentile_ms(q)
    assert ci.low_ms <= point <= ci.high_ms
    ranked = sorted(values)
    exact = ranked[max(0, math.ceil(q / 100 * len(values)) - 1)]
    assert ci.low_ms <= exact + 1e-9 and exact <= ci.high_ms + 1e-9


def test_quantile_ci_is_unbounded_for_a_tail_of_a_few_requests() -> None:
    h = hist([float(i) for i in range(1, 201)])  # 200 requests: p99 is among the top 2
    ci = stats.quantile_ci(h, 99, 2.576)
    assert ci is not None and not ci.bounded and ci.high_ms >= 200
    ci50 = stats.quantile_ci(h, 50, 2.576)
    assert ci50 is not None and ci50.bounded and ci50.low_ms < 100 < ci50.high_ms
    assert stats.quantile_ci(Histogram(), 50, 2.576) is None


def test_quantile_ci_coverage_is_at_least_nominal() -> None:
    """Over many samples of a known distribution the 99 % interval holds the true p95 at least 98 % of the time."""
    rng = random.Random(3)
    true_p95 = 20.0 * math.exp(0.3 * 1.6448536)
    hits = 0
    trials = 300
    for _ in range(trials):
        h = hist([rng.lognormvariate(math.log(20), 0.3) for _ in range(500)])
        ci = stats.quantile_ci(h, 95, 2.576)
        assert ci is not None
        hits += ci.low_ms <= true_p95 <= ci.high_ms
    assert hits >= 0.98 * trials


def test_stdev() -> None:
    assert stats.stdev([1.0]) == 0.0
    assert stats.stdev([2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]) == pytest.approx(2.13809, rel=1e-4)


def test_suspect_values_widen_the_interval_downwards_and_weaken_ks() -> None:
    h = hist([float(i) for i in range(1, 1001)])
    plain = stats.quantile_ci(h, 50, 2.576)
    wide = stats.quantile_ci(h, 50, 2.576, suspect=10)
    assert plain is not None and wide is not None
    assert wide.high_ms == plain.high_ms and wide.low_ms == pytest.approx(plain.low_ms - 10, abs=0.02)
    a, b = hist([1.0] * 90 + [50.0] * 10), hist([1.0] * 100)
    assert stats.ks_one_sided(a, b).d_slower == pytest.approx(0.1)
    assert stats.ks_one_sided(a, b, suspect_run=10).d_slower == 0.0  # ten suspects explain it all
    assert stats.ks_one_sided(a, b, suspect_run=4, suspect_base=2).d_slower == pytest.approx(0.04)
