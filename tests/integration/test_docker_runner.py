"""The docker runner against a real Docker engine (Debian's dockerd on a private socket, the session's).

No image can be pulled here, so the images are the stand-ins `crossload docker images --offline` builds from
nothing (k6: the pinned k6 package's static binary; Locust: a debootstrapped Debian plus wheels downloaded on
this machine), tagged exactly like the official ones: the runner code is the one users run. The engine has no
bridge network, so the containers use the host's, as on any Linux machine; the demo target is on 127.0.0.1.
"""

from __future__ import annotations

import datetime
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from k6_raw import k6_durations, k6_rule

from crossload.errors import EXIT_PASS, EXIT_RUN_FAILED
from crossload.paths import resource_dir
from crossload.profiles import build_schedule
from crossload.results import IntervalAggregate, RequestStats, UsersSample, read_aggregates
from crossload.runners import docker as docker_runner
from crossload.runners.base import RunOutcome, nonzero
from crossload.scenario import load_scenario
from crossload.target import DemoTarget
from crossload.tools import get_tool
from crossload.tools.base import LaunchSpec
from crossload.versions import K6_IMAGE, K6_VERSION, LOCUST_IMAGE, LOCUST_VERSION

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SECRET = "s3cret-token-for-the-inspect-test"

# The local distributed test's helpers (the demo target's received counts; the curve test's scenario and its
# fitting of samples to the schedule), reused as they are.
_spec = importlib.util.spec_from_file_location("distributed_test", Path(__file__).with_name("test_distributed.py"))
assert _spec is not None and _spec.loader is not None
distributed = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(distributed)
curve = distributed.curve


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


@pytest.mark.parametrize(("tool", "workers"), [("locust", 0), ("k6", 0), ("locust", 2), ("k6", 2)])
def test_interrupt_stops_and_removes_the_containers_and_keeps_the_data(engine: Any, tmp_path: Path,
                                                                       tool: str, workers: int) -> None:
    results = tmp_path / "results"
    env = dict(os.environ, CROSSLOAD_RESULTS_DIR=str(results), CROSSLOAD_DOTENV=str(tmp_path / "none"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "crossload", "run", "smoke", "--runner", "docker", "--tool", tool, "--duration", "60s",
         "--workers", str(workers)],
        cwd=resource_dir("."), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )
    # Data from every load generator (each worker tags its lines) before the stop.
    marks = [f'"worker":"{i}"' for i in range(1, workers + 1)] or ['"kind":"req"']
    try:
        deadline = time.monotonic() + 90
        store = None
        while time.monotonic() < deadline and proc.poll() is None:
            found = list(results.glob(f"*/{tool}/aggregates.jsonl")) if results.exists() else []
            if found and all(mark in found[0].read_text() for mark in marks):
                store = found[0]
                break
            time.sleep(0.2)
        assert store is not None, "no data was collected live within 90 s"
        run_id = store.parent.parent.name
        # The tool's containers run: one, or a Locust master and its workers, or one k6 per worker.
        assert len(labeled(engine, run_id)) == (workers + (1 if tool == "locust" else 0) if workers else 1)
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


def _when(stamp: str) -> datetime.datetime:
    """A container's StartedAt/FinishedAt (RFC 3339 with up to nanoseconds) as a datetime."""
    head, _, frac = stamp.rstrip("Z").partition(".")
    return datetime.datetime.fromisoformat(f"{head}.{(frac + '000000')[:6]}")


def test_two_workers_per_tool_in_containers_add_up_and_follow_the_profile(run_crossload,  # type: ignore[no-untyped-def]
                                                                          engine: Any, tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    scenario = tmp_path / "curve.yaml"
    scenario.write_text(curve.SCENARIO, encoding="utf-8")
    target = DemoTarget(host="127.0.0.1", port=0).start()
    received: dict[str, dict[str, int]] = {}  # what the target received while each tool ran
    containers: list[dict[str, Any]] = []  # every container, stopped, just before its removal
    running: dict[str, list[str]] = {}  # the run's containers the engine lists while each tool runs
    run_id: list[str] = []
    real_run = docker_runner.DockerRunner.run

    def run(self: docker_runner.DockerRunner, specs: Sequence[LaunchSpec], env: dict[str, str],
            on_tick: Callable[[], None], tick_s: float = 0.25,
            failed: Callable[[int], bool] = nonzero) -> RunOutcome:
        tool = specs[0].tool
        run_id.append(self.context.run_id)
        distributed._received(target.url, "DELETE")

        def tick() -> None:
            if tool not in running:
                running[tool] = sorted(c.name for c in labeled(engine, self.context.run_id))
            on_tick()

        outcome = real_run(self, specs, env, tick, tick_s, failed)
        received[tool] = distributed._received(target.url)
        return outcome

    def finished(self: Any, container: Any) -> None:
        container.reload()
        containers.append(container.attrs)

    monkeypatch.setattr(docker_runner.DockerRunner, "run", run)
    monkeypatch.setattr(docker_runner.ToolContainer, "finished", finished)
    try:
        result, printed = run_crossload("load", target=target.url, scenario=str(scenario), tool="both",
                                        runner="docker", workers=2)
    finally:
        target.stop()
    assert result.exit_code == EXIT_PASS, printed
    assert "warning" not in printed, printed
    assert labeled(engine, result.run_id) == []  # every container removed, check ones included
    assert run_id and set(run_id) == {result.run_id}
    manifest = json.loads((result.path / "manifest.json").read_text())
    assert manifest["runner"] == "docker" and manifest["workers"] == 2

    # The containers: a Locust master and two workers, two k6 instances; named, labeled, run together.
    prefix = f"crossload-{result.run_id}-"
    names = {"locust": [f"{prefix}locust-master", f"{prefix}locust-worker-1", f"{prefix}locust-worker-2"],
             "k6": [f"{prefix}k6-worker-1", f"{prefix}k6-worker-2"]}
    assert running == names, running
    runs = {a["Name"].lstrip("/"): a for a in containers if a["Config"]["Labels"]["crossload.role"] != "check"}
    assert sorted(runs) == sorted(names["locust"] + names["k6"])
    for name, attrs in runs.items():
        labels = attrs["Config"]["Labels"]
        tool, role = name[len(prefix):].split("-")[:2]
        assert labels["crossload.run_id"] == result.run_id and labels["crossload.tool"] == tool
        assert labels["crossload.role"] == role and attrs["HostConfig"]["NetworkMode"] == "host"
        assert labels.get("crossload.worker") == (name[-1] if role == "worker" else None), labels
        assert attrs["State"]["ExitCode"] == 0, name
        log = result.path / tool / (f"{tool}.log" if role == "master" else f"{tool}-worker-{name[-1]}.log")
        assert log.exists(), log
    for tool, group in names.items():
        spans = [(_when(runs[n]["State"]["StartedAt"]), _when(runs[n]["State"]["FinishedAt"])) for n in group]
        assert max(start for start, _ in spans) < min(end for _, end in spans), (tool, spans)  # all at once
    locust_env = {n: dict(item.split("=", 1) for item in runs[n]["Config"]["Env"]) for n in names["locust"]}
    assert locust_env[names["locust"][0]]["CROSSLOAD_LOCUST_OUT"] == ""
    for i in (1, 2):
        assert locust_env[names["locust"][i]]["CROSSLOAD_LOCUST_OUT"] == \
            str((result.path / "locust" / f"intervals-{i}.jsonl").resolve())

    schedule = build_schedule("load", load_scenario(scenario))
    for tool in ("locust", "k6"):
        # Counts: the store, the tool's own totals and the target's count are one number.
        outcome = manifest["outcomes"][tool]
        overall = result.summary.tools[tool].overall
        server = sum(received[tool].values())
        assert overall.count == outcome["tool_reported_requests"] == outcome["collected_requests"] == server > 0
        assert overall.failures == 0, overall.errors

        items = list(read_aggregates(result.path / tool / "aggregates.jsonl", tool))
        requests = [i for i in items if isinstance(i, IntervalAggregate)]
        users = [i for i in items if isinstance(i, UsersSample)]
        per_worker: dict[str, int] = {}
        for a in requests:
            per_worker[a.worker] = per_worker.get(a.worker, 0) + a.count
        assert sorted(per_worker) == ["1", "2"] and all(per_worker.values()), (tool, per_worker)
        assert sum(per_worker.values()) == server
        assert {u.source for u in users} == {"1", "2"}, tool

        # Percentiles: Locust's those of the workers' histograms merged; k6's exact, k6's rule over every sample
        # both segments wrote (docs/schema.md, section 2).
        got = (overall.p50_ms, overall.p95_ms, overall.p99_ms)
        if tool == "locust":
            merged = RequestStats()
            for a in requests:
                merged.merge(a)
            expected = merged.success_latency()
            assert got == (expected.p50_ms, expected.p95_ms, expected.p99_ms), tool
        else:
            values = sorted(k6_durations(result.path / tool))
            assert len(values) == server
            assert got == tuple(round(k6_rule(values, q), 3) for q in (50, 95, 99)), tool

        # The users of a second, summed over the workers, follow the profile within one tick.
        by_second: dict[int, dict[str, int]] = {}
        for u in users:
            by_second.setdefault(u.t, {})[u.source] = u.users
        summed = [UsersSample(tool, t, sum(v.values())) for t, v in sorted(by_second.items()) if len(v) == 2]
        _t0, points = curve._fit(summed, schedule)
        assert len(points) >= 6, (tool, summed)
        for r, n in points:
            lo, hi = curve._window(schedule, r)
            assert lo <= n <= hi, f"{tool}: {n} users at {r:.1f}s, schedule allows {lo}..{hi}"
        assert any(n == schedule.peak_users for _r, n in points), (tool, points)


# A target for a user network: a container of the Locust image (it has a Python) answering every GET with
# 200 and printing one line per request, so that its log counts what it received.
NETWORK_TARGET = """
import http.server, sys
class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")
        sys.stdout.write("received " + self.path + "\\n")
        sys.stdout.flush()
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(("0.0.0.0", 8000), Handler).serve_forever()
"""

NETWORK_SCENARIO = """\
version: 1
name: on-a-user-network
defaults:
  think_time: 50ms
requests:
  - name: health
    path: /health
profiles:
  smoke:
    users: 4
    duration: 4s
"""


def test_on_a_user_network_locust_workers_reach_their_master(engine: Any, tmp_path: Path) -> None:
    """Off the host's network (--docker-network, Docker Desktop) the master's 127.0.0.1 is its own: the
    workers join its network namespace, so they reach it there, and reach the target by its name."""
    tag = f"{os.getpid()}-{time.monotonic_ns() % 10**6}"
    network = engine.networks.create(f"crossload-test-{tag}", driver="bridge")
    server = engine.containers.run(LOCUST_IMAGE, ["-c", NETWORK_TARGET], entrypoint=["python3"], detach=True,
                                   name=f"crossload-test-target-{tag}", network=network.name)
    attrs: dict[str, dict[str, Any]] = {}

    def finished(box: docker_runner.ToolContainer, container: Any) -> None:
        container.reload()
        attrs[box.spec.label] = container.attrs

    try:
        run_dir = tmp_path / f"run-{tag}"
        scenario_file = tmp_path / "scenario.yaml"
        scenario_file.write_text(NETWORK_SCENARIO, encoding="utf-8")
        scenario = load_scenario(scenario_file)
        tool = get_tool("locust")
        script = tool.render(scenario, build_schedule("smoke", scenario),
                             f"http://{server.name}:8000").write(run_dir / "locust")
        specs = tool.launch_group(script, run_dir / "locust", scenario, workers=2)
        runner = docker_runner.DockerRunner(docker_runner.RunnerContext(
            run_id=f"net-{tag}", run_dir=run_dir, docker_network=network.name))
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(docker_runner.ToolContainer, "finished", finished)
            outcome = runner.run(specs, {}, lambda: None, failed=tool.failed)
        assert outcome.exit_codes == {"locust-master": 0, "locust-worker-1": 0, "locust-worker-2": 0}, outcome
        assert labeled(engine, f"net-{tag}") == []
        master = attrs["locust-master"]
        assert master["HostConfig"]["NetworkMode"] == network.name
        for i in (1, 2):
            assert attrs[f"locust-worker-{i}"]["HostConfig"]["NetworkMode"] == f"container:{master['Id']}"
            assert (run_dir / "locust" / f"intervals-{i}.jsonl").stat().st_size > 0
        totals = tool.own_totals(run_dir / "locust")
        assert totals is not None and totals.requests > 0
        deadline = time.monotonic() + 10
        while True:  # the target's log, as the engine stores it
            hits = server.logs(stdout=True, stderr=False).decode().count("received /health")
            if hits >= totals.requests or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert hits == totals.requests
    finally:
        server.remove(force=True)
        network.remove()
