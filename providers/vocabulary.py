"""How an orchestrator names its things: the words every screen and CLI output uses for it.

Each provider class carries one (`Provider.VOCABULARY`); the console finds a cluster's by its kind through
the registry (`registry.vocabulary_for`), so a plugin's fourth orchestrator is shown in its own words without
any change above providers/. This base is the plain, generic wording a provider that brings none gets.
Pure data and small pure functions: no Textual, no SDK.
"""

from __future__ import annotations

from dataclasses import dataclass

from pilothouse.providers.model import Availability, Node, NodeStatus, Service, Task

# Optional task columns a vocabulary may ask for, beside task, node, state, health, version, age, error.
SLOT = "slot"
RESTARTS = "restarts"
DESIRED = "desired"
TASK_EXTRAS = frozenset({SLOT, RESTARTS, DESIRED})


@dataclass(frozen=True, slots=True)
class Vocabulary:
    """Words, singular and plural, and labels. Every field has a generic default."""

    orchestrator: str = ""  # as operators name it: "Kubernetes", "Docker Swarm", "AWS ECS" ("" = the kind)
    task: str = "task"
    tasks: str = "tasks"
    node: str = "node"
    nodes: str = "nodes"
    service: str = "service"
    services: str = "services"
    running: str = "running"  # what a task meant to run is when it does: "ready" for pods
    # Task table and task detail labels.
    state_label: str = "state"  # the orchestrator's own state word: status, current state, lastStatus
    state_column: str = "STATE"  # its column header: STATUS, CURRENT STATE, LAST STATUS
    desired_label: str = "desired state"
    desired_column: str = "DESIRED"
    error_label: str = "error"  # a stopped task's reason: "stoppedReason" on ECS
    error_column: str = "ERROR"
    node_column: str = "NODE"  # short enough for a column: INSTANCE for an ECS container instance
    restarts_label: str = "restarts"
    slot_label: str = "slot"
    # Extra task columns, in order (SLOT, RESTARTS, DESIRED): what operators of this orchestrator look for.
    task_extras: tuple[str, ...] = ()
    # Node states and availability as the orchestrator prints them.
    node_ready: str = "ready"
    node_down: str = "down"
    node_unknown: str = "unknown"
    drain: str = "drain"  # not taking new tasks: Drain, SchedulingDisabled (cordoned), DRAINING
    pause: str = "pause"
    # Between a node's status and its availability: kubectl prints "Ready,SchedulingDisabled".
    state_separator: str = " "
    # A service that runs one task per node, and how the operator changes what it runs.
    global_mode: str = "global service"
    global_scale_hint: str = "it runs wherever it may; change where it may run instead"

    def name(self, kind: str) -> str:
        return self.orchestrator or kind

    def count(self, number: int, singular: str, plural: str) -> str:
        return f"{number} {singular if number == 1 else plural}"

    def task_count(self, number: int) -> str:
        return self.count(number, self.task, self.tasks)

    def node_count(self, number: int) -> str:
        return self.count(number, self.node, self.nodes)

    def service_count(self, number: int) -> str:
        return self.count(number, self.service, self.services)

    def node_status(self, status: NodeStatus) -> str:
        return {NodeStatus.READY: self.node_ready, NodeStatus.DOWN: self.node_down}.get(status, self.node_unknown)

    def availability(self, availability: Availability) -> str:
        """"" while the node takes new tasks."""
        return {Availability.DRAIN: self.drain, Availability.PAUSE: self.pause}.get(availability, "")

    def node_condition(self, node: Node) -> str:
        """The node's status word (NotReady, Down, INACTIVE); a provider may say more from the node itself."""
        return self.node_status(node.status)

    def node_state(self, node: Node) -> str:
        """`NotReady`, `Ready,SchedulingDisabled`, `ACTIVE DRAINING`: status then availability."""
        extra = self.availability(node.availability)
        status = self.node_condition(node)
        return f"{status}{self.state_separator}{extra}" if extra else status

    def task_state(self, task: Task) -> str:
        """The orchestrator's own word when the provider kept it, else the normalised state."""
        return task.raw_state or task.state.value

    def glossary(self, kind: str) -> str:
        """One line saying how this orchestrator's clusters are shown: help's glossary."""
        return (f"{self.name(kind)}: {self.services} run {self.tasks} on {self.nodes}; a {self.node} is "
                f"{self.node_ready}, {self.node_down} or {self.node_unknown}, {self.drain} when it takes no new "
                f"{self.tasks}; {self.tasks} show {self.state_label}; one {self.task} per {self.node}: "
                f"{self.global_mode}")

    def scale_refusal(self, service: Service) -> str:
        """Why a service that runs one task per node cannot be scaled, in this orchestrator's words."""
        return (f"{service.ref} is a {self.global_mode}: it runs one {self.task} per {self.node} and cannot "
                f"be scaled; {self.global_scale_hint}")


GENERIC = Vocabulary()
