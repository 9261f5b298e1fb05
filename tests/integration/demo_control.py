"""The demo target's control endpoints (/_crossload/received, echo-log, ws-log), read and reset by the wire tests."""

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
