"""Cordon and uncordon a Kubernetes node as kubectl does: a strategic merge patch of spec.unschedulable (true;
on uncordon the field removed, which is what kubectl's two-way diff of `false` sends). Drain by eviction is
in drain.py. `refusal` gates the keys by the node's state as the console last saw it; the plan checks again
against the live node."""

from __future__ import annotations

from typing import Any

from pilothouse.providers.base import Action, MutationPlan
from pilothouse.providers.errors import NotSupported
from pilothouse.providers.kubernetes.client import Request
from pilothouse.providers.kubernetes.objects import NODES, _dict, collection_path
from pilothouse.providers.model import Availability, Node


def node_path(name: str) -> str:
    return f"{collection_path(NODES)}/{name}"


def refusal(action: Action, node: Node) -> str | None:
    """Cordon a cordoned node, uncordon a schedulable one: nothing to change. A drain always applies (a cordoned
    or NotReady node may still hold pods to evict)."""
    cordoned = node.availability is not Availability.ACTIVE
    if action is Action.CORDON and cordoned:
        return f"node {node.name} is already cordoned (SchedulingDisabled); uncordon puts it back in rotation"
    if action is Action.UNCORDON and not cordoned:
        return f"node {node.name} is schedulable already; nothing to uncordon"
    return None


def plan_cordon(request: Request, cluster: str, node: Node, *, cordon: bool) -> MutationPlan:
    action = Action.CORDON if cordon else Action.UNCORDON
    live = request("GET", node_path(node.name), doing=f"reading node {node.name}")
    unschedulable = _dict(_dict(live).get("spec")).get("unschedulable") is True
    if unschedulable == cordon:
        raise NotSupported(f"node {node.name} is already {'cordoned' if cordon else 'schedulable'}",
                           "nothing to change")
    return MutationPlan(
        action=action, cluster=cluster, service_ref=node.name, service_id=node.name,
        before="SchedulingDisabled" if unschedulable else "schedulable",
        after="SchedulingDisabled" if cordon else "schedulable",
        detail=(f"kubectl cordon {node.name}: no new pods are scheduled there; running pods stay" if cordon else
                f"kubectl uncordon {node.name}: pods may be scheduled there again"),
        payload={"unschedulable": cordon},
    )


def cordon_patch(cordon: bool) -> dict[str, Any]:
    return {"spec": {"unschedulable": True if cordon else None}}


def apply_cordon(request: Request, plan: MutationPlan) -> str:
    cordon = plan.payload.get("unschedulable") is True
    request("PATCH", node_path(plan.service_ref), body=cordon_patch(cordon),
            content_type="application/strategic-merge-patch+json",
            doing=f"{'cordoning' if cordon else 'uncordoning'} node {plan.service_ref}")
    return f"node {plan.service_ref}: {plan.before} -> {plan.after}"
