"""The key footer, compact on narrow terminals so that an 80-column SSH session shows as many keys as it can."""

from __future__ import annotations

from textual import events
from textual.widgets import Footer

# Below this width the footer drops its padding and the "^p Commands" item (ctrl+p still works, and the
# help screen lists it): at 80 columns that is the difference between the screen's keys showing and the
# last few scrolled out of sight.
COMPACT_BELOW_COLUMNS = 120


class KeyFooter(Footer):
    _shown: tuple[object, ...] | None = None

    def on_resize(self, event: events.Resize) -> None:
        narrow = event.size.width < COMPACT_BELOW_COLUMNS
        self.compact = narrow
        self.show_command_palette = not narrow

    def _offered(self) -> tuple[object, ...]:
        """Everything Footer.compose draws from: equal, the footer it composed last time is still right."""
        return (self.show_command_palette, *(
            (key, binding.key, binding.action, binding.description, binding.show, binding.group, enabled, tooltip)
            for key, (_, binding, enabled, tooltip) in self.screen.active_bindings.items()))

    async def recompose(self) -> None:
        # Textual recomposes the footer (a widget per key, each styled anew: 20-60 ms) whenever a screen's
        # bindings are refreshed: on every return to a screen, on focus changes, on every snapshot that calls
        # refresh_bindings. Mostly nothing it shows has changed.
        if not self.is_attached:
            await super().recompose()
            return
        offered = self._offered()
        if offered == self._shown and self.children:  # children: composed once its bindings were ready
            return
        self._shown = offered
        await super().recompose()
