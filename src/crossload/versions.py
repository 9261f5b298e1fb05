"""Pinned versions of the load tools: the single place they are set.

pyproject.toml repeats the pip pins (a unit test keeps the two equal); every run's manifest records the
versions that actually ran.
"""

from __future__ import annotations

LOCUST_VERSION = "2.47.0"
K6_VERSION = "1.1.0"
LOCUST_IMAGE = f"locustio/locust:{LOCUST_VERSION}"
K6_IMAGE = f"grafana/k6:{K6_VERSION}"
