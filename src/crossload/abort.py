"""Early stop: thresholds marked ``abort: true`` are judged while a tool runs, and a breach stops the run.

crossload judges them itself, identically for both tools, on the per-second aggregates the collector has just
written to ``<tool>/aggregates.jsonl``:

- over the last ``window`` seconds (the criterion must fail over a whole window: e.g. an error rate above
  10 % for 30 s), or over everything since the tool started when no window is given (what k6's own
  ``abortOnFail`` does);
- never during the first ``grace`` seconds of the tool's load (k6's ``delayAbortEval``), nor before a window's
  worth of seconds has been collected, nor on a scope that saw no request (nothing measured is no evidence).

The rendered k6 script also carries ``abortOnFail``/``delayAbortEval`` for the criteria without a window, so a
plain ``k6 run`` stops the same way; the windowed ones are crossload's alone (k6 has no windows).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from crossload.results import IntervalAggregate, ToolStats, item_from_json
from crossload.runners.base import StopRun
from crossload.scenario import Threshold
from crossload.units import format_duration_ms


@dataclass(frozen=True)
class Abort:
    """Which criterion stopped the run, for which tool, when (seconds after the tool started) and on what."""

    threshold: Threshold
    tool: str
    at_s: float
    measured: float

    def describe(self) -> str:
        return f"stopped early: {aborted_text(self.to_json())}"

    def to_json(self) -> dict[str, object]:
        th = self.threshold
        from crossload.thresholds import unit_of

        return {"threshold": th.text, "request": th.request, "tool": self.tool, "at_s": round(self.at_s, 1),
                "measured": self.measured, "unit": unit_of(th.metric), "window_s": th.window_s, "grace_s": th.grace_s,
                "location": str(th.location)}


class AbortWatch:
    """One tool's abort criteria, judged on the store lines as they are written (``check`` on every tick)."""

    def __init__(self, tool: str, thresholds: tuple[Threshold, ...], store: Path, started: float) -> None:
        from crossload.thresholds import metric_value

        self._value = metric_value
        self.tool = tool
        self.criteria = tuple(t for t in thresholds if t.abort)
        self.store = store
        self.started = started
        self._offset = 0
        self._rest = b""
        self._seconds: dict[int, list[IntervalAggregate]] = {}
        self._total = ToolStats(tool=tool)
        self._keep_s = max((int(t.window_s) + 1 for t in self.criteria if t.window_s), default=0)

    def _read(self) -> None:
        try:
            with self.store.open("rb") as f:
                f.seek(self._offset)
                data = f.read()
        except OSError:
            return
        self._offset += len(data)
        data = self._rest + data
        lines = data.split(b"\n")
        self._rest = lines.pop()  # an unfinished last line waits for the next read
        for line in lines:
            if not line:
                continue
            with contextlib.suppress(orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                item = item_from_json(self.tool, orjson.loads(line))
                if isinstance(item, IntervalAggregate):
                    self._total.add(item)
                    if self._keep_s:
                        self._seconds.setdefault(item.t, []).append(item)
        if self._seconds:
            newest = max(self._seconds)
            for t in [t for t in self._seconds if t <= newest - self._keep_s]:
                del self._seconds[t]

    def check(self, now: float) -> Abort | None:
        """The first criterion breached now, if any."""
        if not self.criteria:
            return None
        self._read()
        elapsed = now - self.started
        for th in self.criteria:
            if elapsed < th.grace_s:
                continue
            if th.window_s:
                if not self._seconds:
                    continue
                newest = max(self._seconds)
                first = self._total.overall.first_t
                window = int(th.window_s)
                if first is None or newest - first + 1 < window:
                    continue  # not a whole window of data yet
                stats = ToolStats(tool=self.tool, load_duration_s=float(window))
                for t in range(newest - window + 1, newest + 1):
                    for item in self._seconds.get(t, ()):
                        stats.add(item)
            else:
                stats = self._total
            measured = self._value(th, stats.summary())
            if measured is not None and not th.holds(measured):
                return Abort(threshold=th, tool=self.tool, at_s=elapsed, measured=measured)
        return None


def aborted_text(data: dict[str, Any]) -> str:
    """``summary.json``'s ``aborted`` for people."""
    window = data.get("window_s")
    over = f"over the last {format_duration_ms(float(window) * 1000)}" if window else "since the start"
    scope = f"request {data['request']!r}" if data.get("request") else "all requests"
    return (f"{data.get('tool')}: {data.get('threshold')} ({scope}) not met after "
            f"{format_duration_ms(round(float(data.get('at_s') or 0)) * 1000)}: measured "
            f"{float(data.get('measured') or 0):.4g} {data.get('unit', '')} {over} [{data.get('location')}]")


__all__ = ["Abort", "AbortWatch", "StopRun", "aborted_text"]
