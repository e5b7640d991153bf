"""What changed between the previous and the current revision of a service, field by field.

Each provider reduces a revision (Swarm Spec / PreviousSpec, a ReplicaSet's pod template, an ECS task
definition) to the same fields as plain text; `compare` lists the fields that differ. Env values never appear:
an env entry is its name, with a note when its value changed (masked either way). No SDK, no Textual.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pilothouse.providers.errors import InvalidInput
from pilothouse.providers.secrets import mask_command

# In the order an operator reads a change.
FIELDS = ("image", "command", "args", "env", "resources", "ports", "health check", "update policy", "replicas",
          "labels")


class NoPreviousRevision(InvalidInput):
    """There is nothing to compare with (a service never updated): `pilothouse diff` exits 2."""


@dataclass(frozen=True, slots=True)
class FieldChange:
    field: str  # "image", "env", or "app: image" when a pod has several containers
    before: str
    after: str


@dataclass(frozen=True, slots=True)
class RevisionDiff:
    from_label: str  # "revision 6", "task definition web:11", "spec version 41 (previous)"
    to_label: str
    changes: tuple[FieldChange, ...]

    def summary(self) -> str:
        """One line: `revision 7 -> 6: image, env` (or `no field differs`)."""
        fields = ", ".join(dict.fromkeys(change.field for change in self.changes)) or "no field differs"
        return f"{self.from_label} -> {self.to_label}: {fields}"

    def lines(self) -> list[str]:
        out = [f"{self.from_label} -> {self.to_label}"]
        for change in self.changes:
            out.append(f"{change.field}:")
            out.append(f"  - {change.before or '(none)'}")
            out.append(f"  + {change.after or '(none)'}")
        if not self.changes:
            out.append("no field differs")
        return out


def text(value: Any) -> str:
    """A field's value as one line: sorted keys, no spaces wasted; '' for nothing."""
    if value in (None, "", [], {}, ()):
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, separators=(", ", ": "), default=str)


def command_text(words: Iterable[Any] | None) -> str:
    return mask_command(" ".join(str(word) for word in words or ()))


def env_text(names_and_values: Mapping[str, str]) -> dict[str, str]:
    """name -> a fingerprint of its value, never the value (a change of value shows as "changed")."""
    return {name: str(hash(value)) for name, value in names_and_values.items()}


def compare(before: Mapping[str, Any], after: Mapping[str, Any], from_label: str, to_label: str) -> RevisionDiff:
    """Field-level changes from `before` to `after` (each a FIELDS -> value mapping; env: env_text's)."""
    changes: list[FieldChange] = []
    for field in FIELDS:
        old, new = before.get(field), after.get(field)
        if field == "env":
            changes.extend(_env_changes(old or {}, new or {}))
        elif text(old) != text(new):
            changes.append(FieldChange(field, text(old), text(new)))
    return RevisionDiff(from_label, to_label, tuple(changes))


def _env_changes(old: Mapping[str, str], new: Mapping[str, str]) -> list[FieldChange]:
    added = sorted(set(new) - set(old))
    removed = sorted(set(old) - set(new))
    changed = sorted(name for name in set(old) & set(new) if old[name] != new[name])
    if not (added or removed or changed):
        return []
    before = ", ".join([*(f"{name}" for name in removed), *(f"{name}=(value)" for name in changed)])
    after = ", ".join([*(f"{name}" for name in added), *(f"{name}=(value changed)" for name in changed)])
    return [FieldChange("env", before, after)]


def containers_compare(before: Mapping[str, Mapping[str, Any]], after: Mapping[str, Mapping[str, Any]],
                       shared_before: Mapping[str, Any], shared_after: Mapping[str, Any],
                       from_label: str, to_label: str) -> RevisionDiff:
    """Per-container fields (prefixed "NAME: " when there are several) then the revision-wide ones."""
    several = len(set(before) | set(after)) > 1
    changes: list[FieldChange] = []
    for name in sorted(set(before) | set(after)):
        if name not in before or name not in after:
            changes.append(FieldChange(f"container {name}", "" if name not in before else "present",
                                       "" if name not in after else "added"))
            continue
        for change in compare(before[name], after[name], "", "").changes:
            changes.append(FieldChange(f"{name}: {change.field}" if several else change.field, change.before,
                                       change.after))
    changes.extend(compare(shared_before, shared_after, "", "").changes)
    return RevisionDiff(from_label, to_label, tuple(changes))
