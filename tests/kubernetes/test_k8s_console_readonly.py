"""Read-only proven at the transport for a console session of key presses: every request the provider sends
while an operator presses the mutating keys (service keys, then cordon/uncordon/drain on the nodes screen, and
opens every screen) is a read."""

from __future__ import annotations

import json
from pathlib import Path

from apiserver import ApiServer
from test_k8s_cli import seed

from pilothouse.console.app import PilothouseApp
from pilothouse.console.audit import default_audit_path
from pilothouse.console.config import AppConfig
from pilothouse.console.fleet import Fleet
from pilothouse.console.screens.fleet import FleetScreen, row_key
from pilothouse.console.screens.nodes import NodesScreen
from pilothouse.providers.base import ClusterConfig
from pilothouse.widgets.diff_table import DiffTable


async def test_key_presses_in_readonly_mode_send_only_reads(apiserver: ApiServer, kubeconfig: Path) -> None:
    seed(apiserver)
    cluster = ClusterConfig(name="k8s", provider="kubernetes", readonly=True, refresh_interval=0.5,
                            options={"kubeconfig": str(kubeconfig)})
    config = AppConfig(clusters=(cluster,))
    app = PilothouseApp(Fleet(config), config)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        for _ in range(200):
            fleet = app.screen
            if isinstance(fleet, FleetScreen) and fleet.table.row_count >= 3:
                break
            await pilot.pause(0.05)
        fleet = app.screen
        assert isinstance(fleet, FleetScreen) and fleet.table.row_count >= 3
        web = app.state.clusters["k8s"].service("prod/web")
        assert web is not None
        assert fleet.table.move_to_key(row_key("k8s", web.id))
        # Every mutating key, on the fleet and on the service screen, plus the read-only screens.
        for key in ("s", "plus", "minus", "R", "enter", "s", "plus", "R", "escape", "p", "escape", "d", "escape",
                    "e", "escape", "s", "R"):
            await pilot.press(key)
            await pilot.pause()
        # And the node keys (cordon, uncordon, drain) on the nodes screen.
        app.push_screen(NodesScreen("k8s"))
        for _ in range(200):
            if isinstance(app.screen, NodesScreen) and app.screen.query(DiffTable) and \
                    app.screen.query_one(DiffTable).row_count:
                break
            await pilot.pause(0.05)
        assert isinstance(app.screen, NodesScreen)
        assert not any(app.screen.check_action(name, ()) for name in ("cordon", "uncordon", "drain"))
        for key in ("C", "U", "D"):
            await pilot.press(key)
            await pilot.pause()
        audited = default_audit_path()
        for _ in range(200):  # the refused attempts are audited off the UI thread
            if audited.exists() and len(audited.read_text().splitlines()) >= 8:
                break
            await pilot.pause(0.05)
    assert apiserver.state.mutating_requests() == 0
    assert sum(apiserver.state.methods.values()) == apiserver.state.methods["GET"] > 0
    assert apiserver.state.get("deployments", "prod", "web")["spec"]["replicas"] == 3
    audit = [json.loads(line) for line in default_audit_path().read_text().splitlines()]
    assert len(audit) >= 8 and all(entry["result"].startswith("refused") for entry in audit)
    assert {entry["action"] for entry in audit} >= {"cordon", "uncordon", "drain"}
