"""The doctor: the classic container-operations pitfalls, checked on the live unified model.

Pure functions of Cluster -> findings, so every orchestrator gets the same rules; only the fix text is
orchestrator-specific. A secret's value is never part of a finding, only its name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum

from pilothouse.providers.attention import Attention, AttentionAssessor
from pilothouse.providers.model import Cluster, ClusterKind, ContainerSpec, Service, ServiceMode, UpdatePolicy
from pilothouse.providers.secrets import looks_secret


class Severity(StrEnum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


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
# Mounts read "TYPE:SOURCE->TARGET" (Swarm, Kubernetes) or "VOLUME:TARGET" (ECS).
_MOUNT = re.compile(r"^(?P<type>[\w-]+):(?P<source>[^>]*?)->(?P<target>\S+)")
_SOURCE_DIR = re.compile(r"(^|/)(src|source|app|code|workspace|project)(/|$)|^/home/|^/Users/")
_LEGACY_SOURCE = re.compile(r"(^|[:\s])(/src|/app|/code|/workspace|/home/[^:]+)(/|:|$)")


def mounts_source(mount: str) -> bool:
    """A host directory that looks like a checkout, bind-mounted into the container."""
    parsed = _MOUNT.match(mount)
    if parsed is None:
        return bool(_LEGACY_SOURCE.search(mount))
    if parsed.group("type") not in ("bind", "hostPath"):
        return False
    return bool(_SOURCE_DIR.search(parsed.group("source")))


def _port_numbers(port: str) -> set[str]:
    """Both sides of '9229/tcp', '0.0.0.0:9229:9229/tcp', '8080->9229/tcp': published or not, it is exposed."""
    return set(re.findall(r"\d+", port))


def _fix(kind: ClusterKind, swarm: str, kubernetes: str, ecs: str) -> str:
    return {ClusterKind.SWARM: swarm, ClusterKind.KUBERNETES: kubernetes, ClusterKind.ECS: ecs}[kind]


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


def _container_findings(cluster: Cluster, service: Service, container: ContainerSpec,
                        config: DoctorConfig) -> Iterator[Finding]:
    kind = cluster.kind

    def finding(rule: str, severity: Severity, why: str, fix: str) -> Finding:
        return Finding(rule, severity, cluster.name, service.ref, why, fix, container=container.name)

    image = container.image or service.image
    tag = image_tag(image)
    if image and tag in ("", "latest"):
        yield finding("image-unversioned", Severity.HIGH,
                      f"image {image} is {'not tagged' if not tag else 'tagged :latest'}: what runs can change "
                      "under you and a rollback has nothing to go back to",
                      _fix(kind, "docker service update --image IMAGE:VERSION (pin a version or digest)",
                           "set spec.template.spec.containers[].image to IMAGE:VERSION",
                           "register a task definition revision whose image is IMAGE:VERSION"))
    if image and config.trusted_registries and not _trusted(image, config.trusted_registries):
        yield finding("image-untrusted", Severity.MEDIUM,
                      f"image {image} is not from a trusted registry ({', '.join(config.trusted_registries)})",
                      "mirror it into a trusted registry, or add its registry to doctor.trusted_registries")

    if kind is ClusterKind.KUBERNETES:
        if container.readiness_probe is False:
            yield finding("no-healthcheck", Severity.MEDIUM,
                          "no readiness probe: traffic reaches pods before they can serve",
                          "add readinessProbe to the container")
        if container.liveness_probe is False:
            yield finding("no-healthcheck", Severity.LOW, "no liveness probe: a hung process is never restarted",
                          "add livenessProbe to the container")
    elif container.healthcheck is False:
        yield finding("no-healthcheck", Severity.MEDIUM,
                      "no health check: a task that runs but does not serve counts as healthy",
                      _fix(kind, "docker service update --health-cmd 'CMD' --health-interval 10s (or a HEALTHCHECK "
                           "in the image)", "", "add healthCheck to the container definition"))

    for name, value in container.env.items():
        if looks_secret(name) and value and name not in container.secret_env:
            yield finding("hardcoded-credential", Severity.HIGH,
                          f"environment variable {name} holds a literal value",
                          _fix(kind, "use a Swarm secret (docker secret create, --secret) and read the file",
                               "use env[].valueFrom.secretKeyRef with a Secret",
                               "use the container definition's secrets (Secrets Manager or SSM)"))

    words = _command_words(container)
    joined = " ".join(words)
    shell_c = len(words) >= 2 and words[0].rsplit("/", 1)[-1] in ("sh", "bash", "ash", "dash") and words[1] == "-c"
    script = any(word.endswith(".sh") for word in words[:2])
    if (shell_c or script) and " exec " not in f" {joined} ":
        yield finding("shell-entrypoint", Severity.MEDIUM,
                      f"runs through a shell ({joined[:60]}): SIGTERM stops at the shell, the process is killed hard",
                      "exec the process (`exec app ...`) or use the exec form of CMD/ENTRYPOINT")
    lowered = joined.lower()
    if any(supervisor in lowered for supervisor in SUPERVISORS) or re.search(r"[^&]&\s+\S", joined):
        yield finding("multi-process", Severity.MEDIUM,
                      f"several processes in one container ({joined[:60]})",
                      "one process per container; run helpers as sidecars "
                      + _fix(kind, "(separate services)", "(containers in the same pod)",
                             "(containers in the same task definition)"))

    for name, value in container.env.items():
        if name in DEV_ENV and value.strip().lower() in DEV_ENV[name]:
            yield finding("dev-leftovers", Severity.MEDIUM, f"{name}={value} in production",
                          f"remove {name} or set it for production")
    for mount in container.mounts:
        if mounts_source(mount):
            yield finding("dev-leftovers", Severity.MEDIUM, f"source directory mounted ({mount})",
                          "bake the code into the image instead of mounting it")

    if container.memory_limit_bytes is None:
        yield finding("no-limits", Severity.MEDIUM, "no memory limit: one leak can starve the node",
                      _fix(kind, "docker service update --limit-memory 512M",
                           "set resources.limits.memory on the container",
                           "set memory (hard limit) on the container definition"))


def _service_findings(cluster: Cluster, service: Service) -> Iterator[Finding]:
    kind = cluster.kind

    def finding(rule: str, severity: Severity, why: str, fix: str) -> Finding:
        return Finding(rule, severity, cluster.name, service.ref, why, fix)

    if service.mode is ServiceMode.REPLICATED and service.desired == 1:
        yield finding("single-replica", Severity.LOW, "one replica: down during every update and node loss",
                      _fix(kind, f"docker service scale {service.name}=2", "kubectl scale --replicas=2",
                           "update_service desiredCount=2"))
    ports: set[str] = set()
    for port in (*service.ports, *(port for container in service.containers for port in container.ports)):
        ports |= _port_numbers(port)
    for number, debugger in DEBUG_PORTS.items():
        if number in ports:
            yield finding("dev-leftovers", Severity.HIGH, f"debugger port {number} ({debugger}) exposed",
                          "remove the debugger and its port")
    policy = service.update_policy
    # Every orchestrator's "an update may stop every replica at once" is the same outage: HIGH everywhere.
    if kind is ClusterKind.SWARM:
        if _stops_everything(policy, service.desired):
            yield finding("unsafe-update", Severity.HIGH,
                          f"update parallelism {policy.parallelism or 'unlimited'} with stop-first stops every "
                          "task at once during an update",
                          "docker service update --update-parallelism 1 (or --update-order start-first)")
        if policy.failure_action == "continue":
            yield finding("unsafe-update", Severity.MEDIUM, "update failure action is continue: a bad image rolls on",
                          "docker service update --update-failure-action rollback")
        elif policy.has_rollback_policy is False:
            yield finding("unsafe-update", Severity.LOW, "no rollback policy",
                          "docker service update --rollback-parallelism 1 --rollback-monitor 10s")
    elif kind is ClusterKind.KUBERNETES:
        if policy.max_unavailable and _takes_everything(policy.max_unavailable, service.desired):
            yield finding("unsafe-update", Severity.HIGH,
                          f"maxUnavailable {policy.max_unavailable} can take every replica down during an update",
                          "set strategy.rollingUpdate.maxUnavailable to 25% or 1")
    elif kind is ClusterKind.ECS:
        if policy.circuit_breaker is False:
            yield finding("unsafe-update", Severity.MEDIUM, "deployment circuit breaker is off",
                          "enable deploymentCircuitBreaker with rollback")
        if policy.min_healthy_percent == 0:
            yield finding("unsafe-update", Severity.HIGH,
                          "minimumHealthyPercent 0 can take every task down during a deployment",
                          "set minimumHealthyPercent to 100 (or 50)")


def _stops_everything(policy: UpdatePolicy, desired: int) -> bool:
    """Swarm's maxUnavailable 100%: parallelism 0 (all at once) or at least every replica, old tasks stopped
    first. One replica is left to the single-replica rule: the default parallelism 1 would flag it too."""
    if policy.parallelism is None or desired < 2 or policy.order == "start-first":
        return False
    return policy.parallelism == 0 or policy.parallelism >= desired


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


def examine(cluster: Cluster, config: DoctorConfig | None = None) -> list[Finding]:
    config = config or DoctorConfig()
    findings: list[Finding] = []
    for service in cluster.services:
        found = list(_service_findings(cluster, service))
        for container in service.containers:
            found.extend(_container_findings(cluster, service, container, config))
        findings.extend(found)
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
    high-severity findings passed in: providers/attention.py imports nothing from the console."""
    when = now or cluster.last_sync or datetime.now(UTC)
    return assessor.assess(cluster, when, high_severity_rules(findings))
