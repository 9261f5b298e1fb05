"""Parsing of durations, percentages and rates as written in scenario files and flags."""

from __future__ import annotations

import re

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_UNIT_MS = {"ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0, "d": 86_400_000.0}


def parse_duration_ms(text: str | int | float) -> float:
    """Return milliseconds for ``500ms``, ``1.5s``, ``2m``, ``1h30m`` or a bare number of seconds.

    Raises ValueError with the accepted forms when the text is not a duration.
    """
    if isinstance(text, bool):
        raise ValueError("expected a duration such as 500ms, 30s, 5m or 1h")
    if isinstance(text, int | float):
        if text < 0:
            raise ValueError("a duration cannot be negative")
        return float(text) * 1000.0
    s = text.strip().replace(" ", "")
    if not s:
        raise ValueError("expected a duration such as 500ms, 30s, 5m or 1h")
    if s.startswith("-"):
        raise ValueError("a duration cannot be negative")
    try:
        return float(s) * 1000.0
    except ValueError:
        pass
    pos = 0
    total = 0.0
    for m in _DURATION_PART.finditer(s):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNIT_MS[m.group(2)]
        pos = m.end()
    if pos != len(s) or pos == 0:
        raise ValueError(f"{text!r} is not a duration; expected e.g. 500ms, 30s, 5m, 1h or 1m30s")
    return total


def format_duration_ms(ms: float) -> str:
    """Short human form: 850ms, 12s, 2m30s, 1h5m."""
    if ms < 1000:
        return f"{ms:g}ms"
    seconds = ms / 1000.0
    if seconds < 60:
        return f"{seconds:g}s"
    whole = round(seconds)
    h, rest = divmod(whole, 3600)
    m, s = divmod(rest, 60)
    out = ""
    if h:
        out += f"{h}h"
    if m:
        out += f"{m}m"
    if s:
        out += f"{s}s"
    return out or "0s"


def parse_percent(text: str | int | float) -> float:
    """``1%`` or ``0.5 %`` -> percent as a float (1.0, 0.5). A bare number is taken as percent too."""
    if isinstance(text, bool):
        raise ValueError("expected a percentage such as 1%")
    if isinstance(text, int | float):
        value = float(text)
    else:
        s = text.strip()
        if s.endswith("%"):
            s = s[:-1].strip()
        try:
            value = float(s)
        except ValueError:
            raise ValueError(f"{text!r} is not a percentage; expected e.g. 1% or 0.5%") from None
    if not 0.0 <= value <= 100.0:
        raise ValueError(f"{text!r} is outside 0% .. 100%")
    return value


_SIZE = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*(B|KB|MB|GB|KiB|MiB|GiB)\s*$")
_SIZE_UNIT = {"B": 1, "KB": 1000, "MB": 1000**2, "GB": 1000**3, "KiB": 1024, "MiB": 1024**2, "GiB": 1024**3}


def parse_bytes(text: str) -> float:
    """``100MB`` -> 100_000_000.0; ``64MiB`` -> 67_108_864.0 (B, KB/MB/GB: powers of 1000, KiB/MiB/GiB: of 1024)."""
    m = _SIZE.match(text)
    if not m:
        raise ValueError(f"{text!r} is not a size; expected e.g. 100MB, 512KiB or 1GB")
    return float(m.group(1)) * _SIZE_UNIT[m.group(2)]


def format_bytes(n: float) -> str:
    """``52428800`` -> ``52.4 MB`` (powers of 1000, sign kept)."""
    sign = "-" if n < 0 else ""
    v = abs(float(n))
    for unit in ("B", "KB", "MB", "GB"):
        if v < 1000 or unit == "GB":
            return f"{sign}{v:.0f} {unit}" if unit == "B" else f"{sign}{v:.1f} {unit}"
        v /= 1000
    return f"{sign}{v:.1f} GB"  # pragma: no cover
