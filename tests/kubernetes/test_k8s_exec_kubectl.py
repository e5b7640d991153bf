"""kubectl v1.36 (tests/support/kubectl.py) as the oracle of the API test server's pods/exec: kubectl's own
websocket client (v5.channel.k8s.io) gets the output and exit code, stdin closed by v5's signal, the container it
picks, runc's words for a command that cannot start, the pod 404, and with -it on a real pty its terminal size on
the resize channel; pilothouse's run of the same command on the same server gives the same output and code.
Where kubectl and the server disagree, the server is wrong."""

from __future__ import annotations

import fcntl
import os
import struct
import subprocess
import termios
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from apiserver import ApiServer
from k8s_objects import EXEC_HASH, exec_world
from k8s_support import ProviderFactory
from kubectl import Kubectl, Unreachable, obtain
from terminal import read_until

from pilothouse.providers.base import Action
from pilothouse.providers.exec import ExecStreams

pytestmark = pytest.mark.kubernetes


@pytest.fixture
def apiserver() -> Iterator[ApiServer]:
    """The conftest's server, also answering kubectl's anonymous requests (no token over plain http)."""
    server = ApiServer(anonymous=True).start()
    yield server
    server.stop()


@pytest.fixture
def kubectl(kubeconfig: Path, tmp_path: Path) -> Kubectl:
    try:
        binary = obtain()
    except Unreachable as error:
        pytest.skip(str(error))
    return Kubectl(binary, kubeconfig, tmp_path / "kubectl-home")


def exec_session(api: ApiServer) -> Any:
    return api.state.exec_sessions[0]


def test_kubectl_exec_output_and_exit_code(apiserver: ApiServer, kubectl: Kubectl,
                                           make_provider: ProviderFactory, tmp_path: Path) -> None:
    exec_world(apiserver, sidecar=True)
    result = kubectl("exec", "-n", "prod", f"web-{EXEC_HASH}-b", "-c", "app", "--", "sh", "-c",
                     "echo hi; echo oops >&2; exit 3", check=False)
    assert (result.returncode, result.stdout) == (3, "hi\n")
    assert result.stderr == "oops\ncommand terminated with exit code 3\n"
    assert exec_session(apiserver).protocol == "v5.channel.k8s.io"

    # pilothouse, the same command on the same server: the same output and code.
    provider = make_provider()
    plan = provider.plan(Action.EXEC, provider.snapshot().service("prod/web"),  # type: ignore[arg-type]
                         container="app", command=("sh", "-c", "echo hi; echo oops >&2; exit 3"))
    out, err = tmp_path / "out", tmp_path / "err"
    with open(os.devnull, "rb") as stdin, open(out, "wb") as stdout, open(err, "wb") as stderr:
        code = provider.run_exec(plan, ExecStreams(stdin.fileno(), stdout.fileno(), stderr.fileno()))
    assert (code, out.read_bytes(), err.read_bytes()) == (3, b"hi\n", b"oops\n")
    assert apiserver.state.exec_sessions[1].command == apiserver.state.exec_sessions[0].command


def test_kubectl_exec_stdin_and_container_choice(apiserver: ApiServer, kubectl: Kubectl) -> None:
    exec_world(apiserver, sidecar=True)
    pod_name = f"web-{EXEC_HASH}-b"
    result = subprocess.run([str(kubectl.binary), "exec", "-i", "-n", "prod", pod_name, "-c", "proxy", "--",
                             "sh", "-c", "wc -l"], input="one\ntwo\n", capture_output=True, text=True,
                            env=kubectl.env(), timeout=60)
    assert (result.returncode, result.stdout.split()) == (0, ["2"])
    session = exec_session(apiserver)
    assert (session.container, session.stdin, session.stdin_closed) == ("proxy", True, True)
    # The server's words for a command that cannot start reach kubectl's user as the runtime says them.
    failed = kubectl("exec", "-n", "prod", pod_name, "-c", "app", "--", "no-such-binary", check=False)
    assert failed.returncode == 1
    assert 'exec: "no-such-binary": executable file not found in $PATH' in failed.stderr
    missing = kubectl("exec", "-n", "prod", f"web-{EXEC_HASH}-zzz", "--", "true", check=False)
    assert 'pods "web-5d4f8b7c9-zzz" not found' in missing.stderr


def test_kubectl_exec_tty_resizes_and_exits(apiserver: ApiServer, kubectl: Kubectl) -> None:
    """kubectl -it on a real pty: its terminal size reaches the server's pty, and the shell's exit code is
    kubectl's."""
    exec_world(apiserver)
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 33, 99, 0, 0))

    def controlling_tty() -> None:
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    process = subprocess.Popen([str(kubectl.binary), "exec", "-it", "-n", "prod", f"web-{EXEC_HASH}-b", "--",
                                "sh"], stdin=slave, stdout=slave, stderr=slave, env=kubectl.env(),
                               start_new_session=True, preexec_fn=controlling_tty)
    os.close(slave)
    try:
        assert read_until(master, b"# ", timeout=20).endswith(b"# ")
        os.write(master, b"stty size; exit 7\r")
        assert b"33 99" in read_until(master, b"exit code 7", timeout=20)
        assert process.wait(timeout=20) == 7
        session = exec_session(apiserver)
        assert session.tty and session.sizes[0] == (99, 33)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)
        os.close(master)
