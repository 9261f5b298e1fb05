"""The open model's schedule: rates from the file or the profile's shape, the cap, Locust's user curve."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from crossload.errors import InputError
from crossload.profiles import build_schedule
from crossload.render import k6_view, locust_view
from crossload.scenario import load_scenario


def _scenario(tmp_path: Path, profiles: str):  # type: ignore[no-untyped-def]
    path = tmp_path / "s.yaml"
    path.write_text(textwrap.dedent("""\
        version: 1
        name: open
        requests:
          - name: home
            path: /
        profiles:
        """) + textwrap.indent(textwrap.dedent(profiles), "  "), encoding="utf-8")
    return load_scenario(path)


def test_rate_scales_the_default_shape_and_max_users_defaults_to_twice_the_peak(tmp_path: Path) -> None:
    s = build_schedule("load", _scenario(tmp_path, "load:\n  rate: 20/s\n  duration: 100s\n"))
    assert s.open is not None
    assert [(r.duration_s, r.rate) for r in s.open.rates] == [(20.0, 20.0), (60.0, 20.0), (20.0, 0.0)]
    assert s.open.max_users == 40 and s.open.pacing_s == 2.0
    # Locust's curve: rate x pacing users.
    assert [(st.duration_s, st.users) for st in s.stages] == [(20.0, 40), (60.0, 40), (20.0, 0)]
    assert s.rate_at(10.0) == pytest.approx(10.0) and s.rate_at(50.0) == 20.0 and s.rate_at(90.0) == pytest.approx(10.0)
    assert s.as_dict()["model"] == "open" and s.as_dict()["max_users"] == 40


def test_rate_stages_per_minute_and_users_flag_sets_the_cap(tmp_path: Path) -> None:
    sc = _scenario(tmp_path, """\
        spike:
          max_users: 6
          stages:
            - {duration: 10s, rate: 90/m}
            - {duration: 10s, rate: 3}
        """)
    s = build_schedule("spike", sc)
    assert s.open is not None and [r.rate for r in s.open.rates] == [1.5, 3.0] and s.open.max_users == 6
    assert [st.users for st in s.stages] == [3, 6]
    assert build_schedule("spike", sc, users=12).open.max_users == 12  # type: ignore[union-attr]
    assert build_schedule("spike", sc, duration_s=40).total_s == 40.0
    with pytest.raises(InputError, match="--spawn-rate applies to users"):
        build_schedule("spike", sc, spawn_rate=2)
    view = k6_view(sc, s, "http://127.0.0.1:1")["arrival"]
    # 1.5/s is not whole: k6 gets iterations per minute.
    assert view["time_unit"] == "1m" and [st["target"] for st in view["stages"]] == [90, 180]
    assert view["max_users"] == 6
    lv = locust_view(sc, s, "http://127.0.0.1:1")
    assert lv["wait_call"] == "constant_pacing(2.0)" and "wait_arrival_phase" in lv["helpers"]


def test_closed_profiles_render_as_before(tmp_path: Path) -> None:
    sc = _scenario(tmp_path, "smoke:\n  users: 3\n")
    s = build_schedule("smoke", sc)
    assert s.open is None and "model" not in s.as_dict()
    assert k6_view(sc, s, "http://127.0.0.1:1")["arrival"] is None
    assert locust_view(sc, s, "http://127.0.0.1:1")["arrival"] is None


def test_phases_spread_users_over_the_pacing_interval() -> None:
    # The support module imports Locust (which patches the process with gevent): a child Python runs it.
    code = ("import json, crossload_locust as cl; "
            "print(json.dumps([cl.arrival_phase(1.0) for _ in range(10)]))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[2] / "locust",
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    phases = sorted(json.loads(proc.stdout.strip().splitlines()[-1]))
    assert all(0.0 <= p < 1.0 for p in phases)
    # Ten users: no two start within 0.05 s of each other, and together they cover the interval.
    assert min(b - a for a, b in itertools.pairwise(phases)) > 0.05
    assert phases[0] < 0.15 and phases[-1] > 0.85
