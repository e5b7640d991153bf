"""What an operator reviewing the fleet screen asked for: the filter lands on the first match, down nodes
and read-only mode show up front, sorts say what they mean, a rollback with nothing to go back to is not
offered, refusals name the cluster, and columns use the width there is."""

from __future__ import annotations

import re
from pathlib import Path

from toasts import toasts
from ui_support import (
    SMALL,
    WIDE,
    cluster_of,
    footer_keys,
    running_app,
    screen_text,
    select_service,
    wait_until,
)

from pilothouse.console.app import PilothouseApp
from pilothouse.console.screens.fleet import (
    CELL_PADDING,
    NARROW,
    SCROLLBAR,
    fleet_columns,
    service_label,
)
from pilothouse.console.screens.fleet import (
    WIDE as WIDE_COLUMNS,
)
from pilothouse.providers.model import Service
from pilothouse.widgets.diff_table import DiffTable


def fleet_table(app: PilothouseApp) -> DiffTable:
    return app.screen.query_one("#fleet-table", DiffTable)


async def test_filtering_puts_the_cursor_on_the_first_match(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot):
        table = fleet_table(app)
        await select_service(app, pilot, "demo-ecs", "prod/web")  # far down the table
        await pilot.press("slash", *"api")
        await wait_until(pilot, lambda: table.row_count == 3, what="three api rows")
        assert table.cursor_key == table.keys[0], "the cursor stayed on the old row position"
        await pilot.press("enter")
        await pilot.press("R")  # acts on the first match, the swarm's api
        await wait_until(pilot, lambda: "demo-swarm/shop_api" in screen_text(app), what="the rollback dialog")


async def test_header_says_which_nodes_are_down_and_that_the_console_is_read_only(tmp_path: Path) -> None:
    async with running_app(tmp_path, readonly=True) as (app, _pilot):
        cluster = cluster_of(app, "demo-swarm")
        down = sum(1 for node in cluster.nodes if node.status.value != "ready")
        assert down == 1, "the frozen demo has a node down"
        header = screen_text(app).splitlines()[:3]
        assert all("READ-ONLY" in line for line in header), header
        # Each in its orchestrator's word for a node that is down.
        words = {"demo-swarm": "(1 Down)", "demo-k8s": "(1 NotReady)", "demo-ecs": "(1 INACTIVE)"}
        assert all(any(name in line and word in line for line in header) for name, word in words.items()), header


async def test_sorting_says_what_the_order_means(tmp_path: Path) -> None:
    async with running_app(tmp_path, size=SMALL) as (app, pilot):
        table = fleet_table(app)
        for _ in range(7):  # from problems first (index 0) to the doctor findings column (index 7)
            await pilot.press("o")
        assert table.sort_column == 7
        await wait_until(pilot, lambda: "sorted by doc, most findings first" in screen_text(app),
                         what="the sort described in words")
        # The marker is in front of the label, so a narrow column does not cut it off.
        assert "▲DO" in screen_text(app)


async def test_rollback_is_not_offered_when_there_is_nothing_to_roll_back_to(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot):
        service = await select_service(app, pilot, "demo-ecs", "prod/payments")
        assert service.rollback_refusal
        await wait_until(pilot, lambda: "rollback" not in footer_keys(app) and "drill_down" in footer_keys(app),
                         what="a footer without rollback")
        await pilot.press("R")
        await wait_until(pilot, lambda: any("nothing to roll back to" in toast.message for toast in toasts(app)),
                         what="the reason")
        refusal = next(toast for toast in toasts(app) if "nothing to roll back to" in toast.message)
        assert "demo-ecs/prod/payments" in refusal.title  # demo-k8s has a prod/payments too
        await select_service(app, pilot, "demo-swarm", "shop_web")  # it has a previous version
        await wait_until(pilot, lambda: "rollback" in footer_keys(app), what="rollback offered again")


def test_the_service_column_does_not_repeat_the_namespace() -> None:
    assert service_label(Service(id="d/prod/web", name="web", ref="prod/web", namespace="prod")) == "web"
    assert service_label(Service(id="s", name="shop_web", ref="shop_web", namespace="shop")) == "shop_web"
    clash = Service(id="statefulset/prod/web", name="web", ref="prod/statefulset/web", namespace="prod")
    assert service_label(clash) == "statefulset/web"


def test_columns_use_the_width_there_is() -> None:
    def total(width: int) -> int:
        columns = fleet_columns(width)
        return sum(column.width or 0 for column in columns) + CELL_PADDING * len(columns) + SCROLLBAR

    for width in (80, 90, 100, 110, 120, 140):
        assert total(width) <= width, width
    assert ({c.key: c.width for c in fleet_columns(80)}["service"] or 0) >= NARROW["service"]
    assert total(100) > total(80) + 15, "a 100-column terminal keeps the 80-column widths"
    wide = {c.key: c.width for c in fleet_columns(WIDE[0])}
    assert all(wide[key] == WIDE_COLUMNS[key] for key in WIDE_COLUMNS)


async def test_a_sort_shows_its_first_rows_when_the_cursor_fits_with_them(tmp_path: Path) -> None:
    async with running_app(tmp_path, size=SMALL) as (app, pilot):
        table = fleet_table(app)
        await pilot.press("end")
        await wait_until(pilot, lambda: table.scroll_offset.y > 0, what="scrolled to the bottom")
        for _ in range(8):
            await pilot.press("up")
        fitting = 0
        for column in range(len(table.table_columns)):  # every column's sort, from that scrolled position
            await pilot.press("o")
            after = (column + 1) % len(table.table_columns)  # from problems first, column 0

            def sorted_by(wanted: int = after) -> bool:
                return table.sort_column == wanted

            await wait_until(pilot, sorted_by, what=f"sorted by column {after}")
            await pilot.pause()
            if table.cursor_row < table.size.height - 2:  # the cursor's row fits with the first rows
                fitting += 1
                await wait_until(pilot, lambda: table.scroll_offset.y == 0, timeout=5,
                                 what=f"the first rows in view after sorting by column {column}")
        assert fitting, "no sort put the cursor's row on the first screen: the test proves nothing"


async def test_the_doctor_filter_puts_the_cursor_on_the_first_match(tmp_path: Path) -> None:
    from pilothouse.console.screens.doctor import DoctorScreen

    async with running_app(tmp_path) as (app, pilot):
        await pilot.press("d")
        await wait_until(pilot, lambda: isinstance(app.screen, DoctorScreen), what="doctor screen")
        doctor = app.screen
        assert isinstance(doctor, DoctorScreen)
        await wait_until(pilot, lambda: doctor.table.row_count > 10, what="findings")
        await pilot.press("end")
        await wait_until(pilot, lambda: doctor.table.cursor_row > 5, what="the cursor far down")
        await pilot.press("slash", *"shop_search")
        await wait_until(pilot, lambda: 1 < doctor.table.row_count < 10, what="the swarm search service's findings")
        await wait_until(pilot, lambda: doctor.table.cursor_key == doctor.table.keys[0], what="the first match")


async def test_the_log_search_counter_shows_at_80_columns(tmp_path: Path) -> None:
    from pilothouse.console.screens.logs import LogScreen

    async with running_app(tmp_path, size=SMALL) as (app, pilot):
        await select_service(app, pilot, "demo-swarm", "shop_payments")
        await pilot.press("l")
        await wait_until(pilot, lambda: isinstance(app.screen, LogScreen), what="log screen")
        logs = app.screen
        assert isinstance(logs, LogScreen)
        await wait_until(pilot, lambda: logs.view.line_count > 20, what="the tail")
        await pilot.press("w", "f")  # not wrapped, paused: the longest status line
        await pilot.press("slash", *"error", "enter")
        await wait_until(pilot, lambda: logs.match_index is not None, what="a match")
        counter = re.compile(r"/error: match \d+ of \d+ ")
        await wait_until(pilot, lambda: any(counter.search(line) for line in screen_text(app).splitlines()),
                         what="the match counter on screen")


async def test_placement_of_an_unreachable_cluster_says_so(tmp_path: Path) -> None:
    import dataclasses

    from pilothouse.console.app import ClusterUpdated
    from pilothouse.console.screens.placement import PlacementScreen
    from pilothouse.providers.model import ConnectionState

    async with running_app(tmp_path) as (app, pilot):
        app.stop_refreshers()  # the test decides what the cluster looks like
        stale = dataclasses.replace(cluster_of(app, "demo-ecs"), state=ConnectionState.UNREACHABLE,
                                    error="connection refused by 10.0.0.1:443")
        app.post_message(ClusterUpdated(stale))
        await wait_until(pilot, lambda: cluster_of(app, "demo-ecs").state is ConnectionState.UNREACHABLE,
                         what="the stale snapshot")
        await select_service(app, pilot, "demo-ecs", "prod/web")
        await pilot.press("p")
        await wait_until(pilot, lambda: isinstance(app.screen, PlacementScreen), what="placement")
        await wait_until(pilot, lambda: "unreachable (last known placement) · connection refused by 10.0.0.1:443"
                         in screen_text(app), what="the state and its reason above the grid")


async def test_the_palette_offers_no_screenshot_command(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, _pilot):
        titles = [command.title for command in app.get_system_commands(app.screen)]
        assert "Quit" in titles and "Screenshot" not in titles  # it would write an SVG into the cwd
