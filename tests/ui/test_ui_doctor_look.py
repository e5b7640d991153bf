"""The Doctor screen asks for the doctor's slow path (Provider.doctor_look) when it opens, and only then:
a refresh never does. Its answer shows in the cluster's next snapshot, which the screen draws."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

from ui_support import running_app, wait_until

from pilothouse.console.fleet import Fleet
from pilothouse.console.screens.doctor import DoctorScreen, detail_text
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


class UnreadDemo(LookingDemo):
    """The demo's `web` as an unresolved Swarm tag whose node engines the slow path could not read."""

    def snapshot(self) -> Cluster:
        cluster = super().snapshot()
        web = next(service for service in cluster.services if service.name.endswith("web"))
        web.containers = tuple(replace(container, image_pinned=False) for container in web.containers)
        if self.looks:
            for task in web.tasks:
                task.images = ()
                task.unread = "nothing answers at unix:///run/engines/x.sock (connection refused or no such socket)"
        return cluster


async def test_the_doctor_screen_names_the_engines_it_could_not_read(tmp_path: Path) -> None:
    def swap(fleet: Fleet) -> None:
        name = next(name for name, provider in fleet.providers.items() if provider.kind.value == "swarm")
        fleet.providers[name] = UnreadDemo(fleet.providers[name].config)

    async with running_app(tmp_path, prepare=swap) as (app, pilot):
        provider = next(p for p in app.fleet.providers.values() if isinstance(p, UnreadDemo))
        await pilot.press("d")
        await wait_until(pilot, lambda: isinstance(app.screen, DoctorScreen), what="doctor screen")
        doctor = app.screen
        assert isinstance(doctor, DoctorScreen)
        await wait_until(pilot, lambda: any("node engines not read" in f.why
                                            for f in app.state.findings.get(provider.name, [])),
                         what="the weaker finding naming the engines not read")
        await pilot.press("slash", *"engines not read", "enter")
        await wait_until(pilot, lambda: doctor.table.row_count == 1, what="that one finding")
        finding = doctor.selected_finding()
        assert finding is not None and finding.rule == "image-drift"
        detail = detail_text(finding).plain
        assert "why  " in detail and "; node engines not read: " in detail
        assert "(nothing answers at unix:///run/engines/x.sock (connection refused or no such socket))" in detail
