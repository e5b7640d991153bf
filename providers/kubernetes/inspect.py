"""`kubectl get -o yaml` for a workload, a pod or a node, read on demand: managedFields dropped, env values of
secret-looking names masked (providers/inspect.py). Secret objects are never read: a secretKeyRef shows the
Secret's name and key, never its data."""

from __future__ import annotations

from typing import Any

from pilothouse.providers.errors import NotFound
from pilothouse.providers.inspect import InspectResult, InspectTarget, TargetKind, render, without_kubernetes_noise
from pilothouse.providers.kubernetes.actions import object_path
from pilothouse.providers.kubernetes.client import Request
from pilothouse.providers.kubernetes.objects import NODES, PODS, WORKLOAD_KINDS, _dict, collection_path


def inspect(request: Request, target: InspectTarget) -> InspectResult:
    if target.kind is TargetKind.NODE:
        path, title = f"{collection_path(NODES)}/{target.object_id}", f"node {target.object_id}"
    elif target.kind is TargetKind.TASK:
        namespace, _, name = target.object_id.partition("/")
        if not namespace or not name:
            raise NotFound(f"{target.object_id!r} is not a pod as NAMESPACE/NAME")
        path, title = f"{collection_path(PODS, namespace)}/{name}", f"pod {namespace}/{name}"
    else:
        kind, _, rest = target.service_id.partition("/")
        namespace, _, name = rest.partition("/")
        if kind not in WORKLOAD_KINDS or not namespace or not name:
            raise NotFound(f"{target.service_ref} is not a Kubernetes workload of this provider")
        path, title = object_path(kind, namespace, name), f"{kind} {namespace}/{name}"
    found: Any = request("GET", path, doing=f"reading {title}")
    return render(title, without_kubernetes_noise(_dict(found)), "yaml")
