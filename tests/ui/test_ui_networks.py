"""The Networks screen on the frozen demo: `N` from the fleet (and `:networks NAME`) lists a cluster's networks
with the fronts that have endpoints not ready first, "-" where the orchestrator counts none; the service screen
has a networks section with its endpoints or targets ready."""

from __future__ import annotations

from pathlib import Path

from ui_support import (
    WIDE,
    cluster_of,
    find_service,
    open_service,
    running_app,
    screen_text,
    select_service,
    wait_until,
)

from pilothouse.console.screens.networks import NetworksScreen
from pilothouse.widgets.diff_table import DiffTable


async def test_networks_screen_lists_services_with_unready_endpoints_first(tmp_path: Path) -> None:
    async with running_app(tmp_path, size=WIDE) as (app, pilot):
        await select_service(app, pilot, "demo-k8s", "prod/api")
        await pilot.press("N")
        await wait_until(pilot, lambda: isinstance(app.screen, NetworksScreen), what="the networks screen")
        cluster = cluster_of(app, "demo-k8s")
        table = app.screen.query_one(DiffTable)
        await wait_until(pilot, lambda: table.row_count == len(cluster.networks), what="a row per network")
        payments = next(n for n in cluster.networks if n.name == "prod/payments")
        assert payments.ready is not None and payments.total is not None and payments.ready < payments.total
        assert cluster.networks[0] is not payments, "listed first anyway: proves nothing"
        # The Service reaching nothing first (no endpoint ready at all), then the one with an endpoint not ready.
        assert table.keys[:2] == ["service/prod/legacy", payments.id]
        assert table.row_cells(payments.id)[2].plain() == f"{payments.ready}/{payments.total}"
        text = screen_text(app)
        assert "Networks · demo-k8s (kubernetes)" in text and "NetworkPolicies: prod 2" in text
        assert "selects no pods" in table.row_cells("service/prod/legacy")[4].plain()
        await pilot.press("c")
        await wait_until(pilot, lambda: "Networks · demo-ecs (ecs)" in screen_text(app), what="the next cluster")
        ecs = cluster_of(app, "demo-ecs")
        vpc = next(n for n in ecs.networks if n.kind == "awsvpc")
        await wait_until(pilot, lambda: table.row_count == len(ecs.networks), what="the ECS networks")
        assert table.row_cells(vpc.id)[2].plain() == "-"  # awsvpc counts no endpoints
        await pilot.press("escape")
        await pilot.press("colon")
        await pilot.press(*"networks demo-swarm", "enter")
        await wait_until(pilot, lambda: "Networks · demo-swarm (swarm)" in screen_text(app), what=":networks NAME")
        assert "ingress" in screen_text(app) and "10.0.1.0/24" in screen_text(app)


async def test_service_screen_has_a_networks_section(tmp_path: Path) -> None:
    async with running_app(tmp_path, size=WIDE) as (app, pilot):
        await open_service(app, pilot, "demo-ecs", "prod/payments")
        service = find_service(app, "demo-ecs", "prod/payments")
        [front] = service.reachability
        assert 0 < front.ready < front.total, "every target healthy: proves nothing"
        text = " ".join(screen_text(app).split())  # the summary wraps
        assert (f"networks payments-tg (target group) {front.ready}/{front.total} targets ready "
                "Target.ResponseCodeMismatch · prod/payments awsvpc (awsvpc subnet-0a1b2c3d, subnet-4e5f6a7b)") in text
        # And in the service's attention reasons (rule 9).
        assert "1 target unhealthy: Target.ResponseCodeMismatch (target group payments-tg)" in text
