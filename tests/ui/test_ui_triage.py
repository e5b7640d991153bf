"""Incident triage on the frozen demo: the Doctor screen and findings column, the Events timeline (with
the console's own audit entries), the Log screen (follow, search, bounded buffer, refusal) and following
a rollout from the service screen."""

from __future__ import annotations

import dataclasses
import os
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any, ClassVar

from textual.widgets import Input, Log
from ui_support import (
    SMALL,
    cluster_of,
    find_service,
    footer_keys,
    notifications,
    running_app,
    screen_text,
    select_service,
    wait_until,
)

from pilothouse.console.app import ClusterUpdated, PilothouseApp
from pilothouse.console.config import AppConfig
from pilothouse.console.fleet import Fleet
from pilothouse.console.screens.confirm import ConfirmScreen
from pilothouse.console.screens.doctor import DoctorScreen
from pilothouse.console.screens.events import EventsScreen
from pilothouse.console.screens.fleet import FleetScreen, row_key
from pilothouse.console.screens.help import HelpScreen
from pilothouse.console.screens.logs import LogScreen
from pilothouse.console.screens.scale import ScaleDialog
from pilothouse.console.screens.service import ServiceScreen
from pilothouse.providers.base import Action, Capability, LogLine
from pilothouse.providers.demo import DemoProvider
from pilothouse.providers.doctor import DoctorConfig, Silence, counts_by_service
from pilothouse.providers.model import Event, RolloutState, Service
from pilothouse.widgets.diff_table import DiffTable


async def scale_by_keys(app: PilothouseApp, pilot: Any, cluster: str, ref: str, replicas: int) -> None:
    await select_service(app, pilot, cluster, ref)
    await pilot.press("s")
    await wait_until(pilot, lambda: isinstance(app.screen, ScaleDialog), what="scale dialog")
    app.screen.query_one("#scale-input", Input).value = ""
    await pilot.press(*str(replicas), "enter")
    await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="confirmation")
    await pilot.press("y")
    await wait_until(pilot, lambda: find_service(app, cluster, ref).desired == replicas, what="scaled")


# -- doctor -------------------------------------------------------------------------------------


def silence_single_replica(config: AppConfig) -> AppConfig:
    doctor = DoctorConfig(trusted_registries=config.doctor.trusted_registries,
                          silences=(Silence("single-replica", "*", "cache is a throwaway"),))
    return dataclasses.replace(config, doctor=doctor)


async def test_doctor_lists_findings_filters_and_jumps(tmp_path: Path) -> None:
    async with running_app(tmp_path, configure=silence_single_replica) as (app, pilot):
        fleet = app.screen
        assert isinstance(fleet, FleetScreen)
        # The fleet column: unsilenced findings per service, as counts_by_service says.
        counts = counts_by_service(app.state.all_findings())
        for cluster, service in app.state.services():
            shown = fleet.table.row_cells(row_key(cluster.name, service.id))[7].plain()
            assert shown == str(counts.get((cluster.name, service.ref), "-")), service.ref

        await pilot.press("d")
        await wait_until(pilot, lambda: isinstance(app.screen, DoctorScreen), what="doctor screen")
        doctor = app.screen
        assert isinstance(doctor, DoctorScreen)
        findings = app.state.all_findings()
        await wait_until(pilot, lambda: doctor.table.row_count == len(findings), what="one row per finding")
        rules = {finding.rule for finding in findings}
        assert {"hardcoded-credential", "image-unversioned", "no-healthcheck", "single-replica"} <= rules
        # Worst first; silenced findings dimmed, with their reason.
        first = doctor.table.row_cells(doctor.table.keys[0])
        assert first[0].plain().lower().startswith("h")
        silenced = [key for key in doctor.table.keys if "single-replica" in key]
        assert silenced
        why = doctor.table.row_cells(silenced[0])[4]
        assert "silenced (cache is a throwaway)" in why.plain()
        assert any("dim" in str(span.style) for span in why.text.spans)
        text = screen_text(app)
        assert "silenced" in text and "demo-not-a-real-key" not in text

        await pilot.press("slash", *"payments credential")
        await wait_until(pilot, lambda: doctor.table.row_count == 3, what="the three hardcoded credentials")
        await pilot.press("enter")  # keep the filter, back to the table
        await pilot.press("c")  # demo-swarm only
        await wait_until(pilot, lambda: doctor.table.row_count == 1, what="one cluster")
        assert doctor.cluster_filter == "demo-swarm"
        assert "fix" in screen_text(app) and "secret" in screen_text(app)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ServiceScreen), what="the finding's service")
        service_screen = app.screen
        assert isinstance(service_screen, ServiceScreen)
        assert service_screen.service_id == find_service(app, "demo-swarm", "shop_payments").id
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is doctor, what="back on the doctor")
        await pilot.press("escape")  # clears the filter first
        await wait_until(pilot, lambda: doctor.table.row_count == len([
            f for f in app.state.all_findings() if f.cluster == "demo-swarm"]), what="filter cleared")
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, FleetScreen), what="fleet")


async def test_doctor_and_fleet_column_at_80x24(tmp_path: Path) -> None:
    async with running_app(tmp_path, size=SMALL) as (app, pilot):
        table = app.screen.query_one(DiffTable)
        assert "findings" in [column.key for column in table.table_columns]
        await pilot.press("d")
        await wait_until(pilot, lambda: isinstance(app.screen, DoctorScreen)
                         and app.screen.table.row_count > 0, what="doctor at 80x24")
        doctor = app.screen
        assert isinstance(doctor, DoctorScreen)
        total = sum(column.width or 0 for column in doctor.table.table_columns) + 2 * len(doctor.table.table_columns)
        assert total <= SMALL[0]
        text = screen_text(app)
        assert "why" in text and "fix" in text  # the detail lines carry what the narrow table drops


# -- events -------------------------------------------------------------------------------------


async def test_events_timeline_with_audit_filter_and_cluster(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot):
        await scale_by_keys(app, pilot, "demo-ecs", "prod/web", 5)
        await pilot.press("e")
        await wait_until(pilot, lambda: isinstance(app.screen, EventsScreen), what="events screen")
        events = app.screen
        assert isinstance(events, EventsScreen)
        await wait_until(pilot, lambda: any(event.kind == "audit" for event in events.events),
                         what="the console's audit entry")
        cluster_events = sum(len(cluster.events) for cluster in app.state.ordered())
        assert len(events.events) == cluster_events + 1
        table = events.table
        await wait_until(pilot, lambda: table.row_count == len(events.events), what="every event drawn")
        # Oldest first, newest at the bottom, and the cursor follows the bottom.
        stamps = [table.row_cells(key)[0].sort for key in table.keys]
        assert stamps == sorted(stamps)
        assert table.cursor_row == table.row_count - 1
        assert table.row_cells(table.keys[-1])[2].plain() == "audit"
        assert "prod/web" in table.row_cells(table.keys[-1])[3].plain()

        await pilot.press("c")
        assert events.cluster_filter == "demo-swarm"
        await wait_until(pilot, lambda: table.row_count == len(cluster_of(app, "demo-swarm").events),
                         what="only demo-swarm")
        await pilot.press("c", "c")
        assert events.cluster_filter == "demo-ecs"
        await pilot.press("slash", *"audit", "enter")
        await wait_until(pilot, lambda: table.row_count == 1, what="the audit entry alone")
        await pilot.press("escape")
        await pilot.press("c")
        assert events.cluster_filter is None
        await wait_until(pilot, lambda: table.row_count == len(events.events), what="everything again")


async def test_events_follow_the_bottom_unless_scrolled_up(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot):
        await pilot.press("e")
        await wait_until(pilot, lambda: isinstance(app.screen, EventsScreen) and app.screen.loaded,
                         what="events loaded")
        events = app.screen
        assert isinstance(events, EventsScreen)
        table = events.table
        app.stop_refreshers()  # only our hand-made snapshots from here on
        cluster = cluster_of(app, "demo-k8s")

        def add_event(message: str) -> None:
            latest = max(event.time for event in events.events)
            event = Event(latest + timedelta(seconds=1), cluster.name, "pod prod/web-1", "warning", message)
            current = cluster_of(app, "demo-k8s")
            app.post_message(ClusterUpdated(dataclasses.replace(current, events=(*current.events, event))))

        add_event("BackOff restarting failed container")
        await wait_until(pilot, lambda: "BackOff" in table.row_cells(table.keys[-1])[4].plain(), what="new event")
        assert table.cursor_row == table.row_count - 1  # followed
        await pilot.press("up", "up")
        reading = table.cursor_key
        add_event("Readiness probe failed")
        await wait_until(pilot, lambda: "Readiness" in table.row_cells(table.keys[-1])[4].plain(),
                         what="second event")
        assert table.cursor_key == reading  # scrolled up: left where the operator reads
        assert "scrolled up" in screen_text(app)
        await pilot.press("ctrl+end")
        add_event("Started container")
        await wait_until(pilot, lambda: "Started" in table.row_cells(table.keys[-1])[4].plain(), what="third event")
        assert table.cursor_row == table.row_count - 1


async def test_service_screen_shows_audit_entries(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot):
        before = find_service(app, "demo-k8s", "prod/auth").desired
        await scale_by_keys(app, pilot, "demo-k8s", "prod/auth", before + 1)
        await select_service(app, pilot, "demo-k8s", "prod/auth")
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ServiceScreen), what="service screen")
        await wait_until(pilot, lambda: "audit" in str(app.screen.query_one("#service-events").render()),
                         what="the audit entry in the service's events")
        assert f"scale {before} -> {before + 1}: ok" in str(app.screen.query_one("#service-events").render())


# -- logs ---------------------------------------------------------------------------------------


class TickingLogsDemo(DemoProvider):
    """The frozen demo, except that a followed log keeps ticking: something must arrive while paused."""

    def logs(self, service: Service, *, task_id: str = "", tail: int = 200, follow: bool = False,
             stop: threading.Event | None = None) -> Iterator[LogLine]:
        yield from super().logs(service, task_id=task_id, tail=tail, follow=False, stop=stop)
        waiter = stop or threading.Event()
        number = 0
        while follow and not waiter.wait(0.05):
            number += 1
            yield LogLine(None, "ticker", f"INFO {service.name}: tick {number}")


async def test_logs_follow_pause_search_and_close(tmp_path: Path) -> None:
    async with running_app(tmp_path, prepare=replace_provider("demo-swarm", TickingLogsDemo)) as (app, pilot):
        service = await select_service(app, pilot, "demo-swarm", "shop_payments")
        await pilot.press("l")
        await wait_until(pilot, lambda: isinstance(app.screen, LogScreen), what="log screen")
        logs = app.screen
        assert isinstance(logs, LogScreen)
        view = logs.view
        await wait_until(pilot, lambda: view.line_count >= 200, what="the tail")
        assert all(service.name in line or "ERROR" in line for line in view.lines)
        assert any("@" in line and " | " in line for line in view.lines)  # task and node of each line

        await pilot.press("f")
        assert not logs.following
        paused_at = view.line_count
        await wait_until(pilot, lambda: logs.received > paused_at, timeout=5, what="a line while paused")
        assert view.line_count == paused_at
        assert "paused" in screen_text(app)
        await pilot.press("f")
        assert view.line_count == logs.received

        await pilot.press("slash", *"request 151 in", "enter")
        assert logs.match_index is not None
        assert "request 151 in" in view.lines[logs.match_index]
        top = int(view.scroll_offset.y)
        assert top <= logs.match_index < top + view.size.height
        assert "match 1 of 1" in screen_text(app)
        await pilot.press("slash")
        field = logs.query_one("#log-search", Input)
        field.value = ""
        await pilot.press(*"error", "enter")
        first = logs.match_index
        assert first is not None and "ERROR" in view.lines[first]
        await pilot.press("n")
        assert logs.match_index is not None and logs.match_index > first
        assert "ERROR" in view.lines[logs.match_index]
        await pilot.press("N")
        assert logs.match_index == first

        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, FleetScreen), what="closed")
        assert logs.stop_event.is_set()
        await wait_until(pilot, lambda: not [w for w in app.workers if w.group == "logs" and w.is_running],
                         what="the stream thread to end")


async def test_task_logs_from_the_service_screen(tmp_path: Path) -> None:
    async with running_app(tmp_path, size=SMALL) as (app, pilot):
        service = await select_service(app, pilot, "demo-ecs", "prod/api")
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ServiceScreen)
                         and app.screen.query_one(DiffTable).row_count > 0, what="service screen")
        tasks = app.screen.query_one(DiffTable)
        task = service.tasks[2]
        assert tasks.move_to_key(task.id)
        await pilot.press("l")
        await wait_until(pilot, lambda: isinstance(app.screen, LogScreen), what="task logs")
        logs = app.screen
        assert isinstance(logs, LogScreen)
        assert logs.task_id == task.id
        await wait_until(pilot, lambda: logs.view.line_count >= 200, what="the task's tail")
        assert not any(" | " in line for line in logs.view.lines)  # one task: no source prefix
        assert task.id in screen_text(app)
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, ServiceScreen), what="back")
        await pilot.press("L")
        await wait_until(pilot, lambda: isinstance(app.screen, LogScreen) and app.screen.task_id == "",
                         what="every task's logs")


class FloodProvider(DemoProvider):
    """The demo, with a log stream far faster and longer than any buffer."""

    FLOOD: ClassVar[int] = 25_000

    def logs(self, service: Service, *, task_id: str = "", tail: int = 200, follow: bool = False,
             stop: threading.Event | None = None) -> Iterator[LogLine]:
        for number in range(self.FLOOD):
            yield LogLine(None, "flood", f"flood {number}")
        if follow and stop is not None:
            stop.wait()


class NoLogsProvider(DemoProvider):
    CAPABILITIES = frozenset({Capability.SCALE, Capability.ROLLBACK})


def replace_provider(name: str, provider_class: type[DemoProvider]) -> Any:
    def prepare(fleet: Fleet) -> None:
        # The action layer holds the same mapping: the test provider serves both.
        fleet.providers[name] = provider_class(fleet.providers[name].config)
    return prepare


async def test_log_flood_stays_within_the_buffer(tmp_path: Path) -> None:
    bound = 100

    def small_buffer(config: AppConfig) -> AppConfig:
        return dataclasses.replace(config, log_buffer_lines=bound)

    async with running_app(tmp_path, configure=small_buffer,
                           prepare=replace_provider("demo-swarm", FloodProvider)) as (app, pilot):
        await select_service(app, pilot, "demo-swarm", "shop_web")
        await pilot.press("l")
        await wait_until(pilot, lambda: isinstance(app.screen, LogScreen), what="log screen")
        logs = app.screen
        assert isinstance(logs, LogScreen)
        most = 0

        def done() -> bool:
            nonlocal most
            most = max(most, logs.view.line_count)
            return bool(logs.view.lines) and logs.view.lines[-1] == f"flood | flood {FloodProvider.FLOOD - 1}"

        await wait_until(pilot, done, timeout=30, what="the end of the flood")
        assert most <= bound
        assert logs.view.line_count == bound
        assert logs.view.lines[0] == f"flood | flood {FloodProvider.FLOOD - bound}"  # the oldest dropped
        # Batched: far fewer messages than lines.
        assert logs.batches <= FloodProvider.FLOOD // 10
        assert f"keeps {bound}" in screen_text(app)
        await pilot.press("escape")
        assert logs.stop_event.is_set()


async def test_logs_refused_without_the_capability(tmp_path: Path) -> None:
    async with running_app(tmp_path, prepare=replace_provider("demo-ecs", NoLogsProvider)) as (app, pilot):
        await select_service(app, pilot, "demo-ecs", "prod/web")
        await wait_until(pilot, lambda: "logs" not in footer_keys(app), what="no logs key offered")
        await pilot.press("l")
        await wait_until(pilot, lambda: any("cannot show logs" in m for m in notifications(app)),
                         what="the refusal")
        assert isinstance(app.screen, FleetScreen)
        await select_service(app, pilot, "demo-k8s", "prod/web")
        await wait_until(pilot, lambda: "logs" in footer_keys(app), what="logs offered again")
        # Opened anyway (a stale binding, the palette): the screen says why instead of streaming.
        app.push_screen(LogScreen("demo-ecs", find_service(app, "demo-ecs", "prod/web").id))
        await wait_until(pilot, lambda: isinstance(app.screen, LogScreen) and app.screen.ended, what="refusal")
        assert "cannot show logs" in screen_text(app)


# -- rollout follow -----------------------------------------------------------------------------


async def test_follow_rollout_until_rolled_back(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot):
        service = await select_service(app, pilot, "demo-k8s", "prod/api")
        assert service.rollout.state is RolloutState.UPDATING
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ServiceScreen), what="service screen")
        screen = app.screen
        assert isinstance(screen, ServiceScreen)
        await pilot.press("w")
        panel = screen.query_one("#rollout-follow", Log)
        assert panel.display
        assert any(f"updating {service.rollout.updated}/{service.rollout.total}" in line for line in panel.lines)
        await pilot.press("R")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="rollback confirmation")
        await pilot.press("y")
        await wait_until(pilot, lambda: any("rollout rolled back" in line for line in panel.lines),
                         what="the outcome")
        assert screen.outcome is not None and screen.outcome.exit_code == 1
        assert screen.follower is None
        assert any("rolling_back" in line or "rolled_back" in line for line in panel.lines)
        assert any("rolled back" in m for m in notifications(app))
        await pilot.press("w")
        assert not panel.display


async def test_follow_rollout_to_completion(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot):
        service = await select_service(app, pilot, "demo-swarm", "shop_api")
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ServiceScreen), what="service screen")
        screen = app.screen
        assert isinstance(screen, ServiceScreen)
        app.stop_refreshers()
        await pilot.press("w")
        panel = screen.query_one("#rollout-follow", Log)
        cluster = cluster_of(app, "demo-swarm")
        task = service.tasks[-1]
        rollout = dataclasses.replace(service.rollout, updated=service.rollout.updated + 1)
        moved = dataclasses.replace(service, rollout=rollout, tasks=(*service.tasks[:-1], dataclasses.replace(
            task, state=task.state.__class__("starting"))))
        app.post_message(ClusterUpdated(dataclasses.replace(cluster, services=tuple(
            moved if s.id == service.id else s for s in cluster.services))))
        await wait_until(pilot, lambda: any(f"{rollout.updated}/{rollout.total}" in line for line in panel.lines),
                         what="progress")
        assert any("running -> starting" in line for line in panel.lines)  # a task transition
        done = dataclasses.replace(service, rollout=dataclasses.replace(
            rollout, state=RolloutState.STABLE, updated=rollout.total, message="update completed"))
        app.post_message(ClusterUpdated(dataclasses.replace(cluster, services=tuple(
            done if s.id == service.id else s for s in cluster.services))))
        await wait_until(pilot, lambda: any("rollout completed" in line for line in panel.lines), what="completed")
        assert screen.outcome is not None and screen.outcome.exit_code == 0


# -- keys ---------------------------------------------------------------------------------------


async def test_new_keys_remap_and_work_read_only(tmp_path: Path) -> None:
    keymap = {"doctor": "D", "events": "E", "follow_logs": "p"}
    async with running_app(tmp_path, keymap=keymap, readonly=True) as (app, pilot):
        await select_service(app, pilot, "demo-swarm", "shop_web")
        await pilot.press("d")
        await pilot.pause()
        assert isinstance(app.screen, FleetScreen)  # d no longer opens the doctor
        await wait_until(pilot, lambda: footer_keys(app).get("doctor") == "D", what="D Doctor in the footer")
        await pilot.press("D")
        await wait_until(pilot, lambda: isinstance(app.screen, DoctorScreen), what="doctor on D")
        await pilot.press("escape")
        await pilot.press("E")
        await wait_until(pilot, lambda: isinstance(app.screen, EventsScreen), what="events on E")
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, FleetScreen), what="fleet")
        await pilot.press("l")  # logs read nothing mutable: offered in read-only mode
        await wait_until(pilot, lambda: isinstance(app.screen, LogScreen), what="logs read-only")
        logs = app.screen
        assert isinstance(logs, LogScreen)
        await pilot.press("p")
        assert not logs.following
        await pilot.press("escape")
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: app.screen.id == "help", what="help")
        help_screen = app.screen
        assert isinstance(help_screen, HelpScreen)
        sections = {title: {binding.id: binding.key for binding in bindings}
                    for title, bindings in help_screen.sections}
        assert sections["Fleet"]["doctor"] == "D" and sections["Fleet"]["events"] == "E"
        assert sections["Logs"]["follow_logs"] == "p"
        assert "follow_rollout" in sections["Service"] and "drill_down" in sections["Doctor"]
        assert "next_cluster" in sections["Events"]
        assert not [m for m in notifications(app) if "refused" in m]
        assert app.actions.refusal("demo-swarm", Action.SCALE, find_service(app, "demo-swarm", "shop_web"))


async def test_palette_opens_one_clusters_doctor(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot):
        await pilot.press("ctrl+p")
        await pilot.press(*"doctor demo-k8s")
        await wait_until(pilot, lambda: "doctor findings of demo-k8s" in screen_text(app), what="the command")
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, DoctorScreen), what="doctor from the palette")
        doctor = app.screen
        assert isinstance(doctor, DoctorScreen)
        assert doctor.cluster_filter == "demo-k8s"
        await wait_until(pilot, lambda: doctor.table.row_count == len(
            [f for f in app.state.all_findings() if f.cluster == "demo-k8s"]), what="demo-k8s findings only")


async def test_no_secret_value_on_screen_or_in_files_after_a_session(tmp_path: Path) -> None:
    secret = "demo-not-a-real-key"  # the literal PAYMENTS_API_KEY the demo plants
    async with running_app(tmp_path) as (app, pilot):
        await select_service(app, pilot, "demo-swarm", "shop_payments")
        seen = [screen_text(app)]
        for key in ("enter", "L", "escape", "escape", "d", "escape", "e", "escape", "s", "escape", "R", "escape"):
            await pilot.press(key)
            await pilot.pause()
            seen.append(screen_text(app))
    assert all(secret not in text for text in seen)
    assert any("PAYMENTS_API_KEY" in text for text in seen), "the service screen shows the name, masked"
    state = Path(os.environ["XDG_STATE_HOME"])
    files = [path for path in (*tmp_path.rglob("*"), *state.rglob("*")) if path.is_file()]
    assert files
    assert all(secret not in path.read_text(errors="replace") for path in files)
