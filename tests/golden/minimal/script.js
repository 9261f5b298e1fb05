// k6 script for scenario 'minimal', profile smoke: rendered by crossload 0.1.0.
// Edit the scenario file and render again rather than this file. Run it on its own with `k6 run script.js`
// (crossload.js must sit next to it); ${VAR} references are read from the environment (__ENV).
import http from 'k6/http';
import { check } from 'k6';
import { prepare } from './crossload.js';

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
      gracefulRampDown: '31s',
      gracefulStop: '31s',
    },
  },
  discardResponseBodies: true,
  maxRedirects: 0,
  systemTags: ['status', 'method', 'name', 'expected_response', 'error_code', 'check'],
  summaryTrendStats: ['count', 'avg', 'min', 'med', 'p(90)', 'p(95)', 'p(99)', 'max'],
};

// Where the requests go and how long one may take.
const defaults = {
  baseUrl: 'http://127.0.0.1:8089',
  timeout: '30s',
};

// The requests of the scenario, prepared once per VU (init context): ${VAR} references resolved, URL encoded.
const requests = {
  health: prepare(defaults, {
    name: 'health',
    method: 'GET',
    path: '/health',
  }),
};

// health: GET /health
function health() {
  const req = requests.health;
  const res = http.get(req.url, req.params);
  check(res, {
    'status is 2xx or 3xx': (r) => r.status >= 200 && r.status < 400,
  });
}

// Each iteration sends the scenario's request.
export default function () {
  health();
}
