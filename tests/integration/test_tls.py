"""HTTPS targets: both tools check the certificate (Locust's FastHttpUser would not by default), both skip
the check when the scenario says tls: {verify: false}, and both trust a certificate authority given as
tls: {ca: file}. The targets are local HTTPS servers: one with a self-signed certificate, one with a
certificate for 127.0.0.1 issued by a CA, all made by openssl for this test."""

from __future__ import annotations

import io
import json
import shutil
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


class _Ok(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def https_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("tls")
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
             "-keyout", str(tmp / "key.pem"), "-out", str(tmp / "cert.pem"))
    yield from _serve(tmp / "cert.pem", tmp / "key.pem")


@pytest.fixture(scope="module")
def ca_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A server whose certificate (for IP 127.0.0.1) a test CA issued; the CA's certificate file."""
    tmp = tmp_path_factory.mktemp("ca")
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=crossload test CA",
             "-keyout", str(tmp / "ca-key.pem"), "-out", str(tmp / "ca.pem"))
    _openssl("req", "-new", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
             "-keyout", str(tmp / "key.pem"), "-out", str(tmp / "server.csr"))
    (tmp / "ext.cnf").write_text("basicConstraints=critical,CA:FALSE\nsubjectAltName=IP:127.0.0.1\n",
                                 encoding="ascii")
    _openssl("x509", "-req", "-in", str(tmp / "server.csr"), "-CA", str(tmp / "ca.pem"), "-CAkey",
             str(tmp / "ca-key.pem"), "-CAcreateserial", "-days", "2", "-extfile", str(tmp / "ext.cnf"),
             "-out", str(tmp / "cert.pem"))
    for url in _serve(tmp / "cert.pem", tmp / "key.pem"):
        yield url, tmp / "ca.pem"


def _serve(cert: Path, key: Path) -> Iterator[str]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    server.daemon_threads = True
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _run(tmp: Path, target: str, scenario: str) -> dict[str, object]:
    from crossload.run import RunRequest, execute

    tmp.mkdir(parents=True, exist_ok=True)
    path = tmp / "tls.yaml"
    path.write_text(scenario, encoding="utf-8")
    out = io.StringIO()
    result = execute(RunRequest(profile="smoke", target=target, scenario=str(path), users=1, duration_s=2,
                                results_dir=tmp / "results", quiet=True), out=out)
    assert result.path is not None, (result.message, out.getvalue())
    return json.loads((result.path / "summary.json").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


BASE = "version: 1\nname: tls\ndefaults:\n  think_time: 50ms\n{tls}requests:\n  - name: home\n    path: /\n"


def test_both_tools_check_the_certificate_unless_told_not_to(tmp_path: Path, https_target: str) -> None:
    checked = _run(tmp_path / "checked", https_target, BASE.format(tls=""))
    skipped = _run(tmp_path / "skipped", https_target, BASE.format(tls="  tls: {verify: false}\n"))
    for tool in ("locust", "k6"):
        home = checked["tools"][tool]["requests"]["home"]  # type: ignore[index]
        assert home["count"] > 0 and home["failures"] == home["count"], (tool, home)
        assert set(home["errors"]) == {"TLS error"}, (tool, home["errors"])
        ok = skipped["tools"][tool]["requests"]["home"]  # type: ignore[index]
        assert ok["count"] > 0 and ok["failures"] == 0, (tool, ok)


def test_both_tools_trust_a_ca_given_in_the_scenario(tmp_path: Path, ca_target: tuple[str, Path]) -> None:
    target, ca = ca_target
    (tmp_path / "trusted").mkdir()
    shutil.copy(ca, tmp_path / "trusted" / "test-ca.pem")  # next to the scenario: the path is relative to it
    trusted = _run(tmp_path / "trusted", target, BASE.format(tls="  tls: {ca: test-ca.pem}\n"))
    untrusted = _run(tmp_path / "untrusted", target, BASE.format(tls=""))
    for tool in ("locust", "k6"):
        ok = trusted["tools"][tool]["requests"]["home"]  # type: ignore[index]
        assert ok["count"] > 0 and ok["failures"] == 0, (tool, ok)
        home = untrusted["tools"][tool]["requests"]["home"]  # type: ignore[index]
        assert home["count"] > 0 and home["failures"] == home["count"], (tool, home)
        assert set(home["errors"]) == {"TLS error"}, (tool, home["errors"])
    # The CA is not a secret, but it is the scenario's file: the run keeps the copy the tools read.
    run_dir = next((tmp_path / "trusted" / "results").iterdir())
    assert sorted(p.name for p in run_dir.rglob("test-ca.pem")) == ["test-ca.pem", "test-ca.pem"]


def test_a_ca_that_does_not_exist_is_a_line_precise_error(tmp_path: Path) -> None:
    path = tmp_path / "tls.yaml"
    path.write_text(BASE.format(tls="  tls:\n    ca: missing.pem\n"), encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "crossload", "validate", str(path)], capture_output=True,
                          text=True, timeout=60, check=False)
    assert proc.returncode == 2, proc
    assert proc.stderr.strip().startswith(f"{path}:6: defaults.tls.ca: 'missing.pem' not found"), proc.stderr
