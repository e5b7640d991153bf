"""Render the README screenshots from the frozen demo fleet: `python screenshots/generate.py`.

The scenes (tests/support/demo_scenes.py, shared with the snapshot tests in tests/snapshots) pin the demo clock
12 s into its scenario, so the api rollout is part way, one node is down and its tasks are starting elsewhere,
and payments has a task failing its health check; the audit log holds two fixed entries, and a frozen demo's
log stream stops after its tail. The output is the same on every run; regenerate on purpose when a screen
changes, and review the diff.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parent / "tests" / "support"))

SIZE = (120, 34)


async def render(out: Path, scratch: Path) -> list[Path]:
    from demo_scenes import README_SCENES, frozen_app

    written: list[Path] = []
    for name, scene in README_SCENES.items():
        app = frozen_app(scratch / name)
        async with app.run_test(size=SIZE) as pilot:
            await scene(pilot)
            await pilot.pause(0.2)
            written.append(Path(app.save_screenshot(f"{name}.svg", str(out))))
    return written


def main() -> int:
    # Screenshots must not depend on, or write to, the developer's own config and state.
    with tempfile.TemporaryDirectory() as scratch:
        os.environ["XDG_CONFIG_HOME"] = str(Path(scratch) / "config")
        os.environ["XDG_STATE_HOME"] = str(Path(scratch) / "state")
        os.environ.pop("PILOTHOUSE_CONFIG", None)
        for path in asyncio.run(render(HERE, Path(scratch))):
            print(path.relative_to(HERE.parent))
    return 0


if __name__ == "__main__":
    sys.exit(main())
