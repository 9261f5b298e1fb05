"""Hostile strings through every user-controlled string of every construct, into both rendered files.

One scenario holds every construct of the language (requests with query, headers, auth, json and raw bodies,
checks on status, headers, body and JSON; redirects; journeys with setup, teardown, paginated steps, groups,
if, repeat with index and until, extraction from json, regex, header and cookie; data files and generators;
WebSocket steps; target, tls, timeouts, compression, thresholds; an open-model profile), and every string in it
that the user writes is a generated hostile string: quotes, backslashes, line breaks, ``${``, ``{{``,
``</script>``, unicode, very long text, every character a header name may hold.

The locustfile must compile, and every string must be a Python literal of exactly the text written. The k6
script must load in k6 (``k6 inspect`` evaluates its init code with the real support module), and the same
script, with k6's modules and its support module swapped for ones that record what they are given, and every
function of it called once, must hand every string over exactly as written, and check responses under the
labels the locustfile uses. One ``k6 inspect`` evaluates a batch of scenarios.

Names JavaScript objects already hold (constructor, __proto__) and names the k6 script uses itself (round,
holds) are run for real in both tools against a local server that records the requests.
"""

from __future__ import annotations

import ast
import base64
import csv
import json
import os
import re
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import strategies as st

from crossload import varref
from crossload.profiles import build_schedule
from crossload.render import render_k6, render_locust
from crossload.scenario import load_scenario

K6_ENV = {**os.environ, "K6_NO_USAGE_REPORT": "true"}
# The loader only looks for the marker; nothing here connects with TLS.
CA_PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"

LONG = "\u00e9'\"\\{{}}${x}</script>\n" * 120  # about 2,500 characters
PARTS = ["'", '"', "\\", "`", "${HOME}", "${NOPE:-d}", "$${x}", "${", "{{", "}}", "{{ c }}", "{{ row.k }}",
         "{% if %}", "</script>", "<!--", "*/", "/*", "#", "\n", "\r\n", "\t", "\u00e9", "\u6f22\u5b57", "\U0001f600",
         "\u2028", "\u2029", "\x85", "%", "%41", "?", "&", "=", "+", " ", "'''", '"""', "\\n", "\\u0041",
         "__proto__", ",", ":", "{", "}", "\x7f", LONG]
hostile = st.lists(st.sampled_from(PARTS) | st.text(max_size=3), min_size=1, max_size=5).map("".join)
# References a journey's text may hold: the data values c and row (extracted values come later).
text = hostile.filter(lambda t: "\0" not in t and set(varref.references(t)) <= {("c", None), ("row", "k")})
# A name: one row of the results, so at most 200 characters, and '::' separates a journey from its step.
name = text.filter(lambda t: t.strip() and "::" not in t and len(t) <= 200)
# Header values and tokens are sent as they are: ASCII (control characters too) without line breaks or NUL.
ascii_line = hostile.map(lambda t: "".join(ch for ch in t if ch.isascii() and ch not in "\r\n\0")).filter(
    lambda t: set(varref.references(t)) <= {("c", None), ("row", "k")})
token = ascii_line.filter(lambda t: t.strip() and len(t) <= 200)
# A URL path without a fragment or spaces; the regular expressions are the hostile text taken literally.
url_path = text.map(lambda t: "".join(ch for ch in t if ch.isprintable() and not ch.isspace() and ch != "#"))
# Header names and subprotocols are tokens: every character a token allows, quotes and backquote included.
header_token = st.text("!#$%&'*+.^_`|~0123456789AZaz-", min_size=1, max_size=12)
filename = hostile.map(lambda t: "".join(ch for ch in t if ch.isprintable() and ch not in "/\\\0")[:60])


def _literal_regex(t: str) -> str:
    """A regular expression of the subset both tools read alike that matches the text (one group)."""
    escaped = "".join(ch if ch.isalnum() and ch.isascii() else ("\\" + ch if ch in ".^$*+?()[]{}|\\/-" else
                                                                 f"\\u{ord(ch):04x}" if ord(ch) < 0x10000 else "")
                      for ch in t)
    return "(" + escaped + ")"


class Strings:
    """The generated strings of one scenario, and where each goes."""

    def __init__(self, draw: st.DrawFn, i: int) -> None:
        self.i = i
        self.names = draw(st.lists(name, min_size=12, max_size=12, unique=True))
        self.texts = draw(st.lists(text.filter(str.strip), min_size=14, max_size=14))
        self.values = draw(st.lists(ascii_line, min_size=6, max_size=6))
        self.tokens = draw(st.lists(token, min_size=3, max_size=3))
        self.path = draw(url_path)
        # Prefixed: a generated name never collides with a header the tools add (Content-Type, Authorization).
        self.headers = ["X-" + h for h in draw(st.lists(header_token, min_size=5, max_size=5,
                                                         unique_by=str.lower))]
        self.protocols = draw(st.lists(header_token, min_size=1, max_size=3, unique=True))
        self.base = draw(text)
        self.ca = draw(filename).strip() or "ca"

    def __repr__(self) -> str:
        return f"Strings({vars(self)!r})"


@st.composite
def batches(draw: st.DrawFn) -> list[Strings]:
    return [Strings(draw, i) for i in range(3)]


def _scenario(s: Strings) -> tuple[dict[str, Any], dict[str, list[str]], dict[str, list[str]]]:
    """Every construct, every user-written string generated: the YAML document, the strings both rendered files
    must hold exactly as written, and those only the locustfile holds (the k6 script writes them in comments)."""
    n, t, v, k = s.names, s.texts, s.values, s.tokens
    row, c = f"row{s.i}", f"c{s.i}"  # k6's SharedArray names are global: one name per scenario of a batch

    def refs(x: str) -> str:
        return varref.REF.sub(lambda m: m.group(0).replace(m.group(1), m.group(1) + str(s.i), 1), x)

    t = [refs(x) for x in t]
    v = [refs(x) for x in v]
    k = [refs(x) for x in k]
    url = refs(s.path)
    h = s.headers
    # A target holding a ${VAR} reference is resolved by the tools, so it may hold any text.
    target = "${CROSSLOAD_TARGET:-http://127.0.0.1:8089/" + s.base + "}"
    key = [x.replace('"', "").replace("\\", "") for x in t]  # a JSON path's quoted key
    user, setup_user = v[1].replace(":", ""), k[1].replace(":", "")
    ws_user, ws_password = re.sub("[:\r\n]", "", t[2]), re.sub("[\r\n]", "", t[3])  # any text on one line
    cookie = re.sub(r"[^A-Za-z0-9_-]", "", k[2]) or "sid"
    binary = base64.b64encode(t[4].encode()).decode()
    doc = {
        "version": 1,
        "name": n[0],
        "description": t[0],
        "target": target,
        "defaults": {"headers": {h[0]: v[0]}, "timeout": "5s", "think_time": {"min": "1ms", "max": "2ms"},
                     "auth": {"basic": {"user": user, "password": v[2]}},
                     "tls": {"ca": s.ca + ".pem"}, "compression": "gzip", "redirects": 2},
        "data": {row: {"file": f"{s.ca}.json", "order": "random", "per": "user"},
                 f"sheet{s.i}": {"file": f"{s.ca}.csv", "order": "sequential", "per": "iteration"},
                 c: {"generate": "choice", "values": [t[1], 1, True]},
                 "u": "uuid", "ts": {"generate": "timestamp", "format": "iso"},
                 "num": {"generate": "integer", "min": -5, "max": 5}},
        "requests": [
            {"name": n[1], "method": "post", "path": "/echo/" + url, "query": {t[2]: [t[3], 7], "x": True},
             "headers": {h[1]: v[3]}, "auth": {"bearer": k[0]},
             "json": {t[4]: [t[5], None, 1.5, {t[6]: t[6]}]},
             "weight": 2, "timeout": "2s", "compression": "none", "think_time": "1ms", "redirects": 3,
             "checks": {"status": [200, 201],
                        "headers": {h[2]: v[4], h[3]: {"exists": True, "equals": v[5], "at_least": 1,
                                                                "at_most": 9}},
                        "body_contains": [t[7], t[8]],
                        "json": [{"path": '$["' + key[4] + '"][0]', "equals": t[5]},
                                 {"path": "$.k", "equals": {t[6]: [t[6], 2]}}, {"path": "$.gone", "exists": False}]},
             "thresholds": ["p95 < 900ms"]},
            {"name": n[2], "method": "PUT", "path": "/echo/raw", "body": t[10]},
        ],
        "journeys": [{
            "name": n[3], "weight": 3, "headers": {h[4]: v[3]},
            "setup": [{"name": n[4], "method": "POST", "path": "/echo/login", "json": {"who": t[11]},
                       "auth": {"basic": {"user": setup_user, "password": v[5]}},
                       "extract": {"tok": {"json": '$["' + key[12] + '"]'}, "sid": {"cookie": cookie},
                                   "loc": {"header": h[2]}}}],
            "teardown": [{"name": n[4] + " out", "method": "POST", "path": "/echo/out/{{ tok }}",
                          "headers": {h[0]: v[1].replace(":", "") + "{{ sid }}"}, "json": {"bye": t[12]},
                          "redirects": 1}],
            "steps": [
                {"name": n[5] + " pages", "path": "/echo/pages", "paginate": {"json": '$["' + key[6] + '"]',
                                                                             "max_pages": 2}},
                {"name": n[5] + " links", "path": "/echo/links", "paginate": {"link": h[4]}},
                {"name": n[5], "path": "/echo/{{ tok }}", "headers": {"X-Token": "{{ tok }}" + v[4]},
                 "extract": {"got": {"regex": _literal_regex(t[13])}},
                 "checks": {"headers": {h[4]: {"exists": False}}}},
                {"group": n[6],
                 "repeat": {"times": 2, "index": "round_no", "until": {"var": "got", "equals": t[11]}},
                 "steps": [{"name": n[7], "method": "DELETE", "path": "{{ loc }}", "if": {"var": c, "equals": t[9]},
                            "headers": {"X-Sheet": f"{{{{ sheet{s.i}.v }}}}"},
                            "query": {"n": "{{ round_no }}" + t[13]}},
                           {"ws": {"name": n[8], "url": "/ws/" + url, "subprotocols": s.protocols,
                                   "headers": {h[3]: v[0]}, "think_time": "1ms",
                                   "auth": {"basic": {"user": ws_user, "password": ws_password}},
                                   "actions": [
                                       {"send": {"text": t[1] + "{{ sid }}"}},
                                       {"send": {"json": {t[2]: t[3], "c": "{{ " + c + " }}"}}},
                                       {"send": {"binary": binary}},
                                       {"expect": {"name": n[9], "json": {"path": '$["' + key[5] + '"]',
                                                                          "equals": t[6]},
                                                   "timeout": "1s",
                                                   "extract": {"m": {"json": "$.m"},
                                                               "r": {"regex": _literal_regex(t[7])}}}},
                                       {"expect": {"name": n[10], "regex": _literal_regex(t[8])}},
                                       {"expect": {}}, {"hold": {"duration": "10ms"}}, {"hold": "5ms"},
                                       "close"]}}]},
                {"group": n[11], "repeat": 2, "if": {"var": c, "not_equals": t[10]},
                 "steps": [{"name": n[11] + " step", "method": "PATCH", "path": "/echo/{{ m }}{{ r }}",
                            "body": t[9] + "{{ got }}"}]},
            ],
        }],
        "thresholds": ["error_rate < 1%", {"request": n[1], "check": "p99 < 2s"},
                       {"request": n[6], "check": "p95 < 3s", "abort": True, "grace": "1s", "window": "5s"},
                       {"request": n[9], "check": "p95 < 1s"}],
        "profiles": {"smoke": {"rate": "5/s", "max_users": 3, "duration": "2s"}},
    }
    both = {
        # requests, steps, groups, journeys, WebSocket sessions and expects
        "names": [*n[1:], n[11] + " step", n[4] + " out", n[5] + " pages", n[5] + " links"],
        "paths": ["/echo/" + url, "/ws/" + url, "/echo/{{ tok }}", "{{ loc }}", "/echo/{{ m }}{{ r }}",
                  "/echo/out/{{ tok }}"],
        "query": [t[2], t[3], "{{ round_no }}" + t[13]],
        # of defaults, requests, journeys, steps, WebSocket sessions
        "headers": [v[0], v[3], "{{ tok }}" + v[4], v[1].replace(":", "") + "{{ sid }}"],
        "bearer auth": ["Bearer " + k[0]],
        "basic auth": [user, v[2], setup_user, v[5], ws_user, ws_password],
        "bodies": [t[4], t[5], t[6], t[10], t[11], t[9] + "{{ got }}", t[12]],  # JSON and raw
        "checks": [v[4], v[5], t[7], t[8]],  # header values, body texts, JSON values
        "extract": [key[4], key[12], key[5], cookie],  # JSON path keys, a cookie
        "paginate": [key[6], h[4].lower()],  # a JSON path's key, a Link rel (a token; compared in lower case)
        "header names": h,  # of defaults, requests, checks, extraction, journeys, WebSocket sessions
        "subprotocols": s.protocols,
        "target": [target],
        "regex": [_literal_regex(t[13]), _literal_regex(t[7]), _literal_regex(t[8])],
        "if, repeat": [t[9], t[10], t[11], "round_no", "got"],
        "messages": [t[1] + "{{ sid }}", binary],
        # Data files' rows and a column (as written), a choice's values.
        "data": [s.texts[0], s.texts[1], s.texts[2], s.texts[3], s.texts[4], t[1]],
        "data files": [f"{s.ca}.json", f"{s.ca}.csv"],
    }
    return doc, both, {"tls ca": [s.ca + ".pem"]}


def _strings_of(doc: Any) -> set[str]:
    """Every string of a JSON-like value: keys and values, recursively."""
    out: set[str] = set()
    if isinstance(doc, str):
        out.add(doc)
    elif isinstance(doc, dict):
        for key, value in doc.items():
            out |= _strings_of(key) | _strings_of(value)
    elif isinstance(doc, list | tuple):
        for item in doc:
            out |= _strings_of(item)
    return out


def _missing(want: dict[str, list[str]], got: set[str]) -> list[tuple[str, str]]:
    return [(where, value) for where, values in want.items() for value in values if value not in got]


def _py_labels(tree: ast.Module) -> set[str]:
    """The check labels of the locustfile's requests and steps (results are reported under them)."""
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") in ("Request", "Step"):
            for kw in node.keywords:
                if kw.arg in ("header_checks", "checks", "extract"):
                    assert isinstance(kw.value, ast.Dict)
                    out |= {ast.literal_eval(key) for key in kw.value.keys if key is not None}
    return out


def _py_strings(tree: ast.Module) -> set[str]:
    return {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)}


# The k6 script as written, but with k6's modules and crossload.js replaced by ones that record every value
# the script hands them; after loading, every function of the script runs once (each condition holds).
_PROBE_K6 = """import { RECORDED } from './probe-support.js';
export function check(res, checks) {
  for (const label of Object.keys(checks)) {
    RECORDED.push(['check', label]);
    checks[label](res);
  }
  return true;
}
export function group(name, fn) { RECORDED.push(['group', name]); return fn(); }
export function sleep() {}
"""
_PROBE_HTTP = """import { RECORDED } from './probe-support.js';
function response() {
  return { status: 200, headers: {}, cookies: {},
           body: { includes: function (text) { RECORDED.push(['includes', text]); return true; } } };
}
export default new Proxy({}, { get: function (_t, method) {
  return function () { RECORDED.push([String(method), Array.from(arguments)]); return response(); };
} });
"""
_PROBE_TAIL = """
import { RECORDED } from './probe-support.js';
const rows = {};
for (const key of Object.keys(typeof data === 'undefined' ? {} : data)) {
  const d = data[key];
  rows[key] = Object.assign({}, d, d.rows ? { rows: Array.from({ length: d.rows.length }, (_, i) => d.rows[i]) } : {});
}
for (const fn of [%s]) {
  fn();
}
console.log('RESULT ' + JSON.stringify({ recorded: RECORDED, data: rows }));
"""


def _probe_support(script: str) -> str:
    """A stand-in for crossload.js: every helper records its arguments; specs are handed back as they are."""
    names = re.search(r"^import \{ (.*) \} from './crossload\.js';$", script, re.M)
    assert names is not None
    out = ["export const RECORDED = [];"]
    for helper in names.group(1).split(", "):
        if helper.isupper():
            out.append(f"export const {helper} = '{helper}';")
        elif helper == "timedGroup":
            out.append("export function timedGroup(name, fn) { RECORDED.push(['timedGroup', name]); return fn(); }")
        else:
            returned = {"prepare": "spec", "step": "spec", "wsStep": "spec", "fill": "defaults"}.get(helper, "true")
            out.append(f"export function {helper}(defaults, spec) {{ RECORDED.push(['{helper}', "
                       f"Array.from(arguments)]); return {returned}; }}")
    return "\n".join(out) + "\n"


def _probe_script(script: str) -> str:
    functions = re.findall(r"^function (\w+)\(\) \{$", script, re.M)
    probe = (script.replace("import http from 'k6/http';", "import http from './probe-http.js';", 1)
             .replace("} from 'k6';", "} from './probe-k6.js';", 1)
             .replace("} from './crossload.js';", "} from './probe-support.js';", 1))
    assert probe.count("./probe-") == 3
    return probe + _PROBE_TAIL % ", ".join(functions)


# Each example renders three scenarios and starts k6 once; no shrinking (each example starts k6).
@settings(max_examples=6, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate],
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large, HealthCheck.filter_too_much])
@given(batches())
def test_every_construct_renders_hostile_strings_as_data(tmp_path_factory: pytest.TempPathFactory,
                                                         batch: list[Strings]) -> None:
    work = tmp_path_factory.mktemp("constructs")
    imports = []
    wanted: list[dict[str, list[str]]] = []
    labels: list[set[str]] = []
    for s in batch:
        assume(s.names[11] + " step" not in s.names)
        src = work / f"src{s.i}"
        src.mkdir()
        doc, both, locust_only = _scenario(s)
        (src / f"{s.ca}.pem").write_text(CA_PEM, encoding="ascii")
        (src / f"{s.ca}.json").write_text(json.dumps([{"k": s.texts[0]}, {"k": s.texts[1], s.texts[2]: 3}]),
                                          encoding="utf-8")
        with (src / f"{s.ca}.csv").open("w", encoding="utf-8", newline="") as f:
            csv.writer(f).writerows([["k", "v"], [s.texts[3], s.texts[4]], ["", s.texts[3]]])
        path = src / "s.yaml"
        path.write_text(yaml.safe_dump(doc, allow_unicode=False, sort_keys=False), encoding="utf-8")
        scenario = load_scenario(path)
        schedule = build_schedule("smoke", scenario)

        locust_text = render_locust(scenario, schedule, scenario.target).text
        assert locust_text.isascii()
        tree = ast.parse(locust_text, "locustfile.py")
        got = _py_strings(tree)
        assert not _missing({**both, **locust_only}, got), _missing({**both, **locust_only}, got)

        k6_file = render_k6(scenario, schedule, scenario.target)
        assert k6_file.text.isascii() and "</script>" not in k6_file.text
        real, probe = work / f"k6-{s.i}", work / f"probe-{s.i}"
        k6_file.write(real)
        probe.mkdir()
        (probe / "script.js").write_text(_probe_script(k6_file.text), encoding="utf-8")
        (probe / "probe-support.js").write_text(_probe_support(k6_file.text), encoding="utf-8")
        (probe / "probe-k6.js").write_text(_PROBE_K6, encoding="utf-8")
        (probe / "probe-http.js").write_text(_PROBE_HTTP, encoding="utf-8")
        imports += [f"import './k6-{s.i}/script.js';", f"import './probe-{s.i}/script.js';"]
        wanted.append(both)
        labels.append(_py_labels(tree))

    # The real scripts load with the real crossload.js (their init code runs on the hostile values too).
    (work / "main.js").write_text("\n".join(imports) + "\nexport default function () {}\n", encoding="utf-8")
    proc = subprocess.run(["k6", "inspect", "--log-format", "raw", "main.js"], cwd=work, env=K6_ENV,
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = [json.loads(x[len("RESULT "):]) for x in (proc.stdout + "\n" + proc.stderr).split("\n")
               if x.startswith("RESULT ")]
    assert len(results) == len(batch), proc.stderr[-3000:]
    for want, py_labels, result in zip(wanted, labels, results, strict=True):
        got = _strings_of(result["recorded"]) | _strings_of(result["data"])
        assert not _missing(want, got), _missing(want, got)
        # Both tools report a response's checks under the same labels (k6 also names its status check).
        k6_labels = {r[1] for r in result["recorded"] if r[0] == "check" and not r[1].startswith("status ")}
        assert len(py_labels) >= 9 and k6_labels == py_labels, k6_labels ^ py_labels


# --- names that JavaScript objects already hold -------------------------------------------------------------


class _Records(BaseHTTPRequestHandler):
    """Answers every GET with a JSON id and an X-Id header, and records the paths asked for."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self.server.paths.append(self.path)  # type: ignore[attr-defined]
        body = b'{"id": "v-7"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Id", "h-1")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


NAMES_SCENARIO = """version: 1
name: names
data:
  toString: {generate: choice, values: [x]}
journeys:
  - name: constructor
    setup:
      - name: sign in
        path: /setup
        extract:
          __proto__: {header: X-Id}
    steps:
      - name: use
        path: /use/{{ __proto__ }}/{{ toString }}
        extract:
          valueOf: {json: $.id}
      - group: rounds
        repeat: {times: 2, index: hasOwnProperty}
        steps:
          - name: round
            path: /round/{{ hasOwnProperty }}/{{ valueOf }}
          - name: timedGroup
            path: /timed
            if: {var: toString, equals: x}
            checks:
              headers:
                X-Id: h-1
      - name: holds
        path: /holds
        if: {var: toString, not_equals: y}
      - name: headerCheck
        path: /header-check
        checks:
          headers:
            X-Id: {exists: true}
"""


def test_names_of_object_members_are_plain_names_in_both_tools(tmp_path: Path) -> None:
    """A journey, a value or an index named like a member every JavaScript object has (constructor, toString,
    __proto__, ...) is the user's own: the journey's setup runs, and each value is the one drawn or extracted.
    Steps named like the script's helpers and loop variable are functions of their own. One k6 iteration and
    the first iteration of a Locust user send the same requests."""
    (tmp_path / "s.yaml").write_text(NAMES_SCENARIO, encoding="utf-8")
    scenario = load_scenario(tmp_path / "s.yaml")
    schedule = build_schedule("smoke", scenario, users=1, duration_s=2)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Records)
    server.paths = []  # type: ignore[attr-defined]
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    expected = ["/setup", "/use/h-1/x", "/round/1/v-7", "/timed", "/round/2/v-7", "/timed", "/holds", "/header-check"]
    try:
        target = f"http://127.0.0.1:{server.server_address[1]}"
        render_k6(scenario, schedule, target).write(tmp_path / "k6")
        proc = subprocess.run(["k6", "run", "-q", "--no-summary", "--iterations", "1", "--vus", "1", "script.js"],
                              cwd=tmp_path / "k6", env=K6_ENV, capture_output=True, text=True, timeout=120,
                              check=False)
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert server.paths == expected  # type: ignore[attr-defined]

        server.paths = []  # type: ignore[attr-defined]
        render_locust(scenario, schedule, target).write(tmp_path / "locust")
        env = {k: v for k, v in os.environ.items() if k != "CROSSLOAD_LOCUST_OUT"}
        proc = subprocess.run([sys.executable, "-m", "locust", "-f", "locustfile.py", "--headless", "--only-summary",
                               "--loglevel", "WARNING", "--stop-timeout", "0"], cwd=tmp_path / "locust", env=env,
                              capture_output=True, text=True, timeout=120, check=False)
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert server.paths[:len(expected)] == expected  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()
