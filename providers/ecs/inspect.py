"""`aws ecs describe-*` as JSON for a service (with its task definition), a task or a container instance,
read on demand and masked (providers/inspect.py): environment values of secret-looking names; `secrets`
entries are references (valueFrom) and stay as they are."""

from __future__ import annotations

from pilothouse.providers.ecs.client import AwsClients
from pilothouse.providers.ecs.raw import as_str, dicts
from pilothouse.providers.errors import NotFound, NotSupported
from pilothouse.providers.inspect import InspectResult, InspectTarget, TargetKind, plain, render


def _cluster_of(target: InspectTarget) -> str:
    return target.service_ref.split("/", 1)[0]


def inspect(api: AwsClients, target: InspectTarget) -> InspectResult:
    if target.kind is TargetKind.NODE:
        if not target.object_id.startswith("arn:"):
            raise NotSupported(f"{target.object_id} is a Fargate placement (zone or subnet), not an object ECS "
                               "can describe; inspect one of its tasks instead")
        # arn:aws:ecs:REGION:ACCOUNT:container-instance/CLUSTER/ID
        cluster = target.object_id.rsplit(":", 1)[-1].split("/")[1]
        answer = api.call("describe_container_instances", cluster=cluster, containerInstances=[target.object_id])
        found = dicts(answer.get("containerInstances"))
        title = f"container instance {as_str(found[0].get('ec2InstanceId')) if found else target.object_id}"
        body: object = found[0] if found else None
    elif target.kind is TargetKind.TASK:
        answer = api.call("describe_tasks", cluster=_cluster_of(target), tasks=[target.object_id])
        found = dicts(answer.get("tasks"))
        title, body = f"task {target.object_id}", found[0] if found else None
    else:
        answer = api.call("describe_services", cluster=_cluster_of(target),
                          services=[target.service_id or target.service_ref.split("/", 1)[-1]])
        found = dicts(answer.get("services"))
        title, body = f"service {target.service_ref}", None
        if found:
            definition = api.call("describe_task_definition", taskDefinition=as_str(found[0].get("taskDefinition")))
            body = {"service": found[0], "taskDefinition": definition.get("taskDefinition")}
    if body is None:
        raise NotFound(f"{title} not found", "it may have been deleted; refresh")
    return render(title, plain(body), "json")
