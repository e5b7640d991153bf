"""The log view alone: wrapping keeps whole lines (rows are only how they are drawn), the buffer stays bounded
with long lines, and scrolled-up reading stays put while the oldest lines drop."""

from __future__ import annotations

from textual.app import App, ComposeResult
from ui_support import wait_until

from pilothouse.widgets.log_view import CONTINUATION_INDENT, LogView, clean


class LogApp(App[None]):
    def __init__(self, bound: int) -> None:
        super().__init__()
        self.bound = bound

    def compose(self) -> ComposeResult:
        yield LogView(self.bound, id="log")


def drawn_rows(view: LogView) -> list[str]:
    """Every row of the view, as drawn, from the top of the buffer."""
    rows = []
    for row in range(view.row_count):
        top = min(row, int(view.max_scroll_y))
        view.scroll_to(y=top, animate=False, immediate=True)
        rows.append(view.render_line(row - top).text.rstrip())
    return rows


async def test_wrapped_rows_hold_each_line_whole_and_in_order() -> None:
    app = LogApp(100)
    async with app.run_test(size=(40, 30)) as pilot:
        view = app.query_one(LogView)
        await wait_until(pilot, lambda: view.scrollable_content_region.width > 0, what="layout")
        width = view.scrollable_content_region.width
        words = " ".join(f"word{number}" for number in range(40))
        unbroken = "x" * (3 * width + 5)  # no space to wrap at: cut at the width
        view.write_lines(["short", words, unbroken, "last"])
        rows = drawn_rows(view)
        assert all(len(row) <= width for row in rows)
        assert rows[0] == "short" and rows[-1] == "last"
        word_rows = [row for row in rows if "word" in row]
        assert len(word_rows) > 1 and not word_rows[0].startswith(" ")
        assert all(row.startswith(" " * CONTINUATION_INDENT) for row in word_rows[1:])  # not a new line
        assert " ".join(row.strip() for row in rows if "word" in row) == words  # words stay whole
        assert "".join(row.strip() for row in rows if "x" in row) == unbroken
        assert view.lines == ["short", words, unbroken, "last"]
        assert view.row_count == len(rows) and view.line_at(view.row_of(3)) == 3


async def test_bounded_with_long_lines_and_reading_stays_put() -> None:
    app = LogApp(50)
    async with app.run_test(size=(40, 12)) as pilot:
        view = app.query_one(LogView)
        await wait_until(pilot, lambda: view.scrollable_content_region.width > 0, what="layout")
        long = "y " * 50
        for batch in range(10):
            view.write_lines([f"line {batch * 20 + number} " + long for number in range(20)])
        assert view.line_count == 50
        assert view.lines[0].startswith("line 150 ") and view.lines[-1].startswith("line 199 ")
        rows_per_line = view.row_of(1)
        assert rows_per_line > 1 and view.row_count == 50 * rows_per_line
        assert view.is_vertical_scroll_end  # following: the end stays in view

        view.scroll_to(y=view.row_of(20), animate=False, immediate=True)
        reading = view.top_line
        assert view.lines[reading].startswith("line 170 ")
        view.write_lines([f"line {200 + number} " + long for number in range(10)])
        assert view.line_count == 50
        # The oldest dropped under the reader: the same line is still at the top.
        assert view.lines[view.top_line].startswith("line 170 ")


async def test_resize_rewraps_and_keeps_the_top_line() -> None:
    app = LogApp(1000)
    async with app.run_test(size=(60, 20)) as pilot:
        view = app.query_one(LogView)
        await wait_until(pilot, lambda: view.scrollable_content_region.width > 0, what="layout")
        view.write_lines([f"{number:03d} " + "z" * 100 for number in range(200)])
        view.scroll_to(y=view.row_of(50), animate=False, immediate=True)
        before = view.row_count
        await pilot.resize_terminal(150, 20)
        await wait_until(pilot, lambda: view.row_count < before, what="fewer rows when wider")
        assert view.row_count == view.line_count  # 104 cells fit in one row
        assert view.lines[view.top_line].startswith("050 ")


def test_clean_drops_terminal_escapes_and_shows_control_characters() -> None:
    assert clean("\x1b[31mERROR\x1b[0m\tboom\x07") == "ERROR   boom\N{REPLACEMENT CHARACTER}"
