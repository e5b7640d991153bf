"""The main screens on the frozen demo fleet, at 80x24 (an SSH session) and 200x50, compared with the SVGs in
__snapshots__/ (pytest-textual-snapshot). A difference fails the test and writes snapshot_report.html (side by
side). After a change that is meant, regenerate on purpose and review the SVG diff before committing:

    python -m pytest tests/snapshots --snapshot-update
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from demo_scenes import SCENES, frozen_app
from pytest_textual_snapshot import normalize_svg
from textual.pilot import Pilot

SIZES = {"80x24": (80, 24), "200x50": (200, 50)}
SNAPSHOTS = Path(__file__).parent / "__snapshots__" / "test_snapshots"

# snap_compare (pytest-textual-snapshot) runs the app itself, with asyncio.run: these tests are not async.
SnapCompare = Callable[..., bool]


@pytest.mark.parametrize("size", sorted(SIZES))
@pytest.mark.parametrize("screen", list(SCENES))
def test_screen(snap_compare: SnapCompare, tmp_path: Path, screen: str, size: str) -> None:
    assert snap_compare(frozen_app(tmp_path), terminal_size=SIZES[size], run_before=SCENES[screen])


def test_every_main_screen_is_pictured() -> None:
    assert set(SCENES) == {"fleet", "placement", "nodes", "networks", "service", "doctor", "events", "help"}


def picture(tmp_path: Path, screen: str, size: str, *keys: str) -> str:
    """A screen drawn as snap_compare draws it (a headless App.run, then its pauses), through public API only."""
    app = frozen_app(tmp_path)
    svg = ""

    async def auto_pilot(pilot: Pilot[Any]) -> None:
        nonlocal svg
        await SCENES[screen](pilot)
        await pilot.pause()
        await pilot.press(*keys)
        await pilot.wait_for_scheduled_animations()
        await pilot.pause()
        await pilot.pause()
        await pilot.wait_for_scheduled_animations()
        svg = app.export_screenshot(title=app.title, simplify=True)
        app.exit()

    app.run(headless=True, size=SIZES[size], auto_pilot=auto_pilot)
    assert svg, "the app ended before its picture was taken"
    return str(normalize_svg(svg))


def test_the_comparison_sees_a_changed_screen(tmp_path: Path) -> None:
    """What the tests compare is the screen: drawn again, the fleet matches its stored picture; with the cursor
    one row down it does not."""
    stored = (SNAPSHOTS / "test_screen[fleet-80x24].svg").read_text(encoding="utf-8")
    assert picture(tmp_path / "same", "fleet", "80x24") == stored
    assert picture(tmp_path / "moved", "fleet", "80x24", "down") != stored
