"""The tiered list/describe calls of one ECS provider, and what they keep between refreshes.

API economy, per refresh and per ECS cluster (N services, M tasks, C container instances):
ceil(N/100) ListServices + ceil(N/10) DescribeServices, and on task refreshes (every TASKS_EVERY-th refresh,
the last tasks are kept in between) ceil(M/100) ListTasks + ceil(M/100) DescribeTasks + 2*ceil(C/100)
for container instances. M counts the tasks described: those listed as RUNNING plus those that vanished from
that list since the last look (they are described once more, to show why they stopped, then remembered
for STOPPED_RETENTION_S). Task definitions are immutable: described once per ARN and cached. ListClusters
runs at connect and, when `clusters` is unset, every CLUSTER_RELIST_S.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pilothouse.providers.ecs.client import DESCRIBE_WORKERS, LIST_PAGE, AwsClients
from pilothouse.providers.ecs.events import observe_deployments
from pilothouse.providers.ecs.raw import Raw, as_dict, as_str, cluster_name_of, dicts, task_definition_label
from pilothouse.providers.errors import Forbidden, InvalidInput, NotFound, Throttled
from pilothouse.providers.model import Event

# AWS limits per call.
DESCRIBE_SERVICES_MAX = 10
DESCRIBE_TASKS_MAX = 100
DESCRIBE_INSTANCES_MAX = 100
DESCRIBE_CLUSTERS_MAX = 100

TASKS_EVERY = 2  # tasks and container instances refresh on every 2nd refresh
CLUSTER_RELIST_S = 300.0
STOPPED_RETENTION_S = 900.0
STOPPED_KEEP_PER_CLUSTER = 200


def chunks(items: Sequence[str], size: int) -> list[list[str]]:
    return [list(items[i:i + size]) for i in range(0, len(items), size)]


def api_budget(services: int, tasks: int, instances: int) -> int:
    """The most calls one full refresh of one ECS cluster may make (the issue's formula)."""
    return (math.ceil(services / LIST_PAGE) + math.ceil(services / DESCRIBE_SERVICES_MAX)
            + 2 * math.ceil(tasks / LIST_PAGE) + 2 * math.ceil(instances / LIST_PAGE))


@dataclass(slots=True)
class EcsClusterState:
    """What the last refreshes saw of one ECS cluster, as raw AWS dicts (mapped afresh each snapshot)."""

    arn: str
    name: str
    services: list[Raw] = field(default_factory=list)
    services_seen: bool = False
    tasks: dict[str, Raw] = field(default_factory=dict)  # listed RUNNING, by task ARN
    stopped: dict[str, tuple[float, Raw]] = field(default_factory=dict)  # by task ARN: (seen at, raw)
    instances: list[Raw] = field(default_factory=list)
    problem: str = ""
    # Deployment changes seen between refreshes, by service ARN: ECS reports no such events itself.
    deployment_events: dict[str, deque[Event]] = field(default_factory=dict)


@dataclass(slots=True)
class RefreshOutcome:
    throttled: bool = False
    forbidden: list[str] = field(default_factory=list)  # what could not be read, e.g. "tasks (shop)"


class EcsFetcher:
    """Lists and describes one provider's ECS clusters in tiers; the provider maps what it keeps."""

    def __init__(self, api: AwsClients, cluster: str, wanted_clusters: list[str] | None) -> None:
        self.api = api
        self.cluster = cluster  # the configured cluster's name, which the events carry
        self.wanted_clusters = wanted_clusters
        self.pool: ThreadPoolExecutor | None = None
        self.clusters: dict[str, EcsClusterState] = {}
        self.missing_clusters: list[str] = []
        self.task_definitions: dict[str, Raw] = {}
        self.tasks_due = True
        self._undescribable: set[str] = set()
        self._listed_at = 0.0
        self._refreshes = 0

    def start(self) -> None:
        if self.pool is None:
            self.pool = ThreadPoolExecutor(DESCRIBE_WORKERS, thread_name_prefix=f"ecs-{self.cluster}")

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=False, cancel_futures=True)
            self.pool = None

    def parallel(self, function: Callable[[list[str]], list[Raw]], batches: list[list[str]]) -> list[Raw]:
        if not batches:
            return []
        if self.pool is None or len(batches) == 1:
            return [item for batch in batches for item in function(batch)]
        futures = [self.pool.submit(function, batch) for batch in batches]
        results: list[Raw] = []
        first_error: BaseException | None = None
        for future in futures:
            try:
                results.extend(future.result())
            except BaseException as error:  # re-raised below, once every batch has finished
                first_error = first_error or error
        if first_error is not None:
            raise first_error
        return results

    def discover_clusters(self) -> None:
        if self.wanted_clusters is None:
            arns = self.api.pages("list_clusters", "clusterArns")
            found = {arn: cluster_name_of(arn) for arn in arns}
            self.missing_clusters = []
        else:
            found = {}
            missing: list[str] = []
            for batch in chunks(self.wanted_clusters, DESCRIBE_CLUSTERS_MAX):
                answer = self.api.call("describe_clusters", clusters=batch)
                for cluster in dicts(answer.get("clusters")):
                    if as_str(cluster.get("status")).upper() in ("ACTIVE", "PROVISIONING", ""):
                        found[as_str(cluster.get("clusterArn"))] = as_str(cluster.get("clusterName"))
                    else:
                        missing.append(as_str(cluster.get("clusterName")))
                missing += [cluster_name_of(as_str(f.get("arn"))) for f in dicts(answer.get("failures"))]
            if not found:
                names = ", ".join(self.wanted_clusters) or "(none)"
                raise NotFound(f"no such ECS cluster in {self.api.identity.region or 'this region'}: {names}",
                               "check `clusters` and `region` in the config")
            self.missing_clusters = missing
        self.clusters = {
            arn: self.clusters.get(arn) or EcsClusterState(arn=arn, name=name) for arn, name in found.items()
        }
        self._listed_at = time.monotonic()

    def refresh(self) -> RefreshOutcome:
        """One refresh: services always, tasks and container instances when due, new task definitions."""
        if self.wanted_clusters is None and time.monotonic() - self._listed_at > CLUSTER_RELIST_S:
            try:
                self.discover_clusters()
            except (Throttled, Forbidden):
                self._listed_at = time.monotonic()  # keep the clusters we know; try again later
        tasks_due = self.tasks_due or self._refreshes % TASKS_EVERY == 0
        self._refreshes += 1
        outcome = RefreshOutcome()
        tasks_complete = True
        for state in list(self.clusters.values()):
            state.problem = ""
            parts: list[tuple[str, Callable[[EcsClusterState], None]]] = [("services", self._refresh_services)]
            if tasks_due:
                parts += [("tasks", self._refresh_tasks), ("container instances", self._refresh_instances)]
            for kind, refresh in parts:
                try:
                    refresh(state)
                except Throttled:
                    outcome.throttled = True
                    tasks_complete = tasks_complete and kind == "services"
                except Forbidden:
                    outcome.forbidden.append(f"{kind} ({state.name})")
                    tasks_complete = tasks_complete and kind == "services"
                except InvalidInput as error:  # the cluster was deleted, or AWS refused the request
                    state.problem = str(error)
        try:
            self._describe_new_task_definitions()
        except Throttled:
            outcome.throttled = True
        except Forbidden:
            outcome.forbidden.append("task definitions")
        if tasks_due and tasks_complete:
            self.tasks_due = False
        return outcome

    def _refresh_services(self, state: EcsClusterState) -> None:
        arns = self.api.pages("list_services", "serviceArns", cluster=state.arn)

        def describe(batch: list[str]) -> list[Raw]:
            answer = self.api.call("describe_services", cluster=state.arn, services=batch, include=["TAGS"])
            return dicts(answer.get("services"))

        services = self.parallel(describe, chunks(arns, DESCRIBE_SERVICES_MAX))
        fresh = [s for s in services if as_str(s.get("status")).upper() != "INACTIVE"]
        if state.services_seen:
            state.deployment_events = observe_deployments(
                state.deployment_events, state.services, fresh, self.cluster, state.name, datetime.now(UTC))
        state.services = fresh
        state.services_seen = True

    def _refresh_tasks(self, state: EcsClusterState) -> None:
        # AWS lists RUNNING by default; moto lists everything unless asked, so ask explicitly.
        listed = self.api.pages("list_tasks", "taskArns", cluster=state.arn, desiredStatus="RUNNING")
        listed_set = set(listed)
        vanished = [arn for arn in state.tasks if arn not in listed_set]

        def describe(batch: list[str]) -> list[Raw]:
            return dicts(self.api.call("describe_tasks", cluster=state.arn, tasks=batch).get("tasks"))

        described = self.parallel(describe, chunks(listed + vanished, DESCRIBE_TASKS_MAX))
        now = time.monotonic()
        running: dict[str, Raw] = {}
        for task in described:
            arn = as_str(task.get("taskArn"))
            if arn in listed_set and as_str(task.get("desiredStatus")).upper() != "STOPPED":
                running[arn] = task
            else:
                state.stopped[arn] = (now, task)
        state.tasks = running
        fresh = sorted(((seen, arn) for arn, (seen, _) in state.stopped.items()
                        if now - seen < STOPPED_RETENTION_S), reverse=True)
        keep = {arn for _, arn in fresh[:STOPPED_KEEP_PER_CLUSTER]}
        state.stopped = {arn: entry for arn, entry in state.stopped.items() if arn in keep}

    def _refresh_instances(self, state: EcsClusterState) -> None:
        has_ec2_tasks = any(as_str(t.get("containerInstanceArn")) for t in state.tasks.values())
        # A Fargate-only cluster costs nothing here once we have looked and found no instances.
        if not (state.instances or has_ec2_tasks or self._refreshes <= 1 or self._refreshes % 30 == 1):
            return
        arns = self.api.pages("list_container_instances", "containerInstanceArns", cluster=state.arn)

        def describe(batch: list[str]) -> list[Raw]:
            answer = self.api.call("describe_container_instances", cluster=state.arn, containerInstances=batch)
            return dicts(answer.get("containerInstances"))

        state.instances = self.parallel(describe, chunks(arns, DESCRIBE_INSTANCES_MAX))

    def _describe_new_task_definitions(self) -> None:
        wanted: set[str] = set()
        for state in self.clusters.values():
            wanted.update(as_str(s.get("taskDefinition")) for s in state.services)
            wanted.update(as_str(t.get("taskDefinitionArn")) for t in state.tasks.values())
        unseen = sorted(arn for arn in wanted
                        if arn and arn not in self.task_definitions and arn not in self._undescribable)

        def describe(batch: list[str]) -> list[Raw]:
            try:
                answer = self.api.call("describe_task_definition", taskDefinition=batch[0])
            except InvalidInput:
                # Deleted or malformed: show the service without its containers rather than fail each refresh.
                self._undescribable.add(batch[0])
                return []
            return [as_dict(answer.get("taskDefinition"))]

        for definition in self.parallel(describe, [[arn] for arn in unseen]):
            arn = as_str(definition.get("taskDefinitionArn"))
            if arn:
                self.task_definitions[arn] = definition

    def task_definition(self, version: str) -> Raw:
        """A task definition by ARN or family:revision, from the cache (they are immutable) or described once."""
        if not version:
            return {}
        for arn, definition in list(self.task_definitions.items()):
            if version in (arn, task_definition_label(arn)):
                return definition
        definition = as_dict(self.api.call("describe_task_definition", taskDefinition=version).get("taskDefinition"))
        arn = as_str(definition.get("taskDefinitionArn"))
        if arn:
            self.task_definitions[arn] = definition
        return definition
