"""`theme` from the config is honoured; a theme picked in the palette is remembered for the next run."""

from __future__ import annotations

import dataclasses
import json
import stat
from pathlib import Path

from ui_support import running_app, wait_until

from pilothouse.console.uistate import state_path


async def test_config_theme_is_used(tmp_path: Path) -> None:
    async with running_app(tmp_path, refresh=False,
                           configure=lambda c: dataclasses.replace(c, theme="nord")) as (app, _pilot):
        assert app.theme == "nord"


async def test_palette_theme_is_remembered_and_used_next_time(tmp_path: Path) -> None:
    async with running_app(tmp_path, refresh=False) as (app, pilot):
        default = app.theme
        assert not state_path().exists()  # nothing chosen yet, nothing written
        app.theme = "dracula" if default != "dracula" else "nord"
        chosen = app.theme
        await wait_until(pilot, state_path().exists, what="the state file")
    assert json.loads(state_path().read_text()) == {"theme": chosen}
    assert stat.S_IMODE(state_path().stat().st_mode) == 0o600
    async with running_app(tmp_path, refresh=False) as (app, _pilot):
        assert app.theme == chosen
    # The config's own theme wins over the remembered one.
    async with running_app(tmp_path, refresh=False,
                           configure=lambda c: dataclasses.replace(c, theme="gruvbox")) as (app, _pilot):
        assert app.theme == "gruvbox"
