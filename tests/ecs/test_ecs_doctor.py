"""`pilothouse doctor` on moto: each rule planted once in its own service, next to services that must pass.

One clean service passes every rule; each other service differs from it by exactly one property, so the
findings must be exactly the planted ones (and the negatives are the near misses: `exec` in a shell
command, a hard memory limit given at task level only, a secret-looking name served from `secrets`).
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from ecs_world import moto_service

pytestmark = pytest.mark.ecs

LITERAL_SECRET = "hunter2-literal-value-7f3a"  # must never appear in any output
SSM = "arn:aws:ssm:us-east-1:123456789012:parameter/db-password"
SAFE_DEPLOYMENTS = {"deploymentCircuitBreaker": {"enable": True, "rollback": True},
                    "minimumHealthyPercent": 100, "maximumPercent": 200}
CLEAN_CONTAINER: dict[str, Any] = {
    "name": "app", "image": "registry.example.com/web:1.4.2", "memory": 256,
    "portMappings": [{"containerPort": 8080, "protocol": "tcp"}],
    "healthCheck": {"command": ["CMD", "/app/healthcheck"], "interval": 10},
    "environment": [{"name": "DEBUG", "value": "false"}, {"name": "LOG_LEVEL", "value": "info"}],
    "secrets": [{"name": "DB_PASSWORD", "valueFrom": SSM}],
    "command": ["serve", "--port", "8080"],
}


def _without(key: str) -> dict[str, Any]:
    container = copy.deepcopy(CLEAN_CONTAINER)
    del container[key]
    return container


def _with(**changes: Any) -> dict[str, Any]:
    return {**copy.deepcopy(CLEAN_CONTAINER), **changes}


# service -> (container definition, task-level memory, desired count, deployment configuration, planted finding)
PLANTED: dict[str, tuple[dict[str, Any], str | None, int, dict[str, Any], str | None]] = {
    "clean": (_with(), None, 2, SAFE_DEPLOYMENTS, None),
    "latest": (_with(image="registry.example.com/web:latest"), None, 2, SAFE_DEPLOYMENTS, "image-unversioned"),
    "untagged": (_with(image="registry.example.com/web"), None, 2, SAFE_DEPLOYMENTS, "image-unversioned"),
    "third-party": (_with(image="randomdev/web:1.0"), None, 2, SAFE_DEPLOYMENTS, "image-untrusted"),
    "no-health": (_without("healthCheck"), None, 2, SAFE_DEPLOYMENTS, "no-healthcheck"),
    "literal": ({**_without("secrets"), "environment": [{"name": "DB_PASSWORD", "value": LITERAL_SECRET}]},
                None, 2, SAFE_DEPLOYMENTS, "hardcoded-credential"),
    "shell": (_with(command=["sh", "-c", "serve --port 8080"]), None, 2, SAFE_DEPLOYMENTS, "shell-entrypoint"),
    "exec-shell": (_with(command=["sh", "-c", "exec serve --port 8080"]), None, 2, SAFE_DEPLOYMENTS, None),
    "supervised": (_with(command=["supervisord", "-n", "-c", "/etc/supervisor/app.conf"]), None, 2,
                   SAFE_DEPLOYMENTS, "multi-process"),
    "debug": (_with(environment=[{"name": "DEBUG", "value": "true"}]), None, 2, SAFE_DEPLOYMENTS, "dev-leftovers"),
    "single": (_with(), None, 1, SAFE_DEPLOYMENTS, "single-replica"),
    "no-breaker": (_with(), None, 2, {**SAFE_DEPLOYMENTS, "deploymentCircuitBreaker": {"enable": False,
                                                                                     "rollback": False}},
                   "unsafe-update"),
    "min-zero": (_with(), None, 2, {**SAFE_DEPLOYMENTS, "minimumHealthyPercent": 0}, "unsafe-update"),
    "soft-limit": ({**_without("memory"), "memoryReservation": 128}, None, 2, SAFE_DEPLOYMENTS, "no-limits"),
    "task-limit": ({**_without("memory"), "memoryReservation": 128}, "512", 2, SAFE_DEPLOYMENTS, None),
    # shared-data: a host volume (sourcePath) and a task-scoped Docker volume holding data; EFS and Docker's
    # scratch (a host volume without sourcePath) are not
    "host-data": (_with(mountPoints=[{"sourceVolume": "data", "containerPath": "/var/lib/app"}]), None, 2,
                  SAFE_DEPLOYMENTS, "shared-data"),
    "task-scoped": (_with(mountPoints=[{"sourceVolume": "data", "containerPath": "/var/lib/app"}]), None, 2,
                    SAFE_DEPLOYMENTS, "shared-data"),
    "efs-data": (_with(mountPoints=[{"sourceVolume": "data", "containerPath": "/var/lib/app"}]), None, 2,
                 SAFE_DEPLOYMENTS, None),
    "scratch": (_with(mountPoints=[{"sourceVolume": "data", "containerPath": "/var/lib/app"}]), None, 2,
                SAFE_DEPLOYMENTS, None),
    # updates-in-place: packages upgraded before the process starts, vs. a package query
    "apk-upgrade": (_with(command=["sh", "-c", "apk upgrade --no-cache && exec serve --port 8080"]), None, 2,
                    SAFE_DEPLOYMENTS, "updates-in-place"),
    "apk-info": (_with(command=["sh", "-c", "apk info && exec serve --port 8080"]), None, 2, SAFE_DEPLOYMENTS, None),
}
# The task definitions' volumes, by service.
VOLUMES: dict[str, list[dict[str, Any]]] = {
    "host-data": [{"name": "data", "host": {"sourcePath": "/ecs/app-data"}}],
    "task-scoped": [{"name": "data", "dockerVolumeConfiguration": {"scope": "task", "driver": "local"}}],
    "efs-data": [{"name": "data", "efsVolumeConfiguration": {"fileSystemId": "fs-12345678", "rootDirectory": "/"}}],
    "scratch": [{"name": "data", "host": {}}],
}


@pytest.fixture
def planted(admin: Any) -> None:
    admin.create_cluster(clusterName="doc")
    for name, (container, task_memory, desired, deployments, _) in PLANTED.items():
        definition = admin.register_task_definition(
            family=f"doc-{name}", containerDefinitions=[container],
            **({"memory": task_memory} if task_memory else {}),
            **({"volumes": VOLUMES[name]} if name in VOLUMES else {}))["taskDefinition"]["taskDefinitionArn"]
        admin.create_service(cluster="doc", serviceName=name, taskDefinition=definition, desiredCount=desired)
        # moto keeps no deployment configuration; AWS describes one for every ECS-controlled service.
        moto_service("doc", name).deployment_configuration = deployments


def _doctor(config: str, capsys: pytest.CaptureFixture[str]) -> tuple[dict[str, Any], str]:
    from pilothouse.console.cli import main

    assert main(["--config", config, "doctor", "--json"]) == 0
    captured = capsys.readouterr()
    return json.loads(captured.out), captured.out + captured.err


def test_doctor_finds_exactly_the_planted_pitfalls(
    planted: None, write_config: Any, capsys: pytest.CaptureFixture[str],
) -> None:
    config = write_config(extra='[doctor]\ntrusted_registries = ["registry.example.com/"]')
    report, text = _doctor(config, capsys)
    assert report["clusters"] == [{"name": "aws", "kind": "ecs", "reachable": True, "error": None,
                                   "complete": True, "missing": []}]
    found = sorted((f["rule"], f["service"]) for f in report["findings"])
    expected = sorted((rule, f"doc/{name}") for name, (*_, rule) in PLANTED.items() if rule)
    assert found == expected
    assert all(f["cluster"] == "aws" and f["why"] and f["fix"] and not f["silenced"] for f in report["findings"])
    literal = next(f for f in report["findings"] if f["rule"] == "hardcoded-credential")
    assert "DB_PASSWORD" in literal["why"] and literal["container"] == "app"
    # The ECS fix, with the aws CLI, naming the cluster, service and task definition family.
    assert literal["fix"] == (
        'aws secretsmanager create-secret --name doc/literal/DB_PASSWORD --secret-string "$DB_PASSWORD", then '
        "register a revision of task definition doc-literal with DB_PASSWORD in the secrets of container app "
        "(valueFrom: the secret's ARN) instead of its environment (aws ecs register-task-definition), then aws ecs "
        "update-service --cluster doc --service literal --task-definition doc-literal")
    by_service = {f["service"]: f for f in report["findings"]}
    host = by_service["doc/host-data"]
    assert host["why"] == ("host volume /ecs/app-data (at /var/lib/app) is kept on the container instance the task "
                           "runs on: the 2 tasks each write their own copy")
    assert host["fix"] == ("register a revision of task definition doc-host-data with an EFS volume "
                           "(efsVolumeConfiguration) in place of volume data (aws ecs register-task-definition), then "
                           "aws ecs update-service --cluster doc --service host-data --task-definition doc-host-data")
    assert by_service["doc/task-scoped"]["why"].startswith(
        "task-scoped Docker volume data (at /var/lib/app) is made when the task starts and deleted when it stops")
    assert by_service["doc/apk-upgrade"]["why"].startswith("installs packages when it starts (apk upgrade --no-cache)")
    assert by_service["doc/single"]["fix"] == "aws ecs update-service --cluster doc --service single --desired-count 2"
    assert LITERAL_SECRET not in text

    # Without an allow-list the image-untrusted rule is off; everything else stays.
    report, text = _doctor(write_config(), capsys)
    assert sorted((f["rule"], f["service"]) for f in report["findings"]) == [
        pair for pair in expected if pair[0] != "image-untrusted"]
    assert LITERAL_SECRET not in text

    # The other read verbs do not leak it either.
    from pilothouse.console.cli import main

    assert main(["--config", config, "status", "--json"]) == 0
    assert LITERAL_SECRET not in capsys.readouterr().out


def test_doctor_silences_are_reported_not_dropped(
    planted: None, write_config: Any, capsys: pytest.CaptureFixture[str],
) -> None:
    config = write_config(extra='[doctor]\n[[doctor.silence]]\nrule = "single-replica"\nservice = "aws/doc/single"\n'
                                'reason = "batch consumer, one is enough"')
    report, _ = _doctor(config, capsys)
    single = [f for f in report["findings"] if f["rule"] == "single-replica"]
    assert [(f["service"], f["silenced"]) for f in single] == [("doc/single", "batch consumer, one is enough")]


def test_pasted_aws_fixes_run_as_written(
    planted: None, moto: str, write_config: Any, capsys: pytest.CaptureFixture[str],
) -> None:
    """The aws CLI takes each update-service fix as written (the shorthand syntax included); moto then holds
    what it asked for, and the doctor has nothing more to say about it."""
    import os
    import subprocess

    from ecs_world import moto_service

    config = write_config()
    report, _ = _doctor(config, capsys)
    fixes = {(f["service"], f["rule"]): f["fix"] for f in report["findings"]}
    environment = {**os.environ, "AWS_ENDPOINT_URL": moto}
    mended = {("doc/single", "single-replica"), ("doc/no-breaker", "unsafe-update"), ("doc/min-zero", "unsafe-update")}
    for key in sorted(mended):
        fix = fixes[key]
        command = fix[fix.index("aws ecs update-service"):]
        pasted = subprocess.run(["sh", "-c", command], env=environment, capture_output=True, text=True, timeout=120,
                                check=False)
        assert pasted.returncode == 0, f"{command}: {pasted.stderr}"
    safe = {"maximumPercent": 200, "minimumHealthyPercent": 100,
            "deploymentCircuitBreaker": {"enable": True, "rollback": True}}
    assert moto_service("doc", "no-breaker").deployment_configuration == safe
    assert moto_service("doc", "min-zero").deployment_configuration == safe
    report, _ = _doctor(config, capsys)
    left = {(f["service"], f["rule"]) for f in report["findings"]}
    assert not left & mended
