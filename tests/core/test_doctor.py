"""The doctor's rules on the unified model, per orchestrator: what fires, what must not, and the exact fix.

The orchestrator's part (why under its defaults, the command naming the resource) comes from each
provider's advice, looked up by the cluster's kind; these tests pin the words an operator will paste.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pilothouse.console.cli import main
from pilothouse.console.config import load_config
from pilothouse.providers.advice import DoctorAdvice
from pilothouse.providers.doctor import RULES, DoctorConfig, Finding, Silence, examine, image_tag
from pilothouse.providers.model import (
    Cluster,
    ClusterKind,
    ContainerSpec,
    Mount,
    Service,
    ServiceMode,
    Task,
    UpdatePolicy,
    VolumeKind,
)
from pilothouse.providers.registry import advice_for

SAFE_POLICY = {
    ClusterKind.SWARM: UpdatePolicy(failure_action="rollback", has_rollback_policy=True),
    ClusterKind.KUBERNETES: UpdatePolicy(max_surge="25%", max_unavailable="25%"),
    ClusterKind.ECS: UpdatePolicy(circuit_breaker=True, circuit_breaker_rollback=True, min_healthy_percent=100,
                                  max_percent=200),
}
# The resource each orchestrator's commands must name: Swarm service shop_web; Deployment shop/api;
# ECS service web in cluster prod, task definition family web.
NAMES = {
    ClusterKind.SWARM: dict(id="s1", name="shop_web", ref="shop_web", namespace="shop", version="v12"),
    ClusterKind.KUBERNETES: dict(id="s1", name="api", ref="shop/api", namespace="shop", workload_kind="deployment",
                                 version="7c9d"),
    ClusterKind.ECS: dict(id="s1", name="web", ref="prod/web", namespace="prod", version="web:7"),
}
CONTAINER = {ClusterKind.SWARM: "web", ClusterKind.KUBERNETES: "api", ClusterKind.ECS: "web"}
KINDS = list(ClusterKind)


def clean_container(kind: ClusterKind, **changes: object) -> ContainerSpec:
    container = ContainerSpec(
        name=CONTAINER[kind], image="registry.example.com/shop/app:1.2.3", command=("/app", "--serve"),
        env={"LOG_LEVEL": "info"}, healthcheck=True, readiness_probe=kind is ClusterKind.KUBERNETES or None,
        liveness_probe=kind is ClusterKind.KUBERNETES or None, memory_limit_bytes=256 << 20,
        ports=("8080/tcp",),
    )
    for name, value in changes.items():
        setattr(container, name, value)
    return container


def findings_for(kind: ClusterKind, *, container: ContainerSpec | None = None, desired: int = 3,
                 policy: UpdatePolicy | None = None, ports: tuple[str, ...] = (),
                 config: DoctorConfig | None = None, **service: object) -> list[Finding]:
    fields: dict[str, object] = {
        **NAMES[kind], "desired": desired, "mode": ServiceMode.REPLICATED,
        "image": "registry.example.com/shop/app:1.2.3", "update_policy": policy or SAFE_POLICY[kind],
        "containers": (container or clean_container(kind),), "ports": ports, **service,
    }
    cluster = Cluster(name="c", kind=kind, services=(Service(**fields),))  # type: ignore[arg-type]
    return examine(cluster, config)


def rules_for(kind: ClusterKind, **arguments: object) -> set[str]:
    return {finding.rule for finding in findings_for(kind, **arguments)}  # type: ignore[arg-type]


def only(kind: ClusterKind, rule: str, **arguments: object) -> Finding:
    (finding,) = [f for f in findings_for(kind, **arguments) if f.rule == rule]  # type: ignore[arg-type]
    return finding


@pytest.mark.parametrize("kind", KINDS)
def test_a_clean_service_has_no_findings(kind: ClusterKind) -> None:
    assert rules_for(kind, config=DoctorConfig(trusted_registries=("registry.example.com/",))) == set()


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    ("rule", "changes"),
    [
        ("image-unversioned", {"image": "redis"}),
        ("image-unversioned", {"image": "registry.example.com/shop/app:latest"}),
        ("hardcoded-credential", {"env": {"DB_PASSWORD": "hunter2"}}),
        ("shell-entrypoint", {"command": ("sh", "-c", "python app.py")}),
        ("shell-entrypoint", {"entrypoint": ("/docker-entrypoint.sh",), "command": ()}),
        ("multi-process", {"command": ("/usr/bin/supervisord", "-n")}),
        ("multi-process", {"command": ("sh", "-c", "nginx & exec php-fpm")}),
        ("dev-leftovers", {"env": {"NODE_ENV": "development"}}),
        ("dev-leftovers", {"env": {"DEBUG": "1"}}),
        ("dev-leftovers", {"mounts": (Mount(VolumeKind.BIND, "/app", "/home/dev/src"),)}),
        ("no-limits", {"memory_limit_bytes": None}),
        ("updates-in-place", {"command": ("sh", "-c", "apk upgrade && exec app")}),
        ("updates-in-place", {"entrypoint": ("/bin/bash", "-c"),
                              "command": ("pip install -r requirements.txt; exec python app.py",)}),
    ],
)
def test_each_container_rule_fires(kind: ClusterKind, rule: str, changes: dict[str, object]) -> None:
    assert rule in rules_for(kind, container=clean_container(kind, **changes))


@pytest.mark.parametrize("kind", KINDS)
def test_negative_cases_do_not_fire(kind: ClusterKind) -> None:
    container = clean_container(
        kind, image="registry.example.com/app@sha256:" + "a" * 64, env={"DB_PASSWORD_FILE": "", "DEBUG": "false"},
        secret_env=("API_TOKEN",), command=("sh", "-c", "apt-get update; apk info; npm start; exec python app.py"),
    )
    container.env["API_TOKEN"] = "from-secret"
    assert rules_for(kind, container=container) == set()


@pytest.mark.parametrize("kind", KINDS)
def test_no_healthcheck(kind: ClusterKind) -> None:
    if kind is ClusterKind.KUBERNETES:
        container = clean_container(kind, readiness_probe=False)
    else:
        container = clean_container(kind, healthcheck=False)
    assert "no-healthcheck" in rules_for(kind, container=container)
    unknown = clean_container(kind, healthcheck=None, readiness_probe=None, liveness_probe=None)
    assert "no-healthcheck" not in rules_for(kind, container=unknown), "cannot tell is not a finding"


def test_a_kubernetes_worker_wants_a_liveness_probe_not_a_readiness_probe() -> None:
    kind = ClusterKind.KUBERNETES
    worker = clean_container(kind, ports=(), readiness_probe=False, liveness_probe=False)
    finding = only(kind, "no-healthcheck", container=worker)
    assert finding.severity == "medium"
    assert finding.why.startswith("no liveness probe on a container that serves no port: a hung worker")
    assert "livenessProbe" in finding.fix and "readinessProbe" not in finding.fix
    # With a liveness probe, a worker without a readiness probe is fine.
    assert "no-healthcheck" not in rules_for(kind, container=clean_container(kind, ports=(), readiness_probe=False))
    # A container that serves a port gets both: readiness (medium) and liveness (low).
    served = findings_for(kind, container=clean_container(kind, readiness_probe=False, liveness_probe=False))
    assert sorted((f.severity.value, f.why.split(":")[0]) for f in served) == [
        ("low", "no liveness probe"), ("medium", "no readiness probe")]


@pytest.mark.parametrize("kind", KINDS)
def test_single_replica_and_debug_port(kind: ClusterKind) -> None:
    assert "single-replica" in rules_for(kind, desired=1)
    assert "single-replica" not in rules_for(kind, desired=2)
    assert "dev-leftovers" in rules_for(kind, ports=("9229:9229/tcp",))


@pytest.mark.parametrize(
    ("kind", "policy"),
    [
        (ClusterKind.SWARM, UpdatePolicy(failure_action="continue")),
        (ClusterKind.SWARM, UpdatePolicy(failure_action="pause", has_rollback_policy=False)),
        (ClusterKind.SWARM, UpdatePolicy(parallelism=0, order="stop-first", failure_action="rollback")),
        (ClusterKind.KUBERNETES, UpdatePolicy(max_unavailable="100%")),
        (ClusterKind.KUBERNETES, UpdatePolicy(max_unavailable="3")),
        (ClusterKind.ECS, UpdatePolicy(circuit_breaker=False, min_healthy_percent=100)),
        (ClusterKind.ECS, UpdatePolicy(circuit_breaker=True, min_healthy_percent=0)),
    ],
)
def test_unsafe_update(kind: ClusterKind, policy: UpdatePolicy) -> None:
    assert "unsafe-update" in rules_for(kind, policy=policy)


# -- the fixes, word for word, per orchestrator --------------------------------------------------------

EXACT_FIXES: list[tuple[ClusterKind, str, dict[str, object], str]] = [
    # single-replica
    (ClusterKind.SWARM, "single-replica", {"desired": 1}, "docker service scale shop_web=2"),
    (ClusterKind.KUBERNETES, "single-replica", {"desired": 1}, "kubectl -n shop scale deployment/api --replicas=2"),
    (ClusterKind.ECS, "single-replica", {"desired": 1},
     "aws ecs update-service --cluster prod --service web --desired-count 2"),
    # no-limits
    (ClusterKind.SWARM, "no-limits", {"memory_limit_bytes": None},
     "docker service update --limit-memory 512M shop_web"),
    (ClusterKind.KUBERNETES, "no-limits", {"memory_limit_bytes": None},
     "kubectl -n shop set resources deployment/api -c api --limits=memory=512Mi"),
    (ClusterKind.ECS, "no-limits", {"memory_limit_bytes": None},
     'register a revision of task definition web with "memory": 512 (MiB, a hard limit) on container web '
     "(aws ecs register-task-definition), then aws ecs update-service --cluster prod --service web "
     "--task-definition web"),
    # image-unversioned
    (ClusterKind.SWARM, "image-unversioned", {"image": "redis:latest"},
     "pin a version or digest: docker service update --image redis:VERSION shop_web"),
    (ClusterKind.KUBERNETES, "image-unversioned", {"image": "redis"},
     "pin a version or digest: kubectl -n shop set image deployment/api api=redis:VERSION"),
    (ClusterKind.ECS, "image-unversioned", {"image": "redis"},
     "pin a version or digest: register a revision of task definition web with image redis:VERSION on container "
     "web (aws ecs register-task-definition), then aws ecs update-service --cluster prod --service web "
     "--task-definition web"),
    # hardcoded-credential
    (ClusterKind.SWARM, "hardcoded-credential", {"env": {"DB_PASSWORD": "x"}},
     'make the app read /run/secrets/db_password, then: printf %s "$DB_PASSWORD" | docker secret create '
     "shop_web_db_password - && docker service update --env-rm DB_PASSWORD --secret-add "
     "source=shop_web_db_password,target=db_password shop_web"),
    (ClusterKind.KUBERNETES, "hardcoded-credential", {"env": {"DB_PASSWORD": "x"}},
     'kubectl -n shop create secret generic api-db-password --from-literal=DB_PASSWORD="$DB_PASSWORD" && '
     "kubectl -n shop set env deployment/api -c api --from=secret/api-db-password --keys=DB_PASSWORD"),
    (ClusterKind.ECS, "hardcoded-credential", {"env": {"DB_PASSWORD": "x"}},
     'aws secretsmanager create-secret --name prod/web/DB_PASSWORD --secret-string "$DB_PASSWORD", then register a '
     "revision of task definition web with DB_PASSWORD in the secrets of container web (valueFrom: the secret's "
     "ARN) instead of its environment (aws ecs register-task-definition), then aws ecs update-service --cluster prod "
     "--service web --task-definition web"),
    # dev-leftovers (env)
    (ClusterKind.SWARM, "dev-leftovers", {"env": {"DEBUG": "true"}}, "docker service update --env-rm DEBUG shop_web"),
    (ClusterKind.KUBERNETES, "dev-leftovers", {"env": {"DEBUG": "true"}},
     "kubectl -n shop set env deployment/api -c api DEBUG-"),
    (ClusterKind.ECS, "dev-leftovers", {"env": {"DEBUG": "true"}},
     "register a revision of task definition web with DEBUG removed from the environment of container web (aws ecs "
     "register-task-definition), then aws ecs update-service --cluster prod --service web --task-definition web"),
    # dev-leftovers (source mounted)
    (ClusterKind.SWARM, "dev-leftovers", {"mounts": (Mount(VolumeKind.BIND, "/app", "/home/dev/src"),)},
     "bake the code into the image, then docker service update --mount-rm /app shop_web"),
    (ClusterKind.KUBERNETES, "dev-leftovers", {"mounts": (Mount(VolumeKind.HOST_PATH, "/app", "/home/dev/src"),)},
     "bake the code into the image; remove the volume mounted at /app: kubectl -n shop edit deployment/api"),
    (ClusterKind.ECS, "dev-leftovers", {"mounts": (Mount(VolumeKind.HOST, "/app", "/home/dev/src", name="src"),)},
     "bake the code into the image, then register a revision of task definition web with no mount at /app on "
     "container web (aws ecs register-task-definition), then aws ecs update-service --cluster prod --service web "
     "--task-definition web"),
    # multi-process: helpers as the orchestrator runs them side by side
    (ClusterKind.SWARM, "multi-process", {"command": ("/usr/bin/supervisord", "-n")},
     "one process per container: run each helper as its own service"),
    (ClusterKind.KUBERNETES, "multi-process", {"command": ("/usr/bin/supervisord", "-n")},
     "one process per container: run each helper as its own container in the same pod"),
    (ClusterKind.ECS, "multi-process", {"command": ("/usr/bin/supervisord", "-n")},
     "one process per container: run each helper as its own container in the same task definition"),
    # shell-entrypoint: the same fix everywhere (the image's business)
    (ClusterKind.SWARM, "shell-entrypoint", {"command": ("sh", "-c", "python app.py")},
     "exec the process (`exec app ...`) or use the exec form of CMD/ENTRYPOINT"),
    (ClusterKind.KUBERNETES, "shell-entrypoint", {"command": ("sh", "-c", "python app.py")},
     "exec the process (`exec app ...`) or use the exec form of CMD/ENTRYPOINT"),
    (ClusterKind.ECS, "shell-entrypoint", {"command": ("sh", "-c", "python app.py")},
     "exec the process (`exec app ...`) or use the exec form of CMD/ENTRYPOINT"),
    # no-healthcheck
    (ClusterKind.SWARM, "no-healthcheck", {"healthcheck": False},
     "a HEALTHCHECK in the image, or: docker service update --health-cmd CHECK-COMMAND --health-interval 10s "
     "shop_web"),
    (ClusterKind.KUBERNETES, "no-healthcheck", {"readiness_probe": False},
     "add a readinessProbe to container api: kubectl -n shop edit deployment/api"),
    (ClusterKind.ECS, "no-healthcheck", {"healthcheck": False},
     "register a revision of task definition web with a healthCheck on container web (aws ecs "
     "register-task-definition), then aws ecs update-service --cluster prod --service web --task-definition web"),
    # updates-in-place
    (ClusterKind.SWARM, "updates-in-place", {"command": ("sh", "-c", "apk upgrade && exec app")},
     "rebuild the image with the change in it (RUN in the Dockerfile), push it with a new tag, then docker service "
     "update --image registry.example.com/shop/app:NEW-VERSION shop_web"),
    (ClusterKind.KUBERNETES, "updates-in-place", {"command": ("sh", "-c", "apk upgrade && exec app")},
     "rebuild the image with the change in it (RUN in the Dockerfile), push it with a new tag, then kubectl -n shop "
     "set image deployment/api api=registry.example.com/shop/app:NEW-VERSION"),
    (ClusterKind.ECS, "updates-in-place", {"command": ("sh", "-c", "apk upgrade && exec app")},
     "rebuild the image with the change in it (RUN in the Dockerfile), push it with a new tag, then register a "
     "revision of task definition web with image registry.example.com/shop/app:NEW-VERSION on container web (aws ecs "
     "register-task-definition), then aws ecs update-service --cluster prod --service web --task-definition web"),
]


@pytest.mark.parametrize(("kind", "rule", "changes", "fix"), EXACT_FIXES,
                         ids=[f"{kind.value}-{rule}" for kind, rule, _, _ in EXACT_FIXES])
def test_fixes_name_the_resource_in_the_operators_tool(kind: ClusterKind, rule: str, changes: dict[str, object],
                                                       fix: str) -> None:
    desired = int(str(changes.pop("desired", 3)))
    finding = only(kind, rule, container=clean_container(kind, **changes), desired=desired)
    assert finding.fix == fix


@pytest.mark.parametrize(("kind", "fix"), [
    (ClusterKind.SWARM, "remove the debugger, then docker service update --publish-rm 9229 shop_web"),
    (ClusterKind.KUBERNETES, "remove the debugger and containerPort 9229: kubectl -n shop edit deployment/api"),
    (ClusterKind.ECS, "remove the debugger, then register a revision of task definition web with no port mapping for "
                      "9229 (aws ecs register-task-definition), then aws ecs update-service --cluster prod --service "
                      "web --task-definition web"),
])
def test_debugger_port_fixes(kind: ClusterKind, fix: str) -> None:
    assert only(kind, "dev-leftovers", ports=("9229:9229/tcp",)).fix == fix


@pytest.mark.parametrize(
    ("kind", "policy", "fix"),
    [
        (ClusterKind.SWARM, UpdatePolicy(failure_action="continue", has_rollback_policy=True),
         "docker service update --update-failure-action rollback shop_web"),
        (ClusterKind.SWARM, UpdatePolicy(parallelism=0, order="stop-first", failure_action="rollback",
                                         has_rollback_policy=True),
         "docker service update --update-parallelism 1 --update-order start-first shop_web"),
        (ClusterKind.KUBERNETES, UpdatePolicy(max_surge="25%", max_unavailable="100%"),
         "kubectl -n shop patch deployment/api -p "
         """'{"spec":{"strategy":{"rollingUpdate":{"maxUnavailable":"25%"}}}}'"""),
        (ClusterKind.ECS, UpdatePolicy(circuit_breaker=False, circuit_breaker_rollback=False, min_healthy_percent=100,
                                       max_percent=200),
         'aws ecs update-service --cluster prod --service web --deployment-configuration "maximumPercent=200,'
         'minimumHealthyPercent=100,deploymentCircuitBreaker={enable=true,rollback=true}"'),
        (ClusterKind.ECS, UpdatePolicy(circuit_breaker=True, circuit_breaker_rollback=True, min_healthy_percent=0,
                                       max_percent=100),
         'aws ecs update-service --cluster prod --service web --deployment-configuration "maximumPercent=200,'
         'minimumHealthyPercent=100,deploymentCircuitBreaker={enable=true,rollback=true}"'),
    ],
)
def test_update_policy_fixes_keep_the_other_settings(kind: ClusterKind, policy: UpdatePolicy, fix: str) -> None:
    assert only(kind, "unsafe-update", policy=policy).fix == fix


def test_ecs_unsafe_update_fixes_mend_everything_at_once() -> None:
    """Two findings, one command: pasting either fix never undoes the other (both settings are in one
    --deployment-configuration)."""
    policy = UpdatePolicy(circuit_breaker=False, circuit_breaker_rollback=False, min_healthy_percent=0, max_percent=100)
    found = [f for f in findings_for(ClusterKind.ECS, policy=policy) if f.rule == "unsafe-update"]
    assert sorted(f.severity.value for f in found) == ["high", "medium"]
    assert {f.fix for f in found} == {
        'aws ecs update-service --cluster prod --service web --deployment-configuration "maximumPercent=200,'
        'minimumHealthyPercent=100,deploymentCircuitBreaker={enable=true,rollback=true}"'}


def test_swarm_health_check_why_speaks_of_the_routing_mesh_only_when_something_is_published() -> None:
    kind = ClusterKind.SWARM
    container = clean_container(kind, healthcheck=False)
    assert "routing mesh" in only(kind, "no-healthcheck", container=container, ports=("443:8443/tcp",)).why
    assert "routing mesh" not in only(kind, "no-healthcheck", container=container).why


def test_a_single_replica_is_down_when_the_defaults_say_so() -> None:
    """Kubernetes' rolling update surges first (not down during an update); Swarm's default stop-first is;
    ECS starts the replacement first unless minimumHealthyPercent is 0."""
    k8s = only(ClusterKind.KUBERNETES, "single-replica", desired=1).why
    assert "a rolling update starts the new pod first" in k8s and "node loss" in k8s
    recreate = only(ClusterKind.KUBERNETES, "single-replica", desired=1, policy=UpdatePolicy(order="stop-first"))
    assert "Recreate strategy: down during every update" in recreate.why
    statefulset = only(ClusterKind.KUBERNETES, "single-replica", desired=1, workload_kind="statefulset",
                       policy=UpdatePolicy())
    assert "deletes the pod before it starts the new one" in statefulset.why
    assert statefulset.fix == "kubectl -n shop scale statefulset/api --replicas=2"
    assert "stop-first update stops it" in only(ClusterKind.SWARM, "single-replica", desired=1).why
    start_first = only(ClusterKind.SWARM, "single-replica", desired=1,
                       policy=UpdatePolicy(order="start-first", failure_action="rollback", has_rollback_policy=True))
    assert "start-first updates keep it up" in start_first.why
    assert "starts the replacement first" in only(ClusterKind.ECS, "single-replica", desired=1).why


def test_shell_entrypoint_names_each_orchestrators_grace_period() -> None:
    container = {"command": ("sh", "-c", "python app.py")}
    expected = {ClusterKind.SWARM: "the stop grace period (10 s by default)",
                ClusterKind.KUBERNETES: "terminationGracePeriodSeconds (30 s by default)",
                ClusterKind.ECS: "stopTimeout (30 s by default)"}
    for kind, grace in expected.items():
        finding = only(kind, "shell-entrypoint", container=clean_container(kind, **container))
        assert finding.why.endswith(f"the process is killed after {grace}")


# -- shared-data ---------------------------------------------------------------------------------------


def shared(kind: ClusterKind, mount: Mount, desired: int = 2, **service: object) -> list[Finding]:
    container = clean_container(kind, mounts=(mount,))
    return [f for f in findings_for(kind, container=container, desired=desired, **service)  # type: ignore[arg-type]
            if f.rule == "shared-data"]


def test_shared_data_on_swarm() -> None:
    kind = ClusterKind.SWARM
    (bind,) = shared(kind, Mount(VolumeKind.BIND, "/data", "/srv/shop"))
    assert bind.severity == "high" and bind.container == "web"
    assert bind.why == ("bind mount /srv/shop (at /data) is a directory of whichever node runs the task: "
                        "the 2 replicas each write their own copy")
    assert bind.fix == ("put it on a volume driver every node reaches (a plugin, or NFS): docker service update "
                        "--mount-rm /data --mount-add "
                        "type=volume,source=shop_web_data,target=/data,volume-driver=DRIVER shop_web")
    running = (Task(id="t1", service_id="s1", node_name="worker-2"),)
    (local,) = shared(kind, Mount(VolumeKind.NAMED_LOCAL, "/data", "shop_data", driver="local"), desired=1,
                      tasks=running)
    assert local.severity == "medium"
    assert local.why == ("local volume shop_data (at /data) lives on the node that created it (each node gets an empty "
                         "one): a task rescheduled to another node (node down, drain) starts without the data, which "
                         "stays behind")
    assert local.fix.startswith("keep it with its data (docker service update --constraint-add "
                                "node.hostname==worker-2 shop_web), or put it on a volume driver every node reaches")
    assert local.fix.endswith("volume-driver=DRIVER shop_web")
    # Pinned to one node with one replica; a volume plugin; read-only; the Docker socket: not findings.
    assert shared(kind, Mount(VolumeKind.NAMED_LOCAL, "/data", "shop_data"), desired=1, pinned_to="worker-2") == []
    assert shared(kind, Mount(VolumeKind.NAMED_DRIVER, "/data", "shop_data", driver="rexray/ebs")) == []
    assert shared(kind, Mount(VolumeKind.BIND, "/data", "/srv/shop", read_only=True)) == []
    assert shared(kind, Mount(VolumeKind.BIND, "/var/run/docker.sock", "/var/run/docker.sock")) == []
    # Several replicas held to one node share the directory: two writers on the same files.
    (crowded,) = shared(kind, Mount(VolumeKind.BIND, "/data", "/srv/shop"), pinned_to="worker-2")
    assert crowded.why.endswith("the 2 replicas, all on worker-2, write the same files at once")
    # One task per node (a global service): node data by design.
    assert shared(kind, Mount(VolumeKind.BIND, "/data", "/srv/shop"), mode=ServiceMode.GLOBAL) == []


def test_shared_data_on_kubernetes() -> None:
    kind = ClusterKind.KUBERNETES
    (host,) = shared(kind, Mount(VolumeKind.HOST_PATH, "/data", "/srv/shop", name="data"), desired=1)
    assert host.severity == "medium"
    assert host.why.startswith("hostPath /srv/shop (at /data) is a directory of whichever node runs the pod: "
                               "rescheduled to another node")
    assert host.fix.startswith("replace hostPath /srv/shop with a PersistentVolumeClaim")
    assert host.fix.endswith(": kubectl -n shop edit deployment/api")
    rwo = Mount(VolumeKind.PVC, "/data", "api-data", name="data", access_modes=("ReadWriteOnce",))
    (multi,) = shared(kind, rwo, desired=2)
    assert multi.severity == "high" and "Multi-Attach error" in multi.why
    assert multi.fix.endswith("until then: kubectl -n shop scale deployment/api --replicas=1")
    (stall,) = shared(kind, rwo, desired=1)
    assert "the rollout stalls" in stall.why
    # Recreate stops the old pod first; a claim per pod; ReadWriteMany; unknown modes: not findings.
    assert shared(kind, rwo, desired=1, policy=UpdatePolicy(order="stop-first")) == []
    assert shared(kind, Mount(VolumeKind.PVC, "/data", "data", access_modes=("ReadWriteOnce",), per_task=True),
                  desired=3, workload_kind="statefulset") == []
    assert shared(kind, Mount(VolumeKind.PVC, "/data", "data", access_modes=("ReadWriteMany",)), desired=3) == []
    assert shared(kind, Mount(VolumeKind.PVC, "/data", "data"), desired=3) == []
    assert shared(kind, Mount(VolumeKind.HOST_PATH, "/var/log", "/var/log")) == []
    assert shared(kind, Mount(VolumeKind.EPHEMERAL, "/cache", "cache")) == []


def test_shared_data_on_ecs() -> None:
    kind = ClusterKind.ECS
    (host,) = shared(kind, Mount(VolumeKind.HOST, "/data", "/ecs/data", name="data"))
    assert host.severity == "high"
    assert host.why == ("host volume /ecs/data (at /data) is kept on the container instance the task runs on: the 2 "
                        "tasks each write their own copy")
    assert host.fix == ("register a revision of task definition web with an EFS volume (efsVolumeConfiguration) in "
                        "place of volume data (aws ecs register-task-definition), then aws ecs update-service "
                        "--cluster prod --service web --task-definition web")
    (scoped,) = shared(kind, Mount(VolumeKind.TASK_SCOPED, "/var/lib/app", "scratch", name="scratch"))
    assert scoped.why.startswith("task-scoped Docker volume scratch (at /var/lib/app) is made when the task starts and "
                                 "deleted when it stops")
    assert shared(kind, Mount(VolumeKind.TASK_SCOPED, "/tmp/work", "scratch")) == []
    assert shared(kind, Mount(VolumeKind.EFS, "/data", "fs-12345678", name="data")) == []
    assert shared(kind, Mount(VolumeKind.EPHEMERAL, "/data", "data")) == []
    assert shared(kind, Mount(VolumeKind.NAMED_DRIVER, "/data", "data", driver="rexray/ebs")) == []


# -- updates-in-place ----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_updates_in_place_shows_the_command_masked(kind: ClusterKind) -> None:
    command = ("sh", "-c", "pip install --index-url https://ci:s3cr3t-token@pypi.example.com/simple app "
                           "&& exec python -m app")
    finding = only(kind, "updates-in-place", container=clean_container(kind, command=command))
    assert "s3cr3t-token" not in finding.why + finding.fix
    assert finding.why.startswith("installs packages when it starts (pip install --index-url https://ci:••••••@")


@pytest.mark.parametrize("command", [
    "apt-get update && apt-get install -y curl", "apt upgrade -y", "yum -y update", "dnf install jq",
    "apk --no-cache add curl", "apk upgrade", "python3 -m pip install requests", "npm install -g pm2",
    "DEBIAN_FRONTEND=noninteractive apt-get -y dist-upgrade", "sudo apt install vim", "pacman -Syu",
])
def test_package_manager_warning_fires_on_installs(command: str) -> None:
    from pilothouse.providers.packages import package_manager_warning

    warning = package_manager_warning(command)
    assert warning is not None and warning.endswith("rebuild the image and roll it out instead")


@pytest.mark.parametrize("command", ["apt-get update", "apk info", "pip list", "npm start", "ls /var/lib/apt",
                                     "cat install.log", "echo apt-get install", ""])
def test_package_manager_warning_is_quiet_otherwise(command: str) -> None:
    from pilothouse.providers.packages import package_manager_warning

    assert package_manager_warning(command) is None


# -- silences, config, the generic advice, the demo ---------------------------------------------------


def test_untrusted_image_only_with_an_allow_list() -> None:
    container = clean_container(ClusterKind.SWARM, image="someone/tool:1.0")
    assert "image-untrusted" not in rules_for(ClusterKind.SWARM, container=container)
    trusted = DoctorConfig(trusted_registries=("registry.example.com/", "docker.io/library/"))
    assert "image-untrusted" in rules_for(ClusterKind.SWARM, container=container, config=trusted)
    official = clean_container(ClusterKind.SWARM, image="nginx:1.27")
    assert "image-untrusted" not in rules_for(ClusterKind.SWARM, container=official, config=trusted)


def test_image_tag_parsing() -> None:
    assert image_tag("redis") == ""
    assert image_tag("localhost:5000/app") == ""
    assert image_tag("localhost:5000/app:2") == "2"
    assert image_tag("app@sha256:abc") == "@digest"


@pytest.mark.parametrize("rule", ["single-replica", "shared-data", "updates-in-place"])
def test_silence_keeps_the_finding_with_its_reason(rule: str) -> None:
    config = DoctorConfig(silences=(Silence(rule=rule, service="c/prod/web", reason="by design"),))
    container = clean_container(ClusterKind.ECS, command=("sh", "-c", "apk add curl && exec app"),
                                mounts=(Mount(VolumeKind.HOST, "/data", "/ecs/data", name="data"),))
    found = findings_for(ClusterKind.ECS, container=container, desired=1, config=config)
    assert {f.rule for f in found} == {"single-replica", "shared-data", "updates-in-place"}
    assert [f.silenced for f in found if f.rule == rule] == ["by design"]
    assert all(not f.silenced for f in found if f.rule != rule)


def test_silence_config_is_validated(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[[doctor.silence]]\nrule = "shared-data"\nservice = "c/app"\nreason = "by design"\n')
    assert load_config(path).doctor.silences[0].rule == "shared-data"
    path.write_text('[[doctor.silence]]\nrule = "no-such-rule"\nreason = "x"\n')
    with pytest.raises(Exception, match="unknown rule"):
        load_config(path)


def test_advice_comes_from_the_provider_registered_for_the_kind() -> None:
    from pilothouse.providers.registry import provider_class

    for kind in KINDS:
        assert advice_for(kind) is provider_class(kind.value).ADVICE
        assert type(advice_for(kind)) is not DoctorAdvice
    # A kind no provider answers to still gets true findings, in plain words, with no command.
    assert type(advice_for("nomad")) is DoctorAdvice
    service = Service(id="j", name="web", ref="web", desired=1,
                      containers=(ContainerSpec("web", "web:1", memory_limit_bytes=1 << 30),))
    found = examine(Cluster(name="n", kind=ClusterKind.SWARM, services=(service,)), advice=DoctorAdvice())
    assert {f.fix for f in found} == {"scale web to 2"}


def test_the_doctor_itself_knows_no_orchestrator() -> None:
    """Orchestrator words and commands live in the providers' advice: not in the rules, not in the Doctor screen
    (a plugin's orchestrator gets its own advice without touching either)."""
    root = Path(__file__).resolve().parents[2]
    doctor = ("providers/doctor.py", "providers/advice.py", "providers/packages.py", "console/screens/doctor.py")
    for path in (root / name for name in doctor):
        text = path.read_text(encoding="utf-8")
        for word in ("kubectl", "docker service", "aws ecs", "ClusterKind"):
            assert word not in text, f"{word!r} in {path.relative_to(root)}"


def test_fail_on_gates_by_severity(capsys: pytest.CaptureFixture[str], no_detected_clusters: None,
                                   tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    # The ECS demo plants high findings (a literal credential, an unversioned image).
    config.write_text('[[clusters]]\nname = "lab"\nprovider = "demo"\nflavor = "ecs"\n')
    assert main(["--config", str(config), "doctor", "--fail-on", "high"]) == 1
    config.write_text('[[clusters]]\nname = "lab"\nprovider = "demo"\nflavor = "ecs"\ntasks = 0\n'
                      '[[doctor.silence]]\nrule = "*"\nservice = "*"\nreason = "lab"\n')
    assert main(["--config", str(config), "doctor", "--fail-on", "low"]) == 0
    assert main(["--config", str(config), "doctor", "--fail-on", "urgent"]) == 2
    capsys.readouterr()


def test_doctor_on_the_demo_fleet_finds_every_rule_and_prints_no_secret(
    capsys: pytest.CaptureFixture[str], no_detected_clusters: None
) -> None:
    assert main(["doctor", "--demo", "--json"]) == 0
    out = capsys.readouterr().out
    assert "demo-not-a-real-key" not in out
    data = json.loads(out)
    fixes = {"demo-swarm": "docker service ", "demo-k8s": "kubectl -n prod ", "demo-ecs": "aws ecs update-service "}
    for cluster, tool in fixes.items():
        found = [f for f in data["findings"] if f["cluster"] == cluster]
        assert {f["rule"] for f in found} == set(RULES)
        # The demo imitates each orchestrator: its fixes are that orchestrator's own commands.
        assert any(tool in f["fix"] for f in found if f["rule"] == "single-replica")
    # Words come before a command, never after it: copied from the command on, a fix runs as written.
    assert [f["fix"] for f in data["findings"] if f["fix"].endswith(")")] == []
