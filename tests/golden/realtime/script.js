// k6 script for scenario 'realtime', profile smoke: rendered by crossload 0.1.0.
// Edit the scenario file and render again rather than this file. Run it on its own with `k6 run script.js`
// (crossload.js must sit next to it); ${VAR} references are read from the environment (__ENV).
import http from 'k6/http';
import { check, group, sleep } from 'k6';
import { countFailedCheck, draw, extract, fill, step, wsSession, wsStep } from './crossload.js';

export const options = {
  scenarios: {
    crossload: {
      executor: 'ramping-vus',
      startVUs: 0,
      stages: [
        { duration: '1s', target: 2 },
        { duration: '14s', target: 2 },
      ],
      // Long enough for a request under way (and its think time) to complete and be counted.
      gracefulRampDown: '14s',
      gracefulStop: '14s',
    },
  },
  // The scenario's thresholds: `k6 run` exits with code 99 when one is not met. crossload judges them as
  // well, on its own numbers, where a failed body check also counts as an error.
  thresholds: {
    http_req_failed: ['rate<0.01'],
    'crossload_ws{name:echo round trip}': ['p(95)<500'],
    'ws_connecting{name:notifications,status:101}': ['p(95)<1000'],
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
  client: {
    generate: 'uuid',
    per: 'user',
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
      'X-Client': '{{ client }}',
      'Content-Type': 'application/json',
    },
    json: {
      username: '{{ client }}',
      password: '${CROSSLOAD_DEMO_PASSWORD:-demo}',
    },
    responseType: 'text', // the body checks read the body
    responseCallback: http.expectedStatuses(200),
  }),
  notifications: wsStep(defaults, {
    name: 'notifications',
    url: '/ws/notifications?interval_ms=50&count=20',
    headers: {
      'X-Client': '{{ client }}',
      Authorization: 'Bearer {{ token }}',
    },
    actions: [
      { expect: { name: 'first notification', timeout: 2000, json: ['seq'], extract: [['extract seq from $.seq', 'seq', { json: ['seq'] }]] } },
      { send: { json: { seen: '{{ seq }}', client: '{{ client }}' } } },
      { expect: { name: 'acknowledged', timeout: 5000, json: ['ack'] } },
      { hold: 500 },
    ],
  }),
  echo: wsStep(defaults, {
    name: 'echo',
    url: '/ws/echo',
    headers: {
      'X-Client': '{{ client }}',
    },
    subprotocols: ['echo'],
    actions: [
      { send: { text: 'ping {{ seq }} from {{ client }}' } },
      { expect: { name: 'echo round trip', timeout: 2000, regex: '^ping (\\d+) from ', extract: [['extract echoed from regex "^ping (\\\\d+)"', 'echoed', { regex: '^ping (\\d+)' }]] } },
      { send: { binary: 'AAEC' } },
      { expect: { name: 'echo binary', timeout: 5000 } },
    ],
  }),
};

// Per VU (every VU runs this file in its own runtime): the values its journeys drew and extracted, and
// whether each journey's setup ran. Without a prototype, a name such as constructor or __proto__ is just a name.
const vars = Object.create(null);
const setupDone = Object.create(null);

// sign in (setup of live updates): POST /api/login
function signIn() {
  const req = fill(steps.signIn, vars);
  const res = http.post(req.url, req.body, req.params);
  let ok = check(res, {
    'status is 200': (r) => r.status === 200,
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

// notifications (live updates): WS /ws/notifications?interval_ms=50&count=20
// One WebSocket session: connect, then its actions in order, then close (k6/ws blocks until it is closed).
function notifications() {
  const ok = wsSession(steps.notifications, vars);
  return ok;
}

// echo (live updates): WS /ws/echo
// One WebSocket session: connect, then its actions in order, then close (k6/ws blocks until it is closed).
function echo() {
  const ok = wsSession(steps.echo, vars);
  sleep(0.1); // think time: 100ms
  return ok;
}

// Journey 'live updates': sign in once per user, then each iteration: notifications, echo.
// A failed step ends the iteration: the steps after it need what it did not get.
function liveUpdates() {
  group('live updates', function () {
    draw(vars, data, ['client']);
    if (!setupDone['live updates']) {
      // Once per VU, before its first iteration of this journey.
      setupDone['live updates'] = signIn();
      if (!setupDone['live updates']) {
        return;
      }
    }
    if (!notifications()) {
      return;
    }
    echo();
  });
}

// Each iteration walks the journey 'live updates'.
export default function () {
  liveUpdates();
}
