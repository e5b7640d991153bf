"""Service events (from DescribeServices, no extra call), observed deployment changes, stopped tasks."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from ecs_transport import CountingProxy
from ecs_world import ProviderFactory, add_instances, deployment, moto_service, moto_task, register, run_service_tasks

from pilothouse.providers.ecs.events import EVENTS_PER_SERVICE
from pilothouse.providers.model import Event, TaskState

pytestmark = pytest.mark.ecs

READS = {"ListClusters", "ListServices", "DescribeServices", "ListTasks", "DescribeTasks", "ListContainerInstances",
         "DescribeContainerInstances", "DescribeTaskDefinition", "DescribeScalableTargets", "DescribeScalingPolicies"}


@pytest.fixture
def shop(admin: Any, ec2: Any) -> dict[str, str]:
    admin.create_cluster(clusterName="shop")
    add_instances(admin, ec2, "shop", 1)
    versions = {f"v{i}": register(admin, "web", f"registry.example.com/web:{i}") for i in (1, 2)}
    admin.create_service(cluster="shop", serviceName="web", taskDefinition=versions["v1"], desiredCount=2)
    admin.create_service(cluster="shop", serviceName="api", taskDefinition=versions["v1"], desiredCount=2)
    return versions


def _script_events(service: str, count: int, now: datetime) -> None:
    # AWS lists them newest first; event i happened i minutes ago.
    moto_service("shop", service).events = [
        {"id": f"{service}-{i}", "createdAt": now - timedelta(minutes=i), "message": f"({service}) event {i}"}
        for i in range(count)]


def _of_kind(events: tuple[Event, ...], kind: str) -> list[Event]:
    return [event for event in events if event.kind == kind]


def test_service_events_are_bounded_and_cost_no_extra_call(
    shop: dict[str, str], proxy: CountingProxy, make_provider: ProviderFactory,
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    _script_events("web", 70, now)
    _script_events("api", 2, now - timedelta(seconds=30))
    provider = make_provider()
    provider.connect()
    proxy.reset()
    cluster = provider.snapshot()
    assert set(proxy.snapshot_counts()) <= READS

    web = [event for event in _of_kind(cluster.events, "event") if event.service_ref == "shop/web"]
    assert EVENTS_PER_SERVICE == 50
    # The newest 50, oldest first, each a full Event of that service.
    assert [event.message for event in web] == [f"(web) event {i}" for i in range(49, -1, -1)]
    assert {(event.cluster, event.object) for event in web} == {("aws", "service shop/web")}
    assert web[-1].time == now
    api = [event.message for event in cluster.events if event.service_ref == "shop/api"]
    assert api == ["(api) event 1", "(api) event 0"]
    # Merged in time order across services.
    times = [event.time for event in cluster.events]
    assert times == sorted(times)


def test_deployment_changes_seen_between_refreshes_become_events(
    shop: dict[str, str], admin: Any, make_provider: ProviderFactory,
) -> None:
    provider = make_provider()
    provider.connect()
    first = provider.snapshot()
    assert _of_kind(first.events, "deployment") == []  # the first look is the baseline, not a change

    service = moto_service("shop", "web")
    old_primary = dict(service.deployments[0], status="ACTIVE")
    new = deployment(shop["v2"], "PRIMARY", desired=2, running=0, pending=2, rollout="IN_PROGRESS",
                     reason="ECS deployment in progress.")
    service.task_definition, service.deployments = shop["v2"], [new, old_primary]
    second = provider.snapshot()
    (started,) = _of_kind(second.events, "deployment")
    assert (started.object, started.service_ref, started.cluster) == ("service shop/web", "shop/web", "aws")
    assert started.message == f"new deployment {new['id']}: web:1 -> web:2 (in_progress)"
    assert abs(started.time - new["createdAt"]) < timedelta(milliseconds=1)  # AWS's time, at its precision

    assert _of_kind(provider.snapshot().events, "deployment") == [started]  # nothing changed: nothing new

    service.deployments = [dict(new, rolloutState="COMPLETED", runningCount=2, pendingCount=0,
                                rolloutStateReason="ECS deployment completed.")]
    fourth = provider.snapshot()
    assert [event.message for event in _of_kind(fourth.events, "deployment")] == [
        started.message, f"deployment {new['id']} (web:2) in_progress -> completed: ECS deployment completed."]
    # Only the service that changed has deployment events.
    assert {event.service_ref for event in _of_kind(fourth.events, "deployment")} == {"shop/web"}


def test_stopped_task_keeps_its_stop_time(
    shop: dict[str, str], admin: Any, make_provider: ProviderFactory,
) -> None:
    (arn,) = run_service_tasks(admin, "shop", "web", shop["v1"], 1)
    provider = make_provider()
    provider.connect()
    (running,) = provider.snapshot().service("shop/web").tasks  # type: ignore[union-attr]
    assert running.stopped is None
    admin.stop_task(cluster="shop", task=arn, reason="Scaling activity initiated by deployment")
    stopped_at = datetime.now(UTC).replace(microsecond=0)
    moto_task(arn).stopped_at = stopped_at  # moto keeps no stop time: script AWS's stoppedAt
    provider.snapshot()  # services only; the next one refreshes tasks
    (task,) = provider.snapshot().service("shop/web").tasks  # type: ignore[union-attr]
    assert task.desired_state is TaskState.STOPPED
    assert task.stopped == stopped_at
    assert task.error == "Scaling activity initiated by deployment"


def test_events_cli_shows_ecs_service_events(
    shop: dict[str, str], write_config: Any, capsys: pytest.CaptureFixture[str],
) -> None:
    from pilothouse.console.cli import main

    now = datetime.now(UTC).replace(microsecond=0)
    _script_events("web", 3, now)
    config = write_config()
    assert main(["events", "--json", "--config", config]) == 0
    events = json.loads(capsys.readouterr().out)["events"]
    assert [(e["cluster"], e["object"], e["kind"], e["service"], e["message"]) for e in events] == [
        ("aws", "service shop/web", "event", "shop/web", f"(web) event {i}") for i in (2, 1, 0)]
    assert events[-1]["time"] == now.isoformat()

    assert main(["events", "--json", "--config", config, "--service", "aws/shop/api"]) == 0
    assert json.loads(capsys.readouterr().out)["events"] == []
    assert main(["events", "--json", "--config", config, "--since", "30s", "--service", "aws/shop/web"]) == 0
    assert [e["message"] for e in json.loads(capsys.readouterr().out)["events"]] == ["(web) event 0"]
