"""A Log widget for service logs: bounded (max_lines drops the oldest), error lines coloured, and a
search term highlighted wherever it appears. Highlighting happens per rendered line, so a 10,000-line
buffer costs nothing until it is on screen.
"""

from __future__ import annotations

import re

from rich.highlighter import Highlighter
from rich.text import Text
from textual.widgets import Log

ERROR_WORDS = re.compile(r"\b(ERROR|FATAL|PANIC|CRITICAL|Traceback)\b")
WARNING_WORDS = re.compile(r"\b(WARN|WARNING)\b")
MATCH_STYLE = "bold black on yellow"


class LogHighlighter(Highlighter):
    def __init__(self) -> None:
        self.term = ""

    def highlight(self, text: Text) -> None:
        text.highlight_regex(ERROR_WORDS, "bold red")
        text.highlight_regex(WARNING_WORDS, "yellow")
        if self.term:
            text.highlight_words([self.term], MATCH_STYLE, case_sensitive=False)


class LogView(Log):
    DEFAULT_CSS = """
    LogView {
        height: 1fr;
    }
    """

    def __init__(self, max_lines: int, *, id: str | None = None) -> None:
        super().__init__(highlight=True, max_lines=max_lines, auto_scroll=True, id=id)
        self.highlighter = self._search = LogHighlighter()

    @property
    def search_term(self) -> str:
        return self._search.term

    @search_term.setter
    def search_term(self, term: str) -> None:
        self._search.term = term
        # Rendered lines are cached with their old highlighting.
        self.notify_style_update()
        self.refresh()

    def find(self, term: str, start: int, step: int = 1) -> int | None:
        """The index of the next line holding `term` from `start` (inclusive) in direction `step`, wrapping."""
        lines = self.lines
        count = len(lines)
        if not term or not count:
            return None
        needle = term.lower()
        for offset in range(count):
            index = (start + step * offset) % count
            if needle in lines[index].lower():
                return index
        return None

    def count_matches(self, term: str, upto: int | None = None) -> int:
        needle = term.lower()
        lines = self.lines if upto is None else self.lines[:upto]
        return sum(1 for line in lines if needle in line.lower()) if needle else 0

    def show_line(self, index: int) -> None:
        """Scroll so that line `index` stands a third of the way down the view."""
        self.scroll_to(y=max(0, index - self.scrollable_content_region.height // 3), animate=False, immediate=True)
