# Locust file for scenario 'coverage-requests', profile smoke: rendered by crossload 0.1.0.
# Edit the scenario file and render again rather than this file. Run it on its own with `locust -f locustfile.py`
# (crossload_locust.py and crossload_recorder.py must sit next to it); ${VAR} references are read from the
# environment when the file is loaded.
from locust import FastHttpUser, constant, task

from crossload_locust import Request, StageShape, TrustedCa, resolve_target
from crossload_recorder import install_recorder

install_recorder()

# The requests of the scenario, prepared once when this file is loaded: ${VAR} references resolved, URL encoded.
REPLACE_ITEM = Request(
    name='replace item',
    method='PUT',
    path='/api/items/7',
    headers={
        'Accept': 'application/json',
        'Content-Type': 'application/json',
    },
    basic_auth=['tester', '${API_PASSWORD}'],  # the Authorization header is computed at run time
    json={
        'name': 'lamp',
        'price': 10,
    },
    expected_statuses=[200, 204],
    header_checks={
        'header Content-Type == "application/json"': ['Content-Type', 'equals', 'application/json'],
        'header X-Total-Count exists': ['X-Total-Count', 'exists', True],
        'header X-Total-Count >= 1': ['X-Total-Count', 'at_least', 1],
        'header X-Total-Count <= 1000': ['X-Total-Count', 'at_most', 1000],
        'header X-Debug is absent': ['X-Debug', 'exists', False],
        'header X-Api-Version == "2"': ['X-Api-Version', 'equals', '2'],
    },
)

REMOVE_ITEM = Request(
    name='remove item',
    method='DELETE',
    path='/api/items/7',
    headers={
        'Accept': 'application/json',
        'Authorization': 'Bearer ${API_TOKEN:-demo-token}',
    },
)

PATCH_ITEM = Request(
    name='patch item',
    method='PATCH',
    path='/api/items/7',
    headers={
        'Accept': 'application/json',
        'Content-Type': 'text/plain',
    },
    basic_auth=['tester', '${API_PASSWORD}'],  # the Authorization header is computed at run time
    body='price=11',
)

PROBE = Request(
    name='probe',
    method='HEAD',
    path='/health',
    headers={
        'Accept': 'application/json',
        'Accept-Encoding': 'identity',
    },
    basic_auth=['tester', '${API_PASSWORD}'],  # the Authorization header is computed at run time
)


class ScenarioUser(FastHttpUser):
    host = resolve_target('http://127.0.0.1:8089')
    wait_time = constant(0)
    network_timeout = 3.0
    connection_timeout = 3.0
    max_redirects = 0
    insecure = False  # check the target's TLS certificate, as k6 does
    ssl_context_factory = TrustedCa('ca.pem')  # tls: {ca: ...}: trust these authorities too

    @task(1)
    def replace_item(self) -> None:
        """PUT /api/items/7"""
        REPLACE_ITEM.send(self)

    @task(2)
    def remove_item(self) -> None:
        """DELETE /api/items/7"""
        REMOVE_ITEM.send(self)

    @task(1)
    def patch_item(self) -> None:
        """PATCH /api/items/7"""
        PATCH_ITEM.send(self)

    @task(1)
    def probe(self) -> None:
        """HEAD /health"""
        PROBE.send(self)


class ScenarioShape(StageShape):
    """The number of users over time: [(seconds, users at the end of the stage), ...], as k6's ramping-vus."""

    stages = [
        [5.0, 2],
        [10.0, 4],
        [5.0, 0],
    ]
    spawn_rate = 1.0
