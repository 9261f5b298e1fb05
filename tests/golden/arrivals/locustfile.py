# Locust file for scenario 'arrivals', profile smoke: rendered by crossload 0.1.0.
# Edit the scenario file and render again rather than this file. Run it on its own with `locust -f locustfile.py`
# (crossload_locust.py and crossload_recorder.py must sit next to it); ${VAR} references are read from the
# environment when the file is loaded.
from locust import FastHttpUser, constant_pacing, task

from crossload_locust import Request, StageShape, resolve_target, wait_arrival_phase
from crossload_recorder import install_recorder

install_recorder()

# The requests of the scenario, prepared once when this file is loaded: ${VAR} references resolved, URL encoded.
LIST_ITEMS = Request(
    name='list items',
    method='GET',
    path='/api/items',
    expected_statuses=[200],
)

HEALTH = Request(
    name='health',
    method='GET',
    path='/health',
)


class ScenarioUser(FastHttpUser):
    host = resolve_target('http://127.0.0.1:8089')
    # Open model: each user starts an iteration every 1 s, so the users of ScenarioShape start the
    # profile's iterations per second; an iteration that takes longer delays that user's next one.
    wait_time = constant_pacing(1.0)
    network_timeout = 5.0
    connection_timeout = 5.0
    max_redirects = 0
    insecure = False  # check the target's TLS certificate, as k6 does

    def on_start(self) -> None:
        # Spread the users' iterations over the pacing interval, as k6 spreads arrivals, instead of bursts.
        wait_arrival_phase(1.0)

    @task(3)
    def list_items(self) -> None:
        """GET /api/items"""
        LIST_ITEMS.send(self)

    @task(1)
    def health(self) -> None:
        """GET /health"""
        HEALTH.send(self)


class ScenarioShape(StageShape):
    """Users over time: [(seconds, users at the end of the stage), ...]: iterations per second x 1 s."""

    stages = [
        [1.0, 10],
        [14.0, 10],
    ]
    spawn_rate = 10.0
