"""PodDisruptionBudgets and the pods/eviction subresource of the API test server, as kube-apiserver and the
disruption controller behave (pkg/controller/disruption/disruption.go, pkg/registry/core/pod/storage/eviction.go).

A budget's status is computed by the server whenever a pod or a budget changes (the disruption controller's
job; this server runs no controllers, so it is done in the write path): currentHealthy counts the matching Ready
pods not being deleted, desiredHealthy comes from minAvailable or maxUnavailable (an int or a percent, rounded up,
the expected count from the owning controllers' replicas as the controller reads their scale), and
disruptionsAllowed = currentHealthy - desiredHealthy, never below 0. An eviction the budget allows deletes the
pod at once (no kubelet here to let it terminate), which counts the budget down; one it refuses is answered 429
with kube-apiserver's Status and causes. A test writes pods and budgets with `put()` as usual.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Protocol

Obj = dict[str, Any]

REFUSED = "Cannot evict pod as it would violate the pod's disruption budget."
MANY = "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support."


class Store(Protocol):
    """What this module needs of the server's ApiState (its lock is re-entrant)."""

    objects: dict[str, dict[tuple[str, str], Obj]]

    def put(self, obj: Obj) -> Obj: ...
    def delete(self, resource: str, namespace: str, name: str) -> None: ...


class Refusal(Exception):
    """An eviction answered with a Status other than success."""

    def __init__(self, code: int, reason: str, message: str, causes: list[Obj] | None = None) -> None:
        super().__init__(message)
        self.code, self.reason, self.message, self.causes = code, reason, message, causes or []


# -- selectors and pods ----------------------------------------------------------------------------------


def selector_matches(selector: Obj | None, labels: dict[str, str]) -> bool:
    """A metav1.LabelSelector. policy/v1: an empty selector selects every pod of the namespace; none selects none."""
    if selector is None:
        return False
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for term in selector.get("matchExpressions") or []:
        key, operator, values = term.get("key", ""), term.get("operator", ""), term.get("values") or []
        present = key in labels
        if ((operator == "In" and (not present or labels[key] not in values))
                or (operator == "NotIn" and present and labels[key] in values)
                or (operator == "Exists" and not present) or (operator == "DoesNotExist" and present)):
            return False
    return True


def is_ready(pod: Obj) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def _healthy(pod: Obj) -> bool:
    return is_ready(pod) and not (pod.get("metadata") or {}).get("deletionTimestamp")


def budget_pods(store: Store, budget: Obj) -> list[Obj]:
    meta = budget["metadata"]
    selector = (budget.get("spec") or {}).get("selector")
    return [pod for (namespace, _), pod in sorted(store.objects["pods"].items())
            if namespace == meta.get("namespace", "") and
            selector_matches(selector, (pod.get("metadata") or {}).get("labels") or {})]


def _scaled(value: int | str, total: int) -> int:
    """intstr.GetScaledValueFromIntOrPercent with roundUp: "50%" of 3 is 2."""
    if isinstance(value, str) and value.endswith("%"):
        return math.ceil(int(value[:-1]) * total / 100)
    return int(value)


def _controller(pod: Obj) -> Obj | None:
    refs = (pod.get("metadata") or {}).get("ownerReferences") or []
    return next((ref for ref in refs if ref.get("controller")), None)


def _expected_count(store: Store, namespace: str, pods: Iterable[Obj]) -> int | None:
    """The replicas of the controllers owning `pods` (ReplicaSet -> its Deployment, StatefulSet), each counted
    once, as the controller reads their scale; None when a pod has no such controller (the controller fails
    safe: no disruption allowed)."""
    seen: dict[tuple[str, str], int] = {}
    for pod in pods:
        ref = _controller(pod)
        if ref is None or ref.get("kind") not in ("ReplicaSet", "StatefulSet"):
            return None
        resource = "replicasets" if ref["kind"] == "ReplicaSet" else "statefulsets"
        owner = store.objects[resource].get((namespace, ref.get("name", "")))
        if owner is None:
            return None
        if resource == "replicasets":
            parent = _controller(owner)
            if parent is not None and parent.get("kind") == "Deployment":
                deployment = store.objects["deployments"].get((namespace, parent.get("name", "")))
                if deployment is not None:
                    resource, owner = "deployments", deployment
        key = (resource, owner["metadata"]["name"])
        seen[key] = int((owner.get("spec") or {}).get("replicas", 1))
    return sum(seen.values())


def budget_status(store: Store, budget: Obj) -> Obj:
    """The status the disruption controller writes for `budget` now."""
    spec = budget.get("spec") or {}
    namespace = budget["metadata"].get("namespace", "")
    pods = budget_pods(store, budget)
    healthy = sum(1 for pod in pods if _healthy(pod))
    expected: int | None
    if spec.get("maxUnavailable") is not None:
        expected = _expected_count(store, namespace, pods)
        desired = max(0, expected - _scaled(spec["maxUnavailable"], expected)) if expected is not None else 0
    elif isinstance(spec.get("minAvailable"), int):
        expected, desired = len(pods), int(spec["minAvailable"])
    elif spec.get("minAvailable") is not None:
        expected = _expected_count(store, namespace, pods)
        desired = _scaled(spec["minAvailable"], expected) if expected is not None else 0
    else:  # neither: the API server defaults minAvailable to 1
        expected, desired = len(pods), 1
    allowed = healthy - desired if expected and healthy > desired else 0
    generation = budget["metadata"].get("generation", 1)
    old = budget.get("status") or {}
    old_condition: Obj = next((c for c in old.get("conditions") or [] if c.get("type") == "DisruptionAllowed"), {})
    condition_status = "True" if allowed > 0 else "False"
    changed = old_condition.get("status") != condition_status
    return {
        "observedGeneration": generation, "disruptionsAllowed": allowed, "currentHealthy": healthy,
        "desiredHealthy": desired, "expectedPods": expected or 0,
        "conditions": [{
            "type": "DisruptionAllowed", "status": condition_status,
            "reason": "SufficientPods" if allowed > 0 else ("SyncFailed" if expected is None else "InsufficientPods"),
            "message": "", "observedGeneration": generation,
            "lastTransitionTime": (datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if changed
                                   else old_condition.get("lastTransitionTime")),
        }],
    }


def refresh_budgets(store: Store) -> None:
    """Write every budget's status that changed (called in the write path, under the store's lock)."""
    for budget in list(store.objects["poddisruptionbudgets"].values()):
        status = budget_status(store, budget)
        old = budget.get("status") or {}
        if {k: v for k, v in status.items() if k != "conditions"} == {k: v for k, v in old.items()
                                                                       if k != "conditions"}:
            continue
        store.put({**budget, "status": status})


# -- the eviction subresource ----------------------------------------------------------------------------


def _can_ignore_budget(pod: Obj) -> bool:
    """A pod that is terminal, pending or already being deleted is evicted whatever its budget says."""
    phase = (pod.get("status") or {}).get("phase")
    return phase in ("Succeeded", "Failed", "Pending") or bool((pod.get("metadata") or {}).get("deletionTimestamp"))


def evict(store: Store, namespace: str, name: str, body: Any) -> Obj:
    """POST pods/NAME/eviction: the pod deleted, or Refusal. Returns the success Status (HTTP 201)."""
    if not isinstance(body, dict) or body.get("kind") != "Eviction":
        raise Refusal(400, "BadRequest", "the body of the request was in an unknown format - accepted media types "
                                         "include: application/json")
    meta = body.get("metadata") or {}
    if meta.get("name") and meta["name"] != name:
        raise Refusal(400, "BadRequest", f"name in URL does not match name in Eviction object: {name} "
                                         f"{meta['name']}")
    pod = store.objects["pods"].get((namespace, name))
    if pod is None:
        raise Refusal(404, "NotFound", f'pods "{name}" not found')
    if not _can_ignore_budget(pod):
        labels = (pod.get("metadata") or {}).get("labels") or {}
        budgets = [budget for (ns, _), budget in sorted(store.objects["poddisruptionbudgets"].items())
                   if ns == namespace and selector_matches((budget.get("spec") or {}).get("selector"), labels)]
        if len(budgets) > 1:
            raise Refusal(500, "InternalError", MANY)
        if budgets:
            _check_budget(budgets[0], pod)
    store.delete("pods", namespace, name)
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}


def _check_budget(budget: Obj, pod: Obj) -> None:
    status, name = budget.get("status") or {}, budget["metadata"]["name"]
    healthy, desired = int(status.get("currentHealthy", 0)), int(status.get("desiredHealthy", 0))
    policy = (budget.get("spec") or {}).get("unhealthyPodEvictionPolicy") or "IfHealthyBudget"
    if not is_ready(pod) and (policy == "AlwaysAllow" or (healthy >= desired > 0)):
        return  # an unready pod does not count towards the budget, so evicting it costs nothing
    if int(status.get("observedGeneration", 0)) < int(budget["metadata"].get("generation", 1)):
        raise Refusal(429, "TooManyRequests", REFUSED, [
            {"reason": "DisruptionBudget",
             "message": f"The disruption budget {name} is still being processed by the server."}])
    if int(status.get("disruptionsAllowed", 0)) <= 0:
        raise Refusal(429, "TooManyRequests", REFUSED, [
            {"reason": "DisruptionBudget",
             "message": f"The disruption budget {name} needs {desired} healthy pods and has {healthy} currently"}])


def refusal_status(refusal: Refusal) -> Obj:
    details: Obj = {"causes": refusal.causes} if refusal.causes else {}
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": refusal.message,
            "reason": refusal.reason, "details": details, "code": refusal.code}
