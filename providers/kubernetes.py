"""Kubernetes: Deployments, StatefulSets and DaemonSets as services, their Pods as tasks.

Built on the official `kubernetes` client (imported lazily). Reads go through the client's own ApiClient
(auth, TLS, exec credential plugins and token refresh are the client's) but return plain dicts, which the
pure `map_*` functions below turn into the unified model; no SDK object leaves this module.

Live data is an informer-like cache: one reflector thread per kind (and per namespace when `namespaces` is
set) lists once, then watches from the list's resourceVersion. A watch that times out is resumed from the
last resourceVersion seen (no list); 410 Gone means relist; other errors back off exponentially. Every
watch carries timeoutSeconds and a client read timeout, so a dropped network cannot hang a thread forever.
`snapshot()` builds the Cluster from the cache: zero API calls once synced.

Decisions worth knowing:
- A service's ref is "NAMESPACE/NAME". When kinds share a namespace/name, the Deployment keeps the plain
  ref and the others become "NAMESPACE/KIND/NAME" (e.g. "prod/statefulset/web"), so the common kind's ref
  never changes. Service.id is always "KIND/NAMESPACE/NAME"; Task.id is "NAMESPACE/POD".
- Pod health: Ready -> HEALTHY. Not ready: a bad waiting reason (CrashLoopBackOff, ImagePullBackOff, ...),
  restarts, or readiness failing for longer than READINESS_GRACE_S -> UNHEALTHY; otherwise STARTING.
  Failed pods are UNHEALTHY; finished or terminating pods are no longer desired running.
- Service.running is the ready count (kubectl's READY numerator); `pending` counts pods not yet running.
- A cordoned node is Availability.PAUSE (no new pods, running ones stay), as Swarm's "pause".
- With `namespaces` unset, every kind is listed cluster-wide. Where that is forbidden (RBAC that grants a
  namespace, not the cluster: common for application teams) a namespaced kind falls back to the context's
  namespace, as kubectl does, and the cluster's `scope` says so; a 403 there too, or on a cluster-scoped
  kind (nodes), shows that kind as forbidden, not as empty.
- Lists are paged (limit/continue); an expired continue token (410) restarts the list.
- Events: those of workloads, their ReplicaSets and pods (also pods already gone, matched by name) and of
  nodes; the Event cache keeps the `max_event_cache` most recent, so a long session stays bounded.
- Logs come from the pod log endpoint, one request per container, each line prefixed
  "POD/CONTAINER@NODE". The task id picks pods and a container: "POD" or "NAMESPACE/POD" (a prefix picks
  every pod it starts), "POD/CONTAINER" or "NAMESPACE/POD/CONTAINER" (the container picker). A crash loop
  shows the crashed instance, marked "(previous)", before the current one. Follow opens one stream per
  container (at most `max_log_follow_streams`, as kubectl's --max-log-requests), resumes a stream that went
  quiet past its read timeout from the last line's time without repeating lines; `stop` closes open
  responses from the consuming thread at once. A follow of the workload (or of a pod name prefix) goes on
  until `stop`, as the workload outlives its pods: it looks at the pod cache every 2 s (and when a stream
  ends) and follows, from their first line and within the same bound, the containers of pods that appeared
  meanwhile and the next instance of a container that restarted. One pod named exactly ends with it.
- Credentials: the client's own (tokens, client certificates, exec credential plugins). After a 401 the
  kubeconfig is loaded again, which re-runs an exec plugin (client-go does the same), at most every
  AUTH_RELOAD_MIN_S; `credentials_renewed()` (after an interactive login) does it at once and ends the
  reflectors' backoff. The console runs plugins non-interactively in the background; `login_command()`
  is the interactive path, run with the TUI suspended.
- A configured `kubeconfig` that does not exist is a config error when the provider is built (exit 2
  before any request); the $KUBECONFIG/default path is looked at on connect.
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import math
import os
import queue
import random
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

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

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

log = logging.getLogger(__name__)

Obj = dict[str, Any]

REVISION_ANNOTATION = "deployment.kubernetes.io/revision"
POD_TEMPLATE_HASH = "pod-template-hash"
CONTROLLER_REVISION_HASH = "controller-revision-hash"
# Annotations `kubectl rollout undo` keeps from the Deployment instead of copying from the ReplicaSet.
UNDO_SKIPPED_ANNOTATIONS = frozenset({
    "kubectl.kubernetes.io/last-applied-configuration",
    REVISION_ANNOTATION,
    "deployment.kubernetes.io/revision-history",
    "deployment.kubernetes.io/desired-replicas",
    "deployment.kubernetes.io/max-replicas",
    "deprecated.deployment.rollback.to",
})
BAD_WAITING_REASONS = frozenset({
    "CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull", "ErrImageNeverPull", "InvalidImageName",
    "CreateContainerConfigError", "CreateContainerError", "RunContainerError", "ContainerCannotRun",
    "PreCreateHookError", "PostStartHookError",
})
# A running pod whose readiness has failed this long is unhealthy, not still starting.
READINESS_GRACE_S = 120.0
LOGIN_CACHE_S = 60.0
# After a 401 the kubeconfig is read again (re-running an exec plugin, as client-go does), at most this often.
AUTH_RELOAD_MIN_S = 2.0
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Kind:
    resource: str  # plural, as in the URL
    prefix: str  # "/api/v1" or "/apis/apps/v1"
    namespaced: bool = True


DEPLOYMENTS = Kind("deployments", "/apis/apps/v1")
REPLICASETS = Kind("replicasets", "/apis/apps/v1")
STATEFULSETS = Kind("statefulsets", "/apis/apps/v1")
DAEMONSETS = Kind("daemonsets", "/apis/apps/v1")
CONTROLLER_REVISIONS = Kind("controllerrevisions", "/apis/apps/v1")
PODS = Kind("pods", "/api/v1")
EVENTS = Kind("events", "/api/v1")
NODES = Kind("nodes", "/api/v1", namespaced=False)
WATCHED_KINDS = (DEPLOYMENTS, REPLICASETS, STATEFULSETS, DAEMONSETS, CONTROLLER_REVISIONS, PODS, EVENTS, NODES)
WORKLOAD_KINDS = {"deployment": DEPLOYMENTS, "statefulset": STATEFULSETS, "daemonset": DAEMONSETS}
OWNER_KIND = {"deployment": "Deployment", "statefulset": "StatefulSet", "daemonset": "DaemonSet"}


def collection_path(kind: Kind, namespace: str = "") -> str:
    if namespace and kind.namespaced:
        return f"{kind.prefix}/namespaces/{namespace}/{kind.resource}"
    return f"{kind.prefix}/{kind.resource}"


# -- small pure helpers ------------------------------------------------------------------------------


def _dict(value: Any) -> Obj:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _int(value: Any, default: int = 0) -> int:
    if isinstance(value, bool):
        return default
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            return default
    return default


def _str(value: Any) -> str:
    return value if isinstance(value, str) else "" if value is None else str(value)


def parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


_QUANTITY = re.compile(r"^([0-9.]+(?:[eE][-+]?[0-9]+)?)([a-zA-Z]*)$")
_SUFFIX = {
    "": 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18,
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60, "m": 0.001,
}


def parse_quantity_bytes(value: Any) -> int | None:
    """A Kubernetes quantity ("512Mi", "1G", "1e9") as bytes; None when absent or unreadable."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        # Python's json accepts NaN and Infinity, which no quantity is.
        return int(value) if math.isfinite(value) else None
    match = _QUANTITY.match(value.strip()) if isinstance(value, str) else None
    if not match or match.group(2) not in _SUFFIX:
        return None
    try:
        return int(float(match.group(1)) * _SUFFIX[match.group(2)])
    except (ValueError, OverflowError):
        return None


def meta_of(obj: Obj) -> Obj:
    return _dict(obj.get("metadata"))


def labels_of(obj: Obj) -> dict[str, str]:
    return {str(k): _str(v) for k, v in _dict(meta_of(obj).get("labels")).items()}


def controller_owner(obj: Obj) -> Obj:
    """The ownerReference with controller: true (or the only one)."""
    owners = [ref for ref in _list(meta_of(obj).get("ownerReferences")) if isinstance(ref, dict)]
    for ref in owners:
        if ref.get("controller") is True:
            return ref
    return owners[0] if len(owners) == 1 else {}


def owned_by(obj: Obj, owner: Obj, owner_kind: str) -> bool:
    ref = controller_owner(obj)
    if ref.get("kind") != owner_kind or ref.get("name") != meta_of(owner).get("name"):
        return False
    uid, owner_uid = ref.get("uid"), meta_of(owner).get("uid")
    return not (uid and owner_uid) or uid == owner_uid


def revision_of(obj: Obj) -> int:
    """A ReplicaSet's deployment.kubernetes.io/revision, or a ControllerRevision's revision; -1 if none."""
    if "revision" in obj:
        return _int(obj.get("revision"), -1)
    return _int(_dict(meta_of(obj).get("annotations")).get(REVISION_ANNOTATION), -1)


def selector_text(selector: Any) -> str:
    selector = _dict(selector)
    parts = [f"{k}={v}" for k, v in sorted(_dict(selector.get("matchLabels")).items())]
    for expression in _list(selector.get("matchExpressions")):
        expression = _dict(expression)
        values = ",".join(_str(v) for v in _list(expression.get("values")))
        operator = _str(expression.get("operator")).lower()
        key = _str(expression.get("key"))
        parts.append(f"{key} {operator} ({values})" if values else f"{operator} {key}")
    return ",".join(parts)


def template_without_hash(template: Any) -> Obj:
    """A pod template with the controller's hash labels removed (what `kubectl rollout undo` compares)."""
    template = copy.deepcopy(_dict(template))
    template.pop("$patch", None)
    metadata = _dict(template.get("metadata"))
    labels = _dict(metadata.get("labels"))
    for key in (POD_TEMPLATE_HASH, CONTROLLER_REVISION_HASH):
        labels.pop(key, None)
    if "labels" in metadata and not labels:
        metadata.pop("labels")
    if "metadata" in template and not metadata:
        template.pop("metadata")
    return dict(template)


def template_images(template: Any) -> str:
    containers = _list(_dict(_dict(template).get("spec")).get("containers"))
    images: list[str] = []
    for container in containers:
        image = _str(_dict(container).get("image"))
        if image and image not in images:
            images.append(image)
    return ", ".join(images)


def describe_revision(template: Any, revision: int) -> str:
    images = template_images(template) or "?"
    return f"{images} (rev {revision})" if revision >= 0 else images


def _conditions(status: Obj) -> dict[str, Obj]:
    return {_str(_dict(c).get("type")): _dict(c) for c in _list(status.get("conditions"))}


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
    )


# -- containers and pods -----------------------------------------------------------------------------


# Volume types whose source is worth naming in a mount ("configMap:settings->/etc/app").
_VOLUME_SOURCE_NAME = {
    "configMap": "name", "secret": "secretName", "persistentVolumeClaim": "claimName", "nfs": "path",
}


def volume_text(volume: Any) -> str:
    """A pod volume as "TYPE:SOURCE" (hostPath keeps its host path, which the doctor inspects)."""
    volume = _dict(volume)
    for key, value in volume.items():
        if key == "name" or not isinstance(value, dict):
            continue
        if key == "hostPath":
            return f"hostPath:{_str(value.get('path'))}"
        source = _str(value.get(_VOLUME_SOURCE_NAME.get(key, ""), "")) or _str(volume.get("name"))
        return f"{key}:{source}"
    return f"volume:{_str(volume.get('name'))}"


def map_container(container: Any, volumes: Any = None) -> ContainerSpec:
    """One container of a pod template; `volumes` is the pod's spec.volumes, to say what each mount is."""
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
    sources = {_str(_dict(v).get("name")): volume_text(v) for v in _list(volumes)}
    mounts = []
    for mount in _list(container.get("volumeMounts")):
        mount = _dict(mount)
        volume = _str(mount.get("name"))
        # The Swarm provider's shape, "TYPE:SOURCE->TARGET", so the doctor reads every orchestrator alike.
        text = f"{sources.get(volume) or f'volume:{volume}'}->{_str(mount.get('mountPath'))}"
        mounts.append(text + " (ro)" if mount.get("readOnly") is True else text)
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
        memory_limit_bytes=parse_quantity_bytes(limits.get("memory")), mounts=tuple(mounts), ports=ports,
    )


def _ordinal(name: str) -> int | None:
    head, _, tail = name.rpartition("-")
    return int(tail) if head and tail.isdigit() else None


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
    for container in statuses:
        current, last = _dict(container.get("state")), _dict(container.get("lastState"))
        waiting, terminated = _dict(current.get("waiting")), _dict(current.get("terminated"))
        last_terminated = _dict(last.get("terminated"))
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
    desired = TaskState.STOPPED if deleting or state in (TaskState.COMPLETE, TaskState.FAILED) else TaskState.RUNNING
    return Task(
        id=f"{namespace}/{name}", service_id=service_id,
        slot=_ordinal(name) if owner.get("kind") == "StatefulSet" else None,
        node_id=_str(spec.get("nodeName")), node_name=_str(spec.get("nodeName")),
        state=state, desired_state=desired, health=health,
        version=pod_labels.get(POD_TEMPLATE_HASH) or pod_labels.get(CONTROLLER_REVISION_HASH, ""),
        started=parse_time(status.get("startTime")), exit_code=exit_code, error=error, raw_state=raw,
        restarts=restarts, address=_str(status.get("podIP")),
    )


# -- rollouts (the semantics of `kubectl rollout status`) --------------------------------------------


def find_new_replicaset(deployment: Obj, replicasets: list[Obj]) -> Obj | None:
    """The ReplicaSet whose template equals the Deployment's, ignoring pod-template-hash (oldest first)."""
    wanted = template_without_hash(_dict(deployment.get("spec")).get("template"))
    ordered = sorted(replicasets, key=lambda rs: (_str(meta_of(rs).get("creationTimestamp")), revision_of(rs)))
    for rs in ordered:
        if template_without_hash(_dict(rs.get("spec")).get("template")) == wanted:
            return rs
    return None


def deployment_rollout(deployment: Obj, new_rs: Obj | None, old_rss: list[Obj]) -> Rollout:
    meta, spec, status = meta_of(deployment), _dict(deployment.get("spec")), _dict(deployment.get("status"))
    name = _str(meta.get("name"))
    desired = _int(spec.get("replicas"), 1)
    updated = _int(status.get("updatedReplicas"))
    replicas = _int(status.get("replicas"))
    available = _int(status.get("availableReplicas"))
    progressing = _conditions(status).get("Progressing", {})

    previous = max(old_rss, key=revision_of, default=None)
    live_old = [rs for rs in old_rss if _int(_dict(rs.get("spec")).get("replicas")) > 0
                or _int(_dict(rs.get("status")).get("replicas")) > 0]
    if live_old:
        previous = max(live_old, key=revision_of)
    to_template = _dict(new_rs.get("spec")).get("template") if new_rs else spec.get("template")
    to_revision = revision_of(new_rs) if new_rs else -1
    rollout = Rollout(
        updated=updated, total=desired,
        from_version=describe_revision(_dict(previous.get("spec")).get("template"), revision_of(previous))
        if previous else "",
        to_version=describe_revision(to_template, to_revision),
        started=parse_time(meta_of(new_rs).get("creationTimestamp")) if new_rs else None,
    )
    if spec.get("paused") is True:
        rollout.state = RolloutState.PAUSED
        rollout.message = f'deployment "{name}" is paused: {updated} of {desired} replicas updated'
    elif _int(meta.get("generation")) <= _int(status.get("observedGeneration")):
        if progressing.get("reason") == "ProgressDeadlineExceeded":
            rollout.state = RolloutState.FAILED
            detail = _str(progressing.get("message"))
            rollout.message = f'deployment "{name}" exceeded its progress deadline' + (f": {detail}" if detail else "")
        elif updated < desired:
            rollout.state = RolloutState.UPDATING
            rollout.message = (f'Waiting for deployment "{name}" rollout to finish: {updated} out of {desired} '
                               "new replicas have been updated...")
        elif replicas > updated:
            rollout.state = RolloutState.UPDATING
            rollout.message = (f'Waiting for deployment "{name}" rollout to finish: {replicas - updated} old '
                               "replicas are pending termination...")
        elif available < updated:
            rollout.state = RolloutState.UPDATING
            rollout.message = (f'Waiting for deployment "{name}" rollout to finish: {available} of {updated} '
                               "updated replicas are available...")
        else:
            rollout.state = RolloutState.STABLE
            rollout.message = f'deployment "{name}" successfully rolled out'
            if progressing.get("reason") == "NewReplicaSetAvailable":
                rollout.finished = parse_time(progressing.get("lastUpdateTime"))
    else:
        rollout.state = RolloutState.UPDATING
        rollout.message = "Waiting for deployment spec update to be observed..."
    return rollout


def _revision_by_name(revisions: list[Obj], name: str) -> Obj | None:
    return next((r for r in revisions if meta_of(r).get("name") == name), None)


def _revision_template(revision: Obj | None) -> Obj:
    return _dict(_dict(_dict(_dict(revision).get("data")).get("spec")).get("template"))


def statefulset_rollout(sts: Obj, revisions: list[Obj]) -> Rollout:
    meta, spec, status = meta_of(sts), _dict(sts.get("spec")), _dict(sts.get("status"))
    replicas = _int(spec.get("replicas"), 1)
    strategy = _dict(spec.get("updateStrategy"))
    rolling = strategy.get("rollingUpdate")
    partition = _dict(rolling).get("partition") if isinstance(rolling, dict) else None
    current_name, update_name = _str(status.get("currentRevision")), _str(status.get("updateRevision"))
    current, update = _revision_by_name(revisions, current_name), _revision_by_name(revisions, update_name)
    ready, updated = _int(status.get("readyReplicas")), _int(status.get("updatedReplicas"))
    total = replicas - _int(partition) if partition is not None else replicas
    rollout = Rollout(
        updated=updated, total=max(total, 0),
        from_version=describe_revision(_revision_template(current), revision_of(current or {}))
        if current_name and current_name != update_name else "",
        to_version=describe_revision(_revision_template(update) or spec.get("template"),
                                     revision_of(update) if update else -1),
    )
    observed = _int(status.get("observedGeneration"))
    if (_str(strategy.get("type")) or "RollingUpdate") != "RollingUpdate":
        rollout.state = RolloutState.UPDATING if current_name != update_name else RolloutState.STABLE
        rollout.message = "rollout status is only available for RollingUpdate strategy type"
    elif observed == 0 or _int(meta.get("generation")) > observed:
        rollout.state, rollout.message = RolloutState.UPDATING, "Waiting for statefulset spec update to be observed..."
    elif ready < replicas:
        rollout.state, rollout.message = RolloutState.UPDATING, f"Waiting for {replicas - ready} pods to be ready..."
    elif partition is not None:
        if updated < total:
            rollout.state = RolloutState.UPDATING
            rollout.message = (f"Waiting for partitioned roll out to finish: {updated} out of {total} new pods "
                               "have been updated...")
        else:
            rollout.state = RolloutState.STABLE
            rollout.message = f"partitioned roll out complete: {updated} new pods have been updated..."
    elif update_name != current_name:
        rollout.state = RolloutState.UPDATING
        rollout.message = (f"waiting for statefulset rolling update to complete {updated} pods at revision "
                           f"{update_name}...")
    else:
        rollout.state = RolloutState.STABLE
        rollout.message = (f"statefulset rolling update complete {_int(status.get('currentReplicas'))} pods at "
                           f"revision {current_name}...")
    return rollout


def daemonset_rollout(ds: Obj, revisions: list[Obj]) -> Rollout:
    meta, spec, status = meta_of(ds), _dict(ds.get("spec")), _dict(ds.get("status"))
    name = _str(meta.get("name"))
    desired = _int(status.get("desiredNumberScheduled"))
    updated = _int(status.get("updatedNumberScheduled"))
    available = _int(status.get("numberAvailable"))
    ordered = sorted(revisions, key=revision_of)
    newest = ordered[-1] if ordered else None
    previous = ordered[-2] if len(ordered) > 1 else None
    rollout = Rollout(
        updated=updated, total=desired,
        from_version=describe_revision(_revision_template(previous), revision_of(previous)) if previous else "",
        to_version=describe_revision(_revision_template(newest) or spec.get("template"),
                                     revision_of(newest) if newest else -1),
    )
    if (_str(_dict(spec.get("updateStrategy")).get("type")) or "RollingUpdate") != "RollingUpdate":
        rollout.state = RolloutState.STABLE
        rollout.message = "rollout status is only available for RollingUpdate strategy type"
    elif _int(meta.get("generation")) <= _int(status.get("observedGeneration")):
        if updated < desired:
            rollout.state = RolloutState.UPDATING
            rollout.message = (f'Waiting for daemon set "{name}" rollout to finish: {updated} out of {desired} '
                               "new pods have been updated...")
        elif available < desired:
            rollout.state = RolloutState.UPDATING
            rollout.message = (f'Waiting for daemon set "{name}" rollout to finish: {available} of {desired} '
                               "updated pods are available...")
        else:
            rollout.state = RolloutState.STABLE
            rollout.message = f'daemon set "{name}" successfully rolled out'
    else:
        rollout.state, rollout.message = RolloutState.UPDATING, "Waiting for daemon set spec update to be observed..."
    return rollout


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
    containers = tuple(map_container(c, volumes) for c in _list(template_spec.get("containers")))
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


def _key(obj: Obj) -> tuple[str, str]:
    meta = meta_of(obj)
    return _str(meta.get("namespace")), _str(meta.get("name"))


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


def build_cluster(
    name: str, objects: Mapping[str, list[Obj]], *, now: datetime | None = None, max_events: int = 1000,
) -> Cluster:
    """The whole cluster from cached objects (keys: resource plurals). Pure: no I/O."""
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
        ref = controller_owner(obj)
        return _str(meta_of(obj).get("namespace")), _str(ref.get("kind")), _str(ref.get("name"))

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

    services: list[Service] = []
    ref_of_object: dict[tuple[str, str, str], str] = {}
    for kind, obj in workloads:
        namespace, wname = _key(obj)
        owner = (namespace, OWNER_KIND[kind], wname)
        # Only objects this very workload owns (a recreated one has a new uid).
        history = [h for h in (replicasets_by_owner if kind == "deployment" else revisions_by_owner).get(owner, [])
                   if owned_by(h, obj, OWNER_KIND[kind])]
        ref = refs[(kind, namespace, wname)]
        service = map_workload(kind, obj, pods_by_owner.get(owner, []), history, ref, now)
        services.append(service)
        ref_of_object[(namespace, OWNER_KIND[kind], wname)] = ref
        for item in history:
            if kind == "deployment":
                ref_of_object[(namespace, "ReplicaSet", _key(item)[1])] = ref
        for task in service.tasks:
            ref_of_object[(namespace, "Pod", task.id.split("/", 1)[1])] = ref

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
    return Cluster(
        name=name, kind=ClusterKind.KUBERNETES,
        nodes=tuple(sorted((map_node(n) for n in objects.get(NODES.resource, [])), key=lambda n: n.name)),
        services=tuple(sorted(services, key=lambda s: s.ref)),
        events=tuple(events[-max_events:]),
    )


# -- rollback targets (the semantics of `kubectl rollout undo`) --------------------------------------


def deployment_rollback_target(deployment: Obj, replicasets: list[Obj]) -> Obj:
    """The owned ReplicaSet with the second-highest revision; NotSupported when none or already current."""
    name = _str(meta_of(deployment).get("name"))
    if _dict(deployment.get("spec")).get("paused") is True:
        raise NotSupported(
            f'you cannot rollback a paused deployment "{name}"',
            "resume it first with 'kubectl rollout resume' and try again",
        )
    owned = [rs for rs in replicasets if owned_by(rs, deployment, "Deployment") and revision_of(rs) >= 0]
    ordered = sorted(owned, key=revision_of)
    if len(ordered) < 2:
        raise NotSupported(f'no rollout history found for deployment "{name}"')
    target = ordered[-2]
    current = template_without_hash(_dict(deployment.get("spec")).get("template"))
    if template_without_hash(_dict(target.get("spec")).get("template")) == current:
        raise NotSupported(
            f"skipped rollback (current template already matches revision {revision_of(target)})",
            "nothing to roll back",
        )
    return target


def deployment_undo_patch(deployment: Obj, target: Obj) -> list[Obj]:
    """kubectl's JSON patch: the ReplicaSet's template minus its hash, and its annotations."""
    annotations = {
        k: v for k, v in _dict(meta_of(deployment).get("annotations")).items() if k in UNDO_SKIPPED_ANNOTATIONS
    }
    annotations.update({
        k: v for k, v in _dict(meta_of(target).get("annotations")).items() if k not in UNDO_SKIPPED_ANNOTATIONS
    })
    return [
        {"op": "replace", "path": "/spec/template",
         "value": template_without_hash(_dict(target.get("spec")).get("template"))},
        {"op": "replace", "path": "/metadata/annotations", "value": annotations},
    ]


def revision_rollback_target(kind: str, workload: Obj, revisions: list[Obj]) -> Obj:
    """StatefulSet/DaemonSet: the second-highest ControllerRevision, unless it is already current."""
    name = _str(meta_of(workload).get("name"))
    owned = sorted((r for r in revisions if owned_by(r, workload, OWNER_KIND[kind])), key=revision_of)
    if len(owned) < 2:
        raise NotSupported(f'no last revision to roll back to for {kind} "{name}"')
    target = owned[-2]
    current = template_without_hash(_dict(workload.get("spec")).get("template"))
    if template_without_hash(_revision_template(target)) == current:
        raise NotSupported(
            f"skipped rollback (current template already matches revision {revision_of(target)})",
            "nothing to roll back",
        )
    return target


# -- logs (the pod log endpoint, with kubelet's semantics) -------------------------------------------

# One log line longer than this is cut: a container writing megabytes without a newline must not grow
# the buffer without bound.
LOG_LINE_MAX_BYTES = 64 * 1024
# A container that crashed this recently gets its previous instance's log shown before the current one.
RECENT_CRASH_S = 30 * 60.0
# The source of lines that pilothouse itself adds to a log (not a container's).
LOG_NOTICE_SOURCE = "pilothouse"


@dataclass(frozen=True, slots=True)
class LogStream:
    """One container's log, as one request to GET /api/v1/namespaces/NS/pods/POD/log serves it."""

    namespace: str
    pod: str
    container: str
    node: str = ""
    previous: bool = False  # the last terminated instance of the container
    waiting: str = ""  # the container has not started: nothing to read, say why

    @property
    def source(self) -> str:
        text = f"{self.pod}/{self.container}" + (f"@{self.node}" if self.node else "")
        return f"{text} (previous)" if self.previous else text

    @property
    def path(self) -> str:
        return f"{collection_path(PODS, self.namespace)}/{self.pod}/log"

    def query(self, *, tail: int | None, follow: bool, since: datetime | None = None) -> dict[str, Any]:
        query: dict[str, Any] = {"container": self.container, "timestamps": "true"}
        if self.previous:
            query["previous"] = "true"
        if follow:
            query["follow"] = "true"
        if tail is not None:
            query["tailLines"] = tail
        if since is not None:
            # metav1.Time is RFC 3339 to the second; the reader drops what it has already shown.
            query["sinceTime"] = since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return query


def pod_log_streams(pod: Obj, container: str = "", now: datetime | None = None) -> list[LogStream]:
    """The log streams of a pod's containers (or of one), oldest instance first.

    kubelet serves a container that waits to restart (CrashLoopBackOff) from its last terminated instance,
    so that container gets one stream, marked previous. A running container that crashed recently gets
    the crashed instance's log (marked) before the current one. A container that never started has no
    log; its stream only says why (ContainerCreating, ImagePullBackOff...).
    """
    meta, spec, status = meta_of(pod), _dict(pod.get("spec")), _dict(pod.get("status"))
    namespace, name, node = _str(meta.get("namespace")), _str(meta.get("name")), _str(spec.get("nodeName"))
    names = [_str(_dict(c).get("name")) for c in _list(spec.get("containers")) if _str(_dict(c).get("name"))]
    if container and container not in names:
        raise NotFound(f"no container {container!r} in pod {name}",
                       f"its containers: {', '.join(names) or 'none'}")
    statuses = {_str(_dict(s).get("name")): _dict(s) for s in _list(status.get("containerStatuses"))}
    streams: list[LogStream] = []
    for container_name in [container] if container else names:
        stream = LogStream(namespace, name, container_name, node)
        container_status = statuses.get(container_name, {})
        state, last = _dict(container_status.get("state")), _dict(container_status.get("lastState"))
        waiting, crashed = state.get("waiting"), _dict(last.get("terminated"))
        if isinstance(waiting, dict) and crashed:
            streams.append(LogStream(namespace, name, container_name, node, previous=True))
        elif isinstance(waiting, dict) or (not container_status and _str(status.get("phase")) == "Pending"):
            reason = _str(_dict(waiting).get("reason")) or "not started"
            streams.append(LogStream(namespace, name, container_name, node, waiting=reason))
        else:
            finished = parse_time(crashed.get("finishedAt"))
            recent = finished is None or now is None or (now - finished).total_seconds() < RECENT_CRASH_S
            if crashed and "running" in state and _int(container_status.get("restartCount")) > 0 and recent:
                streams.append(LogStream(namespace, name, container_name, node, previous=True))
            streams.append(stream)
    return streams


@dataclass(frozen=True, slots=True)
class LogTarget:
    """What a task id picks among a service's pods: see resolve_log_target."""

    pods: tuple[str, ...]  # names of the pods picked now
    container: str = ""  # "" = every container
    # Pods that appear later join a follow when their name starts with this ("" = every pod); None when
    # the task id named one pod exactly, which a newcomer never is.
    prefix: str | None = ""

    def admits(self, pod_name: str) -> bool:
        return self.prefix is not None and pod_name.startswith(self.prefix)


def _stream_groups(streams: list[LogStream]) -> list[list[LogStream]]:
    """Streams split by container, in order: a container's previous instance is read before its current one."""
    groups: list[list[LogStream]] = []
    for stream in streams:
        if groups and (groups[-1][-1].pod, groups[-1][-1].container) == (stream.pod, stream.container):
            groups[-1].append(stream)
        else:
            groups.append([stream])
    return groups


def _follows(group: list[LogStream]) -> bool:
    """The group ends with a current container, followed until it stops (not only a finished read)."""
    return bool(group) and not (group[-1].previous or group[-1].waiting)


def log_target(service: Service, task_id: str) -> LogTarget:
    """The pods (names) and container ("" = all) that `task_id` names among the service's pods.

    Accepted: "" (every pod), "POD" or "NAMESPACE/POD" (Task.id), where POD may be a prefix and then
    selects every pod it starts ("web-7d9f8c" = that ReplicaSet's pods), and "POD/CONTAINER" or
    "NAMESPACE/POD/CONTAINER" to pick one container. "A/B" is NAMESPACE/POD when A is the service's
    namespace and B names a pod, else POD/CONTAINER.
    """
    pods = [task.id.rpartition("/")[2] for task in service.tasks]
    text = task_id.strip()
    if not text:
        if not pods:
            raise NotFound(f"{service.ref} has no pods", "see its events: pilothouse events --service ...")
        return LogTarget(tuple(pods))
    parts = text.split("/")
    if len(parts) > 3 or not all(parts):
        raise InvalidInput(f"--task {task_id!r} is not POD, NAMESPACE/POD or POD/CONTAINER")

    def matching(prefix: str) -> list[str]:
        return [prefix] if prefix in pods else [pod for pod in pods if pod.startswith(prefix)]

    container = ""
    if len(parts) == 3:
        if parts[0] != service.namespace:
            raise NotFound(f"{service.ref} has no pods in namespace {parts[0]!r}")
        prefix, container = parts[1], parts[2]
    elif len(parts) == 2 and parts[0] == service.namespace and matching(parts[1]):
        prefix = parts[1]
    elif len(parts) == 2:
        prefix, container = parts
    else:
        prefix = parts[0]
    selected = matching(prefix)
    if not selected:
        shown = ", ".join(pods[:5]) + (", ..." if len(pods) > 5 else "")
        raise NotFound(f"no pod {prefix!r} in {service.ref}", f"its pods: {shown or 'none'}")
    return LogTarget(tuple(selected), container, None if prefix in pods else prefix)


def resolve_log_target(service: Service, task_id: str) -> tuple[list[str], str]:
    """The pods (names) and container ("" = all) that `task_id` names; see log_target."""
    target = log_target(service, task_id)
    return list(target.pods), target.container


def workload_pods(kind: str, namespace: str, name: str, replicasets: list[Obj], pods: list[Obj]) -> list[Obj]:
    """The pods a workload controls, by controller ownerReference (a Deployment's through its ReplicaSets),
    as build_cluster finds them. Pure."""
    if kind == "deployment":
        owner_kind = "ReplicaSet"
        owners = {_key(rs)[1] for rs in replicasets if _key(rs)[0] == namespace
                  and controller_owner(rs).get("kind") == "Deployment" and controller_owner(rs).get("name") == name}
    else:
        owner_kind, owners = OWNER_KIND.get(kind, ""), {name}
    found = [pod for pod in pods if _key(pod)[0] == namespace
             and controller_owner(pod).get("kind") == owner_kind and _str(controller_owner(pod).get("name")) in owners]
    return sorted(found, key=lambda pod: _key(pod)[1])


def pod_identity(pod: Obj) -> str:
    """A pod's uid, or its name without one: a StatefulSet pod recreated under its old name is a new pod."""
    meta = meta_of(pod)
    return _str(meta.get("uid")) or _str(meta.get("name"))


def parse_log_line(raw: str) -> tuple[datetime | None, str]:
    """A line of `timestamps=true` output: "2024-05-01T10:00:00.123456789Z text"."""
    stamp, separator, text = raw.partition(" ")
    when = parse_time(stamp) if stamp[:1].isdigit() else None
    if when is None:
        return None, raw
    return when, text if separator else ""


def response_lines(response: Any, max_bytes: int = LOG_LINE_MAX_BYTES) -> Iterator[str]:
    """The lines of a streamed response as they arrive; the last one even without a final newline."""
    buffer = bytearray()
    cutting = False  # inside an over-long line whose start was already shown
    for chunk in response.stream(2**16, decode_content=True):
        buffer.extend(chunk)
        start = 0
        while (end := buffer.find(b"\n", start)) >= 0:
            if not cutting:
                yield buffer[start:end].decode("utf-8", "replace").rstrip("\r")
            cutting, start = False, end + 1
        del buffer[:start]
        if len(buffer) > max_bytes:
            if not cutting:
                yield buffer[:max_bytes].decode("utf-8", "replace") + " [line cut]"
            cutting = True
            buffer.clear()
    if buffer and not cutting:
        yield buffer.decode("utf-8", "replace")


# -- errors ------------------------------------------------------------------------------------------


def _status_message(body: Any) -> str:
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if isinstance(body, str):
        try:
            parsed = json.loads(body)
        except ValueError:
            return body.strip().splitlines()[0][:200] if body.strip() else ""
        return _str(_dict(parsed).get("message"))
    return ""


def translate_error(error: BaseException, doing: str, endpoint: str) -> ProviderError:
    """Any client/transport failure as a typed provider error with a one-line hint."""
    from kubernetes.client.exceptions import ApiException
    from kubernetes.config.config_exception import ConfigException
    from urllib3.exceptions import HTTPError as Urllib3Error

    if isinstance(error, ProviderError):
        return error
    if isinstance(error, ApiException):
        status = error.status or 0
        message = _status_message(error.body) or _str(error.reason) or f"HTTP {status}"
        text = f"{doing}: {message}"
        if status == 401:
            return CredentialsError(text, f"the credentials for {endpoint} were refused; log in again")
        if status == 403:
            return Forbidden(text, "ask for RBAC permission, or limit `namespaces` to ones you may read")
        if status == 404:
            return NotFound(text)
        if status == 409:
            return Conflict(text, "the object changed meanwhile; refresh and decide again")
        if status == 429:
            return Throttled(text, "the API server asks to slow down; retrying later")
        if status in (400, 415, 422):
            return InvalidInput(text)
        if status == 0:
            return Unreachable(f"{doing}: {message}", f"check that {endpoint} is reachable")
        return ProviderError(f"{text} (HTTP {status})", "the API server failed; retrying with backoff")
    if isinstance(error, ConfigException):
        text = _str(error) or "invalid kubeconfig"
        if "exec" in text.lower() or "token" in text.lower():
            return CredentialsError(f"{doing}: {text}", "check the context's credential plugin and log in again")
        return InvalidInput(f"{doing}: {text}")
    if isinstance(error, Urllib3Error | OSError):
        return Unreachable(f"{doing}: cannot reach {endpoint} ({type(error).__name__})",
                           "check the network, VPN or cluster address")
    return ProviderError(f"{doing}: {error!r}")


def _interrupt_response(response: Any) -> None:
    """Unblock a read in progress on `response` from another thread (shutdown wakes a blocked recv)."""
    with contextlib.suppress(Exception):
        shutdown = getattr(response, "shutdown", None)
        if shutdown is not None:
            shutdown()
        response.close()


def _close_response(response: Any) -> None:
    """Close a response that may be unread: its connection is closed, not handed back mid-stream."""
    with contextlib.suppress(Exception):
        response.close()
    with contextlib.suppress(Exception):
        response.release_conn()


class _Gone(Exception):
    """The watch position is too old (410): relist."""


class _StreamBroken(Exception):
    """An established watch stream ended abruptly."""


# -- the informer-like cache -------------------------------------------------------------------------


@dataclass
class _Reflector:
    """List once, then watch from the list's resourceVersion, for one kind (in one namespace or all)."""

    provider: KubernetesProvider
    kind: Kind
    namespace: str = ""
    items: dict[tuple[str, str], Obj] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    settled: threading.Event = field(default_factory=threading.Event)  # first list answered, either way
    synced: bool = False
    forbidden: bool = False
    narrowed: bool = False  # fell back from cluster-wide to the context's namespace
    error: ProviderError | None = None
    resource_version: str = ""
    thread: threading.Thread | None = None
    wake: threading.Event = field(default_factory=threading.Event)  # cuts a backoff short
    _response: Any = None
    _backoff: float = 0.0

    @property
    def label(self) -> str:
        return f"{self.kind.resource} in {self.namespace}" if self.namespace else self.kind.resource

    def start(self) -> None:
        self.thread = threading.Thread(
            target=self._run, name=f"k8s-{self.provider.name}-{self.label}", daemon=True
        )
        self.thread.start()

    def interrupt(self) -> None:
        """Unblock a read in progress (close() is called from another thread)."""
        self.wake.set()
        response = self._response
        if response is not None:
            _interrupt_response(response)

    def retry_now(self) -> None:
        """End a backoff at once (new credentials), starting the next one afresh."""
        self._backoff = self.provider.backoff_initial_s
        self.wake.set()

    def snapshot_items(self) -> list[Obj]:
        with self.lock:
            return list(self.items.values())

    def _run(self) -> None:
        provider, stop = self.provider, self.provider._stop
        self._backoff = provider.backoff_initial_s
        need_list = True
        while not stop.is_set():
            try:
                if need_list:
                    self._list()
                    need_list = False
                began = time.monotonic()
                self._watch()
                if time.monotonic() - began < min(1.0, provider.watch_timeout_s / 2):
                    self._pause()  # a watch that ends at once (a misbehaving proxy) must not spin
            except _Gone:
                need_list = True
            except _StreamBroken as broken:
                # An open watch died (API server restart, proxy idle cut): not an outage yet. Resume from
                # the last resourceVersion; only a failing reconnection counts as an error.
                log.debug("%s: watch stream broke: %r", self.label, broken.__cause__)
                self._pause()
            except Exception as raw:  # a reflector must outlive any failure
                if stop.is_set():
                    return
                if getattr(raw, "status", None) == 410:  # a 410 answer rather than an ERROR event
                    need_list = True
                    continue
                error = translate_error(raw, f"watching {self.label}", provider.endpoint)
                if isinstance(error, Forbidden):
                    fallback = provider.fallback_namespace(self)
                    if fallback:
                        log.info("%s: cluster-wide list forbidden; reading namespace %s", self.label, fallback)
                        self.namespace, self.narrowed = fallback, True
                        need_list = True
                        continue
                    with self.lock:
                        self.items.clear()
                    self.forbidden, self.synced, self.error = True, False, None
                    need_list = True
                    self.settled.set()
                    provider._changed()
                    # RBAC rarely changes; look again now and then, cluster-wide first if that was refused.
                    self._pause(provider.forbidden_retry_s)
                    if self.narrowed:
                        self.namespace, self.narrowed = "", False
                    continue
                log.debug("%s: %s", self.label, error)
                self.error = error
                self.settled.set()
                provider._changed()
                self._pause()

    def _pause(self, seconds: float | None = None) -> None:
        """Exponential backoff with jitter, so that many watches do not retry in step."""
        if seconds is None:
            seconds = self._backoff * random.uniform(0.8, 1.2)
            self._backoff = min(self._backoff * 2, self.provider.backoff_max_s)
        self.wake.wait(seconds)
        self.wake.clear()

    def _trim(self) -> None:
        """Keep the Event cache bounded (the most recent ones); the lock is held by the caller."""
        if self.kind is not EVENTS:
            return
        excess = len(self.items) - self.provider.max_event_cache
        if excess <= 0:
            return
        if excess == 1:  # the steady state: one new event over the cap
            del self.items[min(self.items, key=lambda key: event_time(self.items[key]))]
            return
        for key in sorted(self.items, key=lambda key: event_time(self.items[key]))[:excess]:
            del self.items[key]

    def _list(self) -> None:
        provider = self.provider
        items: dict[tuple[str, str], Obj] = {}
        token, version = "", ""
        while True:
            query: dict[str, Any] = {"limit": provider.list_page_size}
            if token:
                query["continue"] = token
            page = provider._request("GET", collection_path(self.kind, self.namespace), query=query)
            for item in _list(_dict(page).get("items")):
                if isinstance(item, dict):
                    items[_key(item)] = item
            metadata = meta_of(page)
            version = _str(metadata.get("resourceVersion"))
            token = _str(metadata.get("continue"))
            if not token:
                break
        with self.lock:
            self.items = items
            self._trim()
        self.resource_version = version
        self.synced, self.forbidden, self.error = True, False, None
        self.settled.set()
        provider._changed()

    def _watch(self) -> None:
        provider = self.provider
        # Spread the reconnections of many watches, as client-go does.
        timeout = int(provider.watch_timeout_s * random.uniform(1.0, 1.5)) or 1
        query = {
            "watch": "true", "resourceVersion": self.resource_version, "timeoutSeconds": timeout,
            "allowWatchBookmarks": "true",
        }
        response = provider._request(
            "GET", collection_path(self.kind, self.namespace), query=query, stream=True,
            read_timeout=timeout + provider.watch_read_slack_s,
        )
        self._response = response
        try:
            if provider._stop.is_set():  # close() ran before the response existed to interrupt
                return
            self._backoff = provider.backoff_initial_s
            if self.error is not None:
                self.error = None
                provider._changed()
            from kubernetes.watch.watch import iter_resp_lines
            from urllib3.exceptions import HTTPError as Urllib3Error

            try:
                for line in iter_resp_lines(response):
                    if provider._stop.is_set():
                        return
                    if line:
                        self._apply(json.loads(line))
            except (Urllib3Error, OSError) as error:
                raise _StreamBroken() from error
        finally:
            self._response = None
            with contextlib.suppress(Exception):
                response.release_conn()

    def _apply(self, event: Obj) -> None:
        kind, obj = _str(event.get("type")), _dict(event.get("object"))
        if kind == "ERROR":
            code = _int(obj.get("code"))
            if code == 410:
                raise _Gone()
            from kubernetes.client.exceptions import ApiException

            raise ApiException(status=code, reason=_str(obj.get("message")) or "watch error")
        version = _str(meta_of(obj).get("resourceVersion"))
        if kind in ("ADDED", "MODIFIED"):
            with self.lock:
                self.items[_key(obj)] = obj
                self._trim()
        elif kind == "DELETED":
            with self.lock:
                self.items.pop(_key(obj), None)
        if version:
            self.resource_version = version
        if kind != "BOOKMARK":
            self.provider._changed()


# -- the provider ------------------------------------------------------------------------------------


class _NewPodScout:
    """Finds the containers of a followed workload that the follow does not read yet, in the provider's pod
    cache (the reflectors keep it current: no API call): those of pods that appeared meanwhile, and the next
    instance of a container that restarted. Each container instance is given a reader once."""

    def __init__(self, provider: KubernetesProvider, kind: str, namespace: str, name: str, target: LogTarget) -> None:
        self.provider, self.kind, self.namespace, self.name, self.target = provider, kind, namespace, name, target
        # Keys are (pod identity, container, restart count): one instance of one container.
        self._started: set[tuple[str, str, int]] = set()  # given a reader
        self._announced: set[tuple[str, str, int]] = set()  # waiting to start, and said so
        self._refused: set[tuple[str, str, int]] = set()  # over the follow bound, and said so
        self._shown: set[tuple[str, str]] = set()  # (pod identity, container) whose earlier instances were shown

    @staticmethod
    def _key(pod: Obj, container: str) -> tuple[str, str, int]:
        statuses = _list(_dict(pod.get("status")).get("containerStatuses"))
        restarts = next((_int(_dict(s).get("restartCount")) for s in statuses
                         if _str(_dict(s).get("name")) == container), 0)
        return pod_identity(pod), container, restarts

    def know(self, pod: Obj, streams: list[LogStream]) -> None:
        """The follow reads these streams of `pod` already; a container waiting to start is followed once
        it starts."""
        for group in _stream_groups(streams):
            key = self._key(pod, group[0].container)
            (self._announced if group[-1].waiting else self._started).add(key)
            self._shown.add(key[:2])

    def started(self, key: tuple[str, str, int]) -> None:
        self._started.add(key)
        self._shown.add(key[:2])

    def refuse_once(self, key: tuple[str, str, int]) -> bool:
        """True the first time `key` is refused (say it once, not at every look)."""
        if key in self._refused:
            return False
        self._refused.add(key)
        return True

    def look(self) -> tuple[list[tuple[tuple[str, str, int], list[LogStream]]], list[LogLine]]:
        """Stream groups (one per container instance) to start now, and notices to show first."""
        pods = workload_pods(self.kind, self.namespace, self.name, self.provider.cached(REPLICASETS.resource),
                             self.provider.cached(PODS.resource))
        now = datetime.now(UTC)
        found: list[tuple[tuple[str, str, int], list[LogStream]]] = []
        notices: list[LogLine] = []
        for pod in pods:
            if not self.target.admits(_key(pod)[1]) or meta_of(pod).get("deletionTimestamp"):
                continue  # not picked, or going away: nothing new to see
            try:
                streams = pod_log_streams(pod, self.target.container, now)
            except NotFound:  # a newcomer without the container picked (the pod template changed)
                continue
            for group in _stream_groups(streams):
                key = self._key(pod, group[0].container)
                if key in self._started:
                    continue
                current = group[-1]
                if key[:2] in self._shown:
                    # A restart: the instance that ended was read to its last line, so only the new one is
                    # news, once it runs (in back-off kubelet serves the old one again, marked previous).
                    if current.previous or current.waiting:
                        continue
                    if key not in self._announced:
                        self._announced.add(key)
                        notices.append(LogLine(None, current.source, f"[container restarted: restart {key[2]}]"))
                    found.append((key, [current]))
                    continue
                if current.waiting:
                    if key not in self._announced:
                        self._announced.add(key)
                        notices.append(LogLine(None, current.source,
                                               f"[new pod, container waiting to start: {current.waiting}]"))
                    continue
                found.append((key, group))
        return found, notices


def context_namespace(config_file: str, context: str) -> str:
    """The namespace a kubeconfig context names, else "default" (kubectl's rule)."""
    from kubernetes import config

    try:
        contexts, _active = config.list_kube_config_contexts(config_file=config_file)
    except Exception:  # already loaded once by the caller; a failure here only loses the namespace
        return "default"
    for entry in _list(contexts):
        if _str(_dict(entry).get("name")) == context:
            return _str(_dict(_dict(entry).get("context")).get("namespace")) or "default"
    return "default"


def exec_plugin(paths: list[Path], context: str) -> Obj:
    """The `users[].user.exec` block of `context` (or the current context), merged over kubeconfig files the
    way kubectl merges them: the first file that names a thing wins."""
    import yaml

    documents: list[Obj] = []
    for path in paths:
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            continue
        if isinstance(loaded, dict):
            documents.append(loaded)
    if not context:
        context = next((_str(doc.get("current-context")) for doc in documents if doc.get("current-context")), "")

    def named(section: str, name: str) -> Obj:
        for doc in documents:
            for entry in map(_dict, _list(doc.get(section))):
                if _str(entry.get("name")) == name:
                    return entry
        return {}

    user = _str(_dict(named("contexts", context).get("context")).get("user"))
    return _dict(_dict(named("users", user).get("user")).get("exec")) if user else {}


class KubernetesProvider(Provider):
    kind = ClusterKind.KUBERNETES
    OPTIONS: ClassVar[Mapping[str, Option]] = {
        "kubeconfig": Option((str,), "kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)"),
        "context": Option((str,), "context to use (default: the kubeconfig's current context)"),
        "namespaces": Option((list,), "namespaces to show (default: the whole cluster, else the context's namespace)"),
    }
    CAPABILITIES: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.SCALE, Capability.ROLLBACK, Capability.WATCH, Capability.LOGS}
    )

    def __init__(self, config: ClusterConfig) -> None:
        super().__init__(config)
        self._login_cache: tuple[float, LoginCommand | None] | None = None
        # Tunables; tests shorten them. Every request has a client-side timeout.
        self.connect_timeout_s = 5.0
        self.request_timeout_s = 30.0
        self.watch_timeout_s = 60.0  # server-side timeoutSeconds; the watch is then resumed, not relisted
        self.watch_read_slack_s = 15.0
        self.backoff_initial_s = 0.5
        self.backoff_max_s = 30.0
        self.forbidden_retry_s = 60.0
        self.sync_timeout_s = 20.0
        self.list_page_size = 500
        # Bounds for a long session on a busy cluster: Events kept in the cache, and shown.
        self.max_event_cache = 1000
        # Log follow: a stream quiet this long is resumed (sinceTime); lines wait in a bounded queue.
        self.log_follow_read_timeout_s = 300.0
        self.log_max_reconnects = 5
        self.log_queue_size = 10_000
        # As `kubectl logs -f --max-log-requests`: following more containers at once is refused.
        self.max_log_follow_streams = 20
        # A follow looks this often at the pod cache for pods of the workload that appeared meanwhile.
        self.log_new_pod_interval_s = 2.0
        self.max_events = 1000
        self.endpoint = ""
        self.context_namespace = "default"  # the context's own, read with the kubeconfig
        self._api: ApiClient | None = None
        self._api_lock = threading.Lock()
        self._api_loaded_at = 0.0
        self._auth_refused = False  # a 401 since the client was loaded: load it again (new exec token)
        self._retired_apis: list[ApiClient] = []  # replaced while other threads may still use them
        self._stop = threading.Event()
        self._reflectors: list[_Reflector] = []
        self._start_lock = threading.Lock()
        self._on_change: Callable[[], None] | None = None
        if _str(config.options.get("kubeconfig")):
            # A configured path that does not exist is a config error (exit 2 before anything is sent),
            # not an outage to retry; the $KUBECONFIG/default path is looked at on connect.
            raw, paths = self._kubeconfig_paths()
            if not any(path.is_file() for path in paths):
                raise InvalidInput(f"kubeconfig {raw} not found",
                                   f"fix `kubeconfig` for cluster {self.name!r} in the config")

    # -- connection --

    def _kubeconfig_paths(self) -> tuple[str, list[Path]]:
        raw = _str(self.config.options.get("kubeconfig")) or os.environ.get("KUBECONFIG") or "~/.kube/config"
        paths = [Path(p).expanduser() for p in raw.split(os.pathsep) if p]
        return raw, paths

    def login_command(self) -> LoginCommand | None:
        """The context's exec credential plugin, to run interactively (a browser or device-code login).

        In the console's worker threads the client runs plugins non-interactively (stdout is not a tty), so
        a plugin that must ask fails there; run here with the TUI suspended, it can ask, and caches its token
        for the next refresh. Its stdout carries the token itself, so the console hides it.
        """
        now = time.monotonic()
        cached = self._login_cache
        if cached is None or now - cached[0] > LOGIN_CACHE_S:
            # The console asks on every keystroke in its palette: read the kubeconfig at most once a minute.
            cached = self._login_cache = (now, self._read_login_command())
        return cached[1]

    def _read_login_command(self) -> LoginCommand | None:
        exec_config = exec_plugin(self._kubeconfig_paths()[1], _str(self.config.options.get("context")))
        if not exec_config:
            return None
        command = _str(exec_config.get("command"))
        if not command:
            return None
        args = tuple(_str(arg) for arg in _list(exec_config.get("args")))
        env = {_str(item.get("name")): _str(item.get("value")) for item in map(_dict, _list(exec_config.get("env")))
               if _str(item.get("name"))}
        info = {"apiVersion": _str(exec_config.get("apiVersion")) or "client.authentication.k8s.io/v1",
                "kind": "ExecCredential", "spec": {"interactive": True}}
        env["KUBERNETES_EXEC_INFO"] = json.dumps(info)
        return LoginCommand((command, *args), env=env, hide_output=True)

    def _load_client(self) -> ApiClient:
        from kubernetes import client, config

        raw, paths = self._kubeconfig_paths()
        existing = [p for p in paths if p.is_file()]
        if not existing:
            raise InvalidInput(
                f"kubeconfig {raw} not found",
                f"set `kubeconfig` for cluster {self.name!r} or the KUBECONFIG variable",
            )
        config_file = os.pathsep.join(str(p) for p in existing)
        context = _str(self.config.options.get("context")) or None
        configuration = client.Configuration()
        try:
            # persist_config=False: a token refresh must never rewrite the user's kubeconfig.
            config.load_kube_config(
                config_file=config_file, context=context, client_configuration=configuration,
                persist_config=False,
            )
            if context is None:
                _, active = config.list_kube_config_contexts(config_file=config_file)
                context = _str(_dict(active).get("name"))
        except Exception as error:  # yaml, IO and ConfigException alike
            translated = translate_error(error, f"kubeconfig {raw}", raw)
            if type(translated) is ProviderError:
                translated = InvalidInput(f"kubeconfig {raw}: {error}")
            raise translated from error
        # One retry: a pooled keep-alive connection the server closed is retried, a dead host is not.
        configuration.retries = 1
        # Every watch and every followed log holds a connection; a pool smaller than that discards (and
        # warns about) connections as they come back.
        namespaces = len(_list(self.config.options.get("namespaces"))) or 1
        configuration.connection_pool_maxsize = max(
            configuration.connection_pool_maxsize or 0,
            len(WATCHED_KINDS) * namespaces + self.max_log_follow_streams + 4,
        )
        self.endpoint = f"context {context} ({configuration.host})"
        self.context_namespace = context_namespace(config_file, context) if context else "default"
        return client.ApiClient(configuration)

    def configured_namespaces(self) -> list[str]:
        return [_str(n) for n in _list(self.config.options.get("namespaces")) if _str(n)]

    def fallback_namespace(self, reflector: _Reflector) -> str:
        """Where a forbidden cluster-wide list of `reflector`'s kind looks instead ("" = nowhere)."""
        if reflector.namespace or not reflector.kind.namespaced or self.configured_namespaces():
            return ""
        return self.context_namespace

    def connect(self) -> None:
        self._client()
        self._request("GET", "/version", read_timeout=self.connect_timeout_s * 2, doing="connecting")

    def _client(self) -> ApiClient:
        """The API client, loaded again from the kubeconfig after credentials were refused."""
        with self._api_lock:
            stale = self._auth_refused and time.monotonic() - self._api_loaded_at >= AUTH_RELOAD_MIN_S
            if self._api is None or stale:
                api = self._load_client()
                if self._api is not None:
                    self._retired_apis.append(self._api)
                self._api, self._api_loaded_at, self._auth_refused = api, time.monotonic(), False
            return self._api

    def credentials_renewed(self) -> None:
        # No lock: this runs on the UI thread, and a loader may hold the lock while an exec plugin runs.
        self._api_loaded_at, self._auth_refused = 0.0, True
        for reflector in list(self._reflectors):
            reflector.retry_now()

    def _request(
        self, method: str, path: str, *, query: Mapping[str, Any] | None = None, body: Any = None,
        content_type: str = "", stream: bool = False, read_timeout: float | None = None, doing: str = "",
        accept: str = "application/json",
    ) -> Any:
        """One API call through the client's transport and auth; JSON dict back (or the raw stream)."""
        api = self._client()
        headers = {"Accept": accept}
        if content_type:
            headers["Content-Type"] = content_type
        timeout = (self.connect_timeout_s, read_timeout or self.request_timeout_s)
        try:
            response = api.call_api(
                path, method, query_params=list((query or {}).items()), header_params=headers, body=body,
                auth_settings=["BearerToken"], _preload_content=False, _return_http_data_only=True,
                _request_timeout=timeout,
            )
            if stream:
                return response
            data = response.data
            return json.loads(data) if data else {}
        except Exception as error:
            if getattr(error, "status", None) == 401:
                self._auth_refused = True
            if doing:
                raise translate_error(error, doing, self.endpoint) from error
            raise

    # -- the cache --

    def _changed(self) -> None:
        callback = self._on_change
        if callback is not None:
            callback()

    def _ensure_reflectors(self) -> None:
        with self._start_lock:
            if self._reflectors:
                return
            self._stop = threading.Event()
            namespaces = self.configured_namespaces()
            reflectors = []
            for kind in WATCHED_KINDS:
                for namespace in (namespaces if kind.namespaced and namespaces else [""]):
                    reflectors.append(_Reflector(self, kind, namespace))
            self._reflectors = reflectors
            for reflector in reflectors:
                reflector.start()

    def start_watch(self, on_change: Callable[[], None]) -> bool:
        self._on_change = on_change
        self._ensure_reflectors()
        return True

    def close(self) -> None:
        self._stop.set()
        with self._start_lock:
            reflectors, self._reflectors = self._reflectors, []
        for reflector in reflectors:
            reflector.interrupt()
        for reflector in reflectors:
            if reflector.thread is not None:
                reflector.thread.join(timeout=2.0)
        with self._api_lock:
            apis, self._retired_apis = [*self._retired_apis, *([self._api] if self._api else [])], []
            self._api = None
        for api in apis:
            with contextlib.suppress(Exception):
                api.close()

    def snapshot(self) -> Cluster:
        if self._api is None:
            self.connect()
        self._ensure_reflectors()
        deadline = time.monotonic() + self.sync_timeout_s
        for reflector in self._reflectors:
            reflector.settled.wait(max(0.0, deadline - time.monotonic()))
        reflectors = list(self._reflectors)
        if not any(r.synced or r.forbidden for r in reflectors):
            errors = [r.error for r in reflectors if r.error is not None]
            raise errors[0] if errors else Unreachable(
                f"no answer from {self.endpoint} within {self.sync_timeout_s:g}s", "check the network"
            )
        failing = [r for r in reflectors if r.error is not None]
        if failing and len(failing) == len(reflectors) and all(isinstance(r.error, Unreachable) for r in failing):
            raise failing[0].error  # type: ignore[misc]
        objects: dict[str, list[Obj]] = {}
        for reflector in reflectors:
            objects.setdefault(reflector.kind.resource, []).extend(reflector.snapshot_items())
        cluster = build_cluster(self.name, objects, now=datetime.now(UTC), max_events=self.max_events)
        cluster.endpoint = self.endpoint
        cluster.forbidden = tuple(r.label for r in reflectors if r.forbidden)
        cluster.scope = self._scope(reflectors)
        problems = [f"{r.label}: {r.error}" for r in failing]
        problems += [f"{r.label}: not synced yet" for r in reflectors if not (r.synced or r.forbidden or r.error)]
        # Forbidden kinds are in cluster.forbidden, shown beside the error, not repeated in it.
        cluster.state = ConnectionState.DEGRADED if problems or cluster.forbidden else ConnectionState.CONNECTED
        cluster.error = "; ".join(problems)
        cluster.last_sync = datetime.now(UTC)
        return cluster

    def _scope(self, reflectors: list[_Reflector]) -> str:
        configured = self.configured_namespaces()
        if configured:
            return f"namespace{'s' if len(configured) > 1 else ''} {', '.join(configured)}"
        narrowed = sorted({r.namespace for r in reflectors if r.narrowed})
        if narrowed:
            return f"namespace {', '.join(narrowed)} only (listing the whole cluster is forbidden)"
        return ""

    def cached(self, resource: str) -> list[Obj]:
        """The cache's objects of one kind (for diagnostics and tests)."""
        return [item for r in self._reflectors if r.kind.resource == resource for item in r.snapshot_items()]

    def reflector_states(self) -> dict[str, str]:
        return {
            r.label: "forbidden" if r.forbidden else f"error: {r.error}" if r.error else
            "synced" if r.synced else "syncing"
            for r in self._reflectors
        }

    # -- logs --

    def logs(
        self, service: Service, *, task_id: str = "", tail: int = 200, follow: bool = False,
        stop: threading.Event | None = None,
    ) -> Iterator[LogLine]:
        """Pod logs of a workload, every container prefixed "POD/CONTAINER@NODE"; see log_target.

        `tail` applies to each container's log, as with `kubectl logs --tail`. Without `follow`, the lines of
        all streams come back merged in time order; with it, each stream is read by its own thread and lines
        come as they arrive. A follow of the workload (or of a pod name prefix) goes on until `stop` is set:
        it picks up pods that appear meanwhile (a rolling update's, or a Recreate's after the gap) and the next
        instance of a container that restarted (a crash loop), each from its first line. A follow of one pod
        named exactly ends when its containers stop, as `kubectl logs -f`.
        Everything is checked before the first request, so bad input raises here, not mid-iteration.
        """
        if isinstance(tail, bool) or not isinstance(tail, int) or tail < 0:
            raise InvalidInput(f"tail must be a whole number >= 0, not {tail!r}")
        kind, namespace, name = self._parse_id(service)
        target = log_target(service, task_id)
        now = datetime.now(UTC)
        pods = [self._pod(namespace, pod) for pod in target.pods]
        streams = [stream for pod in pods for stream in pod_log_streams(pod, target.container, now)]
        following = sum(1 for stream in streams if not (stream.previous or stream.waiting))
        if follow and following > self.max_log_follow_streams:
            raise InvalidInput(
                f"following {following} containers of {service.ref} at once is more than "
                f"{self.max_log_follow_streams}", "pick pods with --task (a pod name prefix) or POD/CONTAINER",
            )
        stop = stop or threading.Event()
        if not follow:
            return self._log_history(streams, tail, stop)
        scout = None
        if target.prefix is not None:
            scout = _NewPodScout(self, kind, namespace, name, target)
            for pod in pods:
                scout.know(pod, pod_log_streams(pod, target.container, now))
        return self._follow_logs(streams, tail, stop, scout)

    def _pod(self, namespace: str, name: str) -> Obj:
        for pod in self.cached(PODS.resource):
            if _key(pod) == (namespace, name):
                return pod
        found = self._request("GET", f"{collection_path(PODS, namespace)}/{name}",
                              doing=f"reading pod {namespace}/{name}")
        return _dict(found)

    def _open_log(self, stream: LogStream, query: Mapping[str, Any], read_timeout: float) -> Any:
        return self._request("GET", stream.path, query=query, stream=True, accept="*/*",
                             read_timeout=read_timeout, doing=f"reading the log of {stream.source}")

    def _read_log(self, stream: LogStream, tail: int | None, stop: threading.Event) -> Iterator[LogLine]:
        """One stream's lines, to its end (no follow); a pod gone or a container not started is a note."""
        if stream.waiting:
            yield LogLine(None, stream.source, f"[container waiting to start: {stream.waiting}]")
            return
        try:
            response = self._open_log(stream, stream.query(tail=tail, follow=False), self.request_timeout_s)
        except InvalidInput as error:  # 400/404: the pod went away, or it has no such instance any more
            yield LogLine(None, stream.source, f"[no log: {error.message}]")
            return
        try:
            for raw in response_lines(response):
                if stop.is_set():
                    return
                when, text = parse_log_line(raw)
                yield LogLine(when, stream.source, text)
        except Exception as error:
            raise translate_error(error, f"reading the log of {stream.source}", self.endpoint) from error
        finally:
            _close_response(response)

    def _log_history(self, streams: list[LogStream], tail: int, stop: threading.Event) -> Iterator[LogLine]:
        lines: list[tuple[datetime, int, LogLine]] = []
        for stream in streams:
            last = EPOCH
            for line in self._read_log(stream, tail, stop):
                # An unstamped line sorts with the line before it.
                last = line.time or last
                lines.append((last, len(lines), line))
        lines.sort(key=lambda item: (item[0], item[1]))
        for _, _, line in lines:
            if stop.is_set():
                return
            yield line

    def _follow_logs(
        self, streams: list[LogStream], tail: int, stop: threading.Event, scout: _NewPodScout | None = None,
    ) -> Iterator[LogLine]:
        """One reader thread per container (its previous instance first), lines through a bounded queue.

        With a scout (a follow of the workload, or of a pod name prefix), the pod cache is looked at every
        `log_new_pod_interval_s`, and at once when a reader ends, and a reader is started for each new
        container instance, from its first line, within `max_log_follow_streams` (one over it waits for a
        slot, said once); such a follow goes on until `stop`, as the workload outlives its pods. Without a
        scout (one pod named exactly) the follow ends when every reader has ended, as `kubectl logs -f`.
        Leaving (stop set, the consumer closing the generator, an error) closes every open response from
        this thread, which unblocks the readers at once; no read waits for its timeout.
        """
        done = threading.Event()
        lines: queue.Queue[LogLine | ProviderError | None] = queue.Queue(maxsize=self.log_queue_size)
        responses: set[Any] = set()
        responses_lock = threading.Lock()
        live_follows = [0]  # readers following a current container now; under responses_lock

        def emit(item: LogLine | ProviderError | None) -> bool:
            while not done.is_set():
                try:
                    lines.put(item, timeout=0.2)
                    return True
                except queue.Full:
                    continue
            return False

        def read(group: list[LogStream], group_tail: int | None) -> None:
            try:
                for stream in group:
                    if stream.previous or stream.waiting:
                        for line in self._read_log(stream, group_tail, done):
                            if not emit(line):
                                return
                    else:
                        self._follow_stream(stream, group_tail, done, emit, responses, responses_lock)
            except ProviderError as error:
                if not done.is_set():
                    emit(error)
            except Exception as error:  # a reader must always report and end
                if not done.is_set():
                    emit(translate_error(error, "following logs", self.endpoint))
            finally:
                if _follows(group):
                    with responses_lock:
                        live_follows[0] -= 1
                emit(None)

        threads: list[threading.Thread] = []

        def start(group: list[LogStream], group_tail: int | None) -> None:
            if _follows(group):
                with responses_lock:
                    live_follows[0] += 1
            thread = threading.Thread(target=read, args=(group, group_tail), name=f"k8s-logs-{group[0].source}",
                                      daemon=True)
            threads.append(thread)
            thread.start()

        def newcomers() -> list[LogLine]:
            """Start readers for the scout's new container instances; the notices to show."""
            assert scout is not None
            found, notices = scout.look()
            for key, group in found:
                with responses_lock:
                    full = live_follows[0] >= self.max_log_follow_streams
                if _follows(group) and full:
                    if scout.refuse_once(key):
                        notices.append(LogLine(None, LOG_NOTICE_SOURCE, (
                            f"[not following {group[-1].source} yet: {self.max_log_follow_streams} containers "
                            "are followed already; it starts, from its first line, when one of them ends]")))
                    continue
                scout.started(key)
                start(group, None)  # a newcomer from its first line: nothing of it was shown yet
            return notices

        def generate() -> Iterator[LogLine]:
            for group in _stream_groups(streams):
                start(group, tail)
            ended = 0
            next_look = time.monotonic() + self.log_new_pod_interval_s
            look_now = False  # a reader ended: its container may have restarted, or a slot came free
            try:
                while not stop.is_set():
                    if scout is not None and (look_now or time.monotonic() >= next_look):
                        look_now, next_look = False, time.monotonic() + self.log_new_pod_interval_s
                        yield from newcomers()
                    elif scout is None and ended >= len(threads):
                        return
                    try:
                        item = lines.get(timeout=0.1)
                    except queue.Empty:
                        continue
                    if item is None:
                        ended += 1
                        look_now = True
                    elif isinstance(item, ProviderError):
                        raise item
                    else:
                        yield item
            finally:
                done.set()
                with responses_lock:
                    open_responses = list(responses)
                for response in open_responses:
                    _interrupt_response(response)
                for thread in threads:
                    thread.join(timeout=2.0)

        return generate()

    def _follow_stream(
        self, stream: LogStream, tail: int | None, done: threading.Event, emit: Callable[[LogLine], bool],
        responses: set[Any], responses_lock: threading.Lock,
    ) -> None:
        """Follow one container until its log ends; a quiet stream that times out is resumed, not repeated."""
        last_time: datetime | None = None
        shown_at_last = 0  # lines already shown with exactly `last_time`
        resumed, failures = False, 0
        while not done.is_set():
            query = stream.query(tail=None if resumed else tail, follow=True, since=last_time if resumed else None)
            if resumed and last_time is None:
                query["tailLines"] = 0  # nothing was shown yet: only what comes from now on
            try:
                response = self._open_log(stream, query, self.log_follow_read_timeout_s)
            except InvalidInput as error:
                emit(LogLine(None, stream.source, f"[no log: {error.message}]"))
                return
            except Unreachable:
                failures += 1
                if failures > self.log_max_reconnects or done.is_set():
                    raise
                done.wait(self.backoff_initial_s * 2 ** failures)
                continue
            with responses_lock:
                responses.add(response)
            skip = shown_at_last if resumed else 0
            try:
                from urllib3.exceptions import HTTPError as Urllib3Error
                from urllib3.exceptions import ReadTimeoutError

                for raw in response_lines(response):
                    if done.is_set():
                        return
                    failures = 0
                    when, text = parse_log_line(raw)
                    if resumed and when is not None and last_time is not None:
                        if when < last_time:
                            continue
                        if when == last_time and skip > 0:
                            skip -= 1
                            continue
                    if when is not None:
                        shown_at_last = shown_at_last + 1 if when == last_time else 1
                        last_time = when
                    if not emit(LogLine(when, stream.source, text)):
                        return
                return  # the log ended: the container stopped, as `kubectl logs -f` ends then
            except (Urllib3Error, OSError) as error:
                if done.is_set():
                    return
                if not isinstance(error, ReadTimeoutError):
                    failures += 1
                    if failures > self.log_max_reconnects:
                        raise translate_error(error, f"following the log of {stream.source}",
                                              self.endpoint) from error
                    done.wait(self.backoff_initial_s * 2 ** failures)
                resumed = True
            finally:
                with responses_lock:
                    responses.discard(response)
                _close_response(response)


    # -- mutations --

    def refusal(self, action: Action, service: Service) -> str | None:
        if action is Action.SCALE and service.workload_kind == "daemonset":
            return f"{service.ref} is a DaemonSet: it runs one pod per matching node and cannot be scaled"
        if action is Action.ROLLBACK and service.workload_kind == "deployment" and (
            service.rollout.state is RolloutState.PAUSED
        ):
            return f"{service.ref} is paused; resume it first (kubectl rollout resume) and try again"
        return super().refusal(action, service)

    @staticmethod
    def _parse_id(service: Service) -> tuple[str, str, str]:
        kind, _, rest = service.id.partition("/")
        namespace, _, name = rest.partition("/")
        if kind not in WORKLOAD_KINDS or not namespace or not name:
            raise NotFound(f"{service.ref} is not a Kubernetes workload of this provider")
        return kind, namespace, name

    def _object_path(self, kind: str, namespace: str, name: str, sub: str = "") -> str:
        path = f"{collection_path(WORKLOAD_KINDS[kind], namespace)}/{name}"
        return f"{path}/{sub}" if sub else path

    def plan_scale(self, service: Service, replicas: int) -> MutationPlan:
        self.check(Action.SCALE, service)
        if isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 0:
            raise InvalidInput(f"replicas must be a whole number >= 0, not {replicas!r}")
        kind, namespace, name = self._parse_id(service)
        scale = self._request("GET", self._object_path(kind, namespace, name, "scale"),
                              doing=f"reading the scale of {service.ref}")
        current = _int(_dict(_dict(scale).get("spec")).get("replicas"))
        return MutationPlan(
            action=Action.SCALE, cluster=self.name, service_ref=service.ref, service_id=service.id,
            before=str(current), after=str(replicas),
            detail=f"{kind} scale subresource" + ("; no change" if current == replicas else ""),
            payload={"kind": kind, "namespace": namespace, "name": name, "from": current, "replicas": replicas},
        )

    def plan_rollback(self, service: Service) -> MutationPlan:
        self.check(Action.ROLLBACK, service)
        kind, namespace, name = self._parse_id(service)
        live = self._request("GET", self._object_path(kind, namespace, name), doing=f"reading {service.ref}")
        selector = ",".join(
            f"{k}={v}" for k, v in sorted(_dict(_dict(_dict(live.get("spec")).get("selector")).get("matchLabels"))
                                          .items())
        )
        query = {"labelSelector": selector} if selector else {}
        current_template = _dict(live.get("spec")).get("template")
        if kind == "deployment":
            listing = self._request("GET", collection_path(REPLICASETS, namespace), query=query,
                                    doing=f"listing the ReplicaSets of {service.ref}")
            target = deployment_rollback_target(live, _list(_dict(listing).get("items")))
            patch: Any = deployment_undo_patch(live, target)
            content_type = "application/json-patch+json"
            detail = f"kubectl rollout undo: ReplicaSet {meta_of(target).get('name')}"
            current_revision = revision_of(live)
            target_template = _dict(target.get("spec")).get("template")
        else:
            listing = self._request("GET", collection_path(CONTROLLER_REVISIONS, namespace), query=query,
                                    doing=f"listing the ControllerRevisions of {service.ref}")
            revisions = _list(_dict(listing).get("items"))
            target = revision_rollback_target(kind, live, revisions)
            # kubectl sends the revision's data as it is: a strategic merge patch with "$patch": "replace".
            patch = _dict(target.get("data"))
            content_type = "application/strategic-merge-patch+json"
            detail = f"kubectl rollout undo: ControllerRevision {meta_of(target).get('name')}"
            owned = [r for r in revisions if owned_by(r, live, OWNER_KIND[kind])]
            current_revision = max((revision_of(r) for r in owned), default=-1)
            target_template = _revision_template(target)
        return MutationPlan(
            action=Action.ROLLBACK, cluster=self.name, service_ref=service.ref, service_id=service.id,
            before=describe_revision(current_template, current_revision),
            after=describe_revision(target_template, revision_of(target)), detail=detail,
            payload={
                "kind": kind, "namespace": namespace, "name": name, "patch": patch,
                "content_type": content_type, "generation": _int(meta_of(live).get("generation")),
                "revision": revision_of(target),
            },
        )

    def apply(self, plan: MutationPlan) -> str:
        payload = plan.payload
        kind, namespace, name = _str(payload.get("kind")), _str(payload.get("namespace")), _str(payload.get("name"))
        if kind not in WORKLOAD_KINDS:
            raise InvalidInput(f"plan for {plan.service_ref} has no Kubernetes workload kind")
        if plan.action is Action.SCALE:
            path = self._object_path(kind, namespace, name, "scale")
            scale = self._request("GET", path, doing=f"reading the scale of {plan.service_ref}")
            current = _int(_dict(_dict(scale).get("spec")).get("replicas"))
            if current != _int(payload.get("from")):
                raise Conflict(f"{plan.service_ref} now has {current} replicas, not {payload.get('from')}",
                               "refresh and decide again")
            # kubectl scale's merge patch, made conditional on the version just read.
            body = {"metadata": {"resourceVersion": _str(meta_of(scale).get("resourceVersion"))},
                    "spec": {"replicas": _int(payload.get("replicas"))}}
            self._request("PATCH", path, body=body, content_type="application/merge-patch+json",
                          doing=f"scaling {plan.service_ref}")
            return f"scaled {plan.service_ref} from {current} to {_int(payload.get('replicas'))} replicas"
        if plan.action is Action.ROLLBACK:
            path = self._object_path(kind, namespace, name)
            live = self._request("GET", path, doing=f"reading {plan.service_ref}")
            generation = _int(meta_of(live).get("generation"))
            if generation != _int(payload.get("generation")):
                raise Conflict(f"{plan.service_ref} changed since the plan (generation {payload.get('generation')} "
                               f"-> {generation})", "refresh and decide again")
            if kind == "deployment" and _dict(live.get("spec")).get("paused") is True:
                raise NotSupported(f"{plan.service_ref} was paused meanwhile", "resume it first")
            self._request("PATCH", path, body=payload.get("patch"), content_type=_str(payload.get("content_type")),
                          doing=f"rolling back {plan.service_ref}")
            return f"rolled back {plan.service_ref} to {plan.after}"
        raise NotSupported(f"{plan.action.value} is not a Kubernetes action")

