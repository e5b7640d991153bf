"""EcsProvider: AWS ECS (EC2 and Fargate) through boto3, polled in tiers with a fixed API budget.

One config entry may cover several ECS clusters (option `clusters`, default: every cluster of the
account/region). The provider wires the rooms of this package together: client.py (session, clients),
fetch.py (what is listed and described when), mapping.py and events.py (AWS dicts -> model), logs.py,
actions.py and rollback.py. A part that cannot be read (throttled after botocore's retries, denied, failed)
is a gap in `Cluster.missing`, never an empty list: its earlier data, if any, stays with its age (the
services marked stale), and a throttled call waits a growing cool-down of its own while the others go on.
A one-shot command (`one_shot`) retries what is missing until its deadline.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from threading import Event as ThreadEvent
from typing import ClassVar

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
from pilothouse.providers.ecs import actions, autoscaling, node_actions
from pilothouse.providers.ecs import exec as task_exec
from pilothouse.providers.ecs.advice import EcsAdvice
from pilothouse.providers.ecs.client import AwsClients
from pilothouse.providers.ecs.events import EVENTS_PER_CLUSTER, service_events
from pilothouse.providers.ecs.fetch import EcsFetcher
from pilothouse.providers.ecs.inspect import inspect as inspect_object
from pilothouse.providers.ecs.logs import LogReader
from pilothouse.providers.ecs.mapping import map_container_instance, map_service, map_task, zone_node
from pilothouse.providers.ecs.networks import build_networks
from pilothouse.providers.ecs.raw import as_str
from pilothouse.providers.ecs.revisions import definitions_diff
from pilothouse.providers.ecs.rollback import RevisionRecord, rollback_target
from pilothouse.providers.ecs.vocabulary import ECS_WORDS
from pilothouse.providers.errors import InvalidInput, NotSupported
from pilothouse.providers.exec import ExecStreams
from pilothouse.providers.inspect import InspectResult, InspectTarget
from pilothouse.providers.model import Cluster, ClusterKind, ConnectionState, Event, Network, Node, Service, Task
from pilothouse.providers.revisions import NoPreviousRevision, RevisionDiff

# A one-shot command's rounds of reading again what is still missing: the first wait, doubled each round.
RETRY_ROUND_S = 0.5


class EcsProvider(Provider):
    kind = ClusterKind.ECS
    VOCABULARY = ECS_WORDS
    OPTIONS: ClassVar[Mapping[str, Option]] = {
        "region": Option((str,), "AWS region (default: AWS_REGION or the profile's region)"),
        "profile": Option((str,), "AWS profile, SSO profiles included (default: AWS_PROFILE or default)"),
        "endpoint_url": Option((str,), "ECS endpoint (default: AWS_ENDPOINT_URL_ECS / AWS_ENDPOINT_URL / AWS)"),
        "clusters": Option((list,), "ECS cluster names or ARNs to show (default: every cluster in the region)"),
        "logs_endpoint_url": Option((str,), "CloudWatch Logs endpoint (default: endpoint_url when set, else "
                                            "AWS_ENDPOINT_URL_LOGS / AWS_ENDPOINT_URL / AWS)"),
    }
    CAPABILITIES: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.SCALE, Capability.ROLLBACK, Capability.RESTART, Capability.UNCORDON, Capability.DRAIN,
         Capability.LOGS, Capability.EXEC,
         Capability.AUTOSCALE_BOUNDS})
    ADVICE = EcsAdvice()

    def __init__(self, config: ClusterConfig) -> None:
        super().__init__(config)
        options = config.options
        self.region: str = str(options.get("region") or "")
        self.profile: str = str(options.get("profile") or "")
        self.endpoint_url: str = str(options.get("endpoint_url") or "")
        # A single-endpoint emulator (LocalStack, moto) serves logs where it serves ECS.
        self.logs_endpoint_url: str = str(options.get("logs_endpoint_url") or self.endpoint_url)
        wanted = options.get("clusters")
        self.wanted_clusters: list[str] | None = [str(c) for c in wanted] if isinstance(wanted, list) else None
        self._api = AwsClients(profile=self.profile, region=self.region, endpoint_url=self.endpoint_url,
                               logs_endpoint_url=self.logs_endpoint_url)
        self._fetch = EcsFetcher(self._api, self.name, self.wanted_clusters, config.refresh_interval)
        self._logs = LogReader(self._api, self._fetch, config.refresh_interval)
        self._renew_session = False  # set from the UI thread after a login: a fresh session next refresh
        self._deadline: float | None = None
        self._last: Cluster | None = None
        self._revisions: RevisionRecord | None = None
        self._lock = threading.Lock()

    # -- connection ---------------------------------------------------------------------------

    def connect(self) -> None:
        self._api.connect()
        self._fetch.start()
        if self._revisions is None:
            self._revisions = RevisionRecord.in_state_dir(self.config.state_dir)
        self._fetch.discover_clusters()

    def close(self) -> None:
        self._fetch.close()
        if self._revisions is not None:
            self._revisions.save()
        self._api.close()

    def login_command(self) -> LoginCommand | None:
        return self._api.login_command()

    def credentials_renewed(self) -> None:
        self._renew_session = True
        self._fetch.cooldown.clear()

    def one_shot(self, deadline: float) -> None:
        self._deadline = deadline
        self._api.one_shot(deadline)

    # -- snapshot -------------------------------------------------------------------------------

    def cooldown_length(self) -> float:
        """How long the longest current cool-down was set for (it doubles while a call stays throttled)."""
        return self._fetch.cooldown.longest()

    def cooldown_remaining(self) -> float:
        """The longest cool-down of a throttled ECS call (0 when none is throttled)."""
        return self._fetch.cooldown.remaining()

    def snapshot(self) -> Cluster:
        with self._lock:
            return self._snapshot()

    def _snapshot(self) -> Cluster:
        if self._renew_session:
            # A new botocore session reads the renewed SSO token (or profile) instead of cached credentials.
            self._renew_session = False
            self._api.forget_logs_clients()
            self.connect()
        elif not self._api.connected:
            self.connect()
        outcome = self._fetch.refresh(one_shot=self._deadline is not None)
        if self._deadline is not None:
            self._retry_until_deadline(self._deadline)
        self._remember_revisions()
        cluster = self._build()
        cluster.forbidden = tuple(outcome.forbidden)
        cluster.missing = self._fetch.missing()
        problems = [s.problem for s in self._fetch.clusters.values() if s.problem]
        if problems or cluster.missing:
            cluster.state = ConnectionState.DEGRADED
            cluster.error = "; ".join(problems)  # the gaps are in cluster.missing, not repeated here
        self._last = cluster
        return cluster

    def _retry_until_deadline(self, deadline: float) -> None:
        """Rounds of reading again only what is missing, backing off, until all is read or time is up."""
        wait = RETRY_ROUND_S
        while self._fetch.missing() and time.monotonic() + wait < deadline:
            time.sleep(wait * random.uniform(0.5, 1.0))  # jittered: two one-shot commands do not retry in step
            if not self._fetch.retry_missing():
                return
            wait = min(wait * 2, 8.0)

    def _remember_revisions(self) -> None:
        if self._revisions is None:
            return
        for state in self._fetch.clusters.values():
            for service in state.services:
                self._revisions.observe(as_str(service.get("serviceArn")), as_str(service.get("taskDefinition")))
        self._revisions.save()

    def _build(self) -> Cluster:
        nodes: dict[str, Node] = {}
        services: list[Service] = []
        networks: list[Network] = []
        events: list[Event] = []
        wall_now, mono_now = datetime.now(UTC), time.monotonic()
        for state in self._fetch.clusters.values():
            instance_names = {}
            for raw_instance in state.instances:
                node = map_container_instance(raw_instance, state.name)
                nodes[node.id] = node
                instance_names[node.id] = node.name
            by_service: dict[str, list[Task]] = {}
            service_ids = {
                as_str(s.get("serviceName")): as_str(s.get("serviceArn")) for s in state.services}
            stopped = sorted(state.stopped.values(), key=lambda e: e[0], reverse=True)
            seen_stopped = {id(raw): seen for seen, raw in stopped}
            for raw_task in [*state.tasks.values(), *(raw for _, raw in stopped)]:
                group = as_str(raw_task.get("group"))
                service_id = service_ids.get(group[len("service:"):]) if group.startswith("service:") else None
                if service_id is None:
                    continue
                task = map_task(raw_task, service_id, self._fetch.task_definitions.get(
                    as_str(raw_task.get("taskDefinitionArn"))), instance_names)
                seen = seen_stopped.get(id(raw_task))
                if seen is not None and task.stopped is None:
                    # No stoppedAt (AWS always sends one; moto does not): it stopped since the task refresh
                    # before the one that first saw it stopped, so that sighting is at most one refresh late.
                    task.stopped = wall_now - timedelta(seconds=max(0.0, mono_now - seen))
                by_service.setdefault(service_id, []).append(task)
                if not task.node_id.startswith("arn:") and task.node_id not in nodes:
                    nodes[task.node_id] = zone_node(task.node_id, task.node_name)
            # Earlier data in place of a part this refresh could not read is stale; never-read tasks are unknown.
            stale = any(self._fetch.part_missing(state, part) and part in state.observed
                        for part in ("services", "tasks"))
            tasks_known = "tasks" in state.observed
            observed = state.observed.get("services")
            state_networks, reach = build_networks(state.name, state.services, state.target_health)
            networks += state_networks
            mapped: list[Service] = []
            for raw_service in state.services:
                service = map_service(raw_service, state.name,
                                      self._fetch.task_definitions.get(as_str(raw_service.get("taskDefinition"))),
                                      by_service.get(as_str(raw_service.get("serviceArn")), []))
                service.observed, service.stale, service.tasks_known = observed, stale, tasks_known
                service.reachability = tuple(reach.get(service.id, ()))
                mapped.append(service)
                events += service_events(raw_service, self.name, service.ref)
                events += state.deployment_events.get(service.id, ())
            autoscaling.attach(mapped, state.name, self._fetch.scalable_targets, self._fetch.scaling_policies)
            services += mapped
        events.sort(key=lambda e: e.time)
        region = self._api.identity.region or "?"
        endpoint = f"{region} ({self.endpoint_url})" if self.endpoint_url else region
        return Cluster(
            name=self.name, kind=ClusterKind.ECS, state=ConnectionState.CONNECTED,
            last_sync=datetime.now(UTC), nodes=tuple(nodes.values()),
            services=tuple(sorted(services, key=lambda s: s.ref)), events=tuple(events[-EVENTS_PER_CLUSTER:]),
            endpoint=endpoint, networks=tuple(sorted(networks, key=lambda n: (n.kind, n.name))),
        )

    # -- logs -------------------------------------------------------------------------------------

    def logs(
        self, service: Service, *, task_id: str = "", tail: int = 200, follow: bool = False,
        stop: ThreadEvent | None = None,
    ) -> Iterator[LogLine]:
        """CloudWatch Logs of the service's awslogs containers, each line's source "task/container".

        Everything that can be refused is refused here, at the call, before the first line is read.
        `tail` is the last N lines over all streams; `follow` then polls until `stop` is set.
        """
        if not isinstance(tail, int) or isinstance(tail, bool) or tail < 0:
            raise InvalidInput(f"tail must be a whole number >= 0, not {tail!r}")
        if not self._api.connected:
            self.connect()
        return self._logs.open(service, task_id, tail, follow, stop or ThreadEvent())

    # -- mutations --------------------------------------------------------------------------------

    def refusal(self, action: Action, service: Service) -> str | None:
        # ECS's own reasons first: "cannot pause" says why ECS has no pause, not only that the provider lacks it.
        if action is Action.EXEC and (reason := task_exec.refusal(service)):
            return reason
        return actions.refusal(action, service) or super().refusal(action, service)

    def plan_scale(self, service: Service, replicas: int) -> MutationPlan:
        self.check(Action.SCALE, service)
        return actions.plan_scale(self._api, self.name, service, replicas)

    def plan_rollback(self, service: Service) -> MutationPlan:
        self.check(Action.ROLLBACK, service)
        return actions.plan_rollback(self._api, self.name, service, self._revisions)

    def revisions_diff(self, service: Service) -> RevisionDiff:
        """The revision a rollback would return to -> the current task definition."""
        live = actions.live_service(self._api, service)
        try:
            target, _ = rollback_target(self._api, live, self._revisions, service.ref)
        except NotSupported as error:
            raise NoPreviousRevision(str(error)) from None
        return definitions_diff(self._api, target, as_str(live.get("taskDefinition")))

    def inspect(self, target: InspectTarget) -> InspectResult:
        return inspect_object(self._api, target)

    def plan_restart(self, service: Service) -> MutationPlan:
        self.check(Action.RESTART, service)
        return actions.plan_restart(self._api, self.name, service)

    def node_refusal(self, action: Action, node: Node) -> str | None:
        return node_actions.refusal(action, node) or super().node_refusal(action, node)

    def plan_drain(self, node: Node) -> MutationPlan:
        return node_actions.plan_state(self._api, self.name, Action.DRAIN, node)

    def plan_uncordon(self, node: Node) -> MutationPlan:
        return node_actions.plan_state(self._api, self.name, Action.UNCORDON, node)

    def plan_autoscale_bounds(self, service: Service, minimum: int, maximum: int) -> MutationPlan:
        self.check(Action.AUTOSCALE_BOUNDS, service)
        if not self._api.connected:
            self.connect()
        return autoscaling.plan_bounds(self._api, self.name, service, minimum, maximum)

    def plan_exec(self, service: Service, *, task_id: str = "", container: str = "",
                  command: tuple[str, ...] = (), tty: bool = False) -> MutationPlan:
        """A task and container to exec into through ExecuteCommand (providers/ecs/exec.py); reads only."""
        self.check(Action.EXEC, service)
        if not self._api.connected:
            self.connect()
        return task_exec.plan_exec(self._api, self.name, service, task_id=task_id, container=container,
                                   command=tuple(command), tty=tty)

    def run_exec(self, plan: MutationPlan, streams: ExecStreams) -> int:
        if not self._api.connected:
            self.connect()
        return task_exec.run_exec(self._api, self.profile, plan, streams)

    def apply(self, plan: MutationPlan) -> str:
        if plan.action in (Action.DRAIN, Action.UNCORDON):
            return node_actions.apply_state(self._api, plan)
        if plan.action is Action.AUTOSCALE_BOUNDS:
            message = autoscaling.apply_bounds(self._api, plan)
            with self._lock:
                self._fetch.tasks_due = True  # the slow tier reads the targets again next refresh
            return message
        message = actions.apply(self._api, plan)
        with self._lock:
            self._fetch.tasks_due = True
        return message
