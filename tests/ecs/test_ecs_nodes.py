"""ECS container instances as nodes, through moto in server mode: status in ECS's words (ACTIVE, DRAINING),
the agent's connection, the CPU and memory left to place tasks, the tasks counted per instance; and
`pilothouse nodes --json` with those fields."""

from __future__ import annotations

import json
from typing import Any

import pytest
from ecs_world import ProviderFactory, add_instances, build_fleet, ecs_backend, register, run_service_tasks

from pilothouse.providers.model import NodeStatus
from pilothouse.providers.nodes import node_dict, task_counts


def _describe(admin: Any, cluster: str) -> dict[str, dict[str, Any]]:
    arns = admin.list_container_instances(cluster=cluster)["containerInstanceArns"]
    described = admin.describe_container_instances(cluster=cluster, containerInstances=arns)["containerInstances"]
    return {raw["containerInstanceArn"]: raw for raw in described}


def _resource(raw: dict[str, Any], key: str, name: str) -> int:
    return int(next(r["integerValue"] for r in raw[key] if r["name"] == name))


def test_container_instances_status_agent_and_remaining_resources(
    admin: Any, ec2: Any, make_provider: ProviderFactory,
) -> None:
    build_fleet(admin, ec2, clusters=("alpha",), services=3, services_with_tasks=2, tasks_each=3, instances=3)
    arns = admin.list_container_instances(cluster="alpha")["containerInstanceArns"]
    admin.update_container_instances_state(cluster="alpha", containerInstances=[arns[1]], status="DRAINING")
    # moto has no API to cut an agent off: its in-process model is where that is said.
    ecs_backend().container_instances["alpha"][arns[2].split("/")[-1]].agent_connected = False
    described = _describe(admin, "alpha")
    provider = make_provider(clusters=["alpha"])
    provider.connect()
    cluster = provider.snapshot()
    nodes = {node.id: node for node in cluster.nodes}
    active, draining, cut_off = nodes[arns[0]], nodes[arns[1]], nodes[arns[2]]
    assert (active.state_word, active.availability_word, active.agent_connected) == ("ACTIVE", "ACTIVE", True)
    assert (draining.state_word, draining.availability_word) == ("DRAINING", "DRAINING")
    assert (cut_off.status, cut_off.agent_connected, cut_off.message) == (
        NodeStatus.DOWN, False, "ECS agent disconnected")
    counts = task_counts(cluster)
    assert sum(counts[arn] for arn in arns) == 6
    for arn in arns:
        raw, node = described[arn], nodes[arn]
        assert node.cpu_registered == _resource(raw, "registeredResources", "CPU")
        assert node.memory_registered_mib == _resource(raw, "registeredResources", "MEMORY")
        assert node.cpu_remaining == _resource(raw, "remainingResources", "CPU")
        assert node.memory_remaining_mib == _resource(raw, "remainingResources", "MEMORY")
    # moto takes each task's memory (16 MiB a container) off the instance that runs it.
    busy = max(arns, key=lambda arn: counts[arn])
    registered = nodes[busy].memory_registered_mib
    assert registered is not None and nodes[busy].memory_remaining_mib == registered - 16 * counts[busy]
    entry = node_dict(cut_off, counts[arns[2]])
    assert entry["agent_connected"] is False and entry["memory_remaining_mib"] == cut_off.memory_remaining_mib


def test_nodes_verb_json_names_container_instances(
    admin: Any, ec2: Any, write_config: Any, capsys: pytest.CaptureFixture[str],
) -> None:
    from pilothouse.console.cli import main

    build_fleet(admin, ec2, clusters=("alpha",), services=2, services_with_tasks=1, tasks_each=2, instances=2)
    arns = admin.list_container_instances(cluster="alpha")["containerInstanceArns"]
    admin.update_container_instances_state(cluster="alpha", containerInstances=[arns[0]], status="DRAINING")
    assert main(["--config", write_config(), "nodes", "--json"]) == 0
    (cluster,) = json.loads(capsys.readouterr().out)["clusters"]
    listed = cluster["nodes"]
    assert len(listed) == 2 and sum(n["tasks"] for n in listed) == 2
    assert listed[0]["availability"] == "DRAINING"  # draining first
    assert {n["role"] for n in listed} == {"container-instance"}
    assert all(n["agent_connected"] is True and n["cpu_remaining"] <= n["cpu_registered"] for n in listed)


def test_inspect_json_masks_environment_of_service_task_and_instance(
    admin: Any, ec2: Any, make_provider: ProviderFactory,
) -> None:
    from pilothouse.providers.inspect import InspectTarget, TargetKind
    from pilothouse.providers.secrets import MASK

    secret = "sk-live-9d8c7b6a"
    admin.create_cluster(clusterName="alpha")
    (instance,) = add_instances(admin, ec2, "alpha", 1)
    definition = register(admin, "api", "registry.example.com/api:1", extra={
        "environment": [{"name": "STRIPE_API_KEY", "value": secret}, {"name": "LOG_LEVEL", "value": "info"}]})
    admin.create_service(cluster="alpha", serviceName="api", taskDefinition=definition, desiredCount=1)
    (task_arn,) = run_service_tasks(admin, "alpha", "api", definition, 1)
    provider = make_provider(clusters=["alpha"])
    provider.connect()
    cluster = provider.snapshot()
    service = cluster.service("alpha/api")
    assert service is not None
    result = provider.inspect(InspectTarget(TargetKind.SERVICE, service.id, service.ref))
    assert (result.title, result.format) == ("service alpha/api", "json")
    assert secret not in result.text
    body = json.loads(result.text)
    assert body["service"]["serviceName"] == "api"
    environment = {e["name"]: e["value"] for e in body["taskDefinition"]["containerDefinitions"][0]["environment"]}
    assert environment == {"STRIPE_API_KEY": MASK, "LOG_LEVEL": "info"}
    secrets = body["taskDefinition"]["containerDefinitions"][0]["secrets"]
    assert secrets[0]["valueFrom"].startswith("arn:aws:ssm:")  # a reference, shown as it is
    task_id = task_arn.rsplit("/", 1)[-1]
    task = json.loads(provider.inspect(InspectTarget(TargetKind.TASK, service.id, service.ref, task_id)).text)
    assert task["taskArn"] == task_arn and task["containerInstanceArn"] == instance
    node = json.loads(provider.inspect(InspectTarget(TargetKind.NODE, object_id=instance)).text)
    assert node["containerInstanceArn"] == instance and node["agentConnected"] is True


def test_diff_between_two_task_definition_revisions(
    admin: Any, ec2: Any, make_provider: ProviderFactory, write_config: Any, capsys: pytest.CaptureFixture[str],
) -> None:
    from pilothouse.console.cli import main
    from pilothouse.providers.base import Action
    from pilothouse.providers.revisions import NoPreviousRevision

    admin.create_cluster(clusterName="alpha")
    first = register(admin, "web", "registry.example.com/web:1",
                     extra={"environment": [{"name": "API_KEY", "value": "first-secret"}]})
    second = register(admin, "web", "registry.example.com/web:2", memory=32,
                      extra={"environment": [{"name": "API_KEY", "value": "second-secret"},
                                             {"name": "FLAG", "value": "1"}]})
    admin.create_service(cluster="alpha", serviceName="web", taskDefinition=first, desiredCount=0)
    provider = make_provider(clusters=["alpha"])
    provider.connect()
    web = provider.snapshot().service("alpha/web")
    assert web is not None
    with pytest.raises(NoPreviousRevision):
        provider.revisions_diff(web)
    assert main(["--config", write_config(), "diff", "aws/alpha/web"]) == 2
    assert "no earlier revision of web is known for alpha/web" in capsys.readouterr().err
    admin.update_service(cluster="alpha", service="web", taskDefinition=second)
    web = provider.snapshot().service("alpha/web")
    assert web is not None
    found = provider.revisions_diff(web)
    assert (found.from_label, found.to_label) == ("web:1", "web:2")
    changes = {change.field: change for change in found.changes}
    assert list(changes) == ["image", "env", "resources"]
    assert (changes["env"].before, changes["env"].after) == ("API_KEY=(value)", "FLAG, API_KEY=(value changed)")
    assert '"memory": 16' in changes["resources"].before and '"memory": 32' in changes["resources"].after
    assert "secret" not in repr(found)
    plan = provider.plan(Action.ROLLBACK, web)
    assert plan.detail.startswith("task definition web:2 -> web:1: image, env, resources; from ")
