"""What every screen shares: the host the screens talk to (its state is console/state.py), and the
explanation shown when a key is pressed whose action is not offered (read-only, global service...).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, cast

from textual import events
from textual.actions import parse as parse_action
from textual.binding import Binding, BindingsMap
from textual.css.query import NoMatches
from textual.dom import DOMNode
from textual.screen import Screen

from pilothouse.console.state import FleetState

if TYPE_CHECKING:
    from collections.abc import Callable

    from pilothouse.console.actions import ActionLayer
    from pilothouse.console.config import AppConfig
    from pilothouse.console.screens.audit_feed import AuditFeed
    from pilothouse.providers.base import LoginCommand
    from pilothouse.providers.exec import ExecStreams
    from pilothouse.providers.model import Cluster


class ConsoleHost(Protocol):
    """What screens need from the app; the app is a thin shell that provides exactly this."""

    state: FleetState
    actions: ActionLayer
    console_config: AppConfig
    audit_feed: AuditFeed

    def poke(self, cluster: str) -> None: ...

    def doctor_look(self, cluster: str) -> None: ...

    def login_command(self, cluster: str) -> LoginCommand | None: ...

    def run_session(self, session: Callable[[ExecStreams], int]) -> int:
        """Run a terminal session (exec) with the console suspended; its exit code. On the UI thread."""
        ...


def declared_bindings(node_type: type[DOMNode]) -> BindingsMap:
    """The bindings a node class declares, its bases' included, merged the way Textual merges them (a later
    class's binding for a key replaces an earlier one's). Textual's own merge and binding chain are private."""
    keys: dict[str, list[Binding]] = {}
    for base in reversed(node_type.__mro__):
        if issubclass(base, DOMNode):
            keys.update(BindingsMap(vars(base).get("BINDINGS", ())).key_to_bindings)
    return BindingsMap.from_keys(keys)


class FleetScreenBase(Screen[None]):
    """A screen that renders from FleetState: redrawn when a snapshot arrives or the screen comes back."""

    def host(self) -> ConsoleHost:
        return cast("ConsoleHost", self.app)

    @property
    def state(self) -> FleetState:
        return self.host().state

    def fleet_changed(self) -> None:
        """A snapshot arrived: redraw from self.state (only the topmost fleet screen is told)."""
        if not (self.is_mounted and self.is_attached):
            return
        try:
            self.draw()
        except NoMatches:
            # Snapshots arrive at any moment: before the children are composed, or while the app closes.
            return

    def draw(self) -> None:
        """Render self.state; the screens implement it."""

    _drawn_revision: int | None = None  # FleetState.revision of the cluster `undrawn` last handed out

    def undrawn(self, cluster_name: str) -> Cluster | None:
        """The cluster's snapshot when it changed since this screen last drew it (it is then taken as drawn),
        else None. The revision is remembered, not the snapshot: a closed screen is a reference cycle until a
        full GC pass, and one that held its last snapshot kept a whole fleet model alive with it."""
        cluster = self.state.get(cluster_name)
        revision = self.state.revision(cluster_name)
        if cluster is None or revision == self._drawn_revision:
            return None
        self._drawn_revision = revision
        return cluster

    def draw_again(self) -> None:
        """The next draw renders in full, whatever the snapshot (new columns, another cluster followed)."""
        self._drawn_revision = None

    def on_screen_resume(self) -> None:
        self.fleet_changed()
        self.refresh_bindings()

    def refusal_for(self, action: str) -> str | None:
        """Why `action` (a binding's action name) is not offered now, or None if it is or it is not ours."""
        return None

    def refused(self, action: str, reason: str) -> None:
        """A key for `action` was pressed and refused with `reason` (already shown)."""

    def refusal_subject(self) -> str:
        """What a refused key was about ("demo-k8s/prod/web"): names the cluster, as refs repeat across them."""
        return ""

    def on_key(self, event: events.Key) -> None:
        """A key bound to an action that is not offered here explains why instead of doing nothing."""
        focused = self.focused
        if focused is not None and focused.check_consume_key(event.key, event.character):
            return  # typed into a field (the filter), not a command
        for binding in self.bound_keys().key_to_bindings.get(event.key, ()):
            _, name, _ = parse_action(binding.action)
            reason = self.refusal_for(name)
            if reason:
                event.stop()
                subject = self.refusal_subject()
                self.notify(reason, title=f"Not available · {subject}" if subject else "Not available",
                            severity="warning", markup=False)
                self.refused(name, reason)
                return
        if event.is_printable and event.key not in self.active_bindings:
            # k9s reflexes (d, y, x...) must not meet silence: say the key does nothing here and where the
            # keys are listed.
            self.unbound_key(event.character or event.key)

    def unbound_key(self, character: str) -> None:
        from pilothouse.console.key_display import key_display

        bindings = self.app.BINDINGS
        self.notify(f"{character!r} does nothing here · {key_display(self.app, bindings, 'help')}: keys · "
                    f"{key_display(self.app, bindings, 'command_line')}: command line",
                    title="Not a key here", severity="information", timeout=3, markup=False)

    def bound_keys(self) -> BindingsMap:
        """This screen's own bindings under the configured keymap."""
        bindings = declared_bindings(type(self))
        keymap = self.host().console_config.keymap
        if keymap:
            bindings.apply_keymap(dict(keymap))
        return bindings
