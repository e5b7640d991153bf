"""Restart from the keyboard (X): confirmation naming what happens, the change sent and audited, cancel sends
nothing, read-only hides and refuses the key with a reason; from the fleet and the service screen."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ui_support import SMALL, footer_keys, notifications, running_app, screen_text, select_service, wait_until

from pilothouse.console.screens.confirm import ConfirmScreen
from pilothouse.console.screens.fleet import FleetScreen
from pilothouse.console.screens.service import ServiceScreen


def audit_lines(tmp_path: Path) -> list[dict[str, Any]]:
    path = tmp_path / "audit.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


async def test_restart_key_confirms_then_sends(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot):
        await select_service(app, pilot, "demo-k8s", "prod/web")
        await wait_until(pilot, lambda: footer_keys(app).get("restart") == "X", what="X Restart in the footer")
        await pilot.press("X")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="restart confirmation")
        text = screen_text(app)
        assert "Restart demo-k8s/prod/web" in text and "every task replaced, same spec" in text
        await pilot.press("n")
        await wait_until(pilot, lambda: isinstance(app.screen, FleetScreen), what="cancelled")
        await wait_until(pilot, lambda: len(audit_lines(tmp_path)) == 1, what="the cancel audited")
        await pilot.press("X")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="restart confirmation")
        await pilot.press("y")
        await wait_until(pilot, lambda: any("restarting demo-k8s/prod/web" in m for m in notifications(app)),
                         what="the done toast")
        await wait_until(pilot, lambda: len(audit_lines(tmp_path)) == 3, what="intent and outcome")
        results = [(line["action"], line["result"]) for line in audit_lines(tmp_path)]
        assert results == [("restart", "cancelled"), ("restart", "pending"), ("restart", "ok")]


async def test_restart_from_the_service_screen(tmp_path: Path) -> None:
    async with running_app(tmp_path, size=SMALL) as (app, pilot):
        await select_service(app, pilot, "demo-swarm", "shop_web")
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ServiceScreen), what="service screen")
        await pilot.press("X")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="confirmation at 80x24")
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, ServiceScreen), what="back to the service")


async def test_readonly_hides_and_refuses_restart(tmp_path: Path) -> None:
    async with running_app(tmp_path, readonly=True) as (app, pilot):
        await select_service(app, pilot, "demo-ecs", "web")
        await wait_until(pilot, lambda: "filter" in footer_keys(app), what="the footer")
        assert "restart" not in footer_keys(app)
        await pilot.press("X")
        await pilot.pause()
        assert isinstance(app.screen, FleetScreen)
        await wait_until(pilot, lambda: any("restart refused" in m and "readonly" in m for m in notifications(app)),
                         what="the refusal explained")
        await wait_until(pilot, lambda: len(audit_lines(tmp_path)) == 1, what="the refusal audited")
        [line] = audit_lines(tmp_path)
        assert line["action"] == "restart" and line["result"].startswith("refused")


async def test_pause_then_resume_a_rollout(tmp_path: Path) -> None:
    from ui_support import find_service

    async with running_app(tmp_path) as (app, pilot):
        service = await select_service(app, pilot, "demo-k8s", "prod/api")
        assert service.rollout.state.value == "updating"
        await wait_until(pilot, lambda: footer_keys(app).get("pause") == "P", what="P Pause in the footer")
        assert "resume" not in footer_keys(app)
        await pilot.press("P")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="pause confirmation")
        assert "Pause demo-k8s/prod/api" in screen_text(app) and "paused where it is" in screen_text(app)
        await pilot.press("y")
        await wait_until(pilot, lambda: find_service(app, "demo-k8s", "prod/api").rollout.state.value == "paused",
                         what="the rollout paused")
        await wait_until(pilot, lambda: footer_keys(app).get("resume") == "U", what="U Resume in the footer")
        assert "pause" not in footer_keys(app)
        await pilot.press("U")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="resume confirmation")
        await pilot.press("y")
        await wait_until(pilot, lambda: find_service(app, "demo-k8s", "prod/api").rollout.state.value
                         in ("updating", "stable"), what="the rollout carries on")
        await wait_until(pilot, lambda: len(audit_lines(tmp_path)) == 4, what="both audited")
        assert [line["action"] for line in audit_lines(tmp_path)] == ["pause", "pause", "resume", "resume"]


async def test_pause_on_ecs_says_why_not(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot):
        await select_service(app, pilot, "demo-ecs", "api")
        await wait_until(pilot, lambda: "filter" in footer_keys(app), what="the footer")
        assert "pause" not in footer_keys(app)
        await pilot.press("P")
        await wait_until(pilot, lambda: any("cannot be paused" in m for m in notifications(app)),
                         what="the reason")
        assert isinstance(app.screen, FleetScreen)
