"""The app's state, outside the screens: the latest snapshot of every cluster with what was computed from it
on the refresher's thread (doctor findings, attention, the provider's login command). No Textual here.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from pilothouse.providers.attention import NOTHING, Attention
from pilothouse.providers.base import LoginCommand
from pilothouse.providers.doctor import Finding, counts_by_service
from pilothouse.providers.model import Cluster, ClusterKind, ConnectionState, Service


class Unknown:
    """Not asked (a snapshot posted without it): the last known answer stands."""


UNKNOWN = Unknown()


class FleetState:
    """The latest snapshot of every cluster, in config order. Written only on the UI thread."""

    def __init__(self, placeholders: Sequence[Cluster] = ()) -> None:
        self.clusters: dict[str, Cluster] = {cluster.name: cluster for cluster in placeholders}
        # Doctor findings of each cluster's latest snapshot, computed when the snapshot arrives, not per render.
        self.findings: dict[str, list[Finding]] = {}
        self._finding_counts: dict[str, dict[tuple[str, str], int]] = {}
        # Attention of each cluster's latest snapshot (service id -> attention), computed with the findings.
        self.attention: dict[str, dict[str, Attention]] = {}
        # Each cluster's interactive login command, asked of the provider on its refresher's thread (it may
        # read a kubeconfig or an AWS profile: blocking), never on the UI thread. None: it has none.
        self.login_commands: dict[str, LoginCommand | None] = {}
        # Bumped on every update: screens skip work when nothing changed since they last drew.
        self.generation = 0
        # Each cluster's own count of updates: a screen of one cluster remembers the revision it drew, not the
        # snapshot (a dismissed screen is garbage in a reference cycle until a full GC pass; holding its last
        # snapshot kept a whole fleet model alive with it).
        self._revisions: dict[str, int] = {}

    @classmethod
    def connecting(cls, kinds: dict[str, ClusterKind], demo: set[str]) -> FleetState:
        return cls([Cluster(name=name, kind=kind, state=ConnectionState.CONNECTING, demo=name in demo)
                    for name, kind in kinds.items()])

    def update(self, cluster: Cluster, findings: list[Finding] | None = None,
               attention: dict[str, Attention] | None = None, *,
               login: LoginCommand | Unknown | None = UNKNOWN) -> None:
        self.clusters[cluster.name] = cluster
        if not isinstance(login, Unknown):
            self.login_commands[cluster.name] = login
        if findings is not None:
            self.findings[cluster.name] = findings
            self._finding_counts[cluster.name] = counts_by_service(findings)
        if attention is not None:
            self.attention[cluster.name] = attention
        self.generation += 1
        self._revisions[cluster.name] = self.generation

    def revision(self, cluster: str) -> int:
        """Changes whenever `cluster`'s snapshot (or what was computed from it) is replaced; 0 before any."""
        return self._revisions.get(cluster, 0)

    def login_command(self, cluster: str) -> LoginCommand | None:
        return self.login_commands.get(cluster)

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

    def cluster_after(self, name: str) -> str | None:
        """The cluster after `name` in config order, wrapping round (the first when `name` is gone)."""
        names = list(self.clusters)
        if not names:
            return None
        index = names.index(name) if name in names else -1
        return names[(index + 1) % len(names)]

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
