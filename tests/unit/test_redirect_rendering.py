"""``redirects: N`` and ``paginate``: read from the scenario, rendered for both tools; the support modules'
status label, same-site rule, next links (Python and a real ``k6 run``); the demo target's redirect chains."""

from __future__ import annotations

import ast
import http.client
import json
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

from crossload.paths import resource_dir
from crossload.profiles import build_schedule
from crossload.render import REDIRECT_STATUSES, render_k6, render_locust, status_label
from crossload.scenario import Scenario, load_scenario, redirects_of
from crossload.target import DemoTarget

TARGET = "http://127.0.0.1:1"

SCENARIO = """version: 1
name: r
defaults:
  redirects: 3
requests:
  - name: by default
    path: /a
  - name: not followed
    path: /b
    redirects: 0
  - name: listed
    path: /c
    checks:
      status: [200, 302]
journeys:
  - name: j
    steps:
      - name: own
        method: POST
        path: /d
        json: {a: 1}
        redirects: 1
        checks:
          status: 201
"""


def _load(tmp: Path, text: str) -> Scenario:
    path = tmp / "redirects.yaml"
    path.write_text(text, encoding="utf-8")
    return load_scenario(path)


def test_redirects_come_from_the_request_or_the_defaults(tmp_path: Path) -> None:
    s = _load(tmp_path, SCENARIO)
    assert s.defaults.redirects == 3
    assert [redirects_of(s.defaults, r) for r in s.all_requests] == [3, 0, 3, 1]
    plain = _load(tmp_path, "version: 1\nname: p\nrequests:\n  - name: a\n    path: /a\n")
    assert plain.defaults.redirects == 0 and redirects_of(plain.defaults, plain.requests[0]) == 0


def test_both_tools_follow_the_same_number_of_redirects(tmp_path: Path) -> None:
    s = _load(tmp_path, SCENARIO)
    k6 = render_k6(s, build_schedule("smoke", s), TARGET).text
    assert k6.count("redirects: 3, // follow up to 3 redirects") == 2
    assert k6.count("redirects: 1, // follow up to 1 redirect:") == 1
    assert "maxRedirects: 0," in k6  # what a request without redirects keeps
    # Listed statuses take the redirect statuses for the hops; a final redirect is counted by the script.
    assert "http.expectedStatuses(200, 302, 301, 303, 307, 308), // redirect hops are not failures" in k6
    assert "http.expectedStatuses(201, 301, 302, 303, 307, 308), // redirect hops are not failures" in k6
    assert "countRedirectStop(res, req, 'status in [200, 302]');" in k6
    assert "countRedirectStop(res, req, 'status is 201');" in k6
    locust = render_locust(s, build_schedule("smoke", s), TARGET).text
    ast.parse(locust)
    assert locust.count("redirects=3,  # follow up to 3 redirects") == 2
    assert locust.count("redirects=1,  # follow up to 1 redirect:") == 1
    assert "max_redirects = 0" in locust


def test_without_redirects_nothing_changes(tmp_path: Path) -> None:
    s = _load(tmp_path, "version: 1\nname: p\nrequests:\n  - name: a\n    path: /a\n    checks: {status: 200}\n")
    k6 = render_k6(s, build_schedule("smoke", s), TARGET).text
    assert "redirects:" not in k6 and "countRedirectStop" not in k6
    assert "http.expectedStatuses(200)," in k6
    assert "redirects=" not in render_locust(s, build_schedule("smoke", s), TARGET).text


def test_the_locust_module_names_the_status_check_as_the_k6_script_does(tmp_path: Path) -> None:
    cases = [[200], [200, 201], [302], [200, 301, 404]]
    probe = ("import json, sys; sys.path.insert(0, sys.argv[1]); import crossload_locust as cl; "
             "cases = json.loads(sys.argv[2]); "
             "print(json.dumps([[cl.status_label(c) for c in cases], sorted(cl.REDIRECT_STATUSES), "
             "[cl._same_site(a, b) for a, b in json.loads(sys.argv[3])], "
             "[cl._status_failure(302, [200], 2), cl._status_failure(404, [200], 2), "
             "cl._status_failure(302, [200], 0), cl._status_failure(302, [], 2)]]))")
    pairs = [["http://a.test:1/x", "http://a.test:1/y"], ["http://a.test:1/x", "http://a.test:2/y"],
             ["http://a.test/x", "http://sub.a.test/y"], ["http://a.test/x", "http://b.test/y"],
             ["http://127.0.0.1:8/x", "http://localhost:8/y"]]
    proc = subprocess.run([sys.executable, "-c", probe, str(resource_dir("locust")), json.dumps(cases),
                           json.dumps(pairs)], cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    labels, statuses, same, causes = json.loads(proc.stdout)
    assert labels == [status_label(c) for c in cases]
    assert statuses == list(REDIRECT_STATUSES)
    assert same == [True, True, True, False, False]
    assert causes == ["check failed: status is 200", "HTTP 404", "HTTP 302", "HTTP 302"]


def _get(base: str, method: str, path: str, body: bytes | None = None) -> tuple[int, dict[str, str], bytes]:
    parts = urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.request(method, path, body=body)
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


def test_the_demo_target_serves_redirect_chains_and_logs_every_hop() -> None:
    with DemoTarget(host="127.0.0.1", port=0) as target:
        base = target.url
        _get(base, "DELETE", "/_crossload/echo-log")
        status, headers, _ = _get(base, "POST", "/redirect/3?code=307&u=1", b"x")
        assert status == 307 and headers["Location"] == "/redirect/2?code=307&u=1"
        status, headers, _ = _get(base, "GET", "/redirect/1?to=%2Fecho%2Fdone%3Fs%3D1")
        assert status == 302 and headers["Location"] == "/echo/done?s=1"
        status, headers, _ = _get(base, "GET", "/redirect/1")
        assert headers["Location"] == "/echo/redirected"
        status, _, body = _get(base, "PUT", "/redirect/0", b"y")
        assert status == 200 and json.loads(body)["body"] == "y"
        assert _get(base, "GET", "/redirect/2?code=304")[0] == 400
        assert _get(base, "GET", "/redirect/51")[0] == 400
        log = json.loads(_get(base, "GET", "/_crossload/echo-log")[2])["entries"]
        assert [(e["method"], e["raw_path"], e["body"]) for e in log[:4]] == [
            ("POST", "/redirect/3?code=307&u=1", "x"), ("GET", "/redirect/1?to=%2Fecho%2Fdone%3Fs%3D1", ""),
            ("GET", "/redirect/1", ""), ("PUT", "/redirect/0", "y")]


PAGINATED = """version: 1
name: p
journeys:
  - name: j
    steps:
      - name: by link
        path: /items
        paginate: {link: Next}
      - name: by json
        path: /items
        paginate: {json: $.links.next, max_pages: 3}
"""


def test_both_tools_page_through_the_same_links(tmp_path: Path) -> None:
    s = _load(tmp_path, PAGINATED)
    by_link, by_json = s.journeys[0].steps
    assert by_link.paginate is not None and by_link.paginate.link == "next" and by_link.paginate.max_pages == 10
    assert by_json.paginate is not None and by_json.paginate.steps == ("links", "next")
    k6 = render_k6(s, build_schedule("smoke", s), TARGET).text
    assert "for (let page = 1; page <= 10; page++) {" in k6 and "for (let page = 1; page <= 3; page++) {" in k6
    assert "url = ok ? nextPage(res, req, { link: 'next' }) : undefined;" in k6
    assert "url = ok ? nextPage(res, req, { json: ['links', 'next'] }) : undefined;" in k6
    assert k6.count("responseType: 'text'") == 1  # the JSON body names the next page
    locust = render_locust(s, build_schedule("smoke", s), TARGET).text
    ast.parse(locust)
    assert "paginate={'link': 'next'},  # then each next page, a request of its own\n    max_pages=10," in locust
    assert "paginate={'json': ['links', 'next']}," in locust and "max_pages=3," in locust


# (current URL, reference) -> the URL both support modules resolve it to.
RESOLVED = [
    ("http://h:1/a/b?x=1", "/c?p=2", "http://h:1/c?p=2"),
    ("http://h:1/a/b?x=1", "c?p=2", "http://h:1/a/c?p=2"),
    ("http://h:1/a/b?x=1", "?p=2", "http://h:1/a/b?p=2"),
    ("http://h:1/a/b", "//o:2/z", "http://o:2/z"),
    ("https://h/a", "http://o/z", "http://o/z"),
    ("http://h:1", "p", "http://h:1/p"),
]
# (Link header, rel) -> the target both support modules find.
LINKS = [
    ('<http://h/p?page=1>; rel="first", </p?page=3>; rel="next"', "next", "/p?page=3"),
    ("</p?page=3>; rel=next", "next", "/p?page=3"),
    ('</p?page=3>; title="x"; REL="prev next"', "next", "/p?page=3"),
    ('</p?page=1>; rel="first"', "next", None),
    ("", "next", None),
    ('<a>;rel="next",<b>;rel="next"', "next", "a"),
]


def test_the_support_modules_resolve_next_links_alike(tmp_path: Path) -> None:
    probe = ("import json, sys; sys.path.insert(0, sys.argv[1]); import crossload_locust as cl; "
             "r, l = json.loads(sys.argv[2]), json.loads(sys.argv[3]); "
             "print(json.dumps([[cl.resolve_url(c, ref) for c, ref, _ in r], "
             "[cl.link_target(h, rel) for h, rel, _ in l], "
             "[cl.next_page({'link': 'next'}, {'Link': '<http://o:1/p>; rel=next'}, '', 'http://h:1/a', 'http://h:1'), "
             "cl.next_page({'json': ['next']}, {}, '{\"next\": \"/p?page=2\"}', 'http://h:1/a', 'http://h:1'), "
             "cl.next_page({'json': ['next']}, {}, '{\"next\": null}', 'http://h:1/a', 'http://h:1'), "
             "cl.next_page({'json': ['next']}, {}, '{\"next\": \"\"}', 'http://h:1/a', 'http://h:1')]]))")
    proc = subprocess.run([sys.executable, "-c", probe, str(resource_dir("locust")), json.dumps(RESOLVED),
                           json.dumps(LINKS)], cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    locust = json.loads(proc.stdout)
    (tmp_path / "crossload.js").write_bytes((resource_dir("k6") / "crossload.js").read_bytes())
    (tmp_path / "probe.js").write_text(
        "import { linkTarget, nextPage, resolveUrl } from './crossload.js';\n"
        f"const R = {json.dumps(RESOLVED)};\nconst L = {json.dumps(LINKS)};\n"
        "export const options = { iterations: 1, vus: 1 };\n"
        "function res(headers, body) { return { url: 'http://h:1/a', headers: headers, body: body }; }\n"
        "const req = { url: 'http://h:1/a' };\n"
        "export default function () {\n"
        "  const out = [R.map((c) => resolveUrl(c[0], c[1])), L.map((c) => linkTarget(c[0], c[1])), [\n"
        "    nextPage(res({ Link: '<http://o:1/p>; rel=next' }, ''), req, { link: 'next' }) || null,\n"
        "    nextPage(res({}, '{\"next\": \"/p?page=2\"}'), req, { json: ['next'] }) || null,\n"
        "    nextPage(res({}, '{\"next\": null}'), req, { json: ['next'] }) || null,\n"
        "    nextPage(res({}, '{\"next\": \"\"}'), req, { json: ['next'] }) || null]];\n"
        "  console.log('RESULT ' + JSON.stringify(out));\n"
        "}\n", encoding="utf-8")
    proc = subprocess.run(["k6", "run", "-q", "--no-summary", "--log-format", "raw", "probe.js"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    line = next(x for x in (proc.stdout + proc.stderr).splitlines() if x.startswith("RESULT "))
    k6 = json.loads(line[len("RESULT "):])
    expected = [[want for _, _, want in RESOLVED], [want for _, _, want in LINKS],
                [None, "http://h:1/p?page=2", None, None]]
    assert locust == expected
    assert k6 == expected
