"""Attention on ECS through moto (real HTTP, the counting proxy): running below desired in `status --json`, and
a task that failed a moment ago quoted with its stoppedReason, in ECS's words (tasks, stoppedReason)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from ecs_world import ProviderFactory, add_instances, deployment, moto_service, moto_task, register, run_service_tasks

from pilothouse.console.cli import main
from pilothouse.providers.attention import AttentionAssessor, Level
from pilothouse.providers.model import TaskState


@pytest.fixture
def shop(admin: Any, ec2: Any) -> dict[str, str]:
    admin.create_cluster(clusterName="shop")
    add_instances(admin, ec2, "shop", 2)
    return {"web": register(admin, "web", "registry.example.com/web:1"),
            "api": register(admin, "api", "registry.example.com/api:1")}


def test_running_below_desired_in_status_json(admin: Any, shop: dict[str, str], write_config: Any,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    admin.create_service(cluster="shop", serviceName="web", taskDefinition=shop["web"], desiredCount=3)
    admin.create_service(cluster="shop", serviceName="api", taskDefinition=shop["api"], desiredCount=1)
    run_service_tasks(admin, "shop", "web", shop["web"], 1)
    run_service_tasks(admin, "shop", "api", shop["api"], 1)
    # moto does not count a service's tasks: its runningCount is set as ECS would report it.
    moto_service("shop", "web").running_count = 1
    moto_service("shop", "api").running_count = 1
    # Its deployment has been in progress for 10 minutes: past the grace a young rollout gets.
    moto_service("shop", "web").deployments = [
        deployment(shop["web"], "PRIMARY", desired=3, running=1, rollout="IN_PROGRESS", age_s=600)]
    assert main(["--config", write_config(), "status", "--json"]) == 0
    services = {s["ref"]: s for s in json.loads(capsys.readouterr().out)["clusters"][0]["services"]}
    web = services["shop/web"]
    assert (web["running"], web["desired"]) == (1, 3)
    assert web["attention"] == {"level": "warning", "reasons": ["1/3 tasks running"]}
    assert services["shop/api"]["attention"] == {"level": "none", "reasons": []}
    # And the text: problems first, with its reasons under --attention.
    assert main(["--config", write_config(), "status", "--attention"]) == 0
    out = capsys.readouterr().out
    assert "shop/web" in out and "1/3 tasks running" in out and "shop/api" not in out


def test_a_task_that_failed_a_moment_ago_is_quoted_with_its_stopped_reason(
        admin: Any, shop: dict[str, str], make_provider: ProviderFactory) -> None:
    admin.create_service(cluster="shop", serviceName="web", taskDefinition=shop["web"], desiredCount=2)
    arns = run_service_tasks(admin, "shop", "web", shop["web"], 2)
    moto_service("shop", "web").running_count = 2
    provider = make_provider()
    provider.connect()
    assessor = AttentionAssessor()
    first = provider.snapshot()
    web = first.service("shop/web")
    assert web is not None
    assert assessor.assess(first, datetime.now(UTC))[web.id].level is Level.NONE

    reason = "Essential container in task exited"
    admin.stop_task(cluster="shop", task=arns[0], reason=reason)
    run_service_tasks(admin, "shop", "web", shop["web"], 1)  # ECS's replacement, already running
    stopped = moto_task(arns[0])
    stopped.stop_code = "EssentialContainerExited"
    for container in stopped.containers:
        container.exitCode = 1  # the app died: ECS reports the container's non-zero exit
    provider.snapshot()  # a services-only refresh: tasks are read every other refresh
    later = provider.snapshot()
    web = later.service("shop/web")
    assert web is not None
    failed = next(task for task in web.tasks if arns[0].endswith(task.id))
    assert failed.state is TaskState.FAILED and failed.stopped is not None
    attention = assessor.assess(later, datetime.now(UTC))[web.id]
    assert attention.level is Level.WARNING
    assert f"task {failed.id} stopped 0s ago, stoppedReason: {reason}" in attention.texts()
