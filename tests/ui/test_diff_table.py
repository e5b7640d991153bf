"""DiffTable.sync writes changed cells into DataTable's own storage and repaints once: the painted rows must
show every change (it relies on DataTable's private _data and _update_count, so a Textual upgrade that moves
them fails here)."""

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
        await pilot.pause()
        assert [("failed" in line) for line in painted(table)] == [False, True, False, True, False]
        assert table.get_cell("r3", "state").plain() == "failed"
        assert table._update_count == before + 1  # two cells, one repaint

        table.sync((f"r{n}", (cell(f"svc-{n}"), cell("failed" if n in (1, 3) else "running"))) for n in range(5))
        assert table._update_count == before + 1  # the same rows again: nothing to repaint
