"""`pilothouse exec` on the demo fleet, and the pieces of the exec flow that need no engine: the command split
off at `--`, the package-manager warning at the confirmation, the audit lines, a command's output cleaned
on a terminal and exact into a pipe, the Swarm exec stream's frames, and which Swarm task a --task names."""

from __future__ import annotations

import os
import pty
import select
import struct
from typing import Any

import pytest
from cli_support import audit_lines, run

from pilothouse.console.exec_verbs import cleaned, split_command
from pilothouse.providers.errors import InvalidInput, NotSupported
from pilothouse.providers.exec import ExecStreams
from pilothouse.providers.model import Service
from pilothouse.providers.swarm.exec import Frames, choose_task


@pytest.mark.parametrize(("words", "kept", "command"), [
    (["exec", "p/web", "--", "sh", "-c", "echo --yes"], ["exec", "p/web"], ("sh", "-c", "echo --yes")),
    (["--demo", "exec", "p/web", "--task", "a", "--yes", "--", "ls", "--", "-l"],
     ["--demo", "exec", "p/web", "--task", "a", "--yes"], ("ls", "--", "-l")),
    (["exec", "p/web"], ["exec", "p/web"], ()),
    (["logs", "p/web", "--", "x"], ["logs", "p/web", "--", "x"], ()),  # only exec takes a command
])
def test_the_command_is_what_follows_the_first_double_dash(words: list[str], kept: list[str],
                                                           command: tuple[str, ...]) -> None:
    assert split_command(words) == (kept, command)


def test_exec_on_the_demo_runs_audits_and_warns_of_package_managers(capfd: pytest.CaptureFixture[str]) -> None:
    from pilothouse.console.cli import main

    code = main(["--demo", "exec", "demo-k8s/prod/web", "--yes", "--", "apt-get", "install", "-y", "curl"])
    out, err = capfd.readouterr()
    assert code == 0
    assert out.startswith("pilothouse demo: apt-get install -y curl would run in pod ")
    plan, warning = err.splitlines()
    assert plan.startswith("exec demo-k8s/prod/web: pod ") and ", container web -> apt-get install -y curl" in plan
    assert warning.startswith("pilothouse: warning: apt-get install -y curl changes this container only")
    lines = [line for line in audit_lines() if line["action"] == "exec"]
    assert [line["result"] for line in lines] == ["pending", "ok"]
    assert lines[0]["after"] == "apt-get install -y curl" and lines[1]["exit_code"] == 0  # type: ignore[comparison-overlap]


def test_the_timeline_says_where_what_and_the_exit_code(capfd: pytest.CaptureFixture[str]) -> None:
    from pilothouse.console.cli import main

    assert main(["--demo", "exec", "demo-swarm/shop_web", "--yes", "--", "sh", "-c", "exit 4"]) == 0
    capfd.readouterr()
    code, out, _ = run(capfd, "--demo", "events", "--kind", "audit")
    assert code == 0
    [line] = [line for line in out.splitlines() if " exec " in line]
    assert "service shop_web: " in line and ", container web -> sh -c 'exit 4': ok, exit code 0" in line


def test_bad_input_is_one_line_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "--demo", "exec", "demo-k8s/prod/web", "--container", "nope", "--yes", "--", "ls")
    assert code == 2 and err == ("pilothouse: error: pod demo-k8s-svc-0001-t00001 has no container 'nope': its "
                                 "containers: web\n")
    [refusal] = [line for line in audit_lines() if line["action"] == "exec"]
    assert refusal["before"] == "container nope" and refusal["after"] == "ls"
    assert refusal["result"].startswith("refused: pod demo-k8s-svc-0001-t00001 has no container 'nope'")
    code, _, err = run(capsys, "--demo", "exec", "demo-k8s/prod/web", "ls")  # the command needs its --
    assert code == 2 and err.count("\n") == 1 and "unrecognized arguments: ls" in err
    code, _, err = run(capsys, "--demo", "exec", "demo-k8s/prod/web", "--yes")  # no command, no terminal
    assert code == 2 and err.count("\n") == 1 and "no command to run and no terminal for a shell" in err
    code, _, err = run(capsys, "--demo", "--readonly", "exec", "demo-k8s/prod/web", "--yes", "--", "ls")
    assert code == 2 and err == "pilothouse: error: exec refused: the console runs with --readonly\n"


def test_a_commands_output_is_cleaned_on_a_terminal_and_exact_into_a_pipe() -> None:
    hostile = b"\x1b]0;owned\x07title\x1b[2J cleared\r\n\x9b31mred\tend"
    terminal, user_end = pty.openpty()
    try:
        with cleaned(ExecStreams(stdout=user_end, stderr=user_end)) as streams:
            assert streams.stdout != user_end  # a pipe in between
            os.write(streams.stdout, hostile)
        # Every line is in the pty once the block has ended (the pump is joined): read what is there.
        shown = b""
        while select.select([terminal], [], [], 0)[0]:
            shown += os.read(terminal, 4096)
    finally:
        os.close(terminal)
        os.close(user_end)
    assert b"\x1b" not in shown and b"\x07" not in shown and "\x9b".encode() not in shown
    assert b"title cleared" in shown and b"red end" in shown
    read, write = os.pipe()
    with cleaned(ExecStreams(stdout=write, stderr=write)) as streams:
        assert streams.stdout == write  # not a terminal: untouched
    os.close(write)
    os.close(read)


def frame(stream: int, payload: bytes) -> bytes:
    return struct.pack(">BxxxL", stream, len(payload)) + payload


def test_frames_split_anywhere_give_stdout_and_stderr_apart() -> None:
    data = frame(1, b"hello ") + frame(2, b"oops\n") + frame(1, b"world\n")
    for size in (1, 3, 7, 8, 9, len(data)):
        frames = Frames()
        pieces = [piece for start in range(0, len(data), size) for piece in frames.feed(data[start:start + size])]
        out = b"".join(payload for stream, payload in pieces if stream == 1)
        err = b"".join(payload for stream, payload in pieces if stream == 2)
        assert (out, err) == (b"hello world\n", b"oops\n"), size


def task(task_id: str, slot: int, state: str = "running", desired: str = "running") -> dict[str, Any]:
    return {"ID": task_id, "Slot": slot, "NodeID": "n1", "DesiredState": desired,
            "Status": {"State": state, "ContainerStatus": {"ContainerID": f"c{task_id}"}}}


def test_a_task_is_named_by_id_prefix_or_as_docker_service_ps_names_it() -> None:
    service = Service(id="s1", name="web", ref="web")
    tasks = [task("abc123", 2), task("abd456", 1), task("old789", 2, "shutdown", "shutdown")]
    assert choose_task(service, tasks, "")["ID"] == "abd456"  # the first running by slot
    assert choose_task(service, tasks, "abc")["ID"] == "abc123"
    assert choose_task(service, tasks, "web.2")["ID"] == "abc123"  # the running one of slot 2, not its history
    assert choose_task(service, tasks, "web.1.abd456")["ID"] == "abd456"
    with pytest.raises(InvalidInput, match="no task 'ab' in web"):
        choose_task(service, tasks, "ab")  # too short to be a prefix
    with pytest.raises(InvalidInput, match=r"task 'old789' of web is not running \(it is shutdown\): its running "
                                           r"tasks: web.1 \(abd456\), web.2 \(abc123\)"):
        choose_task(service, tasks, "old789")
    with pytest.raises(NotSupported, match="web has no running task"):
        choose_task(service, [tasks[2]], "")
