"""Nodes of one cluster, troubled first, and one node in detail (its tasks, the tasks it lost, its events).

States and availability are the orchestrator's words (NotReady and cordoned, down and drain, DRAINING).
Every cluster string is cleaned of terminal escapes before it becomes a Rich Text (never markup)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import ClassVar

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import Static

from pilothouse.console.screens.base import FleetScreenBase
from pilothouse.console.screens.navigate import open_inspect
from pilothouse.console.screens.node_actions import NodeActionScreen
from pilothouse.providers.inspect import InspectTarget, TargetKind
from pilothouse.providers.model import Availability, Cluster, Node, NodeStatus
from pilothouse.providers.nodes import (
    Placed,
    find_node,
    lost_tasks,
    node_events,
    node_tasks,
    ordered_nodes,
    resources_text,
    task_counts,
)
from pilothouse.providers.registry import vocabulary_for
from pilothouse.providers.text import display_text
from pilothouse.providers.vocabulary import GENERIC, Vocabulary
from pilothouse.widgets.clock import clock, stamp
from pilothouse.widgets.diff_table import Cell, Column, DiffTable, cell
from pilothouse.widgets.footer import KeyFooter
from pilothouse.widgets.render import TASK_STATE_STYLES, age


def node_columns(words: Vocabulary = GENERIC) -> tuple[Column, ...]:
    """Headed in the orchestrator's words: NODE/INSTANCE, PODS/TASKS."""
    return (
        Column("node", words.node_column, 24), Column("state", "STATE", 10), Column("availability", "AVAILABILITY", 12),
        Column("role", "ROLE", 14), Column("version", "VERSION", 10),
        Column("tasks", words.tasks.upper(), max(6, len(words.tasks))),
        Column("since", "DOWN FOR", 9), Column("conditions", "CONDITIONS"),
    )


COLUMNS = node_columns()


def state_text(node: Node) -> Text:
    style = {NodeStatus.READY: "green", NodeStatus.DOWN: "bold red"}.get(node.status, "yellow")
    return Text(display_text(node.state_word), style=style, no_wrap=True)


def availability_text(node: Node) -> Text:
    style = "" if node.availability is Availability.ACTIVE else "yellow"
    return Text(display_text(node.availability_word), style=style, no_wrap=True)


def notes(node: Node) -> str:
    """Conditions, then what else is wrong or worth knowing (agent, free resources, the message)."""
    parts = list(node.conditions)
    if node.agent_connected is False:
        parts.append("agent disconnected")
    if resources_text(node):
        parts.append(resources_text(node))
    if node.message:
        parts.append(node.message)
    return display_text(" · ".join(parts))


def node_cells(node: Node, tasks: int, position: int, now: datetime) -> list[Cell]:
    return [
        Cell(Text(display_text(node.name), no_wrap=True, overflow="ellipsis"), position),
        Cell(state_text(node), node.status.value), Cell(availability_text(node), node.availability_word),
        cell(display_text(node.role) or "-"), cell(display_text(node.version) or "-"), cell(str(tasks), tasks),
        cell(age(node.since, now) if node.since else "-", node.since.timestamp() if node.since else 0.0),
        cell(notes(node) or "-"),
    ]


def cluster_title(prefix: str, cluster: Cluster) -> Text:
    title = Text(no_wrap=True, overflow="ellipsis")
    if cluster.demo:
        title.append(" DEMO ", style="bold reverse yellow")
        title.append(" ")
    title.append(f"{prefix} · {display_text(cluster.name)} ({cluster.kind.value})", style="bold")
    if not cluster.reachable:
        title.append(f" · {cluster.state.value}", style="bold red")
        if cluster.error:
            title.append(f": {display_text(cluster.error)} (last known nodes)", style="red")
    return title


class NodesScreen(NodeActionScreen):
    """One cluster's nodes; `c` goes to the next cluster, enter opens a node."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="back"),
        Binding("enter", "open_node", "Open", id="node_detail", tooltip="The node: its tasks, lost tasks, events"),
        Binding("c", "next_cluster", "Next cluster", id="next_cluster", tooltip="Nodes of the next cluster"),
        Binding("y", "inspect", "Inspect", id="inspect", tooltip="The node's own object, secrets masked"),
    ]

    def __init__(self, cluster: str) -> None:
        super().__init__(id="nodes")
        self.cluster_name = cluster

    def compose(self) -> ComposeResult:
        yield Static("", id="nodes-title")
        cluster = self.state.get(self.cluster_name)
        yield DiffTable(node_columns(vocabulary_for(cluster.kind) if cluster else GENERIC), id="nodes-table")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.fleet_changed()
        self.query_one(DiffTable).focus()

    def draw(self) -> None:
        cluster = self.undrawn(self.cluster_name)
        if cluster is None:
            return
        counts = task_counts(cluster)
        # Ages as of the snapshot, as the service screen shows them (a frozen demo stays frozen).
        now = cluster.last_sync or datetime.now(UTC)
        nodes = ordered_nodes(cluster.nodes)
        self.query_one(DiffTable).sync(
            (node.id, node_cells(node, counts[node.id], position, now)) for position, node in enumerate(nodes))
        down = sum(1 for node in nodes if node.status is not NodeStatus.READY)
        words = vocabulary_for(cluster.kind)
        self.query_one(DiffTable).set_columns(node_columns(words))
        title = cluster_title(words.nodes.capitalize(), cluster)
        title.append(f" · {words.node_count(len(nodes))}, {down} not ready",
                     style="dim" if not down else "yellow")
        self.query_one("#nodes-title", Static).update(title)

    def selected_node(self) -> tuple[str, Node] | None:
        cluster = self.state.get(self.cluster_name)
        node_id = self.query_one(DiffTable).cursor_key
        node = find_node(cluster, node_id) if cluster is not None and node_id is not None else None
        return (self.cluster_name, node) if node is not None else None

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_inspect(self) -> None:
        node_id = self.query_one(DiffTable).cursor_key
        if node_id is not None:
            inspect_node(self, self.cluster_name, node_id)

    def action_open_node(self) -> None:
        node_id = self.query_one(DiffTable).cursor_key
        if node_id is not None:
            self.app.push_screen(NodeScreen(self.cluster_name, node_id))

    def action_next_cluster(self) -> None:
        following = self.state.cluster_after(self.cluster_name)
        if following is None:
            return
        self.cluster_name = following
        self.draw_again()
        self.query_one(DiffTable).sync(())
        self.fleet_changed()


class NodeScreen(NodeActionScreen):
    """One node: what it is, the tasks on it, the tasks it lost (stopped there, or stranded while it is down)
    and its events; kept current as snapshots arrive."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="back"),
        Binding("y", "inspect", "Inspect", id="inspect", tooltip="The node's own object, secrets masked"),
    ]

    def __init__(self, cluster: str, node_id: str) -> None:
        super().__init__(id="node")
        self.cluster_name = cluster
        self.node_id = node_id

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="node-scroll"):
            yield Static("", id="node-body")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.fleet_changed()
        self.query_one("#node-scroll").focus()

    def draw(self) -> None:
        cluster = self.undrawn(self.cluster_name)
        if cluster is None:
            return
        self.query_one("#node-body", Static).update(node_detail(cluster, self.node_id,
                                                                    cluster.last_sync or datetime.now(UTC)))

    def selected_node(self) -> tuple[str, Node] | None:
        cluster = self.state.get(self.cluster_name)
        node = find_node(cluster, self.node_id) if cluster is not None else None
        return (self.cluster_name, node) if node is not None else None

    def action_inspect(self) -> None:
        inspect_node(self, self.cluster_name, self.node_id)

    def action_back(self) -> None:
        self.app.pop_screen()


def inspect_node(screen: FleetScreenBase, cluster_name: str, node_id: str) -> None:
    cluster = screen.state.get(cluster_name)
    node = find_node(cluster, node_id) if cluster is not None else None
    label = f"node {node.name if node else node_id}"
    open_inspect(screen.app, cluster_name, InspectTarget(TargetKind.NODE, object_id=node_id), label)


def _section(title: str, count: int) -> Text:
    return Text.assemble("\n", (f"{title} ({count})", "bold underline"))


def node_detail(cluster: Cluster, node_id: str, now: datetime) -> Group:
    found = find_node(cluster, node_id)
    words = vocabulary_for(cluster.kind)
    title = cluster_title(words.node.capitalize(), cluster)
    if found is None:
        return Group(title, Text(f"{words.node} {display_text(node_id)} is no longer listed by "
                                 f"{display_text(cluster.name)}",
                                 style="yellow"))
    node = found
    title.append(f" · {display_text(node.name)}", style="bold")
    facts = Table(show_header=False, box=None, padding=(0, 1), pad_edge=False)
    facts.add_column("field", style="bold cyan", no_wrap=True, width=13)
    facts.add_column("value", overflow="fold")
    since = Text(f"{stamp(node.since)}  ({age(node.since, now)} ago)") if node.since else Text("-")
    for label, value in (
        ("state", state_text(node)), ("availability", availability_text(node)),
        ("since", since), ("role", Text(display_text(node.role) or "-")),
        ("version", Text(display_text(node.version) or "-")), ("zone", Text(display_text(node.zone) or "-")),
        ("addresses", Text(display_text(", ".join(node.addresses)) or "-")),
        ("conditions", Text(display_text(", ".join(node.conditions)) or "none",
                            style="bold red" if node.conditions else "dim")),
        ("agent", Text("-" if node.agent_connected is None else
                       ("connected" if node.agent_connected else "disconnected"),
                       style="bold red" if node.agent_connected is False else "")),
        ("resources", Text(resources_text(node) or "-")),
        ("message", Text(display_text(node.message) or "-")),
        ("id", Text(display_text(node.id), style="dim")),
    ):
        if label == "agent" and node.agent_connected is None:
            continue
        if label == "resources" and not resources_text(node):
            continue
        facts.add_row(label, value)
    parts: list[Text | Table] = [title, facts]
    placed = node_tasks(cluster, node)
    parts.append(_section(f"{words.tasks.capitalize()} on this {words.node}", len(placed)))
    parts.append(_tasks_table(placed, now, words) if placed else Text("none", style="dim"))
    lost = lost_tasks(cluster, node)
    parts.append(_section(f"{words.tasks.capitalize()} lost or rescheduled from it", len(lost)))
    parts.append(_tasks_table(lost, now, words, stopped=True) if lost else Text("none seen", style="dim"))
    events = node_events(cluster, node)
    parts.append(_section("Events", len(events)))
    if events:
        for event in events[:50]:
            parts.append(Text.assemble((f"{clock(event.time)} ", "dim"), (f"{display_text(event.kind):<8} ", "cyan"),
                                       display_text(event.message)))
    else:
        parts.append(Text("none", style="dim"))
    return Group(*parts)


def _tasks_table(placed: list[Placed], now: datetime, words: Vocabulary = GENERIC, stopped: bool = False) -> Table:
    table = Table(box=None, padding=(0, 1), pad_edge=False, header_style="bold")
    error = words.error_column
    for header in (words.service.upper(), words.task.upper(), words.state_column, "AGE" if not stopped else "WHEN",
                   error):
        table.add_column(header, no_wrap=header != error, overflow="fold" if header == error else "ellipsis")
    for item in placed[:200]:
        task = item.task
        moment = (task.stopped or task.started) if stopped else task.started
        state = Text(display_text(task.raw_state or task.state.value), style=TASK_STATE_STYLES.get(task.state, ""))
        table.add_row(display_text(item.service.ref), display_text(task.id[:40]), state,
                      f"{age(moment, now)}{' ago' if stopped and moment else ''}",
                      Text(display_text(task.error), style="red") if task.error else Text(""))
    return table
