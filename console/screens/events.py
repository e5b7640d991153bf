"""One timeline across clusters: every cluster's events and the console's own audit entries, newest at
the bottom. The view follows new events unless the operator moved up; `/` filters by text, `c` cycles a
cluster filter, `enter` shows the highlighted event whole (the columns cut long objects and messages).
Reading the audit file is I/O, so the merge runs in a thread worker on every snapshot.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import ClassVar

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static

from pilothouse.console.key_display import key_display
from pilothouse.console.screens.base import FleetScreenBase
from pilothouse.console.timeline import merge
from pilothouse.providers.model import Cluster, Event
from pilothouse.providers.text import display_text
from pilothouse.widgets.clock import shown, zone_name
from pilothouse.widgets.clock import stamp as clock_stamp
from pilothouse.widgets.diff_table import Cell, Column, DiffTable, cell
from pilothouse.widgets.filter_bar import FilterBar
from pilothouse.widgets.footer import KeyFooter

MAX_EVENTS = 2_000
WIDE_FROM = 110
CELL_PADDING = 2
SCROLLBAR = 2
KIND_STYLES = {"warning": "yellow", "audit": "bold magenta", "remove": "red", "create": "green"}
# TIME, CLUSTER, KIND, OBJECT widths, (narrow, wide). 17 fits "svc shop_payments": at 80 columns the object
# names the service, the message takes the rest.
TIME_WIDTH = (8, 14)
CLUSTER_WIDTH = (8, 12)
KIND_WIDTH = (6, 8)
OBJECT_WIDTH = (17, 28)
MIN_MESSAGE = 16
# An object's kind word as a column that cuts the object shows it (kubectl's short name).
SHORT_KINDS = {"service": "svc"}


def object_width(wide: bool, one_cluster: bool = False) -> int:
    """Narrowed to one cluster, the CLUSTER column is gone: half its cells go to OBJECT, half to MESSAGE."""
    width = OBJECT_WIDTH[wide]
    return width + (CLUSTER_WIDTH[wide] + CELL_PADDING) // 2 if one_cluster else width


def events_columns(width: int, one_cluster: bool = False) -> tuple[Column, ...]:
    """Every cluster: TIME CLUSTER KIND OBJECT MESSAGE; one cluster (`c`): no CLUSTER, it says nothing there."""
    wide = width >= WIDE_FROM
    # The zone is said once, in the header: the cells have no room to repeat it.
    fixed = [Column("time", f"TIME {zone_name()}", TIME_WIDTH[wide])]
    if not one_cluster:
        fixed.append(Column("cluster", "CLUSTER", CLUSTER_WIDTH[wide]))
    fixed += [Column("kind", "KIND", KIND_WIDTH[wide]), Column("object", "OBJECT", object_width(wide, one_cluster))]
    rest = width - sum(c.width or 0 for c in fixed) - CELL_PADDING * (len(fixed) + 1) - SCROLLBAR
    return (*fixed, Column("message", "MESSAGE", max(MIN_MESSAGE, rest)))


def aware(time: datetime) -> datetime:
    return time if time.tzinfo else time.replace(tzinfo=UTC)


def timestamp(event: Event) -> float:
    return aware(event.time).timestamp()


def object_text(name: str, width: int) -> Text:
    """The object, `service shop_payments` as `svc shop_payments` when the full form would be cut."""
    kind, space, rest = name.partition(" ")
    if len(name) > width and space and kind in SHORT_KINDS:
        name = f"{SHORT_KINDS[kind]} {rest}"
    return Text(name, no_wrap=True, overflow="ellipsis")


def event_cells(event: Event, sequence: int, wide: bool, one_cluster: bool = False) -> list[Cell]:
    time = aware(event.time)
    local = shown(time)
    stamp = f"{local:%m-%d %H:%M:%S}" if wide else f"{local:%H:%M:%S}"
    style = KIND_STYLES.get(event.kind, "cyan")
    cells = [Cell(Text(stamp, style="dim", no_wrap=True), (timestamp(event), sequence))]
    if not one_cluster:
        cells.append(cell(event.cluster or "-"))
    return [
        *cells,
        cell(Text(event.kind, style=style, no_wrap=True, overflow="ellipsis")),
        Cell(object_text(event.object, object_width(wide, one_cluster)), event.object.lower()),
        cell(event.message),
    ]


def event_detail(event: Event) -> Group:
    """Every field of the event, the message wrapped, never cut."""
    time = aware(event.time)
    table = Table(show_header=False, box=None, expand=True, padding=(0, 1), pad_edge=False)
    table.add_column("field", style="bold cyan", no_wrap=True, width=8)
    table.add_column("value", ratio=1, overflow="fold")
    table.add_row("time", Text(clock_stamp(time)))
    table.add_row("cluster", Text(display_text(event.cluster or "-")))
    table.add_row("kind", Text(display_text(event.kind), style=KIND_STYLES.get(event.kind, "cyan")))
    table.add_row("object", Text(display_text(event.object or "-"), style="bold"))
    if event.service_ref:
        table.add_row("service", Text(display_text(event.service_ref)))
    return Group(Text("Event", style="bold"), Text(""), table, Text(""), Text("message", style="bold cyan"),
                 Text(display_text(event.message or "-", multiline=True), overflow="fold"))


class EventDetailScreen(ModalScreen[None]):
    """One event, whole: what the timeline's columns cut."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close", id="event_detail_close"),
    ]

    def __init__(self, event: Event) -> None:
        super().__init__(id="event-detail")
        self.shown_event = event

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="event-detail-box", classes="dialog"):
            yield Static(event_detail(self.shown_event), id="event-detail-body")
            # This dialog has no footer: the key as the config's keymap sets it.
            close = key_display(self.app, self.BINDINGS, "event_detail_close")
            yield Static(Text(f"\n{close}: close"), id="event-detail-hint", classes="dim")

    def action_close(self) -> None:
        self.dismiss(None)


def event_keys(events: Sequence[Event]) -> list[str]:
    """Stable row keys: events carry no id, so the content is the key (a repeat gets a counter)."""
    seen: dict[str, int] = {}
    keys = []
    for event in events:
        base = "\x1f".join((f"{timestamp(event):.6f}", event.cluster, event.kind, event.object, event.message))
        count = seen.get(base, 0)
        seen[base] = count + 1
        keys.append(f"{base}\x1f{count}")
    return keys


class EventsScreen(FleetScreenBase):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="back"),
        Binding("slash", "filter", "Filter", id="filter", key_display="/",
                tooltip="Filter events (words that must all appear)"),
        Binding("c", "next_cluster", "Cluster", id="next_cluster",
                tooltip="Every cluster, then one cluster at a time"),
        Binding("enter", "event_detail", "Event", id="event_detail",
                tooltip="The highlighted event whole: time, cluster, kind, object and the full message"),
    ]

    class Loaded(Message):
        def __init__(self, events: list[Event], generation: int) -> None:
            super().__init__()
            self.events = events
            self.generation = generation

    def __init__(self) -> None:
        super().__init__(id="events")
        self.cluster_filter: str | None = None
        self.events: list[Event] = []
        self._words: list[str] = []
        self._requested = -1
        self._wide = False
        self._shown: dict[str, Event] = {}  # row key -> the event it shows
        self.loaded = False

    def compose(self) -> ComposeResult:
        yield Static("", id="events-title")
        yield DiffTable(events_columns(self.app.size.width), id="events-table")
        yield FilterBar(key_display(self.app, self.BINDINGS, "back"), id="events-filter")
        yield KeyFooter()

    @property
    def table(self) -> DiffTable:
        return self.query_one("#events-table", DiffTable)

    def on_mount(self) -> None:
        self._wide = self.app.size.width >= WIDE_FROM
        self.fleet_changed()
        self.table.focus()

    def on_resize(self) -> None:
        if self._lay_out():
            self._show(follow=True)

    def _lay_out(self) -> bool:
        """Columns for the width and the cluster filter; True when they changed (the rows come back on _show)."""
        self._wide = self.app.size.width >= WIDE_FROM
        return self.table.set_columns(events_columns(self.app.size.width, self.cluster_filter is not None))

    # -- loading (thread) -----------------------------------------------------------------------

    def draw(self) -> None:
        """A snapshot arrived: merge again, with the audit file read off the UI thread."""
        generation = self.state.generation
        if generation == self._requested:
            return
        self._requested = generation
        clusters: list[Cluster] = self.state.ordered()
        feed = self.host().audit_feed

        def load() -> None:
            events = merge(clusters, feed.events())[-MAX_EVENTS:]
            self.post_message(self.Loaded(events, generation))

        self.run_worker(load, thread=True, exit_on_error=False, group="events", name="events timeline")

    def on_events_screen_loaded(self, message: Loaded) -> None:
        # Workers can finish out of order; an older merge must not replace a newer one.
        if message.generation < self._requested and self.loaded:
            return
        self.events = message.events
        self.loaded = True
        self._show()

    # -- rendering ------------------------------------------------------------------------------

    def shown_events(self) -> list[Event]:
        words = self._words
        selected = []
        for event in self.events:
            if self.cluster_filter is not None and event.cluster != self.cluster_filter:
                continue
            if words:
                haystack = f"{event.cluster} {event.kind} {event.object} {event.message}".lower()
                if not all(word in haystack for word in words):
                    continue
            selected.append(event)
        return selected

    def at_bottom(self) -> bool:
        table = self.table
        return table.row_count == 0 or table.cursor_row >= table.row_count - 1

    def _show(self, follow: bool | None = None) -> None:
        table = self.table
        # Follow new events unless the operator moved up to read older ones.
        following = self.at_bottom() if follow is None else follow
        events = self.shown_events()
        wide, one_cluster = self._wide, self.cluster_filter is not None
        self._shown = dict(zip(event_keys(events), events, strict=True))
        table.sync((key, event_cells(event, index, wide, one_cluster))
                   for index, (key, event) in enumerate(self._shown.items()))
        if following and table.row_count:
            table.move_cursor(row=table.row_count - 1, animate=False, scroll=True)
        self._title(len(events), following)

    def _title(self, shown: int, following: bool) -> None:
        title = Text(no_wrap=True, overflow="ellipsis")
        title.append("Events ", style="bold")
        title.append(display_text(f"· {self.cluster_filter or 'every cluster'} · "))
        title.append(f"{shown} of {len(self.events)}" if shown != len(self.events) else f"{shown} events")
        if len(self.events) >= MAX_EVENTS:
            title.append(f" (latest {MAX_EVENTS})", style="dim")
        audit = sum(1 for event in self.events if event.kind == "audit")
        if audit:
            title.append(f" · {audit} console actions", style="magenta")
        if self._words:
            title.append(display_text(f" · filter: {' '.join(self._words)}"), style="dim")
        title.append(" · following" if following else " · scrolled up (ctrl+end: follow)", style="dim")
        if not self.loaded:
            title.append(" · loading", style="yellow")
        self.query_one("#events-title", Static).update(title)

    # -- keys ---------------------------------------------------------------------------------

    def action_next_cluster(self) -> None:
        names: list[str | None] = [None, *self.state.clusters]
        index = names.index(self.cluster_filter) if self.cluster_filter in names else 0
        self.cluster_filter = names[(index + 1) % len(names)]
        self._lay_out()
        self._show(follow=True)

    def action_event_detail(self) -> None:
        event = self._shown.get(self.table.cursor_key or "")
        if event is None:
            self.notify("no event selected", severity="warning", markup=False)
            return
        self.app.push_screen(EventDetailScreen(event))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        # Only a mouse click on the highlighted row selects (enter is the event_detail binding).
        self.action_event_detail()

    def action_filter(self) -> None:
        self.query_one(FilterBar).open()

    def on_filter_bar_filtered(self, event: FilterBar.Filtered) -> None:
        self._words = event.words
        self._show(follow=True)

    def on_filter_bar_kept(self, event: FilterBar.Kept) -> None:
        self.table.focus()

    def action_back(self) -> None:
        if self.query_one(FilterBar).clear_filter():
            self._words = []
            self._show(follow=True)
            self.table.focus()
            return
        self.app.pop_screen()
