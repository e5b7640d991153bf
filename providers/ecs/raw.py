"""Raw AWS values: the shared tolerant accessors (providers/raw.py: a missing or odd field is "" / 0 / None,
never an exception), AWS times and ARN names.

Everything ECS returns passes through these before it reaches the model, so a surprising answer degrades a
cell instead of failing a refresh.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pilothouse.providers.raw import Raw, as_dict, as_int, as_list, as_str, dicts, opt_int, strings

__all__ = ["Raw", "as_dict", "as_int", "as_list", "as_str", "as_time", "cluster_name_of", "dicts", "opt_int",
           "short_id", "strings", "task_definition_family", "task_definition_label"]


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


def as_time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        if not value.tzinfo:
            return value.replace(tzinfo=UTC)
        try:
            return value.astimezone(UTC)  # botocore parses AWS times into the local zone; the model speaks UTC
        except (OverflowError, ValueError):
            return value
    return None


