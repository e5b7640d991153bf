"""Kubernetes: Deployments, StatefulSets and DaemonSets as services, their Pods as tasks.

The provider wires the pieces: a Connection (client.py) for requests, one Reflector per kind (watch.py)
feeding a cache that `snapshot()` maps (mapping.py) with zero API calls once synced, log readers
(logs.py, follow.py) and scale/rollback (actions.py, rollout.py). The `kubernetes` SDK is imported only
when a connection is loaded.

The cluster's `scope` says when a namespaced kind fell back to the context's namespace because listing
the whole cluster is forbidden; forbidden kinds are listed in `cluster.forbidden`, not shown as empty.
Every kind that is forbidden, failing or unsynced is a gap in `cluster.missing` (gaps.py). A one-shot
command (`one_shot`) waits, until its deadline, for failing lists to be retried (the reflectors back off
and retry 429 and 5xx answers themselves).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import ClassVar

from pilothouse.providers.base import (
    Action,
    Capability,
    ClusterConfig,
    LoginCommand,
    LogLine,
    MutationPlan,
    Option,
    Progress,
    Provider,
)
from pilothouse.providers.errors import InvalidInput, Unreachable
from pilothouse.providers.exec import ExecStreams
from pilothouse.providers.inspect import InspectResult, InspectTarget
from pilothouse.providers.kubernetes import actions, autoscalers, drain, node_actions
from pilothouse.providers.kubernetes import exec as pod_exec
from pilothouse.providers.kubernetes.advice import KubernetesAdvice
from pilothouse.providers.kubernetes.client import Connection
from pilothouse.providers.kubernetes.follow import LogReader, NewPodScout
from pilothouse.providers.kubernetes.gaps import gap_of, mark_services
from pilothouse.providers.kubernetes.inspect import inspect as inspect_object
from pilothouse.providers.kubernetes.logs import log_target, pod_log_streams
from pilothouse.providers.kubernetes.mapping import build_cluster
from pilothouse.providers.kubernetes.memo import MappingMemo
from pilothouse.providers.kubernetes.networks import build_networks
from pilothouse.providers.kubernetes.objects import (
    ENDPOINT_SLICES,
    NETWORK_POLICIES,
    PODS,
    WATCHED_KINDS,
    Kind,
    Obj,
    _dict,
    _key,
    _list,
    _str,
    collection_path,
)
from pilothouse.providers.kubernetes.revisions import revisions_diff
from pilothouse.providers.kubernetes.vocabulary import KUBERNETES_WORDS
from pilothouse.providers.kubernetes.watch import Reflector, ReflectorHost
from pilothouse.providers.model import Cluster, ClusterKind, ConnectionState, Node, Service
from pilothouse.providers.revisions import RevisionDiff

DRAIN_TIMEOUT_S = 300.0


class KubernetesProvider(Provider):
    kind = ClusterKind.KUBERNETES
    VOCABULARY = KUBERNETES_WORDS
    OPTIONS: ClassVar[Mapping[str, Option]] = {
        "kubeconfig": Option((str,), "kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)"),
        "context": Option((str,), "context to use (default: the kubeconfig's current context)"),
        "namespaces": Option((list,), "namespaces to show (default: the whole cluster, else the context's namespace)"),
        "drain_timeout": Option((int, float), "seconds a node drain keeps retrying evictions a PodDisruptionBudget "
                                              "refuses (default 300; kubectl drain --timeout)"),
    }
    CAPABILITIES: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.SCALE, Capability.ROLLBACK, Capability.RESTART, Capability.PAUSE, Capability.RESUME,
         Capability.CORDON, Capability.UNCORDON, Capability.DRAIN, Capability.WATCH, Capability.LOGS,
         Capability.AUTOSCALE_BOUNDS, Capability.EXEC}
    )
    ADVICE = KubernetesAdvice()

    def __init__(self, config: ClusterConfig) -> None:
        super().__init__(config)
        # Tunables; tests shorten them. Every request has a client-side timeout.
        self.connect_timeout_s = 5.0
        self.request_timeout_s = 30.0
        self.watch_timeout_s = 60.0  # server-side timeoutSeconds; the watch is then resumed, not relisted
        self.watch_read_slack_s = 15.0
        self.backoff_initial_s = 0.5
        self.backoff_max_s = 30.0
        self.forbidden_retry_s = 60.0
        # What the last snapshot mapped: the next maps again only the workloads whose objects changed.
        self._memo = MappingMemo()
        self._memo_lock = threading.Lock()
        # A drain retries evictions a PodDisruptionBudget refuses this often (kubectl: 5 s), until its deadline.
        self.drain_retry_s = 5.0
        timeout = config.options.get("drain_timeout", DRAIN_TIMEOUT_S)
        self.drain_timeout_s = max(0.0, float(timeout)) if isinstance(timeout, int | float) else DRAIN_TIMEOUT_S
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
        self._stop = threading.Event()
        self._reflectors: list[Reflector] = []
        self._start_lock = threading.Lock()
        self._on_change: Callable[[], None] | None = None
        self._progress = threading.Event()  # set whenever a reflector's cache or state changes
        self._deadline: float | None = None
        # Last: a configured kubeconfig that does not exist raises InvalidInput here.
        self.connection = Connection(self.name, config.options, self)

    # -- connection --

    @property
    def endpoint(self) -> str:
        return self.connection.endpoint

    @property
    def context_namespace(self) -> str:
        """The kubeconfig context's own namespace, read with the kubeconfig."""
        return self.connection.context_namespace

    def login_command(self) -> LoginCommand | None:
        """The context's exec credential plugin, to run interactively; see Connection.login_command."""
        return self.connection.login_command()

    def configured_namespaces(self) -> list[str]:
        return [_str(n) for n in _list(self.config.options.get("namespaces")) if _str(n)]

    def fallback_namespace(self, kind: Kind, namespace: str) -> str:
        """Where a forbidden cluster-wide list of `kind` looks instead ("" = nowhere)."""
        if namespace or not kind.namespaced or self.configured_namespaces():
            return ""
        return self.context_namespace

    def connect(self) -> None:
        self.connection.client()
        self.connection.request("GET", "/version", read_timeout=self.connect_timeout_s * 2, doing="connecting")

    def credentials_renewed(self) -> None:
        """Load the kubeconfig again (re-running an exec plugin) and end the reflectors' backoff."""
        self.connection.credentials_renewed()
        for reflector in list(self._reflectors):
            reflector.retry_now()

    # -- the cache --

    def one_shot(self, deadline: float) -> None:
        self._deadline = deadline

    def _changed(self) -> None:
        self._progress.set()
        callback = self._on_change
        if callback is not None:
            callback()

    def _ensure_reflectors(self) -> None:
        with self._start_lock:
            if self._reflectors:
                return
            self._stop = threading.Event()
            host = ReflectorHost(settings=self, stop=self._stop, request=self.connection.request,
                                 changed=self._changed, fallback_namespace=self.fallback_namespace)
            namespaces = self.configured_namespaces()
            reflectors = []
            for kind in WATCHED_KINDS:
                for namespace in (namespaces if kind.namespaced and namespaces else [""]):
                    reflectors.append(Reflector(host, kind, namespace))
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
        self.connection.close()

    def snapshot(self) -> Cluster:
        if not self.connection.loaded:
            self.connect()
        self._ensure_reflectors()
        one_shot = self._deadline
        deadline = one_shot if one_shot is not None else time.monotonic() + self.sync_timeout_s
        for reflector in self._reflectors:
            reflector.settled.wait(max(0.0, deadline - time.monotonic()))
        if one_shot is not None:
            self._wait_complete(one_shot)
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
        with self._memo_lock:  # a refresher and a one-off snapshot (an action's) may overlap
            cluster = build_cluster(self.name, objects, now=datetime.now(UTC), max_events=self.max_events,
                                    memo=self._memo)
        cluster.endpoint = self.endpoint
        cluster.forbidden = tuple(r.label for r in reflectors if r.forbidden)
        cluster.missing = tuple(gap for gap in map(gap_of, reflectors) if gap is not None)
        mark_services(cluster.services, reflectors, datetime.now(UTC))
        # Endpoint counts only from a complete read of their kind: unknown is not zero.
        unread = {r.kind.resource for r in reflectors if not r.synced or r.forbidden}
        cluster.networks, cluster.network_policies = build_networks(
            objects, cluster.services, slices_known=ENDPOINT_SLICES.resource not in unread,
            policies_known=NETWORK_POLICIES.resource not in unread)
        cluster.scope = self._scope(reflectors)
        # Failing, unsynced and forbidden kinds are in cluster.missing (and forbidden), not repeated in the error.
        cluster.state = ConnectionState.DEGRADED if cluster.missing else ConnectionState.CONNECTED
        cluster.error = ""
        cluster.last_sync = datetime.now(UTC)
        return cluster

    def _wait_complete(self, deadline: float) -> None:
        """Until every kind has answered (or is forbidden: RBAC does not change in seconds) or the deadline."""
        while not all((r.synced and r.error is None) or r.forbidden for r in self._reflectors):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            self._progress.wait(min(remaining, 0.5))
            self._progress.clear()

    def _scope(self, reflectors: list[Reflector]) -> str:
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
        kind, namespace, name = actions.parse_id(service)
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
        reader = LogReader(self.connection.request, self)
        if not follow:
            return reader.history(streams, tail, stop)
        scout = None
        if target.prefix is not None:
            scout = NewPodScout(self.cached, kind, namespace, name, target)
            for pod in pods:
                scout.know(pod, pod_log_streams(pod, target.container, now))
        return reader.follow(streams, tail, stop, scout)

    def _pod(self, namespace: str, name: str) -> Obj:
        for pod in self.cached(PODS.resource):
            if _key(pod) == (namespace, name):
                return pod
        found = self.connection.request("GET", f"{collection_path(PODS, namespace)}/{name}",
                              doing=f"reading pod {namespace}/{name}")
        return _dict(found)

    # -- mutations --

    def refusal(self, action: Action, service: Service) -> str | None:
        if action is Action.EXEC and (reason := pod_exec.refusal(service)):
            return reason
        return actions.refusal(action, service) or super().refusal(action, service)

    def plan_scale(self, service: Service, replicas: int) -> MutationPlan:
        self.check(Action.SCALE, service)
        return actions.plan_scale(self.connection.request, self.name, service, replicas)

    def plan_rollback(self, service: Service) -> MutationPlan:
        self.check(Action.ROLLBACK, service)
        return actions.plan_rollback(self.connection.request, self.name, service)

    def plan_restart(self, service: Service) -> MutationPlan:
        self.check(Action.RESTART, service)
        return actions.plan_restart(self.connection.request, self.name, service)

    def plan_pause(self, service: Service) -> MutationPlan:
        self.check(Action.PAUSE, service)
        return actions.plan_pause(self.connection.request, self.name, service, pause=True)

    def plan_resume(self, service: Service) -> MutationPlan:
        self.check(Action.RESUME, service)
        return actions.plan_pause(self.connection.request, self.name, service, pause=False)

    def plan_cordon(self, node: Node) -> MutationPlan:
        return node_actions.plan_cordon(self.connection.request, self.name, node, cordon=True)

    def plan_uncordon(self, node: Node) -> MutationPlan:
        return node_actions.plan_cordon(self.connection.request, self.name, node, cordon=False)

    def plan_drain(self, node: Node) -> MutationPlan:
        return drain.plan_drain(self.connection, self.name, node, timeout_s=self.drain_timeout_s)

    def node_refusal(self, action: Action, node: Node) -> str | None:
        return node_actions.refusal(action, node) or super().node_refusal(action, node)

    def plan_autoscale_bounds(self, service: Service, minimum: int, maximum: int) -> MutationPlan:
        self.check(Action.AUTOSCALE_BOUNDS, service)
        return autoscalers.plan_bounds(self.connection.request, self.name, service, minimum, maximum)

    def apply_with_progress(self, plan: MutationPlan, progress: Progress) -> str:
        if plan.action is Action.DRAIN:
            return drain.Drain(self.connection, plan, progress, timeout_s=self.drain_timeout_s,
                               retry_s=self.drain_retry_s).run()
        return self.apply(plan)

    def plan_exec(self, service: Service, *, task_id: str = "", container: str = "",
                  command: tuple[str, ...] = (), tty: bool = False) -> MutationPlan:
        """A pod and container to exec into (providers/kubernetes/exec.py); reads the live pod only."""
        self.check(Action.EXEC, service)
        _kind, namespace, _name = actions.parse_id(service)
        return pod_exec.plan_exec(self.connection.request, self.name, service, namespace, task_id=task_id,
                                  container=container, command=tuple(command), tty=tty)

    def run_exec(self, plan: MutationPlan, streams: ExecStreams) -> int:
        return pod_exec.run_exec(self.connection, plan, streams)

    def apply(self, plan: MutationPlan) -> str:
        if plan.action is Action.DRAIN:
            return self.apply_with_progress(plan, Progress())
        if plan.action in (Action.CORDON, Action.UNCORDON):
            return node_actions.apply_cordon(self.connection.request, plan)
        if plan.action is Action.AUTOSCALE_BOUNDS:
            return autoscalers.apply_bounds(self.connection.request, plan)
        return actions.apply(self.connection.request, plan)

    def revisions_diff(self, service: Service) -> RevisionDiff:
        return revisions_diff(self.connection.request, service)

    def inspect(self, target: InspectTarget) -> InspectResult:
        return inspect_object(self.connection.request, target)
