"""Exec from the keyboard (!, a shell): the confirmation names task, node, container and command; a task with
several containers asks which; the session runs with the console suspended (ConsoleApp.terminal_session, the
seam a headless driver cannot suspend for real) and the console comes back to the same screen with a toast
naming the exit code; read-only hides and refuses the key, audited; the audit holds who, where, the command.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from ui_support import (
    audit_lines,
    find_service,
    footer_keys,
    notifications,
    open_service,
    running_app,
    screen_text,
    select_service,
    wait_until,
)

from pilothouse.console.app import PilothouseApp
from pilothouse.console.fleet import Fleet
from pilothouse.console.screens.confirm import ConfirmScreen
from pilothouse.console.screens.container_choice import ContainerChoice
from pilothouse.console.screens.fleet import FleetScreen
from pilothouse.console.screens.service import ServiceScreen
from pilothouse.console.screens.task_detail import TaskDetailScreen
from pilothouse.providers.demo import DemoProvider
from pilothouse.providers.exec import ExecStreams
from pilothouse.providers.model import TaskState
from pilothouse.widgets.diff_table import DiffTable


class Terminal:
    """Stands in for the suspended terminal: records the hand-over and gives the session a pipe to write to."""

    def __init__(self, app: PilothouseApp) -> None:
        self.app = app
        self.events: list[str] = []
        self.output = b""

    @contextmanager
    def session(self) -> Iterator[ExecStreams]:
        read, write = os.pipe()
        # What suspend would do: the screens stop drawing while the session holds the terminal.
        self.events.append(f"suspended on {type(self.app.screen).__name__}")
        try:
            yield ExecStreams(stdin=read, stdout=write, stderr=write, tty=False)
        finally:
            os.close(write)
            with os.fdopen(read, "rb") as reader:
                self.output += reader.read()
            self.events.append("resumed")


def observed(app: PilothouseApp) -> Terminal:
    terminal = Terminal(app)
    app.terminal_session = terminal.session  # type: ignore[method-assign]  # the seam, on this instance
    return terminal


async def test_exec_key_confirms_then_runs_the_session_suspended(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot):
        terminal = observed(app)
        screen = await open_service(app, pilot, "demo-swarm", "shop_web")
        await wait_until(pilot, lambda: footer_keys(app).get("exec") == "!", what="! Shell in the footer")
        service = find_service(app, "demo-swarm", "shop_web")
        task_id = next(task.id for task in service.tasks if task.state is TaskState.RUNNING)
        assert screen.query_one(DiffTable).move_to_key(task_id)
        await pilot.pause()
        await pilot.press("exclamation_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="exec confirmation")
        text = screen_text(app)
        assert "Exec demo-swarm/shop_web" in text and f"task {task_id} on node" in text
        assert "container web" in text and "run  /bin/sh" in text and "Yes, run" in text
        assert not terminal.events  # nothing handed over before the yes
        await pilot.press("y")
        await wait_until(pilot, lambda: terminal.events == ["suspended on ServiceScreen", "resumed"],
                         what="the session, suspended then resumed")
        await wait_until(pilot, lambda: any("exited with code 0" in m for m in notifications(app)),
                         what="the exit code toast")
        assert app.screen is screen  # back on the same screen
        assert b"/bin/sh would run in task " + task_id.encode() in terminal.output
        lines = audit_lines(tmp_path)
        assert [(line["action"], line["result"]) for line in lines] == [("exec", "pending"), ("exec", "ok")]
        intent, outcome = lines
        assert intent["phase"] == "intent" and outcome["exit_code"] == 0
        assert intent["before"].startswith(f"task {task_id} on node ") and intent["after"] == "/bin/sh"
        assert intent["user"] and intent["cluster"] == "demo-swarm" and intent["service"] == "shop_web"


async def test_exec_from_the_task_detail_is_that_task(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot):
        terminal = observed(app)
        screen = await open_service(app, pilot, "demo-ecs", "web")
        service = find_service(app, "demo-ecs", "web")
        task_id = [task.id for task in service.tasks if task.state is TaskState.RUNNING][-1]
        assert screen.query_one(DiffTable).move_to_key(task_id)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, TaskDetailScreen), what="the task detail")
        assert "!: a shell in it" in screen_text(app)
        await pilot.press("exclamation_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="exec confirmation")
        assert f"task {task_id} on" in screen_text(app)
        await pilot.press("y")
        await wait_until(pilot, lambda: terminal.events == ["suspended on ServiceScreen", "resumed"],
                         what="the session")
        assert app.screen is screen


async def test_exec_cancelled_hands_nothing_over(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot):
        terminal = observed(app)
        await select_service(app, pilot, "demo-ecs", "web")
        await pilot.press("exclamation_mark")  # from the fleet: a running task of the service
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="exec confirmation")
        await pilot.press("n")
        await wait_until(pilot, lambda: isinstance(app.screen, FleetScreen), what="cancelled")
        await wait_until(pilot, lambda: len(audit_lines(tmp_path)) == 1, what="the cancel audited")
        assert audit_lines(tmp_path)[0]["result"] == "cancelled" and not terminal.events


def with_sidecar(fleet: Fleet) -> None:
    provider = fleet.providers["demo-k8s"]
    assert isinstance(provider, DemoProvider)
    web = next(definition for definition in provider.services if definition.name == "web")
    web.containers = (*web.containers, replace(web.containers[0], name="envoy", image="envoyproxy/envoy:v1.31"))


async def test_a_task_with_several_containers_asks_which(tmp_path: Path) -> None:
    async with running_app(tmp_path, prepare=with_sidecar) as (app, pilot):
        terminal = observed(app)
        await select_service(app, pilot, "demo-k8s", "prod/web")  # from the fleet: a running pod
        await pilot.press("exclamation_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, ContainerChoice), what="the container choice")
        text = screen_text(app)
        assert "Exec into which container" in text and "web" in text and "envoy" in text
        await pilot.press("escape")  # cancelled: nothing planned, nothing audited
        await wait_until(pilot, lambda: isinstance(app.screen, FleetScreen), what="back to the fleet")
        await pilot.press("exclamation_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, ContainerChoice), what="the choice again")
        await pilot.press("down", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="exec confirmation")
        assert "container envoy" in screen_text(app)
        await pilot.press("y")
        await wait_until(pilot, lambda: terminal.events[-1:] == ["resumed"], what="the session")
        await wait_until(pilot, lambda: len(audit_lines(tmp_path)) == 2, what="intent and outcome")
        assert audit_lines(tmp_path)[0]["before"].endswith("container envoy")
        assert b"container envoy" in terminal.output


async def test_readonly_hides_and_refuses_exec(tmp_path: Path) -> None:
    async with running_app(tmp_path, readonly=True) as (app, pilot):
        terminal = observed(app)
        await open_service(app, pilot, "demo-swarm", "shop_web")
        await wait_until(pilot, lambda: "back" in footer_keys(app), what="the footer")
        assert "exec" not in footer_keys(app)
        await pilot.press("exclamation_mark")
        await wait_until(pilot, lambda: any("exec refused" in m and "readonly" in m for m in notifications(app)),
                         what="the refusal explained")
        await wait_until(pilot, lambda: len(audit_lines(tmp_path)) == 1, what="the refusal audited")
        [line] = audit_lines(tmp_path)
        assert line["action"] == "exec" and line["result"].startswith("refused") and not terminal.events
        assert isinstance(app.screen, ServiceScreen)
        await pilot.press("enter")  # the task detail neither offers it nor runs it
        await wait_until(pilot, lambda: isinstance(app.screen, TaskDetailScreen), what="the task detail")
        assert "a shell in it" not in screen_text(app)
        await pilot.press("exclamation_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, ServiceScreen), what="back, refused")
        await wait_until(pilot, lambda: len(audit_lines(tmp_path)) == 2, what="that refusal audited too")
        assert not terminal.events


async def test_a_terminal_that_cannot_suspend_fails_the_session_with_one_toast(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot):
        await select_service(app, pilot, "demo-swarm", "shop_web")
        await pilot.press("exclamation_mark")  # the real seam: Textual's headless driver cannot suspend
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="exec confirmation")
        await pilot.press("y")
        await wait_until(pilot, lambda: any("cannot be handed to a session" in m for m in notifications(app)),
                         what="the failure toast")
        results = [line["result"] for line in audit_lines(tmp_path)]
        assert results[0] == "pending" and results[1].startswith("failed: this terminal cannot")
        assert isinstance(app.screen, FleetScreen)
