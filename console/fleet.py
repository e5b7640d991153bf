"""The configured clusters as live objects: one provider each, the action layer over them."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from console.actions import ActionLayer
from console.audit import AuditLog
from console.config import AppConfig
from providers import registry
from providers.base import Provider
from providers.model import Cluster
from providers.refresh import ClusterRefresher


class Fleet:
    def __init__(self, config: AppConfig, *, readonly: bool = False) -> None:
        self.config = config
        self.providers: dict[str, Provider] = {
            cluster.name: registry.create(cluster) for cluster in config.clusters
        }
        self.actions = ActionLayer(
            self.providers,
            readonly=readonly or config.readonly,
            readonly_clusters=frozenset(cluster.name for cluster in config.clusters if cluster.readonly),
            audit=AuditLog(config.audit_log),
        )

    @property
    def names(self) -> list[str]:
        return list(self.providers)

    def refresher(self, name: str, on_snapshot: Callable[[Cluster], None]) -> ClusterRefresher:
        return ClusterRefresher(self.providers[name], on_snapshot)

    def snapshot_all(self, names: list[str] | None = None) -> list[Cluster]:
        """One snapshot of each cluster, in parallel: an unreachable one does not delay the others."""
        selected = names or self.names
        refreshers = [ClusterRefresher(self.providers[name], lambda _cluster: None) for name in selected]
        if not refreshers:
            return []
        with ThreadPoolExecutor(max_workers=min(8, len(refreshers))) as pool:
            return list(pool.map(lambda refresher: refresher.refresh_once(), refreshers))

    def close(self) -> None:
        for provider in self.providers.values():
            provider.close()
