# Locust file for scenario 'transport', profile smoke: rendered by crossload 0.1.0.
# Edit the scenario file and render again rather than this file. Run it on its own with `locust -f locustfile.py`
# (crossload_locust.py and crossload_recorder.py must sit next to it); ${VAR} references are read from the
# environment when the file is loaded.
import random
import time

from locust import FastHttpUser, constant, task

from crossload_locust import Journey, Request, StageShape, Step, json_path_equals, resolve_target
from crossload_recorder import install_recorder

install_recorder()

# The requests of the scenario, prepared once when this file is loaded: ${VAR} references resolved, URL encoded.
COMPRESSED = Request(
    name='compressed',
    method='GET',
    path='/gzip',
    headers={
        'Accept-Encoding': 'gzip',
    },
    header_checks={
        'header Content-Encoding == "gzip"': ['Content-Encoding', 'equals', 'gzip'],
    },
    checks={
        '$.gzipped == true': lambda body: json_path_equals(body, ['gzipped'], True),
    },
)

UNCOMPRESSED = Request(
    name='uncompressed',
    method='GET',
    path='/gzip',
    headers={
        'Accept-Encoding': 'identity',
    },
    checks={
        '$.gzipped == false': lambda body: json_path_equals(body, ['gzipped'], False),
    },
)

SLOW_BUT_ALLOWED = Request(
    name='slow but allowed',
    method='GET',
    path='/delay/200',
    headers={
        'Accept-Encoding': 'gzip',
    },
    timeout=1.0,  # this request's own timeout, on the whole request
)

FOLLOWED_REDIRECTS = Request(
    name='followed redirects',
    method='GET',
    path='/redirect/2',
    headers={
        'Accept-Encoding': 'gzip',
    },
    expected_statuses=[200],
    redirects=3,  # follow up to 3 redirects: every hop is a request
)

# The steps of the journeys, prepared once when this file is loaded: ${VAR} references resolved; each
# {{ name }} is filled in from the user's values when the step is sent, then the URL is encoded.

START_SESSION = Step(
    name='start session',
    method='GET',
    path='/cookies',
    query=[
        ['session', 's-42'],
    ],
    headers={
        'Accept-Encoding': 'gzip',
    },
    extract={
        'extract session from cookie session': ('session', {'cookie': 'session'}),
    },
)

USE_SESSION = Step(
    name='use session',
    method='GET',
    path='/echo/session/{{ session }}',
    headers={
        'Accept-Encoding': 'gzip',
    },
    checks={
        'body contains "s-42"': lambda body: 's-42' in body,
    },
)

POST_THROUGH_A_REDIRECT = Step(
    name='post through a redirect',
    method='POST',
    path='/redirect/1',
    query=[
        ['code', '307'],
    ],
    headers={
        'Accept-Encoding': 'gzip',
        'Content-Type': 'application/json',
    },
    json={
        'session': '{{ session }}',
    },
    expected_statuses=[200],
    redirects=1,  # follow up to 1 redirect: every hop is a request
    checks={
        'body contains "s-42"': lambda body: 's-42' in body,
    },
)

PAGE_THROUGH = Step(
    name='page through',
    method='GET',
    path='/pages',
    query=[
        ['pages', '3'],
    ],
    headers={
        'Accept-Encoding': 'gzip',
    },
    paginate={'link': 'next'},  # then each next page, a request of its own
    max_pages=5,
    checks={
        '$.pages == 3': lambda body: json_path_equals(body, ['pages'], 3),
    },
)


class SessionJourney(Journey):
    """Journey 'session': each iteration: start session, use session, post through a redirect, page through."""

    journey = 'session'

    @task
    def start_session(self) -> None:
        """GET /cookies"""
        ok = self.send(START_SESSION)
        time.sleep(0.05)  # think time: 50ms
        if not ok:
            self.end_iteration()

    @task
    def use_session(self) -> None:
        """GET /echo/session/{{ session }}"""
        ok = self.send(USE_SESSION)
        time.sleep(0.05)  # think time: 50ms
        if not ok:
            self.end_iteration()

    @task
    def post_through_a_redirect(self) -> None:
        """POST /redirect/1"""
        ok = self.send(POST_THROUGH_A_REDIRECT)
        time.sleep(0.05)  # think time: 50ms
        if not ok:
            self.end_iteration()

    @task
    def page_through(self) -> None:
        """GET /pages, then each next page (Link rel=next), 5 pages at most"""
        self.send(PAGE_THROUGH)
        time.sleep(0.05)  # think time: 50ms


class ScenarioUser(FastHttpUser):
    host = resolve_target('http://127.0.0.1:8089')
    wait_time = constant(0)  # the tasks think themselves: think times differ per request
    network_timeout = 5.0
    connection_timeout = 5.0
    max_redirects = 0
    insecure = False  # check the target's TLS certificate, as k6 does
    tasks = {SessionJourney: 1}  # journeys and their weights

    @task(1)
    def compressed(self) -> None:
        """GET /gzip"""
        COMPRESSED.send(self)
        time.sleep(0.05)  # think time: 50ms

    @task(1)
    def uncompressed(self) -> None:
        """GET /gzip"""
        UNCOMPRESSED.send(self)
        time.sleep(0.05)  # think time: 50ms

    @task(1)
    def slow_but_allowed(self) -> None:
        """GET /delay/200"""
        SLOW_BUT_ALLOWED.send(self)
        time.sleep(0.05)  # think time: 50ms

    @task(1)
    def followed_redirects(self) -> None:
        """GET /redirect/2"""
        FOLLOWED_REDIRECTS.send(self)
        time.sleep(0.05)  # think time: 50ms


class ScenarioShape(StageShape):
    """The number of users over time: [(seconds, users at the end of the stage), ...], as k6's ramping-vus."""

    stages = [
        [1.0, 2],
        [14.0, 2],
    ]
    spawn_rate = 2.0
