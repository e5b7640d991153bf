"""One timeline across clusters: every cluster's events and the console's own audit entries, newest at
the bottom. The view follows new events unless the operator moved up; `/` filters by text, `c` cycles a
cluster filter. Reading the audit file is I/O, so the merge runs in a thread worker on every snapshot.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import Input, Static

from console.screens.base import FleetScreenBase
from console.timeline import merge
from providers.model import Cluster, Event
from widgets.diff_table import Cell, Column, DiffTable, cell
from widgets.footer import KeyFooter

MAX_EVENTS = 2_000
WIDE_FROM = 110
CELL_PADDING = 2
SCROLLBAR = 2
KIND_STYLES = {"warning": "yellow", "audit": "bold magenta", "remove": "red", "create": "green"}


def events_columns(width: int) -> tuple[Column, ...]:
    if width >= WIDE_FROM:
        fixed = [Column("time", "TIME", 14), Column("cluster", "CLUSTER", 12), Column("kind", "KIND", 8),
                 Column("object", "OBJECT", 28)]
    else:
        fixed = [Column("time", "TIME", 8), Column("cluster", "CLUSTER", 8), Column("kind", "KIND", 6),
                 Column("object", "OBJECT", 14)]
    rest = width - sum(c.width or 0 for c in fixed) - CELL_PADDING * (len(fixed) + 1) - SCROLLBAR
    return (*fixed, Column("message", "MESSAGE", max(16, rest)))


def timestamp(event: Event) -> float:
    time = event.time if event.time.tzinfo else event.time.replace(tzinfo=UTC)
    return time.timestamp()


def event_cells(event: Event, sequence: int, wide: bool) -> list[Cell]:
    time = event.time if event.time.tzinfo else event.time.replace(tzinfo=UTC)
    stamp = f"{time:%m-%d %H:%M:%S}" if wide else f"{time:%H:%M:%S}"
    style = KIND_STYLES.get(event.kind, "cyan")
    return [
        Cell(Text(stamp, style="dim", no_wrap=True), (timestamp(event), sequence)),
        cell(event.cluster or "-"),
        cell(Text(event.kind, style=style, no_wrap=True, overflow="ellipsis")),
        cell(event.object),
        cell(event.message),
    ]


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
        self.loaded = False

    def compose(self) -> ComposeResult:
        yield Static("", id="events-title")
        yield DiffTable(events_columns(self.app.size.width), id="events-table")
        yield Input(placeholder="filter: words that must all appear (enter: keep, escape: clear)",
                    id="events-filter")
        yield KeyFooter()

    @property
    def table(self) -> DiffTable:
        return self.query_one("#events-table", DiffTable)

    def on_mount(self) -> None:
        self.query_one("#events-filter", Input).display = False
        self._wide = self.app.size.width >= WIDE_FROM
        self.fleet_changed()
        self.table.focus()

    def on_resize(self) -> None:
        if self.table.set_columns(events_columns(self.app.size.width)):
            self._wide = self.app.size.width >= WIDE_FROM
            self._show(follow=True)

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
        wide = self._wide
        table.sync(zip(event_keys(events),
                       (event_cells(event, index, wide) for index, event in enumerate(events)), strict=True))
        if following and table.row_count:
            table.move_cursor(row=table.row_count - 1, animate=False, scroll=True)
        self._title(len(events), following)

    def _title(self, shown: int, following: bool) -> None:
        title = Text(no_wrap=True, overflow="ellipsis")
        title.append("Events ", style="bold")
        title.append(f"· {self.cluster_filter or 'every cluster'} · ")
        title.append(f"{shown} of {len(self.events)}" if shown != len(self.events) else f"{shown} events")
        if len(self.events) >= MAX_EVENTS:
            title.append(f" (latest {MAX_EVENTS})", style="dim")
        audit = sum(1 for event in self.events if event.kind == "audit")
        if audit:
            title.append(f" · {audit} console actions", style="magenta")
        if self._words:
            title.append(f" · filter: {' '.join(self._words)}", style="dim")
        title.append(" · following" if following else " · scrolled up (ctrl+end: follow)", style="dim")
        if not self.loaded:
            title.append(" · loading", style="yellow")
        self.query_one("#events-title", Static).update(title)

    # -- keys ---------------------------------------------------------------------------------

    def action_next_cluster(self) -> None:
        names: list[str | None] = [None, *self.state.clusters]
        index = names.index(self.cluster_filter) if self.cluster_filter in names else 0
        self.cluster_filter = names[(index + 1) % len(names)]
        self._show(follow=True)

    def action_filter(self) -> None:
        field = self.query_one("#events-filter", Input)
        field.display = True
        field.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "events-filter":
            self._words = event.value.lower().split()
            self._show(follow=True)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "events-filter":
            if not event.value.strip():
                event.input.display = False
            self.table.focus()

    def action_back(self) -> None:
        field = self.query_one("#events-filter", Input)
        if field.display or field.value:
            field.value = ""
            field.display = False
            self._words = []
            self._show(follow=True)
            self.table.focus()
            return
        self.app.pop_screen()
