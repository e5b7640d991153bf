"""Raw accessors for the engine's JSON: missing or null fields and odd types read as empty, never raise.

Swarm's accessors return "" for a non-string (they never convert), unlike the Kubernetes provider's.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

Raw = Mapping[str, Any]

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


def as_dict(value: Any) -> Raw:
    return value if isinstance(value, Mapping) else {}


def as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else []


def as_str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def nanoseconds_to_s(nanoseconds: Any) -> float | None:
    value = as_int(nanoseconds)
    return None if value is None else value / 1e9


def as_labels(value: Any) -> dict[str, str]:
    return {str(key): str(val) for key, val in as_dict(value).items() if val is not None}

