"""Docker Swarm in its own words: tasks in slots, nodes Ready or Down, availability Active/Pause/Drain,
global services."""

from __future__ import annotations

from pilothouse.providers.vocabulary import SLOT, Vocabulary

SWARM_WORDS = Vocabulary(
    orchestrator="Docker Swarm", task="task", tasks="tasks", node="node", nodes="nodes",
    service="service", services="services", running="running",
    state_label="current state", state_column="CURRENT STATE", desired_label="desired state", error_label="error",
    task_extras=(SLOT,),
    node_ready="Ready", node_down="Down", node_unknown="Unknown", drain="Drain", pause="Pause",
    global_mode="global service",
    global_scale_hint="change its placement constraints to change where it runs",
)
