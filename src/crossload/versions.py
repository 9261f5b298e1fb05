"""Pinned versions of the load tools: the single place they are set.

pyproject.toml repeats the pip pins (a unit test keeps the two equal); every run's manifest records the
versions that actually ran.
"""

from __future__ import annotations

LOCUST_VERSION = "2.47.0"
K6_VERSION = "1.1.0"
LOCUST_IMAGE = f"locustio/locust:{LOCUST_VERSION}"
K6_IMAGE = f"grafana/k6:{K6_VERSION}"

# Settings that replace a tool's image for the docker runner (a mirror, another tag); the manifest records the
# image that ran.
IMAGE_SETTINGS = {"k6": "CROSSLOAD_K6_IMAGE", "locust": "CROSSLOAD_LOCUST_IMAGE"}
DEFAULT_IMAGES = {"k6": K6_IMAGE, "locust": LOCUST_IMAGE}


def tool_image(tool: str, env: dict[str, str]) -> str:
    """The image the docker runner starts for ``tool``: ``CROSSLOAD_<TOOL>_IMAGE`` if set, else the pinned one."""
    return env.get(IMAGE_SETTINGS[tool], "").strip() or DEFAULT_IMAGES[tool]
