"""The inspect screen on the frozen demo: `y` on the fleet reads the selected service's spec on a worker and
shows it as YAML (Kubernetes) with search (`/`, `n`, `N`); `Y` on the service screen inspects the highlighted
task, `y` on the nodes screen a node (JSON on ECS)."""

from __future__ import annotations

import json
from pathlib import Path

from textual.widgets import Input
from ui_support import WIDE, cluster_of, open_service, running_app, screen_text, select_service, wait_until

from pilothouse.console.screens.inspect import InspectScreen
from pilothouse.console.screens.nodes import NodesScreen
from pilothouse.widgets.diff_table import DiffTable


async def test_inspect_a_service_and_search_it(tmp_path: Path) -> None:
    async with running_app(tmp_path, size=WIDE) as (app, pilot):
        service = await select_service(app, pilot, "demo-k8s", "prod/api")
        await pilot.press("y")
        await wait_until(pilot, lambda: isinstance(app.screen, InspectScreen), what="the inspect screen")
        screen = app.screen
        assert isinstance(screen, InspectScreen)
        await wait_until(pilot, lambda: screen.result is not None, what="the spec read")
        assert screen.result is not None and screen.result.format == "yaml"
        lines = list(screen.view.lines)
        assert f"ref: {service.ref}" in lines and "workload_kind: deployment" in lines
        assert "YAML, secrets masked" in screen_text(app)
        await pilot.press("slash")
        await wait_until(pilot, lambda: app.screen.focused is not None and isinstance(app.screen.focused, Input),
                         what="the search field")
        await pilot.press(*"image", "enter")
        images = [index for index, line in enumerate(lines) if "image" in line]
        assert len(images) >= 2, "one match proves nothing about next/previous"
        await wait_until(pilot, lambda: screen.match_index == images[0], what="the first match")
        await pilot.press("n")
        assert screen.match_index == images[1]
        await pilot.press("N")
        assert screen.match_index == images[0]
        assert f"match 1 of {len(images)}" in screen_text(app)
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, InspectScreen), what="closed")


async def test_inspect_a_task_and_an_ecs_node(tmp_path: Path) -> None:
    async with running_app(tmp_path, size=WIDE) as (app, pilot):
        service_screen = await open_service(app, pilot, "demo-swarm", "shop_web")
        task_id = service_screen.selected_task_id()
        assert task_id
        await pilot.press("Y")
        await wait_until(pilot, lambda: isinstance(app.screen, InspectScreen) and app.screen.result is not None,
                         what="the task read")
        assert isinstance(app.screen, InspectScreen) and app.screen.result is not None
        assert app.screen.result.title == f"task {task_id}" and f"id: {task_id}" in app.screen.view.lines
        await pilot.press("escape", "escape")
        await select_service(app, pilot, "demo-ecs", "prod/api")
        await pilot.press("n")
        await wait_until(pilot, lambda: isinstance(app.screen, NodesScreen), what="the nodes screen")
        table = app.screen.query_one(DiffTable)
        await wait_until(pilot, lambda: table.row_count > 0, what="node rows")
        node_id = table.cursor_key
        await pilot.press("y")
        await wait_until(pilot, lambda: isinstance(app.screen, InspectScreen) and app.screen.result is not None,
                         what="the node read")
        assert isinstance(app.screen, InspectScreen) and app.screen.result is not None
        assert app.screen.result.format == "json"
        node = next(node for node in cluster_of(app, "demo-ecs").nodes if node.id == node_id)
        assert json.loads(app.screen.result.text)["name"] == node.name


async def test_what_changed_from_the_service_screen(tmp_path: Path) -> None:
    from pilothouse.console.screens.inspect import DiffScreen

    async with running_app(tmp_path, size=WIDE) as (app, pilot):
        await open_service(app, pilot, "demo-k8s", "prod/api")  # rolling 1.4.2 -> 1.5.0
        await pilot.press("D")
        await wait_until(pilot, lambda: isinstance(app.screen, DiffScreen) and app.screen.result is not None,
                         what="the diff read")
        assert isinstance(app.screen, DiffScreen) and app.screen.result is not None
        lines = list(app.screen.view.lines)
        assert lines[:2] == ["previous -> current", "image:"]
        assert lines[2].endswith("api:1.4.2") and lines[3].endswith("api:1.5.0")
        assert "what changed in prod/api: previous -> current: image" in screen_text(app)
