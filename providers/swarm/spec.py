"""Reading a service's (or a task's) spec: image, mode, health check, and what identifies a spec version."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pilothouse.providers.model import ServiceMode
from pilothouse.providers.swarm.raw import Raw, as_dict, as_list, as_str, opt_int


def display_image(image: Any) -> str:
    """`repo:tag@sha256:...` -> `repo:tag`; an untagged digest keeps a short digest so it stays distinct."""
    text = as_str(image)
    name, _, digest = text.partition("@")
    last = name.rsplit("/", 1)[-1]
    if digest and ":" not in last:
        return f"{name}@{digest.split(':', 1)[-1][:12]}"
    return name


def task_template(spec: Raw) -> Raw:
    return as_dict(spec.get("TaskTemplate"))


def container_spec(spec: Raw) -> Raw:
    return as_dict(task_template(spec).get("ContainerSpec"))


def spec_image(spec: Raw) -> str:
    return display_image(container_spec(spec).get("Image"))


SPEC_KEYS = ("ContainerSpec", "Resources", "Placement", "RestartPolicy", "LogDriver", "ForceUpdate")


def spec_fingerprint(task_spec: Raw) -> str:
    """What identifies a task's spec version.

    Engine 20.10 does not expose which service version a task was made from: a task's `Version` is the
    task object's own raft index (it moves on every state change), unrelated to the service's. A task's
    `Spec` is a copy of the service's TaskTemplate at creation, except that the service's copy also carries
    `Runtime` (seen on 20.10.24). So compare the fields both carry; ForceUpdate makes `--force` count as new.
    """
    return json.dumps({key: task_spec.get(key) for key in SPEC_KEYS}, sort_keys=True, default=str)


def same_spec(task_spec: Raw, template: Raw) -> bool:
    """Whether a task runs the template's version (the fields of spec_fingerprint), compared without serialising
    either: a refresh asks this of every running task (10,000 of them on a big swarm)."""
    return all(task_spec.get(key) == template.get(key) for key in SPEC_KEYS)


def healthcheck_of(container: Raw) -> bool | None:
    """From the spec alone: True defined, False disabled, None cannot tell (the image may define one)."""
    check = container.get("Healthcheck")
    if not isinstance(check, Mapping):
        return None
    test = [str(part) for part in as_list(check.get("Test"))]
    if test[:1] == ["NONE"]:
        return False
    if test:
        return True
    # Only interval/retries/timeouts set: they tune the image's own HEALTHCHECK (the daemon merges them
    # field by field); the CLI writes them only when asked, so the image has one.
    return True if any(check.get(key) for key in ("Interval", "Timeout", "Retries", "StartPeriod")) else None


def service_mode(spec: Raw) -> tuple[ServiceMode, str, int | None]:
    """(mode, workload kind, replicas from the spec or None)."""
    mode = as_dict(spec.get("Mode"))
    if "Global" in mode:
        return ServiceMode.GLOBAL, "service", None
    if "GlobalJob" in mode:
        return ServiceMode.GLOBAL, "global-job", None
    if "ReplicatedJob" in mode:
        job = as_dict(mode.get("ReplicatedJob"))
        return ServiceMode.REPLICATED, "replicated-job", opt_int(job.get("MaxConcurrent"))
    return ServiceMode.REPLICATED, "service", opt_int(as_dict(mode.get("Replicated")).get("Replicas"))


def image_healthcheck(image: Raw) -> bool:
    """From an inspected image: does it define a HEALTHCHECK (one that is not `NONE`)?"""
    check = as_dict(as_dict(image.get("Config")).get("Healthcheck"))
    test = [str(part) for part in as_list(check.get("Test"))]
    return bool(test) and test[:1] != ["NONE"]

