"""Fleet, problems first (issue 14): the default order, the attention-only filter, the toggle back to the
configured order, reverse sort and the one-line summary naming the worst, on the frozen demo fleet."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from ui_support import SMALL, cluster_of, find_service, running_app, screen_text, wait_until

from pilothouse.console.app import ClusterUpdated, PilothouseApp
from pilothouse.console.screens.fleet import ATTN_COLUMN, CLUSTER_COLUMN, FleetScreen, row_key
from pilothouse.providers.model import Rollout, RolloutState
from pilothouse.widgets.diff_table import DiffTable


def fleet(app: PilothouseApp) -> FleetScreen:
    screen = app.screen
    assert isinstance(screen, FleetScreen)
    return screen


def levels(app: PilothouseApp, table: DiffTable) -> list[int]:
    """The attention rank of each row, in display order."""
    return [table.row_cells(key)[ATTN_COLUMN].sort[0] for key in table.keys]


def config_order(app: PilothouseApp) -> list[str]:
    """Clusters as configured, each one's services by namespace and name."""
    position = {name: index for index, name in enumerate(app.state.clusters)}
    every = sorted(app.state.services(), key=lambda item: (position[item[0].name], item[1].namespace, item[1].ref))
    return [row_key(cluster.name, service.id) for cluster, service in every]


async def test_problems_come_first_by_default(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, _pilot):
        table = fleet(app).table
        ranks = levels(app, table)
        assert ranks == sorted(ranks) and ranks[0] < 2 and ranks[-1] == 2
        needing = app.state.needing_attention()
        assert needing and table.keys[0] == row_key(needing[0][0].name, needing[0][1].id)
        # Within a level, the configured order.
        order = {key: index for index, key in enumerate(config_order(app))}
        for rank in set(ranks):
            same = [key for key in table.keys if table.row_cells(key)[ATTN_COLUMN].sort[0] == rank]
            assert same == sorted(same, key=order.__getitem__)
        # The level as a word too (NO_COLOR), and the sort marker on the ATTN column.
        text = screen_text(app)
        assert "▲ATTN" in text and ("✗ crit" in text or "! warn" in text)
        assert "sorted by attn, needing attention first" in text


async def test_the_toggle_goes_back_to_the_configured_order_and_returns(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot):
        table = fleet(app).table
        assert table.keys != config_order(app), "the demo's problems are not first in config order: proves nothing"
        await pilot.press("t")
        await wait_until(pilot, lambda: table.sort_column == CLUSTER_COLUMN, what="the configured order")
        assert table.keys == config_order(app)
        assert "sorted by cluster, config order" in screen_text(app)
        await pilot.press("t")
        await wait_until(pilot, lambda: table.sort_column == ATTN_COLUMN, what="problems first again")
        assert levels(app, table) == sorted(levels(app, table))


async def test_reverse_sort(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot):
        table = fleet(app).table
        await pilot.press("O")
        await wait_until(pilot, lambda: table.sort_reverse, what="reversed")
        assert levels(app, table) == sorted(levels(app, table), reverse=True)
        await wait_until(pilot, lambda: "▼ATTN" in screen_text(app), what="the reversed marker")
        assert "needing attention last" in screen_text(app)
        await pilot.press("O")
        await wait_until(pilot, lambda: not table.sort_reverse, what="back")
        assert levels(app, table) == sorted(levels(app, table))


async def test_attention_only_shows_those_needing_it(tmp_path: Path) -> None:
    async with running_app(tmp_path, size=SMALL) as (app, pilot):
        table = fleet(app).table
        total = table.row_count
        needing = {row_key(cluster.name, service.id) for cluster, service, _ in app.state.needing_attention()}
        assert 0 < len(needing) < total
        await pilot.press("a")
        await wait_until(pilot, lambda: set(table.keys) == needing, what="only the services needing attention")
        assert table.cursor_key == table.keys[0]
        assert "needing attention only" in screen_text(app)
        await pilot.press("a")
        await wait_until(pilot, lambda: table.row_count == total, what="every service again")


async def test_the_summary_names_the_worst_and_rows_update_in_place(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot):
        table = fleet(app).table
        cluster = cluster_of(app, "demo-swarm")
        web = find_service(app, "demo-swarm", "monitoring_node-exporter")
        assert not app.state.attention_of(cluster.name, web.id).needed
        key = row_key(cluster.name, web.id)
        assert table.row_cells(key)[ATTN_COLUMN].plain() == "-"
        row_object = table.rows[next(row for row in table.rows if row.value == key)]
        app.stop_refreshers()  # only our hand-made snapshot from here on
        failed = dataclasses.replace(web, rollout=Rollout(
            state=RolloutState.FAILED, updated=1, total=7, message="exceeded its progress deadline"))
        services = tuple(failed if service.id == web.id else service for service in cluster.services)
        app.post_message(ClusterUpdated(dataclasses.replace(cluster, services=services)))
        await wait_until(pilot, lambda: table.row_cells(key)[ATTN_COLUMN].plain() == "✗ crit", what="critical")
        # Updated by key and moved up, not cleared and refilled.
        assert table.rows[next(row for row in table.rows if row.value == key)] is row_object
        assert table.keys.index(key) < table.keys.index(row_key("demo-swarm", find_service(app, "demo-swarm",
                                                                                            "shop_auth").id))
        summary = next(line for line in screen_text(app).splitlines() if "need attention:" in line)
        # The first of the critical ones in the fleet's order (its namespace sorts before shop).
        assert web.namespace < "shop"
        assert f"✗ demo-swarm/{web.ref} rollout failed · " in summary
        needing = app.state.needing_attention()
        assert summary.lstrip().startswith(f"✗ {len(needing)} need attention: ✗ ")



async def test_placement_puts_troubled_nodes_and_services_first(tmp_path: Path) -> None:
    from pilothouse.console.screens.placement import PlacementScreen
    from pilothouse.providers.model import NodeStatus

    async with running_app(tmp_path) as (app, pilot):
        fleet(app).table.move_to_key(row_key("demo-swarm", find_service(app, "demo-swarm", "shop_web").id))
        await pilot.press("p")
        await wait_until(pilot, lambda: isinstance(app.screen, PlacementScreen), what="placement")
        cluster = cluster_of(app, "demo-swarm")
        grid = app.screen.query_one(DiffTable)
        await wait_until(pilot, lambda: grid.row_count >= len(cluster.nodes), what="node rows")
        down = [node.id for node in cluster.nodes if node.status is NodeStatus.DOWN]
        assert down and cluster.nodes[0].id not in down, "the demo's down node is not its first: proves nothing"
        assert grid.keys[0] == down[0]
        # After the focused service, the ones needing attention, worst first.
        columns = [column.key for column in grid.table_columns[2:]]
        assert columns[0] == find_service(app, "demo-swarm", "shop_web").id
        ranks = [app.state.attention_of("demo-swarm", service_id).level.rank for service_id in columns[1:]]
        assert ranks == sorted(ranks) and ranks[0] < ranks[-1]


async def test_a_cluster_that_cannot_be_judged_is_named_not_counted_as_fine(tmp_path: Path) -> None:
    from pilothouse.providers.model import ConnectionState

    async with running_app(tmp_path, size=SMALL) as (app, pilot):
        app.stop_refreshers()
        for name in list(app.state.clusters):
            cluster = cluster_of(app, name)
            app.post_message(ClusterUpdated(dataclasses.replace(cluster, services=())))
        stale = dataclasses.replace(cluster_of(app, "demo-ecs"), services=(), state=ConnectionState.UNREACHABLE,
                                    error="down")
        app.post_message(ClusterUpdated(stale))

        def attention_line() -> str:
            return next((line for line in screen_text(app).splitlines() if "attention" in line), "")

        await wait_until(pilot, lambda: "demo-ecs (unreachable)" in attention_line(), what="the unjudged cluster")
        assert attention_line().lstrip().startswith("? cannot judge demo-ecs (unreachable) · ✓ nothing needs")


async def test_the_new_keys_remap(tmp_path: Path) -> None:
    keymap = {"problems_first": "x", "attention_only": "z", "sort_reverse": "v"}
    async with running_app(tmp_path, keymap=keymap, size=(200, 40)) as (app, pilot):
        table = fleet(app).table
        await pilot.press("x")
        await wait_until(pilot, lambda: table.sort_column == CLUSTER_COLUMN, what="x: the configured order")
        await pilot.press("v")
        await wait_until(pilot, lambda: table.sort_reverse, what="v: reversed")
        await pilot.press("z")
        await wait_until(pilot, lambda: fleet(app).attention_only, what="z: attention only")
        assert "x: problems first" in screen_text(app) and "z: all services" in screen_text(app)


async def test_the_service_screen_says_why_it_needs_attention(tmp_path: Path) -> None:
    from ui_support import open_service

    async with running_app(tmp_path) as (app, pilot):
        screen = await open_service(app, pilot, "demo-swarm", "shop_payments")
        payments = find_service(app, "demo-swarm", "shop_payments")
        attention = app.state.attention_of("demo-swarm", payments.id)
        assert attention.needed
        line = next(line for line in screen_text(app).splitlines() if line.lstrip().startswith("attention "))
        assert f"{attention.level.symbol} {attention.level.value}: {attention.texts()[0][:40]}" in line
        assert screen.service_id == payments.id
