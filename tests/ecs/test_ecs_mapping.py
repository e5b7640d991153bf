"""The mapping functions are pure functions of AWS dicts: odd, missing or unknown fields never crash them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from providers.ecs import (
    api_budget,
    map_container_instance,
    map_rollout,
    map_service,
    map_task,
    map_task_state,
    task_definition_label,
)
from providers.model import Health, NodeStatus, RolloutState, TaskState

pytestmark = pytest.mark.ecs

KEYS = [
    "serviceArn", "serviceName", "taskDefinition", "desiredCount", "runningCount", "pendingCount", "deployments",
    "status", "rolloutState", "rolloutStateReason", "createdAt", "updatedAt", "deploymentConfiguration",
    "deploymentCircuitBreaker", "enable", "rollback", "loadBalancers", "capacityProviderStrategy", "events",
    "taskArn", "lastStatus", "desiredStatus", "healthStatus", "containers", "exitCode", "stoppedReason",
    "attachments", "details", "name", "value", "containerInstanceArn", "attributes", "agentConnected",
    "containerDefinitions", "healthCheck", "environment", "secrets", "portMappings", "containerPort", "memory",
    "mountPoints", "schedulingStrategy", "tags", "key", "networkConfiguration", "awsvpcConfiguration",
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


def test_budget_formula() -> None:
    assert api_budget(205, 150, 3) == 3 + 21 + 2 + 2 + 2
    assert api_budget(0, 0, 0) == 0
