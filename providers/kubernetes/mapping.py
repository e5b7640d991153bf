"""Pure mapping of cached API objects (plain dicts) into the unified model: nodes, pods, workloads, events.

Decisions worth knowing:
- A service's ref is "NAMESPACE/NAME". When kinds share a namespace/name, the Deployment keeps the plain
  ref and the others become "NAMESPACE/KIND/NAME" (e.g. "prod/statefulset/web"), so the common kind's ref
  never changes. Service.id is always "KIND/NAMESPACE/NAME"; Task.id is "NAMESPACE/POD".
- Pod health: Ready -> HEALTHY. Not ready: a bad waiting reason (CrashLoopBackOff, ImagePullBackOff, ...),
  restarts, or readiness failing for longer than READINESS_GRACE_S -> UNHEALTHY; otherwise STARTING.
  Failed pods are UNHEALTHY; finished or terminating pods are no longer desired running.
- Service.running is the ready count (kubectl's READY numerator); `pending` counts pods not yet running.
- A cordoned node is Availability.PAUSE (no new pods, running ones stay), as Swarm's "pause".
- Events: those of workloads, their ReplicaSets and pods (also pods already gone, matched by name) and of
  nodes.
No I/O, no SDK.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pilothouse.providers.errors import ProviderError
from pilothouse.providers.kubernetes.autoscalers import attach as attach_autoscalers
from pilothouse.providers.kubernetes.memo import MappingMemo
from pilothouse.providers.kubernetes.objects import (
    CONTROLLER_REVISION_HASH,
    CONTROLLER_REVISIONS,
    EPOCH,
    EVENTS,
    HORIZONTAL_POD_AUTOSCALERS,
    NODES,
    OWNER_KIND,
    PERSISTENT_VOLUME_CLAIMS,
    POD_TEMPLATE_HASH,
    PODS,
    REPLICASETS,
    WORKLOAD_KINDS,
    Obj,
    _conditions,
    _dict,
    _int,
    _key,
    _list,
    _revision_by_name,
    _str,
    controller_owner,
    labels_of,
    meta_of,
    owned_by,
    parse_quantity_bytes,
    parse_time,
    revision_of,
    selector_text,
)
from pilothouse.providers.kubernetes.rollout import (
    daemonset_rollout,
    deployment_rollback_target,
    deployment_rollout,
    find_new_replicaset,
    revision_rollback_target,
    statefulset_rollout,
)
from pilothouse.providers.kubernetes.volumes import Claims, map_mounts, pinned_node
from pilothouse.providers.model import (
    Availability,
    Cluster,
    ClusterKind,
    ContainerSpec,
    Event,
    Health,
    HealthCounts,
    Node,
    NodeStatus,
    RunningImage,
    Service,
    ServiceMode,
    Task,
    TaskState,
    UpdatePolicy,
)

BAD_WAITING_REASONS = frozenset({
    "CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull", "ErrImageNeverPull", "InvalidImageName",
    "CreateContainerConfigError", "CreateContainerError", "RunContainerError", "ContainerCannotRun",
    "PreCreateHookError", "PostStartHookError",
})
# A running pod whose readiness has failed this long is unhealthy, not still starting.
READINESS_GRACE_S = 120.0


# -- nodes -------------------------------------------------------------------------------------------


def map_node(obj: Obj) -> Node:
    meta, spec, status = meta_of(obj), _dict(obj.get("spec")), _dict(obj.get("status"))
    name = _str(meta.get("name"))
    labels = labels_of(obj)
    ready = _conditions(status).get("Ready", {})
    node_status = {"True": NodeStatus.READY, "False": NodeStatus.DOWN}.get(
        _str(ready.get("status")), NodeStatus.UNKNOWN
    )
    roles = sorted(
        key.split("/", 1)[1] for key in labels
        if key.startswith("node-role.kubernetes.io/") and key.split("/", 1)[1]
    )
    if not roles and labels.get("kubernetes.io/role"):
        roles = [labels["kubernetes.io/role"]]
    cordoned = spec.get("unschedulable") is True
    messages: list[str] = []
    if node_status is not NodeStatus.READY:
        reason = _str(ready.get("message")) or _str(ready.get("reason")) or "Ready condition unknown"
        messages.append(f"not ready: {reason}")
    if cordoned:
        messages.append("cordoned")
    taints = []
    for taint in _list(spec.get("taints")):
        taint = _dict(taint)
        key, value, effect = _str(taint.get("key")), _str(taint.get("value")), _str(taint.get("effect"))
        taints.append(f"{key}={value}:{effect}" if value else f"{key}:{effect}")
    if taints:
        messages.append("taints " + ", ".join(taints))
    addresses = tuple(
        _str(_dict(a).get("address")) for a in _list(status.get("addresses"))
        if _dict(a).get("type") in ("InternalIP", "ExternalIP") and _dict(a).get("address")
    )
    zone = labels.get("topology.kubernetes.io/zone") or labels.get("failure-domain.beta.kubernetes.io/zone", "")
    return Node(
        id=name, name=name, role=",".join(roles), status=node_status,
        availability=Availability.PAUSE if cordoned else Availability.ACTIVE, zone=zone,
        addresses=addresses, labels=labels,
        version=_str(_dict(status.get("nodeInfo")).get("kubeletVersion")), message="; ".join(messages),
        raw_state={NodeStatus.READY: "Ready", NodeStatus.DOWN: "NotReady"}.get(node_status, "Unknown"),
        raw_availability="cordoned" if cordoned else "schedulable",
        conditions=_bad_conditions(status),
        since=None if node_status is NodeStatus.READY else parse_time(ready.get("lastTransitionTime")),
    )


# Node conditions that are bad when True (Ready is the one that is bad when not True).
_PRESSURE = ("MemoryPressure", "DiskPressure", "PIDPressure", "NetworkUnavailable")


def _bad_conditions(status: Obj) -> tuple[str, ...]:
    conditions = _conditions(status)
    return tuple(kind for kind in _PRESSURE if _str(conditions.get(kind, {}).get("status")) == "True")


# -- containers and pods -----------------------------------------------------------------------------


def map_container(container: Any, volumes: Any = None, namespace: str = "", claims: Claims | None = None,
                  claim_templates: Any = None) -> ContainerSpec:
    """One container of a pod template; `volumes` is the pod's spec.volumes, to say what each mount is (see
    volumes.map_mounts for `claims` and `claim_templates`)."""
    container = _dict(container)
    env: dict[str, str] = {}
    secret_env: list[str] = []
    for item in _list(container.get("env")):
        item = _dict(item)
        name = _str(item.get("name"))
        if not name:
            continue
        value_from = _dict(item.get("valueFrom"))
        if "secretKeyRef" in value_from:
            secret_env.append(name)
        elif value_from:
            # configMapKeyRef, fieldRef, resourceFieldRef: the value is not in the spec.
            env[name] = ""
        else:
            env[name] = _str(item.get("value"))
    ports = tuple(
        f"{_int(_dict(p).get('containerPort'))}/{_str(_dict(p).get('protocol')) or 'TCP'}"
        for p in _list(container.get("ports"))
    )
    readiness = isinstance(container.get("readinessProbe"), dict)
    liveness = isinstance(container.get("livenessProbe"), dict)
    startup = isinstance(container.get("startupProbe"), dict)
    limits = _dict(_dict(container.get("resources")).get("limits"))
    return ContainerSpec(
        name=_str(container.get("name")), image=_str(container.get("image")),
        # Kubernetes `command` replaces the image ENTRYPOINT and `args` its CMD.
        entrypoint=tuple(_str(c) for c in _list(container.get("command"))),
        command=tuple(_str(a) for a in _list(container.get("args"))),
        env=env, secret_env=tuple(secret_env),
        healthcheck=readiness or liveness or startup,
        readiness_probe=readiness, liveness_probe=liveness, startup_probe=startup,
        memory_limit_bytes=parse_quantity_bytes(limits.get("memory")), ports=ports,
        mounts=map_mounts(container, volumes, namespace, claims, claim_templates),
    )


def _ordinal(name: str) -> int | None:
    head, _, tail = name.rpartition("-")
    return int(tail) if head and tail.isdigit() else None


def _image_id(text: str) -> str:
    """A bare `sha256:...` imageID is the runtime's image id (a local image), not a digest a pull can name."""
    return text if not text or "@" in text or "://" in text else f"engine://{text}"


def map_pod(obj: Obj, service_id: str, now: datetime | None = None) -> Task:
    """A Pod as a task; `now` only decides how long readiness may fail before it counts as unhealthy."""
    meta, spec, status = meta_of(obj), _dict(obj.get("spec")), _dict(obj.get("status"))
    name, namespace = _str(meta.get("name")), _str(meta.get("namespace"))
    phase = _str(status.get("phase"))
    deleting = bool(meta.get("deletionTimestamp"))
    statuses = [_dict(s) for s in _list(status.get("initContainerStatuses")) + _list(
        status.get("containerStatuses"))]
    conditions = _conditions(status)
    ready = conditions.get("Ready", {}).get("status") == "True"
    restarts = sum(_int(s.get("restartCount")) for s in statuses)

    bad_reason, bad_message, waiting_reason = "", "", ""
    exit_code: int | None = None
    # When a container last restarted: its previous instance's end (lastState.terminated.finishedAt).
    restarted: datetime | None = None
    for container in statuses:
        current, last = _dict(container.get("state")), _dict(container.get("lastState"))
        waiting, terminated = _dict(current.get("waiting")), _dict(current.get("terminated"))
        last_terminated = _dict(last.get("terminated"))
        finished = parse_time(last_terminated.get("finishedAt")) if _int(container.get("restartCount")) else None
        if finished is not None and (restarted is None or finished > restarted):
            restarted = finished
        reason = _str(waiting.get("reason"))
        if reason and not waiting_reason:
            waiting_reason = reason
        if reason in BAD_WAITING_REASONS and not bad_reason:
            bad_reason = reason
            bad_message = f"{container.get('name', '?')}: {_str(waiting.get('message')) or reason}"
            if last_terminated:
                last_reason = _str(last_terminated.get("reason"))
                bad_message += f" (last exit {_int(last_terminated.get('exitCode'))}"
                bad_message += f", {last_reason})" if last_reason else ")"
        for terminal in (terminated, last_terminated):
            if terminal and exit_code is None and "exitCode" in terminal:
                exit_code = _int(terminal.get("exitCode"))

    state: TaskState
    if deleting:
        state, raw = TaskState.STOPPING, "Terminating"
    elif phase == "Pending":
        state = TaskState.STARTING if spec.get("nodeName") else TaskState.PENDING
        raw = bad_reason or waiting_reason or "Pending"
    elif phase == "Running":
        state, raw = TaskState.RUNNING, bad_reason or ("Running" if ready else waiting_reason or "Running")
    elif phase == "Succeeded":
        state, raw = TaskState.COMPLETE, _str(status.get("reason")) or "Completed"
    elif phase == "Failed":
        state, raw = TaskState.FAILED, _str(status.get("reason")) or "Failed"
    else:
        state, raw = TaskState.UNKNOWN, phase or "Unknown"

    error = bad_message
    if phase == "Failed" and not error:
        error = _str(status.get("message")) or raw
    unscheduled = conditions.get("PodScheduled", {})
    if state is TaskState.PENDING and unscheduled.get("status") == "False" and not error:
        error = _str(unscheduled.get("message")) or _str(unscheduled.get("reason"))

    if state in (TaskState.COMPLETE, TaskState.STOPPING):
        health = Health.NONE if state is TaskState.COMPLETE else Health.UNKNOWN
    elif state is TaskState.FAILED or bad_reason:
        health = Health.UNHEALTHY
    elif ready:
        health = Health.HEALTHY
    elif state is TaskState.RUNNING:
        since = parse_time(conditions.get("Ready", {}).get("lastTransitionTime"))
        failing_long = since is not None and now is not None and (now - since).total_seconds() > READINESS_GRACE_S
        health = Health.UNHEALTHY if restarts > 0 or failing_long else Health.STARTING
        if health is Health.UNHEALTHY and not error:
            error = "not ready" + (f" after {restarts} restarts" if restarts else " (readiness failing)")
    elif state in (TaskState.PENDING, TaskState.STARTING):
        health = Health.STARTING
    else:
        health = Health.UNKNOWN

    pod_labels = labels_of(obj)
    owner = controller_owner(obj)
    # What each container runs: imageID, for the reference the pod spec names (status.image is normalised).
    spec_images = {_str(_dict(c).get("name")): _str(_dict(c).get("image")) for c in _list(spec.get("containers"))}
    images = tuple(image for s in _list(status.get("containerStatuses")) if (image := RunningImage.of(
        spec_images.get(_str(_dict(s).get("name"))) or _str(_dict(s).get("image")),
        _image_id(_str(_dict(s).get("imageID"))), _str(_dict(s).get("name")))) is not None)
    desired = TaskState.STOPPED if deleting or state in (TaskState.COMPLETE, TaskState.FAILED) else TaskState.RUNNING
    return Task(
        id=f"{namespace}/{name}", service_id=service_id,
        slot=_ordinal(name) if owner.get("kind") == "StatefulSet" else None,
        node_id=_str(spec.get("nodeName")), node_name=_str(spec.get("nodeName")),
        state=state, desired_state=desired, health=health,
        version=pod_labels.get(POD_TEMPLATE_HASH) or pod_labels.get(CONTROLLER_REVISION_HASH, ""),
        started=parse_time(status.get("startTime")), exit_code=exit_code, error=error, raw_state=raw,
        restarts=restarts, address=_str(status.get("podIP")), restarted=restarted, images=images,
    )


# -- workloads ---------------------------------------------------------------------------------------


def _update_policy(kind: str, spec: Obj) -> UpdatePolicy:
    if kind == "deployment":
        strategy = _dict(spec.get("strategy"))
        if (_str(strategy.get("type")) or "RollingUpdate") == "Recreate":
            return UpdatePolicy(order="stop-first")
        rolling = _dict(strategy.get("rollingUpdate"))
        return UpdatePolicy(max_surge=_str(rolling.get("maxSurge")) or "25%",
                            max_unavailable=_str(rolling.get("maxUnavailable")) or "25%")
    rolling = _dict(_dict(spec.get("updateStrategy")).get("rollingUpdate"))
    if kind == "statefulset":
        partition = rolling.get("partition")
        return UpdatePolicy(max_unavailable=_str(rolling.get("maxUnavailable")),
                            partition=_int(partition) if partition is not None else None)
    return UpdatePolicy(max_surge=_str(rolling.get("maxSurge")) or "0",
                        max_unavailable=_str(rolling.get("maxUnavailable")) or "1")


def published_ports(pod_spec: Obj) -> tuple[str, ...]:
    """Ports published on the node (hostPort), as "HOST:CONTAINER/PROTO"; containerPorts are per container.

    Cluster Services are separate objects, so a workload publishes nothing else itself.
    """
    published = []
    for container in _list(pod_spec.get("containers")):
        for port in _list(_dict(container).get("ports")):
            port = _dict(port)
            host = _int(port.get("hostPort"))
            if host > 0:
                protocol = _str(port.get("protocol")) or "TCP"
                published.append(f"{host}:{_int(port.get('containerPort'))}/{protocol}")
    return tuple(published)


def workload_id(kind: str, namespace: str, name: str) -> str:
    return f"{kind}/{namespace}/{name}"


def map_workload(
    kind: str, obj: Obj, pods: list[Obj], history: list[Obj], ref: str = "", now: datetime | None = None,
    claims: Claims | None = None,
) -> Service:
    """A Deployment, StatefulSet or DaemonSet as a service.

    `history` is what the rollout is computed from: the ReplicaSets a Deployment owns, or the
    ControllerRevisions of a StatefulSet/DaemonSet. `pods` are the pods it owns (directly or through them).
    """
    meta, spec, status = meta_of(obj), _dict(obj.get("spec")), _dict(obj.get("status"))
    name, namespace = _str(meta.get("name")), _str(meta.get("namespace"))
    service_id = workload_id(kind, namespace, name)
    template = _dict(spec.get("template"))
    template_spec = _dict(template.get("spec"))
    volumes = template_spec.get("volumes")
    templates = spec.get("volumeClaimTemplates") if kind == "statefulset" else None
    containers = tuple(map_container(c, volumes, namespace, claims, templates)
                       for c in _list(template_spec.get("containers")))
    tasks = tuple(sorted((map_pod(p, service_id, now) for p in pods), key=lambda t: (t.slot or 0, t.id)))
    details: dict[str, str] = {"kind": OWNER_KIND[kind]}
    version, revision = "", -1
    if kind == "deployment":
        new_rs = find_new_replicaset(obj, history)
        old = [rs for rs in history if rs is not new_rs]
        rollout = deployment_rollout(obj, new_rs, old)
        desired = _int(spec.get("replicas"), 1)
        ready = _int(status.get("readyReplicas"))
        details["up-to-date"] = str(_int(status.get("updatedReplicas")))
        details["available"] = str(_int(status.get("availableReplicas")))
        details["strategy"] = _str(_dict(spec.get("strategy")).get("type")) or "RollingUpdate"
        if new_rs is not None:
            version = labels_of(new_rs).get(POD_TEMPLATE_HASH, "")
            revision = revision_of(new_rs)
        if spec.get("paused") is True:
            details["paused"] = "true"
        mode = ServiceMode.REPLICATED
    elif kind == "statefulset":
        rollout = statefulset_rollout(obj, history)
        desired = _int(spec.get("replicas"), 1)
        ready = _int(status.get("readyReplicas"))
        details["up-to-date"] = str(_int(status.get("updatedReplicas")))
        details["available"] = str(_int(status.get("availableReplicas", ready)))
        details["strategy"] = _str(_dict(spec.get("updateStrategy")).get("type")) or "RollingUpdate"
        version = _str(status.get("updateRevision"))
        revision = revision_of(_revision_by_name(history, version) or {})
        mode = ServiceMode.REPLICATED
    else:
        rollout = daemonset_rollout(obj, history)
        desired = _int(status.get("desiredNumberScheduled"))
        ready = _int(status.get("numberReady"))
        details["up-to-date"] = str(_int(status.get("updatedNumberScheduled")))
        details["available"] = str(_int(status.get("numberAvailable")))
        details["strategy"] = _str(_dict(spec.get("updateStrategy")).get("type")) or "RollingUpdate"
        newest = max(history, key=revision_of, default=None)
        if newest is not None:
            version = labels_of(newest).get(CONTROLLER_REVISION_HASH, "")
            revision = revision_of(newest)
        mode = ServiceMode.GLOBAL
    details["ready"] = f"{ready}/{desired}"
    details["selector"] = selector_text(spec.get("selector"))
    if revision >= 0:
        details["revision"] = str(revision)
    images: list[str] = []
    for container in containers:
        if container.image and container.image not in images:
            images.append(container.image)
    progressing = _conditions(status).get("Progressing", {})
    rollback_refusal = ""
    try:  # whether `kubectl rollout undo` has a target, from the same history the plan reads
        if kind == "deployment":
            deployment_rollback_target(obj, history)
        else:
            revision_rollback_target(kind, obj, history)
    except ProviderError as refused:
        rollback_refusal = str(refused)
    return Service(
        id=service_id, name=name, ref=ref or f"{namespace}/{name}", namespace=namespace,
        workload_kind=kind, image=", ".join(images), version=version, mode=mode, desired=desired,
        running=ready,
        pending=sum(1 for t in tasks if t.state in (TaskState.PENDING, TaskState.STARTING)),
        health=HealthCounts.of(tasks), rollout=rollout, update_policy=_update_policy(kind, spec),
        ports=published_ports(template_spec), labels=labels_of(obj),
        containers=containers, tasks=tasks, created=parse_time(meta.get("creationTimestamp")),
        pinned_to=pinned_node(template_spec),
        updated_at=parse_time(progressing.get("lastUpdateTime")), details=details,
        rollback_refusal=rollback_refusal,
    )


def event_time(obj: Obj) -> datetime:
    """When an Event last happened (lastTimestamp, else eventTime, firstTimestamp, creation)."""
    return (parse_time(obj.get("lastTimestamp")) or parse_time(obj.get("eventTime"))
            or parse_time(obj.get("firstTimestamp")) or parse_time(meta_of(obj).get("creationTimestamp")) or EPOCH)


def map_event(obj: Obj, cluster: str, service_ref: str = "") -> Event:
    involved = _dict(obj.get("involvedObject"))
    kind = _str(involved.get("kind")).lower() or "object"
    # Nodes are cluster-scoped; their events still sit in a namespace ("default") on some clusters.
    namespace = "" if kind == "node" else _str(involved.get("namespace"))
    name = _str(involved.get("name"))
    when = event_time(obj)
    reason, message = _str(obj.get("reason")), _str(obj.get("message")).strip()
    text = f"{reason}: {message}" if reason and message else reason or message
    count = _int(obj.get("count"))
    if count > 1:
        text += f" (x{count})"
    return Event(
        time=when, cluster=cluster, object=f"{kind} {namespace}/{name}" if namespace else f"{kind} {name}",
        kind="warning" if obj.get("type") == "Warning" else "normal", message=text, service_ref=service_ref,
    )


def event_owner_ref(
    ref_of_object: Mapping[tuple[str, str, str], str], namespace: str, kind: str, name: str,
) -> str | None:
    """The ref of the workload an Event's object belongs to, or None when it belongs to none we show.

    A pod replaced by a rollout or a crash is gone from the cache while its events (the interesting
    ones) live on for an hour, so an unknown pod is matched by name: Deployment pods are named
    RS-xxxxx and their ReplicaSet DEPLOYMENT-hash; StatefulSet pods NAME-ordinal; DaemonSet pods NAME-xxxxx.
    """
    known = ref_of_object.get((namespace, kind, name))
    if known is not None or kind != "Pod":
        return known
    head = name.rpartition("-")[0]
    if not head:
        return None
    for owner_kind in ("ReplicaSet", "StatefulSet", "DaemonSet"):
        ref = ref_of_object.get((namespace, owner_kind, head))
        if ref is not None:
            return ref
    # The ReplicaSet may be gone too (history limit): DEPLOYMENT-hash-xxxxx.
    return ref_of_object.get((namespace, "Deployment", head.rpartition("-")[0])) if "-" in head else None


def _owner_key(obj: Obj) -> tuple[str, str, str]:
    """Who controls obj: (namespace, owner kind, owner name)."""
    ref = controller_owner(obj)
    return _str(meta_of(obj).get("namespace")), _str(ref.get("kind")), _str(ref.get("name"))


def build_cluster(
    name: str, objects: Mapping[str, list[Obj]], *, now: datetime | None = None, max_events: int = 1000,
    memo: MappingMemo | None = None,
) -> Cluster:
    """The whole cluster from cached objects (keys: resource plurals). Pure: no I/O. With `memo` (the same one
    each snapshot), workloads none of whose objects changed since the last call are not mapped again."""
    memo = memo if memo is not None else MappingMemo()
    memo.begin(objects.get(PERSISTENT_VOLUME_CLAIMS.resource, []))
    workloads = [(kind, obj) for kind, k in WORKLOAD_KINDS.items() for obj in objects.get(k.resource, [])]
    # Deployment keeps the plain ref on a namespace/name clash; other kinds then carry theirs.
    taken: set[tuple[str, str]] = set()
    refs: dict[tuple[str, str, str], str] = {}
    for kind, obj in workloads:
        namespace, wname = _key(obj)
        plain = (namespace, wname)
        refs[(kind, namespace, wname)] = f"{namespace}/{kind}/{wname}" if plain in taken else f"{namespace}/{wname}"
        taken.add(plain)

    # Who owns what, by (namespace, owner kind, owner name).
    def owner_key(obj: Obj) -> tuple[str, str, str]:
        return memo.owner(obj, _owner_key)

    replicasets_by_owner: dict[tuple[str, str, str], list[Obj]] = {}
    deployment_of_rs: dict[tuple[str, str], str] = {}
    for rs in objects.get(REPLICASETS.resource, []):
        owner = owner_key(rs)
        if owner[1] == "Deployment":
            replicasets_by_owner.setdefault(owner, []).append(rs)
            deployment_of_rs[_key(rs)] = owner[2]
    revisions_by_owner: dict[tuple[str, str, str], list[Obj]] = {}
    for revision in objects.get(CONTROLLER_REVISIONS.resource, []):
        revisions_by_owner.setdefault(owner_key(revision), []).append(revision)
    pods_by_owner: dict[tuple[str, str, str], list[Obj]] = {}
    for pod in objects.get(PODS.resource, []):
        namespace, owner_kind, owner_name = owner_key(pod)
        if owner_kind == "ReplicaSet":
            deployment = deployment_of_rs.get((namespace, owner_name))
            if deployment is None:
                continue
            owner_kind, owner_name = "Deployment", deployment
        pods_by_owner.setdefault((namespace, owner_kind, owner_name), []).append(pod)

    claims = {_key(claim): claim for claim in objects.get(PERSISTENT_VOLUME_CLAIMS.resource, [])}
    services: list[Service] = []
    ref_of_object: dict[tuple[str, str, str], str] = {}
    for kind, obj in workloads:
        namespace, wname = _key(obj)
        owner = (namespace, OWNER_KIND[kind], wname)
        # Only objects this very workload owns (a recreated one has a new uid).
        history = [h for h in (replicasets_by_owner if kind == "deployment" else revisions_by_owner).get(owner, [])
                   if owned_by(h, obj, OWNER_KIND[kind])]
        ref = refs[(kind, namespace, wname)]
        pods = pods_by_owner.get(owner, [])
        inputs = (obj, *pods, *history)
        service = memo.reuse((kind, namespace, wname), inputs, ref)
        if service is None:
            service = memo.keep((kind, namespace, wname), inputs, ref,
                                map_workload(kind, obj, pods, history, ref, now, claims))
        services.append(service)
        ref_of_object[(namespace, OWNER_KIND[kind], wname)] = ref
        for item in history:
            if kind == "deployment":
                ref_of_object[(namespace, "ReplicaSet", _key(item)[1])] = ref
        for task in service.tasks:
            ref_of_object[(namespace, "Pod", task.id.split("/", 1)[1])] = ref

    strays = attach_autoscalers(services, objects.get(HORIZONTAL_POD_AUTOSCALERS.resource, []), deployment_of_rs)
    events: list[Event] = []
    for item in objects.get(EVENTS.resource, []):
        involved = _dict(item.get("involvedObject"))
        kind_name = _str(involved.get("kind"))
        if kind_name == "Node":
            events.append(map_event(item, name))
            continue
        event_ref = event_owner_ref(ref_of_object, _str(involved.get("namespace")), kind_name,
                                    _str(involved.get("name")))
        if event_ref is not None:
            events.append(map_event(item, name, event_ref))
    events.sort(key=lambda event: event.time)
    memo.end()
    return Cluster(
        name=name, kind=ClusterKind.KUBERNETES,
        nodes=tuple(sorted((map_node(n) for n in objects.get(NODES.resource, [])), key=lambda n: n.name)),
        services=tuple(sorted(services, key=lambda s: s.ref)),
        events=tuple(events[-max_events:]),
        stray_autoscalers=tuple(strays),
    )


