"""A fourth orchestrator from a plugin (tests/plugin/pilothouse_nomadlike, installed through the
`pilothouse.providers` entry-point group) on every screen, in its own words: clients, allocations, jobs,
disconnected, system job. Nothing in console/, widgets/ or the model names it."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from plugin_site import KIND, installed_plugin
from ui_support import notifications, open_service, running_app, screen_text, select_service, wait_until

from pilothouse.console.config import AppConfig
from pilothouse.console.screens.doctor import DoctorScreen
from pilothouse.console.screens.events import EventsScreen
from pilothouse.console.screens.help import HelpScreen
from pilothouse.console.screens.placement import PlacementScreen
from pilothouse.console.screens.task_detail import TaskDetailScreen
from pilothouse.providers.base import ClusterConfig
from pilothouse.widgets.diff_table import DiffTable

CLUSTER = "nomad-lab"


def with_plugin_cluster(config: AppConfig) -> AppConfig:
    return dataclasses.replace(config, clusters=(*config.clusters, ClusterConfig(name=CLUSTER, provider=KIND)))


def labels(table: DiffTable) -> list[str]:
    return [str(column.label) for column in table.ordered_columns]


async def test_every_screen_speaks_the_plugins_words(tmp_path: Path) -> None:
    with installed_plugin(tmp_path):
        async with running_app(tmp_path, size=(160, 50), configure=with_plugin_cluster) as (app, pilot):
            # Fleet: the cluster line counts clients and jobs, and names the down one as the plugin does.
            text = screen_text(app)
            assert f"{CLUSTER} {KIND} connected · 3 clients (1 disconnected) 3 jobs" in text
            assert "log-agent" in text

            # A system job cannot be scaled: refused in the plugin's words, not Swarm's or Kubernetes'.
            await select_service(app, pilot, CLUSTER, "default/log-agent")
            await pilot.press("s")
            await wait_until(pilot, lambda: any("system job" in note for note in notifications(app)),
                             what="the refusal")
            refusal = next(note for note in notifications(app) if "system job" in note)
            assert "one allocation per client" in refusal and "DaemonSet" not in refusal

            # Service: its allocations under its own headers, restarts included.
            screen = await open_service(app, pilot, CLUSTER, "default/web")
            table = screen.query_one(DiffTable)
            assert labels(table) == ["ALLOCATION", "RESTARTS", "CLIENT", "CLIENT STATUS", "HEALTH", "VERSION",
                                     "AGE", "TASK EVENT"]
            failed = next(key for key in table.keys if key.startswith("web[1]"))
            assert table.move_to_key(failed)

            # Task detail: every label in its words.
            await pilot.press("enter")
            await wait_until(pilot, lambda: isinstance(app.screen, TaskDetailScreen), what="the allocation")
            text = screen_text(app)
            for words in ("Allocation of nomad-lab/default/web", "allocation ", "client ", "client status",
                          "desired status", "task event", "address already in use"):
                assert words in text, words
            assert "slot" not in text  # it has no slots
            await pilot.press("escape")
            await wait_until(pilot, lambda: app.screen is screen, what="back on the service")

            # Placement: clients, their states in its words.
            await pilot.press("p")
            await wait_until(pilot, lambda: isinstance(app.screen, PlacementScreen), what="placement")
            grid = app.screen.query_one(DiffTable)
            await wait_until(pilot, lambda: grid.row_count >= 3, what="a row per client")
            assert labels(grid)[:2] == ["CLIENT", "STATE"]
            states = {grid.row_cells(name)[1].plain() for name in ("client-1", "client-2", "client-3")}
            assert states == {"ready", "disconnected", "ready draining"}
            assert "Placement · nomad-lab (Nomad-like) · 3 clients" in screen_text(app)
            await pilot.press("escape")
            await pilot.press("escape")

            # Nodes: its clients, in its words.
            await select_service(app, pilot, CLUSTER, "default/web")
            await pilot.press("n")
            await wait_until(pilot, lambda: "Clients · nomad-lab" in screen_text(app), what="the clients screen")
            text = screen_text(app)
            assert "3 clients, 1 not ready" in text and "ALLOCATIONS" in text and "CLIENT " in text
            await pilot.press("escape")

            # Doctor: the plugin's jobs are judged too (generic advice: it brought none).
            await pilot.press("d")
            await wait_until(pilot, lambda: isinstance(app.screen, DoctorScreen), what="doctor")
            # The demo's own findings fill the first screen: filter to the plugin's job.
            await pilot.press("slash", *"default/cron")
            await wait_until(pilot, lambda: "default/cron" in screen_text(app), what="a finding on the plugin's job")
            await pilot.press("escape")  # the filter
            await pilot.press("escape")  # the doctor
            await wait_until(pilot, lambda: not isinstance(app.screen, DoctorScreen), what="back from the doctor")

            # Events: its own objects.
            await pilot.press("e")
            await wait_until(pilot, lambda: isinstance(app.screen, EventsScreen), what="events")
            await wait_until(pilot, lambda: "allocation web[1]" in screen_text(app), what="the plugin's event")
            await pilot.press("escape")

            # Help: a line saying how this orchestrator is worded, beside the built-ins the demo imitates.
            await pilot.press("question_mark")
            await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), what="help")
            app.screen.query_one("#help-box").scroll_end(animate=False)  # the words come after the keys
            await pilot.pause()
            help_text = " ".join(screen_text(app).split())
            assert "Nomad-like: jobs run allocations on clients" in help_text
            assert "Kubernetes: workloads run pods on nodes" in help_text
