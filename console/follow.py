"""Following a rollout: successive snapshots of one service become progress lines, task transitions and,
at the end, an outcome that a deploy script can gate on (exit 0 completed, 1 failed or rolled back)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from pilothouse.providers.model import RolloutState, Service, TaskState
from pilothouse.providers.text import display_text as shown


class Outcome(StrEnum):
    COMPLETED = "completed"
    NOTHING = "no rollout in progress"
    FAILED = "failed"
    ROLLED_BACK = "rolled back"
    PAUSED = "paused"
    GONE = "service removed"

    @property
    def exit_code(self) -> int:
        return 0 if self in (Outcome.COMPLETED, Outcome.NOTHING) else 1


_FINAL = {RolloutState.FAILED: Outcome.FAILED, RolloutState.ROLLED_BACK: Outcome.ROLLED_BACK,
          RolloutState.PAUSED: Outcome.PAUSED}


@dataclass
class RolloutFollower:
    ref: str
    seen_active: bool = False
    _progress: tuple[str, str, str] | None = None
    _tasks: dict[str, tuple[TaskState, str]] = field(default_factory=dict)
    _first: bool = True

    def observe(self, service: Service | None) -> tuple[list[str], Outcome | None]:
        """Lines worth printing since the last observation, and the outcome once there is one."""
        if service is None:
            return [f"{shown(self.ref)}: service not found"], Outcome.GONE
        lines: list[str] = []
        rollout = service.rollout
        progress = (rollout.state.value, rollout.counts, rollout.message)
        if progress != self._progress:
            # Cluster text, each field cleaned on its own (the CLI and the service screen print these lines).
            message = f": {shown(rollout.message)}" if rollout.message else ""
            versions = f" ({shown(rollout.from_version)} -> {shown(rollout.to_version)})" if rollout.to_version else ""
            counts = rollout.counts
            lines.append(f"{shown(self.ref)}: {rollout.state.value} {counts}{versions}{message}")
            self._progress = progress
        lines.extend(self._task_lines(service))
        if rollout.active:
            self.seen_active = True
            return lines, None
        if rollout.state in _FINAL:
            return lines, _FINAL[rollout.state]
        outcome = Outcome.COMPLETED if self.seen_active else Outcome.NOTHING
        return lines, outcome

    def _task_lines(self, service: Service) -> list[str]:
        lines = []
        current: dict[str, tuple[TaskState, str]] = {}
        for task in service.tasks:
            current[task.id] = (task.state, task.node_name or task.node_id)
            if self._first:
                continue
            before = self._tasks.get(task.id)
            where = f" on {shown(task.node_name or task.node_id)}" if (task.node_name or task.node_id) else ""
            error = f" ({shown(task.error)})" if task.error and task.state is TaskState.FAILED else ""
            # The whole id: prefixes are shared (Kubernetes "namespace/pod", the demo's "cluster-svc-..."), and
            # the full id is what `docker service ps`, `kubectl` and `aws ecs` take when the operator digs in.
            if before is None:
                lines.append(f"  task {shown(task.id)}{where}: {task.state.value} {shown(task.version)}".rstrip())
            elif before[0] is not task.state:
                lines.append(f"  task {shown(task.id)}{where}: {before[0].value} -> {task.state.value}{error}")
        self._tasks = current
        self._first = False
        return lines
