"""AWS ECS (EC2 and Fargate) through boto3, polled in tiers with a fixed API budget.

One config entry may cover several ECS clusters (option `clusters`, default: every cluster of the
account/region). Naming, chosen to stay stable when clusters come and go:
- Service.ref is always "ECSCLUSTER/SERVICE" (like Kubernetes "namespace/name"), Service.namespace is the
  ECS cluster name and Service.id the service ARN.
- Task.id is the task's short id (the UUID at the end of its ARN).
- Nodes: on EC2 a container instance (id = container instance ARN, name = EC2 instance id); on Fargate the
  availability zone is the node (id "az:us-east-1a"), or the subnet when AWS gives no zone, so the
  placement grid works for both.

API economy, per refresh and per ECS cluster (N services, M tasks, C container instances):
ceil(N/100) ListServices + ceil(N/10) DescribeServices, and on task refreshes (every TASKS_EVERY-th refresh,
the last tasks are kept in between) ceil(M/100) ListTasks + ceil(M/100) DescribeTasks + 2*ceil(C/100)
for container instances. M counts the tasks described: those listed as RUNNING plus those that vanished from
that list since the last look (they are described once more, to show why they stopped, then remembered
for STOPPED_RETENTION_S). Task definitions are immutable: described once per ARN and cached. ListClusters
runs at connect and, when `clusters` is unset, every CLUSTER_RELIST_S. Throttling (after botocore's own
`standard` retries) keeps the last data, marks the cluster DEGRADED with a banner and skips refreshes for
a growing cool-down.

Rollback target: during a deployment in progress, the ACTIVE (previous) deployment's task definition; else
the source revision of the last successful deployment (ListServiceDeployments, where the API offers it);
else the revisions this console saw the service run ($XDG_STATE_HOME/pilothouse/ecs-revisions.json); else
NotSupported naming the family, so the operator picks a revision.

Events: each service's own `events` (they come with DescribeServices, so they cost nothing), the newest
EVENTS_PER_SERVICE, plus "deployment" events this provider synthesizes from what changed between two
refreshes (a new PRIMARY deployment, a rolloutState change), since ECS reports neither as an event.

Logs: CloudWatch Logs, for containers whose task definition uses the awslogs driver with a stream prefix
(stream "prefix/container/task-id" in awslogs-group, awslogs-region). One GetLogEvents per stream for the
tail; a follow polls each stream with its forward token, spending at most LOG_READS_PER_S, and looks for
the service's new tasks every LOG_TASK_RESCAN_S. Other log drivers are named in a NotSupported.
"""

from __future__ import annotations

import contextlib
import dataclasses
import heapq
import json
import math
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from threading import Event as ThreadEvent
from typing import Any, ClassVar

from pilothouse.providers.base import (
    Action,
    Capability,
    ClusterConfig,
    LoginCommand,
    LogLine,
    MutationPlan,
    Option,
    Provider,
)
from pilothouse.providers.errors import (
    Conflict,
    CredentialsError,
    Forbidden,
    InvalidInput,
    NotFound,
    NotSupported,
    ProviderError,
    Throttled,
    Unreachable,
)
from pilothouse.providers.model import (
    Availability,
    Cluster,
    ClusterKind,
    ConnectionState,
    ContainerSpec,
    Event,
    Health,
    HealthCounts,
    Node,
    NodeStatus,
    Rollout,
    RolloutState,
    Service,
    ServiceMode,
    Task,
    TaskState,
    UpdatePolicy,
)

Raw = Mapping[str, Any]

# AWS limits per call.
LIST_PAGE = 100
DESCRIBE_SERVICES_MAX = 10
DESCRIBE_TASKS_MAX = 100
DESCRIBE_INSTANCES_MAX = 100
DESCRIBE_CLUSTERS_MAX = 100

TASKS_EVERY = 2  # tasks and container instances refresh on every 2nd refresh
CLUSTER_RELIST_S = 300.0
STOPPED_RETENTION_S = 900.0
STOPPED_KEEP_PER_CLUSTER = 200
EVENTS_PER_SERVICE = 50  # ECS keeps 100 per service; the newest 50 are what triage needs
DEPLOYMENT_EVENTS_PER_SERVICE = 50
EVENTS_PER_CLUSTER = 5000
MAX_THROTTLE_COOLDOWN_S = 60.0
REVISIONS_KEPT = 10
DESCRIBE_WORKERS = 8

# CloudWatch Logs: GetLogEvents is throttled per account and region (25/s), shared with everyone else,
# so a follow spends at most LOG_READS_PER_S on its streams and polls no faster than LOG_POLL_MIN_S.
LOG_POLL_MIN_S = 0.5
LOG_POLL_MAX_S = 10.0
LOG_FOLLOW_MAX_S = 30.0  # the longest wait between polls, however many streams
LOG_READS_PER_S = 5.0
LOG_TASK_RESCAN_S = 15.0  # how often a follow looks for the service's new tasks (a rollout, a replacement)
LOG_PAGE_MAX = 10_000  # GetLogEvents' own limit per page
LOG_PAGES_PER_READ = 20  # bounds one read of a stream that is being flooded
LOG_NOTICE_SOURCE = "pilothouse"

THROTTLE_CODES = frozenset({
    "ThrottlingException", "Throttling", "ThrottledException", "RequestLimitExceeded",
    "TooManyRequestsException", "RequestThrottled", "RequestThrottledException", "SlowDown",
})
DENIED_CODES = frozenset({"AccessDeniedException", "AccessDenied", "UnauthorizedOperation"})
CREDENTIAL_CODES = frozenset({
    "ExpiredTokenException", "ExpiredToken", "UnrecognizedClientException", "InvalidClientTokenId",
    "InvalidSignatureException", "SignatureDoesNotMatch", "AuthFailure", "MissingAuthenticationToken",
    "IncompleteSignature", "RequestExpired",
})
NOT_FOUND_CODES = frozenset({"ClusterNotFoundException", "ServiceNotFoundException", "ResourceNotFoundException"})
ECS_PERMISSIONS = "ecs:List*/Describe* (and UpdateService to scale/roll back)"
LOGS_PERMISSIONS = "logs:GetLogEvents on the service's log groups"


# -- small pure helpers ---------------------------------------------------------------------------

def short_id(arn: str) -> str:
    """The last path segment of an ARN: a task's UUID, a service's or cluster's name."""
    return arn.rsplit("/", 1)[-1] if arn else ""


def cluster_name_of(arn_or_name: str) -> str:
    if ":cluster/" in arn_or_name:
        return arn_or_name.split(":cluster/", 1)[1]
    return arn_or_name


def task_definition_label(arn: str | None) -> str:
    """'family:revision' from a task definition ARN (or the label itself)."""
    if not arn:
        return ""
    return arn.split("task-definition/", 1)[-1]


def task_definition_family(arn: str | None) -> str:
    return task_definition_label(arn).rsplit(":", 1)[0]


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _opt_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        if not value.tzinfo:
            return value.replace(tzinfo=UTC)
        try:
            return value.astimezone(UTC)  # botocore parses AWS times into the local zone; the model speaks UTC
        except (OverflowError, ValueError):
            return value
    return None


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _dicts(value: Any) -> list[Raw]:
    return [item for item in _list(value) if isinstance(item, Mapping)]


def _dict(value: Any) -> Raw:
    return value if isinstance(value, Mapping) else {}


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(str(item) for item in _list(value) if isinstance(item, str | int | float))


def chunks(items: Sequence[str], size: int) -> list[list[str]]:
    return [list(items[i:i + size]) for i in range(0, len(items), size)]


def api_budget(services: int, tasks: int, instances: int) -> int:
    """The most calls one full refresh of one ECS cluster may make (the issue's formula)."""
    return (math.ceil(services / LIST_PAGE) + math.ceil(services / DESCRIBE_SERVICES_MAX)
            + 2 * math.ceil(tasks / LIST_PAGE) + 2 * math.ceil(instances / LIST_PAGE))


# -- mapping: pure functions of AWS dicts -> model ---------------------------------------------------

_TASK_STATES: dict[str, TaskState] = {
    "PROVISIONING": TaskState.PENDING,
    "PENDING": TaskState.PENDING,
    "ACTIVATING": TaskState.STARTING,
    "RUNNING": TaskState.RUNNING,
    "DEACTIVATING": TaskState.STOPPING,
    "STOPPING": TaskState.STOPPING,
    "DEPROVISIONING": TaskState.STOPPING,
    "STOPPED": TaskState.STOPPED,
    "DELETED": TaskState.STOPPED,
}


def map_task_state(last_status: Any, stop_code: Any = None, containers: Any = None) -> TaskState:
    state = _TASK_STATES.get(_str(last_status).upper(), TaskState.UNKNOWN)
    if state is TaskState.STOPPED:
        failed_exit = any(_opt_int(c.get("exitCode")) not in (None, 0) for c in _dicts(containers))
        if _str(stop_code) == "TaskFailedToStart" or failed_exit:
            return TaskState.FAILED
    return state


def has_healthcheck(task_definition: Raw | None) -> bool | None:
    """Whether any container defines a health check; None when the definition is unknown."""
    if task_definition is None:
        return None
    return any(bool(_dict(c.get("healthCheck"))) for c in _dicts(task_definition.get("containerDefinitions")))


def map_health(health_status: Any, checked: bool | None, state: TaskState) -> Health:
    status = _str(health_status).upper()
    if checked is False:
        return Health.NONE
    if status == "HEALTHY":
        return Health.HEALTHY
    if status == "UNHEALTHY":
        return Health.UNHEALTHY
    # AWS says UNKNOWN until the first checks pass: that is "starting" for a task on its way up.
    if checked and state in (TaskState.PENDING, TaskState.STARTING, TaskState.RUNNING):
        return Health.STARTING
    return Health.UNKNOWN


def fargate_node_id(task: Raw) -> tuple[str, str]:
    """(node id, node name) for a task without a container instance: its zone, else its subnet."""
    zone = _str(task.get("availabilityZone"))
    if zone:
        return f"az:{zone}", zone
    subnet = task_subnet(task)
    if subnet:
        return f"subnet:{subnet}", subnet
    return "fargate", "fargate"


def task_subnet(task: Raw) -> str:
    for attachment in _dicts(task.get("attachments")):
        for detail in _dicts(attachment.get("details")):
            if detail.get("name") == "subnetId":
                return _str(detail.get("value"))
    return ""


def task_address(task: Raw) -> str:
    for attachment in _dicts(task.get("attachments")):
        for detail in _dicts(attachment.get("details")):
            if detail.get("name") == "privateIPv4Address":
                return _str(detail.get("value"))
    for container in _dicts(task.get("containers")):
        for interface in _dicts(container.get("networkInterfaces")):
            address = _str(interface.get("privateIpv4Address"))
            if address:
                return address
    return ""


def map_task(
    raw: Raw,
    service_id: str,
    task_definition: Raw | None,
    instance_names: Mapping[str, str] | None = None,
) -> Task:
    containers = _dicts(raw.get("containers"))
    state = map_task_state(raw.get("lastStatus"), raw.get("stopCode"), containers)
    desired = _TASK_STATES.get(_str(raw.get("desiredStatus")).upper(), TaskState.UNKNOWN)
    instance_arn = _str(raw.get("containerInstanceArn"))
    if instance_arn:
        node_id = instance_arn
        node_name = (instance_names or {}).get(instance_arn, short_id(instance_arn))
    else:
        node_id, node_name = fargate_node_id(raw)
    exit_code: int | None = None
    if state in (TaskState.STOPPED, TaskState.FAILED, TaskState.STOPPING):
        codes = [_opt_int(c.get("exitCode")) for c in containers]
        exit_code = next((code for code in codes if code not in (None, 0)), next(
            (code for code in codes if code is not None), None))
    error = _str(raw.get("stoppedReason"))
    if not error:
        reasons = [f"{_str(c.get('name'))}: {_str(c.get('reason'))}" for c in containers if _str(c.get("reason"))]
        unhealthy = [_str(c.get("name")) for c in containers if _str(c.get("healthStatus")).upper() == "UNHEALTHY"]
        if unhealthy:
            reasons.append("unhealthy containers: " + ", ".join(unhealthy))
        error = "; ".join(reasons)
    return Task(
        id=short_id(_str(raw.get("taskArn"))),
        service_id=service_id,
        node_id=node_id,
        node_name=node_name,
        state=state,
        desired_state=desired,
        health=map_health(raw.get("healthStatus"), has_healthcheck(task_definition), state),
        version=task_definition_label(_str(raw.get("taskDefinitionArn"))),
        started=_time(raw.get("startedAt")),
        exit_code=exit_code,
        error=error,
        raw_state=_str(raw.get("lastStatus")),
        address=task_address(raw),
        stopped=_time(raw.get("stoppedAt")),
    )


def _port(mapping: Raw) -> str:
    container_port = _opt_int(mapping.get("containerPort"))
    if container_port is None:
        return ""
    protocol = _str(mapping.get("protocol")) or "tcp"
    host_port = _opt_int(mapping.get("hostPort"))
    if host_port and host_port != container_port:
        return f"{host_port}:{container_port}/{protocol}"
    return f"{container_port}/{protocol}"


def memory_mib(value: Any) -> int | None:
    """A memory size in MiB: an int, or AWS's task-level string ("512", "1 GB", "2GB")."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value if value > 0 else None
    text = _str(value).strip().upper().replace(" ", "")
    scale = 1
    if text.endswith("GB"):
        text, scale = text[:-2], 1024
    elif text.endswith("MB") or text.endswith("MIB"):
        text = text[:-3] if text.endswith("MIB") else text[:-2]
    try:
        number = float(text)
    except ValueError:
        return None
    if not math.isfinite(number) or number <= 0:
        return None
    return int(number * scale)


def map_container(definition: Raw, task_memory: Any = None) -> ContainerSpec:
    """`task_memory` is the task definition's own `memory`: a hard limit over every container in the task.

    `memoryReservation` is a soft limit and is not one.
    """
    env = {
        _str(item.get("name")): _str(item.get("value"))
        for item in _dicts(definition.get("environment")) if _str(item.get("name"))
    }
    memory = memory_mib(definition.get("memory")) or memory_mib(task_memory)
    mounts = []
    for mount in _dicts(definition.get("mountPoints")):
        text = f"{_str(mount.get('sourceVolume'))}:{_str(mount.get('containerPath'))}"
        mounts.append(text + (":ro" if mount.get("readOnly") is True else ""))
    return ContainerSpec(
        name=_str(definition.get("name")),
        image=_str(definition.get("image")),
        command=_strings(definition.get("command")),
        entrypoint=_strings(definition.get("entryPoint")),
        env=env,
        secret_env=tuple(_str(s.get("name")) for s in _dicts(definition.get("secrets")) if _str(s.get("name"))),
        healthcheck=bool(_dict(definition.get("healthCheck"))),
        memory_limit_bytes=memory * 1024 * 1024 if memory else None,
        mounts=tuple(mounts),
        ports=tuple(p for p in (_port(m) for m in _dicts(definition.get("portMappings"))) if p),
    )


def map_update_policy(deployment_configuration: Any, controller: str = "ECS") -> UpdatePolicy:
    config = _dict(deployment_configuration)
    breaker = _dict(config.get("deploymentCircuitBreaker"))
    enabled = breaker.get("enable") if isinstance(breaker.get("enable"), bool) else None
    if enabled is None and config and "deploymentCircuitBreaker" not in config and controller in ("", "ECS"):
        # AWS describes the breaker for every ECS-controlled service; a configuration without one has none.
        enabled = False
    rollback = breaker.get("rollback") if isinstance(breaker.get("rollback"), bool) else None
    return UpdatePolicy(
        min_healthy_percent=_opt_int(config.get("minimumHealthyPercent")),
        max_percent=_opt_int(config.get("maximumPercent")),
        circuit_breaker=enabled,
        circuit_breaker_rollback=rollback,
        failure_action="rollback" if enabled and rollback else "",
        has_rollback_policy=bool(enabled and rollback) if enabled is not None else None,
    )


def _newest_first(deployments: Iterable[Raw]) -> list[Raw]:
    epoch = datetime.min.replace(tzinfo=UTC)
    return sorted(deployments, key=lambda d: _time(d.get("createdAt")) or epoch, reverse=True)


def primary_and_active(deployments: Any) -> tuple[Raw | None, list[Raw]]:
    """The PRIMARY deployment and the ACTIVE ones (still running older revisions), newest first."""
    items = _dicts(deployments)
    primary = next((d for d in items if _str(d.get("status")).upper() == "PRIMARY"), None)
    active = _newest_first(d for d in items if _str(d.get("status")).upper() == "ACTIVE")
    return primary, active


def map_rollout(raw_service: Raw) -> Rollout:
    primary, active = primary_and_active(raw_service.get("deployments"))
    if primary is None:
        return Rollout()
    state_word = _str(primary.get("rolloutState")).upper()
    reason = _str(primary.get("rolloutStateReason"))
    rolling_back = "rolling back" in reason.lower() or "rollback" in reason.lower() or any(
        _str(d.get("rolloutState")).upper() == "FAILED" for d in active)
    if state_word == "FAILED":
        state = RolloutState.FAILED
    elif state_word == "IN_PROGRESS" or (not state_word and active):
        state = RolloutState.ROLLING_BACK if rolling_back else RolloutState.UPDATING
    elif state_word == "COMPLETED" and "rolled back" in reason.lower():
        state = RolloutState.ROLLED_BACK
    else:
        state = RolloutState.STABLE
    desired = _int(primary.get("desiredCount")) or _int(raw_service.get("desiredCount"))
    to_version = task_definition_label(_str(primary.get("taskDefinition")))
    from_version = task_definition_label(_str(active[0].get("taskDefinition"))) if active else ""
    finished = _time(primary.get("updatedAt")) if state_word in ("COMPLETED", "FAILED") else None
    parts = [reason] if reason else []
    failed = _int(primary.get("failedTasks"))
    if failed:
        parts.append(f"{failed} failed task{'s' if failed != 1 else ''}")
    return Rollout(
        state=state,
        updated=_int(primary.get("runningCount")),
        total=desired,
        started=_time(primary.get("createdAt")),
        finished=finished,
        message="; ".join(parts),
        from_version=from_version if from_version != to_version else "",
        to_version=to_version,
    )


def deployments_summary(deployments: Any) -> str:
    primary, active = primary_and_active(deployments)
    rows = []
    for deployment in ([primary] if primary else []) + active:
        rows.append(
            f"{_str(deployment.get('status'))} {task_definition_label(_str(deployment.get('taskDefinition')))}"
            f" running {_int(deployment.get('runningCount'))}/{_int(deployment.get('desiredCount'))}"
            f" pending {_int(deployment.get('pendingCount'))} failed {_int(deployment.get('failedTasks'))}"
            + (f" {_str(deployment.get('rolloutState'))}" if deployment.get("rolloutState") else "")
        )
    return "; ".join(rows)


def _load_balancer(entry: Raw) -> str:
    target = short_id(_str(entry.get("targetGroupArn")).rsplit("/", 1)[0]) or _str(entry.get("loadBalancerName"))
    container = _str(entry.get("containerName"))
    port = _opt_int(entry.get("containerPort"))
    where = f"{container}:{port}" if port is not None else container
    return f"{target} -> {where}" if target else where


def service_details(raw: Raw, cluster_name: str) -> dict[str, str]:
    details: dict[str, str] = {"ecs cluster": cluster_name}
    if _str(raw.get("launchType")):
        details["launch type"] = _str(raw["launchType"])
    strategy = _dicts(raw.get("capacityProviderStrategy"))
    if strategy:
        details["capacity provider"] = ", ".join(
            f"{_str(s.get('capacityProvider'))} weight {_int(s.get('weight'))}"
            + (f" base {_int(s.get('base'))}" if _int(s.get("base")) else "")
            for s in strategy
        )
    if _str(raw.get("platformVersion")):
        details["platform version"] = _str(raw["platformVersion"])
    balancers = _dicts(raw.get("loadBalancers"))
    if balancers:
        details["load balancers"] = ", ".join(_load_balancer(b) for b in balancers)
    controller = _str(_dict(raw.get("deploymentController")).get("type"))
    if controller:
        details["deployment controller"] = controller
    if raw.get("deployments"):
        details["deployments"] = deployments_summary(raw.get("deployments"))
    details["task definition"] = _str(raw.get("taskDefinition"))
    return details


def map_service(
    raw: Raw,
    cluster_name: str,
    task_definition: Raw | None,
    tasks: Sequence[Task] = (),
) -> Service:
    name = _str(raw.get("serviceName")) or short_id(_str(raw.get("serviceArn")))
    containers = tuple(
        map_container(c, (task_definition or {}).get("memory"))
        for c in _dicts((task_definition or {}).get("containerDefinitions")))
    images = list(dict.fromkeys(c.image for c in containers if c.image))
    awsvpc = _dict(_dict(raw.get("networkConfiguration")).get("awsvpcConfiguration"))
    labels = {
        _str(tag.get("key")): _str(tag.get("value")) for tag in _dicts(raw.get("tags")) if _str(tag.get("key"))
    }
    rollout = map_rollout(raw)
    primary, _ = primary_and_active(raw.get("deployments"))
    updated_at = _time(primary.get("updatedAt")) if primary else None
    return Service(
        id=_str(raw.get("serviceArn")),
        name=name,
        ref=f"{cluster_name}/{name}",
        namespace=cluster_name,
        workload_kind="service",
        image=", ".join(images),
        version=task_definition_label(_str(raw.get("taskDefinition"))),
        mode=ServiceMode.GLOBAL if _str(raw.get("schedulingStrategy")).upper() == "DAEMON" else ServiceMode.REPLICATED,
        desired=_int(raw.get("desiredCount")),
        running=_int(raw.get("runningCount")),
        pending=_int(raw.get("pendingCount")),
        health=HealthCounts.of(list(tasks)),
        rollout=rollout,
        update_policy=map_update_policy(raw.get("deploymentConfiguration"),
                                        _str(_dict(raw.get("deploymentController")).get("type")) or "ECS"),
        networks=_strings(awsvpc.get("subnets")),
        ports=tuple(dict.fromkeys(p for c in containers for p in c.ports)),
        labels=labels,
        containers=containers,
        tasks=tuple(tasks),
        created=_time(raw.get("createdAt")),
        updated_at=updated_at,
        details=service_details(raw, cluster_name),
    )


def service_events(raw: Raw, cluster: str, ref: str, limit: int = EVENTS_PER_SERVICE) -> list[Event]:
    """The service's own events (they come with DescribeServices: no extra call), the newest `limit`."""
    items = [(when, _str(item.get("message"))) for item in _dicts(raw.get("events"))
             for when in [_time(item.get("createdAt"))] if when and _str(item.get("message"))]
    items.sort(key=lambda pair: pair[0], reverse=True)  # AWS lists newest first; do not rely on it
    return [Event(when, cluster, f"service {ref}", "event", message, service_ref=ref)
            for when, message in items[:max(0, limit)]]


def deployment_changes(before: Any, after: Any, cluster: str, ref: str, now: datetime) -> list[Event]:
    """What changed between two looks at a service's deployments: a new PRIMARY, a rolloutState change.

    Pure: `before`/`after` are the raw `deployments` lists; `now` dates a change AWS gives no time for.
    """
    old = {_str(d.get("id")): d for d in _dicts(before) if _str(d.get("id"))}
    old_primary, _ = primary_and_active(before)
    events: list[Event] = []

    def event(when: datetime | None, message: str) -> None:
        events.append(Event(when or now, cluster, f"service {ref}", "deployment", message, service_ref=ref))

    for deployment in _dicts(after):
        ident = _str(deployment.get("id"))
        if not ident:
            continue
        status = _str(deployment.get("status")).upper()
        rollout = _str(deployment.get("rolloutState")).upper()
        reason = _str(deployment.get("rolloutStateReason"))
        label = task_definition_label(_str(deployment.get("taskDefinition"))) or "?"
        previous = old.get(ident)
        if status == "PRIMARY" and (previous is None or _str(previous.get("status")).upper() != "PRIMARY"):
            source = task_definition_label(_str((old_primary or {}).get("taskDefinition")))
            change = f"{source} -> {label}" if source and source != label else label
            event(_time(deployment.get("createdAt")),
                  f"new deployment {ident}: {change}" + (f" ({rollout.lower()})" if rollout else ""))
        elif previous is not None and rollout:
            before_state = _str(previous.get("rolloutState")).upper()
            if before_state != rollout:
                event(_time(deployment.get("updatedAt")),
                      f"deployment {ident} ({label}) {(before_state or 'unknown').lower()} -> {rollout.lower()}"
                      + (f": {reason}" if reason else ""))
    return events


@dataclass(frozen=True, slots=True)
class LogStream:
    """One container's CloudWatch Logs stream in one task (the awslogs driver names it prefix/container/task)."""

    task_id: str
    container: str
    group: str
    region: str
    stream: str

    @property
    def source(self) -> str:
        return f"{self.task_id[:12]}/{self.container}"


def log_streams(task_definition: Raw, task_id: str, default_region: str) -> tuple[list[LogStream], list[str]]:
    """The streams of one task's containers, and one line per container whose logs cannot be read here."""
    streams: list[LogStream] = []
    unreadable: list[str] = []
    for definition in _dicts(task_definition.get("containerDefinitions")):
        name = _str(definition.get("name")) or "?"
        config = _dict(definition.get("logConfiguration"))
        driver = _str(config.get("logDriver"))
        options = {str(k): _str(v) for k, v in _dict(config.get("options")).items()}
        if not driver:
            unreadable.append(f"container {name} has no log configuration")
        elif driver != "awslogs":
            unreadable.append(f"container {name} uses the {driver} log driver; only awslogs (CloudWatch Logs) "
                              "can be read here")
        elif not options.get("awslogs-group"):
            unreadable.append(f"container {name} uses awslogs without awslogs-group")
        elif not options.get("awslogs-stream-prefix"):
            # Without a prefix the stream is named after the Docker container id, which ECS does not report.
            unreadable.append(f"container {name} uses awslogs without awslogs-stream-prefix; its stream "
                              "cannot be found from the task")
        else:
            streams.append(LogStream(
                task_id=task_id, container=name, group=options["awslogs-group"],
                region=options.get("awslogs-region") or default_region,
                stream=f"{options['awslogs-stream-prefix']}/{name}/{task_id}"))
    return streams, unreadable


def log_line(stream: LogStream, event: Raw) -> LogLine:
    stamp = _opt_int(event.get("timestamp"))
    when = datetime.fromtimestamp(stamp / 1000, UTC) if stamp is not None and 0 <= stamp < 2**45 else None
    return LogLine(time=when, source=stream.source, text=_str(event.get("message")).rstrip("\n"))


def map_container_instance(raw: Raw, cluster_name: str) -> Node:
    attributes = {
        _str(a.get("name")): _str(a.get("value")) for a in _dicts(raw.get("attributes")) if _str(a.get("name"))
    }
    status = _str(raw.get("status")).upper()
    connected = raw.get("agentConnected")
    if status in ("ACTIVE", "DRAINING") and connected is not False:
        node_status = NodeStatus.READY
    elif status in ("INACTIVE", "DEREGISTERING", "REGISTRATION_FAILED") or connected is False:
        node_status = NodeStatus.DOWN
    else:
        node_status = NodeStatus.UNKNOWN
    message = _str(raw.get("statusReason"))
    if connected is False:
        message = message or "ECS agent disconnected"
    labels = {"ecs cluster": cluster_name}
    if attributes.get("ecs.instance-type"):
        labels["instance type"] = attributes["ecs.instance-type"]
    arn = _str(raw.get("containerInstanceArn"))
    return Node(
        id=arn,
        name=_str(raw.get("ec2InstanceId")) or short_id(arn),
        role="container-instance",
        status=node_status,
        availability=Availability.DRAIN if status == "DRAINING" else Availability.ACTIVE,
        zone=attributes.get("ecs.availability-zone", ""),
        labels=labels,
        version=_str(_dict(raw.get("versionInfo")).get("agentVersion")),
        message=message or (status.lower() if status not in ("", "ACTIVE") else ""),
    )


def zone_node(node_id: str, name: str) -> Node:
    zone = name if node_id.startswith("az:") else ""
    return Node(id=node_id, name=name, role="zone", status=NodeStatus.READY, zone=zone)


# -- errors ------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class AwsIdentity:
    """What error messages may say about the credentials in use: the profile, never a secret."""

    profile: str = "default"
    sso: bool = False
    region: str = ""
    endpoint: str = ""

    def login_hint(self) -> str:
        if self.sso:
            return f"run `aws sso login --profile {self.profile}`"
        return (f"run `aws configure --profile {self.profile}` (or `aws sso login --profile {self.profile}`"
                " for an SSO profile), or set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY")


def translate_error(error: Exception, identity: AwsIdentity, operation: str = "", service: str = "ECS",
                    permissions: str = ECS_PERMISSIONS) -> ProviderError:
    """Any boto3/botocore exception as a one-line typed error. Never includes credentials."""
    from botocore import exceptions as bx

    where = f"{service} {operation}" if operation else service
    if isinstance(error, ProviderError):
        return error
    if isinstance(error, bx.ProfileNotFound):
        return CredentialsError(f"AWS profile {identity.profile!r} is not configured",
                                f"run `aws configure --profile {identity.profile}` or fix the profile name")
    if isinstance(error, bx.SSOError | bx.TokenRetrievalError):
        return CredentialsError(f"the AWS SSO session for profile {identity.profile!r} is missing or expired",
                                f"run `aws sso login --profile {identity.profile}`")
    if isinstance(error, bx.NoCredentialsError | bx.PartialCredentialsError | bx.CredentialRetrievalError):
        return CredentialsError(f"no usable AWS credentials for profile {identity.profile!r}",
                                identity.login_hint())
    if isinstance(error, bx.NoRegionError):
        return InvalidInput("no AWS region for this ECS cluster",
                            "set region = \"...\" in the config, or AWS_REGION / the profile's region")
    if isinstance(error, bx.ConnectionError | bx.HTTPClientError):
        target = identity.endpoint or f"{service} in {identity.region or 'the configured region'}"
        return Unreachable(f"cannot reach {target}", "check the network, VPN/proxy and endpoint_url")
    if isinstance(error, bx.ParamValidationError):
        return InvalidInput(f"{where}: invalid request: {' '.join(str(error).split())}")
    if isinstance(error, bx.ClientError):
        details = error.response.get("Error", {}) if isinstance(error.response, Mapping) else {}
        code = str(details.get("Code", "") or "")
        message = " ".join(str(details.get("Message", "") or "").split())
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        if code in THROTTLE_CODES:
            return Throttled(f"AWS throttled {where} ({code})", "refreshing less often until it recovers")
        if code in DENIED_CODES:
            return Forbidden(f"{where} denied for profile {identity.profile!r}: {message or code}",
                             f"the IAM policy needs {permissions}")
        if code in CREDENTIAL_CODES:
            return CredentialsError(f"AWS rejected the credentials of profile {identity.profile!r} ({code})",
                                    identity.login_hint())
        if code in NOT_FOUND_CODES:
            return NotFound(f"{where}: {message or code}")
        if code in ("InvalidParameterException", "ClientException", "ValidationException"):
            return InvalidInput(f"{where}: {message or code}")
        if isinstance(status, int) and status >= 500:
            return ProviderError(f"{where} failed on the AWS side (HTTP {status})", "retrying on the next refresh")
        return ProviderError(f"{where} failed: {code or 'error'}{': ' + message[:200] if message else ''}")
    if isinstance(error, bx.BotoCoreError):
        return ProviderError(f"{where} failed: {' '.join(str(error).split())[:300]}")
    return ProviderError(f"{where} failed unexpectedly: {type(error).__name__}")


# -- the console's own record of task definitions each service ran -------------------------------------

def revisions_path() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "pilothouse" / "ecs-revisions.json"


class RevisionRecord:
    """Service ARN -> task definition ARNs it was seen running, oldest first. Small, merged on save."""

    _lock = threading.Lock()  # one file for every ECS provider in the process

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or revisions_path()
        self.history: dict[str, list[str]] = self._read()
        self._dirty = False

    def _read(self) -> dict[str, list[str]]:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        if not isinstance(data, dict):
            return {}
        return {str(k): [str(x) for x in v if isinstance(x, str)] for k, v in data.items() if isinstance(v, list)}

    def observe(self, service_arn: str, task_definition_arn: str) -> None:
        if not service_arn or not task_definition_arn:
            return
        seen = self.history.setdefault(service_arn, [])
        if seen and seen[-1] == task_definition_arn:
            return
        if task_definition_arn in seen:
            seen.remove(task_definition_arn)
        seen.append(task_definition_arn)
        del seen[:-REVISIONS_KEPT]
        self._dirty = True

    def previous(self, service_arn: str, current: str) -> str:
        seen = self.history.get(service_arn, [])
        earlier = [arn for arn in seen if arn != current]
        return earlier[-1] if earlier and seen and seen[-1] == current else ""

    def save(self) -> None:
        if not self._dirty:
            return
        with self._lock:
            merged = self._read()
            merged.update(self.history)
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                temporary = self.path.with_suffix(f".{os.getpid()}.tmp")
                temporary.write_text(json.dumps(merged, indent=1, sort_keys=True))
                os.replace(temporary, self.path)
            except OSError:
                return  # a read-only home must not break monitoring; rollback falls back to asking
            self._dirty = False


# -- the provider --------------------------------------------------------------------------------------

@dataclass(slots=True)
class _EcsClusterState:
    """What the last refreshes saw of one ECS cluster, as raw AWS dicts (mapped afresh each snapshot)."""

    arn: str
    name: str
    services: list[Raw] = field(default_factory=list)
    services_seen: bool = False
    tasks: dict[str, Raw] = field(default_factory=dict)  # listed RUNNING, by task ARN
    stopped: dict[str, tuple[float, Raw]] = field(default_factory=dict)  # by task ARN: (seen at, raw)
    instances: list[Raw] = field(default_factory=list)
    problem: str = ""
    # Deployment changes seen between refreshes, by service ARN: ECS reports no such events itself.
    deployment_events: dict[str, deque[Event]] = field(default_factory=dict)


class EcsProvider(Provider):
    kind = ClusterKind.ECS
    OPTIONS: ClassVar[Mapping[str, Option]] = {
        "region": Option((str,), "AWS region (default: AWS_REGION or the profile's region)"),
        "profile": Option((str,), "AWS profile, SSO profiles included (default: AWS_PROFILE or default)"),
        "endpoint_url": Option((str,), "ECS endpoint (default: AWS_ENDPOINT_URL_ECS / AWS_ENDPOINT_URL / AWS)"),
        "clusters": Option((list,), "ECS cluster names or ARNs to show (default: every cluster in the region)"),
        "logs_endpoint_url": Option((str,), "CloudWatch Logs endpoint (default: endpoint_url when set, else "
                                            "AWS_ENDPOINT_URL_LOGS / AWS_ENDPOINT_URL / AWS)"),
    }
    CAPABILITIES: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.SCALE, Capability.ROLLBACK, Capability.LOGS})

    def __init__(self, config: ClusterConfig) -> None:
        super().__init__(config)
        options = config.options
        self.region: str = str(options.get("region") or "")
        self.profile: str = str(options.get("profile") or "")
        self.endpoint_url: str = str(options.get("endpoint_url") or "")
        # A single-endpoint emulator (LocalStack, moto) serves logs where it serves ECS.
        self.logs_endpoint_url: str = str(options.get("logs_endpoint_url") or self.endpoint_url)
        wanted = options.get("clusters")
        self.wanted_clusters: list[str] | None = [str(c) for c in wanted] if isinstance(wanted, list) else None
        self._client: Any = None
        self._history_client: Any = None
        self._session: Any = None
        self._client_config: Any = None
        self._logs_clients: dict[str, Any] = {}
        self._logs_lock = threading.Lock()
        self._renew_session = False  # set from the UI thread after a login: a fresh session next refresh
        self._identity = AwsIdentity(profile=self.profile or os.environ.get("AWS_PROFILE", "") or "default")
        self._pool: ThreadPoolExecutor | None = None
        self._clusters: dict[str, _EcsClusterState] = {}
        self._missing_clusters: list[str] = []
        self._listed_at = 0.0
        self._task_definitions: dict[str, Raw] = {}
        self._undescribable: set[str] = set()
        self._refreshes = 0
        self._tasks_due = True
        self._throttle_streak = 0
        self._cooldown_until = 0.0
        self._last: Cluster | None = None
        self._last_full_sync: datetime | None = None
        self._revisions: RevisionRecord | None = None
        self._lock = threading.Lock()

    # -- connection ---------------------------------------------------------------------------

    def connect(self) -> None:
        try:
            import boto3
            import botocore.session
            from botocore.config import Config
        except ImportError as error:  # pragma: no cover - boto3 is a dependency
            raise Unreachable("boto3 is not installed", "pip install boto3") from error
        try:
            # Unset options stay unset: botocore then resolves AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL(_ECS).
            core = botocore.session.Session(profile=self.profile or None)
            profile = str(core.get_config_variable("profile") or "default")
            profile_config = core.full_config.get("profiles", {}).get(profile, {})
            is_sso = bool(profile_config.get("sso_start_url") or profile_config.get("sso_session"))
            session = boto3.session.Session(botocore_session=core, region_name=self.region or None)
            self._identity = AwsIdentity(profile=profile, sso=is_sso, region=session.region_name or "",
                                         endpoint=self.endpoint_url)
            timeouts = {"connect_timeout": 5, "read_timeout": 20, "max_pool_connections": DESCRIBE_WORKERS + 2,
                        "user_agent_extra": "pilothouse"}
            self._session = session
            self._client_config = Config(retries={"mode": "standard"}, **timeouts)
            self._client = session.client("ecs", endpoint_url=self.endpoint_url or None, config=self._client_config)
            # Rollback history is a best effort: one attempt, no retries on the APIs that may not exist.
            self._history_client = session.client(
                "ecs", endpoint_url=self.endpoint_url or None,
                config=Config(retries={"mode": "standard", "total_max_attempts": 1}, **timeouts))
            if not self.endpoint_url:
                self._identity = dataclasses.replace(
                    self._identity, endpoint=str(self._client.meta.endpoint_url))
            if session.get_credentials() is None:
                raise CredentialsError(f"no AWS credentials found for profile {profile!r}",
                                       self._identity.login_hint())
        except ProviderError:
            raise
        except Exception as error:
            raise translate_error(error, self._identity) from None
        if self._pool is None:
            self._pool = ThreadPoolExecutor(DESCRIBE_WORKERS, thread_name_prefix=f"ecs-{self.name}")
        if self._revisions is None:
            self._revisions = RevisionRecord()
        self._discover_clusters()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
        if self._revisions is not None:
            self._revisions.save()
        with self._logs_lock:
            logs_clients = list(self._logs_clients.values())
            self._logs_clients.clear()
        for client in (self._client, self._history_client, *logs_clients):
            if client is not None:
                with contextlib.suppress(Exception):
                    client.close()
        self._client = self._history_client = None

    def _call(self, operation: str, client: Any = None, **kwargs: Any) -> dict[str, Any]:
        if self._client is None:
            raise Unreachable("ECS provider is not connected", "connect first")
        try:
            result: dict[str, Any] = getattr(client or self._client, operation)(**kwargs)
        except Exception as error:
            raise translate_error(error, self._identity, _operation_name(operation)) from None
        return result

    def _pages(self, operation: str, key: str, **kwargs: Any) -> list[str]:
        items: list[str] = []
        token = ""
        while True:
            page = self._call(operation, maxResults=LIST_PAGE, **({"nextToken": token} if token else {}), **kwargs)
            items.extend(str(x) for x in _list(page.get(key)))
            token = _str(page.get("nextToken"))
            if not token:
                return items

    def _parallel(self, function: Callable[[list[str]], list[Raw]], batches: list[list[str]]) -> list[Raw]:
        if not batches:
            return []
        if self._pool is None or len(batches) == 1:
            return [item for batch in batches for item in function(batch)]
        futures = [self._pool.submit(function, batch) for batch in batches]
        results: list[Raw] = []
        first_error: BaseException | None = None
        for future in futures:
            try:
                results.extend(future.result())
            except BaseException as error:  # re-raised below, once every batch has finished
                first_error = first_error or error
        if first_error is not None:
            raise first_error
        return results

    def _discover_clusters(self) -> None:
        if self.wanted_clusters is None:
            arns = self._pages("list_clusters", "clusterArns")
            found = {arn: cluster_name_of(arn) for arn in arns}
            self._missing_clusters = []
        else:
            found = {}
            missing: list[str] = []
            for batch in chunks(self.wanted_clusters, DESCRIBE_CLUSTERS_MAX):
                answer = self._call("describe_clusters", clusters=batch)
                for cluster in _dicts(answer.get("clusters")):
                    if _str(cluster.get("status")).upper() in ("ACTIVE", "PROVISIONING", ""):
                        found[_str(cluster.get("clusterArn"))] = _str(cluster.get("clusterName"))
                    else:
                        missing.append(_str(cluster.get("clusterName")))
                missing += [cluster_name_of(_str(f.get("arn"))) for f in _dicts(answer.get("failures"))]
            if not found:
                names = ", ".join(self.wanted_clusters) or "(none)"
                raise NotFound(f"no such ECS cluster in {self._identity.region or 'this region'}: {names}",
                               "check `clusters` and `region` in the config")
            self._missing_clusters = missing
        self._clusters = {
            arn: self._clusters.get(arn) or _EcsClusterState(arn=arn, name=name) for arn, name in found.items()
        }
        self._listed_at = time.monotonic()

    # -- snapshot -------------------------------------------------------------------------------

    def cooldown_remaining(self) -> float:
        return max(0.0, self._cooldown_until - time.monotonic())

    def snapshot(self) -> Cluster:
        with self._lock:
            return self._snapshot()

    def credentials_renewed(self) -> None:
        self._renew_session = True
        self._cooldown_until = 0.0

    def _snapshot(self) -> Cluster:
        if self._renew_session:
            # A new botocore session reads the renewed SSO token (or profile) instead of cached credentials.
            # The old clients are left to the garbage collector: a log follow may still be using one.
            self._renew_session = False
            with self._logs_lock:
                self._logs_clients.clear()  # built again from the new session when needed
            self.connect()
        elif self._client is None:
            self.connect()
        if self._last is not None and self.cooldown_remaining() > 0:
            # Throttled: serve the last data without a single call until the cool-down ends.
            return dataclasses.replace(self._last, state=ConnectionState.DEGRADED, error=self._throttle_banner())
        if self.wanted_clusters is None and time.monotonic() - self._listed_at > CLUSTER_RELIST_S:
            try:
                self._discover_clusters()
            except (Throttled, Forbidden):
                self._listed_at = time.monotonic()  # keep the clusters we know; try again later
        tasks_due = self._tasks_due or self._refreshes % TASKS_EVERY == 0
        self._refreshes += 1
        throttled = False
        forbidden: list[str] = []
        tasks_complete = True
        for state in list(self._clusters.values()):
            state.problem = ""
            parts = [("services", self._refresh_services)]
            if tasks_due:
                parts += [("tasks", self._refresh_tasks), ("container instances", self._refresh_instances)]
            for kind, refresh in parts:
                try:
                    refresh(state)
                except Throttled:
                    throttled = True
                    tasks_complete = tasks_complete and kind == "services"
                except Forbidden:
                    forbidden.append(f"{kind} ({state.name})")
                    tasks_complete = tasks_complete and kind == "services"
                except InvalidInput as error:  # the cluster was deleted, or AWS refused the request
                    state.problem = str(error)
        try:
            self._describe_new_task_definitions()
        except Throttled:
            throttled = True
        except Forbidden:
            forbidden.append("task definitions")
        if tasks_due and tasks_complete:
            self._tasks_due = False
        if throttled:
            self._throttle_streak += 1
            self._cooldown_until = time.monotonic() + self._throttle_cooldown()
        else:
            self._throttle_streak = 0
            self._cooldown_until = 0.0
        self._remember_revisions()
        cluster = self._build()
        cluster.forbidden = tuple(forbidden)
        problems = [s.problem for s in self._clusters.values() if s.problem]
        problems += [f"ECS cluster {name} not found" for name in self._missing_clusters]
        if throttled:
            problems.insert(0, self._throttle_banner())
        if problems or forbidden:
            cluster.state = ConnectionState.DEGRADED
            cluster.error = "; ".join(problems)  # forbidden data is in cluster.forbidden, not repeated here
        self._last = cluster
        return cluster

    def _throttle_cooldown(self) -> float:
        base = max(self.config.refresh_interval, 0.05)
        return min(MAX_THROTTLE_COOLDOWN_S, base * float(2 ** min(self._throttle_streak, 10)))

    def _throttle_banner(self) -> str:
        when = self._last.last_sync.strftime("%H:%M:%S") if self._last and self._last.last_sync else "earlier"
        return (f"AWS is throttling ECS API calls: showing data from {when}, "
                f"next refresh in {math.ceil(self.cooldown_remaining())}s")

    def _refresh_services(self, state: _EcsClusterState) -> None:
        arns = self._pages("list_services", "serviceArns", cluster=state.arn)

        def describe(batch: list[str]) -> list[Raw]:
            answer = self._call("describe_services", cluster=state.arn, services=batch, include=["TAGS"])
            return _dicts(answer.get("services"))

        services = self._parallel(describe, chunks(arns, DESCRIBE_SERVICES_MAX))
        fresh = [s for s in services if _str(s.get("status")).upper() != "INACTIVE"]
        if state.services_seen:
            self._observe_deployments(state, fresh)
        state.services = fresh
        state.services_seen = True

    def _observe_deployments(self, state: _EcsClusterState, fresh: list[Raw]) -> None:
        before = {_str(s.get("serviceArn")): s.get("deployments") for s in state.services}
        now = datetime.now(UTC)
        for raw in fresh:
            arn = _str(raw.get("serviceArn"))
            name = _str(raw.get("serviceName")) or short_id(arn)
            changes = deployment_changes(before.get(arn), raw.get("deployments"), self.name,
                                         f"{state.name}/{name}", now)
            if changes:
                kept = state.deployment_events.setdefault(arn, deque(maxlen=DEPLOYMENT_EVENTS_PER_SERVICE))
                kept.extend(changes)
        alive = {_str(s.get("serviceArn")) for s in fresh}
        state.deployment_events = {arn: kept for arn, kept in state.deployment_events.items() if arn in alive}

    def _refresh_tasks(self, state: _EcsClusterState) -> None:
        # AWS lists RUNNING by default; moto lists everything unless asked, so ask explicitly.
        listed = self._pages("list_tasks", "taskArns", cluster=state.arn, desiredStatus="RUNNING")
        listed_set = set(listed)
        vanished = [arn for arn in state.tasks if arn not in listed_set]

        def describe(batch: list[str]) -> list[Raw]:
            return _dicts(self._call("describe_tasks", cluster=state.arn, tasks=batch).get("tasks"))

        described = self._parallel(describe, chunks(listed + vanished, DESCRIBE_TASKS_MAX))
        now = time.monotonic()
        running: dict[str, Raw] = {}
        for task in described:
            arn = _str(task.get("taskArn"))
            if arn in listed_set and _str(task.get("desiredStatus")).upper() != "STOPPED":
                running[arn] = task
            else:
                state.stopped[arn] = (now, task)
        state.tasks = running
        fresh = sorted(((seen, arn) for arn, (seen, _) in state.stopped.items()
                        if now - seen < STOPPED_RETENTION_S), reverse=True)
        keep = {arn for _, arn in fresh[:STOPPED_KEEP_PER_CLUSTER]}
        state.stopped = {arn: entry for arn, entry in state.stopped.items() if arn in keep}

    def _refresh_instances(self, state: _EcsClusterState) -> None:
        has_ec2_tasks = any(_str(t.get("containerInstanceArn")) for t in state.tasks.values())
        # A Fargate-only cluster costs nothing here once we have looked and found no instances.
        if not (state.instances or has_ec2_tasks or self._refreshes <= 1 or self._refreshes % 30 == 1):
            return
        arns = self._pages("list_container_instances", "containerInstanceArns", cluster=state.arn)

        def describe(batch: list[str]) -> list[Raw]:
            answer = self._call("describe_container_instances", cluster=state.arn, containerInstances=batch)
            return _dicts(answer.get("containerInstances"))

        state.instances = self._parallel(describe, chunks(arns, DESCRIBE_INSTANCES_MAX))

    def _describe_new_task_definitions(self) -> None:
        wanted: set[str] = set()
        for state in self._clusters.values():
            wanted.update(_str(s.get("taskDefinition")) for s in state.services)
            wanted.update(_str(t.get("taskDefinitionArn")) for t in state.tasks.values())
        unseen = sorted(arn for arn in wanted
                        if arn and arn not in self._task_definitions and arn not in self._undescribable)

        def describe(batch: list[str]) -> list[Raw]:
            try:
                answer = self._call("describe_task_definition", taskDefinition=batch[0])
            except InvalidInput:
                # Deleted or malformed: show the service without its containers rather than fail each refresh.
                self._undescribable.add(batch[0])
                return []
            return [_dict(answer.get("taskDefinition"))]

        for definition in self._parallel(describe, [[arn] for arn in unseen]):
            arn = _str(definition.get("taskDefinitionArn"))
            if arn:
                self._task_definitions[arn] = definition

    def _remember_revisions(self) -> None:
        if self._revisions is None:
            return
        for state in self._clusters.values():
            for service in state.services:
                self._revisions.observe(_str(service.get("serviceArn")), _str(service.get("taskDefinition")))
        self._revisions.save()

    def _build(self) -> Cluster:
        nodes: dict[str, Node] = {}
        services: list[Service] = []
        events: list[Event] = []
        for state in self._clusters.values():
            instance_names = {}
            for raw_instance in state.instances:
                node = map_container_instance(raw_instance, state.name)
                nodes[node.id] = node
                instance_names[node.id] = node.name
            by_service: dict[str, list[Task]] = {}
            service_ids = {
                _str(s.get("serviceName")): _str(s.get("serviceArn")) for s in state.services}
            stopped = [raw for _, raw in sorted(state.stopped.values(), key=lambda e: e[0], reverse=True)]
            for raw_task in [*state.tasks.values(), *stopped]:
                group = _str(raw_task.get("group"))
                service_id = service_ids.get(group[len("service:"):]) if group.startswith("service:") else None
                if service_id is None:
                    continue
                task = map_task(raw_task, service_id, self._task_definitions.get(
                    _str(raw_task.get("taskDefinitionArn"))), instance_names)
                by_service.setdefault(service_id, []).append(task)
                if not task.node_id.startswith("arn:") and task.node_id not in nodes:
                    nodes[task.node_id] = zone_node(task.node_id, task.node_name)
            for raw_service in state.services:
                service = map_service(raw_service, state.name,
                                      self._task_definitions.get(_str(raw_service.get("taskDefinition"))),
                                      by_service.get(_str(raw_service.get("serviceArn")), []))
                services.append(service)
                events += service_events(raw_service, self.name, service.ref)
                events += state.deployment_events.get(service.id, ())
        events.sort(key=lambda e: e.time)
        region = self._identity.region or "?"
        endpoint = f"{region} ({self.endpoint_url})" if self.endpoint_url else region
        return Cluster(
            name=self.name, kind=ClusterKind.ECS, state=ConnectionState.CONNECTED,
            last_sync=datetime.now(UTC), nodes=tuple(nodes.values()),
            services=tuple(sorted(services, key=lambda s: s.ref)), events=tuple(events[-EVENTS_PER_CLUSTER:]),
            endpoint=endpoint,
        )

    def login_command(self) -> LoginCommand | None:
        """What the console should run (with the TUI suspended) to renew an SSO session, if SSO is in use."""
        if not self._identity.sso:
            return None
        return LoginCommand(("aws", "sso", "login", "--profile", self._identity.profile))

    # -- logs -------------------------------------------------------------------------------------

    def logs(
        self, service: Service, *, task_id: str = "", tail: int = 200, follow: bool = False,
        stop: ThreadEvent | None = None,
    ) -> Iterator[LogLine]:
        """CloudWatch Logs of the service's awslogs containers, each line's source "task/container".

        Everything that can be refused is refused here, at the call, before the first line is read.
        `tail` is the last N lines over all streams; `follow` then polls until `stop` is set.
        """
        if not isinstance(tail, int) or isinstance(tail, bool) or tail < 0:
            raise InvalidInput(f"tail must be a whole number >= 0, not {tail!r}")
        if self._client is None:
            self.connect()
        tasks = self._log_tasks(service, task_id)
        streams, unreadable = self._streams_of([(task.id, task.version) for task in tasks])
        if not tasks:
            # No task to look at: the service's own task definition still tells whether logs are readable.
            _, unreadable = self._streams_of([("-", service.version)])
        if not streams and unreadable:
            raise NotSupported(f"cannot read the logs of {service.ref}: {'; '.join(unreadable)}",
                               "read them where that log driver sends them")
        if not streams and not follow:
            raise NotFound(f"{service.ref} has no running or recently stopped task to read logs from",
                           "add --follow to wait for one")
        return self._log_lines(service, streams, unreadable, bool(task_id), tail, follow, stop or ThreadEvent())

    def _log_tasks(self, service: Service, task_id: str) -> list[Task]:
        tasks = list(service.tasks)
        wanted = short_id(task_id.strip())
        if not wanted:
            return tasks
        exact = [task for task in tasks if task.id == wanted]
        matches = exact or [task for task in tasks if task.id.startswith(wanted)]
        if not matches:
            known = ", ".join(task.id[:12] for task in tasks[:5]) or "none"
            raise NotFound(f"no task {task_id!r} in {service.ref}", f"its tasks: {known}")
        if len(matches) > 1:
            raise InvalidInput(f"task {task_id!r} matches {len(matches)} tasks of {service.ref}",
                               "give more of the id: " + ", ".join(task.id[:12] for task in matches[:5]))
        return matches

    def _task_definition(self, version: str) -> Raw:
        """A task definition by ARN or family:revision, from the cache (they are immutable) or described once."""
        if not version:
            return {}
        for arn, definition in list(self._task_definitions.items()):
            if version in (arn, task_definition_label(arn)):
                return definition
        definition = _dict(self._call("describe_task_definition", taskDefinition=version).get("taskDefinition"))
        arn = _str(definition.get("taskDefinitionArn"))
        if arn:
            self._task_definitions[arn] = definition
        return definition

    def _streams_of(self, tasks: Iterable[tuple[str, str]]) -> tuple[list[LogStream], list[str]]:
        """Streams of (task id, task definition) pairs, and why some containers cannot be read (deduplicated)."""
        streams: list[LogStream] = []
        unreadable: list[str] = []
        for task_id, version in tasks:
            found, why = log_streams(self._task_definition(version), task_id, self._identity.region)
            streams += found
            unreadable += why
        return streams, list(dict.fromkeys(unreadable))

    def _logs_client(self, region: str) -> Any:
        with self._logs_lock:
            client = self._logs_clients.get(region)
            if client is None:
                if self._session is None:
                    raise Unreachable("ECS provider is not connected", "connect first")
                client = self._session.client("logs", region_name=region or None,
                                              endpoint_url=self.logs_endpoint_url or None, config=self._client_config)
                self._logs_clients[region] = client
            return client

    def _get_log_events(self, stream: LogStream, **kwargs: Any) -> dict[str, Any]:
        try:
            result: dict[str, Any] = self._logs_client(stream.region).get_log_events(
                logGroupName=stream.group, logStreamName=stream.stream, **kwargs)
        except Exception as error:
            raise translate_error(error, self._identity, "GetLogEvents", "CloudWatch Logs",
                                  LOGS_PERMISSIONS) from None
        return result

    def _read_tail(self, stream: LogStream, count: int) -> tuple[list[LogLine], str | None]:
        """The stream's last `count` lines, oldest first, and the token to follow from (None: no stream yet)."""
        try:
            page = self._get_log_events(stream, startFromHead=False, limit=max(1, min(count, LOG_PAGE_MAX)))
        except NotFound:
            return [], None
        forward = _str(page.get("nextForwardToken")) or None
        if count == 0:
            return [], forward
        pages = [[log_line(stream, event) for event in _dicts(page.get("events"))]]
        got, token = len(pages[0]), _str(page.get("nextBackwardToken"))
        for _ in range(LOG_PAGES_PER_READ):
            if got >= count or not token or not pages[-1]:
                break
            page = self._get_log_events(stream, startFromHead=False, nextToken=token,
                                        limit=min(count - got, LOG_PAGE_MAX))
            older = [log_line(stream, event) for event in _dicts(page.get("events"))]
            following = _str(page.get("nextBackwardToken"))
            if not older or following == token:
                break
            pages.append(older)
            got, token = got + len(older), following
        lines = [line for page_lines in reversed(pages) for line in page_lines]
        return lines[-count:], forward

    def _read_forward(self, stream: LogStream, token: str | None) -> tuple[list[LogLine], str | None]:
        """New lines since `token` (from the stream's head when None); the same token back means no more yet."""
        lines: list[LogLine] = []
        for _ in range(LOG_PAGES_PER_READ):
            try:
                page = self._get_log_events(stream, startFromHead=True, **({"nextToken": token} if token else {}))
            except NotFound:
                break  # the task has not logged yet
            events = _dicts(page.get("events"))
            lines += [log_line(stream, event) for event in events]
            following = _str(page.get("nextForwardToken")) or token
            done = not events or following == token
            token = following
            if done:
                break
        return lines, token

    def _each(self, function: Callable[[LogStream], Any], streams: Sequence[LogStream]) -> list[Any]:
        pool = self._pool
        if pool is not None and len(streams) > 1:
            with contextlib.suppress(RuntimeError):  # closed meanwhile: read them one by one
                return list(pool.map(function, streams))
        return [function(stream) for stream in streams]

    def _log_poll_interval(self, streams: int) -> float:
        base = min(max(self.config.refresh_interval, LOG_POLL_MIN_S), LOG_POLL_MAX_S)
        return min(LOG_FOLLOW_MAX_S, max(base, streams / LOG_READS_PER_S))

    def _new_service_tasks(self, service: Service, known: set[str]) -> list[tuple[str, str]]:
        """(task id, task definition ARN) of the service's running tasks not yet followed."""
        cluster = service.namespace or service.ref.split("/", 1)[0]
        arns = self._pages("list_tasks", "taskArns", cluster=cluster, serviceName=service.name,
                           desiredStatus="RUNNING")
        unseen = [arn for arn in arns if short_id(arn) not in known]
        found = []
        for batch in chunks(unseen, DESCRIBE_TASKS_MAX):
            for task in _dicts(self._call("describe_tasks", cluster=cluster, tasks=batch).get("tasks")):
                found.append((short_id(_str(task.get("taskArn"))), _str(task.get("taskDefinitionArn"))))
        return found

    def _log_lines(self, service: Service, streams: list[LogStream], unreadable: list[str], one_task: bool,
                   tail: int, follow: bool, stop: ThreadEvent) -> Iterator[LogLine]:
        for reason in unreadable:
            yield LogLine(None, LOG_NOTICE_SOURCE, reason)
        tails = self._each(lambda stream: self._read_tail(stream, tail), streams)
        tokens: dict[LogStream, str | None] = {stream: token for stream, (_, token) in zip(streams, tails, strict=True)}
        history = list(heapq.merge(*(lines for lines, _ in tails), key=_line_order))
        yield from history[-tail:] if tail else []
        if not follow:
            return
        known = {stream.task_id for stream in streams}
        rescan_at = time.monotonic() + (LOG_TASK_RESCAN_S if streams else 0.0)
        delay = self._log_poll_interval(len(tokens))
        while not stop.wait(delay):
            delay = self._log_poll_interval(len(tokens))
            try:
                if not one_task and time.monotonic() >= rescan_at:
                    rescan_at = time.monotonic() + LOG_TASK_RESCAN_S
                    new_tasks = self._new_service_tasks(service, known)
                    known.update(task for task, _ in new_tasks)
                    new_streams, _ = self._streams_of(new_tasks)
                    tokens.update({stream: None for stream in new_streams})  # read those from their head
                current = list(tokens)
                reads = self._each(lambda stream: self._read_forward(stream, tokens[stream]), current)
            except Throttled:
                delay = min(LOG_FOLLOW_MAX_S, delay * 2)  # back off; the lines wait in CloudWatch
                continue
            for stream, (_, token) in zip(current, reads, strict=True):
                tokens[stream] = token
            yield from heapq.merge(*(lines for lines, _ in reads), key=_line_order)

    # -- mutations --------------------------------------------------------------------------------

    def refusal(self, action: Action, service: Service) -> str | None:
        reason = super().refusal(action, service)
        if reason:
            return reason
        controller = service.details.get("deployment controller", "ECS")
        if action is Action.ROLLBACK and controller not in ("", "ECS"):
            return f"{service.ref} is deployed by {controller}; roll it back there"
        return None

    def _live_service(self, service: Service) -> Raw:
        cluster = service.namespace or service.ref.split("/", 1)[0]
        answer = self._call("describe_services", cluster=cluster, services=[service.id or service.name])
        found = _dicts(answer.get("services"))
        if not found or _str(found[0].get("status")).upper() == "INACTIVE":
            raise NotFound(f"ECS service {service.ref} not found", "it may have been deleted; refresh")
        return found[0]

    def plan_scale(self, service: Service, replicas: int) -> MutationPlan:
        self.check(Action.SCALE, service)
        if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
            raise InvalidInput(f"cannot scale {service.ref} to {replicas!r}", "give a whole number >= 0")
        live = self._live_service(service)
        current = _int(live.get("desiredCount"))
        return MutationPlan(
            Action.SCALE, self.name, service.ref, _str(live.get("serviceArn")),
            before=str(current), after=str(replicas),
            payload={"cluster": _str(live.get("clusterArn")), "desired_before": current},
        )

    def plan_rollback(self, service: Service) -> MutationPlan:
        self.check(Action.ROLLBACK, service)
        live = self._live_service(service)
        current = _str(live.get("taskDefinition"))
        primary, active = primary_and_active(live.get("deployments"))
        in_progress = bool(active) or (primary is not None and _str(primary.get("rolloutState")) == "IN_PROGRESS")
        target, source = "", ""
        if active and _str(active[0].get("taskDefinition")) not in ("", current):
            target, source = _str(active[0].get("taskDefinition")), "the deployment in progress's previous revision"
        if not target and not in_progress:
            target = self._previous_from_deployments(live, current)
            source = "the last successful deployment's source revision" if target else ""
        if not target and self._revisions is not None:
            target = self._revisions.previous(_str(live.get("serviceArn")), current)
            source = "the revision this console saw before" if target else ""
        if not target or target == current:
            family = task_definition_family(current)
            raise NotSupported(
                f"no earlier revision of {family} is known for {service.ref}",
                f"pick a revision of task definition family {family!r} "
                f"(aws ecs list-task-definitions --family-prefix {family}) and deploy it")
        return MutationPlan(
            Action.ROLLBACK, self.name, service.ref, _str(live.get("serviceArn")),
            before=task_definition_label(current), after=task_definition_label(target),
            detail=f"task definition {task_definition_label(current)} -> {task_definition_label(target)}, "
                   f"from {source}",
            payload={"cluster": _str(live.get("clusterArn")), "from": current, "to": target},
        )

    def _previous_from_deployments(self, live: Raw, current: str) -> str:
        """Source revision of the newest successful deployment that put `current` in place, if the API has it."""
        client = self._history_client
        try:
            listing = self._call("list_service_deployments", client, cluster=_str(live.get("clusterArn")),
                                 service=_str(live.get("serviceArn")), status=["SUCCESSFUL"], maxResults=5)
            briefs = _dicts(listing.get("serviceDeployments"))
            if not briefs:
                return ""
            newest = max(briefs, key=lambda b: _time(b.get("createdAt")) or datetime.min.replace(tzinfo=UTC))
            described = self._call("describe_service_deployments", client,
                                   serviceDeploymentArns=[_str(newest.get("serviceDeploymentArn"))])
            deployment = next(iter(_dicts(described.get("serviceDeployments"))), {})
            target = _str(_dict(deployment.get("targetServiceRevision")).get("arn"))
            sources = [_str(s.get("arn")) for s in _dicts(deployment.get("sourceServiceRevisions"))]
            arns = [a for a in [target, *sources] if a]
            if not sources or not arns:
                return ""
            revisions = self._call("describe_service_revisions", client, serviceRevisionArns=arns)
            by_arn = {_str(r.get("serviceRevisionArn")): _str(r.get("taskDefinition"))
                      for r in _dicts(revisions.get("serviceRevisions"))}
            if target and by_arn.get(target) not in (None, current):
                return ""  # that deployment put something else in place: the record is stale
            return next((by_arn[a] for a in sources if by_arn.get(a) and by_arn[a] != current), "")
        except (Throttled, CredentialsError, Unreachable):
            raise
        except ProviderError:
            return ""  # the API or the permission is missing (moto answers 500): fall back

    def apply(self, plan: MutationPlan) -> str:
        cluster = str(plan.payload.get("cluster") or plan.service_ref.split("/", 1)[0])
        service = Service(id=plan.service_id, name=short_id(plan.service_id), ref=plan.service_ref,
                          namespace=cluster)
        live = self._live_service(service)
        if plan.action is Action.SCALE:
            if str(_int(live.get("desiredCount"))) != plan.before:
                raise Conflict(f"{plan.service_ref} desired count changed to {_int(live.get('desiredCount'))} "
                               f"since the plan (was {plan.before})", "refresh and decide again")
            self._call("update_service", cluster=cluster, service=plan.service_id, desiredCount=int(plan.after))
            message = f"scaled {plan.service_ref} from {plan.before} to {plan.after}"
        elif plan.action is Action.ROLLBACK:
            current, target = _str(live.get("taskDefinition")), str(plan.payload.get("to", ""))
            if current != plan.payload.get("from"):
                raise Conflict(f"{plan.service_ref} now runs {task_definition_label(current)}, "
                               f"not {plan.before}", "refresh and decide again")
            self._call("update_service", cluster=cluster, service=plan.service_id, taskDefinition=target)
            message = f"rolled back {plan.service_ref} from {plan.before} to {plan.after}"
        else:  # pragma: no cover - Action has two members
            raise NotSupported(f"ECS provider cannot {plan.action}")
        with self._lock:
            self._tasks_due = True
        return message


def _line_order(line: LogLine) -> datetime:
    return line.time or datetime.min.replace(tzinfo=UTC)


def _operation_name(method: str) -> str:
    return "".join(part.capitalize() for part in method.split("_"))
