"""A service's update policy and its rollout: UpdateStatus, plus progress counted from its tasks."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pilothouse.providers.model import Rollout, RolloutState, UpdatePolicy
from pilothouse.providers.swarm.raw import Raw, as_dict, as_str, nanoseconds_to_s, opt_int, parse_time
from pilothouse.providers.swarm.spec import same_spec, spec_image, task_template


def map_update_policy(update: Any, rollback: Any = None) -> UpdatePolicy:
    """Missing UpdateConfig means the engine's defaults (what `docker service inspect --pretty` shows)."""
    config = as_dict(update)
    return UpdatePolicy(
        parallelism=opt_int(config.get("Parallelism")) if "Parallelism" in config else 1,
        delay_s=nanoseconds_to_s(config.get("Delay")) or 0.0,
        failure_action=as_str(config.get("FailureAction")) or "pause",
        monitor_s=nanoseconds_to_s(config.get("Monitor")) if config.get("Monitor") is not None else 5.0,
        order=as_str(config.get("Order")) or "stop-first",
        has_rollback_policy=isinstance(rollback, Mapping),
    )



_ROLLOUT_STATES: dict[str, RolloutState] = {
    "updating": RolloutState.UPDATING,
    "paused": RolloutState.PAUSED,
    "completed": RolloutState.STABLE,
    "rollback_started": RolloutState.ROLLING_BACK,
    "rollback_paused": RolloutState.PAUSED,
    "rollback_completed": RolloutState.ROLLED_BACK,
}


def map_rollout(service: Raw, tasks: Iterable[Raw], desired: int) -> Rollout:
    """UpdateStatus, plus progress = running tasks on the service's current spec out of desired.

    During a rollback the engine swaps the specs (Spec becomes the one rolled back to), so "from" is always
    PreviousSpec and "to" is Spec.
    """
    spec = as_dict(service.get("Spec"))
    status = as_dict(service.get("UpdateStatus"))
    current = task_template(spec)
    updated = sum(
        1
        for task in tasks
        if task.get("DesiredState") == "running"
        and as_dict(task.get("Status")).get("State") == "running"
        and same_spec(as_dict(task.get("Spec")), current)
    )
    raw_state = as_str(status.get("State"))
    previous = as_dict(service.get("PreviousSpec"))
    message = as_str(status.get("Message"))
    if raw_state and raw_state not in _ROLLOUT_STATES:
        message = message or f"unknown update state {raw_state!r}"
    return Rollout(
        state=_ROLLOUT_STATES.get(raw_state, RolloutState.STABLE),
        updated=updated,
        total=desired,
        started=parse_time(status.get("StartedAt")),
        finished=parse_time(status.get("CompletedAt")),
        message=message,
        from_version=spec_image(previous) if previous else "",
        to_version=spec_image(spec),
    )

