"""The cyclic garbage collector, paced for a console that holds a large fleet while the operator types.

CPython's full collection walks every tracked container with the interpreter held. At 10k pods the console
holds about 350k of them (watch caches, the model, table rows) and a full pass takes 150-200 ms; under an
event storm the automatic passes came about once a second, and the slowest key presses were the ones that met
one. So while the operator is at the keys (input within IDLE_S), what is alive once a snapshot is applied is
frozen (`gc.freeze`: mostly long-lived model, caches and rows) and the automatic passes walk only what is
newer. Objects that die by reference counting are freed as before, frozen or not; garbage cycles among frozen
objects wait for a full pass. So the console makes few: Textual's repaint caches no longer hold themselves
(widgets/textual_cycles.py) and screens remember the revision they drew, not the snapshot (a closed screen is a
cycle until a full pass). What remains is mostly closed screens' widget trees, about 4,000 objects a visit. A
full pass runs once the heap grew by half (FORCED_GROWTH) or after FORCE_S of typing. The heap is measured in
allocated memory blocks (`sys.getallocatedblocks`: a walk of the allocator's pools, 0.1 ms), not with
`gc.get_freeze_count`, which walks every frozen object: 40-55 ms at 10k pods, once a second and after every
snapshot, was itself the slowest thing the UI thread did under the storm. When the keys stop,
everything is handed back to CPython's own pacing (it collects as often as it always did, which keeps a quiet
console's memory flat).

Measured under the event storm (10k pods, 200 changes/s, a key every 0.25 s; tests/benchmarks/RESULTS.md):
about 60 automatic full passes a minute before the freezing, 3-5 with it while repaints still made cycles
(10,000 objects a second, 0.3-0.75 s a pass), 0-1 since (2,000-3,000 objects a second, the storm's service
screen opened and closed every 1.5 s).
"""

from __future__ import annotations

import gc
import sys
import time
from collections.abc import Callable

IDLE_S = 2.0
FORCED_GROWTH = 1.5
FORCED_FLOOR = 400_000  # allocated blocks (a 10k-pod console has ~1.5M): below this a full pass costs little
FORCE_S = 120.0


class PacedCollector:
    """Used from the UI thread only: `input_seen()` on every input event, `settle()` after a snapshot is
    applied, `tick()` from a timer, `release()` when the app ends."""

    def __init__(self, clock: Callable[[], float] = time.monotonic,
                 heap: Callable[[], int] = sys.getallocatedblocks) -> None:
        self._clock = clock
        self._heap = heap
        self._last_input: float | None = None
        self._since = clock()  # when the heap was last measured from (first freeze or full pass)
        self._baseline: int | None = None  # its size then; None: nothing frozen
        self.full_passes = 0

    def heap_size(self) -> int:
        """What growth is measured in: allocated memory blocks, unless a test gave its own measure."""
        return self._heap()

    def typing(self) -> bool:
        return self._last_input is not None and self._clock() - self._last_input < IDLE_S

    def input_seen(self) -> None:
        self._last_input = self._clock()

    def settle(self) -> None:
        if not self.typing():
            return
        gc.freeze()
        if self._baseline is None:
            self._baseline = self._heap()
            self._since = self._clock()

    def tick(self) -> bool:
        """Hand the frozen set back once the keys stopped; a full pass when typing has let it grow too far or
        too long. True when a full pass ran."""
        if self._baseline is None:
            return False
        if not self.typing():
            self.release()
            return False
        grown = self._heap() > max(self._baseline, FORCED_FLOOR) * FORCED_GROWTH
        if not grown and self._clock() - self._since < FORCE_S:
            return False
        gc.unfreeze()
        gc.collect()
        gc.freeze()
        self._baseline = self._heap()
        self._since = self._clock()
        self.full_passes += 1
        return True

    def release(self) -> None:
        """Back to CPython's own pacing: what is frozen returns to the oldest generation, where its next full
        pass finds the cycles (also when the app ends: a test run, the CLI after the TUI, go on without it)."""
        gc.unfreeze()
        self._baseline = None
