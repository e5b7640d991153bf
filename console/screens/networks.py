"""Networks of one cluster: Swarm overlay networks and the ingress, Kubernetes Services, ECS awsvpc networks
and target groups; attached services, ready/total endpoints ("-" where the orchestrator has none), ports and
VIPs, notes. A front with endpoints none of which is ready comes first, in red; some not ready, in yellow.

Every cluster string is cleaned of terminal escapes before it becomes a Rich Text (never markup)."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Static

from pilothouse.console.screens.base import FleetScreenBase
from pilothouse.console.screens.nodes import cluster_title
from pilothouse.providers.model import Network
from pilothouse.providers.text import display_text as clean  # the one rule for cluster text
from pilothouse.widgets.diff_table import Cell, Column, DiffTable, cell
from pilothouse.widgets.footer import KeyFooter

COLUMNS = (
    Column("name", "NETWORK", 24), Column("kind", "KIND", 12), Column("endpoints", "ENDPOINTS", 9),
    Column("services", "SERVICES", 20), Column("notes", "NOTES", 28), Column("subnets", "SUBNETS", 16),
    Column("driver", "DRIVER", 7), Column("ports", "PORTS/VIPS"),
)


def trouble(network: Network) -> int:
    """0: no endpoint ready (none at all, or a front that reaches no service); 1: some not ready; 2: fine or
    nothing to count."""
    if network.ready is None or network.total is None:
        return 2
    if not network.total:
        return 2 if network.services else 0
    return 0 if network.ready == 0 else 1 if network.ready < network.total else 2


def endpoints_text(network: Network) -> Text:
    if network.ready is None or network.total is None:
        return Text("-", style="dim")
    style = ("bold red", "yellow", "green" if network.total else "dim")[trouble(network)]
    return Text(f"{network.ready}/{network.total}", style=style, no_wrap=True)


def network_cells(network: Network, position: int) -> list[Cell]:
    return [
        Cell(Text(clean(network.name), no_wrap=True, overflow="ellipsis"), position),
        cell(clean(network.kind) or "-"),
        Cell(endpoints_text(network), (trouble(network), network.ready or 0)),
        cell(clean(", ".join(network.services)) or "-"), cell(clean(" · ".join(network.notes)) or "-"),
        cell(clean(", ".join(network.subnets)) or "-"), cell(clean(network.driver) or "-"),
        cell(clean(", ".join((*network.ports, *network.vips))) or "-"),
    ]


def ordered(networks: tuple[Network, ...]) -> list[Network]:
    return sorted(networks, key=lambda network: (trouble(network), network.name))


class NetworksScreen(FleetScreenBase):
    """One cluster's networks; `c` goes to the next cluster."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="back"),
        Binding("c", "next_cluster", "Next cluster", id="next_cluster", tooltip="Networks of the next cluster"),
    ]

    def __init__(self, cluster: str) -> None:
        super().__init__(id="networks")
        self.cluster_name = cluster

    def compose(self) -> ComposeResult:
        yield Static("", id="networks-title")
        yield DiffTable(COLUMNS, id="networks-table")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.fleet_changed()
        self.query_one(DiffTable).focus()

    def draw(self) -> None:
        cluster = self.undrawn(self.cluster_name)
        if cluster is None:
            return
        networks = ordered(cluster.networks)
        self.query_one(DiffTable).sync(
            (network.id or network.name, network_cells(network, position))
            for position, network in enumerate(networks))
        title = cluster_title("Networks", cluster)
        dark = sum(1 for network in networks if trouble(network) == 0)
        title.append(f" · {len(networks)} networks", style="dim")
        if dark:
            title.append(f", {dark} with no endpoint ready", style="bold red")
        if cluster.network_policies:
            counts = ", ".join(f"{ns} {n}" for ns, n in sorted(cluster.network_policies.items()))
            title.append(f" · NetworkPolicies: {clean(counts)}", style="dim")
        gaps = [gap for gap in cluster.missing if gap.part == "networks"]
        if gaps:
            title.append(f" · missing: {clean(gaps[0].describe())}", style="yellow")
        self.query_one("#networks-title", Static).update(title)

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_next_cluster(self) -> None:
        following = self.state.cluster_after(self.cluster_name)
        if following is None:
            return
        self.cluster_name = following
        self.draw_again()
        self.query_one(DiffTable).sync(())
        self.fleet_changed()
