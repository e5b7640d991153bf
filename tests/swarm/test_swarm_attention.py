"""Attention on the real swarm: a service whose image fails its health check is critical in `status --json`,
with the failure in Swarm's words (tasks, the task error), and a healthy one needs nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from swarm_helpers import Services, SwarmInfo, run_cli, wait_until, write_config

pytestmark = pytest.mark.swarm


def test_the_unhealthy_image_is_critical(services: Services, swarm: SwarmInfo, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    sick = services.create("--replicas", "2", image="pilothouse-test/app:unhealthy")
    fine = services.create("--replicas", "1")
    config = write_config(tmp_path / "config.toml", swarm.manager)

    def attention() -> dict[str, Any] | None:
        result = run_cli(capsys, "--config", str(config), "status", "--json")
        assert result.code == 0, result.err
        found = {s["ref"]: s["attention"] for s in json.loads(result.out)["clusters"][0]["services"]}
        sick_attention, fine_attention = found.get(sick), found.get(fine)
        if sick_attention is None or fine_attention is None or fine_attention["level"] != "none":
            return None
        # Ready once a replaced task's error is in: the health check has failed at least once.
        return found if any("unhealthy container" in reason for reason in sick_attention["reasons"]) else None

    found = wait_until(attention, 60, interval=0.5, what="the unhealthy container's failure in the reasons")
    sick_attention = found[sick]
    assert sick_attention["level"] == "critical"
    reasons = sick_attention["reasons"]
    # Nothing runs (a task with a failing HEALTHCHECK never leaves "starting"): 0/2, critical.
    assert any(reason.startswith("0/2 tasks running") for reason in reasons), reasons
    assert any(reason.startswith(("task ", "crash-looping: ")) and "dockerexec: unhealthy container" in reason
               for reason in reasons), reasons
    assert found[fine] == {"level": "none", "reasons": []}


def test_a_task_no_node_can_take_is_unschedulable_with_swarms_reason(
        services: Services, swarm: SwarmInfo, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # No node has a terabyte to reserve: the scheduler leaves the task pending and says why.
    huge = services.create("--replicas", "1", "--reserve-memory", "1000G")
    config = write_config(tmp_path / "config.toml", swarm.manager)

    def reasons() -> list[str] | None:
        result = run_cli(capsys, "--config", str(config), "status", "--json")
        assert result.code == 0, result.err
        found = {s["ref"]: s["attention"] for s in json.loads(result.out)["clusters"][0]["services"]}
        attention = found.get(huge)
        if attention is None or not any("unschedulable" in reason for reason in attention["reasons"]):
            return None
        assert attention["level"] == "critical"  # nothing runs: 0/1
        return list(attention["reasons"])

    found = wait_until(reasons, 30, interval=0.5, what="the pending task's scheduler message")
    assert any(reason.startswith("1 task unschedulable: no suitable node") for reason in found), found
    assert "0/1 tasks running" in found
