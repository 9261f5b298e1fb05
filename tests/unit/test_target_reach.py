"""A target given by URL is checked from this machine, except on a Docker user network, where only the
tool containers can resolve it."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from crossload.errors import InputError
from crossload.run import RunRequest, _target
from crossload.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[2]
NAME_ONLY_CONTAINERS_KNOW = "http://shop.crossload-test.invalid:8080"


def test_a_target_that_does_not_resolve_is_refused_before_the_run() -> None:
    scenario = load_scenario(ROOT / "scenarios" / "minimal.yaml")
    request = RunRequest(profile="smoke", target=NAME_ONLY_CONTAINERS_KNOW)
    with pytest.raises(InputError, match="does not resolve"), _target(request, scenario, {}, io.StringIO()):
        pass


def test_on_a_docker_user_network_the_target_is_left_to_the_containers() -> None:
    scenario = load_scenario(ROOT / "scenarios" / "minimal.yaml")
    request = RunRequest(profile="smoke", target=NAME_ONLY_CONTAINERS_KNOW, docker_network="shop_default")
    with _target(request, scenario, {}, io.StringIO()) as (url, kind, _pid, _ready):
        assert url == NAME_ONLY_CONTAINERS_KNOW and kind == "flag"
