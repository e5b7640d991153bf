"""Reading the events timeline at 80 columns (the object names the service, enter shows an event whole, one
cluster gives its column's width to the object and message) and whole task ids on a wide service screen."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from textual.widgets import Static
from ui_support import (
    FROZEN_AT,
    SMALL,
    cluster_of,
    find_service,
    open_service,
    running_app,
    screen_text,
    wait_until,
)

from pilothouse.console.app import ClusterUpdated, PilothouseApp
from pilothouse.console.config import demo_config
from pilothouse.console.fleet import Fleet
from pilothouse.console.screens.events import EventDetailScreen, EventsScreen, events_columns, object_width
from pilothouse.console.screens.help import HelpScreen
from pilothouse.console.screens.service import MIN_ERROR, SCROLLBAR, TASK_WIDTH, task_columns
from pilothouse.providers.model import Event, Service, Task
from pilothouse.widgets.diff_table import DiffTable

LONG = ("rollback: refused: shop_payments has nothing to roll back to (the previous spec was pruned by "
        "the orchestrator's task history limit)")


async def open_events(app: PilothouseApp, pilot: Any) -> EventsScreen:
    await pilot.press("e")
    await wait_until(pilot, lambda: isinstance(app.screen, EventsScreen) and app.screen.loaded, what="events")
    events = app.screen
    assert isinstance(events, EventsScreen)
    return events


async def add_event(app: PilothouseApp, pilot: Any, events: EventsScreen, event: Event) -> None:
    cluster = cluster_of(app, event.cluster)
    app.post_message(ClusterUpdated(dataclasses.replace(cluster, events=(*cluster.events, event))))
    await wait_until(pilot, lambda: event in events.events, what="the new event")


def shop_payments_event(app: PilothouseApp, events: EventsScreen) -> Event:
    latest = max(event.time for event in events.events)
    return Event(latest + timedelta(seconds=1), "demo-swarm", "service shop_payments", "warning", LONG,
                 service_ref="shop_payments")


def column_widths(table: DiffTable) -> dict[str, int]:
    return {str(column.key.value): column.width for column in table.ordered_columns}


def plain_row(table: DiffTable, key: str) -> list[str]:
    return [cell.plain() for cell in table.row_cells(key)]


async def test_enter_shows_the_whole_event_at_80_columns(tmp_path: Path) -> None:
    async with running_app(tmp_path, size=SMALL) as (app, pilot):
        events = await open_events(app, pilot)
        app.stop_refreshers()  # only our hand-made snapshot from here on
        event = shop_payments_event(app, events)
        await add_event(app, pilot, events, event)
        table = events.table
        await wait_until(pilot, lambda: table.row_count == len(events.events), what="every event drawn")
        assert table.cursor_row == table.row_count - 1
        # The object names the service: its kind word shortened, not the name cut.
        row = plain_row(table, table.keys[-1])
        assert row[3] == "svc shop_payments"
        assert "svc shop_payments" in screen_text(app)
        # A short object keeps its kind word.
        assert any(plain_row(table, key)[3] == "service shop_api" for key in table.keys)

        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, EventDetailScreen), what="the event detail")
        detail = app.screen
        assert isinstance(detail, EventDetailScreen) and detail.shown_event == event
        words = " ".join(screen_text(app).replace("█", " ").split())
        assert "service shop_payments" in words and "demo-swarm" in words and "warning" in words
        assert " ".join(LONG.split()) in words  # wrapped, every word there
        assert str(detail.query_one("#event-detail-hint", Static).render()).strip() == "esc: close"
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is events, what="closed")


async def test_event_detail_keys_remap_and_are_in_help(tmp_path: Path) -> None:
    keymap = {"event_detail": "i", "event_detail_close": "x"}
    async with running_app(tmp_path, keymap=keymap) as (app, pilot):
        events = await open_events(app, pilot)
        await wait_until(pilot, lambda: events.table.row_count > 0, what="events drawn")
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen is events  # enter no longer opens it
        await pilot.press("i")
        await wait_until(pilot, lambda: isinstance(app.screen, EventDetailScreen), what="the detail on i")
        assert str(app.screen.query_one("#event-detail-hint", Static).render()).strip() == "x: close"
        await pilot.press("x")
        await wait_until(pilot, lambda: app.screen is events, what="closed on x")
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), what="help")
        help_screen = app.screen
        assert isinstance(help_screen, HelpScreen)
        assert {binding.id: binding.key for binding in dict(help_screen.sections)["Events"]}["event_detail"] == "i"


async def test_one_cluster_gives_the_cluster_column_to_object_and_message(tmp_path: Path) -> None:
    async with running_app(tmp_path, size=SMALL) as (app, pilot):
        events = await open_events(app, pilot)
        table = events.table
        await wait_until(pilot, lambda: table.row_count == len(events.events), what="every event drawn")
        every = column_widths(table)
        assert list(every) == ["time", "cluster", "kind", "object", "message"]
        keys = table.keys
        node = next(event.object for event in cluster_of(app, "demo-k8s").events if event.object.startswith("node"))
        assert node[:object_width(False) - 1] + "…" in screen_text(app)
        await pilot.press("c", "c")
        assert events.cluster_filter == "demo-k8s"
        await wait_until(pilot, lambda: table.row_count == len(cluster_of(app, "demo-k8s").events),
                         what="only demo-k8s")
        one = column_widths(table)
        assert list(one) == ["time", "kind", "object", "message"]
        assert one["object"] > every["object"] and one["message"] > every["message"]
        assert table.virtual_size.width <= SMALL[0] - SCROLLBAR  # nothing scrolled off to the side
        # The long node name of the k8s cluster reads further.
        shown = object_width(False, True) - 1
        await wait_until(pilot, lambda: node[:shown] + "…" in screen_text(app), what="more of the node name")
        # Back to every cluster: the same rows under the same keys.
        await pilot.press("c", "c")
        assert events.cluster_filter is None
        await wait_until(pilot, lambda: table.row_count == len(events.events), what="everything again")
        assert table.keys == keys and column_widths(table) == every


def test_events_columns_fill_the_width() -> None:
    for width in (80, 100, 120, 160):
        for one_cluster in (False, True):
            columns = events_columns(width, one_cluster)
            used = sum(column.width or 0 for column in columns) + 2 * len(columns) + SCROLLBAR
            assert used == width, (width, one_cluster)


# -- whole task ids --------------------------------------------------------------------------------


# Swarm's own columns (SLOT, CURRENT STATE) take a few cells more than the generic ones did at 120.
ROOMY = (132, 40)


async def test_task_ids_are_whole_at_132_columns(tmp_path: Path) -> None:
    async with running_app(tmp_path, size=ROOMY) as (app, pilot):
        service = find_service(app, "demo-swarm", "shop_api")
        screen = await open_service(app, pilot, "demo-swarm", "shop_api")
        table = screen.query_one(DiffTable)
        await wait_until(pilot, lambda: table.virtual_size.width > 0, what="the table laid out")
        longest = max(len(task.id) for task in service.tasks)
        assert column_widths(table)["task"] == longest > TASK_WIDTH
        text = screen_text(app)
        for task in service.tasks:
            assert table.row_cells(task.id)[0].plain() == task.id
            assert task.id in text
        # The error still takes the rest, and reads whole.
        assert table.virtual_size.width == ROOMY[0] - SCROLLBAR
        assert "node is down: task rescheduled" in text


async def test_task_ids_are_cut_at_80_columns(tmp_path: Path) -> None:
    async with running_app(tmp_path, size=SMALL) as (app, pilot):
        service = find_service(app, "demo-swarm", "shop_api")
        screen = await open_service(app, pilot, "demo-swarm", "shop_api")
        table = screen.query_one(DiffTable)
        await wait_until(pilot, lambda: table.virtual_size.width > 0, what="the table laid out")
        assert column_widths(table)["task"] == TASK_WIDTH
        assert table.virtual_size.width == SMALL[0] - SCROLLBAR
        lost = next(task for task in service.tasks if task.id.endswith("-lost"))
        assert table.row_cells(lost.id)[0].plain() == "…" + lost.id[-(TASK_WIDTH - 1):]


def demo_service(cluster: str, ref: str) -> Service:
    fleet = Fleet(demo_config(frozen_at=FROZEN_AT))
    try:
        snapshot = next(snapshot for snapshot in fleet.snapshot_all() if snapshot.name == cluster)
        return next(service for service in snapshot.services if service.ref == ref)
    finally:
        fleet.close()


def widths(width: int, tasks: Sequence[Task]) -> dict[str, int]:
    columns = task_columns(width, tasks)
    assert sum(column.width or 0 for column in columns) + 2 * len(columns) + SCROLLBAR <= max(width, 80)
    return {column.key: column.width or 0 for column in columns}


def test_the_error_keeps_its_room_before_ids_grow() -> None:
    tasks = demo_service("demo-swarm", "shop_payments").tasks
    longest = max(len(task.id) for task in tasks)
    # A long error keeps 50 cells at 120 columns; the ids grow only with what is left.
    at_120 = widths(120, tasks)
    assert at_120["error"] >= 50 and TASK_WIDTH <= at_120["task"] < longest
    # Without errors the ids take what they need, the error the rest.
    quiet = [dataclasses.replace(task, error="") for task in tasks]
    assert widths(120, quiet)["task"] == longest
    assert widths(80, quiet)["error"] >= MIN_ERROR
    assert widths(200, tasks)["task"] == longest
