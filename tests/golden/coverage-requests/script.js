// k6 script for scenario 'coverage-requests', profile smoke: rendered by crossload 0.1.0.
// Edit the scenario file and render again rather than this file. Run it on its own with `k6 run script.js`
// (crossload.js must sit next to it); ${VAR} references are read from the environment (__ENV).
import http from 'k6/http';
import { check } from 'k6';
import { countFailedCheck, headerCheck, prepare } from './crossload.js';

export const options = {
  scenarios: {
    crossload: {
      executor: 'ramping-vus',
      startVUs: 0,
      stages: [
        { duration: '5s', target: 2 },
        { duration: '10s', target: 4 },
        { duration: '5s', target: 0 },
      ],
      // Long enough for a request under way (and its think time) to complete and be counted.
      gracefulRampDown: '4s',
      gracefulStop: '4s',
    },
  },
  // The scenario's thresholds: `k6 run` exits with code 99 when one is not met. crossload judges them as
  // well, on its own numbers, where a failed body check also counts as an error.
  thresholds: {
    http_req_failed: ['rate<0.05'],
    'http_req_duration{name:replace item,expected_response:true}': ['p(90)<400'],
    // 'error_rate < 5%' stops the run early when it fails over the last 30s: crossload judges that while the run goes on (k6 has no windows).
  },
  discardResponseBodies: true,
  maxRedirects: 0,
  // tls: {ca: ...}: k6 trusts the certificate authorities in ca.pem when its environment holds
  // SSL_CERT_FILE=ca.pem (crossload sets it; set it yourself to run this file on its own).
  systemTags: ['status', 'method', 'name', 'expected_response', 'error_code', 'check'],
  summaryTrendStats: ['count', 'avg', 'min', 'med', 'p(90)', 'p(95)', 'p(99)', 'max'],
};

// Where the requests go and how long one may take.
const defaults = {
  baseUrl: 'http://127.0.0.1:8089',
  timeout: '3s',
};

// The requests of the scenario, prepared once per VU (init context): ${VAR} references resolved, URL encoded.
const requests = {
  replaceItem: prepare(defaults, {
    name: 'replace item',
    method: 'PUT',
    path: '/api/items/7',
    headers: {
      Accept: 'application/json',
      'Content-Type': 'application/json',
    },
    basicAuth: ['tester', '${API_PASSWORD}'], // the Authorization header is computed at run time
    json: {
      name: 'lamp',
      price: 10,
    },
    responseCallback: http.expectedStatuses(200, 204),
  }),
  removeItem: prepare(defaults, {
    name: 'remove item',
    method: 'DELETE',
    path: '/api/items/7',
    headers: {
      Accept: 'application/json',
      Authorization: 'Bearer ${API_TOKEN:-demo-token}',
    },
  }),
  patchItem: prepare(defaults, {
    name: 'patch item',
    method: 'PATCH',
    path: '/api/items/7',
    headers: {
      Accept: 'application/json',
      'Content-Type': 'text/plain',
    },
    basicAuth: ['tester', '${API_PASSWORD}'], // the Authorization header is computed at run time
    body: 'price=11',
  }),
  probe: prepare(defaults, {
    name: 'probe',
    method: 'HEAD',
    path: '/health',
    headers: {
      Accept: 'application/json',
      'Accept-Encoding': 'identity',
    },
    basicAuth: ['tester', '${API_PASSWORD}'], // the Authorization header is computed at run time
  }),
};

// replace item: PUT /api/items/7
function replaceItem() {
  const req = requests.replaceItem;
  const res = http.put(req.url, req.body, req.params);
  const statusOk = check(res, {
    'status in [200, 204]': (r) => [200, 204].includes(r.status),
  });
  if (statusOk) {
    const bodyChecks = {
      'header Content-Type == "application/json"': (r) => headerCheck(r, 'Content-Type', 'equals', 'application/json'),
      'header X-Total-Count exists': (r) => headerCheck(r, 'X-Total-Count', 'exists', true),
      'header X-Total-Count >= 1': (r) => headerCheck(r, 'X-Total-Count', 'at_least', 1),
      'header X-Total-Count <= 1000': (r) => headerCheck(r, 'X-Total-Count', 'at_most', 1000),
      'header X-Debug is absent': (r) => headerCheck(r, 'X-Debug', 'exists', false),
      'header X-Api-Version == "2"': (r) => headerCheck(r, 'X-Api-Version', 'equals', '2'),
    };
    if (!check(res, bodyChecks)) {
      countFailedCheck(res, req, bodyChecks);
    }
  }
}

// remove item: DELETE /api/items/7
function removeItem() {
  const req = requests.removeItem;
  const res = http.del(req.url, req.body, req.params);
  check(res, {
    'status is 2xx or 3xx': (r) => r.status >= 200 && r.status < 400,
  });
}

// patch item: PATCH /api/items/7
function patchItem() {
  const req = requests.patchItem;
  const res = http.patch(req.url, req.body, req.params);
  check(res, {
    'status is 2xx or 3xx': (r) => r.status >= 200 && r.status < 400,
  });
}

// probe: HEAD /health
function probe() {
  const req = requests.probe;
  const res = http.head(req.url, req.params);
  check(res, {
    'status is 2xx or 3xx': (r) => r.status >= 200 && r.status < 400,
  });
}

// Each iteration sends one request, picked at random with probability weight / 5.
export default function () {
  const pick = Math.random() * 5;
  if (pick < 1) {
    replaceItem(); // weight 1
  } else if (pick < 3) {
    removeItem(); // weight 2
  } else if (pick < 4) {
    patchItem(); // weight 1
  } else {
    probe(); // weight 1
  }
}
