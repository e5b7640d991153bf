"""Rollouts, deployment policy and task health, scripted in moto's backend and read back over HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from ecs_world import ProviderFactory, add_instances, deployment, moto_service, moto_task, register, run_service_tasks

from pilothouse.providers.model import ConnectionState, Health, RolloutState, TaskState

pytestmark = pytest.mark.ecs


@pytest.fixture
def shop(admin: Any, ec2: Any) -> dict[str, str]:
    admin.create_cluster(clusterName="shop")
    add_instances(admin, ec2, "shop", 2)
    return {
        "v1": register(admin, "web", "registry.example.com/web:1"),
        "v2": register(admin, "web", "registry.example.com/web:2"),
        "plain": register(admin, "batch", "registry.example.com/batch:5", healthcheck=False),
    }


def test_rollout_in_progress_with_two_deployments(
    admin: Any, shop: dict[str, str], make_provider: ProviderFactory,
) -> None:
    admin.create_service(cluster="shop", serviceName="web", taskDefinition=shop["v2"], desiredCount=4,
                         loadBalancers=[{"targetGroupArn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:"
                                         "targetgroup/web-tg/6d0ecf831eec9f09", "containerName": "app",
                                         "containerPort": 8080}])
    run_service_tasks(admin, "shop", "web", shop["v1"], 3)
    run_service_tasks(admin, "shop", "web", shop["v2"], 1)
    service = moto_service("shop", "web")
    service.running_count, service.pending_count = 4, 1
    service.deployment_configuration = {
        "minimumHealthyPercent": 100, "maximumPercent": 200,
        "deploymentCircuitBreaker": {"enable": True, "rollback": True},
    }
    service.deployments = [
        deployment(shop["v2"], "PRIMARY", desired=4, running=1, pending=1, rollout="IN_PROGRESS",
                   reason="ECS deployment ecs-svc/2 in progress."),
        deployment(shop["v1"], "ACTIVE", desired=3, running=3, rollout="COMPLETED", age_s=3600),
    ]
    now = datetime.now(UTC)
    service.events = [  # AWS lists them newest first
        {"id": str(i), "createdAt": now - timedelta(minutes=i), "message": f"(service web) event {i}"}
        for i in range(5)
    ]
    provider = make_provider()
    provider.connect()
    cluster = provider.snapshot()
    web = cluster.service("shop/web")
    assert web is not None
    # The service events become cluster events, oldest first (bounds: test_ecs_events.py).
    assert [e.message for e in cluster.events] == [f"(service web) event {i}" for i in (4, 3, 2, 1, 0)]
    assert all(e.service_ref == "shop/web" and e.cluster == "aws" for e in cluster.events)
    rollout = web.rollout
    assert rollout.state is RolloutState.UPDATING and rollout.active
    assert (rollout.from_version, rollout.to_version) == ("web:1", "web:2")
    assert (rollout.updated, rollout.total, rollout.fraction) == (1, 4, 0.25)
    assert "in progress" in rollout.message
    assert web.version == "web:2" and web.image == "registry.example.com/web:2"
    assert sorted(t.version for t in web.tasks) == ["web:1", "web:1", "web:1", "web:2"]
    policy = web.update_policy
    assert (policy.min_healthy_percent, policy.max_percent) == (100, 200)
    assert policy.circuit_breaker is True and policy.circuit_breaker_rollback is True
    assert "circuit breaker on (rollback)" in policy.summary()
    assert web.details["load balancers"] == "web-tg -> app:8080"
    assert web.details["deployments"].startswith("PRIMARY web:2 running 1/4 pending 1")
    assert "ACTIVE web:1 running 3/3" in web.details["deployments"]
    (container,) = web.containers
    assert container.secret_env == ("DB_PASSWORD",) and container.env == {"LOG_LEVEL": "info"}
    assert container.healthcheck is True and container.memory_limit_bytes == 16 * 1024 * 1024
    assert container.command == ("serve", "--port", "8080") and container.ports == ("8080/tcp",)
    assert web.ports == ("8080/tcp",)


def test_failed_rollout_shows_its_reason(
    admin: Any, shop: dict[str, str], make_provider: ProviderFactory,
) -> None:
    admin.create_service(cluster="shop", serviceName="web", taskDefinition=shop["v2"], desiredCount=2)
    reason = "ECS deployment circuit breaker: tasks failed to start."
    moto_service("shop", "web").deployments = [
        deployment(shop["v2"], "PRIMARY", desired=2, running=0, failed=6, rollout="FAILED", reason=reason),
        deployment(shop["v1"], "ACTIVE", desired=2, running=2, rollout="COMPLETED", age_s=600),
    ]
    provider = make_provider()
    provider.connect()
    web = provider.snapshot().service("shop/web")
    assert web is not None
    assert web.rollout.state is RolloutState.FAILED and not web.rollout.active
    assert reason in web.rollout.message and "6 failed tasks" in web.rollout.message
    assert web.rollout.finished is not None
    assert (web.rollout.from_version, web.rollout.to_version) == ("web:1", "web:2")


def test_unhealthy_and_stopped_tasks_with_reasons(
    admin: Any, shop: dict[str, str], make_provider: ProviderFactory,
) -> None:
    admin.create_service(cluster="shop", serviceName="web", taskDefinition=shop["v1"], desiredCount=4)
    admin.create_service(cluster="shop", serviceName="batch", taskDefinition=shop["plain"], desiredCount=1)
    arns = run_service_tasks(admin, "shop", "web", shop["v1"], 4)
    run_service_tasks(admin, "shop", "batch", shop["plain"], 1)
    moto_task(arns[0]).health_status = "HEALTHY"
    moto_task(arns[1]).health_status = "HEALTHY"
    moto_task(arns[2]).health_status = "UNHEALTHY"
    # arns[3] keeps no healthStatus: AWS's UNKNOWN while the first checks run.
    provider = make_provider()
    provider.connect()
    first = provider.snapshot()
    web, batch = first.service("shop/web"), first.service("shop/batch")
    assert web is not None and batch is not None
    health = {t.id: t.health for t in web.tasks}
    assert sorted(health.values()) == sorted([Health.HEALTHY, Health.HEALTHY, Health.UNHEALTHY, Health.STARTING])
    assert (web.health.healthy, web.health.unhealthy, web.health.starting) == (2, 1, 1)
    assert [t.health for t in batch.tasks] == [Health.NONE]  # no health check defined

    # ECS replaces the unhealthy task: it stops with a reason, and leaves the RUNNING list.
    reason = "Task failed container health checks"
    admin.stop_task(cluster="shop", task=arns[2], reason=reason)
    moto_task(arns[2]).stop_code = "EssentialContainerExited"
    provider.snapshot()  # services-only refresh: tasks are kept as they were
    second = provider.snapshot()
    web = second.service("shop/web")
    assert web is not None and second.state is ConnectionState.CONNECTED
    stopped = next(t for t in web.tasks if arns[2].endswith(t.id))
    assert (stopped.state, stopped.desired_state, stopped.raw_state) == (
        TaskState.STOPPED, TaskState.STOPPED, "STOPPED")
    assert stopped.error == reason
    assert (web.health.healthy, web.health.unhealthy) == (2, 0)  # a stopped task no longer counts
    # Once seen stopped, it is remembered through later task refreshes (it is no longer listed).
    provider.snapshot()
    third = provider.snapshot()
    web = third.service("shop/web")
    assert web is not None and any(t.error == reason for t in web.tasks)
