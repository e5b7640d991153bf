"""SwarmProvider: one swarm manager's API, mapped into the unified model; it wires the modules beside it.

A refresh is exactly three list calls whatever the fleet size (services with status, tasks, nodes), plus the
networks list on a slower tier: when the last one is older than `networks_refresh_s`, or an unknown network
id shows up (the first refresh therefore makes four). Network names also come free with the tasks' own
attachments. An image is inspected (images.py) only when a service's spec says nothing about health.
Networks: networks.py. Connection: client.py; errors: errors.py; the timeline and watch: events.py; logs: logs.py;
scale and rollback: actions.py.

The services list is the snapshot: if it fails, the cluster is unreachable. A failing tasks or nodes list
(HTTP 500, 503 from a manager without quorum) is a gap in `Cluster.missing`: the last good list is shown
with its age (services marked stale), or, with none, the tasks are unknown (never zero) and the nodes not
shown. A one-shot command (`one_shot`) retries those calls with backoff until its deadline.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar

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
from pilothouse.providers.completeness import Gaps, reason_of
from pilothouse.providers.errors import CredentialsError, Forbidden, InvalidInput, ProviderError, Unreachable
from pilothouse.providers.exec import ExecStreams
from pilothouse.providers.inspect import InspectResult, InspectTarget, TargetKind, plain, render
from pilothouse.providers.model import Cluster, ClusterKind, ConnectionState, Node, NodeStatus, Service
from pilothouse.providers.revisions import RevisionDiff
from pilothouse.providers.swarm import actions, node_actions
from pilothouse.providers.swarm import exec as exec_session
from pilothouse.providers.swarm.advice import SwarmAdvice
from pilothouse.providers.swarm.client import Endpoint, new_client, resolve_endpoint
from pilothouse.providers.swarm.engines import EngineImages
from pilothouse.providers.swarm.errors import NOT_A_MANAGER, NotSwarmManager, translate_error
from pilothouse.providers.swarm.events import EventBuffer, EventWatch
from pilothouse.providers.swarm.images import ImageHealthchecks
from pilothouse.providers.swarm.logs import stream_logs
from pilothouse.providers.swarm.mapping import (
    learn_network_names,
    map_node,
    map_service,
    network_ids,
    select_tasks,
)
from pilothouse.providers.swarm.networks import build_networks, names_of
from pilothouse.providers.swarm.raw import Raw, as_dict, as_list, as_str
from pilothouse.providers.swarm.revisions import previous_diff
from pilothouse.providers.swarm.spec import container_spec
from pilothouse.providers.swarm.tasks import read_tasks
from pilothouse.providers.swarm.vocabulary import SWARM_WORDS

if TYPE_CHECKING:
    from docker.api.client import APIClient

log = logging.getLogger(__name__)


class SwarmProvider(Provider):
    kind = ClusterKind.SWARM
    VOCABULARY = SWARM_WORDS
    OPTIONS: ClassVar[Mapping[str, Option]] = {
        "docker_host": Option(
            (str,),
            "engine URL of a swarm manager: unix:///var/run/docker.sock, tcp://host:2376 (TLS from "
            "DOCKER_TLS_VERIFY/DOCKER_CERT_PATH) or ssh://user@host; default DOCKER_HOST, the current "
            "docker context, then the local socket",
        ),
        "docker_context": Option(
            (str,),
            "name of a docker context (docker context ls) whose engine is a swarm manager; its TLS material is "
            "used as the docker CLI uses it; docker_host wins when both are set",
        ),
        "node_engine": Option(
            (str,),
            "how to reach the engine of each node: a template such as \"ssh://ops@{node}\", "
            "\"unix:///run/engines/{node}.sock\" or \"tcp://{addr}:2376\" ({node} is the node's hostname, {addr} "
            "its address); exec runs there (without it, only in tasks on the manager itself), and the doctor reads "
            "what each task's container really runs (image-drift)",
        ),
        "zone_label": Option(
            (str,),
            "the node label that names a node's zone or rack (docker node update --label-add zone=eu-1a NODE: "
            "\"zone\"); the doctor's single-zone rule then finds a service's replicas all in one zone (without "
            "it, only all on one node)",
        ),
    }
    # PAUSE is offered to say why not: the engine pauses an update by itself only.
    CAPABILITIES = frozenset({Capability.SCALE, Capability.ROLLBACK, Capability.RESTART, Capability.PAUSE,
                              Capability.RESUME, Capability.CORDON, Capability.UNCORDON, Capability.DRAIN,
                              Capability.WATCH, Capability.LOGS, Capability.EXEC})
    MAX_REPLICAS = 2**31 - 1  # the API takes a uint64; this ceiling is what a swarm could ever run, and int32-safe
    ADVICE = SwarmAdvice()

    def __init__(self, config: ClusterConfig) -> None:
        super().__init__(config)
        self._client: APIClient | None = None
        self._endpoint: Endpoint | None = None
        self._network_names: dict[str, str] = {}
        self._image_checks = ImageHealthchecks()
        self._events = EventBuffer(self.name)
        self._seeded_until: int | None = None
        self._watch = EventWatch(self.name, self._events, config.refresh_interval)
        self._gaps = Gaps()
        self._earlier: dict[str, tuple[datetime, list[Any]]] = {}  # "tasks"/"nodes": the last good list
        self._deadline: float | None = None
        # The networks list changes rarely (networks.py): read again after this long, or for an unknown id.
        self.networks_refresh_s = 60.0
        self._networks_read: float | None = None  # time.monotonic() of the last good /networks list
        self._engine_images = EngineImages()
        self._look_deadline: float | None = None  # the doctor asked for its slow path (doctor_look)
        self._node_id = ""  # the swarm node of the engine we are connected to: its tasks exec through us

    @property
    def zone_label(self) -> str:
        label = self.config.options.get("zone_label")
        return label.strip() if isinstance(label, str) else ""

    def doctor_look(self, deadline: float) -> None:
        self._look_deadline = deadline

    def _engine_look(self, raw_tasks: list[Any] | None, raw_nodes: list[Any] | None) -> None:
        """The doctor's slow path, once per doctor_look: each node's engine says what its tasks run. The
        snapshot's tasks are compacted (no container ids): the running ones are listed again, whole, for it."""
        deadline, self._look_deadline = self._look_deadline, None
        template = self.config.options.get("node_engine")
        if deadline is None or not isinstance(template, str) or not template or raw_tasks is None:
            return
        try:
            running = as_list(self._call(lambda client: client.tasks(filters={"desired-state": "running"})))
        except ProviderError as error:  # the look is extra: the snapshot stands without it
            log.warning("%s: the doctor's look at the node engines could not list tasks: %s", self.name, error)
            return
        self._engine_images.look(template, running, raw_nodes or [], deadline)
        self._engine_images.forget_except(as_str(as_dict(task).get("ID")) for task in raw_tasks)

    def one_shot(self, deadline: float) -> None:
        self._deadline = deadline

    # -- connection -------------------------------------------------------------------------------------

    @property
    def endpoint(self) -> str:
        return self._endpoint.base_url if self._endpoint else ""

    def connect(self) -> None:
        option = self.config.options.get("docker_host")
        context = self.config.options.get("docker_context")
        endpoint = resolve_endpoint(option if isinstance(option, str) else None, os.environ,
                                    context if isinstance(context, str) else None)
        client = new_client(endpoint)
        try:
            info = client.info()
        except Exception as error:
            client.close()
            raise translate_error(error, endpoint.base_url) from None
        swarm = as_dict(as_dict(info).get("Swarm"))
        if swarm.get("LocalNodeState") != "active" or not swarm.get("ControlAvailable"):
            client.close()
            where = "it is a swarm worker" if swarm.get("LocalNodeState") == "active" else "it is not in a swarm"
            raise NotSwarmManager(
                NOT_A_MANAGER,
                f"{endpoint.base_url} ({endpoint.source}): {where}; point docker_host at a manager node",
            )
        if self._client is not None:
            self._client.close()
        self._client = client
        self._endpoint = endpoint
        self._node_id = as_str(swarm.get("NodeID"))
        seeded_until = self._events.seed(client)
        if seeded_until is not None:
            self._seeded_until = seeded_until

    def _api(self) -> APIClient:
        if self._client is None:
            self.connect()
        assert self._client is not None
        return self._client

    def _call(self, fn: Callable[[APIClient], Any]) -> Any:
        client = self._api()
        try:
            return fn(client)
        except Exception as error:  # every SDK error becomes a typed one
            raise translate_error(error, self.endpoint) from None

    # -- snapshot ---------------------------------------------------------------------------------------

    def _read_list(self, part: str, fn: Callable[[APIClient], Any]) -> tuple[list[Any] | None, bool]:
        """A list the snapshot can do without: (items, stale). On failure the last good list and True, or
        None (unknown) when there is none; the gap is noted either way. A one-shot look retries first."""
        wait = 0.25
        while True:
            try:
                items = as_list(self._call(fn))
            except (Unreachable, CredentialsError, InvalidInput):
                raise  # the engine is gone, or refuses us: the cluster is unreachable, not partial
            except ProviderError as error:
                retry = not isinstance(error, Forbidden) and self._deadline is not None
                if retry and self._deadline is not None and time.monotonic() + wait < self._deadline:
                    time.sleep(wait * random.uniform(0.5, 1.0))
                    wait = min(wait * 2, 4.0)
                    continue
                earlier = self._earlier.get(part)
                self._gaps.note(part, f"Swarm {part}", reason_of(error, "the engine"), part=part,
                                shown_from=earlier[0] if earlier else None)
                return (earlier[1], True) if earlier else (None, False)
            self._earlier[part] = (datetime.now(UTC), items)
            self._gaps.close(part)
            return items, False

    def snapshot(self) -> Cluster:
        self._gaps.begin()
        services = as_list(self._call(lambda client: client.services(status=True)))
        observed = datetime.now(UTC)
        raw_tasks, tasks_stale = self._read_list("tasks", read_tasks)
        raw_nodes, _ = self._read_list("nodes", lambda client: client.nodes())
        learn_network_names(raw_tasks or [], self._network_names)
        raw_networks = self._read_networks(services)
        nodes = tuple(map_node(as_dict(node)) for node in raw_nodes or [] if isinstance(node, Mapping))
        zone_label = self.zone_label
        if zone_label:
            for node in nodes:
                node.zone = node.labels.get(zone_label, "")
        node_names = {node.id: node.name for node in nodes}
        down = frozenset(node.id for node in nodes if node.status is NodeStatus.DOWN)
        self._engine_look(raw_tasks, raw_nodes)
        by_service = select_tasks(raw_tasks or [])
        image_checks = self._image_checks.for_services(self._call, services)
        mapped = [
            map_service(as_dict(service), by_service.get(as_str(as_dict(service).get("ID")), []), node_names,
                        self._network_names, down, image_checks)
            for service in services
            if isinstance(service, Mapping)
        ]
        for service in mapped:
            # Counts come from the services list itself (ServiceStatus); only the tasks may be unknown or old.
            service.observed, service.stale, service.tasks_known = observed, tasks_stale, raw_tasks is not None
            # Progress is counted from the tasks: without them it is unknown, not 0 of N.
            service.rollout.updated_known = raw_tasks is not None
            self._engine_images.apply(service.tasks)
        mapped.sort(key=lambda service: (service.namespace, service.name))
        missing = self._gaps.end()
        return Cluster(
            name=self.name,
            kind=self.kind,
            state=ConnectionState.DEGRADED if missing else ConnectionState.CONNECTED,
            last_sync=datetime.now(UTC),
            nodes=tuple(sorted(nodes, key=lambda node: (node.role != "manager", node.name))),
            services=tuple(mapped),
            events=self._events.events(),
            endpoint=self.endpoint,
            missing=missing,
            networks=build_networks(raw_networks or [], services),
            zone_key=zone_label,
        )

    def _read_networks(self, services: list[Any]) -> list[Any] | None:
        """The last /networks list, read again when due or when a service names a network id new to us."""
        wanted = {net for service in services for net in network_ids(as_dict(as_dict(service).get("Spec")))}
        read = self._networks_read
        due = read is None or time.monotonic() - read >= self.networks_refresh_s
        if due or wanted - self._network_names.keys():
            items, stale = self._read_list("networks", lambda client: client.networks())
            if items is not None and not stale:
                self._networks_read = time.monotonic()
                self._network_names.update(names_of(items))
        earlier = self._earlier.get("networks")
        return earlier[1] if earlier else None

    # -- watch ------------------------------------------------------------------------------------------

    def start_watch(self, on_change: Callable[[], None]) -> bool:
        """Open `/events` (service and node) now, so a change right after this returns is not missed."""
        if self._watch.running:
            return True
        endpoint = self._endpoint or resolve_endpoint(self.config.options.get("docker_host"), os.environ,
                                                      self.config.options.get("docker_context"))
        version = self._client.api_version if self._client is not None else "auto"
        self._watch.start(endpoint, version, self._seeded_until, on_change)
        return True

    def close(self) -> None:
        self._watch.close()
        if self._client is not None:
            self._client.close()
            self._client = None

    # -- mutations --------------------------------------------------------------------------------------

    def refusal(self, action: Action, service: Service) -> str | None:
        if action is Action.AUTOSCALE_BOUNDS:
            return f"Docker Swarm has no autoscaler: the replicas of {service.ref} are what you scale them to"
        return actions.job_refusal(action, service) or super().refusal(action, service)

    def inspect(self, target: InspectTarget) -> InspectResult:
        """`docker service|node inspect` and the task's own object, as YAML."""
        if target.kind is TargetKind.NODE:
            raw = self._call(lambda client: client.inspect_node(target.object_id))
            title = f"node {as_str(as_dict(as_dict(raw).get('Description')).get('Hostname')) or target.object_id}"
        elif target.kind is TargetKind.TASK:
            raw = self._call(lambda client: client.inspect_task(target.object_id))
            title = f"task {target.object_id}"
        else:
            raw = self._call(lambda client: client.inspect_service(target.service_id or target.service_ref))
            title = f"service {target.service_ref}"
        return render(title, plain(raw), "yaml")

    def revisions_diff(self, service: Service) -> RevisionDiff:
        return previous_diff(service.ref, self._inspect(service))

    def _inspect(self, service: Service) -> Raw:
        return as_dict(self._call(lambda client: client.inspect_service(service.id or service.name)))

    def plan_scale(self, service: Service, replicas: int) -> MutationPlan:
        self.check(Action.SCALE, service)
        if replicas < 0:
            raise InvalidInput(f"replicas must be 0 or more, not {replicas}")
        return actions.plan_scale(self.name, service, self._inspect(service), replicas)

    def plan_rollback(self, service: Service) -> MutationPlan:
        self.check(Action.ROLLBACK, service)
        return actions.plan_rollback(self.name, service, self._inspect(service))

    def plan_restart(self, service: Service) -> MutationPlan:
        self.check(Action.RESTART, service)
        return actions.plan_restart(self.name, service, self._inspect(service))

    def plan_resume(self, service: Service) -> MutationPlan:
        self.check(Action.RESUME, service)
        return actions.plan_resume(self.name, service, self._inspect(service))

    def node_refusal(self, action: Action, node: Node) -> str | None:
        return node_actions.refusal(action, node) or super().node_refusal(action, node)

    def _node_plan(self, action: Action, node: Node) -> MutationPlan:
        live = self._call(lambda client: client.inspect_node(node.id or node.name))
        return node_actions.plan_availability(self.name, action, node, as_dict(live))

    def plan_cordon(self, node: Node) -> MutationPlan:
        return self._node_plan(Action.CORDON, node)

    def plan_uncordon(self, node: Node) -> MutationPlan:
        return self._node_plan(Action.UNCORDON, node)

    def plan_drain(self, node: Node) -> MutationPlan:
        return self._node_plan(Action.DRAIN, node)

    def plan_exec(self, service: Service, *, task_id: str = "", container: str = "",
                  command: tuple[str, ...] = (), tty: bool = False) -> MutationPlan:
        """The task (a running one, or the one `task_id` names), its container and its node's engine: reads
        the service's tasks and that node, sends nothing."""
        self.check(Action.EXEC, service)
        service_id = service.id or service.name
        tasks = [as_dict(task) for task in as_list(self._call(
            lambda client: client.tasks(filters={"service": service_id})))]
        # The filter matches by name prefix too (web matches web-admin): only this service's own tasks.
        task = exec_session.choose_task(service, [task for task in tasks
                                                  if as_str(task.get("ServiceID")) in (service.id, "")], task_id)
        node_id = as_str(task.get("NodeID"))
        node = as_dict(self._call(lambda client: client.inspect_node(node_id))) if node_id else {}
        template = self.config.options.get("node_engine")
        self._api()  # connected: the manager's own node id is known
        return exec_session.plan_exec(self.name, service, task, node, manager_node_id=self._node_id,
                                      template=template if isinstance(template, str) else "",
                                      container=container, command=tuple(command), tty=tty)

    def run_exec(self, plan: MutationPlan, streams: ExecStreams) -> int:
        """The session on the node's engine: exec create, start (hijacked), resize, bridge, exit code."""
        engine = str(plan.payload.get("engine") or "")
        client = new_client(resolve_endpoint(engine, os.environ)) if engine else self._api()
        where = engine or self.endpoint
        tty = bool(plan.payload.get("tty"))
        command = [str(word) for word in plan.payload.get("command") or ()]
        container_id = str(plan.payload.get("container_id"))
        try:
            try:
                created = as_dict(client.exec_create(container_id, command, stdout=True, stderr=True, stdin=tty,
                                                     tty=tty))
                exec_id = as_str(created.get("Id"))
                sock = client.exec_start(exec_id, tty=tty, socket=True)
            except Exception as error:
                raise translate_error(error, where) from None
            try:
                exec_session.bridge(sock, streams, tty=tty,
                                    resize=lambda columns, rows: self._resize(client, exec_id, columns, rows))
            finally:
                sock.close()
            return self._exec_exit(client, exec_id, where)
        finally:
            if engine:
                client.close()

    @staticmethod
    def _resize(client: APIClient, exec_id: str, columns: int, rows: int) -> None:
        try:
            client.exec_resize(exec_id, height=rows, width=columns)
        except Exception:  # a session without the right size is still a session
            return

    @staticmethod
    def _exec_exit(client: APIClient, exec_id: str, where: str) -> int:
        # The stream ends as the process does; the engine records its code a moment later.
        deadline = time.monotonic() + 10
        while True:
            try:
                code = exec_session.exit_code(as_dict(client.exec_inspect(exec_id)))
            except Exception as error:
                raise translate_error(error, where) from None
            if code is not None:
                return code
            if time.monotonic() > deadline:
                raise ProviderError(f"the exec on {where} ended but the engine reports no exit code")
            time.sleep(0.05)

    def apply(self, plan: MutationPlan) -> str:
        if plan.action in NODE_ACTIONS:
            return str(self._call(lambda client: node_actions.update_node(client, plan)))
        spec, params, done = actions.update_request(plan)
        result = self._call(lambda client: actions.send_update(client, plan.service_id, spec, params))
        return actions.outcome(done, result)

    # -- logs -------------------------------------------------------------------------------------------

    def logs(
        self, service: Service, *, task_id: str = "", tail: int = 200, follow: bool = False,
        stop: threading.Event | None = None,
    ) -> Iterator[LogLine]:
        """The service's logs through the engine (all tasks, or the one `task_id` starts), oldest first.

        Without follow: the newest `tail` lines across all tasks, in time order. With follow: the engine's
        `tail` per task, then new lines as they come, until `stop` is set (the response is closed from a
        helper thread, so a quiet stream ends at once too).
        """
        stop = stop or threading.Event()
        live = self._inspect(service)
        yield from stream_logs(
            self._call, cluster=self.name, endpoint=self.endpoint, service_id=as_str(live.get("ID")),
            service_ref=service.ref, tty=bool(container_spec(as_dict(live.get("Spec"))).get("TTY")),
            task_id=task_id, tail=tail, follow=follow, stop=stop,
        )
