"""The app paces the cyclic GC (console/collector.py): a snapshot applied while the operator types is frozen,
and the app hands the frozen objects back when it ends."""

from __future__ import annotations

import gc
from pathlib import Path

from ui_support import running_app

from pilothouse.console.app import ClusterUpdated


async def test_a_snapshot_applied_while_typing_is_frozen_and_exit_releases_it(tmp_path: Path) -> None:
    gc.unfreeze()
    async with running_app(tmp_path) as (app, pilot):
        cluster = next(iter(app.state.clusters.values()))
        app.hand_over(ClusterUpdated(cluster))
        await pilot.pause()
        assert gc.get_freeze_count() == 0, "no key pressed yet: CPython's own pacing"
        await pilot.press("down")
        assert app.collector.typing()
        app.hand_over(ClusterUpdated(cluster))
        await pilot.pause()
        assert gc.get_freeze_count() > 0
    assert gc.get_freeze_count() == 0
