"""Working with stored runs: list, show, push to InfluxDB again, prune.

A run is named by its id, by a unique prefix of it, or by ``latest``. Everything here reads the local store
only (results/<run-id>/), which is the source of truth; ``push`` re-fills InfluxDB from it.

``summary.json`` is read through the typed model (``crossload.summary.RunSummary``), so ``show`` prints
exactly the table a run prints at its end. Files written before a field existed still load: the model's
defaults fill what they lack.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from pydantic import ValidationError

from crossload.errors import EXIT_PASS, EXIT_RUN_FAILED, InputError
from crossload.paths import results_root
from crossload.report.table import side_by_side_table
from crossload.results import is_run_id
from crossload.settings import load_environment
from crossload.summary import RunSummary
from crossload.units import parse_duration_ms

LATEST = ("latest", "last")


@dataclass(frozen=True)
class StoredRun:
    run_id: str
    path: Path
    manifest: dict[str, Any]
    summary: RunSummary | None
    problem: str = ""  # why summary.json could not be read ("" when it was, or does not exist yet)

    @property
    def status(self) -> str:
        return str(self.manifest.get("status") or (self.summary.status if self.summary else "?"))


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def read_summary(data: dict[str, Any], run_id: str, manifest: dict[str, Any]) -> RunSummary:
    """``summary.json`` as the typed model; what early files lack is taken from the run folder and manifest."""
    data = dict(data)
    data.setdefault("run_id", run_id)
    data.setdefault("scenario", str((manifest.get("scenario") or {}).get("name", "?")))
    data.setdefault("profile", str((manifest.get("profile") or {}).get("profile", "?")))
    verdicts = []
    for v in data.get("thresholds") or []:
        if isinstance(v, dict):
            v = {"metric": "", "op": "", "limit": 0.0, "unit": "", "location": "", **v}
        verdicts.append(v)
    data["thresholds"] = verdicts
    return RunSummary.model_validate(data)


def _load(path: Path) -> StoredRun:
    manifest = _read_json(path / "manifest.json") or {}
    raw = _read_json(path / "summary.json")
    summary: RunSummary | None = None
    problem = ""
    if raw is None and (path / "summary.json").exists():
        problem = "summary.json is not a JSON object"
    elif raw is not None:
        try:
            summary = read_summary(raw, path.name, manifest)
        except ValidationError as e:
            problem = f"summary.json does not match the summary schema ({e.error_count()} problems)"
    return StoredRun(run_id=path.name, path=path, manifest=manifest, summary=summary, problem=problem)


def stored_runs(root: Path | None = None) -> list[StoredRun]:
    """Every run under the results folder, oldest first (run ids sort by time)."""
    base = root or results_root()
    if not base.is_dir():
        return []
    return [_load(p) for p in sorted(base.iterdir()) if p.is_dir() and is_run_id(p.name)]


def find_run(ref: str | None, root: Path | None = None) -> StoredRun:
    """The run ``ref`` names: ``latest`` (also when ``ref`` is None or empty), an id, or a unique prefix."""
    runs = stored_runs(root)
    base = root or results_root()
    if not runs:
        raise InputError(f"no runs under {base}")
    ref = (ref or "").strip() or "latest"
    if ref in LATEST:
        return runs[-1]
    matches = [r for r in runs if r.run_id.startswith(ref)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise InputError(f"no run {ref!r} under {base} (see `crossload results list`)")
    raise InputError(f"{ref!r} matches {len(matches)} runs: give more of the id")


def list_runs(out: TextIO, root: Path | None = None) -> int:
    runs = stored_runs(root)
    if not runs:
        out.write(f"no runs under {root or results_root()}\n")
        return EXIT_PASS
    out.write(f"{'run id':<32} {'status':<18} {'scenario':<20} {'tools':<12} requests\n")
    for r in runs:
        tools = r.summary.tools if r.summary else {}
        counts = ", ".join(f"{t} {s.overall.count}" for t, s in tools.items())
        scenario = str((r.manifest.get("scenario") or {}).get("name", "?"))[:20]
        out.write(f"{r.run_id:<32} {r.status:<18} {scenario:<20} {','.join(tools) or '-':<12} {counts or '-'}\n")
    return EXIT_PASS


def show_run(ref: str | None, out: TextIO, root: Path | None = None, width: int | None = None) -> int:
    """Manifest, the end-of-run table (``width`` columns; default: the terminal's) and every verdict."""
    r = find_run(ref, root)
    m = r.manifest
    scenario = m.get("scenario") or {}
    profile = m.get("profile") or {}
    out.write(f"run {r.run_id}: {r.status}\n")
    out.write(f"  scenario  {scenario.get('name')} ({scenario.get('file')})\n")
    out.write(f"  profile   {profile.get('profile')}: {profile.get('total_s')} s, peak {profile.get('peak_users')} "
              f"users\n")
    out.write(f"  target    {(m.get('target') or {}).get('url')}\n")
    out.write(f"  tools     {', '.join(f'{k} {v}' for k, v in (m.get('tool_versions') or {}).items())}\n")
    out.write(f"  time      {m.get('started_at')} .. {m.get('ended_at')}\n")
    if r.problem:
        out.write(f"\n{r.problem}\n")
    elif r.summary is None:
        out.write("\nno summary.json yet (the run is still going, or ended before writing one)\n")
    elif r.summary.tools:
        columns = width or shutil.get_terminal_size((120, 24)).columns
        out.write("\n" + side_by_side_table(r.summary.tools, width=columns) + "\n")
    if r.summary and r.summary.thresholds:
        out.write("\n")
    for t in r.summary.thresholds if r.summary else []:
        mark = "pass" if t.passed else "FAIL"
        scope = t.request or "all requests"
        kind = " (guard)" if t.guard else ""
        measured = "nothing measured" if t.measured is None else f"measured {t.measured:g} {t.unit}".rstrip()
        out.write(f"  {mark}  {t.tool}: {t.threshold}{kind} ({scope}): {measured}\n")
    out.write(f"\n{r.path}\n")
    return EXIT_PASS


def push(ref: str | None, out: TextIO, root: Path | None = None) -> int:
    """Send whatever InfluxDB does not hold yet of a run; pushing again changes nothing."""
    from crossload.sinks import push_run, sink_from_env

    r = find_run(ref, root)
    sink = sink_from_env(load_environment())
    if sink is None:
        raise InputError("CROSSLOAD_INFLUX_URL is not set: nothing to push to (see .env.example)")
    sink.check()
    try:
        report = push_run(r.path, sink)
    finally:
        sink.close()
    out.write(f"{r.run_id}: {report.points} points written to {sink.description}, {report.pending} store lines "
              f"pending\n")
    if report.error or report.pending:
        out.write(f"not everything was sent: {report.error or 'see above'}; run this again later\n")
        return EXIT_RUN_FAILED
    return EXIT_PASS


def prune(out: TextIO, keep: int | None = None, older_than: str | None = None, dry_run: bool = False,
          root: Path | None = None) -> int:
    """Delete runs beyond the newest ``keep`` and/or older than ``older_than`` (e.g. 7d, 12h)."""
    if keep is None and older_than is None:
        raise InputError("results prune needs --keep N and/or --older-than DURATION (e.g. 7d)")
    if keep is not None and keep < 0:
        raise InputError(f"--keep must be 0 or more, got {keep}")
    runs = stored_runs(root)
    doomed: set[str] = set()
    if keep is not None and len(runs) > keep:
        doomed.update(r.run_id for r in runs[: len(runs) - keep])
    if older_than is not None:
        try:
            age_s = parse_duration_ms(older_than) / 1000.0
        except ValueError as e:
            raise InputError(f"--older-than: {e}") from None
        cutoff = time.time() - age_s
        for r in runs:
            if r.path.stat().st_mtime < cutoff:
                doomed.add(r.run_id)
    for r in runs:
        if r.run_id in doomed:
            if r.status == "running" and not dry_run:
                out.write(f"kept {r.run_id}: still running\n")
                continue
            out.write(f"{'would delete' if dry_run else 'deleted'} {r.run_id}\n")
            if not dry_run:
                shutil.rmtree(r.path)
    out.write(f"{len(doomed)} of {len(runs)} runs {'selected' if dry_run else 'pruned'}\n")
    return EXIT_PASS
