// k6 script for scenario 'transport', profile smoke: rendered by crossload 0.1.0.
// Edit the scenario file and render again rather than this file. Run it on its own with `k6 run script.js`
// (crossload.js must sit next to it); ${VAR} references are read from the environment (__ENV).
import http from 'k6/http';
import { check, group, sleep } from 'k6';
import { countFailedCheck, countRedirectStop, extract, fill, headerCheck, jsonPathEquals, nextPage, prepare, step } from './crossload.js';

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
      gracefulRampDown: '7s',
      gracefulStop: '7s',
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
  timeout: '5s',
};

// The requests of the scenario, prepared once per VU (init context): ${VAR} references resolved, URL encoded.
const requests = {
  compressed: prepare(defaults, {
    name: 'compressed',
    method: 'GET',
    path: '/gzip',
    headers: {
      'Accept-Encoding': 'gzip',
    },
    responseType: 'text', // the body checks read the body
  }),
  uncompressed: prepare(defaults, {
    name: 'uncompressed',
    method: 'GET',
    path: '/gzip',
    headers: {
      'Accept-Encoding': 'identity',
    },
    responseType: 'text', // the body checks read the body
  }),
  slowButAllowed: prepare(defaults, {
    name: 'slow but allowed',
    method: 'GET',
    path: '/delay/200',
    headers: {
      'Accept-Encoding': 'gzip',
    },
    timeout: '1s', // this request's own timeout
  }),
  followedRedirects: prepare(defaults, {
    name: 'followed redirects',
    method: 'GET',
    path: '/redirect/2',
    headers: {
      'Accept-Encoding': 'gzip',
    },
    responseCallback: http.expectedStatuses(200, 301, 302, 303, 307, 308), // redirect hops are not failures
    redirects: 3, // follow up to 3 redirects: every hop is a request
  }),
};

// compressed: GET /gzip
function compressed() {
  const req = requests.compressed;
  const res = http.get(req.url, req.params);
  const statusOk = check(res, {
    'status is 2xx or 3xx': (r) => r.status >= 200 && r.status < 400,
  });
  if (statusOk) {
    const bodyChecks = {
      'header Content-Encoding == "gzip"': (r) => headerCheck(r, 'Content-Encoding', 'equals', 'gzip'),
      '$.gzipped == true': (r) => jsonPathEquals(r, ['gzipped'], true),
    };
    if (!check(res, bodyChecks)) {
      countFailedCheck(res, req, bodyChecks);
    }
  }
  sleep(0.05); // think time: 50ms
}

// uncompressed: GET /gzip
function uncompressed() {
  const req = requests.uncompressed;
  const res = http.get(req.url, req.params);
  const statusOk = check(res, {
    'status is 2xx or 3xx': (r) => r.status >= 200 && r.status < 400,
  });
  if (statusOk) {
    const bodyChecks = {
      '$.gzipped == false': (r) => jsonPathEquals(r, ['gzipped'], false),
    };
    if (!check(res, bodyChecks)) {
      countFailedCheck(res, req, bodyChecks);
    }
  }
  sleep(0.05); // think time: 50ms
}

// slow but allowed: GET /delay/200
function slowButAllowed() {
  const req = requests.slowButAllowed;
  const res = http.get(req.url, req.params);
  check(res, {
    'status is 2xx or 3xx': (r) => r.status >= 200 && r.status < 400,
  });
  sleep(0.05); // think time: 50ms
}

// followed redirects: GET /redirect/2
function followedRedirects() {
  const req = requests.followedRedirects;
  const res = http.get(req.url, req.params);
  const statusOk = check(res, {
    'status is 200': (r) => r.status === 200,
  });
  if (!statusOk) {
    countRedirectStop(res, req, 'status is 200'); // ended on a redirect
  }
  sleep(0.05); // think time: 50ms
}

// The steps of the journeys, prepared once per VU: ${VAR} references resolved; each {{ name }} is filled in
// from the VU's values when the step is sent, then the URL is encoded.
const steps = {
  startSession: step(defaults, {
    name: 'start session',
    method: 'GET',
    path: '/cookies',
    query: [
      ['session', 's-42'],
    ],
    headers: {
      'Accept-Encoding': 'gzip',
    },
  }),
  useSession: step(defaults, {
    name: 'use session',
    method: 'GET',
    path: '/echo/session/{{ session }}',
    headers: {
      'Accept-Encoding': 'gzip',
    },
    responseType: 'text', // the body checks read the body
  }),
  postThroughARedirect: step(defaults, {
    name: 'post through a redirect',
    method: 'POST',
    path: '/redirect/1',
    query: [
      ['code', '307'],
    ],
    headers: {
      'Accept-Encoding': 'gzip',
      'Content-Type': 'application/json',
    },
    json: {
      session: '{{ session }}',
    },
    responseType: 'text', // the body checks read the body
    responseCallback: http.expectedStatuses(200, 301, 302, 303, 307, 308), // redirect hops are not failures
    redirects: 1, // follow up to 1 redirect: every hop is a request
  }),
  pageThrough: step(defaults, {
    name: 'page through',
    method: 'GET',
    path: '/pages',
    query: [
      ['pages', '3'],
    ],
    headers: {
      'Accept-Encoding': 'gzip',
    },
    responseType: 'text', // the body checks read the body
  }),
};

// Per VU (every VU runs this file in its own runtime): the values its journeys drew and extracted, and
// whether each journey's setup ran. Without a prototype, a name such as constructor or __proto__ is just a name.
const vars = Object.create(null);
const setupDone = Object.create(null);

// start session (session): GET /cookies
function startSession() {
  const req = fill(steps.startSession, vars);
  const res = http.get(req.url, req.params);
  let ok = check(res, {
    'status is 2xx or 3xx': (r) => r.status >= 200 && r.status < 400,
  });
  if (ok) {
    const bodyChecks = {
      'extract session from cookie session': (r) => extract(r, vars, 'session', { cookie: 'session' }),
    };
    ok = check(res, bodyChecks);
    if (!ok) {
      countFailedCheck(res, req, bodyChecks);
    }
  }
  sleep(0.05); // think time: 50ms
  return ok;
}

// use session (session): GET /echo/session/{{ session }}
function useSession() {
  const req = fill(steps.useSession, vars);
  const res = http.get(req.url, req.params);
  let ok = check(res, {
    'status is 2xx or 3xx': (r) => r.status >= 200 && r.status < 400,
  });
  if (ok) {
    const bodyChecks = {
      'body contains "s-42"': (r) => r.body.includes('s-42'),
    };
    ok = check(res, bodyChecks);
    if (!ok) {
      countFailedCheck(res, req, bodyChecks);
    }
  }
  sleep(0.05); // think time: 50ms
  return ok;
}

// post through a redirect (session): POST /redirect/1
function postThroughARedirect() {
  const req = fill(steps.postThroughARedirect, vars);
  const res = http.post(req.url, req.body, req.params);
  let ok = check(res, {
    'status is 200': (r) => r.status === 200,
  });
  if (!ok) {
    countRedirectStop(res, req, 'status is 200'); // ended on a redirect
  }
  if (ok) {
    const bodyChecks = {
      'body contains "s-42"': (r) => r.body.includes('s-42'),
    };
    ok = check(res, bodyChecks);
    if (!ok) {
      countFailedCheck(res, req, bodyChecks);
    }
  }
  sleep(0.05); // think time: 50ms
  return ok;
}

// page through (session): GET /pages, then each next page (Link rel=next), 5 pages at most
function pageThrough() {
  const req = fill(steps.pageThrough, vars);
  let url = req.url;
  let ok = true;
  for (let page = 1; page <= 5; page++) {
    const res = http.get(url, req.params);
    ok = check(res, {
      'status is 2xx or 3xx': (r) => r.status >= 200 && r.status < 400,
    });
    if (ok) {
      const bodyChecks = {
        '$.pages == 3': (r) => jsonPathEquals(r, ['pages'], 3),
      };
      ok = check(res, bodyChecks);
      if (!ok) {
        countFailedCheck(res, req, bodyChecks);
      }
    }
    url = ok ? nextPage(res, req, { link: 'next' }) : undefined;
    if (url === undefined) {
      break; // no next page: the step is done
    }
  }
  sleep(0.05); // think time: 50ms
  return ok;
}

// Journey 'session': each iteration: start session, use session, post through a redirect, page through.
// A failed step ends the iteration: the steps after it need what it did not get.
function session() {
  group('session', function () {
    if (!startSession()) {
      return;
    }
    if (!useSession()) {
      return;
    }
    if (!postThroughARedirect()) {
      return;
    }
    pageThrough();
  });
}

// Each iteration sends one request or walks one journey, picked at random with probability weight / 5.
export default function () {
  const pick = Math.random() * 5;
  if (pick < 1) {
    compressed(); // weight 1
  } else if (pick < 2) {
    uncompressed(); // weight 1
  } else if (pick < 3) {
    slowButAllowed(); // weight 1
  } else if (pick < 4) {
    followedRedirects(); // weight 1
  } else {
    session(); // journey, weight 1
  }
}
