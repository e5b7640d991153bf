"""Inspect: the orchestrator's own description of a service, task or node (YAML for Kubernetes and Swarm,
JSON for ECS), as it may be shown: secrets masked, noise dropped. No SDK, no Textual.

Masking, one rule for every orchestrator (providers/secrets.py decides which names): the value of an env
entry (`{"name": N, "value": V}`, `"N=V"` in an Env list) or of any key whose name might hold a secret is
replaced; command lines have their secret-looking options masked; and every value masked anywhere is then
masked wherever else it appears in the text (an args list, an annotation that repeats the spec).
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pilothouse.providers.secrets import MASK, looks_secret, mask_command, should_mask

# A masked value shorter than this is not searched for elsewhere: "1" or "true" would mask half the text.
MIN_SECRET_LENGTH = 4
# Keys whose string values are command lines (Swarm Args/Command, Kubernetes command/args, ECS command).
_COMMAND_KEYS = frozenset({"args", "command", "entrypoint", "cmd", "test"})


class TargetKind(StrEnum):
    SERVICE = "service"
    TASK = "task"
    NODE = "node"


@dataclass(frozen=True, slots=True)
class InspectTarget:
    """What to inspect: a service (`object_id` empty), one of its tasks, or a node (by its model id)."""

    kind: TargetKind
    service_id: str = ""
    service_ref: str = ""
    object_id: str = ""


@dataclass(frozen=True, slots=True)
class InspectResult:
    title: str  # "deployment prod/web", "task 3f9a...", "container instance i-0ab..."
    format: str  # "yaml" or "json"
    text: str


class _Masker:
    def __init__(self) -> None:
        self.values: set[str] = set()

    def hide(self, value: str) -> str:
        if len(value) >= MIN_SECRET_LENGTH:
            self.values.add(value)
        return MASK

    def walk(self, value: Any, key: str = "") -> Any:
        if isinstance(value, dict):
            name = value.get("name")
            # {"name": "DB_PASSWORD", "value": "..."}: Kubernetes env, ECS environment.
            env_secret = isinstance(name, str) and should_mask(name)
            out: dict[str, Any] = {}
            for item_key, item in value.items():
                text_key = str(item_key)
                secret = (env_secret and text_key == "value") or looks_secret(text_key)
                out[text_key] = self.hide(item) if secret and isinstance(item, str) and item \
                    else self.walk(item, text_key)
            return out
        if isinstance(value, list):
            if key.lower() == "env":
                return [self._assignment(item) if isinstance(item, str) else self.walk(item, key) for item in value]
            return [self.walk(item, key) for item in value]
        if isinstance(value, str) and key.lower() in _COMMAND_KEYS:
            return mask_command(value)
        return value

    def _assignment(self, item: str) -> str:
        """`NAME=value` from a Swarm ContainerSpec.Env."""
        name, sep, value = item.partition("=")
        if sep and should_mask(name) and value:
            return f"{name}={self.hide(value)}"
        return item

    def by_value(self, text: str) -> str:
        for value in sorted(self.values, key=len, reverse=True):
            text = text.replace(value, MASK)
        return text


def render(title: str, obj: Any, fmt: str) -> InspectResult:
    """The object masked and written out; YAML and JSON both escape control characters, so the text is safe
    to draw as it is."""
    masker = _Masker()
    masked = masker.walk(obj)
    if fmt == "yaml":
        import yaml

        text = yaml.safe_dump(masked, sort_keys=False, default_flow_style=False, allow_unicode=False, width=1000)
    else:
        text = json.dumps(masked, indent=2, default=str, ensure_ascii=True)
    return InspectResult(title=title, format=fmt, text=masker.by_value(text))


def plain(value: Any) -> Any:
    """SDK answers as plain data (datetimes as ISO strings), so that safe_dump and json accept them."""
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    if value is None or isinstance(value, bool):
        return value
    # Enum members (StrEnum, IntEnum) become their plain values: YAML's safe dumper knows only the base types.
    for base in (str, int, float):
        if isinstance(value, base):
            return base(value)
    isoformat = getattr(value, "isoformat", None)
    return isoformat() if callable(isoformat) else str(value)


def without_kubernetes_noise(obj: dict[str, Any]) -> dict[str, Any]:
    """A Kubernetes object without metadata.managedFields (server-side apply bookkeeping, often longer than
    the spec); kubectl's last-applied annotation is parsed so that its env values are masked like the spec's."""
    out = dict(obj)
    meta = dict(out.get("metadata") or {})
    meta.pop("managedFields", None)
    annotations = dict(meta.get("annotations") or {})
    applied = annotations.get("kubectl.kubernetes.io/last-applied-configuration")
    if isinstance(applied, str):
        with contextlib.suppress(ValueError):
            annotations["kubectl.kubernetes.io/last-applied-configuration"] = json.loads(applied)
    if annotations:
        meta["annotations"] = annotations
    out["metadata"] = meta
    return out
