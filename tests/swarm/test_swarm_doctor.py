"""`pilothouse doctor --json` on real swarm services (issue 8): each rule once planted, once avoided.

Every planted service is otherwise clean (versioned trusted image, health check, memory limit, rollback
policy, no replicas so nothing has to start), so the doctor must report exactly the planted rule and nothing
else. The clean service is the negative case of every rule; a few rules get a targeted negative too (a secret
file instead of a literal, a volume instead of a source bind, a health check from the image).
"""

from __future__ import annotations

import functools
import json
import os
import re
import subprocess
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from swarm_helpers import Services, SwarmInfo, docker, run_cli, wait_until, write_config

pytestmark = pytest.mark.swarm

PLANTED_SECRET = "hunter2-planted-" + uuid.uuid4().hex[:8]
CLEAN = ("--health-cmd", "true", "--limit-memory", "64M", "--update-failure-action", "rollback")
TRUSTED = 'docker.io/pilothouse-test/'
THIRD_PARTY = "quay.io/acme-ph/app:1"
LATEST = "pilothouse-test/app:latest"


@pytest.fixture
def local_tags(swarm: SwarmInfo) -> Iterator[None]:
    # Only the manager needs them: the services have no replicas, and the doctor inspects the manager's copy.
    for tag in (THIRD_PARTY, LATEST):
        docker(swarm.manager, "tag", "pilothouse-test/app:1", tag)
    yield
    docker(swarm.manager, "rmi", THIRD_PARTY, LATEST, check=False)


@pytest.fixture
def secret(swarm: SwarmInfo) -> Iterator[str]:
    import subprocess

    name = f"ph-doctor-{uuid.uuid4().hex[:6]}"
    subprocess.run(["docker", "-H", swarm.manager, "secret", "create", name, "-"], input=PLANTED_SECRET,
                   text=True, check=True, capture_output=True, timeout=30)
    yield name
    # Requested before `services`, so torn down after them: a secret in use cannot be removed.
    wait_until(lambda: docker(swarm.manager, "secret", "rm", name, check=False) or
               name not in docker(swarm.manager, "secret", "ls", "--format", "{{.Name}}"), 20,
               what=f"secret {name} removed")


def create_through_api(swarm: SwarmInfo, services: Services, name: str, image: str, *,
                       rollback_policy: bool) -> str:
    """The docker CLI always sends an image tag and a rollback config; only the API can leave them out."""
    from docker.api.client import APIClient
    from docker.types import (
        ContainerSpec,
        Healthcheck,
        Resources,
        RollbackConfig,
        ServiceMode,
        TaskTemplate,
        UpdateConfig,
    )

    client = APIClient(base_url=swarm.manager, version="auto")
    try:
        template = TaskTemplate(ContainerSpec(image, healthcheck=Healthcheck(test=["CMD", "true"])),
                                resources=Resources(mem_limit=64 * 1024 * 1024))
        client.create_service(template, name=name, mode=ServiceMode("replicated", 0),
                              update_config=UpdateConfig(failure_action="rollback"),
                              rollback_config=RollbackConfig(parallelism=1) if rollback_policy else None)
    finally:
        client.close()
    return services.adopt(name)


def test_doctor_reports_exactly_the_planted_findings(
    swarm: SwarmInfo, secret: str, services: Services, local_tags: None, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    none = ("--replicas", "0")
    expected: dict[str, list[str]] = {}

    def plant(rules: list[str], *args: str, image: str = "pilothouse-test/app:1",
              command: tuple[str, ...] = ()) -> str:
        name = services.create(*args, image=image, command=command)
        expected[name] = rules
        return name

    # The negative case of every rule.
    plant([], *CLEAN, "--replicas", "2")
    # image-unversioned / image-untrusted
    plant(["image-unversioned"], *CLEAN, *none, image=LATEST)
    expected[create_through_api(swarm, services, f"{services.prefix}-untagged", "pilothouse-test/app",
                                rollback_policy=True)] = ["image-unversioned"]
    plant(["image-untrusted"], *CLEAN, *none, image=THIRD_PARTY)
    # no-healthcheck: none in the spec and none in the image; disabled in the spec; vs. the image's own
    plant(["no-healthcheck"], *CLEAN[2:], *none)
    plant(["no-healthcheck"], "--no-healthcheck", *CLEAN[2:], *none)
    plant([], *CLEAN[2:], *none, image="pilothouse-test/app:healthy")
    # hardcoded-credential: a literal vs. a Swarm secret read from its file
    plant(["hardcoded-credential"], *CLEAN, *none, "--env", f"DB_PASSWORD={PLANTED_SECRET}")
    plant([], *CLEAN, *none, "--secret", f"source={secret},target=db_password",
          "--env", "DB_PASSWORD_FILE=/run/secrets/db_password")
    # shell-entrypoint / multi-process
    plant(["shell-entrypoint"], *CLEAN, *none, command=("sh", "-c", "sleep 86400"))
    plant([], *CLEAN, *none, command=("sh", "-c", "exec sleep 86400"))
    plant(["multi-process"], *CLEAN, *none, command=("supervisord", "-n", "-c", "/etc/supervisord.conf"))
    # dev-leftovers: DEBUG, a mounted source directory, a debugger port
    plant(["dev-leftovers"], *CLEAN, *none, "--env", "DEBUG=true")
    plant([], *CLEAN, *none, "--env", "DEBUG=false")
    plant(["dev-leftovers"], *CLEAN, *none, "--mount", "type=bind,source=/src/app,target=/app")
    # ... a named volume instead (held to one node, so not shared-data either)
    worker = sorted(swarm.workers)[0]
    plant([], *CLEAN, *none, "--mount", "type=volume,source=ph-data,target=/data",
          "--constraint", f"node.hostname=={worker}")
    plant(["dev-leftovers"], *CLEAN, *none, "--publish", "target=9229")
    plant([], *CLEAN, *none, "--publish", "target=8080")
    # single-replica (the clean service has 2)
    plant(["single-replica"], *CLEAN, "--replicas", "1")
    # unsafe-update: failure action continue; no rollback policy at all
    plant(["unsafe-update"], *CLEAN[:4], "--update-failure-action", "continue", *none)
    expected[create_through_api(swarm, services, f"{services.prefix}-norollback", "pilothouse-test/app:1",
                                rollback_policy=False)] = ["unsafe-update"]
    # no-limits
    plant(["no-limits"], *CLEAN[:2], *CLEAN[4:], *none)
    # shared-data: a bind mount on 2 running replicas (a directory every node has); a named volume on the
    # local driver, not held to a node; vs. the local driver's NFS options (network storage) and a read-only bind
    bind = plant(["shared-data"], *CLEAN, "--replicas", "2", "--mount", "type=bind,source=/tmp,target=/data")
    plant(["shared-data"], *CLEAN, *none, "--mount", "type=volume,source=ph-shared,target=/data")
    plant([], *CLEAN, *none, "--mount",
          "type=volume,source=ph-nfs,target=/data,volume-opt=type=nfs,volume-opt=o=addr=127.0.0.1,"
          "volume-opt=device=:/export")
    plant([], *CLEAN, *none, "--mount", "type=bind,source=/etc,target=/host-etc,readonly")
    # updates-in-place: `apk upgrade` before the process; vs. a read-only package query
    upgrade = plant(["updates-in-place"], *CLEAN, *none, command=("sh", "-c", "apk upgrade && exec sleep 86400"))
    plant([], *CLEAN, *none, command=("sh", "-c", "apk info && exec sleep 86400"))

    config = write_config(tmp_path / "config.toml", swarm.manager,
                          extra=f'[doctor]\ntrusted_registries = ["{TRUSTED}"]\n')
    result = run_cli(capsys, "--config", str(config), "doctor", "--json")
    assert result.code == 0, result.err
    assert PLANTED_SECRET not in result.out + result.err
    report = json.loads(result.out)
    found: dict[str, Counter[str]] = {name: Counter() for name in expected}
    for finding in report["findings"]:
        if finding["service"] in found:
            found[finding["service"]][finding["rule"]] += 1
            assert finding["cluster"] == "swarm" and finding["why"] and finding["fix"]
    assert {name: sorted(rules.elements()) for name, rules in found.items()} == expected
    # The planted credential is named, never shown.
    (credential,) = [f for f in report["findings"] if f["rule"] == "hardcoded-credential"
                     and f["service"] in expected]
    assert "DB_PASSWORD" in credential["why"]
    # Which volume, why on Swarm, and the docker command naming the service.
    by_service = {(f["service"], f["rule"]): f for f in report["findings"]}
    shared = by_service[(bind, "shared-data")]
    assert shared["severity"] == "high"
    assert shared["why"] == ("bind mount /tmp (at /data) is a directory of whichever node runs the task: the 2 "
                             "replicas each write their own copy")
    assert shared["fix"] == ("put it on a volume driver every node reaches (a plugin, or NFS): docker service update "
                             f"--mount-rm /data --mount-add type=volume,source={bind}_data,target=/data,"
                             f"volume-driver=DRIVER {bind}")
    upgraded = by_service[(upgrade, "updates-in-place")]
    assert upgraded["why"].startswith("installs packages when it starts (apk upgrade)")
    assert upgraded["fix"].endswith(f"docker service update --image pilothouse-test/app:NEW-VERSION {upgrade}")


# Where the command starts in a fix: the operator copies from there to the end.
COMMAND_START = re.compile(r"(printf |docker )")


def test_pasted_fixes_mend_the_findings(
    swarm: SwarmInfo, services: Services, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    """Each fix, run as written by a shell with the operator's docker pointed at the swarm, mends its finding."""
    none = ("--replicas", "0")
    planted = {
        services.create(*CLEAN[:2], *CLEAN[4:], *none): "no-limits",
        services.create(*CLEAN, "--replicas", "1"): "single-replica",
        services.create(*CLEAN[:4], "--update-failure-action", "continue", *none): "unsafe-update",
        services.create(*CLEAN, *none, "--env", "DEBUG=true"): "dev-leftovers",
        services.create(*CLEAN, *none, "--publish", "target=9229"): "dev-leftovers",
        services.create(*CLEAN, *none, "--env", f"DB_PASSWORD={PLANTED_SECRET}"): "hardcoded-credential",
    }
    config = write_config(tmp_path / "config.toml", swarm.manager)

    def findings() -> dict[str, list[dict[str, str]]]:
        result = run_cli(capsys, "--config", str(config), "doctor", "--json")
        assert result.code == 0, result.err
        found: dict[str, list[dict[str, str]]] = {name: [] for name in planted}
        for finding in json.loads(result.out)["findings"]:
            if finding["service"] in found:
                found[finding["service"]].append(finding)
        return found

    before = findings()
    assert {name: [f["rule"] for f in found] for name, found in before.items()} == {
        name: [rule] for name, rule in planted.items()}
    secrets: list[str] = []
    environment = {**os.environ, "DOCKER_HOST": swarm.manager, "DB_PASSWORD": PLANTED_SECRET}
    for (finding,) in before.values():
        start = COMMAND_START.search(finding["fix"])
        assert start is not None, finding["fix"]
        command = finding["fix"][start.start():]
        pasted = subprocess.run(["sh", "-c", command], env=environment, capture_output=True, text=True,
                                timeout=120, check=False)
        assert pasted.returncode == 0, f"{command}: {pasted.stderr}"
        secrets += re.findall(r"docker secret create (\S+)", command)
    try:
        # The planted findings are gone. Scaled to two, the single replica's tasks run the test swarm's local
        # tag (no registry: created --no-resolve-image) on two nodes: the weaker image-drift, true, not planted.
        after = {name: [f for f in found if f["rule"] != "image-drift" or f["severity"] != "low"]
                 for name, found in findings().items()}
        assert after == {name: [] for name in planted}
    finally:
        # A secret in use cannot be removed: the services go first.
        services.remove_all()
        services.created.clear()
        for secret_name in secrets:
            wait_until(functools.partial(secret_removed, swarm, secret_name), 30, what=f"secret {secret_name} removed")


def secret_removed(swarm: SwarmInfo, name: str) -> bool:
    docker(swarm.manager, "secret", "rm", name, check=False)
    return name not in docker(swarm.manager, "secret", "ls", "--format", "{{.Name}}")
