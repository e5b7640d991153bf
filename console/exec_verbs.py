"""`pilothouse exec CLUSTER/SERVICE [--task ID] [--container NAME] [--yes] -- CMD ARGS...`

Runs CMD in one running task's container through the one mutation flow (read-only refused, confirmed,
write-ahead audited with who, where and the command, never the session's content), streams its output and
exits with its exit code. Without CMD on a terminal it opens a shell with a TTY; without CMD and without a
terminal there is nothing to do (exit 2).

The command follows `--` and is split off before argparse, which would otherwise read the command's own
options (`ls -l`, `sh -c`) as pilothouse's.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING, Any

from pilothouse.providers.exec import ExecStreams, write_all

if TYPE_CHECKING:
    from pilothouse.console.fleet import Fleet
    from pilothouse.providers.base import MutationPlan

EXAMPLES = """examples:
  pilothouse exec prod-swarm/shop_web -- cat /etc/hosts          in one running task; its exit code is ours
  pilothouse exec prod-eks/shop/web --container app              a shell (on a terminal), in container app
  pilothouse exec prod-swarm/shop_web --task shop_web.2 --yes -- sh -c 'ls /data'"""
DESCRIPTION = ("Runs CMD in one running task's container, streams its output and exits with its exit code; without "
               "CMD, on a terminal, opens a shell. Confirmed (or --yes), refused read-only, audited (who, where, the "
               "command; never the session). Swarm runs it on the engine of the task's node: set node_engine in the "
               "cluster's config (\"ssh://ops@{node}\").")


def split_command(words: Sequence[str]) -> tuple[list[str], tuple[str, ...]]:
    """(the words argparse reads, the command after `--`) for `exec`; other verbs keep their words."""
    words = list(words)
    if "--" not in words:
        return words, ()
    end = words.index("--")
    if "exec" not in words[:end]:
        return words, ()
    return words[:end], tuple(words[end + 1:])


def add_exec_command(commands: argparse._SubParsersAction[Any], global_options: Any) -> None:
    parser = commands.add_parser(
        "exec", help="run a command (or, on a terminal, a shell) in one running task's container",
        usage="pilothouse exec CLUSTER/SERVICE [--task ID] [--container CONTAINER] [--yes] [-- CMD [ARGS ...]]",
        description=DESCRIPTION, epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("target", metavar="CLUSTER/SERVICE")
    parser.add_argument("--task", metavar="ID", default="",
                        help="this task or pod (an ID prefix, or web.2 on Swarm); default: a running one")
    parser.add_argument("--container", metavar="CONTAINER", default="",
                        help="this container of the task (Kubernetes pods and ECS tasks may have several)")
    parser.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    global_options(parser, suppress=True)


def run_exec(fleet: Fleet, args: argparse.Namespace, command: tuple[str, ...]) -> int:
    from pilothouse.console import cli
    from pilothouse.console.actions import Status, exec_warning
    from pilothouse.providers.base import Provider

    cluster_name, ref = cli._split_target(args.target)
    interactive = not command
    if interactive and not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise cli.UsageError("no command to run and no terminal for a shell: give one after -- "
                             f"(pilothouse exec {args.target} -- CMD ARGS...)")
    if interactive:
        command = ()  # the provider's default shell, with a TTY

    def locate() -> Any:
        return cli._find_service(cli._snapshot_for(fleet, cluster_name), ref)

    def confirm(plan: MutationPlan) -> bool:
        cli._say(plan.describe(), err=not interactive, flush=True)
        warning = exec_warning(plan)
        if warning:
            cli._say(f"pilothouse: warning: {warning}", err=True, flush=True)
        return bool(args.yes) or cli._confirm(f"exec in {cluster_name}/{plan.service_ref}?")

    def session(provider: Provider, plan: MutationPlan) -> int:
        sys.stdout.flush()
        if interactive:  # a shell: the terminal is the container's, escape sequences and all
            return provider.run_exec(plan, ExecStreams(tty=True))
        with cleaned(ExecStreams()) as streams:
            return provider.run_exec(plan, streams)

    outcome = fleet.actions.run_exec(cluster_name, locate, confirm, session,
                                     service_ref=ref, task_id=args.task, container=args.container,
                                     command=command, tty=interactive)
    if outcome.status is not Status.DONE or outcome.exit_code is None:
        return cli._report(outcome)
    if outcome.audit_warning:
        cli._say(f"pilothouse: warning: {outcome.audit_warning}", err=True, flush=True)
    # The command's own output is the output: its exit code is ours, and nothing is added to stdout.
    return outcome.exit_code


MAX_LINE = 64 * 1024


@contextmanager
def cleaned(streams: ExecStreams) -> Iterator[ExecStreams]:
    """A command's output as the logs show it when it goes to a terminal: line by line, without escape
    sequences or controls (the container's text is untrusted). Into a pipe or a file it stays exact bytes."""
    with ExitStack() as stack:
        fds = [stack.enter_context(_cleaning(fd)) if os.isatty(fd) else fd for fd in (streams.stdout, streams.stderr)]
        yield ExecStreams(stdin=streams.stdin, stdout=fds[0], stderr=fds[1], tty=False)


@contextmanager
def _cleaning(terminal: int) -> Iterator[int]:
    """A pipe whose lines reach `terminal` cleaned; drained and closed when the block ends."""
    from pilothouse.providers.text import clean_text

    read, write = os.pipe()

    def pump() -> None:
        pending = b""
        with os.fdopen(read, "rb", buffering=0) as source:
            while chunk := source.read(MAX_LINE):
                pending += chunk
                *lines, pending = pending.split(b"\n")
                if len(pending) > MAX_LINE:  # no newline coming: a bounded line all the same
                    lines, pending = [*lines, pending], b""
                for line in lines:
                    write_all(terminal, (clean_text(line.decode("utf-8", "replace")) + "\n").encode())
            if pending:
                write_all(terminal, clean_text(pending.decode("utf-8", "replace")).encode())

    thread = threading.Thread(target=pump, name="exec-output", daemon=True)
    thread.start()
    try:
        yield write
    finally:
        os.close(write)
        thread.join()
