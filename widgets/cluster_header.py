"""One line per cluster: name, kind, DEMO label, connection state, last sync, error."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rich.text import Text
from textual.widgets import Static

from providers.model import Cluster, ConnectionState
from widgets.render import connection_text


def cluster_line(cluster: Cluster, login_hint: str = "") -> Text:
    """`login_hint`: how to log in from here, shown when the cluster's credentials failed."""
    text = Text(no_wrap=True, overflow="ellipsis")
    if cluster.demo:
        text.append(" DEMO ", style="bold reverse yellow")
        text.append(" ")
    text.append(cluster.name, style="bold")
    text.append(f" {cluster.kind.value} ", style="dim")
    text.append_text(connection_text(cluster.state))
    if cluster.state is ConnectionState.UNREACHABLE and cluster.services:
        text.append(" (stale)", style="bold red")
    if cluster.last_sync is not None:
        text.append(f" synced {cluster.last_sync:%H:%M:%S}", style="dim")
    text.append(f" · {len(cluster.nodes)} nodes {len(cluster.services)} services", style="dim")
    if cluster.scope:
        text.append(f" · {cluster.scope}", style="yellow")
    if cluster.forbidden:
        text.append(f" · forbidden: {', '.join(cluster.forbidden)}", style="yellow")
    if cluster.needs_login and login_hint:
        text.append(f" · {login_hint}", style="bold yellow")
    if cluster.error:
        text.append(f" · {cluster.error}", style="red")
    return text


class ClusterHeader(Static):
    DEFAULT_CSS = """
    ClusterHeader {
        height: auto;
        max-height: 6;
        padding: 0 1;
        background: $boost;
    }
    """

    def show(self, clusters: Sequence[Cluster], login_hints: Mapping[str, str] | None = None) -> None:
        hints = login_hints or {}
        lines = Text("\n").join(cluster_line(cluster, hints.get(cluster.name, "")) for cluster in clusters) \
            if clusters else Text("no clusters configured", style="dim")
        self.update(lines)
