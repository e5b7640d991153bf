"""The cyclic garbage collector, paced for a console that holds a large fleet and answers keys.

CPython's full collection walks every tracked container with the interpreter held. At 10k pods the console
holds about 350k of them (watch caches, the model, table rows) and a full pass takes 150-200 ms; under an
event storm the automatic passes came about once a second, and the slowest key presses were the ones that met
one. What is alive once a snapshot is applied is mostly long-lived (model, caches, rows), so it is frozen
(`gc.freeze`) and the automatic passes walk only what is newer. Objects that die by reference counting are
freed as before, frozen or not; garbage cycles among frozen objects wait for a full pass over everything, and
Textual makes such cycles on every repaint (a Strip caches itself as its own crop): under a storm they grow
the frozen set by megabytes a second. The full pass runs when the operator pauses (no input for IDLE_S) and
the frozen set grew by a quarter or MIN_INTERVAL_S passed; during input, once it grew by half (FORCED_GROWTH)
or after FORCE_S. Measured under the event storm (10k pods, 200 changes/s, a key every 0.25 s): 5 full passes
a minute instead of about 60 automatic ones, key p99 171 -> 88 ms, peak RSS 166 -> 189 MB.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

IDLE_S = 2.0
GROWTH = 1.25  # CPython's own rule for its oldest generation: a full pass once it grew by a quarter
FORCED_GROWTH = 1.5
FORCED_FLOOR = 100_000  # objects: below this a full pass costs little whenever it comes
MIN_INTERVAL_S = 30.0
FORCE_S = 120.0


class PacedCollector:
    """Used from the UI thread only: `settle()` after a snapshot is applied, `input_seen()` on every input
    event, `collect_if_due()` from a timer, `release()` when the app ends."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._last_input = clock()
        self._last_full = clock()
        self._frozen_after_full: int | None = None
        self.full_passes = 0

    def input_seen(self) -> None:
        self._last_input = self._clock()

    def settle(self) -> None:
        gc.freeze()
        if self._frozen_after_full is None:  # growth counts from the first snapshot's heap
            self._frozen_after_full = gc.get_freeze_count()

    def due(self) -> bool:
        now = self._clock()
        since_full = now - self._last_full
        frozen = gc.get_freeze_count()
        baseline = self._frozen_after_full or 0
        if since_full >= FORCE_S or frozen > max(baseline, FORCED_FLOOR) * FORCED_GROWTH:
            return True
        if now - self._last_input < IDLE_S:
            return False
        return since_full >= MIN_INTERVAL_S or frozen > baseline * GROWTH

    def collect_if_due(self) -> bool:
        if not self.due():
            return False
        gc.unfreeze()
        gc.collect()
        gc.freeze()
        self._last_full = self._clock()
        self._frozen_after_full = gc.get_freeze_count()
        self.full_passes += 1
        return True

    def release(self) -> None:
        """Back to CPython's own pacing: what is frozen returns to the oldest generation, where the next full
        pass finds its cycles (the process may go on without this app: a test run, the CLI after the TUI)."""
        gc.unfreeze()
