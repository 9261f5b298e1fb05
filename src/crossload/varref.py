"""``{{ name }}`` references inside journey steps: values drawn from ``data`` or extracted from responses.

A reference is ``{{``, optional spaces, a name (a letter or ``_``, then letters, digits, ``_``), optionally
``.field`` (a column of a data file), optional spaces, ``}}``. Any other text, ``{{`` included, stays as
written. They are only read in the steps of ``journeys`` (never in ``requests``, whose strings keep the
meaning they always had), and they are filled in per request, in the load tool, from the user's own values.
``${VAR}`` environment references are a different thing: resolved once when the tool starts, in the text
between ``{{ }}`` references, never inside a value that was filled in.

This module is the reference the support modules (locust/crossload_locust.py, k6/crossload.js) are tested
against: the same split, the same fill, the same text for a number (JavaScript's ``String(n)``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

REF = re.compile(r"\{\{ *([A-Za-z_][A-Za-z0-9_]*)(?:\.([A-Za-z_][A-Za-z0-9_]*))? *\}\}")
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# JavaScript numbers are doubles: integers beyond this are written as the double they become.
MAX_SAFE_INTEGER = 2**53

Value = str | int | float | bool


def references(text: str) -> list[tuple[str, str | None]]:
    """The (name, field) pairs a text refers to, in order; field is None without ``.field``."""
    return [(m.group(1), m.group(2)) for m in REF.finditer(text)]


def whole_reference(text: str) -> tuple[str, str | None] | None:
    """The reference when the text is exactly one reference (a JSON value then keeps the value's type)."""
    m = REF.fullmatch(text)
    return (m.group(1), m.group(2)) if m else None


def lookup(values: Mapping[str, Any], name: str, field: str | None) -> Value:
    value = values[name]
    return value[field] if field is not None else value  # type: ignore[no-any-return]


def fill(text: str, values: Mapping[str, Any]) -> str:
    """Every reference replaced by its value written as text."""
    return REF.sub(lambda m: value_text(lookup(values, m.group(1), m.group(2))), text)


def holds(values: Mapping[str, Any], name: str, field: str | None, op: str, text: str) -> bool:
    """A step's ``if``: the value written as text (``value_text``) is (``equals``) or is not (``not_equals``)
    the condition's text."""
    filled = value_text(lookup(values, name, field))
    return filled == text if op == "equals" else filled != text


def value_text(value: Value) -> str:
    """A value as text, the way JavaScript's ``String(value)`` writes it (both tools send the same bytes)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value) if abs(value) <= MAX_SAFE_INTEGER else number_text(float(value))
    if isinstance(value, float):
        return number_text(value)
    return value


def number_text(x: float) -> str:
    """JavaScript's Number.prototype.toString() for a double (ECMA-262 Number::toString, radix 10)."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    if x == 0:
        return "0"
    sign = "-" if x < 0 else ""
    mantissa, _, exp = repr(abs(x)).partition("e")  # the shortest digits that round-trip, as in JavaScript
    whole, _, frac = mantissa.partition(".")
    digits = whole + frac
    n = len(whole) + int(exp or 0)  # the value is 0.DIGITS x 10^n
    stripped = digits.lstrip("0")
    n -= len(digits) - len(stripped)
    digits = stripped.rstrip("0") or "0"
    k = len(digits)
    if k <= n <= 21:
        out = digits + "0" * (n - k)
    elif 0 < n <= 21:
        out = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        out = "0." + "0" * (-n) + digits
    else:
        e = n - 1
        out = digits[0] + ("." + digits[1:] if k > 1 else "") + "e" + ("+" if e >= 0 else "-") + str(abs(e))
    return sign + out
