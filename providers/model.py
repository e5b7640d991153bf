"""The unified model: the only types that code above providers/ ever sees.

Every provider maps its SDK objects into these. Nothing here imports Textual or an SDK.
Dataclasses use slots: a 50k-task fleet holds 50k Task objects.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import ClassVar


class _KindType(type):
    def __iter__(cls) -> Iterator[ClusterKind]:
        """The built-in kinds (as iterating the enum it replaced gave); plugins bring more."""
        return iter(BUILTIN_KINDS)


class ClusterKind(str, metaclass=_KindType):
    """Which orchestrator a cluster runs: an open identifier, not a closed list.

    A provider brings its kind (a plugin's is as good as a built-in's); what differs per orchestrator (words,
    doctor advice, capabilities) is looked up by kind through the provider registry, never branched on here
    or above providers/. The built-ins keep constants. Instances are interned, so `is` compares like `==`.
    """

    __slots__ = ()
    _interned: ClassVar[dict[str, ClusterKind]] = {}
    SWARM: ClassVar[ClusterKind]
    KUBERNETES: ClassVar[ClusterKind]
    ECS: ClassVar[ClusterKind]

    def __new__(cls, value: object) -> ClusterKind:
        text = str(value).strip().lower()
        if not _KIND_RE.fullmatch(text):
            raise ValueError(f"a cluster kind is a short lower-case identifier (letters, digits, '-', '_'), "
                             f"not {str(value)[:40]!r}")
        known = cls._interned.get(text)
        if known is None:
            known = cls._interned[text] = super().__new__(cls, text)
        return known

    @property
    def value(self) -> str:
        """The identifier itself (kept from when kinds were an enum: `kind.value` reads as before)."""
        return str.__str__(self)

    def __repr__(self) -> str:
        return f"ClusterKind({self.value!r})"


_KIND_RE = re.compile(r"[a-z][a-z0-9_-]{0,39}")
ClusterKind.SWARM = ClusterKind("swarm")
ClusterKind.KUBERNETES = ClusterKind("kubernetes")
ClusterKind.ECS = ClusterKind("ecs")
BUILTIN_KINDS = (ClusterKind.SWARM, ClusterKind.KUBERNETES, ClusterKind.ECS)


class ConnectionState(StrEnum):
    CONNECTING = "connecting"
    CONNECTED = "connected"
    # Reachable, but part of the data is missing (a forbidden kind, throttling, a stale watch).
    DEGRADED = "degraded"
    UNREACHABLE = "unreachable"


class NodeStatus(StrEnum):
    READY = "ready"
    DOWN = "down"
    UNKNOWN = "unknown"


class Availability(StrEnum):
    ACTIVE = "active"
    DRAIN = "drain"
    PAUSE = "pause"


class ServiceMode(StrEnum):
    REPLICATED = "replicated"
    GLOBAL = "global"


class Health(StrEnum):
    HEALTHY = "healthy"
    UNHEALTHY = "unhealthy"
    STARTING = "starting"
    NONE = "none"  # the workload defines no health check
    UNKNOWN = "unknown"


class TaskState(StrEnum):
    """A task's lifecycle, normalised; the orchestrator's own word stays in Task.raw_state."""

    PENDING = "pending"
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    STOPPED = "stopped"
    FAILED = "failed"
    COMPLETE = "complete"
    UNKNOWN = "unknown"


class RolloutState(StrEnum):
    STABLE = "stable"
    UPDATING = "updating"
    PAUSED = "paused"
    ROLLING_BACK = "rolling_back"
    ROLLED_BACK = "rolled_back"
    FAILED = "failed"


ACTIVE_ROLLOUT_STATES = frozenset({RolloutState.UPDATING, RolloutState.ROLLING_BACK})


@dataclass(slots=True)
class Node:
    id: str
    name: str
    role: str = ""  # manager/worker, control-plane, container-instance, zone
    status: NodeStatus = NodeStatus.UNKNOWN
    availability: Availability = Availability.ACTIVE
    zone: str = ""
    addresses: tuple[str, ...] = ()
    labels: dict[str, str] = field(default_factory=dict)
    version: str = ""  # engine / kubelet / agent version
    message: str = ""  # why it is down, taints, cordoned...
    # The orchestrator's own words: "NotReady" (Kubernetes), "down" (Swarm), "DRAINING" (ECS); availability
    # "cordoned" (Kubernetes), "drain" (Swarm), "DRAINING" (ECS). Empty: use status / availability.
    raw_state: str = ""
    raw_availability: str = ""
    # Conditions that hold now and are bad: MemoryPressure, DiskPressure, PIDPressure, NetworkUnavailable.
    conditions: tuple[str, ...] = ()
    # Since when it is in its present state (Ready condition's lastTransitionTime, Swarm node UpdatedAt when
    # down); None: the orchestrator does not say.
    since: datetime | None = None
    # ECS container instances: the agent's connection and what is left to place tasks (CPU units, MiB).
    agent_connected: bool | None = None
    cpu_remaining: int | None = None
    cpu_registered: int | None = None
    memory_remaining_mib: int | None = None
    memory_registered_mib: int | None = None

    @property
    def state_word(self) -> str:
        return self.raw_state or self.status.value

    @property
    def availability_word(self) -> str:
        return self.raw_availability or self.availability.value


@dataclass(slots=True)
class HealthCounts:
    healthy: int = 0
    unhealthy: int = 0
    starting: int = 0

    @staticmethod
    def of(tasks: tuple[Task, ...] | list[Task]) -> HealthCounts:
        """Counts over the tasks that are meant to be running."""
        counts = HealthCounts()
        for task in tasks:
            if task.desired_state != TaskState.RUNNING:
                continue
            if task.health is Health.HEALTHY:
                counts.healthy += 1
            elif task.health is Health.UNHEALTHY:
                counts.unhealthy += 1
            elif task.health is Health.STARTING:
                counts.starting += 1
        return counts


@dataclass(slots=True)
class Rollout:
    state: RolloutState = RolloutState.STABLE
    updated: int = 0
    total: int = 0
    started: datetime | None = None
    finished: datetime | None = None
    message: str = ""
    from_version: str = ""
    to_version: str = ""
    # False when progress is counted from tasks that could not be read (Swarm): `updated` is then unknown,
    # never shown or exported as 0.
    updated_known: bool = True

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_ROLLOUT_STATES

    @property
    def fraction(self) -> float:
        if self.total <= 0 or not self.updated_known:
            return 1.0 if self.total <= 0 else 0.0
        return min(1.0, max(0.0, self.updated / self.total))

    @property
    def counts(self) -> str:
        """`2/4`, or `?/4` when the tasks that say how far it is could not be read."""
        return f"{self.updated if self.updated_known else '?'}/{self.total}"


@dataclass(slots=True)
class UpdatePolicy:
    """How the orchestrator replaces tasks; each field is None where the orchestrator has no such knob."""

    parallelism: int | None = None
    delay_s: float | None = None
    failure_action: str = ""  # pause / continue / rollback
    monitor_s: float | None = None
    order: str = ""  # stop-first / start-first
    max_surge: str = ""
    max_unavailable: str = ""
    min_healthy_percent: int | None = None
    max_percent: int | None = None
    circuit_breaker: bool | None = None
    circuit_breaker_rollback: bool | None = None
    has_rollback_policy: bool | None = None
    # Kubernetes StatefulSet rollingUpdate.partition: pods with an ordinal below it keep the old revision.
    partition: int | None = None

    def summary(self) -> str:
        parts: list[str] = []
        if self.parallelism is not None:
            parts.append(f"parallelism {self.parallelism}")
        if self.delay_s is not None:
            parts.append(f"delay {self.delay_s:g}s")
        if self.order:
            parts.append(self.order)
        if self.failure_action:
            parts.append(f"on failure {self.failure_action}")
        if self.monitor_s is not None:
            parts.append(f"monitor {self.monitor_s:g}s")
        if self.max_surge:
            parts.append(f"maxSurge {self.max_surge}")
        if self.max_unavailable:
            parts.append(f"maxUnavailable {self.max_unavailable}")
        if self.min_healthy_percent is not None:
            parts.append(f"min healthy {self.min_healthy_percent}%")
        if self.max_percent is not None:
            parts.append(f"max {self.max_percent}%")
        if self.circuit_breaker is not None:
            breaker = "on" if self.circuit_breaker else "off"
            if self.circuit_breaker and self.circuit_breaker_rollback:
                breaker += " (rollback)"
            parts.append(f"circuit breaker {breaker}")
        if self.partition is not None:
            parts.append(f"partition {self.partition}")
        return ", ".join(parts)


class VolumeKind(StrEnum):
    """Where a mounted volume keeps its data: what the doctor's shared-data rule judges."""

    BIND = "bind"  # a host directory bind-mounted (Docker, Swarm)
    HOST_PATH = "hostPath"  # a Kubernetes hostPath
    HOST = "host"  # an ECS host volume with a sourcePath: a directory of the container instance
    NAMED_LOCAL = "named-local"  # a Docker named volume on the local driver: it lives on one node
    NAMED_DRIVER = "named-driver"  # a Docker named volume on another driver (a plugin, network storage)
    TASK_SCOPED = "task-scoped-docker"  # an ECS Docker volume with scope task: made and deleted with the task
    PVC = "pvc"  # a Kubernetes PersistentVolumeClaim
    EFS = "efs"  # an ECS EFS volume: network storage every task reaches
    EPHEMERAL = "ephemeral"  # scratch for one task: tmpfs, emptyDir, an ECS host volume with no sourcePath
    CONFIG = "config"  # served by the orchestrator: configMap, secret, projected, downwardAPI
    OTHER = "other"  # anything else (nfs, csi, ...): not judged


@dataclass(frozen=True, slots=True)
class Mount:
    """A volume as one container mounts it."""

    kind: VolumeKind
    target: str  # the path inside the container
    source: str = ""  # host path, volume name, claim name or file system id
    read_only: bool = False
    name: str = ""  # the pod's or task definition's volume name, when it is not the source
    driver: str = ""  # a Docker volume driver
    # A PVC's access modes (ReadWriteOnce, ReadWriteOncePod, ReadWriteMany, ReadOnlyMany); () = unknown.
    access_modes: tuple[str, ...] = ()
    # A StatefulSet's volumeClaimTemplates: one claim per pod, not one shared by every pod.
    per_task: bool = False

    def describe(self) -> str:
        """As the operator writes it: "bind:/srv/data->/data (ro)"."""
        source = f"{self.source}->" if self.source else ""
        return f"{self.kind.value}:{source}{self.target}" + (" (ro)" if self.read_only else "")


@dataclass(slots=True)
class ContainerSpec:
    """What the doctor needs from a container definition. Env values are never rendered or exported."""

    name: str
    image: str
    command: tuple[str, ...] = ()
    entrypoint: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    # Env names whose values come from a secret store (Swarm secrets, secretKeyRef, ECS secrets).
    secret_env: tuple[str, ...] = ()
    healthcheck: bool | None = None  # None: cannot tell
    readiness_probe: bool | None = None
    liveness_probe: bool | None = None
    startup_probe: bool | None = None
    memory_limit_bytes: int | None = None
    mounts: tuple[Mount, ...] = ()
    ports: tuple[str, ...] = ()
    # Whether the spec pins the image to a digest (`web:2.1@sha256:...`): False where an orchestrator lets
    # each node resolve the tag on its own (a Swarm service the manager did not resolve); None: not told.
    image_pinned: bool | None = None


@dataclass(frozen=True, slots=True)
class RunningImage:
    """The image a task's container actually runs, for the doctor's image-drift rule."""

    reference: str  # as the spec names it, digest left out: "web:2.1"
    # "sha256:..." (a repository digest, pinnable) or "id:sha256:..." (an engine's image id, which differs
    # whenever the image does but cannot be pulled by): see `pinnable`.
    digest: str
    container: str = ""

    @staticmethod
    def of(reference: str, image_id: str, container: str = "") -> RunningImage | None:
        """From what an orchestrator reports: `docker-pullable://web@sha256:..`, `docker.io/web@sha256:..` and
        a bare `sha256:..` repository digest (ECS imageDigest) are pinnable; `docker://sha256:..` and an
        engine's image id (`id` the caller marks as "id:sha256:..") are not. None when nothing is said."""
        text = image_id.strip()
        if not text or not reference:
            return None
        if "@" in text:
            digest = text.rsplit("@", 1)[1]
        elif "://" in text:
            digest = "id:" + text.split("://", 1)[1]
        else:
            digest = text
        return RunningImage(reference.split("@", 1)[0], digest, container)

    @property
    def pinnable(self) -> bool:
        return self.digest.startswith("sha256:")

    @property
    def short(self) -> str:
        """"sha256:0123456789ab" (12 hex digits, as docker shows an id)."""
        text = self.digest.removeprefix("id:")
        algorithm, _, value = text.partition(":")
        return f"{algorithm}:{value[:12]}" if value else text[:19]


@dataclass(slots=True)
class Task:
    id: str
    service_id: str
    slot: int | None = None
    node_id: str = ""
    node_name: str = ""
    state: TaskState = TaskState.UNKNOWN
    desired_state: TaskState = TaskState.RUNNING
    health: Health = Health.UNKNOWN
    version: str = ""
    started: datetime | None = None
    exit_code: int | None = None
    error: str = ""
    raw_state: str = ""  # the orchestrator's word: "CrashLoopBackOff", "DEACTIVATING", "starting"...
    restarts: int = 0
    address: str = ""
    stopped: datetime | None = None
    # When a container of the task last restarted (Kubernetes lastState.terminated.finishedAt); None: unknown.
    restarted: datetime | None = None
    # What its containers run, where the orchestrator says (Kubernetes imageID, ECS imageDigest, a Swarm
    # spec's pinned digest or a node engine's answer); () = not known. Usually one entry.
    images: tuple[RunningImage, ...] = ()
    # Why the node's engine could not say what the task runs ("worker-2: no such socket ..."), when the doctor's
    # slow look (Swarm node_engine) asked and failed; "" when not asked or answered.
    unread: str = ""


@dataclass(frozen=True, slots=True)
class Reachability:
    """How traffic reaches a service through one front (a Kubernetes Service's endpoints, an ECS target
    group's targets): counts the orchestrator itself reports, never guessed from tasks."""

    via: str  # "Service prod/web", "target group web-tg"
    ready: int
    total: int
    word: str = "endpoints"  # endpoints (Kubernetes), targets (ECS)
    # Why targets are unhealthy, as the orchestrator words it ("Target.ResponseCodeMismatch"), distinct.
    reasons: tuple[str, ...] = ()

    @property
    def unready(self) -> int:
        return max(0, self.total - self.ready)


@dataclass(frozen=True, slots=True)
class Network:
    """A virtual network or a front that routes to services: a Swarm overlay network, a Kubernetes Service,
    an ECS awsvpc network or target group. Each field is empty where the orchestrator has no such thing."""

    name: str
    kind: str  # "overlay", "ClusterIP", "LoadBalancer", "awsvpc", "target group" (the orchestrator's word)
    driver: str = ""
    scope: str = ""  # swarm/local, a namespace, a VPC
    subnets: tuple[str, ...] = ()
    services: tuple[str, ...] = ()  # refs of the services attached or selected
    # Ready and total endpoints (or targets); None where the orchestrator has none to count.
    ready: int | None = None
    total: int | None = None
    ports: tuple[str, ...] = ()
    vips: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()  # "selects no pods", "ingress", "2 NetworkPolicies in namespace prod"
    id: str = ""


@dataclass(frozen=True, slots=True)
class Autoscaler:
    """What owns a service's replica count when it is not the operator: a Kubernetes HorizontalPodAutoscaler,
    an ECS Application Auto Scaling scalable target. A manual scale is undone by it minutes later."""

    kind: str  # the orchestrator's word: "HorizontalPodAutoscaler", "Application Auto Scaling"
    name: str  # the HPA's name; the scalable target's resource id ("service/CLUSTER/SERVICE")
    min: int
    max: int
    current: int | None = None  # None: the autoscaler does not say
    desired: int | None = None
    metrics: str = ""  # "cpu 45%/70%", "ECSServiceAverageCPUUtilization 50 (target tracking)"
    # Noteworthy conditions as the orchestrator words them: "ScalingLimited: TooManyReplicas (...)".
    conditions: tuple[str, ...] = ()
    # What it scales when that is not a service shown here ("Rollout prod/web", "ReplicaSet prod/web-5f6"):
    # set on Cluster.stray_autoscalers, and on a service's autoscaler that reaches it through another object.
    target: str = ""

    def bounds(self) -> str:
        return f"min {self.min}, max {self.max}"

    def describe(self) -> str:
        """"HorizontalPodAutoscaler web (min 2, max 10)"."""
        return f"{self.kind} {self.name} ({self.bounds()})"


@dataclass(slots=True)
class Service:
    id: str
    name: str
    # What the operator types and sees: "web" (Swarm, ECS), "prod/web" (Kubernetes). Unique in a cluster.
    ref: str
    namespace: str = ""  # stack, Kubernetes namespace, or ECS cluster
    workload_kind: str = "service"  # service, deployment, statefulset, daemonset
    image: str = ""
    version: str = ""  # spec version, revision or task definition family:revision
    mode: ServiceMode = ServiceMode.REPLICATED
    desired: int = 0
    running: int = 0
    pending: int = 0
    health: HealthCounts = field(default_factory=HealthCounts)
    rollout: Rollout = field(default_factory=Rollout)
    update_policy: UpdatePolicy = field(default_factory=UpdatePolicy)
    networks: tuple[str, ...] = ()
    ports: tuple[str, ...] = ()
    labels: dict[str, str] = field(default_factory=dict)
    containers: tuple[ContainerSpec, ...] = ()
    tasks: tuple[Task, ...] = ()
    created: datetime | None = None
    updated_at: datetime | None = None
    # Provider-specific facts worth showing ("launch type": "FARGATE", "selector": "app=web").
    details: dict[str, str] = field(default_factory=dict)
    # The one node every task is held to (a Swarm constraint on node.hostname or node.id, a Kubernetes
    # nodeName or nodeSelector on kubernetes.io/hostname); "" when tasks may run on several nodes.
    pinned_to: str = ""
    # Why a rollback cannot apply, when the snapshot already knows (nothing to roll back to): the key is
    # then not offered. "" = it may apply; the plan reads the live object and decides.
    rollback_refusal: str = ""
    # When the service's own data (desired, running, rollout) was read; None: the provider does not say.
    observed: datetime | None = None
    # False when its tasks could not be read: `tasks` is then empty and `health` all zeros, neither meaning
    # "none"; everything shown says "?" instead.
    tasks_known: bool = True
    # The data is from an earlier refresh (this one could not read it); `observed` says how old.
    stale: bool = False
    # Endpoint or target counts per front routing to it; () = none known (not "unreachable").
    reachability: tuple[Reachability, ...] = ()
    # What owns the replica count; None: the operator does (or the orchestrator has no autoscaler).
    autoscaler: Autoscaler | None = None


@dataclass(slots=True)
class Event:
    time: datetime
    cluster: str
    object: str  # "service web", "node worker-1", "pod prod/web-7c9-x2"
    kind: str  # create, update, remove, state, warning, audit...
    message: str
    service_ref: str = ""


@dataclass(frozen=True, slots=True)
class Missing:
    """A part of a cluster that the snapshot could not read, and why. Never filled in with zeros."""

    what: str  # "ECS cluster prod (DescribeServices)", "Kubernetes pods in namespace shop", "Swarm tasks"
    reason: str  # "throttled by AWS", "403 forbidden", "HTTP 500"
    # Since when it has been missing (the first refresh that could not read it).
    since: datetime | None = None
    # Which part of the model it leaves out: "services", "tasks", "nodes", "events" (code asks by it).
    part: str = ""
    # When that part was last read whole, when earlier data is shown in its place; None: nothing is shown.
    shown_from: datetime | None = None

    def describe(self, now: datetime | None = None, clean: Callable[[str], str] = str) -> str:
        """`clean`: applied to each field of cluster text on its own (display_text), before they are joined."""
        text = f"{clean(self.what)}: {clean(self.reason)}"
        if self.shown_from is not None:
            shown = f"showing data from {self.shown_from:%H:%M:%S}"
            if now is not None:
                shown += f" ({max(0, int((now - self.shown_from).total_seconds()))}s old)"
            text += f"; {shown}"
        return text


@dataclass(slots=True)
class Cluster:
    """One cluster as last seen: a snapshot the provider builds and the UI renders."""

    name: str
    kind: ClusterKind
    state: ConnectionState = ConnectionState.CONNECTING
    last_sync: datetime | None = None
    error: str = ""
    nodes: tuple[Node, ...] = ()
    services: tuple[Service, ...] = ()
    events: tuple[Event, ...] = ()
    # Kinds of object the credentials may not list (Kubernetes RBAC); shown, not hidden. Each is in
    # `missing` too.
    forbidden: tuple[str, ...] = ()
    # What this snapshot could not read (throttled, forbidden, failed calls): empty means complete.
    missing: tuple[Missing, ...] = ()
    # The part of the cluster shown when it is not all of it ("namespace team-a only (...)").
    scope: str = ""
    # The last refresh failed on missing or expired credentials (the error says what to run).
    needs_login: bool = False
    demo: bool = False
    # Where it is: "unix:///var/run/docker.sock", "context prod-eks", "eu-west-1".
    endpoint: str = ""
    # Networks and fronts (see Network); () when none, or not read (then a gap in `missing`).
    networks: tuple[Network, ...] = ()
    # Kubernetes NetworkPolicies per namespace; None where the orchestrator has none or they were not read.
    network_policies: dict[str, int] | None = None
    # Autoscalers whose target is no service shown here (a custom resource, a bare ReplicaSet, a missing one).
    stray_autoscalers: tuple[Autoscaler, ...] = ()
    # The node label that names a node's zone (Node.zone), as placement rules write it
    # ("topology.kubernetes.io/zone", a Swarm `zone_label`); "" = zones are not labels here, or not known.
    zone_key: str = ""

    @property
    def reachable(self) -> bool:
        return self.state in (ConnectionState.CONNECTED, ConnectionState.DEGRADED)

    @property
    def complete(self) -> bool:
        """Everything the cluster holds was read by this snapshot: reachable, nothing missing, nothing stale."""
        return self.reachable and not self.missing and not any(service.stale for service in self.services)

    def service(self, ref: str) -> Service | None:
        for service in self.services:
            if service.ref == ref or service.id == ref:
                return service
        return None

    def node_names(self) -> dict[str, str]:
        return {node.id: node.name for node in self.nodes}
