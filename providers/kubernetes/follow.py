"""Reading pod logs: history merged in time order, or a follow with one reader thread per container.

Follow opens one stream per container (at most `max_log_follow_streams`, as kubectl's --max-log-requests),
resumes a stream that went quiet past its read timeout from the last line's time without repeating lines;
`stop` closes open responses from the consuming thread at once. A follow of the workload (or of a pod name
prefix) goes on until `stop`, as the workload outlives its pods: it looks at the pod cache every 2 s (and
when a stream ends) and follows, from their first line and within the same bound, the containers of pods
that appeared meanwhile and the next instance of a container that restarted. One pod named exactly ends
with it.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

from pilothouse.providers.base import LogLine
from pilothouse.providers.errors import InvalidInput, NotFound, ProviderError, Unreachable
from pilothouse.providers.kubernetes.client import Request, close_response, interrupt_response
from pilothouse.providers.kubernetes.errors import translate_error
from pilothouse.providers.kubernetes.logs import (
    LOG_NOTICE_SOURCE,
    LogStream,
    LogTarget,
    follows,
    parse_log_line,
    pod_identity,
    pod_log_streams,
    response_lines,
    stream_groups,
    workload_pods,
)
from pilothouse.providers.kubernetes.objects import (
    EPOCH,
    PODS,
    REPLICASETS,
    Obj,
    _dict,
    _int,
    _key,
    _list,
    _str,
    meta_of,
)


class LogSettings(Protocol):
    """The provider's values the log readers read, live (tests shorten them on the provider)."""

    @property
    def endpoint(self) -> str: ...
    @property
    def request_timeout_s(self) -> float: ...
    @property
    def backoff_initial_s(self) -> float: ...
    @property
    def log_follow_read_timeout_s(self) -> float: ...
    @property
    def log_max_reconnects(self) -> int: ...
    @property
    def log_queue_size(self) -> int: ...
    @property
    def max_log_follow_streams(self) -> int: ...
    @property
    def log_new_pod_interval_s(self) -> float: ...


class NewPodScout:
    """Finds the containers of a followed workload that the follow does not read yet, in the provider's pod
    cache (the reflectors keep it current: no API call): those of pods that appeared meanwhile, and the next
    instance of a container that restarted. Each container instance is given a reader once."""

    def __init__(
        self, cached: Callable[[str], list[Obj]], kind: str, namespace: str, name: str, target: LogTarget,
    ) -> None:
        self.cached, self.kind, self.namespace, self.name, self.target = cached, kind, namespace, name, target
        # Keys are (pod identity, container, restart count): one instance of one container.
        self._started: set[tuple[str, str, int]] = set()  # given a reader
        self._announced: set[tuple[str, str, int]] = set()  # waiting to start, and said so
        self._refused: set[tuple[str, str, int]] = set()  # over the follow bound, and said so
        self._shown: set[tuple[str, str]] = set()  # (pod identity, container) whose earlier instances were shown

    @staticmethod
    def _key(pod: Obj, container: str) -> tuple[str, str, int]:
        statuses = _list(_dict(pod.get("status")).get("containerStatuses"))
        restarts = next((_int(_dict(s).get("restartCount")) for s in statuses
                         if _str(_dict(s).get("name")) == container), 0)
        return pod_identity(pod), container, restarts

    def know(self, pod: Obj, streams: list[LogStream]) -> None:
        """The follow reads these streams of `pod` already; a container waiting to start is followed once
        it starts."""
        for group in stream_groups(streams):
            key = self._key(pod, group[0].container)
            (self._announced if group[-1].waiting else self._started).add(key)
            self._shown.add(key[:2])

    def started(self, key: tuple[str, str, int]) -> None:
        self._started.add(key)
        self._shown.add(key[:2])

    def refuse_once(self, key: tuple[str, str, int]) -> bool:
        """True the first time `key` is refused (say it once, not at every look)."""
        if key in self._refused:
            return False
        self._refused.add(key)
        return True

    def look(self) -> tuple[list[tuple[tuple[str, str, int], list[LogStream]]], list[LogLine]]:
        """Stream groups (one per container instance) to start now, and notices to show first."""
        pods = workload_pods(self.kind, self.namespace, self.name, self.cached(REPLICASETS.resource),
                             self.cached(PODS.resource))
        now = datetime.now(UTC)
        found: list[tuple[tuple[str, str, int], list[LogStream]]] = []
        notices: list[LogLine] = []
        for pod in pods:
            if not self.target.admits(_key(pod)[1]) or meta_of(pod).get("deletionTimestamp"):
                continue  # not picked, or going away: nothing new to see
            try:
                streams = pod_log_streams(pod, self.target.container, now)
            except NotFound:  # a newcomer without the container picked (the pod template changed)
                continue
            for group in stream_groups(streams):
                key = self._key(pod, group[0].container)
                if key in self._started:
                    continue
                current = group[-1]
                if key[:2] in self._shown:
                    # A restart: the instance that ended was read to its last line, so only the new one is
                    # news, once it runs (in back-off kubelet serves the old one again, marked previous).
                    if current.previous or current.waiting:
                        continue
                    if key not in self._announced:
                        self._announced.add(key)
                        notices.append(LogLine(None, current.source, f"[container restarted: restart {key[2]}]"))
                    found.append((key, [current]))
                    continue
                if current.waiting:
                    if key not in self._announced:
                        self._announced.add(key)
                        notices.append(LogLine(None, current.source,
                                               f"[new pod, container waiting to start: {current.waiting}]"))
                    continue
                found.append((key, group))
        return found, notices


class LogReader:
    """Reads log streams through one request function; see the module docstring."""

    def __init__(self, request: Request, settings: LogSettings) -> None:
        self.request, self.settings = request, settings

    def _open(self, stream: LogStream, query: Mapping[str, Any], read_timeout: float) -> Any:
        return self.request("GET", stream.path, query=query, stream=True, accept="*/*",
                             read_timeout=read_timeout, doing=f"reading the log of {stream.source}")

    def read(self, stream: LogStream, tail: int | None, stop: threading.Event) -> Iterator[LogLine]:
        """One stream's lines, to its end (no follow); a pod gone or a container not started is a note."""
        if stream.waiting:
            yield LogLine(None, stream.source, f"[container waiting to start: {stream.waiting}]")
            return
        try:
            response = self._open(stream, stream.query(tail=tail, follow=False), self.settings.request_timeout_s)
        except InvalidInput as error:  # 400/404: the pod went away, or it has no such instance any more
            yield LogLine(None, stream.source, f"[no log: {error.message}]")
            return
        try:
            for raw in response_lines(response):
                if stop.is_set():
                    return
                when, text = parse_log_line(raw)
                yield LogLine(when, stream.source, text)
        except Exception as error:
            raise translate_error(error, f"reading the log of {stream.source}", self.settings.endpoint) from error
        finally:
            close_response(response)

    def history(self, streams: list[LogStream], tail: int, stop: threading.Event) -> Iterator[LogLine]:
        lines: list[tuple[datetime, int, LogLine]] = []
        for stream in streams:
            last = EPOCH
            for line in self.read(stream, tail, stop):
                # An unstamped line sorts with the line before it.
                last = line.time or last
                lines.append((last, len(lines), line))
        lines.sort(key=lambda item: (item[0], item[1]))
        for _, _, line in lines:
            if stop.is_set():
                return
            yield line

    def follow(
        self, streams: list[LogStream], tail: int, stop: threading.Event, scout: NewPodScout | None = None,
    ) -> Iterator[LogLine]:
        """One reader thread per container (its previous instance first), lines through a bounded queue.

        With a scout (a follow of the workload, or of a pod name prefix), the pod cache is looked at every
        `log_new_pod_interval_s`, and at once when a reader ends, and a reader is started for each new
        container instance, from its first line, within `max_log_follow_streams` (one over it waits for a
        slot, said once); such a follow goes on until `stop`, as the workload outlives its pods. Without a
        scout (one pod named exactly) the follow ends when every reader has ended, as `kubectl logs -f`.
        Leaving (stop set, the consumer closing the generator, an error) closes every open response from
        this thread, which unblocks the readers at once; no read waits for its timeout.
        """
        done = threading.Event()
        lines: queue.Queue[LogLine | ProviderError | None] = queue.Queue(maxsize=self.settings.log_queue_size)
        responses: set[Any] = set()
        responses_lock = threading.Lock()
        live_follows = [0]  # readers following a current container now; under responses_lock

        def emit(item: LogLine | ProviderError | None) -> bool:
            while not done.is_set():
                try:
                    lines.put(item, timeout=0.2)
                    return True
                except queue.Full:
                    continue
            return False

        def read(group: list[LogStream], group_tail: int | None) -> None:
            try:
                for stream in group:
                    if stream.previous or stream.waiting:
                        for line in self.read(stream, group_tail, done):
                            if not emit(line):
                                return
                    else:
                        self._follow_stream(stream, group_tail, done, emit, responses, responses_lock)
            except ProviderError as error:
                if not done.is_set():
                    emit(error)
            except Exception as error:  # a reader must always report and end
                if not done.is_set():
                    emit(translate_error(error, "following logs", self.settings.endpoint))
            finally:
                if follows(group):
                    with responses_lock:
                        live_follows[0] -= 1
                emit(None)

        threads: list[threading.Thread] = []

        def start(group: list[LogStream], group_tail: int | None) -> None:
            if follows(group):
                with responses_lock:
                    live_follows[0] += 1
            thread = threading.Thread(target=read, args=(group, group_tail), name=f"k8s-logs-{group[0].source}",
                                      daemon=True)
            threads.append(thread)
            thread.start()

        def newcomers() -> list[LogLine]:
            """Start readers for the scout's new container instances; the notices to show."""
            assert scout is not None
            found, notices = scout.look()
            for key, group in found:
                with responses_lock:
                    full = live_follows[0] >= self.settings.max_log_follow_streams
                if follows(group) and full:
                    if scout.refuse_once(key):
                        notices.append(LogLine(None, LOG_NOTICE_SOURCE, (
                            f"[not following {group[-1].source} yet: {self.settings.max_log_follow_streams} containers "
                            "are followed already; it starts, from its first line, when one of them ends]")))
                    continue
                scout.started(key)
                start(group, None)  # a newcomer from its first line: nothing of it was shown yet
            return notices

        def generate() -> Iterator[LogLine]:
            for group in stream_groups(streams):
                start(group, tail)
            ended = 0
            next_look = time.monotonic() + self.settings.log_new_pod_interval_s
            look_now = False  # a reader ended: its container may have restarted, or a slot came free
            try:
                while not stop.is_set():
                    if scout is not None and (look_now or time.monotonic() >= next_look):
                        look_now, next_look = False, time.monotonic() + self.settings.log_new_pod_interval_s
                        yield from newcomers()
                    elif scout is None and ended >= len(threads):
                        return
                    try:
                        item = lines.get(timeout=0.1)
                    except queue.Empty:
                        continue
                    if item is None:
                        ended += 1
                        look_now = True
                    elif isinstance(item, ProviderError):
                        raise item
                    else:
                        yield item
            finally:
                done.set()
                with responses_lock:
                    open_responses = list(responses)
                for response in open_responses:
                    interrupt_response(response)
                for thread in threads:
                    thread.join(timeout=2.0)

        return generate()

    def _follow_stream(
        self, stream: LogStream, tail: int | None, done: threading.Event, emit: Callable[[LogLine], bool],
        responses: set[Any], responses_lock: threading.Lock,
    ) -> None:
        """Follow one container until its log ends; a quiet stream that times out is resumed, not repeated."""
        last_time: datetime | None = None
        shown_at_last = 0  # lines already shown with exactly `last_time`
        resumed, failures = False, 0
        while not done.is_set():
            query = stream.query(tail=None if resumed else tail, follow=True, since=last_time if resumed else None)
            if resumed and last_time is None:
                query["tailLines"] = 0  # nothing was shown yet: only what comes from now on
            try:
                response = self._open(stream, query, self.settings.log_follow_read_timeout_s)
            except InvalidInput as error:
                emit(LogLine(None, stream.source, f"[no log: {error.message}]"))
                return
            except Unreachable:
                failures += 1
                if failures > self.settings.log_max_reconnects or done.is_set():
                    raise
                done.wait(self.settings.backoff_initial_s * 2 ** failures)
                continue
            with responses_lock:
                responses.add(response)
            skip = shown_at_last if resumed else 0
            try:
                from urllib3.exceptions import HTTPError as Urllib3Error
                from urllib3.exceptions import ReadTimeoutError

                for raw in response_lines(response):
                    if done.is_set():
                        return
                    failures = 0
                    when, text = parse_log_line(raw)
                    if resumed and when is not None and last_time is not None:
                        if when < last_time:
                            continue
                        if when == last_time and skip > 0:
                            skip -= 1
                            continue
                    if when is not None:
                        shown_at_last = shown_at_last + 1 if when == last_time else 1
                        last_time = when
                    if not emit(LogLine(when, stream.source, text)):
                        return
                return  # the log ended: the container stopped, as `kubectl logs -f` ends then
            except (Urllib3Error, OSError) as error:
                if done.is_set():
                    return
                if not isinstance(error, ReadTimeoutError):
                    failures += 1
                    if failures > self.settings.log_max_reconnects:
                        raise translate_error(error, f"following the log of {stream.source}",
                                              self.settings.endpoint) from error
                    done.wait(self.settings.backoff_initial_s * 2 ** failures)
                resumed = True
            finally:
                with responses_lock:
                    responses.discard(response)
                close_response(response)

