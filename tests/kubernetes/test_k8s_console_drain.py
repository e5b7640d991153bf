"""The drain key on a Kubernetes node in the real console, against the API test server: the keys offered follow
the node's state (no uncordon on a schedulable node; pressed anyway, it says why and sends nothing), the typed
confirmation shows the plan (what is evicted, what stays), each eviction arrives as a toast from the worker,
and the end names the pod a PodDisruptionBudget kept, with the budget. Quitting while a refused eviction waits to
be retried stops the drain (the worker is cancelled) and its outcome is still audited."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from apiserver import ApiServer
from k8s_support import audit_lines, wait_until
from test_k8s_drain import drain_world
from textual.widgets import Input
from toasts import toasts

from pilothouse.console.app import PilothouseApp
from pilothouse.console.config import AppConfig
from pilothouse.console.fleet import Fleet
from pilothouse.console.screens.node_actions import TypedConfirmScreen
from pilothouse.console.screens.nodes import NodesScreen
from pilothouse.providers.base import ClusterConfig
from pilothouse.widgets.diff_table import DiffTable


async def settle(pilot: Any, predicate: Callable[[], Any], what: str, timeout: float = 15.0) -> None:
    for _ in range(int(timeout / 0.05)):
        if predicate():
            return
        await pilot.pause(0.05)
    raise AssertionError(f"timed out waiting for {what}")


class Heard:
    """Every toast an app has shown, in order: a toast may expire before the test looks (a loaded machine), so
    each look adds what is on screen now to what was seen before."""

    def __init__(self, app: PilothouseApp) -> None:
        self.app, self.lines = app, list[str]()

    def __call__(self) -> list[str]:
        for toast in toasts(self.app):
            line = f"{toast.title}: {toast.message}"
            if line not in self.lines:
                self.lines.append(line)
        return self.lines


def drain_app(apiserver: ApiServer, kubeconfig: Path, drain_timeout: int) -> tuple[PilothouseApp, Heard]:
    drain_world(apiserver, unmanaged=False)
    cluster = ClusterConfig(name="k8s", provider="kubernetes", refresh_interval=0.5,
                            options={"kubeconfig": str(kubeconfig), "drain_timeout": drain_timeout})
    config = AppConfig(clusters=(cluster,))
    app = PilothouseApp(Fleet(config), config)
    return app, Heard(app)


async def node_one_selected(app: PilothouseApp, pilot: Any) -> DiffTable:
    """The nodes screen open on node-1's row."""
    await settle(pilot, lambda: (snapshot := app.state.get("k8s")) is not None and len(snapshot.nodes) == 2,
                 "the nodes")
    app.push_screen(NodesScreen("k8s"))
    await settle(pilot, lambda: isinstance(app.screen, NodesScreen) and app.screen.query(DiffTable),
                 "the nodes screen")
    table = app.screen.query_one(DiffTable)
    await settle(pilot, lambda: "node-1" in table.keys, "node-1's row")
    table.move_to_key("node-1")
    return table


async def test_drain_key_confirms_by_name_and_shows_each_eviction(apiserver: ApiServer, kubeconfig: Path) -> None:
    app, said = drain_app(apiserver, kubeconfig, drain_timeout=0)
    async with app.run_test(size=(160, 50), notifications=True) as pilot:
        await node_one_selected(app, pilot)
        screen = app.screen
        await pilot.pause()
        offered = {name: screen.check_action(name, ()) for name in ("cordon", "uncordon", "drain")}
        assert offered == {"cordon": True, "uncordon": False, "drain": True}

        await pilot.press("U")  # not offered: says why, sends nothing
        await settle(pilot, lambda: any("nothing to uncordon" in line for line in said()), "the reason")
        assert apiserver.state.mutating_requests() == 0

        await pilot.press("D")
        await settle(pilot, lambda: isinstance(app.screen, TypedConfirmScreen), "the typed confirmation")
        dialog = app.screen
        assert isinstance(dialog, TypedConfirmScreen)
        assert dialog.plan.after == "cordon node-1, evict 3 pods (1 DaemonSet pod stays; 1 static pod stays)"
        dialog.query_one(Input).value = "node-1"
        await pilot.press("enter")
        await settle(pilot, lambda: any("incomplete" in line for line in said()), "the drain's end")
        lines = said()
        assert "Drain · k8s/node-1: evicted pod prod/cache-x (1 of 3)" in lines
        assert "Drain · k8s/node-1: evicted pod prod/web-a (2 of 3)" in lines
        [end] = [line for line in lines if "incomplete" in line]
        assert end.startswith("Failed · k8s: drain of node-1 incomplete")
        assert "prod/web-b (PodDisruptionBudget web-pdb needs 2 healthy pods and has 2 currently" in end
        assert apiserver.state.mutating_requests() == 4  # the cordon and three evictions

        # The next snapshot shows it cordoned: cordon is no longer offered, uncordon is.
        await settle(pilot, lambda: screen.check_action("cordon", ()) is False, "cordon withdrawn")
        assert screen.check_action("uncordon", ()) is True


async def test_closing_the_console_stops_a_drain_between_evictions(apiserver: ApiServer, kubeconfig: Path) -> None:
    app, said = drain_app(apiserver, kubeconfig, drain_timeout=600)
    async with app.run_test(size=(160, 50), notifications=True) as pilot:
        await node_one_selected(app, pilot)
        await pilot.press("D")
        await settle(pilot, lambda: isinstance(app.screen, TypedConfirmScreen), "the typed confirmation")
        app.screen.query_one(Input).value = "node-1"
        await pilot.press("enter")
        # web-b's budget refuses and the drain waits to retry (for up to 600 s): the operator quits meanwhile.
        await settle(pilot, lambda: any("not evicted yet" in line for line in said()), "the refusal")
    outcome = wait_until(lambda: [line for line in audit_lines() if line["result"].startswith("failed")], 15,
                         what="the drain's outcome, written once it stopped")
    assert "prod/web-b (PodDisruptionBudget web-pdb needs 2 healthy pods and has 2 currently, the drain was " \
           "stopped)" in outcome[0]["result"]
