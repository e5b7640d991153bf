"""Pod logs, with kubelet's semantics: which streams a pod has, what a task id picks, how lines are read.

Logs come from the pod log endpoint, one request per container, each line prefixed
"POD/CONTAINER@NODE". The task id picks pods and a container: "POD" or "NAMESPACE/POD" (a prefix picks
every pod it starts), "POD/CONTAINER" or "NAMESPACE/POD/CONTAINER" (the container picker). A crash loop
shows the crashed instance, marked "(previous)", before the current one. Pure: the reading itself is in
follow.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pilothouse.providers.errors import InvalidInput, NotFound
from pilothouse.providers.kubernetes.objects import (
    OWNER_KIND,
    PODS,
    Obj,
    _dict,
    _int,
    _key,
    _list,
    _str,
    collection_path,
    controller_owner,
    meta_of,
    parse_time,
)
from pilothouse.providers.model import Service

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


def stream_groups(streams: list[LogStream]) -> list[list[LogStream]]:
    """Streams split by container, in order: a container's previous instance is read before its current one."""
    groups: list[list[LogStream]] = []
    for stream in streams:
        if groups and (groups[-1][-1].pod, groups[-1][-1].container) == (stream.pod, stream.container):
            groups[-1].append(stream)
        else:
            groups.append([stream])
    return groups


def follows(group: list[LogStream]) -> bool:
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

