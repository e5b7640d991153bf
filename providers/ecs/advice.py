"""The doctor's findings under Amazon ECS' defaults, and aws CLI commands naming the cluster and service.

Defaults the "why"s rest on: a rolling deployment with minimumHealthyPercent 100 and maximumPercent 200
starts replacements before it stops old tasks; a task counts as healthy once its essential containers run
(behind a load balancer the target group's check applies too); stopTimeout is 30 s; the deployment circuit
breaker is off unless enabled; a Docker volume with scope task is made when the task starts and deleted
when it stops. A task definition is immutable: a change is a new revision, then an update-service.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from pilothouse.providers.advice import (
    DoctorAdvice,
    Severity,
    Verdict,
    holds_node_data,
    node_path,
    pinned_alone,
    q,
    volume_label,
)
from pilothouse.providers.model import ContainerSpec, Mount, Service, Task, UpdatePolicy, VolumeKind

if TYPE_CHECKING:
    from pilothouse.providers.doctor_runtime import Spread

# Paths a task-scoped volume is shared at for scratch, sockets or caches: not data that must outlive the task.
SCRATCH = ("/tmp", "/var/tmp", "/cache", "/var/cache", "/scratch")


def _family(service: Service) -> str:
    """The task definition family, from the service's "family:revision"."""
    return service.version.rsplit(":", 1)[0] if ":" in service.version else service.version or service.name


def _update_service(service: Service, *options: str) -> str:
    return " ".join(("aws ecs update-service --cluster", q(service.namespace), "--service", q(service.name),
                     *options))


def _register(service: Service, change: str) -> str:
    family = _family(service)
    return (f"register a revision of task definition {family} with {change} (aws ecs register-task-definition), "
            f"then {_update_service(service, '--task-definition', q(family))}")


def _safe_deployment_configuration(policy: UpdatePolicy) -> str:
    """`--deployment-configuration` (shorthand syntax) that mends every unsafe setting at once, keeping the safe
    ones: each unsafe-update finding gives the same command, so pasting one never undoes another."""
    minimum = policy.min_healthy_percent or 100
    maximum = policy.max_percent
    if minimum >= 100 and (maximum is None or maximum <= minimum):
        maximum = 200  # new tasks must start before old ones stop
    parts = [f"maximumPercent={maximum}"] if maximum is not None else []
    parts.append(f"minimumHealthyPercent={minimum}")
    if policy.circuit_breaker is not None:  # None: not ECS's deployment controller, which has no breaker
        parts.append("deploymentCircuitBreaker={enable=true,rollback=true}")
    return f'--deployment-configuration "{",".join(parts)}"'


class EcsAdvice(DoctorAdvice):
    node = "container instance"
    grace = "stopTimeout (30 s by default)"
    drift_cause = ("ECS resolves a tag to a digest when a deployment starts: tasks started by different "
                   "deployments of the same revision run what the tag meant then")

    def task_name(self, service: Service, task: Task) -> str:
        return task.id

    def spread_fix(self, service: Service, spread: Spread, zone_key: str) -> str:
        if service.details.get("launch type") == "FARGATE" or spread.where.startswith("subnet-"):
            subnets = ",".join([*service.networks, "SUBNET-IN-ANOTHER-AZ"])
            return ("Fargate places tasks in the subnets given, one zone each: add subnets in other Availability "
                    "Zones (keep the security groups): " + _update_service(
                        service, "--network-configuration",
                        q(f"awsvpcConfiguration={{subnets=[{subnets}],securityGroups=[SECURITY-GROUPS]}}"),
                        "--force-new-deployment"))
        fields = (["type=spread,field=attribute:ecs.availability-zone"] if spread.scope == "zone" else []) + [
            "type=spread,field=instanceId"]
        return ("spread the tasks (a new deployment places them again): "
                + _update_service(service, "--placement-strategy", *fields, "--force-new-deployment"))

    def set_image(self, service: Service, container: ContainerSpec, image: str) -> str:
        return _register(service, f"image {image} on container {container.name}")

    def set_memory_limit(self, service: Service, container: ContainerSpec) -> str:
        return _register(service, f'"memory": 512 (MiB, a hard limit) on container {container.name}')

    def scale(self, service: Service, replicas: int) -> str:
        return _update_service(service, "--desired-count", str(replicas))

    def remove_env(self, service: Service, container: ContainerSpec, name: str) -> str:
        return _register(service, f"{name} removed from the environment of container {container.name}")

    def secret_env(self, service: Service, container: ContainerSpec, name: str) -> str:
        secret = f"{service.namespace}/{service.name}/{name}"
        variable = name if name.isidentifier() else "VALUE"
        return (f"aws secretsmanager create-secret --name {q(secret)} --secret-string \"${variable}\", then "
                + _register(service, f"{name} in the secrets of container {container.name} (valueFrom: the "
                                     "secret's ARN) instead of its environment"))

    def remove_mount(self, service: Service, container: ContainerSpec, mount: Mount) -> str:
        return "bake the code into the image, then " + _register(
            service, f"no mount at {mount.target} on container {container.name}")

    def remove_port(self, service: Service, port: str) -> str:
        return "remove the debugger, then " + _register(service, f"no port mapping for {port}")

    def sidecars(self) -> str:
        return "run each helper as its own container in the same task definition"

    def no_memory_limit(self, service: Service, container: ContainerSpec) -> Verdict:
        return Verdict(Severity.MEDIUM,
                       "no memory limit (a memoryReservation is soft): one leak can take the container instance's "
                       "memory from every task on it", self.set_memory_limit(service, container))

    def single_replica(self, service: Service) -> Verdict | None:
        fix = self.scale(service, 2)
        policy = service.update_policy
        if policy.min_healthy_percent == 0 or (policy.max_percent is not None and policy.max_percent <= 100):
            return Verdict(Severity.LOW, "one task: a deployment stops it before its replacement runs, and the service "
                                         "is down whenever the task stops", fix)
        return Verdict(Severity.LOW, "one task: a deployment starts the replacement first (minimumHealthyPercent 100), "
                                     "but the service is down whenever the task stops (a crash, a failed health "
                                     "check, its container instance drained or lost) until a new one runs", fix)

    def health(self, service: Service, container: ContainerSpec) -> Iterator[Verdict]:
        if container.healthcheck is False:
            yield Verdict(Severity.MEDIUM,
                          "no health check: ECS counts the task healthy once its essential containers run (behind a "
                          "load balancer, only the target group's check applies)",
                          _register(service, f"a healthCheck on container {container.name}"))

    def update_policy(self, service: Service) -> Iterator[Verdict]:
        policy = service.update_policy
        if policy.circuit_breaker is False:
            yield Verdict(Severity.MEDIUM,
                          "deployment circuit breaker is off: a revision whose tasks never get healthy is retried "
                          "forever and the deployment never fails",
                          _update_service(service, _safe_deployment_configuration(policy)))
        if policy.min_healthy_percent == 0:
            yield Verdict(Severity.HIGH,
                          "minimumHealthyPercent 0 can take every task down during a deployment",
                          _update_service(service, _safe_deployment_configuration(policy)))

    def shared_data(self, service: Service, container: ContainerSpec, mount: Mount) -> Verdict | None:
        several = service.desired > 1
        volume = mount.name or mount.source
        efs = _register(service, f"an EFS volume (efsVolumeConfiguration) in place of volume {volume}")
        if mount.kind is VolumeKind.TASK_SCOPED:
            if mount.read_only or node_path(mount.target) or any(
                    mount.target == path or mount.target.startswith(path + "/") for path in SCRATCH):
                return None
            return Verdict(Severity.MEDIUM,
                           f"{volume_label(mount)} is made when the task starts and deleted when it stops: every "
                           "deployment, scale-in or replacement loses what it holds", efs)
        if not holds_node_data(mount) or pinned_alone(service):
            return None
        what = (f"the {service.desired} tasks each write their own copy" if several else
                "a replacement task on another container instance starts without it")
        return Verdict(Severity.HIGH if several else Severity.MEDIUM,
                       f"{volume_label(mount)} is kept on the container instance the task runs on: {what}", efs)
