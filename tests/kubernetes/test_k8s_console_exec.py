"""The exec key (!) in the real console against the API test server: a pod with two containers asks which, the
confirmation names pod, node, container and command, the session runs over pods/exec with the console handed
over (ConsoleApp.terminal_session, the seam a headless driver cannot suspend for real: here a pipe holding what
the operator types), and the exit code comes back as a toast; the audit has the command, not the session."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from apiserver import ApiServer
from k8s_objects import EXEC_HASH, exec_world
from k8s_support import audit_lines
from test_k8s_console_drain import Heard, settle
from textual.widgets import OptionList

from pilothouse.console.app import PilothouseApp
from pilothouse.console.config import AppConfig
from pilothouse.console.fleet import Fleet
from pilothouse.console.screens.confirm import ConfirmScreen
from pilothouse.console.screens.container_choice import ContainerChoice
from pilothouse.console.screens.fleet import FleetScreen, row_key
from pilothouse.providers.base import ClusterConfig
from pilothouse.providers.exec import ExecStreams


class Typed:
    """The terminal handed to the session: what the operator types (then end of input), and what came back."""

    def __init__(self, app: PilothouseApp, typed: bytes) -> None:
        self.app, self.typed = app, typed
        self.events: list[str] = []
        self.output = b""

    @contextmanager
    def session(self) -> Iterator[ExecStreams]:
        typed_r, typed_w = os.pipe()
        out_r, out_w = os.pipe()
        os.write(typed_w, self.typed)
        os.close(typed_w)
        self.events.append(f"suspended on {type(self.app.screen).__name__}")
        try:
            yield ExecStreams(stdin=typed_r, stdout=out_w, stderr=out_w, tty=False)
        finally:
            os.close(typed_r)
            os.close(out_w)
            with os.fdopen(out_r, "rb") as reader:
                self.output += reader.read()
            self.events.append("resumed")


async def test_exec_key_asks_the_container_confirms_and_runs_over_pods_exec(
    apiserver: ApiServer, kubeconfig: Path,
) -> None:
    exec_world(apiserver, sidecar=True)
    cluster = ClusterConfig(name="k8s", provider="kubernetes", refresh_interval=0.5,
                            options={"kubeconfig": str(kubeconfig)})
    config = AppConfig(clusters=(cluster,))
    app = PilothouseApp(Fleet(config), config)
    said = Heard(app)
    terminal = Typed(app, b"echo answer=$((6 * 7)); exit 4\n")
    app.terminal_session = terminal.session  # type: ignore[method-assign]  # the seam, on this instance
    async with app.run_test(size=(160, 50), notifications=True) as pilot:
        await settle(pilot, lambda: (snapshot := app.state.get("k8s")) is not None
                     and (web := snapshot.service("prod/web")) is not None and len(web.tasks) == 2, "prod/web")
        snapshot = app.state.get("k8s")
        assert snapshot is not None
        web = snapshot.service("prod/web")
        assert web is not None
        await settle(pilot, lambda: isinstance(app.screen, FleetScreen)
                     and app.screen.table.move_to_key(row_key("k8s", web.id)), "the fleet row")
        await pilot.pause()
        await pilot.press("exclamation_mark")
        await settle(pilot, lambda: isinstance(app.screen, ContainerChoice), "the container choice")
        options = app.screen.query_one(OptionList)
        assert [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)] == ["app", "proxy"]
        await pilot.press("down", "enter")
        await settle(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the exec confirmation")
        dialog = app.screen
        assert isinstance(dialog, ConfirmScreen)
        plan = dialog.plan
        assert plan.before == f"pod web-{EXEC_HASH}-b on node node-2, container proxy" and plan.after == "/bin/sh"
        assert not terminal.events and apiserver.state.count("create", "pods/exec") == 0  # nothing before the yes
        await pilot.press("y")
        await settle(pilot, lambda: terminal.events == ["suspended on FleetScreen", "resumed"], "the session")
        await settle(pilot, lambda: any("exited with code 4" in line for line in said()), "the exit code toast")
    assert terminal.output == b"answer=42\n"
    [session] = apiserver.state.exec_sessions
    assert (session.container, session.command, session.stdin_closed) == ("proxy", ["/bin/sh"], True)
    intent, outcome = [line for line in audit_lines() if line["action"] == "exec"]
    assert intent["after"] == "/bin/sh" and outcome["exit_code"] == 4 and "answer" not in str([intent, outcome])
