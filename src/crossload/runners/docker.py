"""Run each load tool in its official image on a Docker engine (docker SDK), and stop it cleanly.

A spec becomes one container of the tool's image (``crossload.versions.tool_image``: grafana/k6, locustio/locust,
pinned, overridable) running ``spec.argv[1:]`` (the image's entrypoint is the tool) in ``spec.cwd``:

- the run's folder is bind-mounted at the same absolute path, read-only; the tool's folder (``spec.cwd``) is
  writable for its results, with the rendered files and support modules already in it mounted read-only on top,
  so absolute paths in ``spec.env`` mean the same inside and out;
- the container runs as this user (uid:gid), so the results are never root-owned;
- only ``spec.env`` (crossload's own variables the tool needs) and the variables the scenario references enter
  the container, as environment variables: never the host's whole environment, never a value in the command
  line or the labels;
- labels ``crossload.run_id``, ``crossload.tool``, ``crossload.role`` (and ``crossload.worker``, 1 … N, on the
  workers of a distributed run); name ``crossload-<run-id>-<label>`` (``…-locust-master``, ``…-k6-worker-2``);
- network: the host's on Linux (a target on 127.0.0.1 works as is); on Docker Desktop the default network,
  with localhost targets rewritten to host.docker.internal (``target_url``); ``--docker-network NAME`` joins a
  user network (a compose target, by service name);
- the container's output is streamed into ``spec.log`` while it runs; the collector reads ``spec.raw_output``
  from the mounted folder exactly as for a local process.

A distributed run (``--workers N``) is a container per spec, started in order: a Locust master, then its
workers, which reach it on 127.0.0.1 (the host's network; on any other network they join the master's network
namespace, so the same address still reaches it); or N k6 containers, one execution segment each.

Stopping is the local runner's: SIGINT once (both tools write their final report on it), then SIGTERM, then
SIGKILL. SIGTERM to crossload during a run counts as Ctrl-C. Every container is removed at the end, after its
log is saved, whatever happened; ``clean`` removes what a killed crossload left behind, by label.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import re
import signal
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from crossload.errors import CrossloadError, InputError, ToolError
from crossload.runners.base import RunOutcome, SigtermAsInterrupt, StopRun, combined_exit, nonzero
from crossload.tools.base import LaunchSpec, LoadTool
from crossload.versions import tool_image

LABEL_RUN = "crossload.run_id"
LABEL_TOOL = "crossload.tool"
LABEL_ROLE = "crossload.role"
LABEL_WORKER = "crossload.worker"
DESKTOP_HOST = "host.docker.internal"
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1", "[::1]")
STOP_STEPS = ((signal.SIGINT, 10.0), (signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0))


def images_hint(image: str) -> str:
    return (f"image {image} is not on the Docker engine: run `invoke docker.images` to pull the pinned images "
            "(`invoke docker.images --offline` builds them without a registry)")


@dataclass(frozen=True)
class RunnerContext:
    """What a runner may need to know about the run beyond a tool's launch specs."""

    run_id: str = ""
    run_dir: Path | None = None
    env_names: frozenset[str] = frozenset()  # host variables the scenario references (${VAR})
    docker_network: str | None = None


def container_name(run_id: str, label: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_.-]", "-", f"crossload-{run_id}-{label}" if run_id else f"crossload-{label}")


def container_env(spec_env: dict[str, str], env: dict[str, str], names: frozenset[str]) -> dict[str, str]:
    """The referenced variables that are set, then the tool's own (crossload's) variables."""
    out = {name: env[name] for name in sorted(names) if name in env}
    out.update(spec_env)
    return out


def desktop_url(url: str) -> str:
    """``url`` with a localhost host replaced by host.docker.internal (Docker Desktop's name for the host)."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if host not in LOCAL_HOSTS and f"[{host}]" not in LOCAL_HOSTS:
        return url
    netloc = DESKTOP_HOST + (f":{parts.port}" if parts.port else "")
    if parts.username is not None:
        auth = parts.username + (f":{parts.password}" if parts.password is not None else "")
        netloc = f"{auth}@{netloc}"
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def engine_client() -> Any:
    """A docker SDK client for DOCKER_HOST (or the local socket); an engine that does not answer is one line."""
    from crossload import stack

    try:
        return stack.docker_client()
    except CrossloadError as e:
        raise ToolError(f"docker runner: {e}") from None


def _short(err: BaseException) -> str:
    text = str(getattr(err, "explanation", None) or err).strip().splitlines()
    return (text[0] if text else type(err).__name__)[:300]


def _is_not_found(err: BaseException) -> bool:
    return type(err).__name__ in ("NotFound", "ImageNotFound") or getattr(err, "status_code", None) == 404


def _mounts(specs: Sequence[LaunchSpec], run_dir: Path | None) -> list[dict[str, Any]]:
    """Bind mounts (``Mount`` keyword arguments) for a group of specs, parents first."""
    read_only: dict[str, bool] = {}
    if run_dir is not None:
        read_only[str(run_dir.resolve())] = True
    writable = []
    for spec in specs:
        for folder in (spec.cwd, spec.raw_output.parent):
            folder.mkdir(parents=True, exist_ok=True)
            writable.append(folder.resolve())
    for folder in writable:
        read_only[str(folder)] = False
    for folder in writable:
        # What is in the tool's folder before it starts is what crossload rendered for it: read-only.
        for entry in sorted(folder.iterdir()):
            if str(entry.resolve()) not in read_only and entry.resolve() not in {s.log.resolve() for s in specs}:
                read_only[str(entry.resolve())] = True
    return [{"target": path, "source": path, "type": "bind", "read_only": ro}
            for path, ro in sorted(read_only.items(), key=lambda item: item[0].count("/"))]


class ToolContainer:
    """A started container for one spec; ``poll()`` while collecting, ``stop()`` on interrupt, ``close()``
    always (the log saved, the container removed)."""

    def __init__(self, client: Any, image: str, spec: LaunchSpec, env: dict[str, str],
                 mounts: list[dict[str, Any]], context: RunnerContext, network: dict[str, Any],
                 labels: dict[str, str] | None = None) -> None:
        # Imported by name: the repository's docker/ folder must never pass for the SDK (see crossload.stack).
        mount = importlib.import_module("docker.types").Mount
        self.spec = spec
        self.returncode: int | None = None
        spec.log.parent.mkdir(parents=True, exist_ok=True)
        self._log: IO[bytes] = spec.log.open("ab")
        self._pump: threading.Thread | None = None
        try:
            self.container = client.containers.create(
                image, command=list(spec.argv[1:]), name=container_name(context.run_id, spec.label),
                labels={LABEL_RUN: context.run_id, LABEL_TOOL: spec.tool, LABEL_ROLE: spec.role, **(labels or {})},
                environment=env, working_dir=str(spec.cwd.resolve()), user=f"{os.getuid()}:{os.getgid()}",
                mounts=[mount(**m) for m in mounts], detach=True, stdin_open=False, tty=False, **network)
        except Exception as e:
            self._log.close()
            if _is_not_found(e):
                raise ToolError(images_hint(image)) from None
            raise ToolError(f"{spec.tool}: the container could not be created ({_short(e)})") from None
        try:
            self.container.start()
        except Exception as e:
            self._remove()
            self._log.close()
            raise ToolError(f"{spec.tool}: the container {self.container.name} could not start ({_short(e)})") from None
        self._pump = threading.Thread(target=self._copy_logs, name=f"crossload-log-{spec.label}", daemon=True)
        self._pump.start()

    def _copy_logs(self) -> None:
        with contextlib.suppress(Exception):
            for chunk in self.container.logs(stream=True, follow=True, stdout=True, stderr=True):
                self._log.write(chunk)
                self._log.flush()

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                self.container.reload()
            except Exception as e:
                if _is_not_found(e):  # removed behind our back (docker.clean, a user): it is over
                    self.returncode = 137
                return self.returncode
            state = self.container.attrs.get("State", {})
            if state.get("Status") in ("exited", "dead"):
                self.returncode = int(state.get("ExitCode", 0))
        return self.returncode

    def signal(self, sig: int) -> None:
        with contextlib.suppress(Exception):
            self.container.kill(signal=signal.Signals(sig).name)

    def wait(self, timeout_s: float) -> int | None:
        deadline = time.monotonic() + timeout_s
        while self.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        return self.returncode

    def stop(self, asked: bool = False) -> int:
        """SIGINT (once; unless ``asked`` already), then SIGTERM, then SIGKILL."""
        for sig, grace in STOP_STEPS:
            if self.poll() is not None:
                break
            if not (asked and sig == signal.SIGINT):
                self.signal(sig)
            self.wait(grace)
        return self.returncode if self.returncode is not None else 137

    def _remove(self) -> None:
        with contextlib.suppress(Exception):
            self.container.remove(force=True)

    def close(self) -> None:
        """Stop it if it still runs, save the rest of its log, remove it."""
        if self.poll() is None:
            for sig, grace in STOP_STEPS[1:]:
                self.signal(sig)
                if self.wait(grace) is not None:
                    break
        if self._pump is not None:
            self._pump.join(timeout=5.0)
        self.finished(self.container)
        self._remove()
        if self._pump is not None:
            self._pump.join(timeout=2.0)
        self._log.close()
        if self.returncode is None:
            self.returncode = 137

    def finished(self, container: Any) -> None:
        """Called with each container once it has stopped, before it is removed."""


@dataclass
class DockerRunner:
    """Each spec of a tool's group as a container of the tool's image on the Docker engine."""

    context: RunnerContext = field(default_factory=RunnerContext)
    name: str = "docker"
    _desktop: bool | None = None

    @contextlib.contextmanager
    def engine(self) -> Iterator[Any]:
        """A client for one piece of work (a check, a pre-flight, a tool's run), closed after it."""
        client = engine_client()
        try:
            yield client
        finally:
            client.close()

    @property
    def desktop(self) -> bool:
        """Docker Desktop (macOS, Windows, or its Linux VM): the host network is not this machine's."""
        if self._desktop is None:
            with self.engine() as client:
                try:
                    info = client.info()
                except Exception as e:
                    raise ToolError(f"docker runner: the Docker engine does not answer ({_short(e)})") from None
            self._desktop = "docker desktop" in str(info.get("OperatingSystem", "")).lower()
        return self._desktop

    def image(self, tool: str, env: dict[str, str]) -> str:
        return tool_image(tool, env)

    def check(self, tools: Sequence[str], env: dict[str, str]) -> None:
        """Before anything is written: the engine answers, each tool's image is there, the network exists."""
        with self.engine() as client:
            self._check(client, tools, env)

    def _check(self, client: Any, tools: Sequence[str], env: dict[str, str]) -> None:
        for tool in tools:
            image = self.image(tool, env)
            try:
                client.images.get(image)
            except Exception as e:
                if _is_not_found(e):
                    raise ToolError(images_hint(image)) from None
                raise ToolError(f"docker runner: cannot look up image {image} ({_short(e)})") from None
        network = self.context.docker_network
        if network:
            try:
                client.networks.get(network)
            except Exception as e:
                if _is_not_found(e):
                    raise InputError(f"--docker-network: no Docker network named {network!r} "
                                     "(create it, or start the compose project that defines it)") from None
                raise ToolError(f"docker runner: cannot look up network {network} ({_short(e)})") from None

    def target_url(self, url: str) -> str:
        """The target as the containers reach it: localhost becomes host.docker.internal on Docker Desktop."""
        if self.context.docker_network or not self.desktop:
            return url
        return desktop_url(url)

    def network(self) -> dict[str, Any]:
        if self.context.docker_network:
            return {"network": self.context.docker_network}
        if self.desktop:
            return {}
        return {"network_mode": "host"}

    def execute(self, tool: str, argv: Sequence[str], cwd: Path, env: dict[str, str],
                timeout_s: float = 120.0) -> tuple[int, str]:
        """Run ``argv`` (the tool's arguments) in a one-off container of the tool's image, in ``cwd`` (mounted
        read-only): (exit code, output). For the pre-flight and the version."""
        spec = LaunchSpec(tool=tool, argv=("", *argv), env={}, cwd=cwd, log=cwd / f".{tool}-check.log",
                          raw_output=cwd / ".check", role="check", name=f"{tool}-check-{os.getpid()}-"
                          f"{threading.get_ident() % 100000}")
        mounts = [{"target": str(cwd.resolve()), "source": str(cwd.resolve()), "type": "bind", "read_only": True}]
        network = self.network()
        with self.engine() as client:
            try:
                box = ToolContainer(client, self.image(tool, env), spec,
                                    container_env({}, env, self.context.env_names), mounts, self.context, network)
            except Exception:
                spec.log.unlink(missing_ok=True)
                raise
            try:
                code = box.wait(timeout_s)
                if code is None:
                    box.stop()
            finally:
                box.close()
        text = spec.log.read_text(encoding="utf-8", errors="replace")
        spec.log.unlink(missing_ok=True)
        return (box.returncode if box.returncode is not None else 137), text

    def preflight(self, tool: LoadTool, script: Path, env: dict[str, str]) -> str:
        """The tool's pre-flight, in its image (nothing of the tool needs to be installed here); returns the
        version the image runs."""
        check = PREFLIGHT[tool.name]
        if tool.name == "locust":
            try:
                compile(script.read_text(encoding="utf-8"), str(script), "exec")
            except SyntaxError as e:
                raise InputError(f"{script}:{e.lineno}: the rendered locustfile does not compile: {e.msg}") from None
        code, out = self.execute(tool.name, check.args(script), script.parent, env)
        if code != 0 or (check.expect and check.expect not in out):
            detail = out.strip().splitlines()
            raise InputError(f"{script}: {check.what} ({self.image(tool.name, env)}): "
                             f"{detail[-1] if detail else f'exit code {code}'}")
        code, out = self.execute(tool.name, check.version_args, script.parent, env)
        parts = out.split()
        if code != 0 or len(parts) < 2:
            raise ToolError(f"{tool.name}: `{' '.join(check.version_args)}` failed in {self.image(tool.name, env)}: "
                            f"{out.strip()[-200:] or f'exit code {code}'}")
        return parts[1].lstrip("v")

    def run(self, specs: Sequence[LaunchSpec], env: dict[str, str], on_tick: Callable[[], None],
            tick_s: float = 0.25, failed: Callable[[int], bool] = nonzero) -> RunOutcome:
        """Start a container per spec, call ``on_tick`` every ``tick_s`` until all have exited; a failing one
        stops the rest; Ctrl-C (or SIGTERM) stops them all cleanly; every container is removed."""
        boxes: list[ToolContainer] = []
        interrupted = stopped = False
        started = time.time()
        network = self.network()
        with SigtermAsInterrupt(), self.engine() as client:
            try:
                mounts = _mounts(specs, self.context.run_dir)
                for spec, labels in zip(specs, group_labels(specs), strict=True):
                    boxes.append(ToolContainer(client, self.image(spec.tool, env), spec,
                                               container_env(spec.env, env, self.context.env_names), mounts,
                                               self.context, _joined(network, spec, boxes), labels))
                while [b for b in boxes if b.poll() is None]:  # every container polled, each time
                    time.sleep(tick_s)
                    try:
                        on_tick()
                    except StopRun:
                        stopped = True
                        _stop_all(boxes)
                    if any(b.returncode is not None and failed(b.returncode) for b in boxes):
                        _stop_all(boxes)
            except KeyboardInterrupt:
                interrupted = True
                with contextlib.suppress(KeyboardInterrupt):
                    _stop_all(boxes)
            finally:
                _close_all(boxes)
        codes = {b.spec.label: b.returncode if b.returncode is not None else 137 for b in boxes}
        return RunOutcome(exit_code=combined_exit(list(codes.values()), failed), started_at=started,
                          ended_at=time.time(), interrupted=interrupted, stopped=stopped, exit_codes=codes)


@dataclass(frozen=True)
class ContainerCheck:
    """A tool's pre-flight as arguments of its image's entrypoint (the local runner's, run in the image)."""

    args: Callable[[Path], tuple[str, ...]]
    what: str
    expect: str = ""  # text the output must contain
    version_args: tuple[str, ...] = ("--version",)


PREFLIGHT = {
    # "k6 v1.1.0 (commit/..., go1.24.4, linux/amd64)"
    "k6": ContainerCheck(lambda s: ("inspect", s.name), "k6 inspect rejected the rendered script",
                         version_args=("version",)),
    # "locust 2.47.0 from /path (Python 3.11.2)"
    "locust": ContainerCheck(lambda s: ("-f", s.name, "--list"), "Locust could not load the rendered file",
                             expect="ScenarioUser"),
}


def group_labels(specs: Sequence[LaunchSpec]) -> list[dict[str, str]]:
    """The labels beyond run, tool and role of each spec of a group: ``crossload.worker`` ``"1"`` … ``"N"`` on
    the workers, numbered as ``worker_sources`` tags their data."""
    labels: list[dict[str, str]] = []
    workers = 0
    for spec in specs:
        if spec.role == "worker":
            workers += 1
            labels.append({LABEL_WORKER: str(workers)})
        else:
            labels.append({})
    return labels


def _joined(network: dict[str, Any], spec: LaunchSpec, started: list[ToolContainer]) -> dict[str, Any]:
    """A worker's network: the host's as for every container; on any other network the network namespace of
    its group's master (started before it), where the master's 127.0.0.1 is the worker's too."""
    master = next((b for b in started if b.spec.role == "master"), None)
    if spec.role != "worker" or master is None or network.get("network_mode") == "host":
        return network
    return {"network_mode": f"container:{master.container.id}"}


def _stop_all(boxes: list[ToolContainer]) -> None:
    """SIGINT to every one still running at once, then wait for each (escalating per container)."""
    for b in boxes:
        if b.poll() is None:
            b.signal(signal.SIGINT)
    for b in boxes:
        b.stop(asked=True)


def _close_all(boxes: list[ToolContainer]) -> None:
    """Close every container, even when a Ctrl-C arrives in the middle."""
    pending = list(boxes)
    while pending:
        try:
            pending[0].close()
        except KeyboardInterrupt:
            continue
        pending.pop(0)


def leftovers(client: Any, run_id: str | None = None) -> list[Any]:
    """Containers crossload started (by label), of one run or of all."""
    label = f"{LABEL_RUN}={run_id}" if run_id else LABEL_RUN
    return list(client.containers.list(all=True, filters={"label": label}))


def clean(client: Any, run_id: str | None = None) -> Iterator[str]:
    """Remove every container labeled by crossload (of one run, or all); yield each name removed."""
    for container in leftovers(client, run_id):
        try:
            container.remove(force=True)
        except Exception as e:
            if not _is_not_found(e):
                raise ToolError(f"cannot remove container {container.name} ({_short(e)})") from None
        yield str(container.name)


__all__ = ["LABEL_ROLE", "LABEL_RUN", "LABEL_TOOL", "LABEL_WORKER", "DockerRunner", "RunnerContext",
           "ToolContainer", "clean", "container_env", "container_name", "desktop_url", "engine_client",
           "group_labels", "images_hint", "leftovers"]
