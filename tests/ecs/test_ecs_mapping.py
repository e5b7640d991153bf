"""The mapping functions are pure functions of AWS dicts: odd, missing or unknown fields never crash them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pilothouse.providers.ecs.events import deployment_changes, service_events
from pilothouse.providers.ecs.fetch import api_budget
from pilothouse.providers.ecs.logs import LogStream, log_line, log_streams
from pilothouse.providers.ecs.mapping import (
    map_container,
    map_container_instance,
    map_rollout,
    map_service,
    map_task,
    map_task_state,
    map_update_policy,
    memory_mib,
)
from pilothouse.providers.ecs.raw import task_definition_label
from pilothouse.providers.model import Health, NodeStatus, RolloutState, TaskState

pytestmark = pytest.mark.ecs

KEYS = [
    "serviceArn", "serviceName", "taskDefinition", "desiredCount", "runningCount", "pendingCount", "deployments",
    "status", "rolloutState", "rolloutStateReason", "createdAt", "updatedAt", "deploymentConfiguration",
    "deploymentCircuitBreaker", "enable", "rollback", "loadBalancers", "capacityProviderStrategy", "events",
    "taskArn", "lastStatus", "desiredStatus", "healthStatus", "containers", "exitCode", "stoppedReason",
    "attachments", "details", "name", "value", "containerInstanceArn", "attributes", "agentConnected",
    "containerDefinitions", "healthCheck", "environment", "secrets", "portMappings", "containerPort", "memory",
    "mountPoints", "schedulingStrategy", "tags", "key", "networkConfiguration", "awsvpcConfiguration",
    "id", "message", "stoppedAt", "logConfiguration", "logDriver", "options", "awslogs-group",
    "awslogs-stream-prefix", "awslogs-region", "memoryReservation", "timestamp", "deploymentController", "type",
    "volumes", "host", "sourcePath", "dockerVolumeConfiguration", "scope", "driver", "efsVolumeConfiguration",
    "fileSystemId", "sourceVolume", "containerPath", "readOnly",
]
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 10**6), st.text(max_size=12),
    st.sampled_from(["PRIMARY", "ACTIVE", "RUNNING", "STOPPED", "UNHEALTHY", "IN_PROGRESS", "FAILED", "DAEMON"]),
    st.datetimes(timezones=st.sampled_from([UTC])), st.datetimes(),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(KEYS), inner, max_size=6)),
    max_leaves=30,
)
raw = st.dictionaries(st.sampled_from(KEYS), values, max_size=14)


@settings(max_examples=150, deadline=None)
@given(raw, st.one_of(st.none(), raw), st.lists(raw, max_size=3))
def test_mapping_never_crashes(service: dict[str, Any], definition: dict[str, Any] | None,
                               tasks: list[dict[str, Any]]) -> None:
    mapped_tasks = [map_task(t, "svc", definition, {"x": "i-1"}) for t in tasks]
    mapped = map_service(service, "c1", definition, mapped_tasks)
    assert mapped.ref.startswith("c1/")
    map_rollout(service)
    map_container_instance(service, "c1")
    mapped.update_policy.summary()
    now = datetime(2024, 1, 1, tzinfo=UTC)
    for event in [*service_events(service, "aws", mapped.ref),
                  *deployment_changes((definition or {}).get("deployments"), service.get("deployments"), "aws",
                                      mapped.ref, now)]:
        assert event.time.tzinfo is not None and event.service_ref == mapped.ref
    streams, unreadable = log_streams(definition or {}, "t1", "us-east-1")
    assert all(stream.stream.endswith("/t1") for stream in streams) and all(unreadable)
    stream = LogStream(task_id="t1", container="app", group="g", region="r", stream="p/app/t1")
    for item in tasks:
        assert log_line(stream, item).source == "t1/app"
        map_container(item, item.get("memory"), item.get("volumes"))
        map_update_policy(item.get("deploymentConfiguration"), str(item.get("type")))


def test_unknown_and_missing_values_map_to_unknown() -> None:
    task = map_task({"lastStatus": "HIBERNATING", "healthStatus": "SORT_OF"}, "svc", None)
    assert (task.state, task.health, task.raw_state, task.node_id) == (
        TaskState.UNKNOWN, Health.UNKNOWN, "HIBERNATING", "fargate")
    assert map_task_state("STOPPED", "TaskFailedToStart") is TaskState.FAILED
    assert map_task_state("STOPPED", None, [{"exitCode": 137}]) is TaskState.FAILED
    assert map_task_state("STOPPED", "UserInitiated", [{"exitCode": 0}]) is TaskState.STOPPED
    assert map_rollout({}).state is RolloutState.STABLE
    assert map_container_instance({"status": "ACTIVE", "agentConnected": False}, "c").status is NodeStatus.DOWN
    assert task_definition_label("arn:aws:ecs:us-east-1:1:task-definition/web:12") == "web:12"
    service = map_service({"serviceArn": "arn:aws:ecs:us-east-1:1:service/c/web"}, "c", None)
    assert (service.name, service.ref, service.desired, service.image) == ("web", "c/web", 0, "")


def test_rolled_back_by_the_circuit_breaker() -> None:
    created = datetime(2024, 1, 1, tzinfo=UTC)
    service = {"desiredCount": 2, "deployments": [
        {"status": "PRIMARY", "taskDefinition": "task-definition/web:1", "rolloutState": "IN_PROGRESS",
         "createdAt": created,
         "rolloutStateReason": "ECS deployment circuit breaker: rolling back to deploymentId ecs-svc/1."},
        {"status": "ACTIVE", "taskDefinition": "task-definition/web:2", "rolloutState": "FAILED",
         "createdAt": created},
    ]}
    rollout = map_rollout(service)
    assert rollout.state is RolloutState.ROLLING_BACK
    assert (rollout.from_version, rollout.to_version) == ("web:2", "web:1")


def test_memory_limits_and_log_streams() -> None:
    assert [memory_mib(v) for v in (512, "512", "1 GB", "2GB", "0", -3, "lots", True, None, "nan")] == [
        512, 512, 1024, 2048, None, None, None, None, None, None]
    # memoryReservation is soft; the task-level memory is a hard limit for the container.
    assert map_container({"name": "a", "memoryReservation": 64}).memory_limit_bytes is None
    assert map_container({"name": "a", "memoryReservation": 64}, "1GB").memory_limit_bytes == 1024**3
    assert map_container({"name": "a", "memory": 32}, "1GB").memory_limit_bytes == 32 * 1024**2
    definition = {"containerDefinitions": [
        {"name": "app", "logConfiguration": {"logDriver": "awslogs", "options": {
            "awslogs-group": "/ecs/web", "awslogs-stream-prefix": "web"}}},
        {"name": "side", "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": "g"}}},
        {"name": "fluent", "logConfiguration": {"logDriver": "awsfirelens"}},
        {"name": "bare"},
    ]}
    streams, unreadable = log_streams(definition, "abc123", "eu-west-1")
    assert [(s.group, s.stream, s.region, s.source) for s in streams] == [
        ("/ecs/web", "web/app/abc123", "eu-west-1", "abc123/app")]
    assert unreadable == [
        "container side uses awslogs without awslogs-stream-prefix; its stream cannot be found from the task",
        "container fluent uses the awsfirelens log driver; only awslogs (CloudWatch Logs) can be read here",
        "container bare has no log configuration",
    ]
    # A configuration without a breaker has none (ECS controller); other controllers have no breaker at all.
    assert map_update_policy({"minimumHealthyPercent": 100}).circuit_breaker is False
    assert map_update_policy({"minimumHealthyPercent": 100}, "CODE_DEPLOY").circuit_breaker is None
    assert map_update_policy(None).circuit_breaker is None


def test_budget_formula() -> None:
    assert api_budget(205, 150, 3) == 3 + 21 + 2 + 2 + 2
    assert api_budget(0, 0, 0) == 0
    # One DescribeTargetHealth per target group the services' load balancers name.
    assert api_budget(205, 150, 3, 4) == 3 + 21 + 2 + 2 + 2 + 4
