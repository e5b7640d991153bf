"""The one mutation flow, for keys and CLI verbs alike: plan -> confirm -> write-ahead audit -> execute ->
outcome. Read-only refusals, every other refusal and every audit line come from here and nowhere else.

    outcome = actions.run(Action.SCALE, cluster, locate, confirm, replicas=5)

`locate` finds the live service (the CLI takes a snapshot; a screen has it already); `confirm` is the
caller's port (a terminal prompt, --yes, a dialog) and sees the plan's `before -> after`. The intent line is
fsynced before the provider is asked to apply; no intent on disk, nothing sent. A new action needs a member
of providers.base.Action and a `plan_<action>` on its providers: nothing here changes.

`run` blocks (providers talk to clusters; the dialog port waits for an answer): call it from a thread worker.
`refusal` and the parsers are pure and safe on the UI thread.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pilothouse.console.audit import PENDING, AuditLog, AuditUnavailable, new_attempt, os_reason
from pilothouse.providers.base import Action, MutationPlan, Progress, Provider
from pilothouse.providers.errors import InvalidInput, NotFound, NotSupported, ProviderError
from pilothouse.providers.exec import ExecStreams, command_text
from pilothouse.providers.model import Node, Service
from pilothouse.providers.packages import package_manager_warning

log = logging.getLogger("pilothouse.actions")
MAX_REPLICAS_WITHOUT_FORCE = 10_000
# What the API of an orchestrator whose provider sets no MAX_REPLICAS accepts (int32, as Kubernetes and ECS).
DEFAULT_MAX_REPLICAS = 2**31 - 1
# ASCII digits only: \d also takes fullwidth digits, which int() reads as 3 and the operator did not mean.
_WHOLE_NUMBER = re.compile(r"^\s*[0-9]+\s*$")
_SIGNED = re.compile(r"^\s*[+-]")
_NEGATIVE = re.compile(r"^\s*-0*[1-9][0-9]*\s*$")
# Longer than any count an API takes; int() of a 5,000-digit string is refused by Python itself.
_MAX_DIGITS = 30


class ReadOnlyRefused(NotSupported):
    """The cluster (or the whole console) is read-only."""


class ConfirmationRefused(ProviderError):
    """The confirmation could not be asked (stdin is not a terminal): a refusal, audited as one."""

    exit_code = 2


class OverLimit(InvalidInput):
    """More replicas than MAX_REPLICAS_WITHOUT_FORCE without force: the CLI and the dialog word the way out."""

    def __init__(self, replicas: int) -> None:
        super().__init__(f"{replicas} replicas is more than {MAX_REPLICAS_WITHOUT_FORCE}",
                         "add --force if you really mean it")
        self.replicas = replicas


class AutoscalerOwns(InvalidInput):
    """A manual scale of a service whose replicas an autoscaler owns, without force: it would be undone."""

    def __init__(self, service: Service) -> None:
        autoscaler = service.autoscaler
        assert autoscaler is not None
        super().__init__(f"scale refused: {autoscaler.describe()} owns the replicas of {service.ref} and would "
                         "undo a manual scale",
                         "change its bounds instead (pilothouse autoscale, or the scale dialog), or force the scale "
                         "(--force)")
        self.autoscaler = autoscaler


class Status(StrEnum):
    DONE = "done"            # sent and applied
    UNCHANGED = "unchanged"  # the plan changes nothing: nothing confirmed, nothing sent, nothing audited
    CANCELLED = "cancelled"  # the operator said no: nothing sent
    REFUSED = "refused"      # read-only, not supported, bad input, or no audit possible: nothing sent
    FAILED = "failed"        # the cluster could not be read or the change failed


@dataclass(frozen=True, slots=True)
class Outcome:
    status: Status
    message: str
    plan: MutationPlan | None = None
    error: ProviderError | None = None
    # Set when an audit line could not be written after the fact (the change WAS sent, or a refusal stands).
    audit_warning: str = ""
    # The change went to the cluster (its intent line was written first): DONE, or FAILED while applying.
    sent: bool = False
    # An exec's session ended: the command's exit code (DONE only; None for every other action).
    exit_code: int | None = None


Confirm = Callable[[MutationPlan], bool]
"""Ask the operator about a plan: True to go on. May raise ConfirmationRefused or KeyboardInterrupt."""

ExecRunner = Callable[[Provider, MutationPlan], int]
"""Runs a planned exec's session and returns the command's exit code: the CLI on its own terminal, the console
with the TUI suspended. Called after the intent is on disk, in place of `Provider.apply`."""


def terminal_runner(streams: ExecStreams) -> ExecRunner:
    """The plain runner: the provider's session on `streams` (the CLI's own terminal or pipes)."""
    return lambda provider, plan: provider.run_exec(plan, streams)


def exec_warning(plan: MutationPlan) -> str | None:
    """A warning for the exec confirmation when its command installs or upgrades packages in the running
    container (the "don't update your containers" pitfall), whatever the orchestrator; None otherwise."""
    if plan.action is not Action.EXEC:
        return None
    return package_manager_warning(plan.after)


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
                 readonly_clusters: frozenset[str] = frozenset(), audit: AuditLog | None = None,
                 demo_audit: AuditLog | None = None, demo_clusters: frozenset[str] = frozenset(),
                 readonly_reason: str = "the console runs with --readonly",
                 cluster_readonly_reason: Callable[[str], str] | None = None) -> None:
        self.providers = providers
        self.readonly = readonly
        self.readonly_clusters = readonly_clusters
        self.audit = audit or AuditLog()
        # Simulated clusters' lines go to their own log (console/audit.py demo_audit_path), never to self.audit.
        self.demo_audit = demo_audit
        self.demo_clusters = demo_clusters
        self.readonly_reason = readonly_reason
        self._cluster_readonly_reason = cluster_readonly_reason or (lambda name: f"cluster {name} is read-only")

    # -- pure checks (safe on the UI thread) ---------------------------------------------------

    def readonly_for(self, cluster: str) -> bool:
        return self.readonly or cluster in self.readonly_clusters

    def readonly_why(self, cluster: str) -> str:
        return self.readonly_reason if self.readonly else self._cluster_readonly_reason(cluster)

    def provider(self, cluster: str) -> Provider:
        try:
            return self.providers[cluster]
        except KeyError:
            known = ", ".join(sorted(self.providers)) or "none configured"
            raise NotFound(f"unknown cluster {cluster!r}", f"known clusters: {known}") from None

    def refusal(self, cluster: str, action: Action, service: Service) -> str | None:
        if self.readonly_for(cluster):
            return f"{action.value} refused: {self.readonly_why(cluster)}"
        return self.provider(cluster).refusal(action, service)

    def max_replicas(self, cluster: str) -> int:
        """The most the cluster's orchestrator accepts; --force never lifts it."""
        provider = self.providers.get(cluster)
        return int(getattr(provider, "MAX_REPLICAS", DEFAULT_MAX_REPLICAS))

    @staticmethod
    def parse_replicas(text: str, *, force: bool = False, maximum: int = DEFAULT_MAX_REPLICAS) -> int:
        if _SIGNED.match(text):
            # "+3" reads as "three more" to some and as 3 to int(): neither guess is safe.
            absolute = "replicas is an absolute count (the total you want), not a change"
            if _NEGATIVE.match(text):
                raise InvalidInput(f"replicas cannot be negative ({text.strip()[:_MAX_DIGITS]}): it is an "
                                   "absolute count (the total you want), not a change")
            raise InvalidInput(f"{absolute} like {text.strip()[:_MAX_DIGITS]!r}")
        limits = f"0 to {maximum}" if force else f"0 to {MAX_REPLICAS_WITHOUT_FORCE}"
        if not _WHOLE_NUMBER.match(text):
            hint = ("write it with the digits 0-9" if any(char.isdigit() and not char.isascii() for char in text)
                    else "")
            raise InvalidInput(f"replicas must be a whole number ({limits}), not {text[:40]!r}", hint)
        digits = text.strip().lstrip("0") or "0"
        if len(digits) > _MAX_DIGITS:
            raise InvalidInput(f"replicas {digits[:12]}... is far beyond what the orchestrator accepts ({limits})")
        return ActionLayer.check_replicas(int(digits), force=force, maximum=maximum)

    @staticmethod
    def check_replicas(replicas: int, *, force: bool = False, maximum: int = DEFAULT_MAX_REPLICAS) -> int:
        if replicas < 0:
            raise InvalidInput(f"replicas cannot be negative ({replicas})")
        if replicas > maximum:
            # The API's own limit: --force lifts only the console's safety ceiling, never this.
            raise InvalidInput(f"{replicas} replicas is more than the orchestrator accepts (at most {maximum}); "
                               "--force does not lift this limit")
        if replicas > MAX_REPLICAS_WITHOUT_FORCE and not force:
            raise OverLimit(replicas)
        return replicas

    def check_params(self, cluster: str, action: Action, *, force: bool, params: Mapping[str, Any]) -> None:
        """The console's own limits on an action's parameters, before anything is read or sent."""
        if action is Action.SCALE:
            replicas = params.get("replicas")
            if not isinstance(replicas, int) or isinstance(replicas, bool):
                raise InvalidInput(f"replicas must be a whole number, not {replicas!r}")
            self.check_replicas(replicas, force=force, maximum=self.max_replicas(cluster))
        if action is Action.AUTOSCALE_BOUNDS:
            self.check_bounds(params.get("minimum"), params.get("maximum"), ceiling=self.max_replicas(cluster))

    @staticmethod
    def check_bounds(minimum: Any, maximum: Any, *, ceiling: int = DEFAULT_MAX_REPLICAS) -> tuple[int, int]:
        """An autoscaler's new min and max: whole numbers, min <= max, within what the orchestrator accepts."""
        for name, value in (("--min", minimum), ("--max", maximum)):
            if not isinstance(value, int) or isinstance(value, bool):
                raise InvalidInput(f"{name} must be a whole number, not {value!r}")
            if not 0 <= value <= ceiling:
                raise InvalidInput(f"{name} {value} is outside what the orchestrator accepts (0 to {ceiling})")
        assert isinstance(minimum, int) and isinstance(maximum, int)
        if minimum > maximum:
            raise InvalidInput(f"--min {minimum} is more than --max {maximum}", "the minimum cannot exceed the maximum")
        return minimum, maximum

    # -- the flow (blocks: call from a thread worker) -------------------------------------------

    def node_refusal(self, cluster: str, action: Action, node: Node) -> str | None:
        if self.readonly_for(cluster):
            return f"{action.value} refused: {self.readonly_why(cluster)}"
        return self.provider(cluster).node_refusal(action, node)

    def run(self, action: Action, cluster: str, locate: Callable[[], Service | Node], confirm: Confirm, *,
            force: bool = False, service_ref: str = "", progress: Progress | None = None,
            runner: ExecRunner | None = None, **params: Any) -> Outcome:
        """Plan, confirm, write the intent, execute, write the outcome. Never raises a ProviderError: the
        Outcome says what happened (KeyboardInterrupt at the confirmation is audited, then re-raised).
        `progress` hears a long action's steps while it executes (a drain's evictions).

        Action.EXEC is executed by `runner` (the session; default: the provider's on this process's terminal)
        instead of `Provider.apply`; its Outcome carries the command's exit code."""
        attempt = _Attempt(self, action, cluster, service_ref, after=_param_text(action, params))
        attempt.runner = runner
        self.provider(cluster)  # an unknown cluster is a typo, not an attempt: raises NotFound, unaudited
        if self.readonly_for(cluster):
            return attempt.refused(ReadOnlyRefused(f"{action.value} refused: {self.readonly_why(cluster)}"))
        try:
            self.check_params(cluster, action, force=force, params=params)
        except InvalidInput as error:
            return attempt.refused(error)
        try:
            target = locate()
        except NotFound as error:  # no such service or node: a typo, nothing was attempted
            return Outcome(Status.REFUSED, str(error), error=error)
        except ProviderError as error:
            return attempt.failed(error)
        provider = self.provider(cluster)
        if isinstance(target, Node):  # a node action: the audit line's "service" is the node's name
            attempt.service_ref = target.name
            reason = self.node_refusal(cluster, action, target)
        else:
            attempt.service_ref, attempt.before = target.ref, _before_text(action, target, params)
            reason = self.refusal(cluster, action, target)
        if reason:
            return attempt.refused(NotSupported(reason))
        if action is Action.SCALE and isinstance(target, Service) and target.autoscaler is not None and not force:
            # Sent, it would be undone by the autoscaler minutes later: the classic incident mistake.
            return attempt.refused(AutoscalerOwns(target))
        try:
            plan = (provider.plan_node(action, target) if isinstance(target, Node)
                    else provider.plan(action, target, **params))
        except (InvalidInput, NotSupported) as error:
            return attempt.refused(error)
        except ProviderError as error:  # the cluster could not be read or refused: an attempt that failed
            return attempt.failed(error)
        if changes_nothing(plan) and action in (Action.SCALE, Action.AUTOSCALE_BOUNDS):
            # Not audited: nothing was asked of the cluster, and an idempotent `scale --yes` in a deploy loop
            # would otherwise fill the audit log with "7 -> 7" lines that read as if something was sent.
            what = f"{plan.after} replicas" if action is Action.SCALE else f"autoscaler bounds {plan.after}"
            return Outcome(Status.UNCHANGED, f"{cluster}/{plan.service_ref} already has {what}; nothing sent",
                           plan=plan)
        attempt.plan = plan
        try:
            confirmed = confirm(plan)
        except ConfirmationRefused as error:
            return attempt.refused(error)
        except KeyboardInterrupt:
            attempt.record("cancelled: interrupted")
            raise
        if not confirmed:
            warning = attempt.record("cancelled")
            return Outcome(Status.CANCELLED, f"cancelled: {plan.describe()}", plan=plan, audit_warning=warning)
        if self.readonly_for(cluster):
            # Checked again: read-only switched on while the confirmation was open must still hold.
            return attempt.refused(ReadOnlyRefused(f"{action.value} refused: {self.readonly_why(cluster)}"))
        return attempt.execute(provider, progress or Progress())

    def run_exec(self, cluster: str, locate: Callable[[], Service], confirm: Confirm, runner: ExecRunner, *,
                 service_ref: str = "", task_id: str = "", container: str = "", command: tuple[str, ...] = (),
                 tty: bool = False) -> Outcome:
        """Exec through the one flow: a command (or, with `tty`, a shell) in one running task's container."""
        return self.run(Action.EXEC, cluster, locate, confirm, service_ref=service_ref, runner=runner,
                        task_id=task_id, container=container, command=tuple(command), tty=tty)

    def record_refusal(self, cluster: str, service: str, action: Action, reason: str) -> str:
        """A mutation asked for and refused before any plan (a key pressed in read-only mode). Returns the
        audit warning ('' when the line was written)."""
        attempt = _Attempt(self, action, cluster, service)
        return attempt.record(f"refused: {refusal_reason(action, reason)}")

    def audit_for(self, cluster: str) -> AuditLog:
        if self.demo_audit is not None and cluster in self.demo_clusters:
            return self.demo_audit
        return self.audit

    def audit_line(self, *, result: str, plan: MutationPlan | None = None, cluster: str = "",
                   service: str = "", action: str = "", before: str = "", after: str = "",
                   extra: Mapping[str, Any] | None = None) -> None:
        """The only writer of audit lines. Raises OSError."""
        if plan is not None:
            cluster, service, action = plan.cluster, plan.service_ref, plan.action.value
            before, after = plan.before, plan.after
        self.audit_for(cluster).write(cluster=cluster, service=service, action=action, before=before, after=after,
                                      result=result, detail=plan.detail if plan is not None else "", extra=extra)


class _Attempt:
    """One run of the flow: what is known so far, and how each ending is audited."""

    def __init__(self, layer: ActionLayer, action: Action, cluster: str, service_ref: str, after: str = "") -> None:
        self.layer, self.action, self.cluster, self.service_ref = layer, action, cluster, service_ref
        self.before, self.after = "", after
        self.plan: MutationPlan | None = None
        self.runner: ExecRunner | None = None
        self.id = new_attempt()

    def _unwritable(self, error: OSError) -> str:
        return f"cannot write the audit log {self.layer.audit_for(self.cluster).path}: {os_reason(error)}"

    def record(self, result: str, *, phase: str = "", extra: Mapping[str, Any] | None = None) -> str:
        """Write a one-line ending; '' when written, else a warning naming the path and the reason."""
        extra = {"attempt": self.id, "phase": phase, **(extra or {})} if phase else None
        try:
            self.layer.audit_line(result=result, plan=self.plan, cluster=self.cluster, service=self.service_ref,
                                  action=self.action.value, before=self.before, after=self.after, extra=extra)
        except OSError as error:
            return self._unwritable(error)
        return ""

    def refused(self, error: ProviderError) -> Outcome:
        warning = self.record(f"refused: {refusal_reason(self.action, str(error))}")
        return Outcome(Status.REFUSED, str(error), plan=self.plan, error=error, audit_warning=warning)

    def failed(self, error: ProviderError) -> Outcome:
        warning = self.record(f"failed: {error}")
        return Outcome(Status.FAILED, str(error), plan=self.plan, error=error, audit_warning=warning)

    def execute(self, provider: Provider, progress: Progress) -> Outcome:
        plan = self.plan
        assert plan is not None
        try:
            # Write-ahead: the intent is on disk (fsynced) before a byte goes to the cluster.
            self.layer.audit_line(result=PENDING, plan=plan, extra={"attempt": self.id, "phase": "intent"})
        except OSError as error:
            refusal = AuditUnavailable(f"{plan.action.value} refused: {self._unwritable(error)}; nothing sent",
                                       "fix the path or audit_log in the config")
            return Outcome(Status.REFUSED, str(refusal), plan=plan, error=refusal)
        if plan.action is Action.EXEC:
            return self._run_exec(provider, plan)
        try:
            message = qualified_result(plan, provider.apply_with_progress(plan, progress))
        except ProviderError as error:
            return self._outcome(Status.FAILED, str(error), f"failed: {error}", error)
        except Exception as error:  # a provider bug must still leave an outcome line and no traceback
            failure = ProviderError(f"{plan.action.value} failed unexpectedly: {type(error).__name__}: {error}")
            return self._outcome(Status.FAILED, str(failure), f"failed: unexpected {type(error).__name__}", failure)
        except KeyboardInterrupt:
            self.interrupted()
            raise
        # The audit is the record; the console log only says that something was sent, without values.
        log.info("%s sent to %s (audit attempt %s)", plan.action.value, plan.cluster, self.id)
        return self._outcome(Status.DONE, message, "ok", None)

    def _run_exec(self, provider: Provider, plan: MutationPlan) -> Outcome:
        """The session instead of apply. Only its end is audited (the exit code), never what went through it."""
        runner = self.runner or terminal_runner(ExecStreams())
        try:
            code = runner(provider, plan)
        except ProviderError as error:
            return self._outcome(Status.FAILED, str(error), f"failed: {error}", error)
        except Exception as error:  # a provider bug must still leave an outcome line and no traceback
            failure = ProviderError(f"exec failed unexpectedly: {type(error).__name__}: {error}")
            return self._outcome(Status.FAILED, str(failure), f"failed: unexpected {type(error).__name__}", failure)
        except KeyboardInterrupt:
            self.interrupted()
            raise
        log.info("exec ran on %s (audit attempt %s)", plan.cluster, self.id)
        message = f"{plan.cluster}/{plan.service_ref}: {plan.after} in {plan.before} exited with code {code}"
        return self._outcome(Status.DONE, message, "ok", None, exit_code=code)

    def interrupted(self) -> None:
        """Ctrl+C while the change was being sent (a drain between evictions, an exec): the intent line must
        not stand alone, as if the attempt were still running. Part of it may have reached the cluster."""
        self.record("interrupted: may be partly applied; check the cluster", phase="outcome")

    def _outcome(self, status: Status, message: str, result: str, error: ProviderError | None, *,
                 exit_code: int | None = None) -> Outcome:
        extra = {"exit_code": exit_code} if exit_code is not None else None
        warning = self.record(result, phase="outcome", extra=extra)
        if warning:
            sent = "the change WAS sent" if status is Status.DONE else "the change was attempted"
            warning = f"{sent}, but its outcome is not in the audit log: {warning}"
        return Outcome(status, message, plan=self.plan, error=error, audit_warning=warning, sent=True,
                       exit_code=exit_code)


def bounds_text(minimum: int, maximum: int) -> str:
    return f"min {minimum}, max {maximum}"


def _param_text(action: Action, params: Mapping[str, Any]) -> str:
    if action is Action.EXEC:  # the command, as the plan's `after` will say it
        command = params.get("command")
        return command_text(tuple(str(word) for word in command) if isinstance(command, (tuple, list)) else ())
    replicas = params.get("replicas")
    if isinstance(replicas, int):
        return str(replicas)
    minimum, maximum = params.get("minimum"), params.get("maximum")
    if isinstance(minimum, int) and isinstance(maximum, int):
        return bounds_text(minimum, maximum)
    return ""


def _before_text(action: Action, service: Service, params: Mapping[str, Any]) -> str:
    if action is Action.EXEC:  # where, as asked (the plan names the task, node and container it found)
        asked = [f"{label} {params[key]}" for key, label in (("task_id", "task"), ("container", "container"))
                 if params.get(key)]
        return ", ".join(asked)
    if action is Action.SCALE:
        return str(service.desired)
    if action is Action.AUTOSCALE_BOUNDS and service.autoscaler is not None:
        return service.autoscaler.bounds()
    return ""
