"""ECS services under Application Auto Scaling: the scalable targets (service namespace ecs, resource id
service/CLUSTER/SERVICE, dimension ecs:service:DesiredCount) and their scaling policies, read on the slow tier,
mapped onto services; and the change of a target's bounds (RegisterScalableTarget with a new Min/MaxCapacity).

API economy, per slow (task) refresh and per provider, not per ECS cluster: ceil(T/50) DescribeScalableTargets
for the T targets of the account's ecs namespace in the region, and ceil(P/50) DescribeScalingPolicies for
its P policies, only when T > 0. Each is one paged listing whatever the number of clusters.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from pilothouse.providers.base import Action, MutationPlan
from pilothouse.providers.ecs.raw import Raw, as_dict, as_str, dicts
from pilothouse.providers.errors import Conflict, InvalidInput
from pilothouse.providers.model import Autoscaler, Service

NAMESPACE = "ecs"
DIMENSION = "ecs:service:DesiredCount"
KIND = "Application Auto Scaling"
PAGE = 50  # Application Auto Scaling's most items per page


def autoscaling_budget(targets: int, policies: int) -> int:
    """The calls one slow refresh makes for autoscaling, per provider (see the module docstring)."""
    return max(1, math.ceil(targets / PAGE)) + (max(1, math.ceil(policies / PAGE)) if targets else 0)


def resource_id(cluster: str, service: str) -> str:
    return f"service/{cluster}/{service}"


def _pages(api: Any, operation: str, key: str, **kwargs: Any) -> list[Raw]:
    items: list[Raw] = []
    token = ""
    while True:
        page = api.call(operation, client=api.autoscaling, MaxResults=PAGE,
                        **({"NextToken": token} if token else {}), **kwargs)
        items.extend(dicts(page.get(key)))
        token = as_str(page.get("NextToken"))
        if not token:
            return items


def read_targets(api: Any) -> tuple[dict[str, Raw], dict[str, list[Raw]]]:
    """(targets by resource id, policies by resource id) of the ecs namespace's desired-count dimension."""
    targets = {as_str(t.get("ResourceId")): t
               for t in _pages(api, "describe_scalable_targets", "ScalableTargets", ServiceNamespace=NAMESPACE)
               if as_str(t.get("ScalableDimension")) == DIMENSION}
    policies: dict[str, list[Raw]] = {}
    if targets:
        for policy in _pages(api, "describe_scaling_policies", "ScalingPolicies", ServiceNamespace=NAMESPACE):
            if as_str(policy.get("ScalableDimension")) == DIMENSION:
                policies.setdefault(as_str(policy.get("ResourceId")), []).append(policy)
    return targets, policies


def _policy_text(policy: Raw) -> str:
    tracking = as_dict(policy.get("TargetTrackingScalingPolicyConfiguration"))
    if tracking:
        predefined = as_dict(tracking.get("PredefinedMetricSpecification"))
        metric = as_str(predefined.get("PredefinedMetricType")) or "custom metric"
        value = tracking.get("TargetValue")
        target = f" {value:g}" if isinstance(value, int | float) and not isinstance(value, bool) else ""
        return f"{metric}{target} (target tracking)"
    return f"{as_str(policy.get('PolicyName')) or 'policy'} ({as_str(policy.get('PolicyType')).lower() or '?'})"


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def map_target(target: Raw, policies: list[Raw], desired: int, running: int) -> Autoscaler:
    suspended = as_dict(target.get("SuspendedState"))
    conditions = [f"{label} suspended" for key, label in (
        ("DynamicScalingInSuspended", "scale-in"), ("DynamicScalingOutSuspended", "scale-out"),
        ("ScheduledScalingSuspended", "scheduled scaling")) if suspended.get(key) is True]
    if not policies:
        conditions.append("no scaling policy: the bounds only clamp the desired count")
    return Autoscaler(
        kind=KIND, name=as_str(target.get("ResourceId")), min=_int(target.get("MinCapacity")),
        max=_int(target.get("MaxCapacity")),
        # Application Auto Scaling keeps no counts of its own: they are the service's.
        current=running, desired=desired,
        metrics=", ".join(_policy_text(p) for p in policies), conditions=tuple(conditions),
    )


def attach(services: list[Service], cluster: str, targets: Mapping[str, Raw],
           policies: Mapping[str, list[Raw]]) -> None:
    for service in services:
        target = targets.get(resource_id(cluster, service.name))
        if target is not None:
            service.autoscaler = map_target(target, policies.get(resource_id(cluster, service.name), []),
                                            service.desired, service.running)


def _live_target(api: Any, rid: str) -> Raw:
    answer = api.call("describe_scalable_targets", client=api.autoscaling, ServiceNamespace=NAMESPACE,
                      ResourceIds=[rid], ScalableDimension=DIMENSION)
    found = dicts(answer.get("ScalableTargets"))
    if not found:
        raise InvalidInput(f"no Application Auto Scaling target {rid} any more", "refresh and look again")
    return found[0]


def plan_bounds(api: Any, cluster: str, service: Service, minimum: int, maximum: int) -> MutationPlan:
    autoscaler = service.autoscaler
    if autoscaler is None:
        raise InvalidInput(f"no Application Auto Scaling target owns the replicas of {service.ref}")
    if minimum > maximum:
        raise InvalidInput(f"--min {minimum} is more than --max {maximum}")
    live = _live_target(api, autoscaler.name)
    before_min, before_max = _int(live.get("MinCapacity")), _int(live.get("MaxCapacity"))
    return MutationPlan(
        action=Action.AUTOSCALE_BOUNDS, cluster=cluster, service_ref=service.ref, service_id=service.id,
        before=f"min {before_min}, max {before_max}", after=f"min {minimum}, max {maximum}",
        detail=f"min {before_min} -> {minimum}, max {before_max} -> {maximum}; scalable target {autoscaler.name}",
        payload={"resource_id": autoscaler.name, "min": minimum, "max": maximum, "from_min": before_min,
                 "from_max": before_max},
    )


def apply_bounds(api: Any, plan: MutationPlan) -> str:
    payload = plan.payload
    rid = as_str(payload.get("resource_id"))
    live = _live_target(api, rid)
    now = (_int(live.get("MinCapacity")), _int(live.get("MaxCapacity")))
    if now != (payload.get("from_min"), payload.get("from_max")):
        raise Conflict(f"{rid} now has min {now[0]}, max {now[1]}, not {plan.before}", "refresh and decide again")
    minimum, maximum = _int(payload.get("min")), _int(payload.get("max"))
    api.call("register_scalable_target", client=api.autoscaling, ServiceNamespace=NAMESPACE, ResourceId=rid,
             ScalableDimension=DIMENSION, MinCapacity=minimum, MaxCapacity=maximum)
    return f"scalable target {rid} of {plan.service_ref} now has min {minimum}, max {maximum}"
