"""The built-in demo fleet: a simulated cluster of each kind, so the console runs anywhere.

One DemoProvider serves one cluster (flavor swarm, kubernetes or ecs). The scenario runs on a clock:
- t = 0..30 s: a rolling update of the `api` service, one task at a time;
- t = 10 s: the third node goes down and its tasks are rescheduled on the others (starting, then running);
- t = 60 s: the node comes back;
- always: `payments` has one task failing its health check.
`frozen_at` pins the clock (tests, screenshots). Scale and rollback change the simulated state.

Over 600 lines on purpose: one clock ties the simulated tasks, rollouts, logs, events and mutations together,
and splitting it would scatter that one timeline over modules that all read the same private state.
"""

from __future__ import annotations

import hashlib
import random
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from pilothouse.providers import demo_exec
from pilothouse.providers.base import (
    NODE_ACTIONS,
    Action,
    Capability,
    ClusterConfig,
    LogLine,
    MutationPlan,
    Option,
    Provider,
)
from pilothouse.providers.demo_networks import demo_networks
from pilothouse.providers.errors import InvalidInput, NotFound, NotSupported
from pilothouse.providers.exec import ExecStreams
from pilothouse.providers.inspect import InspectResult, InspectTarget
from pilothouse.providers.model import (
    Autoscaler,
    Availability,
    Cluster,
    ClusterKind,
    ConnectionState,
    ContainerSpec,
    Event,
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
from pilothouse.providers.registry import vocabulary_for
from pilothouse.providers.revisions import FieldChange, NoPreviousRevision, RevisionDiff
from pilothouse.providers.vocabulary import Vocabulary

ROLLOUT_SECONDS = 30.0
NODE_DOWN_AT = 10.0
NODE_BACK_AT = 60.0
RESCHEDULE_SECONDS = 4.0
LIVE_START_S = 8.0
# Tasks no scale, rollback, rollout or node loss touched started this long before the scenario (plus the
# service's index, so they differ).
BASELINE_START_S = -3600.0
MAX_DEMO_TASKS = 50_000
DEFAULT_TASKS_PER_CLUSTER = 40

DEMO_CLUSTER_NAMES = {"swarm": "demo-swarm", "kubernetes": "demo-k8s", "ecs": "demo-ecs"}


# flavor -> (ready word, down word, availability word), as the orchestrator prints them.
_NODE_WORDS = {"swarm": ("ready", "down", "active"), "kubernetes": ("Ready", "NotReady", "schedulable"),
               "ecs": ("ACTIVE", "INACTIVE", "ACTIVE")}


@dataclass(slots=True)
class _ServiceDef:
    """The simulated service: mutable by scale and rollback."""

    name: str
    namespace: str
    image: str
    desired: int
    mode: ServiceMode = ServiceMode.REPLICATED
    workload_kind: str = "service"
    previous_image: str = ""
    healthcheck: bool = True
    revision: int = 1
    rolling_to: str = ""  # the api service's update in progress
    failing_task: bool = False
    rolled_back_at: float | None = None
    paused_at: float | None = None  # the rollout was paused then (scenario seconds); None: not paused
    paused_for: float = 0.0  # seconds the rollout spent paused before its last resume
    containers: tuple[ContainerSpec, ...] = ()
    policy: UpdatePolicy = field(default_factory=UpdatePolicy)
    # slot -> when (scenario seconds) its task last started, set by a scale up or a rollback.
    starts: dict[int, float] = field(default_factory=dict)
    # (min, max) of the autoscaler that owns the replicas (Kubernetes and ECS flavors); None: none.
    autoscale: tuple[int, int] | None = None
    # The doctor's runtime rules: slot 2 runs another image of the same tag; every task on the first node.
    drift: bool = False
    one_node: bool = False


def _ref(flavor: str, namespace: str, name: str) -> str:
    # As the real providers write them: Kubernetes NAMESPACE/NAME, ECS ECSCLUSTER/SERVICE, Swarm the name.
    return name if flavor == "swarm" else f"{namespace}/{name}"


# name, image, replicas weight, healthcheck, extra container facts for the doctor
_CATALOGUE: tuple[tuple[str, str, int, bool, dict[str, Any]], ...] = (
    ("api", "registry.example.com/shop/api:1.4.2", 4, True, {}),
    ("web", "registry.example.com/shop/web:2.7.0", 3, True, {}),
    ("payments", "registry.example.com/shop/payments:3.1.0", 3, True,
     {"env": {"PAYMENTS_API_KEY": "demo-not-a-real-key", "LOG_LEVEL": "info"}}),
    ("worker", "registry.example.com/shop/worker:1.9.3", 2, False,
     {"command": ("sh", "-c", "pip install --upgrade -r requirements.txt && python -m worker")}),
    ("cache", "redis:latest", 1, False, {"fixed_replicas": 1, "node_data": "/srv/redis"}),
    ("search", "docker.io/someone/search:0.3", 2, True, {"env": {"DEBUG": "true"}, "unsafe_update": True}),
    ("mailer", "registry.example.com/shop/mailer:1.0.1", 1, True,
     {"memory": None, "command": ("/usr/bin/supervisord", "-c", "/etc/supervisord.conf"), "one_node": True}),
    ("auth", "registry.example.com/shop/auth:5.2.0", 2, True, {"drift": True}),
)


class DemoProvider(Provider):
    kind = ClusterKind.SWARM  # per instance, see __init__
    OPTIONS: ClassVar[Mapping[str, Option]] = {
        "flavor": Option((str,), "which orchestrator to simulate: swarm, kubernetes or ecs"),
        "tasks": Option((int,), "how many tasks this simulated cluster runs"),
        "seed": Option((int,), "random seed for the fleet's shape"),
        "frozen_at": Option((int, float), "pin the scenario clock at this many seconds (tests, screenshots)"),
    }

    CAPABILITIES: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.SCALE, Capability.ROLLBACK, Capability.RESTART, Capability.PAUSE, Capability.RESUME,
         Capability.CORDON, Capability.UNCORDON, Capability.DRAIN, Capability.LOGS,
         Capability.AUTOSCALE_BOUNDS, Capability.EXEC})

    @property
    def words(self) -> Vocabulary:
        return self._words

    def __init__(self, config: ClusterConfig) -> None:
        super().__init__(config)
        flavor = str(config.options.get("flavor", "swarm"))
        if flavor not in DEMO_CLUSTER_NAMES:
            raise InvalidInput(f"demo flavor {flavor!r} is unknown", "use swarm, kubernetes or ecs")
        self.flavor = flavor
        self.kind = ClusterKind(flavor)
        # It speaks the language of the orchestrator it imitates (refusals included).
        self._words = vocabulary_for(self.kind)
        tasks = int(config.options.get("tasks", DEFAULT_TASKS_PER_CLUSTER))
        if not 0 <= tasks <= MAX_DEMO_TASKS:
            raise InvalidInput(f"demo tasks must be 0..{MAX_DEMO_TASKS}, not {tasks}")
        self.task_budget = tasks
        frozen = config.options.get("frozen_at")
        self.frozen_at: float | None = None if frozen is None else float(frozen)
        self._rng = random.Random(int(config.options.get("seed", 7)) + len(flavor))
        self._lock = threading.Lock()
        # A live demo starts a few seconds into the scenario: the rollout is visibly moving at once.
        self._started = time.monotonic() - LIVE_START_S
        # A fixed wall-clock origin keeps frozen snapshots (screenshots) identical run to run.
        if self.frozen_at is not None:
            self._origin = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
        else:
            self._origin = datetime.now(UTC) - timedelta(seconds=LIVE_START_S)
        self.nodes = self._make_nodes()
        self.services = self._make_services()
        self._audit_events: list[Event] = []
        self._node_of: dict[str, str] = {}
        self._images: dict[str, tuple[RunningImage, ...]] = {}

    # -- the scenario -------------------------------------------------------------------------

    def now(self) -> float:
        if self.frozen_at is not None:
            return self.frozen_at
        return time.monotonic() - self._started

    def _at(self, seconds: float) -> datetime:
        return self._origin + timedelta(seconds=seconds)

    def _make_nodes(self) -> list[Node]:
        count = min(50, max(3, self.task_budget // 300))
        nodes: list[Node] = []
        zones = ("a", "b", "c")
        for index in range(count):
            zone = f"eu-west-1{zones[index % 3]}"
            if self.flavor == "swarm":
                role = "manager" if index == 0 else "worker"
                name = "manager-1" if index == 0 else f"worker-{index}"
                node = Node(id=f"swarmnode{index:03d}", name=name, role=role, zone=zone,
                            addresses=(f"10.0.0.{index + 10}",), version="24.0.7")
            elif self.flavor == "kubernetes":
                name = f"ip-10-1-{index // 250}-{index % 250 + 10}.eu-west-1.compute.internal"
                role = "control-plane" if index == 0 else "worker"
                node = Node(id=name, name=name, role=role, zone=zone, addresses=(f"10.1.0.{index + 10}",),
                            version="v1.30.4", labels={"topology.kubernetes.io/zone": zone})
            else:
                instance = f"i-0{index:02d}{self._rng.randrange(16**10):010x}"
                node = Node(id=f"arn:aws:ecs:eu-west-1:123456789012:container-instance/demo/{instance}",
                            name=instance, role="container-instance", zone=zone, version="1.86.0")
            node.status = NodeStatus.READY
            node.raw_state, node.raw_availability = _NODE_WORDS[self.flavor][0], _NODE_WORDS[self.flavor][2]
            nodes.append(node)
        return nodes

    def _make_services(self) -> list[_ServiceDef]:
        namespace = {"swarm": "shop", "kubernetes": "prod", "ecs": "prod"}[self.flavor]
        catalogue = list(_CATALOGUE)
        # Big fleets (benchmarks) get more services, about 40 tasks each.
        extra = max(0, self.task_budget // 40 - len(catalogue))
        weights = [entry[2] for entry in catalogue] + [3] * extra
        scale = self.task_budget / max(1, sum(weights))
        defs: list[_ServiceDef] = []
        for index, weight in enumerate(weights):
            if index < len(catalogue):
                name, image, _, healthcheck, facts = catalogue[index]
            else:
                name, image, healthcheck, facts = (f"svc-{index:04d}",
                                                   f"registry.example.com/batch/svc-{index:04d}:1.0.{index % 7}",
                                                   True, {})
            desired = max(1, round(weight * scale)) if self.task_budget else 0
            if "fixed_replicas" in facts and self.task_budget:
                desired = int(facts["fixed_replicas"])
            swarm_name = f"{namespace}_{name}" if self.flavor == "swarm" else name
            containers = (ContainerSpec(
                name=name, image=image, command=tuple(facts.get("command", ())),
                env=dict(facts.get("env", {"LOG_LEVEL": "info"})), healthcheck=healthcheck,
                readiness_probe=healthcheck if self.flavor == "kubernetes" else None,
                liveness_probe=healthcheck if self.flavor == "kubernetes" else None,
                memory_limit_bytes=facts.get("memory", 512 * 1024 * 1024),
                mounts=self._node_data(swarm_name, str(facts["node_data"])) if "node_data" in facts else (),
            ),)
            defs.append(_ServiceDef(
                name=swarm_name, namespace=namespace, image=image, desired=desired, healthcheck=healthcheck,
                workload_kind=self._workload_kind(), containers=containers,
                policy=self._policy(unsafe=bool(facts.get("unsafe_update"))),
                revision=3 if name in ("web", "auth") else 1,
                previous_image=image.rsplit(":", 1)[0] + ":previous" if name in ("web", "auth") else "",
                failing_task=(name == "payments"),
                drift=bool(facts.get("drift")), one_node=bool(facts.get("one_node")),
            ))
        api = defs[0]
        api.rolling_to = api.image.rsplit(":", 1)[0] + ":1.5.0"
        api.previous_image = api.image
        api.revision = 7
        web = defs[1]
        web.previous_image = web.image.rsplit(":", 1)[0] + ":2.6.3"
        if self.flavor != "swarm":  # Swarm has no autoscaler
            search = defs[5]
            search.autoscale = (search.desired, search.desired * 3)
        auth = defs[7]
        auth.previous_image = auth.image.rsplit(":", 1)[0] + ":5.1.4"
        # One service that cannot be scaled: a Swarm global service, a DaemonSet; ECS has no such thing.
        if self.flavor in ("swarm", "kubernetes"):
            name = "monitoring_node-exporter" if self.flavor == "swarm" else "node-exporter"
            defs.append(_ServiceDef(
                name=name, namespace="monitoring" if self.flavor == "swarm" else "kube-system",
                image="prom/node-exporter:v1.8.2", desired=len(self.nodes), mode=ServiceMode.GLOBAL,
                workload_kind="daemonset" if self.flavor == "kubernetes" else "service",
                healthcheck=False, policy=self._policy(),
                containers=(ContainerSpec(name="node-exporter", image="prom/node-exporter:v1.8.2",
                                          healthcheck=False, memory_limit_bytes=64 * 1024 * 1024),),
            ))
        return defs

    def _node_data(self, name: str, path: str) -> tuple[Mount, ...]:
        """Data kept on the node, as each orchestrator would hold it: the doctor's shared-data finding."""
        if self.flavor == "swarm":
            return (Mount(VolumeKind.NAMED_LOCAL, "/data", f"{name}-data", driver="local"),)
        if self.flavor == "kubernetes":
            return (Mount(VolumeKind.HOST_PATH, "/data", path, name="data"),)
        return (Mount(VolumeKind.HOST, "/data", path, name="data"),)

    def _workload_kind(self) -> str:
        return "deployment" if self.flavor == "kubernetes" else "service"

    def _policy(self, *, unsafe: bool = False) -> UpdatePolicy:
        # `unsafe` plants the doctor's unsafe-update finding on one service of each flavor.
        if self.flavor == "swarm":
            return UpdatePolicy(parallelism=1, delay_s=5, failure_action="continue" if unsafe else "rollback",
                                monitor_s=5, order="start-first", has_rollback_policy=not unsafe)
        if self.flavor == "kubernetes":
            return UpdatePolicy(max_surge="25%", max_unavailable="100%" if unsafe else "25%")
        return UpdatePolicy(min_healthy_percent=0 if unsafe else 100, max_percent=200, circuit_breaker=not unsafe,
                            circuit_breaker_rollback=not unsafe)

    # -- Provider -----------------------------------------------------------------------------

    def connect(self) -> None:
        """Nothing to connect to."""

    def snapshot(self) -> Cluster:
        with self._lock:
            t = self.now()
            nodes = self._nodes_at(t)
            services = tuple(self._service_at(index, definition, t, nodes)
                             for index, definition in enumerate(self.services))
            events = self._events_at(t)
        return Cluster(
            name=self.name, kind=self.kind, state=ConnectionState.CONNECTED, last_sync=self._at(t),
            nodes=nodes, services=services, events=events, demo=True, endpoint="simulated",
            networks=demo_networks(self.flavor, services),
            network_policies={"prod": 2} if self.flavor == "kubernetes" else None,
        )

    def _down_node(self, t: float) -> Node | None:
        if NODE_DOWN_AT <= t < NODE_BACK_AT and len(self.nodes) >= 3:
            return self.nodes[2]
        return None

    def _nodes_at(self, t: float) -> tuple[Node, ...]:
        down = self._down_node(t)
        if down is None:
            return tuple(self.nodes)
        return tuple(
            replace(node, status=NodeStatus.DOWN, message="heartbeat failure", raw_state=_NODE_WORDS[self.flavor][1],
                    since=self._at(NODE_DOWN_AT)) if node is down else node
            for node in self.nodes
        )

    def _service_at(self, index: int, definition: _ServiceDef, t: float, nodes: tuple[Node, ...]) -> Service:
        flavor = self.flavor
        down = self._down_node(t)
        live_nodes = [node for node in nodes if node.status is NodeStatus.READY]
        ref = _ref(flavor, definition.namespace, definition.name)
        service_id = f"{self.name}-svc-{index:04d}"
        rollout, current_image, updated = self._rollout_at(definition, t)
        desired = len(live_nodes) if definition.mode is ServiceMode.GLOBAL else definition.desired
        tasks: list[Task] = []
        placement_nodes = self.nodes if definition.mode is ServiceMode.REPLICATED else live_nodes
        lost = self.nodes[2] if len(self.nodes) >= 3 and t >= NODE_DOWN_AT else None
        for slot in range(1, desired + 1):
            spot = 0 if definition.one_node else index + slot
            node = placement_nodes[spot % len(placement_nodes)] if placement_nodes else None
            image = definition.rolling_to if slot <= updated and definition.rolling_to else current_image
            # One clock for every task: when its slot was last (re)started by a scale or a rollback, else long
            # ago; a task the rollout replaced started when the rollout reached it; never before either.
            start = definition.starts.get(slot, BASELINE_START_S + index)
            if slot <= updated and definition.rolling_to:
                start = max(start, ROLLOUT_SECONDS * (slot - 1) / max(1, desired))
            task = Task(
                id=f"{service_id}-t{slot:05d}", service_id=service_id, slot=slot,
                node_id=node.id if node else "", node_name=node.name if node else "",
                state=TaskState.RUNNING, raw_state="running", health=self._health(definition),
                version=image.rsplit(":", 1)[-1], started=self._at(start), address="",
                images=self._running_image(image, moved=definition.drift and slot == 2),
            )
            if (definition.mode is ServiceMode.REPLICATED and node is not None and lost is not None
                    and node.id == lost.id and start < NODE_BACK_AT):
                # The same choice while the node is down and after it is back: never the lost node itself.
                others = [other for other in live_nodes if other.id != lost.id]
                target = others[slot % len(others)] if others else None
                rescheduled = start < NODE_DOWN_AT  # it ran there when the node went; else it started elsewhere
                if rescheduled and down is not None:
                    # The task that ran on the down node, still listed (orphaned) while the node is down.
                    tasks.append(replace(task, id=task.id + "-lost", state=TaskState.FAILED,
                                         desired_state=TaskState.STOPPED, raw_state="orphaned",
                                         health=Health.UNKNOWN,
                                         error="node is down: task rescheduled"))
                start = NODE_DOWN_AT if rescheduled else start
                starting = rescheduled and t - NODE_DOWN_AT < RESCHEDULE_SECONDS
                # Where it went stays where it is when the node comes back: tasks do not move home by themselves.
                task = replace(
                    task, id=task.id + "-r" if rescheduled else task.id, node_id=target.id if target else "",
                    node_name=target.name if target else "",
                    state=TaskState.STARTING if starting else TaskState.RUNNING,
                    raw_state="starting" if starting else "running",
                    health=Health.STARTING if starting and definition.healthcheck else task.health,
                    started=self._at(start),
                )
            elif definition.mode is ServiceMode.GLOBAL and lost is not None and down is None and node is not None \
                    and node.id == lost.id:
                # A global service's task on the node that came back started when the node did.
                task = replace(task, started=self._at(max(start, NODE_BACK_AT)))
            if definition.failing_task and slot == 1:
                task = replace(task, health=Health.UNHEALTHY, state=TaskState.RUNNING,
                               error="health check failed 3 times: GET /healthz returned 503")
                tasks.append(replace(task, id=task.id + "-prev", state=TaskState.FAILED,
                                     desired_state=TaskState.STOPPED, raw_state="failed", exit_code=137,
                                     error="task: non-zero exit (137): dockerexec: unhealthy container"))
            tasks.append(task)
        running = sum(1 for task in tasks if task.state is TaskState.RUNNING
                      and task.desired_state is TaskState.RUNNING)
        moving = rollout.state in (RolloutState.UPDATING, RolloutState.PAUSED)
        image = definition.rolling_to if moving and updated else current_image
        return Service(
            id=service_id, name=definition.name, ref=ref, namespace=definition.namespace,
            workload_kind=definition.workload_kind, image=image,
            version=self._version(definition), mode=definition.mode, desired=desired, running=running,
            health=HealthCounts.of(tasks), rollout=rollout, update_policy=definition.policy,
            networks=("shop_default",) if flavor == "swarm" else (),
            ports=("443:8443/tcp",) if definition.name.endswith("web") else (),
            labels={"com.docker.stack.namespace": definition.namespace} if flavor == "swarm" else {},
            containers=tuple(replace(container, image=image) for container in definition.containers),
            tasks=tuple(tasks), created=self._at(-86400),
            details=self._details(definition),
            rollback_refusal="" if self._rollback_target(definition)[1] else f"{ref} has nothing to roll back to",
            autoscaler=self._autoscaler(definition, desired),
        )

    def _running_image(self, image: str, *, moved: bool = False) -> tuple[RunningImage, ...]:
        """What a task runs: one digest per image (shared: a big fleet holds one per image, not per task);
        `moved` is the same tag pulled after it was moved in the registry."""
        key = f"{image} moved" if moved else image
        known = self._images.get(key)
        if known is None:
            digest = "sha256:" + hashlib.sha256(key.encode()).hexdigest()
            known = self._images[key] = (RunningImage(image, digest, image.rsplit("/", 1)[-1].split(":")[0]),)
        return known

    def _autoscaler(self, definition: _ServiceDef, desired: int) -> Autoscaler | None:
        if definition.autoscale is None:
            return None
        minimum, maximum = definition.autoscale
        if self.flavor == "kubernetes":
            return Autoscaler("HorizontalPodAutoscaler", definition.name, minimum, maximum, desired, desired,
                              "cpu 41%/70%")
        return Autoscaler("Application Auto Scaling", f"service/{definition.namespace}/{definition.name}", minimum,
                          maximum, desired, desired, "ECSServiceAverageCPUUtilization 60 (target tracking)")

    def _version(self, definition: _ServiceDef) -> str:
        if self.flavor == "ecs":
            return f"{definition.name}:{definition.revision}"
        if self.flavor == "kubernetes":
            return f"revision {definition.revision}"
        return f"v{definition.revision * 11}"

    def _details(self, definition: _ServiceDef) -> dict[str, str]:
        if self.flavor == "ecs":
            return {"launch type": "EC2", "task definition": f"{definition.name}:{definition.revision}"}
        if self.flavor == "kubernetes":
            return {"selector": f"app={definition.name}"}
        return {}

    def _health(self, definition: _ServiceDef) -> Health:
        return Health.HEALTHY if definition.healthcheck else Health.NONE

    def _rollout_at(self, definition: _ServiceDef, t: float) -> tuple[Rollout, str, int]:
        """(rollout, image the not-yet-updated tasks run, how many tasks run the new image)."""
        if not definition.rolling_to:
            state = RolloutState.ROLLED_BACK if definition.rolled_back_at is not None else RolloutState.STABLE
            message = "rolled back by operator" if definition.rolled_back_at is not None else ""
            return (Rollout(state=state, updated=definition.desired, total=definition.desired, message=message),
                    definition.image, 0)
        total = definition.desired
        paused = definition.paused_at is not None
        t = (definition.paused_at if definition.paused_at is not None else t) - definition.paused_for
        fraction = min(1.0, max(0.0, t / ROLLOUT_SECONDS))
        updated = int(total * fraction)
        old_tag = definition.image.rsplit(":", 1)[-1]
        new_tag = definition.rolling_to.rsplit(":", 1)[-1]
        if fraction >= 1.0:
            return (Rollout(state=RolloutState.STABLE, updated=total, total=total, started=self._at(0),
                            finished=self._at(ROLLOUT_SECONDS), message="update completed",
                            from_version=old_tag, to_version=new_tag), definition.rolling_to, total)
        return (Rollout(state=RolloutState.PAUSED if paused else RolloutState.UPDATING, updated=updated,
                        total=total, started=self._at(0),
                        message=f"{'paused by operator' if paused else 'updating'} {definition.name}: {old_tag} -> "
                                f"{new_tag}",
                        from_version=old_tag, to_version=new_tag), definition.image, updated)

    def _events_at(self, t: float) -> tuple[Event, ...]:
        # In the words of the orchestrator imitated: "deployment prod/api", "container instance ...", NotReady.
        words, api = self._words, f"{self._workload_kind()} {self._api_ref()}"
        events = [Event(self._at(0), self.name, api, "update", "rolling update started", service_ref=self._api_ref())]
        if t >= ROLLOUT_SECONDS:
            events.append(Event(self._at(ROLLOUT_SECONDS), self.name, api, "update",
                                "rolling update completed", service_ref=self._api_ref()))
        if t >= NODE_DOWN_AT and len(self.nodes) >= 3:
            events.append(Event(self._at(NODE_DOWN_AT), self.name, f"{words.node} {self.nodes[2].name}", "state",
                                f"{words.node} {words.node_down}: {words.tasks} rescheduled"))
        if t >= NODE_BACK_AT and len(self.nodes) >= 3:
            events.append(Event(self._at(NODE_BACK_AT), self.name, f"{words.node} {self.nodes[2].name}", "state",
                                f"{words.node} {words.node_ready}"))
        events.extend(self._audit_events)
        return tuple(sorted(events, key=lambda event: event.time))

    def _api_ref(self) -> str:
        definition = self.services[0]
        return _ref(self.flavor, definition.namespace, definition.name)

    def logs(self, service: Service, *, task_id: str = "", tail: int = 200, follow: bool = False,
             stop: threading.Event | None = None) -> Iterator[LogLine]:
        """Made-up but plausible lines, per task; following adds one line a second per service."""
        tasks = [task for task in service.tasks if not task_id or task.id.startswith(task_id)]
        if task_id and not tasks:
            raise NotFound(f"no task {task_id!r} in {service.ref}")
        running = [task for task in tasks if task.desired_state is TaskState.RUNNING] or tasks
        t = self.now()
        # A line a second up to now, but never before the first of these tasks started: a young task's tail is
        # packed into its short life, and each line comes from a task that had started by then.
        now = self._at(t)
        first = min((task.started for task in running if task.started is not None), default=None)
        span = float(tail) if first is None else min(float(tail), max(0.0, (now - first).total_seconds()))
        for number in range(tail):
            time_at = now - timedelta(seconds=span * (tail - number) / tail)
            alive = [task for task in running if task.started is None or task.started <= time_at]
            if alive:
                task = alive[number % len(alive)]
                yield LogLine(time_at, f"{task.id}@{task.node_name}", _demo_log_text(service, number))
        number = tail
        waiter = stop or threading.Event()
        if follow and self.frozen_at is not None:
            # Frozen time says nothing new: a follow waits quietly until it is stopped.
            waiter.wait()
            return
        while follow and running and not waiter.wait(1.0):
            task = running[number % len(running)]
            yield LogLine(self._at(self.now()), f"{task.id}@{task.node_name}", _demo_log_text(service, number))
            number += 1

    # -- mutations ----------------------------------------------------------------------------

    def inspect(self, target: InspectTarget) -> InspectResult:
        from pilothouse.providers.demo_inspect import demo_inspect

        return demo_inspect(self.snapshot(), target)

    def revisions_diff(self, service: Service) -> RevisionDiff:
        """The demo records images only: the previous one -> the current one."""
        definition = self._definition(service)
        with self._lock:
            current, target = self._rollback_target(definition)
        if not target:
            raise NoPreviousRevision(f"{service.ref} has no previous revision in the demo")
        return RevisionDiff("previous", "current", (FieldChange("image", target, current),))

    def _definition(self, service: Service) -> _ServiceDef:
        for index, definition in enumerate(self.services):
            if f"{self.name}-svc-{index:04d}" == service.id:
                return definition
        raise NotFound(f"service {service.ref} not found in {self.name}")

    def plan_scale(self, service: Service, replicas: int) -> MutationPlan:
        self.check(Action.SCALE, service)
        definition = self._definition(service)
        return MutationPlan(Action.SCALE, self.name, service.ref, service.id,
                            before=str(definition.desired), after=str(replicas))

    def plan_autoscale_bounds(self, service: Service, minimum: int, maximum: int) -> MutationPlan:
        self.check(Action.AUTOSCALE_BOUNDS, service)
        definition = self._definition(service)
        if definition.autoscale is None:
            raise NotSupported(f"no autoscaler owns the replicas of {service.ref}")
        before_min, before_max = definition.autoscale
        return MutationPlan(Action.AUTOSCALE_BOUNDS, self.name, service.ref, service.id,
                            before=f"min {before_min}, max {before_max}", after=f"min {minimum}, max {maximum}",
                            detail=f"min {before_min} -> {minimum}, max {before_max} -> {maximum}",
                            payload={"min": minimum, "max": maximum})

    def _rollback_target(self, definition: _ServiceDef) -> tuple[str, str]:
        """(current image, image a rollback returns to); "" when there is nothing to roll back to."""
        rolling = bool(definition.rolling_to) and self.now() < ROLLOUT_SECONDS
        current = definition.rolling_to if definition.rolling_to and not rolling else definition.image
        if rolling:
            current = definition.rolling_to
        target = definition.image if definition.rolling_to else definition.previous_image
        return current, "" if not target or target == current else target

    def plan_rollback(self, service: Service) -> MutationPlan:
        self.check(Action.ROLLBACK, service)
        definition = self._definition(service)
        with self._lock:
            current, target = self._rollback_target(definition)
        if not target:
            raise NotSupported(f"{service.ref} has nothing to roll back to",
                               "it has no previous version recorded")
        return MutationPlan(Action.ROLLBACK, self.name, service.ref, service.id,
                            before=current, after=target, payload={"target": target})

    def refusal(self, action: Action, service: Service) -> str | None:
        if action in (Action.PAUSE, Action.RESUME):
            # The simulated orchestrators answer as the real providers do.
            if self.flavor == "ecs":
                return "ECS deployments cannot be paused or resumed: a deployment runs to the end, or its circuit " \
                       "breaker rolls it back; roll back or restart instead"
            if self.flavor == "swarm" and action is Action.PAUSE:
                return "Swarm cannot pause an update on request; it pauses one by itself when a task fails"
            paused = service.rollout.state is RolloutState.PAUSED
            if action is Action.PAUSE and service.rollout.state is not RolloutState.UPDATING:
                return f"{service.ref} has no rollout in progress to pause"
            if action is Action.RESUME and not paused:
                return f"{service.ref} is not paused: nothing to resume"
        return super().refusal(action, service)

    def plan_pause(self, service: Service) -> MutationPlan:
        self.check(Action.PAUSE, service)
        return MutationPlan(Action.PAUSE, self.name, service.ref, service.id,
                            before=f"rolling out, {service.rollout.updated}/{service.rollout.total} updated",
                            after="paused where it is")

    def plan_resume(self, service: Service) -> MutationPlan:
        self.check(Action.RESUME, service)
        return MutationPlan(Action.RESUME, self.name, service.ref, service.id,
                            before=f"paused at {service.rollout.updated}/{service.rollout.total} updated",
                            after="rolling out again")

    def plan_restart(self, service: Service) -> MutationPlan:
        self.check(Action.RESTART, service)
        definition = self._definition(service)
        with self._lock:
            current, _ = self._rollback_target(definition)
        return MutationPlan(Action.RESTART, self.name, service.ref, service.id,
                            before=current, after="every task replaced, same spec")

    def plan_exec(self, service: Service, *, task_id: str = "", container: str = "", command: tuple[str, ...] = (),
                  tty: bool = False) -> MutationPlan:
        self.check(Action.EXEC, service)
        return demo_exec.plan_exec(self.name, service, self.words, task_id=task_id, container=container,
                                   command=command, tty=tty)

    def run_exec(self, plan: MutationPlan, streams: ExecStreams) -> int:
        return demo_exec.run_exec(plan, streams)

    def _plan_node(self, action: Action, node: Node) -> MutationPlan:
        wanted = {Action.CORDON: Availability.PAUSE, Action.UNCORDON: Availability.ACTIVE,
                  Action.DRAIN: Availability.DRAIN}[action]
        current = next((known for known in self.nodes if known.id == node.id), None)
        if current is None:
            raise NotFound(f"node {node.name} not found in {self.name}")
        if current.availability is wanted:
            raise NotSupported(f"node {node.name} is already {wanted.value}", "nothing to change")
        return MutationPlan(action, self.name, node.name, node.id, before=f"availability {current.availability.value}",
                            after=f"availability {wanted.value}", payload={"availability": wanted.value})

    def node_refusal(self, action: Action, node: Node) -> str | None:
        """Gated by state as the real providers are: nothing to change is not offered."""
        current = node.availability
        if (action is Action.CORDON and current is not Availability.ACTIVE) or (
                action is Action.DRAIN and current is Availability.DRAIN):
            return f"node {node.name} is already {node.availability_word}"
        if action is Action.UNCORDON and current is Availability.ACTIVE:
            return f"node {node.name} is already {node.availability_word}; nothing to uncordon"
        return super().node_refusal(action, node)

    def plan_cordon(self, node: Node) -> MutationPlan:
        return self._plan_node(Action.CORDON, node)

    def plan_uncordon(self, node: Node) -> MutationPlan:
        return self._plan_node(Action.UNCORDON, node)

    def plan_drain(self, node: Node) -> MutationPlan:
        return self._plan_node(Action.DRAIN, node)

    def apply(self, plan: MutationPlan) -> str:
        if plan.action in NODE_ACTIONS:
            with self._lock:
                wanted = Availability(str(plan.payload["availability"]))
                # Replaced, not changed in place: snapshots already handed out keep what they showed.
                self.nodes = [replace(node, availability=wanted, raw_availability=wanted.value)
                              if node.id == plan.service_id else node for node in self.nodes]
            return f"node {plan.service_ref}: {plan.before} -> {plan.after}"
        with self._lock:
            index = next((i for i, _ in enumerate(self.services) if f"{self.name}-svc-{i:04d}" == plan.service_id),
                         None)
            if index is None:
                raise NotFound(f"service {plan.service_ref} not found in {self.name}")
            definition = self.services[index]
            t = self.now()
            if plan.action is Action.SCALE:
                before, after = definition.desired, int(plan.after)
                for slot in range(before + 1, after + 1):
                    definition.starts[slot] = t  # new tasks start now
                for slot in [slot for slot in definition.starts if slot > after]:
                    del definition.starts[slot]  # a slot scaled away and back is a new task
                definition.desired = after
                message = f"scaled {plan.service_ref} from {plan.before} to {plan.after}"
            elif plan.action is Action.RESTART:
                message = f"restarting {plan.service_ref} (every task is replaced from the same spec)"
            elif plan.action is Action.PAUSE:
                definition.paused_at = t
                message = f"paused the rollout of {plan.service_ref}"
            elif plan.action is Action.RESUME:
                if definition.paused_at is not None:
                    definition.paused_for += t - definition.paused_at
                definition.paused_at = None
                message = f"resumed the rollout of {plan.service_ref}"
            elif plan.action is Action.AUTOSCALE_BOUNDS:
                minimum, maximum = int(plan.payload["min"]), int(plan.payload["max"])
                definition.autoscale = (minimum, maximum)
                # As an autoscaler does: the replica count moves into the new bounds.
                definition.desired = min(max(definition.desired, minimum), maximum)
                message = f"autoscaler of {plan.service_ref} now has min {minimum}, max {maximum}"
            else:
                target = str(plan.payload["target"])
                definition.previous_image = plan.before
                definition.image = target
                definition.rolling_to = ""
                definition.revision += 1
                definition.rolled_back_at = t
                # Every task is replaced by one running the version rolled back to.
                definition.starts = {slot: t for slot in range(1, definition.desired + 1)}
                message = f"rolled back {plan.service_ref} from {plan.before} to {target}"
            self._audit_events.append(Event(self._at(t), self.name, f"service {plan.service_ref}",
                                            plan.action.value, message, service_ref=plan.service_ref))
            del self._audit_events[:-100]
        return message


def _demo_log_text(service: Service, number: int) -> str:
    if service.health.unhealthy and number % 5 == 0:
        return f"ERROR upstream timeout after 5000ms (request {number})"
    return f"INFO {service.name}: handled request {number} in {3 + number % 17}ms"


def demo_cluster_configs(tasks: int | None = None, frozen_at: float | None = None) -> tuple[ClusterConfig, ...]:
    """The three demo clusters; `tasks` is the fleet total, split evenly."""
    configs = []
    total = 3 * DEFAULT_TASKS_PER_CLUSTER if tasks is None else tasks
    if not 0 <= total <= MAX_DEMO_TASKS:
        raise InvalidInput(f"--demo-tasks must be between 0 and {MAX_DEMO_TASKS}, not {total}")
    for position, (flavor, name) in enumerate(DEMO_CLUSTER_NAMES.items()):
        share = total // 3 + (1 if position < total % 3 else 0)
        options: dict[str, Any] = {"flavor": flavor, "tasks": share}
        if frozen_at is not None:
            options["frozen_at"] = frozen_at
        configs.append(ClusterConfig(name=name, provider="demo", refresh_interval=1.0, options=options))
    return tuple(configs)
