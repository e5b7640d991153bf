"""The console under a Kubernetes event storm, in a process of its own on a pseudo-terminal (bench_storm.py).

Run as `python storm_child.py --kubeconfig FILE --dir DIR`: the real app (one Kubernetes cluster through the
real provider, its refresher thread, the doctor and attention passes) runs with Textual's real terminal driver
on the pty the parent gives it, so every frame is rendered and written as on a bastion. Inside the app:

- keys: once every row is on screen, a key is sent every KEY_GAP_S through the driver's own input path (as the
  Pilot sends them): down, up, down, up, enter (opens the service screen), escape (back). Its latency is from
  sending it to the first frame written to the terminal that shows its effect (the cursor on another row, the
  other screen), checked in App._display after each frame is written. The fleet is sorted worst first and
  re-sorted under the storm, so the cursor's row can reach the top or the bottom between two arrows: an arrow
  that could not move is sent the other way (`turned`), and one whose row reached the edge after it was sent
  is counted apart from the unanswered keys (`edge_keys`: received by the app, nothing to draw);
- samples every SAMPLE_S: the process CPU, per-thread CPU, the app's and the screens' message queue lengths,
  snapshots posted and not yet applied, the watch caches' sizes;
- convergence: when the parent writes DIR/expected.json (after the storm's last write), each frame is compared
  with the health and RUN/DES the server's final objects give; the first frame that matches is stamped, with
  the start of the snapshot it shows.

It writes DIR/painted (first paint), then DIR/result.json when the parent writes DIR/stop. STORM_PROFILE=DIR
profiles the UI thread per key; STORM_GC_CENSUS=1 counts the tracked objects by type at the end;
STORM_GARBAGE_CENSUS=1 counts, once mid-storm, the garbage cycles by type with what holds them (it runs a full
pass of its own: diagnostics, not a measurement).

Instrumentation reaches into Textual's privates (_batch_count, _driver, _message_queue: the names are listed in
PRIVATE_TEXTUAL_ALLOWED in tests/core/test_contracts.py): a benchmark measures what no public API exposes.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import gc
import json
import os
import resource
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

KEYS = ("down", "up", "down", "up", "enter", "escape")
KEY_GAP_S = 0.25
KEY_TIMEOUT_S = 10.0
SAMPLE_S = 0.5
POLL_S = 0.05
STARTS_KEPT = 50  # snapshots remembered by id (the one on screen is held by the app: its id stays its own)
SIZE = (120, 40)
CENSUS_AT_KEY = 120  # STORM_GARBAGE_CENSUS: about 40 s into the storm
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def thread_cpu() -> dict[str, float]:
    """CPU seconds of each live thread, by Python thread name (from /proc: other threads' time too)."""
    names = {thread.native_id: thread.name for thread in threading.enumerate()}
    result: dict[str, float] = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            fields = Path(f"/proc/self/task/{tid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        seconds = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
        name = names.get(int(tid), f"native-{tid}")
        result[name] = result.get(name, 0.0) + seconds
    return result


class Probe:
    """What the child measures; everything runs on the app's event loop except the counters."""

    def __init__(self, app: Any, directory: Path) -> None:
        self.app = app
        self.dir = directory
        self.pending: tuple[str, float, Any] | None = None  # (key, sent at, effect reached?)
        self.done = asyncio.Event()
        self.latencies: list[tuple[float, str, float]] = []  # (sent at, key, ms)
        # (sent at, key, times the app received a key since, (cursor row, rows) or None) of keys whose effect was
        # not drawn within KEY_TIMEOUT_S
        self.timeouts: list[tuple[float, str, int, tuple[int, int] | None]] = []
        self.edge_keys: list[tuple[float, str]] = []  # arrows received while their row reached the edge
        self.keys_received = 0  # Key events that reached the app's on_event
        self.received: list[float] = []  # when each reached it
        self.census: dict[str, Any] | None = None
        self.turned = 0  # arrows sent the other way: the cursor was on the edge the pattern's arrow moves to
        self.frames = 0
        self.samples: list[dict[str, Any]] = []
        self.posted = 0
        self.applied = 0
        self.superseded = 0
        # (started, ended, generation, objects collected) of GC passes
        self.collections: list[tuple[float, float, int, int]] = []
        # (when, sys.getallocatedblocks()) after each snapshot applied: what the collector paces full passes by
        # (gc.get_freeze_count walks every frozen object: tens of ms, a slow key of its own)
        self.heap_blocks: list[tuple[float, int]] = []
        self.applies: list[tuple[float, float]] = []  # (started, ended) of the UI applying a snapshot
        self.snapshots: list[tuple[float, float]] = []  # (started, ended) of provider.snapshot
        self.started_of: dict[int, float] = {}  # id(cluster) -> when its snapshot started
        self.expected: dict[str, Any] | None = None
        self.converged: dict[str, float] | None = None
        self.lock = threading.Lock()
        # STORM_PROFILE=DIR: the UI thread profiled (cProfile) from each key's sending to its frame, one
        # profile per key written to DIR/KEY.prof: where a key's latency goes.
        self.profilers: dict[str, Any] = {}
        if os.environ.get("STORM_PROFILE"):
            import cProfile

            self.profilers = {key: cProfile.Profile() for key in set(KEYS)}

    # -- hooks --------------------------------------------------------------------------------

    def install(self) -> None:
        app = self.app
        original_display = app._display

        def display(screen: Any, renderable: Any) -> None:
            original_display(screen, renderable)
            if renderable is None or app._batch_count:
                return
            self.frames += 1
            now = time.monotonic()
            pending = self.pending
            if pending is not None and pending[2]():
                self.latencies.append((pending[1], pending[0], (now - pending[1]) * 1000))
                self.pending = None
                self.done.set()
            if self.expected is not None and self.converged is None and self.matches():
                shown = next(iter(app.state.clusters.values()))
                self.converged = {"at": now, "snapshot_started": self.started_of.get(id(shown), 0.0)}
                (self.dir / "converged").write_text("")

        app._display = display
        collecting: dict[str, float] = {}

        def collection(phase: str, info: dict[str, Any]) -> None:  # the cyclic GC's pauses, any thread
            if phase == "start":
                collecting["at"] = time.monotonic()
            elif "at" in collecting:
                self.collections.append((collecting.pop("at"), time.monotonic(), info["generation"],
                                         info["collected"]))

        gc.callbacks.append(collection)
        fleet = app.fleet
        for provider in fleet.providers.values():
            original_snapshot = provider.snapshot

            def snapshot(original: Any = original_snapshot) -> Any:
                started = time.monotonic()
                cluster = original()
                with self.lock:
                    self.snapshots.append((started, time.monotonic()))
                    self.started_of[id(cluster)] = started
                    while len(self.started_of) > STARTS_KEPT:
                        del self.started_of[next(iter(self.started_of))]
                return cluster

            provider.snapshot = snapshot

    # -- keys ---------------------------------------------------------------------------------

    def effect(self, key: str) -> Any:
        from pilothouse.console.screens.fleet import FleetScreen
        from pilothouse.console.screens.service import ServiceScreen

        app = self.app
        if key in ("down", "up"):
            before = app.screen.table.cursor_key
            return lambda: isinstance(app.screen, FleetScreen) and app.screen.table.cursor_key != before
        if key == "enter":
            return lambda: isinstance(app.screen, ServiceScreen)
        return lambda: isinstance(app.screen, FleetScreen)

    def cursor_row(self) -> tuple[int, int] | None:
        """(cursor row, rows) of the fleet table; None on another screen."""
        from pilothouse.console.screens.fleet import FleetScreen

        screen = self.app.screen
        if not isinstance(screen, FleetScreen):
            return None
        return screen.table.cursor_coordinate.row, screen.table.row_count

    def movable(self, key: str) -> str:
        """`key`, or the other arrow when the cursor sits on the edge `key` moves towards: the fleet is sorted
        worst first and re-sorted by snapshots under the storm, so the cursor's row can reach row 0 between an
        up and a down, and an arrow that cannot move draws nothing to time."""
        position = self.cursor_row()
        if key not in ("down", "up") or position is None:
            return key
        row, rows = position
        turned = {"up": "down", "down": "up"}[key] if (row == 0 if key == "up" else row >= rows - 1) else key
        if turned != key:
            self.turned += 1
        return turned

    def at_edge(self, key: str) -> bool:
        """The cursor is where `key` cannot move it (a re-sort moved its row there after the key was chosen)."""
        position = self.cursor_row()
        if key not in ("down", "up") or position is None:
            return False
        row, rows = position
        return row == 0 if key == "up" else row >= rows - 1

    def garbage_census(self) -> None:
        """STORM_GARBAGE_CENSUS=1: once, mid-storm, what the garbage cycles are and what holds them (a full pass
        of its own: diagnostics only, it costs a slow key)."""
        gc.unfreeze()
        gc.set_debug(gc.DEBUG_SAVEALL)
        gc.collect()
        gc.set_debug(0)
        garbage = collections.Counter(type(one).__qualname__ for one in gc.garbage)
        census: dict[str, Any] = {"objects": len(gc.garbage), "top": garbage.most_common(25), "chains": []}
        ids = {id(one) for one in gc.garbage}
        for name in {name for name, _ in garbage.most_common(6)}:
            target = next((one for one in gc.garbage if type(one).__qualname__ == name), None)
            chain: list[str] = []
            seen: set[int] = set()
            while target is not None and len(chain) < 10:
                seen.add(id(target))
                chain.append(f"{type(target).__module__}.{type(target).__qualname__}"
                             + (f" keys={list(target)[:4]}" if isinstance(target, dict) else ""))
                target = next((one for one in gc.get_referrers(target) if id(one) in ids and id(one) not in seen),
                              None)
            census["chains"].append(chain)
        gc.garbage.clear()
        gc.collect()  # what DEBUG_SAVEALL kept, freed this time
        gc.freeze()
        self.census = census

    async def press_keys(self) -> None:
        from textual import events

        app = self.app
        index = 0
        while not (self.dir / "stop").exists():
            if index == CENSUS_AT_KEY and os.environ.get("STORM_GARBAGE_CENSUS"):
                self.garbage_census()
            key = self.movable(KEYS[index % len(KEYS)])
            index += 1
            self.done.clear()
            sent = time.monotonic()
            self.pending = (key, sent, self.effect(key))
            received_before = self.keys_received
            event = events.Key(key, None)
            event.set_sender(app)
            profiler = self.profilers.get(key)
            if profiler is not None:
                profiler.enable()
            app._driver.send_message(event)  # the path the terminal driver's input thread uses
            try:
                await asyncio.wait_for(self.done.wait(), KEY_TIMEOUT_S)
            except TimeoutError:
                self.pending = None
                # Received by the app and the cursor on the edge: the key was answered by a cursor that could
                # not move (nothing drawn to time), not lost; counted apart from the unanswered.
                if self.keys_received > received_before and self.at_edge(key):
                    self.edge_keys.append((sent, key))
                else:
                    self.timeouts.append((sent, key, self.keys_received - received_before, self.cursor_row()))
            if profiler is not None:
                profiler.disable()
            await asyncio.sleep(KEY_GAP_S)

    # -- samples ------------------------------------------------------------------------------

    def sample(self) -> dict[str, Any]:
        from ui_child import peak_rss_kb

        app = self.app
        provider = next(iter(app.fleet.providers.values()))
        caches: dict[str, int] = {}
        for reflector in getattr(provider, "_reflectors", []):
            caches[reflector.kind.resource] = caches.get(reflector.kind.resource, 0) + len(reflector.items)
        with self.lock:
            outstanding = self.posted - self.applied - self.superseded
        return {
            "t": time.monotonic(), "cpu": process_cpu(), "app_queue": app._message_queue.qsize(),
            "screen_queues": max((screen._message_queue.qsize() for screen in app.screen_stack), default=0),
            "outstanding_snapshots": outstanding, "caches": caches, "frames": self.frames,
            "rss_kb": peak_rss_kb(),
        }

    async def sample_loop(self) -> None:
        expected = self.dir / "expected.json"
        next_sample = 0.0
        while not (self.dir / "stop").exists():
            if time.monotonic() >= next_sample:
                self.samples.append(self.sample())
                next_sample = time.monotonic() + SAMPLE_S
            if self.expected is None and expected.exists():
                self.expected = json.loads(expected.read_text())  # written whole, then renamed into place
            await asyncio.sleep(POLL_S)

    def matches(self) -> bool:
        return self.mismatch() == ""

    def mismatch(self) -> str:
        """"" when the fleet table shows the health and RUN/DES of every service as the server's final objects
        give; else the first difference."""
        from pilothouse.console.screens.fleet import FleetScreen, row_key
        from pilothouse.providers.model import HealthCounts
        from pilothouse.widgets.render import health_text

        app, expected = self.app, self.expected
        assert expected is not None
        screen = app.screen
        if not isinstance(screen, FleetScreen):
            return "another screen"
        cluster = next(iter(app.state.clusters.values()))
        by_ref = {service.ref: service.id for service in cluster.services}
        for ref, (health, replicas) in expected["services"].items():
            service_id = by_ref.get(ref)
            if service_id is None:
                return f"{ref}: not in the model"
            try:
                cells = screen.table.row_cells(row_key(cluster.name, service_id))
            except KeyError:
                return f"{ref}: no row"
            want = (health_text(HealthCounts(*health)).plain, replicas)
            shown = (cells[6].plain(), cells[5].plain())
            if shown != want:
                return f"{ref}: shows {shown[0]} {shown[1]}, the server has {want[0]} {want[1]}"
        return ""


def probed_app(config: Any) -> Any:
    """The console's app, counting the snapshots its refresher hands over and the ones the UI applies. A snapshot
    handed over while another of the cluster's waits replaces it (superseded), so waiting = posted - applied -
    superseded, at most one per cluster."""
    from textual import events

    import pilothouse.console.app as console_app
    from pilothouse.console.app import ClusterUpdated, PilothouseApp
    from pilothouse.console.fleet import Fleet

    class ProbedApp(PilothouseApp):
        CSS_PATH = str(Path(console_app.__file__).with_name("app.tcss"))  # Textual reads it beside the class
        probe: Probe

        def hand_over(self, update: ClusterUpdated) -> bool:
            with self.probe.lock:  # counted with the hand-over, before the UI can apply it
                replaced = super().hand_over(update)
                self.probe.posted += 1
                self.probe.superseded += replaced
            return replaced

        async def on_event(self, event: events.Event) -> None:
            if isinstance(event, events.Key):
                self.probe.keys_received += 1
                self.probe.received.append(time.monotonic())
            await super().on_event(event)

        def on_cluster_updated(self, message: ClusterUpdated) -> None:
            with self.probe.lock:
                self.probe.applied += 1
            started = time.monotonic()
            super().on_cluster_updated(message)
            self.probe.applies.append((started, time.monotonic()))
            self.probe.heap_blocks.append((time.monotonic(), sys.getallocatedblocks()))

    return ProbedApp(Fleet(config), config)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    from pilothouse.console.config import AppConfig
    from pilothouse.providers.base import ClusterConfig

    directory = Path(args.dir)
    config = AppConfig(clusters=(ClusterConfig("storm", "kubernetes", options={"kubeconfig": args.kubeconfig}),))
    app = probed_app(config)
    probe = Probe(app, directory)
    app.probe = probe
    probe.install()
    async with app.run_test(size=SIZE, headless=False) as pilot:
        from ui_child import fully_drawn

        while not fully_drawn(app):
            if getattr(app, "_exception", None) is not None:
                raise RuntimeError("the app crashed before its first paint")
            await asyncio.sleep(0.01)
        await pilot.pause(0)
        (directory / "painted").write_text(str(time.monotonic()))
        thread_cpu_start = thread_cpu()
        keys = asyncio.create_task(probe.press_keys())
        samples = asyncio.create_task(probe.sample_loop())
        await asyncio.gather(keys, samples)
        result = {
            "latencies": probe.latencies, "timeouts": probe.timeouts, "edge_keys": probe.edge_keys,
            "turned": probe.turned, "received": probe.received, "garbage_census": probe.census,
            "samples": probe.samples,
            "snapshots": probe.snapshots, "converged": probe.converged, "posted": probe.posted,
            "applied": probe.applied, "superseded": probe.superseded, "applies": probe.applies,
            "collections": probe.collections, "heap_blocks": probe.heap_blocks,
            "thread_cpu_start": thread_cpu_start, "thread_cpu_end": thread_cpu(),
            "frames": probe.frames, "mismatch_at_end": probe.mismatch() if probe.expected else "no expectation",
        }
        if os.environ.get("STORM_GC_CENSUS"):  # what the cyclic GC walks at the end: the heaviest types
            census = collections.Counter(type(one).__qualname__ for one in gc.get_objects())
            result["gc_census"] = {"tracked": sum(census.values()), "top": census.most_common(20)}
        for key, profiler in probe.profilers.items():
            profiler.dump_stats(str(Path(os.environ["STORM_PROFILE"], f"{key}.prof")))
        app.exit()
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--dir", required=True)
    parser.add_argument("--errors", required=True, help="where a traceback goes (stderr is the terminal)")
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    try:
        result = asyncio.run(run(args))
    except BaseException:
        Path(args.errors).write_text(traceback.format_exc())
        raise
    Path(args.dir, "result.json").write_text(json.dumps(result))
    os._exit(0)  # the watch threads are daemons; do not wait for their reads to time out


if __name__ == "__main__":
    main()
