"""The doctor's findings under Docker Swarm's defaults, and `docker service` commands naming the service.

Defaults the "why"s rest on: updates replace one task at a time (parallelism 1), stop-first, and pause on
failure; a rollback without a config of its own runs on the same defaults; a task whose node goes down is
rescheduled on another node; a task without a health check counts as healthy once its process runs; the
stop grace period is 10 s; a named volume on the local driver is created empty on each node a task lands on.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from pilothouse.providers.advice import (
    DoctorAdvice,
    Severity,
    Verdict,
    holds_node_data,
    pinned_alone,
    q,
    replicas_write,
    volume_label,
)
from pilothouse.providers.model import ContainerSpec, Mount, Service, Task, TaskState, UpdatePolicy, VolumeKind

if TYPE_CHECKING:
    from pilothouse.providers.doctor_runtime import Spread


def _update(service: Service, *options: str) -> str:
    return " ".join(("docker service update", *options, q(service.name)))


def _stops_everything(policy: UpdatePolicy, desired: int) -> bool:
    """Swarm's maxUnavailable 100%: parallelism 0 (all at once) or at least every replica, old tasks stopped
    first. One replica is left to the single-replica rule: the default parallelism 1 would flag it too."""
    if policy.parallelism is None or desired < 2 or policy.order == "start-first":
        return False
    return policy.parallelism == 0 or policy.parallelism >= desired


def _current_node(service: Service) -> str:
    """The node the service's only running task is on, to pin it there; "NODE" when that is not one node."""
    nodes = {task.node_name for task in service.tasks
             if task.desired_state is TaskState.RUNNING and task.node_name}
    return next(iter(nodes)) if len(nodes) == 1 else "NODE"


class SwarmAdvice(DoctorAdvice):
    node = "node"
    grace = "the stop grace period (10 s by default)"
    drift_cause = ("The tag was resolved at different times: an update that stopped part-way, or nodes that "
                   "pulled an unpinned tag on their own")

    def task_name(self, service: Service, task: Task) -> str:
        """`docker service ps` names: web.2 for a replica, the task id for a global service's."""
        return f"{service.name}.{task.slot}" if task.slot is not None else task.id[:12]

    def unpinned_image(self, service: Service, container: ContainerSpec) -> Verdict | None:
        return Verdict(
            Severity.LOW,
            f"tag not pinned: the manager did not resolve {container.image} to a digest (--no-resolve-image, or it "
            "could not reach the registry), so each node pulls the tag on its own: nodes may run different images",
            "let the manager resolve it, with the registry reachable from it (or give --image IMAGE@sha256:DIGEST): "
            + _update(service, "--image", q(container.image)))

    def spread_fix(self, service: Service, spread: Spread, zone_key: str) -> str:
        if spread.scope == "zone" and zone_key:
            return _update(service, "--placement-pref-add", q(f"spread=node.labels.{zone_key}"))
        # The scheduler spreads replicas over the nodes it may use, but never moves running tasks back.
        return ("check the service's constraints and the other nodes' availability (docker node ls), then place "
                "the tasks again: " + _update(service, "--force"))

    def set_image(self, service: Service, container: ContainerSpec, image: str) -> str:
        return _update(service, "--image", q(image))

    def set_memory_limit(self, service: Service, container: ContainerSpec) -> str:
        return _update(service, "--limit-memory", "512M")

    def scale(self, service: Service, replicas: int) -> str:
        return f"docker service scale {q(f'{service.name}={replicas}')}"

    def remove_env(self, service: Service, container: ContainerSpec, name: str) -> str:
        return _update(service, "--env-rm", q(name))

    def secret_env(self, service: Service, container: ContainerSpec, name: str) -> str:
        secret = f"{service.name}_{name.lower()}"
        target = name.lower()
        variable = name if name.isidentifier() else "VALUE"
        return (f"make the app read /run/secrets/{target}, then: printf %s \"${variable}\" | docker secret create "
                f"{q(secret)} - && "
                + _update(service, "--env-rm", q(name), "--secret-add", q(f"source={secret},target={target}")))

    def remove_mount(self, service: Service, container: ContainerSpec, mount: Mount) -> str:
        return "bake the code into the image, then " + _update(service, "--mount-rm", q(mount.target))

    def remove_port(self, service: Service, port: str) -> str:
        return "remove the debugger, then " + _update(service, "--publish-rm", q(port))

    def sidecars(self) -> str:
        return "run each helper as its own service"

    def no_memory_limit(self, service: Service, container: ContainerSpec) -> Verdict:
        return Verdict(Severity.MEDIUM,
                       "no memory limit: one leak can take all of the node's memory, and the kernel's OOM killer then "
                       "picks among every container on it", self.set_memory_limit(service, container))

    def single_replica(self, service: Service) -> Verdict | None:
        fix = self.scale(service, 2)
        if service.update_policy.order == "start-first":
            return Verdict(Severity.LOW, "one replica: start-first updates keep it up, but it is down whenever its "
                                         "task stops (a crash, its node down) until a new one runs", fix)
        return Verdict(Severity.LOW, "one replica: the default stop-first update stops it before its replacement "
                                     "starts, so it is down during every update, and on node loss until rescheduled",
                       fix)

    def health(self, service: Service, container: ContainerSpec) -> Iterator[Verdict]:
        if container.healthcheck is False:
            mesh = "the routing mesh sends it requests, " if service.ports else ""
            yield Verdict(Severity.MEDIUM,
                          f"no health check: a task counts as healthy once its process runs, so {mesh}an update moves "
                          "on before it can serve, and a hung process is never replaced",
                          "a HEALTHCHECK in the image, or: "
                          + _update(service, "--health-cmd", q("CHECK-COMMAND"), "--health-interval", "10s"))

    def update_policy(self, service: Service) -> Iterator[Verdict]:
        policy = service.update_policy
        # Every orchestrator's "an update may stop every replica at once" is the same outage: HIGH everywhere.
        if _stops_everything(policy, service.desired):
            yield Verdict(Severity.HIGH,
                          f"update parallelism {policy.parallelism or 'unlimited'} with stop-first stops every task "
                          "at once during an update",
                          _update(service, "--update-parallelism", "1", "--update-order", "start-first"))
        if policy.failure_action == "continue":
            yield Verdict(Severity.MEDIUM,
                          "update failure action is continue: a task that fails to start does not stop the update, "
                          "a bad image rolls on to every task",
                          _update(service, "--update-failure-action", "rollback"))
        elif policy.has_rollback_policy is False:
            yield Verdict(Severity.LOW,
                          "no rollback config: a rollback runs on the engine's defaults (stop-first, pause when a "
                          "task fails)",
                          _update(service, "--rollback-parallelism", "1", "--rollback-order", "start-first",
                                  "--rollback-monitor", "10s"))

    def shared_data(self, service: Service, container: ContainerSpec, mount: Mount) -> Verdict | None:
        if not holds_node_data(mount) or pinned_alone(service):
            return None
        several = service.desired > 1
        where = ("lives on the node that created it (each node gets an empty one)"
                 if mount.kind is VolumeKind.NAMED_LOCAL else "is a directory of whichever node runs the task")
        what = (replicas_write(service, "replicas each write their own copy") if several else
                "a task rescheduled to another node (node down, drain) starts without the data, which stays behind")
        volume = mount.source if mount.kind is VolumeKind.NAMED_LOCAL else f"{service.name}_data"
        move = _update(service, "--mount-rm", q(mount.target), "--mount-add",
                       q(f"type=volume,source={volume},target={mount.target},volume-driver=DRIVER"))
        fix = f"put it on a volume driver every node reaches (a plugin, or NFS): {move}"
        if not several:
            pin = _update(service, "--constraint-add", q(f"node.hostname=={_current_node(service)}"))
            fix = f"keep it with its data ({pin}), or {fix}"
        return Verdict(Severity.HIGH if several else Severity.MEDIUM, f"{volume_label(mount)} {where}: {what}", fix)
