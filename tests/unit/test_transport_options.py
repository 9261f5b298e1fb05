"""Transport options of the scenario: a request's own timeout, compression, a CA to trust. What each tool is
told (the rendered files, the k6 process's environment) and how the timeouts bound the drain."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from crossload.errors import ScenarioError
from crossload.profiles import build_schedule
from crossload.render import merged_headers, render_k6, render_locust
from crossload.scenario import Scenario, load_scenario
from crossload.tools.k6 import K6Tool

TARGET = "http://127.0.0.1:1"


def _load(tmp: Path, text: str) -> Scenario:
    path = tmp / "transport.yaml"
    path.write_text(text, encoding="utf-8")
    return load_scenario(path)


def _ca(tmp: Path) -> Path:
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
                    "/CN=crossload unit CA", "-keyout", str(tmp / "ca-key.pem"), "-out", str(tmp / "unit-ca.pem")],
                   check=True, capture_output=True, timeout=60)
    return tmp / "unit-ca.pem"


TIMEOUTS = """version: 1
name: t
defaults:
  timeout: 2s
requests:
  - name: short
    path: /a
    timeout: 100ms
  - name: long
    path: /b
    timeout: 5s
  - name: default
    path: /c
"""


def test_a_requests_own_timeout_in_both_tools(tmp_path: Path) -> None:
    s = _load(tmp_path, TIMEOUTS)
    assert [r.timeout_s for r in s.requests] == [0.1, 5.0, None]
    assert s.drain_s == 6  # the longest timeout (5 s) + 1 s
    k6 = render_k6(s, build_schedule("smoke", s), TARGET).text
    assert "timeout: '2s'," in k6  # the default, for every request
    assert "timeout: '100ms', // this request's own timeout" in k6
    assert "timeout: '5s', // this request's own timeout" in k6
    assert k6.count("this request's own timeout") == 2
    locust = render_locust(s, build_schedule("smoke", s), TARGET).text
    ast.parse(locust)
    # The user class waits as long as the longest timeout; the shorter ones run under their own timer.
    assert "network_timeout = 5.0" in locust and "connection_timeout = 5.0" in locust
    assert "timeout=0.1,  # this request's own timeout" in locust
    assert "timeout=2.0,  # this request's own timeout" in locust
    assert "timeout=5.0" not in locust


def test_without_own_timeouts_nothing_changes(tmp_path: Path) -> None:
    s = _load(tmp_path, "version: 1\nname: t\ndefaults:\n  timeout: 2s\nrequests:\n  - name: a\n    path: /a\n")
    locust = render_locust(s, build_schedule("smoke", s), TARGET).text
    assert "own timeout" not in locust and "network_timeout = 2.0" in locust
    assert "own timeout" not in render_k6(s, build_schedule("smoke", s), TARGET).text


COMPRESSION = """version: 1
name: t
defaults:
  compression: gzip
  headers:
    X-A: a
requests:
  - name: inherits
    path: /a
  - name: plain
    path: /b
    compression: none
  - name: own header
    path: /c
    headers:
      accept-encoding: br
"""


def test_compression_is_an_accept_encoding_header_in_both_tools(tmp_path: Path) -> None:
    s = _load(tmp_path, COMPRESSION)
    assert [merged_headers(s, r) for r in s.requests] == [
        {"X-A": "a", "Accept-Encoding": "gzip"},
        {"X-A": "a", "Accept-Encoding": "identity"},
        {"X-A": "a", "accept-encoding": "br"},
    ]
    assert render_k6(s, build_schedule("smoke", s), TARGET).text.count("'Accept-Encoding': 'gzip'") == 1
    assert render_locust(s, build_schedule("smoke", s), TARGET).text.count("'Accept-Encoding': 'identity'") == 1
    defaults_header = COMPRESSION.replace("compression: gzip\n  headers:\n", "headers:\n    Accept-Encoding: br\n")
    s = _load(tmp_path, defaults_header)
    assert merged_headers(s, s.requests[1])["Accept-Encoding"] == "identity"


def test_a_ca_is_copied_next_to_both_files_and_given_to_each_tool(tmp_path: Path) -> None:
    ca = _ca(tmp_path)
    s = _load(tmp_path, f"version: 1\nname: t\ntarget: https://127.0.0.1:1\ndefaults:\n  tls:\n    ca: {ca.name}\n"
                        "requests:\n  - name: a\n    path: /a\n")
    assert s.defaults.ca_file == str(ca.absolute()) and s.defaults.verify_tls
    schedule = build_schedule("smoke", s)
    k6 = render_k6(s, schedule, "https://127.0.0.1:1")
    locust = render_locust(s, schedule, "https://127.0.0.1:1")
    assert ca.absolute() in k6.support and ca.absolute() in locust.support
    assert str(tmp_path) not in k6.text + locust.text  # the file's name only: the files can move
    assert "ssl_context_factory = TrustedCa('unit-ca.pem')" in locust.text
    assert "insecure = False" in locust.text
    out = tmp_path / "run"
    script = k6.write(out / "k6")
    assert (out / "k6" / "unit-ca.pem").read_bytes() == ca.read_bytes()
    assert K6Tool().launch(script, out / "k6", s).env == {"SSL_CERT_FILE": "unit-ca.pem"}
    assert K6Tool().launch(script, out / "k6", _load(tmp_path, TIMEOUTS)).env == {}
    locust.write(out / "locust")
    # The factory Locust calls gives a verifying context that holds the system's authorities and the file's.
    probe = ("import sys; sys.path.insert(0, sys.argv[1]); import crossload_locust as cl; import ssl; "
             "c = cl.TrustedCa('unit-ca.pem')(cafile=None); "
             "print(c.verify_mode == ssl.CERT_REQUIRED, c.check_hostname, "
             "any(dict(x[0] for x in ca['subject']).get('commonName') == 'crossload unit CA' "
             "for ca in c.get_ca_certs()))")
    proc = subprocess.run([sys.executable, "-c", probe, str(out / "locust")], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["True", "True", "True"]


def test_a_ca_file_must_hold_a_certificate(tmp_path: Path) -> None:
    (tmp_path / "notes.pem").write_text("not a certificate\n", encoding="ascii")
    with pytest.raises(ScenarioError, match=r"'notes.pem' holds no certificate") as e:
        _load(tmp_path, "version: 1\nname: t\ndefaults:\n  tls: {ca: notes.pem}\nrequests:\n  - name: a\n    path: /\n")
    assert e.value.location.line == 4
    (tmp_path / "script.js").write_text("-----BEGIN CERTIFICATE-----\n", encoding="ascii")
    with pytest.raises(ScenarioError, match="rename it"):
        _load(tmp_path, "version: 1\nname: t\ndefaults:\n  tls: {ca: script.js}\nrequests:\n  - name: a\n    path: /\n")
