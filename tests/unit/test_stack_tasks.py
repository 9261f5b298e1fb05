"""The results stack: docker/compose.yml and its provisioning files hold together, the compose file is read with
Compose's rules, and up/down/status/logs make the right docker SDK calls (a fake client here; a real engine in
tests/integration/test_stack.py)."""

from __future__ import annotations

import io
import json
import os
import re
import stat
from pathlib import Path
from typing import Any

import pytest
import yaml

from crossload import cli, stack, tasks_api
from crossload.errors import InputError

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker" / "compose.yml"
DEFAULT = re.compile(r"\$\{(STACK_[A-Z0-9_]+):-([^}]*)\}")


def env_example() -> dict[str, str]:
    text = (ROOT / ".env.example").read_text(encoding="utf-8")
    return dict(re.findall(r"^# (STACK_[A-Z0-9_]+)=(.*)$", text, flags=re.MULTILINE))


# --- Compose's variable substitution -----------------------------------------------------------------------

@pytest.mark.parametrize(("text", "env", "expected"), [
    ("${A}", {"A": "x"}, "x"),
    ("$A/b", {"A": "x"}, "x/b"),
    ("${A}", {}, ""),
    ("${A:-d}", {}, "d"),
    ("${A:-d}", {"A": ""}, "d"),
    ("${A-d}", {"A": ""}, ""),
    ("${A-d}", {}, "d"),
    ("${A:-${B:-inner}}", {}, "inner"),
    ("${A:+set}", {"A": "1"}, "set"),
    ("${A:+set}", {"A": ""}, ""),
    ("$$HOME and $${A}", {"A": "x"}, "$HOME and ${A}"),
    ("http://${H:-127.0.0.1}:${P:-8086}", {"P": "9999"}, "http://127.0.0.1:9999"),
])
def test_interpolation_follows_compose(text: str, env: dict[str, str], expected: str) -> None:
    assert stack.interpolate(text, env, "f") == expected


def test_required_and_malformed_variables_are_input_errors() -> None:
    with pytest.raises(InputError, match="f: TOKEN is not set: give a token"):
        stack.interpolate("${TOKEN:?give a token}", {"TOKEN": ""}, "f")
    with pytest.raises(InputError, match="invalid variable reference"):
        stack.interpolate("${not valid}", {}, "f")


# --- the compose file and the files it mounts ----------------------------------------------------------------

def test_every_stack_setting_is_documented_with_the_compose_default() -> None:
    used: dict[str, set[str]] = {}
    for name, default in DEFAULT.findall(COMPOSE.read_text(encoding="utf-8")):
        used.setdefault(name, set()).add(default)
    documented = env_example()
    assert all(len(defaults) == 1 for defaults in used.values()), used
    assert {k: v.pop() for k, v in used.items()} == documented
    # No ${STACK_*} without a default: the file works with an empty .env.
    code = "\n".join(line for line in COMPOSE.read_text().splitlines() if not line.lstrip().startswith("#"))
    assert not re.findall(r"\$\{?STACK_", re.sub(DEFAULT, "", code))


def test_the_compose_file_reads_with_the_defaults_and_with_settings() -> None:
    s = stack.load_stack(COMPOSE, env={})
    assert s.project == "crossload" and [svc.name for svc in s.active()] == ["influxdb", "grafana"]
    influx, grafana = s.services["influxdb"], s.services["grafana"]
    assert influx.image.startswith("influxdb:2.") and grafana.image.startswith("grafana/grafana:")
    assert influx.ports == (stack.Port(8086, 8086, "127.0.0.1"),)
    assert grafana.depends_on == {"influxdb": "service_healthy"}
    custom = stack.load_stack(COMPOSE, env={"STACK_INFLUXDB_PORT": "18086", "STACK_PROJECT": "nightly",
                                            "STACK_INFLUXDB_TOKEN": "s3cret", "STACK_BIND": "0.0.0.0"})
    assert custom.project == "nightly" and custom.network_name == "nightly_default"
    assert custom.services["influxdb"].ports == (stack.Port(8086, 18086, "0.0.0.0"),)
    # Published on every interface, reached on this machine's loopback.
    assert custom.influx_settings() == {"CROSSLOAD_INFLUX_URL": "http://127.0.0.1:18086", "CROSSLOAD_INFLUX_API": "v2",
                                        "CROSSLOAD_INFLUX_ORG": "crossload", "CROSSLOAD_INFLUX_BUCKET": "crossload",
                                        "CROSSLOAD_INFLUX_TOKEN": "s3cret"}


def test_the_settings_crossload_writes_with_are_those_influxdb_is_set_up_with() -> None:
    s = stack.load_stack(COMPOSE, env={"STACK_INFLUXDB_PORT": "18086", "STACK_INFLUXDB_ORG": "o",
                                       "STACK_INFLUXDB_BUCKET": "b", "STACK_INFLUXDB_TOKEN": "t"})
    influx = s.services["influxdb"]
    env, settings = influx.environment, s.influx_settings()
    assert env["DOCKER_INFLUXDB_INIT_MODE"] == "setup"
    assert settings["CROSSLOAD_INFLUX_ORG"] == env["DOCKER_INFLUXDB_INIT_ORG"] == "o"
    assert settings["CROSSLOAD_INFLUX_BUCKET"] == env["DOCKER_INFLUXDB_INIT_BUCKET"] == "b"
    assert settings["CROSSLOAD_INFLUX_TOKEN"] == env["DOCKER_INFLUXDB_INIT_ADMIN_TOKEN"] == "t"
    port = influx.ports[0]
    assert settings["CROSSLOAD_INFLUX_URL"] == f"http://{port.host_ip}:{port.host_port}"
    assert port.container_port == 8086
    grafana = s.services["grafana"]
    assert s.grafana_url() == f"http://127.0.0.1:{grafana.ports[0].host_port}"
    assert grafana.ports[0].container_port == 3000
    # Grafana reaches InfluxDB by its service name on the stack's network, with the same token and database.
    assert grafana.environment["STACK_INFLUXDB_URL"] == "http://influxdb:8086"
    assert grafana.environment["STACK_INFLUXDB_TOKEN"] == "t"
    assert grafana.environment["STACK_INFLUXDB_DATABASE"] == env["STACK_DBRP_DATABASE"] == "b"


def test_the_dbrp_init_script_maps_the_database_grafana_reads_to_the_bucket(tmp_path: Path) -> None:
    """The influxdb image runs docker/influxdb/initdb.d/*.sh once, after its setup, with the service's
    environment plus the ids setup created (DOCKER_INFLUXDB_INIT_BUCKET_ID among them, per the image's
    documentation). Run here with sh and an ``influx`` that records its arguments: the mapping it asks for
    is the database Grafana's data source names, on the stack's bucket, as the default retention policy."""
    import subprocess

    s = stack.load_stack(COMPOSE, env={"STACK_INFLUXDB_ORG": "o", "STACK_INFLUXDB_BUCKET": "b"})
    influx, grafana = s.services["influxdb"], s.services["grafana"]
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    recorded = tmp_path / "argv"
    fake = bin_dir / "influx"
    fake.write_text(f'#!/bin/sh\nfor a in "$@"; do printf "%s\\n" "$a"; done > {recorded}\n')
    fake.chmod(0o755)
    scripts = sorted((ROOT / "docker/influxdb/initdb.d").glob("*.sh"))
    assert scripts
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", **influx.environment, "DOCKER_INFLUXDB_INIT_BUCKET_ID": "0123abcd"}
    for script in scripts:
        proc = subprocess.run(["sh", str(script)], env=env, capture_output=True, text=True, timeout=30, check=False)
        assert proc.returncode == 0, proc.stderr
    argv = recorded.read_text().splitlines()
    assert argv[:3] == ["v1", "dbrp", "create"]
    options = dict(zip(argv[3::2], argv[4::2], strict=False))
    assert options["--org"] == "o" and options["--bucket-id"] == "0123abcd" and options["--rp"] == "autogen"
    assert options["--db"] == grafana.environment["STACK_INFLUXDB_DATABASE"] == "b"
    assert argv[-1] == "--default"


def _mount(service: stack.Service, target: str) -> stack.Mount:
    return next(m for m in service.mounts if m.target == target)


def test_provisioning_points_at_files_that_exist() -> None:
    s = stack.load_stack(COMPOSE, env={})
    grafana, influx = s.services["grafana"], s.services["influxdb"]
    provisioning = _mount(grafana, "/etc/grafana/provisioning")
    assert provisioning.kind == "bind" and provisioning.read_only
    host = Path(provisioning.source)
    datasources = yaml.safe_load((host / "datasources" / "crossload.yaml").read_text())
    providers = yaml.safe_load((host / "dashboards" / "crossload.yaml").read_text())
    # The dashboards provider reads the container path where ../dashboards is mounted (read-only), and that
    # folder holds the dashboards.
    path = providers["providers"][0]["options"]["path"]
    board_mount = _mount(grafana, path)
    assert board_mount.kind == "bind" and board_mount.read_only and Path(board_mount.source) == ROOT / "dashboards"
    boards = sorted(p.name for p in Path(board_mount.source).glob("*.json"))
    assert len(boards) == 4
    home = grafana.environment["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home.rsplit("/", 1)[0] == path and home.rsplit("/", 1)[1] in boards
    # The provisioned data source is the only InfluxDB one and the default, so the dashboards' datasource
    # variable (whose initial value is the import dialog's input, unreplaced when provisioned) starts on it;
    # InfluxQL, with the variables compose sets.
    ds = datasources["datasources"][0]
    assert [d["type"] for d in datasources["datasources"]] == ["influxdb"] and ds["isDefault"] is True
    for board in boards:
        dash = json.loads((ROOT / "dashboards" / board).read_text())
        var = dash["templating"]["list"][0]
        assert var["name"] == "datasource" and var["query"] == "influxdb"
        assert var["current"]["value"] == "${" + dash["__inputs"][0]["name"] + "}"
    assert ds["type"] == "influxdb" and ds["jsonData"]["version"] == "InfluxQL"
    referenced = set(re.findall(r"\$\{?([A-Z_]+)\}?", json.dumps(ds)))
    assert referenced and referenced <= set(grafana.environment)
    # The DBRP init script is mounted where the influxdb image runs init scripts, and is executable.
    init = _mount(influx, "/docker-entrypoint-initdb.d")
    assert init.kind == "bind" and init.read_only
    scripts = list(Path(init.source).glob("*.sh"))
    assert scripts and all(p.stat().st_mode & stat.S_IXUSR for p in scripts)
    script = scripts[0].read_text()
    assert "influx v1 dbrp create" in script and "DOCKER_INFLUXDB_INIT_BUCKET_ID" in script
    assert "STACK_DBRP_DATABASE" in script and "STACK_DBRP_DATABASE" in influx.environment
    # Every bind mount's source exists in the repository.
    for service in s.services.values():
        for m in service.mounts:
            assert m.kind == "volume" or Path(m.source).exists(), m


@pytest.mark.parametrize(("snippet", "message"), [
    ("services:\n  a:\n    image: x\n    secrets: [s]\n", "secrets: not supported"),
    ("services:\n  a:\n    image: x\n    build: .\n", "build: no Dockerfile Dockerfile in"),
    ("services:\n  a:\n    image: x\n    build: {context: ., target: t}\n", "build: target: not supported"),
    ("services:\n  a:\n    image: x\nnetworks: {}\n", "networks: not supported"),
    ("services:\n  a:\n    image: x\n    volumes: [data:/d]\n", "volume 'data' is not declared"),
    ("services:\n  a:\n    image: x\n    depends_on: [b]\n", "no service 'b'"),
    ("services:\n  a:\n    image: x\n    ports: ['a:b']\n", "is not [HOST_IP:]HOST_PORT:CONTAINER_PORT"),
    ("services:\n  a:\n    image: x\n    healthcheck: {test: [CMD, x], interval: soon}\n", "is not a duration"),
    ("services:\n  a: {}\n", "every service needs an image"),
])
def test_what_the_stack_tasks_cannot_do_is_an_error_not_ignored(snippet: str, message: str, tmp_path: Path) -> None:
    path = tmp_path / "compose.yml"
    path.write_text(snippet)
    with pytest.raises(InputError, match=re.escape(message)):
        stack.load_stack(path, env={})


# --- a fake docker SDK client --------------------------------------------------------------------------

class NotFound(Exception):  # the docker SDK's own name
    status_code = 404


class ImageNotFound(NotFound):
    pass


class APIError(Exception):
    def __init__(self, explanation: str) -> None:
        super().__init__(explanation)
        self.explanation = explanation


class FakeImage:
    def __init__(self, ref: str) -> None:
        self.id = "sha256:" + ref
        self.tags = [ref]
        self.short_id = ref[:12]


class FakeContainer:
    def __init__(self, engine: FakeEngine, kwargs: dict[str, Any]) -> None:
        self.engine = engine
        self.kwargs = kwargs
        self.name = kwargs["name"]
        self.labels = dict(kwargs["labels"])
        self.image = FakeImage(kwargs["image"])
        self.status = "created"
        self.health: list[str] = list(engine.health_script.get(self.labels[stack.LABEL_SERVICE], ["healthy"]))
        self.removed = False
        self.log_text = f"{self.name} line 1\n{self.name} line 2\n"

    @property
    def attrs(self) -> dict[str, Any]:
        state: dict[str, Any] = {"Status": self.status, "ExitCode": 0 if self.status != "exited" else 1}
        if self.status == "running" and "healthcheck" in self.kwargs:
            state["Health"] = {"Status": self.health[0]}
        ports = {k: [{"HostIp": v[0] if isinstance(v, tuple) else "", "HostPort": str(v[1] if isinstance(v, tuple)
                                                                                        else v)}]
                 for k, v in self.kwargs.get("ports", {}).items()}
        return {"State": state, "NetworkSettings": {"Ports": ports}}

    def reload(self) -> None:
        if self.status == "running" and len(self.health) > 1:
            self.health.pop(0)

    def start(self) -> None:
        if self.name in self.engine.fail_start:
            raise APIError("driver failed programming external connectivity: address already in use")
        self.engine.calls.append(("start", self.name))
        self.status = "running"

    def stop(self, timeout: int = 10) -> None:
        self.engine.calls.append(("stop", self.name))
        self.status = "exited"

    def remove(self, v: bool = False) -> None:
        self.engine.calls.append(("remove", self.name))
        self.removed = True

    def logs(self, tail: int = 100, timestamps: bool = False, stream: bool = False,
             follow: bool = False) -> Any:
        lines = self.log_text.splitlines(keepends=True)[-tail:] if tail else []
        data = "".join(lines).encode()
        return iter([data[:5], data[5:]]) if stream else data


def _matches(labels: dict[str, str], filters: dict[str, Any] | None) -> bool:
    for item in (filters or {}).get("label", []):
        key, _, value = item.partition("=")
        if labels.get(key) != value:
            return False
    return True


class FakeEngine:
    """The parts of docker.DockerClient the stack uses, recording every call."""

    def __init__(self, images: set[str] | None = None) -> None:
        self.local_images = set(images if images is not None else {"influxdb:2.7.11", "grafana/grafana:11.6.0"})
        self.pullable: set[str] = set()
        self.calls: list[tuple[str, ...]] = []
        self.created: list[FakeContainer] = []
        self.networks_made: dict[str, dict[str, str]] = {}
        self.volumes_made: dict[str, dict[str, str]] = {}
        self.health_script: dict[str, list[str]] = {}
        self.fail_start: set[str] = set()
        self.build_context: list[str] = []
        self.build_error = False
        outer = self

        class Images:
            def get(self, ref: str) -> FakeImage:
                if ref not in outer.local_images:
                    raise ImageNotFound(f"No such image: {ref}")
                return FakeImage(ref)

            def build(self, fileobj: Any, custom_context: bool, dockerfile: str, tag: str,
                      **kwargs: Any) -> tuple[FakeImage, list[dict[str, str]]]:
                import tarfile as tf

                with tf.open(fileobj=fileobj) as tar:
                    outer.build_context = sorted(tar.getnames())
                outer.calls.append(("build", tag, dockerfile))
                if outer.build_error:
                    error = APIError("The command '/bin/sh -c pip install' returned a non-zero code: 1")
                    error.build_log = [{"stream": "Step 9/14 : RUN pip install"}, {"error": "no network"}]  # type: ignore[attr-defined]
                    raise error
                outer.local_images.add(tag)
                return FakeImage(tag), []

            def pull(self, repository: str, tag: str = "latest") -> FakeImage:
                ref = f"{repository}:{tag}"
                outer.calls.append(("pull", ref))
                if ref not in outer.pullable:
                    raise APIError("Get https://registry-1.docker.io/v2/: dial tcp: lookup failed")
                outer.local_images.add(ref)
                return FakeImage(ref)

        class Containers:
            def create(self, **kwargs: Any) -> FakeContainer:
                outer.calls.append(("create", kwargs["name"]))
                c = FakeContainer(outer, kwargs)
                outer.created.append(c)
                return c

            def list(self, all: bool = False, filters: dict[str, Any] | None = None) -> list[FakeContainer]:
                return [c for c in outer.created if not c.removed and _matches(c.labels, filters)]

        class Net:
            def __init__(self, name: str) -> None:
                self.name = name

            def remove(self) -> None:
                outer.calls.append(("remove network", self.name))
                del outer.networks_made[self.name]

        class Networks:
            def list(self, names: list[str] | None = None, filters: dict[str, Any] | None = None) -> list[Net]:
                return [Net(n) for n, labels in outer.networks_made.items()
                        if (names is None or n in names) and _matches(labels, filters)]

            def create(self, name: str, driver: str, labels: dict[str, str]) -> Net:
                outer.calls.append(("create network", name))
                outer.networks_made[name] = labels
                return Net(name)

        class Vol:
            def __init__(self, name: str) -> None:
                self.name = name

            def remove(self) -> None:
                outer.calls.append(("remove volume", self.name))
                del outer.volumes_made[self.name]

        class Volumes:
            def get(self, name: str) -> Vol:
                if name not in outer.volumes_made:
                    raise NotFound(name)
                return Vol(name)

            def create(self, name: str, labels: dict[str, str]) -> Vol:
                outer.calls.append(("create volume", name))
                outer.volumes_made[name] = labels
                return Vol(name)

            def list(self, filters: dict[str, Any] | None = None) -> list[Vol]:
                return [Vol(n) for n, labels in outer.volumes_made.items() if _matches(labels, filters)]

        class Api:
            def create_endpoint_config(self, aliases: list[str]) -> dict[str, Any]:
                return {"Aliases": aliases}

        self.images = Images()
        self.containers = Containers()
        self.networks = Networks()
        self.volumes = Volumes()
        self.api = Api()

    def by_service(self, service: str) -> FakeContainer:
        return next(c for c in self.created if not c.removed and c.labels[stack.LABEL_SERVICE] == service)


@pytest.fixture()
def dotenv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / ".env"
    monkeypatch.setenv("CROSSLOAD_DOTENV", str(path))
    for name in list(os.environ):
        if name.startswith("CROSSLOAD_INFLUX_"):
            monkeypatch.delenv(name)
    return path


def no_sleep(_s: float) -> None:
    return None


def test_up_creates_what_the_file_declares_in_dependency_order(dotenv: Path) -> None:
    s = stack.load_stack(COMPOSE, env={})
    engine = FakeEngine()
    engine.health_script = {"influxdb": ["starting", "starting", "healthy"]}
    out = io.StringIO()
    assert stack.up(s, engine, out, dotenv=dotenv, sleep=no_sleep) == 0
    assert engine.calls == [("create network", "crossload_default"),
                            ("create volume", "crossload_grafana-data"), ("create volume", "crossload_influxdb-config"),
                            ("create volume", "crossload_influxdb-data"),
                            ("create", "crossload-influxdb-1"), ("start", "crossload-influxdb-1"),
                            ("create", "crossload-grafana-1"), ("start", "crossload-grafana-1")]
    influx = engine.by_service("influxdb").kwargs
    assert influx["image"] == "influxdb:2.7.11" and influx["ports"] == {"8086/tcp": ("127.0.0.1", 8086)}
    assert influx["network"] == "crossload_default" and influx["hostname"] == "influxdb"
    assert influx["networking_config"] == {"crossload_default": {"Aliases": ["influxdb"]}}
    assert influx["healthcheck"] == {"test": ["CMD", "influx", "ping"], "interval": 5_000_000_000,
                                     "timeout": 5_000_000_000, "retries": 24, "start_period": 10_000_000_000}
    assert influx["restart_policy"] == {"Name": "unless-stopped"}
    mounts = {m["Target"]: (m["Type"], m["Source"], m["ReadOnly"]) for m in influx["mounts"]}
    assert mounts == {"/var/lib/influxdb2": ("volume", "crossload_influxdb-data", False),
                      "/etc/influxdb2": ("volume", "crossload_influxdb-config", False),
                      "/docker-entrypoint-initdb.d": ("bind", str(ROOT / "docker/influxdb/initdb.d"), True)}
    labels = influx["labels"]
    assert labels[stack.LABEL_PROJECT] == "crossload" and labels[stack.LABEL_SERVICE] == "influxdb"
    assert labels["io.crossload.influx.url"] == "http://127.0.0.1:8086"
    grafana_mounts = {m["Target"]: m["Source"] for m in engine.by_service("grafana").kwargs["mounts"]}
    assert grafana_mounts["/var/lib/grafana/dashboards/crossload"] == str(ROOT / "dashboards")
    printed = out.getvalue()
    assert "waiting for influxdb (healthy)" in printed and "is up: influxdb, grafana healthy" in printed
    assert "Grafana:  http://127.0.0.1:3000" in printed
    # Runs now push to the stack: the settings are in .env (and in this process's environment).
    from dotenv import dotenv_values

    assert dotenv_values(dotenv) == s.influx_settings()
    assert "CROSSLOAD_INFLUX_URL" not in os.environ  # the library never touches the environment
    from crossload.settings import load_environment
    from crossload.sinks import InfluxV2Sink, sink_from_env

    sink = sink_from_env(load_environment())
    assert isinstance(sink, InfluxV2Sink) and sink.bucket == "crossload" and sink.org == "crossload"
    sink.close()


def test_up_again_keeps_running_containers_and_recreates_a_changed_one(dotenv: Path) -> None:
    engine = FakeEngine()
    stack.up(stack.load_stack(COMPOSE, env={}), engine, io.StringIO(), dotenv=dotenv, sleep=no_sleep)
    engine.calls.clear()
    out = io.StringIO()
    stack.up(stack.load_stack(COMPOSE, env={}), engine, out, dotenv=dotenv, sleep=no_sleep)
    assert engine.calls == [] and out.getvalue().count("already running") == 2
    changed = stack.load_stack(COMPOSE, env={"STACK_GRAFANA_PORT": "3001"})
    stack.up(changed, engine, out, dotenv=dotenv, sleep=no_sleep)
    assert engine.calls == [("stop", "crossload-grafana-1"), ("remove", "crossload-grafana-1"),
                            ("create", "crossload-grafana-1"), ("start", "crossload-grafana-1")]
    assert engine.by_service("grafana").kwargs["ports"] == {"3000/tcp": ("127.0.0.1", 3001)}


def test_a_missing_image_is_pulled_and_one_that_cannot_be_is_one_clear_error(dotenv: Path) -> None:
    engine = FakeEngine(images={"grafana/grafana:11.6.0"})
    engine.pullable = {"influxdb:2.7.11"}
    out = io.StringIO()
    stack.up(stack.load_stack(COMPOSE, env={}), engine, out, dotenv=dotenv, sleep=no_sleep)
    assert ("pull", "influxdb:2.7.11") in engine.calls and "pulling influxdb:2.7.11" in out.getvalue()
    dotenv.unlink()
    engine = FakeEngine(images=set())
    with pytest.raises(stack.StackError, match=r"image influxdb:2.7.11 is not on this machine and could not be "
                                               r"pulled \(Get https://registry"):
        stack.up(stack.load_stack(COMPOSE, env={}), engine, io.StringIO(), dotenv=dotenv, sleep=no_sleep)
    assert not engine.created and not dotenv.exists()


def test_an_unhealthy_service_stops_up_with_its_last_log_lines(dotenv: Path) -> None:
    engine = FakeEngine()
    engine.health_script = {"influxdb": ["starting", "unhealthy"]}
    with pytest.raises(stack.StackError, match=r"crossload-influxdb-1 is unhealthy:\n    crossload-influxdb-1 line 1"):
        stack.up(stack.load_stack(COMPOSE, env={}), engine, io.StringIO(), dotenv=dotenv, sleep=no_sleep)
    assert [c.name for c in engine.created] == ["crossload-influxdb-1"]  # grafana waits for a healthy influxdb
    assert not dotenv.exists()


def test_a_port_in_use_says_which_setting_to_change(dotenv: Path) -> None:
    engine = FakeEngine()
    engine.fail_start = {"crossload-influxdb-1"}
    with pytest.raises(stack.StackError, match=r"influxdb: cannot start crossload-influxdb-1: driver failed .*"
                                               r"listening on 127.0.0.1:8086\? change the port in .env"):
        stack.up(stack.load_stack(COMPOSE, env={}), engine, io.StringIO(), dotenv=dotenv, sleep=no_sleep)


def test_a_slow_service_times_out() -> None:
    engine = FakeEngine()
    s = stack.load_stack(COMPOSE, env={})
    container = engine.containers.create(**stack.create_kwargs(s, s.services["influxdb"], "h", engine))
    container.start()
    container.health = ["starting"]
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    with pytest.raises(stack.StackError, match="crossload-influxdb-1 is still starting after 3 s"):
        stack.wait_until(container, "service_healthy", 3.0, sleep=sleep, clock=lambda: now[0])


def test_settings_of_the_user_are_never_overwritten(dotenv: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dotenv.write_text("CROSSLOAD_RESULTS_DIR=r\nCROSSLOAD_INFLUX_URL=http://influx.example.internal:8086\n")
    out = io.StringIO()
    stack.up(stack.load_stack(COMPOSE, env={}), FakeEngine(), out, dotenv=dotenv, sleep=no_sleep)
    assert dotenv.read_text() == "CROSSLOAD_RESULTS_DIR=r\nCROSSLOAD_INFLUX_URL=http://influx.example.internal:8086\n"
    assert "sets CROSSLOAD_INFLUX_URL itself: runs keep using its settings" in out.getvalue()
    # Exported settings win over .env: up writes its block but says so.
    dotenv.write_text("CROSSLOAD_RESULTS_DIR=r\n")
    monkeypatch.setenv("CROSSLOAD_INFLUX_URL", "http://127.0.0.1:9999")
    out = io.StringIO()
    stack.up(stack.load_stack(COMPOSE, env={}), FakeEngine(), out, dotenv=dotenv, sleep=no_sleep)
    assert "note: CROSSLOAD_INFLUX_URL set in the environment win over" in out.getvalue()
    assert dotenv.read_text().startswith("CROSSLOAD_RESULTS_DIR=r\n\n" + stack.BLOCK_BEGIN + "\n")


def test_the_env_block_is_replaced_and_removed_without_touching_the_rest(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_text("A=1\n# a comment\n")
    stack.write_block(path, {"CROSSLOAD_INFLUX_URL": "http://127.0.0.1:8086"})
    stack.write_block(path, {"CROSSLOAD_INFLUX_URL": "http://127.0.0.1:18086"})
    assert path.read_text() == (f"A=1\n# a comment\n\n{stack.BLOCK_BEGIN}\nCROSSLOAD_INFLUX_URL=http://127.0.0.1:18086\n"
                                f"{stack.BLOCK_END}\n")
    assert stack.remove_block(path) and path.read_text() == "A=1\n# a comment\n"
    assert not stack.remove_block(path)


def test_status_logs_and_down(dotenv: Path) -> None:
    s = stack.load_stack(COMPOSE, env={})
    engine = FakeEngine()
    out = io.StringIO()
    assert stack.status(s, engine, out) == 3
    assert re.search(r"^influxdb\s+-\s+absent\s+influxdb:2.7.11", out.getvalue(), re.MULTILINE)
    stack.up(s, engine, io.StringIO(), dotenv=dotenv, sleep=no_sleep)
    out = io.StringIO()
    assert stack.status(s, engine, out) == 0
    assert re.search(r"^influxdb\s+crossload-influxdb-1\s+healthy\s+influxdb:2.7.11\s+127.0.0.1:8086->8086/tcp$",
                     out.getvalue(), re.MULTILINE), out.getvalue()
    assert "InfluxDB: http://127.0.0.1:8086 (runs push here)" in out.getvalue()  # from .env, written by up
    dotenv.write_text("")
    out = io.StringIO()
    stack.status(s, engine, out)
    assert "InfluxDB: http://127.0.0.1:8086 (runs do not push here: CROSSLOAD_INFLUX_URL is not set" in out.getvalue()
    engine.by_service("grafana").status = "exited"
    assert stack.status(s, engine, io.StringIO()) == 3
    out = io.StringIO()
    assert stack.logs(s, engine, out, tail=1) == 0
    assert out.getvalue() == "grafana  | crossload-grafana-1 line 2\ninfluxdb | crossload-influxdb-1 line 2\n"
    out = io.StringIO()
    assert stack.logs(s, engine, out, service="influxdb", follow=True) == 0
    assert out.getvalue() == "influxdb | crossload-influxdb-1 line 1\ninfluxdb | crossload-influxdb-1 line 2\n"
    with pytest.raises(InputError, match="--service: no service 'nginx'"):
        stack.logs(s, engine, io.StringIO(), service="nginx")
    engine.calls.clear()
    out = io.StringIO()
    assert stack.down(s, engine, out, dotenv=dotenv) == 0
    assert engine.calls == [("stop", "crossload-grafana-1"), ("remove", "crossload-grafana-1"),
                            ("stop", "crossload-influxdb-1"), ("remove", "crossload-influxdb-1"),
                            ("remove network", "crossload_default")]
    assert "kept the data volumes" in out.getvalue() and dotenv.read_text() == ""
    assert len(engine.volumes_made) == 3
    with pytest.raises(stack.StackError, match="no container of stack 'crossload'"):
        stack.logs(s, engine, io.StringIO())
    out = io.StringIO()
    stack.down(s, engine, out, volumes=True, dotenv=dotenv)
    assert "was not running" in out.getvalue() and engine.volumes_made == {}


def test_no_engine_is_one_line_and_exit_3(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no.sock")
    for call in (tasks_api.stack_status, tasks_api.stack_down, tasks_api.stack_logs, tasks_api.stack_up):
        assert call() == 3
        err = capsys.readouterr().err
        assert err.startswith("no Docker engine answers") and err.count("\n") == 1


@pytest.mark.parametrize(("argv", "expected"), [
    (["stack", "up"], ("up", None, None, False)),
    (["stack", "up", "--profile", "demo", "--timeout", "60", "--build"], ("up", "demo", "60", True)),
    (["stack", "down", "--volumes"], ("down", True)),
    (["stack", "status"], ("status", None)),
    (["stack", "logs", "--service", "grafana", "--tail", "5", "--follow"], ("logs", "grafana", "5", True)),
])
def test_the_command_and_the_tasks_call_the_same_stack_functions(argv: list[str], expected: tuple[Any, ...],
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    from invoke import MockContext

    calls: list[tuple[Any, ...]] = []
    monkeypatch.setattr(tasks_api, "stack_up", lambda *a: calls.append(("up", *a)) or 0)
    monkeypatch.setattr(tasks_api, "stack_down", lambda *a: calls.append(("down", *a)) or 0)
    monkeypatch.setattr(tasks_api, "stack_status", lambda *a: calls.append(("status", *a)) or 0)
    monkeypatch.setattr(tasks_api, "stack_logs", lambda *a: calls.append(("logs", *a)) or 0)
    assert cli.main(argv) == 0
    spec = importlib.util.spec_from_file_location("crossload_tasks_file", ROOT / "tasks.py")
    assert spec and spec.loader
    tasks = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tasks)
    task = tasks.ns.collections["stack"].tasks[argv[1]]
    flags = {a.lstrip("-").replace("-", "_"): True for a in argv[2:] if a.startswith("--")}
    values = iter(argv[2:])
    for word in values:
        if word.startswith("--") and word not in ("--volumes", "--follow", "--build"):
            flags[word[2:]] = next(values)
    task(MockContext(), **flags)
    assert calls == [expected, expected]
    assert task.__doc__ and all(p in task.help for p in flags)


def test_bad_stack_flags_are_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert tasks_api.stack_logs(tail="many") == 2
    assert capsys.readouterr().err == "--tail expects a whole number, got 'many'\n"
    assert tasks_api.stack_up(timeout="0") == 2
    assert capsys.readouterr().err == "--timeout must be 1 or more, got 0\n"


# --- the optional demo target: built from the checkout -------------------------------------------------------

def test_the_demo_target_is_an_optional_service_built_from_the_checkout() -> None:
    s = stack.load_stack(COMPOSE, env={})
    assert [x.name for x in s.active()] == ["influxdb", "grafana"]
    assert [x.name for x in s.active(["demo"])] == ["influxdb", "grafana", "target"]
    target = s.services["target"]
    assert target.build == stack.Build(str(ROOT), "docker/target.Dockerfile")
    assert target.ports == (stack.Port(8089, 8089, "127.0.0.1"),)
    # Every COPY of the Dockerfile finds its files in the context the dockerignore file lets through, and
    # nothing else goes: no results, no .git, no caches, no .env.
    from docker.utils.build import exclude_paths

    sent = exclude_paths(str(ROOT), target.build.ignore_patterns(), dockerfile=target.build.dockerfile)
    copies = [w for line in (ROOT / target.build.dockerfile).read_text().splitlines() if line.startswith("COPY ")
              for w in line.split()[1:-1]]
    assert copies
    for source in copies:
        assert any(f == source.rstrip("/") or f.startswith(source) for f in sent), source
    assert not [f for f in sent if f.startswith(("results/", ".git/", ".mypy_cache/", "tests/")) or f == ".env"]
    assert "src/crossload/stack.py" in sent and "docker/target.Dockerfile" in sent


def test_up_builds_a_missing_image_that_has_build_and_rebuilds_on_request(dotenv: Path) -> None:
    s = stack.load_stack(COMPOSE, env={})
    engine = FakeEngine()
    out = io.StringIO()
    assert stack.up(s, engine, out, profiles=["demo"], dotenv=dotenv, sleep=no_sleep) == 0
    assert ("build", "crossload-demo-target:local", "docker/target.Dockerfile") in engine.calls
    assert not [c for c in engine.calls if c[0] == "pull"]
    assert "src/crossload/stack.py" in engine.build_context and ".git" not in engine.build_context
    assert "demo target: http://127.0.0.1:8089" in out.getvalue()
    assert engine.by_service("target").kwargs["ports"] == {"8089/tcp": ("127.0.0.1", 8089)}
    engine.calls.clear()
    stack.up(s, engine, io.StringIO(), profiles=["demo"], dotenv=dotenv, sleep=no_sleep)
    assert not [c for c in engine.calls if c[0] in ("build", "create")]
    stack.up(s, engine, io.StringIO(), profiles=["demo"], dotenv=dotenv, sleep=no_sleep, build=True)
    assert [c[0] for c in engine.calls if c[0] == "build"] == ["build"]
    engine = FakeEngine()
    engine.build_error = True
    with pytest.raises(stack.StackError, match=r"target: building crossload-demo-target:local failed .*\n"
                                               r"    Step 9/14 : RUN pip install\n    no network"):
        stack.up(s, engine, io.StringIO(), profiles=["demo"], dotenv=dotenv, sleep=no_sleep)
