"""Dialogs have no footer, so they name their keys themselves: the confirmation's buttons, the scale dialog's
hint, the task detail's hint and the rollout follow line say the keys the config's keymap sets, and those
keys are the ones that work."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

from textual.widgets import Button, Input, Log, Static
from ui_support import SMALL, find_service, open_service, running_app, screen_text, select_service, wait_until

from pilothouse.console.app import PilothouseApp
from pilothouse.console.config import AppConfig, parse_config
from pilothouse.console.screens.confirm import ConfirmScreen
from pilothouse.console.screens.fleet import FleetScreen
from pilothouse.console.screens.scale import ScaleDialog
from pilothouse.console.screens.task_detail import TaskDetailScreen


def keymap(tmp_path: Path, toml: str) -> Callable[[AppConfig], AppConfig]:
    """A configure= that sets the keymap the way a config file does: through the config's own checks."""
    parsed = parse_config(f"[keymap]\n{toml}\n", tmp_path / "config.toml")
    return lambda config: dataclasses.replace(config, keymap=parsed.keymap)


async def open_confirmation(app: PilothouseApp, pilot: Any, cluster: str, ref: str) -> ConfirmScreen:
    """Scale the service by one from the fleet: the dialog, then the confirmation (nothing sent yet)."""
    service = await select_service(app, pilot, cluster, ref)
    await pilot.press("s")
    await wait_until(pilot, lambda: isinstance(app.screen, ScaleDialog), what="scale dialog")
    app.screen.query_one("#scale-input", Input).value = str(service.desired + 1)
    await pilot.press("enter")
    await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="confirmation")
    confirm = app.screen
    assert isinstance(confirm, ConfirmScreen)
    return confirm


def labels(confirm: ConfirmScreen) -> tuple[str, str]:
    return (str(confirm.query_one("#confirm-yes", Button).label), str(confirm.query_one("#confirm-no", Button).label))


async def test_confirmation_buttons_name_the_default_keys(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot):
        confirm = await open_confirmation(app, pilot, "demo-swarm", "shop_web")
        assert labels(confirm) == ("Yes, apply (y)", "No (n)")


async def test_confirmation_buttons_name_remapped_keys_and_those_keys_answer(tmp_path: Path) -> None:
    configure = keymap(tmp_path, 'confirm_yes = "a"\nconfirm_no = "b"')
    async with running_app(tmp_path, size=SMALL, configure=configure) as (app, pilot):
        before = find_service(app, "demo-swarm", "shop_web").desired
        confirm = await open_confirmation(app, pilot, "demo-swarm", "shop_web")
        assert labels(confirm) == ("Yes, apply (a)", "No (b)")
        text = screen_text(app)
        assert "Yes, apply (a)" in text and "No (b)" in text and "(y)" not in text
        await pilot.press("b")
        await wait_until(pilot, lambda: isinstance(app.screen, FleetScreen), what="answered no on b")
        confirm = await open_confirmation(app, pilot, "demo-swarm", "shop_web")
        await pilot.press("a")
        await wait_until(pilot, lambda: find_service(app, "demo-swarm", "shop_web").desired == before + 1,
                         what="applied on a")


async def test_confirmation_names_the_first_of_several_keys(tmp_path: Path) -> None:
    configure = keymap(tmp_path, 'confirm_yes = "ctrl+y,a"')
    async with running_app(tmp_path, configure=configure) as (app, pilot):
        confirm = await open_confirmation(app, pilot, "demo-ecs", "prod/web")
        assert labels(confirm) == ("Yes, apply (^y)", "No (n)")


async def test_scale_dialog_hint_names_the_cancel_key(tmp_path: Path) -> None:
    async with running_app(tmp_path, size=SMALL, configure=keymap(tmp_path, 'scale_cancel = "f2"')) as (app, pilot):
        await select_service(app, pilot, "demo-swarm", "shop_web")
        await pilot.press("s")
        await wait_until(pilot, lambda: isinstance(app.screen, ScaleDialog), what="scale dialog")
        hint = str(app.screen.query_one("#scale-hint", Static).render())
        assert hint == "enter: continue to confirmation · f2: cancel"
        assert "f2: cancel" in screen_text(app)
        await pilot.press("f2")
        await wait_until(pilot, lambda: isinstance(app.screen, FleetScreen), what="cancelled on f2")


async def test_scale_dialog_hint_default(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot):
        await select_service(app, pilot, "demo-swarm", "shop_web")
        await pilot.press("s")
        await wait_until(pilot, lambda: isinstance(app.screen, ScaleDialog), what="scale dialog")
        assert str(app.screen.query_one("#scale-hint", Static).render()) == \
            "enter: continue to confirmation · esc: cancel"


async def test_task_detail_hint_names_remapped_keys(tmp_path: Path) -> None:
    configure = keymap(tmp_path, 'task_detail_close = "x"\nlogs = "v"')
    async with running_app(tmp_path, size=SMALL, configure=configure) as (app, pilot):
        screen = await open_service(app, pilot, "demo-swarm", "shop_payments")
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, TaskDetailScreen), what="the task detail")
        assert str(app.screen.query_one("#task-detail-hint", Static).render()) == \
            "x: close · v: logs of this task · !: a shell in it"
        await pilot.press("x")
        await wait_until(pilot, lambda: app.screen is screen, what="closed on x")


async def test_rollout_follow_names_its_stop_key(tmp_path: Path) -> None:
    async with running_app(tmp_path, configure=keymap(tmp_path, 'follow_rollout = "F"')) as (app, pilot):
        screen = await open_service(app, pilot, "demo-swarm", "shop_api")
        await pilot.press("F")
        panel = screen.query_one("#rollout-follow", Log)
        await wait_until(pilot, lambda: panel.display and panel.lines, what="the follow panel")
        assert panel.lines[0] == "following the rollout (F: stop)"
