// k6 script for scenario 'checkout-journey', profile smoke: rendered by crossload 0.1.0.
// Edit the scenario file and render again rather than this file. Run it on its own with `k6 run script.js`
// (crossload.js must sit next to it); ${VAR} references are read from the environment (__ENV).
import http from 'k6/http';
import { check, sleep } from 'k6';
import { countFailedCheck, hasJsonPath, jsonPathEquals, lacksJsonPath, prepare } from './crossload.js';

export const options = {
  scenarios: {
    crossload: {
      executor: 'ramping-vus',
      startVUs: 0,
      stages: [
        { duration: '1333ms', target: 3 },
        { duration: '18667ms', target: 3 },
      ],
      // Long enough for a request under way (and its think time) to complete and be counted.
      gracefulRampDown: '8s',
      gracefulStop: '8s',
    },
  },
  // The scenario's thresholds: `k6 run` exits with code 99 when one is not met. crossload judges them as
  // well, on its own numbers, where a failed body check also counts as an error.
  thresholds: {
    http_req_failed: ['rate<0.01'],
    'http_req_duration{expected_response:true}': ['p(95)<500', 'p(99)<1000'],
    http_reqs: ['rate>1'],
    'http_req_duration{name:login,expected_response:true}': ['p(99)<800'],
    'http_req_duration{name:browse,expected_response:true}': ['avg<=200'],
    'http_req_duration{name:product,expected_response:true}': ['p(95)<300'],
    'http_req_duration{name:add item,expected_response:true}': ['p(95)<500'],
    'http_req_failed{name:add item}': ['rate<0.01'],
    'http_req_duration{name:slow recommendations,expected_response:true}': ['med>=50', 'max<2000'],
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
  health: prepare(defaults, {
    name: 'health',
    method: 'GET',
    path: '/health',
    headers: {
      Accept: 'application/json',
      'X-Client': 'crossload-checkout/1',
    },
    responseType: 'text', // the body checks read the body
    responseCallback: http.expectedStatuses(200),
  }),
  browse: prepare(defaults, {
    name: 'browse',
    method: 'GET',
    path: '/api/items',
    query: [
      ['page', '2'],
      ['limit', '10'],
    ],
    headers: {
      Accept: 'application/json',
      'X-Client': 'crossload-checkout/1',
    },
    responseType: 'text', // the body checks read the body
  }),
  search: prepare(defaults, {
    name: 'search',
    method: 'GET',
    path: '/api/search',
    query: [
      ['q', 'lamp'],
      ['q', 'chair'],
    ],
    headers: {
      Accept: 'application/json',
      'X-Client': 'crossload-checkout/1',
    },
    responseType: 'text', // the body checks read the body
    responseCallback: http.expectedStatuses(200),
  }),
  product: prepare(defaults, {
    name: 'product',
    method: 'GET',
    path: '/api/items/7',
    headers: {
      Accept: 'application/json',
      'X-Client': 'crossload-checkout/1',
    },
    responseType: 'text', // the body checks read the body
  }),
  login: prepare(defaults, {
    name: 'login',
    method: 'POST',
    path: '/api/login',
    headers: {
      Accept: 'application/json',
      'X-Client': 'crossload-checkout/1',
      'Content-Type': 'application/json',
    },
    json: {
      username: 'shopper',
      password: '${CROSSLOAD_DEMO_PASSWORD:-demo}',
    },
    responseType: 'text', // the body checks read the body
    responseCallback: http.expectedStatuses(200),
  }),
  addItem: prepare(defaults, {
    name: 'add item',
    method: 'POST',
    path: '/api/items',
    headers: {
      Accept: 'application/json',
      'X-Client': 'crossload-checkout/1',
      Authorization: 'Bearer ${CROSSLOAD_DEMO_TOKEN:-demo-token}',
      'Content-Type': 'application/json',
    },
    json: {
      name: 'checkout widget',
      price: 12.5,
    },
    responseType: 'text', // the body checks read the body
    responseCallback: http.expectedStatuses(201),
  }),
  placeOrder: prepare(defaults, {
    name: 'place order',
    method: 'POST',
    path: '/echo/orders',
    headers: {
      Accept: 'application/json',
      'X-Client': 'crossload-checkout/1',
      'Content-Type': 'application/x-www-form-urlencoded',
    },
    body: 'item=7&quantity=2&express=true',
    responseType: 'text', // the body checks read the body
    responseCallback: http.expectedStatuses(200),
  }),
  slowRecommendations: prepare(defaults, {
    name: 'slow recommendations',
    method: 'GET',
    path: '/delay/50',
    headers: {
      Accept: 'application/json',
      'X-Client': 'crossload-checkout/1',
    },
    responseType: 'text', // the body checks read the body
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

// browse: GET /api/items
function browse() {
  const req = requests.browse;
  const res = http.get(req.url, req.params);
  const statusOk = check(res, {
    'status is 2xx or 3xx': (r) => r.status >= 200 && r.status < 400,
  });
  if (statusOk) {
    const bodyChecks = {
      '$.items[0].id exists': (r) => hasJsonPath(r, ['items', 0, 'id']),
      '$.limit == 10': (r) => jsonPathEquals(r, ['limit'], 10),
      '$.error is absent': (r) => lacksJsonPath(r, ['error']),
    };
    if (!check(res, bodyChecks)) {
      countFailedCheck(res, req, bodyChecks);
    }
  }
  sleep(0.2 + Math.random() * 0.6); // think time: 200ms to 800ms
}

// search: GET /api/search
function search() {
  const req = requests.search;
  const res = http.get(req.url, req.params);
  const statusOk = check(res, {
    'status is 200': (r) => r.status === 200,
  });
  if (statusOk) {
    const bodyChecks = {
      'body contains \'"query":"lamp"\'': (r) => r.body.includes('"query":"lamp"'),
      'body contains \'"results"\'': (r) => r.body.includes('"results"'),
    };
    if (!check(res, bodyChecks)) {
      countFailedCheck(res, req, bodyChecks);
    }
  }
  sleep(0.2 + Math.random() * 0.6); // think time: 200ms to 800ms
}

// product: GET /api/items/7
function product() {
  const req = requests.product;
  const res = http.get(req.url, req.params);
  const statusOk = check(res, {
    'status is 2xx or 3xx': (r) => r.status >= 200 && r.status < 400,
  });
  if (statusOk) {
    const bodyChecks = {
      '$.id == 7': (r) => jsonPathEquals(r, ['id'], 7),
      '$.name == "Light Lamp 7"': (r) => jsonPathEquals(r, ['name'], 'Light Lamp 7'),
      '$.price exists': (r) => hasJsonPath(r, ['price']),
    };
    if (!check(res, bodyChecks)) {
      countFailedCheck(res, req, bodyChecks);
    }
  }
  sleep(0.2 + Math.random() * 0.6); // think time: 200ms to 800ms
}

// login: POST /api/login
function login() {
  const req = requests.login;
  const res = http.post(req.url, req.body, req.params);
  const statusOk = check(res, {
    'status is 200': (r) => r.status === 200,
  });
  if (statusOk) {
    const bodyChecks = {
      '$.token exists': (r) => hasJsonPath(r, ['token']),
    };
    if (!check(res, bodyChecks)) {
      countFailedCheck(res, req, bodyChecks);
    }
  }
  sleep(1 + Math.random() * 1); // think time: 1s to 2s
}

// add item: POST /api/items
function addItem() {
  const req = requests.addItem;
  const res = http.post(req.url, req.body, req.params);
  const statusOk = check(res, {
    'status is 201': (r) => r.status === 201,
  });
  if (statusOk) {
    const bodyChecks = {
      '$.name == "checkout widget"': (r) => jsonPathEquals(r, ['name'], 'checkout widget'),
      '$.price == 12.5': (r) => jsonPathEquals(r, ['price'], 12.5),
    };
    if (!check(res, bodyChecks)) {
      countFailedCheck(res, req, bodyChecks);
    }
  }
  sleep(0.2 + Math.random() * 0.6); // think time: 200ms to 800ms
}

// place order: POST /echo/orders
function placeOrder() {
  const req = requests.placeOrder;
  const res = http.post(req.url, req.body, req.params);
  const statusOk = check(res, {
    'status is 200': (r) => r.status === 200,
  });
  if (statusOk) {
    const bodyChecks = {
      '$.method == "POST"': (r) => jsonPathEquals(r, ['method'], 'POST'),
      '$.body == "item=7&quantity=2&express=true"': (r) => jsonPathEquals(r, ['body'], 'item=7&quantity=2&express=true'),
    };
    if (!check(res, bodyChecks)) {
      countFailedCheck(res, req, bodyChecks);
    }
  }
  sleep(0.2 + Math.random() * 0.6); // think time: 200ms to 800ms
}

// slow recommendations: GET /delay/50
function slowRecommendations() {
  const req = requests.slowRecommendations;
  const res = http.get(req.url, req.params);
  const statusOk = check(res, {
    'status is 2xx or 3xx': (r) => r.status >= 200 && r.status < 400,
  });
  if (statusOk) {
    const bodyChecks = {
      '$.delayed_ms == 50': (r) => jsonPathEquals(r, ['delayed_ms'], 50),
    };
    if (!check(res, bodyChecks)) {
      countFailedCheck(res, req, bodyChecks);
    }
  }
  sleep(0.2 + Math.random() * 0.6); // think time: 200ms to 800ms
}

// Each iteration sends one request, picked at random with probability weight / 24.
export default function () {
  const pick = Math.random() * 24;
  if (pick < 1) {
    health(); // weight 1
  } else if (pick < 9) {
    browse(); // weight 8
  } else if (pick < 13) {
    search(); // weight 4
  } else if (pick < 19) {
    product(); // weight 6
  } else if (pick < 21) {
    login(); // weight 2
  } else if (pick < 22) {
    addItem(); // weight 1
  } else if (pick < 23) {
    placeOrder(); // weight 1
  } else {
    slowRecommendations(); // weight 1
  }
}
