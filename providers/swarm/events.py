"""The cluster's timeline and the live watch, both from the engine's `/events` stream.

Changes made outside pilothouse arrive through `/events` (service and node events; Swarm has no task
events, so tasks are polled). The same events, seeded on connect from the engine's recent history, are the
cluster's timeline: a bounded buffer, deduplicated by the raw event's key, because the seed, the watch and
its replays after a break overlap.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pilothouse.providers.errors import ProviderError
from pilothouse.providers.model import Event
from pilothouse.providers.swarm.client import Endpoint, new_client
from pilothouse.providers.swarm.errors import translate_error
from pilothouse.providers.swarm.raw import Raw, as_dict, as_labels, as_str, opt_int

if TYPE_CHECKING:
    from docker.api.client import APIClient

# The timeline's buffer: bounded, so a long session on a busy swarm cannot grow without end.
MAX_EVENTS = 1000
# A fresh provider (a one-shot CLI run) asks the engine for this much recent history on connect.
EVENT_SEED_WINDOW_S = 15 * 60
WATCH_MAX_BACKOFF_S = 30.0
RESUME_SKEW_S = 5.0
EVENT_FILTERS = {"type": ["service", "node"]}


def event_changes(attributes: Mapping[str, str]) -> list[str]:
    """`updatestate.old`/`updatestate.new` -> "updatestate paused -> updating"; lone keys as "key value"."""
    changes: list[str] = []
    paired: set[str] = set()
    for key in sorted(attributes):
        if key == "name" or key in paired:
            continue
        base, _, side = key.rpartition(".")
        if side in ("old", "new") and base:
            old, new = attributes.get(f"{base}.old", ""), attributes.get(f"{base}.new", "")
            paired.update((f"{base}.old", f"{base}.new"))
            changes.append(f"{base} {old} -> {new}" if old else f"{base} -> {new}")
        else:
            changes.append(f"{key} {attributes[key]}")
    # The rollout's state first: it is what an operator scans a timeline for.
    changes.sort(key=lambda change: not change.startswith("updatestate "))
    return changes


def map_event(event: Raw, cluster: str) -> Event | None:
    kind = as_str(event.get("Type"))
    if kind not in ("service", "node"):
        return None
    actor = as_dict(event.get("Actor"))
    attributes = as_labels(actor.get("Attributes"))
    name = attributes.get("name") or as_str(actor.get("ID"))[:12]
    nano = opt_int(event.get("timeNano"))
    seconds = opt_int(event.get("time"))
    stamp = nano / 1e9 if nano else float(seconds or 0)
    try:
        when = datetime.fromtimestamp(stamp, UTC)
    except (OverflowError, OSError, ValueError):
        when = datetime.fromtimestamp(0, UTC)
    details = ", ".join(event_changes(attributes))
    action = as_str(event.get("Action")) or "update"
    return Event(
        time=when,
        cluster=cluster,
        object=f"{kind} {name}",
        kind=action,
        message=f"{kind} {name} {action}" + (f": {details}" if details else ""),
        service_ref=name if kind == "service" else "",
    )



class EventBuffer:
    """The timeline: mapped events, bounded, each raw event taken once. Thread-safe (the watch feeds it)."""

    def __init__(self, cluster: str) -> None:
        self.cluster = cluster
        self._events: deque[Event] = deque(maxlen=MAX_EVENTS)
        self._lock = threading.Lock()
        # Keys of the raw events already taken: the seed, the watch and its replays after a break overlap.
        self._seen_order: deque[tuple[Any, ...]] = deque()
        self._seen: set[tuple[Any, ...]] = set()

    def take(self, raw: Raw) -> bool:
        """Buffer one raw event unless it was seen already; True when it is new."""
        actor = as_dict(raw.get("Actor"))
        key = (raw.get("timeNano"), raw.get("Type"), raw.get("Action"), actor.get("ID"))
        event = map_event(raw, self.cluster)
        with self._lock:
            if key in self._seen:
                return False
            self._seen.add(key)
            self._seen_order.append(key)
            if len(self._seen_order) > 2 * MAX_EVENTS:
                self._seen.discard(self._seen_order.popleft())
            if event is not None:
                self._events.append(event)
        return True

    def events(self) -> tuple[Event, ...]:
        with self._lock:
            return tuple(self._events)

    def seed(self, client: APIClient) -> int | None:
        """Recent history from the engine, so that even a one-shot `pilothouse events` has a timeline.

        A finite query (since..until); returns `until`, where the watch then starts, or None when the query
        failed. Best effort: a failure here must not fail the connection, the watch fills the buffer from now on.
        """
        until = int(time.time())
        try:
            for raw in client.events(since=until - EVENT_SEED_WINDOW_S, until=until,
                                     filters=EVENT_FILTERS, decode=True):
                self.take(as_dict(raw))
        except Exception:  # the engine's history is a bonus, not a requirement
            return None
        return until


class EventWatch:
    """One thread reading `/events` into an EventBuffer, reopening the stream with backoff when it breaks.

    It owns its own client (the stream holds a connection for as long as it lives) and talks to the
    provider only through the buffer and the `on_change` callback.
    """

    def __init__(self, name: str, buffer: EventBuffer, refresh_interval: float) -> None:
        self.name = name
        self.buffer = buffer
        self.refresh_interval = refresh_interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._stream: Any = None
        self._client: APIClient | None = None
        self._lock = threading.Lock()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, endpoint: Endpoint, version: str, since: float | None, on_change: Callable[[], None]) -> None:
        """Open the stream now (so a change right after this returns is not missed), then read it in a thread."""
        self._stop.clear()
        with contextlib.suppress(ProviderError):  # the thread keeps trying with backoff
            # From where the seed ended: nothing falls between the engine's history and the live stream.
            self._open(endpoint, version, since=since)
        self._thread = threading.Thread(
            target=self._loop, args=(endpoint, version, on_change), name=f"swarm-events-{self.name}",
            daemon=True,
        )
        self._thread.start()

    def _open(self, endpoint: Endpoint, version: str, since: float | None) -> Iterator[Any]:
        client = new_client(endpoint, version=version)
        try:
            stream = client.events(since=since, filters=EVENT_FILTERS, decode=True)
        except Exception as error:
            client.close()
            raise translate_error(error, endpoint.base_url) from None
        with self._lock:
            self._close_stream()
            self._stream, self._client = stream, client
        return iter(stream)

    def _swarm_answers(self) -> bool:
        """Can the manager serve the swarm's state again (its engine may answer before raft has a leader)?"""
        with self._lock:
            client = self._client
        if client is None:
            return False
        try:
            client.inspect_swarm()
            client.nodes(filters={"role": "manager"})
        except Exception:  # not yet: any failure means "ask again"
            return False
        return True

    def _loop(self, endpoint: Endpoint, version: str, on_change: Callable[[], None]) -> None:
        # Reconnect attempts back off, but never beyond the refresh interval: an attempt on a refused socket
        # costs nothing, and the console must notice within one or two intervals that the manager is back
        # (the refresher's own backoff may by then be much longer; our poke cuts it short).
        max_backoff = max(0.5, min(WATCH_MAX_BACKOFF_S, self.refresh_interval))
        backoff = 0.5
        # After a break, resume from a little before we noticed it (a margin for clock skew between us and
        # the engine): the engine replays what we missed, and events seen twice are dropped by key.
        broke_at = time.time()
        while not self._stop.is_set():
            with self._lock:
                stream = self._stream
            if stream is None:
                try:
                    stream = self._open(endpoint, version, since=broke_at - RESUME_SKEW_S)
                except ProviderError:
                    self._stop.wait(backoff)
                    backoff = min(max_backoff, backoff * 2)
                    continue
                while not self._stop.is_set() and not self._swarm_answers():
                    self._stop.wait(min(1.0, max_backoff))
                # Whatever happened while the stream was down is worth a refresh.
                on_change()
            try:
                for raw in stream:
                    if self._stop.is_set():
                        break
                    backoff = 0.5
                    self.buffer.take(as_dict(raw))
                    on_change()
            except Exception:  # a broken stream is reopened below
                pass
            broke_at = time.time()
            with self._lock:
                if self._stream is stream:
                    self._close_stream()
            if not self._stop.is_set():
                # The engine went away (or restarted): refresh now, so the console shows it at once.
                on_change()
                self._stop.wait(backoff)
                backoff = min(max_backoff, backoff * 2)

    def _close_stream(self) -> None:
        """Caller holds _lock."""
        stream, self._stream = self._stream, None
        client, self._client = self._client, None
        # Closing a dead socket may fail; it is gone either way.
        with contextlib.suppress(Exception):
            if stream is not None:
                stream.close()
        with contextlib.suppress(Exception):
            if client is not None:
                client.close()

    def close(self) -> None:
        self._stop.set()
        with self._lock:
            self._close_stream()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)
        self._thread = None
