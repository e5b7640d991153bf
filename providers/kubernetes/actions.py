"""Scale, rollback and restart of a workload: refusals, plans (read-only) and their application.

A plan reads the live object and says what would change; `apply` checks that the object has not changed
since (the scale read, or the generation) before it sends the same patch kubectl sends: a merge patch of
the scale subresource, `kubectl rollout undo`'s patch, or `kubectl rollout restart`'s. Auditing and
confirming happen above the provider; these functions only talk to the API through one request function.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pilothouse.providers.base import Action, MutationPlan
from pilothouse.providers.errors import Conflict, InvalidInput, NotFound, NotSupported
from pilothouse.providers.kubernetes.client import Request
from pilothouse.providers.kubernetes.objects import (
    CONTROLLER_REVISIONS,
    OWNER_KIND,
    REPLICASETS,
    WORKLOAD_KINDS,
    _dict,
    _int,
    _list,
    _revision_template,
    _str,
    collection_path,
    describe_revision,
    meta_of,
    owned_by,
    revision_of,
)
from pilothouse.providers.kubernetes.rollout import (
    deployment_rollback_target,
    deployment_undo_patch,
    revision_rollback_target,
)
from pilothouse.providers.model import RolloutState, Service


def refusal(action: Action, service: Service) -> str | None:
    """Why Kubernetes itself refuses `action` on `service` (None: it does not)."""
    if action is Action.SCALE and service.workload_kind == "daemonset":
        return f"{service.ref} is a DaemonSet: it runs one pod per matching node and cannot be scaled"
    if action is Action.ROLLBACK and service.workload_kind == "deployment" and (
        service.rollout.state is RolloutState.PAUSED
    ):
        return f"{service.ref} is paused; resume it first (kubectl rollout resume) and try again"
    if action is Action.RESTART and service.workload_kind == "deployment" and (
        service.rollout.state is RolloutState.PAUSED
    ):
        # kubectl refuses the same: a paused Deployment would only record the annotation.
        return f"{service.ref} is paused; a restart would wait for a resume (kubectl rollout resume first)"
    if action in (Action.PAUSE, Action.RESUME):
        return pause_refusal(action, service)
    return None


def pause_refusal(action: Action, service: Service) -> str | None:
    if service.workload_kind != "deployment":
        kind = {"statefulset": "a StatefulSet", "daemonset": "a DaemonSet"}.get(service.workload_kind,
                                                                             service.workload_kind)
        return (f"{service.ref} is {kind}: only a Deployment's rollout can be paused and resumed "
                "(kubectl rollout pause/resume)")
    paused = service.rollout.state is RolloutState.PAUSED
    if action is Action.PAUSE and paused:
        return f"{service.ref} is already paused"
    if action is Action.RESUME and not paused:
        return f"{service.ref} is not paused: nothing to resume"
    return None


def pause_patch(pause: bool) -> dict[str, Any]:
    """kubectl rollout pause/resume's strategic merge patch: `paused` is omitted when false in the typed object,
    so the two-way diff kubectl sends on resume deletes the field (null)."""
    return {"spec": {"paused": True if pause else None}}


RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"


def restart_patch(now: datetime) -> dict[str, Any]:
    """The strategic merge patch `kubectl rollout restart` sends: the pod template's restartedAt annotation,
    RFC 3339 to the second (Go's time.RFC3339), which changes the template and so makes a new rollout."""
    stamp = now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: stamp}}}}}


def parse_id(service: Service) -> tuple[str, str, str]:
    """(kind, namespace, name) of a workload from its Service.id "KIND/NAMESPACE/NAME"."""
    kind, _, rest = service.id.partition("/")
    namespace, _, name = rest.partition("/")
    if kind not in WORKLOAD_KINDS or not namespace or not name:
        raise NotFound(f"{service.ref} is not a Kubernetes workload of this provider")
    return kind, namespace, name


def object_path(kind: str, namespace: str, name: str, sub: str = "") -> str:
    path = f"{collection_path(WORKLOAD_KINDS[kind], namespace)}/{name}"
    return f"{path}/{sub}" if sub else path


def plan_scale(request: Request, cluster: str, service: Service, replicas: int) -> MutationPlan:
    if isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 0:
        raise InvalidInput(f"replicas must be a whole number >= 0, not {replicas!r}")
    kind, namespace, name = parse_id(service)
    scale = request("GET", object_path(kind, namespace, name, "scale"),
                    doing=f"reading the scale of {service.ref}")
    current = _int(_dict(_dict(scale).get("spec")).get("replicas"))
    return MutationPlan(
        action=Action.SCALE, cluster=cluster, service_ref=service.ref, service_id=service.id,
        before=str(current), after=str(replicas),
        detail=f"{kind} scale subresource" + ("; no change" if current == replicas else ""),
        payload={"kind": kind, "namespace": namespace, "name": name, "from": current, "replicas": replicas},
    )


def plan_rollback(request: Request, cluster: str, service: Service) -> MutationPlan:
    kind, namespace, name = parse_id(service)
    live = request("GET", object_path(kind, namespace, name), doing=f"reading {service.ref}")
    selector = ",".join(
        f"{k}={v}" for k, v in sorted(_dict(_dict(_dict(live.get("spec")).get("selector")).get("matchLabels"))
                                      .items())
    )
    query = {"labelSelector": selector} if selector else {}
    current_template = _dict(live.get("spec")).get("template")
    if kind == "deployment":
        listing = request("GET", collection_path(REPLICASETS, namespace), query=query,
                          doing=f"listing the ReplicaSets of {service.ref}")
        target = deployment_rollback_target(live, _list(_dict(listing).get("items")))
        patch: Any = deployment_undo_patch(live, target)
        content_type = "application/json-patch+json"
        detail = f"kubectl rollout undo: ReplicaSet {meta_of(target).get('name')}"
        current_revision = revision_of(live)
        target_template = _dict(target.get("spec")).get("template")
    else:
        listing = request("GET", collection_path(CONTROLLER_REVISIONS, namespace), query=query,
                          doing=f"listing the ControllerRevisions of {service.ref}")
        revisions = _list(_dict(listing).get("items"))
        target = revision_rollback_target(kind, live, revisions)
        # kubectl sends the revision's data as it is: a strategic merge patch with "$patch": "replace".
        patch = _dict(target.get("data"))
        content_type = "application/strategic-merge-patch+json"
        detail = f"kubectl rollout undo: ControllerRevision {meta_of(target).get('name')}"
        owned = [r for r in revisions if owned_by(r, live, OWNER_KIND[kind])]
        current_revision = max((revision_of(r) for r in owned), default=-1)
        target_template = _revision_template(target)
    # What the undo changes, field by field, with the revision numbers ("revision 7 -> 6: image, env").
    from pilothouse.providers.kubernetes.revisions import template_diff

    detail += "; " + template_diff(current_template, target_template, f"revision {current_revision}",
                                   f"revision {revision_of(target)}").summary()
    return MutationPlan(
        action=Action.ROLLBACK, cluster=cluster, service_ref=service.ref, service_id=service.id,
        before=describe_revision(current_template, current_revision),
        after=describe_revision(target_template, revision_of(target)), detail=detail,
        payload={
            "kind": kind, "namespace": namespace, "name": name, "patch": patch,
            "content_type": content_type, "generation": _int(meta_of(live).get("generation")),
            "revision": revision_of(target),
        },
    )


def plan_restart(request: Request, cluster: str, service: Service) -> MutationPlan:
    kind, namespace, name = parse_id(service)
    live = request("GET", object_path(kind, namespace, name), doing=f"reading {service.ref}")
    spec = _dict(live.get("spec"))
    if kind == "deployment" and spec.get("paused") is True:
        raise NotSupported(f"{service.ref} is paused; a restart would wait for a resume",
                           "resume it first (kubectl rollout resume)")
    template = _dict(spec.get("template"))
    last = _str(_dict(_dict(template.get("metadata")).get("annotations")).get(RESTARTED_AT))
    return MutationPlan(
        action=Action.RESTART, cluster=cluster, service_ref=service.ref, service_id=service.id,
        before=describe_revision(template, revision_of(live)) + (f", restarted {last}" if last else ""),
        after="every pod replaced, same template",
        detail=f"kubectl rollout restart: the {RESTARTED_AT} annotation on the pod template; pods replaced "
               f"per the {kind}'s update strategy",
        payload={"kind": kind, "namespace": namespace, "name": name,
                 "generation": _int(meta_of(live).get("generation"))},
    )


def plan_pause(request: Request, cluster: str, service: Service, *, pause: bool) -> MutationPlan:
    action = Action.PAUSE if pause else Action.RESUME
    kind, namespace, name = parse_id(service)
    if kind != "deployment":
        raise NotSupported(pause_refusal(action, service) or f"{service.ref} is not a Deployment")
    live = request("GET", object_path(kind, namespace, name), doing=f"reading {service.ref}")
    paused = _dict(live.get("spec")).get("paused") is True
    if paused == pause:  # the live object decides, whatever the cached model said
        raise NotSupported(f"{service.ref} is already paused" if pause else f"{service.ref} is not paused",
                           "refresh: someone else changed it")
    status = _dict(live.get("status"))
    progress = f"{_int(status.get('updatedReplicas'))}/{_int(_dict(live.get('spec')).get('replicas'))} updated"
    revision = describe_revision(_dict(live.get("spec")).get("template"), revision_of(live))
    return MutationPlan(
        action=action, cluster=cluster, service_ref=service.ref, service_id=service.id,
        before=f"rolling out {revision}, {progress}" if pause else f"paused at {progress}",
        after="paused where it is" if pause else "rolling out again",
        detail=("kubectl rollout pause: spec.paused = true; no new pods are rolled until resumed" if pause else
                "kubectl rollout resume: spec.paused removed; the rollout carries on"),
        payload={"kind": kind, "namespace": namespace, "name": name, "pause": pause},
    )


def _unchanged_since_plan(request: Request, plan: MutationPlan, path: str) -> Any:
    live = request("GET", path, doing=f"reading {plan.service_ref}")
    generation = _int(meta_of(live).get("generation"))
    if generation != _int(plan.payload.get("generation")):
        raise Conflict(f"{plan.service_ref} changed since the plan (generation {plan.payload.get('generation')} "
                       f"-> {generation})", "refresh and decide again")
    return live


def apply(request: Request, plan: MutationPlan) -> str:
    payload = plan.payload
    kind, namespace, name = _str(payload.get("kind")), _str(payload.get("namespace")), _str(payload.get("name"))
    if kind not in WORKLOAD_KINDS:
        raise InvalidInput(f"plan for {plan.service_ref} has no Kubernetes workload kind")
    if plan.action is Action.SCALE:
        path = object_path(kind, namespace, name, "scale")
        scale = request("GET", path, doing=f"reading the scale of {plan.service_ref}")
        current = _int(_dict(_dict(scale).get("spec")).get("replicas"))
        if current != _int(payload.get("from")):
            raise Conflict(f"{plan.service_ref} now has {current} replicas, not {payload.get('from')}",
                           "refresh and decide again")
        # kubectl scale's merge patch, made conditional on the version just read.
        body = {"metadata": {"resourceVersion": _str(meta_of(scale).get("resourceVersion"))},
                "spec": {"replicas": _int(payload.get("replicas"))}}
        request("PATCH", path, body=body, content_type="application/merge-patch+json",
                doing=f"scaling {plan.service_ref}")
        return f"scaled {plan.service_ref} from {current} to {_int(payload.get('replicas'))} replicas"
    if plan.action is Action.ROLLBACK:
        path = object_path(kind, namespace, name)
        live = _unchanged_since_plan(request, plan, path)
        if kind == "deployment" and _dict(live.get("spec")).get("paused") is True:
            raise NotSupported(f"{plan.service_ref} was paused meanwhile", "resume it first")
        request("PATCH", path, body=payload.get("patch"), content_type=_str(payload.get("content_type")),
                doing=f"rolling back {plan.service_ref}")
        return f"rolled back {plan.service_ref} to {plan.after}"
    if plan.action in (Action.PAUSE, Action.RESUME):
        pause = plan.action is Action.PAUSE
        request("PATCH", object_path(kind, namespace, name), body=pause_patch(pause),
                content_type="application/strategic-merge-patch+json",
                doing=f"{'pausing' if pause else 'resuming'} {plan.service_ref}")
        return f"{'paused' if pause else 'resumed'} the rollout of {plan.service_ref}"
    if plan.action is Action.RESTART:
        path = object_path(kind, namespace, name)
        live = _unchanged_since_plan(request, plan, path)
        if kind == "deployment" and _dict(live.get("spec")).get("paused") is True:
            raise NotSupported(f"{plan.service_ref} was paused meanwhile", "resume it first")
        request("PATCH", path, body=restart_patch(datetime.now(UTC)),
                content_type="application/strategic-merge-patch+json", doing=f"restarting {plan.service_ref}")
        return f"restarting {plan.service_ref} (every pod is replaced from the same template)"
    raise NotSupported(f"{plan.action.value} is not a Kubernetes action")
