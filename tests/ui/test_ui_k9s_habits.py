"""k9s habits: the `:` command line (each command, completion, an unknown command, :q), j/k/g/G in the tables
and the logs, a short hint for a key that does nothing, and help listing the current screen's keys first."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.pilot import Pilot
from textual.widgets import Input, Static
from ui_support import notifications, running_app, wait_until

from pilothouse.console.app import PilothouseApp
from pilothouse.console.screens.command_line import CommandLineScreen
from pilothouse.console.screens.doctor import DoctorScreen
from pilothouse.console.screens.events import EventsScreen
from pilothouse.console.screens.fleet import FleetScreen
from pilothouse.console.screens.help import HelpScreen
from pilothouse.console.screens.nodes import NodesScreen
from pilothouse.console.screens.placement import PlacementScreen
from pilothouse.widgets.diff_table import DiffTable


async def command(app: PilothouseApp, pilot: Pilot[Any], line: str) -> CommandLineScreen:
    """Open the command line with ':' and type the line and enter; returns the command line screen."""
    await pilot.press("colon")
    await wait_until(pilot, lambda: isinstance(app.screen, CommandLineScreen), what="the command line")
    screen = app.screen
    assert isinstance(screen, CommandLineScreen)
    screen.field.value = line
    await pilot.press("enter")
    await pilot.pause()
    return screen


def fleet_of(app: PilothouseApp) -> FleetScreen:
    fleet = app.screen_stack[1]
    assert isinstance(fleet, FleetScreen)
    return fleet


def shown_keys(fleet: FleetScreen) -> set[str]:
    return {str(key.value) for key in fleet.table.rows}


def fleet_clusters(fleet: FleetScreen) -> set[str]:
    return {key.split("\x1f")[0] for key in shown_keys(fleet)}


async def test_colon_commands_open_screens_and_scope_the_fleet(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot):
        await command(app, pilot, "events")
        await wait_until(pilot, lambda: isinstance(app.screen, EventsScreen), what=":events")
        await command(app, pilot, "doctor demo-k8s")
        await wait_until(pilot, lambda: isinstance(app.screen, DoctorScreen), what=":doctor NAME")
        assert isinstance(app.screen, DoctorScreen) and app.screen.cluster_filter == "demo-k8s"
        # :nodes opens the cluster in view (the doctor's)
        await command(app, pilot, "nodes")
        await wait_until(pilot, lambda: isinstance(app.screen, NodesScreen), what=":nodes")
        assert isinstance(app.screen, NodesScreen) and app.screen.cluster_name == "demo-k8s"
        await command(app, pilot, "placement demo-ecs")
        await wait_until(pilot, lambda: isinstance(app.screen, PlacementScreen), what=":placement NAME")
        # :cluster goes back to the fleet, narrowed to that cluster
        await command(app, pilot, "cluster demo-swarm")
        await wait_until(pilot, lambda: isinstance(app.screen, FleetScreen), what="back to the fleet")
        fleet = fleet_of(app)
        await wait_until(pilot, lambda: fleet_clusters(fleet) == {"demo-swarm"}, what="one cluster shown")
        # :ns narrows to one namespace/stack of the demo
        namespace = next(service.namespace for service in app.state.clusters["demo-k8s"].services)
        await command(app, pilot, "cluster")
        await command(app, pilot, f"ns {namespace}")
        await wait_until(pilot, lambda: fleet.scope_namespace == namespace and fleet.scope_cluster is None,
                         what=":ns")
        assert fleet.table.row_count and all(
            service.namespace == namespace for cluster in app.state.ordered() for service in cluster.services
            if f"{cluster.name}\x1f{service.id}" in shown_keys(fleet))
        await command(app, pilot, "fleet")
        await wait_until(pilot, lambda: fleet.scope_namespace is None, what=":fleet clears the scope")


async def test_unknown_command_and_unknown_name_are_one_line_and_keep_the_field(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot):
        screen = await command(app, pilot, "bogus")
        hint = screen.query_one("#command-hint", Static)
        assert isinstance(app.screen, CommandLineScreen)
        assert "unknown command ':bogus'" in str(hint.render()) and "\n" not in str(hint.render())
        assert hint.has_class("error")
        screen.field.value = "cluster nope"
        await pilot.press("enter")
        await pilot.pause()
        assert "no cluster 'nope'" in str(hint.render())
        assert isinstance(app.screen, CommandLineScreen)
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, FleetScreen), what="escape closes it")


async def test_tab_completes_commands_then_names(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot):
        await pilot.press("colon")
        await wait_until(pilot, lambda: isinstance(app.screen, CommandLineScreen), what="the command line")
        field = app.screen.query_one("#command-input", Input)
        await pilot.press("c", "l", "tab")
        await wait_until(pilot, lambda: field.value == "cluster ", what="the command completed")
        await pilot.press("d", "e", "m", "o", "-", "s", "tab")
        await wait_until(pilot, lambda: field.value == "cluster demo-swarm", what="the cluster completed")
        hint = str(app.screen.query_one("#command-hint", Static).render())
        assert "demo-swarm" in hint


async def test_colon_q_quits(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot):
        await command(app, pilot, "q")
        await wait_until(pilot, lambda: app.return_code == 0, what="the app exiting")


async def test_j_k_g_G_move_the_table_cursor(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot):
        table = app.screen.query_one("#fleet-table", DiffTable)
        assert table.row_count > 3
        table.move_cursor(row=0)
        await pilot.press("j", "j")
        assert table.cursor_row == 2
        await pilot.press("k")
        assert table.cursor_row == 1
        await pilot.press("G")
        assert table.cursor_row == table.row_count - 1
        await pilot.press("g")
        assert table.cursor_row == 0


async def test_an_unbound_key_says_so(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot):
        await pilot.press("z")
        await wait_until(pilot, lambda: any("'z' does nothing here" in text for text in notifications(app)),
                         what="the hint")
        hint = next(text for text in notifications(app) if "'z' does nothing here" in text)
        assert "?: keys" in hint and ":: command line" in hint
        # a bound key says nothing of the kind
        before = len(notifications(app))
        await pilot.press("o")
        await pilot.pause()
        assert not any("'o' does nothing" in text for text in notifications(app)[before:])


async def test_help_lists_the_current_screen_first(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot):
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), what="help")
        assert isinstance(app.screen, HelpScreen)
        assert [title for title, _ in app.screen.sections][:3] == [
            "Fleet", "Fleet and service: mutations (confirmed first)", "Everywhere"]
        await pilot.press("escape")
        await pilot.press("e")
        await wait_until(pilot, lambda: isinstance(app.screen, EventsScreen), what="events")
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), what="help")
        assert isinstance(app.screen, HelpScreen)
        titles = [title for title, _ in app.screen.sections]
        assert titles[:2] == ["Events", "Everywhere"]
        assert "Fleet" in titles and "Tables and logs (as in k9s and less)" in titles
