"""The fleet: every service of every cluster in one table, diffed in place on every snapshot.

Problems first: the default order is the ATTN column's (critical, then warning, then the configured order);
`t` toggles to the configured order and back, `a` shows only the services needing attention, `O` reverses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Static

from pilothouse.console.key_display import key_display
from pilothouse.console.screens.navigate import (
    open_doctor,
    open_events,
    open_networks,
    open_nodes,
    open_placement,
    open_service,
)
from pilothouse.console.screens.service_actions import ServiceActionScreen
from pilothouse.providers.attention import NOTHING, TASK_KINDS, Attention, Level, tasks_unknown
from pilothouse.providers.model import Cluster, ConnectionState, Service, ServiceMode
from pilothouse.providers.registry import vocabulary_for
from pilothouse.widgets.cluster_header import LEVEL_STYLES, ClusterHeader, attention_summary
from pilothouse.widgets.diff_table import Cell, Column, DiffTable, cell
from pilothouse.widgets.filter_bar import FilterBar
from pilothouse.widgets.footer import KeyFooter
from pilothouse.widgets.render import health_text, image_tag, replicas_text, rollout_text

# Column widths: NARROW keeps every column on an 80-column terminal; wider terminals grow the columns one
# cell at a time, most useful first, up to WIDE; the rollout column takes what is left.
WIDE = {"attn": 6, "cluster": 12, "namespace": 10, "service": 20, "image": 21, "replicas": 7, "health": 10,
        "findings": 4}
NARROW = {"attn": 4, "cluster": 8, "namespace": 4, "service": 10, "image": 9, "replicas": 5, "health": 6,
          "findings": 3}
GROW_ORDER = ("service", "image", "attn", "cluster", "namespace", "health", "replicas", "findings")
LABELS = {"attn": "ATTN", "cluster": "CLUSTER", "namespace": "NS/STACK", "service": "SERVICE", "image": "IMAGE:TAG",
          "replicas": "RUN/DES", "health": "HEALTH", "findings": "DOC", "rollout": "ROLLOUT"}
ATTN_COLUMN = 0
CLUSTER_COLUMN = 1
# How each column's sort reads (its sort values make these true), ascending then reversed.
ORDERS = {"attn": ("needing attention first", "needing attention last"),
          "cluster": ("config order", "config order reversed"), "replicas": ("fewest running first", "most first"),
          "health": ("worst first", "best first"), "findings": ("most findings first", "fewest first"),
          "rollout": ("rollouts in progress first", "stable first")}
# DataTable pads every cell by one column each side, and the vertical scrollbar takes two.
CELL_PADDING = 2
SCROLLBAR = 2
MIN_ROLLOUT = 9
# The ATTN column at its full width shows the symbol and the word; narrower, the word alone (NO_COLOR reads both).
ATTN_WORDS = {Level.CRITICAL: "crit", Level.WARNING: "warn", Level.NONE: ""}
MAX_ROLLOUT = 32


def fleet_columns(width: int) -> tuple[Column, ...]:
    widths = dict(NARROW)
    spare = width - (sum(widths.values()) + CELL_PADDING * (len(widths) + 1) + SCROLLBAR + MIN_ROLLOUT)
    while spare > 0 and any(widths[key] < WIDE[key] for key in GROW_ORDER):
        for key in GROW_ORDER:
            if spare > 0 and widths[key] < WIDE[key]:
                widths[key] += 1
                spare -= 1
    widths["rollout"] = min(MAX_ROLLOUT, MIN_ROLLOUT + max(0, spare))
    return tuple(Column(key, LABELS[key], widths[key], ORDERS.get(key, ("A to Z", "Z to A"))) for key in LABELS)


def findings_cell(count: int) -> Cell:
    """Unsilenced doctor findings; most first when sorted."""
    if not count:
        return Cell(Text("-", style="dim", no_wrap=True), 0)
    return Cell(Text(str(count), style="yellow", no_wrap=True), -count)


def attention_cell(attention: Attention, order: tuple[object, ...], width: int) -> Cell:
    """The level as a word (and a symbol when there is room); sorts worst first, then in the configured order
    (`order`), so that it is also the table's full natural key."""
    level = attention.level
    word = ATTN_WORDS[level]
    if level is Level.NONE:
        text = Text("-", style="dim", no_wrap=True)
    else:
        shown = f"{level.symbol} {word}" if width >= len(word) + 2 else word
        text = Text(shown, style=LEVEL_STYLES[level], no_wrap=True, overflow="ellipsis")
    return Cell(text, (level.rank, *order))


@dataclass(frozen=True, slots=True)
class FleetRow:
    key: str
    cluster: str
    service_id: str
    cells: tuple[Cell, ...]
    haystack: str
    level: Level = Level.NONE
    namespace: str = ""


def row_key(cluster: str, service_id: str) -> str:
    return f"{cluster}\x1f{service_id}"


def row_look(position: int, cluster: Cluster, service: Service, rollout_width: int,
             findings: int, attention: Attention = NOTHING, attn_width: int = 6) -> tuple[object, ...]:
    """Everything service_row draws from: equal looks make equal rows."""
    health, rollout = service.health, service.rollout
    return (position, cluster.state is ConnectionState.UNREACHABLE, service.stale, service.tasks_known,
            service.namespace, service.ref, service.image,
            service.running, service.desired, service.mode, health.healthy, health.unhealthy, health.starting,
            findings, rollout.state, rollout.counts, rollout_width, service.workload_kind,
            attention.level, tuple(reason.short for reason in attention.reasons), attn_width, service.autoscaler)


# The parts of a look the CLUSTER, NS/STACK, SERVICE and IMAGE:TAG cells are drawn from (position, unreachable,
# stale, namespace, ref, image): equal, those cells of the service's previous row are kept.
STABLE_LOOK = (0, 1, 2, 4, 5, 6)


def stable_look(look: tuple[object, ...]) -> tuple[object, ...]:
    return tuple(look[index] for index in STABLE_LOOK)


def service_label(service: Service) -> str:
    """The ref without the namespace the NS column already shows ("prod/web" -> "web")."""
    prefix = f"{service.namespace}/"
    return service.ref.removeprefix(prefix) if service.namespace and service.ref != prefix else service.ref


def service_row(position: int, cluster: Cluster, service: Service, rollout_width: int,
                findings: int = 0, attention: Attention = NOTHING, attn_width: int = 6,
                stable: tuple[Cell, ...] | None = None) -> FleetRow:
    """The service's row; `stable`: its previous row's CLUSTER, NS/STACK, SERVICE and IMAGE:TAG cells, kept when
    what they show has not changed (an event storm changes health and counts, rarely names)."""
    unreachable = cluster.state is ConnectionState.UNREACHABLE
    # Earlier data this refresh could not read again (throttled, failing): marked, never shown as current.
    stale = unreachable or service.stale
    health = service.health
    rollout = service.rollout
    bar_width = max(3, min(12, rollout_width - 15))
    order = (position, service.namespace, service.ref)
    if stable is None:
        cluster_label = Text(no_wrap=True, overflow="ellipsis")
        if unreachable:
            cluster_label.append("✗ ", style="bold red")
        elif stale:
            cluster_label.append("~ ", style="bold yellow")
        cluster_label.append(cluster.name)
        stable = (Cell(cluster_label, order), cell(service.namespace or "-"),
                  cell(service_label(service), style="bold"), cell(image_tag(service.image)))
        if stale:
            for one in stable:
                one.text.stylize("dim")
    changing = (
        attention_cell(attention, order, attn_width),
        Cell(replicas_text(service.running, service.desired, service.mode is ServiceMode.GLOBAL,
                           service.autoscaler is not None),
             (service.running, service.desired)),
        Cell(health_text(health), (-health.unhealthy, -health.starting, -health.healthy)) if service.tasks_known
        else Cell(Text("? unknown", style="bold yellow", no_wrap=True, overflow="ellipsis"), (1, 0, 0)),
        findings_cell(findings),
        Cell(rollout_text(rollout, bar_width), (not rollout.active, rollout.state.value, rollout.fraction)),
    )
    if stale:
        for one in changing:  # built here: the kept cells are dimmed already, and are never dimmed twice
            one.text.stylize("dim")
    cells = (changing[0], *stable, *changing[1:])
    haystack = " ".join((cluster.name, service.namespace, service.ref, service.image, rollout.state.value,
                         service.workload_kind, service.mode.value, "stale" if stale else "",
                         "" if service.tasks_known else "unknown",
                         "autoscaled" if service.autoscaler is not None else "",
                         attention.level.value if attention.needed else "",
                         *(reason.short for reason in attention.reasons))).lower()
    return FleetRow(row_key(cluster.name, service.id), cluster.name, service.id, cells, haystack, attention.level,
                    service.namespace)


def unjudged(cluster: Cluster) -> str:
    """Why attention cannot be judged on the cluster's services ("" when it can)."""
    if cluster.state is ConnectionState.CONNECTING:
        return "connecting"
    if cluster.state is ConnectionState.UNREACHABLE:
        return "unreachable"
    if tasks_unknown(cluster):
        word = vocabulary_for(cluster.kind).tasks
        forbidden = any(kind.split(" ", 1)[0] in TASK_KINDS for kind in cluster.forbidden)
        return f"{word} forbidden" if forbidden else f"{word} unknown"
    return ""


def matches(haystack: str, words: list[str]) -> bool:
    return all(word in haystack for word in words)


class FleetScreen(ServiceActionScreen):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "drill_down", "Open", id="drill_down", tooltip="Open the service: tasks, rollout, events"),
        Binding("p", "placement", "Placement", id="placement",
                tooltip="Placement: which nodes run the service's tasks"),
        Binding("n", "nodes", "Nodes", id="nodes", show=False,
                tooltip="Nodes of the selected service's cluster: state, availability, tasks, conditions"),
        Binding("y", "inspect", "Inspect", id="inspect", show=False,
                tooltip="The selected service's spec as its orchestrator gives it, secrets masked"),
        Binding("N", "networks", "Networks", id="networks", show=False,
                tooltip="Networks of the selected service's cluster: Services, overlay networks, target groups"),
        Binding("slash", "filter", "Filter", id="filter", key_display="/",
                tooltip="Filter rows (words that must all appear)"),
        Binding("l", "logs", "Logs", id="logs", tooltip="Logs of the service's tasks, followed live"),
        Binding("d", "doctor", "Doctor", id="doctor",
                tooltip="Doctor: container-operations pitfalls found on every service"),
        Binding("e", "events", "Events", id="events",
                tooltip="Events: one timeline of every cluster and the console's own actions"),
        # Not in the footer (an 80-column footer has room for the incident keys only); in help and the palette.
        # Not in the footer either: an 80-column footer is full; the attention line above the table names it.
        Binding("a", "attention_only", "Attention", id="attention_only", show=False,
                tooltip="Show only the services needing attention (again: show all)"),
        Binding("o", "cycle_sort", "Sort", id="sort", show=False,
                tooltip="Sort by the next column (or click a header)"),
        Binding("O", "reverse_sort", "Reverse sort", id="sort_reverse", show=False,
                tooltip="Reverse the current sort"),
        Binding("t", "toggle_order", "Problems first / config order", id="problems_first", show=False,
                tooltip="Toggle between problems first and the configured order"),
        Binding("r", "refresh", "Refresh", id="refresh", show=False, tooltip="Refresh every cluster now"),
        Binding("escape", "back", "Clear filter", id="back", show=False, tooltip="Clear the filter"),
    ]

    def __init__(self) -> None:
        super().__init__(id="fleet")
        self._rows: dict[str, tuple[Cluster, list[FleetRow]]] = {}
        self._row_cache: dict[tuple[str, str], tuple[tuple[object, ...], FleetRow]] = {}
        self._by_key: dict[str, FleetRow] = {}
        self._words: list[str] = []
        self._drawn_generation = -1
        self._attention_line: Text | None = None
        self._status_line: Text | None = None
        self._columns: tuple[Column, ...] = fleet_columns(120)
        self.attention_only = False
        # `:cluster NAME` / `:ns NAME` (the command line): the fleet shows one cluster, one namespace or stack.
        self.scope_cluster: str | None = None
        self.scope_namespace: str | None = None

    def compose(self) -> ComposeResult:
        yield ClusterHeader(id="clusters")
        yield Static("", id="fleet-attention")
        yield DiffTable(self._columns, id="fleet-table")
        yield Static("", id="fleet-status")
        yield FilterBar(key_display(self.app, self.BINDINGS, "back"), id="fleet-filter")
        yield KeyFooter()

    @property
    def table(self) -> DiffTable:
        return self.query_one("#fleet-table", DiffTable)

    def on_mount(self) -> None:
        self._relayout(self.app.size.width)
        # Problems first, with the column's sort marker showing it.
        self.table.sort_by(ATTN_COLUMN)
        self.fleet_changed()
        self.table.focus()

    def on_resize(self) -> None:
        self._relayout(self.app.size.width)

    def _relayout(self, width: int) -> None:
        columns = fleet_columns(width)
        if columns != self._columns:
            self._columns = columns
            self._rows.clear()
            self._row_cache.clear()
            self.table.set_columns(columns)
            self._drawn_generation = -1
            self.fleet_changed()

    # -- drawing ------------------------------------------------------------------------------

    def _login_hints(self, clusters: list[Cluster]) -> dict[str, str]:
        palette = self.host().console_config.keymap.get("command_palette", "ctrl+p")
        return {cluster.name: f"to log in: {palette}, then 'log in {cluster.name}'" for cluster in clusters
                if cluster.needs_login and self.host().login_command(cluster.name)}

    def draw(self) -> None:
        state = self.state
        clusters = state.ordered()
        actions = self.host().actions
        self.query_one(ClusterHeader).show(clusters, self._login_hints(clusters),
                                           {cluster.name for cluster in clusters if actions.readonly_for(cluster.name)})
        rollout_width = self._columns[-1].width or 20
        attn_width = self._columns[ATTN_COLUMN].width or 6
        for position, cluster in enumerate(clusters):
            cached = self._rows.get(cluster.name)
            # Snapshots are immutable: an unchanged object means unchanged rows.
            if cached is None or cached[0] is not cluster:
                rows = []
                for service in cluster.services:
                    findings = state.finding_count(cluster.name, service.ref)
                    attention = state.attention_of(cluster.name, service.id)
                    look = row_look(position, cluster, service, rollout_width, findings, attention, attn_width)
                    known = self._row_cache.get((cluster.name, service.id))
                    # A refresh changes few services: rebuilding every row's Rich text would cost the UI
                    # thread ~100 ms at 50k tasks for nothing.
                    row = known[1] if known is not None and known[0] == look else None
                    if row is None:
                        stable = (known[1].cells[1:5] if known is not None
                                  and stable_look(known[0]) == stable_look(look) else None)
                        row = service_row(position, cluster, service, rollout_width, findings, attention, attn_width,
                                          stable)
                        self._row_cache[(cluster.name, service.id)] = (look, row)
                    rows.append(row)
                live = {service.id for service in cluster.services}
                for key in [key for key in self._row_cache if key[0] == cluster.name and key[1] not in live]:
                    del self._row_cache[key]
                self._rows[cluster.name] = (cluster, rows)
        self._drawn_generation = state.generation
        self._draw_attention(clusters)
        self._draw()

    def _draw_attention(self, clusters: list[Cluster]) -> None:
        several = len(clusters) > 1
        needing = [(f"{cluster.name}/{service.ref}" if several else service.ref, attention)
                   for cluster, service, attention in self.state.needing_attention()]
        # A quiet line must not read as "all is well" for a cluster that could not be looked at.
        unknown = [f"{cluster.name} ({why})" for cluster in clusters if (why := unjudged(cluster))]
        summary = attention_summary(needing, unknown)
        if summary != self._attention_line:  # unchanged text: no update, no re-layout
            self._attention_line = summary
            self.query_one("#fleet-attention", Static).update(summary)

    def _draw(self) -> None:
        visible: list[FleetRow] = []
        self._by_key = {}
        total = 0
        for _, rows in self._rows.values():
            total += len(rows)
            for row in rows:
                self._by_key[row.key] = row
                if self.attention_only and row.level is Level.NONE:
                    continue
                if not self.in_scope(row):
                    continue
                if not self._words or matches(row.haystack, self._words):
                    visible.append(row)
        table = self.table
        table.sync((row.key, row.cells) for row in visible)
        status = Text(no_wrap=True, overflow="ellipsis", style="dim")
        narrowed = self._words or self.attention_only or self.scope_cluster or self.scope_namespace
        status.append(f"{len(visible)} of {total} services" if narrowed else f"{total} services")
        if self.scope_cluster:
            status.append(f" · cluster {self.scope_cluster}")
        if self.scope_namespace:
            status.append(f" · namespace {self.scope_namespace}")
        if self.attention_only:
            status.append(" · needing attention only")
        if self._words:
            status.append(f" · filter: {' '.join(self._words)}")
        if table.sort_column is not None:
            status.append(f" · sorted by {table.sort_description()}")
        keymap = self.host().console_config.keymap
        toggle = keymap.get("problems_first", "t")
        status.append(f" · {keymap.get('attention_only', 'a')}: "
                      f"{'all services' if self.attention_only else 'only those needing attention'}"
                      f" · {toggle}: {'config order' if table.sort_column == ATTN_COLUMN else 'problems first'}")
        if status != self._status_line:
            self._status_line = status
            self.query_one("#fleet-status", Static).update(status)
        self.update_offered_keys()

    def in_scope(self, row: FleetRow) -> bool:
        return ((self.scope_cluster is None or row.cluster == self.scope_cluster)
                and (self.scope_namespace is None or row.namespace == self.scope_namespace))

    def set_scope(self, cluster: str | None, namespace: str | None) -> None:
        """Show one cluster and/or one namespace or stack (None: every one)."""
        self.scope_cluster, self.scope_namespace = cluster, namespace
        if self.is_mounted:
            self._draw()
            if self.table.row_count:
                self.table.move_cursor(row=0)

    # -- selection ----------------------------------------------------------------------------

    def selected(self) -> tuple[str, Service] | None:
        key = self.table.cursor_key
        row = self._by_key.get(key) if key is not None else None
        if row is None:
            return None
        service = self.state.service(row.cluster, row.service_id)
        return None if service is None else (row.cluster, service)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.update_offered_keys()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        # Only a mouse click selects (enter is the screen's drill_down binding).
        self.action_drill_down()

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        table = self.table
        reverse = table.sort_column == event.column_index and not table.sort_reverse
        table.sort_by(event.column_index, reverse)
        self._draw()

    # -- actions ------------------------------------------------------------------------------

    def refusal_for(self, action: str) -> str | None:
        if action in ("drill_down", "placement") and self.selected() is None:
            return "no service selected" if action == "drill_down" else None
        return super().refusal_for(action)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "drill_down":
            return self.selected() is not None
        return super().check_action(action, parameters)

    def action_doctor(self) -> None:
        open_doctor(self.app)

    def action_events(self) -> None:
        open_events(self.app)

    def action_drill_down(self) -> None:
        target = self.selected()
        if target is not None:
            open_service(self.app, target[0], target[1].id)

    def action_networks(self) -> None:
        target = self.selected()
        if target is not None:
            open_networks(self.app, target[0])
        elif self.state.clusters:
            open_networks(self.app, next(iter(self.state.clusters)))

    def action_nodes(self) -> None:
        target = self.selected()
        if target is not None:
            open_nodes(self.app, target[0])
        elif self.state.clusters:
            open_nodes(self.app, next(iter(self.state.clusters)))

    def action_placement(self) -> None:
        target = self.selected()
        if target is not None:
            open_placement(self.app, target[0], target[1].id)
        elif self.state.clusters:
            open_placement(self.app, next(iter(self.state.clusters)))

    def action_filter(self) -> None:
        self.query_one(FilterBar).open()

    def on_filter_bar_filtered(self, event: FilterBar.Filtered) -> None:
        self._words = event.words
        self._draw()
        # On the first match, not on whatever row now sits where the cursor was: a key pressed next
        # must act on what the operator just filtered for.
        if self.table.row_count:
            self.table.move_cursor(row=0)

    def on_filter_bar_kept(self, event: FilterBar.Kept) -> None:
        self.table.focus()

    def action_back(self) -> None:
        if self.query_one(FilterBar).clear_filter():
            self._words = []
            self._draw()
        self.table.focus()

    def action_cycle_sort(self) -> None:
        table = self.table
        current = table.sort_column
        table.sort_by(0 if current is None else (current + 1) % len(self._columns))
        self._draw()

    def action_reverse_sort(self) -> None:
        table = self.table
        table.sort_by(ATTN_COLUMN if table.sort_column is None else table.sort_column, not table.sort_reverse)
        self._draw()

    def action_toggle_order(self) -> None:
        """Problems first <-> the configured order (the cluster column's sort, its marker showing it)."""
        table = self.table
        problems_first = table.sort_column == ATTN_COLUMN and not table.sort_reverse
        table.sort_by(CLUSTER_COLUMN if problems_first else ATTN_COLUMN)
        self._draw()

    def action_attention_only(self) -> None:
        self.attention_only = not self.attention_only
        self._draw()
        # On the worst row, as the filter does: the next key acts on what the operator asked to see.
        if self.table.row_count:
            self.table.move_cursor(row=0)

    def action_refresh(self) -> None:
        for name in self.state.clusters:
            self.host().poke(name)
        self.notify("refreshing every cluster", markup=False)
