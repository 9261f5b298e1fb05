"""Abort criteria: their syntax, and the live judgement on store lines (windows, grace, nothing measured).
Real tools stopping on them: tests/integration/test_abort.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crossload.abort import AbortWatch, aborted_text
from crossload.errors import InputError
from crossload.render import k6_thresholds
from crossload.results import IntervalAggregate
from crossload.scenario import load_scenario


def scenario(tmp_path: Path, thresholds: str) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text("version: 1\nname: x\nrequests:\n  - name: a\n    path: /\nthresholds:\n" + thresholds,
                    encoding="utf-8")
    return path


def second(t: int, count: int, failures: int, name: str = "a") -> str:
    a = IntervalAggregate(tool="k6", t=t, name=name, method="GET")
    for i in range(count):
        a.add(5.0, failed=i < failures, status_class="5xx" if i < failures else "2xx",
              cause="HTTP 500" if i < failures else None)
    return json.dumps(a.to_json()) + "\n"


def test_the_forms_of_an_abort_criterion(tmp_path: Path) -> None:
    s = load_scenario(str(scenario(tmp_path, '  - {check: "error_rate < 10%", abort: true, grace: 10s, window: 30s}\n'
                                              '  - {check: "p95 < 1s", request: a, abort: true}\n'
                                              '  - "p99 < 2s"\n')))
    a, b, c = s.thresholds
    assert (a.abort, a.grace_s, a.window_s, a.request) == (True, 10.0, 30.0, None)
    assert (b.abort, b.grace_s, b.window_s, b.request) == (True, 0.0, None, "a")
    assert not c.abort
    k6 = dict(k6_thresholds(s.thresholds).entries)
    assert k6["http_req_failed"] == ("rate<0.1",)  # windowed: judged by crossload only
    assert k6["http_req_duration{name:a,expected_response:true}"] == (
        {"threshold": "p(95)<1000", "abortOnFail": True},)
    assert any("k6 has no windows" in text for text in k6_thresholds(s.thresholds).left_out)


@pytest.mark.parametrize(("text", "message"), [
    ('  - {check: "error_rate < 10%", grace: 5s}\n',
     "s.yaml:7: thresholds[0].grace: grace only applies with abort: true"),
    ('  - {check: "error_rate < 10%", abort: yes please}\n', "thresholds[0].abort: expected true or false"),
    ('  - {check: "error_rate < 10%", abort: true, window: 0s}\n', "thresholds[0].window: must be longer than 0s"),
    ('  - {check: "target_rss_growth < 1MB", abort: true}\n', "target_rss_growth cannot stop a run early"),
    ('  - {abort: true}\n', 'expected "metric < value"'),
])
def test_bad_abort_criteria_name_the_field(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(InputError) as e:
        load_scenario(str(scenario(tmp_path, text)))
    assert message in str(e.value)


def test_a_window_must_fail_as_a_whole_after_the_grace_period(tmp_path: Path) -> None:
    s = load_scenario(str(scenario(tmp_path, '  - {check: "error_rate < 20%", abort: true, grace: 3s, window: 2s}\n')))
    store = tmp_path / "aggregates.jsonl"
    store.write_text("")
    watch = AbortWatch("k6", s.thresholds, store, started=1000.0)
    with store.open("a") as f:
        f.write(second(1000, 10, 5))  # 50 % failed, but within the grace period
        f.write(second(1001, 10, 5))
    assert watch.check(1002.0) is None
    with store.open("a") as f:
        f.write(second(1002, 10, 0))
        f.write(second(1003, 10, 0))
        f.write(second(1004, 10, 9)[:40])  # half a line: not read yet
    assert watch.check(1004.5) is None  # past the grace; the last 2 s (1002, 1003) are fine
    with store.open("a") as f:
        f.write(second(1004, 10, 9)[40:])
    hit = watch.check(1005.0)  # 1003 + 1004: 9 of 20 failed = 45 %
    assert hit is not None and hit.tool == "k6" and hit.measured == 45.0 and hit.at_s == 5.0
    assert aborted_text(hit.to_json()) == ("k6: error_rate < 20% (all requests) not met after 5s: measured 45 % "
                                           f"over the last 2s [{s.thresholds[0].location}]")


def test_without_a_window_everything_since_the_start_counts_and_no_request_is_no_evidence(tmp_path: Path) -> None:
    s = load_scenario(str(scenario(tmp_path, '  - {check: "error_rate < 20%", abort: true, request: a}\n')))
    store = tmp_path / "aggregates.jsonl"
    store.write_text(second(1, 10, 1, name="other"))
    watch = AbortWatch("locust", s.thresholds, store, started=0.0)
    assert watch.check(2.0) is None  # request a saw nothing
    with store.open("a") as f:
        f.write(second(2, 10, 1) + second(3, 10, 1))
    assert watch.check(5.0) is None  # 2 of 20 failed: 10 %
    with store.open("a") as f:
        f.write(second(4, 10, 10))
    hit = watch.check(6.0)  # 12 of 30 since the start
    assert hit is not None and hit.measured == pytest.approx(40.0)
