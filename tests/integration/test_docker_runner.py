"""The docker runner against a real Docker engine (Debian's dockerd on a private socket, the session's).

No image can be pulled here, so the images are the stand-ins `crossload docker images --offline` builds from
nothing (k6: the pinned k6 package's static binary; Locust: a debootstrapped Debian plus wheels downloaded on
this machine), tagged exactly like the official ones: the runner code is the one users run. The engine has no
bridge network, so the containers use the host's, as on any Linux machine; the demo target is on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from crossload.errors import EXIT_PASS, EXIT_RUN_FAILED
from crossload.paths import resource_dir
from crossload.runners import docker as docker_runner
from crossload.versions import K6_IMAGE, K6_VERSION, LOCUST_IMAGE, LOCUST_VERSION

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SECRET = "s3cret-token-for-the-inspect-test"


def crossload(*args: str, env: dict[str, str], timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "crossload", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout, check=False)


def labeled(client: Any, run_id: str | None = None) -> list[Any]:
    return docker_runner.leftovers(client, run_id)


@pytest.fixture(scope="module")
def images_built(dockerd: Any) -> str:
    """The offline stand-ins, built once for the module (from nothing, unless the image cache keeps the Debian
    root filesystem and the wheels: ``CROSSLOAD_IMAGE_CACHE``); the build's output."""
    proc = crossload("docker", "images", "--offline", env={**os.environ, "DOCKER_HOST": dockerd.host})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


@pytest.fixture()
def engine(dockerd: Any, images_built: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("DOCKER_HOST", dockerd.host)
    client = dockerd.client()
    try:
        yield client
    finally:
        client.close()


def test_offline_images_are_tagged_like_the_official_ones_and_idempotent(engine: Any, images_built: str) -> None:
    k6, locust = engine.images.get(K6_IMAGE), engine.images.get(LOCUST_IMAGE)
    assert k6.attrs["Config"]["Entrypoint"] == ["k6"] and k6.attrs["Config"]["WorkingDir"] == "/home/k6"
    assert locust.attrs["Config"]["Entrypoint"] == ["locust"]
    assert locust.attrs["Config"]["WorkingDir"] == "/home/locust" and locust.attrs["Config"]["User"] == "locust"
    again = crossload("docker", "images", "--offline", env=dict(os.environ))
    assert again.returncode == 0, again.stderr
    assert f"{K6_IMAGE}: up to date" in again.stdout and f"{LOCUST_IMAGE}: up to date" in again.stdout
    assert engine.images.get(K6_IMAGE).id == k6.id and engine.images.get(LOCUST_IMAGE).id == locust.id
    for image, version in ((K6_IMAGE, K6_VERSION), (LOCUST_IMAGE, LOCUST_VERSION)):
        out = engine.containers.run(image, ["version" if image == K6_IMAGE else "--version"], network_mode="host",
                                    remove=True)
        assert version in out.decode()


def test_pulling_without_a_registry_says_how_to_build_instead(engine: Any) -> None:
    proc = crossload("docker", "images", env=dict(os.environ), timeout=120)
    assert proc.returncode == EXIT_RUN_FAILED
    assert "pull failed" in proc.stderr and "docker.images --offline" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout


def test_smoke_run_of_both_tools_in_containers(engine: Any, run_crossload, monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
                                               tmp_path: Path) -> None:
    monkeypatch.setenv("CROSSLOAD_DEMO_TOKEN", SECRET)  # the demo target and the scenario read it
    monkeypatch.setenv("HOST_ONLY_CANARY", "must-not-enter-a-container")
    inspected: list[dict[str, Any]] = []

    def finished(self: Any, container: Any) -> None:  # the container, stopped, just before its removal
        container.reload()
        inspected.append({**container.attrs, "_image_labels": container.image.labels})

    monkeypatch.setattr(docker_runner.ToolContainer, "finished", finished)
    result, out = run_crossload(runner="docker", tool="both", users=2, duration_s=4)
    assert result.exit_code == EXIT_PASS, out
    assert labeled(engine, result.run_id) == []  # every container removed, check ones included
    manifest = json.loads((result.path / "manifest.json").read_text())
    assert manifest["runner"] == "docker" and manifest["status"] == "passed"
    assert manifest["images"] == {"locust": LOCUST_IMAGE, "k6": K6_IMAGE}
    assert manifest["tool_versions"] == {"locust": LOCUST_VERSION, "k6": K6_VERSION}
    for tool in ("locust", "k6"):
        outcome = manifest["outcomes"][tool]
        assert outcome["collected_requests"] > 0
        assert outcome["collected_requests"] == outcome["tool_reported_requests"], tool
        assert (result.path / tool / f"{tool}.log").exists()
        assert all(p.stat().st_uid == os.getuid() for p in (result.path / tool).iterdir())
    runs = [a for a in inspected if a["Config"]["Labels"].get("crossload.role") == "main"]
    assert sorted(a["Config"]["Labels"]["crossload.tool"] for a in runs) == ["k6", "locust"]
    for attrs in inspected:
        config, host = attrs["Config"], attrs["HostConfig"]
        # crossload's three labels (the rest are the image's own: the stand-ins' crossload.inputs)
        assert set(config["Labels"]) - set(attrs["_image_labels"]) == {"crossload.run_id", "crossload.tool",
                                                                         "crossload.role"}
        assert config["Labels"]["crossload.run_id"] == result.run_id
        assert attrs["Name"].startswith(f"/crossload-{result.run_id}-")
        shown = json.dumps([config["Cmd"], config["Entrypoint"], config["Labels"], attrs["Args"], attrs["Name"]])
        assert SECRET not in shown
        env = dict(item.split("=", 1) for item in config["Env"])
        assert env.get("CROSSLOAD_DEMO_TOKEN") == SECRET  # secrets travel as environment variables only
        assert "HOST_ONLY_CANARY" not in env and "CROSSLOAD_DOTENV" not in env
        assert config["User"] == f"{os.getuid()}:{os.getgid()}" and host["NetworkMode"] == "host"
    locust = next(a for a in runs if a["Config"]["Labels"]["crossload.tool"] == "locust")
    mounts = {m["Destination"]: m["RW"] for m in locust["Mounts"]}
    folder = str((result.path / "locust").resolve())
    assert mounts[str(result.path.resolve())] is False and mounts[folder] is True
    assert mounts[folder + "/locustfile.py"] is False and mounts[folder + "/crossload_recorder.py"] is False


@pytest.mark.parametrize("tool", ["locust", "k6"])
def test_interrupt_stops_and_removes_the_containers_and_keeps_the_data(engine: Any, tmp_path: Path,
                                                                       tool: str) -> None:
    results = tmp_path / "results"
    env = dict(os.environ, CROSSLOAD_RESULTS_DIR=str(results), CROSSLOAD_DOTENV=str(tmp_path / "none"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "crossload", "run", "smoke", "--runner", "docker", "--tool", tool, "--duration", "60s"],
        cwd=resource_dir("."), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 90
        store = None
        while time.monotonic() < deadline and proc.poll() is None:
            found = list(results.glob(f"*/{tool}/aggregates.jsonl")) if results.exists() else []
            if found and '"kind":"req"' in found[0].read_text():
                store = found[0]
                break
            time.sleep(0.2)
        assert store is not None, "no data was collected live within 90 s"
        run_id = store.parent.parent.name
        assert len(labeled(engine, run_id)) == 1  # the tool's container runs
        if tool == "locust":
            os.killpg(proc.pid, signal.SIGINT)  # a terminal's Ctrl-C: the whole foreground group
        else:
            proc.send_signal(signal.SIGTERM)  # a service manager's stop
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == EXIT_RUN_FAILED, out
    assert "interrupted: the data collected so far is kept" in out and "Traceback" not in out
    assert labeled(engine, run_id) == []
    run = store.parent.parent
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "interrupted" and summary["tools"][tool]["overall"]["count"] > 0
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["status"] == "interrupted" and manifest["outcomes"][tool]["interrupted"] is True


def test_a_missing_image_is_named_with_how_to_get_it(engine: Any, run_crossload,  # type: ignore[no-untyped-def]
                                                     monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CROSSLOAD_K6_IMAGE", "grafana/k6:0.0.0-not-here")
    before = {c.id for c in engine.containers.list(all=True)}
    result, _out = run_crossload(runner="docker", tool="k6", duration_s=2)
    assert result.exit_code == EXIT_RUN_FAILED and result.run_id is None
    assert "grafana/k6:0.0.0-not-here" in result.message and "invoke docker.images" in result.message
    assert not (tmp_path / "results").exists() or not any((tmp_path / "results").iterdir())
    assert {c.id for c in engine.containers.list(all=True)} == before


def test_an_engine_that_does_not_answer_is_one_plain_line(tmp_path: Path) -> None:
    env = dict(os.environ, DOCKER_HOST=f"unix://{tmp_path}/dead.sock", CROSSLOAD_RESULTS_DIR=str(tmp_path / "r"))
    proc = crossload("run", "smoke", "--runner", "docker", "--duration", "2s", env=env, timeout=60)
    assert proc.returncode == EXIT_RUN_FAILED
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "no Docker engine answers" in lines[0] and "dead.sock" in lines[0]
    assert "Traceback" not in proc.stdout and not (tmp_path / "r").exists()


def test_docker_clean_removes_what_a_crashed_run_left(engine: Any) -> None:
    left = engine.containers.create(K6_IMAGE, ["version"], name="crossload-crashed-run-k6", network_mode="host",
                                    labels={"crossload.run_id": "crashed-run", "crossload.tool": "k6",
                                            "crossload.role": "main"})
    other = engine.containers.create(K6_IMAGE, ["version"], name="not-crossloads", network_mode="host")
    try:
        proc = subprocess.run(["invoke", "docker.clean"], cwd=ROOT, env=dict(os.environ), capture_output=True,
                              text=True, timeout=120, check=False)
        assert proc.returncode == 0, proc.stderr
        assert "removed crossload-crashed-run-k6" in proc.stdout
        assert labeled(engine) == []
        assert engine.containers.get(other.id).name == "not-crossloads"
        again = subprocess.run(["invoke", "docker.clean"], cwd=ROOT, env=dict(os.environ), capture_output=True,
                               text=True, timeout=120, check=False)
        assert again.returncode == 0 and "nothing to remove" in again.stdout
    finally:
        other.remove(force=True)
        with pytest.raises(Exception):  # noqa: B017 - gone already
            left.reload()
