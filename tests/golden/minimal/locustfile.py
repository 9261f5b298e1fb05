# Locust file for scenario 'minimal', profile smoke: rendered by crossload 0.1.0.
# Edit the scenario file and render again rather than this file. Run it on its own with `locust -f locustfile.py`
# (crossload_locust.py and crossload_recorder.py must sit next to it); ${VAR} references are read from the
# environment when the file is loaded.
from locust import FastHttpUser, constant, task

from crossload_locust import Request, StageShape, resolve_target
from crossload_recorder import install_recorder

install_recorder()

# The requests of the scenario, prepared once when this file is loaded: ${VAR} references resolved, URL encoded.
HEALTH = Request(
    name='health',
    method='GET',
    path='/health',
)


class ScenarioUser(FastHttpUser):
    host = resolve_target('http://127.0.0.1:8089')
    wait_time = constant(0)
    network_timeout = 30.0
    connection_timeout = 30.0
    max_redirects = 0
    insecure = False  # check the target's TLS certificate, as k6 does

    @task(1)
    def health(self) -> None:
        """GET /health"""
        HEALTH.send(self)


class ScenarioShape(StageShape):
    """The number of users over time: [(seconds, users at the end of the stage), ...], as k6's ramping-vus."""

    stages = [
        [1.0, 2],
        [14.0, 2],
    ]
    spawn_rate = 2.0
