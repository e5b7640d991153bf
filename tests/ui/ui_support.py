"""Helpers for the Pilot tests: they drive the real app on the frozen demo fleet (real DemoProvider,
real refresher threads). tests/conftest.py already isolates config and state dirs per test."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from drawn import screen_text as screen_text
from textual.pilot import Pilot
from toasts import toasts

from pilothouse.console.app import PilothouseApp
from pilothouse.console.config import AppConfig, demo_config
from pilothouse.console.fleet import Fleet
from pilothouse.providers.model import Cluster, Service
from pilothouse.widgets.diff_table import DiffTable

if TYPE_CHECKING:
    from pilothouse.console.screens.service import ServiceScreen

# 12 s into the scenario: the api rollout is part way, the third node is down and its tasks are starting elsewhere.
FROZEN_AT = 12.0
WIDE = (120, 40)
SMALL = (80, 24)


async def wait_until(pilot: Pilot[Any], predicate: Callable[[], object], timeout: float = 10.0,
                     what: str = "condition") -> None:
    """Let the app run until `predicate()` is true; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await pilot.pause(0.02)


def make_config(tmp_path: Path, keymap: Mapping[str, str] | None = None, readonly: bool = False) -> AppConfig:
    config = demo_config(frozen_at=FROZEN_AT)
    return dataclasses.replace(config, keymap=dict(keymap or {}), readonly=readonly,
                               audit_log=tmp_path / "audit.jsonl")


@asynccontextmanager
async def running_app(tmp_path: Path, *, size: tuple[int, int] = WIDE, keymap: Mapping[str, str] | None = None,
                      readonly: bool = False, refresh: bool = True,
                      configure: Callable[[AppConfig], AppConfig] | None = None,
                      prepare: Callable[[Fleet], None] | None = None,
                      ) -> AsyncIterator[tuple[PilothouseApp, Pilot[Any]]]:
    """The real app on the frozen demo; `configure` adjusts the config, `prepare` the fleet (test providers)."""
    config = make_config(tmp_path, keymap, readonly)
    if configure is not None:
        config = configure(config)
    fleet = Fleet(config, readonly=readonly)
    if prepare is not None:
        prepare(fleet)
    app = PilothouseApp(fleet, config, refresh=refresh)
    async with app.run_test(size=size, notifications=True) as pilot:
        if refresh:
            await wait_until(pilot, lambda: all(cluster.services for cluster in app.state.clusters.values()),
                             what="the first snapshot of every cluster")
            await wait_until(pilot, lambda: app.screen.query_one("#fleet-table", DiffTable).row_count > 0,
                             what="fleet rows")
        yield app, pilot


def footer_keys(app: PilothouseApp) -> dict[str, str]:
    """action -> key as the footer shows them now."""
    # FooterKey lives in a private module; its type name selects it and action/key_display are public fields.
    shown: list[Any] = list(app.screen.query("FooterKey"))
    return {key.action: key.key_display for key in shown}


def notifications(app: PilothouseApp) -> list[str]:
    return [notification.message for notification in toasts(app)]


def find_service(app: PilothouseApp, cluster: str, name: str) -> Service:
    """A demo service by name or ref (refs differ per kind: shop_api, prod/api)."""
    snapshot = app.state.get(cluster)
    assert snapshot is not None, cluster
    found = next((service for service in snapshot.services if name in (service.ref, service.name)), None)
    assert found is not None, f"{cluster} has no service {name!r}"
    return found


def cluster_of(app: PilothouseApp, name: str) -> Cluster:
    found = app.state.get(name)
    assert found is not None, name
    return found


async def select_service(app: PilothouseApp, pilot: Pilot[Any], cluster: str, ref: str) -> Service:
    """Put the fleet table's cursor on a demo service (by name or ref)."""
    from pilothouse.console.screens.fleet import FleetScreen, row_key

    service = find_service(app, cluster, ref)
    fleet = app.screen
    assert isinstance(fleet, FleetScreen)
    assert fleet.table.move_to_key(row_key(cluster, service.id))
    await pilot.pause()
    return service


async def open_service(app: PilothouseApp, pilot: Pilot[Any], cluster: str, ref: str) -> ServiceScreen:
    """From the fleet, the service screen of a demo service, with all its tasks drawn."""
    from pilothouse.console.screens.service import ServiceScreen

    service = await select_service(app, pilot, cluster, ref)
    await pilot.press("enter")
    await wait_until(pilot, lambda: isinstance(app.screen, ServiceScreen)
                     and app.screen.query_one(DiffTable).row_count == len(service.tasks), what="service screen")
    screen = app.screen
    assert isinstance(screen, ServiceScreen)
    return screen


def audit_lines(tmp_path: Path) -> list[dict[str, Any]]:
    """The audit log of a running_app(tmp_path), one dict per line ([] before the first)."""
    path = tmp_path / "audit.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
