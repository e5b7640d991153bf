"""The scale dialog: asks for a replica count and validates it before anything is planned."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Checkbox, Input, Static

from pilothouse.console.actions import DEFAULT_MAX_REPLICAS, MAX_REPLICAS_WITHOUT_FORCE, ActionLayer, OverLimit
from pilothouse.console.key_display import key_display
from pilothouse.providers.errors import InvalidInput
from pilothouse.providers.model import Autoscaler
from pilothouse.providers.text import display_text


@dataclass(frozen=True, slots=True)
class ScaleRequest:
    replicas: int
    force: bool


@dataclass(frozen=True, slots=True)
class BoundsRequest:
    """Change the autoscaler's min/max instead of the replica count it owns."""

    minimum: int
    maximum: int


class ScaleDialog(ModalScreen[ScaleRequest | BoundsRequest | None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="scale_cancel"),
    ]

    def __init__(self, target: str, current: int, maximum: int = DEFAULT_MAX_REPLICAS,
                 autoscaler: Autoscaler | None = None, bounds_refusal: str | None = None) -> None:
        super().__init__()
        self.target = target
        self.current = current
        self.maximum = maximum  # what the orchestrator accepts: force never goes past it
        # What owns the replica count; a scale is then refused unless forced, and its bounds offered instead
        # (when `bounds_refusal` is None: the orchestrator lets the console change them).
        self.autoscaler = autoscaler
        self.bounds_refusal = bounds_refusal

    def compose(self) -> ComposeResult:
        with Vertical(id="scale-box", classes="dialog"):
            yield Static(Text.assemble("Scale ", (display_text(self.target), "bold"),
                                       f"  (now {self.current} replicas)"),
                         id="scale-title")
            if self.autoscaler is not None:
                yield Static(Text(display_text(f"{self.autoscaler.describe()} owns these replicas: a manual scale "
                                               "would be undone. Tick force to scale anyway.")),
                             id="scale-autoscaler")
            yield Input(value=str(self.current), placeholder="replicas", id="scale-input")
            force = f"force (more than {MAX_REPLICAS_WITHOUT_FORCE:,}"
            force += ", or past the autoscaler)" if self.autoscaler is not None else ")"
            yield Checkbox(force, id="scale-force")
            yield Static("", id="scale-error")
            if self.autoscaler is not None and self.bounds_refusal is None:
                yield Static(Text("or change the autoscaler's bounds (enter in either field):"), id="bounds-title")
                with Horizontal(id="bounds-row"):
                    yield Input(value=str(self.autoscaler.min), placeholder="min", id="bounds-min")
                    yield Input(value=str(self.autoscaler.max), placeholder="max", id="bounds-max")
            elif self.autoscaler is not None:
                yield Static(Text(display_text(self.bounds_refusal or "")), id="bounds-title", classes="dim")
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
        if event.input.id in ("bounds-min", "bounds-max"):
            self._submit_bounds()
            return
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
        if self.autoscaler is not None and not force:
            offer = "; or change its bounds below" if self.bounds_refusal is None else ""
            self.show_error(f"refused: {self.autoscaler.describe()} owns these replicas and would undo a manual "
                            f"scale; tick force to scale anyway{offer}")
            return
        if replicas == self.current:
            # Nothing to confirm: the same count would send a no-op to the cluster.
            self.show_error(f"{self.target} already has {replicas} replicas: nothing to change")
            return
        self.dismiss(ScaleRequest(replicas, force))

    def _submit_bounds(self) -> None:
        assert self.autoscaler is not None
        texts = (self.query_one("#bounds-min", Input).value, self.query_one("#bounds-max", Input).value)
        try:
            values = [ActionLayer.parse_replicas(text, force=True, maximum=self.maximum) for text in texts]
            minimum, maximum = ActionLayer.check_bounds(values[0], values[1], ceiling=self.maximum)
        except InvalidInput as error:
            self.show_error(f"bounds: {error}")
            return
        if (minimum, maximum) == (self.autoscaler.min, self.autoscaler.max):
            self.show_error(f"the autoscaler already has {self.autoscaler.bounds()}: nothing to change")
            return
        self.dismiss(BoundsRequest(minimum, maximum))

    def on_input_changed(self, event: Input.Changed) -> None:
        self.show_error("")

    def show_error(self, message: str) -> None:
        error = self.query_one("#scale-error", Static)
        # A Text, not a string: the message quotes the service's name, and a string would be parsed as markup.
        error.update(Text(display_text(message)))
        error.set_class(bool(message), "visible")

    def action_cancel(self) -> None:
        self.dismiss(None)
