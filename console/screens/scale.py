"""The scale dialog: asks for a replica count and validates it before anything is planned."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Checkbox, Input, Static

from pilothouse.console.actions import DEFAULT_MAX_REPLICAS, MAX_REPLICAS_WITHOUT_FORCE, ActionLayer, OverLimit
from pilothouse.console.key_display import key_display
from pilothouse.providers.errors import InvalidInput
from pilothouse.providers.text import display_text


@dataclass(frozen=True, slots=True)
class ScaleRequest:
    replicas: int
    force: bool


class ScaleDialog(ModalScreen[ScaleRequest | None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="scale_cancel"),
    ]

    def __init__(self, target: str, current: int, maximum: int = DEFAULT_MAX_REPLICAS) -> None:
        super().__init__()
        self.target = target
        self.current = current
        self.maximum = maximum  # what the orchestrator accepts: force never goes past it

    def compose(self) -> ComposeResult:
        with Vertical(id="scale-box", classes="dialog"):
            yield Static(Text.assemble("Scale ", (display_text(self.target), "bold"),
                                       f"  (now {self.current} replicas)"),
                         id="scale-title")
            yield Input(value=str(self.current), placeholder="replicas", id="scale-input")
            yield Checkbox(f"force (more than {MAX_REPLICAS_WITHOUT_FORCE:,})", id="scale-force")
            yield Static("", id="scale-error")
            # Enter is the field's own key; cancel is as the config's keymap sets it (this dialog has no footer).
            cancel = key_display(self.app, self.BINDINGS, "scale_cancel")
            yield Static(Text(f"enter: continue to confirmation · {cancel}: cancel"), id="scale-hint",
                         classes="dim")

    def on_mount(self) -> None:
        field = self.query_one("#scale-input", Input)
        field.focus()
        field.select_all()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        force = self.query_one("#scale-force", Checkbox).value
        try:
            replicas = ActionLayer.parse_replicas(event.value, force=force, maximum=self.maximum)
        except OverLimit as error:
            # Here the way out is the checkbox, not the CLI's --force.
            self.show_error(f"{error.replicas:,} replicas is more than {MAX_REPLICAS_WITHOUT_FORCE:,}: "
                            "tick force if you really mean it")
            return
        except InvalidInput as error:
            self.show_error(str(error))
            return
        if replicas == self.current:
            # Nothing to confirm: the same count would send a no-op to the cluster.
            self.show_error(f"{self.target} already has {replicas} replicas: nothing to change")
            return
        self.dismiss(ScaleRequest(replicas, force))

    def on_input_changed(self, event: Input.Changed) -> None:
        self.show_error("")

    def show_error(self, message: str) -> None:
        error = self.query_one("#scale-error", Static)
        # A Text, not a string: the message quotes the service's name, and a string would be parsed as markup.
        error.update(Text(display_text(message)))
        error.set_class(bool(message), "visible")

    def action_cancel(self) -> None:
        self.dismiss(None)
