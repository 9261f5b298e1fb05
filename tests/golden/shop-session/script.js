// k6 script for scenario 'shop-session', profile smoke: rendered by crossload 0.1.0.
// Edit the scenario file and render again rather than this file. Run it on its own with `k6 run script.js`
// (crossload.js must sit next to it); ${VAR} references are read from the environment (__ENV).
import http from 'k6/http';
import { check, group, sleep } from 'k6';
import { countFailedCheck, draw, extract, fill, step } from './crossload.js';

export const options = {
  scenarios: {
    crossload: {
      executor: 'ramping-vus',
      startVUs: 0,
      stages: [
        { duration: '667ms', target: 3 },
        { duration: '9333ms', target: 3 },
      ],
      // Long enough for a request under way (and its think time) to complete and be counted.
      gracefulRampDown: '7s',
      gracefulStop: '7s',
    },
    // When the load above has ended (its graceful stop included): every VU runs userTeardown() once, with the
    // values it kept; a VU that did not set up a journey with a teardown sends nothing. Starting no earlier,
    // this scenario gets the VUs of the load (scenarios that overlap in time would get VUs of their own).
    teardown: {
      executor: 'per-vu-iterations',
      vus: 3,
      iterations: 1,
      startTime: '17s',
      maxDuration: '6s', // every teardown step's timeout and think time, in turn
      gracefulStop: '0s',
      exec: 'userTeardown',
    },
  },
  // The scenario's thresholds: `k6 run` exits with code 99 when one is not met. crossload judges them as
  // well, on its own numbers, where a failed body check also counts as an error.
  thresholds: {
    http_req_failed: ['rate<0.01'],
    'http_req_duration{name:add item,expected_response:true}': ['p(95)<300'],
  },
  discardResponseBodies: true,
  maxRedirects: 0,
  systemTags: ['status', 'method', 'name', 'expected_response', 'error_code', 'check'],
  summaryTrendStats: ['count', 'avg', 'min', 'med', 'p(90)', 'p(95)', 'p(99)', 'max'],
};

// Where the requests go and how long one may take.
const defaults = {
  baseUrl: 'http://127.0.0.1:8089',
  timeout: '5s',
};


// The values journeys write as {{ name }}: drawn at the start of each iteration that uses them, or once per VU.
const data = {
  user_ref: {
    generate: 'uuid',
    per: 'user',
  },
  price: {
    generate: 'integer',
    min: 1,
    max: 500,
    per: 'iteration',
  },
};

// The steps of the journeys, prepared once per VU: ${VAR} references resolved; each {{ name }} is filled in
// from the VU's values when the step is sent, then the URL is encoded.
const steps = {
  signIn: step(defaults, {
    name: 'sign in',
    method: 'POST',
    path: '/api/login',
    headers: {
      Accept: 'application/json',
      'Content-Type': 'application/json',
    },
    json: {
      username: 'shopper-{{ user_ref }}',
      password: '${CROSSLOAD_DEMO_PASSWORD:-demo}',
    },
    responseType: 'text', // the body checks read the body
  }),
  addItem: step(defaults, {
    name: 'add item',
    method: 'POST',
    path: '/api/items',
    headers: {
      Accept: 'application/json',
      Authorization: 'Bearer {{ token }}',
      'Content-Type': 'application/json',
    },
    json: {
      name: 'lamp of {{ user_ref }}',
      price: '{{ price }}',
    },
    responseType: 'text', // the body checks read the body
    responseCallback: http.expectedStatuses(201),
  }),
  readAddedItem: step(defaults, {
    name: 'read added item',
    method: 'GET',
    path: '/api/items/{{ item_id }}',
    headers: {
      Accept: 'application/json',
    },
    responseCallback: http.expectedStatuses(200),
  }),
  signOut: step(defaults, {
    name: 'sign out',
    method: 'POST',
    path: '/echo/logout',
    headers: {
      Accept: 'application/json',
      Authorization: 'Bearer {{ token }}',
    },
    responseCallback: http.expectedStatuses(200),
  }),
};

// Per VU (every VU runs this file in its own runtime): the values its journeys drew and extracted, and
// whether each journey's setup ran. Without a prototype, a name such as constructor or __proto__ is just a name.
const vars = Object.create(null);
const setupDone = Object.create(null);

// sign in (setup of session): POST /api/login
function signIn() {
  const req = fill(steps.signIn, vars);
  const res = http.post(req.url, req.body, req.params);
  let ok = check(res, {
    'status is 2xx or 3xx': (r) => r.status >= 200 && r.status < 400,
  });
  if (ok) {
    const bodyChecks = {
      'extract token from $.token': (r) => extract(r, vars, 'token', { json: ['token'] }),
    };
    ok = check(res, bodyChecks);
    if (!ok) {
      countFailedCheck(res, req, bodyChecks);
    }
  }
  return ok;
}

// add item (session): POST /api/items
function addItem() {
  const req = fill(steps.addItem, vars);
  const res = http.post(req.url, req.body, req.params);
  let ok = check(res, {
    'status is 201': (r) => r.status === 201,
  });
  if (ok) {
    const bodyChecks = {
      'extract item_id from $.id': (r) => extract(r, vars, 'item_id', { json: ['id'] }),
    };
    ok = check(res, bodyChecks);
    if (!ok) {
      countFailedCheck(res, req, bodyChecks);
    }
  }
  sleep(0.1); // think time: 100ms
  return ok;
}

// read added item (session): GET /api/items/{{ item_id }}
function readAddedItem() {
  const req = fill(steps.readAddedItem, vars);
  const res = http.get(req.url, req.params);
  const ok = check(res, {
    'status is 200': (r) => r.status === 200,
  });
  sleep(0.1 + Math.random() * 0.2); // think time: 100ms to 300ms
  return ok;
}

// sign out (teardown of session): POST /echo/logout
function signOut() {
  const req = fill(steps.signOut, vars);
  const res = http.post(req.url, req.body, req.params);
  const ok = check(res, {
    'status is 200': (r) => r.status === 200,
  });
  return ok;
}

// Journey 'session': sign in once per user, then each iteration: add item, read added item; sign out once per user when the load ends.
// A failed step ends the iteration: the steps after it need what it did not get.
function session() {
  group('session', function () {
    draw(vars, data, ['user_ref', 'price']);
    if (!setupDone.session) {
      // Once per VU, before its first iteration of this journey.
      setupDone.session = signIn();
      if (!setupDone.session) {
        return;
      }
    }
    if (!addItem()) {
      return;
    }
    readAddedItem();
  });
}

// Once per VU, when the load has ended (the scenario 'teardown'): the teardown of each journey it set up,
// with its values. A failed step ends that journey's teardown.
export function userTeardown() {
  if (setupDone.session) {
    group('session', function () {
      signOut();
    });
  }
}

// Each iteration walks the journey 'session'.
export default function () {
  session();
}
