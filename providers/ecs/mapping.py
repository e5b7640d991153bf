"""Pure functions of AWS dicts -> the unified model: services, tasks, container instances, deployments.

Naming, chosen to stay stable when clusters come and go:
- Service.ref is always "ECSCLUSTER/SERVICE" (like Kubernetes "namespace/name"), Service.namespace is the
  ECS cluster name and Service.id the service ARN.
- Task.id is the task's short id (the UUID at the end of its ARN).
- Nodes: on EC2 a container instance (id = container instance ARN, name = EC2 instance id); on Fargate the
  availability zone is the node (id "az:us-east-1a"), or the subnet when AWS gives no zone, so the
  placement grid works for both.
- A service's Rollout comes from its deployments: the PRIMARY one and the ACTIVE ones still running older
  revisions.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from pilothouse.providers.ecs.raw import (
    Raw,
    as_dict,
    as_int,
    as_str,
    as_time,
    dicts,
    opt_int,
    short_id,
    strings,
    task_definition_label,
)
from pilothouse.providers.model import (
    Availability,
    ContainerSpec,
    Health,
    HealthCounts,
    Mount,
    Node,
    NodeStatus,
    Rollout,
    RolloutState,
    RunningImage,
    Service,
    ServiceMode,
    Task,
    TaskState,
    UpdatePolicy,
    VolumeKind,
)

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
    state = _TASK_STATES.get(as_str(last_status).upper(), TaskState.UNKNOWN)
    if state is TaskState.STOPPED:
        failed_exit = any(opt_int(c.get("exitCode")) not in (None, 0) for c in dicts(containers))
        if as_str(stop_code) == "TaskFailedToStart" or failed_exit:
            return TaskState.FAILED
    return state


def has_healthcheck(task_definition: Raw | None) -> bool | None:
    """Whether any container defines a health check; None when the definition is unknown."""
    if task_definition is None:
        return None
    return any(bool(as_dict(c.get("healthCheck"))) for c in dicts(task_definition.get("containerDefinitions")))


def map_health(health_status: Any, checked: bool | None, state: TaskState) -> Health:
    status = as_str(health_status).upper()
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
    zone = as_str(task.get("availabilityZone"))
    if zone:
        return f"az:{zone}", zone
    subnet = task_subnet(task)
    if subnet:
        return f"subnet:{subnet}", subnet
    return "fargate", "fargate"


def task_subnet(task: Raw) -> str:
    for attachment in dicts(task.get("attachments")):
        for detail in dicts(attachment.get("details")):
            if detail.get("name") == "subnetId":
                return as_str(detail.get("value"))
    return ""


def task_address(task: Raw) -> str:
    for attachment in dicts(task.get("attachments")):
        for detail in dicts(attachment.get("details")):
            if detail.get("name") == "privateIPv4Address":
                return as_str(detail.get("value"))
    for container in dicts(task.get("containers")):
        for interface in dicts(container.get("networkInterfaces")):
            address = as_str(interface.get("privateIpv4Address"))
            if address:
                return address
    return ""


def map_task(
    raw: Raw,
    service_id: str,
    task_definition: Raw | None,
    instance_names: Mapping[str, str] | None = None,
) -> Task:
    containers = dicts(raw.get("containers"))
    state = map_task_state(raw.get("lastStatus"), raw.get("stopCode"), containers)
    desired = _TASK_STATES.get(as_str(raw.get("desiredStatus")).upper(), TaskState.UNKNOWN)
    instance_arn = as_str(raw.get("containerInstanceArn"))
    if instance_arn:
        node_id = instance_arn
        node_name = (instance_names or {}).get(instance_arn, short_id(instance_arn))
    else:
        node_id, node_name = fargate_node_id(raw)
    exit_code: int | None = None
    if state in (TaskState.STOPPED, TaskState.FAILED, TaskState.STOPPING):
        codes = [opt_int(c.get("exitCode")) for c in containers]
        exit_code = next((code for code in codes if code not in (None, 0)), next(
            (code for code in codes if code is not None), None))
    error = as_str(raw.get("stoppedReason"))
    if not error:
        reasons = [f"{as_str(c.get('name'))}: {as_str(c.get('reason'))}" for c in containers if as_str(c.get("reason"))]
        unhealthy = [as_str(c.get("name")) for c in containers if as_str(c.get("healthStatus")).upper() == "UNHEALTHY"]
        if unhealthy:
            reasons.append("unhealthy containers: " + ", ".join(unhealthy))
        error = "; ".join(reasons)
    return Task(
        id=short_id(as_str(raw.get("taskArn"))),
        service_id=service_id,
        node_id=node_id,
        node_name=node_name,
        state=state,
        desired_state=desired,
        health=map_health(raw.get("healthStatus"), has_healthcheck(task_definition), state),
        version=task_definition_label(as_str(raw.get("taskDefinitionArn"))),
        started=as_time(raw.get("startedAt")),
        exit_code=exit_code,
        error=error,
        raw_state=as_str(raw.get("lastStatus")),
        address=task_address(raw),
        stopped=as_time(raw.get("stoppedAt")),
        images=tuple(image for c in containers if (image := RunningImage.of(
            as_str(c.get("image")), as_str(c.get("imageDigest")), as_str(c.get("name")))) is not None),
    )


def _port(mapping: Raw) -> str:
    container_port = opt_int(mapping.get("containerPort"))
    if container_port is None:
        return ""
    protocol = as_str(mapping.get("protocol")) or "tcp"
    host_port = opt_int(mapping.get("hostPort"))
    if host_port and host_port != container_port:
        return f"{host_port}:{container_port}/{protocol}"
    return f"{container_port}/{protocol}"


def memory_mib(value: Any) -> int | None:
    """A memory size in MiB: an int, or AWS's task-level string ("512", "1 GB", "2GB")."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value if value > 0 else None
    text = as_str(value).strip().upper().replace(" ", "")
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


def map_volume(volume: Raw, target: str, read_only: bool) -> Mount:
    """A task definition volume as one container mounts it.

    A host volume with a sourcePath is a container instance's directory; without one, Docker's scratch for
    the task. A Docker volume with scope task (the default) is made and deleted with the task; with scope
    shared it outlives the task on that container instance, unless its driver is not the local one.
    """
    name = as_str(volume.get("name"))
    efs = as_dict(volume.get("efsVolumeConfiguration"))
    if efs:
        return Mount(VolumeKind.EFS, target, as_str(efs.get("fileSystemId")), read_only, name)
    docker = as_dict(volume.get("dockerVolumeConfiguration"))
    if docker:
        driver = as_str(docker.get("driver")) or "local"
        if (as_str(docker.get("scope")) or "task") == "task":
            return Mount(VolumeKind.TASK_SCOPED, target, name, read_only, name, driver=driver)
        kind = VolumeKind.NAMED_LOCAL if driver == "local" else VolumeKind.NAMED_DRIVER
        return Mount(kind, target, name, read_only, name, driver=driver)
    source = as_str(as_dict(volume.get("host")).get("sourcePath"))
    if source:
        return Mount(VolumeKind.HOST, target, source, read_only, name)
    if any(key in volume for key in ("fsxWindowsFileServerVolumeConfiguration", "configuredAtLaunch")):
        return Mount(VolumeKind.OTHER, target, name, read_only, name)
    return Mount(VolumeKind.EPHEMERAL, target, name, read_only, name)


def map_container(definition: Raw, task_memory: Any = None, volumes: Any = None) -> ContainerSpec:
    """`task_memory` is the task definition's own `memory`: a hard limit over every container in the task.
    `volumes` are the task definition's, which the container's mountPoints name.

    `memoryReservation` is a soft limit and is not one.
    """
    env = {
        as_str(item.get("name")): as_str(item.get("value"))
        for item in dicts(definition.get("environment")) if as_str(item.get("name"))
    }
    memory = memory_mib(definition.get("memory")) or memory_mib(task_memory)
    by_name = {as_str(volume.get("name")): volume for volume in dicts(volumes)}
    mounts = []
    for mount in dicts(definition.get("mountPoints")):
        name, target = as_str(mount.get("sourceVolume")), as_str(mount.get("containerPath"))
        read_only = mount.get("readOnly") is True
        volume = by_name.get(name)
        mounts.append(map_volume(volume, target, read_only) if volume is not None
                      else Mount(VolumeKind.OTHER, target, name, read_only, name))
    return ContainerSpec(
        name=as_str(definition.get("name")),
        image=as_str(definition.get("image")),
        command=strings(definition.get("command")),
        entrypoint=strings(definition.get("entryPoint")),
        env=env,
        secret_env=tuple(as_str(s.get("name")) for s in dicts(definition.get("secrets")) if as_str(s.get("name"))),
        healthcheck=bool(as_dict(definition.get("healthCheck"))),
        memory_limit_bytes=memory * 1024 * 1024 if memory else None,
        mounts=tuple(mounts),
        ports=tuple(p for p in (_port(m) for m in dicts(definition.get("portMappings"))) if p),
    )


def map_update_policy(deployment_configuration: Any, controller: str = "ECS") -> UpdatePolicy:
    config = as_dict(deployment_configuration)
    breaker = as_dict(config.get("deploymentCircuitBreaker"))
    enabled = breaker.get("enable") if isinstance(breaker.get("enable"), bool) else None
    if enabled is None and config and "deploymentCircuitBreaker" not in config and controller in ("", "ECS"):
        # AWS describes the breaker for every ECS-controlled service; a configuration without one has none.
        enabled = False
    rollback = breaker.get("rollback") if isinstance(breaker.get("rollback"), bool) else None
    return UpdatePolicy(
        min_healthy_percent=opt_int(config.get("minimumHealthyPercent")),
        max_percent=opt_int(config.get("maximumPercent")),
        circuit_breaker=enabled,
        circuit_breaker_rollback=rollback,
        failure_action="rollback" if enabled and rollback else "",
        has_rollback_policy=bool(enabled and rollback) if enabled is not None else None,
    )


def _newest_first(deployments: Iterable[Raw]) -> list[Raw]:
    epoch = datetime.min.replace(tzinfo=UTC)
    return sorted(deployments, key=lambda d: as_time(d.get("createdAt")) or epoch, reverse=True)


def primary_and_active(deployments: Any) -> tuple[Raw | None, list[Raw]]:
    """The PRIMARY deployment and the ACTIVE ones (still running older revisions), newest first."""
    items = dicts(deployments)
    primary = next((d for d in items if as_str(d.get("status")).upper() == "PRIMARY"), None)
    active = _newest_first(d for d in items if as_str(d.get("status")).upper() == "ACTIVE")
    return primary, active


def map_rollout(raw_service: Raw) -> Rollout:
    primary, active = primary_and_active(raw_service.get("deployments"))
    if primary is None:
        return Rollout()
    state_word = as_str(primary.get("rolloutState")).upper()
    reason = as_str(primary.get("rolloutStateReason"))
    rolling_back = "rolling back" in reason.lower() or "rollback" in reason.lower() or any(
        as_str(d.get("rolloutState")).upper() == "FAILED" for d in active)
    if state_word == "FAILED":
        state = RolloutState.FAILED
    elif state_word == "IN_PROGRESS" or (not state_word and active):
        state = RolloutState.ROLLING_BACK if rolling_back else RolloutState.UPDATING
    elif state_word == "COMPLETED" and "rolled back" in reason.lower():
        state = RolloutState.ROLLED_BACK
    else:
        state = RolloutState.STABLE
    desired = as_int(primary.get("desiredCount")) or as_int(raw_service.get("desiredCount"))
    to_version = task_definition_label(as_str(primary.get("taskDefinition")))
    from_version = task_definition_label(as_str(active[0].get("taskDefinition"))) if active else ""
    finished = as_time(primary.get("updatedAt")) if state_word in ("COMPLETED", "FAILED") else None
    parts = [reason] if reason else []
    failed = as_int(primary.get("failedTasks"))
    if failed:
        parts.append(f"{failed} failed task{'s' if failed != 1 else ''}")
    return Rollout(
        state=state,
        updated=as_int(primary.get("runningCount")),
        total=desired,
        started=as_time(primary.get("createdAt")),
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
            f"{as_str(deployment.get('status'))} {task_definition_label(as_str(deployment.get('taskDefinition')))}"
            f" running {as_int(deployment.get('runningCount'))}/{as_int(deployment.get('desiredCount'))}"
            f" pending {as_int(deployment.get('pendingCount'))} failed {as_int(deployment.get('failedTasks'))}"
            + (f" {as_str(deployment.get('rolloutState'))}" if deployment.get("rolloutState") else "")
        )
    return "; ".join(rows)


def _load_balancer(entry: Raw) -> str:
    target = short_id(as_str(entry.get("targetGroupArn")).rsplit("/", 1)[0]) or as_str(entry.get("loadBalancerName"))
    container = as_str(entry.get("containerName"))
    port = opt_int(entry.get("containerPort"))
    where = f"{container}:{port}" if port is not None else container
    return f"{target} -> {where}" if target else where


def service_details(raw: Raw, cluster_name: str) -> dict[str, str]:
    details: dict[str, str] = {"ecs cluster": cluster_name}
    if as_str(raw.get("launchType")):
        details["launch type"] = as_str(raw["launchType"])
    strategy = dicts(raw.get("capacityProviderStrategy"))
    if strategy:
        details["capacity provider"] = ", ".join(
            f"{as_str(s.get('capacityProvider'))} weight {as_int(s.get('weight'))}"
            + (f" base {as_int(s.get('base'))}" if as_int(s.get("base")) else "")
            for s in strategy
        )
    if as_str(raw.get("platformVersion")):
        details["platform version"] = as_str(raw["platformVersion"])
    balancers = dicts(raw.get("loadBalancers"))
    if balancers:
        details["load balancers"] = ", ".join(_load_balancer(b) for b in balancers)
    controller = as_str(as_dict(raw.get("deploymentController")).get("type"))
    if controller:
        details["deployment controller"] = controller
    if raw.get("deployments"):
        details["deployments"] = deployments_summary(raw.get("deployments"))
    details["task definition"] = as_str(raw.get("taskDefinition"))
    return details


def map_service(
    raw: Raw,
    cluster_name: str,
    task_definition: Raw | None,
    tasks: Sequence[Task] = (),
) -> Service:
    name = as_str(raw.get("serviceName")) or short_id(as_str(raw.get("serviceArn")))
    containers = tuple(
        map_container(c, (task_definition or {}).get("memory"), (task_definition or {}).get("volumes"))
        for c in dicts((task_definition or {}).get("containerDefinitions")))
    images = list(dict.fromkeys(c.image for c in containers if c.image))
    awsvpc = as_dict(as_dict(raw.get("networkConfiguration")).get("awsvpcConfiguration"))
    labels = {
        as_str(tag.get("key")): as_str(tag.get("value")) for tag in dicts(raw.get("tags")) if as_str(tag.get("key"))
    }
    rollout = map_rollout(raw)
    primary, _ = primary_and_active(raw.get("deployments"))
    updated_at = as_time(primary.get("updatedAt")) if primary else None
    return Service(
        id=as_str(raw.get("serviceArn")),
        name=name,
        ref=f"{cluster_name}/{name}",
        namespace=cluster_name,
        workload_kind="service",
        image=", ".join(images),
        version=task_definition_label(as_str(raw.get("taskDefinition"))),
        mode=(ServiceMode.GLOBAL if as_str(raw.get("schedulingStrategy")).upper() == "DAEMON"
              else ServiceMode.REPLICATED),
        desired=as_int(raw.get("desiredCount")),
        running=as_int(raw.get("runningCount")),
        pending=as_int(raw.get("pendingCount")),
        health=HealthCounts.of(list(tasks)),
        rollout=rollout,
        update_policy=map_update_policy(raw.get("deploymentConfiguration"),
                                        as_str(as_dict(raw.get("deploymentController")).get("type")) or "ECS"),
        networks=strings(awsvpc.get("subnets")),
        ports=tuple(dict.fromkeys(p for c in containers for p in c.ports)),
        labels=labels,
        containers=containers,
        tasks=tuple(tasks),
        created=as_time(raw.get("createdAt")),
        updated_at=updated_at,
        details=service_details(raw, cluster_name),
    )


def map_container_instance(raw: Raw, cluster_name: str) -> Node:
    attributes = {
        as_str(a.get("name")): as_str(a.get("value")) for a in dicts(raw.get("attributes")) if as_str(a.get("name"))
    }
    status = as_str(raw.get("status")).upper()
    connected = raw.get("agentConnected")
    if status in ("ACTIVE", "DRAINING") and connected is not False:
        node_status = NodeStatus.READY
    elif status in ("INACTIVE", "DEREGISTERING", "REGISTRATION_FAILED") or connected is False:
        node_status = NodeStatus.DOWN
    else:
        node_status = NodeStatus.UNKNOWN
    message = as_str(raw.get("statusReason"))
    if connected is False:
        message = message or "ECS agent disconnected"
    labels = {"ecs cluster": cluster_name}
    if attributes.get("ecs.instance-type"):
        labels["instance type"] = attributes["ecs.instance-type"]
    arn = as_str(raw.get("containerInstanceArn"))
    return Node(
        id=arn,
        name=as_str(raw.get("ec2InstanceId")) or short_id(arn),
        role="container-instance",
        status=node_status,
        availability=Availability.DRAIN if status == "DRAINING" else Availability.ACTIVE,
        zone=attributes.get("ecs.availability-zone", ""),
        labels=labels,
        version=as_str(as_dict(raw.get("versionInfo")).get("agentVersion")),
        message=message or (status.lower() if status not in ("", "ACTIVE") else ""),
        raw_state=status,
        raw_availability=status,
        agent_connected=connected if isinstance(connected, bool) else None,
        cpu_remaining=_resource(raw.get("remainingResources"), "CPU"),
        cpu_registered=_resource(raw.get("registeredResources"), "CPU"),
        memory_remaining_mib=_resource(raw.get("remainingResources"), "MEMORY"),
        memory_registered_mib=_resource(raw.get("registeredResources"), "MEMORY"),
    )


def _resource(resources: Any, name: str) -> int | None:
    """An INTEGER resource (CPU units, MEMORY MiB) of a container instance's registered/remaining list."""
    for resource in dicts(resources):
        if as_str(resource.get("name")) == name and isinstance(resource.get("integerValue"), int):
            return int(resource["integerValue"])
    return None


def zone_node(node_id: str, name: str) -> Node:
    zone = name if node_id.startswith("az:") else ""
    return Node(id=node_id, name=name, role="zone", status=NodeStatus.READY, zone=zone)
