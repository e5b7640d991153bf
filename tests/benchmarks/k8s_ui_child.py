"""The console on a Kubernetes cluster, in a process of its own: first paint with rows, RSS after sync and churn.

Run by bench_k8s.py as `python k8s_ui_child.py --config FILE`: the real app (load_config, Fleet, PilothouseApp
with its refresher threads and the Kubernetes provider's list+watch) runs headless through App.run_test
against the fleet that k8s_fleet.py serves. When the fleet screen holds a row for every workload and the
frame is composed, it prints one JSON line (painted_wall: time.time() then; rows; tasks; rss_kb: VmRSS;
peak_kb: VmHWM) and keeps the app running, following the watches. Each `rss` line read from stdin is
answered with the same figures, taken after the app went idle (the parent asks after a churn); `quit`
ends it. The parent subtracts its own time.time() taken just before it spawned the child, so interpreter
start and imports count in first paint, as they do for kubectl.
"""

from __future__ import annotations

import time

STARTED_WALL = time.time()

import argparse  # noqa: E402  (the start stamp comes first)
import asyncio  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

from ui_child import SIZE, fully_drawn  # noqa: E402

PAINT_TIMEOUT_S = 300.0


def memory_kb() -> dict[str, int]:
    """VmRSS (now) and VmHWM (the peak) of this process, from /proc."""
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0])
    return {"rss_kb": fields.get("VmRSS", 0), "peak_kb": fields.get("VmHWM", 0)}


def say(record: dict[str, Any]) -> None:
    print(json.dumps(record), flush=True)


def tasks(app: Any) -> int:
    # Counted without keeping a list of (cluster, service) in run()'s frame: that kept the first snapshot, a whole
    # second model (~6 MB at 10k pods), alive through the churn and counted it against the console.
    return sum(len(service.tasks) for _, service in app.state.services())


async def run(config_path: Path) -> None:
    from textual.widgets import DataTable

    from pilothouse.console.app import PilothouseApp
    from pilothouse.console.config import load_config
    from pilothouse.console.fleet import Fleet

    config = load_config(config_path, required=True)
    app = PilothouseApp(Fleet(config), config)
    async with app.run_test(size=SIZE, headless=True) as pilot:
        deadline = time.monotonic() + PAINT_TIMEOUT_S
        while not (fully_drawn(app) and sum(1 for _ in app.state.services()) > 0):
            if getattr(app, "_exception", None) is not None:
                break  # the app crashed: run_test re-raises it on the way out
            if time.monotonic() > deadline:
                raise TimeoutError(f"fleet not drawn within {PAINT_TIMEOUT_S}s")
            await asyncio.sleep(0.005)
        await pilot.pause(0)
        painted = time.time()
        rows = app.screen.query_one("#fleet-table", DataTable).row_count
        say({"painted_wall": painted, "started_wall": STARTED_WALL, "rows": rows, "tasks": tasks(app),
             **memory_kb()})
        loop = asyncio.get_running_loop()
        while True:
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line or line.strip() == "quit":
                break
            await pilot.pause()  # queued snapshots drawn
            say({"tasks": tasks(app), **memory_kb()})
        app.exit()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", required=True)
    args = parser.parse_args()
    asyncio.run(run(Path(args.config)))


if __name__ == "__main__":
    main()
