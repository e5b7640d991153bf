"""Scale and rollback keys, shared by every screen that has a selected service.

The flow: key -> (scale dialog) -> plan in a thread worker -> confirm screen showing before -> after
-> execute in a thread worker -> notify the result and poke that cluster's refresher.
A key is offered only when the action layer has no refusal; pressed anyway, it says why.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.message import Message

from pilothouse.console.actions import changes_nothing
from pilothouse.console.screens.base import FleetScreenBase
from pilothouse.console.screens.confirm import ConfirmScreen
from pilothouse.console.screens.scale import ScaleDialog, ScaleRequest
from pilothouse.providers.base import Action, MutationPlan
from pilothouse.providers.errors import ProviderError
from pilothouse.providers.model import Service

ACTION_OF_BINDING = {"scale": Action.SCALE, "scale_by": Action.SCALE, "rollback": Action.ROLLBACK}
LOG_ACTIONS = ("logs", "logs_service")


class ServiceActionScreen(FleetScreenBase):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("s", "scale", "Scale", id="scale", tooltip="Scale: type a replica count, then confirm"),
        Binding("plus", "scale_by(1)", "+1", id="scale_up", key_display="+", tooltip="Scale up by one"),
        Binding("minus", "scale_by(-1)", "-1", id="scale_down", key_display="-", tooltip="Scale down by one"),
        Binding("R", "rollback", "Rollback", id="rollback",
                tooltip="Roll back to the previous version (confirm first)"),
    ]

    class PlanReady(Message):
        def __init__(self, plan: MutationPlan) -> None:
            super().__init__()
            self.plan = plan

    class MutationFinished(Message):
        def __init__(self, cluster: str, result: str, failed: bool) -> None:
            super().__init__()
            self.cluster = cluster
            self.result = result
            self.failed = failed

    def selected(self) -> tuple[str, Service] | None:
        """(cluster name, service) the keys act on."""
        return None

    def selected_task_id(self) -> str:
        """The task `l` shows the logs of; '' for every task of the selected service."""
        return ""

    _offered: tuple[bool, ...] | None = None

    def update_offered_keys(self) -> None:
        """Refresh the footer only when what is offered changed: each refresh rebuilds the footer."""
        offered = (self.selected() is not None,
                   *(self.refusal_for(action) is None for action in ("scale", "rollback", "logs")))
        if offered != self._offered:
            self._offered = offered
            self.refresh_bindings()

    # -- offering ----------------------------------------------------------------------------

    def refusal_for(self, action: str) -> str | None:
        if action in LOG_ACTIONS:
            return self._log_refusal()
        mutation = ACTION_OF_BINDING.get(action)
        if mutation is None:
            return super().refusal_for(action)
        target = self.selected()
        if target is None:
            return "select a service first"
        cluster, service = target
        try:
            return self.host().actions.refusal(cluster, mutation, service)
        except ProviderError as error:
            return str(error)

    def refused(self, action: str, reason: str) -> None:
        # A refused mutation is an attempt all the same: it goes to the audit log (off the UI thread).
        mutation = ACTION_OF_BINDING.get(action)
        target = self.selected()
        if mutation is None or target is None:
            return
        cluster, service = target
        actions = self.host().actions
        self.run_worker(partial(actions.record_refusal, cluster, service.ref, mutation, reason), thread=True,
                        group="audit", exit_on_error=False)

    def refusal_subject(self) -> str:
        target = self.selected()
        return f"{target[0]}/{target[1].ref}" if target is not None else ""

    def _log_refusal(self) -> str | None:
        from pilothouse.console.screens.logs import log_refusal

        target = self.selected()
        if target is None:
            return "select a service first"
        try:
            return log_refusal(self.host().actions.provider(target[0]))
        except ProviderError as error:
            return str(error)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ACTION_OF_BINDING or action in LOG_ACTIONS:
            return self.refusal_for(action) is None
        return True

    def action_logs(self) -> None:
        self._open_logs(self.selected_task_id())

    def action_logs_service(self) -> None:
        self._open_logs("")

    def _open_logs(self, task_id: str) -> None:
        from pilothouse.console.screens.logs import LogScreen

        target = self.selected()
        if target is not None:
            self.app.push_screen(LogScreen(target[0], target[1].id, task_id))

    # -- the flow ----------------------------------------------------------------------------

    def action_scale(self) -> None:
        target = self.selected()
        if target is None:
            return
        cluster, service = target

        def chosen(request: ScaleRequest | None) -> None:
            if request is not None:
                self.plan_scale(cluster, service, request.replicas, force=request.force)

        self.app.push_screen(ScaleDialog(f"{cluster}/{service.ref}", service.desired), chosen)

    def action_scale_by(self, delta: int) -> None:
        target = self.selected()
        if target is None:
            return
        cluster, service = target
        replicas = service.desired + delta
        if replicas < 0:
            self.notify(f"{service.ref} already runs 0 replicas", severity="warning", markup=False)
            return
        self.plan_scale(cluster, service, replicas, force=False)

    def action_rollback(self) -> None:
        target = self.selected()
        if target is None:
            return
        cluster, service = target
        actions = self.host().actions
        self._in_thread(lambda: self.post_message(self.PlanReady(actions.plan_rollback(cluster, service))),
                        cluster, "rollback")

    def plan_scale(self, cluster: str, service: Service, replicas: int, *, force: bool) -> None:
        actions = self.host().actions
        self._in_thread(
            lambda: self.post_message(self.PlanReady(actions.plan_scale(cluster, service, replicas, force=force))),
            cluster, "scale",
        )

    def _in_thread(self, work: Callable[[], object], cluster: str, what: str) -> None:
        """Run a blocking action-layer call; any error comes back as a MutationFinished(failed)."""

        def guarded() -> None:
            try:
                work()
            except ProviderError as error:
                self.post_message(self.MutationFinished(cluster, str(error), failed=True))
            except Exception as error:
                self.post_message(self.MutationFinished(cluster, f"{what} failed: {error!r}", failed=True))

        self.run_worker(guarded, thread=True, exit_on_error=False, group="mutation", name=what)

    def on_service_action_screen_plan_ready(self, message: PlanReady) -> None:
        plan = message.plan
        actions = self.host().actions
        if changes_nothing(plan):  # the count changed to this one meanwhile: nothing to confirm or send
            self.notify(f"{plan.cluster}/{plan.service_ref} already has {plan.after} replicas; nothing sent",
                        markup=False)
            return

        def answered(yes: bool | None) -> None:
            if not yes:
                self._in_thread(lambda: actions.cancel(plan), plan.cluster, "cancel")
                self.notify(f"cancelled: {plan.describe()}", markup=False)
                return

            def execute() -> None:
                result = actions.execute(plan)
                self.post_message(self.MutationFinished(plan.cluster, result, failed=False))

            self._in_thread(execute, plan.cluster, plan.action.value)

        self.app.push_screen(ConfirmScreen(plan), answered)

    def on_service_action_screen_mutation_finished(self, message: MutationFinished) -> None:
        if message.failed:
            self.notify(message.result, title=f"Refused · {message.cluster}", severity="error", timeout=8,
                        markup=False)
        else:
            self.notify(message.result, title=f"Done · {message.cluster}", markup=False)
            self.host().poke(message.cluster)
