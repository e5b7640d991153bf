"""Opening a screen, in one place: the fleet's keys, the doctor, the palette and the `:` command line all go
to a service, a placement, the doctor or the events timeline through these (imports are late: the screens
import this module)."""

from __future__ import annotations

from typing import Any

from textual.app import App

from pilothouse.providers.inspect import InspectTarget


def open_service(app: App[Any], cluster: str, service_id: str) -> None:
    from pilothouse.console.screens.service import ServiceScreen

    app.push_screen(ServiceScreen(cluster, service_id))


def open_placement(app: App[Any], cluster: str, service_id: str | None = None) -> None:
    from pilothouse.console.screens.placement import PlacementScreen

    app.push_screen(PlacementScreen(cluster, service_id))


def open_nodes(app: App[Any], cluster: str) -> None:
    from pilothouse.console.screens.nodes import NodesScreen

    app.push_screen(NodesScreen(cluster))


def open_networks(app: App[Any], cluster: str) -> None:
    from pilothouse.console.screens.networks import NetworksScreen

    app.push_screen(NetworksScreen(cluster))


def open_node(app: App[Any], cluster: str, node_id: str) -> None:
    from pilothouse.console.screens.nodes import NodeScreen

    app.push_screen(NodeScreen(cluster, node_id))


def open_inspect(app: App[Any], cluster: str, target: InspectTarget, label: str) -> None:
    from pilothouse.console.screens.inspect import InspectScreen

    app.push_screen(InspectScreen(cluster, target, label))


def open_doctor(app: App[Any], cluster: str | None = None) -> None:
    from pilothouse.console.screens.doctor import DoctorScreen

    app.push_screen(DoctorScreen(cluster))


def open_events(app: App[Any]) -> None:
    from pilothouse.console.screens.events import EventsScreen

    app.push_screen(EventsScreen())
