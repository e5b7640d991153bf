"""The engine's JSON: its times and durations; the accessors are the shared ones (providers/raw.py).

Swarm reads strings strictly (as_str: "" for a non-string) and counts as optional (opt_int: an absent
Replicas is None, not 0).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from pilothouse.providers.raw import Raw, as_dict, as_labels, as_list, as_str, opt_int

# The name Swarm code used before the shared set: the same meaning (None when absent), kept for code in flight.
as_int = opt_int

__all__ = ["Raw", "as_dict", "as_int", "as_labels", "as_list", "as_str", "nanoseconds_to_s", "opt_int", "parse_time"]

_TIME_RE = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})?$")


def parse_time(value: Any) -> datetime | None:
    """Docker's RFC 3339 times carry nanoseconds, which datetime cannot hold; year 1 means unset."""
    if not isinstance(value, str):
        return None
    match = _TIME_RE.match(value.strip())
    if not match:
        return None
    base, fraction, zone = match.groups()
    text = base + (f".{fraction[:6].ljust(6, '0')}" if fraction else "")
    try:
        parsed = datetime.fromisoformat(text + ("+00:00" if zone in (None, "Z") else zone))
    except ValueError:
        return None
    if parsed.year <= 1:
        return None
    return parsed.astimezone(UTC)


def nanoseconds_to_s(nanoseconds: Any) -> float | None:
    value = opt_int(nanoseconds)
    return None if value is None else value / 1e9
