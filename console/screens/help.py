"""The help screen: every key, as currently mapped (config keymap included), grouped by where it works."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import ClassVar

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close", id="help_close"),
        Binding("question_mark", "close", "Close", show=False),
        Binding("q", "close", "Close", show=False),
    ]

    def __init__(self, sections: list[tuple[str, list[Binding]]], title: str = "pilothouse keys",
                 glossary: Iterable[str] = ()) -> None:
        super().__init__(id="help")
        self.sections = sections
        self.title_text = title
        # How each orchestrator of the fleet is worded (its provider's vocabulary), one line each.
        self.glossary = list(glossary)

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box", classes="dialog"):
            yield Static(self._table(), id="help-keys")

    def _table(self) -> Group:
        parts: list[RenderableType] = [Text(self.title_text, style="bold", justify="center")]
        for section, bindings in self.sections:
            seen: set[str] = set()
            table = Table(show_header=False, box=None, expand=True, padding=(0, 1))
            table.add_column("key", style="bold cyan", no_wrap=True, width=12)
            table.add_column("what", ratio=1)
            for binding in bindings:
                name = binding.id or binding.action
                if not binding.description or name in seen:
                    continue
                seen.add(name)
                keys = ", ".join(self.app.get_key_display(dataclasses.replace(binding, key=key.strip(),
                                                                              key_display=None))
                                 for key in binding.key.split(","))
                table.add_row(binding.key_display or keys, binding.tooltip or binding.description)
            if table.row_count:
                parts += [Text(""), Text(section, style="bold underline"), table]
        if self.glossary:
            parts += [Text(""), Text("Words", style="bold underline")]
            parts += [Text(line, style="dim") for line in self.glossary]
        parts += [Text(""), Text("mouse is optional: click a row to select it, again to open it; "
                                 "click a column header to sort", style="dim")]
        return Group(*parts)

    def action_close(self) -> None:
        self.dismiss(None)
