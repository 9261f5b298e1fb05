// k6 script for scenario 'shop-journeys', profile smoke: rendered by crossload 0.1.0.
// Edit the scenario file and render again rather than this file. Run it on its own with `k6 run script.js`
// (crossload.js must sit next to it); ${VAR} references are read from the environment (__ENV).
import http from 'k6/http';
import { check, group, sleep } from 'k6';
import { SharedArray } from 'k6/data';
import { countFailedCheck, draw, extract, fill, hasJsonPath, headerCheck, holds, step, timedGroup } from './crossload.js';

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
  },
  // The scenario's thresholds: `k6 run` exits with code 99 when one is not met. crossload judges them as
  // well, on its own numbers, where a failed body check also counts as an error.
  thresholds: {
    http_req_failed: ['rate<0.01'],
    'http_req_duration{expected_response:true}': ['p(95)<500'],
    'http_req_duration{name:create item,expected_response:true}': ['p(95)<300'],
    'crossload_group{name:look around}': ['p(95)<800'],
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
  shopper: {
    file: 'data/shoppers.csv',
    order: 'sequential',
    per: 'user',
    rows: new SharedArray('shopper', () => [
      { username: 'ann', city: 'Lisbon' },
      { username: 'bob', city: 'Oslo' },
      { username: 'chen', city: 'Taipei' },
      { username: 'dana', city: 'Quito' },
    ]),
  },
  item_ref: {
    generate: 'uuid',
    per: 'iteration',
  },
  price: {
    generate: 'integer',
    min: 1,
    max: 500,
    per: 'iteration',
  },
  colour: {
    generate: 'choice',
    values: ['red', 'green', 'blue'],
    per: 'iteration',
  },
  page: {
    generate: 'integer',
    min: 1,
    max: 50,
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
      'X-Shopper': '{{ shopper.username }}',
      'Content-Type': 'application/json',
    },
    json: {
      username: '{{ shopper.username }}',
      password: '${CROSSLOAD_DEMO_PASSWORD:-demo}',
    },
    responseType: 'text', // the body checks read the body
    responseCallback: http.expectedStatuses(200),
  }),
  createItem: step(defaults, {
    name: 'create item',
    method: 'POST',
    path: '/api/items',
    headers: {
      Accept: 'application/json',
      'X-Shopper': '{{ shopper.username }}',
      Authorization: 'Bearer {{ token }}',
      'Content-Type': 'application/json',
    },
    json: {
      name: '{{ colour }} lamp {{ item_ref }}',
      price: '{{ price }}',
    },
    responseType: 'text', // the body checks read the body
    responseCallback: http.expectedStatuses(201),
  }),
  readItem: step(defaults, {
    name: 'read item',
    method: 'GET',
    path: '/api/items/{{ item_id }}',
    headers: {
      Accept: 'application/json',
      'X-Shopper': '{{ shopper.username }}',
    },
    responseType: 'text', // the body checks read the body
    responseCallback: http.expectedStatuses(200),
  }),
  readItemByLocation: step(defaults, {
    name: 'read item by location',
    method: 'GET',
    path: '{{ item_url }}',
    headers: {
      Accept: 'application/json',
      'X-Shopper': '{{ shopper.username }}',
    },
    responseCallback: http.expectedStatuses(200),
  }),
  listItems: step(defaults, {
    name: 'list items',
    method: 'GET',
    path: '/api/items',
    query: [
      ['page', '{{ page }}'],
      ['limit', '5'],
    ],
    headers: {
      Accept: 'application/json',
      'X-Shopper': '{{ shopper.username }}',
    },
  }),
  searchColour: step(defaults, {
    name: 'search colour',
    method: 'GET',
    path: '/api/search',
    query: [
      ['q', '{{ colour }}'],
    ],
    headers: {
      Accept: 'application/json',
      'X-Shopper': '{{ shopper.username }}',
    },
    responseType: 'text', // the body checks read the body
  }),
  searchMatchingShades: step(defaults, {
    name: 'search matching shades',
    method: 'GET',
    path: '/api/search',
    query: [
      ['q', '{{ colour }} shades'],
    ],
    headers: {
      Accept: 'application/json',
      'X-Shopper': '{{ shopper.username }}',
    },
  }),
  browsePage: step(defaults, {
    name: 'browse page',
    method: 'GET',
    path: '/api/items',
    query: [
      ['page', '{{ page }}'],
      ['limit', '10'],
    ],
    headers: {
      Accept: 'application/json',
    },
    responseType: 'text', // the body checks read the body
  }),
  browsedProduct: step(defaults, {
    name: 'browsed product',
    method: 'GET',
    path: '/api/items/{{ first_id }}',
    headers: {
      Accept: 'application/json',
    },
    responseType: 'text', // the body checks read the body
  }),
  listPage: step(defaults, {
    name: 'list page',
    method: 'GET',
    path: '/api/items',
    query: [
      ['page', '{{ page_no }}'],
      ['limit', '10'],
    ],
    headers: {
      Accept: 'application/json',
    },
  }),
};

// Per VU (every VU runs this file in its own runtime): the values its journeys drew and extracted, and
// whether each journey's setup ran. Without a prototype, a name such as constructor or __proto__ is just a name.
const vars = Object.create(null);
const setupDone = Object.create(null);

// sign in (setup of buy): POST /api/login
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

// create item (buy): POST /api/items
function createItem() {
  const req = fill(steps.createItem, vars);
  const res = http.post(req.url, req.body, req.params);
  let ok = check(res, {
    'status is 201': (r) => r.status === 201,
  });
  if (ok) {
    const bodyChecks = {
      'extract item_id from $.id': (r) => extract(r, vars, 'item_id', { json: ['id'] }),
      'extract item_url from header Location': (r) => extract(r, vars, 'item_url', { header: 'Location' }),
    };
    ok = check(res, bodyChecks);
    if (!ok) {
      countFailedCheck(res, req, bodyChecks);
    }
  }
  sleep(0.1); // think time: 100ms
  return ok;
}

// read item (buy): GET /api/items/{{ item_id }}
function readItem() {
  const req = fill(steps.readItem, vars);
  const res = http.get(req.url, req.params);
  let ok = check(res, {
    'status is 200': (r) => r.status === 200,
  });
  if (ok) {
    const bodyChecks = {
      '$.name exists': (r) => hasJsonPath(r, ['name']),
    };
    ok = check(res, bodyChecks);
    if (!ok) {
      countFailedCheck(res, req, bodyChecks);
    }
  }
  sleep(0.1 + Math.random() * 0.2); // think time: 100ms to 300ms
  return ok;
}

// read item by location (buy): GET {{ item_url }}
function readItemByLocation() {
  const req = fill(steps.readItemByLocation, vars);
  const res = http.get(req.url, req.params);
  const ok = check(res, {
    'status is 200': (r) => r.status === 200,
  });
  return ok;
}

// list items (buy, group look around): GET /api/items
function listItems() {
  const req = fill(steps.listItems, vars);
  const res = http.get(req.url, req.params);
  let ok = check(res, {
    'status is 2xx or 3xx': (r) => r.status >= 200 && r.status < 400,
  });
  if (ok) {
    const bodyChecks = {
      'header X-Total-Count >= 100': (r) => headerCheck(r, 'X-Total-Count', 'at_least', 100),
    };
    ok = check(res, bodyChecks);
    if (!ok) {
      countFailedCheck(res, req, bodyChecks);
    }
  }
  return ok;
}

// search colour (buy, group look around): GET /api/search
function searchColour() {
  const req = fill(steps.searchColour, vars);
  const res = http.get(req.url, req.params);
  let ok = check(res, {
    'status is 2xx or 3xx': (r) => r.status >= 200 && r.status < 400,
  });
  if (ok) {
    const bodyChecks = {
      'body contains \'"results"\'': (r) => r.body.includes('"results"'),
    };
    ok = check(res, bodyChecks);
    if (!ok) {
      countFailedCheck(res, req, bodyChecks);
    }
  }
  sleep(0.2); // think time: 200ms
  return ok;
}

// search matching shades (buy, if colour = "red"): GET /api/search
function searchMatchingShades() {
  const req = fill(steps.searchMatchingShades, vars);
  const res = http.get(req.url, req.params);
  const ok = check(res, {
    'status is 2xx or 3xx': (r) => r.status >= 200 && r.status < 400,
  });
  return ok;
}

// Journey 'buy': sign in once per user, then each iteration: create item, read item, read item by location, group 'look around', search matching shades.
// A failed step ends the iteration: the steps after it need what it did not get.
function buy() {
  group('buy', function () {
    draw(vars, data, ['shopper', 'item_ref', 'price', 'colour', 'page']);
    if (!setupDone.buy) {
      // Once per VU, before its first iteration of this journey.
      setupDone.buy = signIn();
      if (!setupDone.buy) {
        return;
      }
    }
    if (!createItem()) {
      return;
    }
    if (!readItem()) {
      return;
    }
    if (!readItemByLocation()) {
      return;
    }
    if (!timedGroup('look around', function () {
      if (!listItems()) {
        return false;
      }
      return searchColour();
    })) {
      return;
    }
    if (holds(vars, { name: 'colour', equals: 'red' })) {
      searchMatchingShades();
    }
  });
}

// browse page (browse): GET /api/items
function browsePage() {
  const req = fill(steps.browsePage, vars);
  const res = http.get(req.url, req.params);
  let ok = check(res, {
    'status is 2xx or 3xx': (r) => r.status >= 200 && r.status < 400,
  });
  if (ok) {
    const bodyChecks = {
      'extract first_id from $.items[0].id': (r) => extract(r, vars, 'first_id', { json: ['items', 0, 'id'] }),
    };
    ok = check(res, bodyChecks);
    if (!ok) {
      countFailedCheck(res, req, bodyChecks);
    }
  }
  sleep(0.2); // think time: 200ms
  return ok;
}

// browsed product (browse): GET /api/items/{{ first_id }}
function browsedProduct() {
  const req = fill(steps.browsedProduct, vars);
  const res = http.get(req.url, req.params);
  let ok = check(res, {
    'status is 2xx or 3xx': (r) => r.status >= 200 && r.status < 400,
  });
  if (ok) {
    const bodyChecks = {
      '$.price exists': (r) => hasJsonPath(r, ['price']),
    };
    ok = check(res, bodyChecks);
    if (!ok) {
      countFailedCheck(res, req, bodyChecks);
    }
  }
  return ok;
}

// list page (browse, group first pages): GET /api/items
function listPage() {
  const req = fill(steps.listPage, vars);
  const res = http.get(req.url, req.params);
  const ok = check(res, {
    'status is 2xx or 3xx': (r) => r.status >= 200 && r.status < 400,
  });
  sleep(0.1); // think time: 100ms
  return ok;
}

// Journey 'browse': each iteration: browse page, browsed product, group 'first pages'.
// A failed step ends the iteration: the steps after it need what it did not get.
function browse() {
  group('browse', function () {
    draw(vars, data, ['page']);
    if (!browsePage()) {
      return;
    }
    if (!browsedProduct()) {
      return;
    }
    timedGroup('first pages', function () {
      for (let round = 1; round <= 3; round++) {
        vars.page_no = round;
        if (!listPage()) {
          return false;
        }
      }
      return true;
    });
  });
}

// Each iteration sends one request or walks one journey, picked at random with probability weight / 4.
export default function () {
  const pick = Math.random() * 4;
  if (pick < 3) {
    buy(); // journey, weight 3
  } else {
    browse(); // journey, weight 1
  }
}
