"""Run a load tool as a local process, and stop it cleanly.

The tool runs in its own session (process group) so that the terminal's Ctrl-C reaches crossload only;
crossload then asks the tool to stop the way the tool expects (SIGINT: k6 and Locust both finish their
reports on it), waits, escalates to SIGTERM and SIGKILL, and always reaps the whole group, so no process is
left behind whatever happens.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence

from crossload.errors import ToolError
from crossload.runners.base import RunOutcome, SigtermAsInterrupt, StopRun, combined_exit, nonzero
from crossload.tools.base import LaunchSpec


class LocalProcess:
    """A started tool process; ``poll()`` while collecting, ``stop()`` on interrupt, always ``close()``."""

    def __init__(self, spec: LaunchSpec, base_env: dict[str, str]) -> None:
        self.spec = spec
        env = dict(base_env)
        env.update(spec.env)
        spec.log.parent.mkdir(parents=True, exist_ok=True)
        self._log = spec.log.open("ab")
        try:
            self.proc = subprocess.Popen(
                list(spec.argv), cwd=spec.cwd, env=env, stdin=subprocess.DEVNULL, stdout=self._log,
                stderr=subprocess.STDOUT, start_new_session=True,
            )
        except OSError as e:
            self._log.close()
            raise ToolError(f"{spec.tool} could not be started ({spec.argv[0]}): {e.strerror}") from None
        self.started_at = time.time()

    def poll(self) -> int | None:
        return self.proc.poll()

    def _signal_group(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, sig)

    def stop(self, grace_s: float = 10.0, asked: bool = False) -> int:
        """Ask the tool to finish (SIGINT, unless ``asked`` already), then insist (SIGTERM, SIGKILL).

        SIGINT is sent once only: a second one makes Locust and k6 skip their final report."""
        for sig, wait in ((signal.SIGINT, grace_s), (signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
            if self.proc.poll() is not None:
                break
            if not (asked and sig == signal.SIGINT):
                self._signal_group(sig)
            try:
                self.proc.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                continue
        return self.proc.wait()

    def close(self) -> None:
        """Reap the process and anything left in its group."""
        if self.proc.poll() is None:
            self.stop(grace_s=2.0)
        self._signal_group(signal.SIGKILL)
        self._log.close()


class LocalRunner:
    """Each tool as local process groups of this machine (one per spec)."""

    name = "local"

    def run(self, specs: Sequence[LaunchSpec], env: dict[str, str], on_tick: Callable[[], None],
            tick_s: float = 0.25, failed: Callable[[int], bool] = nonzero,
            hold: Callable[[], None] | None = None) -> RunOutcome:
        """Start every spec, call ``on_tick`` every ``tick_s`` until all have exited; a failing one stops the
        rest; Ctrl-C (or SIGTERM) stops them all cleanly; ``StopRun`` from ``on_tick`` stops them too.

        ``hold``: called once the processes are started, before the first tick (specs that wait for it, e.g.
        ``LoadTool.gated``, start their load when it returns); the run's ``started_at`` is taken after it. An
        exception from it stops and reaps every process and is raised."""
        processes: list[LocalProcess] = []
        interrupted = stopped = False
        started = time.time()
        try:
            with SigtermAsInterrupt():
                for spec in specs:
                    processes.append(LocalProcess(spec, env))
                if hold is not None:
                    hold()
                    started = time.time()
                while any(p.poll() is None for p in processes):
                    _wait_a_tick(processes, tick_s)
                    try:
                        on_tick()
                    except StopRun:
                        stopped = True
                        _stop_all(processes)
                    if any(p.poll() is not None and failed(p.proc.returncode) for p in processes):
                        _stop_all(processes)
        except KeyboardInterrupt:
            interrupted = True
            try:
                _stop_all(processes)
            except KeyboardInterrupt:
                for p in processes:
                    p.close()
        finally:
            for p in processes:
                p.close()
        codes = {p.spec.label: p.proc.wait() for p in processes}
        return RunOutcome(exit_code=combined_exit(list(codes.values()), failed), started_at=started,
                          ended_at=time.time(), interrupted=interrupted, stopped=stopped,
                          exit_codes=codes)


def _wait_a_tick(processes: Sequence[LocalProcess], tick_s: float) -> None:
    """Up to ``tick_s``, less when the first process still running exits: a tool's end is seen at once, not
    up to a tick later (the others are checked every tick as before)."""
    running = next((p for p in processes if p.poll() is None), None)
    if running is None:
        return
    with contextlib.suppress(subprocess.TimeoutExpired):
        running.proc.wait(timeout=tick_s)


def _stop_all(processes: list[LocalProcess]) -> None:
    """SIGINT to every one still running at once, then wait for each (escalating per process)."""
    for p in processes:
        if p.poll() is None:
            p._signal_group(signal.SIGINT)
    for p in processes:
        p.stop(asked=True)
