"""The doctor: the classic container-operations pitfalls, checked on the live unified model.

Pure functions of Cluster -> findings. The rules find pitfalls the same way on every orchestrator; what a
finding means there and the command that mends it come from the provider's DoctorAdvice (providers/
advice.py), looked up by the cluster's kind. A secret's value is never part of a finding, only its name;
a command shown as evidence is masked.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from pilothouse.providers.advice import DoctorAdvice, Severity, Verdict
from pilothouse.providers.attention import Attention, AttentionAssessor
from pilothouse.providers.doctor_runtime import Placement, runtime_verdicts
from pilothouse.providers.model import Cluster, ContainerSpec, Mount, Service, ServiceMode, VolumeKind
from pilothouse.providers.packages import package_commands
from pilothouse.providers.priority import checkpoint
from pilothouse.providers.registry import advice_for
from pilothouse.providers.secrets import looks_secret, mask_command

__all__ = ["RULES", "DoctorConfig", "Finding", "Severity", "Silence", "assess_attention", "counts_by_service",
           "examine", "high_severity_rules", "image_tag", "mounts_source"]


@dataclass(frozen=True, slots=True)
class Finding:
    rule: str
    severity: Severity
    cluster: str
    service: str  # the service's ref
    why: str
    fix: str
    container: str = ""
    silenced: str = ""  # the reason from config, when silenced


@dataclass(frozen=True, slots=True)
class Silence:
    rule: str  # a rule id or "*"
    service: str  # "CLUSTER/SERVICE", "CLUSTER/*" or "*"
    reason: str

    def matches(self, finding: Finding) -> bool:
        if self.rule not in ("*", finding.rule):
            return False
        target = f"{finding.cluster}/{finding.service}"
        return self.service in ("*", target, f"{finding.cluster}/*")


@dataclass(frozen=True, slots=True)
class DoctorConfig:
    # Registry/namespace prefixes considered trusted; empty: the image-untrusted rule is off.
    trusted_registries: tuple[str, ...] = ()
    silences: tuple[Silence, ...] = field(default_factory=tuple)


RULES = {
    "image-unversioned": "version your images",
    "image-untrusted": "careful with third-party images",
    "no-healthcheck": "let the orchestrator know when a task is healthy",
    "hardcoded-credential": "do not hard-code credentials",
    "shell-entrypoint": "shell script in CMD? be careful: signals stop at the shell",
    "multi-process": "multiple services in one container? don't",
    "dev-leftovers": "remove dev stuff",
    "single-replica": "one replica has no redundancy during updates or node loss",
    "unsafe-update": "an update must be able to stop and roll back",
    "no-limits": "set a memory limit",
    "shared-data": "shared data? state kept on a node ties the service to that node",
    "updates-in-place": "don't update your containers: rebuild the image and roll it out",
    "image-drift": "one tag, different images: replicas must run the same digest",
    "single-zone": "replicas all in one zone or on one node go down together",
}

SUPERVISORS = ("supervisord", "s6-svscan", "runsvdir", "/init", "s6-overlay", "tini -s --", "circusd", "honcho")
DEBUG_PORTS = {"5678": "debugpy", "9229": "node --inspect", "5005": "JDWP", "2345": "delve", "4000": "debugger"}
DEV_ENV = {
    "DEBUG": ("true", "1", "yes", "on"),
    "FLASK_DEBUG": ("true", "1"),
    "NODE_ENV": ("development", "dev"),
    "FLASK_ENV": ("development",),
    "APP_ENV": ("development", "dev"),
    "RAILS_ENV": ("development",),
    "DJANGO_DEBUG": ("true", "1"),
}
_SOURCE_DIR = re.compile(r"(^|/)(src|source|app|code|workspace|project)(/|$)|^/home/|^/Users/")
_HOST_KINDS = (VolumeKind.BIND, VolumeKind.HOST_PATH, VolumeKind.HOST)


def mounts_source(mount: Mount) -> bool:
    """A host directory that looks like a checkout, mounted into the container."""
    return mount.kind in _HOST_KINDS and bool(_SOURCE_DIR.search(mount.source))


def _port_numbers(port: str) -> set[str]:
    """Both sides of '9229/tcp', '0.0.0.0:9229:9229/tcp', '8080->9229/tcp': published or not, it is exposed."""
    return set(re.findall(r"\d+", port))


def image_tag(image: str) -> str:
    """The tag of an image reference, '' when it has none; a digest pin counts as versioned."""
    if "@sha256:" in image:
        return "@digest"
    last = image.rsplit("/", 1)[-1]
    return last.rsplit(":", 1)[1] if ":" in last else ""


def _trusted(image: str, prefixes: Iterable[str]) -> bool:
    normalised = image
    first = image.split("/", 1)[0]
    if "/" not in image:
        normalised = f"docker.io/library/{image}"
    elif "." not in first and ":" not in first and first != "localhost":
        normalised = f"docker.io/{image}"
    return any(normalised.startswith(prefix) or image.startswith(prefix) for prefix in prefixes)


def _command_words(container: ContainerSpec) -> list[str]:
    return [*container.entrypoint, *container.command]


def _container_verdicts(service: Service, container: ContainerSpec, config: DoctorConfig,
                        advice: DoctorAdvice) -> Iterator[tuple[str, Verdict]]:
    image = container.image or service.image
    tag = image_tag(image)
    if image and tag in ("", "latest"):
        repository = image.rsplit(":", 1)[0] if tag else image
        yield "image-unversioned", Verdict(
            Severity.HIGH, f"image {image} is {'not tagged' if not tag else 'tagged :latest'}: what runs can change "
            "under you and a rollback has nothing to go back to",
            "pin a version or digest: " + advice.set_image(service, container, f"{repository}:VERSION"))
    if image and config.trusted_registries and not _trusted(image, config.trusted_registries):
        yield "image-untrusted", Verdict(
            Severity.MEDIUM, f"image {image} is not from a trusted registry ({', '.join(config.trusted_registries)})",
            "mirror it into a trusted registry, or add its registry to doctor.trusted_registries")

    for verdict in advice.health(service, container):
        yield "no-healthcheck", verdict

    for name, value in container.env.items():
        if looks_secret(name) and value and name not in container.secret_env:
            yield "hardcoded-credential", Verdict(Severity.HIGH, f"environment variable {name} holds a literal value",
                                                  advice.secret_env(service, container, name))

    words = _command_words(container)
    joined = " ".join(words)
    shown = mask_command(joined)
    shell_c = len(words) >= 2 and words[0].rsplit("/", 1)[-1] in ("sh", "bash", "ash", "dash") and words[1] == "-c"
    script = any(word.endswith(".sh") for word in words[:2])
    if (shell_c or script) and " exec " not in f" {joined} ":
        yield "shell-entrypoint", Verdict(
            Severity.MEDIUM, f"runs through a shell ({shown[:60]}): SIGTERM stops at the shell, the process is killed "
            f"after {advice.grace}",
            "exec the process (`exec app ...`) or use the exec form of CMD/ENTRYPOINT")
    lowered = joined.lower()
    if any(supervisor in lowered for supervisor in SUPERVISORS) or re.search(r"[^&]&\s+\S", joined):
        yield "multi-process", Verdict(
            Severity.MEDIUM, f"several processes in one container ({shown[:60]}): the orchestrator watches only "
            "the first, a helper that dies stays dead",
            f"one process per container: {advice.sidecars()}")
    installs = package_commands(joined)
    if installs:
        yield "updates-in-place", Verdict(
            Severity.MEDIUM, f"installs packages when it starts ({'; '.join(installs)[:80]}): each task may get other "
            "versions than the image, and a start fails when the package mirror does",
            advice.rebuild(service, container))

    for name, value in container.env.items():
        if name in DEV_ENV and value.strip().lower() in DEV_ENV[name]:
            yield "dev-leftovers", Verdict(Severity.MEDIUM, f"{name}={value} in production",
                                           advice.remove_env(service, container, name))
    for mount in container.mounts:
        if mounts_source(mount):
            yield "dev-leftovers", Verdict(Severity.MEDIUM, f"source directory mounted ({mount.describe()})",
                                           advice.remove_mount(service, container, mount))
        elif service.mode is ServiceMode.REPLICATED:
            # One task per node (a global service, a DaemonSet) keeps node data on each node by design.
            shared = advice.shared_data(service, container, mount)
            if shared is not None:
                yield "shared-data", shared

    if container.memory_limit_bytes is None:
        yield "no-limits", advice.no_memory_limit(service, container)


def _service_verdicts(service: Service, advice: DoctorAdvice) -> Iterator[tuple[str, Verdict]]:
    if service.mode is ServiceMode.REPLICATED and service.desired == 1:
        single = advice.single_replica(service)
        if single is not None:
            yield "single-replica", single
    ports: set[str] = set()
    for port in (*service.ports, *(port for container in service.containers for port in container.ports)):
        ports |= _port_numbers(port)
    for number, debugger in DEBUG_PORTS.items():
        if number in ports:
            yield "dev-leftovers", Verdict(Severity.HIGH, f"debugger port {number} ({debugger}) exposed",
                                           advice.remove_port(service, number))
    for verdict in advice.update_policy(service):
        yield "unsafe-update", verdict


def examine(cluster: Cluster, config: DoctorConfig | None = None, advice: DoctorAdvice | None = None) -> list[Finding]:
    """Every finding of a cluster; `advice` defaults to that of the provider registered for its kind."""
    config = config or DoctorConfig()
    advice = advice or advice_for(cluster.kind)
    findings: list[Finding] = []
    placement = Placement.of(cluster)
    for service in cluster.services:
        checkpoint()  # a key pressed meanwhile is answered first (providers/priority.py)
        for rule, verdict in _service_verdicts(service, advice):
            findings.append(Finding(rule, verdict.severity, cluster.name, service.ref, verdict.why, verdict.fix))
        for container in service.containers:
            for rule, verdict in _container_verdicts(service, container, config, advice):
                findings.append(Finding(rule, verdict.severity, cluster.name, service.ref, verdict.why, verdict.fix,
                                        container=container.name))
        for rule, verdict, container_name in runtime_verdicts(placement, service, advice):
            findings.append(Finding(rule, verdict.severity, cluster.name, service.ref, verdict.why, verdict.fix,
                                    container=container_name))
    result = []
    for finding in findings:
        silence = next((s for s in config.silences if s.matches(finding)), None)
        if silence is not None:
            finding = replace(finding, silenced=silence.reason or "silenced")
        result.append(finding)
    return result


def counts_by_service(findings: Iterable[Finding]) -> dict[tuple[str, str], int]:
    """(cluster, service ref) -> unsilenced findings: the fleet table's column."""
    counts: dict[tuple[str, str], int] = {}
    for finding in findings:
        if not finding.silenced:
            key = (finding.cluster, finding.service)
            counts[key] = counts.get(key, 0) + 1
    return counts


def high_severity_rules(findings: Iterable[Finding]) -> dict[str, list[str]]:
    """Service ref -> rule ids of its unsilenced high-severity findings (attention's doctor rule)."""
    rules: dict[str, list[str]] = {}
    for finding in findings:
        if finding.severity is Severity.HIGH and not finding.silenced:
            rules.setdefault(finding.service, []).append(finding.rule)
    return rules


def assess_attention(assessor: AttentionAssessor, cluster: Cluster, findings: Iterable[Finding],
                     now: datetime | None = None) -> dict[str, Attention]:
    """The cluster's attention as of its own sync time (deterministic for a frozen demo), with the doctor's
    high-severity findings passed in: providers/attention.py knows nothing of the doctor."""
    when = now or cluster.last_sync or datetime.now(UTC)
    return assessor.assess(cluster, when, high_severity_rules(findings))
