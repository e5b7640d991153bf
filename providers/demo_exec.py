"""Exec on the demo fleet: planned like a real one (a running task, its container, its node), then a simulated
session that says there is no container behind it. The console's whole exec flow (confirmation, container
choice, audit, the suspended terminal) can be seen and tested on the demo.
"""

from __future__ import annotations

import os

from pilothouse.providers.base import Action, MutationPlan
from pilothouse.providers.errors import InvalidInput, NotSupported
from pilothouse.providers.exec import ExecStreams, command_text, one_of
from pilothouse.providers.model import Service, TaskState
from pilothouse.providers.vocabulary import Vocabulary

DEMO_EXIT_CODE = 0


def plan_exec(cluster: str, service: Service, words: Vocabulary, *, task_id: str, container: str,
              command: tuple[str, ...], tty: bool) -> MutationPlan:
    running = [task for task in service.tasks if task.state is TaskState.RUNNING]
    if task_id:
        wanted = one_of([task.id for task in running], task_id, words.task, service.ref)
        task = next(task for task in running if task.id == wanted)
    elif running:
        task = running[0]
    else:
        raise NotSupported(f"{service.ref} has no running {words.task} to exec into")
    names = [spec.name for spec in service.containers] or [service.name]
    if container and container not in names:
        raise InvalidInput(f"{words.task} {task.id} has no container {container!r}",
                           f"its containers: {', '.join(names)}")
    chosen_container = container or names[0]
    where = f"{words.task} {task.id} on {words.node} {task.node_name or '?'}, container {chosen_container}"
    return MutationPlan(Action.EXEC, cluster, service.ref, service.id, before=where, after=command_text(command),
                        detail="simulated: the demo has no container to run it in",
                        payload={"task": task.id, "container": chosen_container, "tty": tty})


def run_exec(plan: MutationPlan, streams: ExecStreams) -> int:
    """A simulated session: one line saying what would have run, where."""
    line = f"pilothouse demo: {plan.after} would run in {plan.before}; the demo has no container\r\n"
    os.write(streams.stdout, line.encode())
    return DEMO_EXIT_CODE
