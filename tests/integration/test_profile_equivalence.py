"""Both tools follow the same user curve: sampled users/VUs within one tick of the schedule and of each other.

The run uses a profile with a ramp up, a hold and a ramp down. Each tool's per-second user samples are
aligned to the schedule by the start offset that fits best (tools take different times to start), then
every sample must lie within one tick (1 s) of the scheduled curve, and the two tools' curves within one
tick of each other.

How many samples a tool takes depends on scheduling (a busy machine can make a sampler skip a second), so
the test asks for a sample of each phase and for at least half of the seconds, not for every second.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from crossload.profiles import StageSchedule
from crossload.results import UsersSample, read_aggregates

pytestmark = pytest.mark.integration

SCENARIO = """\
version: 1
name: curve
defaults:
  think_time: 50ms
requests:
  - name: health
    path: /health
profiles:
  load:
    stages:
      - {duration: 5s, users: 5}
      - {duration: 4s, users: 5}
      - {duration: 3s, users: 2}
"""


def _window(schedule: StageSchedule, r: float) -> tuple[int, int]:
    """The users the schedule allows within one tick of relative time r."""
    values = [schedule.users_at(min(max(r + d / 10.0, 0.0), schedule.total_s - 1e-6)) for d in range(-10, 11)]
    return math.floor(min(values)), math.ceil(max(values))


def _fit(samples: list[UsersSample], schedule: StageSchedule) -> tuple[float, list[tuple[float, int]]]:
    """Best start time for the samples, and the (relative time, users) pairs inside the schedule."""
    first = samples[0].t
    best: tuple[float, float] | None = None
    for step in range(-60, 31):
        t0 = first + step / 10.0
        err = 0.0
        for s in samples:
            r = s.t - t0
            if 0 <= r <= schedule.total_s:
                err += (s.users - schedule.users_at(r)) ** 2
        if best is None or err < best[1]:
            best = (t0, err)
    assert best is not None
    t0 = best[0]
    return t0, [(s.t - t0, s.users) for s in samples if 0.5 <= s.t - t0 <= schedule.total_s - 0.5]


def test_locust_and_k6_follow_the_same_user_curve(tmp_path: Path, demo_target: str, run_crossload) -> None:  # type: ignore[no-untyped-def]
    scenario = tmp_path / "curve.yaml"
    scenario.write_text(SCENARIO, encoding="utf-8")
    result, printed = run_crossload("load", target=demo_target, scenario=str(scenario))
    assert result.exit_code == 0, printed
    from crossload.profiles import build_schedule
    from crossload.scenario import load_scenario

    schedule = build_schedule("load", load_scenario(scenario))
    assert schedule.total_s == 12.0 and schedule.peak_users == 5

    curves: dict[str, dict[int, int]] = {}
    for tool in ("locust", "k6"):
        samples = sorted((i for i in read_aggregates(result.path / tool / "aggregates.jsonl", tool)
                          if isinstance(i, UsersSample)), key=lambda s: s.t)
        assert samples, tool
        _t0, points = _fit(samples, schedule)
        # 11 whole seconds lie inside the schedule (away from its ends); a busy machine may skip some.
        assert len(points) >= 6, (tool, samples)
        for r, users in points:
            lo, hi = _window(schedule, r)
            assert lo <= users <= hi, f"{tool}: {users} users at {r:.1f}s, schedule allows {lo}..{hi}"
        # The ramp up, the hold at the peak and the ramp down (after 9 s) were all sampled.
        assert any(u == 5 for _r, u in points), (tool, points)
        assert any(0 < u < 5 for r, u in points if r < 5), (tool, points)
        assert any(2 <= u < 5 for r, u in points if r > 9), (tool, points)
        curves[tool] = {round(r): u for r, u in points}

    common = sorted(set(curves["locust"]) & set(curves["k6"]))
    assert len(common) >= 5, curves
    for second in common:
        lo, hi = _window(schedule, second)
        assert abs(curves["locust"][second] - curves["k6"][second]) <= max(1, hi - lo), second
