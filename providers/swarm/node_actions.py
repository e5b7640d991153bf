"""Node availability on Swarm: cordon (pause: no new tasks), uncordon (active) and drain (its tasks move off),
each a node update carrying the version it was planned from, as `docker node update --availability` sends."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from pilothouse.providers.base import Action, MutationPlan
from pilothouse.providers.errors import InvalidInput, NotSupported
from pilothouse.providers.model import Node
from pilothouse.providers.swarm.raw import Raw, as_dict, as_int, as_str

if TYPE_CHECKING:
    from docker.api.client import APIClient

AVAILABILITY = {Action.CORDON: "pause", Action.UNCORDON: "active", Action.DRAIN: "drain"}
WHAT_HAPPENS = {
    "pause": "no new tasks are scheduled there; running tasks stay",
    "active": "back in rotation: the scheduler may place tasks there again",
    "drain": "every task on it is stopped and rescheduled on other nodes (global tasks stop)",
}


def refusal(action: Action, node: Node) -> str | None:
    """Nothing to change, in Swarm's words, from the availability the console last saw. A node that is down
    can still be drained: its tasks are rescheduled elsewhere."""
    current = node.raw_availability or node.availability.value
    if action is Action.CORDON and current in ("pause", "drain"):
        return (f"node {node.name} is already {current}: no new tasks go there"
                + ("" if current == "pause" else "; uncordon makes it active"))
    if action is Action.UNCORDON and current == "active":
        return f"node {node.name} is already active; nothing to uncordon"
    if action is Action.DRAIN and current == "drain":
        return f"node {node.name} is already drain: its tasks have been moved off"
    return None


def plan_availability(cluster: str, action: Action, node: Node, live: Raw) -> MutationPlan:
    wanted = AVAILABILITY[action]
    spec = as_dict(live.get("Spec"))
    current = as_str(spec.get("Availability")) or "active"
    if current == wanted:
        raise NotSupported(f"node {node.name} is already {wanted}", "nothing to change")
    version = as_int(as_dict(live.get("Version")).get("Index"))
    return MutationPlan(
        action=action, cluster=cluster, service_ref=node.name, service_id=as_str(live.get("ID")),
        before=f"availability {current}", after=f"availability {wanted}",
        detail=f"docker node update --availability {wanted} {node.name}: {WHAT_HAPPENS[wanted]}",
        payload={"version": version, "spec": copy.deepcopy(dict(spec)), "availability": wanted},
    )


def update_node(client: APIClient, plan: MutationPlan) -> str:
    version, spec = plan.payload.get("version"), dict(as_dict(plan.payload.get("spec")))
    if version is None or not spec:
        raise InvalidInput("the plan carries no node version; plan again")
    spec["Availability"] = plan.payload.get("availability")
    body: Any = spec
    client.update_node(plan.service_id, version, body)
    return f"node {plan.service_ref}: {plan.before} -> {plan.after}"
