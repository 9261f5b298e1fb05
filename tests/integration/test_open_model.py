"""The open model: both tools start the profile's iterations per second, whatever the response times.

k6 runs ramping-arrival-rate; Locust paces each user (constant_pacing) and follows the user curve
rate x pacing. The scenario ramps to 10 iterations/s in 2 s and holds 10/s for 4 s: 50 iterations in all. k6
starts them exactly; Locust's user curve is whole users (one user is 2.5 iterations/s here), so its total
is allowed a wider band. In the hold, every tool must start close to 10 per second.

A slow target (every request 1 s) with max_users 2 shows what the cap means: neither tool can start more
than 2 iterations per second, whatever the rate asks for.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from crossload.results import IntervalAggregate, read_aggregates

pytestmark = pytest.mark.integration

FAST = """\
version: 1
name: arrivals
requests:
  - name: health
    path: /health
profiles:
  load:
    max_users: 4
    stages:
      - {duration: 2s, rate: 10/s}
      - {duration: 4s, rate: 10/s}
"""

# A journey is one iteration: its two steps (and a once-per-user setup) per iteration started.
JOURNEY = """\
version: 1
name: arrivals journey
journeys:
  - name: browse
    setup:
      - name: sign in
        path: /health
        think_time: 10ms
    steps:
      - name: first
        path: /health
      - name: second
        path: /health
profiles:
  load:
    max_users: 4
    stages:
      - {duration: 2s, rate: 10/s}
      - {duration: 4s, rate: 10/s}
"""

SLOW = """\
version: 1
name: arrivals capped
defaults:
  timeout: 5s
requests:
  - name: slow
    path: /delay/1000
profiles:
  load:
    rate: 6
    max_users: 2
    stages:
      - {duration: 0s, rate: 6}
      - {duration: 4s, rate: 6}
"""


def _per_second(result_path: Path, tool: str) -> Counter[int]:
    counts: Counter[int] = Counter()
    for item in read_aggregates(result_path / tool / "aggregates.jsonl", tool):
        if isinstance(item, IntervalAggregate):
            counts[item.t] += item.count
    return counts


def test_both_tools_start_the_profiles_iterations_per_second(tmp_path: Path, demo_target: str,
                                                              run_crossload) -> None:  # type: ignore[no-untyped-def]
    scenario = tmp_path / "arrivals.yaml"
    scenario.write_text(FAST, encoding="utf-8")
    result, printed = run_crossload("load", target=demo_target, scenario=str(scenario))
    assert result.exit_code == 0, printed

    k6_script = (result.path / "k6" / "script.js").read_text(encoding="utf-8")
    assert "executor: 'ramping-arrival-rate'" in k6_script and "maxVUs: 4," in k6_script
    locustfile = (result.path / "locust" / "locustfile.py").read_text(encoding="utf-8")
    assert "wait_time = constant_pacing(0.4)" in locustfile

    summary = result.summary
    assert summary is not None
    k6_total = summary.tools["k6"].overall.count
    locust_total = summary.tools["locust"].overall.count
    assert 47 <= k6_total <= 53, printed  # 0.5 x 2 s x 10/s + 4 s x 10/s = 50
    assert 38 <= locust_total <= 58, printed
    for tool in ("locust", "k6"):
        per_second = _per_second(result.path, tool)
        seconds = sorted(per_second)
        assert len(seconds) >= 5, (tool, per_second)
        # The hold: after the first (partial) second and the ramp's 2 s, before the last (partial) second.
        start = seconds[0]
        hold = [per_second[t] for t in range(start + 3, seconds[-1])]
        assert len(hold) >= 2, (tool, per_second)
        assert all(7 <= n <= 13 for n in hold), (tool, per_second)
        # A ramp from 0: the first second starts fewer iterations than the hold.
        assert per_second[start] < max(hold), (tool, per_second)


def test_a_journey_is_one_paced_iteration_in_both_tools(tmp_path: Path, demo_target: str,
                                                        run_crossload) -> None:  # type: ignore[no-untyped-def]
    """Locust paces the user after each journey (not only after single requests): both tools start about
    the profile's 50 iterations, each sending both steps, and each user signs in once."""
    scenario = tmp_path / "journey.yaml"
    scenario.write_text(JOURNEY, encoding="utf-8")
    result, printed = run_crossload("load", target=demo_target, scenario=str(scenario))
    assert result.exit_code == 0, printed
    summary = result.summary
    assert summary is not None
    for tool, band in (("k6", (45, 53)), ("locust", (36, 60))):
        rows = summary.tools[tool].requests
        first, second = rows["first"].count, rows["second"].count
        assert band[0] <= first <= band[1], (tool, first, printed)
        assert second in (first, first - 1), (tool, first, second)  # the last iteration may be cut short
        assert 1 <= rows["sign in"].count <= 4, (tool, rows["sign in"].count)  # max_users: 4


def test_max_users_caps_the_iterations_under_way_in_both_tools(tmp_path: Path, demo_target: str,
                                                               run_crossload) -> None:  # type: ignore[no-untyped-def]
    scenario = tmp_path / "capped.yaml"
    scenario.write_text(SLOW, encoding="utf-8")
    result, printed = run_crossload("load", target=demo_target, scenario=str(scenario))
    assert result.exit_code == 0, printed
    summary = result.summary
    assert summary is not None
    for tool in ("locust", "k6"):
        total = summary.tools[tool].overall.count
        # 6/s for 4 s would be 24; two users busy 1 s each start at most 2 per second (+ the ones under way).
        assert 4 <= total <= 11, (tool, total, printed)
    assert "dropped" in printed, printed
