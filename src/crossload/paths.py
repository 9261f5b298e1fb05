"""Where the toolkit's own resources live (templates/, locust/, k6/, scenarios/ at the project root)."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def resource_dir(name: str) -> Path:
    """A top-level resource folder; ``CROSSLOAD_HOME`` points elsewhere when the package is not in a checkout."""
    home = os.environ.get("CROSSLOAD_HOME")
    base = Path(home) if home else PROJECT_ROOT
    return base / name


def results_root() -> Path:
    return Path(os.environ.get("CROSSLOAD_RESULTS_DIR", "results"))
