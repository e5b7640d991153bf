"""Scale, rollback and restart keys, shared by every screen that has a selected service.

The flow is console.actions' one mutation flow, run in a thread worker: key -> (scale dialog) -> plan ->
confirm screen showing before -> after (the worker waits for it) -> write-ahead audit -> execute -> a toast
per outcome (done, refused, failed, cancelled; an audit warning beside it) and a poke of the refresher.
A key is offered only when the action layer has no refusal; pressed anyway, it says why.
"""

from __future__ import annotations

import threading
from typing import Any, ClassVar

from textual.binding import Binding, BindingType
from textual.message import Message
from textual.worker import get_current_worker

from pilothouse.console.actions import ExecRunner, Outcome, Status
from pilothouse.console.screens.base import FleetScreenBase
from pilothouse.console.screens.confirm import ConfirmScreen
from pilothouse.console.screens.container_choice import ContainerChoice
from pilothouse.console.screens.navigate import open_inspect
from pilothouse.console.screens.scale import BoundsRequest, ScaleDialog, ScaleRequest
from pilothouse.providers.base import Action, MutationPlan, Provider
from pilothouse.providers.errors import ProviderError
from pilothouse.providers.inspect import InspectTarget, TargetKind
from pilothouse.providers.model import Service

ACTION_OF_BINDING = {"scale": Action.SCALE, "scale_by": Action.SCALE, "rollback": Action.ROLLBACK,
                     "restart": Action.RESTART, "pause": Action.PAUSE, "resume": Action.RESUME,
                     "exec": Action.EXEC}
LOG_ACTIONS = ("logs", "logs_service")


class ServiceActionScreen(FleetScreenBase):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("s", "scale", "Scale", id="scale", tooltip="Scale: type a replica count, then confirm"),
        # +/- stay out of the footer (help lists them): with them an 80-column footer lost Quit.
        Binding("plus", "scale_by(1)", "+1", id="scale_up", key_display="+", tooltip="Scale up by one",
                show=False),
        Binding("minus", "scale_by(-1)", "-1", id="scale_down", key_display="-", tooltip="Scale down by one",
                show=False),
        Binding("R", "rollback", "Rollback", id="rollback",
                tooltip="Roll back to the previous version (confirm first)"),
        Binding("X", "restart", "Restart", id="restart",
                tooltip="Restart: replace every task from the same spec (confirm first)"),
        Binding("P", "pause", "Pause", id="pause", tooltip="Pause the rollout where it is (confirm first)"),
        Binding("U", "resume", "Resume", id="resume", tooltip="Resume the paused rollout (confirm first)"),
        # A shell escape, as in vi and less (k9s's s is scale here; S and x are what operators remap scale
        # to). Out of the fleet's footer (80 columns keep Quit); the service screen shows it.
        Binding("exclamation_mark", "exec", "Shell", id="exec", show=False,
                tooltip="A shell in the highlighted task's container, with the console suspended (confirm first)"),
    ]

    class MutationFinished(Message):
        def __init__(self, cluster: str, outcome: Outcome) -> None:
            super().__init__()
            self.cluster = cluster
            self.outcome = outcome

    def selected(self) -> tuple[str, Service] | None:
        """(cluster name, service) the keys act on."""
        return None

    def selected_task_id(self) -> str:
        """The task `l` shows the logs of; '' for every task of the selected service."""
        return ""

    def action_inspect(self, task: bool = False) -> None:
        """The selected service's own spec (or, with `task`, the highlighted task's), read on a worker."""
        target = self.selected()
        if target is None:
            self.notify("select a service first", markup=False)
            return
        cluster, service = target
        task_id = self.selected_task_id() if task else ""
        if task and not task_id:
            self.notify("highlight a task first", markup=False)
            return
        kind = TargetKind.TASK if task_id else TargetKind.SERVICE
        label = f"{service.ref} task {task_id}" if task_id else service.ref
        open_inspect(self.app, cluster, InspectTarget(kind, service.id, service.ref, task_id), label)

    _offered: tuple[bool, ...] | None = None

    def update_offered_keys(self) -> None:
        """Refresh the footer only when what is offered changed: each refresh rebuilds the footer."""
        offered = (self.selected() is not None,
                   *(self.refusal_for(action) is None
                     for action in ("scale", "rollback", "restart", "pause", "resume", "exec", "logs")))
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

        def record() -> None:
            warning = actions.record_refusal(cluster, service.ref, mutation, reason)
            if warning:
                self.app.call_from_thread(self.notify, warning, title="Audit log", severity="warning",
                                          timeout=12, markup=False)

        self.run_worker(record, thread=True, group="audit", exit_on_error=False)

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

        def chosen(request: ScaleRequest | BoundsRequest | None) -> None:
            if isinstance(request, BoundsRequest):
                self._run_flow(Action.AUTOSCALE_BOUNDS, cluster, service, minimum=request.minimum,
                               maximum=request.maximum)
            elif request is not None:
                self.plan_scale(cluster, service, request.replicas, force=request.force)

        actions = self.host().actions
        maximum = actions.max_replicas(cluster)
        bounds_refusal = None
        if service.autoscaler is not None:
            try:
                bounds_refusal = actions.refusal(cluster, Action.AUTOSCALE_BOUNDS, service)
            except ProviderError as error:
                bounds_refusal = str(error)
        self.app.push_screen(ScaleDialog(f"{cluster}/{service.ref}", service.desired, maximum, service.autoscaler,
                                         bounds_refusal), chosen)

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
        if target is not None:
            self._run_flow(Action.ROLLBACK, target[0], target[1])

    def action_restart(self) -> None:
        target = self.selected()
        if target is not None:
            self._run_flow(Action.RESTART, target[0], target[1])

    def action_pause(self) -> None:
        target = self.selected()
        if target is not None:
            self._run_flow(Action.PAUSE, target[0], target[1])

    def action_resume(self) -> None:
        target = self.selected()
        if target is not None:
            self._run_flow(Action.RESUME, target[0], target[1])

    def action_exec(self) -> None:
        self.exec_into(self.selected_task_id())

    def exec_into(self, task_id: str) -> None:
        """A shell in one running task (`task_id`, or one the provider picks), its container chosen when the
        task has several; the session runs with the console suspended (ConsoleApp.run_session)."""
        target = self.selected()
        if target is None:
            return
        cluster, service = target
        containers = tuple(dict.fromkeys(spec.name for spec in service.containers if spec.name))

        def chosen(container: str | None) -> None:
            if container is not None:
                self._exec(cluster, service, task_id, container)

        if len(containers) > 1:
            self.app.push_screen(ContainerChoice(f"{cluster}/{service.ref}", task_id, containers), chosen)
        else:
            self._exec(cluster, service, task_id, "")

    def _exec(self, cluster: str, service: Service, task_id: str, container: str) -> None:
        host = self.host()

        def session(provider: Provider, plan: MutationPlan) -> int:
            # The flow runs on a worker; the terminal is the UI thread's: hand it over there, wait for the end.
            return int(self.app.call_from_thread(host.run_session, lambda streams: provider.run_exec(plan, streams)))

        self._run_flow(Action.EXEC, cluster, service, runner=session, task_id=task_id, container=container,
                       command=(), tty=True)

    def plan_scale(self, cluster: str, service: Service, replicas: int, *, force: bool) -> None:
        self._run_flow(Action.SCALE, cluster, service, force=force, replicas=replicas)

    def _run_flow(self, action: Action, cluster: str, service: Service, *, force: bool = False,
                  runner: ExecRunner | None = None, **params: Any) -> None:
        """The console's one mutation flow, in a thread worker; the confirmation is this screen's dialog."""
        actions = self.host().actions

        def work() -> None:
            try:
                outcome = actions.run(action, cluster, lambda: service, self._confirm_in_dialog, force=force,
                                      service_ref=service.ref, runner=runner, **params)
            except ProviderError as error:  # an unknown cluster: nothing attempted
                outcome = Outcome(Status.REFUSED, str(error), error=error)
            except Exception as error:
                outcome = Outcome(Status.FAILED, f"{action.value} failed: {type(error).__name__}: {error}")
            self.post_message(self.MutationFinished(cluster, outcome))

        self.run_worker(work, thread=True, exit_on_error=False, group="mutation", name=action.value)

    def _confirm_in_dialog(self, plan: MutationPlan) -> bool:
        """The flow's confirmation port: show the dialog on the UI thread, block this worker for the answer."""
        answered = threading.Event()
        answer: list[bool] = []

        def dismissed(yes: bool | None) -> None:
            answer.append(bool(yes))
            answered.set()

        worker = get_current_worker()
        self.app.call_from_thread(self.app.push_screen, ConfirmScreen(plan), dismissed)
        # Not a timing guess: the wait ends on the answer; the timeout only lets a closing app cancel us.
        while not answered.wait(0.5):
            if worker.is_cancelled:
                return False
        return answer[0]

    def on_service_action_screen_mutation_finished(self, message: MutationFinished) -> None:
        outcome = message.outcome
        cluster = message.cluster
        if outcome.status is Status.DONE and outcome.exit_code:  # an exec whose command failed
            self.notify(outcome.message, title=f"Exited {outcome.exit_code} · {cluster}", severity="warning",
                        timeout=8, markup=False)
        elif outcome.status is Status.DONE:
            self.notify(outcome.message, title=f"Done · {cluster}", markup=False)
        elif outcome.status in (Status.UNCHANGED, Status.CANCELLED):
            self.notify(outcome.message, markup=False)
        elif outcome.status is Status.REFUSED:
            self.notify(outcome.message, title=f"Refused · {cluster}", severity="error", timeout=8, markup=False)
        else:
            self.notify(outcome.message, title=f"Failed · {cluster}", severity="error", timeout=8, markup=False)
        if outcome.audit_warning:
            self.notify(outcome.audit_warning, title="Audit log", severity="warning", timeout=12, markup=False)
        if outcome.sent:
            self.host().poke(cluster)
