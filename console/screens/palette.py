"""Command palette entries: jump to any service, a cluster's placement or doctor, or the events timeline.

Entries quote cluster text (service names, images). Textual parses a hit's string display and its help as
markup, so both go into one Rich Text built from display text: an image `bad:2[/]` is shown, not parsed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from typing import Protocol, cast

from rich.text import Text
from textual.app import App
from textual.command import DiscoveryHit, Hit, Hits, Matcher, Provider

from pilothouse.console.screens.base import ConsoleHost
from pilothouse.console.screens.navigate import open_doctor, open_events, open_nodes, open_placement, open_service
from pilothouse.providers.registry import vocabulary_for
from pilothouse.providers.text import display_text

HELP_STYLE = "dim"


def log_in(app: App[object], cluster: str) -> None:
    cast("LoginHost", app).log_in(cluster)


class LoginHost(ConsoleHost, Protocol):
    def log_in(self, cluster: str) -> None: ...


class FleetCommands(Provider):
    def _commands(self) -> Iterator[tuple[str, Callable[[], object], str]]:
        state = cast("ConsoleHost", self.app).state
        yield ("doctor", partial(open_doctor, self.app, None), "container-operations pitfalls on every cluster")
        yield ("events", partial(open_events, self.app), "one timeline of every cluster and the console's actions")
        host = cast("LoginHost", self.app)
        for cluster in state.ordered():
            command = host.login_command(cluster.name)
            if command:
                yield (f"log in {cluster.name}", partial(log_in, self.app, cluster.name),
                       f"run {command.describe()} with the console suspended")
            words = vocabulary_for(cluster.kind)
            yield (f"placement {cluster.name}", partial(open_placement, self.app, cluster.name),
                   f"{words.nodes} x {words.services} of {words.name(cluster.kind)} cluster {cluster.name}")
            yield (f"nodes {cluster.name}", partial(open_nodes, self.app, cluster.name),
                   f"{words.nodes} of {words.name(cluster.kind)} cluster {cluster.name}: state, {words.tasks}, "
                   "conditions")
            yield (f"doctor {cluster.name}", partial(open_doctor, self.app, cluster.name),
                   f"doctor findings of {cluster.name}")
            for service in cluster.services:
                yield (f"open {cluster.name}/{service.ref}",
                       partial(open_service, self.app, cluster.name, service.id),
                       f"{service.image} · {service.running}/{service.desired} · {service.rollout.state.value}")

    async def discover(self) -> Hits:
        for name, command, help_text in self._commands():
            shown = display_text(name)
            yield DiscoveryHit(prompt(Text(shown), help_text), command, text=shown)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, command, help_text in self._commands():
            shown = display_text(name)
            score = matcher.match(shown)
            if score > 0:
                yield Hit(score, prompt(highlighted(matcher, shown), help_text), command, text=shown)


def highlighted(matcher: Matcher, name: str) -> Text:
    """The name with the query's letters marked, as Matcher.highlight does, without reading it as markup."""
    text = Text(name)
    _score, offsets = matcher.fuzzy_search.match(matcher.query, name)
    style = matcher.match_style.rich_style
    for offset in offsets:
        if not name[offset].isspace():
            text.stylize(style, offset, offset + 1)
    return text


def prompt(name: Text, help_text: str) -> Text:
    """The entry's two lines, as Textual draws a hit and its help, from plain strings only."""
    return Text.assemble(name, "\n", (display_text(help_text), HELP_STYLE))
