"""A non-editable install works from any directory: the wheel carries templates/, locust/, k6/ and scenarios/.

The package is built from a copy of the sources and installed with ``pip install --no-deps
--no-build-isolation`` into a throwaway venv that sees the already installed dependencies
(``--system-site-packages``), then used from a directory that is not the checkout.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from crossload import __version__

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
# What a build needs; everything else of the checkout stays behind, so the wheel cannot lean on it.
SOURCES = ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "src/crossload", "templates", "locust", "k6",
           "scenarios")
# setuptools builds wheels by itself (without the `wheel` package) from 70.1 on.
MIN_SETUPTOOLS = (70, 1)


@dataclass(frozen=True)
class Installed:
    venv: Path
    cwd: Path
    env: dict[str, str]

    @property
    def python(self) -> str:
        return str(self.venv / "bin" / "python")

    def run(self, *argv: str, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
        return subprocess.run(list(argv), cwd=self.cwd, env=self.env, capture_output=True, text=True,
                              timeout=timeout, check=False)


def _check(proc: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert proc.returncode == 0, f"{proc.args}: exit {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    base = tmp_path_factory.mktemp("install")
    source = base / "source"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "_resources")
    for name in SOURCES:
        src, dest = ROOT / name, source / name
        if src.is_dir():
            shutil.copytree(src, dest, ignore=ignore)
        else:
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest)
    venv = base / "venv"
    _check(subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], capture_output=True,
                          text=True, timeout=120, check=False))
    python = str(venv / "bin" / "python")
    probe = "import setuptools; print(setuptools.__version__)"
    version = _check(subprocess.run([python, "-c", probe], capture_output=True, text=True, check=False)).stdout
    if tuple(int(p) for p in version.strip().split(".")[:2]) < MIN_SETUPTOOLS:
        _check(subprocess.run([python, "-m", "pip", "install", "-q", "--disable-pip-version-check",
                               "setuptools>=70.1"], capture_output=True, text=True, timeout=300, check=False))
    _check(subprocess.run([python, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-deps",
                           "--no-build-isolation", str(source)], cwd=base, capture_output=True, text=True,
                          timeout=300, check=False))
    cwd = base / "elsewhere"
    cwd.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "CROSSLOAD_HOME", "VIRTUAL_ENV")}
    env.update(PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}", CROSSLOAD_RESULTS_DIR=str(base / "results"),
               CROSSLOAD_DOTENV=str(base / "no.env"), COLUMNS="120")
    yield Installed(venv=venv, cwd=cwd, env=env)


def test_the_installed_package_is_used_with_its_own_resources(installed: Installed) -> None:
    probe = ("import crossload, crossload.paths as p; print(crossload.__file__); print(p.resource_root()); "
             "print(p.running_from_checkout())")
    out = _check(installed.run(installed.python, "-c", probe)).stdout.splitlines()
    site = installed.venv / "lib"
    assert Path(out[0]).is_relative_to(site), out
    assert Path(out[1]) == Path(out[0]).parent / "_resources" and out[2] == "False"
    for name in ("templates", "locust", "k6", "scenarios"):
        shipped = sorted(p.name for p in (Path(out[1]) / name).iterdir() if p.is_file())
        expected = sorted(p.name for p in (ROOT / name).iterdir() if p.is_file())
        assert shipped == expected, name


def test_version(installed: Installed) -> None:
    proc = _check(installed.run("crossload", "--version"))
    assert proc.stdout == f"crossload {__version__}\n"


def test_validate_and_render_from_another_directory(installed: Installed) -> None:
    proc = _check(installed.run("crossload", "validate"))
    shipped = sorted(p.name for p in (ROOT / "scenarios").glob("*.yaml"))
    assert {"checkout.yaml", "demo.yaml", "minimal.yaml"} <= set(shipped)
    assert sorted(line.split("/")[-1].split(":")[0] for line in proc.stdout.splitlines()) == shipped
    out = installed.cwd / "rendered"
    _check(installed.run("crossload", "render", "--out", str(out)))
    for path in ("locust/locustfile.py", "locust/crossload_locust.py", "k6/script.js", "k6/crossload.js"):
        assert (out / path).is_file() and (out / path).stat().st_size > 0, path


def test_run_from_another_directory(installed: Installed) -> None:
    results = Path(installed.env["CROSSLOAD_RESULTS_DIR"])
    before = set(results.iterdir()) if results.exists() else set()
    proc = _check(installed.run("crossload", "run", "smoke", "--duration", "2s", "--tool", "k6"))
    assert "all thresholds passed" in proc.stdout
    (run,) = set(results.iterdir()) - before
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "passed" and summary["tools"]["k6"]["overall"]["count"] > 0
    manifest = json.loads((run / "manifest.json").read_text())
    assert "_resources" in manifest["scenario"]["file"]
    assert not (installed.cwd / "results").exists()


def test_invoke_tasks_of_the_checkout_with_the_installed_package(installed: Installed) -> None:
    results = Path(installed.env["CROSSLOAD_RESULTS_DIR"])
    before = set(results.iterdir()) if results.exists() else set()
    proc = _check(installed.run(installed.python, "-m", "invoke", "-r", str(ROOT), "smoke", "--duration", "2s",
                                "--tool", "k6"))
    assert "all thresholds passed" in proc.stdout
    assert len(set(results.iterdir()) - before) == 1
