"""Addresses of the demo target, without the server: what ``DemoTarget`` needs in the starting process.

Kept apart from ``crossload.target.app`` so that starting a demo target does not import aiohttp (and the
whole server) into the orchestrator: only the child process serving it does.
"""

from __future__ import annotations

import socket


def free_port(host: str = "127.0.0.1") -> int:
    """Ask the kernel for an unused TCP port on host."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def client_host(host: str) -> str:
    """Address a client on this machine should dial to reach a server bound to host."""
    return {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)


def url_for(host: str, port: int) -> str:
    """Base URL of a server bound to host:port, as seen from this machine."""
    address = client_host(host)
    if ":" in address:
        address = f"[{address}]"
    return f"http://{address}:{port}"
