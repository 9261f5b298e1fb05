"""Working with stored runs: list, show, push to InfluxDB again, prune.

A run is named by its id, by a unique prefix of it, or by ``latest``. Everything here reads the local store
only (results/<run-id>/), which is the source of truth; ``push`` re-fills InfluxDB from it.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from crossload.errors import EXIT_PASS, EXIT_RUN_FAILED, InputError
from crossload.paths import results_root
from crossload.report.table import side_by_side_table
from crossload.results import is_run_id
from crossload.settings import load_environment
from crossload.units import parse_duration_ms


@dataclass(frozen=True)
class StoredRun:
    run_id: str
    path: Path
    manifest: dict[str, Any]
    summary: dict[str, Any]

    @property
    def status(self) -> str:
        return str(self.manifest.get("status", "?"))


def _load(path: Path) -> StoredRun:
    def read(name: str) -> dict[str, Any]:
        try:
            data = json.loads((path / name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    return StoredRun(run_id=path.name, path=path, manifest=read("manifest.json"), summary=read("summary.json"))


def stored_runs(root: Path | None = None) -> list[StoredRun]:
    """Every run under the results folder, oldest first (run ids sort by time)."""
    base = root or results_root()
    if not base.is_dir():
        return []
    return [_load(p) for p in sorted(base.iterdir()) if p.is_dir() and is_run_id(p.name)]


def find_run(ref: str, root: Path | None = None) -> StoredRun:
    runs = stored_runs(root)
    base = root or results_root()
    if not runs:
        raise InputError(f"no runs under {base}")
    if ref in ("latest", "last"):
        return runs[-1]
    matches = [r for r in runs if r.run_id.startswith(ref)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise InputError(f"no run {ref!r} under {base} (see `invoke results.list`)")
    raise InputError(f"{ref!r} matches {len(matches)} runs: give more of the id")


def list_runs(out: TextIO, root: Path | None = None) -> int:
    runs = stored_runs(root)
    if not runs:
        out.write(f"no runs under {root or results_root()}\n")
        return EXIT_PASS
    out.write(f"{'run id':<32} {'status':<18} {'scenario':<20} {'tools':<12} requests\n")
    for r in runs:
        tools = r.summary.get("tools", {})
        counts = ", ".join(f"{t} {d.get('overall', {}).get('count', 0)}" for t, d in tools.items())
        scenario = str(r.manifest.get("scenario", {}).get("name", "?"))[:20]
        out.write(f"{r.run_id:<32} {r.status:<18} {scenario:<20} {','.join(tools) or '-':<12} {counts or '-'}\n")
    return EXIT_PASS


def show_run(ref: str, out: TextIO, root: Path | None = None) -> int:
    r = find_run(ref, root)
    m = r.manifest
    profile = m.get("profile", {})
    out.write(f"run {r.run_id}: {r.status}\n")
    out.write(f"  scenario  {m.get('scenario', {}).get('name')} ({m.get('scenario', {}).get('file')})\n")
    out.write(f"  profile   {profile.get('profile')}: {profile.get('total_s')} s, peak {profile.get('peak_users')} "
              f"users\n")
    out.write(f"  target    {(m.get('target') or {}).get('url')}\n")
    out.write(f"  tools     {', '.join(f'{k} {v}' for k, v in (m.get('tool_versions') or {}).items())}\n")
    out.write(f"  time      {m.get('started_at')} .. {m.get('ended_at')}\n")
    tools = r.summary.get("tools") or {}
    if tools:
        out.write("\n" + side_by_side_table(tools) + "\n")
    for t in r.summary.get("thresholds", []):
        mark = "pass" if t.get("passed") else "FAIL"
        scope = t.get("request") or "all requests"
        out.write(f"  {mark}  {t.get('tool')}: {t.get('threshold')} ({scope}): measured {t.get('measured')} "
                  f"{t.get('unit', '')}\n")
    out.write(f"\n{r.path}\n")
    return EXIT_PASS


def push(ref: str, out: TextIO, root: Path | None = None) -> int:
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
        raise InputError("results.prune needs --keep N and/or --older-than DURATION (e.g. 7d)")
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
