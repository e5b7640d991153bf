"""The `:` command line, as k9s users expect it: `:events`, `:doctor [NAME]`, `:nodes [NAME]`,
`:networks [NAME]`, `:cluster NAME`, `:ns NAME`, `:q`. Tab completes (commands, then cluster or namespace
names), the line under the field lists what fits what is typed, and an unknown command or name is one line
there, the field kept to mend it.

Commands are a table (COMMANDS): a screen that wants one registers a Command; nothing else changes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, ClassVar, cast

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.suggester import Suggester
from textual.widgets import Input, Static

from pilothouse.console.screens.base import ConsoleHost
from pilothouse.console.screens.navigate import open_doctor, open_events, open_networks, open_nodes, open_placement
from pilothouse.providers.text import display_text

Choices = Callable[[ConsoleHost], Iterable[str]]


@dataclass(frozen=True, slots=True)
class Argument:
    name: str  # as the hint shows it: "NAME"
    what: str  # as an error names it: "cluster"
    choices: Choices
    required: bool = False


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    help: str
    run: Callable[[App[Any], str], None]  # the argument ("" when none); called once the line is checked
    argument: Argument | None = None
    aliases: tuple[str, ...] = ()

    def usage(self) -> str:
        if self.argument is None:
            return self.name
        return f"{self.name} {self.argument.name}" if self.argument.required else f"{self.name} [{self.argument.name}]"


COMMANDS: dict[str, Command] = {}


def register(command: Command) -> None:
    """Add (or replace) a command and its aliases."""
    for name in (command.name, *command.aliases):
        COMMANDS[name] = command


def _host(app: App[Any]) -> ConsoleHost:
    return cast("ConsoleHost", app)


def cluster_names(host: ConsoleHost) -> list[str]:
    return list(host.state.clusters)


def namespaces(host: ConsoleHost) -> list[str]:
    return sorted({service.namespace for _, service in host.state.services() if service.namespace})


def current_cluster(app: App[Any]) -> str | None:
    """The cluster the operator is looking at: the screen's own, the fleet's scope, else the first one."""
    from pilothouse.console.screens.fleet import FleetScreen

    for screen in reversed(app.screen_stack):
        name = getattr(screen, "cluster_name", None) or getattr(screen, "cluster_filter", None)
        if isinstance(name, str) and name:
            return name
        if isinstance(screen, FleetScreen) and screen.scope_cluster:
            return screen.scope_cluster
    return next(iter(_host(app).state.clusters), None)


def to_fleet(app: App[Any]) -> Any:
    """Back to the fleet (every screen above it closed), which is returned."""
    from pilothouse.console.screens.fleet import FleetScreen

    while len(app.screen_stack) > 1 and not isinstance(app.screen, FleetScreen):
        app.pop_screen()
    return app.screen if isinstance(app.screen, FleetScreen) else None


def _scope(app: App[Any], cluster: str | None, namespace: str | None) -> None:
    fleet = to_fleet(app)
    if fleet is not None:
        fleet.set_scope(cluster, namespace)


def _cluster(app: App[Any], name: str) -> None:
    fleet = to_fleet(app)
    if fleet is not None:
        fleet.set_scope(name or None, fleet.scope_namespace)


def _namespace(app: App[Any], name: str) -> None:
    fleet = to_fleet(app)
    if fleet is not None:
        fleet.set_scope(fleet.scope_cluster, name or None)


def _nodes(app: App[Any], name: str) -> None:
    cluster = name or current_cluster(app)
    if cluster is not None:
        open_nodes(app, cluster)


def _networks(app: App[Any], name: str) -> None:
    cluster = name or current_cluster(app)
    if cluster is not None:
        open_networks(app, cluster)


def _placement(app: App[Any], name: str) -> None:
    cluster = name or current_cluster(app)
    if cluster is not None:
        open_placement(app, cluster)


def _quit(app: App[Any], _: str) -> None:
    app.exit()


_CLUSTER = Argument("NAME", "cluster", cluster_names)
for _command in (
    Command("nodes", "the nodes of a cluster, troubled first", _nodes, _CLUSTER, aliases=("no", "node")),
    Command("networks", "a cluster's networks: Services, overlay networks, target groups; endpoints ready",
            _networks, _CLUSTER, aliases=("net", "svc")),
    Command("placement", "which nodes run which services", _placement, _CLUSTER, aliases=("pl",)),
    Command("events", "one timeline of every cluster and the console's actions", lambda app, _: open_events(app),
            aliases=("ev", "event")),
    Command("doctor", "container-operations pitfalls (one cluster, or every one)",
            lambda app, name: open_doctor(app, name or None), _CLUSTER),
    Command("cluster", "the fleet shows one cluster (no NAME: every cluster)", _cluster, _CLUSTER,
            aliases=("ctx", "context")),
    Command("ns", "the fleet shows one namespace or stack (no NAME: every one)", _namespace,
            Argument("NAME", "namespace or stack", namespaces), aliases=("namespace",)),
    Command("fleet", "back to the fleet, every cluster and namespace", lambda app, _: _scope(app, None, None)),
    Command("q", "quit pilothouse", _quit, aliases=("quit", "q!")),
):
    register(_command)


@dataclass(frozen=True, slots=True)
class Parsed:
    command: Command | None
    argument: str
    error: str = ""


def parse(host: ConsoleHost, line: str) -> Parsed:
    """The command a line names and its argument, or the one-line error saying what is wrong."""
    words = line.strip().removeprefix(":").split()
    if not words:
        return Parsed(None, "", "type a command: " + ", ".join(sorted({c.name for c in COMMANDS.values()})))
    name, rest = words[0], words[1:]
    command = COMMANDS.get(name)
    if command is None:
        known = ", ".join(sorted({c.name for c in COMMANDS.values()}))
        return Parsed(None, "", f"unknown command ':{name}' (known: {known})")
    argument = command.argument
    if argument is None:
        if rest:
            return Parsed(None, "", f":{command.name} takes no argument")
        return Parsed(command, "")
    if len(rest) > 1:
        return Parsed(None, "", f":{command.name} takes one {argument.name}: :{command.usage()}")
    value = rest[0] if rest else ""
    if not value:
        if argument.required:
            return Parsed(None, "", f":{command.name} needs a {argument.what}: :{command.usage()}")
        return Parsed(command, "")
    known_values = list(argument.choices(host))
    if value not in known_values:
        listed = ", ".join(known_values[:8]) + (", ..." if len(known_values) > 8 else "")
        return Parsed(None, "", f"no {argument.what} {value!r} (known: {listed or 'none yet'})")
    return Parsed(command, value)


def candidates(host: ConsoleHost, line: str) -> list[str]:
    """Whole lines that complete what is typed: command names, then the argument's choices."""
    text = line.lstrip().removeprefix(":")
    if " " not in text:
        names = sorted(name for name in COMMANDS if name.startswith(text))
        # The command's own name before its aliases.
        return sorted(names, key=lambda name: (COMMANDS[name].name != name, name))
    name, _, typed = text.partition(" ")
    command = COMMANDS.get(name)
    if command is None or command.argument is None:
        return []
    typed = typed.strip()
    return [f"{name} {choice}" for choice in command.argument.choices(host) if choice.startswith(typed)]


class CommandSuggester(Suggester):
    def __init__(self, host: ConsoleHost) -> None:
        super().__init__(use_cache=False, case_sensitive=True)
        self.host = host

    async def get_suggestion(self, value: str) -> str | None:
        found = candidates(self.host, value)
        return found[0] if found and found[0] != value else None


class CommandLineScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close", id="command_line_close"),
        Binding("tab", "complete", "Complete", show=False, priority=True),
    ]
    DEFAULT_CSS = """
    CommandLineScreen { align: left bottom; background: $background 30%; }
    CommandLineScreen > Vertical { height: auto; width: 100%; background: $panel; }
    CommandLineScreen #command-hint { height: auto; padding: 0 1; color: $text-muted; }
    CommandLineScreen #command-hint.error { color: $error; }
    """

    def compose(self) -> ComposeResult:
        host = cast("ConsoleHost", self.app)
        with Vertical():
            yield Static(self._hint(""), id="command-hint")
            yield Input(placeholder=":command (tab completes, enter runs)", id="command-input",
                        suggester=CommandSuggester(host))

    @property
    def field(self) -> Input:
        return self.query_one("#command-input", Input)

    def on_mount(self) -> None:
        self.field.focus()

    def _hint(self, line: str) -> Text:
        found = candidates(cast("ConsoleHost", self.app), line)
        text = line.lstrip().removeprefix(":")
        if " " not in text:
            shown = {COMMANDS[name].name: COMMANDS[name] for name in found}
            return Text(" · ".join(f":{command.usage()} {command.help}" for command in shown.values())
                        or "no command starts so", no_wrap=False)
        # Completions are cluster names and service refs: cluster text.
        return Text(display_text("  ".join(found[:12])))

    def show_error(self, message: str) -> None:
        hint = self.query_one("#command-hint", Static)
        hint.update(Text(display_text(message)))
        hint.add_class("error")

    def on_input_changed(self, event: Input.Changed) -> None:
        hint = self.query_one("#command-hint", Static)
        hint.remove_class("error")
        hint.update(self._hint(event.value))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        parsed = parse(cast("ConsoleHost", self.app), event.value)
        if parsed.command is None:
            self.show_error(parsed.error)
            return
        app = self.app
        self.dismiss()
        parsed.command.run(app, parsed.argument)

    def action_complete(self) -> None:
        found = candidates(cast("ConsoleHost", self.app), self.field.value)
        if found:
            self.field.value = found[0] + (" " if COMMANDS.get(found[0]) and COMMANDS[found[0]].argument else "")
            self.field.cursor_position = len(self.field.value)

    def action_close(self) -> None:
        self.dismiss()
