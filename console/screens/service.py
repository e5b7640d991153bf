"""One service: its tasks (node, state, health, version, age, error), rollout detail and recent events."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Footer, Static

from console.screens.service_actions import ServiceActionScreen
from providers.model import Cluster, Event, Service, Task
from widgets.diff_table import Cell, Column, DiffTable, cell
from widgets.render import (
    ROLLOUT_STYLES,
    age,
    health_text,
    masked_env,
    progress_bar,
    replicas_text,
    task_health_text,
    task_state_text,
)

TASK_COLUMNS = (
    Column("task", "TASK", 14), Column("node", "NODE", 14), Column("state", "STATE", 10),
    Column("health", "HEALTH", 9), Column("version", "VERSION", 10), Column("age", "AGE", 5),
    Column("error", "ERROR", 48),
)
WIDE_NODE = 24


def task_columns(width: int) -> tuple[Column, ...]:
    """The node column grows on wide terminals (Kubernetes node names are long); the error takes the rest."""
    node = WIDE_NODE if width >= 120 else TASK_COLUMNS[1].width or 14
    columns = (TASK_COLUMNS[0], Column("node", "NODE", node), *TASK_COLUMNS[2:6])
    used = sum(column.width or 0 for column in columns) + 2 * (len(columns) + 1) + 2
    return (*columns, Column("error", "ERROR", max(20, width - used)))
RECENT_EVENTS = 6
STATE_ORDER = {"failed": 0, "starting": 1, "pending": 2, "running": 3}


def elapsed(service: Service, now: datetime) -> str:
    rollout = service.rollout
    if rollout.started is None:
        return ""
    end = rollout.finished or now
    return age(rollout.started, end)


def task_row(task: Task, now: datetime) -> tuple[str, list[Cell]]:
    short_id = task.id if len(task.id) <= 14 else "…" + task.id[-13:]
    slot = f"{task.slot}" if task.slot is not None else ""
    return task.id, [
        Cell(Text(short_id, no_wrap=True), (task.slot or 0, task.id)),
        cell(task.node_name or task.node_id or "-"),
        Cell(task_state_text(task), (STATE_ORDER.get(task.state.value, 9), slot)),
        Cell(task_health_text(task.health), task.health.value),
        cell(task.version or "-"),
        Cell(Text(age(task.started, now), no_wrap=True), task.started.timestamp() if task.started else 0.0),
        cell(Text(task.error, style="red", no_wrap=True, overflow="ellipsis") if task.error else Text("")),
    ]


def summary(cluster: Cluster, service: Service, now: datetime) -> Text:
    text = Text(no_wrap=True, overflow="ellipsis")
    if cluster.demo:
        text.append(" DEMO ", style="bold reverse yellow")
        text.append(" ")
    text.append(service.ref, style="bold")
    text.append(f"  {cluster.name} · {service.workload_kind} · {service.mode.value}", style="dim")
    if not cluster.reachable and cluster.services:
        text.append(f"  (stale: {cluster.error or cluster.state.value})", style="bold red")
    text.append("\nimage ")
    text.append(service.image or "-", style="bold")
    if service.version:
        text.append(f"  ({service.version})", style="dim")
    text.append("\nreplicas ")
    text.append_text(replicas_text(service.running, service.desired, service.mode.value == "global"))
    text.append("  health ")
    text.append_text(health_text(service.health))
    if service.pending:
        text.append(f"  pending {service.pending}", style="yellow")
    rollout = service.rollout
    style = ROLLOUT_STYLES.get(rollout.state, "")
    text.append("\nrollout ")
    text.append(rollout.state.value.replace("_", " "), style=style)
    text.append(f"  {progress_bar(rollout.fraction, 16)} {rollout.updated}/{rollout.total} updated", style=style)
    took = elapsed(service, now)
    if took:
        text.append(f"  {'took' if rollout.finished else 'elapsed'} {took}", style="dim")
    if rollout.from_version or rollout.to_version:
        text.append(f"  {rollout.from_version or '?'} -> {rollout.to_version or '?'}")
    if rollout.message:
        text.append(f"\n  {rollout.message}", style="italic")
    policy = service.update_policy.summary()
    text.append("\npolicy ")
    text.append(policy or "-", style="dim")
    facts = [f"{key} {value}" for key, value in service.details.items()]
    if service.ports:
        facts.append("ports " + " ".join(service.ports))
    if service.networks:
        facts.append("networks " + " ".join(service.networks))
    if facts:
        text.append("\n" + " · ".join(facts), style="dim")
    for container in service.containers:
        env = [f"{name}={masked_env(name, value)}" for name, value in sorted(container.env.items())]
        env += [f"{name}=(secret)" for name in container.secret_env]
        if env:
            text.append(f"\nenv {container.name}: " + " ".join(env), style="dim")
    return text


def events_text(events: list[Event]) -> Text:
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append("Recent events", style="bold")
    if not events:
        text.append("\n  none", style="dim")
    for event in events:
        text.append(f"\n{event.time:%H:%M:%S} ", style="dim")
        text.append(f"{event.kind:<8} ", style="yellow" if event.kind == "warning" else "cyan")
        text.append(f"{event.object}: {event.message}")
    return text


def service_events(cluster: Cluster, service: Service) -> list[Event]:
    """The service's own events, newest last; matched by ref, or by name in the object."""
    mine = [event for event in cluster.events
            if event.service_ref == service.ref or (not event.service_ref and service.name in event.object)]
    return sorted(mine, key=lambda event: event.time)[-RECENT_EVENTS:]


class ServiceScreen(ServiceActionScreen):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="back"),
        Binding("p", "placement", "Placement", id="placement"),
    ]

    def __init__(self, cluster: str, service_id: str) -> None:
        super().__init__(id="service")
        self.cluster_name = cluster
        self.service_id = service_id
        self._drawn: Cluster | None = None

    def compose(self) -> ComposeResult:
        yield Static("", id="service-summary")
        yield DiffTable(task_columns(self.app.size.width), id="task-table")
        yield Static("", id="service-events")
        yield Footer()

    def on_mount(self) -> None:
        self.fleet_changed()
        self.query_one(DiffTable).focus()

    def on_resize(self) -> None:
        if self.query_one(DiffTable).set_columns(task_columns(self.app.size.width)):
            self._drawn = None
            self.fleet_changed()

    def selected(self) -> tuple[str, Service] | None:
        service = self.state.service(self.cluster_name, self.service_id)
        return None if service is None else (self.cluster_name, service)

    def draw(self) -> None:
        cluster = self.state.get(self.cluster_name)
        if cluster is None or cluster is self._drawn:
            return
        self._drawn = cluster
        service = self.state.service(self.cluster_name, self.service_id)
        summary_widget = self.query_one("#service-summary", Static)
        if service is None:
            summary_widget.update(Text(f"{self.cluster_name}: this service no longer exists", style="bold red"))
            self.query_one(DiffTable).sync(())
            return
        # Ages are relative to the snapshot, so a frozen (demo, screenshot) fleet renders the same every time.
        now = cluster.last_sync or datetime.now(UTC)
        summary_widget.update(summary(cluster, service, now))
        self.query_one(DiffTable).sync(task_row(task, now) for task in service.tasks)
        self.query_one("#service-events", Static).update(events_text(service_events(cluster, service)))
        self.update_offered_keys()

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_placement(self) -> None:
        from console.screens.placement import PlacementScreen

        self.app.push_screen(PlacementScreen(self.cluster_name, self.service_id))
