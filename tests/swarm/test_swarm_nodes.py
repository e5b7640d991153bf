"""Swarm nodes on the real three-node test swarm: a worker set to pause reads `ready` / `pause` in Swarm's
words, its role and engine version are Docker's, and the tasks on it are counted; `pilothouse nodes --json`
says the same."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from swarm_helpers import Services, SwarmInfo, docker, run_cli, wait_until, write_config

from pilothouse.providers.model import Cluster
from pilothouse.providers.nodes import node_tasks, task_counts
from pilothouse.providers.swarm import SwarmProvider


def test_a_paused_worker_in_swarm_words_with_its_tasks(
    swarm: SwarmInfo, provider: SwarmProvider, services: Services, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    name = services.create("--mode", "global")
    worker = sorted(swarm.workers)[0]

    def placed() -> Cluster | None:
        cluster = provider.snapshot()
        node = next(node for node in cluster.nodes if node.name == worker)
        ours = [p for p in node_tasks(cluster, node) if p.service.name == name and p.task.state.value == "running"]
        return cluster if ours else None

    wait_until(placed, 60, interval=0.2, what=f"a task of {name} running on {worker}")
    docker(swarm.manager, "node", "update", "--availability", "pause", worker)
    try:
        def paused() -> Cluster | None:
            cluster = provider.snapshot()
            node = next(node for node in cluster.nodes if node.name == worker)
            return cluster if node.availability_word == "pause" else None

        cluster = wait_until(paused, 30, interval=0.2, what=f"{worker} paused")
        node = next(node for node in cluster.nodes if node.name == worker)
        engine = docker(swarm.workers[worker], "version", "--format", "{{.Server.Version}}").strip()
        assert (node.state_word, node.role, node.version, node.since) == ("ready", "worker", engine, None)
        running_here = docker(swarm.manager, "node", "ps", worker, "--filter", "desired-state=running",
                              "--format", "{{.ID}}").split()
        assert task_counts(cluster)[node.id] == len(running_here) >= 1
        result = run_cli(capsys, "--config", str(write_config(tmp_path / "config.toml", swarm.manager)),
                         "nodes", "--json")
        assert result.code == 0, result.err
        listed = {n["name"]: n for n in json.loads(result.out)["clusters"][0]["nodes"]}
        assert {key: listed[worker][key] for key in ("state", "availability", "role", "version", "conditions")} == {
            "state": "ready", "availability": "pause", "role": "worker", "version": engine, "conditions": []}
        assert listed[worker]["tasks"] == len(running_here)
        assert len(listed) == 3
    finally:
        docker(swarm.manager, "node", "update", "--availability", "active", worker)


def test_inspect_masks_a_secret_looking_env_on_the_real_swarm(
    swarm: SwarmInfo, provider: SwarmProvider, services: Services, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import yaml

    from pilothouse.providers.inspect import InspectTarget, TargetKind
    from pilothouse.providers.secrets import MASK

    token = "tok-5f2e9a7c1d"
    name = services.create("--env", f"API_TOKEN={token}", "--env", "LOG_LEVEL=debug",
                           command=("sh", "-c", f"echo {token}; sleep 3600"))
    service = wait_until(lambda: provider.snapshot().service(name), 30, what=f"{name} listed")
    result = provider.inspect(InspectTarget(TargetKind.SERVICE, service.id, service.ref))
    assert (result.title, result.format) == (f"service {name}", "yaml")
    assert token not in result.text
    spec = yaml.safe_load(result.text)
    container = spec["Spec"]["TaskTemplate"]["ContainerSpec"]
    assert container["Env"] == [f"API_TOKEN={MASK}", "LOG_LEVEL=debug"]
    assert container["Args"] == ["sh", "-c", f"echo {MASK}; sleep 3600"]  # the same value, masked where it repeats
    config = str(write_config(tmp_path / "config.toml", swarm.manager))
    result_cli = run_cli(capsys, "--config", config, "inspect", f"swarm/{name}")
    assert result_cli.code == 0 and token not in result_cli.out
    assert yaml.safe_load(result_cli.out)["Spec"]["Name"] == name
    worker = sorted(swarm.workers)[0]
    node_cli = run_cli(capsys, "--config", config, "inspect", "swarm", "--node", worker)
    assert node_cli.code == 0, node_cli.err
    assert yaml.safe_load(node_cli.out)["Description"]["Hostname"] == worker


def test_diff_between_two_real_revisions(
    swarm: SwarmInfo, provider: SwarmProvider, services: Services, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    name = services.create("--env", "DB_PASSWORD=first-secret", "--env", "MODE=a", "--replicas", "1")
    config = str(write_config(tmp_path / "config.toml", swarm.manager))
    never_updated = run_cli(capsys, "--config", config, "diff", f"swarm/{name}")
    assert never_updated.code == 2 and "no previous spec" in never_updated.err
    services.cli("service", "update", "--detach", "--no-resolve-image", "--image", "pilothouse-test/app:2",
                 "--env-add", "DB_PASSWORD=second-secret", "--env-add", "NEW_FLAG=1", "--env-rm", "MODE",
                 "--limit-memory", "64M", "--label-add", "team=core", name)
    service = wait_until(lambda: provider.snapshot().service(name), 30, what=f"{name} listed")
    found = provider.revisions_diff(service)
    changes = {change.field: change for change in found.changes}
    assert list(changes) == ["image", "env", "resources", "labels"]
    assert (changes["image"].before, changes["image"].after) == ("pilothouse-test/app:1", "pilothouse-test/app:2")
    assert changes["env"].before == "MODE, DB_PASSWORD=(value)"
    assert changes["env"].after == "NEW_FLAG, DB_PASSWORD=(value changed)"
    assert "67108864" in changes["resources"].after and '"team": "core"' in changes["labels"].after
    assert found.from_label == "previous spec" and found.to_label.startswith("current spec (version ")
    from pilothouse.providers.base import Action

    plan = provider.plan(Action.ROLLBACK, service)
    assert plan.detail.endswith("-> previous spec: image, env, resources, labels")
    assert plan.detail.startswith("spec version ")
    result = run_cli(capsys, "--config", config, "diff", f"swarm/{name}")
    assert result.code == 0
    assert "secret" not in result.out and "image:\n  - pilothouse-test/app:1\n  + pilothouse-test/app:2" in result.out
