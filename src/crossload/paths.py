"""Where crossload's own resources live, and where results go.

The resource folders (templates/, locust/, k6/, scenarios/) stand at the top of the repository. From a
checkout (including an editable install) they are used in place; a built wheel carries copies of them as
``crossload/_resources/`` (see setup.py), used when the package does not run from a checkout.
``CROSSLOAD_HOME`` overrides both.
"""

from __future__ import annotations

from pathlib import Path

from crossload.settings import setting

PACKAGE_DIR = Path(__file__).resolve().parent
# The repository root when the package runs from a checkout (src/crossload/ -> the repository).
PROJECT_ROOT = PACKAGE_DIR.parents[1]
# Copies of the resource folders inside an installed wheel.
BUNDLED_ROOT = PACKAGE_DIR / "_resources"
RESOURCE_DIRS = ("templates", "locust", "k6", "scenarios")
DEFAULT_RESULTS_DIR = "results"


def running_from_checkout() -> bool:
    """True when this package is ``src/crossload`` of a repository with the resource folders next to it."""
    return PACKAGE_DIR.parent.name == "src" and all((PROJECT_ROOT / name).is_dir() for name in RESOURCE_DIRS)


def resource_root() -> Path:
    """``CROSSLOAD_HOME``, else the checkout, else the copies shipped in the wheel."""
    home = setting("CROSSLOAD_HOME")
    if home:
        return Path(home).expanduser()
    if running_from_checkout() or not BUNDLED_ROOT.is_dir():
        return PROJECT_ROOT
    return BUNDLED_ROOT


def resource_dir(name: str) -> Path:
    """A top-level resource folder (``templates``, ``locust``, ``k6``, ``scenarios``; ``tests`` in a checkout)."""
    return resource_root() / name


def results_root() -> Path:
    """``CROSSLOAD_RESULTS_DIR`` (default ``results``, relative to the current directory)."""
    return Path(setting("CROSSLOAD_RESULTS_DIR", DEFAULT_RESULTS_DIR) or DEFAULT_RESULTS_DIR).expanduser()


__all__ = ["BUNDLED_ROOT", "PROJECT_ROOT", "RESOURCE_DIRS", "resource_dir", "resource_root", "results_root",
           "running_from_checkout"]
