# Locust file for scenario 'shop-session', profile smoke: rendered by crossload 0.1.0.
# Edit the scenario file and render again rather than this file. Run it on its own with `locust -f locustfile.py`
# (crossload_locust.py and crossload_recorder.py must sit next to it); ${VAR} references are read from the
# environment when the file is loaded.
import random
import time

from locust import FastHttpUser, constant, task

from crossload_locust import Journey, StageShape, Step, resolve_target, tear_down
from crossload_recorder import install_recorder

install_recorder()

# The values journeys write as {{ name }}: drawn at the start of each iteration that uses them, or once per user.
DATA = {
    'user_ref': {
        'generate': 'uuid',
        'per': 'user',
    },
    'price': {
        'generate': 'integer',
        'min': 1,
        'max': 500,
        'per': 'iteration',
    },
}

# The steps of the journeys, prepared once when this file is loaded: ${VAR} references resolved; each
# {{ name }} is filled in from the user's values when the step is sent, then the URL is encoded.

SIGN_IN = Step(
    name='sign in',
    method='POST',
    path='/api/login',
    headers={
        'Accept': 'application/json',
        'Content-Type': 'application/json',
    },
    json={
        'username': 'shopper-{{ user_ref }}',
        'password': '${CROSSLOAD_DEMO_PASSWORD:-demo}',
    },
    extract={
        'extract token from $.token': ('token', {'json': ['token']}),
    },
)

ADD_ITEM = Step(
    name='add item',
    method='POST',
    path='/api/items',
    headers={
        'Accept': 'application/json',
        'Authorization': 'Bearer {{ token }}',
        'Content-Type': 'application/json',
    },
    json={
        'name': 'lamp of {{ user_ref }}',
        'price': '{{ price }}',
    },
    expected_statuses=[201],
    extract={
        'extract item_id from $.id': ('item_id', {'json': ['id']}),
    },
)

READ_ADDED_ITEM = Step(
    name='read added item',
    method='GET',
    path='/api/items/{{ item_id }}',
    headers={
        'Accept': 'application/json',
    },
    expected_statuses=[200],
)

SIGN_OUT = Step(
    name='sign out',
    method='POST',
    path='/echo/logout',
    headers={
        'Accept': 'application/json',
        'Authorization': 'Bearer {{ token }}',
    },
    expected_statuses=[200],
)


class SessionJourney(Journey):
    """Journey 'session': sign in once per user, then each iteration: add item, read added item; sign out once per user when the load ends."""

    journey = 'session'
    # Drawn at the start of each iteration (values with per: user once per user).
    data = {name: DATA[name] for name in ['user_ref', 'price']}

    def setup(self) -> bool:
        """Once per user, before its first iteration of this journey; the iteration ends if it fails."""
        return self.send(SIGN_IN)

    def teardown(self) -> None:
        """Once per user that set up this journey, when the load ends (the user's on_stop); a failed step ends it."""
        self.send(SIGN_OUT)

    @task
    def add_item(self) -> None:
        """POST /api/items"""
        ok = self.send(ADD_ITEM)
        time.sleep(0.1)  # think time: 100ms
        if not ok:
            self.end_iteration()

    @task
    def read_added_item(self) -> None:
        """GET /api/items/{{ item_id }}"""
        self.send(READ_ADDED_ITEM)
        time.sleep(random.uniform(0.1, 0.3))  # think time: 100ms to 300ms


class ScenarioUser(FastHttpUser):
    host = resolve_target('http://127.0.0.1:8089')
    wait_time = constant(0)  # the tasks think themselves: think times differ per request
    network_timeout = 5.0
    connection_timeout = 5.0
    max_redirects = 0
    insecure = False  # check the target's TLS certificate, as k6 does
    tasks = {SessionJourney: 1}  # journeys and their weights

    def on_stop(self) -> None:
        # The end of the load (or a ramp-down) stops this user: the teardown of each journey it set up.
        tear_down(self, [SessionJourney])


class ScenarioShape(StageShape):
    """The number of users over time: [(seconds, users at the end of the stage), ...], as k6's ramping-vus."""

    stages = [
        [0.667, 3],
        [9.333, 3],
    ]
    spawn_rate = 5.0
