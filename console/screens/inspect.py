"""Inspect: a service's, task's or node's own description (YAML for Kubernetes and Swarm, JSON for ECS), read
once on a thread worker, secrets already masked by the provider; scrollable and searchable like the logs
(`/`, `n`, `N`), drawn by the log view (escapes removed, never markup)."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import Static

from pilothouse.console.key_display import key_display
from pilothouse.console.screens.search import SearchableView
from pilothouse.providers.base import Provider
from pilothouse.providers.errors import ProviderError
from pilothouse.providers.inspect import InspectResult, InspectTarget, TargetKind
from pilothouse.providers.model import Service
from pilothouse.providers.text import display_text
from pilothouse.widgets.filter_bar import FilterBar
from pilothouse.widgets.footer import KeyFooter
from pilothouse.widgets.log_view import LogView

MAX_LINES = 200_000


class InspectScreen(SearchableView):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Close", id="back"),
        Binding("slash", "search", "Search", id="search", key_display="/", tooltip="Search the text"),
        Binding("n", "search_next(1)", "Next match", id="search_next", tooltip="Jump to the next match"),
        Binding("N", "search_next(-1)", "Prev match", id="search_prev", show=False,
                tooltip="Jump to the previous match"),
    ]

    class Loaded(Message):
        def __init__(self, result: InspectResult | None, error: str = "") -> None:
            super().__init__()
            self.result = result
            self.error = error

    def __init__(self, cluster: str, target: InspectTarget, label: str) -> None:
        super().__init__(id="inspect")
        self.cluster_name = cluster
        self.target = target
        self.label = label
        self.result: InspectResult | None = None
        self.error = ""

    def compose(self) -> ComposeResult:
        yield Static("", id="inspect-title")
        yield LogView(MAX_LINES, id="inspect-view")
        yield Static("", id="inspect-status")
        keys = [key_display(self.app, self.BINDINGS, binding) for binding in ("search_next", "search_prev", "back")]
        yield FilterBar(keys[2], prompt="search", enter=f"jump, {keys[0]}/{keys[1]}: next/previous",
                        id="inspect-search")
        yield KeyFooter()

    @property
    def view(self) -> LogView:
        return self.query_one("#inspect-view", LogView)

    def on_mount(self) -> None:
        self.view.focus()
        self._status()
        try:
            provider = self.host().actions.provider(self.cluster_name)
        except ProviderError as error:
            self.on_inspect_screen_loaded(self.Loaded(None, str(error)))
            return

        def read() -> None:
            try:
                self.post_message(self.Loaded(self.load(provider)))
            except ProviderError as error:
                self.post_message(self.Loaded(None, str(error)))
            except Exception as error:  # an unforeseen failure is said on the screen, not raised in the app
                self.post_message(self.Loaded(None, f"inspect failed: {error!r}"))

        self.run_worker(read, thread=True, exit_on_error=False, group="inspect", name=f"inspect {self.label}")

    def load(self, provider: Provider) -> InspectResult:
        """On the worker thread: the text to show."""
        return provider.inspect(self.target)

    def describe_format(self, result: InspectResult) -> str:
        return f"{result.format.upper()}, secrets masked"

    def on_inspect_screen_loaded(self, message: Loaded) -> None:
        self.result, self.error = message.result, message.error
        if message.result is not None:
            self.view.write_lines(message.result.text.rstrip("\n").splitlines())
            self.view.scroll_home(animate=False, immediate=True)
        else:
            self.notify(message.error, title="Inspect", severity="error", markup=False)
        self._status()

    def _status(self) -> None:
        title = Text(no_wrap=True, overflow="ellipsis")
        title.append("Inspect ", style="bold")
        title.append(display_text(self.result.title if self.result else self.label), style="bold")
        title.append(f" · {display_text(self.cluster_name)}", style="dim")
        if self.result is not None:
            title.append(f" · {self.describe_format(self.result)}", style="dim")
        self.query_one("#inspect-title", Static).update(title)
        status = Text(no_wrap=True, overflow="ellipsis")
        status.append(self.search_status())
        if self.error:
            status.append(display_text(self.error), style="bold red")
        elif self.result is None:
            status.append("reading…", style="yellow")
        else:
            status.append(f"{self.view.line_count} lines", style="dim")
        self.query_one("#inspect-status", Static).update(status)

    def search_changed(self) -> None:
        self._status()

    def action_back(self) -> None:
        if not self.close_search():
            self.app.pop_screen()


class DiffScreen(InspectScreen):
    """What changed from the previous revision to the current one, field by field (env values never shown)."""

    def __init__(self, cluster: str, service: Service) -> None:
        super().__init__(cluster, InspectTarget(TargetKind.SERVICE, service.id, service.ref), service.ref)
        self.service = service

    def load(self, provider: Provider) -> InspectResult:
        found = provider.revisions_diff(self.service)
        return InspectResult(f"what changed in {self.service.ref}: {found.summary()}", "diff",
                             "\n".join(found.lines()))

    def describe_format(self, result: InspectResult) -> str:
        return "env values never shown"
