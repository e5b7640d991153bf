"""What an operator reads during an incident on the service screen: a task's every field and full error
(enter), an error column as wide as the screen allows, the newest events, rollout-follow lines that tell tasks
apart, and service logs whose long lines wrap."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from textual.widgets import Input, Log
from ui_support import (
    SMALL,
    WIDE,
    cluster_of,
    find_service,
    footer_keys,
    open_service,
    running_app,
    screen_text,
    wait_until,
)

from pilothouse.console.app import ClusterUpdated
from pilothouse.console.fleet import Fleet
from pilothouse.console.screens.help import HelpScreen
from pilothouse.console.screens.logs import LogScreen
from pilothouse.console.screens.service import SCROLLBAR
from pilothouse.console.screens.task_detail import TaskDetailScreen
from pilothouse.providers.base import LogLine
from pilothouse.providers.demo import DemoProvider
from pilothouse.providers.model import Event, Service, Task, TaskState
from pilothouse.widgets.diff_table import DiffTable


def failing_task(service: Service) -> Task:
    """The demo's failed task: killed by the orchestrator after its health check failed."""
    return next(task for task in service.tasks if task.state is TaskState.FAILED and task.exit_code)


def squashed(text: str) -> str:
    """Screen text with wrapping undone: the dialog breaks long values over lines and pads them with borders."""
    return " ".join(word for line in text.splitlines() for word in line.strip(" █▌▐").split())


# -- the task detail ----------------------------------------------------------------------------


async def test_enter_shows_every_field_and_the_full_error_at_80x24(tmp_path: Path) -> None:
    async with running_app(tmp_path, size=SMALL) as (app, pilot):
        screen = await open_service(app, pilot, "demo-swarm", "shop_payments")
        task = failing_task(find_service(app, "demo-swarm", "shop_payments"))
        assert len(task.error) > 40  # longer than the table has room for at 80 columns
        table = screen.query_one(DiffTable)
        assert table.move_to_key(task.id)
        assert task.error not in screen_text(app)
        assert footer_keys(app).get("task_detail") == "⏎"

        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, TaskDetailScreen), what="the task detail")
        text = squashed(screen_text(app))
        assert task.error in text  # whole, wrapped if need be
        for label, value in (("task", task.id), ("node", task.node_name), ("state", task.state.value),
                             ("current state", task.raw_state), ("desired state", task.desired_state.value),
                             ("health", task.health.value), ("version", task.version),
                             ("exit code", str(task.exit_code)), ("restarts", str(task.restarts))):
            assert f"{label} {value}" in text, label
        for label in ("started", "stopped", "address", "slot"):
            assert label in text

        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is screen, what="back on the service screen")
        assert table.cursor_key == task.id


async def test_detail_follows_snapshots_and_opens_the_tasks_logs(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot):
        screen = await open_service(app, pilot, "demo-k8s", "prod/payments")
        service = find_service(app, "demo-k8s", "prod/payments")
        task = failing_task(service)
        assert screen.query_one(DiffTable).move_to_key(task.id)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, TaskDetailScreen), what="the task detail")
        detail = app.screen
        assert isinstance(detail, TaskDetailScreen)

        # A snapshot arrives while it is open: the dialog shows the task as it is now, then that it is gone.
        app.stop_refreshers()
        cluster = cluster_of(app, "demo-k8s")
        synced = cluster.last_sync
        assert synced is not None
        restarted = dataclasses.replace(task, restarts=4, error="OOMKilled: container exceeded its 256Mi limit")

        def post(tasks: tuple[Task, ...]) -> None:
            changed = dataclasses.replace(service, tasks=tasks)
            app.post_message(ClusterUpdated(dataclasses.replace(
                cluster, last_sync=synced + timedelta(seconds=5),
                services=tuple(changed if s.id == service.id else s for s in cluster.services))))

        post(tuple(restarted if t.id == task.id else t for t in service.tasks))
        await wait_until(pilot, lambda: "OOMKilled" in squashed(screen_text(app)), what="the new error")
        assert "restarts 4" in squashed(screen_text(app))
        post(tuple(t for t in service.tasks if t.id != task.id))
        await wait_until(pilot, lambda: "no longer in the latest snapshot" in squashed(screen_text(app)),
                         what="the task marked gone")
        assert "OOMKilled" in squashed(screen_text(app))  # as last seen

        await pilot.press("l")
        await wait_until(pilot, lambda: isinstance(app.screen, LogScreen), what="the task's logs")
        logs = app.screen
        assert isinstance(logs, LogScreen)
        assert logs.task_id == task.id


async def test_task_detail_key_remaps_and_is_in_help(tmp_path: Path) -> None:
    async with running_app(tmp_path, keymap={"task_detail": "i"}) as (app, pilot):
        screen = await open_service(app, pilot, "demo-ecs", "prod/payments")
        await wait_until(pilot, lambda: footer_keys(app).get("task_detail") == "i", what="i in the footer")
        await pilot.press("i")
        await wait_until(pilot, lambda: isinstance(app.screen, TaskDetailScreen), what="the detail on i")
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is screen, what="closed")
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), what="help")
        help_screen = app.screen
        assert isinstance(help_screen, HelpScreen)
        service_keys = {binding.id: binding.key for binding in dict(help_screen.sections)["Service"]}
        assert service_keys["task_detail"] == "i"
        # The service section may sit below the fold (the fleet's keys come first): scroll down to it.
        for _ in range(40):
            if "full error" in screen_text(app):
                break
            await pilot.press("down")
        assert "full error" in screen_text(app)


# -- the error column ---------------------------------------------------------------------------


@pytest.mark.parametrize("size", [WIDE, SMALL])
async def test_error_column_takes_the_rest_of_the_width(tmp_path: Path, size: tuple[int, int]) -> None:
    async with running_app(tmp_path, size=size) as (app, pilot):
        screen = await open_service(app, pilot, "demo-swarm", "shop_payments")
        table = screen.query_one(DiffTable)
        await wait_until(pilot, lambda: table.virtual_size.width > 0, what="the table laid out")
        # Every column on screen, none scrolled off to the side, no cell left unused.
        assert table.virtual_size.width == size[0] - SCROLLBAR
        error = table.ordered_columns[-1]
        assert str(error.key.value) == "error"
        if size == WIDE:
            # Short node names leave their room to the error: most of a long error reads in the table, beside
            # Swarm's own SLOT and CURRENT STATE columns.
            assert error.width >= 40
            assert [str(column.label) for column in table.ordered_columns][1:4] == ["SLOT", "NODE", "CURRENT STATE"]
            assert "task: non-zero exit (137): dockerexec" in screen_text(app)


# -- recent events ------------------------------------------------------------------------------


async def test_the_newest_events_are_the_ones_shown(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot):
        screen = await open_service(app, pilot, "demo-swarm", "shop_api")
        app.stop_refreshers()
        cluster = cluster_of(app, "demo-swarm")
        service = find_service(app, "demo-swarm", "shop_api")
        start = cluster.last_sync
        assert start is not None
        events = tuple(Event(start + timedelta(seconds=second), cluster.name, f"service {service.ref}", "update",
                             f"step {second:02d} of the incident", service_ref=service.ref)
                       for second in range(12))
        app.post_message(ClusterUpdated(dataclasses.replace(cluster, events=(*cluster.events, *events))))
        await wait_until(pilot, lambda: "step 11 of the incident" in screen_text(app), what="the newest event")
        text = screen_text(app)
        assert "step 00 of the incident" not in text
        # Newest first: the panel can only ever cut the oldest.
        assert text.index("step 11") < text.index("step 10") < text.index("step 09")
        panel = str(screen.query_one("#service-events").render())
        assert "step 07" in panel and "step 06" not in panel  # bounded: five entries


# -- rollout follow -----------------------------------------------------------------------------


async def test_follow_lines_carry_whole_task_ids(tmp_path: Path) -> None:
    async with running_app(tmp_path, size=SMALL) as (app, pilot):
        screen = await open_service(app, pilot, "demo-k8s", "prod/api")
        app.stop_refreshers()
        await pilot.press("w")
        panel = screen.query_one("#rollout-follow", Log)
        cluster = cluster_of(app, "demo-k8s")
        service = find_service(app, "demo-k8s", "prod/api")
        # Kubernetes ids: the namespace, then pod names that differ only at the end.
        pods = tuple(Task(id=f"prod/api-7c9f8d6b5-{suffix}", service_id=service.id, state=TaskState.STARTING,
                          node_name="ip-10-1-0-10.eu-west-1.compute.internal") for suffix in ("x2kqz", "p8wmn"))
        moved = dataclasses.replace(service, tasks=(*service.tasks, *pods))
        app.post_message(ClusterUpdated(dataclasses.replace(cluster, services=tuple(
            moved if s.id == service.id else s for s in cluster.services))))
        await wait_until(pilot, lambda: sum("prod/api-7c9f8d6b5-" in line for line in panel.lines) == 2,
                         what="a line per new pod")
        assert any("task prod/api-7c9f8d6b5-x2kqz on" in line for line in panel.lines)
        assert any("task prod/api-7c9f8d6b5-p8wmn on" in line for line in panel.lines)


# -- logs ---------------------------------------------------------------------------------------

LONG_WORDS = [f"field{number:02d}=value" for number in range(30)]
LONG_LINE = "ERROR payment declined: " + " ".join(LONG_WORDS) + " END"


class LongLinesDemo(DemoProvider):
    """The frozen demo, with one log line far wider than any terminal among short ones."""

    def logs(self, service: Service, *, task_id: str = "", tail: int = 200, follow: bool = False,
             stop: threading.Event | None = None) -> Iterator[LogLine]:
        for number in range(30):
            yield LogLine(None, "", f"INFO short line {number}")
            if number == 25:
                yield LogLine(None, "", LONG_LINE)
        if follow and stop is not None:
            stop.wait()


def long_lines(fleet: Fleet) -> None:
    fleet.providers["demo-swarm"] = LongLinesDemo(fleet.providers["demo-swarm"].config)


async def test_long_log_lines_wrap_whole_into_view(tmp_path: Path) -> None:
    async with running_app(tmp_path, size=SMALL, prepare=long_lines) as (app, pilot):
        await open_service(app, pilot, "demo-swarm", "shop_payments")
        await pilot.press("L")
        await wait_until(pilot, lambda: isinstance(app.screen, LogScreen) and app.screen.view.line_count == 31,
                         what="the lines")
        logs = app.screen
        assert isinstance(logs, LogScreen)
        view = logs.view
        assert len(LONG_LINE) > 2 * app.size[0]
        assert LONG_LINE in view.lines  # one line in the buffer, however many rows on screen
        text = screen_text(app)
        assert all(word in text for word in LONG_WORDS), "every part of the long line is on screen"
        assert "END" in text
        assert view.virtual_size.width <= view.scrollable_content_region.width  # nothing off to the side
        assert view.row_count > view.line_count

        # Search still finds lines, not rows, and shows the match.
        await pilot.press("slash", *"field29", "enter")
        assert logs.match_index is not None and view.lines[logs.match_index] == LONG_LINE
        top = view.row_of(logs.match_index)
        assert view.scroll_offset.y <= top < view.scroll_offset.y + view.scrollable_content_region.height
        await pilot.press("slash")
        logs.query_one("#log-search", Input).value = ""
        await pilot.press(*"short line 2", "enter")
        first = logs.match_index
        assert first is not None and "short line 2" in view.lines[first]
        await pilot.press("n")
        assert logs.match_index is not None and logs.match_index != first
        assert "short line 2" in view.lines[logs.match_index]

        # Wider: fewer rows, the same lines; the wrap toggle gives one row per line.
        await pilot.resize_terminal(120, 40)
        await wait_until(pilot, lambda: view.scrollable_content_region.width > 100, what="the wider view")
        assert view.row_count == view.line_count + len(view._cuts(LONG_LINE, len(LONG_LINE))) - 1
        await pilot.press("w")
        assert not view.wrap and view.row_count == view.line_count
        assert view.virtual_size.width == len(LONG_LINE)
        assert "not wrapped" in screen_text(app)
