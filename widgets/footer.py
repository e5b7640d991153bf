"""The key footer, compact on narrow terminals so that an 80-column SSH session shows as many keys as it can."""

from __future__ import annotations

from textual import events
from textual.widgets import Footer

# Below this width the footer drops its padding and the "^p Commands" item (ctrl+p still works, and the
# help screen lists it): at 80 columns that is the difference between the screen's keys showing and the
# last few scrolled out of sight.
COMPACT_BELOW_COLUMNS = 120


class KeyFooter(Footer):
    def on_resize(self, event: events.Resize) -> None:
        narrow = event.size.width < COMPACT_BELOW_COLUMNS
        self.compact = narrow
        self.show_command_palette = not narrow
