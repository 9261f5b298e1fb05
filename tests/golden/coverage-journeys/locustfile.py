# Locust file for scenario 'coverage-journeys', profile smoke: rendered by crossload 0.1.0.
# Edit the scenario file and render again rather than this file. Run it on its own with `locust -f locustfile.py`
# (crossload_locust.py, crossload_recorder.py and crossload_ws.py must sit next to it, and the WebSocket steps
# need the websocket-client package); ${VAR} references are read from the environment when the file is loaded.
import random
import time

from locust import FastHttpUser, constant, task

from crossload_locust import Journey, StageShape, Step, holds, resolve_target
from crossload_recorder import install_recorder
from crossload_ws import WsStep

install_recorder()

# The values journeys write as {{ name }}: drawn at the start of each iteration that uses them, or once per user.
DATA = {
    'product': {
        'file': 'products.json',
        'order': 'random',
        'per': 'iteration',
        'rows': [
            {'sku': 'lamp-1', 'qty': 2},
            {'sku': 'chair-2', 'qty': 1},
        ],
    },
    'started': {
        'generate': 'timestamp',
        'format': 'iso',
        'per': 'iteration',
    },
    'stamp': {
        'generate': 'timestamp',
        'format': 'ms',
        'per': 'iteration',
    },
    'tier': {
        'generate': 'choice',
        'values': ['gold', 'basic', 3, True],
        'per': 'iteration',
    },
}

# The steps of the journeys, prepared once when this file is loaded: ${VAR} references resolved; each
# {{ name }} is filled in from the user's values when the step is sent, then the URL is encoded.

OPEN_FORM = Step(
    name='open form',
    method='GET',
    path='/echo/form',
    extract={
        'extract csrf from regex "csrf=([a-z0-9-]+)"': ('csrf', {'regex': 'csrf=([a-z0-9-]+)'}),
    },
)

SUBMIT = Step(
    name='submit',
    method='POST',
    path='/echo/orders',
    headers={
        'Content-Type': 'application/json',
    },
    json={
        'sku': '{{ product.sku }}',
        'qty': '{{ product.qty }}',
        'at': '{{ started }}',
        'csrf': '{{ csrf }}',
    },
)

STATUS = Step(
    name='status',
    method='GET',
    path='/echo/status',
    extract={
        'extract state from $.state': ('state', {'json': ['state']}),
    },
)

EXTRA = Step(
    name='extra',
    method='GET',
    path='/echo/extra/{{ stamp }}',
)

CHAT = WsStep(
    name='chat',
    url='/ws/echo',
    headers={
        'X-Tier': '{{ tier }}',
    },
    basic_auth=['chatter', '${CHAT_PASSWORD:-secret}'],  # the Authorization header is computed at run time
    actions=[
        {'send': {'json': {'state': 'done', 'sku': '{{ product.sku }}'}}},
        {'expect': {'name': 'chat reply', 'timeout': 2000, 'json': ['state'], 'equals': 'done'}},
        {'hold': 200},
    ],
    timeout=5.0,
)


class OrderJourney(Journey):
    """Journey 'order': each iteration: open form, submit, group 'poll status', group 'gold extras', chat."""

    journey = 'order'
    # Drawn at the start of each iteration (values with per: user once per user).
    data = {name: DATA[name] for name in ['product', 'started', 'stamp', 'tier']}

    @task
    def open_form(self) -> None:
        """GET /echo/form"""
        if not self.send(OPEN_FORM):
            self.end_iteration()

    @task
    def submit(self) -> None:
        """POST /echo/orders"""
        if holds(self.vars, {'name': 'tier', 'not_equals': 'basic'}):
            if not self.send(SUBMIT):
                self.end_iteration()

    @task
    def poll_status(self) -> None:
        """Group 'poll status': status, 5 times, until state = \"done\"."""
        with self.group('poll status'):
            for round_ in range(1, 5 + 1):
                ok = self.send(STATUS)
                time.sleep(0.1)  # think time: 100ms
                if not ok:
                    self.end_iteration()
                if holds(self.vars, {'name': 'state', 'equals': 'done'}):
                    break

    @task
    def gold_extras(self) -> None:
        """Group 'gold extras': extra, if tier = \"gold\", 2 times."""
        if not holds(self.vars, {'name': 'tier', 'equals': 'gold'}):
            return
        with self.group('gold extras'):
            for round_ in range(1, 2 + 1):
                if not self.send(EXTRA):
                    self.end_iteration()

    @task
    def chat(self) -> None:
        """WS /ws/echo"""
        self.send(CHAT)


class ScenarioUser(FastHttpUser):
    host = resolve_target('http://127.0.0.1:8089')
    wait_time = constant(0)  # the tasks think themselves: think times differ per request
    network_timeout = 5.0
    connection_timeout = 5.0
    max_redirects = 0
    insecure = True  # tls: {verify: false}: no certificate check (k6: insecureSkipTLSVerify)
    tasks = {OrderJourney: 1}  # journeys and their weights


class ScenarioShape(StageShape):
    """The number of users over time: [(seconds, users at the end of the stage), ...], as k6's ramping-vus."""

    stages = [
        [1.0, 2],
        [14.0, 2],
    ]
    spawn_rate = 2.0
