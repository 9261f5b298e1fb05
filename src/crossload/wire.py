"""What goes on the wire for a request: the reference both tools' support code is tested against.

Path: every UTF-8 byte outside the unreserved set and ``!$&'()*+,;=:@/?`` is percent-encoded; an existing
``%XX`` escape is kept, normalized as RFC 3986 section 6.2.2 says (the escape of an unreserved character is
written as the character, hex digits in upper case), because some clients normalize and others do not.
Query (the ``query:`` mapping): keys and values fully percent-encoded (only unreserved characters stay),
joined with ``&``, appended with ``?`` (or ``&`` when the path already has a ``?``). Bodies: JSON compact
UTF-8 (``application/json`` unless the scenario sets Content-Type), raw bodies as UTF-8 text
(``text/plain; charset=utf-8`` unless the scenario sets Content-Type).
"""

from __future__ import annotations

UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
PATH_SAFE = UNRESERVED | frozenset(b"!$&'()*+,;=:@/?")
_HEX = frozenset(b"0123456789abcdefABCDEF")

JSON_CONTENT_TYPE = "application/json"
TEXT_CONTENT_TYPE = "text/plain; charset=utf-8"


def percent_encode(text: str, safe: frozenset[int], keep_escapes: bool) -> str:
    data = text.encode("utf-8")
    out: list[str] = []
    i = 0
    n = len(data)
    while i < n:
        b = data[i]
        if b < 0x80 and b in safe:
            out.append(chr(b))
        elif keep_escapes and b == 0x25 and i + 2 < n and data[i + 1] in _HEX and data[i + 2] in _HEX:
            code = int(data[i + 1 : i + 3], 16)
            out.append(chr(code) if code in UNRESERVED else "%" + data[i + 1 : i + 3].decode().upper())
            i += 3
            continue
        else:
            out.append(f"%{b:02X}")
        i += 1
    return "".join(out)


def request_target(path: str, query: list[tuple[str, str]] | tuple[tuple[str, str], ...]) -> str:
    """The request target (path and query) both tools send for a resolved path and query."""
    url = percent_encode(path, PATH_SAFE, True)
    if query:
        parts = [f"{percent_encode(k, UNRESERVED, False)}={percent_encode(v, UNRESERVED, False)}" for k, v in query]
        url += ("&" if "?" in path else "?") + "&".join(parts)
    return url
