"""Restart on the real swarm: `docker service update --force` semantics (ForceUpdate + 1 on the same spec),
observed on real tasks (new task ids, same image); through the CLI with its audit; read-only sends nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from http_count_proxy import CountingProxy
from swarm_helpers import Services, SwarmInfo, mutating, run_cli, wait_until, write_config

from pilothouse.console.audit import AuditLog, default_audit_path
from pilothouse.providers.base import Action
from pilothouse.providers.model import Service, TaskState
from pilothouse.providers.swarm import SwarmProvider

pytestmark = pytest.mark.swarm


def running(provider: SwarmProvider, name: str, replicas: int) -> Service | None:
    service = provider.snapshot().service(name)
    if service is None:
        return None
    live = [task for task in service.tasks
            if task.desired_state is TaskState.RUNNING and task.state is TaskState.RUNNING]
    return service if len(live) == replicas and service.running == replicas else None


def running_ids(service: Service) -> set[str]:
    return {task.id for task in service.tasks
            if task.desired_state is TaskState.RUNNING and task.state is TaskState.RUNNING}


def inspect(services: Services, name: str) -> dict[str, object]:
    return dict(json.loads(services.cli("service", "inspect", name))[0])


def test_restart_replaces_every_task_from_the_same_spec(provider: SwarmProvider, services: Services) -> None:
    name = services.create("--replicas", "2")
    before = wait_until(lambda: running(provider, name, 2), 30, what="2/2 running")
    old_ids = running_ids(before)
    spec_before = inspect(services, name)["Spec"]
    assert isinstance(spec_before, dict)

    plan = provider.plan_restart(before)
    assert plan.action is Action.RESTART
    assert plan.before.startswith("pilothouse-test/app:1 (v")
    assert "ForceUpdate 0 -> 1" in plan.detail
    assert provider.apply(plan) == f"restarting {name} (every task is replaced from the same spec)"

    def replaced() -> Service | None:
        service = running(provider, name, 2)
        return service if service and not running_ids(service) & old_ids else None

    after = wait_until(replaced, 60, what="both tasks replaced")
    assert after.image == before.image == "pilothouse-test/app:1"
    images = services.cli("service", "ps", "--filter", "desired-state=running", "--format", "{{.Image}}", name)
    assert set(images.split()) == {before.image}
    spec_after = inspect(services, name)["Spec"]
    assert isinstance(spec_after, dict)
    assert spec_after["TaskTemplate"]["ForceUpdate"] == 1
    # Nothing else moved: the same spec, ForceUpdate aside.
    spec_after["TaskTemplate"]["ForceUpdate"] = spec_before["TaskTemplate"].get("ForceUpdate", 0)
    spec_before["TaskTemplate"].setdefault("ForceUpdate", 0)
    assert spec_after == spec_before


@pytest.fixture
def proxy(swarm: SwarmInfo, tmp_path: Path) -> Iterator[CountingProxy]:
    with CountingProxy(upstream=swarm.manager_socket, listen=str(tmp_path / "counted.sock")) as counting:
        yield counting


def test_cli_restart_audited_and_readonly_sends_nothing(
    provider: SwarmProvider, services: Services, proxy: CountingProxy, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    name = services.create("--replicas", "1")
    wait_until(lambda: running(provider, name, 1), 30, what="1/1 running")
    readonly = write_config(tmp_path / "ro.toml", proxy.url, readonly=True)
    refused = run_cli(capsys, "--config", str(readonly), "restart", f"swarm/{name}", "--yes")
    assert refused.code == 2 and refused.err.count("\n") == 1 and "is read-only" in refused.err
    bad = run_cli(capsys, "--config", str(readonly), "restart", f"swarm/{name}-missing", "--yes")
    assert bad.code in (1, 2) and bad.err.count("\n") == 1
    assert mutating(proxy.taken()) == []

    writable = write_config(tmp_path / "rw.toml", proxy.url)
    done = run_cli(capsys, "--config", str(writable), "restart", f"swarm/{name}", "--yes")
    assert done.code == 0, done.err
    assert f"restarting swarm/{name}" in done.out
    [update] = mutating(proxy.taken())
    assert update.startswith("POST") and "/services/" in update and "/update" in update
    lines = [line for line in AuditLog(default_audit_path()).read() if line["action"] == "restart"]
    results = [line["result"] for line in lines if line["service"] == name]
    assert results[0].startswith("refused: cluster swarm is read-only") and results[1:] == ["pending", "ok"]
    assert inspect(services, name)["Spec"]["TaskTemplate"]["ForceUpdate"] == 1  # type: ignore[index]
