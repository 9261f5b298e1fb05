// k6 script for scenario 'demo-api', profile smoke: rendered by crossload 0.1.0.
// Edit the scenario file and render again rather than this file. Run it on its own with `k6 run script.js`
// (crossload.js must sit next to it); ${VAR} references are read from the environment (__ENV).
import http from 'k6/http';
import { check, sleep } from 'k6';
import { countFailedCheck, hasJsonPath, jsonPathEquals, prepare } from './crossload.js';

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
      gracefulRampDown: '12s',
      gracefulStop: '12s',
    },
  },
  // The scenario's thresholds: `k6 run` exits with code 99 when one is not met. crossload judges them as
  // well, on its own numbers, where a failed body check also counts as an error.
  thresholds: {
    http_req_failed: ['rate<0.01'],
    'http_req_duration{expected_response:true}': ['p(95)<500'],
    'http_req_duration{name:item detail,expected_response:true}': ['p(99)<1000'],
  },
  discardResponseBodies: true,
  maxRedirects: 0,
  systemTags: ['status', 'method', 'name', 'expected_response', 'error_code', 'check'],
  summaryTrendStats: ['count', 'avg', 'min', 'med', 'p(90)', 'p(95)', 'p(99)', 'max'],
};

// Where the requests go and how long one may take.
const defaults = {
  baseUrl: 'http://127.0.0.1:8089',
  timeout: '10s',
};

// The requests of the scenario, prepared once per VU (init context): ${VAR} references resolved, URL encoded.
const requests = {
  health: prepare(defaults, {
    name: 'health',
    method: 'GET',
    path: '/health',
    headers: {
      Accept: 'application/json',
    },
    responseType: 'text', // the body checks read the body
    responseCallback: http.expectedStatuses(200),
  }),
  listItems: prepare(defaults, {
    name: 'list items',
    method: 'GET',
    path: '/api/items',
    query: [
      ['page', '1'],
      ['limit', '20'],
    ],
    headers: {
      Accept: 'application/json',
    },
    responseType: 'text', // the body checks read the body
  }),
  itemDetail: prepare(defaults, {
    name: 'item detail',
    method: 'GET',
    path: '/api/items/42',
    headers: {
      Accept: 'application/json',
    },
    responseType: 'text', // the body checks read the body
  }),
  search: prepare(defaults, {
    name: 'search',
    method: 'GET',
    path: '/api/search',
    query: [
      ['q', 'item'],
    ],
    headers: {
      Accept: 'application/json',
    },
    responseType: 'text', // the body checks read the body
  }),
  login: prepare(defaults, {
    name: 'login',
    method: 'POST',
    path: '/api/login',
    headers: {
      Accept: 'application/json',
      'Content-Type': 'application/json',
    },
    json: {
      username: 'demo',
      password: '${CROSSLOAD_DEMO_PASSWORD:-demo}',
    },
    responseType: 'text', // the body checks read the body
  }),
  createItem: prepare(defaults, {
    name: 'create item',
    method: 'POST',
    path: '/api/items',
    headers: {
      Accept: 'application/json',
      Authorization: 'Bearer ${CROSSLOAD_DEMO_TOKEN:-demo-token}',
      'Content-Type': 'application/json',
    },
    json: {
      name: 'widget',
      price: 9.5,
    },
    responseCallback: http.expectedStatuses(201),
  }),
};

// health: GET /health
function health() {
  const req = requests.health;
  const res = http.get(req.url, req.params);
  const statusOk = check(res, {
    'status is 200': (r) => r.status === 200,
  });
  if (statusOk) {
    const bodyChecks = {
      '$.status == "ok"': (r) => jsonPathEquals(r, ['status'], 'ok'),
    };
    if (!check(res, bodyChecks)) {
      countFailedCheck(res, req, bodyChecks);
    }
  }
}

// list items: GET /api/items
function listItems() {
  const req = requests.listItems;
  const res = http.get(req.url, req.params);
  const statusOk = check(res, {
    'status is 2xx or 3xx': (r) => r.status >= 200 && r.status < 400,
  });
  if (statusOk) {
    const bodyChecks = {
      '$.items[0].id exists': (r) => hasJsonPath(r, ['items', 0, 'id']),
    };
    if (!check(res, bodyChecks)) {
      countFailedCheck(res, req, bodyChecks);
    }
  }
}

// item detail: GET /api/items/42
function itemDetail() {
  const req = requests.itemDetail;
  const res = http.get(req.url, req.params);
  const statusOk = check(res, {
    'status is 2xx or 3xx': (r) => r.status >= 200 && r.status < 400,
  });
  if (statusOk) {
    const bodyChecks = {
      '$.id == 42': (r) => jsonPathEquals(r, ['id'], 42),
    };
    if (!check(res, bodyChecks)) {
      countFailedCheck(res, req, bodyChecks);
    }
  }
}

// search: GET /api/search
function search() {
  const req = requests.search;
  const res = http.get(req.url, req.params);
  const statusOk = check(res, {
    'status is 2xx or 3xx': (r) => r.status >= 200 && r.status < 400,
  });
  if (statusOk) {
    const bodyChecks = {
      'body contains "results"': (r) => r.body.includes('results'),
    };
    if (!check(res, bodyChecks)) {
      countFailedCheck(res, req, bodyChecks);
    }
  }
}

// login: POST /api/login
function login() {
  const req = requests.login;
  const res = http.post(req.url, req.body, req.params);
  const statusOk = check(res, {
    'status is 2xx or 3xx': (r) => r.status >= 200 && r.status < 400,
  });
  if (statusOk) {
    const bodyChecks = {
      '$.token exists': (r) => hasJsonPath(r, ['token']),
    };
    if (!check(res, bodyChecks)) {
      countFailedCheck(res, req, bodyChecks);
    }
  }
}

// create item: POST /api/items
function createItem() {
  const req = requests.createItem;
  const res = http.post(req.url, req.body, req.params);
  check(res, {
    'status is 201': (r) => r.status === 201,
  });
}

// Each iteration sends one request, picked at random with probability weight / 15, then thinks.
export default function () {
  const pick = Math.random() * 15;
  if (pick < 1) {
    health(); // weight 1
  } else if (pick < 5) {
    listItems(); // weight 4
  } else if (pick < 11) {
    itemDetail(); // weight 6
  } else if (pick < 13) {
    search(); // weight 2
  } else if (pick < 14) {
    login(); // weight 1
  } else {
    createItem(); // weight 1
  }
  sleep(0.1 + Math.random() * 0.2); // think time: 100ms to 300ms
}
