"""Shared fixtures: the demo target, and a function that runs crossload in-process into a temp results dir."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from crossload.run import RunRequest, RunResult, execute

ROOT = Path(__file__).resolve().parents[1]

# In CI the property tests draw the same examples every time (derandomize): a red CI is then a real defect that
# the next run shows again, never a draw that happened to find something. Locally they explore new examples.
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture(scope="session")
def demo_target() -> Iterator[str]:
    from crossload.target import DemoTarget

    with DemoTarget(host="127.0.0.1", port=0) as target:
        yield target.url


@pytest.fixture()
def run_crossload(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Call ``run_crossload(profile, **RunRequest fields)`` -> (RunResult, printed text)."""

    def _run(profile: str = "smoke", **kw: object) -> tuple[RunResult, str]:
        out = io.StringIO()
        kw.setdefault("results_dir", tmp_path / "results")
        result = execute(RunRequest(profile=profile, **kw), out=out)  # type: ignore[arg-type]
        return result, out.getvalue()

    return _run


@pytest.fixture(autouse=True)
def _no_user_dotenv(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Tests never read a developer's .env by accident."""
    if "CROSSLOAD_DOTENV" not in os.environ:
        monkeypatch.setenv("CROSSLOAD_DOTENV", str(tmp_path / "no.env"))
