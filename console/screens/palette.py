"""Command palette entries: jump to any service or to a cluster's placement."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from typing import cast

from textual.app import App
from textual.command import DiscoveryHit, Hit, Hits, Provider

from console.screens.base import ConsoleHost


def open_service(app: App[object], cluster: str, service_id: str) -> None:
    from console.screens.service import ServiceScreen

    app.push_screen(ServiceScreen(cluster, service_id))


def open_placement(app: App[object], cluster: str) -> None:
    from console.screens.placement import PlacementScreen

    app.push_screen(PlacementScreen(cluster, None))


class FleetCommands(Provider):
    def _commands(self) -> Iterator[tuple[str, Callable[[], object], str]]:
        state = cast("ConsoleHost", self.app).state
        for cluster in state.ordered():
            yield (f"placement {cluster.name}", partial(open_placement, self.app, cluster.name),
                   f"nodes x services of {cluster.kind.value} cluster {cluster.name}")
            for service in cluster.services:
                yield (f"open {cluster.name}/{service.ref}",
                       partial(open_service, self.app, cluster.name, service.id),
                       f"{service.image} · {service.running}/{service.desired} · {service.rollout.state.value}")

    async def discover(self) -> Hits:
        for name, command, help_text in self._commands():
            yield DiscoveryHit(name, command, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, command, help_text in self._commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), command, help=help_text)
