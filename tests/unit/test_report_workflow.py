"""Every GitHub Actions workflow passes actionlint, and the nightly one does what docs/reports.md says."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from test_report_baseline import lognormal, run_id, write_run

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.y*ml"))
NIGHTLY = ROOT / ".github" / "workflows" / "nightly.yml"


def actionlint() -> str:
    found = shutil.which("actionlint") or str(Path(sys.executable).parent / "actionlint")
    if not Path(found).exists():
        pytest.fail("actionlint is not installed: pip install -e '.[dev]'")
    return found


def test_there_are_workflows() -> None:
    assert NIGHTLY in WORKFLOWS


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=[p.name for p in WORKFLOWS])
def test_actionlint(workflow: Path) -> None:
    proc = subprocess.run([actionlint(), "-no-color", str(workflow.relative_to(ROOT))], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def nightly() -> dict[Any, Any]:
    data: dict[Any, Any] = yaml.safe_load(NIGHTLY.read_text())
    return data


def steps() -> list[dict[str, Any]]:
    jobs = nightly()["jobs"]
    (job,) = jobs.values()
    result: list[dict[str, Any]] = job["steps"]
    return result


def run_lines() -> str:
    return "\n".join(str(s.get("run", "")) for s in steps())


def test_the_nightly_runs_on_a_schedule_and_by_hand_with_its_inputs() -> None:
    on = nightly()[True]  # YAML 1.1 reads the key `on` as true
    assert on["schedule"][0]["cron"]
    inputs = on["workflow_dispatch"]["inputs"]
    assert set(inputs) == {"profile", "tool", "target", "duration"}
    assert inputs["profile"]["options"] == ["smoke", "load", "stress", "spike", "endurance"]
    assert inputs["tool"]["options"] == ["both", "locust", "k6"]


def test_the_nightly_pushes_compares_publishes_and_fails_as_documented() -> None:
    job_env = next(iter(nightly()["jobs"].values()))["env"]
    influx = {k: v for k, v in job_env.items() if k.startswith("CROSSLOAD_INFLUX_")}
    assert influx and all(v == f"${{{{ secrets.{k} }}}}" for k, v in influx.items())
    documented = set(re.findall(r"CROSSLOAD_INFLUX_[A-Z_]+", (ROOT / ".env.example").read_text()))
    assert set(influx) <= documented
    uses = [s.get("uses", "") for s in steps()]
    assert any(u.startswith("actions/cache/restore@") for u in uses)
    assert any(u.startswith("actions/cache/save@") for u in uses)
    assert any(u.startswith("actions/upload-artifact@") for u in uses)
    lines = run_lines()
    assert 'invoke "$PROFILE"' in lines and "invoke report \"$RUN_ID\" --baseline last:" in lines
    assert "invoke results.prune --keep" in lines
    assert re.search(r'RUN_CODE.*exit 1', lines) and re.search(r'REPORT_CODE.*\n.*\n\s*exit 1', lines)
    # The Markdown summaries reach the job page through $GITHUB_STEP_SUMMARY, which crossload appends to.
    from crossload.report.outputs import STEP_SUMMARY

    assert STEP_SUMMARY == "GITHUB_STEP_SUMMARY"


def test_the_run_id_one_liner_names_the_newest_run(tmp_path: Path) -> None:
    (line,) = [x for x in run_lines().splitlines() if "stored_runs" in x]
    program = re.search(r"python -c '([^']+)'", line)
    assert program
    env = {**os.environ, "CROSSLOAD_RESULTS_DIR": str(tmp_path)}
    empty = subprocess.run([sys.executable, "-c", program.group(1)], env=env, capture_output=True, text=True,
                           check=True)
    assert empty.stdout == "\n"
    for i in (1, 2):
        write_run(tmp_path, run_id(i), {"k6": lognormal(i, 20, n=10)})
    newest = subprocess.run([sys.executable, "-c", program.group(1)], env=env, capture_output=True, text=True,
                            check=True)
    assert newest.stdout.strip() == run_id(2)
