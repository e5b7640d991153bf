"""Kubernetes in its own words: pods, nodes NotReady or cordoned (SchedulingDisabled, as kubectl prints it),
DaemonSets, restarts."""

from __future__ import annotations

from pilothouse.providers.vocabulary import RESTARTS, Vocabulary

# A cordoned node is Availability.PAUSE in the model (no new pods; running ones stay); nothing drains a
# Kubernetes node but `kubectl drain` itself, which cordons then evicts.
KUBERNETES_WORDS = Vocabulary(
    orchestrator="Kubernetes", task="pod", tasks="pods", node="node", nodes="nodes",
    service="workload", services="workloads", running="ready",
    state_label="status", state_column="STATUS", desired_label="desired", error_label="message", error_column="MESSAGE",
    task_extras=(RESTARTS,),
    node_ready="Ready", node_down="NotReady", node_unknown="Unknown",
    drain="SchedulingDisabled", pause="SchedulingDisabled", state_separator=",",
    global_mode="DaemonSet",
    global_scale_hint="change its nodeSelector, affinity or tolerations to change where it runs",
)
