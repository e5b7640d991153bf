"""A Nomad-like orchestrator served from memory: jobs, allocations, clients. Real enough for every screen:
a client that is down, one that is draining, a system job (one allocation per client), a failed allocation,
events. Uses only pilothouse's public provider API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from pilothouse.providers.base import Capability, MutationPlan, Provider
from pilothouse.providers.errors import NotSupported
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
    Service,
    ServiceMode,
    Task,
    TaskState,
)
from pilothouse.providers.vocabulary import RESTARTS, Vocabulary

KIND = "nomad-like"
NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)

NOMAD_WORDS = Vocabulary(
    orchestrator="Nomad-like", task="allocation", tasks="allocations", node="client", nodes="clients",
    service="job", services="jobs", running="running",
    state_label="client status", state_column="CLIENT STATUS", desired_label="desired status",
    desired_column="DESIRED", error_label="task event", error_column="TASK EVENT", node_column="CLIENT",
    restarts_label="restarts", task_extras=(RESTARTS,),
    node_ready="ready", node_down="disconnected", node_unknown="initializing", drain="draining",
    pause="ineligible", global_mode="system job",
    global_scale_hint="it places one allocation on every eligible client; change its constraints instead",
)


def _alloc(job: str, index: int, client: str, **fields: Any) -> Task:
    return Task(id=f"{job}[{index}]-a1b2c3d{index}", service_id=f"job-{job}", node_id=client, node_name=client,
                state=fields.pop("state", TaskState.RUNNING), health=fields.pop("health", Health.HEALTHY),
                raw_state=fields.pop("raw_state", "running"), version="v3", started=NOW - timedelta(minutes=42),
                **fields)


def _job(name: str, tasks: tuple[Task, ...], mode: ServiceMode = ServiceMode.REPLICATED,
         desired: int | None = None) -> Service:
    running = sum(1 for task in tasks if task.state is TaskState.RUNNING)
    return Service(
        id=f"job-{name}", name=name, ref=f"default/{name}", namespace="default", workload_kind="job",
        image=f"registry.example.com/{name}:3.0", version="v3", mode=mode,
        desired=len(tasks) if desired is None else desired, running=running, health=HealthCounts.of(tasks),
        containers=(ContainerSpec(name=name, image=f"registry.example.com/{name}:3.0", healthcheck=True,
                                  memory_limit_bytes=256 * 1024 * 1024),),
        tasks=tasks, created=NOW - timedelta(days=3),
    )


def _cron() -> Service:
    """One allocation, no health check, no memory limit: the doctor has something to say about it."""
    job = _job("cron", (_alloc("cron", 0, "client-1", health=Health.NONE),))
    job.containers = (ContainerSpec(name="cron", image="registry.example.com/cron:3.0"),)
    return job


class NomadLikeProvider(Provider):
    kind = ClusterKind(KIND)
    VOCABULARY = NOMAD_WORDS
    CAPABILITIES: ClassVar[frozenset[Capability]] = frozenset({Capability.SCALE})

    def connect(self) -> None:
        """Nothing to open: the cluster is in memory."""

    def snapshot(self) -> Cluster:
        clients = (
            Node(id="client-1", name="client-1", role="client", status=NodeStatus.READY, version="1.9.0"),
            Node(id="client-2", name="client-2", role="client", status=NodeStatus.DOWN, version="1.9.0",
                 message="missed heartbeats"),
            Node(id="client-3", name="client-3", role="client", status=NodeStatus.READY,
                 availability=Availability.DRAIN, version="1.9.0"),
        )
        web = (_alloc("web", 0, "client-1", restarts=2),
               _alloc("web", 1, "client-2", state=TaskState.FAILED, desired_state=TaskState.RUNNING,
                      health=Health.UNHEALTHY, raw_state="failed", exit_code=1, stopped=NOW - timedelta(seconds=30),
                      error="Exit Code: 1, Exit Message: \"listen tcp :8080: bind: address already in use\""))
        agent = tuple(_alloc("log-agent", index, client.id) for index, client in enumerate(clients))
        return Cluster(
            name=self.name, kind=self.kind, state=ConnectionState.CONNECTED, last_sync=NOW,
            nodes=clients,
            services=(_job("web", web, desired=2), _job("log-agent", agent, ServiceMode.GLOBAL), _cron()),
            events=(Event(NOW - timedelta(seconds=30), self.name, "allocation web[1]", "state",
                          "Alloc failed: Exit Code 1", service_ref="default/web"),),
            endpoint="http://127.0.0.1:4646",
        )

    def plan_scale(self, service: Service, replicas: int) -> MutationPlan:
        raise NotSupported("this in-memory nomad-like cluster changes nothing")

    def plan_rollback(self, service: Service) -> MutationPlan:
        raise NotSupported("nomad-like jobs are reverted with `nomad job revert`, not from here")

    def apply(self, plan: MutationPlan) -> str:
        raise NotSupported("this in-memory nomad-like cluster changes nothing")
