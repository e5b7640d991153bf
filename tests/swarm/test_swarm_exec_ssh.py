"""Exec through an ssh:// node_engine (docker[ssh]'s paramiko transport, as the README's `ssh://ops@{node}`):
a private sshd on loopback whose `docker system dial-stdio` reaches one worker's engine; a command's output
and exit code, and a TTY session fed from a pipe, come back through the ssh channel."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from swarm_helpers import Services, SwarmInfo, wait_until
from transport_helpers import PrivateSshd, ensure_sshd

from pilothouse.providers.base import Action, ClusterConfig
from pilothouse.providers.exec import ExecStreams
from pilothouse.providers.model import Service, TaskState
from pilothouse.providers.swarm import SwarmProvider

pytestmark = pytest.mark.swarm
WORKER = "ph-worker-1"


@pytest.fixture(scope="module")
def worker_sshd(swarm: SwarmInfo, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateSshd]:
    server = PrivateSshd(tmp_path_factory.mktemp("sshd"), swarm.workers[WORKER], ensure_sshd()).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def provider(swarm: SwarmInfo, worker_sshd: PrivateSshd, tmp_path: Path,
             monkeypatch: pytest.MonkeyPatch) -> Iterator[SwarmProvider]:
    """A cluster whose node_engine is the sshd in front of ph-worker-1, with an operator's ~/.ssh."""
    monkeypatch.setenv("HOME", str(worker_sshd.client_home(tmp_path / "home", worker_sshd.client_key)))
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    made = SwarmProvider(ClusterConfig(name="swarm", provider="swarm", options={
        "docker_host": swarm.manager, "node_engine": worker_sshd.url}))
    made.connect()
    yield made
    made.close()


def on_the_worker(services: Services, provider: SwarmProvider) -> Service:
    name = services.create("--replicas", "1", "--constraint", f"node.hostname=={WORKER}")

    def running() -> Service | None:
        service = provider.snapshot().service(name)
        return service if service and any(task.state is TaskState.RUNNING for task in service.tasks) else None

    return wait_until(running, 30, what=f"a task running on {WORKER}")


def session(provider: SwarmProvider, service: Service, *, stdin: bytes, tty: bool,
            command: tuple[str, ...] = ()) -> tuple[int, bytes]:
    plan = provider.plan(Action.EXEC, service, command=command, tty=tty)
    assert plan.payload["node"] == WORKER and str(plan.payload["engine"]).startswith("ssh://")
    typed_read, typed_write = os.pipe()
    os.write(typed_write, stdin)
    os.close(typed_write)
    out_read, out_write = os.pipe()
    try:
        code = provider.run_exec(plan, ExecStreams(stdin=typed_read, stdout=out_write, stderr=out_write, tty=tty))
    finally:
        os.close(out_write)
        os.close(typed_read)
    with os.fdopen(out_read, "rb") as output:
        return code, output.read()


def test_a_command_over_ssh(provider: SwarmProvider, services: Services, worker_sshd: PrivateSshd) -> None:
    service = on_the_worker(services, provider)
    code, output = session(provider, service, stdin=b"", tty=False, command=("sh", "-c", "echo over-ssh; exit 3"))
    assert (code, output) == (3, b"over-ssh\n")
    assert "Accepted publickey for root" in worker_sshd.log.read_text()


def test_a_tty_session_over_ssh(provider: SwarmProvider, services: Services) -> None:
    service = on_the_worker(services, provider)
    code, output = session(provider, service, stdin=b"echo typed=$((20 + 22))\nexit 4\n", tty=True)
    assert code == 4 and b"typed=42" in output
