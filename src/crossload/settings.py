"""Settings from the environment (``CROSSLOAD_*``), also read from a ``.env`` file (python-dotenv).

Every variable is documented in .env.example, with the default that applies when it is unset. ``.env``
values never override variables already set in the environment.
"""

from __future__ import annotations

import os
from pathlib import Path

from dotenv import dotenv_values

DEFAULT_DOTENV = ".env"
PREFIX = "CROSSLOAD_"


def dotenv_file() -> Path:
    """``CROSSLOAD_DOTENV`` (environment only: it names the file), else ``./.env``."""
    return Path(os.environ.get("CROSSLOAD_DOTENV", "").strip() or DEFAULT_DOTENV)


def load_environment(dotenv_path: Path | None = None) -> dict[str, str]:
    """The environment the tools run with: this process's environment plus ``.env`` (env wins)."""
    path = dotenv_path or dotenv_file()
    env: dict[str, str] = {}
    if path.is_file():
        env.update({k: v for k, v in dotenv_values(path).items() if v is not None})
    env.update(os.environ)
    return env


def apply_dotenv() -> None:
    """Copy the ``CROSSLOAD_*`` settings of ``.env`` into this process's environment (set variables win).

    The command-line fronts call this first, so every module and every child process (the demo target, the
    tools) sees the settings of ``.env`` exactly as if they had been exported.
    """
    path = dotenv_file()
    if not path.is_file():
        return
    for name, value in dotenv_values(path).items():
        if name.startswith(PREFIX) and value is not None and name not in os.environ:
            os.environ[name] = value


def setting(name: str, default: str | None = None, env: dict[str, str] | None = None) -> str | None:
    """One ``CROSSLOAD_*`` setting from the environment or ``.env``; unset or blank gives ``default``."""
    value = (env if env is not None else load_environment()).get(name, "").strip()
    return value or default


__all__ = ["DEFAULT_DOTENV", "PREFIX", "apply_dotenv", "dotenv_file", "load_environment", "setting"]
