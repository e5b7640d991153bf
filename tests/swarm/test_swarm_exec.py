"""Exec on the real swarm, on the engine of the node that runs the task: the workers' engines are reached
through a `node_engine` template over unix sockets named after the nodes (counting proxies in front of them,
so what is sent is counted at the transport). A command's output and exit code, the CLI end to end with its
audit (the intent before anything reaches the engine, the command recorded), an interactive shell through a
pty, the refusal without node_engine naming the docker command, and read-only or bad input sending nothing."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from http_count_proxy import CountingProxy
from swarm_helpers import Services, SwarmInfo, docker, make_provider, mutating, run_cli, wait_until, write_config
from terminal import read_until as read_screen

from pilothouse.console.audit import AuditLog, default_audit_path
from pilothouse.providers.base import Action, ClusterConfig
from pilothouse.providers.errors import InvalidInput, NotSupported
from pilothouse.providers.exec import ExecStreams
from pilothouse.providers.model import Service, TaskState
from pilothouse.providers.swarm import SwarmProvider

pytestmark = pytest.mark.swarm


class Engines:
    """A counting proxy per worker engine, listening at ENGINES/<node hostname>.sock."""

    def __init__(self, swarm: SwarmInfo, directory: Path) -> None:
        self.directory = directory
        self.proxies = {name: CountingProxy(upstream=url.removeprefix("unix://"),
                                            listen=str(directory / f"{name}.sock"))
                        for name, url in swarm.workers.items()}

    @property
    def template(self) -> str:
        return f"unix://{self.directory}/{{node}}.sock"

    def requests(self) -> list[str]:
        return [request for proxy in self.proxies.values() for request in proxy.taken()]


@pytest.fixture
def engines(swarm: SwarmInfo, tmp_path: Path) -> Iterator[Engines]:
    made = Engines(swarm, tmp_path / "engines")
    made.directory.mkdir()
    for proxy in made.proxies.values():
        proxy.start()
    yield made
    for proxy in made.proxies.values():
        proxy.close()


@pytest.fixture
def manager(swarm: SwarmInfo, tmp_path: Path) -> Iterator[CountingProxy]:
    with CountingProxy(upstream=swarm.manager_socket, listen=str(tmp_path / "manager.sock")) as counting:
        yield counting


def on_workers(services: Services, provider: SwarmProvider, replicas: int = 1) -> Service:
    name = services.create("--replicas", str(replicas), "--constraint", "node.role==worker")

    def running() -> Service | None:
        service = provider.snapshot().service(name)
        live = [task for task in service.tasks if task.state is TaskState.RUNNING] if service else []
        return service if service and len(live) == replicas else None

    return wait_until(running, 30, what=f"{replicas} running on workers")


@pytest.fixture
def service(swarm: SwarmInfo, services: Services, engines: Engines) -> Service:
    """A one-replica service running on a worker."""
    provider = exec_provider(swarm, engines)
    try:
        return on_workers(services, provider)
    finally:
        provider.close()


def exec_provider(swarm: SwarmInfo, engines: Engines) -> SwarmProvider:
    provider = SwarmProvider(ClusterConfig(name="swarm", provider="swarm", options={
        "docker_host": swarm.manager, "node_engine": engines.template}))
    provider.connect()
    return provider


def config(tmp_path: Path, manager: CountingProxy, engines: Engines | None, readonly: bool = False) -> Path:
    extra = f'node_engine = "{engines.template}"\n' if engines else ""
    name = f"{'ro' if readonly else 'rw'}{'-engines' if engines else ''}.toml"
    return write_config(tmp_path / name, manager.url, readonly=readonly, extra=extra)


def test_a_command_runs_on_the_workers_engine_with_its_output_and_exit_code(
    swarm: SwarmInfo, services: Services, engines: Engines,
) -> None:
    provider = exec_provider(swarm, engines)
    service = on_workers(services, provider, replicas=2)
    plan = provider.plan(Action.EXEC, service, task_id=f"{service.name}.2",
                         command=("sh", "-c", "echo hi; echo oops >&2; exit 3"))
    node = str(plan.payload["node"])
    assert node in swarm.workers and f"task {service.name}.2 (" in plan.before and f"on node {node}" in plan.before
    assert plan.after == "sh -c 'echo hi; echo oops >&2; exit 3'"
    assert engines.requests() == []  # planning reads the manager only
    out_read, out_write = os.pipe()
    err_read, err_write = os.pipe()
    code = provider.run_exec(plan, ExecStreams(stdin=0, stdout=out_write, stderr=err_write))
    os.close(out_write)
    os.close(err_write)
    assert code == 3
    assert os.read(out_read, 100) == b"hi\n" and os.read(err_read, 100) == b"oops\n"  # stdout and stderr apart
    # It went to that node's engine, and only there.
    sent = [request.split(" ")[0] for request in engines.proxies[node].taken() if "/exec" in request]
    assert sent[:2] == ["POST", "POST"] and set(sent[2:]) == {"GET"}  # create, start, then inspect
    assert all(not proxy.taken() for name, proxy in engines.proxies.items() if name != node)
    provider.close()


def test_bad_task_or_container_is_one_line_and_reaches_no_engine(
    swarm: SwarmInfo, services: Services, engines: Engines,
) -> None:
    provider = exec_provider(swarm, engines)
    service = on_workers(services, provider)
    with pytest.raises(InvalidInput, match=rf"no task '{service.name}.7' in {service.name}: its running tasks: "):
        provider.plan(Action.EXEC, service, task_id=f"{service.name}.7")
    with pytest.raises(InvalidInput, match="a Swarm task runs one container"):
        provider.plan(Action.EXEC, service, container="sidecar")
    assert engines.requests() == []
    provider.close()


def test_without_node_engine_the_refusal_names_the_docker_command(
    swarm: SwarmInfo, services: Services, tmp_path: Path, manager: CountingProxy, capsys: pytest.CaptureFixture[str],
) -> None:
    provider = make_provider(swarm.manager)
    provider.connect()
    service = on_workers(services, provider)
    with pytest.raises(NotSupported) as refused:
        provider.plan(Action.EXEC, service, command=("cat", "/etc/hostname"))
    [node] = {task.node_name for task in service.tasks if task.state is TaskState.RUNNING}
    container = docker(swarm.workers[node], "ps", "-q", "--no-trunc", "--filter",
                       f"label=com.docker.swarm.service.name={service.name}").strip()
    message = str(refused.value)
    assert f"runs on the engine of node {node}" in message and "has no node_engine" in message
    assert f"run on {node}: docker exec {container} cat /etc/hostname" in message
    # Pasted on that node, the command works as said.
    assert docker(swarm.workers[node], "exec", container, "cat", "/etc/hostname").strip()
    provider.close()
    # The CLI: one line, exit 2, the refusal audited, nothing sent.
    result = run_cli(capsys, "--config", str(config(tmp_path, manager, None)), "exec", f"swarm/{service.name}",
                     "--yes", "--", "cat", "/etc/hostname")
    assert result.code == 2 and result.err.count("\n") == 1
    assert f"docker exec {container} cat /etc/hostname" in result.err
    assert mutating(manager.taken()) == []


def test_cli_exec_streams_output_exits_with_the_code_and_audits_first(
    service: Service, tmp_path: Path, manager: CountingProxy, engines: Engines,
    capfd: pytest.CaptureFixture[str],
) -> None:
    intent_seen: list[bool] = []

    def at_the_engine(request: str) -> int | None:
        # When the exec reaches the engine, its intent must already be on disk.
        if "/exec" in request:
            intent_seen.append(_intent_written())
        return None

    for proxy in engines.proxies.values():
        proxy.fail = at_the_engine
    from pilothouse.console.cli import main

    capfd.readouterr()
    code = main(["--config", str(config(tmp_path, manager, engines)), "exec", f"swarm/{service.name}", "--yes",
                 "--", "sh", "-c", "echo hi; exit 3"])
    out, err = capfd.readouterr()
    assert code == 3 and out == "hi\n", err
    assert err.startswith(f"exec swarm/{service.name}: task {service.name}.1 (")  # the plan, on stderr
    assert intent_seen and all(intent_seen)
    lines = [line for line in AuditLog(default_audit_path()).read() if line["action"] == "exec"]
    assert [line["result"] for line in lines] == ["pending", "ok"]
    intent, outcome = lines
    assert intent["after"] == "sh -c 'echo hi; exit 3'" and intent["service"] == service.name
    assert intent["before"].startswith(f"task {service.name}.1 (") and ", container " in intent["before"]
    assert intent["user"] and outcome["exit_code"] == 3 and outcome["attempt"] == intent["attempt"]
    assert mutating(manager.taken()) == []  # the manager was only read


def _intent_written() -> bool:
    lines = AuditLog(default_audit_path()).read()
    return bool(lines) and lines[-1]["action"] == "exec" and lines[-1]["result"] == "pending"


def test_output_is_cleaned_on_a_terminal(service: Service, tmp_path: Path, manager: CountingProxy,
                                         engines: Engines) -> None:
    path = config(tmp_path, manager, engines)
    pid, terminal = pty.fork()
    if pid == 0:
        os.execvpe(sys.executable, [sys.executable, "-m", "pilothouse", "--config", str(path), "exec",
                                    f"swarm/{service.name}", "--yes", "--", "printf",
                                    "\\033]0;owned\\007title\\033[2J cleared\\n"], os.environ)
    try:
        shown = read_until(terminal, b"", b"", until_closed=True)
        _, status = os.waitpid(pid, 0)
    finally:
        os.close(terminal)
    assert os.waitstatus_to_exitcode(status) == 0
    assert b"title cleared" in shown and b"\x1b]0;" not in shown and b"\x1b[2J" not in shown


def test_readonly_and_bad_input_send_nothing(
    service: Service, tmp_path: Path, manager: CountingProxy, engines: Engines,
    capsys: pytest.CaptureFixture[str],
) -> None:
    readonly = config(tmp_path, manager, engines, readonly=True)
    refused = run_cli(capsys, "--config", str(readonly), "exec", f"swarm/{service.name}", "--yes", "--", "ls")
    assert refused.code == 2 and refused.err.count("\n") == 1 and "exec refused" in refused.err
    writable = config(tmp_path, manager, engines)
    for args, says in (
        (["--task", "nope"], "no task 'nope'"),
        (["--container", "sidecar"], "a Swarm task runs one container"),
        ([], "no command to run and no terminal"),  # no CMD, stdin is not a terminal
    ):
        tail = ["--", "ls"] if args else []
        bad = run_cli(capsys, "--config", str(writable), "exec", f"swarm/{service.name}", "--yes", *args, *tail)
        assert bad.code == 2 and bad.err.count("\n") == 1 and says in bad.err, bad.err
    unconfirmed = run_cli(capsys, "--config", str(writable), "exec", f"swarm/{service.name}", "--", "ls")
    assert unconfirmed.code == 2 and "pass --yes" in unconfirmed.err
    assert engines.requests() == [] and mutating(manager.taken()) == []
    results = [line["result"] for line in AuditLog(default_audit_path()).read() if line["action"] == "exec"]
    assert results[0].startswith("refused: cluster swarm is read-only") and len(results) == 4
    assert all(result.startswith("refused") for result in results)


def test_an_interactive_shell_through_a_pty(
    service: Service, tmp_path: Path, manager: CountingProxy, engines: Engines,
) -> None:
    path = config(tmp_path, manager, engines)
    pid, terminal = pty.fork()
    if pid == 0:  # the child: pilothouse on the pty, as an operator runs it
        os.execvpe(sys.executable, [sys.executable, "-m", "pilothouse", "--config", str(path), "exec",
                                    f"swarm/{service.name}"], os.environ)
    try:
        before = termios.tcgetattr(terminal)
        set_size(terminal, 31, 97)
        seen = read_until(terminal, b"[y/N]", b"")
        assert f"exec swarm/{service.name}: task {service.name}.1".encode() in seen
        os.write(terminal, b"y\n")
        seen = read_until(terminal, b"# ", seen)  # busybox sh's prompt, in the container's TTY
        os.write(terminal, b"echo answer=$((6 * 7))\r")
        seen = read_until(terminal, b"answer=42", seen)
        os.write(terminal, b"stty size\r")  # the container's TTY has our size
        seen = read_until(terminal, b"31 97", seen)
        set_size(terminal, 40, 120)  # and follows it (SIGWINCH -> exec resize)
        os.write(terminal, b"stty size\r")
        seen = read_until(terminal, b"40 120", seen)
        os.write(terminal, b"exit 5\r")
        read_until(terminal, b"", seen, until_closed=True)
        _, status = os.waitpid(pid, 0)
        pid = 0
        assert os.waitstatus_to_exitcode(status) == 5
        assert termios.tcgetattr(terminal)[3] == before[3]  # the terminal is out of raw mode again
    finally:
        if pid:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
        os.close(terminal)
    lines = [line for line in AuditLog(default_audit_path()).read() if line["action"] == "exec"]
    assert [line["result"] for line in lines] == ["pending", "ok"] and lines[0]["after"] == "/bin/sh"
    assert lines[1]["exit_code"] == 5 and "answer" not in str(lines)  # the session's content is not audited


def test_the_console_hands_its_terminal_to_a_shell_and_comes_back(
    service: Service, tmp_path: Path, manager: CountingProxy, engines: Engines,
) -> None:
    """The TUI for real (a pty, not the headless driver): ! on the service, yes, the console leaves the
    alternate screen for the container's shell, and returns to it with the exit code in a toast."""
    path = config(tmp_path, manager, engines)
    controller, terminal = pty.openpty()
    set_size(controller, 30, 120)
    child = subprocess.Popen([sys.executable, "-m", "pilothouse", "--config", str(path)], stdin=terminal,
                             stdout=terminal, stderr=terminal, env={**os.environ, "TERM": "xterm-256color"},
                             start_new_session=True)
    os.close(terminal)
    try:
        seen = expect(controller, service.name[:16].encode(), 30)  # the column may cut the name
        os.write(controller, b"/")  # the filter keeps this service only (another test's may be there)
        seen += expect(controller, b"words that must all appear", 10)
        os.write(controller, service.name.encode() + b"\r")
        # The whole name in the status line: every key typed, enter (sent with them) handled after them; a !
        # sent earlier would be typed into the filter.
        seen += expect(controller, b"filter: " + service.name.encode(), 10)
        os.write(controller, b"!")
        seen += expect(controller, b"Yes, run", 10)
        os.write(controller, b"y")
        seen += expect(controller, ALT_SCREEN_OFF, 20)  # suspended: the shell has the terminal
        seen += expect(controller, b"# ", 20)
        os.write(controller, b"echo answer=$((6 * 7))\r")
        seen += expect(controller, b"answer=42", 10)
        os.write(controller, b"exit 3\r")
        back = expect(controller, ALT_SCREEN_ON, 20)  # resumed
        back += expect(controller, b"Exited 3", 20)
        os.write(controller, b"q")
        code = child.wait(timeout=20)
        seen += back + read_screen(controller, ALT_SCREEN_OFF, timeout=5)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        os.close(controller)
    assert code == 0 and b"Traceback" not in seen
    lines = [line for line in AuditLog(default_audit_path()).read() if line["action"] == "exec"]
    assert [line["result"] for line in lines] == ["pending", "ok"] and lines[1]["exit_code"] == 3
    assert lines[0]["after"] == "/bin/sh" and lines[0]["before"].startswith(f"task {service.name}.1 (")


def expect(controller: int, needle: bytes, timeout: float) -> bytes:
    seen = read_screen(controller, needle, timeout=timeout)
    import re
    text = re.sub(rb"\x1b\[[0-9;?<>=$]*[A-Za-z~]", b" ", seen)
    assert needle in seen, f"no {needle!r} within {timeout}s; the screen ended with {text[-1500:]!r}"
    return seen


ALT_SCREEN_ON = b"\x1b[?1049h"
ALT_SCREEN_OFF = b"\x1b[?1049l"


def set_size(terminal: int, rows: int, columns: int) -> None:
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))


def read_until(fd: int, wanted: bytes, seen: bytes, *, timeout: float = 30, until_closed: bool = False) -> bytes:
    """Read the pty until `wanted` has appeared (after what was `seen`), or until it closes."""
    deadline = time.monotonic() + timeout
    data = b""
    while until_closed or wanted not in data:
        left = deadline - time.monotonic()
        assert left > 0, f"timed out waiting for {wanted!r}; got {data[-400:]!r}"
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: the child closed the pty
            chunk = b""
        if not chunk:
            assert until_closed, f"the pty closed before {wanted!r}; got {data[-400:]!r}"
            return seen + data
        data += chunk
    return seen + data
