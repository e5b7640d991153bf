"""The console's screen as drawn, read as text: shared by the UI tests and the provider tests that open a
screen on their real backend."""

from __future__ import annotations

import io
from typing import Any

from rich.console import Console
from textual.app import App


def screen_text(app: App[Any]) -> str:
    """The screen as plain text, exactly as drawn (dialogs over their background included)."""
    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), record=True, force_terminal=True,
                      color_system="truecolor", legacy_windows=False, safe_box=False)
    # Textual exports the composed screen only as SVG (export_screenshot); this is what that export does,
    # kept as text. Allowed in tests/core/test_contracts.py PRIVATE_TEXTUAL_ALLOWED.
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens))
    return console.export_text()
