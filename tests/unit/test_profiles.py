"""Load profiles: the documented defaults, and how flags and scenario overrides reshape them."""

from __future__ import annotations

import pytest

from crossload.errors import InputError
from crossload.profiles import DEFAULT_PROFILES, Stage, StageSchedule, build_schedule
from crossload.scenario import PROFILE_NAMES, Scenario, parse_scenario


def stages(schedule: StageSchedule) -> list[tuple[float, int]]:
    return [(s.duration_s, s.users) for s in schedule.stages]


def scenario_with(profiles: str) -> Scenario:
    return parse_scenario(
        "version: 1\nname: t\nrequests:\n  - name: r\n    path: /\nprofiles:\n" + profiles, "t.yaml"
    )


# --------------------------------------------------------------------------------------------------------
# Defaults (profiles.py's module docstring)


def test_the_five_profiles_exist() -> None:
    assert set(DEFAULT_PROFILES) == set(PROFILE_NAMES) == {"smoke", "load", "stress", "spike", "endurance"}


@pytest.mark.parametrize(
    ("profile", "total_s", "peak"),
    [("smoke", 15.0, 2), ("load", 300.0, 20), ("stress", 600.0, 40), ("spike", 120.0, 100),
     ("endurance", 3600.0, 20)],
)
def test_default_totals_and_peaks(profile: str, total_s: float, peak: int) -> None:
    s = build_schedule(profile)
    assert s.profile == profile
    assert s.total_s == pytest.approx(total_s)
    assert s.peak_users == peak
    assert s.users_at(0.0) == 0.0
    assert s.stages[-1].users == (2 if profile == "smoke" else 0)


def test_smoke_default() -> None:
    # 2 users for 15 s, ramp 1 s
    assert stages(build_schedule("smoke")) == [(1.0, 2), (14.0, 2)]


def test_load_default() -> None:
    # ramp to 20 users over 20 % of 5 min, hold 60 %, ramp down 20 %
    assert stages(build_schedule("load")) == [(60.0, 20), (180.0, 20), (60.0, 0)]


def test_stress_default() -> None:
    # steps of 25 % up to 40 users over 10 min, each ramped then held, then down
    assert stages(build_schedule("stress")) == [
        (30.0, 10), (60.0, 10), (30.0, 20), (60.0, 20), (30.0, 30), (60.0, 30), (30.0, 40), (180.0, 40),
        (120.0, 0),
    ]


def test_spike_default() -> None:
    # 10 % baseline, jump to 100 users in 5 % of 2 min, hold, drop back, recover, stop
    assert stages(build_schedule("spike")) == [
        (12.0, 10), (18.0, 10), (6.0, 100), (24.0, 100), (6.0, 10), (36.0, 10), (18.0, 0),
    ]


def test_endurance_default() -> None:
    # 20 users for 1 h, ramps of 5 %
    assert stages(build_schedule("endurance")) == [(180.0, 20), (3240.0, 20), (180.0, 0)]


# --------------------------------------------------------------------------------------------------------
# Flags


def test_users_scales_the_peak() -> None:
    assert stages(build_schedule("load", users=50)) == [(60.0, 50), (180.0, 50), (60.0, 0)]
    steps = stages(build_schedule("stress", users=100))[::2]
    assert steps == [(30.0, 25), (30.0, 50), (30.0, 75), (30.0, 100), (120.0, 0)]
    assert build_schedule("spike", users=1000).peak_users == 1000
    assert build_schedule("spike", users=1000).stages[0].users == 100


def test_users_rounding_keeps_every_non_zero_step_at_least_one_user() -> None:
    assert [s.users for s in build_schedule("stress", users=3).stages] == [1, 1, 2, 2, 2, 2, 3, 3, 0]
    assert [s.users for s in build_schedule("spike", users=5).stages] == [1, 1, 5, 5, 1, 1, 0]
    assert [s.users for s in build_schedule("spike", users=1).stages] == [1, 1, 1, 1, 1, 1, 0]


@pytest.mark.parametrize("profile", PROFILE_NAMES)
def test_duration_scales_every_stage_proportionally(profile: str) -> None:
    base = build_schedule(profile)
    half = build_schedule(profile, duration_s=base.total_s / 2)
    double = build_schedule(profile, duration_s=base.total_s * 2)
    assert [u for _, u in stages(half)] == [u for _, u in stages(base)]
    for b, h, d in zip(base.stages, half.stages, double.stages, strict=True):
        assert h.duration_s == pytest.approx(b.duration_s / 2, abs=1e-3)
        assert d.duration_s == pytest.approx(b.duration_s * 2, abs=1e-3)
    assert half.total_s == pytest.approx(base.total_s / 2, abs=1e-2)


def test_duration_example() -> None:
    assert stages(build_schedule("load", duration_s=60)) == [(12.0, 20), (36.0, 20), (12.0, 0)]


def test_spawn_rate_sets_ramps_and_flat_stages_take_the_rest() -> None:
    s = build_schedule("load", spawn_rate=1)
    # 20 users at 1 user/s: 20 s up, 20 s down; the hold gets 300 - 40 s
    assert stages(s) == [(20.0, 20), (260.0, 20), (20.0, 0)]
    assert s.total_s == pytest.approx(300.0)


def test_spawn_rate_shares_what_is_left_between_flat_stages_in_proportion() -> None:
    s = build_schedule("spike", spawn_rate=10)
    ramps = [(1.0, 10), (9.0, 100), (9.0, 10), (1.0, 0)]
    assert [st for i, st in enumerate(stages(s)) if i in (0, 2, 4, 6)] == ramps
    flats = [s.stages[i].duration_s for i in (1, 3, 5)]
    # the defaults' flat stages are 18 s, 24 s and 36 s; 120 - 20 s of ramps is shared 18:24:36
    assert flats == pytest.approx([18 * 100 / 78, 24 * 100 / 78, 36 * 100 / 78], abs=1e-3)
    assert s.total_s == pytest.approx(120.0, abs=1e-2)


@pytest.mark.parametrize(("profile", "rate"), [("load", 0.5), ("smoke", 4.0), ("stress", 3.0)])
def test_spawn_rate_ramp_durations_are_delta_users_over_rate(profile: str, rate: float) -> None:
    s = build_schedule(profile, spawn_rate=rate)
    base = build_schedule(profile)
    prev = 0
    for st, b in zip(s.stages, base.stages, strict=True):
        assert st.users == b.users
        if st.users != prev:
            assert st.duration_s == pytest.approx(abs(st.users - prev) / rate, abs=1e-3)
        prev = st.users
    assert s.total_s == pytest.approx(base.total_s, abs=1e-2)


def test_impossible_spawn_rate() -> None:
    # 20 users up and 20 down at 0.1 users/s need 400 s, more than the 300 s of the load profile
    with pytest.raises(InputError, match=r"ramps at 0\.1 users/s need 400s, more than the 300s duration"):
        build_schedule("load", spawn_rate=0.1)
    with pytest.raises(InputError, match="smoke"):
        build_schedule("smoke", spawn_rate=0.1)


def test_spawn_rate_without_flat_stages_must_fill_the_duration_exactly() -> None:
    sc = scenario_with("  load:\n    stages:\n      - {duration: 10s, users: 10}\n"
                       "      - {duration: 10s, users: 0}\n")
    with pytest.raises(InputError, match="raise --spawn-rate or --duration"):
        build_schedule("load", sc, spawn_rate=2)
    assert stages(build_schedule("load", sc, spawn_rate=1)) == [(10.0, 10), (10.0, 0)]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"users": 0}, "--users must be at least 1"),
        ({"duration_s": 0}, "--duration must be longer than 0s"),
        ({"duration_s": -5}, "--duration must be longer than 0s"),
        ({"spawn_rate": 0}, "--spawn-rate must be greater than 0"),
    ],
)
def test_bad_flags(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(InputError, match=message):
        build_schedule("load", **kwargs)  # type: ignore[arg-type]


def test_unknown_profile() -> None:
    with pytest.raises(InputError, match="unknown profile 'soak'"):
        build_schedule("soak")


# --------------------------------------------------------------------------------------------------------
# Scenario overrides


def test_override_users_and_duration() -> None:
    sc = scenario_with("  load:\n    users: 50\n    duration: 10m\n")
    assert stages(build_schedule("load", sc)) == [(120.0, 50), (360.0, 50), (120.0, 0)]
    # other profiles keep their defaults
    assert stages(build_schedule("smoke", sc)) == [(1.0, 2), (14.0, 2)]


def test_flags_override_the_scenario() -> None:
    sc = scenario_with("  load:\n    users: 50\n    duration: 10m\n    spawn_rate: 1\n")
    assert stages(build_schedule("load", sc)) == [(50.0, 50), (500.0, 50), (50.0, 0)]
    assert stages(build_schedule("load", sc, users=10, duration_s=100, spawn_rate=2)) == [
        (5.0, 10), (90.0, 10), (5.0, 0),
    ]
    assert stages(build_schedule("load", sc, users=10)) == [(10.0, 10), (580.0, 10), (10.0, 0)]


def test_override_stages() -> None:
    sc = scenario_with(
        "  spike:\n"
        "    stages:\n"
        "      - {duration: 10s, users: 5}\n"
        "      - {duration: 0s, users: 80}\n"
        "      - {duration: 1m, users: 80}\n"
        "      - {duration: 20s, users: 0}\n"
    )
    s = build_schedule("spike", sc)
    assert stages(s) == [(10.0, 5), (0.0, 80), (60.0, 80), (20.0, 0)]
    assert s.total_s == 90.0 and s.peak_users == 80
    # --users scales the file's stages to the new peak, --duration stretches them
    assert stages(build_schedule("spike", sc, users=40)) == [(10.0, 3), (0.0, 40), (60.0, 40), (20.0, 0)]
    assert stages(build_schedule("spike", sc, duration_s=45)) == [(5.0, 5), (0.0, 80), (30.0, 80), (10.0, 0)]


def test_override_stages_with_users_and_duration_in_the_file() -> None:
    sc = scenario_with(
        "  stress:\n"
        "    users: 20\n"
        "    duration: 1m\n"
        "    stages:\n"
        "      - {duration: 30s, users: 10}\n"
        "      - {duration: 30s, users: 0}\n"
    )
    assert stages(build_schedule("stress", sc)) == [(30.0, 20), (30.0, 0)]
    sc2 = scenario_with("  stress:\n    duration: 2m\n    stages:\n      - {duration: 30s, users: 10}\n"
                        "      - {duration: 30s, users: 0}\n")
    assert stages(build_schedule("stress", sc2)) == [(60.0, 10), (60.0, 0)]


# --------------------------------------------------------------------------------------------------------
# The curve


def test_users_at_follows_the_stages_linearly() -> None:
    s = build_schedule("load")
    samples = {0: 0.0, 30: 10.0, 60: 20.0, 61: 20.0, 150: 20.0, 240: 20.0, 270: 10.0, 299: 1 / 3,
               300: 0.0, 1000: 0.0}
    for t, users in samples.items():
        assert s.users_at(t) == pytest.approx(users), t


def test_users_at_around_a_spike() -> None:
    s = build_schedule("spike")
    assert s.users_at(6) == pytest.approx(5.0)
    assert s.users_at(20) == pytest.approx(10.0)
    assert s.users_at(33) == pytest.approx(55.0)
    assert s.users_at(40) == pytest.approx(100.0)
    assert s.users_at(63) == pytest.approx(55.0)


def test_users_at_with_an_instant_stage() -> None:
    s = StageSchedule("x", (Stage(10.0, 10), Stage(0.0, 50), Stage(10.0, 50)))
    assert s.users_at(5) == pytest.approx(5.0)
    assert s.users_at(10) == pytest.approx(50.0)
    assert s.users_at(15) == pytest.approx(50.0)
    assert s.users_at(25) == pytest.approx(50.0)


def test_max_ramp_rate() -> None:
    assert build_schedule("smoke").max_ramp_rate == pytest.approx(2.0)  # 2 users in 1 s
    assert build_schedule("spike").max_ramp_rate == pytest.approx(15.0)  # 90 users in 6 s
    assert build_schedule("load").max_ramp_rate == pytest.approx(1.0)  # 20 in 60 s, but never below 1
    assert build_schedule("load", users=300).max_ramp_rate == pytest.approx(5.0)
    instant = StageSchedule("x", (Stage(10.0, 10), Stage(0.0, 50), Stage(10.0, 50)))
    assert instant.max_ramp_rate == pytest.approx(40.0)  # a 0 s stage counts its jump per second


def test_as_dict() -> None:
    assert build_schedule("smoke").as_dict() == {
        "profile": "smoke",
        "total_s": 15.0,
        "peak_users": 2,
        "stages": [{"duration_s": 1.0, "users": 2}, {"duration_s": 14.0, "users": 2}],
    }
