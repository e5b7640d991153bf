"""Server-side printing of the API test server: a meta.k8s.io/v1 Table when the client asks for one.

`kubectl get` sends `Accept: application/json;as=Table;v=v1;g=meta.k8s.io,...` and prints the columns the API
server chose; given a plain list it falls back to NAME and AGE only. kube-apiserver's printers (pkg/printers/
internalversion/printers.go) are followed for Deployments and Pods, the columns operators compare with; every
other resource gets the default Name and Created At. Each row carries the object's metadata
(includeObject=Metadata, the default), from which kubectl takes the NAMESPACE column.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

Obj = dict[str, Any]


def wants_table(accept: str) -> bool:
    """The client's first choice is a Table (kubectl get), not a plain object or list."""
    first = accept.split(",")[0].replace(" ", "")
    return "as=Table" in first and "g=meta.k8s.io" in first


def human_duration(seconds: float) -> str:
    """k8s.io/apimachinery/pkg/util/duration.HumanDuration: 45s, 3m20s, 5h, 3d4h, 2y214d."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        return f"{minutes}m" if s % 60 == 0 else f"{minutes}m{s % 60}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        return f"{hours}h" if minutes % 60 == 0 else f"{hours}h{minutes % 60}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{hours // 24}d" if hours % 24 == 0 else f"{hours // 24}d{hours % 24}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        return f"{hours // 24 // 365}y" if days == 0 else f"{hours // 24 // 365}y{days}d"
    return f"{hours // 24 // 365}y"


def _age(obj: Obj) -> str:
    stamp = (obj.get("metadata") or {}).get("creationTimestamp")
    if not stamp:
        return "<unknown>"
    created = datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
    return human_duration((datetime.now(UTC) - created).total_seconds())


def _column(name: str, kind: str = "string", priority: int = 0, fmt: str = "") -> Obj:
    return {"name": name, "type": kind, "format": fmt, "description": name, "priority": priority}


def _pod_cells(pod: Obj) -> list[Any]:
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    containers = status.get("containerStatuses") or []
    ready = sum(1 for c in containers if c.get("ready"))
    restarts = sum(int(c.get("restartCount") or 0) for c in containers)
    reason = status.get("reason") or status.get("phase") or ""
    for c in reversed(containers):  # the printer's order: a waiting or terminated container names the state
        state = c.get("state") or {}
        if (state.get("waiting") or {}).get("reason"):
            reason = state["waiting"]["reason"]
        elif (state.get("terminated") or {}).get("reason"):
            reason = state["terminated"]["reason"]
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        reason = "Terminating"
    last = max((str(((c.get("lastState") or {}).get("terminated") or {}).get("finishedAt") or "")
                for c in containers), default="")
    restarts_text = str(restarts)
    if restarts and last:
        since = datetime.now(UTC) - datetime.fromisoformat(last.replace("Z", "+00:00"))
        restarts_text = f"{restarts} ({human_duration(since.total_seconds())} ago)"
    gates = spec.get("readinessGates") or []
    return [pod["metadata"]["name"], f"{ready}/{len(spec.get('containers') or [])}", reason, restarts_text,
            _age(pod), status.get("podIP") or "<none>", spec.get("nodeName") or "<none>",
            status.get("nominatedNodeName") or "<none>", f"0/{len(gates)}" if gates else "<none>"]


def _deployment_cells(dep: Obj) -> list[Any]:
    spec, status = dep.get("spec") or {}, dep.get("status") or {}
    containers = ((spec.get("template") or {}).get("spec") or {}).get("containers") or []
    selector = (spec.get("selector") or {}).get("matchLabels") or {}
    return [dep["metadata"]["name"], f"{int(status.get('readyReplicas') or 0)}/{int(spec.get('replicas', 1))}",
            int(status.get("updatedReplicas") or 0), int(status.get("availableReplicas") or 0), _age(dep),
            ",".join(c.get("name", "") for c in containers), ",".join(c.get("image", "") for c in containers),
            ",".join(f"{k}={v}" for k, v in sorted(selector.items())) or "<none>"]


COLUMNS: dict[str, list[Obj]] = {
    "pods": [_column("Name", fmt="name"), _column("Ready"), _column("Status"), _column("Restarts"),
             _column("Age"), _column("IP", priority=1), _column("Node", priority=1),
             _column("Nominated Node", priority=1), _column("Readiness Gates", priority=1)],
    "deployments": [_column("Name", fmt="name"), _column("Ready"), _column("Up-to-date", "integer"),
                    _column("Available", "integer"), _column("Age"), _column("Containers", priority=1),
                    _column("Images", priority=1), _column("Selector", priority=1)],
}
DEFAULT_COLUMNS = [_column("Name", fmt="name"), _column("Created At", "date")]


def _cells(resource: str, obj: Obj) -> list[Any]:
    if resource == "pods":
        return _pod_cells(obj)
    if resource == "deployments":
        return _deployment_cells(obj)
    return [obj["metadata"]["name"], (obj.get("metadata") or {}).get("creationTimestamp", "")]


def table(resource: str, items: list[Obj], list_metadata: Obj) -> Obj:
    """The Table kube-apiserver answers for a list (or, with one item, a get) of `resource`."""
    rows = [{"cells": _cells(resource, item), "object": {
        "kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": item.get("metadata") or {},
    }} for item in items]
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": list_metadata,
            "columnDefinitions": COLUMNS.get(resource, DEFAULT_COLUMNS), "rows": rows}
