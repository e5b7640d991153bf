"""A log view for service logs: bounded (at most max_lines, the oldest drop), long lines wrapped to the width
(continuation rows indented, so a wrapped line never reads as a new one), error lines coloured, and a search
term highlighted wherever it appears.

Lines stay whole: search, selection and `lines` see log lines, only the drawing splits them into rows. Each
line's row count is kept (a running total, so a row finds its line by bisection); a new width recounts them,
which is arithmetic on stored cell lengths. Highlighting happens per drawn line, so a 10,000-line buffer costs
nothing until it is on screen.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from typing import ClassVar

from rich.cells import cell_len
from rich.highlighter import Highlighter
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.selection import Selection
from textual.strip import Strip

from pilothouse.providers.text import clean_text, without_escapes

ERROR_WORDS = re.compile(r"\b(ERROR|FATAL|PANIC|CRITICAL|Traceback)\b")
WARNING_WORDS = re.compile(r"\b(WARN|WARNING)\b")
MATCH_STYLE = "bold black on yellow"
CONTINUATION_INDENT = 2


def clean(line: str) -> str:
    """A line as drawn: tabs expanded, terminal escapes (7-bit and 8-bit) removed, other control and hiding
    characters made visible (providers/text.py). Not masked: the operator asked for the application's output."""
    return clean_text(without_escapes(line).expandtabs())


class LogHighlighter(Highlighter):
    def __init__(self) -> None:
        self.term = ""

    def highlight(self, text: Text) -> None:
        text.highlight_regex(ERROR_WORDS, "bold red")
        text.highlight_regex(WARNING_WORDS, "yellow")
        if self.term:
            text.highlight_words([self.term], MATCH_STYLE, case_sensitive=False)


class LogView(ScrollView, can_focus=True):
    ALLOW_SELECT = True
    # k9s and less: j/k scroll a line, g/G go to the top/bottom (ScrollView's own keys stay).
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j", "scroll_down", "Down", show=False),
        Binding("k", "scroll_up", "Up", show=False),
        Binding("g", "scroll_home", "Top", show=False),
        Binding("G", "scroll_end", "Bottom", show=False),
    ]
    DEFAULT_CSS = """
    LogView {
        height: 1fr;
        background: $surface;
        color: $text;
        /* Always there: a scrollbar that came and went would change the wrap width. */
        overflow-y: scroll;
        overflow-x: auto;
        &:focus {
            background-tint: $foreground 5%;
        }
    }
    """

    def __init__(self, max_lines: int, *, wrap: bool = True, id: str | None = None) -> None:
        super().__init__(id=id)
        self.max_lines = max_lines
        self.auto_scroll = True
        self._wrap = wrap
        self._lines: list[str] = []
        self._cells: list[int] = []  # each line's width in cells
        # Row after each line's last one, counted from _row_base (the rows of lines dropped since the last
        # recount): dropping the oldest lines deletes their entries and moves the base, nothing else.
        self._ends: list[int] = []
        self._row_base = 0
        self._dropped = 0  # lines dropped so far: a line's number (index + _dropped) never changes
        self._widest = 0
        self._wrap_width = 0
        self._pieces_cache: LRUCache[int, list[tuple[Strip, int]]] = LRUCache(1024)
        self.highlighter = LogHighlighter()

    # -- what it holds --------------------------------------------------------------------------

    @property
    def lines(self) -> Sequence[str]:
        """The lines as drawn (whole, however many rows each takes)."""
        return self._lines

    @property
    def line_count(self) -> int:
        return len(self._lines)

    @property
    def row_count(self) -> int:
        return self._ends[-1] - self._row_base if self._ends else 0

    @property
    def wrap(self) -> bool:
        return self._wrap

    @wrap.setter
    def wrap(self, wrap: bool) -> None:
        if wrap != self._wrap:
            self._wrap = wrap
            self._recount(keep_place=True)

    def write_line(self, line: str) -> None:
        self.write_lines([line])

    def write_lines(self, lines: Iterable[str]) -> None:
        at_end = self.is_vertical_scroll_end
        new = [clean(part) for line in lines for part in line.splitlines()]
        if not new:
            return
        cuts = self._cuts
        total = self._ends[-1] if self._ends else self._row_base
        for line in new:
            cells = cell_len(line)
            self._widest = max(self._widest, cells)
            self._cells.append(cells)
            total += len(cuts(line, cells))
            self._ends.append(total)
        self._lines.extend(new)
        dropped_rows = self._prune()
        self._update_virtual_size()
        if self.auto_scroll and at_end and not self.is_vertical_scrollbar_grabbed:
            self.scroll_end(animate=False, immediate=True, x_axis=False)
        else:
            if dropped_rows:
                # Scrolled up and reading: the rows on screen stay where they are as the oldest drop.
                self.scroll_to(y=max(0, self.scroll_offset.y - dropped_rows), animate=False, immediate=True)
            self.refresh()

    def clear(self) -> None:
        self._lines.clear()
        self._cells.clear()
        self._ends.clear()
        self._row_base = 0
        self._widest = 0
        self._pieces_cache.clear()
        self._update_virtual_size()
        self.refresh()

    def _prune(self) -> int:
        """Drop the oldest lines beyond max_lines; the rows they took."""
        excess = len(self._lines) - self.max_lines
        if excess <= 0:
            return 0
        before = self._row_base
        self._row_base = self._ends[excess - 1]
        del self._lines[:excess]
        del self._cells[:excess]
        del self._ends[:excess]
        self._dropped += excess
        return self._row_base - before

    # -- rows -------------------------------------------------------------------------------------

    def _text_width(self) -> int:
        return self.scrollable_content_region.width

    def _indent(self) -> int:
        return CONTINUATION_INDENT if self._wrap_width > 4 * CONTINUATION_INDENT else 0

    def _cuts(self, line: str, cells: int) -> list[int]:
        """Where the line is cut into rows: the cell at which each row ends. At a space when there is one in the
        second half of the row (words stay whole), else at the width (a long URL, a JSON blob)."""
        width = self._wrap_width
        if not self._wrap or width <= 0 or cells <= width:
            return [cells]
        room = width - self._indent()
        if len(line) != cells:
            # Wide characters: cells and characters differ; cut by cells alone.
            return [*range(width, cells, room), cells]
        cuts: list[int] = []
        start, end = 0, width
        while end < cells:
            space = line.rfind(" ", start + (end - start) // 2, end + 1)
            # After the space: it ends this row (a trailing space at the very edge is cropped, not wrapped).
            cut = space + 1 if space >= 0 else end
            cuts.append(cut)
            start, end = cut, cut + room
        cuts.append(cells)
        return cuts

    def _recount(self, keep_place: bool) -> None:
        """Count every line's rows again (a new width, wrapping switched); the top line stays on top."""
        top = self.top_line
        at_end = self.is_vertical_scroll_end
        self._wrap_width = self._text_width()
        cuts = self._cuts
        total = 0
        ends = []
        for line, cells in zip(self._lines, self._cells, strict=True):
            total += len(cuts(line, cells))
            ends.append(total)
        self._ends = ends
        self._row_base = 0
        self._pieces_cache.clear()
        self._update_virtual_size()
        if keep_place and self._lines:
            if at_end and self.auto_scroll:
                self.scroll_end(animate=False, immediate=True, x_axis=False)
            else:
                self.scroll_to(y=self.row_of(top), animate=False, immediate=True)
        self.refresh()

    def _update_virtual_size(self) -> None:
        width = self._wrap_width if self._wrap and self._wrap_width > 0 else self._widest
        self.virtual_size = Size(width, self.row_count)

    def row_of(self, index: int) -> int:
        """The first row of line `index`."""
        if not 0 < index <= len(self._ends):
            return 0
        return self._ends[index - 1] - self._row_base

    def line_at(self, row: int) -> int:
        """The index of the line drawn on `row` (the last line's below the end)."""
        if not self._ends:
            return 0
        return min(bisect_right(self._ends, row + self._row_base), len(self._ends) - 1)

    @property
    def top_line(self) -> int:
        """The index of the line at the top of the view."""
        return self.line_at(int(self.scroll_offset.y))

    def on_resize(self, event: events.Resize) -> None:
        if self._text_width() != self._wrap_width:
            self._recount(keep_place=True)

    # -- drawing ----------------------------------------------------------------------------------

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._pieces_cache.clear()

    def selection_updated(self, selection: Selection | None) -> None:
        self._pieces_cache.clear()
        self.refresh()

    def get_selection(self, selection: Selection) -> tuple[str, str] | None:
        return selection.extract("\n".join(self._lines)), "\n"

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        row = scroll_y + y
        style = self.rich_style
        width = self.scrollable_content_region.width
        if row < 0 or row >= self.row_count:
            return Strip.blank(width, style)
        index = self.line_at(row)
        pieces = self._pieces(index, style)
        piece, start = pieces[min(row - self.row_of(index), len(pieces) - 1)]
        if not self._wrap:
            return piece.crop_extend(scroll_x, scroll_x + width, style).apply_offsets(scroll_x, index)
        piece = piece.apply_offsets(start, index)
        if start:
            piece = Strip.join([Strip.blank(self._indent(), style), piece])
        return piece.crop_extend(0, width, style)

    def _pieces(self, index: int, style: Style) -> list[tuple[Strip, int]]:
        """Line `index` drawn and cut into rows: (strip, offset of its first character in the line)."""
        selection = self.text_selection
        number = index + self._dropped
        if selection is None and (cached := self._pieces_cache.get(number)) is not None:
            return cached
        line = self._lines[index]
        text = Text(line, no_wrap=True)
        text.stylize(style)
        self.highlighter.highlight(text)
        if selection is not None and (span := selection.get_span(index)) is not None:
            start, end = span
            text.stylize(self.screen.get_component_rich_style("screen--selection"), start,
                         len(text) if end == -1 else end)
        strip = Strip(text.render(self.app.console), self._cells[index])
        pieces: list[tuple[Strip, int]] = []
        offset = 0
        for piece in strip.divide(self._cuts(line, self._cells[index])):
            pieces.append((piece, offset))
            offset += len(piece.text)
        if selection is None:
            self._pieces_cache[number] = pieces
        return pieces

    # -- search -----------------------------------------------------------------------------------

    @property
    def search_term(self) -> str:
        return self.highlighter.term

    @search_term.setter
    def search_term(self, term: str) -> None:
        self.highlighter.term = term
        # Drawn lines are cached with their old highlighting.
        self._pieces_cache.clear()
        self.refresh()

    def find(self, term: str, start: int, step: int = 1) -> int | None:
        """The index of the next line holding `term` from `start` (inclusive) in direction `step`, wrapping."""
        lines = self._lines
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
        lines = self._lines if upto is None else self._lines[:upto]
        return sum(1 for line in lines if needle in line.lower()) if needle else 0

    def show_line(self, index: int) -> None:
        """Scroll so that line `index` starts a third of the way down the view."""
        self.scroll_to(y=max(0, self.row_of(index) - self.scrollable_content_region.height // 3), animate=False,
                       immediate=True)
