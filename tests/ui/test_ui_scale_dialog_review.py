"""Operator review of the scale dialog and the audit as the console shows it: the dialog speaks of its
checkbox (not a CLI flag), a count equal to the current one asks for no confirmation, and a refusal reads once."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from textual.widgets import Input, Static
from ui_support import find_service, running_app, wait_until

from pilothouse.console.screens.confirm import ConfirmScreen
from pilothouse.console.screens.events import EventsScreen
from pilothouse.console.screens.fleet import FleetScreen, row_key
from pilothouse.console.screens.scale import ScaleDialog


def audit_lines(tmp_path: Path) -> list[dict[str, Any]]:
    path = tmp_path / "audit.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


async def open_dialog(app: Any, pilot: Any, cluster: str, ref: str) -> tuple[ScaleDialog, int]:
    service = find_service(app, cluster, ref)
    screen = app.screen
    assert isinstance(screen, FleetScreen)
    assert screen.table.move_to_key(row_key(cluster, service.id))
    await pilot.pause()
    await pilot.press("s")
    await wait_until(pilot, lambda: isinstance(app.screen, ScaleDialog), what="scale dialog")
    dialog = app.screen
    assert isinstance(dialog, ScaleDialog)
    return dialog, int(service.desired)


def dialog_error(dialog: ScaleDialog) -> str:
    return str(dialog.query_one("#scale-error", Static).render()).strip()


async def test_over_the_limit_points_at_the_checkbox(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot):
        dialog, _ = await open_dialog(app, pilot, "demo-ecs", "web")
        dialog.query_one("#scale-input", Input).value = ""
        await pilot.press(*"99999", "enter")
        await wait_until(pilot, lambda: dialog_error(dialog) != "", what="the over-limit message")
        message = dialog_error(dialog)
        assert "tick force" in message and "99,999" in message and "--force" not in message
        assert app.screen is dialog


async def test_the_current_count_is_said_without_a_confirmation(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot):
        dialog, current = await open_dialog(app, pilot, "demo-swarm", "shop_web")
        assert dialog.query_one("#scale-input", Input).value == str(current)
        await pilot.press("enter")
        await wait_until(pilot, lambda: dialog_error(dialog) != "", what="the no-op message")
        assert f"demo-swarm/shop_web already has {current} replicas" in dialog_error(dialog)
        await pilot.pause()
        assert app.screen is dialog and not isinstance(app.screen, ConfirmScreen)
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, FleetScreen), what="dialog closed")
        assert audit_lines(tmp_path) == []


async def test_a_refusal_reads_once_in_the_events_timeline(tmp_path: Path) -> None:
    async with running_app(tmp_path, readonly=True) as (app, pilot):
        screen = app.screen
        assert isinstance(screen, FleetScreen)
        service = find_service(app, "demo-swarm", "shop_web")
        assert screen.table.move_to_key(row_key("demo-swarm", service.id))
        await pilot.pause()
        await pilot.press("s")
        await wait_until(pilot, lambda: len(audit_lines(tmp_path)) == 1, what="the refusal audited")
        await pilot.press("e")
        await wait_until(pilot, lambda: isinstance(app.screen, EventsScreen) and app.screen.loaded,
                         what="events loaded")
        events = app.screen
        assert isinstance(events, EventsScreen)
        await wait_until(pilot, lambda: any(event.kind == "audit" for event in events.events),
                         what="the audit entry in the timeline")
        (audit,) = [event for event in events.events if event.kind == "audit"]
        assert audit.message.endswith(": scale: refused: the console runs with --readonly")
        assert audit.message.count("refused") == 1
