"""The one gate every mutation passes, from a key or a CLI verb: validate, refuse in read-only mode,
plan (what exactly changes), execute, and write the audit log before the result is shown.

The confirmation itself belongs to the caller (a dialog, a terminal prompt, --yes); it shows
`MutationPlan.before -> after` as planned here. Every method except `refusal` may block.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping

from pilothouse.console.audit import AuditLog
from pilothouse.providers.base import Action, MutationPlan, Provider
from pilothouse.providers.errors import InvalidInput, NotFound, NotSupported, ProviderError
from pilothouse.providers.model import Service

log = logging.getLogger("pilothouse.actions")
MAX_REPLICAS_WITHOUT_FORCE = 10_000
# ASCII digits only: \d also takes fullwidth digits, which int() reads as 3 and the operator did not mean.
_WHOLE_NUMBER = re.compile(r"^\s*[0-9]+\s*$")
_SIGNED = re.compile(r"^\s*[+-]")
_NEGATIVE = re.compile(r"^\s*-0*[1-9][0-9]*\s*$")


class ReadOnlyRefused(NotSupported):
    """The cluster (or the whole console) is read-only."""


class OverLimit(InvalidInput):
    """More replicas than MAX_REPLICAS_WITHOUT_FORCE without force: the CLI and the dialog word the way out."""

    def __init__(self, replicas: int) -> None:
        super().__init__(f"{replicas} replicas is more than {MAX_REPLICAS_WITHOUT_FORCE}",
                         "add --force if you really mean it")
        self.replicas = replicas


def changes_nothing(plan: MutationPlan) -> bool:
    """Scaling to the count it already has: nothing to confirm, nothing to send."""
    return plan.before == plan.after


def qualified_result(plan: MutationPlan, message: str) -> str:
    """A provider's result line naming CLUSTER/SERVICE: providers write 'scaled prod/web from 7 to 3', and two
    clusters can both have a prod/web."""
    full = f"{plan.cluster}/{plan.service_ref}"
    if full in message:
        return message
    named, count = re.subn(rf"(?<!\S){re.escape(plan.service_ref)}(?!\S)", lambda _match: full, message, count=1)
    return named if count else f"{full}: {message}"


def refusal_reason(action: Action, message: str) -> str:
    """A refusal's reason without its 'scale refused: ' lead: an audit entry names its action already, and
    'scale: refused: scale refused: ...' is what the timeline showed."""
    lead = f"{action.value} refused: "
    return message[len(lead):] if message.startswith(lead) else message


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
        if _SIGNED.match(text):
            # "+3" reads as "three more" to some and as 3 to int(): neither guess is safe.
            absolute = "replicas is an absolute count (the total you want), not a change"
            if _NEGATIVE.match(text):
                raise InvalidInput(f"replicas cannot be negative ({text.strip()}): it is an absolute count "
                                   "(the total you want), not a change")
            raise InvalidInput(f"{absolute} like {text.strip()!r}")
        if not _WHOLE_NUMBER.match(text):
            hint = ("write it with the digits 0-9" if any(char.isdigit() and not char.isascii() for char in text)
                    else "")
            limits = "0 or more" if force else f"0 to {MAX_REPLICAS_WITHOUT_FORCE}"
            raise InvalidInput(f"replicas must be a whole number ({limits}), not {text!r}", hint)
        replicas = int(text)
        return ActionLayer.check_replicas(replicas, force=force)

    @staticmethod
    def check_replicas(replicas: int, *, force: bool = False) -> int:
        if replicas < 0:
            raise InvalidInput(f"replicas cannot be negative ({replicas})")
        if replicas > MAX_REPLICAS_WITHOUT_FORCE and not force:
            raise OverLimit(replicas)
        return replicas

    # -- planning (may block: providers look at live state) ------------------------------------

    def _refuse(self, cluster: str, service: str, action: Action, error: ProviderError,
                before: str = "", after: str = "") -> ProviderError:
        self.audit.write(cluster=cluster, service=service, action=action.value, before=before, after=after,
                         result=f"refused: {refusal_reason(action, str(error))}")
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
        except (InvalidInput, NotSupported) as error:
            raise self._refuse(cluster, service.ref, Action.SCALE, error, str(service.desired),
                               str(replicas)) from None
        except ProviderError as error:  # the cluster could not be read or refused: an attempt that failed
            self.record_failure(cluster, service.ref, Action.SCALE, error, str(service.desired), str(replicas))
            raise

    def plan_rollback(self, cluster: str, service: Service) -> MutationPlan:
        provider = self._gate(cluster, Action.ROLLBACK, service)
        try:
            return provider.plan_rollback(service)
        except (InvalidInput, NotSupported) as error:
            raise self._refuse(cluster, service.ref, Action.ROLLBACK, error) from None
        except ProviderError as error:
            self.record_failure(cluster, service.ref, Action.ROLLBACK, error)
            raise

    def record_failure(self, cluster: str, service: str, action: Action, error: ProviderError,
                       before: str = "", after: str = "") -> None:
        """A mutation asked for that failed before any plan (the cluster unreachable, credentials refused)."""
        self.audit.write(cluster=cluster, service=service, action=action.value, before=before, after=after,
                         result=f"failed: {error}")

    # -- doing ---------------------------------------------------------------------------------

    def execute(self, plan: MutationPlan) -> str:
        """Apply a confirmed plan. Raises ProviderError; the audit line is written either way."""
        audit: dict[str, str] = {"cluster": plan.cluster, "service": plan.service_ref, "action": plan.action.value,
                 "before": plan.before, "after": plan.after, "detail": plan.detail}
        if self.readonly_for(plan.cluster):
            # Checked again here: a plan made before read-only was switched on must not slip through.
            error = ReadOnlyRefused(f"{plan.action.value} refused: cluster {plan.cluster} is read-only")
            self._write(audit, result=f"refused: {refusal_reason(plan.action, str(error))}")
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
                         result=f"refused: {refusal_reason(action, reason)}")

    def cancel(self, plan: MutationPlan, how: str = "") -> None:
        """The operator said no at the confirmation (`how`: 'interrupted' for Ctrl+C, '' for a no)."""
        self.audit.write(cluster=plan.cluster, service=plan.service_ref, action=plan.action.value,
                         before=plan.before, after=plan.after, result=f"cancelled: {how}" if how else "cancelled")
