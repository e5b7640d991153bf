"""DiffTable.sync writes changed cells into DataTable's own storage and repaints once: the painted rows must
show every change, and only the changed or moved rows are rendered again (it relies on DataTable's private _data,
_update_count, _row_locations and render caches, so a Textual upgrade that moves them fails here)."""

from __future__ import annotations

from textual.app import App, ComposeResult

from pilothouse.widgets.diff_table import Column, DiffTable, cell

COLUMNS = (Column("name", "NAME", 10), Column("state", "STATE", 10))


class TableApp(App[None]):
    def compose(self) -> ComposeResult:
        yield DiffTable(COLUMNS)


def painted(table: DiffTable) -> list[str]:
    return [table.render_line(y).text for y in range(1, table.row_count + 1)]


async def test_a_changed_cell_is_painted_and_an_unchanged_table_repaints_nothing() -> None:
    app = TableApp()
    async with app.run_test(size=(40, 10)) as pilot:
        table = app.query_one(DiffTable)
        table.sync((f"r{n}", (cell(f"svc-{n}"), cell("running"))) for n in range(5))
        await pilot.pause()
        assert all("running" in line for line in painted(table))
        before = table._update_count

        table.sync((f"r{n}", (cell(f"svc-{n}"), cell("failed" if n in (1, 3) else "running"))) for n in range(5))
        # Only the two changed rows' cells are to be rendered again; the others' stay cached.
        assert cached_rows(table) == {"r0", "r2", "r4"}
        await pilot.pause()
        assert [("failed" in line) for line in painted(table)] == [False, True, False, True, False]
        assert table.get_cell("r3", "state").plain() == "failed"
        assert table._update_count == before  # no full repaint

        cached = cached_rows(table)
        table.sync((f"r{n}", (cell(f"svc-{n}"), cell("failed" if n in (1, 3) else "running"))) for n in range(5))
        assert cached_rows(table) == cached  # the same rows again: nothing to repaint


async def test_a_resort_moves_the_rows_and_paints_each_at_its_new_place() -> None:
    app = TableApp()
    async with app.run_test(size=(40, 10)) as pilot:
        table = app.query_one(DiffTable)
        table.show_cursor = False  # the stripes alone, below
        table.sort_by(1)
        table.sync((f"r{n}", (cell(f"svc-{n}"), cell(f"b-{n}"))) for n in range(5))
        await pilot.pause()
        assert [line.split()[0] for line in painted(table)] == [f"svc-{n}" for n in range(5)]
        stripes = [table.render_line(y) for y in range(1, 6)]

        # svc-3 sorts first now: rows 0-2 move down one, row 4 stays where it was.
        table.sync((f"r{n}", (cell(f"svc-{n}"), cell("a-3" if n == 3 else f"b-{n}"))) for n in range(5))
        assert cached_rows(table) == {"r4"}
        await pilot.pause()
        assert [line.split()[0] for line in painted(table)] == ["svc-3", "svc-0", "svc-1", "svc-2", "svc-4"]
        # Each place keeps its zebra stripe and its row number (where a click lands), whichever row sits there.
        assert [list(line)[-1].style for line in stripes] == [
            list(table.render_line(y))[-1].style for y in range(1, 6)]
        assert len({getattr(list(line)[-1].style, 'bgcolor', None) for line in stripes}) == 2


def cached_rows(table: DiffTable) -> set[str]:
    """Rows with a rendered cell in DataTable's cell cache (the header aside). PRIVATE_TEXTUAL_ALLOWED
    (tests/core/test_contracts.py): what DiffTable keeps cached is the behaviour under test."""
    cache = table._cell_render_cache  # an LRUCache, not a dict: keys() is its only iteration
    return {str(key[0].value) for key in cache.keys() if key[0].value is not None}  # noqa: SIM118


async def test_render_caches_hold_only_the_current_rows_after_many_changes() -> None:
    # A churning table must not keep renders no lookup can hit again until the LRU evicts them: DataTable's
    # cell cache alone holds 10,000, which grew the console by ~20 MB at 10k pods (RESULTS.md, churn).
    app = TableApp()
    async with app.run_test(size=(40, 10)) as pilot:
        table = app.query_one(DiffTable)
        for round_ in range(30):
            table.sync((f"r{n}", (cell(f"svc-{n}"), cell(f"state-{round_}"))) for n in range(5))
            await pilot.pause()
            assert painted(table)[0].split()[-1] == f"state-{round_}"
        cells = len(table._cell_render_cache)
        assert 0 < cells <= 2 * (table.row_count + 1) * len(COLUMNS)  # this paint's cells (header included)
