// k6 script for scenario 'coverage-journeys', profile smoke: rendered by crossload 0.1.0.
// Edit the scenario file and render again rather than this file. Run it on its own with `k6 run script.js`
// (crossload.js must sit next to it); ${VAR} references are read from the environment (__ENV).
import http from 'k6/http';
import { check, group, sleep } from 'k6';
import { SharedArray } from 'k6/data';
import { countFailedCheck, draw, extract, fill, holds, step, timedGroup, wsSession, wsStep } from './crossload.js';

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
      gracefulRampDown: '9s',
      gracefulStop: '9s',
    },
  },
  discardResponseBodies: true,
  maxRedirects: 0,
  insecureSkipTLSVerify: true, // tls: {verify: false}: no certificate check
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
  product: {
    file: 'products.json',
    order: 'random',
    per: 'iteration',
    rows: new SharedArray('product', () => [
      { sku: 'lamp-1', qty: 2 },
      { sku: 'chair-2', qty: 1 },
    ]),
  },
  started: {
    generate: 'timestamp',
    format: 'iso',
    per: 'iteration',
  },
  stamp: {
    generate: 'timestamp',
    format: 'ms',
    per: 'iteration',
  },
  tier: {
    generate: 'choice',
    values: ['gold', 'basic', 3, true],
    per: 'iteration',
  },
};

// The steps of the journeys, prepared once per VU: ${VAR} references resolved; each {{ name }} is filled in
// from the VU's values when the step is sent, then the URL is encoded.
const steps = {
  openForm: step(defaults, {
    name: 'open form',
    method: 'GET',
    path: '/echo/form',
    responseType: 'text', // the body checks read the body
  }),
  submit: step(defaults, {
    name: 'submit',
    method: 'POST',
    path: '/echo/orders',
    headers: {
      'Content-Type': 'application/json',
    },
    json: {
      sku: '{{ product.sku }}',
      qty: '{{ product.qty }}',
      at: '{{ started }}',
      csrf: '{{ csrf }}',
    },
  }),
  status: step(defaults, {
    name: 'status',
    method: 'GET',
    path: '/echo/status',
    responseType: 'text', // the body checks read the body
  }),
  extra: step(defaults, {
    name: 'extra',
    method: 'GET',
    path: '/echo/extra/{{ stamp }}',
  }),
  chat: wsStep(defaults, {
    name: 'chat',
    url: '/ws/echo',
    headers: {
      'X-Tier': '{{ tier }}',
    },
    basicAuth: ['chatter', '${CHAT_PASSWORD:-secret}'], // the Authorization header is computed at run time
    actions: [
      { send: { json: { state: 'done', sku: '{{ product.sku }}' } } },
      { expect: { name: 'chat reply', timeout: 2000, json: ['state'], equals: 'done' } },
      { hold: 200 },
    ],
  }),
};

// Per VU (every VU runs this file in its own runtime): the values its journeys drew and extracted, and
// whether each journey's setup ran. Without a prototype, a name such as constructor or __proto__ is just a name.
const vars = Object.create(null);
const setupDone = Object.create(null);

// open form (order): GET /echo/form
function openForm() {
  const req = fill(steps.openForm, vars);
  const res = http.get(req.url, req.params);
  let ok = check(res, {
    'status is 2xx or 3xx': (r) => r.status >= 200 && r.status < 400,
  });
  if (ok) {
    const bodyChecks = {
      'extract csrf from regex "csrf=([a-z0-9-]+)"': (r) => extract(r, vars, 'csrf', { regex: 'csrf=([a-z0-9-]+)' }),
    };
    ok = check(res, bodyChecks);
    if (!ok) {
      countFailedCheck(res, req, bodyChecks);
    }
  }
  return ok;
}

// submit (order, if tier != "basic"): POST /echo/orders
function submit() {
  const req = fill(steps.submit, vars);
  const res = http.post(req.url, req.body, req.params);
  const ok = check(res, {
    'status is 2xx or 3xx': (r) => r.status >= 200 && r.status < 400,
  });
  return ok;
}

// status (order, group poll status): GET /echo/status
function status() {
  const req = fill(steps.status, vars);
  const res = http.get(req.url, req.params);
  let ok = check(res, {
    'status is 2xx or 3xx': (r) => r.status >= 200 && r.status < 400,
  });
  if (ok) {
    const bodyChecks = {
      'extract state from $.state': (r) => extract(r, vars, 'state', { json: ['state'] }),
    };
    ok = check(res, bodyChecks);
    if (!ok) {
      countFailedCheck(res, req, bodyChecks);
    }
  }
  sleep(0.1); // think time: 100ms
  return ok;
}

// extra (order, group gold extras): GET /echo/extra/{{ stamp }}
function extra() {
  const req = fill(steps.extra, vars);
  const res = http.get(req.url, req.params);
  const ok = check(res, {
    'status is 2xx or 3xx': (r) => r.status >= 200 && r.status < 400,
  });
  return ok;
}

// chat (order): WS /ws/echo
// One WebSocket session: connect, then its actions in order, then close (k6/ws blocks until it is closed).
function chat() {
  const ok = wsSession(steps.chat, vars);
  return ok;
}

// Journey 'order': each iteration: open form, submit, group 'poll status', group 'gold extras', chat.
// A failed step ends the iteration: the steps after it need what it did not get.
function order() {
  group('order', function () {
    draw(vars, data, ['product', 'started', 'stamp', 'tier']);
    if (!openForm()) {
      return;
    }
    if (holds(vars, { name: 'tier', not_equals: 'basic' }) && !submit()) {
      return;
    }
    if (!timedGroup('poll status', function () {
      for (let round = 1; round <= 5; round++) {
        if (!status()) {
          return false;
        }
        if (holds(vars, { name: 'state', equals: 'done' })) {
          break;
        }
      }
      return true;
    })) {
      return;
    }
    if (holds(vars, { name: 'tier', equals: 'gold' }) && !timedGroup('gold extras', function () {
      for (let round = 1; round <= 2; round++) {
        if (!extra()) {
          return false;
        }
      }
      return true;
    })) {
      return;
    }
    chat();
  });
}

// Each iteration walks the journey 'order'.
export default function () {
  order();
}
