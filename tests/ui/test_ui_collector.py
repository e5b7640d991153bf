"""The app paces the cyclic GC (console/collector.py): a snapshot applied while the operator types is frozen,
and the app hands the frozen objects back when it ends."""

from __future__ import annotations

import gc
from pathlib import Path

from ui_support import running_app

from pilothouse.console.app import ClusterUpdated
from pilothouse.providers import priority


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


async def test_a_key_holds_refresh_threads_until_its_answer_is_drawn(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot):
        held: list[bool] = []
        original = app.action_help

        def help_while_held() -> None:
            held.append(priority.held())
            original()

        app.action_help = help_while_held  # type: ignore[method-assign]
        await pilot.press("question_mark")
        await pilot.pause()
        assert held == [True], "refreshes were not held while the key was answered"
        assert not priority.held(), "the gate stayed closed after the answer was drawn"
