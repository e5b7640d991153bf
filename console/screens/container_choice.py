"""Which container to exec into, when the task (a Kubernetes pod, an ECS task) runs several: a list, enter
picks, escape cancels. Container names are cluster text: shown as plain text, never as markup."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from pilothouse.providers.text import display_text


class ContainerChoice(ModalScreen[str | None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="container_choice_cancel"),
    ]

    def __init__(self, target: str, task: str, containers: tuple[str, ...]) -> None:
        super().__init__()
        self.target = target
        self.task_id = task
        self.containers = containers

    def compose(self) -> ComposeResult:
        where = f"{self.target} {self.task_id}".strip()
        with Vertical(id="container-box", classes="dialog"):
            yield Static(Text.assemble("Exec into which container of ", (display_text(where), "bold"), "?"),
                         id="container-title")
            yield OptionList(*(Option(Text(display_text(name)), id=f"c{index}")
                               for index, name in enumerate(self.containers)), id="container-list")

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(self.containers[event.option_index])

    def action_cancel(self) -> None:
        self.dismiss(None)
