"""Hostile cluster text through the real console: controls, escape sequences (7-bit and 8-bit), markup, bidi
overrides and very long strings, planted in every field a cluster controls (tests/support/hostile.py), then
every screen walked with the Pilot. Nothing may reach the drawn screen as a control character or a hiding
character, markup is shown as written (never interpreted), no secret is shown, and nothing crashes.
"""

from __future__ import annotations

import asyncio
import re
import tempfile
from pathlib import Path
from typing import Any

from hostile import MARK, SECRETS, HostileDemo
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from textual.pilot import Pilot
from ui_support import WIDE, notifications, running_app, screen_text, wait_until

from pilothouse.console.app import PilothouseApp
from pilothouse.console.fleet import Fleet
from pilothouse.console.screens.confirm import ConfirmScreen
from pilothouse.console.screens.doctor import DoctorScreen
from pilothouse.console.screens.events import EventDetailScreen, EventsScreen
from pilothouse.console.screens.fleet import FleetScreen, row_key
from pilothouse.console.screens.logs import LogScreen
from pilothouse.console.screens.placement import PlacementScreen
from pilothouse.console.screens.scale import ScaleDialog
from pilothouse.console.screens.service import ServiceScreen
from pilothouse.console.screens.task_detail import TaskDetailScreen
from pilothouse.widgets.diff_table import DiffTable

CLUSTER = "demo-k8s"
# What a terminal acts on (C0 but newline, DEL, C1) and what hides or reorders text.
FORBIDDEN = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u200b-\u200f\u2060\ufeff]")

PIECES = ["\x1b]0;pwned-title\x07", "\x1b]52;c;cHduZWQ=\x07", "\x1b[2J", "\x1b[31m", "\x9b2J", "\x9d0;t\x9c",
          "\x90q\x9c", "\x1bP1$q\x1b\\", "\x1b_apc\x1b\\", "\x1bc", "\x07", "\x00", "\x08", "\r", "\n", "\t",
          "\x7f", "\x85", "\u202e", "\u2066", "\u200b", "\ufeff", "[/]", "[b]", "[link=http://evil.example/]",
          "[@click=app.quit]", "[$accent]", "\\", "x" * 300]
HOSTILE = st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=8)), min_size=1, max_size=12).map("".join)
MARKUP = st.sampled_from(["[/]", "[link=http://evil.example/]x[/link]", "[@click=app.quit]x[/]", "[b]x[/b]",
                          "[$accent]x"])


def hostile_fleet(fleet: Fleet) -> None:
    fleet.providers[CLUSTER] = HostileDemo(fleet.providers[CLUSTER].config)


def check(app: PilothouseApp, where: str, *, logs: bool = False) -> str:
    """The drawn screen (toasts included) holds no control or hiding character and, logs aside, no secret."""
    text = screen_text(app)
    found = FORBIDDEN.search(text)
    assert found is None, f"{where}: {found.group(0)!r} reached the screen"
    if not logs:
        shown = [secret for secret in SECRETS if secret in text]
        assert not shown, f"{where}: {shown} shown"
    for message in notifications(app):
        assert FORBIDDEN.search(message) is None, f"{where}: toast {message!r}"
    assert app.is_running, f"{where}: the console quit"
    return text


async def back_to_fleet(app: PilothouseApp, pilot: Pilot[Any]) -> None:
    while not isinstance(app.screen, FleetScreen):
        await pilot.press("escape")
        await pilot.pause()


async def walk(hostile: str, markup: str) -> None:
    HostileDemo.text, HostileDemo.markup = hostile, markup
    with tempfile.TemporaryDirectory() as tmp:
        async with running_app(Path(tmp), size=WIDE, prepare=hostile_fleet) as (app, pilot):
            await wait_until(pilot, lambda: MARK in (app.state.clusters[CLUSTER].services[0].ref), what="planted")
            check(app, "fleet")
            service = app.state.clusters[CLUSTER].services[0]
            fleet = app.screen
            assert isinstance(fleet, FleetScreen)
            assert fleet.table.move_to_key(row_key(CLUSTER, service.id))
            await pilot.press("enter")
            await wait_until(pilot, lambda: isinstance(app.screen, ServiceScreen)
                             and app.screen.query_one(DiffTable).row_count == len(service.tasks), what="service")
            text = check(app, "service")
            assert markup in text, "the image's markup is shown as written"
            assert "postgres://admin:••••••@db" in text and "AKIA••••••" in text

            await pilot.press("enter")
            await wait_until(pilot, lambda: isinstance(app.screen, TaskDetailScreen), what="task detail")
            check(app, "task detail")
            await pilot.press("escape")
            await pilot.press("w")  # the rollout follow panel quotes the rollout message and task errors
            await pilot.pause()
            check(app, "rollout follow")
            await pilot.press("w")

            await pilot.press("s")
            await wait_until(pilot, lambda: isinstance(app.screen, ScaleDialog), what="scale dialog")
            await pilot.press("enter")  # the current count: an error quoting the service's name
            await pilot.pause()
            check(app, "scale dialog")
            await pilot.press("escape")

            await pilot.press("R")
            await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="confirm dialog")
            check(app, "confirm dialog")
            await pilot.press("y")
            await wait_until(pilot, lambda: any(MARK in message for message in notifications(app)), what="toast")
            check(app, "toast")

            await pilot.press("L")
            await wait_until(pilot, lambda: isinstance(app.screen, LogScreen) and app.screen.view.line_count >= 3,
                             what="logs")
            check(app, "logs", logs=True)
            await back_to_fleet(app, pilot)

            await pilot.press("p")
            await wait_until(pilot, lambda: isinstance(app.screen, PlacementScreen), what="placement")
            await pilot.pause()
            check(app, "placement")
            await back_to_fleet(app, pilot)

            await pilot.press("d")
            await wait_until(pilot, lambda: isinstance(app.screen, DoctorScreen), what="doctor")
            await pilot.pause()
            check(app, "doctor")
            await back_to_fleet(app, pilot)

            await pilot.press("e")
            await wait_until(pilot, lambda: isinstance(app.screen, EventsScreen) and app.screen.loaded, what="events")
            events = app.screen
            assert isinstance(events, EventsScreen)
            check(app, "events")
            planted = next(key for key, event in events._shown.items() if MARK in event.message)
            assert events.table.move_to_key(planted)
            await pilot.press("enter")
            await wait_until(pilot, lambda: isinstance(app.screen, EventDetailScreen), what="event detail")
            check(app, "event detail")
            await back_to_fleet(app, pilot)

            await pilot.press("ctrl+p")
            await pilot.pause()
            await pilot.press(*"open")
            await wait_until(pilot, lambda: "open demo-k8s" in screen_text(app), what="palette hits")
            text = check(app, "palette")
            assert markup in text, "the palette shows the image's markup as written"


@settings(max_examples=2, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hostile=HOSTILE, markup=MARKUP)
def test_hostile_cluster_text_reaches_no_screen_raw(hostile: str, markup: str) -> None:
    saved = HostileDemo.text, HostileDemo.markup
    try:
        asyncio.run(walk(hostile, markup))
    finally:
        HostileDemo.text, HostileDemo.markup = saved
