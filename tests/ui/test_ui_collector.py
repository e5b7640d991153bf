"""The app paces the cyclic GC (console/collector.py): it freezes after each snapshot it applies, an input event
puts a full pass off, and the app hands the frozen objects back when it ends."""

from __future__ import annotations

import gc
from pathlib import Path

from ui_support import running_app

from pilothouse.console.collector import IDLE_S, MIN_INTERVAL_S, PacedCollector


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_snapshots_are_frozen_keys_defer_the_full_pass_and_exit_releases(tmp_path: Path) -> None:
    gc.unfreeze()
    async with running_app(tmp_path) as (app, pilot):
        assert gc.get_freeze_count() > 0, "the applied snapshot and the rows are frozen"
        clock = Clock()
        app.collector = PacedCollector(clock)
        clock.now += MIN_INTERVAL_S + IDLE_S
        assert app.collector.due()
        await pilot.press("down")
        assert not app.collector.due(), "a key just now: the full pass waits"
        clock.now += IDLE_S
        assert app.collector.collect_if_due()
    assert gc.get_freeze_count() == 0
