"""Docker Swarm provider: one swarm manager's API, mapped into the unified model.

A refresh is exactly three list calls whatever the fleet size (services with status, tasks, nodes); network
names come from the tasks' own attachments and a cache, so the networks list is called only when an unknown
network id shows up. Changes made outside pilothouse arrive through the `/events` stream (service and node
events; Swarm has no task events, so tasks are polled).

The docker SDK is imported inside functions only, and the mapping functions below are pure functions of the
API's dicts (docker's low-level APIClient), so they can be tested without an engine.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar

from providers.base import Action, Capability, ClusterConfig, MutationPlan, Option, Provider
from providers.errors import (
    Conflict,
    CredentialsError,
    Forbidden,
    InvalidInput,
    NotFound,
    NotSupported,
    ProviderError,
    Unreachable,
)
from providers.model import (
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
MAX_EVENTS = 100
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


def map_container_spec(
    name: str, container: Raw, resources: Raw, ports: tuple[str, ...], healthcheck: bool | None
) -> ContainerSpec:
    env: dict[str, str] = {}
    for item in _list(container.get("Env")):
        if isinstance(item, str):
            key, _, value = item.partition("=")
            env[key] = value
    secrets = tuple(
        _str(_dict(secret).get("SecretName")) or _str(_dict(_dict(secret).get("File")).get("Name"))
        for secret in _list(container.get("Secrets"))
    )
    return ContainerSpec(
        name=name,
        image=display_image(container.get("Image")),
        # Swarm's Command replaces the image's ENTRYPOINT; Args replace its CMD.
        entrypoint=tuple(str(part) for part in _list(container.get("Command"))),
        command=tuple(str(part) for part in _list(container.get("Args"))),
        env=env,
        # Swarm secrets are files, not env vars; their names are listed so the doctor sees them.
        secret_env=tuple(secret for secret in secrets if secret),
        healthcheck=healthcheck,
        memory_limit_bytes=_int(_dict(_dict(resources).get("Limits")).get("MemoryBytes")) or None,
        mounts=tuple(_mount_text(_dict(mount)) for mount in _list(container.get("Mounts"))),
        ports=ports,
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


def map_service(
    service: Raw,
    tasks: list[Raw],
    node_names: Mapping[str, str],
    network_names: Mapping[str, str],
    down_nodes: frozenset[str] = frozenset(),
) -> Service:
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
        if check is None and _str(task_container.get("Image")) in evidence:
            return True
        return check

    mapped_tasks = tuple(
        sorted(
            (map_task(task, node_names, check_for(task), down_nodes) for task in tasks),
            key=lambda task: (task.desired_state is not TaskState.RUNNING, task.slot or 0, task.node_name),
        )
    )
    ports = map_ports(service)
    resources = _dict(template.get("Resources"))
    image_check = spec_check if spec_check is not None else (True if _str(container.get("Image")) in evidence
                                                            else None)
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
        containers=(map_container_spec(name, container, resources, ports, image_check),),
        tasks=mapped_tasks,
        created=parse_time(service.get("CreatedAt")),
        updated_at=parse_time(service.get("UpdatedAt")),
        details=details,
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
    details = ", ".join(f"{key} {value}" for key, value in sorted(attributes.items()) if key != "name")
    action = _str(event.get("Action")) or "update"
    return Event(
        time=datetime.fromtimestamp(stamp, UTC),
        cluster=cluster,
        object=f"{kind} {name}",
        kind=action,
        message=f"{kind} {name} {action}" + (f": {details}" if details else ""),
        service_ref=name if kind == "service" else "",
    )


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


def _paramiko_available() -> bool:
    try:
        import paramiko  # noqa: F401
    except ImportError:
        return False
    return True


def translate_error(error: Exception, endpoint: str) -> ProviderError:
    """Any docker/requests exception -> one typed, one-line error with a hint."""
    if isinstance(error, ProviderError):
        return error
    import docker.errors
    import requests.exceptions

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
    CAPABILITIES = frozenset({Capability.SCALE, Capability.ROLLBACK, Capability.WATCH})

    def __init__(self, config: ClusterConfig) -> None:
        super().__init__(config)
        self._client: APIClient | None = None
        self._endpoint: Endpoint | None = None
        self._network_names: dict[str, str] = {}
        self._events: deque[Event] = deque(maxlen=MAX_EVENTS)
        self._events_lock = threading.Lock()
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
        from docker.api.client import APIClient

        try:
            return APIClient(
                base_url=endpoint.base_url,
                version=version,
                timeout=timeout,
                tls=endpoint.tls or False,
                # Without paramiko (docker[ssh]) docker-py shells out to the ssh binary instead.
                use_ssh_client=endpoint.base_url.startswith("ssh://") and not _paramiko_available(),
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
        mapped = [
            map_service(_dict(service), by_service.get(_str(_dict(service).get("ID")), []), node_names,
                        self._network_names, down)
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

    # -- watch ------------------------------------------------------------------------------------------

    def start_watch(self, on_change: Callable[[], None]) -> bool:
        """Open `/events` (service and node) now, so a change right after this returns is not missed."""
        if self._watch_thread is not None and self._watch_thread.is_alive():
            return True
        self._watch_stop.clear()
        endpoint = self._endpoint or resolve_endpoint(self.config.options.get("docker_host"), os.environ)
        version = self._client.api_version if self._client is not None else "auto"
        with contextlib.suppress(ProviderError):  # the thread keeps trying with backoff
            self._open_events(endpoint, version, since=None)
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

    def _watch_loop(self, endpoint: Endpoint, version: str, on_change: Callable[[], None]) -> None:
        backoff = 0.5
        # After a break, resume from a little before we noticed it (a margin for clock skew between us and
        # the engine): the engine replays what we missed, and events seen twice are dropped by key.
        broke_at = time.time()
        recent: deque[tuple[Any, ...]] = deque(maxlen=MAX_EVENTS)
        while not self._watch_stop.is_set():
            with self._watch_lock:
                stream = self._watch_stream
            if stream is None:
                try:
                    stream = self._open_events(endpoint, version, since=broke_at - RESUME_SKEW_S)
                except ProviderError:
                    self._watch_stop.wait(backoff)
                    backoff = min(WATCH_MAX_BACKOFF_S, backoff * 2)
                    continue
                # Whatever happened while the stream was down is worth a refresh.
                on_change()
            try:
                for raw in stream:
                    if self._watch_stop.is_set():
                        break
                    backoff = 0.5
                    item = _dict(raw)
                    actor = _dict(item.get("Actor"))
                    key = (item.get("timeNano"), item.get("Type"), item.get("Action"), actor.get("ID"))
                    if key in recent:
                        continue
                    recent.append(key)
                    event = map_event(item, self.name)
                    if event is not None:
                        with self._events_lock:
                            self._events.append(event)
                    on_change()
            except Exception:  # a broken stream is reopened below
                pass
            broke_at = time.time()
            with self._watch_lock:
                if self._watch_stream is stream:
                    self._close_stream()
            if not self._watch_stop.is_set():
                self._watch_stop.wait(backoff)
                backoff = min(WATCH_MAX_BACKOFF_S, backoff * 2)

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
