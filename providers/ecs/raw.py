"""Raw AWS values: tolerant accessors (a missing or odd field is "" / 0 / None, never an exception) and ARN names.

Everything ECS returns passes through these before it reaches the model, so a surprising answer degrades a
cell instead of failing a refresh.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

Raw = Mapping[str, Any]


def short_id(arn: str) -> str:
    """The last path segment of an ARN: a task's UUID, a service's or cluster's name."""
    return arn.rsplit("/", 1)[-1] if arn else ""


def cluster_name_of(arn_or_name: str) -> str:
    if ":cluster/" in arn_or_name:
        return arn_or_name.split(":cluster/", 1)[1]
    return arn_or_name


def task_definition_label(arn: str | None) -> str:
    """'family:revision' from a task definition ARN (or the label itself)."""
    if not arn:
        return ""
    return arn.split("task-definition/", 1)[-1]


def task_definition_family(arn: str | None) -> str:
    return task_definition_label(arn).rsplit(":", 1)[0]


def as_str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def as_int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def opt_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def as_time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        if not value.tzinfo:
            return value.replace(tzinfo=UTC)
        try:
            return value.astimezone(UTC)  # botocore parses AWS times into the local zone; the model speaks UTC
        except (OverflowError, ValueError):
            return value
    return None


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def dicts(value: Any) -> list[Raw]:
    return [item for item in as_list(value) if isinstance(item, Mapping)]


def as_dict(value: Any) -> Raw:
    return value if isinstance(value, Mapping) else {}


def strings(value: Any) -> tuple[str, ...]:
    return tuple(str(item) for item in as_list(value) if isinstance(item, str | int | float))

