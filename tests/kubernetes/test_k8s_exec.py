"""Exec into a pod over the pods/exec websocket, end to end against the API test server, which runs the
command for real (a local subprocess; on a pty with tty=true): output and exit code, stdin, the container
choice, an interactive shell on a pty, and the errors (403 on pods/exec, the pod gone, nothing listening).
Planning reads only: nothing mutating and no exec is sent before run_exec."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import struct
import sys
import termios
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from apiserver import ApiServer
from k8s_objects import EXEC_HASH as HASH
from k8s_objects import exec_world as world
from k8s_support import audit_lines, service_of, wait_until, write_config
from k8s_support import run as run_cli
from terminal import read_until

from pilothouse.console.cli import main
from pilothouse.providers.base import Action, MutationPlan
from pilothouse.providers.errors import (
    ConnectionRefused,
    Forbidden,
    InvalidInput,
    NotFound,
    NotSupported,
    ProviderError,
)
from pilothouse.providers.exec import ExecStreams
from pilothouse.providers.kubernetes import KubernetesProvider
from pilothouse.providers.model import TaskState

pytestmark = pytest.mark.kubernetes

Obj = dict[str, Any]


class Pipes:
    """Streams on pipes, and the test's ends of them."""

    def __init__(self) -> None:
        stdin_r, stdin_w = os.pipe()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        self.streams = ExecStreams(stdin=stdin_r, stdout=out_w, stderr=err_w)
        self.stdin, self.stdout, self.stderr = os.fdopen(stdin_w, "wb"), os.fdopen(out_r, "rb"), os.fdopen(err_r, "rb")
        self._ours = [stdin_r, out_w, err_w]

    def run(self, provider: KubernetesProvider, plan: MutationPlan) -> tuple[int, bytes, bytes]:
        """run_exec, then what it wrote (the session's ends closed, so the reads end)."""
        code = provider.run_exec(plan, self.streams)
        self.close_session_ends()
        return code, self.stdout.read(), self.stderr.read()

    def close_session_ends(self) -> None:
        for fd in self._ours:
            os.close(fd)
        self._ours = []

    def close(self) -> None:
        self.close_session_ends()
        for file in (self.stdin, self.stdout, self.stderr):
            file.close()


@pytest.fixture
def pipes() -> Iterator[Pipes]:
    made = Pipes()
    yield made
    made.close()


def plan_of(provider: KubernetesProvider, **params: Any) -> MutationPlan:
    return provider.plan(Action.EXEC, service_of(provider, "prod/web"), **params)


def test_plan_picks_the_running_pod_and_sends_nothing(apiserver: ApiServer, provider: KubernetesProvider) -> None:
    world(apiserver)
    plan = plan_of(provider, command=("sh", "-c", "echo hi"))
    assert plan.before == f"pod web-{HASH}-b on node node-2, container app"
    assert plan.after == "sh -c 'echo hi'"
    assert plan.detail == f"kubectl exec -n prod web-{HASH}-b -c app -- sh -c 'echo hi'"
    assert apiserver.state.mutating_requests() == 0
    assert apiserver.state.count("create", "pods/exec") == 0
    assert plan_of(provider).after == "/bin/sh"  # no command: the default shell


def test_output_and_exit_code(apiserver: ApiServer, provider: KubernetesProvider,
                              pipes: Pipes) -> None:
    world(apiserver)
    pipes.stdin.close()  # nothing to send: EOF at once
    plan = plan_of(provider, command=("sh", "-c", "echo hi; echo oops >&2; exit 3"))
    assert pipes.run(provider, plan) == (3, b"hi\n", b"oops\n")
    [session] = apiserver.state.exec_sessions
    assert (session.pod, session.container, session.command) == (
        f"web-{HASH}-b", "app", ["sh", "-c", "echo hi; echo oops >&2; exit 3"])
    assert session.protocol == "v5.channel.k8s.io" and not session.tty
    assert apiserver.state.count("create", "pods/exec") == 1


def test_success_is_zero_and_piped_stdin_reaches_the_command(
    apiserver: ApiServer, provider: KubernetesProvider, pipes: Pipes,
) -> None:
    world(apiserver)
    pipes.stdin.write(b"line one\nline two\n")
    pipes.stdin.close()
    code, out, _ = pipes.run(provider, plan_of(provider, command=("sh", "-c", "wc -l")))
    # wc got EOF: v5's close signal for stdin reached the command, so it ended by itself.
    assert (code, out.split()) == (0, [b"2"])
    assert apiserver.state.exec_sessions[0].stdin_closed


def test_a_command_that_cannot_start_is_one_line(apiserver: ApiServer, provider: KubernetesProvider,
                                                 pipes: Pipes) -> None:
    world(apiserver)
    pipes.stdin.close()
    with pytest.raises(ProviderError) as raised:
        provider.run_exec(plan_of(provider, command=("no-such-binary-here",)), pipes.streams)
    assert str(raised.value).endswith('exec: "no-such-binary-here": executable file not found in $PATH: unknown')
    assert "\n" not in str(raised.value)


def test_several_containers_need_a_choice(apiserver: ApiServer, provider: KubernetesProvider) -> None:
    world(apiserver, sidecar=True)
    with pytest.raises(InvalidInput) as raised:
        plan_of(provider)
    assert str(raised.value) == (f"pod web-{HASH}-b has 2 containers: app, proxy: "
                                 "choose one with --container NAME")
    with pytest.raises(InvalidInput, match=r"has no container 'migrate'.*its containers: app, proxy"):
        plan_of(provider, container="migrate")  # an init container is not offered
    assert plan_of(provider, container="proxy").before == f"pod web-{HASH}-b on node node-2, container proxy"
    assert apiserver.state.mutating_requests() == 0


def test_the_default_container_annotation_is_kubectls_choice(apiserver: ApiServer,
                                                             provider: KubernetesProvider) -> None:
    world(apiserver, sidecar=True, annotations={"kubectl.kubernetes.io/default-container": "proxy"})
    assert plan_of(provider).payload["container"] == "proxy"


def test_task_choice(apiserver: ApiServer, provider: KubernetesProvider) -> None:
    world(apiserver)
    assert plan_of(provider, task_id=f"prod/web-{HASH}-b").payload["pod"] == f"web-{HASH}-b"
    with pytest.raises(InvalidInput, match=f"pod web-{HASH}-a is Pending: cannot exec into it"):
        plan_of(provider, task_id=f"web-{HASH}-a")
    with pytest.raises(NotFound, match=f"no pod 'web-zzz' in prod/web: its pods: web-{HASH}-a, web-{HASH}-b"):
        plan_of(provider, task_id="web-zzz")
    assert apiserver.state.mutating_requests() == 0
    assert apiserver.state.count("create", "pods/exec") == 0


def test_forbidden_names_the_permission(apiserver: ApiServer, provider: KubernetesProvider,
                                        pipes: Pipes) -> None:
    world(apiserver)
    plan = plan_of(provider, command=("true",))
    apiserver.state.forbid("pods/exec")
    with pytest.raises(Forbidden) as raised:
        provider.run_exec(plan, pipes.streams)
    text = str(raised.value)
    assert 'cannot create resource "pods/exec"' in text
    assert "kubectl auth can-i create pods/exec -n prod" in text
    assert apiserver.state.exec_sessions == []


def test_pod_gone_and_server_gone(apiserver: ApiServer, provider: KubernetesProvider,
                                  pipes: Pipes) -> None:
    world(apiserver)
    plan = plan_of(provider, command=("true",))
    apiserver.state.delete("pods", "prod", f"web-{HASH}-b")
    with pytest.raises(NotFound, match=f'pods "web-{HASH}-b" not found: the pod is gone'):
        provider.run_exec(plan, pipes.streams)
    apiserver.stop()
    with pytest.raises(ConnectionRefused, match="connection refused"):
        provider.run_exec(plan, pipes.streams)


def test_interactive_shell_on_a_pty(apiserver: ApiServer, provider: KubernetesProvider) -> None:
    """Our side on a pty (raw mode for the session, restored after), the container's on a pty too: what we type
    is echoed back by the remote terminal, the size reaches it on the resize channel, and `exit 5` is the code."""
    world(apiserver)
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 31, 101, 0, 0))
    cooked = termios.tcgetattr(slave)
    plan = plan_of(provider, tty=True)
    result: list[int] = []
    worker = threading.Thread(target=lambda: result.append(
        provider.run_exec(plan, ExecStreams(stdin=slave, stdout=slave, stderr=slave, tty=True))))
    worker.start()
    try:
        session = wait_until(lambda: apiserver.state.exec_sessions and apiserver.state.exec_sessions[0])
        wait_until(lambda: session.sizes, what="the terminal size on the resize channel")
        assert session.sizes[0] == (101, 31)
        assert session.tty and session.command == ["/bin/sh"]
        os.write(master, b"stty size; echo $((6 * 7))\r")
        seen = read_until(master, b"42", timeout=10)
        assert b"31 101" in seen and b"42" in seen
        assert b"echo $((6 * 7))" in seen  # the remote terminal's echo of what was typed
        os.write(master, b"exit 5\r")
        worker.join(timeout=10)
        assert result == [5]
        assert termios.tcgetattr(slave) == cooked  # our terminal is back as it was
    finally:
        worker.join(timeout=5)
        os.close(master)
        os.close(slave)


@pytest.mark.parametrize("protocol", ["v4.channel.k8s.io", "channel.k8s.io"])
def test_older_protocols(apiserver: ApiServer, protocol: str) -> None:
    """The server speaks what the client offers: v4's exit Status, channel.k8s.io's error text."""
    import websocket

    world(apiserver)
    url = (f"{apiserver.url.replace('http', 'ws')}/api/v1/namespaces/prod/pods/web-{HASH}-b/exec"
           "?command=sh&command=-c&command=echo+hi%3B+exit+4&stdout=true&stderr=true")
    ws = websocket.create_connection(url, header=[f"Authorization: Bearer {apiserver.token}"],
                                     subprotocols=[protocol])
    assert ws.getsubprotocol() == protocol
    channels: dict[int, bytes] = {}
    while True:
        opcode, data = ws.recv_data(control_frame=True)
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            break
        channels[data[0]] = channels.get(data[0], b"") + data[1:]
    ws.close()
    assert channels[1] == b"hi\n"
    if protocol == "v4.channel.k8s.io":
        status = json.loads(channels[3])
        assert status["reason"] == "NonZeroExitCode"
        assert status["details"]["causes"] == [{"reason": "ExitCode", "message": "4"}]
    else:
        assert channels[3].startswith(b"command terminated with non-zero exit code")



def test_no_running_pod_is_refused_before_anything_is_read(apiserver: ApiServer,
                                                           provider: KubernetesProvider) -> None:
    world(apiserver)
    apiserver.state.update("pods", "prod", f"web-{HASH}-b", lambda pod: pod["status"].update(phase="Pending"))
    web = wait_until(lambda: (found := service_of(provider, "prod/web")).tasks and all(
        task.state is not TaskState.RUNNING for task in found.tasks) and found)
    assert provider.refusal(Action.EXEC, web) == "prod/web has no running pod to exec into"
    gets = apiserver.state.count("get", "pods")
    with pytest.raises(NotSupported, match="no running pod"):
        provider.plan(Action.EXEC, web)
    assert apiserver.state.count("get", "pods") == gets


# -- the CLI verb end to end (console/exec_verbs.py): the one flow, the audit before the exec, exit code --


def test_cli_exec_streams_output_exits_with_the_code_and_audits_first(
    apiserver: ApiServer, kubeconfig: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str],
) -> None:
    world(apiserver)
    intent_on_disk: list[bool] = []

    def at_the_server(method: str, path: str) -> int | None:
        if path.endswith("/exec"):
            intent_on_disk.append([line["result"] for line in audit_lines() if line["action"] == "exec"] == ["pending"])
        return None

    apiserver.state.on_request = at_the_server
    config = write_config(tmp_path / "config.toml", kubeconfig)
    capfd.readouterr()
    code = main(["--config", str(config), "exec", "k8s/prod/web", "--yes", "--", "sh", "-c", "echo hi; exit 3"])
    out, err = capfd.readouterr()
    assert (code, out) == (3, "hi\n"), err
    assert err.startswith(f"exec k8s/prod/web: pod web-{HASH}-b on node node-2, container app -> ")
    assert intent_on_disk == [True]
    intent, outcome = [line for line in audit_lines() if line["action"] == "exec"]
    assert intent["after"] == "sh -c 'echo hi; exit 3'" and outcome["exit_code"] == 3
    assert apiserver.state.count("create", "pods/exec") == 1 and apiserver.state.mutating_requests() == 0


def test_cli_readonly_bad_input_and_forbidden(apiserver: ApiServer, kubeconfig: Path, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    world(apiserver, sidecar=True)
    readonly = write_config(tmp_path / "ro.toml", kubeconfig, readonly=True)
    code, _, err = run_cli(capsys, "--config", str(readonly), "exec", "k8s/prod/web", "--container", "app", "--yes",
                           "--", "ls")
    assert code == 2 and err.count("\n") == 1 and "exec refused" in err
    config = write_config(tmp_path / "config.toml", kubeconfig)
    for args, says in ((["--container", "nope"], "has no container 'nope': its containers: app, proxy"),
                       ([], "has 2 containers: app, proxy: choose one with --container NAME"),
                       (["--task", "web-zzz"], "no pod 'web-zzz' in prod/web")):
        code, _, err = run_cli(capsys, "--config", str(config), "exec", "k8s/prod/web", "--yes", *args, "--", "ls")
        assert code == 2 and err.count("\n") == 1 and says in err, err
    assert apiserver.state.count("create", "pods/exec") == 0 and apiserver.state.mutating_requests() == 0
    apiserver.state.forbid("pods/exec")
    code, _, err = run_cli(capsys, "--config", str(config), "exec", "k8s/prod/web", "--container", "app", "--yes",
                           "--", "ls")
    plan_line, error = err.splitlines()  # the plan on stderr, then the one error line
    assert code == 1 and plan_line.startswith("exec k8s/prod/web: pod ")
    assert error.startswith("pilothouse: error: exec in pod prod/web-")
    assert error.endswith("exec needs RBAC permission to create pods/exec in namespace prod "
                          "(kubectl auth can-i create pods/exec -n prod)")


def test_a_pod_name_prefix_must_name_one_pod(apiserver: ApiServer, provider: KubernetesProvider) -> None:
    world(apiserver)
    with pytest.raises(InvalidInput, match=f"--task 'web-{HASH}' matches 2 pods of prod/web: web-{HASH}-a, "):
        plan_of(provider, task_id=f"web-{HASH}")
    assert apiserver.state.count("get", "pods") == 0  # refused before any pod was read


def test_cli_interactive_shell_through_a_pty(apiserver: ApiServer, kubeconfig: Path, tmp_path: Path) -> None:
    """`pilothouse exec` with no command, on a terminal: confirmed, a shell on the pod's TTY with our size, the
    size followed on a resize (SIGWINCH -> channel 4), `exit 5` is pilothouse's exit code, the terminal is out of
    raw mode after, and the audit has the command, never the session."""
    world(apiserver)
    config = write_config(tmp_path / "config.toml", kubeconfig)
    pid, terminal = pty.fork()
    if pid == 0:  # the child: pilothouse on the pty, as an operator runs it
        os.execvpe(sys.executable, [sys.executable, "-m", "pilothouse", "--config", str(config), "exec",
                                    "k8s/prod/web"], os.environ)
    try:
        before = termios.tcgetattr(terminal)
        fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 31, 97, 0, 0))
        seen = read_until(terminal, b"[y/N]", timeout=30)
        assert f"exec k8s/prod/web: pod web-{HASH}-b on node node-2, container app -> /bin/sh".encode() in seen
        os.write(terminal, b"y\n")
        assert read_until(terminal, b"# ", timeout=30).endswith(b"# ")
        os.write(terminal, b"echo answer=$((6 * 7)); stty size\r")
        assert b"31 97" in read_until(terminal, b"31 97", timeout=30)
        fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        session = apiserver.state.exec_sessions[0]
        wait_until(lambda: session.sizes[-1:] == [(120, 40)], what="the new size on the resize channel")
        os.write(terminal, b"stty size; exit 5\r")
        assert b"40 120" in read_until(terminal, b"40 120", timeout=30)
        _, status = os.waitpid(pid, 0)
        pid = 0
        assert os.waitstatus_to_exitcode(status) == 5
        assert termios.tcgetattr(terminal)[3] == before[3]  # out of raw mode again
        assert session.tty and session.sizes[0] == (97, 31)
    finally:
        if pid:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
        os.close(terminal)
    intent, outcome = [line for line in audit_lines() if line["action"] == "exec"]
    assert intent["after"] == "/bin/sh" and outcome["exit_code"] == 5 and "answer" not in str([intent, outcome])
