"""The configured clusters as live objects: one provider each, the action layer over them."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from pilothouse.console.actions import ActionLayer
from pilothouse.console.audit import AuditLog
from pilothouse.console.config import AppConfig, state_home
from pilothouse.providers import registry
from pilothouse.providers.base import Action, ClusterConfig, MutationPlan, Provider
from pilothouse.providers.errors import ProviderError
from pilothouse.providers.model import Cluster, ClusterKind, Service
from pilothouse.providers.refresh import ClusterRefresher


class BrokenProvider(Provider):
    """Stands in for a cluster whose provider could not even be built (a kubeconfig that does not exist):
    the cluster shows unreachable with the reason, and the other clusters work as usual."""

    def __init__(self, config: ClusterConfig, kind: ClusterKind, error: ProviderError) -> None:
        super().__init__(config)
        self.kind = kind
        self.error = error

    def connect(self) -> None:
        raise self.error

    def snapshot(self) -> Cluster:
        raise self.error

    def refusal(self, action: Action, service: Service) -> str | None:
        return str(self.error)

    def plan_scale(self, service: Service, replicas: int) -> MutationPlan:
        raise self.error

    def plan_rollback(self, service: Service) -> MutationPlan:
        raise self.error

    def apply(self, plan: MutationPlan) -> str:
        raise self.error


def _create(config: ClusterConfig) -> Provider:
    provider_class = registry.provider_class(config.provider)
    if config.state_dir is None:
        config = dataclasses.replace(config, state_dir=state_home())  # beside the audit log
    try:
        return provider_class(config)
    except ProviderError as error:
        return BrokenProvider(config, provider_class.kind, error)


class Fleet:
    def __init__(self, config: AppConfig, *, readonly: bool = False) -> None:
        self.config = config
        self.providers: dict[str, Provider] = {cluster.name: _create(cluster) for cluster in config.clusters}
        where = str(config.source) if config.source else "the config"
        # Demo mutations are audited apart, never in the real audit log: the whole demo fleet (--demo) to the
        # demo audit log, and demo clusters inside a real config routed there by the action layer.
        demo = frozenset(cluster.name for cluster in config.clusters if cluster.provider == "demo")
        if config.demo:
            audit, demo = (AuditLog(config.audit_log) if config.audit_log else AuditLog.demo()), frozenset()
        else:
            audit = AuditLog(config.audit_log)
        self.actions = ActionLayer(
            self.providers,
            readonly=readonly or config.readonly,
            readonly_clusters=frozenset(cluster.name for cluster in config.clusters if cluster.readonly),
            audit=audit, demo_audit=AuditLog.demo() if demo else None, demo_clusters=demo,
            # Say where read-only comes from, so the operator knows what to change.
            readonly_reason="the console runs with --readonly" if readonly else f"readonly = true in {where}",
            cluster_readonly_reason=lambda name: f"cluster {name} is read-only (readonly = true in its "
                                                 f"[[clusters]] entry in {where})",
        )

    @property
    def names(self) -> list[str]:
        return list(self.providers)

    def refresher(self, name: str, on_snapshot: Callable[[Cluster], None]) -> ClusterRefresher:
        return ClusterRefresher(self.providers[name], on_snapshot)

    def snapshot_all(self, names: list[str] | None = None, deadline: float | None = None) -> list[Cluster]:
        """One snapshot of each cluster, in parallel: an unreachable one does not delay the others.

        `deadline` (time.monotonic()): a one-shot command's look, which retries what is missing until then."""
        selected = names or self.names
        if deadline is not None:
            for name in selected:
                self.providers[name].one_shot(deadline)
        refreshers = [ClusterRefresher(self.providers[name], lambda _cluster: None) for name in selected]
        if not refreshers:
            return []
        with ThreadPoolExecutor(max_workers=min(8, len(refreshers))) as pool:
            return list(pool.map(lambda refresher: refresher.refresh_once(), refreshers))

    def close(self) -> None:
        for provider in self.providers.values():
            provider.close()
