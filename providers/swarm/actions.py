"""Scale, rollback and restart: a plan from the live spec (read just before), then the update that applies it.

A plan carries the spec version it was made from, so the engine refuses the update ("update out of
sequence") when the service changed in between. docker-py's update_service has no rollback parameter:
the update is sent the way the docker CLI sends it.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from pilothouse.providers.base import Action, MutationPlan
from pilothouse.providers.errors import InvalidInput, NotSupported
from pilothouse.providers.model import RolloutState, Service, ServiceMode
from pilothouse.providers.revisions import compare
from pilothouse.providers.swarm.raw import Raw, as_dict, as_list, as_str, opt_int
from pilothouse.providers.swarm.revisions import spec_fields
from pilothouse.providers.swarm.spec import service_mode, spec_image

if TYPE_CHECKING:
    from docker.api.client import APIClient


def job_refusal(action: Action, service: Service) -> str | None:
    if action is Action.SCALE and service.workload_kind.endswith("job"):
        return f"{service.ref} is a swarm job; jobs run to completion and cannot be scaled"
    if action is Action.PAUSE:
        # The engine has no pause request: an update pauses itself on failure (update failure action pause).
        return ("Swarm cannot pause an update on request; it pauses one by itself when a task fails and the "
                "update's failure action is pause (docker service update --update-failure-action pause)")
    if action is Action.RESUME and service.rollout.state is not RolloutState.PAUSED:
        return f"{service.ref} has no paused update to resume"
    return None


def plan_resume(cluster: str, service: Service, live: Raw) -> MutationPlan:
    """A paused update resumes when the service is updated again with its spec unchanged: the manager resets
    UpdateStatus on every update and the updater carries on (what a bare `docker service update NAME` does)."""
    status = as_dict(live.get("UpdateStatus"))
    state = as_str(status.get("State"))
    if state not in ("paused", "rollback_paused"):
        raise NotSupported(f"{service.ref} has no paused update to resume (update state: {state or 'none'})",
                           "refresh: it may have been resumed already")
    spec = as_dict(live.get("Spec"))
    version = opt_int(as_dict(live.get("Version")).get("Index"))
    message = as_str(status.get("Message"))
    return MutationPlan(
        action=Action.RESUME,
        cluster=cluster,
        service_ref=service.ref,
        service_id=as_str(live.get("ID")),
        before=f"update {state.replace('_', ' ')} at {spec_image(spec)} (v{version})",
        after="update carries on, same spec",
        detail="docker service update (spec unchanged): the update restarts where it stopped"
               + (f"; it paused because: {message}" if message else ""),
        payload={"version": version, "spec": copy.deepcopy(dict(spec))},
    )


def plan_scale(cluster: str, service: Service, live: Raw, replicas: int) -> MutationPlan:
    spec = as_dict(live.get("Spec"))
    mode, workload_kind, current = service_mode(spec)
    if mode is ServiceMode.GLOBAL or workload_kind != "service":
        # The cached model may be stale: the live spec decides.
        raise NotSupported(f"{service.ref} runs in {workload_kind} {mode.value} mode; it cannot be scaled")
    version = opt_int(as_dict(live.get("Version")).get("Index"))
    return MutationPlan(
        action=Action.SCALE,
        cluster=cluster,
        service_ref=service.ref,
        service_id=as_str(live.get("ID")),
        before=str(current if current is not None else service.desired),
        after=str(replicas),
        detail=f"spec version {version}" + ("; no change" if current == replicas else ""),
        payload={"version": version, "spec": copy.deepcopy(dict(spec)), "replicas": replicas},
    )


def plan_rollback(cluster: str, service: Service, live: Raw) -> MutationPlan:
    previous = as_dict(live.get("PreviousSpec"))
    if not previous:
        raise NotSupported(
            "nothing to roll back to", f"{service.ref} has no previous spec (it was never updated)"
        )
    spec = as_dict(live.get("Spec"))
    version = opt_int(as_dict(live.get("Version")).get("Index"))
    before, after = spec_image(spec), spec_image(previous)
    # Field by field, from the current spec back to the previous one ("spec version 41 -> previous spec: image").
    changes = compare(spec_fields(spec), spec_fields(previous), f"spec version {version}", "previous spec")
    return MutationPlan(
        action=Action.ROLLBACK,
        cluster=cluster,
        service_ref=service.ref,
        service_id=as_str(live.get("ID")),
        before=f"{before} (v{version})",
        after=after if after != before else f"{after} (previous spec)",
        detail=changes.summary(),
        payload={"version": version, "spec": copy.deepcopy(dict(spec))},
    )


def plan_restart(cluster: str, service: Service, live: Raw) -> MutationPlan:
    """`docker service update --force`: the same spec with TaskTemplate.ForceUpdate one higher, so every task
    is replaced (per the update policy) from an unchanged spec."""
    spec = as_dict(live.get("Spec"))
    version = opt_int(as_dict(live.get("Version")).get("Index"))
    force = opt_int(as_dict(spec.get("TaskTemplate")).get("ForceUpdate")) or 0
    policy = as_dict(spec.get("UpdateConfig"))
    parallelism = opt_int(policy.get("Parallelism"))
    order = as_str(policy.get("Order")) or "stop-first"
    pace = f"{parallelism} at a time" if parallelism else "all at once"
    return MutationPlan(
        action=Action.RESTART,
        cluster=cluster,
        service_ref=service.ref,
        service_id=as_str(live.get("ID")),
        before=f"{spec_image(spec)} (v{version})",
        after="every task replaced, same spec",
        detail=f"docker service update --force: ForceUpdate {force} -> {force + 1}; tasks replaced {pace}, "
               f"{order}",
        payload={"version": version, "spec": copy.deepcopy(dict(spec)), "force_update": force + 1},
    )


def update_request(plan: MutationPlan) -> tuple[dict[str, Any], dict[str, Any], str]:
    """(spec, query params, what it does in words) for the service update that applies `plan`."""
    version = plan.payload.get("version")
    spec = copy.deepcopy(dict(as_dict(plan.payload.get("spec"))))
    if version is None or not spec:
        raise InvalidInput("the plan carries no spec version; plan again")
    params: dict[str, Any] = {"version": version}
    if plan.action is Action.SCALE:
        replicas = plan.payload.get("replicas")
        spec["Mode"] = {"Replicated": {"Replicas": replicas}}
        done = f"scaled {plan.service_ref} from {plan.before} to {plan.after}"
    elif plan.action is Action.ROLLBACK:
        # docker-py's update_service has no rollback parameter; the CLI sends exactly this.
        params["rollback"] = "previous"
        done = f"rolling back {plan.service_ref} to {plan.after}"
    elif plan.action is Action.RESTART:
        template = dict(as_dict(spec.get("TaskTemplate")))
        template["ForceUpdate"] = plan.payload.get("force_update")
        spec["TaskTemplate"] = template
        done = f"restarting {plan.service_ref} (every task is replaced from the same spec)"
    elif plan.action is Action.RESUME:
        done = f"resumed the update of {plan.service_ref}"
    else:
        raise NotSupported(f"swarm provider cannot {plan.action.value}")
    return spec, params, done


def send_update(client: APIClient, service_id: str, spec: dict[str, Any], params: dict[str, Any]) -> Any:
    url = client._url("/services/{0}/update", service_id)
    response = client._post_json(url, data=spec, params=params)
    return client._result(response, json=True)


def outcome(done: str, result: Any) -> str:
    """What was done, plus the engine's warnings (an image it could not resolve, say)."""
    warnings = [warning for warning in as_list(as_dict(result).get("Warnings")) if isinstance(warning, str)]
    return done + (f" (warning: {'; '.join(warnings)})" if warnings else "")
