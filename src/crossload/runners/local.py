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
from collections.abc import Callable

from crossload.errors import ToolError
from crossload.runners.base import RunOutcome
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

    def stop(self, grace_s: float = 10.0) -> int:
        """Ask the tool to finish (SIGINT), then insist (SIGTERM, SIGKILL)."""
        for sig, wait in ((signal.SIGINT, grace_s), (signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
            if self.proc.poll() is not None:
                break
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
    """Each tool as a local process (group) of this machine."""

    name = "local"

    def run(self, spec: LaunchSpec, env: dict[str, str], on_tick: Callable[[], None],
            tick_s: float = 0.25) -> RunOutcome:
        """Start ``spec``, call ``on_tick`` every ``tick_s`` until the process exits; Ctrl-C stops it cleanly."""
        process = LocalProcess(spec, env)
        interrupted = False
        try:
            while process.poll() is None:
                time.sleep(tick_s)
                on_tick()
            code = process.proc.returncode
        except KeyboardInterrupt:
            interrupted = True
            try:
                code = process.stop()
            except KeyboardInterrupt:
                process.close()
                code = process.proc.wait()
        finally:
            process.close()
        return RunOutcome(exit_code=code, started_at=process.started_at, ended_at=time.time(),
                          interrupted=interrupted)
