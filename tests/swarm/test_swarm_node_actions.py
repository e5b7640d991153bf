"""Node actions on the real swarm through the CLI: drain moves a service's tasks off a worker, uncordon makes
it active again, cordon sets availability pause; each is a node update audited before it is sent; read-only
and an unknown node send nothing (counted at a proxy), nor do a cordon of a drained node and an uncordon of an
active one (refused from the state); without --yes a drain wants the name typed back."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from http_count_proxy import CountingProxy
from swarm_helpers import Services, SwarmInfo, docker, mutating, run_cli, wait_until, write_config

from pilothouse.console.audit import AuditLog, default_audit_path

pytestmark = pytest.mark.swarm


@pytest.fixture
def proxy(swarm: SwarmInfo, tmp_path: Path) -> Iterator[CountingProxy]:
    with CountingProxy(upstream=swarm.manager_socket, listen=str(tmp_path / "counted.sock")) as counting:
        yield counting


def availability(swarm: SwarmInfo, node: str) -> str:
    return str(json.loads(docker(swarm.manager, "node", "inspect", node))[0]["Spec"]["Availability"])


def nodes_running(services: Services, name: str) -> list[str]:
    out = services.cli("service", "ps", "--filter", "desired-state=running", "--format", "{{.Node}} {{.CurrentState}}",
                       name)
    return sorted(line.split()[0] for line in out.splitlines() if " Running" in line)


def test_drain_moves_tasks_off_then_uncordon(
    swarm: SwarmInfo, services: Services, proxy: CountingProxy, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    worker = sorted(swarm.workers)[0]
    name = services.create("--replicas", "3", "--placement-pref", "spread=node.id")
    wait_until(lambda: worker in nodes_running(services, name) and len(nodes_running(services, name)) == 3, 60,
               what=f"a task of {name} on {worker}")
    readonly = write_config(tmp_path / "ro.toml", proxy.url, readonly=True)
    writable = write_config(tmp_path / "rw.toml", proxy.url)
    try:
        for config, argv in ((readonly, ["node", f"swarm/{worker}", "drain", "--yes"]),
                             (writable, ["node", f"swarm/{worker}-nope", "drain", "--yes"]),
                             (writable, ["node", "swarm", "drain", "--yes"]),
                             (writable, ["node", f"swarm/{worker}", "drain"])):  # stdin is not a terminal
            result = run_cli(capsys, "--config", str(config), *argv)
            assert result.code in (1, 2) and result.err.count("\n") == 1, (argv, result.err)
        assert mutating(proxy.taken()) == []
        assert availability(swarm, worker) == "active"

        drained = run_cli(capsys, "--config", str(writable), "node", f"swarm/{worker}", "drain", "--yes")
        assert drained.code == 0, drained.err
        assert f"node {worker}: availability active -> availability drain" in drained.out
        [update] = mutating(proxy.taken())
        assert update.startswith("POST") and "/nodes/" in update and "/update" in update
        assert availability(swarm, worker) == "drain"
        wait_until(lambda: worker not in nodes_running(services, name) and len(nodes_running(services, name)) == 3,
                   60, what=f"the tasks moved off {worker}")

        again = run_cli(capsys, "--config", str(writable), "node", f"swarm/{worker}", "drain", "--yes")
        assert again.code == 2 and "already drain" in again.err
        pause = run_cli(capsys, "--config", str(writable), "node", f"swarm/{worker}", "cordon", "--yes")
        assert pause.code == 2 and f"node {worker} is already drain: no new tasks go there" in pause.err
        assert mutating(proxy.taken()) == []  # the refusals come from the state: nothing sent

        back = run_cli(capsys, "--config", str(writable), "node", f"swarm/{worker}", "uncordon", "--yes")
        assert back.code == 0, back.err
        assert availability(swarm, worker) == "active"
        active = run_cli(capsys, "--config", str(writable), "node", f"swarm/{worker}", "uncordon", "--yes")
        assert active.code == 2 and f"node {worker} is already active; nothing to uncordon" in active.err
        cordoned = run_cli(capsys, "--config", str(writable), "node", f"swarm/{worker}", "cordon", "--yes")
        assert cordoned.code == 0, cordoned.err
        assert availability(swarm, worker) == "pause"
    finally:
        docker(swarm.manager, "node", "update", "--availability", "active", worker)
    lines = [line for line in AuditLog(default_audit_path()).read() if line["service"] == worker]
    assert lines[0]["action"] == "drain" and lines[0]["result"].startswith("refused: cluster swarm is read-only")
    sent = [(line["action"], line["result"]) for line in lines if line["result"] in ("pending", "ok")]
    assert sent == [("drain", "pending"), ("drain", "ok"), ("uncordon", "pending"), ("uncordon", "ok"),
                    ("cordon", "pending"), ("cordon", "ok")]
