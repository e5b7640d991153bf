"""Kubernetes: what changed between a workload's two newest revisions (a Deployment's ReplicaSets, a
StatefulSet's or DaemonSet's ControllerRevisions), compared on their pod templates. Env values are never
shown: a valueFrom is named, a literal value only said to have changed."""

from __future__ import annotations

from typing import Any

from pilothouse.providers.kubernetes.actions import object_path, parse_id
from pilothouse.providers.kubernetes.client import Request
from pilothouse.providers.kubernetes.objects import (
    CONTROLLER_REVISIONS,
    OWNER_KIND,
    REPLICASETS,
    Obj,
    _dict,
    _list,
    _revision_template,
    _str,
    collection_path,
    owned_by,
    revision_of,
)
from pilothouse.providers.model import Service
from pilothouse.providers.revisions import NoPreviousRevision, RevisionDiff, command_text, containers_compare, env_text

HASH_LABELS = ("pod-template-hash", "controller-revision-hash")


def _container_fields(container: Obj) -> dict[str, Any]:
    env = {}
    for entry in _list(container.get("env")):
        entry = _dict(entry)
        source = entry.get("valueFrom")
        env[_str(entry.get("name"))] = f"from {source}" if source else _str(entry.get("value"))
    probes = {kind: container.get(kind) for kind in ("livenessProbe", "readinessProbe", "startupProbe")
              if container.get(kind)}
    return {"image": _str(container.get("image")), "command": command_text(_list(container.get("command"))),
            "args": command_text(_list(container.get("args"))), "env": env_text(env),
            "resources": container.get("resources"), "ports": container.get("ports"), "health check": probes}


def template_diff(before: Any, after: Any, from_label: str, to_label: str) -> RevisionDiff:
    def parts(template: Any) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
        spec = _dict(_dict(template).get("spec"))
        containers = {_str(_dict(c).get("name")): _container_fields(_dict(c)) for c in _list(spec.get("containers"))}
        labels = {k: v for k, v in _dict(_dict(_dict(template).get("metadata")).get("labels")).items()
                  if k not in HASH_LABELS}
        return containers, {"labels": labels}

    (old, old_shared), (new, new_shared) = parts(before), parts(after)
    return containers_compare(old, new, old_shared, new_shared, from_label, to_label)


def revisions_diff(request: Request, service: Service) -> RevisionDiff:
    """The previous revision -> the newest one, as `kubectl rollout history --revision` would show them."""
    kind, namespace, name = parse_id(service)
    live = _dict(request("GET", object_path(kind, namespace, name), doing=f"reading {service.ref}"))
    selector = ",".join(f"{k}={v}" for k, v in sorted(
        _dict(_dict(_dict(live.get("spec")).get("selector")).get("matchLabels")).items()))
    query = {"labelSelector": selector} if selector else {}
    resource = REPLICASETS if kind == "deployment" else CONTROLLER_REVISIONS
    listing = request("GET", collection_path(resource, namespace), query=query,
                      doing=f"listing the {'ReplicaSets' if kind == 'deployment' else 'ControllerRevisions'} "
                            f"of {service.ref}")
    owned = sorted((item for item in (_dict(i) for i in _list(_dict(listing).get("items")))
                    if owned_by(item, live, OWNER_KIND[kind]) and revision_of(item) >= 0), key=revision_of)
    if len(owned) < 2:
        raise NoPreviousRevision(f"{service.ref} has one revision only: nothing to compare",
                                 f"kubectl -n {namespace} rollout history {kind}/{name}")

    def template(item: Obj) -> Any:
        return _dict(item.get("spec")).get("template") if kind == "deployment" else _revision_template(item)

    previous, current = owned[-2], owned[-1]
    return template_diff(template(previous), template(current), f"revision {revision_of(previous)}",
                         f"revision {revision_of(current)}")
