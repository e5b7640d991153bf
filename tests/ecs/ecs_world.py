"""Building ECS worlds in moto: through its HTTP API where moto simulates, in its backend where it does not.

moto does not simulate deployments, health checks or stop reasons; tests script those by editing the
in-process backend models (the server runs in this process), then read them back over HTTP.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from waiting import wait_until as wait_until

if TYPE_CHECKING:
    from pilothouse.providers.ecs import EcsProvider

ACCOUNT = "123456789012"
REGION = "us-east-1"

ProviderFactory = Callable[..., "EcsProvider"]


def ecs_backend() -> Any:
    from moto.backends import get_backend

    return get_backend("ecs")[ACCOUNT][REGION]


def register(admin: Any, family: str, image: str, *, healthcheck: bool = True, memory: int = 16,
             extra: dict[str, Any] | None = None) -> str:
    container: dict[str, Any] = {
        "name": "app", "image": image, "memory": memory,
        "portMappings": [{"containerPort": 8080, "protocol": "tcp"}],
        "environment": [{"name": "LOG_LEVEL", "value": "info"}],
        "secrets": [{"name": "DB_PASSWORD", "valueFrom": "arn:aws:ssm:us-east-1:123456789012:parameter/db"}],
        "command": ["serve", "--port", "8080"],
    }
    if healthcheck:
        container["healthCheck"] = {"command": ["CMD-SHELL", "wget -q localhost:8080/health"], "interval": 10}
    container.update(extra or {})
    answer = admin.register_task_definition(family=family, containerDefinitions=[container])
    return str(answer["taskDefinition"]["taskDefinitionArn"])


def add_instances(admin: Any, ec2: Any, cluster: str, count: int, zones: Sequence[str] = ("us-east-1a",)) -> list[str]:
    arns = []
    for index in range(count):
        zone = zones[index % len(zones)]
        instance = ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1,
                                     Placement={"AvailabilityZone": zone})["Instances"][0]
        document = json.dumps({"instanceId": instance["InstanceId"], "availabilityZone": zone})
        answer = admin.register_container_instance(cluster=cluster, instanceIdentityDocument=document)
        arns.append(str(answer["containerInstance"]["containerInstanceArn"]))
    return arns


def run_service_tasks(admin: Any, cluster: str, service: str, task_definition: str, count: int) -> list[str]:
    tasks = admin.run_task(cluster=cluster, taskDefinition=task_definition, count=count,
                           group=f"service:{service}", launchType="EC2")["tasks"]
    assert len(tasks) == count, "moto could not place every task"
    return [str(t["taskArn"]) for t in tasks]


def moto_service(cluster: str, service: str) -> Any:
    return ecs_backend().services[f"{cluster}:{service}"]


def moto_task(arn: str) -> Any:
    for tasks in ecs_backend().tasks.values():
        if arn in tasks:
            return tasks[arn]
    raise KeyError(arn)


def deployment(task_definition: str, status: str, *, desired: int, running: int, pending: int = 0,
               failed: int = 0, rollout: str = "", reason: str = "", age_s: float = 0) -> dict[str, Any]:
    """A deployment as ECS describes it; createdAt `age_s` seconds ago."""
    created = datetime.now(UTC) - timedelta(seconds=age_s)
    item: dict[str, Any] = {
        "id": f"ecs-svc/{abs(hash((task_definition, status, age_s))) % 10**12}",
        "status": status, "taskDefinition": task_definition, "desiredCount": desired,
        "runningCount": running, "pendingCount": pending, "failedTasks": failed,
        "createdAt": created, "updatedAt": created + timedelta(seconds=1), "launchType": "EC2",
    }
    if rollout:
        item["rolloutState"] = rollout
        item["rolloutStateReason"] = reason
    return item


def build_fleet(admin: Any, ec2: Any, clusters: Sequence[str] = ("alpha", "beta"), services: int = 105,
                services_with_tasks: int = 50, tasks_each: int = 3, instances: int = 2) -> dict[str, Any]:
    """Clusters of `services` services over three task definitions, the first ones running tasks on EC2."""
    definitions = [
        register(admin, "api", "registry.example.com/api:1"),
        register(admin, "api", "registry.example.com/api:2"),
        register(admin, "worker", "registry.example.com/worker:7", healthcheck=False),
    ]
    for cluster in clusters:
        admin.create_cluster(clusterName=cluster)
        add_instances(admin, ec2, cluster, instances, zones=("us-east-1a", "us-east-1b"))
        for index in range(services):
            name = f"svc-{index:03d}"
            definition = definitions[index % len(definitions)]
            admin.create_service(cluster=cluster, serviceName=name, taskDefinition=definition,
                                 desiredCount=tasks_each if index < services_with_tasks else 0)
            if index < services_with_tasks:
                run_service_tasks(admin, cluster, name, definition, tasks_each)
    return {"definitions": definitions, "clusters": list(clusters), "services": services,
            "tasks": services_with_tasks * tasks_each, "instances": instances}


def awslogs(group: str, prefix: str, region: str = REGION) -> dict[str, Any]:
    return {"logDriver": "awslogs",
            "options": {"awslogs-group": group, "awslogs-region": region, "awslogs-stream-prefix": prefix}}


def put_lines(logs: Any, group: str, stream: str, lines: Sequence[tuple[int, str]]) -> None:
    """Write (epoch milliseconds, text) lines, creating the group and stream on first use."""
    existing = {g["logGroupName"] for g in logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]}
    if group not in existing:
        logs.create_log_group(logGroupName=group)
    streams = logs.describe_log_streams(logGroupName=group, logStreamNamePrefix=stream)["logStreams"]
    if not any(s["logStreamName"] == stream for s in streams):
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
    logs.put_log_events(logGroupName=group, logStreamName=stream,
                        logEvents=[{"timestamp": stamp, "message": text} for stamp, text in lines])
