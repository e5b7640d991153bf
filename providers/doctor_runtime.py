"""The doctor's rules on what runs rather than what the spec says: image drift and zone spread.

Both judge a service's running tasks against each other and the cluster's nodes, the same way on every
orchestrator; the words and the fixes come from the provider's DoctorAdvice, like every rule's.
Nothing is judged during a rollout: old and new tasks differ, and sit where the update put them, on purpose.

- image-drift: running tasks of one service whose containers run different images for the same reference
  (Task.images: Kubernetes imageID, ECS imageDigest, a Swarm spec's pinned digest or a node engine's answer),
  references normalised (image_reference.py) and digests compared with digests, engine ids with ids. Where the
  spec leaves the tag unpinned on several nodes (ContainerSpec.image_pinned False: a Swarm service the manager
  did not resolve) and some task does not say what it runs, or says it in words not comparable with the
  others', the weaker finding, naming the node engines that could not be read and why (Task.unread).
- single-zone: a replicated service with two or more running tasks, all on one node, or (zones known for
  every one of them) all in one zone, while the cluster has ready nodes elsewhere (a one-node or one-zone
  cluster is capacity to add, not a service to mend). A service held to one node on purpose (Service.pinned_to)
  is left alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace

from pilothouse.providers.advice import DoctorAdvice, Verdict
from pilothouse.providers.image_reference import reference_key
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

__all__ = ["Drift", "Placement", "Spread", "runtime_verdicts"]

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


def find_drift(service: Service, advice: DoctorAdvice, tasks: list[Task]) -> list[Drift]:
    """References are grouped normalised (`nginx` is `docker.io/library/nginx:latest`); digests are compared
    with digests and engine image ids with ids only: one node's registry digest and another's local image id
    say nothing about each other (that is `_cannot_tell`'s case)."""
    # The common case (one digest per reference) in one pass at C speed; names only for a drift found.
    pairs = {(reference_key(image.reference), image.digest) for task in tasks for image in task.images
             if image.digest and image.reference}
    if len(pairs) == len({key for key, _digest in pairs}):
        return []
    by_reference: dict[str, dict[str, tuple[RunningImage, list[Task]]]] = {}
    for task in tasks:
        for image in task.images:
            if not image.digest or not image.reference:
                continue
            groups = by_reference.setdefault(reference_key(image.reference), {})
            entry = groups.setdefault(image.digest, (image, []))
            entry[1].append(task)
    drifts = []
    for groups in by_reference.values():
        alike = _alike(list(groups.values()))
        if len(alike) < 2:
            continue
        ordered = sorted(alike, key=lambda entry: (-len(entry[1]), entry[0].digest))
        majority = ordered[0][0]
        drifts.append(Drift(majority.reference, majority.container, tuple(
            (image, tuple(sorted(advice.task_name(service, task) for task in tasks))) for image, tasks in ordered)))
    return drifts


def _alike(groups: list[tuple[RunningImage, list[Task]]]) -> list[tuple[RunningImage, list[Task]]]:
    """The groups that can be compared: the repository digests when they differ, else the engine ids."""
    digests = [group for group in groups if group[0].pinnable]
    if len(digests) >= 2:
        return digests
    return [group for group in groups if not group[0].pinnable]


def _cannot_tell(container: ContainerSpec, tasks: list[Task], drifted: set[str]) -> str | None:
    """The weaker finding's evidence ("" when none to add), or None for no finding: the spec leaves the tag to
    each node, several nodes run it, no drift is proven, and some task does not say what it runs (or says it
    in words that cannot be compared with the others')."""
    if container.image_pinned is not False or len({task.node_id for task in tasks}) < 2:
        return None
    key = reference_key(container.image)
    if key in drifted:
        return None
    told = {task.id: image for task in tasks for image in task.images
            if image.digest and reference_key(image.reference) == key}
    mixed = len({image.pinnable for image in told.values()}) > 1
    if len(told) == len(tasks) and not mixed:
        return None
    evidence = []
    unread: dict[str, set[str]] = {}
    for task in tasks:
        if task.id not in told and task.unread:
            unread.setdefault(task.unread, set()).add(task.node_name or task.node_id)
    if unread:
        by_node = sorted((sorted(nodes), reason) for reason, nodes in unread.items())
        evidence.append("node engines not read: " + ", ".join(
            f"{', '.join(nodes)} ({reason})" for nodes, reason in by_node))
    if mixed:
        only_ids = sorted({task.node_name or task.node_id for task in tasks
                           if task.id in told and not told[task.id].pinnable})
        evidence.append(f"only a local image id on {', '.join(only_ids)}, a registry digest elsewhere: "
                        "not comparable")
    return "; ".join(evidence)


@dataclass(frozen=True, slots=True)
class Placement:
    """The cluster's nodes as the spread rule needs them, made once per cluster (not per service)."""

    by_id: dict[str, Node]
    ready_machines: frozenset[str]  # ready nodes that are machines, not zones
    ready_zones: frozenset[str]  # zones of ready nodes, where known
    zone_key: str = ""

    @staticmethod
    def of(cluster: Cluster) -> Placement:
        ready = [node for node in cluster.nodes if node.status is NodeStatus.READY]
        return Placement({node.id: node for node in cluster.nodes},
                         frozenset(node.id for node in ready if node.role != ZONE_ROLE),
                         frozenset(node.zone for node in ready if node.zone), cluster.zone_key)


def find_spread(placement: Placement, service: Service, tasks: list[Task]) -> Spread | None:
    if service.mode is not ServiceMode.REPLICATED or service.pinned_to:
        return None
    if len(tasks) < 2:
        return None
    node_ids = {task.node_id for task in tasks}
    placed = [placement.by_id.get(node_id) for node_id in node_ids]
    if len(node_ids) == 1 and (placed[0] is None or placed[0].role != ZONE_ROLE):
        node_id = next(iter(node_ids))
        if not placement.ready_machines - {node_id}:
            return None  # the cluster's only node: capacity to add, not the service's placement to mend
        node = placed[0]
        return Spread("node", node.name if node else tasks[0].node_name or node_id, len(tasks))
    zones = {_zone(node) for node in placed}
    if len(zones) == 1 and "" not in zones:
        zone = next(iter(zones))
        # Zones that stand for themselves (Fargate) are known only where tasks run: other zones cannot be told.
        fargate = all(node is not None and node.role == ZONE_ROLE for node in placed)
        if not fargate and not placement.ready_zones - {zone}:
            return None  # every ready node is in that zone: a cluster to spread, not a service
        return Spread("zone", zone, len(tasks))
    return None


def _zone(node: Node | None) -> str:
    return node.zone if node is not None else ""


def runtime_verdicts(placement: Placement, service: Service,
                     advice: DoctorAdvice) -> Iterator[tuple[str, Verdict, str]]:
    """(rule, verdict, container) of the runtime rules for one service; `placement`: Placement.of(cluster)."""
    if service.rollout.active:
        return
    tasks = running_tasks(service)
    drifted: set[str] = set()
    for drift in find_drift(service, advice, tasks):
        drifted.add(reference_key(drift.reference))
        yield "image-drift", advice.image_drift(service, drift), drift.container
    for container in service.containers:
        evidence = _cannot_tell(container, tasks, drifted)
        if evidence is not None:
            verdict = advice.unpinned_image(service, container)
            if verdict is not None:
                yield "image-drift", replace(verdict, why=f"{verdict.why}; {evidence}") if evidence else verdict, \
                    container.name
    spread = find_spread(placement, service, tasks)
    if spread is not None:
        verdict = advice.single_zone(service, spread, placement.zone_key)
        if verdict is not None:
            yield "single-zone", verdict, ""
