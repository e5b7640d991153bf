"""Pure mapping: the API's dicts (docker's low-level APIClient) -> the unified model.

These are pure functions of the dicts, so they are tested without an engine. Missing or null fields and
unknown enum values never raise. Network names come from the tasks' own attachments (see
learn_network_names); an image's own HEALTHCHECK, which the manager does not report, comes in as
`image_checks` (see images.py) or from what the tasks reveal.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pilothouse.providers.model import (
    Availability,
    ContainerSpec,
    Health,
    HealthCounts,
    Mount,
    Node,
    NodeStatus,
    RunningImage,
    Service,
    Task,
    TaskState,
    VolumeKind,
)
from pilothouse.providers.swarm.raw import Raw, as_dict, as_labels, as_list, as_str, opt_int, parse_time
from pilothouse.providers.swarm.rollout import map_rollout, map_update_policy
from pilothouse.providers.swarm.spec import (
    container_spec,
    display_image,
    healthcheck_of,
    service_mode,
    task_template,
)

STACK_LABEL = "com.docker.stack.namespace"
UNHEALTHY_ERROR = "unhealthy container"
# Failed tasks kept per service: enough to read the reason, bounded so a crash-looping service cannot grow
# the snapshot (the engine itself keeps task-history-limit, 5 by default, per slot).
FAILED_TASKS_PER_SERVICE = 5
SECRETS_DIR = "/run/secrets/"


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
    return _TASK_STATES.get(as_str(raw).lower(), TaskState.UNKNOWN)


def _is_failed(task: Raw) -> bool:
    return as_str(as_dict(task.get("Status")).get("State")) in ("failed", "rejected")


def _is_current(task: Raw) -> bool:
    """Meant to run (or to start next: desired `ready` during an update), or still running while replaced."""
    state = as_str(as_dict(task.get("Status")).get("State"))
    return task.get("DesiredState") in ("running", "ready") or state == "running"


def _task_time(task: Raw) -> str:
    return as_str(as_dict(task.get("Status")).get("Timestamp")) or as_str(task.get("UpdatedAt"))


def select_tasks(tasks: Iterable[Any]) -> dict[str, list[Raw]]:
    """Per service: the current tasks plus the most recent failed ones (bounded); older history dropped."""
    current: dict[str, list[Raw]] = {}
    failed: dict[str, list[Raw]] = {}
    for task in tasks:
        if not isinstance(task, Mapping):
            continue
        service_id = as_str(task.get("ServiceID"))
        if _is_current(task):
            current.setdefault(service_id, []).append(task)
        elif _is_failed(task):
            failed.setdefault(service_id, []).append(task)
    for service_id, items in failed.items():
        items.sort(key=_task_time, reverse=True)
        current.setdefault(service_id, []).extend(items[:FAILED_TASKS_PER_SERVICE])
    return current


# What a task keeps of its Status.ContainerStatus: the exit code (one shared dict for the usual 0).
_EXIT_ZERO: Raw = {"ExitCode": 0}
_UNREAD_TASK_KEYS = ("Version", "CreatedAt", "Labels", "GenericResources", "AssignedGenericResources")


def compact_tasks(tasks: Iterable[Any]) -> list[Any]:
    """What a snapshot keeps of GET /tasks until the next one: the tasks select_tasks would show (older history
    dropped), each compacted (compact_task). 10,000 running tasks of 1,000 services: 31 MB of decoded JSON -> 15.
    `tasks` may be an iterator: each is compacted as it comes, before the next is decoded (tasks.read_tasks)."""
    shared: dict[Any, Any] = {}
    compacted = [compact_task(task, shared) for task in tasks]
    return [task for items in select_tasks(compacted).values() for task in items]


def compact_task(task: Any, shared: dict[Any, Any]) -> Any:
    """The task with its Spec replaced by an equal one of the same service seen before (tasks carry a copy of their
    service's TaskTemplate; `shared` holds one per service), and the fields the mapping never reads left out
    (raft versions, creation times, container IDs and PIDs, port status)."""
    if type(task) is not dict:  # decoded JSON always is; another mapping is kept as it is
        return task
    spec, service = task.get("Spec"), task.get("ServiceID")
    earlier = shared.get(service)
    if earlier is not None and earlier == spec:
        task["Spec"] = earlier
    else:
        shared[service] = spec
    for key in _UNREAD_TASK_KEYS:
        task.pop(key, None)
    status = task.get("Status")
    if type(status) is dict:
        status.pop("PortStatus", None)
        container = status.get("ContainerStatus")
        if isinstance(container, Mapping):
            code = container.get("ExitCode")
            status["ContainerStatus"] = _EXIT_ZERO if code == 0 else {"ExitCode": code}
    return task


def _health_evidence(tasks: Iterable[Raw]) -> set[str]:
    """Images whose tasks showed a health check at work (waiting in `starting`, or failed as unhealthy).

    The manager does not report an image's own HEALTHCHECK; this is what its tasks reveal.
    """
    images: set[str] = set()
    for task in tasks:
        status = as_dict(task.get("Status"))
        if status.get("State") == "starting" or UNHEALTHY_ERROR in as_str(status.get("Err")):
            images.add(as_str(container_spec({"TaskTemplate": task.get("Spec")}).get("Image")))
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
    for attachment in as_list(task.get("NetworksAttachments")):
        network = as_dict(as_dict(attachment).get("Network"))
        if as_dict(network.get("Spec")).get("Ingress"):
            continue
        for address in as_list(as_dict(attachment).get("Addresses")):
            if isinstance(address, str) and address:
                return address.split("/", 1)[0]
    return ""


def map_task(
    task: Raw, node_names: Mapping[str, str], healthcheck: bool | None = None,
    down_nodes: frozenset[str] = frozenset(),
) -> Task:
    status = as_dict(task.get("Status"))
    raw_state = as_str(status.get("State"))
    error = as_str(status.get("Err"))
    state = task_state(raw_state)
    node_id = as_str(task.get("NodeID"))
    if node_id in down_nodes and state in (TaskState.RUNNING, TaskState.STARTING, TaskState.PENDING):
        # A lost node cannot report its tasks: the manager keeps the last word ("running") and even counts
        # it in ServiceStatus.RunningTasks (seen: 4/3 after a worker died). Say we do not know.
        state = TaskState.UNKNOWN
        error = error or f"node {node_names.get(node_id, node_id[:12])} is down; last reported {raw_state}"
    container_status = as_dict(status.get("ContainerStatus"))
    # An exit code means something only once the container has ended.
    ended = state in (TaskState.FAILED, TaskState.COMPLETE, TaskState.STOPPED)
    exit_code = opt_int(container_status.get("ExitCode")) if ended else None
    if not error and state is TaskState.FAILED:
        error = as_str(status.get("Message"))
    image = as_str(as_dict(as_dict(task.get("Spec")).get("ContainerSpec")).get("Image"))
    # A spec image the manager resolved names its digest (`web:2.1@sha256:...`): every node pulls that one.
    pinned = RunningImage.of(image, image.partition("@")[2])
    return Task(
        id=as_str(task.get("ID")),
        service_id=as_str(task.get("ServiceID")),
        slot=opt_int(task.get("Slot")),
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
        images=(pinned,) if pinned is not None else (),
        # Status.Timestamp is the time of the task's last state change: for an ended task, when it ended.
        stopped=parse_time(status.get("Timestamp")) if ended else None,
    )



def _port_text(port: Raw) -> str:
    target = opt_int(port.get("TargetPort"))
    published = opt_int(port.get("PublishedPort"))
    protocol = as_str(port.get("Protocol")) or "tcp"
    text = f"{published}:{target}/{protocol}" if published else f"{target}/{protocol}"
    return text + " (host)" if port.get("PublishMode") == "host" else text


def map_ports(service: Raw) -> tuple[str, ...]:
    ports = as_list(as_dict(service.get("Endpoint")).get("Ports"))
    if not ports:
        ports = as_list(as_dict(as_dict(service.get("Spec")).get("EndpointSpec")).get("Ports"))
    return tuple(_port_text(as_dict(port)) for port in ports if isinstance(port, Mapping))


def network_ids(spec: Raw) -> list[str]:
    targets = as_list(task_template(spec).get("Networks")) or as_list(spec.get("Networks"))
    return [as_str(as_dict(item).get("Target")) for item in targets if as_str(as_dict(item).get("Target"))]


# Local-driver options that put a named volume on the network (NFS, CIFS): every node reaches it.
_NETWORK_FS = ("nfs", "nfs4", "cifs", "smb")


def map_mount(mount: Raw) -> Mount:
    """A service's mount: a bind is a node's directory; a named volume on the local driver lives on the node
    (Swarm creates an empty one on each node a task lands on) unless its options point at network storage."""
    kind_text = as_str(mount.get("Type")) or "volume"
    source, target = as_str(mount.get("Source")), as_str(mount.get("Target"))
    read_only = mount.get("ReadOnly") is True
    if kind_text == "bind":
        return Mount(VolumeKind.BIND, target, source, read_only)
    if kind_text == "tmpfs":
        return Mount(VolumeKind.EPHEMERAL, target, source, read_only)
    if kind_text != "volume":
        return Mount(VolumeKind.OTHER, target, source, read_only, driver=kind_text)
    driver_config = as_dict(as_dict(mount.get("VolumeOptions")).get("DriverConfig"))
    driver = as_str(driver_config.get("Name")) or "local"
    options = {str(k): as_str(v) for k, v in as_dict(driver_config.get("Options")).items()}
    if not source:  # anonymous: made with the task's container and left behind with it
        return Mount(VolumeKind.EPHEMERAL, target, "", read_only, driver=driver)
    network = options.get("type", "").lower() in _NETWORK_FS or "addr=" in options.get("o", "")
    local = driver == "local" and not network
    return Mount(VolumeKind.NAMED_LOCAL if local else VolumeKind.NAMED_DRIVER, target, source, read_only,
                 driver=driver)


_PIN = re.compile(r"^\s*node\.(?:hostname|id)\s*==\s*(\S+)\s*$")


def pinned_node(spec: Raw) -> str:
    """The node a placement constraint holds every task to (node.hostname==X or node.id==X), else ""."""
    constraints = as_list(as_dict(task_template(spec).get("Placement")).get("Constraints"))
    for constraint in constraints:
        match = _PIN.match(as_str(constraint))
        if match:
            return match.group(1)
    return ""


def map_container_spec(name: str, container: Raw, resources: Raw, healthcheck: bool | None) -> ContainerSpec:
    env: dict[str, str] = {}
    for item in as_list(container.get("Env")):
        if isinstance(item, str):
            key, _, value = item.partition("=")
            env[key] = value
    secrets = tuple(
        as_str(as_dict(secret).get("SecretName")) or as_str(as_dict(as_dict(secret).get("File")).get("Name"))
        for secret in as_list(container.get("Secrets"))
    )
    # Where the secrets are mounted: a relative File.Name lands under /run/secrets/.
    secret_paths = {
        path if path.startswith("/") else SECRETS_DIR + path
        for secret in as_list(container.get("Secrets"))
        if (path := as_str(as_dict(as_dict(secret).get("File")).get("Name")))
    }
    # The *_FILE convention: the variable holds where the secret is mounted, not the secret itself.
    file_refs = tuple(
        key for key, value in env.items() if value in secret_paths or value.startswith(SECRETS_DIR)
    )
    return ContainerSpec(
        name=name,
        image=display_image(container.get("Image")),
        image_pinned="@" in as_str(container.get("Image")),
        # Swarm's Command replaces the image's ENTRYPOINT; Args replace its CMD.
        entrypoint=tuple(str(part) for part in as_list(container.get("Command"))),
        command=tuple(str(part) for part in as_list(container.get("Args"))),
        env=env,
        # Swarm secrets are files, not env vars: their names, and the variables that point at their files.
        secret_env=tuple(secret for secret in secrets if secret) + file_refs,
        healthcheck=healthcheck,
        memory_limit_bytes=opt_int(as_dict(as_dict(resources).get("Limits")).get("MemoryBytes")) or None,
        mounts=tuple(map_mount(as_dict(mount)) for mount in as_list(container.get("Mounts"))),
        # Published ports belong to the service's endpoint (Service.ports), not to the container.
    )


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
    spec = as_dict(service.get("Spec"))
    template = task_template(spec)
    container = as_dict(template.get("ContainerSpec"))
    name = as_str(spec.get("Name")) or as_str(service.get("ID"))[:12]
    labels = as_labels(spec.get("Labels"))
    mode, workload_kind, spec_replicas = service_mode(spec)
    status = as_dict(service.get("ServiceStatus"))
    current = [task for task in tasks if task.get("DesiredState") == "running"]
    running_counted = sum(1 for task in current if as_dict(task.get("Status")).get("State") == "running")
    desired = opt_int(status.get("DesiredTasks"))
    if desired is None:
        desired = spec_replicas if spec_replicas is not None else len(current)
    running = opt_int(status.get("RunningTasks"))
    if running is None:
        running = running_counted
    spec_check = healthcheck_of(container)
    evidence = _health_evidence(tasks)

    def check_for(task: Raw) -> bool | None:
        task_container = as_dict(as_dict(task.get("Spec")).get("ContainerSpec"))
        check = healthcheck_of(task_container)
        image = as_str(task_container.get("Image"))
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
    resources = as_dict(template.get("Resources"))
    image = as_str(container.get("Image"))
    image_check = spec_check
    if image_check is None:
        image_check = True if image in evidence else image_checks.get(image)
    details: dict[str, str] = {}
    endpoint_mode = as_str(as_dict(spec.get("EndpointSpec")).get("Mode"))
    if endpoint_mode:
        details["endpoint mode"] = endpoint_mode
    if isinstance(spec.get("RollbackConfig"), Mapping):
        details["rollback policy"] = map_update_policy(spec.get("RollbackConfig")).summary()
    restart = as_str(as_dict(template.get("RestartPolicy")).get("Condition"))
    if restart:
        details["restart"] = restart
    # Said once, on the service screen: nothing but `docker service scale` changes a Swarm service's replicas.
    details["autoscaler"] = "none (Docker Swarm has no autoscaler)"
    return Service(
        id=as_str(service.get("ID")),
        name=name,
        ref=name,
        namespace=labels.get(STACK_LABEL, ""),
        workload_kind=workload_kind,
        image=display_image(container.get("Image")),
        version=str(opt_int(as_dict(service.get("Version")).get("Index")) or ""),
        mode=mode,
        desired=desired,
        running=running,
        pending=sum(
            1 for task in current if task_state(as_dict(task.get("Status")).get("State"))
            in (TaskState.PENDING, TaskState.STARTING)
        ),
        health=HealthCounts.of(mapped_tasks),
        rollout=map_rollout(service, tasks, desired),
        update_policy=map_update_policy(spec.get("UpdateConfig"), spec.get("RollbackConfig")),
        networks=tuple(network_names.get(net, net[:12]) for net in network_ids(spec)),
        ports=ports,
        labels=labels,
        containers=(map_container_spec(name, container, resources, image_check),),
        pinned_to=pinned_node(spec),
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
    spec = as_dict(node.get("Spec"))
    description = as_dict(node.get("Description"))
    status = as_dict(node.get("Status"))
    manager = as_dict(node.get("ManagerStatus"))
    addresses = [as_str(status.get("Addr"))]
    manager_addr = as_str(manager.get("Addr")).rsplit(":", 1)[0]
    if manager_addr not in addresses:
        addresses.append(manager_addr)
    message = as_str(status.get("Message"))
    if manager:
        role_state = "leader" if manager.get("Leader") else as_str(manager.get("Reachability"))
        message = ", ".join(part for part in (message, f"manager {role_state}" if role_state else "") if part)
    node_id = as_str(node.get("ID"))
    return Node(
        id=node_id,
        name=as_str(description.get("Hostname")) or as_str(spec.get("Name")) or node_id[:12],
        role=as_str(spec.get("Role")),
        status=_NODE_STATUS.get(as_str(status.get("State")).lower(), NodeStatus.UNKNOWN),
        availability=_AVAILABILITY.get(as_str(spec.get("Availability")).lower(), Availability.ACTIVE),
        addresses=tuple(address for address in addresses if address),
        labels=as_labels(spec.get("Labels")),
        version=as_str(as_dict(description.get("Engine")).get("EngineVersion")),
        message=message,
        raw_state=as_str(status.get("State")).lower(),
        raw_availability=as_str(spec.get("Availability")).lower(),
        # Swarm keeps no transition time of its own: the node object's UpdatedAt moves when the manager
        # marks it down (and on spec updates, so it is only read as "since" for a node that is not ready).
        since=None if as_str(status.get("State")).lower() == "ready" else parse_time(node.get("UpdatedAt")),
    )


def learn_network_names(tasks: Iterable[Any], names: dict[str, str]) -> None:
    """Tasks carry their networks' full objects: names come free with the tasks list."""
    for task in tasks:
        for attachment in as_list(as_dict(task).get("NetworksAttachments")):
            network = as_dict(as_dict(attachment).get("Network"))
            network_id = as_str(network.get("ID"))
            name = as_str(as_dict(network.get("Spec")).get("Name"))
            if network_id and name:
                names[network_id] = name

