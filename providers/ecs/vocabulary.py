"""AWS ECS in its own words: tasks with lastStatus/desiredStatus and stoppedReason, container instances
ACTIVE, INACTIVE or DRAINING, DAEMON services."""

from __future__ import annotations

from dataclasses import dataclass

from pilothouse.providers.model import Node, NodeStatus
from pilothouse.providers.vocabulary import DESIRED, Vocabulary


@dataclass(frozen=True, slots=True)
class EcsVocabulary(Vocabulary):
    def node_condition(self, node: Node) -> str:
        # An ACTIVE container instance whose agent is gone is down without being INACTIVE (mapping.py).
        if node.status is NodeStatus.DOWN and "agent disconnected" in node.message:
            return f"down ({node.message})"
        return Vocabulary.node_condition(self, node)


ECS_WORDS = EcsVocabulary(
    orchestrator="AWS ECS", task="task", tasks="tasks", node="container instance", nodes="container instances",
    service="service", services="services", running="running",
    state_label="lastStatus", state_column="LAST STATUS", desired_label="desiredStatus",
    desired_column="DESIRED", error_label="stoppedReason", error_column="STOPPED REASON", node_column="INSTANCE",
    task_extras=(DESIRED,),
    node_ready="ACTIVE", node_down="INACTIVE", node_unknown="UNKNOWN", drain="DRAINING", pause="DRAINING",
    global_mode="DAEMON service",
    global_scale_hint="it places one task on each container instance; change its placement constraints instead",
)
