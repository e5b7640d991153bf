"""The Swarm mapping functions are pure: dicts in, model out; missing and odd fields never crash."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from providers.model import Health, NodeStatus, RolloutState, ServiceMode, TaskState
from providers.swarm import (
    FAILED_TASKS_PER_SERVICE,
    display_image,
    map_event,
    map_node,
    map_service,
    map_task,
    parse_time,
    select_tasks,
    spec_fingerprint,
)


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("pilothouse-test/app:2@sha256:" + "a" * 64, "pilothouse-test/app:2"),
        ("registry:5000/team/web:1.4", "registry:5000/team/web:1.4"),
        ("nginx@sha256:" + "b" * 64, "nginx@bbbbbbbbbbbb"),
        ("registry:5000/web@sha256:" + "c" * 64, "registry:5000/web@cccccccccccc"),
        (None, ""),
        (42, ""),
    ],
)
def test_display_image_strips_digests_but_keeps_tags(raw: Any, shown: str) -> None:
    assert display_image(raw) == shown


def test_parse_time_keeps_microseconds_and_drops_the_zero_time() -> None:
    assert parse_time("2026-11-27T20:31:26.435677934Z") == datetime(2026, 11, 27, 20, 31, 26, 435677, UTC)
    assert parse_time("2026-11-27T21:31:26+01:00") == datetime(2026, 11, 27, 20, 31, 26, tzinfo=UTC)
    assert parse_time("0001-01-01T00:00:00Z") is None
    assert parse_time("yesterday") is None
    assert parse_time(None) is None


@pytest.mark.parametrize("raw", [{}, {"Spec": None, "Status": None}, {"Spec": {"Mode": {"Weird": {}}}}])
def test_empty_and_odd_objects_map_without_crashing(raw: dict[str, Any]) -> None:
    service = map_service(raw, [raw], {}, {})
    assert service.mode is ServiceMode.REPLICATED
    assert service.rollout.state is RolloutState.STABLE
    assert map_node(raw).status is NodeStatus.UNKNOWN
    assert map_task(raw, {}).state is TaskState.UNKNOWN
    assert map_event(raw, "c") is None


def test_unknown_enum_values_are_kept_visible() -> None:
    service = map_service({"UpdateStatus": {"State": "sideways"}}, [], {}, {})
    assert service.rollout.state is RolloutState.STABLE
    assert "sideways" in service.rollout.message
    task = map_task({"Status": {"State": "levitating"}, "DesiredState": "dancing"}, {})
    assert (task.state, task.desired_state, task.raw_state) == (TaskState.UNKNOWN, TaskState.UNKNOWN, "levitating")


def test_unhealthy_failure_and_health_table() -> None:
    failed = {"Status": {"State": "failed", "Err": "task: non-zero exit (137): dockerexec: unhealthy container"}}
    assert map_task(failed, {}).health is Health.UNHEALTHY
    assert map_task({"Status": {"State": "starting"}}, {}, healthcheck=True).health is Health.STARTING
    assert map_task({"Status": {"State": "running"}}, {}, healthcheck=True).health is Health.HEALTHY
    assert map_task({"Status": {"State": "running"}}, {}, healthcheck=False).health is Health.NONE
    assert map_task({"Status": {"State": "running"}}, {}, healthcheck=None).health is Health.NONE


def test_failed_history_is_bounded_per_service() -> None:
    tasks = [
        {"ServiceID": "s", "DesiredState": "shutdown",
         "Status": {"State": "failed", "Timestamp": f"2026-01-01T00:00:{second:02d}Z"}}
        for second in range(20)
    ] + [{"ServiceID": "s", "DesiredState": "running", "Status": {"State": "running"}},
         {"ServiceID": "s", "DesiredState": "shutdown", "Status": {"State": "shutdown"}}]
    kept = select_tasks(tasks)["s"]
    assert len(kept) == 1 + FAILED_TASKS_PER_SERVICE
    assert kept[1]["Status"]["Timestamp"] == "2026-01-01T00:00:19Z"  # the most recent failure first


def test_progress_ignores_the_runtime_field_only_the_service_copy_carries() -> None:
    template = {"ContainerSpec": {"Image": "app:2"}, "ForceUpdate": 0, "Runtime": "container"}
    task_spec = {"ContainerSpec": {"Image": "app:2"}, "ForceUpdate": 0}
    assert spec_fingerprint(template) == spec_fingerprint(task_spec)
    service = {
        "Spec": {"Name": "web", "TaskTemplate": template, "Mode": {"Replicated": {"Replicas": 2}}},
        "PreviousSpec": {"TaskTemplate": {"ContainerSpec": {"Image": "app:1@sha256:" + "d" * 64}}},
        "UpdateStatus": {"State": "updating", "Message": "update in progress"},
        "ServiceStatus": {"RunningTasks": 2, "DesiredTasks": 2},
    }
    tasks = [
        {"ServiceID": "s", "DesiredState": "running", "Status": {"State": "running"}, "Spec": task_spec},
        {"ServiceID": "s", "DesiredState": "running", "Status": {"State": "running"},
         "Spec": {"ContainerSpec": {"Image": "app:1"}, "ForceUpdate": 0}},
    ]
    rollout = map_service(service, tasks, {}, {}).rollout
    assert (rollout.state, rollout.updated, rollout.total) == (RolloutState.UPDATING, 1, 2)
    assert (rollout.from_version, rollout.to_version) == ("app:1", "app:2")
