"""What a run prints while it goes on: the progress line, news about the target, the final line per tool.

- ``Progress``: one status line about once a second (in place on a terminal, every 5 s in a log): elapsed
  and total time, users, requests and p95 of the last complete second, errors so far with their top causes.
  ``final`` prints the tool's closing line from the same summary the table shows, so the two always agree.
- ``TargetWatch``: looks at every completed second as it is collected and says at once when the target
  stops answering (every request of a second failed without a response: refused, reset, timeouts), answers
  only errors (every request failed with an HTTP status or a check), or recovers.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TextIO

from crossload.causes import is_transport
from crossload.results import IntervalAggregate, ToolStats
from crossload.summary import RequestSummary


def _clock(seconds: float) -> str:
    s = max(0, int(seconds))
    return f"{s // 60:02d}:{s % 60:02d}"


def top_causes(errors: dict[str, int], limit: int = 2) -> str:
    """``HTTP 500 \u00d712, timeout \u00d73`` (largest first), ``+N more`` when there are more."""
    ranked = sorted(errors.items(), key=lambda kv: (-kv[1], kv[0]))
    shown = ", ".join(f"{cause} ×{n}" for cause, n in ranked[:limit])
    if len(ranked) > limit:
        shown += f", +{len(ranked) - limit} more"
    return shown


def error_text(failures: int, count: int, errors: dict[str, int]) -> str:
    pct = 100.0 * failures / count if count else 0.0
    text = f"errors {failures} ({pct:.2f}%"
    if failures and errors:
        text += f": {top_causes(errors)}"
    return text + ")"


class Progress:
    """One status line per second: elapsed/total, users, RPS, p95 and errors of the last second."""

    def __init__(self, out: TextIO, quiet: bool, tool: str, total_s: float) -> None:
        self.out = out
        self.quiet = quiet
        self.tool = tool
        self.total_s = total_s
        self.tty = out.isatty()
        self.last_print = 0.0
        self.started = time.monotonic()
        self.open_line = False

    def _write(self, line: str, in_place: bool) -> None:
        if in_place:
            self.out.write("\r" + line + "\x1b[K")
            self.open_line = True
        else:
            if self.open_line:
                self.out.write("\n")
                self.open_line = False
            self.out.write(line + "\n")
        self.out.flush()

    def update(self, users: int | None, last: IntervalAggregate | None, stats: ToolStats) -> None:
        if self.quiet:
            return
        now = time.monotonic()
        if now - self.last_print < (0.5 if self.tty else 5.0):
            return
        self.last_print = now
        rps = f"{last.count:>6d}/s" if last else "     -/s"
        p95 = f"{last.hist.percentile_ms(95):7.1f} ms" if last and last.count else "      - ms"
        o = stats.overall
        line = (f"[{self.tool:>6}] {_clock(now - self.started)}/{_clock(self.total_s)}  "
                f"users {users if users is not None else '-':>4}  rps {rps}  p95 {p95}  "
                f"{error_text(o.failures, o.count, o.errors)}  requests {o.count}")
        self._write(line, self.tty)

    def say(self, text: str) -> None:
        """A line of news that stays on screen (the progress line continues below it)."""
        if not self.quiet:
            self._write(f"[{self.tool:>6}] {text}", False)

    def final(self, summary: RequestSummary, duration_s: float, note: str = "") -> None:
        """The closing line: the same numbers as the table's ALL row for this tool."""
        if self.quiet:
            return
        p95 = f"{summary.p95_ms:.1f} ms" if summary.p95_ms is not None else "-"
        line = (f"[{self.tool:>6}] done {_clock(duration_s)}  requests {summary.count}  "
                f"rps {summary.rps:.1f}/s  p95 {p95}  "
                f"{error_text(summary.failures, summary.count, summary.errors)}{note}")
        self._write(line, False)


class TargetWatch:
    """Turns completed seconds into news when the target's state changes (down, errors only, back)."""

    OK, DOWN, ERRORS = "ok", "down", "errors"

    def __init__(self, say: Callable[[str], None], started: float) -> None:
        self.say = say
        self.started = started
        self.state = self.OK

    def observe(self, second: IntervalAggregate) -> None:
        """``second``: every request name of one completed second, merged."""
        if second.count <= 0:
            return
        if second.failures >= second.count:
            transport = {c: n for c, n in second.errors.items() if is_transport(c)}
            state = self.DOWN if sum(transport.values()) * 2 >= second.failures else self.ERRORS
        else:
            state = self.OK
        if state == self.state:
            return
        offset = _clock(second.t - self.started)
        causes = top_causes(second.errors)
        if state == self.DOWN:
            text = f"{offset} target not answering: every request failed ({causes})"
        elif state == self.ERRORS:
            text = f"{offset} target answers only errors: every request failed ({causes})"
        else:
            text = f"{offset} target answers again ({second.count - second.failures} of {second.count} requests ok)"
        self.state = state
        self.say(text)

