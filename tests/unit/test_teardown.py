"""Journeys' teardown: the model, the k6 follow-up scenario's timing, and the Locust rule for when a stopping
user tears down (the load ended or ramped down, not an interrupt). The wire behaviour of both tools is
tests/integration/test_wire_teardown.py."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from crossload.errors import ScenarioError
from crossload.paths import resource_dir
from crossload.profiles import build_schedule
from crossload.render import render_k6, render_locust
from crossload.scenario import Scenario, load_scenario

TARGET = "http://127.0.0.1:8089"

JOURNEYS = """\
version: 1
name: t
defaults:
  timeout: 2s
data:
  ref: {generate: uuid, per: user}
journeys:
  - name: session
    setup:
      - name: sign in
        method: POST
        path: /api/login
        extract:
          token: {json: $.token}
    steps:
      - name: work
        path: /echo/work
        extract:
          item: {json: $.id}
    teardown:
      - name: csrf
        path: /echo/csrf
        headers: {Authorization: "Bearer {{ token }}"}
        extract:
          csrf: {header: X-Csrf}
        think_time: 500ms
      - name: sign out
        method: DELETE
        path: /echo/session/{{ ref }}
        headers: {Authorization: "Bearer {{ token }}", X-Csrf: "{{ csrf }}"}
  - name: browse
    steps:
      - name: look
        path: /echo/look
    teardown:
      - name: browsed
        path: /echo/browsed
"""


def _load(tmp_path: Path, text: str = JOURNEYS, profiles: str = "") -> Scenario:
    path = tmp_path / "t.yaml"
    path.write_text(text + profiles, encoding="utf-8")
    return load_scenario(path)


def test_teardown_steps_come_last_and_lengthen_the_stop(tmp_path: Path) -> None:
    s = _load(tmp_path)
    session, browse = s.journeys
    assert [r.name for r in session.teardown] == ["csrf", "sign out"]
    assert [r.name for r in session.steps] == ["sign in", "work", "csrf", "sign out"]
    assert [r.name for r in browse.teardown] == ["browsed"] and browse.setup == ()
    assert session.data == ("ref",)  # a data name only the teardown uses is drawn too
    # A request under way: 2 s timeout + 0.5 s think + 1 s, rounded up; the teardowns: 2 + 0.5, 2, 2.
    assert s.inflight_s == 4
    assert s.teardown_s == 7
    assert s.drain_s == 11  # Locust's stop timeout


def test_a_teardown_cannot_use_what_the_steps_extracted(tmp_path: Path) -> None:
    text = JOURNEYS.replace("/echo/session/{{ ref }}", "/echo/session/{{ item }}")
    with pytest.raises(ScenarioError) as e:
        _load(tmp_path, text)
    assert "journeys[0].teardown[1].path" in str(e.value)
    assert "item is extracted by a step of the journey (journeys[0].steps[0])" in str(e.value)


def test_a_teardown_cannot_use_what_a_later_teardown_step_extracts(tmp_path: Path) -> None:
    text = JOURNEYS.replace("headers: {Authorization: \"Bearer {{ token }}\"}\n        extract",
                            "headers: {Authorization: \"Bearer {{ token }}\", X-Again: \"{{ csrf }}\"}\n"
                            "        extract")
    with pytest.raises(ScenarioError) as e:
        _load(tmp_path, text)
    assert "csrf is extracted from this step's response" in str(e.value)


def test_k6_teardown_scenario_starts_when_the_load_and_its_grace_period_have_ended(tmp_path: Path) -> None:
    s = _load(tmp_path, profiles="profiles:\n  smoke:\n    users: 4\n    duration: 3s\n")
    script = render_k6(s, build_schedule("smoke", s), TARGET).text
    assert "      gracefulStop: '4s',\n" in script  # in-flight only: the teardown has a scenario of its own
    assert ("    teardown: {\n      executor: 'per-vu-iterations',\n      vus: 4,\n      iterations: 1,\n"
            "      startTime: '7s',\n      maxDuration: '8s',") in script
    assert "      exec: 'userTeardown',\n" in script
    assert ("export function userTeardown() {\n  if (setupDone.session) {\n    group('session', function () {\n"
            "      csrf() && signOut();\n    });\n  }\n  if (setupDone.browse) {\n") in script
    # browse has no setup: walking it once is what its teardown needs.
    assert "    setupDone.browse = true; // no setup: the teardown is for a VU that walked this journey\n" in script


def test_k6_teardown_scenario_in_the_open_model_takes_max_users(tmp_path: Path) -> None:
    s = _load(tmp_path, profiles="profiles:\n  smoke:\n    rate: 5/s\n    max_users: 6\n    duration: 2s\n")
    script = render_k6(s, build_schedule("smoke", s), TARGET).text
    assert "      vus: 6,\n      iterations: 1,\n      startTime: '6s'," in script


def test_no_teardown_no_teardown_scenario() -> None:
    for name in ("shop-journeys", "demo"):
        s = load_scenario(resource_dir("scenarios") / f"{name}.yaml")
        schedule = build_schedule("smoke", s)
        assert "userTeardown" not in render_k6(s, schedule, TARGET).text
        assert "on_stop" not in render_locust(s, schedule, TARGET).text
        assert s.drain_s == s.inflight_s


def test_locust_user_tears_down_its_journeys_from_on_stop(tmp_path: Path) -> None:
    s = _load(tmp_path)
    text = render_locust(s, build_schedule("smoke", s), TARGET).text
    assert ("    def on_stop(self) -> None:\n"
            "        # The end of the load (or a ramp-down) stops this user: the teardown of each journey it set up.\n"
            "        tear_down(self, [SessionJourney, BrowseJourney])\n") in text
    assert ("    def teardown(self) -> None:\n"
            '        """Once per user that set up this journey, when the load ends (the user\'s on_stop); a failed '
            'step ends it."""\n'
            "        ok = self.send(CSRF)\n        time.sleep(0.5)  # think time: 500ms\n        if not ok:\n"
            "            return\n        self.send(SIGN_OUT)\n") in text


_PROBE = """
import json, sys
sys.path.insert(0, sys.argv[1])
import crossload_locust as cl
from locust.runners import LocalRunner, MasterRunner, WorkerRunner

class Env:
    runner = None

class User:
    min_wait = max_wait = wait_function = None

    def __init__(self, runner):
        self.environment = Env()
        self.environment.runner = runner

def runner(cls, **attrs):
    r = object.__new__(cls)
    r.greenlet = None
    for k, v in attrs.items():
        setattr(r, k, v)
    return r

out = {}
out["ramp_down"] = cl.stopped_by_load(User(runner(LocalRunner, state="spawning")))
out["running"] = cl.stopped_by_load(User(runner(LocalRunner, state="running")))
out["interrupt"] = cl.stopped_by_load(User(runner(LocalRunner, state="cleanup")))
out["worker_ramp_down"] = cl.stopped_by_load(User(runner(WorkerRunner, state="running", worker_state="spawning")))
out["worker_stop"] = cl.stopped_by_load(User(runner(WorkerRunner, state="cleanup", worker_state="running")))
sent = []
class FakeMaster(MasterRunner):
    def __init__(self):
        self.greenlet = None
    def send_message(self, msg_type, data=None, client_id=None):
        sent.append(msg_type)
cl.end_of_load(FakeMaster())
out["told_workers"] = sent
out["after_end"] = cl.stopped_by_load(User(runner(LocalRunner, state="cleanup")))

class Torn(cl.Journey):
    journey = "a"
    def teardown(self):
        calls.append(self.journey)
class Other(Torn):
    journey = "b"
calls = []
u = User(runner(LocalRunner, state="running"))
cl.tear_down(u, [Torn, Other])  # a user that never started: nothing
state = cl._UserState()
state.setup_done.add("b")
u.__dict__["_crossload_state"] = state
cl.tear_down(u, [Torn, Other])
out["torn"] = calls
print(json.dumps(out))
"""


def test_locust_tears_down_at_the_end_or_a_ramp_down_not_on_an_interrupt() -> None:
    proc = subprocess.run([sys.executable, "-c", _PROBE, str(resource_dir("locust"))], capture_output=True,
                          text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out == {
        "ramp_down": True, "running": True, "interrupt": False, "worker_ramp_down": True, "worker_stop": False,
        "told_workers": ["crossload_load_ended"], "after_end": True, "torn": ["b"],
    }
