"""The tiered list/describe calls of one ECS provider, and what they keep between refreshes.

API economy, per refresh and per ECS cluster (N services, M tasks, C container instances):
ceil(N/100) ListServices + ceil(N/10) DescribeServices, and on task refreshes (every TASKS_EVERY-th refresh,
the last tasks are kept in between) ceil(M/100) ListTasks + ceil(M/100) DescribeTasks + 2*ceil(C/100)
for container instances + G DescribeTargetHealth (one per target group the services' load balancers
name), plus, per provider on those task refreshes, ceil(T/50) DescribeScalableTargets and
(when T > 0) ceil(P/50) DescribeScalingPolicies for the T scalable targets and P policies of Application Auto
Scaling's ecs namespace (autoscaling.py). M counts the tasks described: those listed as RUNNING plus those
that vanished from that list since the last look (they are described once more, to show why they stopped,
then remembered for STOPPED_RETENTION_S). Task definitions are immutable: described once per ARN and cached.
ListClusters runs at connect and, when `clusters` is unset, every CLUSTER_RELIST_S.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pilothouse.providers.completeness import Gaps, reason_of
from pilothouse.providers.ecs.autoscaling import autoscaling_budget, read_targets
from pilothouse.providers.ecs.client import DESCRIBE_WORKERS, LIST_PAGE, AwsClients
from pilothouse.providers.ecs.events import observe_deployments
from pilothouse.providers.ecs.raw import Raw, as_dict, as_str, cluster_name_of, dicts, task_definition_label
from pilothouse.providers.errors import (
    CredentialsError,
    Forbidden,
    InvalidInput,
    NotFound,
    ProviderError,
    Throttled,
    Unreachable,
)
from pilothouse.providers.model import Event, Missing

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


def api_budget(services: int, tasks: int, instances: int, target_groups: int = 0) -> int:
    """The most calls one full refresh of one ECS cluster may make (the issue's formula, plus one
    DescribeTargetHealth per target group on the task tier)."""
    return (math.ceil(services / LIST_PAGE) + math.ceil(services / DESCRIBE_SERVICES_MAX)
            + 2 * math.ceil(tasks / LIST_PAGE) + 2 * math.ceil(instances / LIST_PAGE) + target_groups)


def provider_budget(per_cluster: Sequence[tuple[int, int, int]], targets: int, policies: int) -> int:
    """The most calls one full refresh of a provider may make: each ECS cluster's api_budget, plus the
    autoscaling listings made once for all of them."""
    return sum(api_budget(*counts) for counts in per_cluster) + autoscaling_budget(targets, policies)


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
    # DescribeTargetHealth answers by target group ARN; None until read (then unknown, not zero).
    target_health: dict[str, list[Raw]] | None = None
    problem: str = ""
    # When each part ("services", "tasks", "container instances") was last read whole; absent: never.
    observed: dict[str, datetime] = field(default_factory=dict)
    # Deployment changes seen between refreshes, by service ARN: ECS reports no such events itself.
    deployment_events: dict[str, deque[Event]] = field(default_factory=dict)


@dataclass(slots=True)
class RefreshOutcome:
    throttled: bool = False
    forbidden: list[str] = field(default_factory=list)  # what could not be read, e.g. "tasks (shop)"


# Each part of an ECS cluster's data and the calls that read it: throttling slows each call on its own.
PARTS: dict[str, tuple[str, ...]] = {
    "services": ("ListServices", "DescribeServices"),
    "tasks": ("ListTasks", "DescribeTasks"),
    "container instances": ("ListContainerInstances", "DescribeContainerInstances"),
    "target health": ("DescribeTargetHealth",),
}
SLOW_PARTS = ("tasks", "container instances", "target health")
# The model's part each one feeds (Missing.part).
MODEL_PART = {"container instances": "nodes", "target health": "networks"}
MAX_THROTTLE_COOLDOWN_S = 60.0
DEFINITIONS_KEY = ("definitions", "task definitions")
AUTOSCALING_KEY = ("autoscaling", "scalable targets")


class ApiCooldown:
    """Per ECS API call: after throttling, that call waits a growing cool-down; the others go on."""

    def __init__(self, base_s: float) -> None:
        self.base_s = max(base_s, 0.05)
        self._until: dict[str, float] = {}
        self._streak: dict[str, int] = {}
        self._wait: dict[str, float] = {}

    def throttled(self, operation: str) -> None:
        streak = self._streak.get(operation, 0) + 1
        self._streak[operation] = streak
        wait = min(MAX_THROTTLE_COOLDOWN_S, self.base_s * float(2 ** min(streak, 10)))
        self._until[operation] = time.monotonic() + wait
        self._wait[operation] = wait

    def answered(self, operations: Sequence[str]) -> None:
        for operation in operations:
            self._streak.pop(operation, None)
            self._until.pop(operation, None)
            self._wait.pop(operation, None)

    def remaining(self, operations: Sequence[str] | None = None) -> float:
        now = time.monotonic()
        names = self._until if operations is None else operations
        return max([0.0, *(self._until.get(name, 0.0) - now for name in names)])

    def longest(self) -> float:
        """The longest cool-down set for a call still throttled (its whole length, not what is left of it)."""
        return max([0.0, *self._wait.values()])

    def clear(self) -> None:
        self._until.clear()
        self._streak.clear()
        self._wait.clear()


class EcsFetcher:
    """Lists and describes one provider's ECS clusters in tiers; the provider maps what it keeps."""

    def __init__(self, api: AwsClients, cluster: str, wanted_clusters: list[str] | None,
                 cooldown_base_s: float = 2.0) -> None:
        self.api = api
        self.gaps = Gaps()
        self._final: set[tuple[str, str]] = set()  # gaps a retry cannot close (denied, refused)
        self.cooldown = ApiCooldown(cooldown_base_s)
        self.cluster = cluster  # the configured cluster's name, which the events carry
        self.wanted_clusters = wanted_clusters
        self.pool: ThreadPoolExecutor | None = None
        self.clusters: dict[str, EcsClusterState] = {}
        self.missing_clusters: list[str] = []
        self.task_definitions: dict[str, Raw] = {}
        # Application Auto Scaling, by resource id (service/CLUSTER/SERVICE): read on the slow tier.
        self.scalable_targets: dict[str, Raw] = {}
        self.scaling_policies: dict[str, list[Raw]] = {}
        self._autoscaling_read: datetime | None = None
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

    def described_while_listing(self, pages: Iterable[list[str]], describe: Callable[[list[str]], list[Raw]],
                                size: int, then: Callable[[list[str]], list[str]] | None = None,
                                ) -> tuple[list[str], list[Raw]]:
        """(listed, described): `size`-item batches are described while the listing goes on (page n+1 is asked
        while page n's batches are described), the same calls as listing first, in less time; `then(listed)`
        adds items to describe once the listing is whole."""
        listed: list[str] = []
        pending: list[str] = []
        done: list[list[Raw]] = []
        futures: list[Future[list[Raw]]] = []

        def submit(batch: list[str]) -> None:
            if self.pool is None:
                done.append(describe(batch))
            else:
                futures.append(self.pool.submit(describe, batch))

        first_error: BaseException | None = None
        try:
            for page in pages:
                listed += page
                pending += page
                while len(pending) >= size:
                    submit(pending[:size])
                    pending = pending[size:]
            pending += then(listed) if then is not None else []
            for batch in chunks(pending, size):
                submit(batch)
        except BaseException as error:  # raised below, once the batches already sent have finished
            first_error = error
        for future in futures:
            try:
                done.append(future.result())
            except BaseException as error:
                first_error = first_error or error
        if first_error is not None:
            raise first_error
        return listed, [item for batch in done for item in batch]

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

    def refresh(self, *, one_shot: bool = False) -> RefreshOutcome:
        """One refresh: services always, tasks and container instances when due (or missing), new task
        definitions. What cannot be read is noted in `self.gaps`, the earlier data (if any) kept with its age.
        `one_shot`: no cool-down skips a call (botocore's retries are the patience)."""
        if self.wanted_clusters is None and time.monotonic() - self._listed_at > CLUSTER_RELIST_S:
            try:
                self.discover_clusters()
            except (Throttled, Forbidden):
                self._listed_at = time.monotonic()  # keep the clusters we know; try again later
        tasks_due = self.tasks_due or self._refreshes % TASKS_EVERY == 0
        self._refreshes += 1
        self.gaps.begin()
        outcome = RefreshOutcome()
        tasks_complete = True
        for state in list(self.clusters.values()):
            state.problem = ""
            parts = ["services", *(SLOW_PARTS if tasks_due else [])]
            # A part still missing from the last refresh is read again now, due or not.
            parts += [part for part in SLOW_PARTS if part not in parts and self._gap_open(state, part)]
            for part in parts:
                if not self._read_part(state, part, outcome, one_shot=one_shot) and part != "services":
                    tasks_complete = False
        self._read_task_definitions(outcome)
        if tasks_due or self.gaps.is_open(AUTOSCALING_KEY):
            self._read_autoscaling(outcome)
        for name in self.missing_clusters:
            self.gaps.note(("cluster", name), f"ECS cluster {name}", "not found",
                           part="services")
        if tasks_due and tasks_complete:
            self.tasks_due = False
        self.gaps.end()
        return outcome

    def retry_missing(self) -> bool:
        """A one-shot command's next round: read again only what is still missing. True if anything was."""
        # A denied or refused call stays so: only throttled and failing ones are worth another round.
        keys = [key for key in self.gaps.open_keys()
                if isinstance(key, tuple) and key[1] in PARTS and key not in self._final]
        autoscaling = self.gaps.is_open(AUTOSCALING_KEY) and AUTOSCALING_KEY not in self._final
        if not keys and not autoscaling:
            return False
        outcome = RefreshOutcome()
        for arn, part in keys:
            state = self.clusters.get(arn)
            if state is not None:
                self._read_part(state, part, outcome, one_shot=True)
        if self.gaps.is_open(DEFINITIONS_KEY):
            self._read_task_definitions(outcome)
        if autoscaling:
            self._read_autoscaling(outcome)
        return True

    def missing(self) -> tuple[Missing, ...]:
        return self.gaps.current()

    def part_missing(self, state: EcsClusterState, part: str) -> bool:
        return self._gap_open(state, part)

    def _gap_open(self, state: EcsClusterState, part: str) -> bool:
        return self.gaps.is_open((state.arn, part))

    def _read_part(self, state: EcsClusterState, part: str, outcome: RefreshOutcome, *, one_shot: bool) -> bool:
        """Read one part of one ECS cluster; on failure note the gap. True when it was read whole."""
        refresh: Callable[[EcsClusterState], None] = {
            "services": self._refresh_services, "tasks": self._refresh_tasks,
            "container instances": self._refresh_instances, "target health": self._refresh_target_health}[part]
        key = (state.arn, part)
        waiting = 0.0 if one_shot else self.cooldown.remaining(PARTS[part])
        try:
            if waiting > 0:
                # Throttled a moment ago: this call waits its cool-down; the other calls go on.
                raise Throttled(f"AWS throttled ECS {'/'.join(PARTS[part])}")
            refresh(state)
        except (Unreachable, CredentialsError):
            raise  # the whole provider is down or logged out: not a gap, an unreachable cluster
        except InvalidInput as error:
            if isinstance(error, NotFound):  # the cluster was deleted: said as a problem, not a gap
                state.problem = str(error)
                self.gaps.close(key)
                return True
            self._note(state, part, error)
            return False
        except ProviderError as error:
            if isinstance(error, Throttled):
                outcome.throttled = True
                if waiting <= 0:
                    self.cooldown.throttled(error.operation or PARTS[part][-1])
            elif isinstance(error, Forbidden):
                outcome.forbidden.append(f"{part} ({state.name})")
            self._note(state, part, error, waiting)
            return False
        self.cooldown.answered(PARTS[part])
        state.observed[part] = datetime.now(UTC)
        self.gaps.close(key)
        return True

    def _note(self, state: EcsClusterState, part: str, error: ProviderError, waiting: float = 0.0) -> None:
        if isinstance(error, Forbidden | InvalidInput):
            self._final.add((state.arn, part))
        else:
            self._final.discard((state.arn, part))
        operation = error.operation or "/".join(PARTS[part])
        reason = reason_of(error, "AWS", "access denied")
        if waiting > 0:
            reason += f"; next try in {math.ceil(waiting)}s"
        self.gaps.note((state.arn, part), f"ECS cluster {state.name} {part} ({operation})", reason,
                       part=MODEL_PART.get(part, part),
                       shown_from=state.observed.get(part))

    def _read_task_definitions(self, outcome: RefreshOutcome) -> None:
        key = DEFINITIONS_KEY
        try:
            self._describe_new_task_definitions()
        except (Unreachable, CredentialsError):
            raise
        except ProviderError as error:
            if isinstance(error, Throttled):
                outcome.throttled = True
            elif isinstance(error, Forbidden):
                outcome.forbidden.append("task definitions")
            self.gaps.note(key, f"ECS task definitions ({error.operation or 'DescribeTaskDefinition'})",
                           reason_of(error, "AWS", "access denied"), part="containers")
            return
        self.gaps.close(key)

    def _read_autoscaling(self, outcome: RefreshOutcome) -> None:
        """Which services Application Auto Scaling owns; a gap (earlier answer kept) when it cannot be read.
        Unreachable is a gap too: its own endpoint (AWS_ENDPOINT_URL_APPLICATION_AUTO_SCALING) may be down
        while ECS answers."""
        try:
            self.scalable_targets, self.scaling_policies = read_targets(self.api)
        except CredentialsError:
            raise
        except ProviderError as error:
            if isinstance(error, Throttled):
                outcome.throttled = True
            elif isinstance(error, Forbidden):
                outcome.forbidden.append("Application Auto Scaling")
            if isinstance(error, Forbidden | InvalidInput):
                self._final.add(AUTOSCALING_KEY)  # denied or refused: another round within a look won't help
            operation = error.operation or "DescribeScalableTargets"
            self.gaps.note(AUTOSCALING_KEY, f"Application Auto Scaling targets ({operation})",
                           reason_of(error, "AWS", "access denied"), part="autoscalers",
                           shown_from=self._autoscaling_read)
            return
        self._autoscaling_read = datetime.now(UTC)
        self._final.discard(AUTOSCALING_KEY)
        self.gaps.close(AUTOSCALING_KEY)

    def _refresh_services(self, state: EcsClusterState) -> None:
        def describe(batch: list[str]) -> list[Raw]:
            answer = self.api.call("describe_services", cluster=state.arn, services=batch, include=["TAGS"])
            return dicts(answer.get("services"))

        _, services = self.described_while_listing(
            self.api.each_page("list_services", "serviceArns", cluster=state.arn), describe, DESCRIBE_SERVICES_MAX)
        fresh = [s for s in services if as_str(s.get("status")).upper() != "INACTIVE"]
        if state.services_seen:
            state.deployment_events = observe_deployments(
                state.deployment_events, state.services, fresh, self.cluster, state.name, datetime.now(UTC))
        state.services = fresh
        state.services_seen = True

    def _refresh_tasks(self, state: EcsClusterState) -> None:
        # AWS lists RUNNING by default; moto lists everything unless asked, so ask explicitly.
        def describe(batch: list[str]) -> list[Raw]:
            return dicts(self.api.call("describe_tasks", cluster=state.arn, tasks=batch).get("tasks"))

        def vanished(listed: list[str]) -> list[str]:
            seen = set(listed)
            return [arn for arn in state.tasks if arn not in seen]

        listed, described = self.described_while_listing(
            self.api.each_page("list_tasks", "taskArns", cluster=state.arn, desiredStatus="RUNNING"), describe,
            DESCRIBE_TASKS_MAX, vanished)
        listed_set = set(listed)
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

    def _refresh_target_health(self, state: EcsClusterState) -> None:
        """One DescribeTargetHealth per target group the services name (none without load balancers)."""
        from pilothouse.providers.ecs.networks import target_group_arns

        def describe(batch: list[str]) -> list[Raw]:
            answer = self.api.call("describe_target_health", client=self.api.elbv2, TargetGroupArn=batch[0])
            return [{"arn": batch[0], "targets": dicts(answer.get("TargetHealthDescriptions"))}]

        found = self.parallel(describe, [[arn] for arn in target_group_arns(state.services)])
        state.target_health = {as_str(item.get("arn")): list(item.get("targets") or []) for item in found}

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
