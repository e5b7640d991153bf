"""Swarm: what changed between a service's PreviousSpec and its Spec (what `docker service rollback` swaps)."""

from __future__ import annotations

from typing import Any

from pilothouse.providers.revisions import (
    NoPreviousRevision,
    RevisionDiff,
    command_text,
    compare,
    env_text,
)
from pilothouse.providers.swarm.raw import Raw, as_dict, as_list, as_str


def spec_fields(spec: Raw) -> dict[str, Any]:
    template = as_dict(spec.get("TaskTemplate"))
    container = as_dict(template.get("ContainerSpec"))
    env = {}
    for item in as_list(container.get("Env")):
        name, _, value = as_str(item).partition("=")
        env[name] = value
    return {
        "image": as_str(container.get("Image")).split("@", 1)[0],
        "command": command_text(as_list(container.get("Command"))),
        "args": command_text(as_list(container.get("Args"))),
        "env": env_text(env),
        "resources": template.get("Resources"),
        "ports": as_dict(spec.get("EndpointSpec")).get("Ports"),
        "health check": container.get("Healthcheck"),
        "update policy": spec.get("UpdateConfig"),
        "replicas": as_dict(as_dict(spec.get("Mode")).get("Replicated")).get("Replicas"),
        "labels": spec.get("Labels"),
    }


def previous_diff(service_ref: str, raw: Raw) -> RevisionDiff:
    previous = as_dict(raw.get("PreviousSpec"))
    if not previous:
        raise NoPreviousRevision(f"{service_ref} has no previous spec: it was never updated",
                                 "nothing to compare; 'docker service update' makes one")
    version = as_dict(raw.get("Version")).get("Index")
    return compare(spec_fields(previous), spec_fields(as_dict(raw.get("Spec"))), "previous spec",
                   f"current spec (version {version})" if version is not None else "current spec")
