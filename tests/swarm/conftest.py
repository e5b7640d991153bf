"""The real three-node test swarm (tests/swarm/swarm.sh), started once per session, and per-test services."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator

import pytest
from swarm_helpers import Services, SwarmInfo, make_provider, parse_env, swarm_script

from pilothouse.providers.swarm import SwarmProvider


@pytest.fixture(scope="session")
def swarm() -> SwarmInfo:
    if sys.platform != "linux" or os.geteuid() != 0:
        pytest.skip("the test swarm needs Linux and root (it starts dockerd and network namespaces)")
    env = parse_env(swarm_script("up"))
    workers: dict[str, str] = {}
    numbers: dict[str, str] = {}
    for number in ("1", "2"):
        name = env[f"PH_SWARM_WORKER{number}_NAME"]
        workers[name] = env[f"PH_SWARM_WORKER{number}_HOST"]
        numbers[name] = number
    manager = env["DOCKER_HOST"]
    return SwarmInfo(manager, manager.removeprefix("unix://"), workers, numbers)


@pytest.fixture
def provider(swarm: SwarmInfo) -> Iterator[SwarmProvider]:
    instance = make_provider(swarm.manager)
    instance.connect()
    yield instance
    instance.close()


@pytest.fixture
def services(swarm: SwarmInfo, request: pytest.FixtureRequest) -> Iterator[Services]:
    short = request.node.name.removeprefix("test_").replace("_", "-").replace("[", "-").rstrip("]")[:20]
    made = Services(swarm, f"ph-{short}".rstrip("-"))
    yield made
    made.remove_all()
