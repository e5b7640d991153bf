"""Logs of a service (all its tasks) or of one task, streamed live from the provider.

The provider's blocking iterator runs in a thread worker and hands lines to a LinePump; the pump posts
one LinesReady message while lines wait, and the screen takes everything pending at once. At high rates
that is one message per batch, never one per line. The view keeps at most `log_buffer_lines` lines
(the oldest drop); while following is paused, new lines wait in a backlog bounded the same way.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import Static

from pilothouse.console.key_display import key_display
from pilothouse.console.screens.search import SearchableView
from pilothouse.providers.base import Capability, LogLine, Provider
from pilothouse.providers.errors import ProviderError
from pilothouse.providers.model import Service
from pilothouse.providers.text import display_text
from pilothouse.widgets.clock import clock
from pilothouse.widgets.filter_bar import FilterBar
from pilothouse.widgets.footer import KeyFooter
from pilothouse.widgets.log_view import LogView

TAIL_LINES = 200


def log_refusal(provider: Provider) -> str | None:
    """Why this provider cannot show logs, or None."""
    if Capability.LOGS in provider.CAPABILITIES:
        return None
    return f"the {provider.words.name(provider.kind)} provider of {provider.name} cannot show logs"


def format_line(line: LogLine, with_source: bool) -> str:
    stamp = f"{clock(line.time)} " if line.time else ""
    source = f"{line.source} | " if with_source and line.source else ""
    return f"{stamp}{source}{line.text.rstrip()}" or " "


class LinePump:
    """Thread-safe hand-over from the streaming thread to the UI: a bounded backlog and one wake-up at a time."""

    def __init__(self, bound: int, wake: Callable[[], object]) -> None:
        self._lock = threading.Lock()
        self._pending: deque[str] = deque(maxlen=bound)
        self._woken = False
        self._wake = wake
        self.dropped = 0

    def put(self, line: str) -> None:
        with self._lock:
            if len(self._pending) == self._pending.maxlen:
                self.dropped += 1
            self._pending.append(line)
            wake = not self._woken
            self._woken = True
        if wake:
            self._wake()

    def take(self) -> list[str]:
        with self._lock:
            lines = list(self._pending)
            self._pending.clear()
            self._woken = False
        return lines


class LogScreen(SearchableView):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Close", id="back", tooltip="Close the logs (stops the stream)"),
        Binding("f", "toggle_follow", "Follow", id="follow_logs",
                tooltip="Pause / resume following (lines keep arriving into a bounded backlog)"),
        Binding("slash", "search", "Search", id="search", key_display="/", tooltip="Search the buffered lines"),
        Binding("n", "search_next(1)", "Next match", id="search_next", tooltip="Jump to the next match"),
        Binding("N", "search_next(-1)", "Prev match", id="search_prev", show=False,
                tooltip="Jump to the previous match"),
        Binding("w", "toggle_wrap", "Wrap", id="wrap_logs",
                tooltip="Wrap long lines (the default) / one row per line, scrolled sideways"),
    ]

    class LinesReady(Message):
        """Lines wait in the pump: take them all."""

    class StreamEnded(Message):
        def __init__(self, reason: str, failed: bool) -> None:
            super().__init__()
            self.reason = reason
            self.failed = failed

    def __init__(self, cluster: str, service_id: str, task_id: str = "") -> None:
        super().__init__(id="logs")
        self.cluster_name = cluster
        self.service_id = service_id
        self.task_id = task_id
        self.stop_event = threading.Event()
        self.following = True
        self.received = 0
        self.batches = 0
        self.ended = ""
        self.failed = False
        self.match_index: int | None = None
        self._bound = 10_000
        self._held: deque[str] = deque()
        self._pump: LinePump | None = None
        self._label = f"{cluster}/{service_id}"

    @property
    def bound(self) -> int:
        return self._bound

    def compose(self) -> ComposeResult:
        self._bound = self.host().console_config.log_buffer_lines
        self._held = deque(maxlen=self._bound)
        yield Static("", id="log-title")
        yield LogView(self._bound, id="log-view")
        yield Static("", id="log-status")
        keys = [key_display(self.app, self.BINDINGS, binding) for binding in ("search_next", "search_prev", "back")]
        yield FilterBar(keys[2], prompt="search", enter=f"jump, {keys[0]}/{keys[1]}: next/previous", id="log-search")
        yield KeyFooter()

    @property
    def view(self) -> LogView:
        return self.query_one("#log-view", LogView)

    def on_mount(self) -> None:
        self.view.focus()
        service = self.state.service(self.cluster_name, self.service_id)
        if service is None:
            self._end(f"{self.cluster_name}: this service no longer exists", failed=True)
            return
        self._label = f"{self.cluster_name}/{service.ref}" + (f" · task {self.task_id}" if self.task_id else "")
        try:
            provider = self.host().actions.provider(self.cluster_name)
        except ProviderError as error:
            self._end(str(error), failed=True)
            return
        refusal = log_refusal(provider)
        if refusal:
            self._end(refusal, failed=True)
            return
        self._pump = LinePump(self._bound, lambda: self.post_message(self.LinesReady()))
        self._update_status()
        self.run_worker(lambda: self._stream(provider, service), thread=True, exit_on_error=False,
                        group="logs", name=f"logs {self._label}")

    def _stream(self, provider: Provider, service: Service) -> None:
        """On the worker thread: iterate the provider's blocking stream until it ends or we are closed."""
        pump = self._pump
        assert pump is not None
        with_source = not self.task_id
        try:
            for line in provider.logs(service, task_id=self.task_id, tail=TAIL_LINES, follow=True,
                                      stop=self.stop_event):
                if self.stop_event.is_set():
                    return
                pump.put(format_line(line, with_source))
        except ProviderError as error:
            self.post_message(self.StreamEnded(str(error), failed=True))
            return
        except Exception as error:
            self.post_message(self.StreamEnded(f"log stream failed: {error!r}", failed=True))
            return
        if not self.stop_event.is_set():
            self.post_message(self.StreamEnded("the stream ended", failed=False))

    # -- incoming -----------------------------------------------------------------------------

    def on_log_screen_lines_ready(self, message: LinesReady) -> None:
        if self._pump is None:
            return
        lines = self._pump.take()
        if not lines:
            return
        self.received += len(lines)
        self.batches += 1
        if self.following:
            self._write(lines)
        else:
            self._held.extend(lines)
        self._update_status()

    def _write(self, lines: list[str]) -> None:
        view = self.view
        before = view.line_count
        added = sum(len(line.splitlines()) for line in lines)
        view.write_lines(lines)
        # The oldest lines dropped: a remembered match moves up with the rest.
        pruned = before + added - view.line_count
        if self.match_index is not None and pruned:
            self.match_index = self.match_index - pruned if self.match_index >= pruned else None

    def on_log_screen_stream_ended(self, message: StreamEnded) -> None:
        self._end(message.reason, message.failed)

    def _end(self, reason: str, failed: bool) -> None:
        self.ended = reason
        self.failed = failed
        if failed:
            self.notify(reason, title="Logs", severity="error", markup=False)
        self._update_status()

    def _update_status(self) -> None:
        title = Text(no_wrap=True, overflow="ellipsis")
        title.append("Logs ", style="bold")
        title.append(display_text(self._label), style="bold")
        self.query_one("#log-title", Static).update(title)
        status = Text(no_wrap=True, overflow="ellipsis")
        term = self.view.search_term
        if term:  # first: at 80 columns the end of this line is cut, and the match counter is what n/N need
            total = self.view.count_matches(term)
            status.append(display_text(f"/{term}: "))
            if self.match_index is not None and total:
                position = self.view.count_matches(term, self.match_index) + 1
                status.append(f"match {position} of {total}")
            else:
                status.append(f"{total} matches" if total else "no match", style="" if total else "yellow")
            status.append(" · ")
        if self.ended:
            status.append(display_text(self.ended), style="bold red" if self.failed else "yellow")
            status.append(" · ")
        elif self.following:
            status.append("following", style="green")
            status.append(" · ")
        else:
            status.append(f"paused ({len(self._held)} new lines held)", style="yellow")
            status.append(" · ")
        status.append(f"{self.view.line_count} lines (keeps {self._bound})", style="dim")
        if not self.view.wrap:
            status.append(" · not wrapped", style="yellow")
        self.query_one("#log-status", Static).update(status)

    # -- keys ---------------------------------------------------------------------------------

    def action_toggle_follow(self) -> None:
        self.following = not self.following
        if self.following:
            held = list(self._held)
            self._held.clear()
            if held:
                self._write(held)
            self.view.scroll_end(animate=False, immediate=True)
        self._update_status()

    def action_toggle_wrap(self) -> None:
        self.view.wrap = not self.view.wrap
        self._update_status()

    def search_changed(self) -> None:
        self._update_status()

    def action_back(self) -> None:
        if self.close_search():
            return
        self.stop_event.set()
        self.app.pop_screen()

    def on_unmount(self) -> None:
        # However the screen goes (escape, quit), the provider's stream must stop.
        self.stop_event.set()
