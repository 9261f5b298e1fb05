"""Percentiles held against each tool's own record of a real run, on a target with varied latencies.

k6's JSON output keeps every sample and its end-of-test summary (``--summary-export``, here with a
sub-metric per request through the scenario's per-request thresholds) is computed from all of them: the
test first proves that summary equals what k6's own rule gives on the raw samples, then holds crossload's
whole-run figures in summary.json equal to it (crossload keeps every k6 duration for them: crossload.exact),
and every per-second percentile (the points InfluxDB and the
dashboards get) against the exact value of that second's raw samples. Locust keeps every response time
rounded (its ``--json-file`` statistics): crossload's figures must agree within that rounding.

crossload's latencies are three-significant-digit histograms (docs/schema.md, section 2): a percentile is
a bucket's midpoint, at most 0.5 % from the sample of its rank. That is the precision allowed here on top
of the difference between the ranks the two rules pick (nearest rank here, interpolation in k6).
"""

from __future__ import annotations

import io
import json
import math
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from k6_raw import DURATION, k6_rule

from crossload.results import IntervalAggregate, item_from_json
from crossload.run import RunRequest, RunResult, execute
from crossload.sinks.lineprotocol import REQUESTS, RunTags, interval_points

pytestmark = pytest.mark.integration

# Three latency groups a decade apart (Locust rounds each differently: whole ms below 100 ms, 10 ms above)
# and random think time, so consecutive samples differ and the seconds are unevenly filled.
NAMES = ("fast", "medium", "slow")
SCENARIO = """\
version: 1
name: exactness
defaults:
  think_time: {min: 0ms, max: 15ms}
requests:
  - name: fast
    path: /delay/2
    weight: 4
  - name: medium
    path: /delay/30
    weight: 2
  - name: slow
    path: /delay/140
thresholds:
  - {request: fast, check: "p95 < 10s"}
  - {request: medium, check: "p95 < 10s"}
  - {request: slow, check: "p95 < 10s"}
"""
QUANTILES = (50, 90, 95, 99)
K6_STAT = {50: "med", 90: "p(90)", 95: "p(95)", 99: "p(99)"}
HISTOGRAM_PRECISION = 0.005  # a percentile is its bucket's midpoint: at most 0.5 % from the sample of its rank
SERIES_LIMIT = 0.01  # per-second percentiles: at most 1 % from the exact value of the second's samples


def nearest_rank(sorted_values: list[float], q: float) -> float:
    return sorted_values[max(1, math.ceil(q / 100.0 * len(sorted_values))) - 1]


def epoch_second(stamp: str) -> int:
    """k6's RFC 3339 time (UTC, nanoseconds) -> its whole second since the epoch."""
    from datetime import datetime

    return int(datetime.fromisoformat(stamp[:19] + "+00:00").timestamp())


@pytest.fixture(scope="module")
def exact_run(tmp_path_factory: pytest.TempPathFactory, demo_target: str) -> tuple[RunResult, Path]:
    tmp = tmp_path_factory.mktemp("exactness")
    scenario = tmp / "exactness.yaml"
    scenario.write_text(SCENARIO, encoding="utf-8")
    out = io.StringIO()
    result = execute(RunRequest(profile="smoke", target=demo_target, scenario=str(scenario), users=6,
                                duration_s=4, results_dir=tmp / "results", width=200), out=out)
    assert result.exit_code == 0, (result.message, out.getvalue())
    assert result.path is not None
    return result, result.path


def k6_samples(path: Path) -> list[dict[str, Any]]:
    import gzip

    raw = path / "k6" / "raw.json.gz"
    text = gzip.decompress(raw.read_bytes()).decode() if raw.exists() else (path / "k6" / "raw.json").read_text()
    return [json.loads(line)["data"] for line in text.splitlines()
            if line.startswith(DURATION)]


def per_name(points: list[dict[str, Any]]) -> dict[str, list[float]]:
    out: dict[str, list[float]] = defaultdict(list)
    for p in points:
        assert p["tags"]["expected_response"] == "true", p  # nothing fails in this scenario
        out[p["tags"]["name"]].append(float(p["value"]))
    return {name: sorted(values) for name, values in out.items()}


def test_k6_summary_is_its_own_rule_over_every_raw_sample(exact_run: tuple[RunResult, Path]) -> None:
    """The authority first: k6's end-of-test figures per request are the exact values of its raw samples."""
    _result, path = exact_run
    samples = per_name(k6_samples(path))
    assert set(samples) == set(NAMES)
    metrics = json.loads((path / "k6" / "k6-summary.json").read_text())["metrics"]
    for name, values in samples.items():
        own = metrics[f"http_req_duration{{name:{name},expected_response:true}}"]
        assert own["count"] == len(values) >= 5, name
        assert own["min"] == values[0] and own["max"] == values[-1], name
        assert math.isclose(own["avg"], sum(values) / len(values), rel_tol=1e-9), name
        for q in QUANTILES:
            assert math.isclose(own[K6_STAT[q]], k6_rule(values, q), rel_tol=1e-9, abs_tol=1e-9), (name, q)
    # the three groups really are apart (the slow one above 100 ms): several bucket widths of the histogram
    medians = [k6_rule(samples[name], 50) for name in NAMES]
    assert medians[0] < medians[1] < medians[2] and medians[2] >= 100, medians


def test_summary_equals_k6s_own_figures(exact_run: tuple[RunResult, Path]) -> None:
    """summary.json's whole-run figures for k6 are k6's own end-of-test ones (every sample, k6's rule), to
    the microsecond summary.json keeps; per request and overall."""
    _result, path = exact_run
    samples = per_name(k6_samples(path))
    metrics = json.loads((path / "k6" / "k6-summary.json").read_text())["metrics"]
    summary = json.loads((path / "summary.json").read_text())["tools"]["k6"]
    everything = sorted(v for values in samples.values() for v in values)
    overall = summary["overall"]
    own_all = metrics["http_req_duration"]
    assert overall["count"] == len(everything) == own_all["count"]
    pairs = [(summary["requests"][name], metrics[f"http_req_duration{{name:{name},expected_response:true}}"])
             for name in samples]
    pairs.append((overall, metrics["http_req_duration{expected_response:true}"]))
    for ours, own in pairs:
        assert ours["count"] == own["count"] and ours["failures"] == 0, (ours, own)
        for figures in (ours, ours["all_requests"]):  # nothing fails here: every request is a successful one
            assert math.isclose(figures["min_ms"], own["min"], abs_tol=0.0005), (figures, own)
            assert math.isclose(figures["max_ms"], own["max"], abs_tol=0.0005), (figures, own)
            assert math.isclose(figures["mean_ms"], own["avg"], rel_tol=1e-6, abs_tol=0.0005), (figures, own)
            for q in QUANTILES:
                assert math.isclose(figures[f"p{q}_ms"], own[K6_STAT[q]], abs_tol=0.0005), (q, figures, own)
    assert not (path / "k6" / "exact").exists()  # the run's value files are gone once the figures are taken


def test_per_second_percentiles_within_one_percent_of_the_raw_samples(exact_run: tuple[RunResult, Path]) -> None:
    """The per-second series as InfluxDB receives them (``interval_points`` over the local store) against
    the exact nearest-rank value of each second's raw k6 samples."""
    result, path = exact_run
    exact: dict[tuple[int, str], list[float]] = defaultdict(list)
    for p in k6_samples(path):
        exact[(epoch_second(p["time"]), p["tags"]["name"])].append(float(p["value"]))
    items = [item_from_json("k6", json.loads(line))
             for line in (path / "k6" / "aggregates.jsonl").read_text().splitlines() if line.strip()]
    assert any(isinstance(i, IntervalAggregate) for i in items)
    manifest = json.loads((path / "manifest.json").read_text())
    points = [p for p in interval_points(items, RunTags.from_manifest(manifest)) if p.measurement == REQUESTS]
    seen = {}
    for point in points:
        tags, fields = dict(point.tags), dict(point.fields)
        seen[(point.ts_s, tags["name"])] = fields
    assert set(seen) == set(exact), sorted(set(seen) ^ set(exact))
    assert len({t for t, _name in seen}) >= 4  # a whole run's worth of seconds
    worst = 0.0
    for key, values in exact.items():
        values.sort()
        fields = seen[key]
        assert fields["count"] == len(values), key
        assert math.isclose(float(fields["min_ms"]), values[0], abs_tol=0.0015), key
        assert math.isclose(float(fields["max_ms"]), values[-1], abs_tol=0.0015), key
        for q in QUANTILES:
            want = nearest_rank(values, q)
            got = float(fields[f"p{q}_ms"])
            error = abs(got - want) / want
            worst = max(worst, error)
            assert error <= SERIES_LIMIT, (key, q, got, want)
    assert worst <= HISTOGRAM_PRECISION + 1e-4, worst  # and in fact within the histogram's own bound
    assert result.exit_code == 0


def locust_half_step(ms: float) -> float:
    """Half of the step Locust rounds a response time to for its percentiles (whole ms below 100 ms, 10 ms
    below 1 s, 100 ms below 10 s, then 1 s)."""
    return 0.5 if ms < 100 else 5.0 if ms < 1000 else 50.0 if ms < 10000 else 500.0


def test_locust_percentiles_within_locusts_own_rounding(exact_run: tuple[RunResult, Path]) -> None:
    _result, path = exact_run
    final = {e["name"]: e for e in json.loads((path / "locust" / "locust-final.json").read_text())}
    summary = json.loads((path / "summary.json").read_text())["tools"]["locust"]
    assert set(final) == set(summary["requests"]) == set(NAMES)
    for name, entry in final.items():
        ours = summary["requests"][name]
        assert ours["count"] == entry["num_requests"] >= 5 and ours["failures"] == entry["num_failures"] == 0
        assert math.isclose(ours["min_ms"], entry["min_response_time"], abs_tol=0.001), name
        assert math.isclose(ours["max_ms"], entry["max_response_time"], abs_tol=0.001), name
        rounded = sorted(float(ms) for ms, n in entry["response_times"].items() for _ in range(n))
        assert len(rounded) == entry["num_requests"], name
        for q in QUANTILES:
            theirs = nearest_rank(rounded, q)
            mine = ours[f"p{q}_ms"]
            assert abs(mine - theirs) <= locust_half_step(theirs) + mine * HISTOGRAM_PRECISION + 0.001, \
                (name, q, mine, theirs)
    # the slow group is above 100 ms, where Locust keeps only 10 ms steps
    assert min(float(ms) for ms in final["slow"]["response_times"]) >= 100
