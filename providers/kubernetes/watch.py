"""The informer-like cache: one reflector thread per kind (and per namespace when `namespaces` is set).

A reflector lists once, then watches from the list's resourceVersion. A watch that times out is resumed
from the last resourceVersion seen (no list); 410 Gone means relist; other errors back off exponentially.
Every watch carries timeoutSeconds and a client read timeout, so a dropped network cannot hang a thread
forever. Lists are paged (limit/continue); an expired continue token (410) restarts the list.

With `namespaces` unset, every kind is listed cluster-wide. Where that is forbidden (RBAC that grants a
namespace, not the cluster: common for application teams) a namespaced kind falls back to the context's
namespace, as kubectl does; a 403 there too, or on a cluster-scoped kind (nodes), shows that kind as
forbidden, not as empty. The Event cache keeps the `max_event_cache` most recent, so a long session stays
bounded.

A reflector sees its provider only through a ReflectorHost: the live settings, the stop event, one
request function, a changed callback and the namespace fallback.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import gc
import logging
import random
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from pilothouse.providers.errors import Forbidden, ProviderError
from pilothouse.providers.kubernetes.client import Request, close_response, interrupt_response
from pilothouse.providers.kubernetes.decoding import decode_page, decode_watch_event
from pilothouse.providers.kubernetes.errors import translate_error
from pilothouse.providers.kubernetes.mapping import event_time
from pilothouse.providers.kubernetes.objects import (
    EVENTS,
    Kind,
    Obj,
    _dict,
    _int,
    _key,
    _str,
    collection_path,
    meta_of,
)
from pilothouse.providers.kubernetes.projection import project

log = logging.getLogger(__name__)


class WatchSettings(Protocol):
    """The provider's values a reflector reads, live (tests shorten the timings on the provider)."""

    @property
    def name(self) -> str: ...
    @property
    def endpoint(self) -> str: ...
    @property
    def watch_timeout_s(self) -> float: ...
    @property
    def watch_read_slack_s(self) -> float: ...
    @property
    def backoff_initial_s(self) -> float: ...
    @property
    def backoff_max_s(self) -> float: ...
    @property
    def forbidden_retry_s(self) -> float: ...
    @property
    def list_page_size(self) -> int: ...
    @property
    def max_event_cache(self) -> int: ...


@dataclass(frozen=True, slots=True)
class ReflectorHost:
    """All a reflector may use of the provider that runs it."""

    settings: WatchSettings
    stop: threading.Event  # set when the provider closes
    request: Request  # one API call
    changed: Callable[[], None]  # the cache, or a reflector's state, changed
    # Where a forbidden cluster-wide list of (kind, namespace) looks instead ("" = nowhere).
    fallback_namespace: Callable[[Kind, str], str]


_CONTINUE = re.compile(rb'"continue"\s*:\s*"([^"\\]*)"')
_gc_lock = threading.Lock()
_gc_pauses = 0


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """The cyclic GC off while a page is decoded: a page makes ~100k containers, and the collections they
    set off walk the whole heap (the cache included) again and again for no garbage; on for the rest."""
    global _gc_pauses
    with _gc_lock:
        _gc_pauses += 1
        if _gc_pauses == 1:
            gc.disable()
    try:
        yield
    finally:
        with _gc_lock:
            _gc_pauses -= 1
            if _gc_pauses == 0:
                gc.enable()


@functools.cache
def _pin_mmap_threshold() -> None:
    """Keep glibc's mmap threshold at its 128 KiB default, process-wide, once.

    glibc raises the threshold (up to 32 MiB) each time a block above it is freed; after the first list
    page (1-2 MB of body, as bytes and as str) every later page is carved from the heap instead, and the
    heap stays fragmented by them: about 10 MB more RSS at 10k pods. Elsewhere than glibc: nothing."""
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").mallopt(-3, 128 * 1024)  # M_MMAP_THRESHOLD


def _peek_continue(body: bytes) -> str | None:
    """A list page's continue token read from its head, before the page is decoded ("" when the head says
    there is none), or None when the head does not say (metadata after the items: then the whole is read)."""
    at = body.find(b'"items"', 0, 8192)
    if at < 0:
        return None
    found = _CONTINUE.search(body, 0, at)
    return found.group(1).decode("ascii", "replace") if found else ""


def _decoded_page(kind: Kind, body: bytes, into: dict[tuple[str, str], Obj]) -> Obj:
    """A list page decoded and its items projected into `into`; the page without its items is returned."""
    with _gc_paused():
        return decode_page(kind, body, into)


def _discard(upcoming: Future[bytes]) -> None:
    """A page read ahead that is not wanted after all (its body is dropped once read)."""
    upcoming.cancel()


class _Gone(Exception):
    """The watch position is too old (410): relist."""


class _StreamBroken(Exception):
    """An established watch stream ended abruptly."""



@dataclass
class Reflector:
    """List once, then watch from the list's resourceVersion, for one kind (in one namespace or all)."""

    host: ReflectorHost
    kind: Kind
    namespace: str = ""
    items: dict[tuple[str, str], Obj] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    settled: threading.Event = field(default_factory=threading.Event)  # first list answered, either way
    synced: bool = False
    forbidden: bool = False
    narrowed: bool = False  # fell back from cluster-wide to the context's namespace
    error: ProviderError | None = None
    # Since when its list or watch has failed (or been forbidden); None while it answers. Up to then the
    # cache was current.
    failing_since: datetime | None = None
    resource_version: str = ""
    thread: threading.Thread | None = None
    wake: threading.Event = field(default_factory=threading.Event)  # cuts a backoff short
    _response: Any = None
    _backoff: float = 0.0

    @property
    def label(self) -> str:
        return f"{self.kind.resource} in {self.namespace}" if self.namespace else self.kind.resource

    def start(self) -> None:
        _pin_mmap_threshold()
        self.thread = threading.Thread(
            target=self._run, name=f"k8s-{self.host.settings.name}-{self.label}", daemon=True
        )
        self.thread.start()

    def interrupt(self) -> None:
        """Unblock a read in progress (close() is called from another thread)."""
        self.wake.set()
        response = self._response
        if response is not None:
            interrupt_response(response)

    def retry_now(self) -> None:
        """End a backoff at once (new credentials), starting the next one afresh."""
        self._backoff = self.host.settings.backoff_initial_s
        self.wake.set()

    def snapshot_items(self) -> list[Obj]:
        with self.lock:
            return list(self.items.values())

    def _run(self) -> None:
        settings, stop = self.host.settings, self.host.stop
        self._backoff = settings.backoff_initial_s
        need_list = True
        while not stop.is_set():
            try:
                if need_list:
                    self._list()
                    need_list = False
                began = time.monotonic()
                self._watch()
                if time.monotonic() - began < min(1.0, settings.watch_timeout_s / 2):
                    self._pause()  # a watch that ends at once (a misbehaving proxy) must not spin
            except _Gone:
                need_list = True
            except _StreamBroken as broken:
                # An open watch died (API server restart, proxy idle cut): not an outage yet. Resume from
                # the last resourceVersion; only a failing reconnection counts as an error.
                log.debug("%s: watch stream broke: %r", self.label, broken.__cause__)
                self._pause()
            except Exception as raw:  # a reflector must outlive any failure
                if stop.is_set():
                    return
                if getattr(raw, "status", None) == 410:  # a 410 answer rather than an ERROR event
                    need_list = True
                    continue
                error = translate_error(raw, f"watching {self.label}", settings.endpoint)
                if isinstance(error, Forbidden):
                    fallback = self.host.fallback_namespace(self.kind, self.namespace)
                    if fallback:
                        log.info("%s: cluster-wide list forbidden; reading namespace %s", self.label, fallback)
                        self.namespace, self.narrowed = fallback, True
                        need_list = True
                        continue
                    with self.lock:
                        self.items.clear()
                    self.forbidden, self.synced, self.error = True, False, None
                    self.failing_since = self.failing_since or datetime.now(UTC)
                    need_list = True
                    self.settled.set()
                    self.host.changed()
                    # RBAC rarely changes; look again now and then, cluster-wide first if that was refused.
                    self._pause(settings.forbidden_retry_s)
                    if self.narrowed:
                        self.namespace, self.narrowed = "", False
                    continue
                log.debug("%s: %s", self.label, error)
                self.error = error
                self.failing_since = self.failing_since or datetime.now(UTC)
                self.settled.set()
                self.host.changed()
                self._pause()

    def _pause(self, seconds: float | None = None) -> None:
        """Exponential backoff with jitter, so that many watches do not retry in step."""
        if seconds is None:
            seconds = self._backoff * random.uniform(0.8, 1.2)
            self._backoff = min(self._backoff * 2, self.host.settings.backoff_max_s)
        self.wake.wait(seconds)
        self.wake.clear()

    def _trim(self) -> None:
        """Keep the Event cache bounded (the most recent ones); the lock is held by the caller."""
        if self.kind is not EVENTS:
            return
        excess = len(self.items) - self.host.settings.max_event_cache
        if excess <= 0:
            return
        if excess == 1:  # the steady state: one new event over the cap
            del self.items[min(self.items, key=lambda key: event_time(self.items[key]))]
            return
        for key in sorted(self.items, key=lambda key: event_time(self.items[key]))[:excess]:
            del self.items[key]

    def _list(self) -> None:
        settings = self.host.settings
        path = collection_path(self.kind, self.namespace)
        items: dict[tuple[str, str], Obj] = {}
        token, version = "", ""
        with ThreadPoolExecutor(1, thread_name_prefix=f"k8s-{settings.name}-{self.label}-page") as pages:
            # Pages (kubectl's 500 objects) are read one ahead: the next page is asked for as soon as this
            # one's head names it, so the server makes it while this one is decoded.
            upcoming: Future[bytes] = pages.submit(self._page, path, "")
            while True:
                body = upcoming.result()
                peeked = _peek_continue(body)
                if peeked:
                    upcoming = pages.submit(self._page, path, peeked)
                try:
                    page = _decoded_page(self.kind, body, items)
                except BaseException:
                    if peeked:
                        _discard(upcoming)
                    raise
                metadata = meta_of(page)
                version = _str(metadata.get("resourceVersion"))
                token = _str(metadata.get("continue"))
                if peeked is not None and peeked != token:  # the head said otherwise than the whole: trust the whole
                    if peeked:
                        _discard(upcoming)
                    peeked = None
                if not token:
                    break
                if peeked is None:
                    upcoming = pages.submit(self._page, path, token)
        with self.lock:
            self.items = items
            self._trim()
        self.resource_version = version
        self.synced, self.forbidden, self.error, self.failing_since = True, False, None, None
        self.settled.set()
        self.host.changed()

    def _page(self, path: str, token: str) -> bytes:
        """One list page's body, undecoded."""
        query: dict[str, Any] = {"limit": self.host.settings.list_page_size}
        if token:
            query["continue"] = token
        response = self.host.request("GET", path, query=query, stream=True)
        try:
            body = bytes(response.data or b"")
        except BaseException:
            close_response(response)  # read halfway: the connection is not reusable
            raise
        response.release_conn()
        return body

    def _watch(self) -> None:
        settings, stop = self.host.settings, self.host.stop
        # Spread the reconnections of many watches, as client-go does.
        timeout = int(settings.watch_timeout_s * random.uniform(1.0, 1.5)) or 1
        query = {
            "watch": "true", "resourceVersion": self.resource_version, "timeoutSeconds": timeout,
            "allowWatchBookmarks": "true",
        }
        response = self.host.request(
            "GET", collection_path(self.kind, self.namespace), query=query, stream=True,
            read_timeout=timeout + settings.watch_read_slack_s,
        )
        self._response = response
        try:
            if stop.is_set():  # close() ran before the response existed to interrupt
                return
            self._backoff = settings.backoff_initial_s
            if self.error is not None:
                self.error, self.failing_since = None, None
                self.host.changed()
            from kubernetes.watch.watch import iter_resp_lines
            from urllib3.exceptions import HTTPError as Urllib3Error

            try:
                for line in iter_resp_lines(response):
                    if stop.is_set():
                        return
                    if line:
                        self._apply(*decode_watch_event(self.kind, line))
            except (Urllib3Error, OSError) as error:
                raise _StreamBroken() from error
        finally:
            self._response = None
            with contextlib.suppress(Exception):
                response.release_conn()

    def _apply(self, event: Obj, projected: bool = False) -> None:
        """One watch event; `projected`: its object is already what the cache keeps (decoding.py)."""
        kind, obj = _str(event.get("type")), _dict(event.get("object"))
        if kind == "ERROR":
            code = _int(obj.get("code"))
            if code == 410:
                raise _Gone()
            from kubernetes.client.exceptions import ApiException

            raise ApiException(status=code, reason=_str(obj.get("message")) or "watch error")
        version = _str(meta_of(obj).get("resourceVersion"))
        if kind in ("ADDED", "MODIFIED"):
            kept = obj if projected else project(self.kind, obj)
            with self.lock:
                self.items[_key(kept)] = kept
                self._trim()
        elif kind == "DELETED":
            with self.lock:
                self.items.pop(_key(obj), None)
        if version:
            self.resource_version = version
        if kind != "BOOKMARK":
            self.host.changed()

