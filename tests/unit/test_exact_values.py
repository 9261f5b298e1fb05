"""crossload.exact: whole-run figures from every duration equal k6's rule over the whole set, in blocks."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crossload import exact
from crossload.collect import Source, ToolCollector
from crossload.exact import ExactValues, k6_percentile
from crossload.histogram import Histogram
from crossload.summary import LatencySummary
from crossload.tools import get_tool

QUANTILES = (50, 90, 95, 99)


def brute(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    out = {"min": ordered[0], "max": ordered[-1]}
    out.update({f"p{q}": k6_percentile(ordered, q) for q in QUANTILES})
    return out


def record(store: ExactValues, name: str, samples: list[tuple[float, bool]]) -> tuple[Histogram, Histogram]:
    """What the collector does for one name: every duration, and the failed ones again."""
    hist, fail = Histogram(), Histogram()
    for ms, failed in samples:
        store.add(name, ms)
        hist.add_ms(ms)
        if failed:
            store.add_failed(name, ms)
            fail.add_ms(ms)
    return hist, fail


@pytest.fixture(autouse=True)
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    # Several flushes and several read blocks even for a few hundred values.
    monkeypatch.setattr(exact, "_FLUSH", 7)
    monkeypatch.setattr(exact, "_CHUNK", 13)


def test_k6_rule() -> None:
    assert k6_percentile([5.0], 99) == 5.0
    assert k6_percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5  # rank 1.5 between 2 and 3
    assert k6_percentile([1.0, 2.0, 3.0, 4.0], 100) == 4.0
    assert k6_percentile([10.0, 20.0], 90) == pytest.approx(19.0)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(min_value=0.0, max_value=5000.0, allow_nan=False), st.booleans()),
                min_size=1, max_size=300),
       st.integers(min_value=0, max_value=2**32 - 1))
def test_figures_equal_the_rule_over_every_value(tmp_path_factory: pytest.TempPathFactory,
                                                samples: list[tuple[float, bool]], seed: int) -> None:
    # Repeat some values exactly (k6 durations often tie) and spread the rest over many buckets.
    rng = random.Random(seed)
    samples = samples + [rng.choice(samples) for _ in range(len(samples) // 3)]
    store = ExactValues(tmp_path_factory.mktemp("exact") / "values")
    hist, fail = record(store, "a", samples)
    try:
        assert store.figures(["a"], hist, fail, QUANTILES)[1] == brute([ms for ms, _f in samples])
        ok = [ms for ms, failed in samples if not failed]
        got = store.figures(["a"], hist, fail, QUANTILES)[0]
        assert got == (brute(ok) if ok else None)
    finally:
        store.close()


def test_overall_over_several_names_and_edges(tmp_path: Path) -> None:
    store = ExactValues(tmp_path / "values")
    rng = random.Random(7)
    # Values right at bucket edges (x.xx5 ms rounds up into the next microsecond), and a large range.
    a = [(round(rng.uniform(0.5, 3.0), 4), rng.random() < 0.1) for _ in range(400)]
    a += [(1.0005, False), (1.0004999, False), (9.9995, False), (10.0, True), (0.0, False)]
    b = [(rng.expovariate(1 / 120.0), rng.random() < 0.2) for _ in range(500)]
    ha, fa = record(store, "a", a)
    hb, fb = record(store, "b", b)
    hist, fail = Histogram(ha.buckets), Histogram(fa.buckets)
    hist.merge(hb)
    fail.merge(fb)
    everything = a + b
    try:
        assert store.figures(["a", "b"], hist, fail, QUANTILES)[0] == brute([ms for ms, f in everything if not f])
        assert store.figures(["a", "b"], hist, fail, QUANTILES)[1] == brute([ms for ms, _f in everything])
        assert store.figures(["b"], hb, fb, QUANTILES)[0] == brute([ms for ms, f in b if not f])
    finally:
        store.close()
    assert not (tmp_path / "values").exists()  # the files go when the figures are taken


def test_missing_values_give_none_not_a_wrong_figure(tmp_path: Path) -> None:
    store = ExactValues(tmp_path / "values")
    hist, fail = record(store, "a", [(1.0, False), (2.0, False), (3.0, False)])
    hist.add_ms(250.0)  # a duration counted that the files never got: no exact figure is made up
    try:
        assert store.figures(["a"], hist, fail, QUANTILES)[0] is None
        assert store.figures(["nobody"], hist, fail, QUANTILES)[0] is None
    finally:
        store.close()


def _k6_line(metric: str, second: int, ms: float, **tags: str) -> str:
    stamp = f"2026-12-03T10:00:{second:02d}.123456789Z"
    return json.dumps({"metric": metric, "type": "Point", "data": {"time": stamp, "value": ms, "tags": tags}},
                      separators=(",", ":"))


def test_collector_figures_for_k6_workers_checks_and_groups(tmp_path: Path) -> None:
    """Through the collector, two k6 segments: failed statuses and failed body checks leave the successful
    figures, every request stays in all_requests, a group's wall time stays out of the overall."""
    rng = random.Random(3)
    ok: dict[str, list[float]] = {"a": [], "b": []}
    every: dict[str, list[float]] = {"a": [], "b": []}
    sources = []
    for worker in ("1", "2"):
        lines = []
        for i in range(300):
            name = "a" if i % 3 else "b"
            ms = round(rng.lognormvariate(2.0, 0.8), 6)
            status = "500" if i % 17 == 0 else "200"
            lines.append(_k6_line("http_req_duration", i // 100, ms, name=name, method="GET", status=status,
                                  expected_response="true" if status == "200" else "false"))
            every[name].append(ms)
            if status == "200" and i % 11 == 0:
                lines.append(_k6_line("crossload_check_failed", i // 100, ms, name=name, method="GET", check="x"))
            elif status == "200":
                ok[name].append(ms)
            if i % 50 == 0:
                lines.append(_k6_line("crossload_group", i // 100, 900.0 + i, name="journey"))
        raw = tmp_path / f"raw-{worker}.json"
        raw.write_text("\n".join(lines) + "\n", encoding="utf-8")
        sources.append(Source(worker, get_tool("k6").parser(), raw))
    collector = ToolCollector("k6", sources, tmp_path / "k6" / "aggregates.jsonl")
    collector.pump()
    assert (tmp_path / "k6" / "exact").is_dir()
    collector.close()
    assert not (tmp_path / "k6" / "exact").exists()
    summary = collector.stats.summary()

    def as_summary(values: list[float]) -> dict[str, float]:
        b = brute(values)
        return {"min_ms": round(b["min"], 3), "max_ms": round(b["max"], 3),
                **{f"p{q}_ms": round(b[f"p{q}"], 3) for q in QUANTILES}}

    def figures(latency: LatencySummary) -> dict[str, float]:
        got = latency.model_dump()
        return {k: got[k] for k in ("min_ms", "max_ms", *(f"p{q}_ms" for q in QUANTILES))}

    for name in ("a", "b"):
        assert figures(summary.requests[name]) == as_summary(ok[name]), name
        assert figures(summary.requests[name].all_requests) == as_summary(every[name]), name
    assert figures(summary.overall) == as_summary(ok["a"] + ok["b"])
    assert figures(summary.overall.all_requests) == as_summary(every["a"] + every["b"])
    assert summary.overall.count == 600 and summary.requests["journey"].count == 12
    assert summary.requests["journey"].max_ms == 1150.0


def test_a_file_that_cannot_be_written_gives_up_the_figures_not_the_run(tmp_path: Path) -> None:
    store = ExactValues(tmp_path / "values")
    hist, fail = record(store, "a", [(float(i), False) for i in range(1, 20)])  # flushed: the folder exists
    (tmp_path / "values").rename(tmp_path / "gone")  # as when the disk is gone or full: appends fail
    more, _ = record(store, "a", [(float(i), False) for i in range(20, 60)])
    hist.merge(more)
    try:
        assert store.figures(["a"], hist, fail, QUANTILES)[0] is None  # the histograms' figures stand instead
    finally:
        store.close()
