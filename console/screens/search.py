"""Search in a screen's LogView (`/`, `n`, `N`): shared by the logs and inspect screens. The screen has a
FilterBar for the term, a `view` property and redraws its status line in `search_changed`."""

from __future__ import annotations

from pilothouse.console.screens.base import FleetScreenBase
from pilothouse.widgets.filter_bar import FilterBar
from pilothouse.widgets.log_view import LogView


class SearchableView(FleetScreenBase):
    match_index: int | None = None

    @property
    def view(self) -> LogView:
        raise NotImplementedError

    def search_changed(self) -> None:
        """The term or the match moved: redraw what says so."""

    def action_search(self) -> None:
        self.query_one(FilterBar).open(self.view.search_term)

    def on_filter_bar_kept(self, event: FilterBar.Kept) -> None:
        term = event.value.strip()
        event.bar.display = False
        self.view.focus()
        self.view.search_term = term
        self.match_index = None
        if term:
            # The first match from the top of what is on screen.
            self._jump(self.view.top_line, 1)
        self.search_changed()

    def action_search_next(self, step: int) -> None:
        if not self.view.search_term:
            self.notify("search first with /", markup=False)
            return
        start = self.view.top_line if self.match_index is None else self.match_index + step
        self._jump(start, step)
        self.search_changed()

    def _jump(self, start: int, step: int) -> None:
        found = self.view.find(self.view.search_term, start, step)
        self.match_index = found
        if found is None:
            self.notify(f"no line holds {self.view.search_term!r}", severity="warning", markup=False)
            return
        self.view.show_line(found)

    def close_search(self) -> bool:
        """Escape: hides an open search bar (the term searched last stays for n/N); False when none was open."""
        field = self.query_one(FilterBar)
        if not field.display:
            return False
        field.display = False
        self.view.focus()
        return True

    def search_status(self) -> str:
        """`/term: match 2 of 5 · `, or "" without a term (first: at 80 columns the line's end is cut)."""
        term = self.view.search_term
        if not term:
            return ""
        total = self.view.count_matches(term)
        if self.match_index is not None and total:
            return f"/{term}: match {self.view.count_matches(term, self.match_index) + 1} of {total} · "
        return f"/{term}: {f'{total} matches' if total else 'no match'} · "
