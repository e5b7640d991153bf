"""The Doctor screen asks for the doctor's slow path (Provider.doctor_look) when it opens, and only then:
a refresh never does. Its answer shows in the cluster's next snapshot, which the screen draws."""

from __future__ import annotations

import time
from pathlib import Path

from ui_support import running_app, wait_until

from pilothouse.console.fleet import Fleet
from pilothouse.console.screens.doctor import DoctorScreen
from pilothouse.providers.base import ClusterConfig
from pilothouse.providers.demo import DemoProvider
from pilothouse.providers.model import Cluster, RunningImage


class LookingDemo(DemoProvider):
    """The demo, plus a slow path: once asked, its `web` replicas are seen to run two images of one tag."""

    def __init__(self, config: ClusterConfig) -> None:
        super().__init__(config)
        self.looks: list[float] = []

    def doctor_look(self, deadline: float) -> None:
        self.looks.append(deadline)

    def snapshot(self) -> Cluster:
        cluster = super().snapshot()
        if self.looks:
            web = next(service for service in cluster.services if service.name.endswith("web"))
            running = [task for task in web.tasks if task.state.value == "running"
                       and task.desired_state.value == "running"]
            for number, task in enumerate(running):
                task.images = (RunningImage(web.image, "sha256:" + ("e" if number else "f") * 64, "web"),)
        return cluster


def swap_swarm(fleet: Fleet) -> None:
    name = next(name for name, provider in fleet.providers.items() if provider.kind.value == "swarm")
    fleet.providers[name] = LookingDemo(fleet.providers[name].config)


async def test_opening_the_doctor_reads_its_slow_path_once(tmp_path: Path) -> None:
    async with running_app(tmp_path, prepare=swap_swarm) as (app, pilot):
        provider = next(p for p in app.fleet.providers.values() if isinstance(p, LookingDemo))
        assert provider.looks == [], "the fleet's refreshes never take the doctor's slow path"
        asked = time.monotonic()
        await pilot.press("d")
        await wait_until(pilot, lambda: isinstance(app.screen, DoctorScreen), what="doctor screen")
        await wait_until(pilot, lambda: len(provider.looks) == 1, what="the slow path asked for")
        assert asked < provider.looks[0] <= time.monotonic() + 10.0
        cluster = provider.name
        await wait_until(pilot, lambda: any(f.rule == "image-drift" and f.service.endswith("web")
                                            for f in app.state.findings.get(cluster, [])),
                         what="the drift the slow path found, in the findings")
