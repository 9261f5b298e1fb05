# Locust file for scenario 'shop-journeys', profile smoke: rendered by crossload 0.1.0.
# Edit the scenario file and render again rather than this file. Run it on its own with `locust -f locustfile.py`
# (crossload_locust.py and crossload_recorder.py must sit next to it); ${VAR} references are read from the
# environment when the file is loaded.
import random
import time

from locust import FastHttpUser, constant, task

from crossload_locust import Journey, StageShape, Step, has_json_path, holds, resolve_target
from crossload_recorder import install_recorder

install_recorder()

# The values journeys write as {{ name }}: drawn at the start of each iteration that uses them, or once per user.
DATA = {
    'shopper': {
        'file': 'data/shoppers.csv',
        'order': 'sequential',
        'per': 'user',
        'rows': [
            {'username': 'ann', 'city': 'Lisbon'},
            {'username': 'bob', 'city': 'Oslo'},
            {'username': 'chen', 'city': 'Taipei'},
            {'username': 'dana', 'city': 'Quito'},
        ],
    },
    'item_ref': {
        'generate': 'uuid',
        'per': 'iteration',
    },
    'price': {
        'generate': 'integer',
        'min': 1,
        'max': 500,
        'per': 'iteration',
    },
    'colour': {
        'generate': 'choice',
        'values': ['red', 'green', 'blue'],
        'per': 'iteration',
    },
    'page': {
        'generate': 'integer',
        'min': 1,
        'max': 50,
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
        'X-Shopper': '{{ shopper.username }}',
        'Content-Type': 'application/json',
    },
    json={
        'username': '{{ shopper.username }}',
        'password': '${CROSSLOAD_DEMO_PASSWORD:-demo}',
    },
    expected_statuses=[200],
    extract={
        'extract token from $.token': ('token', {'json': ['token']}),
    },
)

CREATE_ITEM = Step(
    name='create item',
    method='POST',
    path='/api/items',
    headers={
        'Accept': 'application/json',
        'X-Shopper': '{{ shopper.username }}',
        'Authorization': 'Bearer {{ token }}',
        'Content-Type': 'application/json',
    },
    json={
        'name': '{{ colour }} lamp {{ item_ref }}',
        'price': '{{ price }}',
    },
    expected_statuses=[201],
    extract={
        'extract item_id from $.id': ('item_id', {'json': ['id']}),
        'extract item_url from header Location': ('item_url', {'header': 'Location'}),
    },
)

READ_ITEM = Step(
    name='read item',
    method='GET',
    path='/api/items/{{ item_id }}',
    headers={
        'Accept': 'application/json',
        'X-Shopper': '{{ shopper.username }}',
    },
    expected_statuses=[200],
    checks={
        '$.name exists': lambda body: has_json_path(body, ['name']),
    },
)

READ_ITEM_BY_LOCATION = Step(
    name='read item by location',
    method='GET',
    path='{{ item_url }}',
    headers={
        'Accept': 'application/json',
        'X-Shopper': '{{ shopper.username }}',
    },
    expected_statuses=[200],
)

LIST_ITEMS = Step(
    name='list items',
    method='GET',
    path='/api/items',
    query=[
        ['page', '{{ page }}'],
        ['limit', '5'],
    ],
    headers={
        'Accept': 'application/json',
        'X-Shopper': '{{ shopper.username }}',
    },
    header_checks={
        'header X-Total-Count >= 100': ['X-Total-Count', 'at_least', 100],
    },
)

SEARCH_COLOUR = Step(
    name='search colour',
    method='GET',
    path='/api/search',
    query=[
        ['q', '{{ colour }}'],
    ],
    headers={
        'Accept': 'application/json',
        'X-Shopper': '{{ shopper.username }}',
    },
    checks={
        'body contains \'"results"\'': lambda body: '"results"' in body,
    },
)

SEARCH_MATCHING_SHADES = Step(
    name='search matching shades',
    method='GET',
    path='/api/search',
    query=[
        ['q', '{{ colour }} shades'],
    ],
    headers={
        'Accept': 'application/json',
        'X-Shopper': '{{ shopper.username }}',
    },
)

BROWSE_PAGE = Step(
    name='browse page',
    method='GET',
    path='/api/items',
    query=[
        ['page', '{{ page }}'],
        ['limit', '10'],
    ],
    headers={
        'Accept': 'application/json',
    },
    extract={
        'extract first_id from $.items[0].id': ('first_id', {'json': ['items', 0, 'id']}),
    },
)

BROWSED_PRODUCT = Step(
    name='browsed product',
    method='GET',
    path='/api/items/{{ first_id }}',
    headers={
        'Accept': 'application/json',
    },
    checks={
        '$.price exists': lambda body: has_json_path(body, ['price']),
    },
)

LIST_PAGE = Step(
    name='list page',
    method='GET',
    path='/api/items',
    query=[
        ['page', '{{ page_no }}'],
        ['limit', '10'],
    ],
    headers={
        'Accept': 'application/json',
    },
)


class BuyJourney(Journey):
    """Journey 'buy': sign in once per user, then each iteration: create item, read item, read item by location, group 'look around', search matching shades."""

    journey = 'buy'
    # Drawn at the start of each iteration (values with per: user once per user).
    data = {name: DATA[name] for name in ['shopper', 'item_ref', 'price', 'colour', 'page']}

    def setup(self) -> bool:
        """Once per user, before its first iteration of this journey; the iteration ends if it fails."""
        return self.send(SIGN_IN)

    @task
    def create_item(self) -> None:
        """POST /api/items"""
        ok = self.send(CREATE_ITEM)
        time.sleep(0.1)  # think time: 100ms
        if not ok:
            self.end_iteration()

    @task
    def read_item(self) -> None:
        """GET /api/items/{{ item_id }}"""
        ok = self.send(READ_ITEM)
        time.sleep(random.uniform(0.1, 0.3))  # think time: 100ms to 300ms
        if not ok:
            self.end_iteration()

    @task
    def read_item_by_location(self) -> None:
        """GET {{ item_url }}"""
        if not self.send(READ_ITEM_BY_LOCATION):
            self.end_iteration()

    @task
    def look_around(self) -> None:
        """Group 'look around': list items, search colour."""
        with self.group('look around'):
            if not self.send(LIST_ITEMS):
                self.end_iteration()
            ok = self.send(SEARCH_COLOUR)
            time.sleep(0.2)  # think time: 200ms
            if not ok:
                self.end_iteration()

    @task
    def search_matching_shades(self) -> None:
        """GET /api/search"""
        if holds(self.vars, {'name': 'colour', 'equals': 'red'}):
            self.send(SEARCH_MATCHING_SHADES)


class BrowseJourney(Journey):
    """Journey 'browse': each iteration: browse page, browsed product, group 'first pages'."""

    journey = 'browse'
    # Drawn at the start of each iteration (a value with per: user once per user).
    data = {name: DATA[name] for name in ['page']}

    @task
    def browse_page(self) -> None:
        """GET /api/items"""
        ok = self.send(BROWSE_PAGE)
        time.sleep(0.2)  # think time: 200ms
        if not ok:
            self.end_iteration()

    @task
    def browsed_product(self) -> None:
        """GET /api/items/{{ first_id }}"""
        if not self.send(BROWSED_PRODUCT):
            self.end_iteration()

    @task
    def first_pages(self) -> None:
        """Group 'first pages': list page, 3 times (page_no = 1 to 3)."""
        with self.group('first pages'):
            for round_ in range(1, 3 + 1):
                self.vars['page_no'] = round_
                ok = self.send(LIST_PAGE)
                time.sleep(0.1)  # think time: 100ms
                if not ok:
                    self.end_iteration()


class ScenarioUser(FastHttpUser):
    host = resolve_target('http://127.0.0.1:8089')
    wait_time = constant(0)  # the tasks think themselves: think times differ per request
    network_timeout = 5.0
    connection_timeout = 5.0
    max_redirects = 0
    insecure = False  # check the target's TLS certificate, as k6 does
    tasks = {BuyJourney: 3, BrowseJourney: 1}  # journeys and their weights


class ScenarioShape(StageShape):
    """The number of users over time: [(seconds, users at the end of the stage), ...], as k6's ramping-vus."""

    stages = [
        [0.667, 3],
        [9.333, 3],
    ]
    spawn_rate = 5.0
