"""What every screen shares: the app-level fleet state, the host the screens talk to, and the
explanation shown when a key is pressed whose action is not offered (read-only, global service...).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Protocol, cast

from textual import events
from textual.actions import parse as parse_action
from textual.binding import Binding, BindingsMap
from textual.css.query import NoMatches
from textual.dom import DOMNode
from textual.screen import Screen

from pilothouse.providers.attention import NOTHING, Attention
from pilothouse.providers.doctor import Finding, counts_by_service
from pilothouse.providers.model import Cluster, ClusterKind, ConnectionState, Service

if TYPE_CHECKING:
    from pilothouse.console.actions import ActionLayer
    from pilothouse.console.config import AppConfig
    from pilothouse.console.screens.audit_feed import AuditFeed
    from pilothouse.providers.base import LoginCommand


class FleetState:
    """The latest snapshot of every cluster, in config order. Written only on the UI thread."""

    def __init__(self, placeholders: Sequence[Cluster] = ()) -> None:
        self.clusters: dict[str, Cluster] = {cluster.name: cluster for cluster in placeholders}
        # Doctor findings of each cluster's latest snapshot, computed when the snapshot arrives, not per render.
        self.findings: dict[str, list[Finding]] = {}
        self._finding_counts: dict[str, dict[tuple[str, str], int]] = {}
        # Attention of each cluster's latest snapshot (service id -> attention), computed with the findings.
        self.attention: dict[str, dict[str, Attention]] = {}
        # Bumped on every update: screens skip work when nothing changed since they last drew.
        self.generation = 0

    @classmethod
    def connecting(cls, kinds: dict[str, ClusterKind], demo: set[str]) -> FleetState:
        return cls([Cluster(name=name, kind=kind, state=ConnectionState.CONNECTING, demo=name in demo)
                    for name, kind in kinds.items()])

    def update(self, cluster: Cluster, findings: list[Finding] | None = None,
               attention: dict[str, Attention] | None = None) -> None:
        self.clusters[cluster.name] = cluster
        if findings is not None:
            self.findings[cluster.name] = findings
            self._finding_counts[cluster.name] = counts_by_service(findings)
        if attention is not None:
            self.attention[cluster.name] = attention
        self.generation += 1

    def attention_of(self, cluster: str, service_id: str) -> Attention:
        return self.attention.get(cluster, {}).get(service_id, NOTHING)

    def needing_attention(self) -> list[tuple[Cluster, Service, Attention]]:
        """Services that need attention, worst first, then in the fleet's configured order (clusters as
        configured, then namespace and ref: the fleet table's order)."""
        position = {name: index for index, name in enumerate(self.clusters)}
        found = [(cluster, service, attention) for cluster, service in self.services()
                 if (attention := self.attention_of(cluster.name, service.id)).needed]
        return sorted(found, key=lambda item: (item[2].level.rank, position[item[0].name], item[1].namespace,
                                               item[1].ref))

    def finding_count(self, cluster: str, service_ref: str) -> int:
        """Unsilenced doctor findings of one service."""
        return self._finding_counts.get(cluster, {}).get((cluster, service_ref), 0)

    def all_findings(self) -> list[Finding]:
        """Every cluster's findings, in config order."""
        return [finding for name in self.clusters for finding in self.findings.get(name, ())]

    def ordered(self) -> list[Cluster]:
        return list(self.clusters.values())

    def get(self, name: str) -> Cluster | None:
        return self.clusters.get(name)

    def service(self, cluster: str, service_id: str) -> Service | None:
        found = self.clusters.get(cluster)
        if found is None:
            return None
        return next((service for service in found.services if service.id == service_id), None)

    def services(self) -> Iterator[tuple[Cluster, Service]]:
        for cluster in self.clusters.values():
            for service in cluster.services:
                yield cluster, service


class ConsoleHost(Protocol):
    """What screens need from the app; the app is a thin shell that provides exactly this."""

    state: FleetState
    actions: ActionLayer
    console_config: AppConfig
    audit_feed: AuditFeed

    def poke(self, cluster: str) -> None: ...

    def login_command(self, cluster: str) -> LoginCommand | None: ...


def declared_bindings(node_type: type[DOMNode]) -> BindingsMap:
    """The bindings a node class declares, its bases' included, merged the way Textual merges them (a later
    class's binding for a key replaces an earlier one's). Textual's own merge and binding chain are private."""
    keys: dict[str, list[Binding]] = {}
    for base in reversed(node_type.__mro__):
        if issubclass(base, DOMNode):
            keys.update(BindingsMap(vars(base).get("BINDINGS", ())).key_to_bindings)
    return BindingsMap.from_keys(keys)


class FleetScreenBase(Screen[None]):
    """A screen that renders from FleetState: redrawn when a snapshot arrives or the screen comes back."""

    def host(self) -> ConsoleHost:
        return cast("ConsoleHost", self.app)

    @property
    def state(self) -> FleetState:
        return self.host().state

    def fleet_changed(self) -> None:
        """A snapshot arrived: redraw from self.state (only the topmost fleet screen is told)."""
        if not (self.is_mounted and self.is_attached):
            return
        try:
            self.draw()
        except NoMatches:
            # Snapshots arrive at any moment: before the children are composed, or while the app closes.
            return

    def draw(self) -> None:
        """Render self.state; the screens implement it."""

    def on_screen_resume(self) -> None:
        self.fleet_changed()
        self.refresh_bindings()

    def refusal_for(self, action: str) -> str | None:
        """Why `action` (a binding's action name) is not offered now, or None if it is or it is not ours."""
        return None

    def refused(self, action: str, reason: str) -> None:
        """A key for `action` was pressed and refused with `reason` (already shown)."""

    def refusal_subject(self) -> str:
        """What a refused key was about ("demo-k8s/prod/web"): names the cluster, as refs repeat across them."""
        return ""

    def on_key(self, event: events.Key) -> None:
        """A key bound to an action that is not offered here explains why instead of doing nothing."""
        focused = self.focused
        if focused is not None and focused.check_consume_key(event.key, event.character):
            return  # typed into a field (the filter), not a command
        for binding in self.bound_keys().key_to_bindings.get(event.key, ()):
            _, name, _ = parse_action(binding.action)
            reason = self.refusal_for(name)
            if reason:
                event.stop()
                subject = self.refusal_subject()
                self.notify(reason, title=f"Not available · {subject}" if subject else "Not available",
                            severity="warning", markup=False)
                self.refused(name, reason)
                return

    def bound_keys(self) -> BindingsMap:
        """This screen's own bindings under the configured keymap."""
        bindings = declared_bindings(type(self))
        keymap = self.host().console_config.keymap
        if keymap:
            bindings.apply_keymap(dict(keymap))
        return bindings
