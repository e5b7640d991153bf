"""Logs from the engine's service and task log endpoints: framing, labels -> a source, newest-first tail.

The engine sends `<RFC 3339 time> <k=v,k=v> <message>` lines (timestamps and details asked for), multiplexed
in 8-byte-header frames unless the service has a TTY.
"""

from __future__ import annotations

import contextlib
import heapq
import socket
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pilothouse.providers.base import LogLine
from pilothouse.providers.errors import InvalidInput, NotFound, ProviderError
from pilothouse.providers.swarm.client import ApiCall
from pilothouse.providers.swarm.errors import translate_error
from pilothouse.providers.swarm.mapping import map_node
from pilothouse.providers.swarm.raw import Raw, as_dict, as_list, as_str, opt_int, parse_time

if TYPE_CHECKING:
    from docker.api.client import APIClient

# Engine log lines with timestamps and details: `<RFC 3339 time> <k=v,k=v> <message>`.
_LOG_LABEL_MARK = "com.docker.swarm."
MAX_LOG_LINE_BYTES = 64 * 1024


def parse_log_line(line: str) -> tuple[datetime | None, dict[str, str], str]:
    """(time, details labels, message); a line without a timestamp or labels keeps all of it as message."""
    from urllib.parse import unquote

    stamp, _, rest = line.partition(" ")
    when = parse_time(stamp)
    if when is None:
        return None, {}, line
    token, _, message = rest.partition(" ")
    parts = token.split(",")
    if _LOG_LABEL_MARK not in token or not all("=" in part for part in parts):
        return when, {}, rest
    labels = {}
    for part in parts:
        key, _, value = part.partition("=")
        labels[unquote(key)] = unquote(value)
    return when, labels, message


def log_source(labels: Mapping[str, str], slots: Mapping[str, int | None], node_names: Mapping[str, str]) -> str:
    """`2/x1y2z3a4b5c6@ph-worker-1`: slot and short task id (global tasks have no slot), then the node."""
    task_id = labels.get("com.docker.swarm.task.id", "")
    node_id = labels.get("com.docker.swarm.node.id", "")
    slot = slots.get(task_id)
    task = f"{slot}/{task_id[:12]}" if slot is not None else task_id[:12]
    node = node_names.get(node_id, node_id[:12])
    return f"{task}@{node}" if node else task


def newest_lines(lines: Iterable[LogLine], count: int) -> list[LogLine]:
    """The `count` newest lines in time order (arrival order among equal times); holds only `count` lines."""
    ranked = heapq.nlargest(
        count, enumerate(lines), key=lambda item: (item[1].time.timestamp() if item[1].time else 0.0, item[0])
    )
    return [line for _order, line in reversed(ranked)]


class LogFrames:
    """Bytes from a logs response -> lines. The stream is multiplexed (8-byte header: stream, size) unless
    the service has a TTY, when it is raw. Lines are bounded: a writer with no newline cannot grow memory."""

    def __init__(self, multiplexed: bool) -> None:
        self.multiplexed = multiplexed
        self._frames = b""
        self._line = b""

    def feed(self, data: bytes) -> list[str]:
        if not self.multiplexed:
            return self._split(data)
        self._frames += data
        lines: list[str] = []
        while len(self._frames) >= 8:
            size = int.from_bytes(self._frames[4:8], "big")
            if len(self._frames) < 8 + size:
                break
            payload, self._frames = self._frames[8:8 + size], self._frames[8 + size:]
            lines.extend(self._split(payload))
        return lines

    def flush(self) -> list[str]:
        rest, self._line = self._line, b""
        return [self._text(rest)] if rest else []

    def _split(self, data: bytes) -> list[str]:
        self._line += data
        *complete, self._line = self._line.split(b"\n")
        if len(self._line) > MAX_LOG_LINE_BYTES:
            complete.append(self._line)
            self._line = b""
        return [self._text(line) for line in complete]

    @staticmethod
    def _text(line: bytes) -> str:
        return line.decode("utf-8", errors="replace").rstrip("\r")



def stream_logs(
    call: ApiCall, *, cluster: str, endpoint: str, service_id: str, service_ref: str, tty: bool,
    task_id: str, tail: int, follow: bool, stop: threading.Event,
) -> Iterator[LogLine]:
    """One service's logs (all tasks, or the one `task_id` starts), oldest first; see SwarmProvider.logs.

    `call` runs a request with the provider's client and translates its errors.
    """
    slots, node_names, raw_tasks = _log_labels(call, service_id)
    path, target = "/services/{0}/logs", service_id
    if task_id:
        target = _pick_task(raw_tasks, task_id, service_ref)
        path = "/tasks/{0}/logs"
    params = {"stdout": True, "stderr": True, "timestamps": True, "details": True, "follow": follow,
              "tail": tail}

    def request(client: APIClient) -> Any:
        response = client._get(client._url(path, target), params=params, stream=True)
        client._raise_for_status(response)
        return response

    response = call(request)
    closer = _close_on_stop(call, cluster, response, stop, follow)
    frames = LogFrames(multiplexed=not tty)
    last_refresh = time.monotonic()

    def mapped(lines: list[str]) -> Iterator[LogLine]:
        nonlocal slots, node_names, last_refresh
        for line in lines:
            when, labels, text = parse_log_line(line)
            task = labels.get("com.docker.swarm.task.id", "")
            if task and task not in slots and time.monotonic() - last_refresh > 2.0:
                # A task started after we looked (a replacement): learn its slot, at most every 2 s.
                last_refresh = time.monotonic()
                with contextlib.suppress(ProviderError):
                    slots, node_names, _ = _log_labels(call, service_id)
            yield LogLine(time=when, source=log_source(labels, slots, node_names), text=text)

    def received() -> Iterator[LogLine]:
        for chunk in response.iter_content(chunk_size=None):
            yield from mapped(frames.feed(chunk))
            if stop.is_set():
                return
        yield from mapped(frames.flush())

    try:
        # Without follow, the newest `tail` across tasks: the engine's own tail counts per task.
        yield from received() if follow else newest_lines(received(), tail)
    except ProviderError:
        raise
    except Exception as error:
        if stop.is_set():
            return  # we closed it: that is how a follow ends
        raise translate_error(error, endpoint) from None
    finally:
        closer.set()
        with contextlib.suppress(Exception):
            response.close()


def _log_labels(call: ApiCall, service_id: str) -> tuple[dict[str, int | None], dict[str, str], list[Raw]]:
    raw_tasks = [as_dict(task) for task in as_list(call(
        lambda client: client.tasks(filters={"service": service_id})))]
    raw_nodes = as_list(call(lambda client: client.nodes()))
    nodes = [map_node(as_dict(node)) for node in raw_nodes]
    slots = {as_str(task.get("ID")): opt_int(task.get("Slot")) for task in raw_tasks}
    return slots, {node.id: node.name for node in nodes}, raw_tasks


def _pick_task(raw_tasks: list[Raw], prefix: str, ref: str) -> str:
    matches = sorted({as_str(task.get("ID")) for task in raw_tasks if as_str(task.get("ID")).startswith(prefix)})
    if not matches:
        raise NotFound(f"no task {prefix!r} in service {ref}", "see the service's tasks in 'pilothouse status'")
    if len(matches) > 1:
        raise InvalidInput(f"task id {prefix!r} is ambiguous in service {ref} ({len(matches)} tasks)",
                           "give more characters of the id")
    return matches[0]


def _close_on_stop(call: ApiCall, cluster: str, response: Any, stop: threading.Event,
                   follow: bool) -> threading.Event:
    """A helper thread that closes the response when `stop` is set; set the returned event to end it."""
    finished = threading.Event()
    raw_socket: socket.socket | None = None
    with contextlib.suppress(Exception):  # ssh transports have no plain socket: closing still works
        found = call(lambda client: client._get_raw_response_socket(response))
        # Over a unix socket docker-py hands back a SocketIO wrapping the socket.
        unwrapped: socket.socket = found._sock if hasattr(found, "_sock") else found
        raw_socket = unwrapped
        if follow:
            # A quiet service must not time the stream out; stop is how a follow ends.
            unwrapped.settimeout(None)

    def watch() -> None:
        while not finished.wait(0.1):
            if stop.is_set():
                # shutdown() wakes a recv() blocked in another thread; close() alone does not.
                with contextlib.suppress(Exception):
                    if raw_socket is not None:
                        raw_socket.shutdown(socket.SHUT_RDWR)
                with contextlib.suppress(Exception):
                    response.close()
                return

    threading.Thread(target=watch, name=f"swarm-logs-{cluster}", daemon=True).start()
    return finished
