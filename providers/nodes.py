"""Nodes as the operator asks about them: which tasks run on one, which were lost or rescheduled from it,
what its events say. Derived from a snapshot (no I/O, no Textual), shared by the node screens and
`pilothouse nodes`."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pilothouse.providers.model import Availability, Cluster, Event, Node, NodeStatus, Service, Task, TaskState


@dataclass(frozen=True, slots=True)
class Placed:
    service: Service
    task: Task


def task_counts(cluster: Cluster) -> Counter[str]:
    """node id -> tasks meant to run there (one pass over every task)."""
    counts: Counter[str] = Counter()
    for service in cluster.services:
        for task in service.tasks:
            if task.desired_state is TaskState.RUNNING and task.node_id:
                counts[task.node_id] += 1
    return counts


def ordered_nodes(nodes: Sequence[Node]) -> list[Node]:
    """Troubled nodes first: down, then not known to be ready, then draining or cordoned; else as listed."""
    def trouble(node: Node) -> int:
        if node.status is NodeStatus.DOWN:
            return 0
        if node.status is not NodeStatus.READY:
            return 1
        return 2 if node.availability is not Availability.ACTIVE else 3

    return sorted(nodes, key=trouble)


def find_node(cluster: Cluster, name: str) -> Node | None:
    for node in cluster.nodes:
        if name in (node.name, node.id):
            return node
    return None


def node_tasks(cluster: Cluster, node: Node) -> list[Placed]:
    """The tasks meant to run on the node, by service then slot."""
    placed = [Placed(service, task) for service in cluster.services for task in service.tasks
              if task.node_id == node.id and task.desired_state is TaskState.RUNNING]
    placed.sort(key=lambda item: (item.service.ref, item.task.slot if item.task.slot is not None else -1,
                                  item.task.id))
    return placed


def lost_tasks(cluster: Cluster, node: Node) -> list[Placed]:
    """Tasks the node lost: the stopped or failed ones the snapshot still holds (what the orchestrator
    keeps of a task's history), and, while the node is down, the ones still assigned to it (the manager
    cannot hear from them; the orchestrator reschedules them elsewhere). Newest first."""
    down = node.status is NodeStatus.DOWN
    lost = [Placed(service, task) for service in cluster.services for task in service.tasks
            if task.node_id == node.id and (task.desired_state is not TaskState.RUNNING
                                            or task.state in (TaskState.STOPPED, TaskState.FAILED) or down)]
    lost.sort(key=_when, reverse=True)
    return lost


def _when(item: Placed) -> float:
    moment = item.task.stopped or item.task.started
    return moment.timestamp() if moment else 0.0


def node_events(cluster: Cluster, node: Node) -> list[Event]:
    """Events about the node itself, newest first ("node worker-1", "container instance i-0ab...")."""
    names = {node.name, node.id} - {""}
    found = [event for event in cluster.events
             if any(event.object == name or event.object.endswith(f" {name}") for name in names)]
    found.sort(key=lambda event: event.time, reverse=True)
    return found


def node_dict(node: Node, tasks: int) -> dict[str, Any]:
    """One node as `pilothouse nodes --json` prints it."""
    data: dict[str, Any] = {
        "name": node.name, "state": node.state_word, "availability": node.availability_word, "role": node.role,
        "version": node.version, "tasks": tasks, "conditions": list(node.conditions),
        "since": node.since.isoformat() if node.since else None,
    }
    if node.message:
        data["message"] = node.message
    # ECS container instances only: the agent and what is left to place tasks on.
    for key, value in (("agent_connected", node.agent_connected), ("cpu_remaining", node.cpu_remaining),
                       ("cpu_registered", node.cpu_registered),
                       ("memory_remaining_mib", node.memory_remaining_mib),
                       ("memory_registered_mib", node.memory_registered_mib)):
        if value is not None:
            data[key] = value
    return data


def resources_text(node: Node) -> str:
    """`cpu 512/1024 free · memory 1536/2048 MiB free` for a container instance; "" elsewhere."""
    parts = []
    if node.cpu_remaining is not None:
        total = f"/{node.cpu_registered}" if node.cpu_registered is not None else ""
        parts.append(f"cpu {node.cpu_remaining}{total} free")
    if node.memory_remaining_mib is not None:
        total = f"/{node.memory_registered_mib}" if node.memory_registered_mib is not None else ""
        parts.append(f"memory {node.memory_remaining_mib}{total} MiB free")
    return " · ".join(parts)
