"""The filter bar of the fleet, doctor, events and logs screens: hidden until the filter key opens it, words
typed into it narrow the screen live, enter keeps them and gives the focus back, the screen's back key clears
it (the screen passes that key as the keymap spells it, so the hint is right when it is remapped).
"""

from __future__ import annotations

from textual import on
from textual.message import Message
from textual.widgets import Input


class FilterBar(Input):
    DEFAULT_CSS = """
    FilterBar { display: none; }
    """

    class Filtered(Message):
        """The words changed (as typed, live)."""

        def __init__(self, bar: FilterBar, words: list[str]) -> None:
            super().__init__()
            self.bar = bar
            self.words = words

    class Kept(Message):
        """Enter: keep the words and give the focus back to the screen's table or view."""

        def __init__(self, bar: FilterBar, value: str) -> None:
            super().__init__()
            self.bar = bar
            self.value = value

    def __init__(self, clear_key: str, *, prompt: str = "filter: words that must all appear",
                 enter: str = "keep", id: str | None = None) -> None:
        super().__init__(placeholder=f"{prompt} (enter: {enter}, {clear_key}: clear)", id=id)

    @property
    def words(self) -> list[str]:
        """The filter's words, lower-cased (matching is case-insensitive)."""
        return self.value.lower().split()

    @property
    def active(self) -> bool:
        return bool(self.display or self.value)

    def open(self, value: str | None = None) -> None:
        if value is not None:
            self.value = value
        self.display = True
        self.focus()

    def clear_filter(self) -> bool:
        """Empty and hide the bar; False when it was neither shown nor holding words (the back key then goes
        back instead)."""
        was_active = self.active
        self.value = ""
        self.display = False
        return was_active

    @on(Input.Changed)
    def _filtered(self, event: Input.Changed) -> None:
        if event.input is self:
            event.stop()
            self.post_message(self.Filtered(self, self.words))

    @on(Input.Submitted)
    def _kept(self, event: Input.Submitted) -> None:
        if event.input is self:
            event.stop()
            if not event.value.strip():
                self.display = False
            self.post_message(self.Kept(self, event.value))
