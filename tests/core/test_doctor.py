from __future__ import annotations

import json
from pathlib import Path

import pytest

from pilothouse.console.cli import main
from pilothouse.console.config import load_config
from pilothouse.console.doctor import DoctorConfig, Silence, examine, image_tag
from pilothouse.providers.model import Cluster, ClusterKind, ContainerSpec, Service, ServiceMode, UpdatePolicy

SAFE_POLICY = {
    ClusterKind.SWARM: UpdatePolicy(failure_action="rollback", has_rollback_policy=True),
    ClusterKind.KUBERNETES: UpdatePolicy(max_unavailable="25%"),
    ClusterKind.ECS: UpdatePolicy(circuit_breaker=True, min_healthy_percent=100),
}


def clean_container(kind: ClusterKind, **changes: object) -> ContainerSpec:
    container = ContainerSpec(
        name="app", image="registry.example.com/shop/app:1.2.3", command=("/app", "--serve"),
        env={"LOG_LEVEL": "info"}, healthcheck=True, readiness_probe=kind is ClusterKind.KUBERNETES or None,
        liveness_probe=kind is ClusterKind.KUBERNETES or None, memory_limit_bytes=256 << 20,
    )
    for name, value in changes.items():
        setattr(container, name, value)
    return container


def rules_for(kind: ClusterKind, *, container: ContainerSpec | None = None, desired: int = 3,
              policy: UpdatePolicy | None = None, ports: tuple[str, ...] = (),
              config: DoctorConfig | None = None) -> set[str]:
    service = Service(id="s1", name="app", ref="app", desired=desired, mode=ServiceMode.REPLICATED,
                      image="registry.example.com/shop/app:1.2.3", update_policy=policy or SAFE_POLICY[kind],
                      containers=(container or clean_container(kind),), ports=ports)
    cluster = Cluster(name="c", kind=kind, services=(service,))
    return {finding.rule for finding in examine(cluster, config)}


KINDS = list(ClusterKind)


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
        ("dev-leftovers", {"mounts": ("bind:/home/dev/src:/app",)}),
        ("no-limits", {"memory_limit_bytes": None}),
    ],
)
def test_each_container_rule_fires(kind: ClusterKind, rule: str, changes: dict[str, object]) -> None:
    assert rule in rules_for(kind, container=clean_container(kind, **changes))


@pytest.mark.parametrize("kind", KINDS)
def test_negative_cases_do_not_fire(kind: ClusterKind) -> None:
    container = clean_container(
        kind, image="registry.example.com/app@sha256:" + "a" * 64, env={"DB_PASSWORD_FILE": "", "DEBUG": "false"},
        secret_env=("API_TOKEN",), command=("sh", "-c", "exec python app.py"),
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
        (ClusterKind.KUBERNETES, UpdatePolicy(max_unavailable="100%")),
        (ClusterKind.KUBERNETES, UpdatePolicy(max_unavailable="3")),
        (ClusterKind.ECS, UpdatePolicy(circuit_breaker=False, min_healthy_percent=100)),
        (ClusterKind.ECS, UpdatePolicy(circuit_breaker=True, min_healthy_percent=0)),
    ],
)
def test_unsafe_update(kind: ClusterKind, policy: UpdatePolicy) -> None:
    assert "unsafe-update" in rules_for(kind, policy=policy)


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


def test_silence_keeps_the_finding_with_its_reason() -> None:
    config = DoctorConfig(silences=(Silence(rule="single-replica", service="c/app", reason="a singleton by design"),))
    service = Service(id="s", name="app", ref="app", desired=1, containers=(clean_container(ClusterKind.ECS),),
                      update_policy=SAFE_POLICY[ClusterKind.ECS])
    (finding,) = examine(Cluster(name="c", kind=ClusterKind.ECS, services=(service,)), config)
    assert finding.silenced == "a singleton by design"


def test_silence_config_is_validated(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[[doctor.silence]]\nrule = "single-replica"\nservice = "c/app"\nreason = "by design"\n')
    assert load_config(path).doctor.silences[0].reason == "by design"
    path.write_text('[[doctor.silence]]\nrule = "no-such-rule"\nreason = "x"\n')
    with pytest.raises(Exception, match="unknown rule"):
        load_config(path)


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
    for cluster in ("demo-swarm", "demo-k8s", "demo-ecs"):
        rules = {f["rule"] for f in data["findings"] if f["cluster"] == cluster}
        assert rules == {"image-unversioned", "image-untrusted", "no-healthcheck", "hardcoded-credential",
                         "shell-entrypoint", "multi-process", "dev-leftovers", "single-replica", "unsafe-update",
                         "no-limits"}
