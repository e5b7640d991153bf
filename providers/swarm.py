"""Docker Swarm provider: one swarm manager's API, mapped into the unified model.

A refresh is exactly three list calls whatever the fleet size (services with status, tasks, nodes); network
names come from the tasks' own attachments and a cache, so the networks list is called only when an unknown
network id shows up, and an image is inspected (once per image and TTL) only when a service's spec says
nothing about health. Changes made outside pilothouse arrive through the `/events` stream (service and node
events; Swarm has no task events, so tasks are polled); the same events, seeded on connect from the engine's
recent history, are the cluster's timeline. Logs come from the engine's service and task log endpoints.

The docker SDK is imported inside functions only, and the mapping functions below are pure functions of the
API's dicts (docker's low-level APIClient), so they can be tested without an engine.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import heapq
import json
import os
import re
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar

from pilothouse.providers.base import Action, Capability, ClusterConfig, LogLine, MutationPlan, Option, Provider
from pilothouse.providers.errors import (
    Conflict,
    ConnectionRefused,
    CredentialsError,
    Forbidden,
    InvalidInput,
    NotFound,
    NotSupported,
    ProviderError,
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

if TYPE_CHECKING:
    from docker.api.client import APIClient

Raw = Mapping[str, Any]

STACK_LABEL = "com.docker.stack.namespace"
UNHEALTHY_ERROR = "unhealthy container"
# Failed tasks kept per service: enough to read the reason, bounded so a crash-looping service cannot grow
# the snapshot (the engine itself keeps task-history-limit, 5 by default, per slot).
FAILED_TASKS_PER_SERVICE = 5
# The timeline's buffer: bounded, so a long session on a busy swarm cannot grow without end.
MAX_EVENTS = 1000
# A fresh provider (a one-shot CLI run) asks the engine for this much recent history on connect.
EVENT_SEED_WINDOW_S = 15 * 60
# An image's own HEALTHCHECK is read once per image and kept this long; a refresh inspects at most
# IMAGE_INSPECTS_PER_SNAPSHOT new images, so a first look at a fleet of many images stays bounded.
IMAGE_CHECK_TTL_S = 300.0
IMAGE_INSPECTS_PER_SNAPSHOT = 16
MAX_IMAGE_CHECKS = 1000
SECRETS_DIR = "/run/secrets/"
API_TIMEOUT_S = 15
WATCH_MAX_BACKOFF_S = 30.0
RESUME_SKEW_S = 5.0
DEFAULT_LOCAL_SOCKET = "unix:///var/run/docker.sock"
NOT_A_MANAGER = "this engine is not a swarm manager"


class NotSwarmManager(ProviderError):
    """The engine answers, but cannot serve the swarm's state (not in a swarm, or a worker)."""


# ---------------------------------------------------------------------------------------------------------
# Pure mapping: API dicts -> model. Missing or null fields and unknown enum values never raise.
# ---------------------------------------------------------------------------------------------------------

_TIME_RE = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})?$")


def parse_time(value: Any) -> datetime | None:
    """Docker's RFC 3339 times carry nanoseconds, which datetime cannot hold; year 1 means unset."""
    if not isinstance(value, str):
        return None
    match = _TIME_RE.match(value.strip())
    if not match:
        return None
    base, fraction, zone = match.groups()
    text = base + (f".{fraction[:6].ljust(6, '0')}" if fraction else "")
    try:
        parsed = datetime.fromisoformat(text + ("+00:00" if zone in (None, "Z") else zone))
    except ValueError:
        return None
    if parsed.year <= 1:
        return None
    return parsed.astimezone(UTC)


def _dict(value: Any) -> Raw:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else []


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _seconds(nanoseconds: Any) -> float | None:
    value = _int(nanoseconds)
    return None if value is None else value / 1e9


def _labels(value: Any) -> dict[str, str]:
    return {str(key): str(val) for key, val in _dict(value).items() if val is not None}


def display_image(image: Any) -> str:
    """`repo:tag@sha256:...` -> `repo:tag`; an untagged digest keeps a short digest so it stays distinct."""
    text = _str(image)
    name, _, digest = text.partition("@")
    last = name.rsplit("/", 1)[-1]
    if digest and ":" not in last:
        return f"{name}@{digest.split(':', 1)[-1][:12]}"
    return name


def _task_template(spec: Raw) -> Raw:
    return _dict(spec.get("TaskTemplate"))


def _container_spec_raw(spec: Raw) -> Raw:
    return _dict(_task_template(spec).get("ContainerSpec"))


def spec_image(spec: Raw) -> str:
    return display_image(_container_spec_raw(spec).get("Image"))


def spec_fingerprint(task_spec: Raw) -> str:
    """What identifies a task's spec version.

    Engine 20.10 does not expose which service version a task was made from: a task's `Version` is the
    task object's own raft index (it moves on every state change), unrelated to the service's. A task's
    `Spec` is a copy of the service's TaskTemplate at creation, except that the service's copy also carries
    `Runtime` (seen on 20.10.24). So compare the fields both carry; ForceUpdate makes `--force` count as new.
    """
    keys = ("ContainerSpec", "Resources", "Placement", "RestartPolicy", "LogDriver", "ForceUpdate")
    return json.dumps({key: task_spec.get(key) for key in keys}, sort_keys=True, default=str)


def healthcheck_of(container: Raw) -> bool | None:
    """From the spec alone: True defined, False disabled, None cannot tell (the image may define one)."""
    check = container.get("Healthcheck")
    if not isinstance(check, Mapping):
        return None
    test = [str(part) for part in _list(check.get("Test"))]
    if test[:1] == ["NONE"]:
        return False
    if test:
        return True
    # Only interval/retries/timeouts set: they tune the image's own HEALTHCHECK (the daemon merges them
    # field by field); the CLI writes them only when asked, so the image has one.
    return True if any(check.get(key) for key in ("Interval", "Timeout", "Retries", "StartPeriod")) else None


_TASK_STATES: dict[str, TaskState] = {
    "new": TaskState.PENDING,
    "allocated": TaskState.PENDING,
    "pending": TaskState.PENDING,
    "assigned": TaskState.PENDING,
    "accepted": TaskState.STARTING,
    "preparing": TaskState.STARTING,
    "ready": TaskState.STARTING,
    "starting": TaskState.STARTING,
    "running": TaskState.RUNNING,
    "complete": TaskState.COMPLETE,
    "shutdown": TaskState.STOPPED,
    "failed": TaskState.FAILED,
    "rejected": TaskState.FAILED,
    "remove": TaskState.STOPPING,
    "orphaned": TaskState.UNKNOWN,
}


def task_state(raw: Any) -> TaskState:
    return _TASK_STATES.get(_str(raw).lower(), TaskState.UNKNOWN)


def _is_failed(task: Raw) -> bool:
    return _str(_dict(task.get("Status")).get("State")) in ("failed", "rejected")


def _is_current(task: Raw) -> bool:
    """Meant to run (or to start next: desired `ready` during an update), or still running while replaced."""
    state = _str(_dict(task.get("Status")).get("State"))
    return task.get("DesiredState") in ("running", "ready") or state == "running"


def _task_time(task: Raw) -> str:
    return _str(_dict(task.get("Status")).get("Timestamp")) or _str(task.get("UpdatedAt"))


def select_tasks(tasks: Iterable[Any]) -> dict[str, list[Raw]]:
    """Per service: the current tasks plus the most recent failed ones (bounded); older history dropped."""
    current: dict[str, list[Raw]] = {}
    failed: dict[str, list[Raw]] = {}
    for task in tasks:
        if not isinstance(task, Mapping):
            continue
        service_id = _str(task.get("ServiceID"))
        if _is_current(task):
            current.setdefault(service_id, []).append(task)
        elif _is_failed(task):
            failed.setdefault(service_id, []).append(task)
    for service_id, items in failed.items():
        items.sort(key=_task_time, reverse=True)
        current.setdefault(service_id, []).extend(items[:FAILED_TASKS_PER_SERVICE])
    return current


def _health_evidence(tasks: Iterable[Raw]) -> set[str]:
    """Images whose tasks showed a health check at work (waiting in `starting`, or failed as unhealthy).

    The manager does not report an image's own HEALTHCHECK; this is what its tasks reveal.
    """
    images: set[str] = set()
    for task in tasks:
        status = _dict(task.get("Status"))
        if status.get("State") == "starting" or UNHEALTHY_ERROR in _str(status.get("Err")):
            images.add(_str(_container_spec_raw({"TaskTemplate": task.get("Spec")}).get("Image")))
    return images


def task_health(state: str, error: str, healthcheck: bool | None) -> Health:
    """Issue 3's table: starting = starting, running with a check = healthy, unhealthy failure, else none."""
    if UNHEALTHY_ERROR in error:
        return Health.UNHEALTHY
    if healthcheck is False:
        return Health.NONE
    if state == "starting":
        return Health.STARTING
    if state == "running":
        return Health.HEALTHY if healthcheck else Health.NONE
    return Health.UNKNOWN if healthcheck else Health.NONE


def _first_address(task: Raw) -> str:
    for attachment in _list(task.get("NetworksAttachments")):
        network = _dict(_dict(attachment).get("Network"))
        if _dict(network.get("Spec")).get("Ingress"):
            continue
        for address in _list(_dict(attachment).get("Addresses")):
            if isinstance(address, str) and address:
                return address.split("/", 1)[0]
    return ""


def map_task(
    task: Raw, node_names: Mapping[str, str], healthcheck: bool | None = None,
    down_nodes: frozenset[str] = frozenset(),
) -> Task:
    status = _dict(task.get("Status"))
    raw_state = _str(status.get("State"))
    error = _str(status.get("Err"))
    state = task_state(raw_state)
    node_id = _str(task.get("NodeID"))
    if node_id in down_nodes and state in (TaskState.RUNNING, TaskState.STARTING, TaskState.PENDING):
        # A lost node cannot report its tasks: the manager keeps the last word ("running") and even counts
        # it in ServiceStatus.RunningTasks (seen: 4/3 after a worker died). Say we do not know.
        state = TaskState.UNKNOWN
        error = error or f"node {node_names.get(node_id, node_id[:12])} is down; last reported {raw_state}"
    container_status = _dict(status.get("ContainerStatus"))
    # An exit code means something only once the container has ended.
    ended = state in (TaskState.FAILED, TaskState.COMPLETE, TaskState.STOPPED)
    exit_code = _int(container_status.get("ExitCode")) if ended else None
    if not error and state is TaskState.FAILED:
        error = _str(status.get("Message"))
    image = _str(_dict(_dict(task.get("Spec")).get("ContainerSpec")).get("Image"))
    return Task(
        id=_str(task.get("ID")),
        service_id=_str(task.get("ServiceID")),
        slot=_int(task.get("Slot")),
        node_id=node_id,
        node_name=node_names.get(node_id, node_id[:12]),
        state=state,
        desired_state=task_state(task.get("DesiredState")),
        health=task_health(raw_state, error, healthcheck),
        # A task's own Version is its raft index, not the service's: the image says which version it runs.
        version=display_image(image),
        started=parse_time(status.get("Timestamp")) if state is TaskState.RUNNING else None,
        exit_code=exit_code,
        error=error,
        raw_state=raw_state,
        address=_first_address(task),
    )


def map_update_policy(update: Any, rollback: Any = None) -> UpdatePolicy:
    """Missing UpdateConfig means the engine's defaults (what `docker service inspect --pretty` shows)."""
    config = _dict(update)
    return UpdatePolicy(
        parallelism=_int(config.get("Parallelism")) if "Parallelism" in config else 1,
        delay_s=_seconds(config.get("Delay")) or 0.0,
        failure_action=_str(config.get("FailureAction")) or "pause",
        monitor_s=_seconds(config.get("Monitor")) if config.get("Monitor") is not None else 5.0,
        order=_str(config.get("Order")) or "stop-first",
        has_rollback_policy=isinstance(rollback, Mapping),
    )


def _port_text(port: Raw) -> str:
    target = _int(port.get("TargetPort"))
    published = _int(port.get("PublishedPort"))
    protocol = _str(port.get("Protocol")) or "tcp"
    text = f"{published}:{target}/{protocol}" if published else f"{target}/{protocol}"
    return text + " (host)" if port.get("PublishMode") == "host" else text


def map_ports(service: Raw) -> tuple[str, ...]:
    ports = _list(_dict(service.get("Endpoint")).get("Ports"))
    if not ports:
        ports = _list(_dict(_dict(service.get("Spec")).get("EndpointSpec")).get("Ports"))
    return tuple(_port_text(_dict(port)) for port in ports if isinstance(port, Mapping))


def network_ids(spec: Raw) -> list[str]:
    targets = _list(_task_template(spec).get("Networks")) or _list(spec.get("Networks"))
    return [_str(_dict(item).get("Target")) for item in targets if _str(_dict(item).get("Target"))]


def _mount_text(mount: Raw) -> str:
    kind = _str(mount.get("Type")) or "volume"
    source = _str(mount.get("Source"))
    target = _str(mount.get("Target"))
    text = f"{kind}:{source}->{target}" if source else f"{kind}:{target}"
    return text + " (ro)" if mount.get("ReadOnly") else text


def map_container_spec(name: str, container: Raw, resources: Raw, healthcheck: bool | None) -> ContainerSpec:
    env: dict[str, str] = {}
    for item in _list(container.get("Env")):
        if isinstance(item, str):
            key, _, value = item.partition("=")
            env[key] = value
    secrets = tuple(
        _str(_dict(secret).get("SecretName")) or _str(_dict(_dict(secret).get("File")).get("Name"))
        for secret in _list(container.get("Secrets"))
    )
    # Where the secrets are mounted: a relative File.Name lands under /run/secrets/.
    secret_paths = {
        path if path.startswith("/") else SECRETS_DIR + path
        for secret in _list(container.get("Secrets"))
        if (path := _str(_dict(_dict(secret).get("File")).get("Name")))
    }
    # The *_FILE convention: the variable holds where the secret is mounted, not the secret itself.
    file_refs = tuple(
        key for key, value in env.items() if value in secret_paths or value.startswith(SECRETS_DIR)
    )
    return ContainerSpec(
        name=name,
        image=display_image(container.get("Image")),
        # Swarm's Command replaces the image's ENTRYPOINT; Args replace its CMD.
        entrypoint=tuple(str(part) for part in _list(container.get("Command"))),
        command=tuple(str(part) for part in _list(container.get("Args"))),
        env=env,
        # Swarm secrets are files, not env vars: their names, and the variables that point at their files.
        secret_env=tuple(secret for secret in secrets if secret) + file_refs,
        healthcheck=healthcheck,
        memory_limit_bytes=_int(_dict(_dict(resources).get("Limits")).get("MemoryBytes")) or None,
        mounts=tuple(_mount_text(_dict(mount)) for mount in _list(container.get("Mounts"))),
        # Published ports belong to the service's endpoint (Service.ports), not to the container.
    )


_ROLLOUT_STATES: dict[str, RolloutState] = {
    "updating": RolloutState.UPDATING,
    "paused": RolloutState.PAUSED,
    "completed": RolloutState.STABLE,
    "rollback_started": RolloutState.ROLLING_BACK,
    "rollback_paused": RolloutState.PAUSED,
    "rollback_completed": RolloutState.ROLLED_BACK,
}


def map_rollout(service: Raw, tasks: Iterable[Raw], desired: int) -> Rollout:
    """UpdateStatus, plus progress = running tasks on the service's current spec out of desired.

    During a rollback the engine swaps the specs (Spec becomes the one rolled back to), so "from" is always
    PreviousSpec and "to" is Spec.
    """
    spec = _dict(service.get("Spec"))
    status = _dict(service.get("UpdateStatus"))
    current = spec_fingerprint(_task_template(spec))
    updated = sum(
        1
        for task in tasks
        if task.get("DesiredState") == "running"
        and _dict(task.get("Status")).get("State") == "running"
        and spec_fingerprint(_dict(task.get("Spec"))) == current
    )
    raw_state = _str(status.get("State"))
    previous = _dict(service.get("PreviousSpec"))
    message = _str(status.get("Message"))
    if raw_state and raw_state not in _ROLLOUT_STATES:
        message = message or f"unknown update state {raw_state!r}"
    return Rollout(
        state=_ROLLOUT_STATES.get(raw_state, RolloutState.STABLE),
        updated=updated,
        total=desired,
        started=parse_time(status.get("StartedAt")),
        finished=parse_time(status.get("CompletedAt")),
        message=message,
        from_version=spec_image(previous) if previous else "",
        to_version=spec_image(spec),
    )


def _mode(spec: Raw) -> tuple[ServiceMode, str, int | None]:
    """(mode, workload kind, replicas from the spec or None)."""
    mode = _dict(spec.get("Mode"))
    if "Global" in mode:
        return ServiceMode.GLOBAL, "service", None
    if "GlobalJob" in mode:
        return ServiceMode.GLOBAL, "global-job", None
    if "ReplicatedJob" in mode:
        job = _dict(mode.get("ReplicatedJob"))
        return ServiceMode.REPLICATED, "replicated-job", _int(job.get("MaxConcurrent"))
    return ServiceMode.REPLICATED, "service", _int(_dict(mode.get("Replicated")).get("Replicas"))


def image_healthcheck(image: Raw) -> bool:
    """From an inspected image: does it define a HEALTHCHECK (one that is not `NONE`)?"""
    check = _dict(_dict(image.get("Config")).get("Healthcheck"))
    test = [str(part) for part in _list(check.get("Test"))]
    return bool(test) and test[:1] != ["NONE"]


def map_service(
    service: Raw,
    tasks: Sequence[Raw],
    node_names: Mapping[str, str],
    network_names: Mapping[str, str],
    down_nodes: frozenset[str] = frozenset(),
    image_checks: Mapping[str, bool | None] | None = None,
) -> Service:
    """`image_checks`: spec image -> whether the image itself defines a HEALTHCHECK (None: not inspected)."""
    image_checks = image_checks or {}
    spec = _dict(service.get("Spec"))
    template = _task_template(spec)
    container = _dict(template.get("ContainerSpec"))
    name = _str(spec.get("Name")) or _str(service.get("ID"))[:12]
    labels = _labels(spec.get("Labels"))
    mode, workload_kind, spec_replicas = _mode(spec)
    status = _dict(service.get("ServiceStatus"))
    current = [task for task in tasks if task.get("DesiredState") == "running"]
    running_counted = sum(1 for task in current if _dict(task.get("Status")).get("State") == "running")
    desired = _int(status.get("DesiredTasks"))
    if desired is None:
        desired = spec_replicas if spec_replicas is not None else len(current)
    running = _int(status.get("RunningTasks"))
    if running is None:
        running = running_counted
    spec_check = healthcheck_of(container)
    evidence = _health_evidence(tasks)

    def check_for(task: Raw) -> bool | None:
        task_container = _dict(_dict(task.get("Spec")).get("ContainerSpec"))
        check = healthcheck_of(task_container)
        image = _str(task_container.get("Image"))
        if check is None and image in evidence:
            return True
        return check if check is not None else image_checks.get(image)

    mapped_tasks = tuple(
        sorted(
            (map_task(task, node_names, check_for(task), down_nodes) for task in tasks),
            key=lambda task: (task.desired_state is not TaskState.RUNNING, task.slot or 0, task.node_name),
        )
    )
    ports = map_ports(service)
    resources = _dict(template.get("Resources"))
    image = _str(container.get("Image"))
    image_check = spec_check
    if image_check is None:
        image_check = True if image in evidence else image_checks.get(image)
    details: dict[str, str] = {}
    endpoint_mode = _str(_dict(spec.get("EndpointSpec")).get("Mode"))
    if endpoint_mode:
        details["endpoint mode"] = endpoint_mode
    if isinstance(spec.get("RollbackConfig"), Mapping):
        details["rollback policy"] = map_update_policy(spec.get("RollbackConfig")).summary()
    restart = _str(_dict(template.get("RestartPolicy")).get("Condition"))
    if restart:
        details["restart"] = restart
    return Service(
        id=_str(service.get("ID")),
        name=name,
        ref=name,
        namespace=labels.get(STACK_LABEL, ""),
        workload_kind=workload_kind,
        image=display_image(container.get("Image")),
        version=str(_int(_dict(service.get("Version")).get("Index")) or ""),
        mode=mode,
        desired=desired,
        running=running,
        pending=sum(
            1 for task in current if task_state(_dict(task.get("Status")).get("State"))
            in (TaskState.PENDING, TaskState.STARTING)
        ),
        health=HealthCounts.of(mapped_tasks),
        rollout=map_rollout(service, tasks, desired),
        update_policy=map_update_policy(spec.get("UpdateConfig"), spec.get("RollbackConfig")),
        networks=tuple(network_names.get(net, net[:12]) for net in network_ids(spec)),
        ports=ports,
        labels=labels,
        containers=(map_container_spec(name, container, resources, image_check),),
        tasks=mapped_tasks,
        created=parse_time(service.get("CreatedAt")),
        updated_at=parse_time(service.get("UpdatedAt")),
        details=details,
        # The engine keeps one previous spec; without it there is nothing to roll back to.
        rollback_refusal="" if service.get("PreviousSpec") else
        f"{name} has nothing to roll back to: it has no previous spec (it was never updated)",
    )


_NODE_STATUS = {"ready": NodeStatus.READY, "down": NodeStatus.DOWN, "disconnected": NodeStatus.DOWN}
_AVAILABILITY = {"active": Availability.ACTIVE, "drain": Availability.DRAIN, "pause": Availability.PAUSE}


def map_node(node: Raw) -> Node:
    spec = _dict(node.get("Spec"))
    description = _dict(node.get("Description"))
    status = _dict(node.get("Status"))
    manager = _dict(node.get("ManagerStatus"))
    addresses = [_str(status.get("Addr"))]
    manager_addr = _str(manager.get("Addr")).rsplit(":", 1)[0]
    if manager_addr not in addresses:
        addresses.append(manager_addr)
    message = _str(status.get("Message"))
    if manager:
        role_state = "leader" if manager.get("Leader") else _str(manager.get("Reachability"))
        message = ", ".join(part for part in (message, f"manager {role_state}" if role_state else "") if part)
    node_id = _str(node.get("ID"))
    return Node(
        id=node_id,
        name=_str(description.get("Hostname")) or _str(spec.get("Name")) or node_id[:12],
        role=_str(spec.get("Role")),
        status=_NODE_STATUS.get(_str(status.get("State")).lower(), NodeStatus.UNKNOWN),
        availability=_AVAILABILITY.get(_str(spec.get("Availability")).lower(), Availability.ACTIVE),
        addresses=tuple(address for address in addresses if address),
        labels=_labels(spec.get("Labels")),
        version=_str(_dict(description.get("Engine")).get("EngineVersion")),
        message=message,
    )


def learn_network_names(tasks: Iterable[Any], names: dict[str, str]) -> None:
    """Tasks carry their networks' full objects: names come free with the tasks list."""
    for task in tasks:
        for attachment in _list(_dict(task).get("NetworksAttachments")):
            network = _dict(_dict(attachment).get("Network"))
            network_id = _str(network.get("ID"))
            name = _str(_dict(network.get("Spec")).get("Name"))
            if network_id and name:
                names[network_id] = name


def event_changes(attributes: Mapping[str, str]) -> list[str]:
    """`updatestate.old`/`updatestate.new` -> "updatestate paused -> updating"; lone keys as "key value"."""
    changes: list[str] = []
    paired: set[str] = set()
    for key in sorted(attributes):
        if key == "name" or key in paired:
            continue
        base, _, side = key.rpartition(".")
        if side in ("old", "new") and base:
            old, new = attributes.get(f"{base}.old", ""), attributes.get(f"{base}.new", "")
            paired.update((f"{base}.old", f"{base}.new"))
            changes.append(f"{base} {old} -> {new}" if old else f"{base} -> {new}")
        else:
            changes.append(f"{key} {attributes[key]}")
    # The rollout's state first: it is what an operator scans a timeline for.
    changes.sort(key=lambda change: not change.startswith("updatestate "))
    return changes


def map_event(event: Raw, cluster: str) -> Event | None:
    kind = _str(event.get("Type"))
    if kind not in ("service", "node"):
        return None
    actor = _dict(event.get("Actor"))
    attributes = _labels(actor.get("Attributes"))
    name = attributes.get("name") or _str(actor.get("ID"))[:12]
    nano = _int(event.get("timeNano"))
    seconds = _int(event.get("time"))
    stamp = nano / 1e9 if nano else float(seconds or 0)
    try:
        when = datetime.fromtimestamp(stamp, UTC)
    except (OverflowError, OSError, ValueError):
        when = datetime.fromtimestamp(0, UTC)
    details = ", ".join(event_changes(attributes))
    action = _str(event.get("Action")) or "update"
    return Event(
        time=when,
        cluster=cluster,
        object=f"{kind} {name}",
        kind=action,
        message=f"{kind} {name} {action}" + (f": {details}" if details else ""),
        service_ref=name if kind == "service" else "",
    )


# Engine log lines with timestamps and details: `<RFC 3339 time> <k=v,k=v> <message>`.
_LOG_LABEL_MARK = "com.docker.swarm."
MAX_LOG_LINE_BYTES = 64 * 1024


def parse_log_line(line: str) -> tuple[datetime | None, dict[str, str], str]:
    """(time, details labels, message); a line without a timestamp or labels keeps all of it as message."""
    from urllib.parse import unquote

    stamp, _, rest = line.partition(" ")
    when = parse_time(stamp)
    if when is None:
        return None, {}, line
    token, _, message = rest.partition(" ")
    parts = token.split(",")
    if _LOG_LABEL_MARK not in token or not all("=" in part for part in parts):
        return when, {}, rest
    labels = {}
    for part in parts:
        key, _, value = part.partition("=")
        labels[unquote(key)] = unquote(value)
    return when, labels, message


def log_source(labels: Mapping[str, str], slots: Mapping[str, int | None], node_names: Mapping[str, str]) -> str:
    """`2/x1y2z3a4b5c6@ph-worker-1`: slot and short task id (global tasks have no slot), then the node."""
    task_id = labels.get("com.docker.swarm.task.id", "")
    node_id = labels.get("com.docker.swarm.node.id", "")
    slot = slots.get(task_id)
    task = f"{slot}/{task_id[:12]}" if slot is not None else task_id[:12]
    node = node_names.get(node_id, node_id[:12])
    return f"{task}@{node}" if node else task


def newest_lines(lines: Iterable[LogLine], count: int) -> list[LogLine]:
    """The `count` newest lines in time order (arrival order among equal times); holds only `count` lines."""
    ranked = heapq.nlargest(
        count, enumerate(lines), key=lambda item: (item[1].time.timestamp() if item[1].time else 0.0, item[0])
    )
    return [line for _order, line in reversed(ranked)]


class LogFrames:
    """Bytes from a logs response -> lines. The stream is multiplexed (8-byte header: stream, size) unless
    the service has a TTY, when it is raw. Lines are bounded: a writer with no newline cannot grow memory."""

    def __init__(self, multiplexed: bool) -> None:
        self.multiplexed = multiplexed
        self._frames = b""
        self._line = b""

    def feed(self, data: bytes) -> list[str]:
        if not self.multiplexed:
            return self._split(data)
        self._frames += data
        lines: list[str] = []
        while len(self._frames) >= 8:
            size = int.from_bytes(self._frames[4:8], "big")
            if len(self._frames) < 8 + size:
                break
            payload, self._frames = self._frames[8:8 + size], self._frames[8 + size:]
            lines.extend(self._split(payload))
        return lines

    def flush(self) -> list[str]:
        rest, self._line = self._line, b""
        return [self._text(rest)] if rest else []

    def _split(self, data: bytes) -> list[str]:
        self._line += data
        *complete, self._line = self._line.split(b"\n")
        if len(self._line) > MAX_LOG_LINE_BYTES:
            complete.append(self._line)
            self._line = b""
        return [self._text(line) for line in complete]

    @staticmethod
    def _text(line: bytes) -> str:
        return line.decode("utf-8", errors="replace").rstrip("\r")


# ---------------------------------------------------------------------------------------------------------
# Connection
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Endpoint:
    base_url: str
    source: str  # where it came from: "docker_host", "DOCKER_HOST", "context NAME", "local socket"
    tls: Any = None  # docker.tls.TLSConfig


def resolve_endpoint(option: str | None, environ: Mapping[str, str]) -> Endpoint:
    """docker_host option, else DOCKER_HOST, else the current docker context, else the local socket."""
    from docker.utils import kwargs_from_env

    if option or environ.get("DOCKER_HOST"):
        env = dict(environ)
        if option:
            env["DOCKER_HOST"] = option
        try:
            kwargs = kwargs_from_env(environment=env)
        except Exception as error:  # docker raises TLSParameterError and plain errors
            raise CredentialsError(
                f"docker TLS settings are invalid ({error})", "check DOCKER_CERT_PATH and DOCKER_TLS_VERIFY"
            ) from None
        return Endpoint(str(kwargs.get("base_url") or env["DOCKER_HOST"]),
                        "docker_host" if option else "DOCKER_HOST", kwargs.get("tls"))
    try:
        from docker.context import ContextAPI

        context = ContextAPI.get_current_context()
    except Exception:  # a broken ~/.docker/config.json falls back to the local socket
        context = None
    if context is not None and context.name != "default" and context.Host:
        return Endpoint(str(context.Host), f"context {context.name}", context.TLSConfig or None)
    return Endpoint(DEFAULT_LOCAL_SOCKET, "local socket")


def _inspect_image(client: APIClient, name: str) -> Any:
    return client.inspect_image(name)


def _paramiko_available() -> bool:
    try:
        import paramiko  # noqa: F401
    except ImportError:
        return False
    return True


@functools.cache
def _client_class() -> type[APIClient]:
    from docker.api.client import APIClient

    class PinnedCaAPIClient(APIClient):  # type: ignore[misc]  # docker ships no type hints
        """requests lets REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE replace a session's CA bundle on every request;
        the engine's own CA (DOCKER_CERT_PATH/ca.pem) must win, as it does for the docker CLI."""

        def merge_environment_settings(self, url: Any, proxies: Any, stream: Any, verify: Any,
                                       cert: Any) -> dict[str, Any]:
            settings: dict[str, Any] = super().merge_environment_settings(url, proxies, stream, verify, cert)
            if verify is None and isinstance(self.verify, str):
                settings["verify"] = self.verify
            return settings

    return PinnedCaAPIClient


def _causes(error: BaseException) -> Iterator[BaseException]:
    """The error and what it wraps: requests, urllib3 and docker nest the real cause several levels deep."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        reason = getattr(current, "reason", None)  # urllib3's MaxRetryError keeps it here, not in __cause__
        current = current.__cause__ or current.__context__ or (reason if isinstance(reason, BaseException) else (
            current.args[0] if current.args and isinstance(current.args[0], BaseException) else None))


PLAIN_HTTP_TO_TLS = "client sent an http request to an https server"
# TLS alerts with which an engine refuses the client's certificate (missing, or signed by a CA it does not trust).
_CLIENT_CERT_REFUSED = ("CERTIFICATE_REQUIRED", "UNKNOWN_CA", "BAD_CERTIFICATE", "CERTIFICATE_UNKNOWN",
                        "DECRYPT_ERROR", "HANDSHAKE_FAILURE")


def _tls_error(error: BaseException, endpoint: str) -> ProviderError | None:
    """A TLS failure anywhere in the chain -> what to fix, never the certificates' or keys' contents."""
    import ssl

    for cause in _causes(error):
        if PLAIN_HTTP_TO_TLS in str(cause).lower():
            return CredentialsError(
                f"the engine at {endpoint} speaks TLS, but the connection was plain HTTP",
                "set DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH to a directory with ca.pem, cert.pem and key.pem",
            )
        if isinstance(cause, ssl.SSLCertVerificationError):
            detail = _str(cause.verify_message)
            if "mismatch" in detail.lower():
                return CredentialsError(f"the engine's TLS certificate does not name the host of {endpoint}",
                                        "connect by a name or address its certificate lists (subjectAltName)")
            return CredentialsError(
                f"the engine at {endpoint} presented a certificate that the CA in DOCKER_CERT_PATH did not sign"
                + (f" ({detail})" if detail else ""),
                "put the CA that signed the engine's certificate (dockerd --tlscacert) in DOCKER_CERT_PATH/ca.pem",
            )
        if isinstance(cause, ssl.SSLError):
            reason = _str(getattr(cause, "reason", "")) or type(cause).__name__
            if any(alert in reason for alert in _CLIENT_CERT_REFUSED):
                return CredentialsError(
                    f"the engine at {endpoint} refused the client certificate ({reason})",
                    "DOCKER_CERT_PATH/cert.pem and key.pem must be signed by the CA the engine trusts",
                )
            if isinstance(cause, ssl.SSLEOFError):
                # TLS 1.3: the server checks the client certificate after the client's side of the handshake
                # is done; a refusal then reaches us as an alert or, depending on timing, as a bare EOF.
                return CredentialsError(
                    f"the engine at {endpoint} ended the TLS handshake ({reason}): it most likely refused the "
                    "client certificate",
                    "DOCKER_CERT_PATH/cert.pem and key.pem must be signed by the CA the engine trusts",
                )
            return CredentialsError(f"TLS handshake with {endpoint} failed ({reason})",
                                    "check DOCKER_CERT_PATH (ca.pem, cert.pem, key.pem) and DOCKER_TLS_VERIFY")
    return None


def _ssh_error(error: BaseException, endpoint: str) -> ProviderError | None:
    """paramiko's failures (docker's ssh:// transport) -> one line naming the endpoint."""
    if not endpoint.startswith("ssh://") or not _paramiko_available():
        return None
    import paramiko

    for cause in _causes(error):
        if isinstance(cause, paramiko.BadHostKeyException):
            return CredentialsError(f"the ssh host key of {endpoint} does not match ~/.ssh/known_hosts",
                                    "if the host was reinstalled, replace its line in known_hosts")
        if isinstance(cause, paramiko.PasswordRequiredException):
            return CredentialsError(f"the ssh key for {endpoint} is protected by a passphrase",
                                    "load it into ssh-agent (ssh-add) first")
        if isinstance(cause, paramiko.AuthenticationException):
            return CredentialsError(
                f"ssh authentication to {endpoint} failed",
                "check the IdentityFile in ~/.ssh/config (or ssh-agent) and the remote authorized_keys",
            )
        if isinstance(cause, paramiko.SSHException):
            text = str(cause).splitlines()[0] if str(cause) else type(cause).__name__
            if "known_hosts" in text:
                return CredentialsError(f"{endpoint}: the host is not in ~/.ssh/known_hosts",
                                        "connect once with ssh to check and record its host key")
            return Unreachable(f"ssh connection to {endpoint} failed ({text[:160]})",
                               "check that sshd runs there and that `docker` is installed on that host")
    return None


def _nothing_listens(error: BaseException) -> bool:
    """Refused, no such socket, unknown host: somewhere in the chain requests and urllib3 wrap around it."""
    import socket

    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ConnectionRefusedError | FileNotFoundError | socket.gaierror):
            return True
        text = str(current)
        if "Connection refused" in text or "No such file or directory" in text or "Name or service not known" in text:
            return True
        current = current.__cause__ or current.__context__ or (current.args[0] if current.args and isinstance(
            current.args[0], BaseException) else None)
    return False


def translate_error(error: Exception, endpoint: str) -> ProviderError:
    """Any docker/requests exception -> one typed, one-line error with a hint."""
    if isinstance(error, ProviderError):
        return error
    import docker.errors
    import requests.exceptions

    transport_error = _tls_error(error, endpoint) or _ssh_error(error, endpoint)
    if transport_error is not None:
        return transport_error

    if isinstance(error, docker.errors.APIError):
        explanation = _str(getattr(error, "explanation", "")) or str(error)
        status = error.status_code or 0
        lowered = explanation.lower()
        if "update out of sequence" in lowered or status == 409:
            return Conflict(
                f"the service changed since it was read ({explanation})",
                "refresh and decide again; nothing was changed",
            )
        if "not a swarm manager" in lowered or "not part of a swarm" in lowered:
            return NotSwarmManager(NOT_A_MANAGER, f"{endpoint}: point docker_host at a manager node")
        if status == 503 or "code = unavailable" in lowered:
            # Any other 503: a manager starting or stopping, for a few seconds; an outage, not a wrong address.
            return Unreachable(f"the swarm manager at {endpoint} is not available ({explanation[:160]})",
                               "it may be restarting; pilothouse keeps retrying")
        if "does not have a previous spec" in lowered:
            return NotSupported("nothing to roll back to", "the service has no previous spec")
        if isinstance(error, docker.errors.NotFound) or status == 404:
            return NotFound(explanation, "refresh: it may have been removed")
        if status in (401, 403):
            return Forbidden(explanation, f"the credentials for {endpoint} are not allowed to do this")
        if status == 400:
            return InvalidInput(explanation)
        return ProviderError(f"docker engine error {status}: {explanation}")
    if isinstance(error, docker.errors.TLSParameterError):
        return CredentialsError(f"docker TLS settings are invalid ({error})", "check DOCKER_CERT_PATH")
    if isinstance(error, requests.exceptions.SSLError):
        return CredentialsError(f"TLS handshake with {endpoint} failed", "check DOCKER_CERT_PATH and the CA")
    if isinstance(error, requests.exceptions.Timeout):
        return Unreachable(f"docker engine at {endpoint} timed out", "is it overloaded or behind a firewall?")
    if _nothing_listens(error):
        return ConnectionRefused(
            f"nothing answers at {endpoint} (connection refused or no such socket)",
            "check docker_host in the config (or DOCKER_HOST), and that dockerd runs there",
        )
    if isinstance(error, requests.exceptions.ConnectionError | docker.errors.DockerException | OSError):
        return Unreachable(
            f"cannot reach the docker engine at {endpoint}",
            "is dockerd running there? set docker_host in the config or DOCKER_HOST",
        )
    return ProviderError(f"unexpected docker error: {error!r}")


# ---------------------------------------------------------------------------------------------------------
# The provider
# ---------------------------------------------------------------------------------------------------------


class SwarmProvider(Provider):
    kind = ClusterKind.SWARM
    OPTIONS: ClassVar[Mapping[str, Option]] = {
        "docker_host": Option(
            (str,),
            "engine URL of a swarm manager: unix:///var/run/docker.sock, tcp://host:2376 (TLS from "
            "DOCKER_TLS_VERIFY/DOCKER_CERT_PATH) or ssh://user@host; default DOCKER_HOST, the current "
            "docker context, then the local socket",
        ),
    }
    CAPABILITIES = frozenset({Capability.SCALE, Capability.ROLLBACK, Capability.WATCH, Capability.LOGS})

    def __init__(self, config: ClusterConfig) -> None:
        super().__init__(config)
        self._client: APIClient | None = None
        self._endpoint: Endpoint | None = None
        self._network_names: dict[str, str] = {}
        # spec image -> (when inspected, does the image define a HEALTHCHECK; None: cannot tell)
        self._image_checks: dict[str, tuple[float, bool | None]] = {}
        self._events: deque[Event] = deque(maxlen=MAX_EVENTS)
        self._events_lock = threading.Lock()
        # Keys of the raw events already taken: the seed, the watch and its replays after a break overlap.
        self._seen_order: deque[tuple[Any, ...]] = deque()
        self._seen: set[tuple[Any, ...]] = set()
        self._seeded_until: int | None = None
        self._watch_stop = threading.Event()
        self._watch_thread: threading.Thread | None = None
        self._watch_stream: Any = None
        self._watch_client: APIClient | None = None
        self._watch_lock = threading.Lock()

    # -- connection -------------------------------------------------------------------------------------

    @property
    def endpoint(self) -> str:
        return self._endpoint.base_url if self._endpoint else ""

    def _new_client(self, endpoint: Endpoint, version: str = "auto", timeout: int = API_TIMEOUT_S) -> APIClient:
        ssh = endpoint.base_url.startswith("ssh://")
        if ssh and not _paramiko_available():
            # docker-py's ssh transport imports paramiko even when told to use the ssh binary.
            raise ProviderError(f"{endpoint.base_url}: ssh:// needs paramiko, which is not installed",
                                "pip install 'docker[ssh]'")
        try:
            return _client_class()(
                base_url=endpoint.base_url,
                version=version,
                timeout=timeout,
                tls=endpoint.tls or False,
                # paramiko (docker[ssh]), not the ssh binary: its failures are exceptions we can translate,
                # its reads honour the timeout, and no ssh process writes over the console's screen.
                use_ssh_client=False,
            )
        except Exception as error:  # translated below
            raise translate_error(error, endpoint.base_url) from None

    def connect(self) -> None:
        option = self.config.options.get("docker_host")
        endpoint = resolve_endpoint(option if isinstance(option, str) else None, os.environ)
        client = self._new_client(endpoint)
        try:
            info = client.info()
        except Exception as error:
            client.close()
            raise translate_error(error, endpoint.base_url) from None
        swarm = _dict(_dict(info).get("Swarm"))
        if swarm.get("LocalNodeState") != "active" or not swarm.get("ControlAvailable"):
            client.close()
            where = "it is a swarm worker" if swarm.get("LocalNodeState") == "active" else "it is not in a swarm"
            raise NotSwarmManager(
                NOT_A_MANAGER,
                f"{endpoint.base_url} ({endpoint.source}): {where}; point docker_host at a manager node",
            )
        if self._client is not None:
            self._client.close()
        self._client = client
        self._endpoint = endpoint
        self._seed_events(client)

    def _seed_events(self, client: APIClient) -> None:
        """Recent history from the engine, so that even a one-shot `pilothouse events` has a timeline.

        A finite query (since..until); the watch then starts where it ended. Best effort: a failure here
        must not fail the connection, the watch fills the buffer from now on.
        """
        until = int(time.time())
        try:
            for raw in client.events(since=until - EVENT_SEED_WINDOW_S, until=until,
                                     filters={"type": ["service", "node"]}, decode=True):
                self._take_event(_dict(raw))
        except Exception:  # the engine's history is a bonus, not a requirement
            return
        self._seeded_until = until

    def _take_event(self, raw: Raw) -> bool:
        """Buffer one raw event unless it was seen already; True when it is new."""
        actor = _dict(raw.get("Actor"))
        key = (raw.get("timeNano"), raw.get("Type"), raw.get("Action"), actor.get("ID"))
        event = map_event(raw, self.name)
        with self._events_lock:
            if key in self._seen:
                return False
            self._seen.add(key)
            self._seen_order.append(key)
            if len(self._seen_order) > 2 * MAX_EVENTS:
                self._seen.discard(self._seen_order.popleft())
            if event is not None:
                self._events.append(event)
        return True

    def _api(self) -> APIClient:
        if self._client is None:
            self.connect()
        assert self._client is not None
        return self._client

    def _call(self, fn: Callable[[APIClient], Any]) -> Any:
        client = self._api()
        try:
            return fn(client)
        except Exception as error:  # every SDK error becomes a typed one
            raise translate_error(error, self.endpoint) from None

    # -- snapshot ---------------------------------------------------------------------------------------

    def snapshot(self) -> Cluster:
        services = _list(self._call(lambda client: client.services(status=True)))
        raw_tasks = _list(self._call(lambda client: client.tasks()))
        raw_nodes = _list(self._call(lambda client: client.nodes()))
        learn_network_names(raw_tasks, self._network_names)
        wanted = {net for service in services for net in network_ids(_dict(_dict(service).get("Spec")))}
        if wanted - self._network_names.keys():
            # A fourth call only when a network id is new to us (a service on a network with no task yet).
            for network in _list(self._call(lambda client: client.networks())):
                network_id = _str(_dict(network).get("Id"))
                if network_id:
                    self._network_names[network_id] = _str(_dict(network).get("Name")) or network_id[:12]
        nodes = tuple(map_node(_dict(node)) for node in raw_nodes if isinstance(node, Mapping))
        node_names = {node.id: node.name for node in nodes}
        down = frozenset(node.id for node in nodes if node.status is NodeStatus.DOWN)
        by_service = select_tasks(raw_tasks)
        image_checks = self._image_healthchecks(services)
        mapped = [
            map_service(_dict(service), by_service.get(_str(_dict(service).get("ID")), []), node_names,
                        self._network_names, down, image_checks)
            for service in services
            if isinstance(service, Mapping)
        ]
        mapped.sort(key=lambda service: (service.namespace, service.name))
        with self._events_lock:
            events = tuple(self._events)
        return Cluster(
            name=self.name,
            kind=self.kind,
            state=ConnectionState.CONNECTED,
            last_sync=datetime.now(UTC),
            nodes=tuple(sorted(nodes, key=lambda node: (node.role != "manager", node.name))),
            services=tuple(mapped),
            events=events,
            endpoint=self.endpoint,
        )

    def _image_healthchecks(self, services: Iterable[Any]) -> dict[str, bool | None]:
        """Whether each image whose service spec says nothing about health defines a HEALTHCHECK itself.

        The manager's own copy of the image is inspected (it may not have it: then we cannot tell), once per
        image and TTL, at most IMAGE_INSPECTS_PER_SNAPSHOT per refresh: a steady refresh sends no extra call.
        """
        now = time.monotonic()
        unknown: list[str] = []
        for service in services:
            container = _container_spec_raw(_dict(_dict(service).get("Spec")))
            image = _str(container.get("Image"))
            if not image or healthcheck_of(container) is not None or image in unknown:
                continue
            cached = self._image_checks.get(image)
            if cached is None or now - cached[0] > IMAGE_CHECK_TTL_S:
                unknown.append(image)
        for image in unknown[:IMAGE_INSPECTS_PER_SNAPSHOT]:
            self._image_checks[image] = (now, self._inspect_image_healthcheck(image))
        if len(self._image_checks) > MAX_IMAGE_CHECKS:
            # Images no service uses any more age out.
            for image, (when, _check) in list(self._image_checks.items()):
                if now - when > IMAGE_CHECK_TTL_S:
                    del self._image_checks[image]
        return {image: check for image, (_when, check) in self._image_checks.items()}

    def _inspect_image_healthcheck(self, image: str) -> bool | None:
        # `name:tag@sha256:...` may be stored locally under its tag only (an imported or locally built image).
        candidates = [image] + ([image.split("@", 1)[0]] if "@" in image else [])
        for candidate in candidates:
            try:
                inspected = self._call(functools.partial(_inspect_image, name=candidate))
                return image_healthcheck(_dict(inspected))
            except NotFound:
                continue
            except InvalidInput:
                return None
        return None

    # -- watch ------------------------------------------------------------------------------------------

    def start_watch(self, on_change: Callable[[], None]) -> bool:
        """Open `/events` (service and node) now, so a change right after this returns is not missed."""
        if self._watch_thread is not None and self._watch_thread.is_alive():
            return True
        self._watch_stop.clear()
        endpoint = self._endpoint or resolve_endpoint(self.config.options.get("docker_host"), os.environ)
        version = self._client.api_version if self._client is not None else "auto"
        with contextlib.suppress(ProviderError):  # the thread keeps trying with backoff
            # From where the seed ended: nothing falls between the engine's history and the live stream.
            self._open_events(endpoint, version, since=self._seeded_until)
        self._watch_thread = threading.Thread(
            target=self._watch_loop, args=(endpoint, version, on_change), name=f"swarm-events-{self.name}",
            daemon=True,
        )
        self._watch_thread.start()
        return True

    def _open_events(self, endpoint: Endpoint, version: str, since: float | None) -> Iterator[Any]:
        client = self._new_client(endpoint, version=version)
        try:
            stream = client.events(
                since=since, filters={"type": ["service", "node"]}, decode=True
            )
        except Exception as error:
            client.close()
            raise translate_error(error, endpoint.base_url) from None
        with self._watch_lock:
            self._close_stream()
            self._watch_stream, self._watch_client = stream, client
        return iter(stream)

    def _swarm_answers(self) -> bool:
        """Can the manager serve the swarm's state again (its engine may answer before raft has a leader)?"""
        with self._watch_lock:
            client = self._watch_client
        if client is None:
            return False
        try:
            client.inspect_swarm()
            client.nodes(filters={"role": "manager"})
        except Exception:  # not yet: any failure means "ask again"
            return False
        return True

    def _watch_loop(self, endpoint: Endpoint, version: str, on_change: Callable[[], None]) -> None:
        # Reconnect attempts back off, but never beyond the refresh interval: an attempt on a refused socket
        # costs nothing, and the console must notice within one or two intervals that the manager is back
        # (the refresher's own backoff may by then be much longer; our poke cuts it short).
        max_backoff = max(0.5, min(WATCH_MAX_BACKOFF_S, self.config.refresh_interval))
        backoff = 0.5
        # After a break, resume from a little before we noticed it (a margin for clock skew between us and
        # the engine): the engine replays what we missed, and events seen twice are dropped by key.
        broke_at = time.time()
        while not self._watch_stop.is_set():
            with self._watch_lock:
                stream = self._watch_stream
            if stream is None:
                try:
                    stream = self._open_events(endpoint, version, since=broke_at - RESUME_SKEW_S)
                except ProviderError:
                    self._watch_stop.wait(backoff)
                    backoff = min(max_backoff, backoff * 2)
                    continue
                while not self._watch_stop.is_set() and not self._swarm_answers():
                    self._watch_stop.wait(min(1.0, max_backoff))
                # Whatever happened while the stream was down is worth a refresh.
                on_change()
            try:
                for raw in stream:
                    if self._watch_stop.is_set():
                        break
                    backoff = 0.5
                    self._take_event(_dict(raw))
                    on_change()
            except Exception:  # a broken stream is reopened below
                pass
            broke_at = time.time()
            with self._watch_lock:
                if self._watch_stream is stream:
                    self._close_stream()
            if not self._watch_stop.is_set():
                # The engine went away (or restarted): refresh now, so the console shows it at once.
                on_change()
                self._watch_stop.wait(backoff)
                backoff = min(max_backoff, backoff * 2)

    def _close_stream(self) -> None:
        """Caller holds _watch_lock."""
        stream, self._watch_stream = self._watch_stream, None
        client, self._watch_client = self._watch_client, None
        # Closing a dead socket may fail; it is gone either way.
        with contextlib.suppress(Exception):
            if stream is not None:
                stream.close()
        with contextlib.suppress(Exception):
            if client is not None:
                client.close()

    def close(self) -> None:
        self._watch_stop.set()
        with self._watch_lock:
            self._close_stream()
        thread = self._watch_thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)
        self._watch_thread = None
        if self._client is not None:
            self._client.close()
            self._client = None

    # -- mutations --------------------------------------------------------------------------------------

    def refusal(self, action: Action, service: Service) -> str | None:
        if action is Action.SCALE and service.workload_kind.endswith("job"):
            return f"{service.ref} is a swarm job; jobs run to completion and cannot be scaled"
        return super().refusal(action, service)

    def _inspect(self, service: Service) -> Raw:
        return _dict(self._call(lambda client: client.inspect_service(service.id or service.name)))

    def plan_scale(self, service: Service, replicas: int) -> MutationPlan:
        self.check(Action.SCALE, service)
        if replicas < 0:
            raise InvalidInput(f"replicas must be 0 or more, not {replicas}")
        live = self._inspect(service)
        spec = _dict(live.get("Spec"))
        mode, workload_kind, current = _mode(spec)
        if mode is ServiceMode.GLOBAL or workload_kind != "service":
            # The cached model may be stale: the live spec decides.
            raise NotSupported(f"{service.ref} runs in {workload_kind} {mode.value} mode; it cannot be scaled")
        version = _int(_dict(live.get("Version")).get("Index"))
        return MutationPlan(
            action=Action.SCALE,
            cluster=self.name,
            service_ref=service.ref,
            service_id=_str(live.get("ID")),
            before=str(current if current is not None else service.desired),
            after=str(replicas),
            detail=f"spec version {version}" + ("; no change" if current == replicas else ""),
            payload={"version": version, "spec": copy.deepcopy(dict(spec)), "replicas": replicas},
        )

    def plan_rollback(self, service: Service) -> MutationPlan:
        self.check(Action.ROLLBACK, service)
        live = self._inspect(service)
        previous = _dict(live.get("PreviousSpec"))
        if not previous:
            raise NotSupported(
                "nothing to roll back to", f"{service.ref} has no previous spec (it was never updated)"
            )
        spec = _dict(live.get("Spec"))
        version = _int(_dict(live.get("Version")).get("Index"))
        before, after = spec_image(spec), spec_image(previous)
        changed = [
            label
            for label, key in (("task template", "TaskTemplate"), ("mode", "Mode"), ("ports", "EndpointSpec"),
                               ("labels", "Labels"), ("update policy", "UpdateConfig"))
            if json.dumps(spec.get(key), sort_keys=True) != json.dumps(previous.get(key), sort_keys=True)
        ]
        return MutationPlan(
            action=Action.ROLLBACK,
            cluster=self.name,
            service_ref=service.ref,
            service_id=_str(live.get("ID")),
            before=f"{before} (v{version})",
            after=after if after != before else f"{after} (previous spec)",
            detail="changes: " + (", ".join(changed) if changed else "none"),
            payload={"version": version, "spec": copy.deepcopy(dict(spec))},
        )

    def apply(self, plan: MutationPlan) -> str:
        version = plan.payload.get("version")
        spec = copy.deepcopy(dict(_dict(plan.payload.get("spec"))))
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
        else:
            raise NotSupported(f"swarm provider cannot {plan.action.value}")

        def send(client: APIClient) -> Any:
            url = client._url("/services/{0}/update", plan.service_id)
            response = client._post_json(url, data=spec, params=params)
            return client._result(response, json=True)

        result = _dict(self._call(send))
        warnings = [warning for warning in _list(result.get("Warnings")) if isinstance(warning, str)]
        return done + (f" (warning: {'; '.join(warnings)})" if warnings else "")

    # -- logs -------------------------------------------------------------------------------------------

    def logs(
        self, service: Service, *, task_id: str = "", tail: int = 200, follow: bool = False,
        stop: threading.Event | None = None,
    ) -> Iterator[LogLine]:
        """The service's logs through the engine (all tasks, or the one `task_id` starts), oldest first.

        Without follow: the newest `tail` lines across all tasks, in time order. With follow: the engine's
        `tail` per task, then new lines as they come, until `stop` is set (the response is closed from a
        helper thread, so a quiet stream ends at once too).
        """
        stop = stop or threading.Event()
        live = self._inspect(service)
        service_id = _str(live.get("ID"))
        tty = bool(_container_spec_raw(_dict(live.get("Spec"))).get("TTY"))
        slots, node_names, raw_tasks = self._log_labels(service_id)
        path, target = "/services/{0}/logs", service_id
        if task_id:
            target = self._pick_task(raw_tasks, task_id, service.ref)
            path = "/tasks/{0}/logs"
        params = {"stdout": True, "stderr": True, "timestamps": True, "details": True, "follow": follow,
                  "tail": tail}

        def request(client: APIClient) -> Any:
            response = client._get(client._url(path, target), params=params, stream=True)
            client._raise_for_status(response)
            return response

        response = self._call(request)
        closer = self._close_on_stop(response, stop, follow)
        frames = LogFrames(multiplexed=not tty)
        last_refresh = time.monotonic()

        def mapped(lines: list[str]) -> Iterator[LogLine]:
            nonlocal slots, node_names, last_refresh
            for line in lines:
                when, labels, text = parse_log_line(line)
                task = labels.get("com.docker.swarm.task.id", "")
                if task and task not in slots and time.monotonic() - last_refresh > 2.0:
                    # A task started after we looked (a replacement): learn its slot, at most every 2 s.
                    last_refresh = time.monotonic()
                    with contextlib.suppress(ProviderError):
                        slots, node_names, _ = self._log_labels(service_id)
                yield LogLine(time=when, source=log_source(labels, slots, node_names), text=text)

        def received() -> Iterator[LogLine]:
            for chunk in response.iter_content(chunk_size=None):
                yield from mapped(frames.feed(chunk))
                if stop.is_set():
                    return
            yield from mapped(frames.flush())

        try:
            # Without follow, the newest `tail` across tasks: the engine's own tail counts per task.
            yield from received() if follow else newest_lines(received(), tail)
        except ProviderError:
            raise
        except Exception as error:
            if stop.is_set():
                return  # we closed it: that is how a follow ends
            raise translate_error(error, self.endpoint) from None
        finally:
            closer.set()
            with contextlib.suppress(Exception):
                response.close()

    def _log_labels(self, service_id: str) -> tuple[dict[str, int | None], dict[str, str], list[Raw]]:
        raw_tasks = [_dict(task) for task in _list(self._call(
            lambda client: client.tasks(filters={"service": service_id})))]
        raw_nodes = _list(self._call(lambda client: client.nodes()))
        nodes = [map_node(_dict(node)) for node in raw_nodes]
        slots = {_str(task.get("ID")): _int(task.get("Slot")) for task in raw_tasks}
        return slots, {node.id: node.name for node in nodes}, raw_tasks

    @staticmethod
    def _pick_task(raw_tasks: list[Raw], prefix: str, ref: str) -> str:
        matches = sorted({_str(task.get("ID")) for task in raw_tasks if _str(task.get("ID")).startswith(prefix)})
        if not matches:
            raise NotFound(f"no task {prefix!r} in service {ref}", "see the service's tasks in 'pilothouse status'")
        if len(matches) > 1:
            raise InvalidInput(f"task id {prefix!r} is ambiguous in service {ref} ({len(matches)} tasks)",
                               "give more characters of the id")
        return matches[0]

    def _close_on_stop(self, response: Any, stop: threading.Event, follow: bool) -> threading.Event:
        """A helper thread that closes the response when `stop` is set; set the returned event to end it."""
        finished = threading.Event()
        raw_socket: socket.socket | None = None
        with contextlib.suppress(Exception):  # ssh transports have no plain socket: closing still works
            found = self._api()._get_raw_response_socket(response)
            # Over a unix socket docker-py hands back a SocketIO wrapping the socket.
            raw_socket = getattr(found, "_sock", found)
            if follow:
                # A quiet service must not time the stream out; stop is how a follow ends.
                raw_socket.settimeout(None)

        def watch() -> None:
            while not finished.wait(0.1):
                if stop.is_set():
                    # shutdown() wakes a recv() blocked in another thread; close() alone does not.
                    with contextlib.suppress(Exception):
                        if raw_socket is not None:
                            raw_socket.shutdown(socket.SHUT_RDWR)
                    with contextlib.suppress(Exception):
                        response.close()
                    return

        threading.Thread(target=watch, name=f"swarm-logs-{self.name}", daemon=True).start()
        return finished
