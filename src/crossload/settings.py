"""Settings from the environment (``CROSSLOAD_*``), also read from a ``.env`` file (python-dotenv).

Every variable is documented in .env.example. ``.env`` values never override variables already set.
"""

from __future__ import annotations

import os
from pathlib import Path

from dotenv import dotenv_values


def load_environment(dotenv_path: Path | None = None) -> dict[str, str]:
    """The environment the tools run with: this process's environment plus ``.env`` (env wins)."""
    path = dotenv_path or Path(os.environ.get("CROSSLOAD_DOTENV", ".env"))
    env: dict[str, str] = {}
    if path.is_file():
        env.update({k: v for k, v in dotenv_values(path).items() if v is not None})
    env.update(os.environ)
    return env
