"""ECS: what changed between two task definition revisions (the one the service would roll back to, and
the current one), container by container; environment values never shown, secrets named by their source."""

from __future__ import annotations

from typing import Any

from pilothouse.providers.ecs.client import AwsClients
from pilothouse.providers.ecs.raw import Raw, as_dict, as_str, dicts, task_definition_label
from pilothouse.providers.revisions import RevisionDiff, command_text, containers_compare, env_text


def _container_fields(container: Raw) -> dict[str, Any]:
    env = {as_str(e.get("name")): as_str(e.get("value")) for e in dicts(container.get("environment"))}
    env.update({as_str(s.get("name")): f"from {as_str(s.get('valueFrom'))}" for s in dicts(container.get("secrets"))})
    resources = {key: container.get(key) for key in ("cpu", "memory", "memoryReservation")
                 if container.get(key) is not None}
    return {"image": as_str(container.get("image")),
            # Docker's words: ECS entryPoint is the command, ECS command its arguments.
            "command": command_text(container.get("entryPoint") or []),
            "args": command_text(container.get("command") or []), "env": env_text(env), "resources": resources,
            "ports": container.get("portMappings"), "health check": container.get("healthCheck"),
            "labels": container.get("dockerLabels")}


def definitions_diff(api: AwsClients, before_arn: str, after_arn: str) -> RevisionDiff:
    def read(arn: str) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
        definition = as_dict(api.call("describe_task_definition", taskDefinition=arn).get("taskDefinition"))
        containers = {as_str(c.get("name")): _container_fields(c)
                      for c in dicts(definition.get("containerDefinitions"))}
        task_size = {key: definition.get(key) for key in ("cpu", "memory") if definition.get(key) is not None}
        return containers, {"resources": task_size}

    (old, old_shared), (new, new_shared) = read(before_arn), read(after_arn)
    return containers_compare(old, new, old_shared, new_shared, task_definition_label(before_arn),
                              task_definition_label(after_arn))
