"""Render the README screenshots from the frozen demo fleet: `python screenshots/generate.py`.

The demo clock is pinned 12 s into its scenario, so the api rollout is part way, one node is down
and its tasks are starting elsewhere, and payments has a task failing its health check. The output
is the same on every run; regenerate on purpose when a screen changes, and review the diff.

Two things are pinned here as well: the audit log holds two fixed entries (the console's own actions
on the events screen), and a frozen demo's log stream stops after its tail instead of adding a line
a second, so the log screen does not depend on how fast the machine takes the picture.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

FROZEN_AT = 12.0
SIZE = (120, 34)


async def wait_for(pilot: Any, predicate: Callable[[], object], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit(f"generate.py: timed out waiting for {what}")
        await pilot.pause(0.05)


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


def footer_offers(app: Any, action: str) -> bool:
    # FooterKey lives in a private module; its type name selects it and `action` is a public field.
    return any(getattr(key, "action", None) == action for key in app.screen.query("FooterKey"))


async def render(out: Path, scratch: Path) -> list[Path]:

    from pilothouse.console.app import PilothouseApp
    from pilothouse.console.config import demo_config
    from pilothouse.console.fleet import Fleet
    from pilothouse.console.screens.doctor import DoctorScreen
    from pilothouse.console.screens.events import EventsScreen
    from pilothouse.console.screens.fleet import FleetScreen, row_key
    from pilothouse.console.screens.logs import LogScreen
    from pilothouse.console.screens.placement import PlacementScreen
    from pilothouse.console.screens.service import ServiceScreen
    from pilothouse.widgets.diff_table import DiffTable

    audit = scratch / "audit.jsonl"
    write_audit(audit)
    config = dataclasses.replace(demo_config(frozen_at=FROZEN_AT), audit_log=audit)
    demo_fleet = Fleet(config)
    app = PilothouseApp(demo_fleet, config)
    written: list[Path] = []

    def shot(name: str) -> None:
        written.append(Path(app.save_screenshot(f"{name}.svg", str(out))))

    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: all(c.services for c in app.state.clusters.values()), "every cluster")
        fleet = app.screen
        assert isinstance(fleet, FleetScreen)
        await wait_for(pilot, lambda: fleet.table.row_count > 0, "fleet rows")
        api = app.state.clusters["demo-k8s"].service("prod/api")
        assert api is not None
        fleet.table.move_to_key(row_key("demo-k8s", api.id))
        await wait_for(pilot, lambda: footer_offers(app, "scale"), "the footer to offer scale")
        await pilot.pause(0.2)
        shot("fleet")

        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ServiceScreen)
                       and app.screen.query_one(DiffTable).row_count > 0, "service screen")
        await wait_for(pilot, lambda: footer_offers(app, "rollback"), "the service footer")
        await pilot.pause(0.2)
        shot("service")

        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, FleetScreen), "fleet again")
        swarm_api = app.state.clusters["demo-swarm"].service("shop_api")
        assert swarm_api is not None
        fleet.table.move_to_key(row_key("demo-swarm", swarm_api.id))
        await pilot.pause()
        await pilot.press("p")
        await wait_for(pilot, lambda: isinstance(app.screen, PlacementScreen)
                       and app.screen.query_one(DiffTable).row_count > 0, "placement screen")
        await wait_for(pilot, lambda: footer_offers(app, "next_cluster"), "the placement footer")
        await pilot.pause(0.2)
        shot("placement")

        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, FleetScreen), "fleet again")
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: app.screen.id == "help", "help screen")
        await pilot.pause(0.2)
        shot("help")

        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, FleetScreen), "fleet again")
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, DoctorScreen)
                       and app.screen.table.row_count > 0, "doctor screen")
        await pilot.pause(0.2)
        shot("doctor")

        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, FleetScreen), "fleet again")
        await pilot.press("e")
        await wait_for(pilot, lambda: isinstance(app.screen, EventsScreen) and app.screen.loaded
                       and app.screen.table.row_count > 0, "events screen")
        await pilot.pause(0.2)
        shot("events")

        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, FleetScreen), "fleet again")
        payments = app.state.clusters["demo-swarm"].service("shop_payments")
        assert payments is not None
        fleet_screen = app.screen
        assert isinstance(fleet_screen, FleetScreen)
        fleet_screen.table.move_to_key(row_key("demo-swarm", payments.id))
        await pilot.pause()
        await pilot.press("l")
        await wait_for(pilot, lambda: isinstance(app.screen, LogScreen) and app.screen.view.line_count >= 200,
                       "log screen")
        await pilot.press("slash", *"error", "enter")
        await pilot.press("n")
        await pilot.pause(0.2)
        shot("logs")
        await pilot.press("escape")
    return written


def main() -> int:
    # Screenshots must not depend on, or write to, the developer's own config and state.
    with tempfile.TemporaryDirectory() as scratch:
        os.environ["XDG_CONFIG_HOME"] = str(Path(scratch) / "config")
        os.environ["XDG_STATE_HOME"] = str(Path(scratch) / "state")
        os.environ.pop("PILOTHOUSE_CONFIG", None)
        for path in asyncio.run(render(HERE, Path(scratch))):
            print(path.relative_to(HERE.parent))
    return 0


if __name__ == "__main__":
    sys.exit(main())
