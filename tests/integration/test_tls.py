"""HTTPS targets: both tools check the certificate (Locust's FastHttpUser would not by default), and both
skip the check when the scenario says tls: {verify: false}. The target is a local HTTPS server with a
self-signed certificate made by openssl for this test."""

from __future__ import annotations

import io
import json
import ssl
import subprocess
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


@pytest.fixture(scope="module")
def https_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("tls")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
                    "/CN=127.0.0.1", "-keyout", str(tmp / "key.pem"), "-out", str(tmp / "cert.pem")],
                   check=True, capture_output=True, timeout=60)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp / "cert.pem", tmp / "key.pem")
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
