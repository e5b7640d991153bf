"""The console on a big demo fleet, in a process of its own: first paint, one refresh's UI time, peak RSS.

Run by bench_ui.py as `python ui_child.py --tasks N --out FILE`; it builds the real app (demo config, Fleet,
PilothouseApp with its refresher threads), runs it headless through App.run_test and writes one JSON
object to FILE (with `--config FILE` instead of --tasks, the clusters of that config through their real
providers: bench_swarm_size.py points one at the Swarm replay server):
- painted_wall: time.time() when the fleet screen held a row for every (cluster, service) of every
  cluster and the app had gone idle after drawing them (the parent subtracts its own time.time() taken
  just before spawning, so interpreter start and imports count);
- refresh_ms: with --refresh-rounds, the UI thread's CPU time (time.thread_time: what an idle machine's
  wall clock would show, without a busy machine's descheduling) to apply one fleet refresh in which 1% of
  the tasks changed state: the sum of app.on_cluster_updated over the clusters, given the messages the
  refresher threads would post; refresh_wall_ms the same in wall-clock time;
- rss_kb: peak RSS of the process (VmHWM; ru_maxrss where there is no /proc) at the end, rss_kb_at_paint at
  first paint, rss_kb_after_hold after --hold seconds of live refreshes.
With --profile FILE, cProfile covers the work from main() to first paint and dumps its stats there;
with --profile-refresh FILE, it covers the measured on_cluster_updated calls.
"""

from __future__ import annotations

import argparse
import time

STARTED_WALL = time.time()

import asyncio  # noqa: E402  (the start stamp comes first)
import dataclasses  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

FROZEN_AT = 15.0
SIZE = (120, 40)
PAINT_TIMEOUT_S = 120.0


def peak_rss_kb() -> int:
    """This process's peak RSS: VmHWM, which exec resets. Linux carries ru_maxrss over an exec, so a child of a
    large parent (run.py after the 50k-pod benchmarks: 528 MB) reported the parent's peak as its own."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def changed_fleet(clusters: list[Any], fraction: float, offset: int) -> list[Any]:
    """Copies of `clusters` where every 1/fraction-th task (from `offset`) flipped between running and starting."""
    from pilothouse.providers.model import Health, HealthCounts, TaskState

    step = round(1 / fraction)
    position = 0
    result = []
    for cluster in clusters:
        services = []
        for service in cluster.services:
            tasks = list(service.tasks)
            touched = False
            for index, task in enumerate(tasks):
                if (position + offset) % step == 0:
                    touched = True
                    if task.state is TaskState.RUNNING:
                        tasks[index] = dataclasses.replace(task, state=TaskState.STARTING, health=Health.STARTING)
                    else:
                        tasks[index] = dataclasses.replace(task, state=TaskState.RUNNING, health=Health.HEALTHY)
                position += 1
            if touched:
                running = sum(1 for task in tasks if task.state is TaskState.RUNNING)
                service = dataclasses.replace(service, tasks=tuple(tasks), running=running,
                                              health=HealthCounts.of(tasks))
            services.append(service)
        result.append(dataclasses.replace(cluster, services=tuple(services)))
    return result


ASSESSORS: dict[str, Any] = {}  # one per cluster, as each refresher thread keeps its own


def message_for(app: Any, cluster: Any) -> Any:
    """ClusterUpdated as the app's refresher callback builds it, on the refresher's thread: the doctor's findings
    and the attention pass come computed (the UI thread never runs them for a refresher's snapshot)."""
    from pilothouse.console.app import ClusterUpdated
    from pilothouse.providers.attention import AttentionAssessor
    from pilothouse.providers.doctor import assess_attention, examine

    findings = examine(cluster, app.console_config.doctor)
    assessor = ASSESSORS.setdefault(cluster.name, AttentionAssessor())
    return ClusterUpdated(cluster, findings, assess_attention(assessor, cluster, findings))


def fully_drawn(app: Any) -> bool:
    from pilothouse.console.screens.fleet import FleetScreen, row_key
    from pilothouse.providers.model import ConnectionState

    screen = app.screen
    if not isinstance(screen, FleetScreen):
        return False
    clusters = list(app.state.clusters.values())
    if not clusters or any(cluster.state is ConnectionState.CONNECTING for cluster in clusters):
        return False
    expected = {row_key(cluster.name, service.id) for cluster, service in app.state.services()}
    table = screen.table
    # Cheap test first: building 50k keys on every poll would slow the very thing being measured.
    if table.row_count != len(expected):
        return False
    return set(table.keys) >= expected


async def run(args: argparse.Namespace) -> dict[str, Any]:
    from textual.widgets import DataTable

    from pilothouse.console.app import PilothouseApp
    from pilothouse.console.config import demo_config
    from pilothouse.console.fleet import Fleet

    phases: dict[str, float] = {"imported": time.time()}
    if args.config:  # a real provider (the Swarm replay server...), as `pilothouse --config FILE` runs it
        from pilothouse.console.config import load_config

        config = load_config(Path(args.config), required=True)
    else:
        config = demo_config(tasks=args.tasks, frozen_at=FROZEN_AT)
    app = PilothouseApp(Fleet(config), config)
    result: dict[str, Any] = {"tasks": args.tasks, "phases_wall": phases}
    async with app.run_test(size=SIZE, headless=True) as pilot:
        deadline = time.monotonic() + PAINT_TIMEOUT_S
        phases["app_running"] = time.time()
        while not fully_drawn(app):
            if "data" not in phases and all(cluster.services for cluster in app.state.clusters.values()):
                phases["data"] = time.time()  # every cluster's first snapshot is in FleetState
            if getattr(app, "_exception", None) is not None:
                break  # the app crashed: run_test re-raises it on the way out
            if time.monotonic() > deadline:
                raise TimeoutError(f"fleet not drawn within {PAINT_TIMEOUT_S}s")
            await asyncio.sleep(0.005)
        phases["rows"] = time.time()
        # Pending messages handled, then the frame composed (pause(0) forces the screen's update; pause()
        # would also wait for the whole process to go idle, refresher threads included).
        await pilot.pause(0)
        result["painted_wall"] = phases["painted"] = time.time()
        result["rss_kb_at_paint"] = peak_rss_kb()
        usage = resource.getrusage(resource.RUSAGE_SELF)
        result["cpu_s_at_paint"] = usage.ru_utime + usage.ru_stime  # less sensitive to a busy machine
        if args.profile_stop is not None:
            args.profile_stop()
        result["rows"] = app.screen.query_one("#fleet-table", DataTable).row_count
        result["services"] = sum(1 for _ in app.state.services())
        result["task_count"] = sum(len(service.tasks) for _, service in app.state.services())

        if args.hold:
            # Live refreshes after the first paint (the real providers' refreshers keep running): the memory
            # of a console that has been synced for a while, not only of its first snapshot.
            await asyncio.sleep(args.hold)
            result["rss_kb_after_hold"] = peak_rss_kb()
        if args.refresh_rounds:
            app.stop_refreshers()
            for _ in range(20):  # let snapshots already posted drain before ours
                await pilot.pause(0.05)
            base = [cluster for cluster in app.state.clusters.values()]
            rounds = []
            for number in range(args.refresh_rounds):
                rounds.append(changed_fleet(base, 0.01, number))
                rounds.append(base)  # back again: also exactly 1% of the tasks changing
            samples, walls, per_cluster, render = [], [], [], []
            # Messages as the refresher threads make them, findings included, built off the clock.
            messages = [[message_for(app, cluster) for cluster in fleet] for fleet in rounds]
            changed_tasks = sum(
                1 for before, after in zip(base, rounds[0], strict=True)
                for old, new in zip(before.services, after.services, strict=True)
                for a, b in zip(old.tasks, new.tasks, strict=True) if a is not b)
            refresh_profiler = None
            if args.profile_refresh:
                import cProfile

                refresh_profiler = cProfile.Profile()
            for fleet_messages in messages:
                times, wall_times = [], []
                if refresh_profiler is not None:
                    refresh_profiler.enable()
                for message in fleet_messages:
                    started, started_wall = time.thread_time(), time.perf_counter()
                    app.on_cluster_updated(message)
                    times.append((time.thread_time() - started) * 1000)
                    wall_times.append((time.perf_counter() - started_wall) * 1000)
                if refresh_profiler is not None:
                    refresh_profiler.disable()
                samples.append(sum(times))
                walls.append(sum(wall_times))
                per_cluster.append(max(times))
                started = time.perf_counter()
                await pilot.pause()  # the repaint of the visible rows happens here, off the measured path
                render.append((time.perf_counter() - started) * 1000)
            if refresh_profiler is not None:
                refresh_profiler.dump_stats(args.profile_refresh)
            result |= {"refresh_ms": samples, "refresh_wall_ms": walls, "refresh_max_cluster_ms": per_cluster,
                       "render_ms": render, "changed_tasks": changed_tasks}
        app.exit()
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=0, help="the demo fleet's size (without --config)")
    parser.add_argument("--config", default="", help="a pilothouse config file instead of the demo fleet")
    parser.add_argument("--out", required=True)
    parser.add_argument("--refresh-rounds", type=int, default=0)
    parser.add_argument("--hold", type=float, default=0.0, help="seconds to keep refreshing after first paint")
    parser.add_argument("--profile", default="", help="cProfile stats file: start to first paint")
    parser.add_argument("--profile-refresh", default="", help="cProfile stats file: the measured refreshes")
    args = parser.parse_args()
    args.profile_stop = None
    if args.profile:
        import cProfile

        profiler = cProfile.Profile()

        def stop() -> None:
            profiler.disable()
            profiler.dump_stats(args.profile)

        args.profile_stop = stop
        profiler.enable()
    result = asyncio.run(run(args))
    result["started_wall"] = STARTED_WALL
    result["rss_kb"] = peak_rss_kb()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result["cpu_s"] = usage.ru_utime + usage.ru_stime
    Path(args.out).write_text(json.dumps(result))
    sys.exit(0)


if __name__ == "__main__":
    main()
