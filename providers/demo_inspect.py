"""Inspect for the demo fleet: the simulated objects written out the way their orchestrator would be asked
(YAML for Swarm and Kubernetes, JSON for ECS), from the model, masked by the same rule as real clusters."""

from __future__ import annotations

import dataclasses
from typing import Any

from pilothouse.providers.errors import NotFound
from pilothouse.providers.inspect import InspectResult, InspectTarget, TargetKind, plain, render
from pilothouse.providers.model import Cluster, ClusterKind


def demo_inspect(cluster: Cluster, target: InspectTarget) -> InspectResult:
    fmt = "json" if cluster.kind is ClusterKind.ECS else "yaml"
    body: Any = None
    if target.kind is TargetKind.NODE:
        node = next((node for node in cluster.nodes if node.id == target.object_id), None)
        title, body = f"node {node.name if node else target.object_id}", node and dataclasses.asdict(node)
    else:
        service = next((service for service in cluster.services if service.id == target.service_id), None)
        if service is not None and target.kind is TargetKind.TASK:
            task = next((task for task in service.tasks if task.id == target.object_id), None)
            title, body = f"task {target.object_id}", task and dataclasses.asdict(task)
        else:
            title = f"{service.workload_kind if service else 'service'} {target.service_ref}"
            if service is not None:
                body = {key: value for key, value in dataclasses.asdict(service).items() if key != "tasks"}
    if not body:
        raise NotFound(f"{title} is not in the demo fleet")
    return render(title, plain(body), fmt)
