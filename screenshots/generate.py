"""Render the README screenshots from the frozen demo fleet: `python screenshots/generate.py`.

The demo clock is pinned 12 s into its scenario, so the api rollout is part way, one node is down
and its tasks are starting elsewhere, and payments has a task failing its health check. The output
is the same on every run; regenerate on purpose when a screen changes, and review the diff.
"""

from __future__ import annotations

import asyncio
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


def footer_offers(app: Any, action: str) -> bool:
    from textual.widgets._footer import FooterKey

    return any(key.action == action for key in app.screen.query(FooterKey))


async def render(out: Path) -> list[Path]:
    from console.app import PilothouseApp
    from console.config import demo_config
    from console.fleet import Fleet
    from console.screens.fleet import FleetScreen, row_key
    from console.screens.placement import PlacementScreen
    from console.screens.service import ServiceScreen
    from widgets.diff_table import DiffTable

    config = demo_config(frozen_at=FROZEN_AT)
    app = PilothouseApp(Fleet(config), config)
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
    return written


def main() -> int:
    # Screenshots must not depend on, or write to, the developer's own config and state.
    with tempfile.TemporaryDirectory() as scratch:
        os.environ["XDG_CONFIG_HOME"] = str(Path(scratch) / "config")
        os.environ["XDG_STATE_HOME"] = str(Path(scratch) / "state")
        os.environ.pop("PILOTHOUSE_CONFIG", None)
        for path in asyncio.run(render(HERE)):
            print(path.relative_to(HERE.parent))
    return 0


if __name__ == "__main__":
    sys.exit(main())
