"""The shared UI pieces: one filter bar on every screen that has one (same keys, the clear key following the
keymap), and the provider's login command asked only off the UI thread."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from textual.screen import Screen
from ui_support import running_app, wait_until

from pilothouse.console.app import PilothouseApp
from pilothouse.console.fleet import Fleet
from pilothouse.console.screens.doctor import DoctorScreen
from pilothouse.console.screens.events import EventsScreen
from pilothouse.console.screens.fleet import FleetScreen
from pilothouse.console.screens.logs import LogScreen
from pilothouse.console.screens.palette import FleetCommands
from pilothouse.providers.base import LoginCommand
from pilothouse.providers.demo import DemoProvider
from pilothouse.widgets.filter_bar import FilterBar

# key that opens the screen from the fleet (None: the fleet itself) -> the screen
SCREENS: dict[str, tuple[str | None, type[Screen[None]]]] = {
    "fleet": (None, FleetScreen), "doctor": ("d", DoctorScreen), "events": ("e", EventsScreen),
    "logs": ("l", LogScreen),
}


async def _open(app: PilothouseApp, pilot: object, name: str) -> FilterBar:
    from textual.pilot import Pilot

    assert isinstance(pilot, Pilot)
    key, screen_type = SCREENS[name]
    if key is not None:
        await pilot.press(key)
    await wait_until(pilot, lambda: isinstance(app.screen, screen_type), what=f"the {name} screen")
    return app.screen.query_one(FilterBar)


@pytest.mark.parametrize("name", list(SCREENS))
@pytest.mark.parametrize(("keymap", "clear", "shown"), [({}, "escape", "esc"), ({"back": "ctrl+b"}, "ctrl+b", "^b")])
async def test_filter_bar_opens_on_slash_and_clears_on_the_back_key_as_mapped(
        tmp_path: Path, name: str, keymap: dict[str, str], clear: str, shown: str) -> None:
    async with running_app(tmp_path, keymap=keymap) as (app, pilot):
        bar = await _open(app, pilot, name)
        assert not bar.display
        assert f"{shown}: clear" in str(bar.placeholder) and "escape" not in str(bar.placeholder).replace(
            f"{shown}: clear", "")
        await pilot.press("slash")
        await wait_until(pilot, lambda: bar.display and bar.has_focus, what="the bar open and focused")
        await pilot.press("w", "e", "b")
        await wait_until(pilot, lambda: bar.value == "web", what="typed into the bar")
        if name != "logs":
            # live: the screen's rows narrow to the words as they are typed
            await wait_until(pilot, lambda: getattr(app.screen, "_words", None) == ["web"], what="words applied")
        await pilot.press(clear)
        await wait_until(pilot, lambda: not bar.display, what="the bar hidden by the back key")
        if name != "logs":
            assert bar.value == ""
            await wait_until(pilot, lambda: getattr(app.screen, "_words", None) == [], what="words cleared")
        # the bar closed, the same key goes back (the fleet has nowhere to go back to)
        assert isinstance(app.screen, SCREENS[name][1])


class RecordingLogin(DemoProvider):
    """A provider whose login_command blocks in real ones (a kubeconfig read): records the thread asking."""

    threads: list[threading.Thread]

    def login_command(self) -> LoginCommand | None:
        self.threads.append(threading.current_thread())
        return LoginCommand(("aws", "sso", "login", "--profile", "ops"))


async def test_login_command_is_never_asked_on_the_ui_thread(tmp_path: Path) -> None:
    asked: list[threading.Thread] = []

    def prepare(fleet: Fleet) -> None:
        provider = RecordingLogin(fleet.providers["demo-ecs"].config)
        provider.threads = asked
        fleet.providers["demo-ecs"] = provider

    async with running_app(tmp_path, prepare=prepare) as (app, pilot):
        await wait_until(pilot, lambda: app.login_command("demo-ecs") is not None, what="the login command known")
        # the fleet header's hint and the palette both read it
        app.screen.fleet_changed()  # type: ignore[attr-defined]
        commands = [name for name, _, _ in FleetCommands(app.screen)._commands()]
        assert "log in demo-ecs" in commands
        app.log_in("demo-ecs")
        await pilot.pause()
    assert asked, "the refresher asks the provider for its login command"
    assert threading.main_thread() not in asked
