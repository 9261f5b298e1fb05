"""Built-in demo target: the HTTP service load tests hit when no target is given.

``DemoTarget`` runs the server in a separate Python process, never in the
orchestrator's interpreter, so the server and the load generator do not
compete for one GIL and the numbers measure HTTP, not lock contention.

    with DemoTarget() as target:
        run_load(target.url)
"""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any

from crossload.errors import ToolError
from crossload.target.net import client_host, free_port, url_for

if TYPE_CHECKING:
    from crossload.target.app import build_app, serve

__all__ = ["DemoTarget", "build_app", "serve"]


def __getattr__(name: str) -> Any:
    """``build_app`` and ``serve`` load the server (aiohttp) on first use: starting a ``DemoTarget`` does not
    need them in this process, only in the child serving it."""
    if name in ("build_app", "serve"):
        from crossload.target import app

        return getattr(app, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

_STARTUP_TIMEOUT_S = 15.0
_STOP_TIMEOUT_S = 5.0
_POLL_INTERVAL_S = 0.05
_OUTPUT_TAIL_CHARS = 2000


def _child_env() -> dict[str, str]:
    """Environment for the server process, able to import this package."""
    env = dict(os.environ)
    package_root = str(Path(__file__).resolve().parents[2])
    existing = env.get("PYTHONPATH")
    env["PYTHONPATH"] = package_root + (os.pathsep + existing if existing else "")
    return env


def _health_ok(host: str, port: int) -> bool:
    # http.client ignores proxy variables, so this never leaves the machine.
    conn = http.client.HTTPConnection(host, port, timeout=1.0)
    try:
        conn.request("GET", "/health")
        response = conn.getresponse()
        response.read()
        return response.status == 200
    except OSError:
        return False
    finally:
        conn.close()


class DemoTarget:
    """Start the demo target in a child process for the duration of a block.

    ``port=0`` picks a free port. Entering waits until ``GET /health``
    answers (``ToolError`` after ``startup_timeout`` seconds); leaving
    sends SIGTERM, then SIGKILL after five seconds, and always reaps the
    child. The child stays in the caller's process group so a Ctrl-C in
    the terminal reaches it as well.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        error_rate: float = 0.0,
        workers: int = 1,
        *,
        startup_timeout: float = _STARTUP_TIMEOUT_S,
    ) -> None:
        if not 0 <= error_rate <= 1:
            raise ValueError(f"error_rate must be within 0..1, got {error_rate!r}")
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self.host = host
        self.error_rate = error_rate
        self.workers = workers
        self.startup_timeout = startup_timeout
        self._requested_port = port
        self._port = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._ready = False
        self._output: IO[bytes] | None = None

    @property
    def port(self) -> int:
        if not self._port:
            raise RuntimeError("the demo target is not running")
        return self._port

    @property
    def url(self) -> str:
        return url_for(self.host, self.port)

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def _command(self, port: int) -> list[str]:
        return [
            sys.executable, "-m", "crossload.target",
            "--host", self.host,
            "--port", str(port),
            "--error-rate", repr(self.error_rate),
            "--workers", str(self.workers),
            "--exit-with-parent",
        ]  # fmt: skip

    def start(self) -> DemoTarget:
        """Start the server and wait until it answers."""
        self.launch()
        self.wait_ready()
        return self

    def launch(self) -> DemoTarget:
        """Start the server without waiting for it: ``url`` is known at once, so work that needs only the URL
        can run while the server starts; ``wait_ready`` (or ``start``) waits until it answers."""
        if self._proc is not None:
            raise RuntimeError("the demo target is already running")
        port = self._requested_port or free_port(self.host)
        # Kept open for the child's lifetime and closed by stop().
        self._output = tempfile.TemporaryFile()  # noqa: SIM115
        self._proc = subprocess.Popen(
            self._command(port),
            stdin=subprocess.DEVNULL,
            stdout=self._output,
            stderr=subprocess.STDOUT,
            env=_child_env(),
        )
        self._port = port
        self._ready = False
        return self

    def wait_ready(self) -> None:
        """Wait until ``GET /health`` answers (``ToolError`` after ``startup_timeout``; the child is stopped)."""
        if self._proc is None:
            raise RuntimeError("the demo target is not running")
        if self._ready:
            return
        try:
            self._wait_healthy(self._port)
        except BaseException:
            self.stop()
            raise
        self._ready = True

    def _wait_healthy(self, port: int) -> None:
        assert self._proc is not None
        probe_host = client_host(self.host)
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise ToolError(
                    f"demo target exited with code {self._proc.returncode} before "
                    f"answering on port {port}: {self._output_tail()}"
                )
            if _health_ok(probe_host, port):
                return
            time.sleep(_POLL_INTERVAL_S)
        raise ToolError(
            f"demo target did not answer GET /health on port {port} within "
            f"{self.startup_timeout:g} s: {self._output_tail()}"
        )

    def _output_tail(self) -> str:
        if self._output is None:
            return "(no output)"
        self._output.seek(0)
        text = self._output.read().decode("utf-8", "replace").strip()
        return text[-_OUTPUT_TAIL_CHARS:] or "(no output)"

    def stop(self) -> None:
        """Terminate and reap the child; safe to call more than once."""
        proc, self._proc, self._port, self._ready = self._proc, None, 0, False
        try:
            if proc is not None:
                _terminate(proc)
        finally:
            if self._output is not None:
                self._output.close()
                self._output = None

    def __enter__(self) -> DemoTarget:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _terminate(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, wait, SIGKILL; reaps the child even if interrupted."""
    try:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(_STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        pass
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
