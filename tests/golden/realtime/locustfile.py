# Locust file for scenario 'realtime', profile smoke: rendered by crossload 0.1.0.
# Edit the scenario file and render again rather than this file. Run it on its own with `locust -f locustfile.py`
# (crossload_locust.py, crossload_recorder.py and crossload_ws.py must sit next to it, and the WebSocket steps
# need the websocket-client package); ${VAR} references are read from the environment when the file is loaded.
import random
import time

from locust import FastHttpUser, constant, task

from crossload_locust import Journey, StageShape, Step, resolve_target
from crossload_recorder import install_recorder
from crossload_ws import WsStep

install_recorder()

# The values journeys write as {{ name }}: drawn at the start of each iteration that uses them, or once per user.
DATA = {
    'client': {
        'generate': 'uuid',
        'per': 'user',
    },
}

# The steps of the journeys, prepared once when this file is loaded: ${VAR} references resolved; each
# {{ name }} is filled in from the user's values when the step is sent, then the URL is encoded.

SIGN_IN = Step(
    name='sign in',
    method='POST',
    path='/api/login',
    headers={
        'X-Client': '{{ client }}',
        'Content-Type': 'application/json',
    },
    json={
        'username': '{{ client }}',
        'password': '${CROSSLOAD_DEMO_PASSWORD:-demo}',
    },
    expected_statuses=[200],
    extract={
        'extract token from $.token': ('token', {'json': ['token']}),
    },
)

NOTIFICATIONS = WsStep(
    name='notifications',
    url='/ws/notifications?interval_ms=50&count=20',
    headers={
        'X-Client': '{{ client }}',
        'Authorization': 'Bearer {{ token }}',
    },
    actions=[
        {'expect': {'name': 'first notification', 'timeout': 2000, 'json': ['seq'], 'extract': [['extract seq from $.seq', 'seq', {'json': ['seq']}]]}},
        {'send': {'json': {'seen': '{{ seq }}', 'client': '{{ client }}'}}},
        {'expect': {'name': 'acknowledged', 'timeout': 5000, 'json': ['ack']}},
        {'hold': 500},
    ],
    timeout=5.0,
)

ECHO = WsStep(
    name='echo',
    url='/ws/echo',
    headers={
        'X-Client': '{{ client }}',
    },
    subprotocols=['echo'],
    actions=[
        {'send': {'text': 'ping {{ seq }} from {{ client }}'}},
        {'expect': {'name': 'echo round trip', 'timeout': 2000, 'regex': '^ping (\\d+) from ', 'extract': [['extract echoed from regex "^ping (\\\\d+)"', 'echoed', {'regex': '^ping (\\d+)'}]]}},
        {'send': {'binary': 'AAEC'}},
        {'expect': {'name': 'echo binary', 'timeout': 5000}},
    ],
    timeout=5.0,
)


class LiveUpdatesJourney(Journey):
    """Journey 'live updates': sign in once per user, then each iteration: notifications, echo."""

    journey = 'live updates'
    # Drawn at the start of each iteration (a value with per: user once per user).
    data = {name: DATA[name] for name in ['client']}

    def setup(self) -> bool:
        """Once per user, before its first iteration of this journey; the iteration ends if it fails."""
        return self.send(SIGN_IN)

    @task
    def notifications(self) -> None:
        """WS /ws/notifications?interval_ms=50&count=20"""
        if not self.send(NOTIFICATIONS):
            self.end_iteration()

    @task
    def echo(self) -> None:
        """WS /ws/echo"""
        self.send(ECHO)
        time.sleep(0.1)  # think time: 100ms


class ScenarioUser(FastHttpUser):
    host = resolve_target('http://127.0.0.1:8089')
    wait_time = constant(0)  # the tasks think themselves: think times differ per request
    network_timeout = 5.0
    connection_timeout = 5.0
    max_redirects = 0
    insecure = False  # check the target's TLS certificate, as k6 does
    tasks = {LiveUpdatesJourney: 1}  # journeys and their weights


class ScenarioShape(StageShape):
    """The number of users over time: [(seconds, users at the end of the stage), ...], as k6's ramping-vus."""

    stages = [
        [1.0, 2],
        [14.0, 2],
    ]
    spawn_rate = 2.0
