"""The package type-checks strictly and the tree passes the linter (both configured in pyproject.toml)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("argv", [
    [sys.executable, "-m", "ruff", "check", "--no-cache", "."],
    [sys.executable, "-m", "mypy", "--no-incremental"],
], ids=["ruff", "mypy"])
def test_clean(argv: list[str]) -> None:
    if shutil.which(argv[2]) is None and subprocess.run([*argv[:3], "--version"], capture_output=True,
                                                        check=False).returncode != 0:
        pytest.fail(f"{argv[2]} is not installed: pip install -e '.[dev]'")
    proc = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]


def test_test_modules_have_unique_basenames() -> None:
    """The test folders are not packages: pytest imports each test file by its basename, so two files of the
    same name (one under unit/, one under integration/) stop the whole collection."""
    seen: dict[str, Path] = {}
    for path in sorted((ROOT / "tests").rglob("test_*.py")):
        assert path.name not in seen, f"{path} and {seen[path.name]} share a basename"
        seen[path.name] = path
