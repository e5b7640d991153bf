"""Exec into a running task's container: the provider-neutral half.

The flow is the action layer's like every mutation (refused read-only, confirmed, write-ahead audited), with
Action.EXEC: `Provider.plan(Action.EXEC, service, task_id=..., container=..., command=(...), tty=...)` calls
the provider's `plan_exec` and returns a MutationPlan whose `before` names the task, node and container and
whose `after` is the command (never the session's content: that is not audited). Instead of `apply`, the
console calls `Provider.run_exec(plan, streams)` with the TUI suspended (or from the CLI) and gets the
command's exit code.

Each provider speaks its orchestrator's transport: Kubernetes the pods/exec subresource (websocket channels),
Swarm the engine of the node that runs the task (a per-cluster `node_engine` template), ECS ExecuteCommand
and the session-manager-plugin. Where exec cannot work, `plan_exec` raises NotSupported naming what is missing
and, where there is one, the exact command to run instead.
"""

from __future__ import annotations

import os
import shutil
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from pilothouse.providers.errors import InvalidInput, NotFound

# The shell an interactive exec opens when no command is given; kubectl and docker users type the same.
DEFAULT_SHELL: tuple[str, ...] = ("/bin/sh",)


@dataclass(frozen=True, slots=True)
class ExecStreams:
    """The terminal (or pipes) a session runs on. File descriptors, so a raw TTY can be bridged byte for byte."""

    stdin: int = 0
    stdout: int = 1
    stderr: int = 2
    # A terminal is attached: allocate a TTY in the container and put ours in raw mode for the session.
    tty: bool = False

    def size(self) -> tuple[int, int]:
        """(columns, rows) of the terminal, for the container's TTY; 80x24 when there is none."""
        try:
            columns, rows = os.get_terminal_size(self.stdout)
        except OSError:
            fallback = shutil.get_terminal_size((80, 24))
            return fallback.columns, fallback.lines
        return columns, rows


def command_text(command: tuple[str, ...]) -> str:
    """The command as the audit line and the confirmation show it (shell-quoted, one line)."""
    import shlex

    return shlex.join(command) if command else shlex.join(DEFAULT_SHELL)


def write_all(fd: int, data: bytes) -> None:
    """All of `data` to `fd` (a terminal or a pipe may take part of a write)."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


@contextmanager
def raw_terminal(streams: ExecStreams) -> Iterator[None]:
    """Our terminal in raw mode for an interactive session (keys go to the container as typed, Ctrl+C
    included), restored however the session ends. Does nothing without a TTY."""
    if not streams.tty or not os.isatty(streams.stdin):
        yield
        return
    import termios
    import tty

    saved = termios.tcgetattr(streams.stdin)
    try:
        tty.setraw(streams.stdin)
        yield
    finally:
        termios.tcsetattr(streams.stdin, termios.TCSADRAIN, saved)


@contextmanager
def following_size(streams: ExecStreams, resize: Callable[[int, int], None]) -> Iterator[None]:
    """Tell the container's TTY our size now (`resize(columns, rows)`) and again whenever our terminal is
    resized (SIGWINCH) while the block runs; the previous handler is put back after. Off the main thread
    (where signals cannot be handled) only the first size is sent."""
    resize(*streams.size())
    if not streams.tty or threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGWINCH, lambda _signal, _frame: resize(*streams.size()))
    try:
        yield
    finally:
        signal.signal(signal.SIGWINCH, previous)


def one_of(names: list[str], wanted: str, word: str, ref: str) -> str:
    """The name equal to `wanted`, else the only one it starts (an ID prefix, as docker takes)."""
    if wanted in names:
        return wanted
    matching = [name for name in names if name.startswith(wanted)]
    if len(matching) == 1:
        return matching[0]
    if matching:
        raise InvalidInput(f"--task {wanted!r} matches {len(matching)} {word}s of {ref}: {', '.join(matching[:5])}",
                           "give more of the name")
    shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
    raise NotFound(f"no {word} {wanted!r} in {ref}", f"its {word}s: {shown or 'none'}")
