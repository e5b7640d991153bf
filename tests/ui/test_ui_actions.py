"""Scale and rollback from the keyboard: dialog, plan, confirm, execute; refusals in read-only mode."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from textual.widgets import Input
from ui_support import (
    SMALL,
    find_service,
    footer_keys,
    notifications,
    running_app,
    screen_text,
    select_service,
    wait_until,
)

from pilothouse.console.screens.confirm import ConfirmScreen
from pilothouse.console.screens.fleet import FleetScreen
from pilothouse.console.screens.scale import ScaleDialog
from pilothouse.console.screens.service import ServiceScreen


def audit_lines(tmp_path: Path) -> list[dict[str, Any]]:
    path = tmp_path / "audit.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def desired(app: Any, cluster: str, ref: str) -> int:
    return int(find_service(app, cluster, ref).desired)


async def test_scale_dialog_confirm_executes(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot):
        service = await select_service(app, pilot, "demo-swarm", "shop_web")
        before = service.desired
        await pilot.press("s")
        await wait_until(pilot, lambda: isinstance(app.screen, ScaleDialog), what="scale dialog")
        field = app.screen.query_one("#scale-input", Input)
        assert field.value == str(before)
        field.value = ""
        await pilot.press(*str(before + 2), "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="confirmation")
        text = screen_text(app)
        assert f"{before}  ->  {before + 2}" in text and "shop_web" in text
        await pilot.press("y")
        await wait_until(pilot, lambda: desired(app, "demo-swarm", "shop_web") == before + 2,
                         what="the new replica count in a fresh snapshot")
        await wait_until(pilot, lambda: any("scaled" in message for message in notifications(app)),
                         what="the success toast")
        audit = audit_lines(tmp_path)
        assert audit[-1]["action"] == "scale" and audit[-1]["result"] == "ok"
        assert (audit[-1]["before"], audit[-1]["after"]) == (str(before), str(before + 2))


async def test_scale_bad_input_is_refused_in_the_dialog(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot):
        service = await select_service(app, pilot, "demo-ecs", "web")
        await pilot.press("s")
        await wait_until(pilot, lambda: isinstance(app.screen, ScaleDialog), what="scale dialog")
        dialog = app.screen
        field = dialog.query_one("#scale-input", Input)
        for bad in ("abc", "-1", "2.5", "20000"):
            field.value = ""
            await pilot.press(*bad, "enter")
            await wait_until(pilot, lambda: str(dialog.query_one("#scale-error").render()).strip() != "",
                             what=f"an error for {bad!r}")
            assert app.screen is dialog, bad
            assert bad.lstrip("-") in screen_text(app) or "negative" in screen_text(app)
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, FleetScreen), what="dialog closed")
        assert desired(app, "demo-ecs", "web") == service.desired
        assert not [line for line in audit_lines(tmp_path) if line["result"] == "ok"]


async def test_plus_and_minus_scale_by_one(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot):
        service = await select_service(app, pilot, "demo-k8s", "prod/auth")
        await pilot.press("plus")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="confirmation")
        assert f"{service.desired}  ->  {service.desired + 1}" in screen_text(app)
        await pilot.press("n")
        await wait_until(pilot, lambda: isinstance(app.screen, FleetScreen), what="cancelled")
        await pilot.press("minus")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="confirmation")
        assert f"{service.desired}  ->  {service.desired - 1}" in screen_text(app)
        await pilot.press("y")
        await wait_until(pilot, lambda: desired(app, "demo-k8s", "prod/auth") == service.desired - 1,
                         what="scaled down by one")
        # One line for the cancel; the sent change's intent then its outcome, paired by attempt.
        await wait_until(pilot, lambda: len(audit_lines(tmp_path)) == 3, what="the outcome line")
        cancelled, intent, outcome = audit_lines(tmp_path)
        assert (cancelled["result"], intent["result"], outcome["result"]) == ("cancelled", "pending", "ok")
        assert intent["attempt"] == outcome["attempt"]


async def test_rollback_confirm(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot):
        service = await select_service(app, pilot, "demo-k8s", "prod/api")
        assert service.rollout.state.value == "updating"
        await pilot.press("R")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="rollback confirmation")
        confirm = app.screen
        assert isinstance(confirm, ConfirmScreen)
        plan = confirm.plan
        assert plan.action.value == "rollback" and plan.before != plan.after
        text = screen_text(app)
        assert f"from  {plan.before}" in text and f"to  {plan.after}" in text
        await pilot.press("y")
        await wait_until(pilot, lambda: find_service(app, "demo-k8s", "prod/api").rollout.state.value
                         == "rolled_back", what="rolled back")
        assert find_service(app, "demo-k8s", "prod/api").image == plan.after


async def test_rollback_from_service_screen(tmp_path: Path) -> None:
    async with running_app(tmp_path, size=SMALL) as (app, pilot):
        await select_service(app, pilot, "demo-ecs", "api")
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ServiceScreen), what="service screen")
        await pilot.press("R")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="confirmation at 80x24")
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, ServiceScreen), what="back to the service")


async def test_readonly_hides_and_refuses(tmp_path: Path) -> None:
    async with running_app(tmp_path, readonly=True) as (app, pilot):
        await select_service(app, pilot, "demo-swarm", "shop_web")
        active = {binding.binding.action for binding in app.screen.active_bindings.values()}
        assert not {"scale", "scale_by(1)", "scale_by(-1)", "rollback"} & active
        await wait_until(pilot, lambda: "rollback" not in footer_keys(app) and "filter" in footer_keys(app),
                         what="a footer without the mutations")
        assert not {"scale", "scale_by(1)", "scale_by(-1)"} & set(footer_keys(app))
        for key in ("s", "plus", "R"):
            await pilot.press(key)
            await pilot.pause()
            assert isinstance(app.screen, FleetScreen), key
        await wait_until(pilot, lambda: len([m for m in notifications(app) if "read-only" in m
                                             or "readonly" in m]) >= 3, what="three refusals explained")
        # Refused attempts are audited too, and nothing else is.
        await wait_until(pilot, lambda: len(audit_lines(tmp_path)) == 3, what="three refusals audited")
        audit = audit_lines(tmp_path)
        assert all(line["result"].startswith("refused") and line["service"] == "shop_web" for line in audit)
        assert sorted(line["action"] for line in audit) == ["rollback", "scale", "scale"]


async def test_global_service_cannot_be_scaled(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot):
        service = await select_service(app, pilot, "demo-k8s", "kube-system/node-exporter")
        assert service.mode.value == "global"
        active = {binding.binding.action for binding in app.screen.active_bindings.values()}
        assert "scale" not in active and "scale_by(1)" not in active
        await pilot.press("s")
        await wait_until(pilot, lambda: any("cannot be scaled" in m for m in notifications(app)),
                         what="the refusal reason")
        assert isinstance(app.screen, FleetScreen)
        await select_service(app, pilot, "demo-k8s", "prod/web")
        active = {binding.binding.action for binding in app.screen.active_bindings.values()}
        assert "scale" in active


async def test_keymap_from_config_remaps_keys(tmp_path: Path) -> None:
    keymap = {"scale": "x", "help": "h", "drill_down": "b"}
    async with running_app(tmp_path, keymap=keymap) as (app, pilot):
        await select_service(app, pilot, "demo-swarm", "shop_web")
        await pilot.press("s")
        await pilot.pause()
        assert isinstance(app.screen, FleetScreen)  # s no longer scales
        await pilot.press("x")
        await wait_until(pilot, lambda: isinstance(app.screen, ScaleDialog), what="scale on x")
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, FleetScreen), what="dialog closed")
        await wait_until(pilot, lambda: footer_keys(app).get("scale") == "x", what="x Scale in the footer")
        await pilot.press("h")
        await wait_until(pilot, lambda: app.screen.id == "help", what="help on h")
        help_text = screen_text(app)
        assert "x " in help_text and "Scale" in help_text
        await pilot.press("escape")
        await pilot.press("b")
        await wait_until(pilot, lambda: isinstance(app.screen, ServiceScreen), what="drill down on b")


async def test_force_in_the_dialog_never_passes_what_the_orchestrator_accepts(tmp_path: Path) -> None:
    from textual.widgets import Checkbox

    async with running_app(tmp_path) as (app, pilot):
        service = await select_service(app, pilot, "demo-k8s", "prod/web")
        await pilot.press("s")
        await wait_until(pilot, lambda: isinstance(app.screen, ScaleDialog), what="scale dialog")
        dialog = app.screen
        dialog.query_one("#scale-force", Checkbox).value = True
        field = dialog.query_one("#scale-input", Input)
        field.value = "2147483648"
        field.focus()
        await pilot.press("enter")
        await wait_until(pilot, lambda: "2147483647" in str(dialog.query_one("#scale-error").render()),
                         what="the API's limit in the dialog")
        assert app.screen is dialog and "--force does not lift" in str(dialog.query_one("#scale-error").render())
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, FleetScreen), what="dialog closed")
        assert desired(app, "demo-k8s", "prod/web") == service.desired and audit_lines(tmp_path) == []
