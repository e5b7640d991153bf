"""The console's screen as drawn, read as text: shared by the UI tests and the provider tests that open a
screen on their real backend."""

from __future__ import annotations

import io

from rich.console import Console

from pilothouse.console.app import PilothouseApp


def screen_text(app: PilothouseApp) -> str:
    """The screen as plain text, exactly as drawn (dialogs over their background included)."""
    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), record=True, force_terminal=True,
                      color_system="truecolor", legacy_windows=False, safe_box=False)
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens))
    return console.export_text()
