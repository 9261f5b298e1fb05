"""Is the target there? One TCP connection before any load, so a wrong URL or a stopped service is an
input error with its cause (exit 2), never a run of 100 % errors."""

from __future__ import annotations

import errno
import socket
from urllib.parse import urlsplit

from crossload.errors import InputError


def check_reachable(url: str, timeout_s: float = 5.0) -> None:
    """Open (and close) a TCP connection to the URL's host and port; raise InputError saying why not."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise InputError(f"cannot connect to {url}: the port is not a number") from None
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as e:
        raise InputError(f"cannot connect to {url}: host {host!r} does not resolve ({e.strerror})") from None
    last: OSError | None = None
    for family, kind, proto, _name, address in infos:
        try:
            with socket.socket(family, kind, proto) as sock:
                sock.settimeout(timeout_s)
                sock.connect(address)
                return
        except OSError as e:
            last = e
    raise InputError(f"cannot connect to {url}: {_reason(last, timeout_s)}")


def _reason(e: OSError | None, timeout_s: float) -> str:
    if e is None:
        return "no address to connect to"
    if isinstance(e, TimeoutError):
        return f"no answer within {timeout_s:g} s"
    if e.errno == errno.ECONNREFUSED:
        return "connection refused"
    if e.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH):
        return "network unreachable"
    return e.strerror or type(e).__name__
