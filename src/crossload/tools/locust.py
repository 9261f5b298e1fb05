"""Locust: render the locustfile, validate it (compile + ``locust --list``), run ``locust --headless``.

At the start of a local run the ``--list`` pre-flight (a second start of Locust, about a second) is left out:
the run's own Locust start loads the file before it sends anything, and a file it cannot load ends that
process with Locust's own signs (``load_failure``), which the run treats as the pre-flight's failure."""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.metadata
import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from crossload.collect import LocustRecordParser, StreamParser
from crossload.errors import InputError, ToolError
from crossload.profiles import StageSchedule
from crossload.render import RenderedFile, render_locust
from crossload.results import GROUP_METHOD, ToolStats
from crossload.scenario import Scenario
from crossload.tools import locust_gate
from crossload.tools.base import LaunchSpec, ToolTotals, command, drain_s, find_binary, free_port
from crossload.versions import LOCUST_IMAGE, LOCUST_VERSION

RECORD = "intervals.jsonl"
CSV_PREFIX = "locust"
# Locust's final statistics (--json-file): its own request counts, written at the very end of the run. The
# CSV files are written periodically and can lag the end by a few thousand requests at high rates.
FINAL_STATS = "locust-final"


def locust_binary() -> str:
    return find_binary("locust", "CROSSLOAD_LOCUST_BIN", LOCUST_VERSION)


class LocustTool:
    name = "locust"
    pinned_version = LOCUST_VERSION
    image = LOCUST_IMAGE

    def render(self, scenario: Scenario, schedule: StageSchedule, target: str) -> RenderedFile:
        return render_locust(scenario, schedule, target)

    def preflight(self, script: Path, env: dict[str, str], at_start: bool = False) -> None:
        try:
            compile(script.read_text(encoding="utf-8"), str(script), "exec")
        except SyntaxError as e:
            raise InputError(f"{script}:{e.lineno}: the rendered locustfile does not compile: {e.msg}") from None
        if at_start:
            return  # the run's own start loads the file before any request: load_failure
        clean = {k: v for k, v in env.items() if k != "CROSSLOAD_LOCUST_OUT"}
        proc = subprocess.run(
            [locust_binary(), "-f", script.name, "--list"], cwd=script.parent, env=clean, capture_output=True,
            text=True, timeout=120, check=False,
        )
        if proc.returncode != 0 or "ScenarioUser" not in proc.stdout:
            detail = (proc.stderr or proc.stdout).strip().splitlines()
            raise InputError(f"{script}: Locust could not load the rendered file: {detail[-1] if detail else '?'}")

    def load_failure(self, specs: Sequence[LaunchSpec]) -> str | None:
        for spec in specs:
            cause = _load_failure_in(spec.log)
            if cause is not None:
                return f"Locust could not load the rendered file: {cause}"
        return None

    def launch(self, script: Path, out_dir: Path, scenario: Scenario | None = None) -> LaunchSpec:
        record = out_dir / RECORD
        # --stop-timeout: users finish the request they are making when the load stops (ramp-down or end),
        # so every request that reached the server is counted (the k6 script's gracefulStop matches it).
        argv = (
            command("locust", "CROSSLOAD_LOCUST_BIN", LOCUST_VERSION), "-f", script.name, "--headless",
            "--only-summary", "--loglevel", "WARNING",
            "--exit-code-on-error", "0", "--stop-timeout", str(drain_s(scenario)), "--csv", CSV_PREFIX,
            "--json-file", FINAL_STATS,
        )
        return LaunchSpec(tool=self.name, argv=argv, env={"CROSSLOAD_LOCUST_OUT": str(record.resolve())},
                          cwd=out_dir, log=out_dir / "locust.log", raw_output=record)

    def launch_group(self, script: Path, out_dir: Path, scenario: Scenario | None = None,
                     workers: int = 0) -> list[LaunchSpec]:
        """Locust's distributed mode: a headless master (the load shape runs there and hands users to the
        workers; its --json-file holds the totals of all), then ``workers`` workers connecting to it on
        127.0.0.1 (host networking in containers too), each recording its own requests and users."""
        if workers <= 0:
            return [self.launch(script, out_dir, scenario)]
        binary = command("locust", "CROSSLOAD_LOCUST_BIN", LOCUST_VERSION)
        port = str(free_port())
        master = (
            binary, "-f", script.name, "--master", "--headless", "--expect-workers", str(workers),
            "--expect-workers-max-wait", "60", "--master-bind-host", "127.0.0.1", "--master-bind-port", port,
            "--only-summary", "--loglevel", "WARNING", "--exit-code-on-error", "0",
            "--stop-timeout", str(drain_s(scenario)), "--csv", CSV_PREFIX, "--json-file", FINAL_STATS,
        )
        # The master records nothing (no request events reach it): an empty CROSSLOAD_LOCUST_OUT.
        specs = [LaunchSpec(tool=self.name, argv=master, env={"CROSSLOAD_LOCUST_OUT": ""}, cwd=out_dir,
                            log=out_dir / "locust.log", raw_output=out_dir / f"{FINAL_STATS}.json", role="master",
                            name="locust-master")]
        for i in range(1, workers + 1):
            record = out_dir / f"intervals-{i}.jsonl"
            argv = (binary, "-f", script.name, "--worker", "--master-host", "127.0.0.1", "--master-port", port,
                    "--loglevel", "WARNING")
            specs.append(LaunchSpec(tool=self.name, argv=argv, env={"CROSSLOAD_LOCUST_OUT": str(record.resolve())},
                                    cwd=out_dir, log=out_dir / f"locust-worker-{i}.log", raw_output=record,
                                    role="worker", name=f"locust-worker-{i}"))
        return specs

    def gated(self, specs: list[LaunchSpec]) -> tuple[list[LaunchSpec], Path] | None:
        """The single process of a run, loading its file and then waiting, before it starts any user, until
        the returned file exists (``crossload.tools.locust_gate``, copied next to the locustfile); None for a
        distributed run (its master and workers start after the pre-flights, as they are)."""
        if len(specs) != 1 or "-f" not in specs[0].argv:
            return None
        (spec,) = specs
        module = f"{locust_gate.MODULE}.py"
        (spec.cwd / module).write_text(Path(locust_gate.__file__).read_text(encoding="utf-8"), encoding="utf-8")
        argv = list(spec.argv)
        at = argv.index("-f") + 1
        argv[at] = f"{argv[at]},{module}"
        return [dataclasses.replace(spec, argv=tuple(argv))], spec.cwd / locust_gate.GATE_FILE

    def parser(self) -> StreamParser:
        return LocustRecordParser()

    def failed(self, exit_code: int) -> bool:
        return exit_code != 0

    def version(self) -> str:
        binary = locust_binary()
        if Path(binary).resolve().parent == Path(sys.executable).resolve().parent:
            # The Locust of this Python environment: its metadata answers without a second of start-up.
            with contextlib.suppress(importlib.metadata.PackageNotFoundError):
                return importlib.metadata.version("locust")
        try:
            out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=60, check=False)
        except OSError as e:
            raise ToolError(f"locust cannot be started: {e}") from None
        # "locust 2.47.0 from /path (Python 3.11.7)"
        parts = out.stdout.split()
        return parts[1] if len(parts) > 1 else out.stdout.strip()

    def own_totals(self, out_dir: Path) -> ToolTotals | None:
        try:
            entries = json.loads((out_dir / f"{FINAL_STATS}.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        per_name: dict[str, int] = {}
        for entry in entries if isinstance(entries, list) else []:
            if entry.get("method") == GROUP_METHOD:
                continue  # a group's wall time, not a request (left out of the overall numbers too)
            name = str(entry.get("name"))
            per_name[name] = per_name.get(name, 0) + int(entry.get("num_requests", 0))
        return ToolTotals(requests=sum(per_name.values()), per_name=per_name)

    def finish(self, out_dir: Path, stats: ToolStats, totals: ToolTotals | None) -> None:
        return None


# Locust's own signs that it could not load a locustfile, both before it creates its runner (nothing sent): an
# exception while importing the file (its traceback passes through Locust's ``load_locustfile``), or a file
# without a User class.
_LOADING_FRAME = "in load_locustfile"
_NO_USER_CLASS = "No User class found!"


def _load_failure_in(log: Path) -> str | None:
    """The cause (the exception's last line, or Locust's own message) when ``log`` shows Locust failing to
    load its locustfile; None otherwise."""
    try:
        text = log.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    if _NO_USER_CLASS in text:
        return _NO_USER_CLASS
    start = text.rfind("Traceback (most recent call last):")
    if start < 0 or _LOADING_FRAME not in text[start:]:
        return None
    lines = [line.strip() for line in text[start:].splitlines() if line.strip()]
    return lines[-1] if len(lines) > 1 else None
