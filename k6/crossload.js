// crossload support module for rendered k6 scripts.
//
// A rendered script holds only data (the scenario as one JSON literal and the stages in options.scenarios);
// everything it does at run time lives here, so that the generated file stays small and every user-supplied
// string reaches k6 as data, never as code. The behaviour mirrors locust/crossload_locust.py line for line:
// ${VAR} resolution, URL encoding, checks, failure rules and think time must stay identical in both.

import http from 'k6/http';
import { sleep } from 'k6';
import { Counter } from 'k6/metrics';

// Counts requests whose status was acceptable but whose body checks failed: k6's own http_req_failed only
// knows about status codes, crossload's "failure" also covers checks (see docs/schema.md).
const checkFailed = new Counter('crossload_check_failed');

const K6_DEFAULT_TIMEOUT_MS = 60000;

const REF = /\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

// ${VAR} / ${VAR:-default} from the environment of this k6 process; $${ is a literal ${.
export function resolve(text) {
  if (typeof text !== 'string' || text.indexOf('${') < 0) {
    return text;
  }
  return text.replace(REF, function (whole, name, dflt) {
    if (whole === '$${') {
      return '${';
    }
    const value = __ENV[name];
    if (value === undefined || (value === '' && dflt !== undefined)) {
      return dflt === undefined ? '' : dflt;
    }
    return value;
  });
}

function resolveDeep(value) {
  if (typeof value === 'string') {
    return resolve(value);
  }
  if (Array.isArray(value)) {
    return value.map(resolveDeep);
  }
  if (value !== null && typeof value === 'object') {
    const out = {};
    for (const key of Object.keys(value)) {
      out[key] = resolveDeep(value[key]);
    }
    return out;
  }
  return value;
}

const UNRESERVED = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~';
const PATH_SAFE = UNRESERVED + "!$&'()*+,;=:@/?";
const HEX = '0123456789ABCDEF';

function utf8Bytes(text) {
  const bytes = [];
  for (const ch of text) {
    const cp = ch.codePointAt(0);
    if (cp < 0x80) {
      bytes.push(cp);
    } else if (cp < 0x800) {
      bytes.push(0xc0 | (cp >> 6), 0x80 | (cp & 63));
    } else if (cp < 0x10000) {
      bytes.push(0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 63), 0x80 | (cp & 63));
    } else {
      bytes.push(0xf0 | (cp >> 18), 0x80 | ((cp >> 12) & 63), 0x80 | ((cp >> 6) & 63), 0x80 | (cp & 63));
    }
  }
  return bytes;
}

function isHex(c) {
  return c !== undefined && '0123456789abcdefABCDEF'.indexOf(c) >= 0;
}

// Percent-encode every byte outside `safe`; in a path an existing %XX escape is kept, normalized (an
// unreserved character written plainly, hex in upper case) as crossload.wire documents.
export function encode(text, safe, keepEscapes) {
  let out = '';
  const bytes = utf8Bytes(text);
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i];
    const c = String.fromCharCode(b);
    if (b < 0x80 && safe.indexOf(c) >= 0) {
      out += c;
    } else if (keepEscapes && c === '%' && i + 2 < bytes.length && isHex(String.fromCharCode(bytes[i + 1])) &&
               isHex(String.fromCharCode(bytes[i + 2]))) {
      const hex = (String.fromCharCode(bytes[i + 1]) + String.fromCharCode(bytes[i + 2])).toUpperCase();
      const decoded = String.fromCharCode(parseInt(hex, 16));
      out += UNRESERVED.indexOf(decoded) >= 0 ? decoded : '%' + hex;
      i += 3;
      continue;
    } else {
      out += '%' + HEX[b >> 4] + HEX[b & 15];
    }
    i += 1;
  }
  return out;
}

export function buildUrl(target, path, query) {
  let url = target + encode(path, PATH_SAFE, true);
  if (query.length) {
    const parts = query.map(function (kv) {
      return encode(kv[0], UNRESERVED, false) + '=' + encode(kv[1], UNRESERVED, false);
    });
    url += (path.indexOf('?') >= 0 ? '&' : '?') + parts.join('&');
  }
  return url;
}

function prepareRequest(spec, req) {
  const headers = {};
  for (const kv of spec.defaults.headers) {
    headers[kv[0]] = resolve(kv[1]);
  }
  for (const kv of req.headers) {
    for (const existing of Object.keys(headers)) {
      if (existing.toLowerCase() === kv[0].toLowerCase()) {
        delete headers[existing];
      }
    }
    headers[kv[0]] = resolve(kv[1]);
  }
  let body = null;
  if (req.json !== undefined) {
    body = JSON.stringify(resolveDeep(req.json));
    if (!Object.keys(headers).some(function (h) { return h.toLowerCase() === 'content-type'; })) {
      headers['Content-Type'] = 'application/json';
    }
  } else if (req.body !== undefined) {
    body = resolve(req.body);
    if (!Object.keys(headers).some(function (h) { return h.toLowerCase() === 'content-type'; })) {
      headers['Content-Type'] = 'text/plain; charset=utf-8';
    }
  }
  const query = req.query.map(function (kv) { return [kv[0], resolve(kv[1])]; });
  // Only what differs from the script's options (discardResponseBodies, maxRedirects 0) and from k6's
  // defaults goes per request: every extra parameter costs k6 time on every request.
  const params = { tags: { name: req.name } };
  if (Object.keys(headers).length) {
    params.headers = headers;
  }
  if (spec.defaults.timeout_ms !== K6_DEFAULT_TIMEOUT_MS) {
    params.timeout = spec.defaults.timeout_ms + 'ms';
  }
  if (req.checks.reads_body) {
    params.responseType = 'text';
  }
  if (req.checks.status.length) {
    params.responseCallback = http.expectedStatuses.apply(null, req.checks.status);
  }
  return {
    name: req.name,
    method: req.method,
    url: buildUrl(spec.target, resolve(req.path), query),
    body: body,
    params: params,
    checks: req.checks,
    think: req.think_s || spec.defaults.think_s,
  };
}

// Resolve and encode everything once per VU, in the init context.
export function prepare(spec) {
  spec.target = resolve(spec.target).replace(/\/+$/, '');
  const requests = spec.requests.map(function (r) { return prepareRequest(spec, r); });
  const cumulative = [];
  let total = 0;
  for (const r of spec.requests) {
    total += r.weight;
    cumulative.push(total);
  }
  return { requests: requests, cumulative: cumulative, total: total };
}

function pick(plan) {
  if (plan.requests.length === 1) {
    return plan.requests[0];
  }
  const x = Math.random() * plan.total;
  for (let i = 0; i < plan.cumulative.length; i++) {
    if (x < plan.cumulative[i]) {
      return plan.requests[i];
    }
  }
  return plan.requests[plan.requests.length - 1];
}

function lookup(doc, steps) {
  let cur = doc;
  for (const step of steps) {
    if (typeof step === 'number') {
      if (!Array.isArray(cur) || step >= cur.length) {
        return { found: false };
      }
    } else if (cur === null || typeof cur !== 'object' || Array.isArray(cur) ||
               !Object.prototype.hasOwnProperty.call(cur, step)) {
      return { found: false };
    }
    cur = cur[step];
  }
  return { found: true, value: cur };
}

function deepEqual(a, b) {
  if (a === b) {
    return true;
  }
  if (typeof a !== typeof b || a === null || b === null || typeof a !== 'object') {
    return false;
  }
  if (Array.isArray(a) !== Array.isArray(b)) {
    return false;
  }
  if (Array.isArray(a)) {
    return a.length === b.length && a.every(function (v, i) { return deepEqual(v, b[i]); });
  }
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  return ka.length === kb.length && ka.every(function (k) {
    return Object.prototype.hasOwnProperty.call(b, k) && deepEqual(a[k], b[k]);
  });
}

// True when a body check fails (status and transport errors are judged by k6 via responseCallback).
export function bodyCheckFails(res, checks) {
  if (!checks.reads_body) {
    return false;
  }
  const text = typeof res.body === 'string' ? res.body : '';
  for (const needle of checks.body_contains) {
    if (text.indexOf(needle) < 0) {
      return true;
    }
  }
  if (checks.json.length) {
    let doc;
    try {
      doc = JSON.parse(text);
    } catch (e) {
      return true;
    }
    for (const c of checks.json) {
      const hit = lookup(doc, c.steps);
      if (c.exists === true && !hit.found) {
        return true;
      }
      if (c.exists === false && hit.found) {
        return true;
      }
      if (c.has_equals && !(hit.found && deepEqual(hit.value, c.equals))) {
        return true;
      }
    }
  }
  return false;
}

// One iteration = one request of the weighted mix, then its think time.
export function iterate(plan) {
  const r = pick(plan);
  const res = http.request(r.method, r.url, r.body, r.params);
  const statusOk = r.checks.status.length ? r.checks.status.indexOf(res.status) >= 0
    : res.status >= 200 && res.status < 400;
  if (statusOk && bodyCheckFails(res, r.checks)) {
    checkFailed.add(1, { name: r.name, method: r.method });
  }
  const think = r.think;
  if (think[1] > 0) {
    sleep(think[0] + Math.random() * (think[1] - think[0]));
  }
}
