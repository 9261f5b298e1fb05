"""Packaging hook (the project's metadata is in pyproject.toml).

templates/, locust/, k6/ and scenarios/ stay at the top of the repository, where a checkout (and an editable
install) uses them in place. A built wheel carries copies of them as ``crossload/_resources/``, so a plain
``pip install .`` works from any directory: ``crossload.paths.resource_dir`` falls back to those copies.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
RESOURCE_DIRS = ("templates", "locust", "k6", "scenarios")
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo")


class BuildPyWithResources(build_py):
    """``build_py`` plus the resource folders copied to ``<build>/crossload/_resources/``."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return  # an editable install reads the folders in place
        target = Path(self.build_lib) / "crossload" / "_resources"
        for name in RESOURCE_DIRS:
            source = ROOT / name
            if not source.is_dir():
                raise SystemExit(f"setup.py: {source} is missing: it must be shipped in the wheel")
            shutil.rmtree(target / name, ignore_errors=True)
            shutil.copytree(source, target / name, ignore=IGNORE)

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        outputs = list(super().get_outputs(include_bytecode))
        if getattr(self, "editable_mode", False):
            return outputs
        target = Path(self.build_lib) / "crossload" / "_resources"
        return outputs + [str(p) for p in sorted(target.rglob("*")) if p.is_file()]


setup(cmdclass={"build_py": BuildPyWithResources})
