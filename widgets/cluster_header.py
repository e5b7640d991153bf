"""A line per cluster: name, kind, DEMO and READ-ONLY labels, connection state, PARTIAL when part of the data
could not be read, nodes down, last sync; and a line of notes (scope, what is missing and why, forbidden kinds,
how to log in, the error) when there are any. Under them, one line
that names the services needing attention, worst first."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, datetime

from rich.console import Group
from rich.text import Text
from textual.widgets import Static

from pilothouse.providers.attention import Attention, Level
from pilothouse.providers.model import Cluster, ConnectionState, NodeStatus
from pilothouse.providers.registry import vocabulary_for
from pilothouse.providers.text import display_text
from pilothouse.widgets.clock import clock_zoned
from pilothouse.widgets.render import connection_text


def cluster_lines(cluster: Cluster, login_hint: str = "", readonly: bool = False) -> list[Text]:
    """The cluster's state on one line that never wraps (at 80 columns it is cut, not spread over the
    table's rows), then, only when there is something to say, a line of notes that may wrap: scope,
    forbidden kinds, how to log in, the error.

    `login_hint`: how to log in from here, shown when the cluster's credentials failed; `readonly`: the
    console will not change this cluster (said up front, not only when a key is refused)."""
    text = Text(no_wrap=True, overflow="ellipsis")
    if cluster.demo:
        text.append(" DEMO ", style="bold reverse yellow")
        text.append(" ")
    if readonly:
        text.append(" READ-ONLY ", style="bold reverse blue")
        text.append(" ")
    text.append(display_text(cluster.name), style="bold")
    text.append(f" {cluster.kind.value} ", style="dim")
    text.append_text(connection_text(cluster.state))
    if cluster.state is ConnectionState.UNREACHABLE and cluster.services:
        text.append(" (stale)", style="bold red")
    elif cluster.reachable and not cluster.complete:
        text.append(" PARTIAL", style="bold yellow")
    words = vocabulary_for(cluster.kind)
    text.append(f" · {words.node_count(len(cluster.nodes))}", style="dim")
    down = sum(1 for node in cluster.nodes if node.status is NodeStatus.DOWN)
    unknown = sum(1 for node in cluster.nodes if node.status is NodeStatus.UNKNOWN)
    troubles = [f"{count} {word}" for count, word in ((down, words.node_down), (unknown, words.node_unknown)) if count]
    if troubles:
        text.append(f" ({', '.join(troubles)})", style="bold red")
    text.append(f" {words.service_count(len(cluster.services))}", style="dim")
    if cluster.last_sync is not None:
        text.append(f" · synced {clock_zoned(cluster.last_sync)}", style="dim")
    notes = Text(overflow="fold")
    now = datetime.now(UTC)
    missing = "; ".join(gap.describe(now, display_text) for gap in cluster.missing)
    # Forbidden kinds are gaps too: said once, under "missing", when the provider names them there.
    forbidden = ", ".join(cluster.forbidden) if cluster.forbidden and not cluster.missing else ""
    strays = ", ".join(f"{a.kind} {a.name} -> {a.target}" for a in cluster.stray_autoscalers)
    for note, style in ((cluster.scope, "yellow"),
                        (f"autoscalers of a target not shown here: {strays}" if strays else "", "dim"),
                        (f"missing: {missing}" if missing else "", "bold yellow"),
                        (f"forbidden: {forbidden}" if forbidden else "", "yellow"),
                        (login_hint if cluster.needs_login else "", "bold yellow"),
                        (cluster.error, "red")):
        if note:
            notes.append("  " if not notes else " · ")
            notes.append(display_text(note), style=style)
    return [text, notes] if notes else [text]


def cluster_line(cluster: Cluster, login_hint: str = "", readonly: bool = False) -> Text:
    """cluster_lines() as one Text (for plain-text uses)."""
    return Text("\n").join(cluster_lines(cluster, login_hint, readonly))


LEVEL_STYLES = {Level.CRITICAL: "bold red", Level.WARNING: "yellow", Level.NONE: "green"}


# Wider than any terminal line: an event storm can put hundreds of services on the summary, and building (then
# cropping) their text on every refresh cost the UI thread more than the rest of the fleet's redraw.
SUMMARY_MAX_CHARS = 1000


def attention_summary(needing: Sequence[tuple[str, Attention]], unknown: Sequence[str] = ()) -> Text:
    """"3 need attention: shop/api crash-looping 1/2 · shop/stuck rollout failed · …" on one line, worst first
    (`needing` comes sorted: name as shown, attention). `unknown`: clusters whose services cannot be judged,
    with why ("prod (unreachable)"), named so that a quiet line does not read as "all is well"."""
    text = Text(no_wrap=True, overflow="ellipsis")
    if unknown:
        # First: at the end, a long list would cut it off.
        text.append(f"? cannot judge {', '.join(unknown)}", style="bold yellow")
        text.append(" · ", style="dim")
    if not needing:
        text.append("✓ nothing needs attention", style="green")
    else:
        worst = needing[0][1].level
        text.append(f"{worst.symbol} {len(needing)} need{'s' if len(needing) == 1 else ''} attention: ",
                    style=LEVEL_STYLES[worst])
        for index, (name, attention) in enumerate(needing):
            if len(text) > SUMMARY_MAX_CHARS:
                text.append(" · …", style="dim")  # the rest would be cut off the line anyway
                break
            if index:
                text.append(" · ", style="dim")
            text.append(f"{attention.level.symbol} ", style=LEVEL_STYLES[attention.level])
            text.append(name, style="bold")
            text.append(f" {attention.headline}", style=LEVEL_STYLES[attention.level])
    return text


# The header's height at most (its CSS max-height): beyond it, lines would be cut without a trace.
MAX_LINES = 6


def header_lines(clusters: Sequence[Cluster], login_hints: Mapping[str, str] | None = None,
                 readonly: Collection[str] = ()) -> list[Text]:
    """Every cluster's lines when they fit in MAX_LINES; else the clusters with something wrong first (their
    notes as room allows) and one line counting the healthy ones, so no cluster silently disappears."""
    hints = login_hints or {}
    per_cluster = [(cluster, cluster_lines(cluster, hints.get(cluster.name, ""), cluster.name in readonly))
                   for cluster in clusters]
    if sum(len(lines) for _, lines in per_cluster) <= MAX_LINES:
        return [line for _, lines in per_cluster for line in lines]
    troubled = [(c, lines) for c, lines in per_cluster if c.state is not ConnectionState.CONNECTED or len(lines) > 1]
    troubled_names = {c.name for c, _ in troubled}
    healthy = [c for c, _ in per_cluster if c.name not in troubled_names]
    budget = MAX_LINES - 1  # the summary line
    shown: list[Text] = []
    unshown = 0
    for _cluster, lines in troubled:
        if len(shown) + len(lines) <= budget:
            shown.extend(lines)
        elif len(shown) < budget:
            shown.append(lines[0])  # its state line; the notes are in `pilothouse status`
        else:
            unshown += 1
    summary = Text(no_wrap=True, overflow="ellipsis", style="dim")
    if healthy:
        summary.append(f"+{len(healthy)} connected: ", style="green")
        summary.append(display_text(", ".join(cluster.name for cluster in healthy)))
    if unshown:
        summary.append(" · " if healthy else "")
        summary.append(f"+{unshown} more with problems (pilothouse status)", style="bold red")
    return [*shown, summary]


class ClusterHeader(Static):
    lines: list[Text] = []  # what show() drew last
    DEFAULT_CSS = f"""
    ClusterHeader {{
        height: auto;
        max-height: {MAX_LINES};
        padding: 0 1;
        background: $boost;
    }}
    """

    def show(self, clusters: Sequence[Cluster], login_hints: Mapping[str, str] | None = None,
             readonly: Collection[str] = ()) -> None:
        if not clusters:
            self.lines = [Text("no clusters configured", style="dim")]
            self.update(self.lines[0])
            return
        lines = header_lines(clusters, login_hints, readonly)
        if lines == self.lines:
            return  # an update re-lays the screen out: under an event storm, most snapshots change no header line
        self.lines = lines
        self.update(Group(*self.lines))

    @property
    def plain(self) -> str:
        """What the header says now, as plain text (for tests and screen readers)."""
        return "\n".join(line.plain for line in self.lines)
