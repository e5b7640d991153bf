"""The provider contract. One Provider instance serves one configured cluster.

All methods may block (they talk to a cluster) and are called from worker threads, never from the UI
thread. `refusal()` is the exception: it is pure and cheap, so the UI can ask it before binding a key.
A provider module imports its SDK only inside methods, so that listing providers stays fast.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from threading import Event as ThreadEvent
from typing import Any, ClassVar

from pilothouse.providers.advice import DoctorAdvice
from pilothouse.providers.errors import InvalidInput, NotSupported
from pilothouse.providers.exec import ExecStreams
from pilothouse.providers.inspect import InspectResult, InspectTarget
from pilothouse.providers.model import Cluster, ClusterKind, Node, Service, ServiceMode
from pilothouse.providers.revisions import RevisionDiff
from pilothouse.providers.vocabulary import GENERIC, Vocabulary


class Action(StrEnum):
    """A mutation; every one passes through console.actions (plan, confirm, write-ahead audit, execute).

    A new action is a member here (and a Capability of the same value) plus `plan_<value>` on the providers
    that can do it: the console's flow needs nothing more.
    """

    SCALE = "scale"
    ROLLBACK = "rollback"
    RESTART = "restart"  # new tasks from the unchanged spec (docker service update --force, kubectl rollout restart)
    PAUSE = "pause"  # stop a rollout where it is (kubectl rollout pause)
    RESUME = "resume"  # carry a paused rollout on (kubectl rollout resume; a Swarm update paused on failure)
    # Node actions: their target is a Node (MutationPlan.service_ref is then the node's name).
    CORDON = "cordon"  # no new tasks on the node (Swarm availability pause, Kubernetes unschedulable)
    UNCORDON = "uncordon"  # back in rotation (Swarm active, Kubernetes schedulable, ECS ACTIVE)
    DRAIN = "drain"  # move its tasks off (Swarm drain, Kubernetes cordon + evictions, ECS DRAINING)
    # The min/max of the autoscaler that owns a service's replicas (params: minimum, maximum).
    AUTOSCALE_BOUNDS = "autoscale_bounds"
    # Run a command (or a shell) in one running task's container: providers/exec.py. Executed by run_exec,
    # not apply; audited with who, where and the command, never the session's content.
    EXEC = "exec"


NODE_ACTIONS = frozenset({Action.CORDON, Action.UNCORDON, Action.DRAIN})

def _unheard(line: str) -> None:
    """No one follows this action's steps: its outcome says it all."""


def _followed() -> bool:
    return False


@dataclass(frozen=True, slots=True)
class Progress:
    """Who follows a long action (a Kubernetes drain's evictions), called on the worker's thread: `say` hears
    each step as one line ("evicted pod prod/web-1 (3 of 7)"); `stopped` turns true when the follower has gone
    (the console is closing), and the action then stops between steps and says what it left undone."""

    say: Callable[[str], None] = _unheard
    stopped: Callable[[], bool] = _followed


class Capability(StrEnum):
    SCALE = "scale"
    ROLLBACK = "rollback"
    RESTART = "restart"
    PAUSE = "pause"
    RESUME = "resume"
    CORDON = "cordon"
    UNCORDON = "uncordon"
    DRAIN = "drain"
    AUTOSCALE_BOUNDS = "autoscale_bounds"
    EXEC = "exec"
    LOGS = "logs"
    WATCH = "watch"  # changes are pushed (Docker /events, Kubernetes watch), not only polled


@dataclass(frozen=True, slots=True)
class Option:
    """One provider-specific config key: its type(s) and what it means."""

    types: tuple[type, ...]
    help: str


@dataclass(frozen=True, slots=True)
class ClusterConfig:
    name: str
    provider: str
    readonly: bool = False
    refresh_interval: float = 2.0
    # Provider-specific keys, already checked against the provider's OPTIONS.
    options: Mapping[str, Any] = field(default_factory=dict)
    # Where a provider may keep small state files (given by the console); None: keep nothing on disk.
    state_dir: Path | None = None


@dataclass(frozen=True, slots=True)
class MutationPlan:
    """Exactly what a mutation will change, computed before anything is sent.

    `before`/`after` are what the confirmation shows ("3" -> "5", "web:2.1 (v12)" -> "web:2.0 (v11)").
    `payload` is the provider's own, e.g. the spec version a Swarm update must carry.
    """

    action: Action
    cluster: str
    service_ref: str
    service_id: str
    before: str
    after: str
    detail: str = ""
    payload: Mapping[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        text = f"{self.action.value} {self.cluster}/{self.service_ref}: {self.before} -> {self.after}"
        return f"{text} ({self.detail})" if self.detail else text


@dataclass(frozen=True, slots=True)
class LoginCommand:
    argv: tuple[str, ...]
    # Added to the console's environment; may hold secrets, so never shown.
    env: Mapping[str, str] = field(default_factory=dict)
    # The command prints a credential on stdout (an exec plugin's token): the terminal must not show it.
    hide_output: bool = False

    def describe(self) -> str:
        return " ".join(self.argv)


@dataclass(frozen=True, slots=True)
class LogLine:
    time: datetime | None
    source: str  # task or pod, and node
    text: str


class Provider(ABC):
    """Connects to one cluster and maps it into the unified model."""

    kind: ClusterKind
    OPTIONS: ClassVar[Mapping[str, Option]] = {}
    CAPABILITIES: ClassVar[frozenset[Capability]] = frozenset({Capability.SCALE, Capability.ROLLBACK})
    # The largest replica count the orchestrator's API accepts (Kubernetes and ECS: int32). --force never
    # lifts it; a provider whose API takes more still sets a ceiling a cluster can actually run.
    MAX_REPLICAS: ClassVar[int] = 2**31 - 1
    # What the doctor's findings mean under this orchestrator and the commands that mend them.
    ADVICE: ClassVar[DoctorAdvice] = DoctorAdvice()
    # The orchestrator's own words for its things (pod, container instance, NotReady, DaemonSet...): the
    # console shows every cluster of this kind in them (registry.vocabulary_for).
    VOCABULARY: ClassVar[Vocabulary] = GENERIC

    def __init__(self, config: ClusterConfig) -> None:
        self.config = config

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def words(self) -> Vocabulary:
        """This cluster's words (a provider imitating another orchestrator, the demo, answers with its)."""
        return self.VOCABULARY

    @abstractmethod
    def connect(self) -> None:
        """Open the client and check that this endpoint can serve the console (e.g. is a swarm manager)."""

    @abstractmethod
    def snapshot(self) -> Cluster:
        """The whole cluster now, with a constant number of list calls whatever its size."""

    def one_shot(self, deadline: float) -> None:
        """The next snapshot is a one-shot command's only look: retry what can be retried (throttling, 429,
        5xx) harder than a live console would, but stop by `deadline` (a time.monotonic() value). Whatever
        is still unread then goes into `Cluster.missing`. The default: nothing more to try."""

    def doctor_look(self, deadline: float) -> None:
        """The next snapshot also takes the doctor's slow path: reads no refresh makes (Swarm: what each
        node's engine says its tasks run, when `node_engine` is set), finished by `deadline` (a
        time.monotonic() value). Only sets a flag: safe on the UI thread. The default: nothing more to read."""

    def start_watch(self, on_change: Callable[[], None]) -> bool:
        """Start pushing changes: call `on_change` (from any thread) whenever a refresh is worth doing.

        Returns False when the backend has no change stream; the console then only polls.
        """
        return False

    def close(self) -> None:
        """Stop watches and release connections."""

    def login_command(self) -> LoginCommand | None:
        """A command that renews expired credentials interactively (`aws sso login --profile X`, a
        Kubernetes exec plugin), run by the console with the TUI suspended; None when there is nothing. May block
        (reads a kubeconfig or a profile): the console asks it on the cluster's refresher thread only."""
        return None

    def credentials_renewed(self) -> None:
        """The login command has just succeeded: drop cached credentials and retry soon. Called on the UI
        thread, so it must not block."""

    def refusal(self, action: Action, service: Service) -> str | None:
        """Why `action` cannot apply to `service`, or None. Pure: no I/O, safe on the UI thread."""
        if action.value not in {capability.value for capability in self.CAPABILITIES}:
            return f"the {self.words.name(self.kind)} provider cannot {action.value}"
        if action is Action.SCALE and service.mode is ServiceMode.GLOBAL:
            return self.words.scale_refusal(service)
        if action is Action.ROLLBACK and service.rollback_refusal:
            return service.rollback_refusal
        if action is Action.AUTOSCALE_BOUNDS and service.autoscaler is None:
            return f"no autoscaler owns the replicas of {service.ref}; scale it instead"
        return None

    def node_refusal(self, action: Action, node: Node) -> str | None:
        """Why `action` cannot apply to `node`, or None. Pure, like refusal()."""
        if action not in NODE_ACTIONS:
            return f"{action.value} is not a node action"
        if action.value not in {capability.value for capability in self.CAPABILITIES}:
            return f"{self.kind.value} provider cannot {action.value} a node"
        return None

    def plan_node(self, action: Action, node: Node) -> MutationPlan:
        """Plan a node action: calls `plan_<action>(node)`. Sends nothing mutating."""
        reason = self.node_refusal(action, node)
        if reason:
            raise NotSupported(reason)
        planner: Callable[[Node], MutationPlan] | None = getattr(self, f"plan_{action.value}", None)
        if planner is None:
            raise NotSupported(f"{self.kind.value} provider cannot {action.value} a node")
        return planner(node)

    def check(self, action: Action, service: Service) -> None:
        reason = self.refusal(action, service)
        if reason:
            raise NotSupported(reason)

    def plan(self, action: Action, service: Service, **params: Any) -> MutationPlan:
        """Plan any action: calls `plan_<action>(service, **params)`. Sends nothing mutating."""
        self.check(action, service)
        if action is Action.SCALE:
            replicas = params.get("replicas")
            if not isinstance(replicas, int) or isinstance(replicas, bool):
                raise InvalidInput(f"replicas must be a whole number, not {replicas!r}")
            if not 0 <= replicas <= self.MAX_REPLICAS:
                raise InvalidInput(f"{replicas} replicas is outside what {self.words.name(self.kind)} accepts "
                                   f"(0 to {self.MAX_REPLICAS}); --force does not lift this limit")
        if action is Action.AUTOSCALE_BOUNDS:
            for key in ("minimum", "maximum"):
                value = params.get(key)
                if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= self.MAX_REPLICAS:
                    raise InvalidInput(f"{key} must be a whole number from 0 to {self.MAX_REPLICAS}, not {value!r}")
        planner: Callable[..., MutationPlan] | None = getattr(self, f"plan_{action.value}", None)
        if planner is None:
            raise NotSupported(f"the {self.words.name(self.kind)} provider cannot {action.value}")
        return planner(service, **params)

    @abstractmethod
    def plan_scale(self, service: Service, replicas: int) -> MutationPlan:
        """Validate against live state and describe the change; sends nothing mutating."""

    @abstractmethod
    def plan_rollback(self, service: Service) -> MutationPlan:
        """Find what to roll back to; raise NotSupported when there is nothing. Sends nothing mutating."""

    @abstractmethod
    def apply(self, plan: MutationPlan) -> str:
        """Carry out a plan; returns a one-line result. Raises Conflict when the object changed meanwhile."""

    def apply_with_progress(self, plan: MutationPlan, progress: Progress) -> str:
        """apply(), telling `progress` how a long action goes (a Kubernetes drain's evictions, one line each).
        The default has nothing to tell."""
        return self.apply(plan)

    def inspect(self, target: InspectTarget) -> InspectResult:
        """The orchestrator's own description of a service, task or node, masked (providers/inspect.py).
        Blocking: one or two reads."""
        raise NotSupported(f"{self.kind.value} provider cannot inspect yet")

    def revisions_diff(self, service: Service) -> RevisionDiff:
        """What changed from the previous revision to the current one, field by field; NoPreviousRevision
        (exit 2) when there is none. Blocking: reads the live objects."""
        raise NotSupported(f"{self.kind.value} provider cannot compare revisions yet")

    def run_exec(self, plan: MutationPlan, streams: ExecStreams) -> int:
        """Run a planned exec (Action.EXEC) on `streams` and return the command's exit code. Blocks for the
        whole session; the console calls it with the TUI suspended, after the intent is audited."""
        raise NotSupported(f"the {self.words.name(self.kind)} provider cannot exec")

    def logs(
        self, service: Service, *, task_id: str = "", tail: int = 200, follow: bool = False,
        stop: ThreadEvent | None = None,
    ) -> Iterator[LogLine]:
        raise NotSupported(f"the {self.words.name(self.kind)} provider cannot show logs yet")
