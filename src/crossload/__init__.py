"""crossload: one scenario file, rendered for Locust and k6, run, and reported with one set of numbers."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
