"""The one gate every mutation passes, from a key or a CLI verb: validate, refuse in read-only mode,
plan (what exactly changes), execute, and write the audit log before the result is shown.

The confirmation itself belongs to the caller (a dialog, a terminal prompt, --yes); it shows
`MutationPlan.before -> after` as planned here. Every method except `refusal` may block.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping

from console.audit import AuditLog
from providers.base import Action, MutationPlan, Provider
from providers.errors import InvalidInput, NotFound, NotSupported, ProviderError
from providers.model import Service

log = logging.getLogger("pilothouse.actions")
MAX_REPLICAS_WITHOUT_FORCE = 10_000
_WHOLE_NUMBER = re.compile(r"^\s*[+-]?\d+\s*$")


class ReadOnlyRefused(NotSupported):
    """The cluster (or the whole console) is read-only."""


class ActionLayer:
    def __init__(self, providers: Mapping[str, Provider], *, readonly: bool = False,
                 readonly_clusters: frozenset[str] = frozenset(), audit: AuditLog | None = None) -> None:
        self.providers = providers
        self.readonly = readonly
        self.readonly_clusters = readonly_clusters
        self.audit = audit or AuditLog()

    # -- pure checks (safe on the UI thread) ---------------------------------------------------

    def readonly_for(self, cluster: str) -> bool:
        return self.readonly or cluster in self.readonly_clusters

    def provider(self, cluster: str) -> Provider:
        try:
            return self.providers[cluster]
        except KeyError:
            known = ", ".join(sorted(self.providers)) or "none configured"
            raise NotFound(f"unknown cluster {cluster!r}", f"known clusters: {known}") from None

    def refusal(self, cluster: str, action: Action, service: Service) -> str | None:
        if self.readonly_for(cluster):
            why = "the console runs with --readonly" if self.readonly else f"cluster {cluster} is read-only"
            return f"{action.value} refused: {why}"
        return self.provider(cluster).refusal(action, service)

    @staticmethod
    def parse_replicas(text: str, *, force: bool = False) -> int:
        if not _WHOLE_NUMBER.match(text):
            raise InvalidInput(f"replicas must be a whole number (0 to {MAX_REPLICAS_WITHOUT_FORCE}), not {text!r}")
        replicas = int(text)
        return ActionLayer.check_replicas(replicas, force=force)

    @staticmethod
    def check_replicas(replicas: int, *, force: bool = False) -> int:
        if replicas < 0:
            raise InvalidInput(f"replicas cannot be negative ({replicas})")
        if replicas > MAX_REPLICAS_WITHOUT_FORCE and not force:
            raise InvalidInput(
                f"{replicas} replicas is more than {MAX_REPLICAS_WITHOUT_FORCE}",
                "add --force if you really mean it",
            )
        return replicas

    # -- planning (may block: providers look at live state) ------------------------------------

    def _refuse(self, cluster: str, service: str, action: Action, error: ProviderError,
                before: str = "", after: str = "") -> ProviderError:
        self.audit.write(cluster=cluster, service=service, action=action.value, before=before, after=after,
                         result=f"refused: {error}")
        return error

    def _gate(self, cluster: str, action: Action, service: Service) -> Provider:
        provider = self.provider(cluster)
        reason = self.refusal(cluster, action, service)
        if reason:
            error_type = ReadOnlyRefused if self.readonly_for(cluster) else NotSupported
            raise self._refuse(cluster, service.ref, action, error_type(reason))
        return provider

    def plan_scale(self, cluster: str, service: Service, replicas: int, *, force: bool = False) -> MutationPlan:
        provider = self._gate(cluster, Action.SCALE, service)
        try:
            self.check_replicas(replicas, force=force)
            return provider.plan_scale(service, replicas)
        except InvalidInput as error:
            raise self._refuse(cluster, service.ref, Action.SCALE, error, str(service.desired),
                               str(replicas)) from None

    def plan_rollback(self, cluster: str, service: Service) -> MutationPlan:
        provider = self._gate(cluster, Action.ROLLBACK, service)
        try:
            return provider.plan_rollback(service)
        except InvalidInput as error:
            raise self._refuse(cluster, service.ref, Action.ROLLBACK, error) from None

    # -- doing ---------------------------------------------------------------------------------

    def execute(self, plan: MutationPlan) -> str:
        """Apply a confirmed plan. Raises ProviderError; the audit line is written either way."""
        audit: dict[str, str] = {"cluster": plan.cluster, "service": plan.service_ref, "action": plan.action.value,
                 "before": plan.before, "after": plan.after, "detail": plan.detail}
        if self.readonly_for(plan.cluster):
            # Checked again here: a plan made before read-only was switched on must not slip through.
            error = ReadOnlyRefused(f"{plan.action.value} refused: cluster {plan.cluster} is read-only")
            self._write(audit, result=f"refused: {error}")
            raise error
        try:
            message = self.provider(plan.cluster).apply(plan)
        except ProviderError as error:
            self._write(audit, result=f"failed: {error}")
            raise
        except Exception as error:
            self._write(audit, result=f"failed: unexpected {type(error).__name__}")
            raise ProviderError(f"{plan.action.value} failed unexpectedly: {error}") from error
        self._write(audit, result="ok")
        return message

    def _write(self, fields: dict[str, str], *, result: str) -> None:
        log.info("%s %s/%s %s -> %s: %s", fields["action"], fields["cluster"], fields["service"], fields["before"],
                 fields["after"], result)
        self.audit.write(cluster=fields["cluster"], service=fields["service"], action=fields["action"],
                         before=fields["before"], after=fields["after"], detail=fields["detail"], result=result)

    def record_refusal(self, cluster: str, service: str, action: Action, reason: str) -> None:
        """A mutation asked for and refused before any plan (a key pressed in read-only mode)."""
        self.audit.write(cluster=cluster, service=service, action=action.value, before="", after="",
                         result=f"refused: {reason}")

    def cancel(self, plan: MutationPlan) -> None:
        """The operator said no at the confirmation."""
        self.audit.write(cluster=plan.cluster, service=plan.service_ref, action=plan.action.value,
                         before=plan.before, after=plan.after, result="cancelled")
