"""Events: each service's own `events`, plus "deployment" events synthesized from what changed between refreshes.

The service events come with DescribeServices, so they cost nothing; the newest EVENTS_PER_SERVICE are kept.
ECS reports neither a new PRIMARY deployment nor a rolloutState change as an event, so the provider compares
two looks at each service's deployments and says what changed.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pilothouse.providers.ecs.mapping import primary_and_active
from pilothouse.providers.ecs.raw import Raw, as_str, as_time, dicts, short_id, task_definition_label
from pilothouse.providers.model import Event

EVENTS_PER_SERVICE = 50  # ECS keeps 100 per service; the newest 50 are what triage needs
DEPLOYMENT_EVENTS_PER_SERVICE = 50
EVENTS_PER_CLUSTER = 5000


def service_events(raw: Raw, cluster: str, ref: str, limit: int = EVENTS_PER_SERVICE) -> list[Event]:
    """The service's own events (they come with DescribeServices: no extra call), the newest `limit`."""
    items = [(when, as_str(item.get("message"))) for item in dicts(raw.get("events"))
             for when in [as_time(item.get("createdAt"))] if when and as_str(item.get("message"))]
    items.sort(key=lambda pair: pair[0], reverse=True)  # AWS lists newest first; do not rely on it
    return [Event(when, cluster, f"service {ref}", "event", message, service_ref=ref)
            for when, message in items[:max(0, limit)]]


def deployment_changes(before: Any, after: Any, cluster: str, ref: str, now: datetime) -> list[Event]:
    """What changed between two looks at a service's deployments: a new PRIMARY, a rolloutState change.

    Pure: `before`/`after` are the raw `deployments` lists; `now` dates a change AWS gives no time for.
    """
    old = {as_str(d.get("id")): d for d in dicts(before) if as_str(d.get("id"))}
    old_primary, _ = primary_and_active(before)
    events: list[Event] = []

    def event(when: datetime | None, message: str) -> None:
        events.append(Event(when or now, cluster, f"service {ref}", "deployment", message, service_ref=ref))

    for deployment in dicts(after):
        ident = as_str(deployment.get("id"))
        if not ident:
            continue
        status = as_str(deployment.get("status")).upper()
        rollout = as_str(deployment.get("rolloutState")).upper()
        reason = as_str(deployment.get("rolloutStateReason"))
        label = task_definition_label(as_str(deployment.get("taskDefinition"))) or "?"
        previous = old.get(ident)
        if status == "PRIMARY" and (previous is None or as_str(previous.get("status")).upper() != "PRIMARY"):
            source = task_definition_label(as_str((old_primary or {}).get("taskDefinition")))
            change = f"{source} -> {label}" if source and source != label else label
            event(as_time(deployment.get("createdAt")),
                  f"new deployment {ident}: {change}" + (f" ({rollout.lower()})" if rollout else ""))
        elif previous is not None and rollout:
            before_state = as_str(previous.get("rolloutState")).upper()
            if before_state != rollout:
                event(as_time(deployment.get("updatedAt")),
                      f"deployment {ident} ({label}) {(before_state or 'unknown').lower()} -> {rollout.lower()}"
                      + (f": {reason}" if reason else ""))
    return events


def observe_deployments(
    kept: dict[str, deque[Event]], before: Sequence[Raw], fresh: Sequence[Raw], cluster: str, ecs_cluster: str,
    now: datetime,
) -> dict[str, deque[Event]]:
    """`kept` (deployment events by service ARN) with the changes from `before` to `fresh` added.

    Services that are gone lose theirs.
    """
    previous: dict[str, Any] = {as_str(s.get("serviceArn")): s.get("deployments") for s in before}
    for raw in fresh:
        arn = as_str(raw.get("serviceArn"))
        name = as_str(raw.get("serviceName")) or short_id(arn)
        changes = deployment_changes(previous.get(arn), raw.get("deployments"), cluster, f"{ecs_cluster}/{name}", now)
        if changes:
            kept.setdefault(arn, deque(maxlen=DEPLOYMENT_EVENTS_PER_SERVICE)).extend(changes)
    alive = {as_str(s.get("serviceArn")) for s in fresh}
    return {arn: events for arn, events in kept.items() if arn in alive}
