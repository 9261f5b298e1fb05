"""Why a request failed: one short, low-cardinality cause, the same words for both tools.

A cause is one of

    HTTP <code>                 the response's status was not an expected one (e.g. ``HTTP 500``)
    connection refused          nothing listens on the target's port
    connection reset            the server closed the connection while the request was under way
    timeout                     no complete response within the scenario's timeout (connect or read)
    TLS error                   the TLS handshake or certificate check failed
    DNS error                   the host name did not resolve
    connection error            any other transport failure
    check failed: <label>       the status was acceptable but a body check failed (label: see checks), or a
                                value a WebSocket expect extracts was not in the matching message
    ws closed                   the server closed a WebSocket before the message an expect waited for
    exception: <Type>           the tool raised inside its request path (e.g. a header it cannot encode)

Causes are tags and table rows: they never hold raw URLs, ids or free error texts. The Locust recorder
(locust/crossload_recorder.py) and the k6 script's support module produce the same strings; the k6 parser
maps k6's ``error_code`` tag here.
"""

from __future__ import annotations

CONNECTION_REFUSED = "connection refused"
CONNECTION_RESET = "connection reset"
TIMEOUT = "timeout"
TLS_ERROR = "TLS error"
DNS_ERROR = "DNS error"
CONNECTION_ERROR = "connection error"
CHECK_PREFIX = "check failed: "
WS_CLOSED = "ws closed"
EXCEPTION_PREFIX = "exception: "

# Causes that mean the target did not answer at all (no HTTP response).
TRANSPORT = frozenset({CONNECTION_REFUSED, CONNECTION_RESET, TIMEOUT, TLS_ERROR, DNS_ERROR, CONNECTION_ERROR})


def http_status(code: int) -> str:
    return f"HTTP {code}"


def k6_error_code(code: str) -> str:
    """k6's ``error_code`` tag (https://grafana.com/docs/k6/latest/javascript-api/error-codes/) -> cause."""
    try:
        n = int(code)
    except ValueError:
        return CONNECTION_ERROR
    if n == 1050 or n == 1211:
        return TIMEOUT
    if n == 1212:
        return CONNECTION_REFUSED
    if n in (1201, 1220):  # broken pipe on write, reset by peer
        return CONNECTION_RESET
    if 1100 <= n < 1200:
        return DNS_ERROR
    if 1300 <= n < 1400:
        return TLS_ERROR
    return CONNECTION_ERROR


def is_transport(cause: str) -> bool:
    return cause in TRANSPORT


__all__ = [
    "CHECK_PREFIX",
    "CONNECTION_ERROR",
    "CONNECTION_REFUSED",
    "CONNECTION_RESET",
    "DNS_ERROR",
    "EXCEPTION_PREFIX",
    "TIMEOUT",
    "TLS_ERROR",
    "WS_CLOSED",
    "http_status",
    "is_transport",
    "k6_error_code",
]
