"""A provider whose cluster text is hostile: the frozen demo, with one planted string in every field a workload
owner or a cluster controls (image, names, rollout message, task errors and states, node names, events, env,
command, scope, error, log lines, a mutation's plan and result). Tests set `HostileDemo.text` (and `markup`)
before the app or the CLI builds it; the CLI finds it as a real plugin (see `install_plugin`).
"""

from __future__ import annotations

import dataclasses
import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from drawn import screen_text as screen_text  # re-exported: the provider tests read screens through it
from textual.pilot import Pilot

from pilothouse.providers import registry
from pilothouse.providers.base import Action, LogLine, MutationPlan
from pilothouse.providers.demo import DemoProvider
from pilothouse.providers.errors import NotFound
from pilothouse.providers.model import Cluster, ContainerSpec, Event, Service

# The secrets planted by value: none may be shown anywhere but in logs.
SECRET_URL = "postgres://admin:hunter2@db:5432/app"
SECRET_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
SECRET_COMMAND = ("sh", "-c", "app --db-password=hunter2 --token s3cr3t-t0k3n")
SECRETS = ("hunter2", "IOSFODNN7EXAMPLE", "s3cr3t-t0k3n")
# A visible marker before the hostile part: the planted field is found on screen by it.
MARK = "evil"
PLUGIN = "hostile"
# What a terminal acts on (C0 but newline, DEL, C1) and what hides or reorders text.
FORBIDDEN = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u200b-\u200f\u2060\ufeff]")


class HostileDemo(DemoProvider):
    text: ClassVar[str] = "\x1b]0;pwned\x07\x1b[2J"
    markup: ClassVar[str] = "[@click=app.quit]x[/]"

    def _plant(self, value: str) -> str:
        return f"{value}{MARK}{self.text}"

    def snapshot(self) -> Cluster:
        cluster = super().snapshot()
        hostile, plant = self.text, self._plant
        first, *rest = cluster.services
        tasks = tuple(dataclasses.replace(task, error=plant("failed: "), raw_state=plant(""),
                                          node_name=plant(task.node_name), version=plant(""))
                      for task in first.tasks)
        container = ContainerSpec(
            name=plant("app"), image=first.image, command=SECRET_COMMAND,
            env={"DATABASE_URL": SECRET_URL, "CONFIG_BLOB": SECRET_KEY_ID, "BANNER": hostile},
            healthcheck=False,
        )
        service = dataclasses.replace(
            first, name=plant(first.name), ref=plant(first.ref),
            image=f"registry.local/bad:2{self.markup}{MARK}{hostile}",
            rollout=dataclasses.replace(first.rollout, message=plant("rolling: ")),
            details={"note": plant("")}, ports=(plant("8080"),), containers=(container,), tasks=tasks,
            rollback_refusal="",
        )
        nodes = tuple(dataclasses.replace(node, name=plant(node.name), message=hostile) for node in cluster.nodes)
        event = Event(cluster.last_sync or cluster.events[0].time, cluster.name, plant("pod "), "warning",
                      plant("Back-off: "), service_ref=service.ref)
        return dataclasses.replace(cluster, services=(service, *rest), nodes=nodes, events=(*cluster.events, event),
                                   scope=plant("scope "), error=plant("error "))

    def logs(self, service: Service, *, task_id: str = "", tail: int = 200, follow: bool = False,
             stop: threading.Event | None = None) -> Iterator[LogLine]:
        if task_id and not any(task.id.startswith(task_id) for task in service.tasks):
            raise NotFound(f"no task {task_id!r} in {service.ref}")
        for number in range(3):
            yield LogLine(None, self._plant("src"), self._plant(f"line {number} "))
        if follow and stop is not None:
            stop.wait()

    def plan_rollback(self, service: Service) -> MutationPlan:
        self.check(Action.ROLLBACK, service)
        return MutationPlan(Action.ROLLBACK, self.name, service.ref, service.id, before=service.image,
                            after=self._plant("registry.local/old:1"), detail=self._plant("detail: "),
                            payload={"target": "x"})

    def apply(self, plan: MutationPlan) -> str:
        if plan.action is Action.ROLLBACK:
            return self._plant("rolled back: ")
        return super().apply(plan)


def install_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Install HostileDemo the way a third-party provider is installed: an entry point in the
    `pilothouse.providers` group, found by the registry like the built-ins (a fixture's body)."""
    site = tmp_path / "site"
    dist = site / "pilothouse_hostile-0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: pilothouse-hostile\nVersion: 0\n")
    (dist / "entry_points.txt").write_text(f"[{registry.GROUP}]\n{PLUGIN} = hostile:HostileDemo\n")
    monkeypatch.syspath_prepend(str(site))
    registry._entry_points.cache_clear()
    monkeypatch.setattr(HostileDemo, "text", HostileDemo.text)  # restored after the test
    monkeypatch.setattr(HostileDemo, "markup", HostileDemo.markup)
    yield
    monkeypatch.undo()
    registry._entry_points.cache_clear()


def hostile_config(path: Path, flavor: str = "kubernetes") -> Path:
    path.write_text(f'[[clusters]]\nname = "evil"\nprovider = "{PLUGIN}"\nflavor = "{flavor}"\nfrozen_at = 12\n')
    return path


async def settle(pilot: Pilot[Any], predicate: Callable[[], object], what: str, timeout: float = 20.0) -> None:
    """Let the app run until `predicate()` holds; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await pilot.pause(0.05)
