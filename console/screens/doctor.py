"""The doctor: every finding of every cluster (or one, `c` cycles), worst first; silenced ones dimmed
with their reason. Findings are computed when a snapshot arrives (FleetState.findings), never per render.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Static

from pilothouse.console.key_display import key_display
from pilothouse.console.screens.base import FleetScreenBase
from pilothouse.console.screens.navigate import open_service
from pilothouse.providers.doctor import Finding, Severity
from pilothouse.providers.text import display_text
from pilothouse.widgets.diff_table import Cell, Column, DiffTable, cell
from pilothouse.widgets.filter_bar import FilterBar
from pilothouse.widgets.footer import KeyFooter

WIDE_FROM = 110
SEVERITY_RANK = {Severity.HIGH: 0, Severity.MEDIUM: 1, Severity.LOW: 2}
SEVERITY_STYLES = {Severity.HIGH: "bold red", Severity.MEDIUM: "yellow", Severity.LOW: "cyan"}
SEVERITY_SHORT = {Severity.HIGH: "HIGH", Severity.MEDIUM: "MED", Severity.LOW: "LOW"}
# Cell padding (one each side) and the vertical scrollbar.
CELL_PADDING = 2
SCROLLBAR = 2


def doctor_columns(width: int) -> tuple[Column, ...]:
    """Wide: severity, rule, service, container, why, fix. Narrow: the fix and container move to the detail line."""
    if width >= WIDE_FROM:
        fixed = [Column("severity", "SEV", 6), Column("rule", "RULE", 20), Column("service", "CLUSTER/SERVICE", 26),
                 Column("container", "CONTAINER", 12)]
        rest = width - sum(c.width or 0 for c in fixed) - CELL_PADDING * (len(fixed) + 2) - SCROLLBAR
        why = max(20, rest * 11 // 20)
        return (*fixed, Column("why", "WHY", why), Column("fix", "FIX", max(16, rest - why)))
    fixed = [Column("severity", "SEV", 4), Column("rule", "RULE", 14), Column("service", "CLUSTER/SERVICE", 18)]
    rest = width - sum(c.width or 0 for c in fixed) - CELL_PADDING * (len(fixed) + 1) - SCROLLBAR
    return (*fixed, Column("why", "WHY", max(16, rest)))


@dataclass(frozen=True, slots=True)
class FindingRow:
    key: str
    finding: Finding
    haystack: str


def finding_cells(finding: Finding, position: int, wide: bool) -> list[Cell]:
    severity = finding.severity
    sort = (SEVERITY_RANK.get(severity, 9), bool(finding.silenced), position, finding.service, finding.rule,
            finding.container, finding.why)
    label = SEVERITY_SHORT.get(severity, severity.value) if not wide else severity.value
    why = Text(no_wrap=True, overflow="ellipsis")
    if finding.silenced:
        why.append(f"silenced ({finding.silenced}): ", style="italic")
    why.append(finding.why)
    cells = [
        Cell(Text(label, style=SEVERITY_STYLES.get(severity, ""), no_wrap=True), sort),
        cell(finding.rule),
        cell(f"{finding.cluster}/{finding.service}"),
    ]
    if wide:
        cells.append(cell(finding.container or "-"))
    cells.append(Cell(why, finding.why.lower()))
    if wide:
        cells.append(cell(finding.fix))
    if finding.silenced:
        for one in cells:
            one.text.stylize("dim")
    return cells


def detail_text(finding: Finding | None) -> Text:
    text = Text(overflow="fold")
    if finding is None:
        text.append("no finding selected", style="dim")
        return text
    text.append(f"{finding.rule} ", style="bold")
    text.append(finding.severity.value, style=SEVERITY_STYLES.get(finding.severity, ""))
    text.append(display_text(f"  {finding.cluster}/{finding.service}"))
    if finding.container:
        text.append(display_text(f" container {finding.container}"), style="dim")
    text.append("\nwhy  ", style="bold")
    text.append(display_text(finding.why))
    text.append("\nfix  ", style="bold")
    text.append(display_text(finding.fix), style="green")
    if finding.silenced:
        text.append("\nsilenced  ", style="bold")
        text.append(display_text(finding.silenced), style="italic")
    return text


class DoctorScreen(FleetScreenBase):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="back"),
        Binding("enter", "drill_down", "Open service", id="drill_down", tooltip="Open the finding's service"),
        Binding("slash", "filter", "Filter", id="filter", key_display="/",
                tooltip="Filter findings (words that must all appear)"),
        Binding("c", "next_cluster", "Cluster", id="next_cluster",
                tooltip="Every cluster, then one cluster at a time"),
    ]

    def __init__(self, cluster: str | None = None) -> None:
        super().__init__(id="doctor")
        self.cluster_filter = cluster
        self._words: list[str] = []
        self._by_key: dict[str, FindingRow] = {}
        self._drawn_generation = -1
        self._wide = False

    def compose(self) -> ComposeResult:
        yield Static("", id="doctor-title")
        yield DiffTable(doctor_columns(self.app.size.width), id="doctor-table")
        yield Static("", id="doctor-detail")
        yield FilterBar(key_display(self.app, self.BINDINGS, "back"), id="doctor-filter")
        yield KeyFooter()

    @property
    def table(self) -> DiffTable:
        return self.query_one("#doctor-table", DiffTable)

    def on_mount(self) -> None:
        # What refreshes never read (a Swarm node engine's image digests) is read once, for this screen.
        for name in list(self.state.clusters):
            self.host().doctor_look(name)
        self._wide = self.app.size.width >= WIDE_FROM
        self.fleet_changed()
        self.table.focus()

    def on_resize(self) -> None:
        if self.table.set_columns(doctor_columns(self.app.size.width)):
            self._wide = self.app.size.width >= WIDE_FROM
            self._redraw()

    def _redraw(self) -> None:
        self._drawn_generation = -1
        self.fleet_changed()

    # -- drawing ------------------------------------------------------------------------------

    def draw(self) -> None:
        state = self.state
        if state.generation == self._drawn_generation:
            return
        self._drawn_generation = state.generation
        positions = {name: index for index, name in enumerate(state.clusters)}
        rows: list[FindingRow] = []
        seen: dict[str, int] = {}
        for finding in state.all_findings():
            base = "\x1f".join((finding.cluster, finding.service, finding.container, finding.rule, finding.why))
            duplicate = seen.get(base, 0)
            seen[base] = duplicate + 1
            haystack = " ".join((finding.severity.value, finding.rule, finding.cluster, finding.service,
                                 finding.container, finding.why, finding.fix,
                                 "silenced " + finding.silenced if finding.silenced else "")).lower()
            rows.append(FindingRow(f"{base}\x1f{duplicate}", finding, haystack))
        self._by_key = {row.key: row for row in rows}
        visible = [row for row in rows
                   if (self.cluster_filter is None or row.finding.cluster == self.cluster_filter)
                   and all(word in row.haystack for word in self._words)]
        wide = self._wide
        self.table.sync((row.key, finding_cells(row.finding, positions.get(row.finding.cluster, 0), wide))
                        for row in visible)
        self._title(rows, visible)
        self._detail()

    def _title(self, rows: list[FindingRow], visible: list[FindingRow]) -> None:
        active = [row.finding for row in visible if not row.finding.silenced]
        counts = {severity: sum(1 for f in active if f.severity is severity) for severity in Severity}
        title = Text(no_wrap=True, overflow="ellipsis")
        title.append("Doctor ", style="bold")
        title.append(display_text(f"· {self.cluster_filter or 'every cluster'} · "))
        title.append(f"{len(active)} findings", style="bold")
        for severity, count in counts.items():
            if count:
                title.append(f" {count} {severity.value}", style=SEVERITY_STYLES[severity])
        silenced = len(visible) - len(active)
        if silenced:
            title.append(f" · {silenced} silenced", style="dim")
        if self._words:
            title.append(display_text(f" · filter: {' '.join(self._words)} ({len(visible)} of {len(rows)})"),
                         style="dim")
        missing = [name for name, cluster in self.state.clusters.items()
                   if name not in self.state.findings or not cluster.reachable]
        if missing:
            title.append(display_text(f" · not checked or stale: {', '.join(missing)}"), style="yellow")
        self.query_one("#doctor-title", Static).update(title)

    def selected_finding(self) -> Finding | None:
        key = self.table.cursor_key
        row = self._by_key.get(key) if key is not None else None
        return None if row is None else row.finding

    def _detail(self) -> None:
        self.query_one("#doctor-detail", Static).update(detail_text(self.selected_finding()))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._detail()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_drill_down()

    # -- keys ---------------------------------------------------------------------------------

    def action_drill_down(self) -> None:
        finding = self.selected_finding()
        if finding is None:
            return
        cluster = self.state.get(finding.cluster)
        service = cluster.service(finding.service) if cluster is not None else None
        if service is None:
            self.notify(f"{finding.cluster}/{finding.service} is no longer there", severity="warning", markup=False)
            return
        open_service(self.app, finding.cluster, service.id)

    def action_next_cluster(self) -> None:
        names: list[str | None] = [None, *self.state.clusters]
        index = names.index(self.cluster_filter) if self.cluster_filter in names else 0
        self.cluster_filter = names[(index + 1) % len(names)]
        self._redraw()

    def action_filter(self) -> None:
        self.query_one(FilterBar).open()

    def on_filter_bar_filtered(self, event: FilterBar.Filtered) -> None:
        self._words = event.words
        self._redraw()
        if self.table.row_count:  # on the first (most severe) match, as the fleet's filter does
            self.table.move_cursor(row=0)

    def on_filter_bar_kept(self, event: FilterBar.Kept) -> None:
        self.table.focus()

    def action_back(self) -> None:
        if self.query_one(FilterBar).clear_filter():
            self._words = []
            self._redraw()
            self.table.focus()
            return
        self.app.pop_screen()
