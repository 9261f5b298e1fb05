"""k6: render the script, validate it with ``k6 inspect``, run ``k6 run`` with the JSON output."""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

import orjson

from crossload.causes import http_status
from crossload.collect import K6JsonParser, StreamParser, _epoch_second
from crossload.errors import InputError, ToolError
from crossload.profiles import StageSchedule
from crossload.render import RenderedFile, render_k6
from crossload.results import GROUP_METHOD, ToolStats
from crossload.scenario import WS_METHOD, Scenario, received_name, sent_name
from crossload.tools.base import LaunchSpec, ToolTotals, command, find_binary
from crossload.versions import K6_IMAGE, K6_VERSION

# k6 writes its JSON output uncompressed so that it can be read live (its gzip writer holds data back for
# seconds); crossload compresses it when the run is over (about ten times smaller).
RAW_OUTPUT = "raw.json"
RAW_STORED = "raw.json.gz"
SUMMARY_EXPORT = "k6-summary.json"
# k6's exit code when its own thresholds (options.thresholds in the rendered script) were breached: the
# run itself went fine, and crossload judges thresholds on its own numbers.
THRESHOLDS_BREACHED = 99


# WebSocket steps (k6/ws): k6's own handshake times and message counts, and the script's expects.
_WS_CONNECTING = '{"metric":"ws_connecting","type":"Point"'
_WS_SENT = '{"metric":"ws_msgs_sent","type":"Point"'
_WS_RECEIVED = '{"metric":"ws_msgs_received","type":"Point"'
_WS_EXPECT = '{"metric":"crossload_ws","type":"Point"'
_WS_CONNECT_FAILED = '{"metric":"crossload_ws_connect_failed","type":"Point"'
# What k6's summary export counts for them: with http_reqs, the tool's own total of crossload's rows.
WS_TOTALS = ("ws_connecting", "crossload_ws", "ws_msgs_sent", "ws_msgs_received")
UPGRADED = "1xx"  # a WebSocket's rows after its handshake carry the handshake's status class (101)
# Groups of journeys: one sample per group run to its end (the script's timedGroup), tags name and cause.
_GROUP = '{"metric":"crossload_group","type":"Point"'
GROUP_STATUS = "group"  # the status class of a group's row: it has no response of its own


class K6WsJsonParser(K6JsonParser):
    """``K6JsonParser`` plus the rows of WebSocket steps (docs/schema.md), method ``WS``:

    - ``ws_connecting`` (k6's handshake time, tagged with the step's name and the status): the step's row,
      failed with ``HTTP <code>`` when the status is not 101; a handshake without any status is reported by
      the script instead (``crossload_ws_connect_failed``, its cause tag from the connection error);
    - ``ws_msgs_sent`` / ``ws_msgs_received`` (k6's counts, one sample per message): ``<name> sent`` and
      ``<name> received``, 0 ms each;
    - ``crossload_ws`` (the script's expects): the expect's row, its round trip; failed when tagged with a cause;
    - ``crossload_group`` (the script's groups of journeys): the group's row (method ``GROUP``), its wall time;
      failed (cause ``step failed``) when one of its steps failed.
    """

    def feed(self, line: str) -> None:
        if line.startswith(_GROUP):
            d = orjson.loads(line)["data"]
            tags = d["tags"]
            cause = tags.get("cause")
            self._agg(_epoch_second(d["time"]), tags.get("name", ""), GROUP_METHOD).add(
                float(d["value"]), cause is not None, GROUP_STATUS, cause=cause)
            return
        if not line.startswith('{"metric":"ws_') and not line.startswith('{"metric":"crossload_ws'):
            super().feed(line)
            return
        if line.startswith(_WS_CONNECTING):
            d = orjson.loads(line)["data"]
            tags = d["tags"]
            status = tags.get("status", "")
            if not status or status == "0":
                return  # no response: the script's crossload_ws_connect_failed sample reports it
            failed = status != "101"
            self._agg(_epoch_second(d["time"]), tags.get("name", ""), WS_METHOD).add(
                float(d["value"]), failed, f"{status[0]}xx", cause=http_status(int(status)) if failed else None)
        elif line.startswith((_WS_SENT, _WS_RECEIVED)):
            d = orjson.loads(line)["data"]
            step = d["tags"].get("name", "")
            name = sent_name(step) if line.startswith(_WS_SENT) else received_name(step)
            agg = self._agg(_epoch_second(d["time"]), name, WS_METHOD)
            for _ in range(max(1, int(d["value"]))):
                agg.add(0.0, False, UPGRADED)
        elif line.startswith(_WS_EXPECT):
            d = orjson.loads(line)["data"]
            tags = d["tags"]
            cause = tags.get("cause")
            self._agg(_epoch_second(d["time"]), tags.get("name", ""), WS_METHOD).add(
                float(d["value"]), cause is not None, UPGRADED, cause=cause)
        elif line.startswith(_WS_CONNECT_FAILED):
            d = orjson.loads(line)["data"]
            tags = d["tags"]
            self._agg(_epoch_second(d["time"]), tags.get("name", ""), WS_METHOD).add(
                float(d["value"]), True, "error", cause=tags.get("cause") or "connection error")


def k6_binary() -> str:
    return find_binary("k6", "CROSSLOAD_K6_BIN", K6_VERSION)


class K6Tool:
    name = "k6"
    pinned_version = K6_VERSION
    image = K6_IMAGE

    def render(self, scenario: Scenario, schedule: StageSchedule, target: str) -> RenderedFile:
        return render_k6(scenario, schedule, target)

    def preflight(self, script: Path, env: dict[str, str], at_start: bool = False) -> None:
        # `k6 inspect` is cheap (a few hundredths of a second): kept at the start of a run too.
        proc = subprocess.run(
            [k6_binary(), "inspect", script.name], cwd=script.parent, env=env, capture_output=True, text=True,
            timeout=60, check=False,
        )
        if proc.returncode != 0:
            detail = (proc.stderr or proc.stdout).strip().splitlines()
            raise InputError(f"{script}: k6 inspect rejected the rendered script: {detail[-1] if detail else '?'}")

    def gated(self, specs: list[LaunchSpec]) -> tuple[list[LaunchSpec], Path] | None:
        return None  # k6 starts in a quarter of a second: nothing to overlap

    def load_failure(self, specs: Sequence[LaunchSpec]) -> str | None:
        return None  # the pre-flight has always run `k6 inspect`

    def launch(self, script: Path, out_dir: Path, scenario: Scenario | None = None) -> LaunchSpec:
        raw = out_dir / RAW_OUTPUT
        summary = out_dir / SUMMARY_EXPORT
        argv = (
            command("k6", "CROSSLOAD_K6_BIN", K6_VERSION), "run", "--quiet", "--no-usage-report", "--no-color",
            "--out", f"json={raw.name}", "--summary-export", summary.name, script.name,
        )
        # tls: {ca: ...}: k6 has no script option for a CA; Go's TLS reads one from SSL_CERT_FILE (the file is
        # copied next to the script, in the process's working directory), next to the system's authorities.
        env = {"SSL_CERT_FILE": Path(scenario.defaults.ca_file).name} if scenario and scenario.defaults.ca_file else {}
        return LaunchSpec(tool=self.name, argv=argv, env=env, cwd=out_dir, log=out_dir / "k6.log", raw_output=raw)

    def launch_group(self, script: Path, out_dir: Path, scenario: Scenario | None = None,
                     workers: int = 0) -> list[LaunchSpec]:
        """``workers`` k6 instances, the i-th running execution segment (i-1)/N:i/N of the sequence 0, 1/N, …,
        1: k6 splits every executor's VUs by segment, so together they run the profile exactly. Each writes
        its own JSON output and summary export (``raw-i.json``, ``k6-summary-i.json``)."""
        single = self.launch(script, out_dir, scenario)
        if workers <= 0:
            return [single]
        sequence = ",".join(f"{j}/{workers}" for j in range(workers + 1))
        specs = []
        for i in range(1, workers + 1):
            raw, summary = out_dir / f"raw-{i}.json", out_dir / f"k6-summary-{i}.json"
            argv = tuple(raw.name if a == RAW_OUTPUT else summary.name if a == SUMMARY_EXPORT
                         else f"json={raw.name}" if a == f"json={RAW_OUTPUT}" else a for a in single.argv[:-1])
            if raw.name not in " ".join(argv) or summary.name not in argv:
                raise ToolError(f"k6: cannot give instance {i} its own output in {' '.join(single.argv)}")
            argv += ("--execution-segment", f"{i - 1}/{workers}:{i}/{workers}",
                     "--execution-segment-sequence", sequence, single.argv[-1])
            specs.append(LaunchSpec(tool=self.name, argv=argv, env=dict(single.env), cwd=out_dir,
                                    log=out_dir / f"k6-worker-{i}.log", raw_output=raw, role="worker",
                                    name=f"k6-worker-{i}"))
        return specs

    def parser(self) -> StreamParser:
        return K6WsJsonParser()

    def failed(self, exit_code: int) -> bool:
        return exit_code not in (0, THRESHOLDS_BREACHED)

    def version(self) -> str:
        try:
            out = subprocess.run([k6_binary(), "version"], capture_output=True, text=True, timeout=30, check=False)
        except OSError as e:
            raise ToolError(f"k6 cannot be started: {e}") from None
        # "k6 v1.1.0 (commit/..., go1.24.4, linux/amd64)"
        parts = out.stdout.split()
        return parts[1].lstrip("v") if len(parts) > 1 else out.stdout.strip()

    def own_totals(self, out_dir: Path) -> ToolTotals | None:
        """k6's summary export; with several instances (``k6-summary-i.json``) their sum."""
        paths = sorted(out_dir.glob("k6-summary-*.json")) or [out_dir / SUMMARY_EXPORT]
        requests, received, dropped, seen = 0, None, None, False
        for path in paths:
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            seen = True
            metrics = data.get("metrics", {})
            requests += int(metrics.get("http_reqs", {}).get("count", 0))
            requests += sum(int(metrics.get(m, {}).get("count", 0)) for m in WS_TOTALS)
            count = metrics.get("data_received", {}).get("count")
            if count is not None:
                received = (received or 0) + int(count)
            count = metrics.get("dropped_iterations", {}).get("count")
            if count is not None:
                dropped = (dropped or 0) + int(count)
        return ToolTotals(requests=requests, bytes_received=received, dropped_iterations=dropped) if seen else None

    def finish(self, out_dir: Path, stats: ToolStats, totals: ToolTotals | None) -> None:
        # k6 counts bytes per iteration, without the request name: tool level only (docs/schema.md).
        if totals is not None and totals.bytes_received is not None and not stats.overall.bytes:
            stats.overall.bytes = totals.bytes_received
        for raw in [out_dir / RAW_OUTPUT, *sorted(out_dir.glob("raw-*.json"))]:
            compress(raw, raw.with_name(raw.name + ".gz"))


def compress(src: Path, dst: Path) -> None:
    """Replace ``src`` by its gzip copy ``dst`` (fast level: it runs while the user waits)."""
    if not src.exists():
        return
    tmp = dst.with_suffix(dst.suffix + ".tmp")
    with src.open("rb") as fin, gzip.open(tmp, "wb", compresslevel=1) as fout:
        shutil.copyfileobj(fin, fout, 1 << 20)
    tmp.replace(dst)
    src.unlink()
