"""Scale, rollback and restart for ECS services: plans read the live service, apply re-checks it and sends
UpdateService.

A plan is computed before anything is sent (the console confirms and audits it); apply refuses with Conflict
when the service changed since the plan, so a confirmation never covers a change nobody saw. A service
deployed by CodeDeploy or an external controller is rolled back there, not here.
"""

from __future__ import annotations

from pilothouse.providers.base import Action, MutationPlan
from pilothouse.providers.ecs.client import AwsClients
from pilothouse.providers.ecs.raw import Raw, as_int, as_str, dicts, short_id, task_definition_label
from pilothouse.providers.ecs.revisions import definitions_diff
from pilothouse.providers.ecs.rollback import RevisionRecord, rollback_target
from pilothouse.providers.errors import Conflict, InvalidInput, NotFound, NotSupported
from pilothouse.providers.model import Service


def refusal(action: Action, service: Service) -> str | None:
    """Why ECS cannot do `action` on this service (beyond the contract's own checks), or None."""
    controller = service.details.get("deployment controller", "ECS")
    if action is Action.ROLLBACK and controller not in ("", "ECS"):
        return f"{service.ref} is deployed by {controller}; roll it back there"
    if action in (Action.PAUSE, Action.RESUME):
        return ("ECS deployments cannot be paused or resumed: a deployment runs to the end, or its circuit "
                "breaker rolls it back; roll back or restart instead")
    if action is Action.RESTART and controller not in ("", "ECS"):
        # UpdateService's forceNewDeployment belongs to the ECS deployment controller.
        return f"{service.ref} is deployed by {controller}; start a new deployment there"
    return None


def live_service(api: AwsClients, service: Service) -> Raw:
    cluster = service.namespace or service.ref.split("/", 1)[0]
    answer = api.call("describe_services", cluster=cluster, services=[service.id or service.name])
    found = dicts(answer.get("services"))
    if not found or as_str(found[0].get("status")).upper() == "INACTIVE":
        raise NotFound(f"ECS service {service.ref} not found", "it may have been deleted; refresh")
    return found[0]


def plan_scale(api: AwsClients, cluster_name: str, service: Service, replicas: int) -> MutationPlan:
    if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
        raise InvalidInput(f"cannot scale {service.ref} to {replicas!r}", "give a whole number >= 0")
    live = live_service(api, service)
    current = as_int(live.get("desiredCount"))
    return MutationPlan(
        Action.SCALE, cluster_name, service.ref, as_str(live.get("serviceArn")),
        before=str(current), after=str(replicas),
        payload={"cluster": as_str(live.get("clusterArn")), "desired_before": current},
    )


def plan_rollback(
    api: AwsClients, cluster_name: str, service: Service, revisions: RevisionRecord | None,
) -> MutationPlan:
    live = live_service(api, service)
    current = as_str(live.get("taskDefinition"))
    target, source = rollback_target(api, live, revisions, service.ref)
    # What the rollback changes, field by field ("task definition web:12 -> task definition web:11: image").
    changes = definitions_diff(api, current, target).summary()
    return MutationPlan(
        Action.ROLLBACK, cluster_name, service.ref, as_str(live.get("serviceArn")),
        before=task_definition_label(current), after=task_definition_label(target),
        detail=f"task definition {changes}; from {source}",
        payload={"cluster": as_str(live.get("clusterArn")), "from": current, "to": target},
    )


def plan_restart(api: AwsClients, cluster_name: str, service: Service) -> MutationPlan:
    """UpdateService with forceNewDeployment: a new deployment of the same task definition, so every task
    is replaced (per the deployment configuration) and a fresh image pull happens for mutable tags."""
    live = live_service(api, service)
    current = as_str(live.get("taskDefinition"))
    return MutationPlan(
        Action.RESTART, cluster_name, service.ref, as_str(live.get("serviceArn")),
        before=f"{task_definition_label(current)}, {as_int(live.get('runningCount'))} tasks running",
        after="every task replaced, same task definition",
        detail="UpdateService forceNewDeployment=true (aws ecs update-service --force-new-deployment)",
        payload={"cluster": as_str(live.get("clusterArn")), "from": current},
    )


def apply(api: AwsClients, plan: MutationPlan) -> str:
    """Send the plan if the service is still as planned; the message says what was done."""
    cluster = str(plan.payload.get("cluster") or plan.service_ref.split("/", 1)[0])
    service = Service(id=plan.service_id, name=short_id(plan.service_id), ref=plan.service_ref,
                      namespace=cluster)
    live = live_service(api, service)
    if plan.action is Action.SCALE:
        if str(as_int(live.get("desiredCount"))) != plan.before:
            raise Conflict(f"{plan.service_ref} desired count changed to {as_int(live.get('desiredCount'))} "
                           f"since the plan (was {plan.before})", "refresh and decide again")
        api.call("update_service", cluster=cluster, service=plan.service_id, desiredCount=int(plan.after))
        return f"scaled {plan.service_ref} from {plan.before} to {plan.after}"
    if plan.action is Action.ROLLBACK:
        current, target = as_str(live.get("taskDefinition")), str(plan.payload.get("to", ""))
        if current != plan.payload.get("from"):
            raise Conflict(f"{plan.service_ref} now runs {task_definition_label(current)}, "
                           f"not {plan.before}", "refresh and decide again")
        api.call("update_service", cluster=cluster, service=plan.service_id, taskDefinition=target)
        return f"rolled back {plan.service_ref} from {plan.before} to {plan.after}"
    if plan.action is Action.RESTART:
        current = as_str(live.get("taskDefinition"))
        if current != plan.payload.get("from"):
            raise Conflict(f"{plan.service_ref} now runs {task_definition_label(current)}, not the task "
                           "definition planned", "refresh and decide again")
        api.call("update_service", cluster=cluster, service=plan.service_id, forceNewDeployment=True)
        return f"restarting {plan.service_ref} (a new deployment replaces every task)"
    raise NotSupported(f"ECS provider cannot {plan.action}")
