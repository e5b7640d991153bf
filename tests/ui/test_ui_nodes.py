"""The node screens on the frozen demo (12 s in: the third node is down and its tasks were rescheduled):
`n` from the fleet lists the cluster's nodes troubled first in the orchestrator's words, enter opens a node,
and a node that is down can be opened from placement, showing the tasks it lost."""

from __future__ import annotations

from pathlib import Path

from ui_support import WIDE, cluster_of, running_app, screen_text, select_service, wait_until

from pilothouse.console.screens.nodes import NodeScreen, NodesScreen
from pilothouse.console.screens.placement import PlacementScreen
from pilothouse.providers.model import NodeStatus
from pilothouse.widgets.diff_table import DiffTable


async def test_nodes_list_is_troubled_first_in_kubernetes_words_and_opens_a_node(tmp_path: Path) -> None:
    async with running_app(tmp_path, size=WIDE) as (app, pilot):
        await select_service(app, pilot, "demo-k8s", "prod/api")
        await pilot.press("n")
        await wait_until(pilot, lambda: isinstance(app.screen, NodesScreen), what="the nodes screen")
        cluster = cluster_of(app, "demo-k8s")
        table = app.screen.query_one(DiffTable)
        await wait_until(pilot, lambda: table.row_count == len(cluster.nodes), what="a row per node")
        down = next(node for node in cluster.nodes if node.status is NodeStatus.DOWN)
        assert cluster.nodes[0] is not down, "the demo's down node is listed first anyway: proves nothing"
        assert table.keys[0] == down.id
        text = screen_text(app)
        assert "NotReady" in text and "Nodes · demo-k8s (kubernetes)" in text
        assert "1 not ready" in text
        # The task count column counts the tasks meant to run on the node.
        placed = sum(1 for service in cluster.services for task in service.tasks
                     if task.node_id == cluster.nodes[0].id and task.desired_state.value == "running")
        assert table.row_cells(cluster.nodes[0].id)[5].plain() == str(placed)
        table.move_to_key(cluster.nodes[0].id)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, NodeScreen), what="the node screen")
        await wait_until(pilot, lambda: f"Pods on this node ({placed})" in screen_text(app), what="its pods")
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, NodesScreen), what="back to the list")
        await pilot.press("c")
        await wait_until(pilot, lambda: "Container instances · demo-ecs (ecs)" in screen_text(app),
                         what="the next cluster, in ECS words")


async def test_a_down_node_opens_from_placement_with_the_tasks_it_lost(tmp_path: Path) -> None:
    async with running_app(tmp_path, size=WIDE) as (app, pilot):
        await select_service(app, pilot, "demo-swarm", "shop_web")
        await pilot.press("p")
        await wait_until(pilot, lambda: isinstance(app.screen, PlacementScreen), what="placement")
        cluster = cluster_of(app, "demo-swarm")
        grid = app.screen.query_one(DiffTable)
        await wait_until(pilot, lambda: grid.row_count >= len(cluster.nodes), what="node rows")
        down = next(node for node in cluster.nodes if node.status is NodeStatus.DOWN)
        assert grid.keys[0] == down.id  # troubled first: the cursor starts on it
        grid.move_to_key(down.id)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, NodeScreen), what="the node screen")
        stranded = sum(1 for service in cluster.services for task in service.tasks if task.node_id == down.id)
        assert stranded, "the demo's down node holds no task: proves nothing"
        await wait_until(pilot, lambda: "Tasks lost or rescheduled from it" in screen_text(app), what="lost tasks")
        text = screen_text(app)
        assert f"Node · demo-swarm (swarm) · {down.name}" in text
        assert "state          down" in text and "heartbeat failure" in text
        assert f"Tasks lost or rescheduled from it ({stranded})" in text
        assert "Tasks lost or rescheduled from it (0)" not in text
