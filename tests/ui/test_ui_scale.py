"""A big fleet (1,200 services, 50k tasks, 50 nodes per cluster) renders and re-renders fast."""

from __future__ import annotations

import dataclasses
import time
from datetime import UTC, datetime
from pathlib import Path

from ui_support import running_app, wait_until

from pilothouse.console.app import ClusterUpdated
from pilothouse.console.screens.fleet import FleetScreen
from pilothouse.console.screens.placement import PlacementScreen
from pilothouse.providers.model import (
    Cluster,
    ClusterKind,
    ConnectionState,
    Health,
    HealthCounts,
    Node,
    NodeStatus,
    Rollout,
    RolloutState,
    Service,
    Task,
    TaskState,
)
from pilothouse.widgets.diff_table import DiffTable

CLUSTERS = 3
SERVICES_PER_CLUSTER = 400
TASKS_PER_SERVICE = 42
NODES = 50


def big_cluster(name: str, kind: ClusterKind) -> Cluster:
    nodes = tuple(Node(id=f"{name}-n{i}", name=f"node-{i:02d}", status=NodeStatus.READY) for i in range(NODES))
    services = []
    for s in range(SERVICES_PER_CLUSTER):
        service_id = f"{name}-s{s}"
        tasks = tuple(Task(id=f"{service_id}-t{t}", service_id=service_id, slot=t, node_id=nodes[(s + t) % NODES].id,
                           node_name=nodes[(s + t) % NODES].name, state=TaskState.RUNNING,
                           health=Health.HEALTHY, version="1.0") for t in range(TASKS_PER_SERVICE))
        services.append(Service(id=service_id, name=f"svc-{s:04d}", ref=f"svc-{s:04d}", namespace="big",
                                image=f"example/svc-{s}:1.0", desired=TASKS_PER_SERVICE,
                                running=TASKS_PER_SERVICE, health=HealthCounts.of(tasks),
                                rollout=Rollout(RolloutState.STABLE, TASKS_PER_SERVICE, TASKS_PER_SERVICE),
                                tasks=tasks))
    return Cluster(name=name, kind=kind, state=ConnectionState.CONNECTED, last_sync=datetime.now(UTC),
                   nodes=nodes, services=tuple(services))


async def test_big_fleet_renders_and_diffs_fast(tmp_path: Path) -> None:
    clusters = [big_cluster(f"big-{i}", kind) for i, kind in enumerate(ClusterKind)][:CLUSTERS]
    assert sum(len(s.tasks) for c in clusters for s in c.services) >= 50_000
    async with running_app(tmp_path, refresh=False) as (app, pilot):
        await wait_until(pilot, lambda: isinstance(app.screen, FleetScreen), what="fleet screen")
        table = app.screen.query_one(DiffTable)
        started = time.perf_counter()
        for cluster in clusters:
            app.post_message(ClusterUpdated(cluster))
        await wait_until(pilot, lambda: table.row_count == CLUSTERS * SERVICES_PER_CLUSTER, timeout=30,
                         what="every row")
        first = time.perf_counter() - started

        # The next snapshot: one service changes. Only its cell is rewritten.
        changed_cluster = clusters[1]
        victim = changed_cluster.services[7]
        updated = dataclasses.replace(victim, running=victim.running - 3)
        new_cluster = dataclasses.replace(changed_cluster, services=tuple(
            updated if service.id == victim.id else service for service in changed_cluster.services))
        key = f"{new_cluster.name}\x1f{victim.id}"
        started = time.perf_counter()
        app.post_message(ClusterUpdated(new_cluster))
        await wait_until(pilot, lambda: table.row_cells(key)[5].plain().startswith(f"{victim.running - 3}/"),
                         timeout=10, what="the changed row")
        second = time.perf_counter() - started
        assert table.row_count == CLUSTERS * SERVICES_PER_CLUSTER
        # Generous bounds for a slow 2-core CI machine; typical numbers are far lower.
        assert first < 10.0, first
        assert second < 2.0, second

        # Placement of a 50-node cluster with 400 services: one row per node, it scrolls.
        app.push_screen(PlacementScreen(new_cluster.name, victim.id))
        await wait_until(pilot, lambda: isinstance(app.screen, PlacementScreen) and app.screen.query(DiffTable),
                         what="placement")
        grid = app.screen.query_one(DiffTable)
        await wait_until(pilot, lambda: grid.row_count == NODES, timeout=10, what="50 node rows")
        # Only a page of service columns is drawn; the selected service is on the first page.
        assert len(grid.table_columns) - 2 < SERVICES_PER_CLUSTER
        assert grid.table_columns[2].key == victim.id
        await pilot.press("pagedown", "pagedown")
        assert grid.cursor_row > 0
        await pilot.press("right_square_bracket")
        await wait_until(pilot, lambda: grid.table_columns[2].key != victim.id, what="the next page of services")
