"""The demo target's control endpoints (/_crossload/received, echo-log, ws-log), read and reset by the wire tests,
and how those tests read a user's sequence of requests off the echo log."""

from __future__ import annotations

import http.client
import json
from typing import Any
from urllib.parse import urlsplit


def call(base: str, path: str, method: str = "GET") -> Any:
    """``method path`` on the target at ``base``; the JSON it answers (None for an empty body)."""
    parts = urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.request(method, path)
        return json.loads(conn.getresponse().read() or b"null")
    finally:
        conn.close()


def assert_whole_iterations(where: object, seen: list[Any], pattern: list[Any], at_least: int = 1) -> None:
    """``seen`` (one user's requests, in order) is at least ``at_least`` whole iterations of ``pattern``, then
    possibly the start of one that the end of the load cut short."""
    rounds = len(seen) // len(pattern)
    assert rounds >= at_least, (where, seen)
    assert seen == (pattern * (rounds + 1))[: len(seen)], (where, seen)
