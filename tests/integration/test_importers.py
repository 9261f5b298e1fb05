"""Imported scenarios run: `invoke import.openapi` and `invoke import.har` on the fixtures (real subprocesses),
`crossload validate` on what they wrote, then a short run of both tools against a demo target of this module.

The OpenAPI fixture describes the demo target; its createItem operation needs the bearer token the security
scheme turned into ${BEARER_AUTH_TOKEN}. The HAR fixture recorded a session against the demo target; the item
it created had the id 4821, which a fresh target does not have: the read-back step answers 200 only when it
sends the id this run's create step got (the target answers 404 otherwise, a failed check).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from crossload.target import DemoTarget

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "import"
TOKEN = "imp0rted-static-t0ken"  # the target's static token, given to the run as ${BEARER_AUTH_TOKEN}
PASSWORD = "replayed-pa55word"  # the login password, given to the run as ${HAR_PASSWORD}
RECORDED_ID = 4821


@pytest.fixture(scope="module")
def target() -> Iterator[str]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CROSSLOAD_DEMO_TOKEN", TOKEN)
        with DemoTarget(host="127.0.0.1", port=0) as demo:
            yield demo.url


def _get(url: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return int(resp.status), json.loads(resp.read())
    except urllib.error.HTTPError as e:
        with e:
            return int(e.code), json.loads(e.read())


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CROSSLOAD_INFLUX_")}
    env.update(CROSSLOAD_RESULTS_DIR=str(tmp_path / "results"), CROSSLOAD_DOTENV=str(tmp_path / "no.env"),
               COLUMNS="120", **extra)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def _import(kind: str, fixture: str, out: Path, env: dict[str, str]) -> dict[str, Any]:
    """`invoke import.<kind> FIXTURE --out OUT` in the checkout, then `crossload validate OUT`."""
    argv = [sys.executable, "-m", "invoke", f"import.{kind}", str(FIXTURES / fixture), "--out", str(out)]
    made = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert made.returncode == 0, made.stdout + made.stderr
    assert made.stdout == f"wrote {out}\n"
    checked = subprocess.run([sys.executable, "-m", "crossload", "validate", str(out)], cwd=out.parent, env=env,
                             capture_output=True, text=True, timeout=60, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.startswith(f"{out}: ok (")
    return dict(yaml.safe_load(out.read_text(encoding="utf-8")))


def _run(scenario: Path, target: str, duration: str, env: dict[str, str]) -> dict[str, Any]:
    """Both tools, smoke profile, against the module's target; the run's summary.json."""
    proc = subprocess.run([sys.executable, "-m", "crossload", "run", "smoke", "--scenario", str(scenario),
                           "--target", target, "--duration", duration],
                          cwd=scenario.parent, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    assert "Traceback" not in proc.stdout + proc.stderr
    runs = list((scenario.parent / "results").iterdir())
    assert len(runs) == 1
    return dict(json.loads((runs[0] / "summary.json").read_text(encoding="utf-8")))


def _files_text(folder: Path) -> str:
    out = []
    for path in folder.rglob("*"):
        if path.is_file() and path.suffix != ".gz":
            out.append(path.read_bytes().decode("utf-8", "replace"))
    return "\n".join(out)


def test_an_imported_openapi_description_runs_green_with_both_tools(target: str, tmp_path: Path) -> None:
    env = _env(tmp_path, BEARER_AUTH_TOKEN=TOKEN)
    scenario = tmp_path / "openapi.yaml"
    doc = _import("openapi", "demo-openapi.yaml", scenario, env)
    names = [r["name"] for r in doc["requests"]]
    assert len(names) == 8
    before = _get(f"{target}/_crossload/received")[1]
    summary = _run(scenario, target, "4s", env)
    for tool in ("locust", "k6"):
        requests = summary["tools"][tool]["requests"]
        assert sorted(requests) == sorted(names), tool
        for name in names:
            assert requests[name]["count"] > 0, (tool, name)
            assert requests[name]["failures"] == 0, (tool, name, requests[name]["errors"])
    received = _get(f"{target}/_crossload/received")[1]
    sent = {tool: summary["tools"][tool]["overall"]["count"] for tool in ("locust", "k6")}
    assert sum(received.values()) - sum(before.values()) >= sum(sent.values())
    # createItem answered 201: the token came from the environment, and it is in no file of the run.
    assert TOKEN not in _files_text(tmp_path / "results")
    assert TOKEN not in scenario.read_text(encoding="utf-8")


def test_an_imported_browser_session_runs_green_with_correlation(target: str, tmp_path: Path) -> None:
    env = _env(tmp_path, HAR_PASSWORD=PASSWORD)
    scenario = tmp_path / "session.yaml"
    doc = _import("har", "demo-session.har", scenario, env)
    text = scenario.read_text(encoding="utf-8")
    assert str(RECORDED_ID) not in text  # the recorded id became {{ id }}
    read_back = "GET /api/items/{id}"
    steps = [s["name"] for group in doc["journeys"][0]["steps"] for s in group["steps"]]
    pages = [group["group"] for group in doc["journeys"][0]["steps"]]  # each page a group: a GROUP row each
    assert read_back in steps and len(pages) > 1
    assert _get(f"{target}/api/items/{RECORDED_ID}")[0] == 404
    summary = _run(scenario, target, "8s", env)
    for tool in ("locust", "k6"):
        tool_summary = summary["tools"][tool]
        assert tool_summary["overall"]["failures"] == 0, (tool, tool_summary["overall"]["errors"])
        requests = tool_summary["requests"]
        assert set(requests) <= set(steps) | set(pages)
        # Every user got through the whole journey at least once: the read-back step (after login and create)
        # answered 200 as often as it was sent.
        assert requests["POST /api/login"]["count"] >= 1, tool
        assert requests[read_back]["count"] >= 1, tool
        assert requests[read_back]["failures"] == 0, tool
        created = requests["POST /api/items"]["count"]
        assert created < RECORDED_ID - 1000, tool  # far from ever creating the recorded id
    # The recorded id still does not exist: only this run's ids can have been read back.
    assert _get(f"{target}/api/items/{RECORDED_ID}")[0] == 404
    assert PASSWORD not in _files_text(tmp_path / "results")
