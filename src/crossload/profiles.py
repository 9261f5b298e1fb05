"""The five load profiles as data, and how flags and scenario overrides reshape them.

A profile is a list of stages: over ``duration_s`` the number of users moves linearly from the previous
stage's target to this stage's ``users`` (the k6 ramping-vus model; the Locust shape follows the same
curve tick by tick). Shapes are written as fractions of the total duration and of the peak users, so
``--duration`` scales every stage proportionally and ``--users`` scales the peak.

Defaults follow common practice:

- smoke: 2 users for 15 s (ramp 1 s): proves the script and the target work, fast enough for a first run.
- load: ramp to nominal (20 users) over 20 % of 5 min, hold 60 %, ramp down 20 %.
- stress: steps of 25 % up to 40 users (twice nominal) over 10 min, each step ramped then held, then down.
- spike: 10 % baseline, a sudden jump to 100 users in 5 % of 2 min, hold, drop back, recover, stop.
- endurance: nominal 20 users for 1 h (ramps of 5 %).

``--spawn-rate`` (users per second) fixes how long each ramp takes; the flat stages give or take the time.

The open model: a profile with a ``rate`` (iterations started per second) instead of users. The same shapes
then describe the rate: k6 runs ramping-arrival-rate with at most ``max_users`` VUs; Locust paces each user
to one iteration every ``pacing_s`` seconds (``constant_pacing``) and follows the user curve
``rate x pacing_s``, so both start the same number of iterations per second while iterations finish within
``pacing_s`` (``max_users / peak rate``), and both are capped at ``max_users`` iterations under way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from crossload.errors import InputError
from crossload.scenario import PROFILE_NAMES, ProfileOverride, Scenario


@dataclass(frozen=True)
class Stage:
    duration_s: float
    users: int


@dataclass(frozen=True)
class RateStage:
    duration_s: float
    rate: float  # iterations started per second at the end of the stage


@dataclass(frozen=True)
class OpenModel:
    """Arrival rate: iterations started per second over time, whatever the response times."""

    rates: tuple[RateStage, ...]
    max_users: int

    @property
    def peak_rate(self) -> float:
        return max(s.rate for s in self.rates)

    @property
    def pacing_s(self) -> float:
        """Seconds between the starts of one Locust user's iterations: at the peak, max_users users."""
        return self.max_users / self.peak_rate


@dataclass(frozen=True)
class StageSchedule:
    """The user curve of one run: start at 0 users, then the stages in order.

    With ``open`` set, the run follows an arrival rate; ``stages`` is then the user curve Locust follows to
    start that many iterations per second (rate x pacing).
    """

    profile: str
    stages: tuple[Stage, ...]
    open: OpenModel | None = None

    @property
    def total_s(self) -> float:
        return sum(s.duration_s for s in self.stages)

    @property
    def peak_users(self) -> int:
        return max(s.users for s in self.stages)

    @property
    def max_ramp_rate(self) -> float:
        """The steepest ramp in users per second (Locust's spawn rate must keep up with it)."""
        rate = 1.0
        prev = 0
        for s in self.stages:
            if s.duration_s > 0:
                rate = max(rate, abs(s.users - prev) / s.duration_s)
            else:
                rate = max(rate, float(abs(s.users - prev)))
            prev = s.users
        return rate

    def users_at(self, t: float) -> float:
        """Target users at ``t`` seconds into the run (linear within a stage, like k6 ramping-vus)."""
        return _along([(s.duration_s, float(s.users)) for s in self.stages], t)

    def rate_at(self, t: float) -> float:
        """Iterations started per second at ``t`` (open model; linear within a stage, like k6)."""
        assert self.open is not None
        return _along([(s.duration_s, s.rate) for s in self.open.rates], t)

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "profile": self.profile,
            "total_s": self.total_s,
            "peak_users": self.peak_users,
            "stages": [{"duration_s": s.duration_s, "users": s.users} for s in self.stages],
        }
        if self.open is not None:
            out["model"] = "open"
            out["max_users"] = self.open.max_users
            out["pacing_s"] = round(self.open.pacing_s, 6)
            out["rates"] = [{"duration_s": s.duration_s, "rate": s.rate} for s in self.open.rates]
        return out


def _along(stages: list[tuple[float, float]], t: float) -> float:
    """The value at ``t`` seconds along ``(duration_s, value at its end)`` stages that start from 0: linear
    within a stage; a stage of no duration jumps."""
    prev = 0.0
    elapsed = 0.0
    for duration_s, value in stages:
        if duration_s <= 0:
            prev = value
            continue
        if t < elapsed + duration_s:
            return prev + (value - prev) * (t - elapsed) / duration_s
        elapsed += duration_s
        prev = value
    return prev


@dataclass(frozen=True)
class ProfileShape:
    """Default shape: (fraction of total duration, fraction of peak users) per stage."""

    users: int
    duration_s: float
    shape: tuple[tuple[float, float], ...]


DEFAULT_PROFILES: dict[str, ProfileShape] = {
    "smoke": ProfileShape(users=2, duration_s=15, shape=((1 / 15, 1.0), (14 / 15, 1.0))),
    "load": ProfileShape(users=20, duration_s=300, shape=((0.2, 1.0), (0.6, 1.0), (0.2, 0.0))),
    "stress": ProfileShape(
        users=40,
        duration_s=600,
        shape=(
            (0.05, 0.25), (0.1, 0.25),
            (0.05, 0.5), (0.1, 0.5),
            (0.05, 0.75), (0.1, 0.75),
            (0.05, 1.0), (0.3, 1.0),
            (0.2, 0.0),
        ),
    ),
    "spike": ProfileShape(
        users=100,
        duration_s=120,
        shape=((0.1, 0.1), (0.15, 0.1), (0.05, 1.0), (0.2, 1.0), (0.05, 0.1), (0.3, 0.1), (0.15, 0.0)),
    ),
    "endurance": ProfileShape(users=20, duration_s=3600, shape=((0.05, 1.0), (0.9, 1.0), (0.05, 0.0))),
}


def build_schedule(
    profile: str,
    scenario: Scenario | None = None,
    *,
    users: int | None = None,
    duration_s: float | None = None,
    spawn_rate: float | None = None,
) -> StageSchedule:
    """The schedule for ``profile``: defaults, then the scenario's override, then the flags."""
    if profile not in DEFAULT_PROFILES:
        raise InputError(f"unknown profile {profile!r}; expected one of {', '.join(PROFILE_NAMES)}")
    if users is not None and users < 1:
        raise InputError(f"--users must be at least 1, got {users}")
    if duration_s is not None and duration_s <= 0:
        raise InputError(f"--duration must be longer than 0s, got {duration_s:g}s")
    if spawn_rate is not None and spawn_rate <= 0:
        raise InputError(f"--spawn-rate must be greater than 0 users/s, got {spawn_rate:g}")
    base = DEFAULT_PROFILES[profile]
    override = scenario.profiles.get(profile, ProfileOverride()) if scenario else ProfileOverride()
    if override.is_open:
        if spawn_rate is not None:
            raise InputError(f"{profile}: --spawn-rate applies to users; this profile sets a rate (open model)")
        return _open_schedule(profile, override, max_users=users, duration_s=duration_s)

    spec = [(s.duration_ms / 1000.0, float(s.users)) for s in override.stages or ()]
    shape, target_peak, target_total = _shape(profile, override, spec, duration_s,
                                              users or override.users, float(base.users))
    rate = spawn_rate or override.spawn_rate

    built = [Stage(frac_t * target_total, _users(frac_u, round(target_peak))) for frac_t, frac_u in shape]
    if rate:
        built = _apply_spawn_rate(built, rate, target_total, profile)
    built = [Stage(round(s.duration_s, 3), s.users) for s in built]
    return StageSchedule(profile=profile, stages=tuple(built))


def _open_schedule(profile: str, override: ProfileOverride, *, max_users: int | None,
                   duration_s: float | None) -> StageSchedule:
    """Rates from the file's rate stages, or the profile's default shape scaled to the file's ``rate``."""
    spec = [(s.duration_ms / 1000.0, s.rate or 0.0) for s in override.stages or ()]
    shape, target_peak, target_total = _shape(profile, override, spec, duration_s, override.rate, 1.0)
    rates = tuple(RateStage(round(ft * target_total, 3), round(fr * target_peak, 6)) for ft, fr in shape)
    cap = max_users or override.max_users or max(1, math.ceil(2 * target_peak))
    model = OpenModel(rates=rates, max_users=cap)
    pacing = model.pacing_s
    users = tuple(Stage(s.duration_s, _pace_users(s.rate, pacing, cap)) for s in rates)
    if max(s.users for s in users) < 1:
        raise InputError(f"{profile}: the rate never reaches one iteration per {pacing:g}s; raise the rate")
    return StageSchedule(profile=profile, stages=users, open=model)


def _shape(profile: str, override: ProfileOverride, spec: list[tuple[float, float]], duration_s: float | None,
           peak: float | None, default_peak: float) -> tuple[list[tuple[float, float]], float, float]:
    """The stages as (fraction of the total time, fraction of the peak), the peak and the total seconds:
    the file's stages (``spec``: seconds and value at the end) or else the profile's default shape; the peak
    asked for (a flag, the file) or else the stages' own or ``default_peak``; the total from the flag, the
    file's ``duration``, or else the stages' own or the profile's."""
    if spec:
        total = sum(d for d, _ in spec)
        top = max(v for _, v in spec)
        shape = [(d / total, v / top) for d, v in spec]
        own_peak, own_total = top, total
    else:
        base = DEFAULT_PROFILES[profile]
        shape, own_peak, own_total = list(base.shape), default_peak, base.duration_s
    total_s = duration_s or (override.duration_ms / 1000.0 if override.duration_ms else own_total)
    return shape, peak or own_peak, total_s


def _pace_users(rate: float, pacing_s: float, cap: int) -> int:
    """Locust users that start ``rate`` iterations per second when each starts one every ``pacing_s``."""
    if rate <= 0:
        return 0
    return min(cap, max(1, math.floor(rate * pacing_s + 0.5)))


def _users(fraction: float, peak: int) -> int:
    if fraction <= 0:
        return 0
    return max(1, math.floor(fraction * peak + 0.5))


def _apply_spawn_rate(stages: list[Stage], rate: float, total: float, profile: str) -> list[Stage]:
    """Ramps last |delta users| / rate seconds; flat stages share what is left, in proportion."""
    prev = 0
    ramps: list[float | None] = []
    for s in stages:
        delta = abs(s.users - prev)
        ramps.append(delta / rate if delta else None)
        prev = s.users
    ramp_time = sum(r for r in ramps if r is not None)
    flat_time = sum(s.duration_s for s, r in zip(stages, ramps, strict=True) if r is None)
    left = total - ramp_time
    if left < 0 or (flat_time == 0 and abs(left) > 1e-9):
        raise InputError(
            f"{profile}: ramps at {rate:g} users/s need {ramp_time:g}s, more than the {total:g}s duration; "
            "raise --spawn-rate or --duration"
        )
    out = []
    for s, r in zip(stages, ramps, strict=True):
        if r is not None:
            out.append(Stage(r, s.users))
        else:
            out.append(Stage(s.duration_s * left / flat_time if flat_time else 0.0, s.users))
    return out
