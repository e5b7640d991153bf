"""The cyclic garbage collector, paced for a console that holds a large fleet and answers keys.

CPython's full collection walks every tracked container with the interpreter held. At 10k pods the console
holds about 350k of them (watch caches, the model, table rows) and a full pass takes 150-200 ms; under an
event storm the automatic passes came about once a second, and the slowest key presses were the ones that met
one. What is alive once a snapshot is applied is long-lived (model, caches, rows), so it is frozen
(`gc.freeze`) and the automatic passes walk only what is newer. Objects that die by reference counting are
freed as before, frozen or not; only garbage cycles among frozen objects (a closed screen's widgets) wait, for
a full pass over everything that runs when the operator pauses (no input for IDLE_S), or after FORCE_S
without a pause, at most every MIN_INTERVAL_S.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

IDLE_S = 2.0
MIN_INTERVAL_S = 30.0
FORCE_S = 120.0


class PacedCollector:
    """Used from the UI thread only: `settle()` after a snapshot is applied, `input_seen()` on every input
    event, `collect_if_due()` from a timer, `release()` when the app ends."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._last_input = clock()
        self._last_full = clock()
        self.full_passes = 0

    def input_seen(self) -> None:
        self._last_input = self._clock()

    def settle(self) -> None:
        gc.freeze()

    def due(self) -> bool:
        now = self._clock()
        since_full = now - self._last_full
        if since_full < MIN_INTERVAL_S:
            return False
        return now - self._last_input >= IDLE_S or since_full >= FORCE_S

    def collect_if_due(self) -> bool:
        if not self.due():
            return False
        gc.unfreeze()
        gc.collect()
        gc.freeze()
        self._last_full = self._clock()
        self.full_passes += 1
        return True

    def release(self) -> None:
        """Back to CPython's own pacing: what is frozen returns to the oldest generation, where the next full
        pass finds its cycles (the process may go on without this app: a test run, the CLI after the TUI)."""
        gc.unfreeze()
