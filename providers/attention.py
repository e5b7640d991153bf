"""Attention: which services need an operator now, how badly, and why, in the orchestrator's own words.

Pure and deterministic: a function of the snapshot, `now`, the doctor's high-severity findings and the small
history an `AttentionAssessor` keeps per cluster (one assessor per cluster, used from one thread). No Textual,
no SDK: the console computes it on the refresher's thread next to the doctor, the CLI once per snapshot.

A service's level is the worst of its reasons; reasons come worst first, in the rule order below.

Rules (thresholds are the module constants named in brackets):
1. Rollout. FAILED (Kubernetes ProgressDeadlineExceeded, ECS circuit breaker / failed deployment) -> critical.
   PAUSED -> warning, critical when its message says a task failed (Swarm pauses an update on failure).
   ROLLING_BACK -> warning. ROLLED_BACK and STABLE say nothing.
2. Crash-looping -> critical, when any of: a task meant to run waits in CrashLoopBackOff (Kubernetes); restarts
   rose by at least [CRASH_LOOP_RESTARTS] within [RECENT_S] (rises are counted against the previous snapshot's
   restart counts, per task; a task's `restarted` time inside the window counts as one); at least
   [CRASH_LOOP_FAILURES] tasks failed within [RECENT_S] (Swarm and ECS replace a failed task instead of
   restarting it). Fewer restarts in the window -> warning "restarting".
3. Cannot start -> critical: a task meant to run waits on an image pull or container config error
   (Kubernetes ErrImagePull, ImagePullBackOff, CreateContainerConfigError, ...).
4. Unhealthy tasks (meant to run, failing their health check or readiness) -> warning; critical when not one
   task of the service is healthy. Not repeated when rule 2 or 3 already said it.
5. Running < desired (the service's own counts). Critical when none runs or when the shortfall has lasted
   [SHORT_CRITICAL_S]; else warning. During an active rollout a shortfall with something running is expected:
   no reason while the rollout started under [SHORT_GRACE_S] ago, or while the shortfall is that young (seen
   across snapshots; on a first look, only when the rollout's start is unknown). Since when is tracked per
   service id from the first snapshot that showed it (a one-shot look cannot tell, and says no duration).
6. Pending tasks (meant to run, not yet placed) -> warning, "unschedulable" with the scheduler's reason when
   the task carries one (Kubernetes PodScheduled=False message, Swarm "no suitable node ...").
7. Tasks on a node that is down (Kubernetes NotReady, Swarm Down, ECS container instance inactive or agent
   disconnected) -> warning; critical when every task meant to run is on one. On a draining node (Swarm
   Drain, ECS DRAINING) -> warning.
8. A task that failed within [RECENT_S] with an error (a stop time is needed: unknown is not recent) ->
   warning, its error quoted (ECS: its stoppedReason).
9. Reachability, from the orchestrator's own endpoint or target counts per front (a Kubernetes Service's
   EndpointSlices, an ECS target group's DescribeTargetHealth): none of them ready -> critical ("0 of 2
   endpoints ready (Service prod/web)"); some not ready -> warning, but not during an active rollout (it
   replaces them on purpose); unhealthy targets with their reasons -> warning ("2 targets unhealthy:
   Target.ResponseCodeMismatch (target group web)"). A front with no endpoints at all says nothing (a
   scaled-to-zero workload, or one the Service does not reach: the Networks screen shows it).
10. High-severity doctor findings -> warning, never more: a pitfall is not an outage.

Unknown is unknown: when the cluster could not read the service's tasks (their kind is forbidden), rules 2-4
and 6-8 say nothing for it; the cluster header says what is missing. Rules 1 and 5 read the service object.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from pilothouse.providers.model import (
    Availability,
    Cluster,
    ClusterKind,
    Health,
    Node,
    NodeStatus,
    RolloutState,
    Service,
    Task,
    TaskState,
)
from pilothouse.providers.priority import checkpoint
from pilothouse.providers.registry import vocabulary_for

RECENT_S = 300.0
CRASH_LOOP_RESTARTS = 3
CRASH_LOOP_FAILURES = 3
SHORT_GRACE_S = 60.0
SHORT_CRITICAL_S = 300.0
# Kubernetes waiting reasons of a container that cannot start at all (CrashLoopBackOff is rule 2's).
CANNOT_START = frozenset({
    "ErrImagePull", "ImagePullBackOff", "ErrImageNeverPull", "InvalidImageName", "CreateContainerConfigError",
    "CreateContainerError", "RunContainerError", "ContainerCannotRun",
})
CRASH_LOOP_STATE = "CrashLoopBackOff"
# How a reason's quoted error is cut: the whole text is on the task.
QUOTE_CHARS = 160
# The kinds whose being forbidden means a cluster's tasks are unknown (Kubernetes RBAC).
TASK_KINDS = frozenset({"pods", "tasks"})


class Level(StrEnum):
    CRITICAL = "critical"
    WARNING = "warning"
    NONE = "none"

    @property
    def rank(self) -> int:
        """0 critical, 1 warning, 2 none: sorts worst first."""
        return _RANKS[self]

    @property
    def symbol(self) -> str:
        return _SYMBOLS[self]


_RANKS = {Level.CRITICAL: 0, Level.WARNING: 1, Level.NONE: 2}
_SYMBOLS = {Level.CRITICAL: "✗", Level.WARNING: "!", Level.NONE: ""}


@dataclass(frozen=True, slots=True)
class Reason:
    level: Level
    rule: str  # rollout, crash-looping, restarting, cannot-start, unhealthy, short, pending, node-down, ...
    short: str  # a few words for one-line summaries: "crash-looping 1/2", "rollout failed"
    text: str  # the whole reason, for humans

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True, slots=True)
class Attention:
    level: Level = Level.NONE
    reasons: tuple[Reason, ...] = ()

    @property
    def needed(self) -> bool:
        return self.level is not Level.NONE

    @property
    def headline(self) -> str:
        return self.reasons[0].short if self.reasons else ""

    def texts(self) -> list[str]:
        return [reason.text for reason in self.reasons]


NOTHING = Attention()


@dataclass(frozen=True, slots=True)
class Words:
    """How an orchestrator names its things."""

    task: str
    tasks: str
    node: str
    running: str  # "ready" for pods, "running" for tasks

    def count(self, number: int) -> str:
        return f"{number} {self.task if number == 1 else self.tasks}"


def words_of(kind: ClusterKind) -> Words:
    """The orchestrator's words, from its provider's vocabulary (a plugin's kind included)."""
    vocabulary = vocabulary_for(kind)
    return Words(vocabulary.task, vocabulary.tasks, vocabulary.node, vocabulary.running)


def node_down_word(kind: ClusterKind, node: Node) -> str:
    """A node that is down, as its orchestrator says it (NotReady, Down, ECS's agent disconnected)."""
    return vocabulary_for(kind).node_condition(node)


def drain_word(kind: ClusterKind) -> str:
    return vocabulary_for(kind).drain


def tasks_unknown(cluster: Cluster) -> bool:
    """Whether the cluster could not read its tasks (their kind is forbidden to these credentials, or their
    read failed: then its services say `tasks_known=False`)."""
    return (any(kind.split(" ", 1)[0] in TASK_KINDS for kind in cluster.forbidden)  # "pods in default" too
            or any(not service.tasks_known for service in cluster.services))


def duration(seconds: float) -> str:
    """45s, 3m, 2h5m, 3d."""
    whole = max(0, int(seconds))
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m"
    if whole < 86400:
        hours, minutes = divmod(whole // 60, 60)
        return f"{hours}h{minutes}m" if minutes else f"{hours}h"
    return f"{whole // 86400}d"


def _quote(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= QUOTE_CHARS else flat[: QUOTE_CHARS - 1] + "…"


@dataclass(slots=True)
class _History:
    """What one service's earlier snapshots said: restart counts per task, when restarts rose, since when short."""

    restarts: dict[str, int] = field(default_factory=dict)
    rises: list[tuple[datetime, int]] = field(default_factory=list)
    short_since: datetime | None = None


class AttentionAssessor:
    """One cluster's attention, snapshot after snapshot. Keeps only per-service history keyed by service id;
    services that vanish are forgotten. Not thread-safe: one assessor per refresher thread."""

    def __init__(self) -> None:
        self._history: dict[str, _History] = {}
        self._seen = False

    def assess(self, cluster: Cluster, now: datetime,
               high_findings: Mapping[str, Sequence[str]] | None = None) -> dict[str, Attention]:
        """Service id -> attention (services that need none map to NOTHING). `high_findings`: service ref ->
        the rule ids of its unsilenced high-severity doctor findings."""
        findings = high_findings or {}
        unknown = tasks_unknown(cluster)
        nodes = {node.id: node for node in cluster.nodes}
        down = frozenset(node.id for node in cluster.nodes if node.status is NodeStatus.DOWN)
        draining = frozenset(node.id for node in cluster.nodes
                             if node.status is not NodeStatus.DOWN and node.availability is Availability.DRAIN)
        words = words_of(cluster.kind)
        result: dict[str, Attention] = {}
        history: dict[str, _History] = {}
        for service in cluster.services:
            checkpoint()  # a key pressed meanwhile is answered first (providers/priority.py)
            past = self._history.get(service.id)
            known = past is not None
            current = past or _History()
            history[service.id] = current
            reasons = _assess_service(cluster.kind, words, service, now, nodes, current, known and self._seen,
                                      unknown or not service.tasks_known, findings.get(service.ref, ()), down,
                                      draining)
            result[service.id] = _attention(reasons)
        self._history = history
        self._seen = True
        return result


def assess_once(cluster: Cluster, now: datetime,
                high_findings: Mapping[str, Sequence[str]] | None = None) -> dict[str, Attention]:
    """A one-shot look (the CLI): no history, so no durations and no rises between snapshots."""
    return AttentionAssessor().assess(cluster, now, high_findings)


def _attention(reasons: list[Reason]) -> Attention:
    if not reasons:
        return NOTHING
    ordered = sorted(reasons, key=lambda reason: reason.level.rank)  # stable: rule order within a level
    return Attention(ordered[0].level, tuple(ordered))


def _recent(when: datetime | None, now: datetime) -> bool:
    """Within RECENT_S before `now` (a time after it, clock skew, counts too); an unknown time is not recent."""
    return when is not None and (now - when).total_seconds() <= RECENT_S


class _Tasks:
    """One pass over a service's tasks, sorted into what the task rules read."""

    __slots__ = ("cannot", "down", "draining", "failed", "healthy", "looping", "meant", "pending", "restarting",
                 "unhealthy")

    def __init__(self, service: Service, down_nodes: frozenset[str], draining_nodes: frozenset[str],
                 now: datetime) -> None:
        self.meant = 0
        self.healthy = 0
        self.looping: list[Task] = []
        self.cannot: list[Task] = []
        self.unhealthy: list[Task] = []
        self.pending: list[Task] = []
        self.restarting: list[Task] = []
        self.down: dict[str, list[Task]] = {}
        self.draining: dict[str, list[Task]] = {}
        self.failed: list[Task] = []  # failed within RECENT_S (a stop time is needed)
        running, failed, healthy, unhealthy = TaskState.RUNNING, TaskState.FAILED, Health.HEALTHY, Health.UNHEALTHY
        for task in service.tasks:
            if task.desired_state is not running:
                if task.state is failed and _recent(task.stopped, now):
                    self.failed.append(task)
                continue
            self.meant += 1
            if task.health is healthy:
                self.healthy += 1
            elif task.health is unhealthy:
                self.unhealthy.append(task)
            if task.restarts:
                self.restarting.append(task)
            if task.state is TaskState.PENDING:
                self.pending.append(task)
            raw = task.raw_state
            if raw == CRASH_LOOP_STATE:
                self.looping.append(task)
            elif raw in CANNOT_START:
                self.cannot.append(task)
            if task.node_id in down_nodes:
                self.down.setdefault(task.node_id, []).append(task)
            elif task.node_id in draining_nodes:
                self.draining.setdefault(task.node_id, []).append(task)


def _quiet(service: Service, troubled_nodes: frozenset[str]) -> bool:
    """Nothing for the task rules: every task meant to run runs, not unhealthy, never restarted, on a node in
    service; no task failed with a stop time (recent or not: the exact check is the rule's)."""
    running, failed, unhealthy = TaskState.RUNNING, TaskState.FAILED, Health.UNHEALTHY
    for task in service.tasks:
        if task.desired_state is running:
            if (task.state is not running or task.health is unhealthy or task.restarts
                    or task.node_id in troubled_nodes):
                return False
        elif task.state is failed and task.stopped is not None:
            return False
    return True


def _assess_service(kind: ClusterKind, words: Words, service: Service, now: datetime, nodes: Mapping[str, Node],
                    history: _History, has_history: bool, unknown: bool,
                    high_findings: Sequence[str], down_nodes: frozenset[str] = frozenset(),
                    draining_nodes: frozenset[str] = frozenset()) -> list[Reason]:
    reasons: list[Reason] = []
    ratio = f"{service.running}/{service.desired}"
    reasons.extend(_rollout_reasons(service))
    # Most services are quiet: one cheap pass proves it and skips the task rules (10k tasks per refresh).
    quiet = not unknown and not history.rises and _quiet(service, down_nodes | draining_nodes)
    if quiet:
        history.restarts = {}
    tasks = _Tasks(service, down_nodes, draining_nodes, now) if not unknown and not quiet else None
    crash: Reason | None = None
    if tasks is not None:
        said_unhealthy = False
        crash = _crash_reason(kind, words, tasks, now, history, has_history, ratio)
        if crash is not None:
            reasons.append(crash)
            said_unhealthy = crash.level is Level.CRITICAL
        if tasks.cannot:
            first = tasks.cannot[0]
            reasons.append(Reason(
                Level.CRITICAL, "cannot-start", f"{first.raw_state} {ratio}",
                f"{words.count(len(tasks.cannot))} cannot start ({first.raw_state}): "
                f"{_quote(first.error or first.id)}"))
            said_unhealthy = True
        if not said_unhealthy:
            unhealthy = _unhealthy_reason(words, tasks)
            if unhealthy is not None:
                reasons.append(unhealthy)
    short = _short_reason(words, service, now, history, has_history, ratio)
    if short is not None:
        reasons.append(short)
    if tasks is not None:
        reasons.extend(_pending_reasons(words, tasks.pending))
        reasons.extend(_node_reasons(kind, words, tasks, nodes))
        if crash is None or crash.level is not Level.CRITICAL:
            stopped = _stopped_reason(kind, words, tasks.failed, now)
            if stopped is not None:
                reasons.append(stopped)
    reasons.extend(_reachability_reasons(service))
    if high_findings:
        rules = ", ".join(dict.fromkeys(high_findings))
        count = len(high_findings)
        reasons.append(Reason(Level.WARNING, "doctor", f"doctor: {rules}",
                              f"doctor: {count} high-severity finding{'s' if count != 1 else ''} ({rules})"))
    return reasons


def _reachability_reasons(service: Service) -> Iterable[Reason]:
    for front in service.reachability:
        if front.total <= 0 or front.ready >= front.total:
            continue
        why = f": {_quote(', '.join(front.reasons))}" if front.reasons else ""
        if front.ready == 0:
            yield Reason(Level.CRITICAL, "unreachable", f"0/{front.total} {front.word} ready",
                         f"0 of {front.total} {front.word} ready ({front.via}){why}")
        elif not service.rollout.active:
            unready = front.unready
            if front.word == "targets":
                text = f"{unready} target{'s' if unready != 1 else ''} unhealthy{why} ({front.via})"
            else:
                text = f"{front.ready} of {front.total} {front.word} ready ({front.via}){why}"
            yield Reason(Level.WARNING, "unreachable", f"{front.ready}/{front.total} {front.word} ready", text)


def _rollout_reasons(service: Service) -> Iterable[Reason]:
    rollout = service.rollout
    detail = f": {_quote(rollout.message)}" if rollout.message else ""
    if rollout.state is RolloutState.FAILED:
        yield Reason(Level.CRITICAL, "rollout", "rollout failed", f"rollout failed{detail}")
    elif rollout.state is RolloutState.PAUSED:
        failed = "fail" in rollout.message.lower()
        yield Reason(Level.CRITICAL if failed else Level.WARNING, "rollout", "rollout paused",
                     f"rollout paused at {rollout.counts}{detail}")
    elif rollout.state is RolloutState.ROLLING_BACK:
        yield Reason(Level.WARNING, "rollout", "rolling back",
                     f"rolling back ({rollout.counts}){detail}")


def _crash_reason(kind: ClusterKind, words: Words, tasks: _Tasks, now: datetime, history: _History,
                  has_history: bool, ratio: str) -> Reason | None:
    window = timedelta(seconds=RECENT_S)
    rises = [(when, count) for when, count in history.rises if now - when <= window]
    restarts: dict[str, int] = {}
    recently = 0
    for task in tasks.restarting:
        restarts[task.id] = task.restarts
        before = history.restarts.get(task.id)
        if has_history and before is not None and task.restarts > before:
            rises.append((now, task.restarts - before))
        # A restart time inside the window is evidence a one-shot look has too (at least one restart).
        if _recent(task.restarted, now):
            recently += 1
    history.restarts = restarts
    history.rises = rises
    restarted = max(sum(count for _, count in rises), recently)
    looping, failed = tasks.looping, tasks.failed
    window_text = duration(RECENT_S)
    if looping:
        first = looping[0]
        return Reason(Level.CRITICAL, "crash-looping", f"crash-looping {ratio}",
                      f"{words.count(len(looping))} in {CRASH_LOOP_STATE}"
                      f" ({first.id}, {first.restarts} restarts): {_quote(first.error or first.raw_state)}")
    if restarted >= CRASH_LOOP_RESTARTS:
        return Reason(Level.CRITICAL, "crash-looping", f"crash-looping {ratio}",
                      f"crash-looping: {restarted} restarts in the last {window_text}")
    if len(failed) >= CRASH_LOOP_FAILURES and kind is not ClusterKind.KUBERNETES:
        latest = max(failed, key=lambda task: task.stopped or now)
        return Reason(Level.CRITICAL, "crash-looping", f"crash-looping {ratio}",
                      f"crash-looping: {len(failed)} {words.tasks} failed in the last {window_text}, latest: "
                      f"{_quote(latest.error or latest.raw_state)}")
    if restarted:
        return Reason(Level.WARNING, "restarting", "restarting",
                      f"restarting: {restarted} restart{'s' if restarted != 1 else ''} in the last {window_text}")
    return None


def _unhealthy_reason(words: Words, tasks: _Tasks) -> Reason | None:
    if not tasks.unhealthy:
        return None
    first, count, healthy = tasks.unhealthy[0], len(tasks.unhealthy), tasks.healthy
    level = Level.CRITICAL if healthy == 0 else Level.WARNING
    detail = f": {_quote(first.error)}" if first.error else ""
    return Reason(level, "unhealthy", f"unhealthy {count}/{tasks.meant}",
                  f"{words.count(count)} unhealthy, {healthy} healthy ({first.id}{detail})")


def _short_reason(words: Words, service: Service, now: datetime, history: _History, has_history: bool,
                  ratio: str) -> Reason | None:
    if service.desired <= 0 or service.running >= service.desired:
        history.short_since = None
        return None
    if history.short_since is None or not has_history:
        history.short_since = now
    lasted = (now - history.short_since).total_seconds()
    known = has_history and lasted >= 1
    if service.running > 0 and service.rollout.active:
        # Young: the rollout started under SHORT_GRACE_S ago, or this shortfall is that young as far as the
        # history knows (a first look knows nothing older only when the rollout's start is unknown too).
        started = service.rollout.started
        rollout_young = started is not None and (now - started).total_seconds() < SHORT_GRACE_S
        short_young = lasted < SHORT_GRACE_S and (has_history or started is None)
        if rollout_young or short_young:
            return None
    for_how_long = f" for {duration(lasted)} (since {history.short_since:%H:%M:%S})" if known else ""
    level = Level.CRITICAL if service.running == 0 or (known and lasted >= SHORT_CRITICAL_S) else Level.WARNING
    return Reason(level, "short", f"{ratio} {words.running}",
                  f"{ratio} {words.tasks} {words.running}{for_how_long}")


def _pending_reasons(words: Words, pending: list[Task]) -> Iterable[Reason]:
    if not pending:
        return
    blocked = [task for task in pending if task.error]
    if blocked:
        yield Reason(Level.WARNING, "unschedulable", "unschedulable",
                     f"{words.count(len(blocked))} unschedulable: {_quote(blocked[0].error)}")
    waiting = len(pending) - len(blocked)
    if waiting:
        yield Reason(Level.WARNING, "pending", "pending", f"{words.count(waiting)} pending")


def _node_reasons(kind: ClusterKind, words: Words, tasks: _Tasks, nodes: Mapping[str, Node]) -> Iterable[Reason]:
    if tasks.down:
        total = sum(len(on_node) for on_node in tasks.down.values())
        node = nodes[next(iter(tasks.down))]
        others = f" and {len(tasks.down) - 1} more" if len(tasks.down) > 1 else ""
        level = Level.CRITICAL if total == tasks.meant else Level.WARNING
        yield Reason(level, "node-down", f"{words.node} {node_down_word(kind, node)}",
                     f"{words.count(total)} on {words.node} {node.name}{others}, "
                     f"which is {node_down_word(kind, node)}")
    if tasks.draining:
        total = sum(len(on_node) for on_node in tasks.draining.values())
        node = nodes[next(iter(tasks.draining))]
        yield Reason(Level.WARNING, "node-draining", f"{words.node} {drain_word(kind)}",
                     f"{words.count(total)} on {drain_word(kind)} {words.node} {node.name}")


def _stopped_reason(kind: ClusterKind, words: Words, failed: list[Task], now: datetime) -> Reason | None:
    failed = [task for task in failed if task.error]
    if not failed:
        return None
    latest = max(failed, key=lambda task: task.stopped or now)
    ago = duration((now - latest.stopped).total_seconds()) if latest.stopped is not None else "?"
    label = "stoppedReason" if kind is ClusterKind.ECS else "error"
    more = f" ({len(failed)} in the last {duration(RECENT_S)})" if len(failed) > 1 else ""
    return Reason(Level.WARNING, "stopped-error", f"{words.task} failed",
                  f"{words.task} {latest.id} stopped {ago} ago{more}, {label}: {_quote(latest.error)}")
