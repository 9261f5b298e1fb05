# Locust file for scenario 'demo-api', profile smoke: rendered by crossload 0.1.0.
# Edit the scenario file and render again rather than this file. Run it on its own with `locust -f locustfile.py`
# (crossload_locust.py and crossload_recorder.py must sit next to it); ${VAR} references are read from the
# environment when the file is loaded.
from locust import FastHttpUser, between, task

from crossload_locust import Request, StageShape, has_json_path, json_path_equals, resolve_target
from crossload_recorder import install_recorder

install_recorder()

# The requests of the scenario, prepared once when this file is loaded: ${VAR} references resolved, URL encoded.
HEALTH = Request(
    name='health',
    method='GET',
    path='/health',
    headers={
        'Accept': 'application/json',
    },
    expected_statuses=[200],
    checks={
        '$.status == "ok"': lambda body: json_path_equals(body, ['status'], 'ok'),
    },
)

LIST_ITEMS = Request(
    name='list items',
    method='GET',
    path='/api/items',
    query=[
        ['page', '1'],
        ['limit', '20'],
    ],
    headers={
        'Accept': 'application/json',
    },
    checks={
        '$.items[0].id exists': lambda body: has_json_path(body, ['items', 0, 'id']),
    },
)

ITEM_DETAIL = Request(
    name='item detail',
    method='GET',
    path='/api/items/42',
    headers={
        'Accept': 'application/json',
    },
    checks={
        '$.id == 42': lambda body: json_path_equals(body, ['id'], 42),
    },
)

SEARCH = Request(
    name='search',
    method='GET',
    path='/api/search',
    query=[
        ['q', 'item'],
    ],
    headers={
        'Accept': 'application/json',
    },
    checks={
        'body contains "results"': lambda body: 'results' in body,
    },
)

LOGIN = Request(
    name='login',
    method='POST',
    path='/api/login',
    headers={
        'Accept': 'application/json',
        'Content-Type': 'application/json',
    },
    json={
        'username': 'demo',
        'password': '${CROSSLOAD_DEMO_PASSWORD:-demo}',
    },
    checks={
        '$.token exists': lambda body: has_json_path(body, ['token']),
    },
)

CREATE_ITEM = Request(
    name='create item',
    method='POST',
    path='/api/items',
    headers={
        'Accept': 'application/json',
        'Authorization': 'Bearer ${CROSSLOAD_DEMO_TOKEN:-demo-token}',
        'Content-Type': 'application/json',
    },
    json={
        'name': 'widget',
        'price': 9.5,
    },
    expected_statuses=[201],
)


class ScenarioUser(FastHttpUser):
    host = resolve_target('http://127.0.0.1:8089')
    wait_time = between(0.1, 0.3)  # think time after each request
    network_timeout = 10.0
    connection_timeout = 10.0
    max_redirects = 0
    insecure = False  # check the target's TLS certificate, as k6 does

    @task(1)
    def health(self) -> None:
        """GET /health"""
        HEALTH.send(self)

    @task(4)
    def list_items(self) -> None:
        """GET /api/items"""
        LIST_ITEMS.send(self)

    @task(6)
    def item_detail(self) -> None:
        """GET /api/items/42"""
        ITEM_DETAIL.send(self)

    @task(2)
    def search(self) -> None:
        """GET /api/search"""
        SEARCH.send(self)

    @task(1)
    def login(self) -> None:
        """POST /api/login"""
        LOGIN.send(self)

    @task(1)
    def create_item(self) -> None:
        """POST /api/items"""
        CREATE_ITEM.send(self)


class ScenarioShape(StageShape):
    """The number of users over time: [(seconds, users at the end of the stage), ...], as k6's ramping-vus."""

    stages = [
        [1.0, 2],
        [14.0, 2],
    ]
    spawn_rate = 2.0
