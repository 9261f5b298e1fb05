"""Real servers for integration tests, started from their Debian packages on free loopback ports.

- ``influxdb_v1`` / ``influxdb_v1_auth``: InfluxDB 1.6.7 (``apt-get install influxdb``), the second with
  authentication on and an admin user;
- ``victoria_metrics``: VictoriaMetrics 1.79 (``apt-get install victoria-metrics``), which accepts the
  InfluxDB v2 write API, so it is the real server for the influxdb-client path.
- ``dockerd``: Debian's dockerd (``apt-get install docker.io``) on a private socket and data root, one for the
  whole session (the stack tests and the docker runner's); no bridge, no iptables: host network only.

Each fixture owns its process and its data directory for the whole session; a test may ``stop()`` a server
(the way a crash or a restart looks to a client) and ``start()`` it again on the same port and data.
A missing binary fails the tests with the install command, unless CROSSLOAD_SKIP_SERVICES=1 says to skip.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from crossload.stack import API_VERSION, _check_socket

ADMIN_USER = "admin"
ADMIN_PASSWORD = "correct-horse-battery-staple"
START_TIMEOUT_S = 60.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def require_binary(name: str, package: str) -> str:
    path = shutil.which(name)
    if path:
        return path
    message = (f"{name} not found: install it with `apt-get update && apt-get install -y {package}` "
               "(or set CROSSLOAD_SKIP_SERVICES=1 to skip the tests that need it)")
    if os.environ.get("CROSSLOAD_SKIP_SERVICES") == "1":
        pytest.skip(message)
    pytest.fail(message, pytrace=False)


def http(method: str, url: str, data: bytes | None = None, headers: dict[str, str] | None = None,
         timeout: float = 10.0) -> tuple[int, bytes]:
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return int(resp.status), resp.read()
    except urllib.error.HTTPError as e:
        with e:
            return int(e.code), e.read()


class ServerProcess:
    """One server process that can be stopped and started again with the same port and data."""

    name = "server"

    def __init__(self, binary: str, workdir: Path) -> None:
        self.binary = binary
        self.workdir = workdir
        self.log_path = workdir / f"{self.name}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = free_port()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def argv(self) -> list[str]:
        raise NotImplementedError

    def ready(self) -> bool:
        raise NotImplementedError

    def start(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            return
        log = self.log_path.open("ab")
        try:
            self.proc = subprocess.Popen(self.argv(), stdout=log, stderr=subprocess.STDOUT, cwd=self.workdir)
        finally:
            log.close()
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                if self.ready():
                    return
            except OSError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{self.name} did not become ready in {START_TIMEOUT_S:g} s:\n{self.log_tail()}")

    def stop(self, kill: bool = False) -> None:
        """SIGTERM (or SIGKILL, as in a crash) and wait until the port is released."""
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


class InfluxDB1(ServerProcess):
    """influxd with its own config file, meta/data/wal directories and loopback-only listeners."""

    name = "influxd"

    def __init__(self, binary: str, workdir: Path, auth: bool = False) -> None:
        super().__init__(binary, workdir)
        self.auth = auth
        self.username = ADMIN_USER if auth else None
        self.password = ADMIN_PASSWORD if auth else None
        self.rpc_port = free_port()
        self.config = workdir / "influxdb.conf"
        self.config.write_text(
            "reporting-disabled = true\n"
            f'bind-address = "127.0.0.1:{self.rpc_port}"\n'
            "[meta]\n"
            f'  dir = "{workdir / "meta"}"\n'
            "[data]\n"
            f'  dir = "{workdir / "data"}"\n'
            f'  wal-dir = "{workdir / "wal"}"\n'
            "  query-log-enabled = false\n"
            "[monitor]\n"
            "  store-enabled = false\n"
            "[continuous_queries]\n"
            "  enabled = false\n"
            "[http]\n"
            f'  bind-address = "127.0.0.1:{self.port}"\n'
            f"  auth-enabled = {'true' if auth else 'false'}\n"
            "  log-enabled = false\n"
            "  unix-socket-enabled = false\n",
            encoding="utf-8",
        )

    def argv(self) -> list[str]:
        return [self.binary, "-config", str(self.config)]

    def ready(self) -> bool:
        return http("GET", f"{self.url}/ping", timeout=1.0)[0] == 204

    def _auth_headers(self) -> dict[str, str]:
        if not self.auth:
            return {}
        token = base64.b64encode(f"{ADMIN_USER}:{ADMIN_PASSWORD}".encode()).decode()
        return {"Authorization": f"Basic {token}"}

    def query(self, influxql: str, db: str | None = None, authenticate: bool = True) -> dict[str, Any]:
        """Run InfluxQL (POST /query, epoch seconds) and return the parsed JSON answer."""
        params = {"q": influxql, "epoch": "s"}
        if db:
            params["db"] = db
        body = urllib.parse.urlencode(params).encode()
        status, answer = http("POST", f"{self.url}/query", body,
                              {"Content-Type": "application/x-www-form-urlencoded",
                               **(self._auth_headers() if authenticate else {})})
        data: dict[str, Any] = json.loads(answer)
        if status != 200 or any("error" in r for r in data.get("results", [])) or "error" in data:
            raise AssertionError(f"InfluxQL failed (HTTP {status}): {influxql}: {data}")
        return data

    def rows(self, influxql: str, db: str) -> list[dict[str, Any]]:
        """Every row of every series as a dict of column -> value, plus the series' tags."""
        out: list[dict[str, Any]] = []
        for result in self.query(influxql, db).get("results", []):
            for series in result.get("series", []):
                for values in series.get("values", []):
                    row = dict(zip(series["columns"], values, strict=True))
                    row.update(series.get("tags", {}))
                    out.append(row)
        return out


class VictoriaMetrics(ServerProcess):
    """victoria-metrics; dedup on so that writing one identity twice reads back once, as in InfluxDB."""

    name = "victoria-metrics"

    def argv(self) -> list[str]:
        return [
            self.binary,
            f"-storageDataPath={self.workdir / 'data'}",
            f"-httpListenAddr=127.0.0.1:{self.port}",
            "-search.latencyOffset=0s",
            # Samples of one series with one timestamp are duplicates of each other: keep one.
            "-dedup.minScrapeInterval=1ms",
            "-loggerLevel=WARN",
        ]

    def ready(self) -> bool:
        return http("GET", f"{self.url}/health", timeout=1.0)[0] == 200

    def flush(self) -> None:
        """Make what was just written searchable (1.79 buffers recent rows for about a second)."""
        status, _ = http("GET", f"{self.url}/internal/force_flush")
        assert status == 200, status

    def export(self, match: str) -> list[dict[str, Any]]:
        """POST /api/v1/export for a series selector: one dict (metric, values, timestamps) per series."""
        self.flush()
        body = urllib.parse.urlencode({"match[]": match}).encode()
        status, answer = http("POST", f"{self.url}/api/v1/export", body,
                              {"Content-Type": "application/x-www-form-urlencoded"})
        assert status == 200, (status, answer[:500])
        return [json.loads(line) for line in answer.decode("utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="session")
def influxdb_v1(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InfluxDB1]:
    server = InfluxDB1(require_binary("influxd", "influxdb"), tmp_path_factory.mktemp("influxdb_v1"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def influxdb_v1_auth(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InfluxDB1]:
    server = InfluxDB1(require_binary("influxd", "influxdb"), tmp_path_factory.mktemp("influxdb_v1_auth"),
                       auth=True)
    server.start()
    try:
        # With authentication on and no user yet, InfluxDB 1.x accepts exactly this statement unauthenticated.
        statement = f"CREATE USER {ADMIN_USER} WITH PASSWORD '{ADMIN_PASSWORD}' WITH ALL PRIVILEGES"
        server.query(statement, authenticate=False)
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def victoria_metrics(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VictoriaMetrics]:
    server = VictoriaMetrics(require_binary("victoria-metrics", "victoria-metrics"),
                             tmp_path_factory.mktemp("victoria_metrics"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


# --- a real Docker engine (the stack tests and the docker runner's share one per session) ------------------

def _sbin_env() -> dict[str, str]:
    """This environment, with the sbin folders on PATH: dockerd and runc live in /usr/sbin on Debian."""
    path = os.environ.get("PATH", "")
    extra = [d for d in ("/usr/local/sbin", "/usr/sbin", "/sbin") if d not in path.split(os.pathsep)]
    return {**os.environ, "PATH": os.pathsep.join([path, *extra]) if path else os.pathsep.join(extra)}


class Dockerd:
    """Debian's dockerd on a private socket and data root; no bridge, no iptables: nothing shared with another
    engine on this machine, and containers here use the host network only."""

    def __init__(self, binary: str) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="cl-dk-", dir="/tmp"))  # short: unix socket paths are limited
        self.socket = self.dir / "docker.sock"
        self.host = f"unix://{self.socket}"
        self.log = self.dir / "dockerd.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.binary = binary

    def start(self) -> None:
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                [self.binary, "--host", self.host, "--data-root", str(self.dir / "data"),
                 "--exec-root", str(self.dir / "exec"), "--pidfile", str(self.dir / "dockerd.pid"),
                 "--bridge", "none", "--iptables=false", "--ip-masq=false",
                 "--containerd-namespace", "crossload-test", "--containerd-plugins-namespace", "crossload-test-p"],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=_sbin_env())
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"dockerd exited with {self.proc.returncode}:\n{self.tail()}", pytrace=False)
            try:
                _check_socket(str(self.socket))
                client = self.client()
                client.ping()
                client.close()
                return
            except Exception:
                time.sleep(0.2)
        self.stop()
        pytest.fail(f"dockerd did not answer in 60 s:\n{self.tail()}", pytrace=False)

    def client(self) -> Any:
        import docker

        return docker.DockerClient(base_url=self.host, version=API_VERSION, timeout=60)

    def tail(self) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-30:]) if self.log.exists() else ""

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        # What dockerd may leave mounted under its folders (its network namespace file), deepest first.
        mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()
                  if line.split()[1].startswith(str(self.dir) + "/")]
        for mount in sorted(mounts, key=len, reverse=True):
            subprocess.run(["umount", "-l", mount], capture_output=True, check=False)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="session")
def dockerd() -> Iterator[Dockerd]:
    engine = Dockerd(shutil.which("dockerd", path=_sbin_env()["PATH"]) or require_binary("dockerd", "docker.io"))
    engine.start()
    try:
        yield engine
    finally:
        engine.stop()
