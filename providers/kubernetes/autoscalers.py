"""HorizontalPodAutoscalers (autoscaling/v2): mapped onto the workload their scaleTargetRef names, and the
change of their bounds (spec.minReplicas/maxReplicas), planned from the live object and sent as a merge patch
conditional on the resourceVersion read. Pure mapping plus one request function; no SDK.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from pilothouse.providers.base import Action, MutationPlan
from pilothouse.providers.errors import Conflict, InvalidInput
from pilothouse.providers.kubernetes.client import Request
from pilothouse.providers.kubernetes.objects import (
    HORIZONTAL_POD_AUTOSCALERS,
    OWNER_KIND,
    Obj,
    _conditions,
    _dict,
    _int,
    _list,
    _str,
    collection_path,
    meta_of,
)
from pilothouse.providers.model import Autoscaler, Service

HPA = "HorizontalPodAutoscaler"
# Conditions worth a word when they have this status: the others say all is well.
NOTEWORTHY = {"AbleToScale": "False", "ScalingActive": "False", "ScalingLimited": "True"}
_KIND_OF_OWNER = {owner: kind for kind, owner in OWNER_KIND.items()}


def _metric_value(target: Obj) -> str:
    if "averageUtilization" in target:
        return f"{_int(target.get('averageUtilization'))}%"
    for key in ("averageValue", "value"):
        if key in target:
            return _str(target.get(key))
    return "?"


def _metric_name(spec: Obj) -> str:
    kind = _str(spec.get("type"))
    inner = _dict(spec.get(kind[:1].lower() + kind[1:])) if kind else {}
    name = _str(inner.get("name")) or _str(_dict(inner.get("metric")).get("name"))
    return name or kind.lower() or "metric"


def metrics_summary(obj: Obj) -> str:
    """"cpu 45%/70%, memory ?/80%": current/target per metric, in the spec's order."""
    spec, status = _dict(obj.get("spec")), _dict(obj.get("status"))
    current = {_metric_name(_dict(m)): _dict(m) for m in _list(status.get("currentMetrics"))}
    parts = []
    for metric in _list(spec.get("metrics")):
        metric = _dict(metric)
        name = _metric_name(metric)
        kind = _str(metric.get("type"))
        key = kind[:1].lower() + kind[1:]
        target = _metric_value(_dict(_dict(metric.get(key)).get("target")))
        now = _dict(_dict(current.get(name)).get(key)).get("current")
        parts.append(f"{name} {_metric_value(_dict(now)) if now else '?'}/{target}")
    return ", ".join(parts)


def map_hpa(obj: Obj) -> Autoscaler:
    spec, status = _dict(obj.get("spec")), _dict(obj.get("status"))
    conditions = []
    for kind, condition in _conditions(status).items():
        if NOTEWORTHY.get(kind) == _str(condition.get("status")):
            reason, message = _str(condition.get("reason")), _str(condition.get("message"))
            conditions.append(f"{kind}: {reason}" + (f" ({message})" if message else ""))
    return Autoscaler(
        kind=HPA, name=_str(meta_of(obj).get("name")),
        # minReplicas defaults to 1 when the spec leaves it out.
        min=_int(spec.get("minReplicas"), 1), max=_int(spec.get("maxReplicas")),
        current=_int(status["currentReplicas"]) if "currentReplicas" in status else None,
        desired=_int(status["desiredReplicas"]) if "desiredReplicas" in status else None,
        metrics=metrics_summary(obj), conditions=tuple(conditions),
    )


def attach(services: Sequence[Service], hpas: Sequence[Obj],
           replicaset_owners: Mapping[tuple[str, str], str] | None = None) -> list[Autoscaler]:
    """Each HPA onto the workload its scaleTargetRef names (same namespace). An HPA on a ReplicaSet a
    Deployment owns goes onto that Deployment, saying so (the Deployment sets the ReplicaSet's replicas back);
    the others (a custom resource such as an Argo Rollout, a bare ReplicaSet, a target that does not exist)
    are returned: autoscalers of a target not shown here."""
    by_id = {service.id: service for service in services}
    owners = replicaset_owners or {}
    strays: list[Autoscaler] = []
    for obj in sorted(hpas, key=lambda o: _str(meta_of(o).get("name"))):
        target = _dict(_dict(obj.get("spec")).get("scaleTargetRef"))
        target_kind, target_name = _str(target.get("kind")), _str(target.get("name"))
        group = _str(target.get("apiVersion")).partition("/")[0] if "/" in _str(target.get("apiVersion")) else ""
        namespace = _str(meta_of(obj).get("namespace"))
        # Only apps' own kinds are our workloads: a custom resource may be called "Deployment" too.
        kind = _KIND_OF_OWNER.get(target_kind) if group in ("", "apps") else None
        autoscaler = map_hpa(obj)
        service = by_id.get(f"{kind}/{namespace}/{target_name}") if kind else None
        if service is None and target_kind == "ReplicaSet" and group in ("", "apps"):
            deployment = owners.get((namespace, target_name))
            service = by_id.get(f"deployment/{namespace}/{deployment}") if deployment else None
            if service is not None:
                autoscaler = replace(autoscaler, target=f"ReplicaSet {namespace}/{target_name}", conditions=(
                    f"targets ReplicaSet {target_name}, which Deployment {deployment} owns: the Deployment sets its "
                    "replicas back (target the Deployment instead)", *autoscaler.conditions))
        if service is None:
            strays.append(replace(autoscaler, name=f"{namespace}/{autoscaler.name}",
                                  target=f"{target_kind or '?'} {namespace}/{target_name}"))
        elif service.autoscaler is None:  # two HPAs on one target: the first named
            service.autoscaler = autoscaler
    return strays


def _path(namespace: str, name: str) -> str:
    return f"{collection_path(HORIZONTAL_POD_AUTOSCALERS, namespace)}/{name}"


def plan_bounds(request: Request, cluster: str, service: Service, minimum: int, maximum: int) -> MutationPlan:
    autoscaler = service.autoscaler
    if autoscaler is None:
        raise InvalidInput(f"no HorizontalPodAutoscaler owns the replicas of {service.ref}")
    if minimum < 1:
        raise InvalidInput(f"--min {minimum}: a HorizontalPodAutoscaler's minReplicas is at least 1",
                           "scale to 0 by removing the HPA, or use --min 1")
    if minimum > maximum:
        raise InvalidInput(f"--min {minimum} is more than --max {maximum}")
    live = _dict(request("GET", _path(service.namespace, autoscaler.name),
                         doing=f"reading {HPA} {service.namespace}/{autoscaler.name}"))
    spec = _dict(live.get("spec"))
    before_min, before_max = _int(spec.get("minReplicas"), 1), _int(spec.get("maxReplicas"))
    return MutationPlan(
        action=Action.AUTOSCALE_BOUNDS, cluster=cluster, service_ref=service.ref, service_id=service.id,
        before=f"min {before_min}, max {before_max}", after=f"min {minimum}, max {maximum}",
        detail=f"min {before_min} -> {minimum}, max {before_max} -> {maximum}; {HPA} {autoscaler.name}",
        payload={"namespace": service.namespace, "name": autoscaler.name, "min": minimum, "max": maximum,
                 "resource_version": _str(meta_of(live).get("resourceVersion"))},
    )


def apply_bounds(request: Request, plan: MutationPlan) -> str:
    payload = plan.payload
    namespace, name = _str(payload.get("namespace")), _str(payload.get("name"))
    minimum, maximum = _int(payload.get("min")), _int(payload.get("max"))
    # Conditional on the version the plan read: a change meanwhile (by kubectl, a GitOps sync) is a 409.
    body = {"metadata": {"resourceVersion": _str(payload.get("resource_version"))},
            "spec": {"minReplicas": minimum, "maxReplicas": maximum}}
    try:
        request("PATCH", _path(namespace, name), body=body, content_type="application/merge-patch+json",
                doing=f"changing the bounds of {HPA} {namespace}/{name}")
    except Conflict as error:
        raise Conflict(f"{HPA} {namespace}/{name} changed since the plan", "refresh and decide again") from error
    return f"{HPA} {name} of {plan.service_ref} now has min {minimum}, max {maximum}"
