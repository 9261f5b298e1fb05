# Locust file for scenario 'checkout-journey', profile smoke: rendered by crossload 0.1.0.
# Edit the scenario file and render again rather than this file. Run it on its own with `locust -f locustfile.py`
# (crossload_locust.py and crossload_recorder.py must sit next to it); ${VAR} references are read from the
# environment when the file is loaded.
import random
import time

from locust import FastHttpUser, constant, task

from crossload_locust import Request, StageShape, has_json_path, json_path_equals, lacks_json_path, resolve_target
from crossload_recorder import install_recorder

install_recorder()

# The requests of the scenario, prepared once when this file is loaded: ${VAR} references resolved, URL encoded.
HEALTH = Request(
    name='health',
    method='GET',
    path='/health',
    headers={
        'Accept': 'application/json',
        'X-Client': 'crossload-checkout/1',
    },
    expected_statuses=[200],
    checks={
        '$.status == "ok"': lambda body: json_path_equals(body, ['status'], 'ok'),
    },
)

BROWSE = Request(
    name='browse',
    method='GET',
    path='/api/items',
    query=[
        ['page', '2'],
        ['limit', '10'],
    ],
    headers={
        'Accept': 'application/json',
        'X-Client': 'crossload-checkout/1',
    },
    checks={
        '$.items[0].id exists': lambda body: has_json_path(body, ['items', 0, 'id']),
        '$.limit == 10': lambda body: json_path_equals(body, ['limit'], 10),
        '$.error is absent': lambda body: lacks_json_path(body, ['error']),
    },
)

SEARCH = Request(
    name='search',
    method='GET',
    path='/api/search',
    query=[
        ['q', 'lamp'],
        ['q', 'chair'],
    ],
    headers={
        'Accept': 'application/json',
        'X-Client': 'crossload-checkout/1',
    },
    expected_statuses=[200],
    checks={
        'body contains \'"query":"lamp"\'': lambda body: '"query":"lamp"' in body,
        'body contains \'"results"\'': lambda body: '"results"' in body,
    },
)

PRODUCT = Request(
    name='product',
    method='GET',
    path='/api/items/7',
    headers={
        'Accept': 'application/json',
        'X-Client': 'crossload-checkout/1',
    },
    checks={
        '$.id == 7': lambda body: json_path_equals(body, ['id'], 7),
        '$.name == "Light Lamp 7"': lambda body: json_path_equals(body, ['name'], 'Light Lamp 7'),
        '$.price exists': lambda body: has_json_path(body, ['price']),
    },
)

LOGIN = Request(
    name='login',
    method='POST',
    path='/api/login',
    headers={
        'Accept': 'application/json',
        'X-Client': 'crossload-checkout/1',
        'Content-Type': 'application/json',
    },
    json={
        'username': 'shopper',
        'password': '${CROSSLOAD_DEMO_PASSWORD:-demo}',
    },
    expected_statuses=[200],
    checks={
        '$.token exists': lambda body: has_json_path(body, ['token']),
    },
)

ADD_ITEM = Request(
    name='add item',
    method='POST',
    path='/api/items',
    headers={
        'Accept': 'application/json',
        'X-Client': 'crossload-checkout/1',
        'Authorization': 'Bearer ${CROSSLOAD_DEMO_TOKEN:-demo-token}',
        'Content-Type': 'application/json',
    },
    json={
        'name': 'checkout widget',
        'price': 12.5,
    },
    expected_statuses=[201],
    checks={
        '$.name == "checkout widget"': lambda body: json_path_equals(body, ['name'], 'checkout widget'),
        '$.price == 12.5': lambda body: json_path_equals(body, ['price'], 12.5),
    },
)

PLACE_ORDER = Request(
    name='place order',
    method='POST',
    path='/echo/orders',
    headers={
        'Accept': 'application/json',
        'X-Client': 'crossload-checkout/1',
        'Content-Type': 'application/x-www-form-urlencoded',
    },
    body='item=7&quantity=2&express=true',
    expected_statuses=[200],
    checks={
        '$.method == "POST"': lambda body: json_path_equals(body, ['method'], 'POST'),
        '$.body == "item=7&quantity=2&express=true"': lambda body: json_path_equals(body, ['body'], 'item=7&quantity=2&express=true'),
    },
)

SLOW_RECOMMENDATIONS = Request(
    name='slow recommendations',
    method='GET',
    path='/delay/50',
    headers={
        'Accept': 'application/json',
        'X-Client': 'crossload-checkout/1',
    },
    checks={
        '$.delayed_ms == 50': lambda body: json_path_equals(body, ['delayed_ms'], 50),
    },
)


class ScenarioUser(FastHttpUser):
    host = resolve_target('http://127.0.0.1:8089')
    wait_time = constant(0)  # the tasks think themselves: think times differ per request
    network_timeout = 5.0
    connection_timeout = 5.0
    max_redirects = 0
    insecure = False  # check the target's TLS certificate, as k6 does

    @task(1)
    def health(self) -> None:
        """GET /health"""
        HEALTH.send(self)

    @task(8)
    def browse(self) -> None:
        """GET /api/items"""
        BROWSE.send(self)
        time.sleep(random.uniform(0.2, 0.8))  # think time: 200ms to 800ms

    @task(4)
    def search(self) -> None:
        """GET /api/search"""
        SEARCH.send(self)
        time.sleep(random.uniform(0.2, 0.8))  # think time: 200ms to 800ms

    @task(6)
    def product(self) -> None:
        """GET /api/items/7"""
        PRODUCT.send(self)
        time.sleep(random.uniform(0.2, 0.8))  # think time: 200ms to 800ms

    @task(2)
    def login(self) -> None:
        """POST /api/login"""
        LOGIN.send(self)
        time.sleep(random.uniform(1.0, 2.0))  # think time: 1s to 2s

    @task(1)
    def add_item(self) -> None:
        """POST /api/items"""
        ADD_ITEM.send(self)
        time.sleep(random.uniform(0.2, 0.8))  # think time: 200ms to 800ms

    @task(1)
    def place_order(self) -> None:
        """POST /echo/orders"""
        PLACE_ORDER.send(self)
        time.sleep(random.uniform(0.2, 0.8))  # think time: 200ms to 800ms

    @task(1)
    def slow_recommendations(self) -> None:
        """GET /delay/50"""
        SLOW_RECOMMENDATIONS.send(self)
        time.sleep(random.uniform(0.2, 0.8))  # think time: 200ms to 800ms


class ScenarioShape(StageShape):
    """The number of users over time: [(seconds, users at the end of the stage), ...], as k6's ramping-vus."""

    stages = [
        [1.333, 3],
        [18.667, 3],
    ]
    spawn_rate = 3.0
