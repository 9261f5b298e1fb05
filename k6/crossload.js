// crossload support module for rendered k6 scripts.
//
// The rendered script is plain k6 code: one function per request, real check() calls, the weighted pick
// and the think time. What it needs beyond k6 lives here, mirroring locust/crossload_locust.py (both are
// tested against the same reference, so ${VAR} resolution, URL encoding and check semantics stay identical):
//
// - prepare(): a request resolved (${VAR}), URL-encoded and serialized once per VU, in the init context;
// - hasJsonPath(), lacksJsonPath(), jsonPathEquals(): the JSON-path checks used in check() callbacks;
// - countFailedCheck(): crossload's record of a failed body check (see docs/schema.md);
// - wsStep(), wsSession(): a WebSocket step of a journey (k6/ws), mirroring locust/crossload_ws.py;
// - timedGroup(): a journey's group, its wall time and outcome recorded as one crossload_group sample;
// - holds(): a step's or group's if;
// - countRedirectStop(): a request that follows redirects and ended on one its status check does not accept;
// - nextPage(): the next page of a paginated step (a Link header entry, or a URL in the JSON body).

import { group } from 'k6';
import http from 'k6/http';
import ws from 'k6/ws';
import { b64decode, b64encode } from 'k6/encoding';
import { Counter, Trend } from 'k6/metrics';

// One sample per request whose status was acceptable but whose body checks failed: k6's http_req_failed
// only knows about status codes and transport errors, crossload's "failure" also covers body checks.
// Value: the request's duration (ms); tags: name, method, and check (the label of the first failing check).
const checkFailed = new Counter('crossload_check_failed');

// One sample per group of a journey that ran to its end or to a failed step: the wall time of the group()
// call (what k6 reports as group_duration: everything inside the callback, think times included); tags: name
// (the group's), method GROUP, and cause when one of its steps failed.
const groupTime = new Trend('crossload_group', true);

export const GROUP_METHOD = 'GROUP';
export const GROUP_FAILED = 'step failed';

const K6_DEFAULT_TIMEOUT = '60s';

// Run fn (the group's steps, true when all of them passed) inside k6's group(name) and record it.
export function timedGroup(name, fn) {
  const start = Date.now();
  const ok = group(name, fn);
  const tags = { name: name, method: GROUP_METHOD };
  if (!ok) {
    tags.cause = GROUP_FAILED;
  }
  groupTime.add(Date.now() - start, tags);
  return ok;
}

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
    // No prototype: a member named "__proto__" stays an ordinary member, as in the scenario's JSON.
    const out = Object.create(null);
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

// A request ready for http.request(): { name, method, url, body, params }, with every ${VAR} resolved from
// __ENV and the URL encoded. `defaults` holds baseUrl and timeout; `spec` holds name, method, path and,
// when the scenario gives them, query, headers (already merged with the defaults, Content-Type included),
// json or body, responseType, responseCallback and the request's own timeout.
export function prepare(defaults, spec) {
  const base = resolve(defaults.baseUrl).replace(/\/+$/, '');
  const query = (spec.query || []).map(function (kv) { return [kv[0], resolve(kv[1])]; });
  let body = null;
  if (spec.json !== undefined) {
    body = JSON.stringify(resolveDeep(spec.json));
  } else if (spec.body !== undefined) {
    body = resolve(spec.body);
  }
  // Only what differs from the script's options (discardResponseBodies, maxRedirects 0) and from k6's
  // defaults goes into the parameters: every extra parameter costs k6 time on every request.
  const params = { tags: { name: spec.name } };
  const headers = Object.keys(spec.headers || {});
  if (headers.length) {
    params.headers = {};
    for (const key of headers) {
      params.headers[key] = resolve(spec.headers[key]);
    }
  }
  if (spec.basicAuth !== undefined) {
    params.headers = params.headers || {};
    params.headers.Authorization = basicAuthHeader(resolve(spec.basicAuth[0]), resolve(spec.basicAuth[1]));
  }
  if (spec.timeout !== undefined) {
    params.timeout = spec.timeout; // the request's own timeout
  } else if (defaults.timeout !== undefined && defaults.timeout !== K6_DEFAULT_TIMEOUT) {
    params.timeout = defaults.timeout;
  }
  if (spec.responseType !== undefined) {
    params.responseType = spec.responseType;
  }
  if (spec.responseCallback !== undefined) {
    params.responseCallback = spec.responseCallback;
  }
  if (spec.redirects !== undefined) {
    params.redirects = spec.redirects; // every hop is a request of its own, under the same name
  }
  return {
    name: spec.name,
    method: spec.method,
    url: buildUrl(base, resolve(spec.path), query),
    body: body,
    params: params,
  };
}

// The body of the response last looked at, parsed once for all of its JSON checks.
let parsedFrom = null;
let parsed = { ok: false, doc: undefined };

function bodyJson(r) {
  if (r !== parsedFrom) {
    parsedFrom = r;
    try {
      parsed = typeof r.body === 'string' ? { ok: true, doc: JSON.parse(r.body) } : { ok: false, doc: undefined };
    } catch (e) {
      parsed = { ok: false, doc: undefined };
    }
  }
  return parsed;
}

// steps: member names and list indexes, e.g. ['items', 0, 'id'] for $.items[0].id.
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

// JSON equality: 1 equals 1.0, true never equals 1, containers compare member by member.
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

// The body is JSON and has a value at the path.
export function hasJsonPath(r, steps) {
  const json = bodyJson(r);
  return json.ok && lookup(json.doc, steps).found;
}

// The body is JSON and has no value at the path.
export function lacksJsonPath(r, steps) {
  const json = bodyJson(r);
  return json.ok && !lookup(json.doc, steps).found;
}

// The body is JSON and the value at the path equals `expected`.
export function jsonPathEquals(r, steps, expected) {
  const json = bodyJson(r);
  if (!json.ok) {
    return false;
  }
  const hit = lookup(json.doc, steps);
  return hit.found && deepEqual(hit.value, expected);
}

// 'Basic ' + base64 of the UTF-8 bytes of user:password.
export function basicAuthHeader(user, password) {
  return 'Basic ' + b64encode(user + ':' + password);
}

function headerValue(res, name) {
  const wanted = name.toLowerCase();
  for (const key of Object.keys(res.headers)) {
    if (key.toLowerCase() === wanted) {
      return res.headers[key];
    }
  }
  return undefined;
}

const DECIMAL = /^[ \t]*-?[0-9]+(?:\.[0-9]+)?[ \t]*$/;

// A check on a response header: exists (value: true/false), equals (text), at_least / at_most (the header
// read as a decimal number; any other header value fails).
export function headerCheck(res, name, op, value) {
  const found = headerValue(res, name);
  if (op === 'exists') {
    return (found !== undefined) === value;
  }
  if (found === undefined) {
    return false;
  }
  if (op === 'equals') {
    return found === value;
  }
  if (!DECIMAL.test(found)) {
    return false;
  }
  const number = parseFloat(found);
  return op === 'at_least' ? number >= value : number <= value;
}

// The label of the first check of `checks` ({label: callback}) that fails for `res`; undefined if none does.
export function firstFailedCheck(res, checks) {
  for (const label of Object.keys(checks)) {
    if (!checks[label](res)) {
      return label;
    }
  }
  return undefined;
}

// Called when the status was acceptable but check(res, bodyChecks) failed: one crossload_check_failed
// sample naming the first failing check.
export function countFailedCheck(res, req, bodyChecks) {
  const label = firstFailedCheck(res, bodyChecks);
  checkFailed.add(res.timings.duration, {
    name: req.name,
    method: finalMethod(res, req),
    check: label === undefined ? Object.keys(bodyChecks)[0] : label,
  });
}

// The statuses k6 follows when the response names a Location (Go's net/http).
const REDIRECT_STATUSES = [301, 302, 303, 307, 308];

// The method the final response was asked with: the request's own unless redirects were followed, after
// which any method but GET and HEAD is taken as a GET (what 301, 302 and 303 turn it into; k6 tells
// the script neither the hops' statuses nor their methods).
function finalMethod(res, req) {
  if (!req.params.redirects || req.method === 'GET' || req.method === 'HEAD' || res.url === res.request.url) {
    return req.method;
  }
  return 'GET';
}

// A request that follows redirects and lists its statuses accepts every redirect status (its
// responseCallback judges each hop, and a hop is not a failure); when a redirect is nevertheless the final
// response (the limit reached, or no Location) and the status check failed, it is counted as that check's
// failure, as crossload_check_failed.
export function countRedirectStop(res, req, label) {
  if (REDIRECT_STATUSES.indexOf(res.status) >= 0) {
    checkFailed.add(res.timings.duration, { name: req.name, method: finalMethod(res, req), check: label });
  }
}

// --- journeys ---------------------------------------------------------------------------------------------
//
// A journey step's strings may hold {{ name }} references (the same grammar as crossload.varref and
// locust/crossload_locust.py): filled in from the VU's values when the step is sent. ${VAR} references are
// resolved once, in the text between them.

const VAR = /\{\{ *([A-Za-z_][A-Za-z0-9_]*)(?:\.([A-Za-z_][A-Za-z0-9_]*))? *\}\}/g;
const WHOLE_VAR = /^\{\{ *([A-Za-z_][A-Za-z0-9_]*)(?:\.([A-Za-z_][A-Za-z0-9_]*))? *\}\}$/;

// A string of a step: [literal, [name, field], literal, ...] with ${VAR}s resolved in the literals; `whole`
// when the string is exactly one reference (a JSON value then keeps the value's type).
function Text(text) {
  this.parts = [];
  let last = 0;
  VAR.lastIndex = 0;
  let m = VAR.exec(text);
  while (m !== null) {
    if (m.index > last) {
      this.parts.push(resolve(text.slice(last, m.index)));
    }
    this.parts.push([m[1], m[2]]);
    last = m.index + m[0].length;
    m = VAR.exec(text);
  }
  if (last < text.length) {
    this.parts.push(resolve(text.slice(last)));
  }
  const w = WHOLE_VAR.exec(text);
  this.whole = w === null ? null : [w[1], w[2]];
}

function lookupValue(values, ref) {
  const value = values[ref[0]];
  return ref[1] === undefined ? value : value[ref[1]];
}

// A step's or group's if (crossload.varref.holds): {name, field?, equals | not_equals}; the value written as
// text, as it is filled in, compared with the condition's text.
export function holds(values, cond) {
  const text = String(lookupValue(values, [cond.name, cond.field]));
  return 'equals' in cond ? text === cond.equals : text !== cond.not_equals;
}

Text.prototype.fill = function (values) {
  let out = '';
  for (const part of this.parts) {
    out += typeof part === 'string' ? part : String(lookupValue(values, part));
  }
  return out;
};

Text.prototype.value = function (values) {
  return this.whole === null ? this.fill(values) : lookupValue(values, this.whole);
};

function texts(value) {
  if (typeof value === 'string') {
    return new Text(value);
  }
  if (Array.isArray(value)) {
    return value.map(texts);
  }
  if (value !== null && typeof value === 'object') {
    const out = Object.create(null);
    for (const key of Object.keys(value)) {
      out[key] = texts(value[key]);
    }
    return out;
  }
  return value;
}

function filled(value, values) {
  if (value instanceof Text) {
    return value.value(values);
  }
  if (Array.isArray(value)) {
    return value.map(function (v) { return filled(v, values); });
  }
  if (value !== null && typeof value === 'object') {
    const out = Object.create(null);
    for (const key of Object.keys(value)) {
      out[key] = filled(value[key], values);
    }
    return out;
  }
  return value;
}

// A JSON body with its references filled in, serialized compactly.
export function fillJson(value, values) {
  return JSON.stringify(filled(texts(value), values));
}

// A journey step, prepared once per VU in the init context (the spec as prepare() takes it).
export function step(defaults, spec) {
  const params = { tags: { name: spec.name } };
  if (spec.timeout !== undefined) {
    params.timeout = spec.timeout; // the request's own timeout
  } else if (defaults.timeout !== undefined && defaults.timeout !== K6_DEFAULT_TIMEOUT) {
    params.timeout = defaults.timeout;
  }
  if (spec.responseType !== undefined) {
    params.responseType = spec.responseType;
  }
  if (spec.responseCallback !== undefined) {
    params.responseCallback = spec.responseCallback;
  }
  if (spec.redirects !== undefined) {
    params.redirects = spec.redirects; // every hop is a request of its own, under the same name
  }
  const headers = {};
  for (const key of Object.keys(spec.headers || {})) {
    headers[key] = new Text(spec.headers[key]);
  }
  return {
    basicAuth: spec.basicAuth === undefined ? undefined : [new Text(spec.basicAuth[0]), new Text(spec.basicAuth[1])],
    name: spec.name,
    method: spec.method,
    base: resolve(defaults.baseUrl).replace(/\/+$/, ''),
    path: new Text(spec.path),
    query: (spec.query || []).map(function (kv) { return [kv[0], new Text(kv[1])]; }),
    headers: headers,
    json: spec.json === undefined ? undefined : texts(spec.json),
    body: spec.body === undefined ? undefined : new Text(spec.body),
    params: params,
  };
}

// The step's request with the VU's values filled in: { name, method, url, body, params }.
export function fill(s, values) {
  const query = s.query.map(function (kv) { return [kv[0], kv[1].fill(values)]; });
  let body = null;
  if (s.json !== undefined) {
    body = JSON.stringify(filled(s.json, values));
  } else if (s.body !== undefined) {
    body = s.body.fill(values);
  }
  const params = Object.assign({}, s.params);
  const keys = Object.keys(s.headers);
  if (keys.length || s.basicAuth !== undefined) {
    params.headers = {};
    for (const key of keys) {
      params.headers[key] = s.headers[key].fill(values);
    }
    if (s.basicAuth !== undefined) {
      params.headers.Authorization = basicAuthHeader(s.basicAuth[0].fill(values), s.basicAuth[1].fill(values));
    }
  }
  return { name: s.name, method: s.method, url: buildUrl(s.base, s.path.fill(values), query), body: body,
           params: params };
}

// A cookie the response sets (Set-Cookie; k6 parses the headers as Go's net/http does): the value of the last
// one named `name`, or undefined when there is none or its value is empty.
function cookieValue(res, name) {
  const found = res.cookies !== undefined && Object.prototype.hasOwnProperty.call(res.cookies, name)
    ? res.cookies[name] : [];
  const value = found.length ? found[found.length - 1].value : '';
  return value === '' ? undefined : value;
}

// The value `spec` ({json: steps}, {header: name}, {regex: pattern} or {cookie: name}) finds in a response, or
// undefined.
export function extractValue(res, spec) {
  if (spec.json !== undefined) {
    const json = bodyJson(res);
    if (!json.ok) {
      return undefined;
    }
    const hit = lookup(json.doc, spec.json);
    const kind = typeof hit.value;
    return hit.found && (kind === 'string' || kind === 'number' || kind === 'boolean') ? hit.value : undefined;
  }
  if (spec.header !== undefined) {
    return headerValue(res, spec.header);
  }
  if (spec.cookie !== undefined) {
    return cookieValue(res, spec.cookie);
  }
  const m = new RegExp(spec.regex).exec(typeof res.body === 'string' ? res.body : '');
  if (m === null) {
    return undefined;
  }
  return m.length > 1 ? m[1] : m[0];
}

// A check callback: true when the response holds the value, which is then stored in values[name].
export function extract(res, values, name, spec) {
  const value = extractValue(res, spec);
  if (value === undefined) {
    return false;
  }
  values[name] = value;
  return true;
}

// How often this VU drew from each data source (data files are walked from row __VU - 1 on).
const draws = Object.create(null); // no prototype: a data source may be named constructor

function uuid4() {
  let out = '';
  for (let i = 0; i < 32; i++) {
    let v = Math.floor(Math.random() * 16);
    if (i === 12) {
      v = 4;
    } else if (i === 16) {
      v = 8 + (v & 3);
    }
    out += HEX[v].toLowerCase();
    if (i === 7 || i === 11 || i === 15 || i === 19) {
      out += '-';
    }
  }
  return out;
}

// One value of a data source for VU `number` (1, 2, ...) at its `n`-th draw (0, 1, ...).
export function drawValue(spec, number, n) {
  if (spec.rows !== undefined) {
    if (spec.order === 'random') {
      return spec.rows[Math.floor(Math.random() * spec.rows.length)];
    }
    return spec.rows[(number - 1 + n) % spec.rows.length];
  }
  switch (spec.generate) {
    case 'uuid':
      return uuid4();
    case 'integer':
      return spec.min + Math.floor(Math.random() * (spec.max - spec.min + 1));
    case 'choice':
      return spec.values[Math.floor(Math.random() * spec.values.length)];
    default:
      if (spec.format === 'iso') {
        return new Date().toISOString();
      }
      return spec.format === 's' ? Math.floor(Date.now() / 1000) : Date.now();
  }
}

// At the start of a journey's iteration: a new value for each of `names`, except the per-user ones it has.
export function draw(values, sources, names) {
  for (const name of names) {
    const spec = sources[name];
    if (spec.per === 'user' && values[name] !== undefined) {
      continue;
    }
    const n = draws[name] || 0;
    draws[name] = n + 1;
    values[name] = drawValue(spec, __VU, n);
  }
}

// --- WebSocket steps --------------------------------------------------------------------------------------
//
// k6/ws's ws.connect() blocks until the connection is closed: the journey goes on after the session, in
// order. k6 itself measures the handshake (ws_connecting, tagged with the step's name and the status) and
// counts the messages sent and received (ws_msgs_sent, ws_msgs_received); crossload adds the expects' round
// trips and a handshake that got no response at all.

// One sample per expect: the time from the last send of the session (or from the expect itself, before any
// send) to the matching message; tags: name (the expect's), method, and cause when it failed.
const wsExpect = new Trend('crossload_ws', true);
// One sample per handshake that got no HTTP response (value: ms until it failed; tags: name, method, cause).
const wsConnectFailed = new Counter('crossload_ws_connect_failed');

export const WS_METHOD = 'WS';
export const WS_CLOSED = 'ws closed';

// The cause of a failed handshake without a status, in crossload.causes' words.
export function wsCause(error) {
  const text = String(error || '').toLowerCase();
  if (text.indexOf('connection refused') >= 0) {
    return 'connection refused';
  }
  if (text.indexOf('timeout') >= 0 || text.indexOf('deadline exceeded') >= 0) {
    return 'timeout';
  }
  if (text.indexOf('no such host') >= 0 || text.indexOf('lookup ') >= 0) {
    return 'DNS error';
  }
  if (text.indexOf('tls') >= 0 || text.indexOf('x509') >= 0 || text.indexOf('certificate') >= 0) {
    return 'TLS error';
  }
  if (text.indexOf('reset') >= 0 || text.indexOf('broken pipe') >= 0) {
    return 'connection reset';
  }
  return 'connection error';
}

// A WebSocket step, prepared once per VU in the init context: { name, url, headers, basicAuth,
// subprotocols, actions } as the scenario gives them (actions: {send: {text|json|binary}}, {expect: {...}},
// {hold: ms}).
export function wsStep(defaults, spec) {
  const headers = {};
  for (const key of Object.keys(spec.headers || {})) {
    headers[key] = new Text(spec.headers[key]);
  }
  const actions = spec.actions.map(function (a) {
    if (a.send === undefined) {
      return a;
    }
    if (a.send.json !== undefined) {
      return { send: 'json', value: texts(a.send.json) };
    }
    if (a.send.text !== undefined) {
      return { send: 'text', value: new Text(a.send.text) };
    }
    return { send: 'binary', value: b64decode(a.send.binary) };
  });
  return {
    name: spec.name,
    base: resolve(defaults.baseUrl).replace(/\/+$/, '').replace(/^http/, 'ws'),
    url: new Text(spec.url),
    headers: headers,
    basicAuth: spec.basicAuth === undefined ? undefined : [new Text(spec.basicAuth[0]), new Text(spec.basicAuth[1])],
    subprotocols: spec.subprotocols || [],
    actions: actions,
  };
}

// Does a received message (text; undefined for a binary one) satisfy an expect: a value at a JSON path
// (equal to `equals` when given), a regular expression, or nothing (any message)?
export function messageMatches(expect, text) {
  if (expect.json !== undefined) {
    if (text === undefined) {
      return false;
    }
    let doc;
    try {
      doc = JSON.parse(text);
    } catch (e) {
      return false;
    }
    const hit = lookup(doc, expect.json);
    return hit.found && (!Object.prototype.hasOwnProperty.call(expect, 'equals') || deepEqual(hit.value, expect.equals));
  }
  if (expect.regex !== undefined) {
    return text !== undefined && new RegExp(expect.regex).test(text);
  }
  return true;
}

// Run a WebSocket step with the VU's values: true when the handshake and every expect succeeded (the values
// the expects extracted are then in `values`). A failed expect ends the session.
export function wsSession(s, values) {
  const path = encode(s.url.fill(values), PATH_SAFE, true);
  const url = /^wss?:\/\//.test(path) ? path : s.base + path;
  const headers = {};
  for (const key of Object.keys(s.headers)) {
    headers[key] = s.headers[key].fill(values);
  }
  if (s.basicAuth !== undefined) {
    headers.Authorization = basicAuthHeader(s.basicAuth[0].fill(values), s.basicAuth[1].fill(values));
  }
  if (s.subprotocols.length) {
    headers['Sec-WebSocket-Protocol'] = s.subprotocols.join(', ');
  }
  const tags = { name: s.name, method: WS_METHOD };
  let ok = true;
  const started = Date.now();
  const res = ws.connect(url, { headers: headers, tags: { name: s.name } }, function (socket) {
    let index = 0;
    let lastSend = null;
    let waiting = null; // the expect under way: { expect, since, id }
    let serial = 0;
    let over = false; // closing or closed: no more actions

    function record(expect, took, cause) {
      wsExpect.add(took, cause === undefined ? { name: expect.name, method: WS_METHOD }
        : { name: expect.name, method: WS_METHOD, cause: cause });
      if (cause !== undefined) {
        ok = false;
      }
    }
    function end() {
      waiting = null;
      if (!over) {
        over = true;
        socket.close();
      }
    }
    function next() {
      while (!over && index < s.actions.length) {
        const a = s.actions[index++];
        if (a.send !== undefined) {
          if (a.send === 'binary') {
            socket.sendBinary(a.value);
          } else {
            socket.send(a.send === 'json' ? JSON.stringify(filled(a.value, values)) : a.value.fill(values));
          }
          lastSend = Date.now();
        } else if (a.expect !== undefined) {
          const id = ++serial;
          waiting = { expect: a.expect, since: lastSend === null ? Date.now() : lastSend, id: id };
          socket.setTimeout(function () {
            if (waiting !== null && waiting.id === id) {
              record(a.expect, Date.now() - waiting.since, 'timeout');
              end();
            }
          }, a.expect.timeout);
          return;
        } else {
          socket.setTimeout(next, a.hold);
          return;
        }
      }
      end();
    }
    function received(text) {
      if (waiting === null || !messageMatches(waiting.expect, text)) {
        return;
      }
      const e = waiting.expect;
      const took = Date.now() - waiting.since;
      waiting = null;
      const found = Object.create(null); // no prototype: a value may be named __proto__
      for (const x of e.extract || []) { // [label, variable, {json: steps} | {regex: pattern}]
        const value = text === undefined ? undefined : extractValue({ body: text }, x[2]);
        if (value === undefined) {
          record(e, took, 'check failed: ' + x[0]);
          end();
          return;
        }
        found[x[1]] = value;
      }
      Object.assign(values, found);
      record(e, took);
      next();
    }
    socket.on('open', next);
    socket.on('message', function (text) { received(text); });
    socket.on('binaryMessage', function () { received(undefined); });
    socket.on('close', function () {
      // The server closed first: the expect under way, or the next one, fails; a hold just ends.
      const wasOver = over;
      over = true;
      if (waiting !== null) {
        record(waiting.expect, Date.now() - waiting.since, WS_CLOSED);
        waiting = null;
      } else if (!wasOver) {
        for (let i = index; i < s.actions.length; i++) {
          if (s.actions[i].expect !== undefined) {
            record(s.actions[i].expect, 0, WS_CLOSED);
            break;
          }
        }
      }
    });
  });
  if (res === undefined || res === null || res.status !== 101) {
    if (res === undefined || res === null || !res.status) {
      wsConnectFailed.add(Date.now() - started, Object.assign({ cause: wsCause(res && res.error) }, tags));
    }
    return false;
  }
  return ok;
}

// --- pagination -------------------------------------------------------------------------------------------
//
// The same rules as locust/crossload_locust.py next_page(): a Link header entry (RFC 8288) of the given
// relation, or text at a JSON path (a URL or a path), resolved against the response's URL; only a page on
// the target's origin is fetched.

const SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*:/;
const ORIGIN = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]*/;
const LINK = /<([^>]*)>([^<]*)/g;
const REL = /;\s*rel\s*=\s*(?:"([^"]*)"|([^\s;,"]+))/i;

// `ref` (absolute, //host/..., /path, ?query or a relative path) against `current`; dot segments are kept.
export function resolveUrl(current, ref) {
  if (SCHEME.test(ref)) {
    return ref;
  }
  const m = ORIGIN.exec(current);
  const origin = m === null ? '' : m[0];
  if (ref.startsWith('//')) {
    return current.slice(0, current.indexOf(':') + 1) + ref;
  }
  if (ref.startsWith('/')) {
    return origin + ref;
  }
  const path = current.slice(origin.length).split(/[?#]/)[0] || '/';
  if (ref.startsWith('?')) {
    return origin + path + ref;
  }
  return origin + path.slice(0, path.lastIndexOf('/') + 1) + ref;
}

function originOf(url) {
  const m = ORIGIN.exec(url);
  return m === null ? '' : m[0].toLowerCase();
}

// The target of the first entry of a Link header whose relations include `rel` (lower case).
export function linkTarget(header, rel) {
  const text = header || '';
  LINK.lastIndex = 0;
  let m = LINK.exec(text);
  while (m !== null) {
    const found = REL.exec(m[2]);
    const rels = found === null ? '' : (found[1] !== undefined ? found[1] : found[2]);
    if (rels.toLowerCase().split(/\s+/).indexOf(rel) >= 0) {
      return m[1].trim();
    }
    m = LINK.exec(text);
  }
  return null;
}

// The URL of the page after `res` ({link: rel} or {json: steps}), or undefined when there is none: no such
// entry, a value that is not text or is empty, or a page on another origin than the request's.
export function nextPage(res, req, spec) {
  let ref = null;
  if (spec.link !== undefined) {
    ref = linkTarget(headerValue(res, 'Link'), spec.link);
  } else {
    const json = bodyJson(res);
    const hit = json.ok ? lookup(json.doc, spec.json) : { found: false };
    ref = hit.found && typeof hit.value === 'string' ? hit.value : null;
  }
  if (!ref) {
    return undefined;
  }
  const url = resolveUrl(res.url, ref);
  return originOf(url) === originOf(req.url) ? url : undefined;
}
