"""What a Kubernetes snapshot could not read: one gap per kind (and namespace) whose list is forbidden,
failing or not synced yet, and what that means for each workload (pods unknown, or earlier data, stale).

A reflector whose watch broke after a good list keeps its objects: they are shown as earlier data, with
the time they were last known current, never as the cluster's present.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pilothouse.providers.completeness import reason_of
from pilothouse.providers.kubernetes.watch import Reflector
from pilothouse.providers.model import Missing, Service

# The part of the model each kind feeds.
PARTS = {"deployments": "services", "statefulsets": "services", "daemonsets": "services",
         "replicasets": "rollouts", "controllerrevisions": "rollouts", "pods": "tasks", "events": "events",
         "nodes": "nodes", "services": "networks", "endpointslices": "networks", "networkpolicies": "networks",
         "horizontalpodautoscalers": "autoscalers"}
# What a workload's rollout is read from, by the workload's kind.
ROLLOUT_KINDS = {"deployment": "replicasets", "statefulset": "controllerrevisions",
                 "daemonset": "controllerrevisions"}


def what(reflector: Reflector) -> str:
    where = f" in namespace {reflector.namespace}" if reflector.namespace else ""
    return f"Kubernetes {reflector.kind.resource}{where}"


def gap_of(reflector: Reflector) -> Missing | None:
    """The reflector's gap now, or None when its cache is current."""
    part = PARTS.get(reflector.kind.resource, reflector.kind.resource)
    if reflector.forbidden:
        return Missing(what(reflector), "403 forbidden", reflector.failing_since, part)
    if reflector.error is not None:
        # A cache from an earlier list is shown as it was when the list or watch last answered.
        shown_from = reflector.failing_since if reflector.synced else None
        return Missing(what(reflector), reason_of(reflector.error, "the API server"), reflector.failing_since,
                       part, shown_from)
    if not reflector.synced:
        return Missing(what(reflector), "not synced yet", None, part)
    return None


def covers(reflector: Reflector, namespace: str) -> bool:
    return not reflector.namespace or reflector.namespace == namespace


def mark_services(services: Sequence[Service], reflectors: Sequence[Reflector], now: datetime) -> None:
    """Each workload: its pods unknown when their list never answered; stale (with when it was observed)
    when its own kind, its rollout's kind or its pods are shown from an earlier answer."""
    for service in services:
        own = service.workload_kind + "s"
        relevant = [r for r in reflectors if covers(r, service.namespace)
                    and r.kind.resource in (own, ROLLOUT_KINDS.get(service.workload_kind, ""), "pods")]
        pods = [r for r in relevant if r.kind.resource == "pods"]
        # Known only when a pod list that covers the workload's namespace has answered (a fallback to the
        # context's namespace covers no other).
        service.tasks_known = any(r.synced and not r.forbidden for r in pods)
        earlier = [r.failing_since for r in relevant if r.synced and r.error is not None and r.failing_since]
        service.stale = bool(earlier)
        service.observed = min(earlier) if earlier else now
