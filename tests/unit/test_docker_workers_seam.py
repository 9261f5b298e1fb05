"""The docker runner's distributed groups with a fake engine: worker labels numbered as the collector tags the
data, and the network each container of a group gets (the host's, or the master's namespace elsewhere)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from crossload.runners import DockerRunner, RunnerContext
from crossload.runners import docker as dr
from crossload.tools.base import LaunchSpec, worker_sources


class Box:
    """A container that exits with 0 at its second poll."""

    def __init__(self, kwargs: dict[str, Any]) -> None:
        self.kwargs = kwargs
        self.name = kwargs["name"]
        self.id = f"id-{self.name}"
        self.polls = 0
        self.attrs: dict[str, Any] = {}

    def start(self) -> None:
        pass

    def reload(self) -> None:
        self.polls += 1
        self.attrs = {"State": {"Status": "exited" if self.polls > 1 else "running", "ExitCode": 0}}

    def kill(self, signal: str) -> None:
        pass

    def logs(self, **kwargs: Any) -> list[bytes]:
        return []

    def remove(self, force: bool = False) -> None:
        pass


class Engine:
    def __init__(self, desktop: bool = False) -> None:
        self.made: list[Box] = []
        self.desktop = desktop
        outer = self

        class Containers:
            def create(self, image: str, **kwargs: Any) -> Box:
                outer.made.append(Box(kwargs))
                return outer.made[-1]

        self.containers = Containers()

    def info(self) -> dict[str, str]:
        return {"OperatingSystem": "Docker Desktop" if self.desktop else "Debian GNU/Linux 12 (bookworm)"}

    def close(self) -> None:
        pass


def group(tmp_path: Path, tool: str) -> list[LaunchSpec]:
    out = tmp_path / "run" / tool
    out.mkdir(parents=True, exist_ok=True)

    def one(role: str, name: str, raw: str) -> LaunchSpec:
        return LaunchSpec(tool=tool, argv=(tool, role), env={}, cwd=out, log=out / f"{name}.log",
                          raw_output=out / raw, role=role, name=name)

    workers = [one("worker", f"{tool}-worker-{i}", f"raw-{i}") for i in (1, 2)]
    return [one("master", f"{tool}-master", "final.json"), *workers] if tool == "locust" else workers


def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, specs: list[LaunchSpec], desktop: bool = False,
        network: str | None = None) -> list[Box]:
    engine = Engine(desktop)
    monkeypatch.setattr(dr, "engine_client", lambda: engine)
    runner = DockerRunner(RunnerContext(run_id="r1", run_dir=tmp_path / "run", docker_network=network))
    outcome = runner.run(specs, {}, lambda: None, tick_s=0.001)
    assert outcome.exit_code == 0 and len(outcome.exit_codes) == len(specs)
    return engine.made


@pytest.mark.parametrize("tool", ["locust", "k6"])
def test_workers_are_labeled_with_the_tag_their_data_gets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          tool: str) -> None:
    specs = group(tmp_path, tool)
    made = run(tmp_path, monkeypatch, specs)
    tags = {str(raw): tag for tag, raw in worker_sources(specs)}
    for box, spec in zip(made, specs, strict=True):
        labels = box.kwargs["labels"]
        assert box.kwargs["name"] == f"crossload-r1-{spec.name}" and labels["crossload.role"] == spec.role
        assert labels.get("crossload.worker") == tags.get(str(spec.raw_output)), labels
        assert box.kwargs["network_mode"] == "host"
    assert [b.kwargs["labels"].get("crossload.worker") for b in made if b.kwargs["labels"]["crossload.role"]
            == "worker"] == ["1", "2"]


def test_a_single_process_has_no_worker_label() -> None:
    spec = LaunchSpec(tool="k6", argv=("k6",), env={}, cwd=Path("."), log=Path("k6.log"), raw_output=Path("r"))
    assert dr.group_labels([spec]) == [{}]


@pytest.mark.parametrize(("desktop", "network"), [(True, None), (False, "shop_default")])
def test_off_the_host_network_locust_workers_share_the_masters_namespace(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, desktop: bool, network: str | None) -> None:
    master, *workers = run(tmp_path, monkeypatch, group(tmp_path, "locust"), desktop, network)
    assert "network_mode" not in master.kwargs
    assert master.kwargs.get("network") == network
    for box in workers:
        assert box.kwargs["network_mode"] == f"container:{master.id}" and "network" not in box.kwargs


def test_off_the_host_network_k6_instances_each_join_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    made = run(tmp_path, monkeypatch, group(tmp_path, "k6"), network="shop_default")
    assert [b.kwargs.get("network") for b in made] == ["shop_default", "shop_default"]
    assert all("network_mode" not in b.kwargs for b in made)
