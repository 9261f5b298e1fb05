// k6 script for scenario 'arrivals', profile smoke: rendered by crossload 0.1.0.
// Edit the scenario file and render again rather than this file. Run it on its own with `k6 run script.js`
// (crossload.js must sit next to it); ${VAR} references are read from the environment (__ENV).
import http from 'k6/http';
import { check } from 'k6';
import { prepare } from './crossload.js';

export const options = {
  scenarios: {
    crossload: {
      // Open model: iterations started per second (stage targets), whatever the response times; at most
      // 10 iterations under way at once (k6 counts the ones it could not start as dropped_iterations).
      executor: 'ramping-arrival-rate',
      startRate: 0,
      timeUnit: '1s',
      preAllocatedVUs: 10,
      maxVUs: 10,
      stages: [
        { duration: '1s', target: 10 },
        { duration: '14s', target: 10 },
      ],
      // Long enough for a request under way (and its think time) to complete and be counted.
      gracefulStop: '6s',
    },
  },
  // The scenario's thresholds: `k6 run` exits with code 99 when one is not met. crossload judges them as
  // well, on its own numbers, where a failed body check also counts as an error.
  thresholds: {
    'http_req_duration{expected_response:true}': ['p(95)<500'],
    http_req_failed: ['rate<0.01'],
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

// The requests of the scenario, prepared once per VU (init context): ${VAR} references resolved, URL encoded.
const requests = {
  listItems: prepare(defaults, {
    name: 'list items',
    method: 'GET',
    path: '/api/items',
    responseCallback: http.expectedStatuses(200),
  }),
  health: prepare(defaults, {
    name: 'health',
    method: 'GET',
    path: '/health',
  }),
};

// list items: GET /api/items
function listItems() {
  const req = requests.listItems;
  const res = http.get(req.url, req.params);
  check(res, {
    'status is 200': (r) => r.status === 200,
  });
}

// health: GET /health
function health() {
  const req = requests.health;
  const res = http.get(req.url, req.params);
  check(res, {
    'status is 2xx or 3xx': (r) => r.status >= 200 && r.status < 400,
  });
}

// Each iteration sends one request, picked at random with probability weight / 4.
export default function () {
  const pick = Math.random() * 4;
  if (pick < 3) {
    listItems(); // weight 3
  } else {
    health(); // weight 1
  }
}
