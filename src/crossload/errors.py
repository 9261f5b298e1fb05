"""The one exception tree of crossload, and the exit code each branch maps to.

    CrossloadError                 exit 3 unless a subclass says otherwise
    ├── InputError                 exit 2: bad scenario, flag or configuration; raised before any load
    │   └── ScenarioError          names the file, the line and the field path
    └── ToolError                  exit 3: a load tool (or its container) could not run or crashed

A run the user stops (Ctrl-C) is no exception either: the runner stops the tool, the data collected so far is
kept, and the run ends with status ``interrupted`` and exit code 3.

Exit code 1 (thresholds breached) is a verdict, not an exception: see ``crossload.thresholds``.
"""

from __future__ import annotations

import signal
import threading
from dataclasses import dataclass

EXIT_PASS = 0
EXIT_THRESHOLDS = 1
EXIT_INPUT = 2
EXIT_RUN_FAILED = 3


class CrossloadError(Exception):
    """Root of every error crossload raises on purpose; ``str()`` is the one-line message for users."""

    exit_code = EXIT_RUN_FAILED


class InputError(CrossloadError):
    """The user's input (scenario, flags, environment) is wrong; nothing has been sent yet."""

    exit_code = EXIT_INPUT


@dataclass(frozen=True)
class Location:
    """Where in which file a value stands (1-based line and column; 0 when unknown)."""

    file: str
    line: int = 0
    column: int = 0

    def __str__(self) -> str:
        if self.line:
            return f"{self.file}:{self.line}"
        return self.file


class ScenarioError(InputError):
    """A scenario file is invalid; the message reads ``file:line: field: what was expected``."""

    def __init__(self, location: Location, field: str, message: str) -> None:
        self.location = location
        self.field = field
        self.message = message
        where = str(location)
        super().__init__(f"{where}: {field}: {message}" if field else f"{where}: {message}")


class ToolError(CrossloadError):
    """A load tool, the demo target or a container failed to start or to finish."""

    exit_code = EXIT_RUN_FAILED


def honour_ctrl_c() -> None:
    """Make Ctrl-C (SIGINT) stop a run however crossload was started.

    A non-interactive shell starts background jobs with SIGINT ignored, and Python then never raises
    KeyboardInterrupt: a SIGINT sent to the group would stop the demo target and the load tools (k6 and the
    demo target always listen for it) while crossload went on measuring a dead target. So crossload listens
    too, as they do.
    """
    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
