"""The results stack of docker/compose.yml (InfluxDB + Grafana), driven with the docker SDK: up, down, status, logs.

Why the SDK and not ``docker compose``: the Compose CLI plugin is not part of every Docker installation (Debian's
docker.io has none), while the SDK (the ``docker`` package, a dependency of crossload) talks to any engine
through DOCKER_HOST or the local socket. So the compose file is read here, with Compose's own rules for the
parts it uses, and turned into SDK calls:

- ``${VAR}``, ``${VAR:-default}``, ``${VAR-default}``, ``${VAR:?message}``, ``${VAR:+other}`` and ``$$`` are
  resolved from the environment plus ``.env`` (the same settings crossload reads; the environment wins);
- every key the stack tasks understand is listed below; any other key is an error (exit 2) instead of being
  silently ignored, so the file can only say what ``stack.up`` does;
- objects are named as Compose names them (``<project>_default`` network, ``<project>_<volume>`` volumes,
  ``<project>-<service>-1`` containers) and carry its ``com.docker.compose.project``/``service`` labels, which
  is how status, logs and down find them.

``up`` creates what is missing (an image missing locally is built when the service has ``build:``, its
context filtered by ``<Dockerfile>.dockerignore`` as BuildKit does, else pulled), recreates a container whose
configuration changed, starts services in ``depends_on`` order, waiting for ``service_healthy``, and waits
until every service is healthy. Then it writes the ``CROSSLOAD_INFLUX_*`` settings that the InfluxDB service
declares in its ``io.crossload.influx.*`` labels into a marked block of ``.env``, so that every run pushes to
the stack without further configuration; ``down`` removes the containers and the network (volumes only with
``--volumes``) and that block. Settings already given elsewhere (the environment, or ``.env`` outside the block)
are left alone: they win, and ``up`` says so.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import queue
import re
import shlex
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

import yaml

from crossload.errors import EXIT_PASS, EXIT_RUN_FAILED, CrossloadError, InputError
from crossload.paths import PROJECT_ROOT
from crossload.settings import dotenv_file, load_environment

COMPOSE_FILE = PROJECT_ROOT / "docker" / "compose.yml"
DEFAULT_PROJECT = "crossload"
LABEL_PROJECT = "com.docker.compose.project"
LABEL_SERVICE = "com.docker.compose.service"
LABEL_NUMBER = "com.docker.compose.container-number"
LABEL_ONEOFF = "com.docker.compose.oneoff"
LABEL_NETWORK = "com.docker.compose.network"
LABEL_VOLUME = "com.docker.compose.volume"
LABEL_FILES = "com.docker.compose.project.config_files"
LABEL_WORKDIR = "com.docker.compose.project.working_dir"
LABEL_HASH = "io.crossload.stack.config-hash"
INFLUX_LABEL = "io.crossload.influx."
GRAFANA_URL_LABEL = "io.crossload.grafana.url"
TARGET_URL_LABEL = "io.crossload.target.url"
# label suffix -> the crossload setting it becomes
INFLUX_SETTINGS = {"url": "CROSSLOAD_INFLUX_URL", "api": "CROSSLOAD_INFLUX_API", "org": "CROSSLOAD_INFLUX_ORG",
                   "bucket": "CROSSLOAD_INFLUX_BUCKET", "token": "CROSSLOAD_INFLUX_TOKEN"}
BLOCK_BEGIN = "# >>> crossload stack: written by `invoke stack.up`, removed by `invoke stack.down`"
BLOCK_END = "# <<< crossload stack"
UP_TIMEOUT_S = 180.0
STOP_TIMEOUT_S = 10
API_VERSION = "1.41"
DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock"

TOP_LEVEL_KEYS = {"name", "services", "volumes"}
SERVICE_KEYS = {"image", "build", "restart", "ports", "environment", "volumes", "healthcheck", "labels", "depends_on",
                "command", "entrypoint", "network_mode", "profiles", "user"}
HEALTH_KEYS = {"test", "interval", "timeout", "retries", "start_period", "disable"}
BUILD_KEYS = {"context", "dockerfile"}
CONDITIONS = ("service_started", "service_healthy", "service_completed_successfully")


class StackError(CrossloadError):
    """The stack could not be brought to the state asked for (engine unreachable, image missing, unhealthy)."""

    exit_code = EXIT_RUN_FAILED


# --- reading the compose file --------------------------------------------------------------------------

_VAR = re.compile(r"\$(?:(?P<dollar>\$)|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])"
                  r"(?P<arg>(?:[^{}]|\{[^{}]*\})*))?\}|(?P<bare>[A-Za-z_][A-Za-z0-9_]*)|(?P<bad>\{[^}]*\}?))")


def interpolate(text: str, env: Mapping[str, str], where: str) -> str:
    """Compose's variable substitution in one string (``where`` names the place for error messages)."""

    def one(m: re.Match[str]) -> str:
        if m.group("dollar"):
            return "$"
        if m.group("bad") is not None:
            raise InputError(f"{where}: invalid variable reference ${m.group('bad')}")
        name = m.group("braced") or m.group("bare")
        op, arg = m.group("op"), m.group("arg")
        value = env.get(name)
        present = value is not None and (value != "" or op is None or not op.startswith(":"))
        if op is None:
            return value or ""
        arg_value = interpolate(arg or "", env, where)
        kind = op[-1]
        if kind == "-":
            return value if present and value is not None else arg_value
        if kind == "+":
            return arg_value if present else ""
        if not present:  # "?": required
            raise InputError(f"{where}: {name} is not set: {arg_value or 'required'}")
        return value or ""

    return _VAR.sub(one, text)


def _resolve(node: Any, env: Mapping[str, str], where: str) -> Any:
    if isinstance(node, str):
        return interpolate(node, env, where)
    if isinstance(node, list):
        return [_resolve(item, env, f"{where}[{i}]") for i, item in enumerate(node)]
    if isinstance(node, dict):
        return {str(k): _resolve(v, env, f"{where}.{k}") for k, v in node.items()}
    return node


def parse_duration_s(text: object, where: str) -> float:
    """A Compose duration (``5s``, ``1m30s``, ``250ms``, ``1h``) in seconds."""
    parts = re.findall(r"(\d+(?:\.\d+)?)(us|ms|s|m|h)", str(text))
    if not parts or "".join(n + u for n, u in parts) != str(text):
        raise InputError(f"{where}: {text!r} is not a duration like 5s, 1m30s or 250ms")
    scale = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
    return sum(float(n) * scale[u] for n, u in parts)


@dataclass(frozen=True)
class Port:
    container_port: int
    host_port: int
    host_ip: str = ""
    protocol: str = "tcp"


@dataclass(frozen=True)
class Mount:
    kind: str  # "bind" or "volume"
    source: str  # an absolute host path (bind) or the volume's name in the file (volume)
    target: str
    read_only: bool = False


@dataclass(frozen=True)
class Healthcheck:
    test: tuple[str, ...]
    interval_s: float = 30.0
    timeout_s: float = 30.0
    retries: int = 3
    start_period_s: float = 0.0


@dataclass(frozen=True)
class Build:
    """``build:``: an absolute context folder and the Dockerfile's path inside it."""

    context: str
    dockerfile: str = "Dockerfile"

    def ignore_patterns(self) -> list[str]:
        """``<Dockerfile>.dockerignore`` next to the Dockerfile (BuildKit's rule), else the context's
        ``.dockerignore``: the files never sent to the engine."""
        context = Path(self.context)
        for candidate in (context / f"{self.dockerfile}.dockerignore", context / ".dockerignore"):
            if candidate.is_file():
                lines = candidate.read_text(encoding="utf-8").splitlines()
                return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
        return []


@dataclass(frozen=True)
class Service:
    name: str
    image: str
    environment: dict[str, str] = field(default_factory=dict)
    ports: tuple[Port, ...] = ()
    mounts: tuple[Mount, ...] = ()
    labels: dict[str, str] = field(default_factory=dict)
    healthcheck: Healthcheck | None = None
    depends_on: dict[str, str] = field(default_factory=dict)
    restart: str | None = None
    command: tuple[str, ...] | None = None
    entrypoint: tuple[str, ...] | None = None
    network_mode: str | None = None
    profiles: tuple[str, ...] = ()
    user: str | None = None
    build: Build | None = None

    def config_hash(self) -> str:
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Stack:
    project: str
    services: dict[str, Service]
    volumes: tuple[str, ...]
    file: Path

    def active(self, profiles: Iterable[str] = ()) -> list[Service]:
        """Services to run, in ``depends_on`` order: those without profiles, and those of ``profiles``."""
        wanted = set(profiles)
        chosen = {n: s for n, s in self.services.items() if not s.profiles or wanted & set(s.profiles)}
        order: list[Service] = []
        seen: set[str] = set()

        def visit(name: str, path: tuple[str, ...]) -> None:
            if name in seen:
                return
            if name in path:
                raise InputError(f"{self.file}: depends_on forms a cycle: {' -> '.join((*path, name))}")
            for dep in sorted(self.services[name].depends_on):
                if dep not in chosen:
                    raise InputError(f"{self.file}: services.{name}.depends_on: {dep} is not started "
                                     "(another profile)")
                visit(dep, (*path, name))
            seen.add(name)
            order.append(chosen[name])

        for name in sorted(chosen):
            visit(name, ())
        return order

    def volume_name(self, name: str) -> str:
        return f"{self.project}_{name}"

    @property
    def network_name(self) -> str:
        return f"{self.project}_default"

    def container_name(self, service: str) -> str:
        return f"{self.project}-{service}-1"

    def influx_settings(self) -> dict[str, str]:
        """The CROSSLOAD_INFLUX_* settings the services declare in ``io.crossload.influx.*`` labels."""
        out: dict[str, str] = {}
        for service in self.services.values():
            for suffix, setting in INFLUX_SETTINGS.items():
                value = service.labels.get(INFLUX_LABEL + suffix)
                if value:
                    out[setting] = _local(value) if suffix == "url" else value
        return out

    def grafana_url(self) -> str | None:
        return next((_local(s.labels[GRAFANA_URL_LABEL]) for s in self.services.values()
                     if GRAFANA_URL_LABEL in s.labels), None)


def _local(url: str) -> str:
    """A URL on a wildcard address (ports published on every interface: STACK_BIND=0.0.0.0) reached locally."""
    return re.sub(r"^(\w+://)(0\.0\.0\.0|\[::\])(?=[:/]|$)", r"\g<1>127.0.0.1", url)


def _str_map(node: Any, where: str, env: Mapping[str, str]) -> dict[str, str]:
    """Compose's ``KEY: value`` or ``["KEY=value"]`` forms (environment, labels)."""
    if node is None:
        return {}
    if isinstance(node, list):
        out: dict[str, str] = {}
        for item in node:
            key, sep, value = str(item).partition("=")
            out[key] = value if sep else env.get(key, "")
        return out
    if isinstance(node, dict):
        return {str(k): "" if v is None else str(v).lower() if isinstance(v, bool) else str(v)
                for k, v in node.items()}
    raise InputError(f"{where}: expected a mapping or a list of KEY=value")


def _ports(node: Any, where: str) -> tuple[Port, ...]:
    out = []
    for i, item in enumerate(node or []):
        here = f"{where}[{i}]"
        if isinstance(item, dict):
            try:
                out.append(Port(int(item["target"]), int(item.get("published") or item["target"]),
                                str(item.get("host_ip") or ""), str(item.get("protocol") or "tcp")))
            except (KeyError, ValueError):
                raise InputError(f"{here}: a port needs target (and published) numbers") from None
            continue
        text, _, proto = str(item).partition("/")
        parts = text.rsplit(":", 2)
        try:
            if len(parts) == 1:
                out.append(Port(int(parts[0]), int(parts[0]), "", proto or "tcp"))
            elif len(parts) == 2:
                out.append(Port(int(parts[1]), int(parts[0]), "", proto or "tcp"))
            else:
                out.append(Port(int(parts[2]), int(parts[1]), parts[0], proto or "tcp"))
        except ValueError:
            raise InputError(f"{here}: {item!r} is not [HOST_IP:]HOST_PORT:CONTAINER_PORT") from None
    return tuple(out)


def _mounts(node: Any, where: str, base: Path, declared: set[str]) -> tuple[Mount, ...]:
    out = []
    for i, item in enumerate(node or []):
        here = f"{where}[{i}]"
        if isinstance(item, dict):
            kind, source, target = str(item.get("type", "volume")), str(item.get("source", "")), item.get("target")
            read_only = bool(item.get("read_only", False))
        else:
            pieces = str(item).split(":")
            if len(pieces) not in (2, 3):
                raise InputError(f"{here}: {item!r} is not SOURCE:TARGET[:ro]")
            source, target = pieces[0], pieces[1]
            mode = pieces[2] if len(pieces) == 3 else "rw"
            if mode not in ("ro", "rw"):
                raise InputError(f"{here}: mode {mode!r} is not ro or rw")
            read_only = mode == "ro"
            kind = "bind" if source.startswith((".", "/", "~")) else "volume"
        if not target or not str(target).startswith("/"):
            raise InputError(f"{here}: the target must be an absolute path in the container")
        if kind == "bind":
            path = Path(source).expanduser()
            source = str((path if path.is_absolute() else base / path).resolve())
        elif kind == "volume":
            if source not in declared:
                raise InputError(f"{here}: volume {source!r} is not declared under the top-level volumes:")
        else:
            raise InputError(f"{here}: mount type {kind!r} is not supported (bind or volume)")
        out.append(Mount(kind, source, str(target), read_only))
    return tuple(out)


def _command(node: Any, where: str) -> tuple[str, ...] | None:
    if node is None:
        return None
    if isinstance(node, str):
        return tuple(shlex.split(node))
    if isinstance(node, list):
        return tuple(str(x) for x in node)
    raise InputError(f"{where}: expected a string or a list")


def _build(node: Any, where: str, base: Path) -> Build | None:
    if node is None:
        return None
    spec = {"context": node} if isinstance(node, str) else node
    if not isinstance(spec, dict) or not spec.get("context"):
        raise InputError(f"{where}: expected a context folder, or a mapping with context (and dockerfile)")
    unknown = set(spec) - BUILD_KEYS
    if unknown:
        raise InputError(f"{where}: {', '.join(sorted(unknown))}: not supported by crossload's stack tasks")
    context = Path(str(spec["context"])).expanduser()
    context = (context if context.is_absolute() else base / context).resolve()
    dockerfile = str(spec.get("dockerfile") or "Dockerfile")
    if not (context / dockerfile).is_file():
        raise InputError(f"{where}: no Dockerfile {dockerfile} in {context}")
    return Build(str(context), dockerfile)


def _healthcheck(node: Any, where: str) -> Healthcheck | None:
    if node is None:
        return None
    if not isinstance(node, dict):
        raise InputError(f"{where}: expected a mapping")
    unknown = set(node) - HEALTH_KEYS
    if unknown:
        raise InputError(f"{where}: {', '.join(sorted(unknown))}: not supported by crossload's stack tasks")
    if node.get("disable"):
        return None
    test = node.get("test")
    if isinstance(test, str):
        test = ["CMD-SHELL", test]
    if not isinstance(test, list) or not test or test[0] not in ("CMD", "CMD-SHELL", "NONE"):
        raise InputError(f"{where}.test: expected [CMD, ...], [CMD-SHELL, ...] or a command string")
    if test[0] == "NONE":
        return None
    return Healthcheck(
        test=tuple(str(t) for t in test),
        interval_s=parse_duration_s(node.get("interval", "30s"), f"{where}.interval"),
        timeout_s=parse_duration_s(node.get("timeout", "30s"), f"{where}.timeout"),
        retries=int(node.get("retries", 3)),
        start_period_s=parse_duration_s(node.get("start_period", "0s"), f"{where}.start_period"),
    )


def _depends(node: Any, where: str, names: set[str]) -> dict[str, str]:
    if node is None:
        return {}
    deps: dict[str, str] = {}
    if isinstance(node, list):
        deps = {str(n): "service_started" for n in node}
    elif isinstance(node, dict):
        for name, spec in node.items():
            condition = str((spec or {}).get("condition", "service_started")) if isinstance(spec, dict) else ""
            if condition not in CONDITIONS:
                raise InputError(f"{where}.{name}.condition: expected one of {', '.join(CONDITIONS)}")
            deps[str(name)] = condition
    else:
        raise InputError(f"{where}: expected a list or a mapping")
    for name in deps:
        if name not in names:
            raise InputError(f"{where}: no service {name!r} in the file")
    return deps


def load_stack(path: Path | None = None, env: Mapping[str, str] | None = None) -> Stack:
    """Read and check a compose file; variables come from ``env`` (default: the environment plus .env)."""
    file = (path or COMPOSE_FILE).resolve()
    if not file.is_file():
        raise InputError(f"{file}: no compose file (the stack tasks need crossload's repository: docker/ and "
                         "dashboards/)")
    values = dict(load_environment() if env is None else env)
    try:
        raw = yaml.safe_load(file.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise InputError(f"{file}: not valid YAML: {e}") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("services"), dict) or not raw["services"]:
        raise InputError(f"{file}: expected a compose file with services:")
    unknown = set(raw) - TOP_LEVEL_KEYS
    if unknown:
        raise InputError(f"{file}: {', '.join(sorted(unknown))}: not supported by crossload's stack tasks")
    data = _resolve(raw, values, file.name)
    project = str(data.get("name") or DEFAULT_PROJECT)
    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]*", project):
        raise InputError(f"{file}: name: {project!r} must be lowercase letters, digits, - and _")
    volumes_node = data.get("volumes") or {}
    if not isinstance(volumes_node, dict):
        raise InputError(f"{file}: volumes: expected a mapping")
    declared = {str(v) for v in volumes_node}
    for name, spec in volumes_node.items():
        if spec:
            raise InputError(f"{file}: volumes.{name}: only plain named volumes are supported")
    names = set(data["services"])
    services: dict[str, Service] = {}
    for name, spec in data["services"].items():
        where = f"{file.name}: services.{name}"
        if not isinstance(spec, dict):
            raise InputError(f"{where}: expected a mapping")
        unknown = set(spec) - SERVICE_KEYS
        if unknown:
            raise InputError(f"{where}: {', '.join(sorted(unknown))}: not supported by crossload's stack tasks")
        if not spec.get("image"):
            raise InputError(f"{where}.image: every service needs an image")
        if spec.get("network_mode") and spec.get("ports"):
            raise InputError(f"{where}: network_mode and ports exclude each other")
        services[name] = Service(
            name=name, image=str(spec["image"]),
            environment=_str_map(spec.get("environment"), f"{where}.environment", values),
            ports=_ports(spec.get("ports"), f"{where}.ports"),
            mounts=_mounts(spec.get("volumes"), f"{where}.volumes", file.parent, declared),
            labels=_str_map(spec.get("labels"), f"{where}.labels", values),
            healthcheck=_healthcheck(spec.get("healthcheck"), f"{where}.healthcheck"),
            depends_on=_depends(spec.get("depends_on"), f"{where}.depends_on", names),
            restart=str(spec["restart"]) if spec.get("restart") else None,
            command=_command(spec.get("command"), f"{where}.command"),
            entrypoint=_command(spec.get("entrypoint"), f"{where}.entrypoint"),
            network_mode=str(spec["network_mode"]) if spec.get("network_mode") else None,
            profiles=tuple(str(p) for p in spec.get("profiles") or ()),
            user=str(spec["user"]) if spec.get("user") else None,
            build=_build(spec.get("build"), f"{where}.build", file.parent),
        )
    return Stack(project, services, tuple(sorted(declared)), file)


# --- the engine ----------------------------------------------------------------------------------------

def docker_client() -> Any:
    """A docker SDK client for DOCKER_HOST (or the local socket), checked with a ping."""
    docker = _sdk()
    host = os.environ.get("DOCKER_HOST", "").strip() or DEFAULT_DOCKER_HOST
    if host.startswith("unix://"):
        _check_socket(host.removeprefix("unix://"))
    client = None
    try:
        # A fixed API version: "auto" asks the engine while the client is built, and a failure there leaks
        # its socket. 1.41 is Docker 20.10's, which every later engine still speaks.
        client = docker.from_env(version=API_VERSION, timeout=30)
        client.ping()
    except Exception as e:
        if client is not None:
            client.close()
        raise StackError(f"no Docker engine answers ({_short(e)}): install and start one (Debian: apt-get install "
                         "docker.io), or point DOCKER_HOST at it") from None
    return client


def _check_socket(path: str) -> None:
    """Fail early, and cleanly, when nothing listens on the engine's socket (the SDK would leak its socket)."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            probe.settimeout(5)
            probe.connect(path)
    except OSError as e:
        raise StackError(f"no Docker engine answers at unix://{path} ({e.strerror or type(e).__name__}): install "
                         "and start one (Debian: apt-get install docker.io), or point DOCKER_HOST at it") from None


def _sdk(module: str = "docker") -> Any:
    """The docker SDK (untyped; imported by name so that the repository's docker/ folder, which holds the
    compose file, is never mistaken for it by the type checker)."""
    try:
        return importlib.import_module(module)
    except ImportError:  # pragma: no cover - a dependency of crossload
        raise StackError("the docker SDK is not installed: pip install docker") from None


def _short(err: BaseException) -> str:
    text = str(getattr(err, "explanation", None) or err).strip().splitlines()
    return (text[0] if text else type(err).__name__)[:300]


def _is_not_found(err: BaseException) -> bool:
    return type(err).__name__ in ("NotFound", "ImageNotFound") or getattr(err, "status_code", None) == 404


def _project_filter(stack: Stack, service: str | None = None) -> dict[str, Any]:
    labels = [f"{LABEL_PROJECT}={stack.project}"]
    if service:
        labels.append(f"{LABEL_SERVICE}={service}")
    return {"label": labels}


def _containers(client: Any, stack: Stack, service: str | None = None) -> list[Any]:
    found = client.containers.list(all=True, filters=_project_filter(stack, service))
    return sorted(found, key=lambda c: str(c.labels.get(LABEL_SERVICE, c.name)))


def build_image(client: Any, service: Service, out: TextIO) -> Any:
    """Build ``service.image`` from its ``build:`` with the docker SDK; the context is sent without what its
    dockerignore file excludes."""
    assert service.build is not None
    build = service.build
    out.write(f"{service.name}: building {service.image} from {build.context} ({build.dockerfile}) ...\n")
    context = _sdk("docker.utils.build").tar(build.context, exclude=build.ignore_patterns(),
                                             dockerfile=(build.dockerfile, None))
    try:
        image, _log = client.images.build(fileobj=context, custom_context=True, dockerfile=build.dockerfile,
                                          tag=service.image, rm=True, forcerm=True, pull=False)
    except Exception as e:
        lines = [str(chunk.get("stream") or chunk.get("error") or "").rstrip() for chunk in
                 getattr(e, "build_log", None) or [] if isinstance(chunk, dict)]
        tail = "".join(f"    {line}\n" for line in [x for x in lines if x][-15:])
        raise StackError(f"{service.name}: building {service.image} failed ({_short(e)})" +
                         (f":\n{tail}" if tail else "")) from None
    finally:
        context.close()
    return image


def _ensure_image(client: Any, service: Service, out: TextIO, rebuild: bool = False) -> Any:
    image = service.image
    if rebuild and service.build is not None:
        return build_image(client, service, out)
    try:
        return client.images.get(image)
    except Exception as e:
        if not _is_not_found(e):
            raise StackError(f"image {image}: {_short(e)}") from None
    if service.build is not None:
        return build_image(client, service, out)
    repository, _, tag = image.rpartition(":") if ":" in image.rsplit("/", 1)[-1] else (image, "", "latest")
    out.write(f"pulling {image} ...\n")
    try:
        return client.images.pull(repository, tag=tag or "latest")
    except Exception as e:
        raise StackError(f"image {image} is not on this machine and could not be pulled ({_short(e)}); pull or "
                         f"load it, or set another image in .env (see .env.example)") from None


def _labels(stack: Stack, service: Service, config_hash: str) -> dict[str, str]:
    return {**service.labels, LABEL_PROJECT: stack.project, LABEL_SERVICE: service.name, LABEL_NUMBER: "1",
            LABEL_ONEOFF: "False", LABEL_FILES: str(stack.file), LABEL_WORKDIR: str(stack.file.parent),
            LABEL_HASH: config_hash}


def _ns(seconds: float) -> int:
    return int(seconds * 1_000_000_000)


def create_kwargs(stack: Stack, service: Service, config_hash: str, client: Any) -> dict[str, Any]:
    """The docker SDK's ``containers.create`` arguments for one service."""
    sdk_mount = _sdk("docker.types").Mount
    kwargs: dict[str, Any] = {
        "image": service.image, "name": stack.container_name(service.name), "detach": True,
        "environment": dict(service.environment), "labels": _labels(stack, service, config_hash),
        "mounts": [sdk_mount(target=m.target, source=stack.volume_name(m.source) if m.kind == "volume" else m.source,
                            type=m.kind, read_only=m.read_only) for m in service.mounts],
    }
    if service.ports:
        kwargs["ports"] = {f"{p.container_port}/{p.protocol}": (p.host_ip, p.host_port) if p.host_ip else p.host_port
                           for p in service.ports}
    if service.healthcheck:
        h = service.healthcheck
        kwargs["healthcheck"] = {"test": list(h.test), "interval": _ns(h.interval_s), "timeout": _ns(h.timeout_s),
                                 "retries": h.retries, "start_period": _ns(h.start_period_s)}
    if service.restart and service.restart != "no":
        name, _, count = service.restart.partition(":")
        kwargs["restart_policy"] = {"Name": name, **({"MaximumRetryCount": int(count)} if count else {})}
    if service.command is not None:
        kwargs["command"] = list(service.command)
    if service.entrypoint is not None:
        kwargs["entrypoint"] = list(service.entrypoint)
    if service.user:
        kwargs["user"] = service.user
    if service.network_mode:
        kwargs["network_mode"] = service.network_mode
    else:
        kwargs["network"] = stack.network_name
        kwargs["networking_config"] = {
            stack.network_name: client.api.create_endpoint_config(aliases=[service.name])}
        kwargs["hostname"] = service.name
    return kwargs


def _ensure_network(client: Any, stack: Stack) -> None:
    if client.networks.list(names=[stack.network_name]):
        return
    client.networks.create(stack.network_name, driver="bridge",
                           labels={LABEL_PROJECT: stack.project, LABEL_NETWORK: "default"})


def _ensure_volume(client: Any, stack: Stack, name: str) -> None:
    try:
        client.volumes.get(stack.volume_name(name))
    except Exception as e:
        if not _is_not_found(e):
            raise StackError(f"volume {stack.volume_name(name)}: {_short(e)}") from None
        client.volumes.create(stack.volume_name(name), labels={LABEL_PROJECT: stack.project, LABEL_VOLUME: name})


def health(container: Any) -> str:
    """``healthy``, ``unhealthy``, ``starting`` (health check pending), ``running`` (none), or the state."""
    state = container.attrs.get("State") or {}
    status = str(state.get("Status") or container.status)
    if status != "running":
        return status
    checked = state.get("Health")
    return str(checked.get("Status")) if isinstance(checked, dict) and checked.get("Status") else "running"


def _tail(container: Any, lines: int = 15) -> str:
    try:
        text = container.logs(tail=lines).decode("utf-8", "replace")
    except Exception:
        return ""
    return "".join(f"    {line}\n" for line in text.splitlines())


def wait_until(container: Any, condition: str, timeout_s: float, sleep: Callable[[float], None] = time.sleep,
               clock: Callable[[], float] = time.monotonic) -> None:
    """Wait for ``service_started`` (running), ``service_healthy`` or ``service_completed_successfully``."""
    deadline = clock() + timeout_s
    name = container.name
    while True:
        container.reload()
        state = health(container)
        exit_code = (container.attrs.get("State") or {}).get("ExitCode")
        if condition == "service_completed_successfully" and state == "exited":
            if exit_code == 0:
                return
            raise StackError(f"{name} exited with code {exit_code}:\n{_tail(container)}")
        if condition != "service_completed_successfully" and state in ("exited", "dead"):
            raise StackError(f"{name} stopped (exit code {exit_code}):\n{_tail(container)}")
        if condition == "service_started" and state in ("running", "healthy", "starting", "unhealthy"):
            return
        if condition == "service_healthy":
            if state in ("healthy", "running"):  # "running": no health check, started is all there is to wait for
                return
            if state == "unhealthy":
                raise StackError(f"{name} is unhealthy:\n{_tail(container)}")
        if clock() >= deadline:
            raise StackError(f"{name} is still {state} after {timeout_s:g} s:\n{_tail(container)}")
        sleep(0.5)


def up(stack: Stack, client: Any, out: TextIO, profiles: Sequence[str] = (), timeout_s: float = UP_TIMEOUT_S,
       dotenv: Path | None = None, sleep: Callable[[float], None] = time.sleep, build: bool = False) -> int:
    """Start the stack (``build``: rebuild the images of services with a ``build:`` first)."""
    services = stack.active(profiles)
    images = {s.name: _ensure_image(client, s, out, rebuild=build) for s in services}
    if any(not s.network_mode for s in services):
        _ensure_network(client, stack)
    for name in sorted({m.source for s in services for m in s.mounts if m.kind == "volume"}):
        _ensure_volume(client, stack, name)
    started: dict[str, Any] = {}
    for service in services:
        for dep, condition in sorted(service.depends_on.items()):
            out.write(f"waiting for {dep} ({condition.removeprefix('service_')}) ...\n")
            wait_until(started[dep], condition, timeout_s, sleep=sleep)
        image_id = str(getattr(images[service.name], "id", ""))
        config_hash = hashlib.sha256((service.config_hash() + image_id).encode()).hexdigest()[:16]
        existing = _containers(client, stack, service.name)
        keep = [c for c in existing if c.labels.get(LABEL_HASH) == config_hash]
        for old in existing:
            if old not in keep:
                out.write(f"{service.name}: configuration changed, recreating {old.name}\n")
                _remove(old)
        container = keep[0] if keep else client.containers.create(
            **create_kwargs(stack, service, config_hash, client))
        container.reload()
        if container.status != "running":
            try:
                container.start()
            except Exception as e:
                raise StackError(f"{service.name}: cannot start {container.name}: {_short(e)}"
                                 f"{_port_hint(service)}") from None
            out.write(f"{service.name}: started {container.name} ({service.image})\n")
        else:
            out.write(f"{service.name}: {container.name} already running\n")
        started[service.name] = container
    for service in services:
        wait_until(started[service.name], "service_healthy", timeout_s, sleep=sleep)
    out.write(f"stack {stack.project!r} is up: {', '.join(s.name for s in services)} healthy\n")
    for service in services:
        if TARGET_URL_LABEL in service.labels:
            out.write(f"demo target: {service.labels[TARGET_URL_LABEL]} (e.g. invoke smoke --target "
                      f"{service.labels[TARGET_URL_LABEL]})\n")
    _announce(stack, out, dotenv)
    return EXIT_PASS


def _port_hint(service: Service) -> str:
    ports = ", ".join(f"{p.host_ip or '*'}:{p.host_port}" for p in service.ports)
    return f" (is something else listening on {ports}? change the port in .env, see .env.example)" if ports else ""


def _remove(container: Any) -> None:
    try:
        container.stop(timeout=STOP_TIMEOUT_S)
    except Exception as e:
        if not _is_not_found(e):
            raise
    try:
        container.remove(v=False)
    except Exception as e:
        if not _is_not_found(e):
            raise


def down(stack: Stack, client: Any, out: TextIO, volumes: bool = False, dotenv: Path | None = None) -> int:
    containers = _containers(client, stack)
    for c in containers:
        _remove(c)
        out.write(f"removed {c.name}\n")
    for net in client.networks.list(filters={"label": [f"{LABEL_PROJECT}={stack.project}"]}):
        net.remove()
        out.write(f"removed network {net.name}\n")
    if volumes:
        for vol in client.volumes.list(filters={"label": [f"{LABEL_PROJECT}={stack.project}"]}):
            vol.remove()
            out.write(f"removed volume {vol.name}\n")
    elif stack.volumes:
        out.write(f"kept the data volumes ({', '.join(stack.volume_name(v) for v in stack.volumes)}); "
                  "`invoke stack.down --volumes` deletes them\n")
    if not containers:
        out.write(f"stack {stack.project!r} was not running\n")
    path = dotenv or dotenv_file()
    if remove_block(path):
        out.write(f"removed the stack's CROSSLOAD_INFLUX_* settings from {path}\n")
    return EXIT_PASS


def _ports_text(container: Any) -> str:
    ports = ((container.attrs.get("NetworkSettings") or {}).get("Ports")) or {}
    shown = []
    for inner, bindings in sorted(ports.items()):
        for b in bindings or []:
            shown.append(f"{b.get('HostIp') or '*'}:{b.get('HostPort')}->{inner}")
    return ", ".join(shown) or "-"


def status(stack: Stack, client: Any, out: TextIO, profiles: Sequence[str] = ()) -> int:
    """Every service with its container, image, state and ports; 0 when all are up and healthy."""
    wanted = [s.name for s in stack.active(profiles)]
    by_service = {str(c.labels.get(LABEL_SERVICE)): c for c in _containers(client, stack)}
    out.write(f"{'service':<12} {'container':<28} {'state':<10} {'image':<32} ports\n")
    healthy = True
    for name in sorted(set(wanted) | set(by_service)):
        c = by_service.get(name)
        if c is None:
            image = stack.services[name].image if name in stack.services else "-"
            out.write(f"{name:<12} {'-':<28} {'absent':<10} {image:<32} -\n")
            healthy = False
            continue
        state = health(c)
        healthy = healthy and state in ("healthy", "running")
        image = ",".join(getattr(c.image, "tags", None) or []) or str(getattr(c.image, "short_id", "?"))
        out.write(f"{name:<12} {c.name:<28} {state:<10} {image:<32} {_ports_text(c)}\n")
    if healthy:
        settings = stack.influx_settings()
        url = settings.get("CROSSLOAD_INFLUX_URL")
        if url:
            used = load_environment().get("CROSSLOAD_INFLUX_URL", "").strip()
            where = ("runs push here" if used.rstrip("/") == url.rstrip("/") else
                     f"runs push to {used} instead (CROSSLOAD_INFLUX_URL)" if used else
                     "runs do not push here: CROSSLOAD_INFLUX_URL is not set (`invoke stack.up` writes it)")
            out.write(f"InfluxDB: {url} ({where})\n")
        if stack.grafana_url():
            out.write(f"Grafana:  {stack.grafana_url()}\n")
    else:
        out.write(f"stack {stack.project!r} is not (completely) up: `invoke stack.up`\n")
    return EXIT_PASS if healthy else EXIT_RUN_FAILED


def logs(stack: Stack, client: Any, out: TextIO, service: str | None = None, tail: int = 100,
         follow: bool = False) -> int:
    """The last ``tail`` lines of each service's log (``service | line``); ``follow`` streams until Ctrl-C."""
    if service and service not in stack.services:
        raise InputError(f"--service: no service {service!r} in {stack.file.name} "
                         f"(one of {', '.join(sorted(stack.services))})")
    containers = _containers(client, stack, service)
    if not containers:
        raise StackError(f"no container of stack {stack.project!r}{' for ' + service if service else ''}: "
                         "`invoke stack.up` first")
    width = max(len(str(c.labels.get(LABEL_SERVICE, c.name))) for c in containers)

    def prefix(c: Any) -> str:
        return f"{c.labels.get(LABEL_SERVICE, c.name):<{width}} | "

    if not follow:
        for c in containers:
            text = c.logs(tail=tail, timestamps=False).decode("utf-8", "replace")
            for line in text.splitlines():
                out.write(prefix(c) + line + "\n")
        return EXIT_PASS
    lines: queue.Queue[str | None] = queue.Queue()

    def pump(c: Any) -> None:
        buffer = b""
        try:
            for chunk in c.logs(stream=True, follow=True, tail=tail):
                buffer += chunk
                *complete, buffer = buffer.split(b"\n")
                for line in complete:
                    lines.put(prefix(c) + line.decode("utf-8", "replace"))
        finally:
            lines.put(None)

    for c in containers:
        threading.Thread(target=pump, args=(c,), daemon=True, name=f"crossload-logs-{c.name}").start()
    open_streams = len(containers)
    try:
        while open_streams:
            item = lines.get()
            if item is None:
                open_streams -= 1
                continue
            out.write(item + "\n")
            out.flush()
    except KeyboardInterrupt:
        pass
    return EXIT_PASS


# --- .env: the settings that make runs push to the stack ----------------------------------------------------

def _split_block(text: str) -> tuple[list[str], list[str]]:
    """(lines outside the block, lines inside it)."""
    outside: list[str] = []
    inside: list[str] = []
    in_block = False
    for line in text.splitlines():
        if line.strip() == BLOCK_BEGIN:
            in_block = True
        elif line.strip() == BLOCK_END and in_block:
            in_block = False
        elif in_block:
            inside.append(line)
        else:
            outside.append(line)
    return outside, inside


def _assigned(lines: Iterable[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in lines:
        m = re.match(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$", line)
        if m:
            out[m.group(1)] = m.group(2).strip().strip("'\"")
    return out


def write_block(path: Path, settings: Mapping[str, str]) -> None:
    """Replace (or append) the stack's block of ``path`` with ``settings``; the rest of the file is kept."""
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    outside, _ = _split_block(text)
    while outside and not outside[-1].strip():
        outside.pop()
    block = [BLOCK_BEGIN, *(f"{k}={v}" for k, v in settings.items()), BLOCK_END]
    body = [*outside, *([""] if outside else []), *block]
    path.write_text("\n".join(body) + "\n", encoding="utf-8")


def remove_block(path: Path) -> bool:
    if not path.exists():
        return False
    text = path.read_text(encoding="utf-8")
    if BLOCK_BEGIN not in text:
        return False
    outside, _inside = _split_block(text)
    while outside and not outside[-1].strip():
        outside.pop()
    path.write_text("\n".join(outside) + "\n" if outside else "", encoding="utf-8")
    return True


def _announce(stack: Stack, out: TextIO, dotenv: Path | None) -> None:
    """Write the stack's CROSSLOAD_INFLUX_* settings into .env unless the user set their own, and say so."""
    settings = stack.influx_settings()
    grafana = stack.grafana_url()
    if grafana:
        out.write(f"Grafana:  {grafana} (dashboards in the crossload folder)\n")
    if not settings:
        return
    out.write(f"InfluxDB: {settings.get('CROSSLOAD_INFLUX_URL')} (org {settings.get('CROSSLOAD_INFLUX_ORG')!r}, "
              f"bucket {settings.get('CROSSLOAD_INFLUX_BUCKET')!r})\n")
    path = dotenv or dotenv_file()
    outside, inside = _split_block(path.read_text(encoding="utf-8")) if path.exists() else ([], [])
    own = sorted(k for k, v in _assigned(outside).items() if k in settings and v)
    if own:
        remove_block(path)
        out.write(f"{path} sets {', '.join(own)} itself: runs keep using its settings (remove them there to "
                  "push to the stack)\n")
        return
    previous = _assigned(inside)
    write_block(path, settings)
    out.write(f"wrote {', '.join(settings)} to {path}: every run now pushes to the stack\n")
    # Exported by the user (not copied from an earlier block of .env by the command-line fronts): they win.
    exported = [k for k, v in settings.items() if os.environ.get(k) and os.environ[k] not in (v, previous.get(k))]
    if exported:
        out.write(f"note: {', '.join(exported)} set in the environment win over {path}: unset them to push to "
                  "the stack\n")


def profiles_from(value: str | None, env: Mapping[str, str] | None = None) -> list[str]:
    """``--profile a,b``, else COMPOSE_PROFILES (Compose's own variable), else none."""
    text = value if value is not None else (env or load_environment()).get("COMPOSE_PROFILES", "")
    return [p.strip() for p in text.split(",") if p.strip()]


__all__ = ["COMPOSE_FILE", "Build", "Healthcheck", "Mount", "Port", "Service", "Stack", "StackError", "build_image",
           "create_kwargs", "docker_client", "down", "health", "interpolate", "load_stack", "logs", "profiles_from",
           "remove_block", "status", "up", "wait_until", "write_block"]
