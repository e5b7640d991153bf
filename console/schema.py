"""The config's JSON schema, for editors (taplo, Even Better TOML), generated from the validator's own tables.

The file ships in the package beside this module; a test regenerates it and compares, so it cannot drift
from what `pilothouse config check` accepts. Regenerate with `python -m pilothouse.console.schema`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pilothouse.console import config as cfg
from pilothouse.providers.doctor import RULES

SCHEMA_PATH = Path(__file__).with_name("config.schema.json")
# Only the built-in providers: the shipped file must not depend on which plugins the generator had installed.
BUILTIN_PROVIDERS = ("swarm", "kubernetes", "ecs", "demo")

_JSON_TYPES = {str: "string", int: "integer", float: "number", bool: "boolean", list: "array", dict: "object"}


def _typed(types: tuple[type, ...], description: str = "") -> dict[str, Any]:
    names = [_JSON_TYPES[kind] for kind in types]
    if "number" in names and "integer" in names:
        names.remove("integer")  # every integer is a number in JSON schema
    schema: dict[str, Any] = {"type": names[0] if len(names) == 1 else names}
    if "array" in names:
        schema["items"] = {"type": "string"}
    if description:
        schema["description"] = description
    return schema


def _properties(keys: Mapping[str, tuple[type, ...]]) -> dict[str, Any]:
    return {key: _typed(types) for key, types in keys.items()}


def _cluster_schema() -> dict[str, Any]:
    from pilothouse.providers import registry

    common = _properties(cfg.CLUSTER_KEYS)
    common["name"]["pattern"] = cfg.NAME_PATTERN.pattern
    common["refresh_interval"].update(minimum=cfg.MIN_REFRESH_S, maximum=cfg.MAX_REFRESH_S)
    branches = []
    for name in BUILTIN_PROVIDERS:
        options = registry.provider_class(name).OPTIONS
        properties = {**common, **{key: _typed(option.types, option.help) for key, option in options.items()}}
        properties["provider"] = {"const": name}
        branches.append({"if": {"properties": {"provider": {"const": name}}, "required": ["provider"]},
                         "then": {"properties": properties, "additionalProperties": False}})
    return {"type": "object", "required": ["name", "provider"], "properties": common, "allOf": branches}


def config_schema() -> dict[str, Any]:
    top = _properties(cfg.TOP_LEVEL_KEYS)
    top["refresh_interval"].update(minimum=cfg.MIN_REFRESH_S, maximum=cfg.MAX_REFRESH_S)
    top["log_buffer_lines"].update(minimum=cfg.LOG_BUFFER_RANGE[0], maximum=cfg.LOG_BUFFER_RANGE[1])
    top["theme"]["enum"] = cfg.theme_names()
    top["keymap"]["additionalProperties"] = {"type": "string"}
    top["clusters"]["items"] = _cluster_schema()
    silence = _properties(cfg.SILENCE_KEYS)
    silence["rule"]["enum"] = ["*", *RULES]
    doctor = _properties(cfg.DOCTOR_KEYS)
    doctor["silence"]["items"] = {"type": "object", "properties": silence, "required": ["reason"],
                                  "additionalProperties": False}
    top["doctor"].update(properties=doctor, additionalProperties=False)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "pilothouse config (config.toml)",
        "type": "object",
        "properties": top,
        "additionalProperties": False,
    }


def schema_text() -> str:
    return json.dumps(config_schema(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    SCHEMA_PATH.write_text(schema_text(), encoding="utf-8")
    print(SCHEMA_PATH)
