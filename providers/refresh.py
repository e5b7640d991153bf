"""The refresh loop for one cluster: connect, snapshot, wait, repeat; never overlapping, never dying.

It runs in a worker thread (the console wraps it in a Textual thread worker; `status` and the benchmarks
call it directly) and hands every snapshot to a callback. A change pushed by the provider's watch wakes it
early; errors keep the last good data, marked with the error, and back off exponentially.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from pilothouse.providers.base import Provider
from pilothouse.providers.errors import CredentialsError, ProviderError, Unreachable
from pilothouse.providers.model import Cluster, ConnectionState

log = logging.getLogger("pilothouse.refresh")
MAX_BACKOFF_S = 60.0
DEFAULT_INTERVAL_S = 2.0
MAX_INTERVAL_S = 3600.0  # threading waits overflow on huge timeouts (1e308)
# A burst of watch events (a rolling update emits dozens) becomes one refresh.
COALESCE_S = 0.05
# Under a storm of watch events (hundreds of pod changes a second), the next snapshot waits at least three times
# the CPU the last one took (at most MAX_SPACING_S): the refresher's thread is then busy a quarter of the time at
# most, and the UI thread, which shares the interpreter with it and draws each snapshot, keeps answering keys
# (tests/benchmarks/RESULTS.md, the event storm). A change still shows within one snapshot after it.
STORM_SPACING = 3.0
MAX_SPACING_S = 2.0


def failed_snapshot(provider: Provider, last: Cluster | None, error: Exception) -> Cluster:
    """The last good data, kept but marked unreachable, or an empty cluster if there was none."""
    message = str(error) if isinstance(error, ProviderError) else f"unexpected error: {error!r}"
    needs_login = isinstance(error, CredentialsError)
    if last is None:
        return Cluster(
            name=provider.name, kind=provider.kind, state=ConnectionState.UNREACHABLE, error=message,
            needs_login=needs_login,
        )
    return dataclasses.replace(last, state=ConnectionState.UNREACHABLE, error=message, needs_login=needs_login)


class ClusterRefresher:
    def __init__(
        self,
        provider: Provider,
        on_snapshot: Callable[[Cluster], None],
        interval: float | None = None,
    ) -> None:
        self.provider = provider
        self.on_snapshot = on_snapshot
        self.interval = interval if interval is not None else provider.config.refresh_interval
        self.stop_event = threading.Event()
        self._wake = threading.Event()
        self._last: Cluster | None = None
        self.last_cycle_cpu_s = 0.0  # this thread's CPU for the last snapshot and its delivery (no network waits)
        self._connected = False
        self._watching = False
        self.failures = 0

    def poke(self) -> None:
        """Refresh as soon as possible (a watch event, a mutation, the operator pressing r)."""
        self._wake.set()

    def stop(self) -> None:
        self.stop_event.set()
        self._wake.set()

    def refresh_once(self) -> Cluster:
        """One connect-if-needed + snapshot; errors become an unreachable snapshot, never an exception."""
        try:
            if not self._connected:
                self.provider.connect()
                self._connected = True
                if not self._watching:
                    self._watching = self.provider.start_watch(self.poke)
            cluster = self.provider.snapshot()
        except Exception as error:
            self.failures += 1
            if self.failures == 1 or self.failures % 10 == 0:
                log.warning("%s: refresh failed (%d in a row): %s", self.provider.name, self.failures, error)
            if not isinstance(error, ProviderError) or isinstance(error, Unreachable):
                # Reconnect next time: the client may hold a dead connection.
                self._connected = False
            cluster = failed_snapshot(self.provider, self._last, error)
        else:
            if self.failures:
                log.info("%s: refresh recovered after %d failures", self.provider.name, self.failures)
            self.failures = 0
            if cluster.last_sync is None:
                cluster.last_sync = datetime.now(UTC)
            self._last = cluster
        return cluster

    def next_delay(self) -> float:
        # The config checks intervals; a provider or test that passes nan, inf or <= 0 must still neither spin
        # (nan waits not at all) nor overflow a timer (inf): fall back to the default.
        interval = self.interval if math.isfinite(self.interval) and self.interval > 0 else DEFAULT_INTERVAL_S
        if self.failures == 0:
            return min(interval, MAX_INTERVAL_S)
        return float(min(MAX_BACKOFF_S, interval * (2 ** min(self.failures, 6))))

    def wait_next(self) -> None:
        """Until the next refresh is due: the interval (backed off after errors), or a poke."""
        if self._wake.wait(self.next_delay()) and not self.stop_event.is_set():
            self.stop_event.wait(max(COALESCE_S, min(MAX_SPACING_S, self.last_cycle_cpu_s * STORM_SPACING)))
        self._wake.clear()

    def run(self) -> None:
        """Loop until stop(); the caller's thread does all the blocking."""
        try:
            while not self.stop_event.is_set():
                self._wake.clear()
                started, connecting = time.thread_time(), not self._connected
                cluster = self.refresh_once()
                if self.stop_event.is_set():
                    break
                self.on_snapshot(cluster)
                # A connect (an SDK imported, a first list decoded) is no measure of what the next refresh costs.
                self.last_cycle_cpu_s = 0.0 if connecting else time.thread_time() - started
                self.wait_next()
        finally:
            self.provider.close()
