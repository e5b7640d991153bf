"""The main screens on the frozen demo fleet, at 80x24 (an SSH session) and 200x50, compared with the SVGs in
__snapshots__/ (pytest-textual-snapshot). A difference fails the test and writes snapshot_report.html (side by
side). After a change that is meant, regenerate on purpose and review the SVG diff before committing:

    python -m pytest tests/snapshots --snapshot-update
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from demo_scenes import SCENES, frozen_app
from pytest_textual_snapshot import normalize_svg

SIZES = {"80x24": (80, 24), "200x50": (200, 50)}
SNAPSHOTS = Path(__file__).parent / "__snapshots__" / "test_snapshots"

# snap_compare (pytest-textual-snapshot) runs the app itself, with asyncio.run: these tests are not async.
SnapCompare = Callable[..., bool]


@pytest.mark.parametrize("size", sorted(SIZES))
@pytest.mark.parametrize("screen", list(SCENES))
def test_screen(snap_compare: SnapCompare, tmp_path: Path, screen: str, size: str) -> None:
    assert snap_compare(frozen_app(tmp_path), terminal_size=SIZES[size], run_before=SCENES[screen])


def test_every_main_screen_is_pictured() -> None:
    assert set(SCENES) == {"fleet", "placement", "service", "doctor", "events", "help"}


async def test_the_comparison_sees_a_changed_screen(tmp_path: Path) -> None:
    """What the tests compare is the screen: drawn again through Textual's public export, the fleet matches its
    stored picture; with the cursor one row down it does not."""
    stored = (SNAPSHOTS / "test_screen[fleet-80x24].svg").read_text(encoding="utf-8")
    app = frozen_app(tmp_path)
    async with app.run_test(size=SIZES["80x24"]) as pilot:
        await SCENES["fleet"](pilot)
        await pilot.pause()
        assert normalize_svg(app.export_screenshot(simplify=True)) == stored
        await pilot.press("down")
        await pilot.pause()
        assert normalize_svg(app.export_screenshot(simplify=True)) != stored
