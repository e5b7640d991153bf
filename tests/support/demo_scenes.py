"""The frozen demo fleet as the README screenshots and the snapshot tests show it.

The demo clock is pinned 12 s into its scenario, so the api rollout is part way, one node is down and its tasks
are starting elsewhere, and payments has a task failing its health check. The audit log holds two fixed
entries (the console's own actions on the events screen). Every screen reads "now" from the frozen snapshot,
so a picture is the same on every run and at any time of day.

`SCENES` takes a freshly started app to one screen and waits until it is fully drawn (rows, footer keys).
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from textual.pilot import Pilot
from textual.screen import Screen

from pilothouse.console.app import PilothouseApp
from pilothouse.console.config import demo_config
from pilothouse.console.fleet import Fleet

FROZEN_AT = 12.0

AUDIT_ENTRIES = (
    {"time": "2026-11-27T09:00:04.000+00:00", "user": "ops", "host": "bastion-1", "cluster": "demo-swarm",
     "service": "shop_web", "action": "scale", "before": "3", "after": "4", "result": "ok"},
    {"time": "2026-11-27T09:00:11.000+00:00", "user": "ops", "host": "bastion-1", "cluster": "demo-ecs",
     "service": "prod/search", "action": "rollback", "before": "search:0.3", "after": "search:0.2",
     "result": "refused: cluster demo-ecs is read-only"},
)


def write_audit(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(entry) + "\n" for entry in AUDIT_ENTRIES), encoding="utf-8")


def frozen_app(scratch: Path) -> PilothouseApp:
    """The console on the frozen demo fleet, its audit log in `scratch`."""
    audit = scratch / "audit.jsonl"
    write_audit(audit)
    config = dataclasses.replace(demo_config(frozen_at=FROZEN_AT), audit_log=audit)
    return PilothouseApp(Fleet(config), config)


async def wait_for(pilot: Pilot[Any], predicate: Callable[[], object], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await pilot.pause(0.05)


def footer_offers(app: Any, action: str) -> bool:
    # FooterKey lives in a private module; its type name selects it and `action` is a public field.
    return any(getattr(key, "action", None) == action for key in app.screen.query("FooterKey"))


def app_of(pilot: Pilot[Any]) -> PilothouseApp:
    app = pilot.app
    assert isinstance(app, PilothouseApp)
    return app


async def fleet_loaded(pilot: Pilot[Any]) -> PilothouseApp:
    """Every cluster's first snapshot is in and the fleet table is drawn."""
    from pilothouse.console.screens.fleet import FleetScreen

    app = app_of(pilot)
    await wait_for(pilot, lambda: all(c.services for c in app.state.clusters.values()), "every cluster")
    await wait_for(pilot, lambda: isinstance(app.screen, FleetScreen) and app.screen.table.row_count > 0,
                   "fleet rows")
    return app


async def select(pilot: Pilot[Any], cluster: str, ref: str) -> None:
    """Put the fleet table's cursor on a service and wait for the footer to follow."""
    from pilothouse.console.screens.fleet import FleetScreen, row_key

    app = app_of(pilot)
    fleet = app.screen
    assert isinstance(fleet, FleetScreen)
    service = app.state.clusters[cluster].service(ref)
    assert service is not None, f"{cluster} has no service {ref}"
    assert fleet.table.move_to_key(row_key(cluster, service.id))
    await wait_for(pilot, lambda: footer_offers(app, "scale"), "the footer to offer scale")


async def fleet(pilot: Pilot[Any]) -> None:
    await fleet_loaded(pilot)
    await select(pilot, "demo-k8s", "prod/api")


async def open_from_fleet(pilot: Pilot[Any], cluster: str, ref: str, key: str, screen: type[Screen[Any]],
                          footer_action: str) -> PilothouseApp:
    """From the fleet, open a service's screen with `key`; wait for its table's rows and its footer."""
    from pilothouse.widgets.diff_table import DiffTable

    app = await fleet_loaded(pilot)
    await select(pilot, cluster, ref)
    await pilot.press(key)
    await wait_for(pilot, lambda: isinstance(app.screen, screen) and app.screen.query_one(DiffTable).row_count > 0,
                   f"the {screen.__name__}")
    await wait_for(pilot, lambda: footer_offers(app, footer_action), f"the {screen.__name__} footer")
    return app


async def service(pilot: Pilot[Any]) -> None:
    from pilothouse.console.screens.service import ServiceScreen

    await open_from_fleet(pilot, "demo-k8s", "prod/api", "enter", ServiceScreen, "rollback")


async def placement(pilot: Pilot[Any]) -> None:
    from pilothouse.console.screens.placement import PlacementScreen

    await open_from_fleet(pilot, "demo-swarm", "shop_api", "p", PlacementScreen, "next_cluster")


async def nodes(pilot: Pilot[Any]) -> None:
    """demo-k8s's nodes: the NotReady one first."""
    from pilothouse.console.screens.nodes import NodesScreen

    await open_from_fleet(pilot, "demo-k8s", "prod/api", "n", NodesScreen, "next_cluster")


async def networks(pilot: Pilot[Any]) -> None:
    """demo-k8s's Services: the one selecting nothing and the one with an endpoint not ready first."""
    from pilothouse.console.screens.networks import NetworksScreen

    await open_from_fleet(pilot, "demo-k8s", "prod/api", "N", NetworksScreen, "next_cluster")


async def help_screen(pilot: Pilot[Any]) -> None:
    app = await fleet_loaded(pilot)
    await pilot.press("question_mark")
    await wait_for(pilot, lambda: app.screen.id == "help", "help screen")


async def doctor(pilot: Pilot[Any]) -> None:
    from pilothouse.console.screens.doctor import DoctorScreen

    app = await fleet_loaded(pilot)
    await pilot.press("d")
    await wait_for(pilot, lambda: isinstance(app.screen, DoctorScreen) and app.screen.table.row_count > 0,
                   "doctor screen")


async def events(pilot: Pilot[Any]) -> None:
    from pilothouse.console.screens.events import EventsScreen

    app = await fleet_loaded(pilot)
    await pilot.press("e")
    await wait_for(pilot, lambda: isinstance(app.screen, EventsScreen) and app.screen.loaded
                   and app.screen.table.row_count > 0, "events screen")


async def logs(pilot: Pilot[Any]) -> None:
    """payments' logs (a frozen demo's stream stops after its tail), searched for "error", at the second match."""
    from pilothouse.console.screens.logs import LogScreen

    app = await fleet_loaded(pilot)
    await select(pilot, "demo-swarm", "shop_payments")
    await pilot.press("l")
    await wait_for(pilot, lambda: isinstance(app.screen, LogScreen) and app.screen.view.line_count >= 200,
                   "log screen")
    await pilot.press("slash", *"error", "enter")
    await pilot.press("n")


Scene = Callable[[Pilot[Any]], Awaitable[None]]

# The main screens: the snapshot tests picture each of them.
SCENES: dict[str, Scene] = {
    "fleet": fleet,
    "placement": placement,
    "nodes": nodes,
    "networks": networks,
    "service": service,
    "doctor": doctor,
    "events": events,
    "help": help_screen,
}
# The README's screenshots, in the order it shows them.
README_SCENES: dict[str, Scene] = {**SCENES, "logs": logs}
