"""The doctor's findings under Kubernetes' defaults, and kubectl commands naming the workload.

Defaults the "why"s rest on: a Deployment's RollingUpdate with maxSurge 25% (rounded up) and
maxUnavailable 25% (rounded down), so a single replica is replaced surge-first and is not down during an
update; pods on a lost node are replaced after the default 300 s not-ready/unreachable toleration; a
StatefulSet replaces a pod by deleting it first and does not replace a pod on an unreachable node; the
kubelet restarts a container only when it exits, unless a liveness probe fails; terminationGracePeriodSeconds
is 30 s.
"""

from __future__ import annotations

import json
import re
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
from pilothouse.providers.model import ContainerSpec, Mount, Service, Task, VolumeKind

if TYPE_CHECKING:
    from pilothouse.providers.doctor_runtime import Spread

SINGLE_WRITER = ("ReadWriteOnce", "ReadWriteOncePod")
ZONE_KEY = "topology.kubernetes.io/zone"
HOSTNAME_KEY = "kubernetes.io/hostname"


def _kubectl(service: Service, verb: str, *rest: str) -> str:
    """`kubectl -n NAMESPACE VERB deployment/NAME ...`; `verb` may be two words ("set env")."""
    parts = ["kubectl", "-n", q(service.namespace), verb, q(f"{service.workload_kind}/{service.name}"), *rest]
    return " ".join(parts)


def _patch(service: Service, patch: object) -> str:
    return _kubectl(service, "patch", "-p", q(json.dumps(patch, separators=(",", ":"))))


def _edit(service: Service, what: str) -> str:
    """What to change, then the command: a fix ends with a command that runs as pasted."""
    return f"{what}: {_kubectl(service, 'edit')}"


def _dns_name(*parts: str) -> str:
    """A Secret name from a workload and a variable: lowercase DNS-1123."""
    name = re.sub(r"[^a-z0-9-]+", "-", "-".join(parts).lower()).strip("-")
    return name[:63].strip("-") or "secret"


def _unavailable_on_update(service: Service) -> int:
    """Pods a rolling update of a Deployment may take down at once, as the controller rounds it."""
    text = service.update_policy.max_unavailable.strip()
    try:
        if text.endswith("%"):
            return int(float(text[:-1]) * service.desired / 100)
        return int(text or "0")
    except ValueError:
        return 0


def _takes_everything(max_unavailable: str, desired: int) -> bool:
    text = max_unavailable.strip()
    if text.endswith("%"):
        try:
            return float(text[:-1]) >= 100
        except ValueError:
            return False
    try:
        return desired > 0 and int(text) >= desired
    except ValueError:
        return False


def _match_labels(selector: str) -> dict[str, str] | None:
    """The workload's selector as matchLabels, when it is only `key=value` pairs (details["selector"])."""
    labels: dict[str, str] = {}
    for part in selector.split(","):
        key, equals, value = part.partition("=")
        if not equals or not key or " " in part:
            return None
        labels[key] = value
    return labels or None


class KubernetesAdvice(DoctorAdvice):
    node = "node"
    grace = "terminationGracePeriodSeconds (30 s by default)"
    task = "pod"
    drift_cause = ("The tag was moved in the registry while nodes pulled it at different times: with "
                   "imagePullPolicy IfNotPresent each node keeps the copy it pulled first")

    def task_name(self, service: Service, task: Task) -> str:
        return task.id.rsplit("/", 1)[-1]

    def spread_fix(self, service: Service, spread: Spread, zone_key: str) -> str:
        key = (zone_key or ZONE_KEY) if spread.scope == "zone" else HOSTNAME_KEY
        over = "zones" if spread.scope == "zone" else "nodes"
        labels = _match_labels(service.details.get("selector", ""))
        if labels is None or service.workload_kind not in ("deployment", "statefulset"):
            return _edit(service, f"add topologySpreadConstraints on {key} (maxSkew 1) to the pod template")
        constraint = {"maxSkew": 1, "topologyKey": key, "whenUnsatisfiable": "ScheduleAnyway",
                      "labelSelector": {"matchLabels": labels}}
        return (f"spread the pods over {over} (the patch starts a rollout; the new pods are placed by it): "
                + _patch(service, {"spec": {"template": {"spec": {"topologySpreadConstraints": [constraint]}}}}))

    def set_image(self, service: Service, container: ContainerSpec, image: str) -> str:
        return _kubectl(service, "set image", q(f"{container.name}={image}"))

    def set_memory_limit(self, service: Service, container: ContainerSpec) -> str:
        return _kubectl(service, "set resources", "-c", q(container.name), "--limits=memory=512Mi")

    def scale(self, service: Service, replicas: int) -> str:
        return _kubectl(service, "scale", f"--replicas={replicas}")

    def remove_env(self, service: Service, container: ContainerSpec, name: str) -> str:
        return _kubectl(service, "set env", "-c", q(container.name), q(f"{name}-"))

    def secret_env(self, service: Service, container: ContainerSpec, name: str) -> str:
        secret = _dns_name(service.name, name)
        variable = name if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) else "VALUE"
        create = (f"kubectl -n {q(service.namespace)} create secret generic {secret} "
                  f"--from-literal={q(name)}=\"${variable}\"")
        use = _kubectl(service, "set env", "-c", q(container.name), f"--from=secret/{secret}", f"--keys={q(name)}")
        return f"{create} && {use}"

    def remove_mount(self, service: Service, container: ContainerSpec, mount: Mount) -> str:
        return _edit(service, f"bake the code into the image; remove the volume mounted at {mount.target}")

    def remove_port(self, service: Service, port: str) -> str:
        return _edit(service, f"remove the debugger and containerPort {port}")

    def sidecars(self) -> str:
        return "run each helper as its own container in the same pod"

    def no_memory_limit(self, service: Service, container: ContainerSpec) -> Verdict:
        return Verdict(Severity.MEDIUM,
                       "no memory limit: a leak grows until the node runs short of memory and the kubelet evicts "
                       "pods, other workloads' too",
                       self.set_memory_limit(service, container))

    def single_replica(self, service: Service) -> Verdict | None:
        fix = self.scale(service, 2)
        goes = "whenever its pod goes: node loss (replaced after about 5 minutes, by default), a drain, an eviction"
        if service.workload_kind == "statefulset":
            return Verdict(Severity.LOW,
                           "one replica: a StatefulSet update deletes the pod before it starts the new one, and a pod "
                           "on a lost node is not replaced until the node is removed", fix)
        if service.update_policy.order == "stop-first":
            return Verdict(Severity.LOW, f"one replica with the Recreate strategy: down during every update and {goes}",
                           fix)
        if _unavailable_on_update(service) >= 1:
            return Verdict(Severity.LOW,
                           f"one replica with maxUnavailable {service.update_policy.max_unavailable}: down during "
                           f"every update and {goes}", fix)
        return Verdict(Severity.LOW, f"one replica: a rolling update starts the new pod first, but it is down {goes}",
                       fix)

    def health(self, service: Service, container: ContainerSpec) -> Iterator[Verdict]:
        serves = bool(container.ports or service.ports)
        if serves and container.readiness_probe is False:
            yield Verdict(Severity.MEDIUM,
                          "no readiness probe: the pod is Ready as soon as it starts, so Services send it traffic "
                          "and a rolling update moves on before it can serve",
                          _edit(service, f"add a readinessProbe to container {container.name}"))
        if container.liveness_probe is False:
            if serves:
                yield Verdict(Severity.LOW,
                              "no liveness probe: a process that hangs without exiting is never restarted",
                              _edit(service, f"add a livenessProbe to container {container.name}"))
            else:
                # No port: no Service sends it traffic, so readiness would change nothing; liveness restarts it.
                yield Verdict(Severity.MEDIUM,
                              "no liveness probe on a container that serves no port: a hung worker is never "
                              "restarted (a readiness probe would not help: no traffic to hold back)",
                              _edit(service, f"add a livenessProbe to container {container.name}, e.g. an exec "
                                             "probe on a heartbeat file"))

    def update_policy(self, service: Service) -> Iterator[Verdict]:
        policy = service.update_policy
        if policy.max_unavailable and _takes_everything(policy.max_unavailable, service.desired):
            if service.workload_kind == "deployment":
                patch: object = {"spec": {"strategy": {"rollingUpdate": {"maxUnavailable": "25%"}}}}
            else:
                patch = {"spec": {"updateStrategy": {"rollingUpdate": {"maxUnavailable": 1}}}}
            yield Verdict(Severity.HIGH,
                          f"maxUnavailable {policy.max_unavailable} can take every replica down during an update",
                          _patch(service, patch))

    def shared_data(self, service: Service, container: ContainerSpec, mount: Mount) -> Verdict | None:
        several = service.desired > 1
        if mount.kind is VolumeKind.HOST_PATH:
            if not holds_node_data(mount) or pinned_alone(service):
                return None
            what = (replicas_write(service, "replicas each write their own copy on their node") if several else
                    "rescheduled to another node (node loss, a drain, an eviction), the pod finds that node's copy")
            return Verdict(
                Severity.HIGH if several else Severity.MEDIUM,
                f"{volume_label(mount)} is a directory of whichever node runs the pod: {what}",
                _edit(service, f"replace hostPath {mount.source} with a PersistentVolumeClaim: ReadWriteMany storage "
                               "for every replica, or a StatefulSet with volumeClaimTemplates for one volume per pod"))
        if mount.kind is not VolumeKind.PVC or mount.per_task or not mount.access_modes:
            return None
        if not set(mount.access_modes) & set(SINGLE_WRITER) or "ReadWriteMany" in mount.access_modes:
            return None
        mode = next(m for m in mount.access_modes if m in SINGLE_WRITER)
        if several:
            return Verdict(
                Severity.HIGH,
                f"{volume_label(mount)} is {mode}: it attaches to one node at a time, so replicas on other nodes "
                "stay Pending (Multi-Attach error)",
                "a StatefulSet with volumeClaimTemplates (a volume per pod), or ReadWriteMany storage; until then: "
                + self.scale(service, 1))
        if service.workload_kind == "deployment" and service.update_policy.order != "stop-first":
            return Verdict(
                Severity.MEDIUM,
                f"{volume_label(mount)} is {mode}: a rolling update starts the new pod before the old one stops, and "
                "on another node it waits on a Multi-Attach error: the rollout stalls",
                _patch(service, {"spec": {"strategy": {"type": "Recreate", "rollingUpdate": None}}}))
        return None
