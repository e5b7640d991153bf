"""The autoscaler in the console (demo fleet: prod/search has an HPA on demo-k8s, a scalable target on demo-ecs):
the fleet row's mark, the scale dialog's refusal and its offer to change the bounds through the audited flow."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Input, Static
from ui_support import find_service, notifications, running_app, screen_text, select_service, wait_until

from pilothouse.console.screens.confirm import ConfirmScreen
from pilothouse.console.screens.fleet import FleetScreen, row_key
from pilothouse.console.screens.scale import ScaleDialog
from pilothouse.widgets.diff_table import DiffTable

REPLICAS_COLUMN = 5


def audit_lines(tmp_path: Path) -> list[dict[str, Any]]:
    path = tmp_path / "audit.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def replicas_cell(app: Any, cluster: str, ref: str) -> str:
    service = find_service(app, cluster, ref)
    table = app.screen.query_one(DiffTable)
    return str(table.row_cells(row_key(cluster, service.id))[REPLICAS_COLUMN].plain())


async def open_dialog(app: Any, pilot: Any, cluster: str, ref: str) -> ScaleDialog:
    await select_service(app, pilot, cluster, ref)
    await pilot.press("s")
    await wait_until(pilot, lambda: isinstance(app.screen, ScaleDialog), what="scale dialog")
    dialog = app.screen
    assert isinstance(dialog, ScaleDialog)
    return dialog


def dialog_error(dialog: ScaleDialog) -> str:
    return str(dialog.query_one("#scale-error", Static).render()).strip()


async def test_the_fleet_row_marks_an_autoscaled_service(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, _pilot):
        assert replicas_cell(app, "demo-k8s", "prod/search").endswith(" ⇅")
        assert replicas_cell(app, "demo-ecs", "prod/search").endswith(" ⇅")
        assert "⇅" not in replicas_cell(app, "demo-k8s", "prod/web")
        assert "⇅" not in replicas_cell(app, "demo-swarm", "shop_search")


async def test_no_color_says_it_in_a_word(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    async with running_app(tmp_path) as (app, _pilot):
        assert replicas_cell(app, "demo-k8s", "prod/search").endswith(" auto")


async def test_the_dialog_refuses_a_manual_scale_and_sends_nothing(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot):
        dialog = await open_dialog(app, pilot, "demo-k8s", "prod/search")
        said = str(dialog.query_one("#scale-autoscaler", Static).render())
        assert "HorizontalPodAutoscaler search (min 4, max 12) owns these replicas" in said
        dialog.query_one("#scale-input", Input).value = "9"
        dialog.query_one("#scale-input", Input).focus()
        await pilot.press("enter")
        await wait_until(pilot, lambda: dialog_error(dialog) != "", what="the refusal")
        assert "refused: HorizontalPodAutoscaler search (min 4, max 12)" in dialog_error(dialog)
        assert "change its bounds below" in dialog_error(dialog)
        assert app.screen is dialog
        assert find_service(app, "demo-k8s", "prod/search").desired == 4
        assert audit_lines(tmp_path) == []


async def test_plus_on_an_autoscaled_service_is_refused_with_the_bounds(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot):
        await select_service(app, pilot, "demo-ecs", "prod/search")
        await pilot.press("plus")
        await wait_until(pilot, lambda: any("Application Auto Scaling" in n for n in notifications(app)),
                         what="the refusal toast")
        assert not isinstance(app.screen, ConfirmScreen)
        results = [line["result"] for line in audit_lines(tmp_path)]
        assert len(results) == 1 and results[0].startswith(
            "refused: Application Auto Scaling service/prod/search (min 4, max 12) owns the replicas of "
            "prod/search and would undo a manual scale")


async def test_the_dialog_offers_the_bounds_through_the_confirmed_flow(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot):
        dialog = await open_dialog(app, pilot, "demo-k8s", "prod/search")
        dialog.query_one("#bounds-min", Input).value = "5"
        dialog.query_one("#bounds-max", Input).value = "15"
        dialog.query_one("#bounds-max", Input).focus()
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="confirmation")
        assert "min 4 -> 5, max 12 -> 15" in screen_text(app)
        await pilot.press("y")

        def bounds() -> tuple[int, int] | None:
            scaler = find_service(app, "demo-k8s", "prod/search").autoscaler
            return (scaler.min, scaler.max) if scaler is not None else None

        await wait_until(pilot, lambda: bounds() == (5, 15), what="the new bounds")
        await wait_until(pilot, lambda: len(audit_lines(tmp_path)) == 2, what="intent and outcome")
        assert [(line["action"], line["after"], line["result"]) for line in audit_lines(tmp_path)] == [
            ("autoscale_bounds", "min 5, max 15", "pending"), ("autoscale_bounds", "min 5, max 15", "ok")]
        assert isinstance(app.screen, FleetScreen)
