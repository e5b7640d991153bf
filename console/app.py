"""The console: a thin shell that runs one refresher per cluster and hands snapshots to the screens.

Each cluster's ClusterRefresher.run() loops in its own thread worker; every snapshot comes back as a
ClusterUpdated message (post_message is thread-safe) and lands in one FleetState that screens read.
Screens live in console/screens/, one module each.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, ClassVar, TextIO

from textual import events
from textual.app import App, SuspendNotSupported, SystemCommand
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from pilothouse.console.collector import PacedCollector
from pilothouse.console.key_display import effective
from pilothouse.console.screens.audit_feed import AuditFeed
from pilothouse.console.screens.base import FleetScreenBase
from pilothouse.console.screens.fleet import FleetScreen
from pilothouse.console.screens.palette import FleetCommands
from pilothouse.console.screens.service_actions import ServiceActionScreen
from pilothouse.console.state import UNKNOWN, FleetState, Unknown
from pilothouse.providers import priority
from pilothouse.providers.attention import Attention, AttentionAssessor
from pilothouse.providers.base import LoginCommand
from pilothouse.providers.doctor import Finding, assess_attention, examine
from pilothouse.providers.errors import ProviderError
from pilothouse.providers.exec import ExecStreams
from pilothouse.providers.model import Cluster
from pilothouse.providers.registry import vocabulary_for
from pilothouse.providers.text import display_text
from pilothouse.widgets import textual_cycles
from pilothouse.widgets.diff_table import DiffTable

if TYPE_CHECKING:
    from pilothouse.console.actions import ActionLayer
    from pilothouse.console.config import AppConfig
    from pilothouse.console.fleet import Fleet
    from pilothouse.providers.refresh import ClusterRefresher

REFRESH_GROUP = "refresh:"
# How long the doctor's slow path may take on a cluster's next refresh (Provider.doctor_look).
DOCTOR_LOOK_S = 10.0
VI_KEYS = ("j", "k", "g", "G")
# Exit codes after a signal, as a shell reports them.
SIGNAL_EXIT_BASE = 128


class ClusterUpdated(Message):
    """A snapshot from a refresher thread, with its doctor findings, attention and the provider's login command
    when the thread computed them."""

    def __init__(self, cluster: Cluster, findings: list[Finding] | None = None,
                 attention: dict[str, Attention] | None = None,
                 login: LoginCommand | Unknown | None = UNKNOWN) -> None:
        super().__init__()
        self.cluster = cluster
        self.findings = findings
        self.attention = attention
        self.login = login


class SnapshotWaiting(Message):
    """A refresher handed over a snapshot of `cluster`: the handler applies the newest one waiting. It carries
    no snapshot itself: Textual's message loop holds the last message it handled until the next arrives, and a
    message holding a snapshot kept a whole superseded model alive beside the current one (6 MB at 10k pods)."""

    def __init__(self, cluster: str) -> None:
        super().__init__()
        self.cluster = cluster


class NotATerminal:
    """Passes writes on to the stream it wraps (Textual's print capture) but says it is not a terminal."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        return self.stream.write(text)

    def flush(self) -> None:
        self.stream.flush()

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        return self.stream.fileno()


class PilothouseApp(App[int]):
    CSS_PATH = "app.tcss"
    TITLE = "pilothouse"
    COMMANDS = App.COMMANDS | {FleetCommands}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit", id="quit", tooltip="Quit pilothouse"),
        Binding("question_mark", "help", "Help", id="help", key_display="?", tooltip="This help"),
        Binding("ctrl+p", "command_palette", "Commands", id="command_palette", priority=True, show=False,
                tooltip="Command palette: jump to a service or a cluster's placement"),
        Binding("colon", "command_line", "Command", id="command_line", key_display=":", show=False,
                tooltip="Command line, as in k9s: :nodes, :networks, :events, :doctor, :cluster NAME, :ns NAME, :q"),
    ]

    def __init__(self, fleet: Fleet, config: AppConfig, *, refresh: bool = True) -> None:
        super().__init__()
        textual_cycles.install()  # repainted lines freed by reference counting, not left to full GC passes
        self.fleet = fleet
        self.console_config = config
        self.actions: ActionLayer = fleet.actions
        self.audit_feed = AuditFeed(self.actions.audit)
        demo = {cluster.name for cluster in config.clusters if cluster.provider == "demo"}
        self.state = FleetState.connecting({name: provider.kind for name, provider in fleet.providers.items()},
                                           demo)
        self._refresh_on_mount = refresh
        self._refreshers: dict[str, ClusterRefresher] = {}
        # The newest snapshot of each cluster not yet applied: at most one per cluster waits in the message queue,
        # so a UI slower than an event storm skips stale snapshots instead of queueing them without bound.
        self._latest: dict[str, ClusterUpdated] = {}
        self._latest_lock = threading.Lock()
        # For snapshots that arrive without attention (posted by hand): assessed on the UI thread.
        self._assessors: dict[str, AttentionAssessor] = {}
        self.collector = PacedCollector()
        if config.demo or demo:
            self.sub_title = "DEMO fleet (simulated)"

    # -- lifecycle ----------------------------------------------------------------------------

    def on_mount(self) -> None:
        # While the app runs, sys.stdout/stderr are Textual's print capture, which says it is a terminal. The
        # kubernetes client then runs exec credential plugins "interactively" from a refresh thread: on the
        # TUI's own terminal, their prompts and stderr drawn over the screen and keys taken from it.
        # Interactive logins run with the TUI suspended. Textual restores the real streams when the app ends.
        sys.stdout = NotATerminal(sys.stdout)
        sys.stderr = NotATerminal(sys.stderr)
        if self.console_config.keymap:
            self.set_keymap(dict(self.console_config.keymap))
        self._apply_theme()
        self.push_screen(FleetScreen())
        self.set_interval(1.0, self.collector.tick, name="paced garbage collection")
        if self._refresh_on_mount:
            for name in self.fleet.providers:
                self.start_refresher(name)
        if not self.is_headless:
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGTERM, signal.SIGHUP):
                loop.add_signal_handler(signum, self._on_signal, signum)

    def _apply_theme(self) -> None:
        """The config's theme, else the one last picked in the palette; a palette change is remembered."""
        from pilothouse.console.uistate import remember_theme, remembered_theme

        theme = self.console_config.theme or remembered_theme()
        if theme and theme in self.available_themes:
            self.theme = theme
        self.theme_changed_signal.subscribe(self, lambda changed: remember_theme(changed.name))

    def _on_signal(self, signum: int) -> None:
        """SIGTERM / SIGHUP: leave fast, with the terminal restored by the normal exit path."""
        self.stop_refreshers()
        self.exit(return_code=SIGNAL_EXIT_BASE + signum)

    def exit(self, result: int | None = None, return_code: int = 0, message: object | None = None) -> None:
        self.stop_refreshers()
        super().exit(result, return_code, message)  # type: ignore[arg-type]

    def on_unmount(self) -> None:
        self.stop_refreshers()
        self.collector.release()
        if not self.is_headless:
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGTERM, signal.SIGHUP):
                loop.remove_signal_handler(signum)

    # -- refreshers ---------------------------------------------------------------------------

    def start_refresher(self, name: str) -> None:
        doctor = self.console_config.doctor
        # Used only on this refresher's thread: it keeps the cluster's history (restart counts, since when short).
        assessor = AttentionAssessor()
        provider = self.fleet.providers[name]

        def deliver(cluster: Cluster) -> None:
            # Runs on the refresher's thread: the doctor's pass over every container, the attention pass over
            # every task and the login command (it may parse a kubeconfig) are done here, off the UI thread
            # (about 20 ms for 1,000 services), and post_message is the thread-safe way in.
            findings = examine(cluster, doctor)
            self.hand_over(ClusterUpdated(cluster, findings, assess_attention(assessor, cluster, findings),
                                          login=provider.login_command()))

        refresher = self.fleet.refresher(name, deliver)
        self._refreshers[name] = refresher
        self.run_worker(refresher.run, name=f"refresh {name}", group=f"{REFRESH_GROUP}{name}",
                        thread=True, exit_on_error=False)

    def hand_over(self, update: ClusterUpdated) -> bool:
        """From a refresher's thread: post the snapshot, unless one of that cluster's is already waiting, which
        this one then replaces (the waiting message applies the newest when its turn comes). True: it replaced
        one."""
        name = update.cluster.name
        with self._latest_lock:
            waiting = name in self._latest
            self._latest[name] = update
        if not waiting:
            self.post_message(SnapshotWaiting(name))
        return waiting

    def stop_refreshers(self) -> None:
        for refresher in self._refreshers.values():
            refresher.stop()

    def poke(self, cluster: str) -> None:
        refresher = self._refreshers.get(cluster)
        if refresher is not None:
            refresher.poke()

    def doctor_look(self, cluster: str) -> None:
        """The doctor screen opened: the cluster's next refresh, soon, also takes the doctor's slow path."""
        refresher = self._refreshers.get(cluster)
        if refresher is not None:
            refresher.provider.doctor_look(time.monotonic() + DOCTOR_LOOK_S)
            refresher.poke()

    def on_snapshot_waiting(self, message: SnapshotWaiting) -> None:
        if priority.held():
            # A key's answer is not drawn yet: it goes first, the snapshot right after that frame (applying
            # one marks every changed row for repainting, so the key's frame would wait for all of them).
            # Still in _latest meanwhile, so a newer snapshot replaces it without posting another message.
            self.call_after_refresh(self.apply_waiting, message.cluster)
            return
        self.apply_waiting(message.cluster)

    def apply_waiting(self, cluster: str) -> None:
        with self._latest_lock:
            newest = self._latest.pop(cluster, None)
        if newest is not None:
            self.on_cluster_updated(newest)

    def on_cluster_updated(self, message: ClusterUpdated) -> None:
        findings = message.findings
        if findings is None:
            findings = examine(message.cluster, self.console_config.doctor)
        attention = message.attention
        if attention is None:
            assessor = self._assessors.setdefault(message.cluster.name, AttentionAssessor())
            attention = assess_attention(assessor, message.cluster, findings)
        self.state.update(message.cluster, findings, attention, login=message.login)
        # The topmost fleet screen redraws, even under a dialog; the others redraw when they come back.
        for screen in reversed(self.screen_stack):
            if isinstance(screen, FleetScreenBase):
                screen.fleet_changed()
                break
        self.collector.settle()

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.InputEvent):
            self.collector.input_seen()  # while keys come, snapshots are frozen (console/collector.py)
            if isinstance(event, events.Key | events.MouseDown):
                priority.hold()  # refresh threads wait until the answer is drawn (providers/priority.py)
                self.call_after_refresh(priority.release)
        await super().on_event(event)

    def notify(self, message: str, *, title: str = "", severity: SeverityLevel = "information",
               timeout: float | None = None, markup: bool = True) -> None:
        """Every toast, whichever screen raises it: display text, never markup (messages quote cluster text:
        errors, service names, images)."""
        super().notify(display_text(message), title=display_text(title), severity=severity, timeout=timeout,
                       markup=False)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if event.state is WorkerState.ERROR and (worker.group or "").startswith(REFRESH_GROUP):
            self.notify(f"{worker.name} stopped: {worker.error!r}", severity="error", timeout=10, markup=False)

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        # Textual's "Screenshot" writes an SVG into the current directory: not on a bastion, unasked.
        return [command for command in super().get_system_commands(screen) if command.title != "Screenshot"]

    # -- credentials --------------------------------------------------------------------------

    def login_command(self, cluster: str) -> LoginCommand | None:
        """As the cluster's refresher last asked it (providers' login_command() blocks: never asked here)."""
        return self.state.login_command(cluster)

    def log_in(self, cluster: str) -> None:
        """Renew credentials interactively (an SSO login, an exec plugin's prompt) with the TUI suspended."""
        command = self.login_command(cluster)
        if not command:
            self.notify(f"{cluster}: no login command to run", severity="warning")
            return
        try:
            with self.suspend():
                completed = subprocess.run(
                    command.argv, check=False, env={**os.environ, **command.env},
                    stdout=subprocess.DEVNULL if command.hide_output else None,
                )
        except (OSError, SuspendNotSupported) as error:
            self.notify(f"{cluster}: cannot run {command.argv[0]}: {error}", severity="error", markup=False)
            return
        if completed.returncode == 0:
            provider = self.fleet.providers.get(cluster)
            if provider is not None:
                provider.credentials_renewed()
            self.notify(f"{cluster}: logged in; refreshing")
        else:
            self.notify(f"{cluster}: {command.describe()} exited {completed.returncode}", severity="error",
                        markup=False)
        self.poke(cluster)

    # -- exec ---------------------------------------------------------------------------------

    @contextmanager
    def terminal_session(self) -> Iterator[ExecStreams]:
        """The terminal handed to a session (exec) with the console suspended: the real fds, a TTY when there
        is one; the console is back, on the same screen, when the block ends. The one seam a test replaces
        (a headless driver cannot suspend)."""
        try:
            with self.suspend():
                yield ExecStreams(tty=os.isatty(0) and os.isatty(1))
        except SuspendNotSupported:
            raise ProviderError("this terminal cannot be handed to a session (the console cannot suspend here)",
                                "run pilothouse exec from a shell instead") from None

    def run_session(self, session: Callable[[ExecStreams], int]) -> int:
        """Run `session` on the suspended console's terminal; its exit code. On the UI thread: the console
        neither draws nor reads keys until the session ends."""
        with self.terminal_session() as streams:
            return session(streams)

    # -- keys ---------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "command_line":
            # From the main screens only: a command opening a screen over a dialog would leave the dialog's
            # question hanging underneath.
            return isinstance(self.screen, FleetScreenBase)
        return super().check_action(action, parameters)

    def action_command_line(self) -> None:
        from pilothouse.console.screens.command_line import CommandLineScreen

        if isinstance(self.screen, FleetScreenBase):
            self.push_screen(CommandLineScreen())

    def action_help(self) -> None:
        # Imported here, as navigate.py does for each screen: the screens not shown at start cost start-up time.
        from pilothouse.console.screens.doctor import DoctorScreen
        from pilothouse.console.screens.events import EventsScreen
        from pilothouse.console.screens.help import HelpScreen
        from pilothouse.console.screens.inspect import InspectScreen
        from pilothouse.console.screens.logs import LogScreen
        from pilothouse.console.screens.networks import NetworksScreen
        from pilothouse.console.screens.nodes import NodesScreen
        from pilothouse.console.screens.placement import PlacementScreen
        from pilothouse.console.screens.service import ServiceScreen

        if isinstance(self.screen, HelpScreen):
            return
        keymap = self.console_config.keymap
        mutations = ("Fleet and service: mutations (confirmed first)", ServiceActionScreen)
        # (title, screen class): the current screen's sections come first, then every key everywhere.
        screens: list[tuple[str, type[Screen[None]]]] = [
            ("Fleet", FleetScreen), mutations, ("Service", ServiceScreen), ("Placement", PlacementScreen),
            ("Nodes", NodesScreen), ("Networks", NetworksScreen), ("Inspect", InspectScreen), ("Doctor", DoctorScreen),
            ("Events", EventsScreen),
            ("Logs", LogScreen),
        ]
        current = [entry for entry in screens if type(self.screen) is entry[1]
                   or (entry is mutations and isinstance(self.screen, ServiceActionScreen))]
        sections = [(title, effective(screen.BINDINGS, keymap)) for title, screen in current]
        sections.append(("Everywhere", effective(self.BINDINGS, keymap)))
        sections.extend((title, effective(screen.BINDINGS, keymap)) for title, screen in screens
                        if (title, screen) not in current)
        sections.append(("Tables and logs (as in k9s and less)",
                         [binding for binding in effective(DiffTable.BINDINGS, {}) if binding.key in VI_KEYS]))
        readonly = [name for name in self.state.clusters if self.actions.readonly_for(name)]
        title = "pilothouse keys · this screen's first" if current else "pilothouse keys"
        if readonly:
            title += f" · read-only: {', '.join(readonly)}"
        kinds = dict.fromkeys(cluster.kind for cluster in self.state.ordered())
        glossary = [vocabulary_for(kind).glossary(kind) for kind in kinds]
        self.push_screen(HelpScreen(sections, title, glossary))


def run_console(fleet: Fleet, config: AppConfig) -> int:
    app = PilothouseApp(fleet, config)
    app.run()
    return app.return_code or 0
