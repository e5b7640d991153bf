"""Placement, "where is my service?": nodes x services, with healthy / unhealthy / starting counts per cell.

Troubled first: nodes that are down (then draining or cordoned) head the rows, and after the focused service
the columns put the services needing attention first (critical, then warning)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import ClassVar

from rich.console import Group
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Static

from pilothouse.console.screens.base import FleetScreenBase
from pilothouse.console.screens.navigate import open_node
from pilothouse.providers.attention import Attention, Level
from pilothouse.providers.model import (
    Cluster,
    ConnectionState,
    Health,
    Node,
    Service,
    Task,
    TaskState,
)
from pilothouse.providers.nodes import ordered_nodes
from pilothouse.providers.registry import vocabulary_for
from pilothouse.providers.text import display_text
from pilothouse.widgets.diff_table import Cell, Column, DiffTable, cell
from pilothouse.widgets.footer import KeyFooter
from pilothouse.widgets.render import node_state_text

NODE_WIDTH = 16
STATE_WIDTH = 10
SERVICE_WIDTH = 9
UNSCHEDULED = "\x1funscheduled"
CELL_PADDING = 2
SCROLLBAR = 2


class Tally:
    __slots__ = ("healthy", "starting", "unhealthy")

    def __init__(self) -> None:
        self.healthy = 0
        self.unhealthy = 0
        self.starting = 0

    def add(self, task: Task) -> None:
        if task.health is Health.UNHEALTHY or task.state is TaskState.FAILED:
            self.unhealthy += 1
        elif task.health is Health.STARTING or task.state in (TaskState.PENDING, TaskState.STARTING):
            self.starting += 1
        elif task.state is TaskState.RUNNING:
            self.healthy += 1

    def text(self) -> Text:
        text = Text(no_wrap=True)
        for symbol, count, style in (("✓", self.healthy, "green"), ("✗", self.unhealthy, "bold red"),
                                     ("~", self.starting, "yellow")):
            if count:
                if text:
                    text.append(" ")
                text.append(f"{symbol}{count}", style=style)
        if not text:
            text.append("·", style="dim")
        return text


def placement_counts(cluster: Cluster) -> dict[str, dict[str, Tally]]:
    """node id -> service id -> tally, over the tasks meant to run (one pass over every task)."""
    grid: dict[str, dict[str, Tally]] = defaultdict(dict)
    for service in cluster.services:
        for task in service.tasks:
            if task.desired_state is not TaskState.RUNNING:
                continue
            row = grid[task.node_id or UNSCHEDULED]
            tally = row.get(service.id)
            if tally is None:
                tally = row[service.id] = Tally()
            tally.add(task)
    return grid


def short_name(service: Service) -> str:
    """`shop_api` -> `api`: the stack prefix repeats in every column of a swarm stack."""
    prefix = f"{service.namespace}_"
    return service.name.removeprefix(prefix) if service.namespace else service.name


def ordered_services(cluster: Cluster, focus: str | None,
                     attention: Mapping[str, Attention] | None = None) -> list[Service]:
    """The focused service first, then those needing attention (worst first), then the rest, each by name."""
    levels = attention or {}

    def rank(service: Service) -> int:
        found = levels.get(service.id)
        return found.level.rank if found is not None else Level.NONE.rank

    return sorted(cluster.services, key=lambda service: (service.id != focus, rank(service), service.ref))


class PlacementScreen(FleetScreenBase):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="back"),
        Binding("enter", "open_node", "Open node", id="node_detail",
                tooltip="The node of the row: its tasks, the tasks it lost, its events"),
        Binding("c", "next_cluster", "Next cluster", id="next_cluster", tooltip="Placement of the next cluster"),
        Binding("left_square_bracket", "page(-1)", "Prev services", id="services_prev", key_display="[",
                tooltip="Previous page of service columns"),
        Binding("right_square_bracket", "page(1)", "Next services", id="services_next", key_display="]",
                tooltip="Next page of service columns"),
    ]

    def __init__(self, cluster: str, focus_service_id: str | None) -> None:
        super().__init__(id="placement")
        self.cluster_name = cluster
        self.focus_service_id = focus_service_id
        # Service columns come in pages that fit the terminal: a row is drawn at its full width before
        # it is cropped, so hundreds of columns would make every repaint slow.
        self.page = 0
        self._pages = 1

    def compose(self) -> ComposeResult:
        yield Static("", id="placement-title")
        yield DiffTable((), id="placement-table")
        yield Static("", id="placement-legend")
        yield KeyFooter()

    def on_mount(self) -> None:
        table = self.query_one(DiffTable)
        table.fixed_columns = 1
        table.cursor_type = "cell"
        self.query_one("#placement-legend", Static).update(Text.assemble(
            ("✓", "green"), " healthy/running  ", ("✗", "bold red"), " unhealthy/failed  ",
            ("~", "yellow"), " starting  ", ("·", "dim"), " none", style="dim"))
        self.fleet_changed()
        table.focus()

    def draw(self) -> None:
        cluster = self.undrawn(self.cluster_name)
        if cluster is None:
            return
        self._draw(cluster)

    def per_page(self) -> int:
        fixed = NODE_WIDTH + STATE_WIDTH + 2 * CELL_PADDING + SCROLLBAR
        return max(1, (self.app.size.width - fixed) // (SERVICE_WIDTH + CELL_PADDING))

    def _draw(self, cluster: Cluster) -> None:
        every = ordered_services(cluster, self.focus_service_id, self.state.attention.get(cluster.name))
        per_page = self.per_page()
        self._pages = max(1, -(-len(every) // per_page))
        self.page = min(self.page, self._pages - 1)
        services = every[self.page * per_page:(self.page + 1) * per_page]
        words = vocabulary_for(cluster.kind)
        columns = [Column("node", words.node.upper(), NODE_WIDTH), Column("state", "STATE", STATE_WIDTH)]
        columns += [Column(service.id, short_name(service), SERVICE_WIDTH) for service in services]
        table = self.query_one(DiffTable)
        table.set_columns(columns)
        grid = placement_counts(cluster)
        rows: list[tuple[str, list[Cell]]] = []
        nodes: list[Node] = ordered_nodes(cluster.nodes)
        known = {node.id for node in nodes}
        for position, node in enumerate(nodes):
            rows.append((node.id, self._row(position, node.name, node_state_text(node, words),
                                            grid.get(node.id, {}), services)))
        # Tasks on nodes the snapshot does not list (pending, or a node just removed) still count.
        for position, node_id in enumerate(sorted(set(grid) - known), start=len(nodes)):
            label = "(unscheduled)" if node_id == UNSCHEDULED else node_id
            rows.append((node_id, self._row(position, label, Text("-", style="dim"), grid[node_id], services)))
        table.sync(rows)
        self._title(cluster, services, grid, len(every), self.page * per_page)

    @staticmethod
    def _row(position: int, name: str, state: Text, tallies: dict[str, Tally],
             services: list[Service]) -> list[Cell]:
        cells = [Cell(Text(name, no_wrap=True, overflow="ellipsis"), position), Cell(state, state.plain)]
        for service in services:
            tally = tallies.get(service.id)
            cells.append(cell(tally.text() if tally else Text("·", style="dim"), 0))
        return cells

    def _title(self, cluster: Cluster, services: list[Service], grid: dict[str, dict[str, Tally]],
               total: int, first: int) -> None:
        title = Text(no_wrap=True, overflow="ellipsis")
        if cluster.demo:
            title.append(" DEMO ", style="bold reverse yellow")
            title.append(" ")
        words = vocabulary_for(cluster.kind)
        title.append(display_text(f"Placement · {cluster.name} ({words.name(cluster.kind)}) · "
                                  f"{words.node_count(len(cluster.nodes))}"), style="bold")
        if self._pages > 1:
            title.append(f" · {words.services} {first + 1}-{first + len(services)} of {total} ([ ] to page)",
                         style="dim")
        lines = [title]
        if not cluster.reachable:
            # Not an empty cluster: say so, with why, and that what shows (if anything) is the last data.
            state = Text(cluster.state.value, style="bold red" if cluster.state is ConnectionState.UNREACHABLE
                         else "yellow")
            if cluster.nodes:
                state.append(" (last known placement)", style="red")
            if cluster.error:
                state.append(display_text(f" · {cluster.error}"), style="red")
            lines.append(state)
        focus = next((service for service in services if service.id == self.focus_service_id), None)
        if focus is not None:
            names = cluster.node_names()
            where = [f"{names.get(node_id, node_id if node_id != UNSCHEDULED else 'unscheduled')}"
                     f" {tallies[focus.id].text().plain}"
                     for node_id, tallies in grid.items() if focus.id in tallies]
            # A line of its own that may wrap; the title line above is cut at the edge instead.
            line = Text(display_text(f"{focus.ref}: "), style="bold")
            line.append(display_text(", ".join(sorted(where))) or "no tasks", style="not bold")
            lines.append(line)
        self.query_one("#placement-title", Static).update(Group(*lines))

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_open_node(self) -> None:
        node_id = self.query_one(DiffTable).cursor_key
        cluster = self.state.get(self.cluster_name)
        # The unscheduled row and nodes no longer listed have nothing more to show.
        if node_id is not None and cluster is not None and any(node.id == node_id for node in cluster.nodes):
            open_node(self.app, self.cluster_name, node_id)

    def action_page(self, step: int) -> None:
        page = max(0, min(self._pages - 1, self.page + step))
        if page != self.page:
            self.page = page
            self._redraw()

    def on_resize(self) -> None:
        self._redraw()

    def _redraw(self) -> None:
        self.draw_again()
        self.fleet_changed()

    def action_next_cluster(self) -> None:
        following = self.state.cluster_after(self.cluster_name)
        if following is None:
            return
        self.cluster_name = following
        self.focus_service_id = None
        self.page = 0
        self._redraw()
