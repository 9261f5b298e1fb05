"""Registry of the supported load tools."""

from __future__ import annotations

from crossload.errors import InputError
from crossload.tools.base import LaunchSpec, LoadTool
from crossload.tools.k6 import K6Tool
from crossload.tools.locust import LocustTool

TOOL_NAMES = ("locust", "k6")

__all__ = ["TOOL_NAMES", "LaunchSpec", "LoadTool", "get_tool", "select_tools"]


def get_tool(name: str) -> LoadTool:
    if name == "locust":
        return LocustTool()
    if name == "k6":
        return K6Tool()
    raise InputError(f"unknown tool {name!r}; expected locust, k6 or both")


def select_tools(choice: str) -> list[str]:
    """``--tool`` value -> tool names in run order (both: Locust first, then k6)."""
    c = choice.strip().lower()
    if c == "both":
        return list(TOOL_NAMES)
    if c in TOOL_NAMES:
        return [c]
    raise InputError(f"--tool must be locust, k6 or both, got {choice!r}")
