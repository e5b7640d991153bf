"""Cordon, uncordon and drain keys on the nodes list and the node screen, through the one mutation flow.

A drain moves every task off the node, so its confirmation asks for the node's name typed back; cordon and
uncordon use the ordinary yes/no confirmation. A key is offered only when the action layer has no refusal (the
provider's node_refusal gates by state: no cordon of a cordoned node); pressed anyway, it toasts the reason.
A long action's progress (a Kubernetes drain's evictions) arrives from the worker as a toast per step.
"""

from __future__ import annotations

import threading
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static
from textual.worker import get_current_worker

from pilothouse.console.actions import Outcome, Status
from pilothouse.console.screens.base import FleetScreenBase
from pilothouse.console.screens.confirm import ConfirmScreen, plan_text
from pilothouse.providers.base import Action, MutationPlan, Progress
from pilothouse.providers.errors import ProviderError
from pilothouse.providers.model import Node
from pilothouse.providers.text import display_text

NODE_ACTION_OF_BINDING = {"cordon": Action.CORDON, "uncordon": Action.UNCORDON, "drain": Action.DRAIN}


class TypedConfirmScreen(ModalScreen[bool]):
    """Yes only when the node's name is typed back exactly; escape cancels."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="typed_confirm_cancel"),
    ]

    def __init__(self, plan: MutationPlan) -> None:
        super().__init__()
        self.plan = plan

    def compose(self) -> ComposeResult:
        with Vertical(id="typed-confirm-box", classes="dialog"):
            yield Static(plan_text(self.plan), id="typed-confirm-plan")
            yield Static(Text(f"Type the node's name ({display_text(self.plan.service_ref)}) and press enter to "
                              f"{self.plan.action.value} it:"))
            yield Input(id="typed-confirm-input", placeholder=display_text(self.plan.service_ref))
            yield Static("", id="typed-confirm-error")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.value.strip() == self.plan.service_ref:
            self.dismiss(True)
            return
        self.query_one("#typed-confirm-error", Static).update(
            Text(f"not the node's name: type {display_text(self.plan.service_ref)} exactly, or escape to cancel",
                 style="red"))

    def action_cancel(self) -> None:
        self.dismiss(False)


class NodeActionScreen(FleetScreenBase):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("C", "cordon", "Cordon", id="cordon", tooltip="No new tasks on this node"),
        Binding("U", "uncordon", "Uncordon", id="uncordon", tooltip="Back in rotation"),
        Binding("D", "drain", "Drain", id="drain",
                tooltip="Move every task off this node (type its name to confirm)"),
    ]

    def selected_node(self) -> tuple[str, Node] | None:
        """(cluster name, node) the keys act on."""
        return None

    def refusal_for(self, action: str) -> str | None:
        mutation = NODE_ACTION_OF_BINDING.get(action)
        if mutation is None:
            return super().refusal_for(action)
        target = self.selected_node()
        if target is None:
            return "select a node first"
        try:
            return self.host().actions.node_refusal(target[0], mutation, target[1])
        except ProviderError as error:
            return str(error)

    def refused(self, action: str, reason: str) -> None:
        mutation = NODE_ACTION_OF_BINDING.get(action)
        target = self.selected_node()
        if mutation is None or target is None:
            return
        actions, cluster, name = self.host().actions, target[0], target[1].name
        self.run_worker(lambda: actions.record_refusal(cluster, name, mutation, reason), thread=True,
                        group="audit", exit_on_error=False)

    def refusal_subject(self) -> str:
        target = self.selected_node()
        return f"{target[0]}/{target[1].name}" if target is not None else ""

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in NODE_ACTION_OF_BINDING:
            return self.refusal_for(action) is None
        return True

    def action_cordon(self) -> None:
        self._node_action("cordon")

    def action_uncordon(self) -> None:
        self._node_action("uncordon")

    def action_drain(self) -> None:
        self._node_action("drain")

    def _node_action(self, name: str) -> None:
        target = self.selected_node()
        mutation = NODE_ACTION_OF_BINDING.get(name)
        if target is None or mutation is None:
            return
        cluster, node = target
        actions = self.host().actions

        def work() -> None:
            worker = get_current_worker()  # cancelled when the console closes: a drain then stops between steps

            def step(line: str) -> None:
                if not worker.is_cancelled:
                    self.app.call_from_thread(self._progress, f"{cluster}/{node.name}", mutation, line)

            progress = Progress(say=step, stopped=lambda: worker.is_cancelled)
            try:
                outcome = actions.run(mutation, cluster, lambda: node, self._confirm, service_ref=node.name,
                                      progress=progress)
            except ProviderError as error:
                outcome = Outcome(Status.REFUSED, str(error), error=error)
            self.app.call_from_thread(self._finished, cluster, outcome)

        self.run_worker(work, thread=True, exit_on_error=False, group="mutation", name=name)

    def _confirm(self, plan: MutationPlan) -> bool:
        answered = threading.Event()
        answer: list[bool] = []

        def dismissed(yes: bool | None) -> None:
            answer.append(bool(yes))
            answered.set()

        dialog = TypedConfirmScreen(plan) if plan.action is Action.DRAIN else ConfirmScreen(plan)
        worker = get_current_worker()
        self.app.call_from_thread(self.app.push_screen, dialog, dismissed)
        while not answered.wait(0.5):  # ends on the answer; the timeout only lets a closing app cancel us
            if worker.is_cancelled:
                return False
        return answer[0]

    def _progress(self, subject: str, action: Action, line: str) -> None:
        self.notify(display_text(line), title=f"{action.value.capitalize()} · {display_text(subject)}",
                    severity="information", timeout=5, markup=False)

    def _finished(self, cluster: str, outcome: Outcome) -> None:
        failed = outcome.status not in (Status.DONE, Status.CANCELLED, Status.UNCHANGED)
        self.notify(outcome.message, title=f"{outcome.status.value.capitalize()} · {cluster}",
                    severity="error" if failed else "information", timeout=8, markup=False)
        if outcome.audit_warning:
            self.notify(outcome.audit_warning, title="Audit log", severity="warning", timeout=12, markup=False)
        if outcome.sent:
            self.host().poke(cluster)
        self.refresh_bindings()
