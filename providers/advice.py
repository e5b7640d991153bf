"""What a doctor finding means under one orchestrator, and the fix command naming the resource.

The doctor (providers/doctor.py) finds pitfalls the same way on every orchestrator; what a pitfall costs
under that orchestrator's defaults and how an operator mends it with that orchestrator's own tool are
the provider's knowledge. Each provider class carries a DoctorAdvice (`Provider.ADVICE`); this base says
everything in plain words, so a provider that brings none still gets true, if generic, findings.

Rules whose very detection depends on the orchestrator (health checks, update policy, shared data) are
decided here too: `health`, `update_policy` and `shared_data` return the verdicts themselves.
Every value taken from a cluster and put into a command is shell-quoted: a fix is meant to be pasted.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from pilothouse.providers.model import ContainerSpec, Mount, RunningImage, Service, Task, VolumeKind

if TYPE_CHECKING:
    from pilothouse.providers.doctor_runtime import Drift, Spread


class Severity(StrEnum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


@dataclass(frozen=True, slots=True)
class Verdict:
    severity: Severity
    why: str
    fix: str


def q(value: str) -> str:
    """One shell word, quoted only when it needs to be (`shop_web` stays as it is)."""
    return shlex.quote(value)


# Node paths that hold the node's own state, mounted by agents on purpose (log shippers, exporters, a
# Docker socket): not a service's data.
NODE_PATHS = ("/proc", "/sys", "/dev", "/run", "/var/run", "/var/log", "/var/lib/docker", "/var/lib/kubelet",
              "/etc/localtime", "/etc/timezone", "/etc/ssl/certs", "/etc/machine-id", "/lib/modules")
NODE_LOCAL_KINDS = frozenset({VolumeKind.BIND, VolumeKind.HOST_PATH, VolumeKind.HOST, VolumeKind.NAMED_LOCAL})


def node_path(path: str) -> bool:
    return any(path == prefix or path.startswith(prefix + "/") for prefix in NODE_PATHS) or path == "/"


def holds_node_data(mount: Mount) -> bool:
    """A writable mount of a node's directory or node-local volume that is not the node's own state."""
    if mount.read_only or mount.kind not in NODE_LOCAL_KINDS:
        return False
    return not (mount.kind is not VolumeKind.NAMED_LOCAL and node_path(mount.source))


def volume_label(mount: Mount) -> str:
    """How a finding names a volume: "bind mount /srv/data (at /data)"."""
    words = {
        VolumeKind.BIND: "bind mount", VolumeKind.HOST_PATH: "hostPath", VolumeKind.HOST: "host volume",
        VolumeKind.NAMED_LOCAL: "local volume", VolumeKind.NAMED_DRIVER: "volume",
        VolumeKind.TASK_SCOPED: "task-scoped Docker volume", VolumeKind.PVC: "PersistentVolumeClaim",
        VolumeKind.EFS: "EFS volume",
    }
    source = mount.source or mount.name
    named = f"{words.get(mount.kind, 'volume')} {source}" if source else words.get(mount.kind, "volume")
    return f"{named} (at {mount.target})"


class DoctorAdvice:
    """The generic advice: true on any orchestrator, with no command. Providers subclass it."""

    # Where tasks run, in the orchestrator's words.
    node = "node"
    # How long a process that ignores SIGTERM lives on before it is killed.
    grace = "the stop grace period"
    # A running replica, in the orchestrator's words (plural: + "s").
    task = "task"
    # How replicas of one tag come to run different images here.
    drift_cause = "the tag was moved in the registry while nodes pulled it at different times"

    def task_name(self, service: Service, task: Task) -> str:
        """A task as the orchestrator's own tools list it."""
        return task.id[:12]

    # -- fixes naming the resource ---------------------------------------------------------------

    def set_image(self, service: Service, container: ContainerSpec, image: str) -> str:
        return f"roll out {image} to {service.ref}"

    def set_memory_limit(self, service: Service, container: ContainerSpec) -> str:
        return f"set a memory limit on container {container.name} of {service.ref}"

    def scale(self, service: Service, replicas: int) -> str:
        return f"scale {service.ref} to {replicas}"

    def remove_env(self, service: Service, container: ContainerSpec, name: str) -> str:
        return f"remove {name} from container {container.name} of {service.ref}, or set it for production"

    def secret_env(self, service: Service, container: ContainerSpec, name: str) -> str:
        return f"serve {name} from the orchestrator's secret store instead of a literal value"

    def remove_mount(self, service: Service, container: ContainerSpec, mount: Mount) -> str:
        return f"bake the code into the image and remove the mount at {mount.target}"

    def remove_port(self, service: Service, port: str) -> str:
        return f"remove the debugger and its port {port} from {service.ref}"

    def sidecars(self) -> str:
        return "run each as its own container"

    def rebuild(self, service: Service, container: ContainerSpec) -> str:
        """Mending a container changed in place: build it into the image, then roll that image out."""
        image = container.image or service.image
        repository = image.rsplit(":", 1)[0] if ":" in image.rsplit("/", 1)[-1] else image
        return ("rebuild the image with the change in it (RUN in the Dockerfile), push it with a new tag, then "
                + self.set_image(service, container, f"{repository}:NEW-VERSION"))

    def spread_fix(self, service: Service, spread: Spread, zone_key: str) -> str:
        return (f"spread the replicas of {service.ref} over several {'zones' if spread.scope == 'zone' else 'nodes'} "
                "with the orchestrator's placement rules")

    def pin_image(self, service: Service, container_name: str, reference: str, image: RunningImage | None) -> str:
        """The command that pins a container to one digest (a placeholder when no pullable digest is known)."""
        repository = reference.split("@", 1)[0]
        digest = image.digest if image is not None and image.pinnable else "sha256:DIGEST"
        pinned = f"{repository}@{digest}"
        container = next((c for c in service.containers if c.name == container_name), None)
        return self.set_image(service, container or ContainerSpec(container_name, reference), pinned)

    # -- what a finding means here ---------------------------------------------------------------

    def image_drift(self, service: Service, drift: Drift) -> Verdict:
        tasks = f"{self.task}s"
        runs = "; ".join(f"{image.short} on {len(names)} {tasks if len(names) > 1 else self.task} "
                         f"({', '.join(names[:4])}{', ...' if len(names) > 4 else ''})"
                         for image, names in drift.groups)
        majority = drift.majority()
        most, runner_up = len(drift.groups[0][1]), len(drift.groups[1][1])
        total = sum(len(names) for _image, names in drift.groups)
        if majority.pinnable:
            which = (f"here the one {most} of {total} {tasks} run" if most > runner_up
                     else "here one of them: choose the one you mean")
            how = f"pin one digest ({which}), and every {self.task} runs it: "
        else:
            how = (f"pin one digest (`docker buildx imagetools inspect {drift.reference}` or the registry names it), "
                   f"and every {self.task} runs it: ")
        return Verdict(Severity.MEDIUM,
                       f"{drift.reference} runs as {len(drift.groups)} different images: {runs}. {self.drift_cause}",
                       how + self.pin_image(service, drift.container, drift.reference, majority))

    def unpinned_image(self, service: Service, container: ContainerSpec) -> Verdict | None:
        return Verdict(Severity.LOW,
                       f"tag not pinned: {container.image} is not resolved to a digest, so each {self.node} pulls it "
                       "on its own and nodes may run different images",
                       "pin it to a digest: " + self.pin_image(service, container.name, container.image, None))

    def single_zone(self, service: Service, spread: Spread, zone_key: str) -> Verdict | None:
        tasks = f"{self.task}s"
        where = f"on {self.node} {spread.where}" if spread.scope == "node" else f"in zone {spread.where}"
        lost = f"losing that {self.node if spread.scope == 'node' else 'zone'} takes the service down"
        return Verdict(Severity.MEDIUM if spread.scope == "node" else Severity.LOW,
                       f"all {spread.replicas} running {tasks} {where}: {lost}",
                       self.spread_fix(service, spread, zone_key))

    def no_memory_limit(self, service: Service, container: ContainerSpec) -> Verdict:
        return Verdict(Severity.MEDIUM, f"no memory limit: one leak can starve the {self.node} and every task on it",
                       self.set_memory_limit(service, container))

    def single_replica(self, service: Service) -> Verdict | None:
        return Verdict(Severity.LOW, f"one replica: down whenever its only task stops ({self.node} loss, an update)",
                       self.scale(service, 2))

    def health(self, service: Service, container: ContainerSpec) -> Iterator[Verdict]:
        if container.healthcheck is False:
            yield Verdict(Severity.MEDIUM, "no health check: a task that runs but does not serve counts as healthy",
                          f"add a health check to container {container.name} of {service.ref}")

    def update_policy(self, service: Service) -> Iterator[Verdict]:
        return iter(())

    def shared_data(self, service: Service, container: ContainerSpec, mount: Mount) -> Verdict | None:
        if not holds_node_data(mount) or pinned_alone(service):
            return None
        return Verdict(
            Severity.HIGH if several(service) else Severity.MEDIUM,
            f"{volume_label(mount)} keeps data on one {self.node}: " + (
                replicas_write(service, "replicas each write their own copy") if several(service)
                else f"a task rescheduled to another {self.node} starts without it"),
            "keep the data on storage every node reaches (a volume driver, network storage)",
        )


def replicas_write(service: Service, copies: str) -> str:
    """What several replicas do to node-local data: each its own copy, or (held to one node) the same files."""
    if service.pinned_to:
        return f"the {service.desired} replicas, all on {service.pinned_to}, write the same files at once"
    return f"the {service.desired} {copies}"


def several(service: Service) -> bool:
    return service.desired > 1


def pinned_alone(service: Service) -> bool:
    """One replica held to one node: its node-local data goes where it goes (it is down with that node)."""
    return bool(service.pinned_to) and service.desired <= 1
