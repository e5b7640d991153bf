"""One timeline across clusters: the clusters' own events and the console's audit entries, in time order."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from pilothouse.providers.errors import InvalidInput
from pilothouse.providers.model import Cluster, Event

# ASCII digits only: float() also reads other scripts' digits, which the operator did not type as a number.
_DURATION = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([smhd])\s*$")
MAX_SINCE_S = 36_500 * 86400
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
# Event kinds the built-in providers write: Swarm's event actions, Kubernetes event types, ECS service
# events and deployment changes, the demo's node states and applied actions, and the audit log.
EVENT_KINDS = frozenset({"create", "update", "remove", "state", "warning", "normal", "event", "deployment",
                         "scale", "rollback", "audit"})


def parse_since(text: str) -> timedelta:
    match = _DURATION.match(text)
    if not match:
        raise InvalidInput(f"--since {text[:40]!r} is not a duration", "use e.g. 45s, 30m, 2h or 1d")
    seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if not 0 < seconds <= MAX_SINCE_S:
        # Beyond a century the date arithmetic overflows (99999999d); zero would filter out everything.
        raise InvalidInput(f"--since {text.strip()[:40]} is out of range", f"use more than 0s and at most "
                           f"{MAX_SINCE_S // 86400}d")
    return timedelta(seconds=seconds)


def check_kinds(kinds: Iterable[str], events: Iterable[Event]) -> None:
    """A --kind that no provider writes and no current event has is a typo: an empty timeline would hide it."""
    known = EVENT_KINDS | {event.kind for event in events}
    unknown = [kind for kind in kinds if kind not in known]
    if unknown:
        raise InvalidInput(f"unknown event kind {unknown[0]!r}", f"known kinds: {', '.join(sorted(known))}")


def audit_events(entries: Iterable[dict[str, Any]]) -> list[Event]:
    """One event per attempt: a sent mutation's intent and outcome lines (same `attempt`) read as its outcome;
    an intent with no outcome says so (the console stopped, or the outcome could not be written)."""
    entries = [entry for entry in entries if isinstance(entry, dict)]
    concluded = {entry.get("attempt") for entry in entries if entry.get("phase") == "outcome"}
    events = []
    for entry in entries:
        if entry.get("phase") == "intent" and entry.get("attempt") in concluded:
            continue
        try:
            time = datetime.fromisoformat(str(entry["time"]))
        except (KeyError, ValueError):
            continue
        before, after = entry.get("before", ""), entry.get("after", "")
        # A refusal before the live count was read knows only the count asked for.
        change = f" {before} -> {after}" if before else (f" to {after}" if after else "")
        action, result = str(entry.get("action", "?")), str(entry.get("result", ""))
        if entry.get("phase") == "intent":
            result = "sent, outcome not recorded (check the cluster)"
        # Entries written before the action layer dropped it read "refused: scale refused: WHY".
        result = result.replace(f"refused: {action} refused: ", "refused: ", 1)
        code = entry.get("exit_code")
        if isinstance(code, int) and not isinstance(code, bool):  # an exec's session ended
            result += f", exit code {code}"
        events.append(Event(
            time=time, cluster=str(entry.get("cluster", "")), object=f"service {entry.get('service', '')}",
            kind="audit", service_ref=str(entry.get("service", "")),
            message=f"{entry.get('user', '?')}@{entry.get('host', '?')}: {action}{change}: {result}",
        ))
    return events


def merge(clusters: Iterable[Cluster], audit: Iterable[Event] = (), *, since: timedelta | None = None,
          cluster: str | None = None, service: str | None = None, kinds: Iterable[str] = (),
          now: datetime | None = None) -> list[Event]:
    """Every event that passes the filters, oldest first. `service` is CLUSTER/SERVICE."""
    events = [event for snapshot in clusters for event in snapshot.events]
    events.extend(audit)
    floor = (now or datetime.now(UTC)) - since if since is not None else None
    wanted_kinds = set(kinds)
    selected = []
    for event in events:
        if floor is not None and _aware(event.time) < floor:
            continue
        if cluster and event.cluster != cluster:
            continue
        if service and f"{event.cluster}/{event.service_ref}" != service:
            continue
        if wanted_kinds and event.kind not in wanted_kinds:
            continue
        selected.append(event)
    selected.sort(key=lambda event: _aware(event.time))
    return selected


def _aware(time: datetime) -> datetime:
    return time if time.tzinfo else time.replace(tzinfo=UTC)
