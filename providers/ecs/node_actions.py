"""Container instance state on ECS: drain (DRAINING: its service tasks are replaced elsewhere, no new ones
placed) and back to ACTIVE, through UpdateContainerInstancesState. ECS has no cordon that leaves tasks running."""

from __future__ import annotations

from pilothouse.providers.base import Action, MutationPlan
from pilothouse.providers.ecs.client import AwsClients
from pilothouse.providers.ecs.raw import as_str, dicts
from pilothouse.providers.errors import NotFound, NotSupported
from pilothouse.providers.model import Node

STATE = {Action.DRAIN: "DRAINING", Action.UNCORDON: "ACTIVE"}
CORDON_REFUSAL = ("ECS has no cordon that keeps tasks running: DRAINING (drain) stops placing tasks and moves "
                  "the service tasks off")


def refusal(action: Action, node: Node) -> str | None:
    """CORDON never applies; otherwise nothing to change, from the status the console last saw."""
    if action is Action.CORDON:
        return CORDON_REFUSAL
    status = (node.raw_availability or node.raw_state).upper()
    if action is Action.DRAIN and status == "DRAINING":
        return f"container instance {node.name} is already DRAINING"
    if action is Action.UNCORDON and status == "ACTIVE":
        return f"container instance {node.name} is already ACTIVE; nothing to undo"
    if status == "INACTIVE":
        return f"container instance {node.name} is INACTIVE (deregistered): ECS takes no state change for it"
    return None


def plan_state(api: AwsClients, cluster_name: str, action: Action, node: Node) -> MutationPlan:
    ecs_cluster = node.labels.get("ecs cluster", "")
    answer = api.call("describe_container_instances", cluster=ecs_cluster, containerInstances=[node.id])
    found = dicts(answer.get("containerInstances"))
    if not found:
        raise NotFound(f"container instance {node.name} not found in ECS cluster {ecs_cluster}", "refresh")
    current, wanted = as_str(found[0].get("status")).upper(), STATE[action]
    if current == wanted:
        raise NotSupported(f"container instance {node.name} is already {wanted}", "nothing to change")
    return MutationPlan(
        action=action, cluster=cluster_name, service_ref=node.name, service_id=node.id,
        before=current, after=wanted,
        detail=("aws ecs update-container-instances-state --status DRAINING: service tasks there are replaced "
                "on other instances; no new tasks are placed" if wanted == "DRAINING" else
                "aws ecs update-container-instances-state --status ACTIVE: tasks may be placed there again"),
        payload={"cluster": ecs_cluster, "status": wanted},
    )


def apply_state(api: AwsClients, plan: MutationPlan) -> str:
    answer = api.call("update_container_instances_state", cluster=str(plan.payload.get("cluster", "")),
                      containerInstances=[plan.service_id], status=str(plan.payload.get("status")))
    failures = dicts(answer.get("failures"))
    if failures:
        reason = as_str(failures[0].get("reason")) or "refused"
        raise NotSupported(f"container instance {plan.service_ref}: {reason}")
    return f"container instance {plan.service_ref}: {plan.before} -> {plan.after}"
