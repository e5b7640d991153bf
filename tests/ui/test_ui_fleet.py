"""Fleet screen: every service, cluster headers, in-place updates, filter, sort, drill down, placement."""

from __future__ import annotations

import dataclasses
import gc
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from ui_support import SMALL, WIDE, cluster_of, find_service, running_app, screen_text, wait_until

from pilothouse.console.app import ClusterUpdated, PilothouseApp, SnapshotWaiting
from pilothouse.console.screens.fleet import FleetScreen, row_key
from pilothouse.console.screens.placement import PlacementScreen
from pilothouse.console.screens.service import ServiceScreen
from pilothouse.providers.model import ConnectionState, RolloutState
from pilothouse.widgets.diff_table import DiffTable
from pilothouse.widgets.footer import KeyFooter


def fleet_table(app: PilothouseApp) -> DiffTable:
    screen = app.screen
    assert isinstance(screen, FleetScreen)
    return screen.table


async def move_to(app: PilothouseApp, pilot: Pilot[Any], cluster: str, ref: str) -> None:
    service = find_service(app, cluster, ref)
    assert fleet_table(app).move_to_key(row_key(cluster, service.id))
    await pilot.pause()


async def test_fleet_lists_every_service_of_every_cluster(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, _pilot):
        table = fleet_table(app)
        expected = {row_key(cluster.name, service.id) for cluster, service in app.state.services()}
        assert len(expected) >= 24
        assert set(table.keys) == expected
        header = screen_text(app)
        for name in ("demo-swarm", "demo-k8s", "demo-ecs"):
            assert name in header
        assert "DEMO" in header and "connected" in header
        # The rollout in progress is drawn as a bar with its count and state.
        api = find_service(app, "demo-k8s", "prod/api")
        assert api.rollout.state is RolloutState.UPDATING
        rollout_cell = table.row_cells(row_key("demo-k8s", api.id))[-1].plain()
        assert "█" in rollout_cell and f"{api.rollout.updated}/{api.rollout.total}" in rollout_cell
        assert "updating" in rollout_cell


async def test_rows_update_in_place_and_stale_clusters_stay(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot):
        table = fleet_table(app)
        cluster = cluster_of(app, "demo-ecs")
        web = find_service(app, "demo-ecs", "web")
        key = row_key(cluster.name, web.id)
        row_object = table.rows[next(row for row in table.rows if row.value == key)]
        app.stop_refreshers()  # only our hand-made snapshots from here on
        changed = dataclasses.replace(web, running=web.running - 1)
        services = tuple(changed if service.id == web.id else service for service in cluster.services)
        app.post_message(ClusterUpdated(dataclasses.replace(cluster, services=services)))
        await wait_until(pilot, lambda: table.row_cells(key)[5].plain().startswith(f"{web.running - 1}/"),
                         what="the running count to change in place")
        # Same row object: updated by key, not cleared and refilled.
        assert table.rows[next(row for row in table.rows if row.value == key)] is row_object

        stale = dataclasses.replace(cluster_of(app, "demo-ecs"), state=ConnectionState.UNREACHABLE,
                                    error="connection refused")
        app.post_message(ClusterUpdated(stale))
        await wait_until(pilot, lambda: table.row_cells(key)[1].plain().startswith("✗"), what="stale marker")
        assert len([k for k in table.keys if k.startswith("demo-ecs")]) == len(cluster.services)
        header = screen_text(app)
        assert "stale" in header and "connection refused" in header


async def test_filter_narrows_and_escape_restores(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot):
        table = fleet_table(app)
        total = table.row_count
        await pilot.press("slash")
        await pilot.press(*"payments")
        await wait_until(pilot, lambda: table.row_count == 3, what="three payments rows")
        assert all("payments" in table.row_cells(key)[3].plain() for key in table.keys)
        await pilot.press("space", *"k8s")
        await wait_until(pilot, lambda: table.row_count == 1, what="only demo-k8s payments")
        await pilot.press("enter")  # keep the filter, back to the table
        assert app.focused is table
        await pilot.press("escape")
        await wait_until(pilot, lambda: table.row_count == total, what="all rows back")


async def test_sort_by_column(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot):
        table = fleet_table(app)
        assert table.sort_column == 0  # problems first, from the start
        for _ in range(6):  # to the health column (index 6)
            await pilot.press("o")
        assert table.sort_column == 6
        unhealthy = [table.row_cells(key)[6].sort[0] for key in table.keys]
        assert unhealthy == sorted(unhealthy)
        assert "✗" in table.row_cells(table.keys[0])[6].plain()  # the failing service comes first
        await pilot.press("o")  # doctor findings: the most first
        counts = [int(table.row_cells(key)[7].plain().replace("-", "0")) for key in table.keys]
        assert counts == sorted(counts, reverse=True) and counts[0] > 0
        await pilot.press("o")  # rollout: the one updating comes first
        assert "updating" in table.row_cells(table.keys[0])[8].plain()


async def test_drill_down_and_back(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot):
        await move_to(app, pilot, "demo-swarm", "shop_payments")
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ServiceScreen), what="service screen")
        screen = app.screen
        service = find_service(app, "demo-swarm", "shop_payments")
        tasks = screen.query_one(DiffTable)
        await wait_until(pilot, lambda: tasks.row_count == len(service.tasks), what="task rows")
        errors = [tasks.row_cells(task.id)[-1].plain() for task in service.tasks if task.error]
        assert any("unhealthy" in error or "health check failed" in error for error in errors)
        summary = screen_text(app)
        assert "shop_payments" in summary and "rollout" in summary and "policy" in summary
        # Secret-looking env values are masked.
        assert "demo-not-a-real-key" not in summary
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, FleetScreen), what="back on the fleet")


async def test_placement_grid(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot):
        await move_to(app, pilot, "demo-swarm", "shop_api")
        await pilot.press("p")
        await wait_until(pilot, lambda: isinstance(app.screen, PlacementScreen), what="placement screen")
        cluster = cluster_of(app, "demo-swarm")
        grid = app.screen.query_one(DiffTable)
        await wait_until(pilot, lambda: grid.row_count >= len(cluster.nodes), what="one row per node")
        states = {grid.row_cells(node.id)[1].plain() for node in cluster.nodes}
        assert "Down" in states  # the demo's third node is down at this moment, in Swarm's word
        api = find_service(app, "demo-swarm", "shop_api")
        assert grid.table_columns[2].key == api.id  # the selected service comes first
        counted = 0
        for key in grid.keys:
            text = grid.row_cells(key)[2].plain()
            counted += sum(int(part[1:]) for part in text.split() if part[:1] in "✓✗~")
        assert counted == sum(1 for task in api.tasks if task.desired_state.value == "running")
        await pilot.press("c")  # next cluster
        await wait_until(pilot, lambda: "demo-k8s" in screen_text(app),
                         what="next cluster")


async def test_small_terminal_shows_every_column(tmp_path: Path) -> None:
    async with running_app(tmp_path, size=SMALL) as (app, pilot):
        table = fleet_table(app)
        total = sum(column.width or 0 for column in table.table_columns) + 2 * len(table.table_columns)
        assert total <= SMALL[0]
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ServiceScreen), what="service screen at 80x24")


@pytest.mark.parametrize(("size", "compact"), [(SMALL, True), (WIDE, False)])
async def test_footer_fits_the_fleet_keys_in_80_columns(tmp_path: Path, size: tuple[int, int],
                                                        compact: bool) -> None:
    async with running_app(tmp_path, size=size) as (app, pilot):
        footer = app.screen.query_one(KeyFooter)
        await wait_until(pilot, lambda: footer.compact is compact, what="footer density for the width")
        # Every key of the fleet screen (no scale keys on the first row: a global service) is on screen.
        wanted = ("⏎ Open", "p Placement", "/ Filter", "l Logs", "d Doctor", "e Events", "q Quit")
        await wait_until(pilot, lambda: all(key in screen_text(app).splitlines()[-1] for key in wanted),
                         what=f"every fleet key in the footer at {size}")


async def test_returning_to_the_fleet_keeps_its_footer_when_its_keys_are_the_same(tmp_path: Path) -> None:
    """Textual recomposes a footer (a widget per key) on every refresh of the bindings; back on the fleet with the
    same keys offered, the footer's widgets are the ones already there (an event storm's escape paid 40 ms)."""
    async with running_app(tmp_path, size=WIDE) as (app, pilot):
        footer = app.screen.query_one(KeyFooter)
        await wait_until(pilot, lambda: "⏎ Open" in screen_text(app).splitlines()[-1], what="the fleet's footer")
        keys = list(footer.children)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ServiceScreen), what="service screen")
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, FleetScreen), what="the fleet again")
        await pilot.pause()
        assert "⏎ Open" in screen_text(app).splitlines()[-1]
        assert list(footer.children) == keys and all(a is b for a, b in zip(footer.children, keys, strict=True))


async def test_help_lists_keys(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot):
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: app.screen.id == "help", what="help screen")
        text = screen_text(app)
        for words in ("Scale", "Roll back", "Filter", "Placement", "Quit"):
            assert words in text, words
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, FleetScreen), what="help closed")


async def test_snapshots_handed_over_faster_than_applied_wait_once_and_the_newest_wins(tmp_path: Path) -> None:
    """An event storm: a refresher hands over snapshots faster than the UI applies them. One message per
    cluster waits in the queue; what it applies is the newest snapshot, and the ones it replaced never are."""
    async with running_app(tmp_path) as (app, pilot):
        table = fleet_table(app)
        app.stop_refreshers()
        await pilot.pause()
        cluster = cluster_of(app, "demo-ecs")
        web = find_service(app, "demo-ecs", "web")
        key = row_key(cluster.name, web.id)
        applied: list[int] = []
        original = app.state.update

        def counting_update(snapshot: Any, *args: Any, **kwargs: Any) -> None:
            if snapshot.name == "demo-ecs":
                applied.append(next(s.running for s in snapshot.services if s.id == web.id))
            original(snapshot, *args, **kwargs)

        app.state.update = counting_update  # type: ignore[method-assign, assignment]
        posted: list[SnapshotWaiting] = []
        post = app.post_message

        def counting_post(message: Any) -> bool:
            if isinstance(message, SnapshotWaiting):
                posted.append(message)
            return post(message)

        app.post_message = counting_post  # type: ignore[method-assign]
        # Handed over from this (the UI) thread, so none is applied before the last one is in.
        for running in (1, 2, 3, 4, 5):
            changed = dataclasses.replace(web, running=running)
            services = tuple(changed if s.id == web.id else s for s in cluster.services)
            app.hand_over(ClusterUpdated(dataclasses.replace(cluster, services=services)))
        await wait_until(pilot, lambda: table.row_cells(key)[5].plain().startswith("5/"),
                         what="the newest snapshot on screen")
        await pilot.pause()
        assert len(posted) == 1
        assert applied == [5]
        # Nothing keeps a superseded snapshot alive beside the current one (Textual holds the last message).
        # The app freezes what is alive after each snapshot (console/collector.py): frozen objects are neither
        # listed nor collected, so they go back first.
        gc.unfreeze()
        gc.collect()
        assert [message for message in gc.get_objects() if isinstance(message, ClusterUpdated)] == []
