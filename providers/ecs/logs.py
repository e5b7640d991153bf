"""CloudWatch Logs of a service's containers, for task definitions that use the awslogs driver.

A container's stream is "prefix/container/task-id" in awslogs-group (awslogs-region), so only containers
with a stream prefix can be found from the task. One GetLogEvents per stream reads the tail; a follow polls
each stream with its forward token, spending at most LOG_READS_PER_S, and looks for the service's new tasks
every LOG_TASK_RESCAN_S. Other log drivers are named in a NotSupported.
"""

from __future__ import annotations

import contextlib
import heapq
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from threading import Event as ThreadEvent
from typing import Any

from pilothouse.providers.base import LogLine
from pilothouse.providers.ecs.client import AwsClients
from pilothouse.providers.ecs.fetch import DESCRIBE_TASKS_MAX, EcsFetcher, chunks
from pilothouse.providers.ecs.raw import Raw, as_dict, as_str, dicts, opt_int, short_id
from pilothouse.providers.errors import InvalidInput, NotFound, NotSupported, Throttled
from pilothouse.providers.model import Service, Task

# CloudWatch Logs: GetLogEvents is throttled per account and region (25/s), shared with everyone else,
# so a follow spends at most LOG_READS_PER_S on its streams and polls no faster than LOG_POLL_MIN_S.
LOG_POLL_MIN_S = 0.5
LOG_POLL_MAX_S = 10.0
LOG_FOLLOW_MAX_S = 30.0  # the longest wait between polls, however many streams
LOG_READS_PER_S = 5.0
LOG_TASK_RESCAN_S = 15.0  # how often a follow looks for the service's new tasks (a rollout, a replacement)
LOG_PAGE_MAX = 10_000  # GetLogEvents' own limit per page
LOG_PAGES_PER_READ = 20  # bounds one read of a stream that is being flooded
LOG_NOTICE_SOURCE = "pilothouse"


@dataclass(frozen=True, slots=True)
class LogStream:
    """One container's CloudWatch Logs stream in one task (the awslogs driver names it prefix/container/task)."""

    task_id: str
    container: str
    group: str
    region: str
    stream: str

    @property
    def source(self) -> str:
        return f"{self.task_id[:12]}/{self.container}"


def log_streams(task_definition: Raw, task_id: str, default_region: str) -> tuple[list[LogStream], list[str]]:
    """The streams of one task's containers, and one line per container whose logs cannot be read here."""
    streams: list[LogStream] = []
    unreadable: list[str] = []
    for definition in dicts(task_definition.get("containerDefinitions")):
        name = as_str(definition.get("name")) or "?"
        config = as_dict(definition.get("logConfiguration"))
        driver = as_str(config.get("logDriver"))
        options = {str(k): as_str(v) for k, v in as_dict(config.get("options")).items()}
        if not driver:
            unreadable.append(f"container {name} has no log configuration")
        elif driver != "awslogs":
            unreadable.append(f"container {name} uses the {driver} log driver; only awslogs (CloudWatch Logs) "
                              "can be read here")
        elif not options.get("awslogs-group"):
            unreadable.append(f"container {name} uses awslogs without awslogs-group")
        elif not options.get("awslogs-stream-prefix"):
            # Without a prefix the stream is named after the Docker container id, which ECS does not report.
            unreadable.append(f"container {name} uses awslogs without awslogs-stream-prefix; its stream "
                              "cannot be found from the task")
        else:
            streams.append(LogStream(
                task_id=task_id, container=name, group=options["awslogs-group"],
                region=options.get("awslogs-region") or default_region,
                stream=f"{options['awslogs-stream-prefix']}/{name}/{task_id}"))
    return streams, unreadable


def log_line(stream: LogStream, event: Raw) -> LogLine:
    stamp = opt_int(event.get("timestamp"))
    when = datetime.fromtimestamp(stamp / 1000, UTC) if stamp is not None and 0 <= stamp < 2**45 else None
    return LogLine(time=when, source=stream.source, text=as_str(event.get("message")).rstrip("\n"))


def line_order(line: LogLine) -> datetime:
    return line.time or datetime.min.replace(tzinfo=UTC)


class LogReader:
    """Reads one provider's service logs: the tail, then (when following) new lines until stopped."""

    def __init__(self, api: AwsClients, fetcher: EcsFetcher, refresh_interval: float) -> None:
        self.api = api
        self.fetcher = fetcher
        self.refresh_interval = refresh_interval

    def open(self, service: Service, task_id: str, tail: int, follow: bool, stop: ThreadEvent) -> Iterator[LogLine]:
        """Everything that can be refused is refused here, at the call, before the first line is read."""
        tasks = self._log_tasks(service, task_id)
        streams, unreadable = self._streams_of([(task.id, task.version) for task in tasks])
        if not tasks:
            # No task to look at: the service's own task definition still tells whether logs are readable.
            _, unreadable = self._streams_of([("-", service.version)])
        if not streams and unreadable:
            raise NotSupported(f"cannot read the logs of {service.ref}: {'; '.join(unreadable)}",
                               "read them where that log driver sends them")
        if not streams and not follow:
            raise NotFound(f"{service.ref} has no running or recently stopped task to read logs from",
                           "add --follow to wait for one")
        return self._log_lines(service, streams, unreadable, bool(task_id), tail, follow, stop)

    def _log_tasks(self, service: Service, task_id: str) -> list[Task]:
        tasks = list(service.tasks)
        wanted = short_id(task_id.strip())
        if not wanted:
            return tasks
        exact = [task for task in tasks if task.id == wanted]
        matches = exact or [task for task in tasks if task.id.startswith(wanted)]
        if not matches:
            known = ", ".join(task.id[:12] for task in tasks[:5]) or "none"
            raise NotFound(f"no task {task_id!r} in {service.ref}", f"its tasks: {known}")
        if len(matches) > 1:
            raise InvalidInput(f"task {task_id!r} matches {len(matches)} tasks of {service.ref}",
                               "give more of the id: " + ", ".join(task.id[:12] for task in matches[:5]))
        return matches

    def _streams_of(self, tasks: Iterable[tuple[str, str]]) -> tuple[list[LogStream], list[str]]:
        """Streams of (task id, task definition) pairs, and why some containers cannot be read (deduplicated)."""
        streams: list[LogStream] = []
        unreadable: list[str] = []
        for task_id, version in tasks:
            found, why = log_streams(self.fetcher.task_definition(version), task_id, self.api.identity.region)
            streams += found
            unreadable += why
        return streams, list(dict.fromkeys(unreadable))

    def _page(self, stream: LogStream, **kwargs: Any) -> dict[str, Any]:
        return self.api.get_log_events(stream.region, stream.group, stream.stream, **kwargs)

    def _read_tail(self, stream: LogStream, count: int) -> tuple[list[LogLine], str | None]:
        """The stream's last `count` lines, oldest first, and the token to follow from (None: no stream yet)."""
        try:
            page = self._page(stream, startFromHead=False, limit=max(1, min(count, LOG_PAGE_MAX)))
        except NotFound:
            return [], None
        forward = as_str(page.get("nextForwardToken")) or None
        if count == 0:
            return [], forward
        pages = [[log_line(stream, event) for event in dicts(page.get("events"))]]
        got, token = len(pages[0]), as_str(page.get("nextBackwardToken"))
        for _ in range(LOG_PAGES_PER_READ):
            if got >= count or not token or not pages[-1]:
                break
            page = self._page(stream, startFromHead=False, nextToken=token,
                                        limit=min(count - got, LOG_PAGE_MAX))
            older = [log_line(stream, event) for event in dicts(page.get("events"))]
            following = as_str(page.get("nextBackwardToken"))
            if not older or following == token:
                break
            pages.append(older)
            got, token = got + len(older), following
        lines = [line for page_lines in reversed(pages) for line in page_lines]
        return lines[-count:], forward

    def _read_forward(self, stream: LogStream, token: str | None) -> tuple[list[LogLine], str | None]:
        """New lines since `token` (from the stream's head when None); the same token back means no more yet."""
        lines: list[LogLine] = []
        for _ in range(LOG_PAGES_PER_READ):
            try:
                page = self._page(stream, startFromHead=True, **({"nextToken": token} if token else {}))
            except NotFound:
                break  # the task has not logged yet
            events = dicts(page.get("events"))
            lines += [log_line(stream, event) for event in events]
            following = as_str(page.get("nextForwardToken")) or token
            done = not events or following == token
            token = following
            if done:
                break
        return lines, token

    def _each(self, function: Callable[[LogStream], Any], streams: Sequence[LogStream]) -> list[Any]:
        pool = self.fetcher.pool
        if pool is not None and len(streams) > 1:
            with contextlib.suppress(RuntimeError):  # closed meanwhile: read them one by one
                return list(pool.map(function, streams))
        return [function(stream) for stream in streams]

    def _log_poll_interval(self, streams: int) -> float:
        base = min(max(self.refresh_interval, LOG_POLL_MIN_S), LOG_POLL_MAX_S)
        return min(LOG_FOLLOW_MAX_S, max(base, streams / LOG_READS_PER_S))

    def _new_service_tasks(self, service: Service, known: set[str]) -> list[tuple[str, str]]:
        """(task id, task definition ARN) of the service's running tasks not yet followed."""
        cluster = service.namespace or service.ref.split("/", 1)[0]
        arns = self.api.pages("list_tasks", "taskArns", cluster=cluster, serviceName=service.name,
                           desiredStatus="RUNNING")
        unseen = [arn for arn in arns if short_id(arn) not in known]
        found = []
        for batch in chunks(unseen, DESCRIBE_TASKS_MAX):
            for task in dicts(self.api.call("describe_tasks", cluster=cluster, tasks=batch).get("tasks")):
                found.append((short_id(as_str(task.get("taskArn"))), as_str(task.get("taskDefinitionArn"))))
        return found

    def _log_lines(self, service: Service, streams: list[LogStream], unreadable: list[str], one_task: bool,
                   tail: int, follow: bool, stop: ThreadEvent) -> Iterator[LogLine]:
        for reason in unreadable:
            yield LogLine(None, LOG_NOTICE_SOURCE, reason)
        tails = self._each(lambda stream: self._read_tail(stream, tail), streams)
        tokens: dict[LogStream, str | None] = {stream: token for stream, (_, token) in zip(streams, tails, strict=True)}
        history = list(heapq.merge(*(lines for lines, _ in tails), key=line_order))
        yield from history[-tail:] if tail else []
        if not follow:
            return
        known = {stream.task_id for stream in streams}
        rescan_at = time.monotonic() + (LOG_TASK_RESCAN_S if streams else 0.0)
        delay = self._log_poll_interval(len(tokens))
        while not stop.wait(delay):
            delay = self._log_poll_interval(len(tokens))
            try:
                if not one_task and time.monotonic() >= rescan_at:
                    rescan_at = time.monotonic() + LOG_TASK_RESCAN_S
                    new_tasks = self._new_service_tasks(service, known)
                    known.update(task for task, _ in new_tasks)
                    new_streams, _ = self._streams_of(new_tasks)
                    tokens.update({stream: None for stream in new_streams})  # read those from their head
                current = list(tokens)
                reads = self._each(lambda stream: self._read_forward(stream, tokens[stream]), current)
            except Throttled:
                delay = min(LOG_FOLLOW_MAX_S, delay * 2)  # back off; the lines wait in CloudWatch
                continue
            for stream, (_, token) in zip(current, reads, strict=True):
                tokens[stream] = token
            yield from heapq.merge(*(lines for lines, _ in reads), key=line_order)

