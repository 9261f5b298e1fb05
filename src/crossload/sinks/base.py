"""The seam between crossload and a time-series database, and a fake of it for unit tests.

A sink is a replica: the local store (results/<run-id>/) stays the source of truth, so a sink that is down
must never cost data or block a run. Hence the two kinds of failure a caller has to tell apart:

- ``check()`` runs before any load and turns every configuration mistake (unreachable URL, bad
  credentials, missing org, bucket or database) into an ``InputError`` with one actionable line;
- ``write()`` raises ``SinkUnavailable`` when the server is down or too slow: the caller keeps the points
  pending and retries later; ``SinkRejected`` when the server answered but refused (credentials revoked,
  points rejected): retrying the same request would not help.

No message ever contains a token or a password.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable
from urllib.parse import urlsplit, urlunsplit

from crossload.errors import CrossloadError
from crossload.sinks.lineprotocol import Point


class SinkUnavailable(CrossloadError):
    """The server could not be reached or did not answer in time; the points stay pending."""


class SinkRejected(CrossloadError):
    """The server answered and refused the write (authorization, bad points, missing database)."""


@runtime_checkable
class Sink(Protocol):
    """Where normalized points go; implementations are safe to use from one thread at a time."""

    @property
    def description(self) -> str:
        """Where the points go, without credentials (for messages)."""
        ...

    def check(self) -> None:
        """Raise ``InputError`` unless a write would be accepted."""
        ...

    def write(self, points: Sequence[Point]) -> None:
        """Write every point or raise ``SinkUnavailable`` / ``SinkRejected``."""
        ...

    def close(self) -> None: ...


def redact_url(url: str) -> str:
    """The URL without user info or query (``http://user:secret@host`` -> ``http://host``) for messages."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<invalid URL>"
    netloc = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def scrub(text: str, secrets: Sequence[str | None]) -> str:
    """Replace every secret (token, password) in a message by ``***``; a last line of defence."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


class MemorySink:
    """A sink in memory with the same overwrite semantics as InfluxDB (one value per identity).

    ``down = True`` makes writes raise ``SinkUnavailable``; ``reject`` a ``SinkRejected``; ``check_error``
    is raised by ``check()``. ``writes`` counts accepted write calls and ``points_written`` every point sent.
    """

    def __init__(self) -> None:
        self.points: dict[tuple[str, tuple[tuple[str, str], ...], int], Point] = {}
        self.down = False
        self.reject: str | None = None
        self.check_error: CrossloadError | None = None
        self.writes = 0
        self.points_written = 0
        self.closed = False

    @property
    def description(self) -> str:
        return "memory"

    def check(self) -> None:
        if self.check_error is not None:
            raise self.check_error

    def write(self, points: Sequence[Point]) -> None:
        if self.down:
            raise SinkUnavailable("memory sink is down")
        if self.reject is not None:
            raise SinkRejected(self.reject)
        for p in points:
            self.points[p.identity] = p
        self.writes += 1
        self.points_written += len(points)

    def close(self) -> None:
        self.closed = True

    def measurement(self, name: str) -> list[Point]:
        return [p for p in self.points.values() if p.measurement == name]
