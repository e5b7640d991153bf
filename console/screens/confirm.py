"""Confirmation of a planned mutation: shows exactly what changes, before -> after."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from pilothouse.console.actions import exec_warning
from pilothouse.console.key_display import key_display
from pilothouse.providers.base import Action, MutationPlan
from pilothouse.providers.text import display_text

INLINE_UP_TO = 36
WHAT_CHANGES = {Action.SCALE: "replicas", Action.ROLLBACK: "version", Action.RESTART: "running",
                Action.PAUSE: "rollout", Action.RESUME: "rollout"}


def plan_text(plan: MutationPlan) -> Text:
    text = Text()
    text.append(f"{plan.action.value.capitalize()} ", style="bold")
    text.append(display_text(f"{plan.cluster}/{plan.service_ref}") + "\n\n", style="bold")
    if plan.action is Action.EXEC:
        # Where (task, node, container) and what runs there; the console is suspended for the session.
        text.append("in   ")
        text.append(display_text(plan.before), style="bold")
        text.append("\nrun  ")
        text.append(display_text(plan.after), style="bold green")
        text.append("\n\nThe console steps aside for the session and comes back when it ends.", style="dim")
        if plan.detail:
            text.append("\n" + display_text(plan.detail, multiline=True), style="dim")
        return text
    what = WHAT_CHANGES.get(plan.action, "change")
    before, after = display_text(plan.before), display_text(plan.after)
    if len(before) + len(after) <= INLINE_UP_TO:
        text.append(f"{what}  ")
        text.append(before, style="bold red")
        text.append("  ->  ")
        text.append(after, style="bold green")
    else:
        text.append(f"{what}\n  from  ")
        text.append(before, style="bold red")
        text.append("\n    to  ")
        text.append(after, style="bold green")
    if plan.detail:
        text.append("\n" + display_text(plan.detail, multiline=True), style="dim")
    return text


class ConfirmScreen(ModalScreen[bool]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes", id="confirm_yes"),
        Binding("n", "answer(False)", "No", id="confirm_no"),
        Binding("escape", "answer(False)", "Cancel", id="confirm_cancel"),
    ]

    def __init__(self, plan: MutationPlan) -> None:
        super().__init__()
        self.plan = plan

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-box", classes="dialog"):
            yield Static(plan_text(self.plan), id="confirm-plan")
            warning = exec_warning(self.plan)
            if warning:
                yield Static(Text(f"! {display_text(warning)}"), id="confirm-warning")
            with Horizontal(classes="dialog-buttons"):
                # The keys as the config's keymap sets them: a remapped y/n does nothing here.
                yes = key_display(self.app, self.BINDINGS, "confirm_yes")
                no = key_display(self.app, self.BINDINGS, "confirm_no")
                verb = "run" if self.plan.action is Action.EXEC else "apply"
                yield Button(Text(f"Yes, {verb} ({yes})"), id="confirm-yes", variant="error")
                yield Button(Text(f"No ({no})"), id="confirm-no", variant="primary")

    def on_mount(self) -> None:
        # The safe answer has the focus: a stray enter cancels.
        self.query_one("#confirm-no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "confirm-yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)
