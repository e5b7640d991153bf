"""The unified model as plain JSON-ready dicts: the `status --json` contract.

Env values are never exported (they may hold credentials); only their names are.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pilothouse.providers.attention import NOTHING, Attention
from pilothouse.providers.model import Autoscaler, Cluster, Missing, Node, Service, Task


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def node_dict(node: Node) -> dict[str, Any]:
    return {
        "id": node.id, "name": node.name, "role": node.role, "status": node.status.value,
        "availability": node.availability.value, "zone": node.zone, "version": node.version,
        "message": node.message,
    }


def task_dict(task: Task) -> dict[str, Any]:
    return {
        "id": task.id, "node": task.node_name or task.node_id, "node_id": task.node_id, "slot": task.slot,
        "state": task.state.value, "desired_state": task.desired_state.value, "raw_state": task.raw_state,
        "health": task.health.value, "version": task.version, "started": _time(task.started),
        "stopped": _time(task.stopped), "exit_code": task.exit_code, "restarts": task.restarts, "error": task.error,
    }


def attention_dict(attention: Attention) -> dict[str, Any]:
    return {"level": attention.level.value, "reasons": attention.texts()}


def missing_dict(gap: Missing) -> dict[str, Any]:
    return {"what": gap.what, "reason": gap.reason, "since": _time(gap.since), "part": gap.part,
            "shown_from": _time(gap.shown_from)}


def service_dict(service: Service, attention: Attention = NOTHING) -> dict[str, Any]:
    rollout = service.rollout
    # Tasks that could not be read are null, never [] and zero health: a script must not read "none".
    known = service.tasks_known
    return {
        "id": service.id, "name": service.name, "ref": service.ref, "namespace": service.namespace,
        "kind": service.workload_kind, "image": service.image, "version": service.version,
        "mode": service.mode.value, "desired": service.desired, "running": service.running,
        "pending": service.pending,
        "health": {"healthy": service.health.healthy, "unhealthy": service.health.unhealthy,
                   "starting": service.health.starting} if known else None,
        "rollout": {"state": rollout.state.value, "updated": rollout.updated if rollout.updated_known else None,
                    "total": rollout.total,
                    "message": rollout.message, "from": rollout.from_version, "to": rollout.to_version,
                    "started": _time(rollout.started)},
        "update_policy": service.update_policy.summary(),
        "networks": list(service.networks), "ports": list(service.ports),
        "reachability": [{"via": front.via, "ready": front.ready, "total": front.total, "word": front.word,
                          "reasons": list(front.reasons)} for front in service.reachability],
        "tasks": [task_dict(task) for task in service.tasks] if known else None,
        "tasks_known": known, "observed": _time(service.observed), "stale": service.stale,
        "attention": attention_dict(attention),
        "autoscaler": autoscaler_dict(service.autoscaler),
    }


def autoscaler_dict(autoscaler: Autoscaler | None) -> dict[str, Any] | None:
    if autoscaler is None:
        return None
    return {"kind": autoscaler.kind, "name": autoscaler.name, "min": autoscaler.min, "max": autoscaler.max,
            "current": autoscaler.current, "desired": autoscaler.desired, "metrics": autoscaler.metrics,
            "conditions": list(autoscaler.conditions), "target": autoscaler.target or None}


def cluster_dict(cluster: Cluster, attention: dict[str, Attention] | None = None) -> dict[str, Any]:
    found = attention or {}
    return {
        "name": cluster.name, "kind": cluster.kind.value, "reachable": cluster.reachable,
        "state": cluster.state.value, "error": cluster.error or None, "last_sync": _time(cluster.last_sync),
        "complete": cluster.complete, "missing": [missing_dict(gap) for gap in cluster.missing],
        "demo": cluster.demo, "endpoint": cluster.endpoint, "forbidden": list(cluster.forbidden),
        "scope": cluster.scope or None, "needs_login": cluster.needs_login,
        "nodes": [node_dict(node) for node in cluster.nodes],
        "stray_autoscalers": [autoscaler_dict(stray) for stray in cluster.stray_autoscalers],
        "services": [service_dict(service, found.get(service.id, NOTHING)) for service in cluster.services],
    }


def fleet_dict(clusters: list[Cluster], attention: dict[str, dict[str, Attention]] | None = None) -> dict[str, Any]:
    """`attention`: cluster name -> service id -> attention; a service missing from it needs none."""
    every = attention or {}
    return {"clusters": [cluster_dict(cluster, every.get(cluster.name)) for cluster in clusters]}
