"""One service: its tasks (node, state, health, version, age, error), rollout detail and recent events
(the cluster's and the console's own audit entries, newest first), on `enter` every field of a task, and on
`w` a live follow of its rollout."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import DataTable, Log, Static

from pilothouse.console.follow import Outcome, RolloutFollower
from pilothouse.console.key_display import key_display
from pilothouse.console.screens.navigate import open_placement
from pilothouse.console.screens.service_actions import ServiceActionScreen
from pilothouse.console.screens.task_detail import TaskDetailScreen
from pilothouse.providers.attention import NOTHING, Attention
from pilothouse.providers.model import Cluster, Event, Service, Task
from pilothouse.providers.registry import vocabulary_for
from pilothouse.providers.text import display_text
from pilothouse.providers.vocabulary import DESIRED, GENERIC, RESTARTS, SLOT, Vocabulary
from pilothouse.widgets.clock import clock, clock_zoned, zone_name
from pilothouse.widgets.cluster_header import LEVEL_STYLES
from pilothouse.widgets.diff_table import Cell, Column, DiffTable, cell
from pilothouse.widgets.footer import KeyFooter
from pilothouse.widgets.render import (
    ROLLOUT_STYLES,
    age,
    health_text,
    masked_env,
    progress_bar,
    replicas_text,
    task_health_text,
    task_state_text,
)

HEALTH_COLUMN = Column("health", "HEALTH", 9)
AGE_COLUMN = Column("age", "AGE", 5)
# Most cells for node, state and version below and from WIDE columns: Kubernetes node names are long, and
# the orchestrator's own state word can be (CrashLoopBackOff, ContainerCreating).
WIDE = 120
NODE_WIDTH = (14, 24)
STATE_WIDTH = (10, 16)
VERSION_WIDTH = 10
# Below this the error column stops shrinking (the table then scrolls sideways): a few words say what kind of
# failure it is, and enter shows the whole text.
MIN_ERROR = 12
# A cut task id keeps its end ("…0-t00002-lost": the start repeats the service). The column grows to whole ids
# only once the error column has ERROR_FIRST cells (or what its longest error needs): the error says why a
# task failed, the id only which one.
TASK_WIDTH = 14
ERROR_FIRST = 50
# Each column is padded by one cell on either side; the vertical scrollbar takes two when tasks overflow.
CELL_PADDING = 2
SCROLLBAR = 2


def _fit(values: Iterable[str], label: str, most: int) -> int:
    """The width the longest value needs: at least the label's, at most `most` (or the label's, if longer)."""
    return min(max(most, len(label)), max([len(label), *(len(value) for value in values)]))


def task_node(task: Task) -> str:
    return task.node_name or task.node_id or "-"


def error_line(task: Task) -> str:
    """The error on one line (it may hold newlines); the task detail shows it as written."""
    return " ".join(task.error.split())


def _extra_columns(words: Vocabulary, tasks: Sequence[Task]) -> tuple[Column, ...]:
    """The columns this orchestrator's operators look for: SLOT (Swarm), RESTARTS (Kubernetes), DESIRED (ECS)."""
    make = {
        SLOT: lambda: Column(SLOT, words.slot_label.upper(), _fit((str(t.slot) for t in tasks if t.slot), "SLOT", 4)),
        RESTARTS: lambda: Column(RESTARTS, words.restarts_label.upper(), len(words.restarts_label)),
        DESIRED: lambda: Column(DESIRED, words.desired_column,
                                _fit((t.desired_state.value for t in tasks), words.desired_column, 8)),
    }
    return tuple(make[extra]() for extra in words.task_extras if extra in make)


def task_columns(width: int, tasks: Sequence[Task] = (), words: Vocabulary = GENERIC) -> tuple[Column, ...]:
    """Node, state and version as wide as their values need (up to a cap); the task as wide as its ids when
    the error keeps enough; the error, the last column, takes every cell left on the screen. Headed in the
    orchestrator's words, with its own extra columns (SLOT, RESTARTS, DESIRED) when the screen has room for
    them beside a readable task and error: on a narrow screen they go first, then the long state header."""
    extras = _extra_columns(words, tasks)
    for keep_extras, state_label in ((True, words.state_column), (False, words.state_column), (False, "STATE")):
        columns = _task_columns(width, tasks, words, extras if keep_extras else (), state_label)
        if _fits(columns, width):
            break
    return columns


def _fits(columns: Sequence[Column], width: int) -> bool:
    used = sum(column.width or 0 for column in columns) + CELL_PADDING * len(columns) + SCROLLBAR
    return used <= width and (columns[0].width or 0) >= TASK_WIDTH and (columns[-1].width or 0) >= MIN_ERROR


def _task_columns(width: int, tasks: Sequence[Task], words: Vocabulary, extras: tuple[Column, ...],
                  state_label: str) -> tuple[Column, ...]:
    wide = int(width >= WIDE)
    if tasks:
        node = _fit((task_node(task) for task in tasks), words.node_column, NODE_WIDTH[wide])
        state = _fit((task_state_text(task).plain for task in tasks), state_label, STATE_WIDTH[wide])
        version = _fit((task.version or "-" for task in tasks), "VERSION", VERSION_WIDTH)
    else:
        node, state, version = NODE_WIDTH[wide], max(STATE_WIDTH[0], len(state_label)), VERSION_WIDTH
    middle = (*extras, Column("node", words.node_column, node),
              Column("state", state_label, state), HEALTH_COLUMN, Column("version", "VERSION", version), AGE_COLUMN)
    # The cells the task and error columns share.
    room = width - sum(column.width or 0 for column in middle) - CELL_PADDING * (len(middle) + 2) - SCROLLBAR
    task_label = words.task.upper()
    task = max(TASK_WIDTH, len(task_label))
    if tasks:
        error_needs = min(ERROR_FIRST, max(MIN_ERROR, *(len(error_line(task)) for task in tasks)))
        task = min(_fit((task.id for task in tasks), task_label, room), max(task, room - error_needs))
    return (Column("task", task_label, task), *middle,
            Column("error", words.error_column, max(MIN_ERROR, room - task)))


# As many as the events panel shows (max-height 7 in app.tcss: a border line, the title, five events).
RECENT_EVENTS = 5
FOLLOW_LINES = 500
STATE_ORDER = {"failed": 0, "starting": 1, "pending": 2, "running": 3}


def elapsed(service: Service, now: datetime) -> str:
    rollout = service.rollout
    if rollout.started is None:
        return ""
    end = rollout.finished or now
    return age(rollout.started, end)


def task_row(task: Task, now: datetime, id_width: int = TASK_WIDTH,
             columns: Sequence[Column] = ()) -> tuple[str, list[Cell]]:
    """The task's cells in the order of `columns` (task_columns'); the generic columns when none are given."""
    short_id = task.id if len(task.id) <= id_width else "…" + task.id[-(id_width - 1):]
    slot = f"{task.slot}" if task.slot is not None else ""
    cells = {
        "task": Cell(Text(short_id, no_wrap=True), (task.slot or 0, task.id)),
        SLOT: Cell(Text(slot or "-", no_wrap=True, style="" if slot else "dim"), task.slot or 0),
        RESTARTS: Cell(Text(str(task.restarts), style="yellow" if task.restarts else "", no_wrap=True),
                       task.restarts),
        DESIRED: cell(task.desired_state.value),
        "node": cell(task_node(task)),
        "state": Cell(task_state_text(task), (STATE_ORDER.get(task.state.value, 9), slot)),
        "health": Cell(task_health_text(task.health), task.health.value),
        "version": cell(task.version or "-"),
        "age": Cell(Text(age(task.started, now), no_wrap=True), task.started.timestamp() if task.started else 0.0),
        "error": cell(Text(error_line(task), style="red", no_wrap=True, overflow="ellipsis")),
    }
    keys = [column.key for column in columns] or list(GENERIC_KEYS)
    return task.id, [cells[key] for key in keys]


GENERIC_KEYS = ("task", "node", "state", "health", "version", "age", "error")


def summary(cluster: Cluster, service: Service, now: datetime, attention: Attention = NOTHING) -> Text:
    text = Text(no_wrap=True, overflow="ellipsis")
    if cluster.demo:
        text.append(" DEMO ", style="bold reverse yellow")
        text.append(" ")
    text.append(display_text(service.ref), style="bold")
    text.append(display_text(f"  {cluster.name} · {service.workload_kind} · {service.mode.value}"), style="dim")
    if not cluster.reachable and cluster.services:
        text.append(display_text(f"  (stale: {cluster.error or cluster.state.value})"), style="bold red")
    if attention.needed:
        # Why the fleet put it first, worst reason first (all of them: `pilothouse status --attention`).
        style = LEVEL_STYLES[attention.level]
        text.append("\nattention ")
        text.append(f"{attention.level.symbol} {attention.level.value}: ", style=style)
        text.append(display_text(" · ".join(attention.texts())), style=style)
    text.append("\nimage ")
    text.append(display_text(service.image or "-"), style="bold")
    if service.version:
        text.append(display_text(f"  ({service.version})"), style="dim")
    text.append("\nreplicas ")
    text.append_text(replicas_text(service.running, service.desired, service.mode.value == "global",
                                   service.autoscaler is not None))
    if service.stale and service.observed is not None:
        text.append(f" (stale: as read at {clock_zoned(service.observed)})", style="bold yellow")
    text.append("  health ")
    if service.tasks_known:
        text.append_text(health_text(service.health))
    else:
        text.append("? tasks unknown (they could not be read)", style="bold yellow")
    if service.pending:
        text.append(f"  pending {service.pending}", style="yellow")
    autoscaler_lines(text, service)
    rollout = service.rollout
    style = ROLLOUT_STYLES.get(rollout.state, "")
    text.append("\nrollout ")
    text.append(rollout.state.value.replace("_", " "), style=style)
    bar = progress_bar(rollout.fraction, 16) if rollout.updated_known else "?" * 16
    text.append(f"  {bar} {rollout.counts} updated", style=style)
    took = elapsed(service, now)
    if took:
        text.append(f"  {'took' if rollout.finished else 'elapsed'} {took}", style="dim")
    if rollout.from_version or rollout.to_version:
        text.append(display_text(f"  {rollout.from_version or '?'} -> {rollout.to_version or '?'}"))
    if rollout.message:
        text.append("\n  " + display_text(rollout.message), style="italic")
    policy = service.update_policy.summary()
    text.append("\npolicy ")
    text.append(display_text(policy or "-"), style="dim")
    facts = [f"{key} {value}" for key, value in service.details.items()]
    if service.ports:
        facts.append("ports " + " ".join(service.ports))
    if service.networks:
        facts.append("networks " + " ".join(service.networks))
    if facts:
        text.append("\n" + display_text(" · ".join(facts)), style="dim")
    text.append_text(networks_text(cluster, service))
    for container in service.containers:
        env = [f"{display_text(name)}={masked_env(name, value)}" for name, value in sorted(container.env.items())]
        env += [f"{display_text(name)}=(secret)" for name in container.secret_env]
        if env:
            text.append(f"\nenv {display_text(container.name)}: " + " ".join(env), style="dim")
    return text


def networks_text(cluster: Cluster, service: Service) -> Text:
    """The section on networks: each network or front the service is on, with ready/total endpoints where
    the orchestrator counts them (not-ready in red or yellow); nothing when it is on none."""
    text = Text()
    mine = [network for network in cluster.networks if service.ref in network.services]
    if not mine:
        return text
    text.append("\nnetworks ", style="bold")
    for index, network in enumerate(mine):
        if index:
            text.append(" · ")
        text.append(display_text(network.name))
        text.append(f" ({display_text(network.kind)}", style="dim")
        if network.subnets:
            text.append(f" {display_text(', '.join(network.subnets))}", style="dim")
        text.append(")", style="dim")
        front = next((r for r in service.reachability if r.via.endswith(" " + network.name)), None)
        if front is not None:
            style = "bold red" if front.ready == 0 and front.total else "yellow" if front.unready else "green"
            text.append(f" {front.ready}/{front.total} {front.word} ready", style=style)
            if front.reasons:
                text.append(f" {display_text(', '.join(front.reasons))}", style=style)
    return text


def autoscaler_lines(text: Text, service: Service) -> None:
    """Who owns the replica count: the autoscaler, its bounds, what it wants now, and why it cannot."""
    autoscaler = service.autoscaler
    if autoscaler is None:
        return
    text.append("\nautoscaler ")
    text.append(display_text(autoscaler.describe()), style="cyan")
    now = [f"{label} {value}" for label, value in (("current", autoscaler.current), ("desired", autoscaler.desired))
           if value is not None]
    if now:
        text.append("  " + " ".join(now))
    if autoscaler.metrics:
        text.append(display_text(f"  {autoscaler.metrics}"), style="dim")
    for condition in autoscaler.conditions:
        text.append("\n  " + display_text(condition), style="yellow")


def events_text(events: list[Event]) -> Text:
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append("Recent events", style="bold")
    text.append(f" newest first, times {zone_name()}", style="dim")
    if not events:
        text.append("\n  none", style="dim")
    for event in events:
        text.append(f"\n{clock(event.time)} ", style="dim")
        text.append(display_text(f"{event.kind:<8} "), style="yellow" if event.kind == "warning" else "cyan")
        text.append(display_text(f"{event.object}: {event.message}"))
    return text


def service_events(cluster: Cluster, service: Service, audit: list[Event] | None = None) -> list[Event]:
    """The service's own events and the console's audit entries for it, the newest RECENT_EVENTS, newest first
    (a panel that cuts its end then cuts the oldest); matched by ref, or by name in the object."""
    mine = [event for event in cluster.events
            if event.service_ref == service.ref or (not event.service_ref and service.name in event.object)]
    mine += [event for event in audit or () if event.cluster == cluster.name and event.service_ref == service.ref]
    return sorted(mine, key=lambda event: event.time.timestamp())[-RECENT_EVENTS:][::-1]


class ServiceScreen(ServiceActionScreen):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="back"),
        Binding("enter", "task_detail", "Task", id="task_detail",
                tooltip="Every field of the highlighted task, its full error included"),
        Binding("p", "placement", "Placement", id="placement"),
        Binding("l", "logs", "Task logs", id="logs", tooltip="Logs of the highlighted task, followed live"),
        Binding("L", "logs_service", "Logs", id="logs_service", tooltip="Logs of every task of the service"),
        Binding("y", "inspect", "Inspect", id="inspect", show=False,
                tooltip="The service's spec as its orchestrator gives it (YAML, JSON for ECS), secrets masked"),
        Binding("Y", "inspect(True)", "Inspect task", id="inspect_task", show=False,
                tooltip="The highlighted task's own object (a Kubernetes pod, a Swarm task, an ECS task)"),
        Binding("D", "what_changed", "What changed", id="what_changed", show=False,
                tooltip="What changed from the previous revision to the current one, field by field"),
        Binding("exclamation_mark", "exec", "Shell", id="exec",
                tooltip="A shell in the highlighted task's container, with the console suspended (confirm first)"),
        Binding("w", "follow_rollout", "Follow rollout", id="follow_rollout",
                tooltip="Follow the rollout: progress and task transitions until it completes, fails or rolls back"),
    ]

    class AuditLoaded(Message):
        def __init__(self, events: list[Event]) -> None:
            super().__init__()
            self.events = events

    def __init__(self, cluster: str, service_id: str) -> None:
        super().__init__(id="service")
        self.cluster_name = cluster
        self.service_id = service_id
        self._audit: list[Event] = []
        self.follower: RolloutFollower | None = None
        self.outcome: Outcome | None = None
        self._waiting_shown = False

    def compose(self) -> ComposeResult:
        yield Static("", id="service-summary")
        cluster = self.state.get(self.cluster_name)
        words = vocabulary_for(cluster.kind) if cluster else GENERIC
        yield DiffTable(task_columns(self.app.size.width, words=words), id="task-table")
        yield Static("", id="service-events")
        yield Log(max_lines=FOLLOW_LINES, id="rollout-follow")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one("#rollout-follow", Log).display = False
        self.fleet_changed()
        self.query_one(DiffTable).focus()

    def on_resize(self) -> None:
        # The columns depend on the width: draw again, whatever the snapshot.
        self.draw_again()
        self.fleet_changed()

    def selected(self) -> tuple[str, Service] | None:
        service = self.state.service(self.cluster_name, self.service_id)
        return None if service is None else (self.cluster_name, service)

    def selected_task_id(self) -> str:
        return self.query_one(DiffTable).cursor_key or ""

    def draw(self) -> None:
        cluster = self.undrawn(self.cluster_name)
        if cluster is None:
            return
        service = self.state.service(self.cluster_name, self.service_id)
        summary_widget = self.query_one("#service-summary", Static)
        if self.follower is not None and cluster.reachable:
            # While unreachable the last good data stands: the follower must not call the service removed.
            self._observe(cluster, service)
        if service is None:
            summary_widget.update(Text(display_text(f"{self.cluster_name}: this service no longer exists"),
                                       style="bold red"))
            self.query_one(DiffTable).sync(())
            self._update_detail(None, datetime.now(UTC))
            return
        # Ages are relative to the snapshot, so a frozen (demo, screenshot) fleet renders the same every time.
        now = cluster.last_sync or datetime.now(UTC)
        summary_widget.update(summary(cluster, service, now, self.state.attention_of(self.cluster_name, service.id)))
        table = self.query_one(DiffTable)
        keep = table.cursor_key
        columns = task_columns(self.app.size.width, service.tasks, vocabulary_for(cluster.kind))
        relaid = table.set_columns(columns)
        id_width = columns[0].width or TASK_WIDTH
        table.sync(task_row(task, now, id_width, columns) for task in service.tasks)
        if relaid and keep is not None:
            # New columns empty the table: the operator's row stays highlighted all the same.
            table.move_to_key(keep)
        self._draw_events(cluster, service)
        self._update_detail(service, now)
        self.update_offered_keys()
        self._load_audit(service.ref)

    def _draw_events(self, cluster: Cluster, service: Service) -> None:
        self.query_one("#service-events", Static).update(events_text(service_events(cluster, service, self._audit)))

    # -- one task's every field ------------------------------------------------------------------

    def action_task_detail(self) -> None:
        service = self.state.service(self.cluster_name, self.service_id)
        task_id = self.selected_task_id()
        task = next((task for task in service.tasks if task.id == task_id), None) if service else None
        if service is None or task is None:
            self.notify("no task selected", severity="warning", markup=False)
            return
        cluster = self.state.get(self.cluster_name)
        now = (cluster.last_sync if cluster else None) or datetime.now(UTC)
        words = vocabulary_for(cluster.kind) if cluster else GENERIC
        detail = TaskDetailScreen(f"{words.task.capitalize()} of {self.cluster_name}/{service.ref}", task, now,
                                  logs_refusal=self.refusal_for("logs"), words=words,
                                  exec_refusal=self.refusal_for("exec"))
        self.app.push_screen(detail, self._detail_closed)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        # Only a mouse click on the highlighted row selects (enter is the task_detail binding).
        self.action_task_detail()

    def _detail_closed(self, then: tuple[str, str] | None) -> None:
        if then is None:
            return
        what, task_id = then
        if what == "logs":
            self._open_logs(task_id)
        elif what == "exec":
            reason = self.refusal_for("exec")
            if reason:
                self.notify(reason, title=f"Not available · {self.refusal_subject()}", severity="warning",
                            markup=False)
                self.refused("exec", reason)
            else:
                self.exec_into(task_id)

    def _update_detail(self, service: Service | None, now: datetime) -> None:
        """An open task detail follows its task from snapshot to snapshot."""
        stack = self.app.screen_stack
        detail = stack[-1]
        if isinstance(detail, TaskDetailScreen) and len(stack) > 1 and stack[-2] is self:
            tasks = service.tasks if service is not None else ()
            detail.show(next((task for task in tasks if task.id == detail.shown_task.id), None), now)

    # -- the console's own audit entries (file I/O: in a thread) --------------------------------

    def _load_audit(self, ref: str) -> None:
        feed = self.host().audit_feed
        cluster = self.cluster_name

        def load() -> None:
            self.post_message(self.AuditLoaded(feed.for_service(cluster, ref)))

        self.run_worker(load, thread=True, exclusive=True, exit_on_error=False, group="service-audit",
                        name="audit entries")

    def on_service_screen_audit_loaded(self, message: AuditLoaded) -> None:
        if message.events == self._audit:
            return
        self._audit = message.events
        cluster = self.state.get(self.cluster_name)
        service = self.state.service(self.cluster_name, self.service_id)
        if cluster is not None and service is not None:
            self._draw_events(cluster, service)

    # -- following the rollout ------------------------------------------------------------------

    def action_follow_rollout(self) -> None:
        panel = self.query_one("#rollout-follow", Log)
        if panel.display:
            self.follower = None
            panel.display = False
            self.query_one("#service-events").display = True
            return
        service = self.state.service(self.cluster_name, self.service_id)
        cluster = self.state.get(self.cluster_name)
        self.follower = RolloutFollower(f"{self.cluster_name}/{service.ref if service else self.service_id}")
        self.outcome = None
        self._waiting_shown = False
        panel.clear()
        panel.display = True
        # The panel takes the events' place: both will not fit on a small terminal.
        self.query_one("#service-events").display = False
        panel.write_line(f"following the rollout ({key_display(self.app, self.BINDINGS, 'follow_rollout')}: stop)")
        if cluster is not None:
            self._observe(cluster, service)

    def _observe(self, cluster: Cluster, service: Service | None) -> None:
        follower = self.follower
        if follower is None:
            return
        lines, outcome = follower.observe(service)
        stamp = f"{clock(cluster.last_sync)} " if cluster.last_sync else ""
        panel = self.query_one("#rollout-follow", Log)
        # The follower quotes cluster text (rollout messages, task errors): display text, like the CLI's.
        panel.write_lines([stamp + display_text(line) for line in lines])
        if outcome is Outcome.NOTHING:
            # Unlike the CLI, the screen keeps watching: a rollout may start while the operator looks.
            if not self._waiting_shown:
                panel.write_line(f"{stamp}no rollout in progress; waiting for one")
                self._waiting_shown = True
            return
        if outcome is None:
            return
        self.outcome = outcome
        self.follower = None
        panel.write_line(display_text(f"{stamp}rollout {outcome.value}"))
        self.notify(f"{follower.ref}: rollout {outcome.value}", title="Rollout",
                    severity="information" if outcome is Outcome.COMPLETED else "error", markup=False)

    def action_what_changed(self) -> None:
        from pilothouse.console.screens.inspect import DiffScreen

        target = self.selected()
        if target is not None:
            self.app.push_screen(DiffScreen(*target))

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_placement(self) -> None:
        open_placement(self.app, self.cluster_name, self.service_id)
