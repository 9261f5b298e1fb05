"""The docker runner's pieces with a fake engine: what enters a container, names, mounts, the stop sequence,
removal whatever happens, missing images; and the runner's selection (flag, CROSSLOAD_RUNNER)."""

from __future__ import annotations

import io
import signal
from pathlib import Path
from typing import Any

import pytest

from crossload import images
from crossload.errors import InputError, ToolError
from crossload.runners import (
    DockerRunner,
    LocalPlacement,
    LocalRunner,
    RunnerContext,
    StopRun,
    get_runner,
    placement,
    runner_name,
)
from crossload.runners import docker as dr
from crossload.tools.base import LaunchSpec


class FakeNotFound(Exception):
    status_code = 404


class ImageNotFound(FakeNotFound):
    pass


class FakeContainer:
    """Runs for ``runs_for`` polls, then exits with ``code``; SIGINT ends it with ``code_on_stop``."""

    def __init__(self, name: str, kwargs: dict[str, Any], runs_for: int, code: int, code_on_stop: int) -> None:
        self.name = name
        self.kwargs = kwargs
        self.runs_for, self.code, self.code_on_stop = runs_for, code, code_on_stop
        self.status = "created"
        self.exit_code = 0
        self.signals: list[str] = []
        self.removed = False
        self.attrs: dict[str, Any] = {}

    def start(self) -> None:
        self.status = "running"

    def reload(self) -> None:
        if self.removed:
            raise FakeNotFound("gone")
        if self.status == "running":
            self.runs_for -= 1
            if self.runs_for < 0:
                self.status, self.exit_code = "exited", self.code
        self.attrs = {"State": {"Status": self.status, "ExitCode": self.exit_code}}

    def kill(self, signal: str) -> None:
        self.signals.append(signal)
        if self.status == "running":
            self.status, self.exit_code = "exited", self.code_on_stop

    def logs(self, **kwargs: Any) -> list[bytes]:
        return [f"{self.name} says hello\n".encode()]

    def remove(self, force: bool = False) -> None:
        self.removed = True


class FakeContainers:
    def __init__(self, plan: dict[str, tuple[int, int]], missing: set[str]) -> None:
        self.plan, self.missing = plan, missing
        self.made: list[FakeContainer] = []

    def create(self, image: str, **kwargs: Any) -> FakeContainer:
        if image in self.missing:
            raise ImageNotFound(f"No such image: {image}")
        runs_for, code = self.plan.get(kwargs["labels"]["crossload.tool"], (3, 0))
        box = FakeContainer(kwargs["name"], {"image": image, **kwargs}, runs_for, code, 0)
        self.made.append(box)
        return box

    def list(self, all: bool = False, filters: dict[str, Any] | None = None) -> list[FakeContainer]:
        return [c for c in self.made if not c.removed]


class FakeImages:
    def __init__(self, missing: set[str]) -> None:
        self.missing = missing

    def get(self, image: str) -> object:
        if image in self.missing:
            raise ImageNotFound(image)
        return object()


class FakeClient:
    def __init__(self, plan: dict[str, tuple[int, int]] | None = None, missing: set[str] | None = None) -> None:
        self.containers = FakeContainers(plan or {}, missing or set())
        self.images = FakeImages(missing or set())
        self.closed = 0

    def info(self) -> dict[str, str]:
        return {"OperatingSystem": "Debian GNU/Linux 12 (bookworm)"}

    def close(self) -> None:
        self.closed += 1


@pytest.fixture()
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeClient:
    client = FakeClient()
    monkeypatch.setattr(dr, "engine_client", lambda: client)
    return client


def spec(tmp_path: Path, tool: str = "k6", name: str = "", role: str = "main") -> LaunchSpec:
    out = tmp_path / "run" / tool
    out.mkdir(parents=True, exist_ok=True)
    (out / "script.js").write_text("// rendered")
    return LaunchSpec(tool=tool, argv=("/usr/local/bin/k6", "run", "script.js"), env={"CROSSLOAD_X": "own"},
                      cwd=out, log=out / f"{name or tool}.log", raw_output=out / "raw.json", role=role, name=name)


def runner(tmp_path: Path, **kw: Any) -> DockerRunner:
    return DockerRunner(RunnerContext(run_id="20261122T000000Z-smoke-abcd", run_dir=tmp_path / "run",
                                      env_names=frozenset({"TOKEN", "UNSET_ONE"}), **kw))


def test_only_referenced_and_own_variables_enter_a_container() -> None:
    env = {"TOKEN": "t", "HOME": "/root", "AWS_SECRET_ACCESS_KEY": "x", "CROSSLOAD_INFLUX_TOKEN": "y"}
    assert dr.container_env({"CROSSLOAD_LOCUST_OUT": "/r/i.jsonl"}, env, frozenset({"TOKEN", "UNSET_ONE"})) == {
        "TOKEN": "t", "CROSSLOAD_LOCUST_OUT": "/r/i.jsonl"}


@pytest.mark.parametrize(("url", "expected"), [
    ("http://127.0.0.1:8080/api", "http://host.docker.internal:8080/api"),
    ("http://localhost", "http://host.docker.internal"),
    ("https://user:pw@localhost:8443/x?y=1", "https://user:pw@host.docker.internal:8443/x?y=1"),
    ("http://[::1]:81", "http://host.docker.internal:81"),
    ("http://shop.internal:8080", "http://shop.internal:8080"),
    ("http://${HOST}:8080", "http://${HOST}:8080"),
])
def test_docker_desktop_reaches_localhost_as_host_docker_internal(url: str, expected: str) -> None:
    assert dr.desktop_url(url) == expected


def test_container_names_are_for_humans_and_valid() -> None:
    assert dr.container_name("20261122T000000Z-smoke-abcd", "locust worker 1") == \
        "crossload-20261122T000000Z-smoke-abcd-locust-worker-1"


def test_a_run_starts_removes_and_saves_logs(tmp_path: Path, fake: FakeClient) -> None:
    ticks: list[int] = []
    outcome = runner(tmp_path).run([spec(tmp_path)], {"TOKEN": "t", "PATH": "/bin"}, lambda: ticks.append(1),
                                   tick_s=0.001)
    (box,) = fake.containers.made
    assert outcome.exit_code == 0 and outcome.exit_codes == {"k6": 0} and not outcome.interrupted
    assert box.removed and ticks and fake.closed >= 1
    kw = box.kwargs
    assert kw["command"] == ["run", "script.js"] and kw["network_mode"] == "host"
    assert kw["environment"] == {"TOKEN": "t", "CROSSLOAD_X": "own"}
    assert kw["labels"] == {"crossload.run_id": "20261122T000000Z-smoke-abcd", "crossload.tool": "k6",
                            "crossload.role": "main"}
    assert kw["name"] == "crossload-20261122T000000Z-smoke-abcd-k6"
    mounts = {m["Target"]: m["ReadOnly"] for m in kw["mounts"]}
    folder = str((tmp_path / "run" / "k6").resolve())
    assert mounts == {str((tmp_path / "run").resolve()): True, folder: False, folder + "/script.js": True}
    assert (tmp_path / "run" / "k6" / "k6.log").read_text() == f"{kw['name']} says hello\n"


def test_one_failing_spec_stops_the_others_with_one_sigint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    client = FakeClient(plan={"locust": (1000, 0), "k6": (1, 2)})
    monkeypatch.setattr(dr, "engine_client", lambda: client)
    specs = [spec(tmp_path, "locust", "master", "master"), spec(tmp_path, "k6", "worker-1", "worker")]
    outcome = runner(tmp_path).run(specs, {}, lambda: None, tick_s=0.001)
    master, worker = client.containers.made
    assert master.signals == ["SIGINT"] and worker.signals == []
    assert outcome.exit_code == 2 and outcome.exit_codes == {"master": 0, "worker-1": 2}
    assert master.removed and worker.removed


def test_ctrl_c_stops_everything_once_and_marks_the_run_interrupted(tmp_path: Path, fake: FakeClient) -> None:
    fake.containers.plan = {"k6": (1000, 0)}

    def tick() -> None:
        raise KeyboardInterrupt

    outcome = runner(tmp_path).run([spec(tmp_path)], {}, tick, tick_s=0.001)
    (box,) = fake.containers.made
    assert outcome.interrupted and box.signals == ["SIGINT"] and box.removed


def test_stop_run_stops_like_ctrl_c_but_is_no_interrupt(tmp_path: Path, fake: FakeClient) -> None:
    fake.containers.plan = {"k6": (1000, 0)}

    def tick() -> None:
        raise StopRun

    outcome = runner(tmp_path).run([spec(tmp_path)], {}, tick, tick_s=0.001)
    assert outcome.stopped and not outcome.interrupted and fake.containers.made[0].removed


def test_sigterm_counts_as_ctrl_c_during_a_run(tmp_path: Path, fake: FakeClient) -> None:
    fake.containers.plan = {"k6": (1000, 0)}
    previous = signal.getsignal(signal.SIGTERM)

    def tick() -> None:
        signal.raise_signal(signal.SIGTERM)

    outcome = runner(tmp_path).run([spec(tmp_path)], {}, tick, tick_s=0.001)
    assert outcome.interrupted and fake.containers.made[0].removed
    assert signal.getsignal(signal.SIGTERM) == previous


def test_a_missing_image_names_it_and_how_to_get_it(tmp_path: Path, fake: FakeClient) -> None:
    fake.containers.missing = fake.images.missing = {"grafana/k6:9.9.9"}
    with pytest.raises(ToolError, match=r"grafana/k6:9\.9\.9 is not on the Docker engine: run `invoke docker\.images`"):
        runner(tmp_path).check(["k6"], {"CROSSLOAD_K6_IMAGE": "grafana/k6:9.9.9"})
    with pytest.raises(ToolError, match=r"invoke docker\.images"):
        runner(tmp_path).run([spec(tmp_path)], {"CROSSLOAD_K6_IMAGE": "grafana/k6:9.9.9"}, lambda: None)
    assert fake.containers.made == []


def test_the_runner_comes_from_the_flag_then_the_setting() -> None:
    assert runner_name(None, {}) == "local"
    assert runner_name(None, {"CROSSLOAD_RUNNER": "docker"}) == "docker"
    assert runner_name("local", {"CROSSLOAD_RUNNER": "docker"}) == "local"
    with pytest.raises(InputError, match="CROSSLOAD_RUNNER: unknown runner 'k8s'"):
        runner_name(None, {"CROSSLOAD_RUNNER": "k8s"})
    with pytest.raises(InputError, match="--runner: unknown runner"):
        runner_name("podman", {})
    assert isinstance(get_runner("docker"), DockerRunner) and isinstance(get_runner("local"), LocalRunner)
    assert isinstance(placement(get_runner("local")), LocalPlacement)
    docker = get_runner("docker")
    assert placement(docker) is docker


def test_docker_network_needs_the_docker_runner() -> None:
    from crossload import tasks_api

    assert tasks_api.run_profile("smoke", docker_network="shop_default", runner="local") == 2


def test_image_pull_failure_suggests_offline() -> None:
    class Api:
        def pull(self, repository: str, tag: str, stream: bool, decode: bool) -> list[dict[str, str]]:
            raise ConnectionError("dial tcp: lookup registry-1.docker.io: no such host")

    class Client:
        api = Api()

    with pytest.raises(images.ImageError, match=r"grafana/k6:1\.1\.0: pull failed .* docker\.images --offline"):
        images.pull(Client(), ["grafana/k6:1.1.0"], io.StringIO())


def test_the_k6_stand_in_holds_the_pinned_packages_binary(tmp_path: Path) -> None:
    import tarfile

    binary = images.k6_binary_of_package()
    images._k6_tar(binary, tmp_path / "k6.tar")
    with tarfile.open(tmp_path / "k6.tar") as tar:
        member = tar.getmember("usr/bin/k6")
        assert member.mode == 0o755 and member.size == binary.stat().st_size
        assert tar.getmember("home/k6").uid == images.K6_UID


def test_a_launch_spec_needs_no_local_tool(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A machine with Docker only has neither k6 nor locust: the launch specs name the bare commands (the
    docker runner runs argv[1:] with the image's own tool)."""
    from crossload.tools import base, get_tool

    def missing(name: str, variable: str, pin: str) -> str:
        raise base.ToolError(f"{name} is not installed")

    monkeypatch.setattr(base, "find_binary", missing)
    for name in ("k6", "locust"):
        spec = get_tool(name).launch(tmp_path / "script", tmp_path)
        assert spec.argv[0] == name and len(spec.argv) > 2
