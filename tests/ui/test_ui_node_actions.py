"""Cordon, uncordon and drain keys on the nodes list and the node screen: the yes/no confirmation for cordon,
the typed confirmation for drain (a wrong name keeps the dialog and sends nothing, escape cancels), each
audited with the node's name; the keys follow the node's state (no uncordon of an active node, no cordon of a
paused one, no drain of a drained one); read-only hides the keys and refuses them with the reason."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from textual.widgets import Input
from ui_support import cluster_of, notifications, running_app, screen_text, select_service, wait_until

from pilothouse.console.screens.confirm import ConfirmScreen
from pilothouse.console.screens.node_actions import TypedConfirmScreen
from pilothouse.console.screens.nodes import NodeScreen, NodesScreen
from pilothouse.widgets.diff_table import DiffTable


def audit_lines(tmp_path: Path) -> list[dict[str, Any]]:
    path = tmp_path / "audit.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def availability(app: Any, name: str) -> str:
    return next(node.availability.value for node in cluster_of(app, "demo-swarm").nodes if node.name == name)


async def open_worker(app: Any, pilot: Any) -> str:
    await select_service(app, pilot, "demo-swarm", "shop_web")
    await pilot.press("n")
    await wait_until(pilot, lambda: isinstance(app.screen, NodesScreen), what="the nodes screen")
    worker = next(node for node in cluster_of(app, "demo-swarm").nodes if node.name == "worker-1")
    table = app.screen.query_one(DiffTable)
    await wait_until(pilot, lambda: worker.id in table.keys, what="the worker's row")
    table.move_to_key(worker.id)
    return worker.name


async def test_cordon_then_drain_with_the_name_typed(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot):
        name = await open_worker(app, pilot)
        assert app.screen.check_action("cordon", ()) is True  # offered on an active worker
        assert app.screen.check_action("uncordon", ()) is False
        await pilot.press("C")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the cordon confirmation")
        assert "availability active" in screen_text(app) and "availability pause" in screen_text(app)
        await pilot.press("y")
        await wait_until(pilot, lambda: availability(app, name) == "pause", what="cordoned")
        await wait_until(pilot, lambda: app.screen.check_action("cordon", ()) is False, what="cordon withdrawn")
        assert app.screen.check_action("uncordon", ()) is True and app.screen.check_action("drain", ()) is True

        await pilot.press("D")
        await wait_until(pilot, lambda: isinstance(app.screen, TypedConfirmScreen), what="the typed confirmation")
        dialog = app.screen
        await pilot.press("y", "enter")  # a reflexive yes is not the name
        await wait_until(pilot, lambda: "not the node's name" in screen_text(app), what="the wrong name said")
        assert app.screen is dialog and availability(app, name) == "pause"
        dialog.query_one(Input).value = ""
        await pilot.press(*name, "enter")
        await wait_until(pilot, lambda: availability(app, name) == "drain", what="drained")
        await wait_until(pilot, lambda: app.screen.check_action("drain", ()) is False, what="drain withdrawn")
        await wait_until(pilot, lambda: len(audit_lines(tmp_path)) == 4, what="both audited")
        lines = audit_lines(tmp_path)
        assert [(line["action"], line["service"], line["result"]) for line in lines] == [
            ("cordon", name, "pending"), ("cordon", name, "ok"), ("drain", name, "pending"), ("drain", name, "ok")]


async def test_drain_cancelled_from_the_node_screen(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot):
        name = await open_worker(app, pilot)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, NodeScreen), what="the node screen")
        await pilot.press("D")
        await wait_until(pilot, lambda: isinstance(app.screen, TypedConfirmScreen), what="the typed confirmation")
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, NodeScreen), what="back on the node")
        await wait_until(pilot, lambda: len(audit_lines(tmp_path)) == 1, what="the cancel audited")
        assert audit_lines(tmp_path)[0]["result"] == "cancelled" and availability(app, name) == "active"


async def test_readonly_hides_and_refuses_node_keys(tmp_path: Path) -> None:
    async with running_app(tmp_path, readonly=True) as (app, pilot):
        await open_worker(app, pilot)
        assert not any(app.screen.check_action(name, ()) for name in ("cordon", "uncordon", "drain"))
        await pilot.press("D")
        await wait_until(pilot, lambda: any("drain refused" in m for m in notifications(app)), what="the reason")
        assert isinstance(app.screen, NodesScreen)
        await wait_until(pilot, lambda: len(audit_lines(tmp_path)) == 1, what="the refusal audited")
        assert audit_lines(tmp_path)[0]["action"] == "drain"


async def test_a_key_the_state_refuses_says_why_and_sends_nothing(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot):
        name = await open_worker(app, pilot)
        await pilot.press("U")
        await wait_until(pilot, lambda: any("already active; nothing to uncordon" in m for m in notifications(app)),
                         what="the reason")
        assert isinstance(app.screen, NodesScreen) and availability(app, name) == "active"
        await wait_until(pilot, lambda: len(audit_lines(tmp_path)) == 1, what="the refusal audited")
        [line] = audit_lines(tmp_path)
        assert (line["action"], line["service"]) == ("uncordon", name) and line["result"].startswith("refused: ")
