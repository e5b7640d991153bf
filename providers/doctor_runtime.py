"""The doctor's rules on what runs rather than what the spec says: image drift and zone spread.

Both judge a service's running tasks against each other and the cluster's nodes, the same way on every
orchestrator; the words and the fixes come from the provider's DoctorAdvice, like every rule's.
Nothing is judged during a rollout: old and new tasks differ, and sit where the update put them, on purpose.

- image-drift: running tasks of one service whose containers run different images for the same reference
  (Task.images: Kubernetes imageID, ECS imageDigest, a Swarm spec's pinned digest or a node engine's answer);
  where no task says what it runs and the spec leaves the tag unpinned on several nodes (ContainerSpec.
  image_pinned False: a Swarm service the manager did not resolve), the weaker finding.
- single-zone: a replicated service with two or more running tasks, all on one node, or (zones known for
  every one of them) all in one zone, while the cluster has ready nodes elsewhere (a one-node or one-zone
  cluster is capacity to add, not a service to mend). A service held to one node on purpose (Service.pinned_to)
  is left alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from pilothouse.providers.advice import DoctorAdvice, Verdict
from pilothouse.providers.model import (
    Cluster,
    ContainerSpec,
    Node,
    NodeStatus,
    RunningImage,
    Service,
    ServiceMode,
    Task,
    TaskState,
)

__all__ = ["Drift", "Spread", "runtime_verdicts"]

# A task counts once it runs and is meant to: pending and stopping ones are moving.
_RUNNING = frozenset({TaskState.RUNNING})
# Nodes that stand for a zone (ECS Fargate tasks are placed on their availability zone).
ZONE_ROLE = "zone"


@dataclass(frozen=True, slots=True)
class Drift:
    """One image reference running as several images: digest -> the task names running it, most first."""

    reference: str
    container: str
    groups: tuple[tuple[RunningImage, tuple[str, ...]], ...]

    def majority(self) -> RunningImage:
        return self.groups[0][0]


@dataclass(frozen=True, slots=True)
class Spread:
    """Where every running replica of a service is."""

    scope: str  # "node" or "zone"
    where: str  # the node's or zone's name
    replicas: int


def running_tasks(service: Service) -> list[Task]:
    return [task for task in service.tasks if task.state in _RUNNING and task.desired_state is TaskState.RUNNING]


def find_drift(service: Service, advice: DoctorAdvice) -> list[Drift]:
    by_reference: dict[str, dict[str, tuple[RunningImage, list[str]]]] = {}
    for task in running_tasks(service):
        for image in task.images:
            if not image.digest or not image.reference:
                continue
            groups = by_reference.setdefault(image.reference, {})
            entry = groups.setdefault(image.digest, (image, []))
            entry[1].append(advice.task_name(service, task))
    drifts = []
    for reference, groups in by_reference.items():
        if len(groups) < 2:
            continue
        ordered = sorted(groups.values(), key=lambda entry: (-len(entry[1]), entry[0].digest))
        drifts.append(Drift(reference, ordered[0][0].container,
                            tuple((image, tuple(sorted(names))) for image, names in ordered)))
    return drifts


def _unpinned(service: Service, container: ContainerSpec) -> bool:
    """The spec leaves the tag to each node, several nodes run it, and no task says what it really runs."""
    if container.image_pinned is not False:
        return False
    tasks = running_tasks(service)
    if len({task.node_id for task in tasks}) < 2:
        return False
    reference = container.image
    return not any(image.digest for task in tasks for image in task.images if image.reference == reference)


def find_spread(cluster: Cluster, service: Service) -> Spread | None:
    if service.mode is not ServiceMode.REPLICATED or service.pinned_to:
        return None
    tasks = running_tasks(service)
    if len(tasks) < 2:
        return None
    nodes = {node.id: node for node in cluster.nodes}
    placed = [nodes.get(task.node_id) for task in tasks]
    ready = [node for node in cluster.nodes if node.status is NodeStatus.READY]
    machines = {task.node_id for task, node in zip(tasks, placed, strict=True)
                if node is None or node.role != ZONE_ROLE}
    if len(machines) == 1 and len(machines) == len({task.node_id for task in tasks}):
        node_id = next(iter(machines))
        node = nodes.get(node_id)
        if not any(n.role != ZONE_ROLE and n.id != node_id for n in ready):
            return None  # the cluster's only node: capacity to add, not the service's placement to mend
        return Spread("node", node.name if node else tasks[0].node_name or node_id, len(tasks))
    zones = {_zone(node) for node in placed}
    if len(zones) == 1 and "" not in zones:
        zone = next(iter(zones))
        # Zones that stand for themselves (Fargate) are known only where tasks run: other zones cannot be told.
        fargate = all(node is not None and node.role == ZONE_ROLE for node in placed)
        if not fargate and not any(_zone(n) and _zone(n) != zone for n in ready):
            return None  # every ready node is in that zone: a cluster to spread, not a service
        return Spread("zone", zone, len(tasks))
    return None


def _zone(node: Node | None) -> str:
    return node.zone if node is not None else ""


def runtime_verdicts(cluster: Cluster, service: Service,
                     advice: DoctorAdvice) -> Iterator[tuple[str, Verdict, str]]:
    """(rule, verdict, container) of the runtime rules for one service."""
    if service.rollout.active:
        return
    for drift in find_drift(service, advice):
        yield "image-drift", advice.image_drift(service, drift), drift.container
    for container in service.containers:
        if _unpinned(service, container):
            verdict = advice.unpinned_image(service, container)
            if verdict is not None:
                yield "image-drift", verdict, container.name
    spread = find_spread(cluster, service)
    if spread is not None:
        verdict = advice.single_zone(service, spread, cluster.zone_key)
        if verdict is not None:
            yield "single-zone", verdict, ""
