"""Resume a paused update on the real swarm: an update to an image that turns unhealthy pauses (failure action
pause); resume sends the unchanged spec with its version, as a bare `docker service update` does, and the
engine starts the update again. Pause itself is refused with the reason (the engine has no pause request)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from swarm_helpers import Services, wait_until

from pilothouse.providers.base import Action
from pilothouse.providers.errors import NotSupported
from pilothouse.providers.model import RolloutState, Service
from pilothouse.providers.swarm import SwarmProvider

pytestmark = pytest.mark.swarm


def update_status(services: Services, name: str) -> dict[str, Any]:
    status: dict[str, Any] = json.loads(services.cli("service", "inspect", name))[0].get("UpdateStatus") or {}
    return status


def test_paused_update_resumed(provider: SwarmProvider, services: Services) -> None:
    name = services.create("--replicas", "2", "--update-parallelism", "1", "--update-failure-action", "pause",
                           "--update-monitor", "20s")
    wait_until(lambda: (s := provider.snapshot().service(name)) and s.running == 2, 30, what="2/2 running")
    stable = provider.snapshot().service(name)
    assert stable is not None
    assert provider.refusal(Action.RESUME, stable) == f"{name} has no paused update to resume"
    reason = provider.refusal(Action.PAUSE, stable)
    assert reason is not None and "cannot pause an update on request" in reason

    services.cli("service", "update", "--detach", "--no-resolve-image", "--image", "pilothouse-test/app:unhealthy",
                 name)

    def paused() -> Service | None:
        service = provider.snapshot().service(name)
        return service if service and service.rollout.state is RolloutState.PAUSED else None

    service = wait_until(paused, 60, what="the update paused on the unhealthy task")
    before = update_status(services, name)
    assert before["State"] == "paused"
    assert provider.refusal(Action.RESUME, service) is None
    plan = provider.plan_resume(service)
    assert plan.before.startswith("update paused at pilothouse-test/app:unhealthy")
    assert "it paused because" in plan.detail
    spec_before = json.loads(services.cli("service", "inspect", name))[0]["Spec"]

    assert provider.apply(plan) == f"resumed the update of {name}"

    # The engine reset the update and started it again (it may pause again later: the image is still bad).
    wait_until(lambda: update_status(services, name).get("StartedAt") != before.get("StartedAt"), 30,
               what="the update started again")
    assert json.loads(services.cli("service", "inspect", name))[0]["Spec"] == spec_before  # spec unchanged
    # A second resume from the same (now stale) plan is refused by the engine's version check or the state.
    again = provider.snapshot().service(name)
    assert again is not None
    if again.rollout.state is not RolloutState.PAUSED:
        with pytest.raises(NotSupported, match="no paused update"):
            provider.plan_resume(again)
