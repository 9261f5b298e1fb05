"""``${VAR}`` and ``${VAR:-default}`` references inside scenario strings.

References are resolved in the load tool's own process at run time (the rendered files carry the reference,
never the value), so secrets never land on disk. ``$${`` stands for a literal ``${``. The same grammar is
implemented in locust/crossload_locust.py and k6/crossload.js; this module is the reference the tests hold
both of them to, and the pre-flight check that every variable without a default is set.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

# ${NAME} or ${NAME:-default}; the default runs to the first "}" (it cannot contain one).
_REF = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def has_refs(text: str) -> bool:
    """True when the string needs run-time work (a reference or an escaped ``$${``)."""
    return "${" in text


def references(text: str) -> list[tuple[str, str | None]]:
    """The (name, default) pairs a string refers to; default is None when none is given."""
    out: list[tuple[str, str | None]] = []
    for m in _REF.finditer(text):
        if m.group(1):
            out.append((m.group(1), m.group(2)))
    return out


def resolve(text: str, env: Mapping[str, str]) -> str:
    """Replace references by their values: unset without a default becomes the empty string."""

    def sub(m: re.Match[str]) -> str:
        if m.group(0) == "$${":
            return "${"
        value = env.get(m.group(1))
        if value is None or (value == "" and m.group(2) is not None):
            return m.group(2) or ""
        return value

    return _REF.sub(sub, text)
