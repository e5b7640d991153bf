"""The app paces the cyclic GC (console/collector.py): a snapshot applied while the operator types is frozen,
and the app hands the frozen objects back when it ends."""

from __future__ import annotations

import gc
from pathlib import Path

from ui_support import running_app, wait_until

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


async def test_closed_screens_leave_no_snapshot_to_the_cyclic_collector(tmp_path: Path) -> None:
    """A closed screen is garbage in a reference cycle (Textual's widget tree) until a full GC pass; a screen that
    remembered the snapshot it drew kept a whole fleet model alive with it, one per visit under an event storm."""
    from ui_support import open_service

    from pilothouse.console.screens.fleet import FleetScreen
    from pilothouse.providers.model import Cluster

    def snapshots_alive() -> int:
        gc.unfreeze()  # the app freezes while keys come: frozen objects are not listed
        return sum(1 for one in gc.get_objects() if isinstance(one, Cluster))

    gc.collect()
    gc.disable()
    try:
        async with running_app(tmp_path, refresh=False) as (app, pilot):
            name = "demo-swarm"
            provider = app.fleet.providers[name]
            app.hand_over(ClusterUpdated(provider.snapshot()))
            await pilot.pause()
            await pilot.press("down")  # the fleet's rows are drawn; keys come: the collector freezes too
            before = snapshots_alive()
            for _ in range(VISITS):
                await open_service(app, pilot, name, "shop_api")
                await pilot.press("escape")
                await pilot.pause()
                assert isinstance(app.screen, FleetScreen)
                fresh = provider.snapshot()
                app.hand_over(ClusterUpdated(fresh))
                await pilot.pause()
                assert app.state.get(name) is fresh
            assert snapshots_alive() <= before + 1, "closed screens kept the snapshots they had drawn"
    finally:
        gc.enable()


VISITS = 6


async def test_a_snapshot_waiting_while_a_key_is_answered_is_applied_after_that_frame(tmp_path: Path) -> None:
    from pilothouse.console.app import SnapshotWaiting

    async with running_app(tmp_path, refresh=False) as (app, pilot):
        name = "demo-swarm"
        provider = app.fleet.providers[name]
        first, second = provider.snapshot(), provider.snapshot()
        priority.hold()
        try:
            app.hand_over(ClusterUpdated(first))
            app.on_snapshot_waiting(SnapshotWaiting(name))
            assert app.state.get(name) is not first, "applied while the key's answer was not drawn yet"
        finally:
            priority.release()
        await wait_until(pilot, lambda: app.state.get(name) is first, what="the deferred snapshot applied")
        app.hand_over(ClusterUpdated(second))
        app.on_snapshot_waiting(SnapshotWaiting(name))
        assert app.state.get(name) is second, "no key pending: applied at once"
