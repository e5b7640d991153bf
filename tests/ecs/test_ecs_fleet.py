"""A fleet of two ECS clusters with 200+ services: API economy, agreement with AWS's own answers, the CLI."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from ecs_transport import CountingProxy
from ecs_world import ProviderFactory, build_fleet, moto_task, wait_until

from pilothouse.providers.ecs.fetch import TASKS_EVERY
from pilothouse.providers.ecs.raw import task_definition_label
from pilothouse.providers.model import (
    Availability,
    Cluster,
    ClusterKind,
    ConnectionState,
    Health,
    NodeStatus,
    TaskState,
)

pytestmark = pytest.mark.ecs


def budget(clusters: int, services: int, tasks: int, instances: int, *, with_tasks: bool,
           target_groups: int = 0) -> dict[str, int]:
    """The issue's formula, per ECS cluster, summed over the clusters; written out independently here.
    Target health is read on the task tier, one DescribeTargetHealth per target group."""
    counts = {
        "ListServices": math.ceil(services / 100) * clusters,
        "DescribeServices": math.ceil(services / 10) * clusters,
    }
    if with_tasks:
        counts |= {
            "ListTasks": math.ceil(tasks / 100) * clusters,
            "DescribeTasks": math.ceil(tasks / 100) * clusters,
            "ListContainerInstances": math.ceil(instances / 100) * clusters,
            "DescribeContainerInstances": math.ceil(instances / 100) * clusters,
            # Once per provider, not per cluster: one page of Application Auto Scaling targets (none here, so
            # no policies are asked for).
            "DescribeScalableTargets": 1,
        }
        if target_groups:
            counts["DescribeTargetHealth"] = target_groups * clusters
    return counts


def test_request_count_per_refresh_is_the_formula(
    admin: Any, ec2: Any, proxy: CountingProxy, make_provider: ProviderFactory,
) -> None:
    fleet = build_fleet(admin, ec2)
    n, m, c = fleet["services"], fleet["tasks"], fleet["instances"]
    provider = make_provider()
    provider.connect()
    assert proxy.snapshot_counts() == {"ListClusters": 1}

    proxy.reset()
    first = provider.snapshot()
    counts = proxy.snapshot_counts()
    # Task definitions are described once each, on first sight, and never again.
    assert counts.pop("DescribeTaskDefinition") == len(fleet["definitions"])
    assert counts == budget(2, n, m, c, with_tasks=True)
    assert len(first.services) == 2 * n == 210
    assert sum(len(s.tasks) for s in first.services) == 2 * m

    # Services refresh every time; tasks and instances every TASKS_EVERY-th refresh, kept in between.
    assert TASKS_EVERY == 2
    proxy.reset()
    second = provider.snapshot()
    assert proxy.snapshot_counts() == budget(2, n, m, c, with_tasks=False)
    assert sum(len(s.tasks) for s in second.services) == 2 * m

    proxy.reset()
    provider.snapshot()
    assert proxy.snapshot_counts() == budget(2, n, m, c, with_tasks=True)
    assert second.state is ConnectionState.CONNECTED and second.error == ""


def test_snapshot_agrees_with_describe_services_and_describe_tasks(
    admin: Any, ec2: Any, make_provider: ProviderFactory,
) -> None:
    fleet = build_fleet(admin, ec2, services=24, services_with_tasks=8, tasks_each=2)
    # Script what moto does not simulate on a couple of tasks, so the mapping has something to map.
    task_arns = admin.list_tasks(cluster="alpha", desiredStatus="RUNNING")["taskArns"]
    moto_task(task_arns[0]).health_status = "UNHEALTHY"
    moto_task(task_arns[1]).health_status = "HEALTHY"
    provider = make_provider()
    provider.connect()
    cluster = provider.snapshot()
    assert cluster.kind is ClusterKind.ECS and cluster.state is ConnectionState.CONNECTED

    for ecs_cluster in fleet["clusters"]:
        arns = admin.list_services(cluster=ecs_cluster, maxResults=100)["serviceArns"]
        described = []
        for start in range(0, len(arns), 10):
            described += admin.describe_services(cluster=ecs_cluster, services=arns[start:start + 10])["services"]
        task_arns = admin.list_tasks(cluster=ecs_cluster, desiredStatus="RUNNING")["taskArns"]
        tasks = admin.describe_tasks(cluster=ecs_cluster, tasks=task_arns)["tasks"]
        assert len(described) == 24
        for raw in described:
            service = cluster.service(f"{ecs_cluster}/{raw['serviceName']}")
            assert service is not None
            assert service.id == raw["serviceArn"]
            assert service.namespace == ecs_cluster
            assert (service.desired, service.running, service.pending) == (
                raw["desiredCount"], raw["runningCount"], raw["pendingCount"])
            assert service.version == task_definition_label(raw["taskDefinition"])
            assert service.details["launch type"] == raw["launchType"]
            own = {t["taskArn"].rsplit("/", 1)[-1]: t for t in tasks if t["group"] == f"service:{raw['serviceName']}"}
            assert {t.id for t in service.tasks} == set(own)
            for task in service.tasks:
                source = own[task.id]
                assert task.raw_state == source["lastStatus"] == "RUNNING"
                assert task.state is TaskState.RUNNING
                assert task.node_id == source["containerInstanceArn"]
                assert task.version == task_definition_label(source["taskDefinitionArn"])
                expected = {"HEALTHY": Health.HEALTHY, "UNHEALTHY": Health.UNHEALTHY}.get(
                    source.get("healthStatus", ""), Health.STARTING)
                if "worker" in source["taskDefinitionArn"]:
                    expected = Health.NONE  # that task definition has no health check
                assert task.health is expected

    unhealthy = [t for s in cluster.services for t in s.tasks if t.health is Health.UNHEALTHY]
    assert len(unhealthy) == 1
    # EC2 placement: container instances are the nodes, named by EC2 instance id, zoned by attribute.
    instances = admin.describe_container_instances(
        cluster="alpha", containerInstances=admin.list_container_instances(cluster="alpha")["containerInstanceArns"],
    )["containerInstances"]
    for raw in instances:
        node = next(n for n in cluster.nodes if n.id == raw["containerInstanceArn"])
        assert node.name == raw["ec2InstanceId"]
        zone = next(a["value"] for a in raw["attributes"] if a["name"] == "ecs.availability-zone")
        assert node.zone == zone
        assert node.status is NodeStatus.READY and node.availability is Availability.ACTIVE
    assert len(cluster.nodes) == 4


def test_draining_instance_and_fargate_zones_are_nodes(
    admin: Any, ec2: Any, make_provider: ProviderFactory,
) -> None:
    build_fleet(admin, ec2, clusters=("mixed",), services=2, services_with_tasks=1, tasks_each=1)
    instance = admin.list_container_instances(cluster="mixed")["containerInstanceArns"][1]
    admin.update_container_instances_state(cluster="mixed", containerInstances=[instance], status="DRAINING")
    subnets = ec2.describe_subnets()["Subnets"]
    fargate = admin.register_task_definition(
        family="edge", requiresCompatibilities=["FARGATE"], networkMode="awsvpc", cpu="256", memory="512",
        containerDefinitions=[{"name": "edge", "image": "edge:3", "memory": 64}])["taskDefinition"]["taskDefinitionArn"]
    admin.create_service(cluster="mixed", serviceName="edge", taskDefinition=fargate, desiredCount=2,
                         launchType="FARGATE")
    network = {"awsvpcConfiguration": {"subnets": [subnets[0]["SubnetId"]], "securityGroups": []}}
    arns = [t["taskArn"] for t in admin.run_task(
        cluster="mixed", taskDefinition=fargate, count=2, launchType="FARGATE", group="service:edge",
        networkConfiguration=network)["tasks"]]
    moto_task(arns[0]).availability_zone = "us-east-1b"

    provider = make_provider(clusters=["mixed"])
    provider.connect()
    cluster = provider.snapshot()
    draining = next(n for n in cluster.nodes if n.id == instance)
    assert draining.availability is Availability.DRAIN
    edge = cluster.service("mixed/edge")
    assert edge is not None and edge.details["launch type"] == "FARGATE"
    placed = {t.node_id for t in edge.tasks}
    assert placed == {"az:us-east-1b", f"subnet:{subnets[0]['SubnetId']}"}
    zone = next(n for n in cluster.nodes if n.id == "az:us-east-1b")
    assert (zone.name, zone.zone, zone.role) == ("us-east-1b", "us-east-1b", "zone")
    assert all(t.address for t in edge.tasks)  # the ENI's private address


def test_status_json_cli_agrees_with_describe(
    admin: Any, ec2: Any, proxy: CountingProxy, aws_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    from pilothouse.console.cli import main

    build_fleet(admin, ec2, clusters=("alpha", "beta"), services=12, services_with_tasks=4, tasks_each=2)
    config = tmp_path / "config.toml"
    config.write_text(
        '[[clusters]]\nname = "aws"\nprovider = "ecs"\nregion = "us-east-1"\n'
        f'endpoint_url = "{proxy.url}"\nclusters = ["beta"]\n'
    )
    assert main(["status", "--json", "--config", str(config)]) == 0
    output = json.loads(capsys.readouterr().out)
    (cluster,) = output["clusters"]
    assert cluster["kind"] == "ecs" and cluster["state"] == "connected"
    # `clusters` given: DescribeClusters validates them, ListClusters is never called.
    assert proxy.snapshot_counts().get("ListClusters") is None
    services = {s["ref"]: s for s in cluster["services"]}
    assert set(services) == {f"beta/svc-{i:03d}" for i in range(12)}
    arns = admin.list_services(cluster="beta", maxResults=100)["serviceArns"]
    described = admin.describe_services(cluster="beta", services=arns[:10])["services"]
    described += admin.describe_services(cluster="beta", services=arns[10:])["services"]
    task_arns = admin.list_tasks(cluster="beta", desiredStatus="RUNNING")["taskArns"]
    tasks = admin.describe_tasks(cluster="beta", tasks=task_arns)["tasks"]
    for raw in described:
        exported = services[f"beta/{raw['serviceName']}"]
        assert (exported["desired"], exported["running"], exported["pending"]) == (
            raw["desiredCount"], raw["runningCount"], raw["pendingCount"])
        assert exported["version"] == task_definition_label(raw["taskDefinition"])
        ids = {t["taskArn"].rsplit("/", 1)[-1] for t in tasks if t["group"] == f"service:{raw['serviceName']}"}
        assert {t["id"] for t in exported["tasks"]} == ids
        assert all(t["raw_state"] == "RUNNING" for t in exported["tasks"])


def test_endpoint_from_botocore_environment(
    admin: Any, proxy: CountingProxy, make_provider: ProviderFactory, monkeypatch: pytest.MonkeyPatch,
) -> None:
    admin.create_cluster(clusterName="solo")
    monkeypatch.setenv("AWS_ENDPOINT_URL_ECS", proxy.url)
    # Application Auto Scaling has its own endpoint variable, as every AWS service.
    monkeypatch.setenv("AWS_ENDPOINT_URL_APPLICATION_AUTO_SCALING", proxy.url)
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    provider = make_provider(endpoint_url=None, region=None)  # both left to botocore
    provider.connect()
    cluster: Cluster = wait_until(provider.snapshot)
    assert cluster.state is ConnectionState.CONNECTED and cluster.endpoint.startswith("us-east-1")
    assert proxy.snapshot_counts()["ListClusters"] == 1
