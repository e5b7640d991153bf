"""The [keymap] check: console/keys.py matches the screens' BINDINGS, and a keymap that would leave a binding
without a key (a clash, an unknown id) is a config error naming the file and the key."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from pathlib import Path
from typing import Any

import pytest
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.dom import DOMNode
from textual.keys import key_to_character
from textual.screen import Screen
from textual.widgets import Button, Checkbox, Input, OptionList

import pilothouse.console.screens
from pilothouse.console.app import PilothouseApp
from pilothouse.console.cli import main
from pilothouse.console.config import ConfigError, parse_config
from pilothouse.console.keys import (
    DEFAULT_KEYS,
    DIALOGS,
    INPUT_KEYS,
    LIVE_TOGETHER,
    SCROLL_KEYS,
    is_typed,
    keymap_problem,
    normalise_key,
)
from pilothouse.console.screens.base import declared_bindings
from pilothouse.console.screens.command_line import CommandLineScreen
from pilothouse.console.screens.confirm import ConfirmScreen
from pilothouse.console.screens.container_choice import ContainerChoice
from pilothouse.console.screens.doctor import DoctorScreen
from pilothouse.console.screens.events import EventDetailScreen, EventsScreen
from pilothouse.console.screens.fleet import FleetScreen
from pilothouse.console.screens.help import HelpScreen
from pilothouse.console.screens.inspect import InspectScreen
from pilothouse.console.screens.logs import LogScreen
from pilothouse.console.screens.networks import NetworksScreen
from pilothouse.console.screens.node_actions import TypedConfirmScreen
from pilothouse.console.screens.nodes import NodeScreen, NodesScreen
from pilothouse.console.screens.placement import PlacementScreen
from pilothouse.console.screens.scale import ScaleDialog
from pilothouse.console.screens.service import ServiceScreen
from pilothouse.console.screens.task_detail import TaskDetailScreen

SCREENS: dict[str, type[Screen[Any]]] = {
    "fleet": FleetScreen, "service": ServiceScreen, "placement": PlacementScreen, "doctor": DoctorScreen,
    "events": EventsScreen, "logs": LogScreen, "scale dialog": ScaleDialog, "confirmation": ConfirmScreen,
    "help": HelpScreen, "task detail": TaskDetailScreen, "event detail": EventDetailScreen,
    "nodes": NodesScreen, "node": NodeScreen, "command line": CommandLineScreen,
    "inspect": InspectScreen, "networks": NetworksScreen, "typed confirmation": TypedConfirmScreen,
    "container choice": ContainerChoice,
}


def _bound(owner: type) -> dict[str, str]:
    """binding id -> key of every identified binding an app or screen class has, inherited ones included."""
    found: dict[str, str] = {}
    for cls in reversed(owner.__mro__):
        for binding in vars(cls).get("BINDINGS", ()):
            if isinstance(binding, Binding) and binding.id:
                found[binding.id] = ",".join(normalise_key(key) for key in binding.key.split(","))
    return found


def test_the_registry_is_what_the_screens_bind() -> None:
    app = {key: value for key, value in _bound(PilothouseApp).items() if key in DEFAULT_KEYS}
    assert set(app) == {"quit", "help", "command_palette", "command_line"}
    for name, screen in SCREENS.items():
        bound = {**app, **_bound(screen)}
        assert bound == {binding_id: DEFAULT_KEYS[binding_id] for binding_id in LIVE_TOGETHER[name]}, name


def test_every_screen_with_bindings_is_in_the_registry() -> None:
    listed = set(SCREENS.values())
    for module in pkgutil.iter_modules(pilothouse.console.screens.__path__):
        loaded = importlib.import_module(f"pilothouse.console.screens.{module.name}")
        for _, cls in inspect.getmembers(loaded, inspect.isclass):
            if issubclass(cls, Screen) and cls.__module__ == loaded.__name__ and "BINDINGS" in vars(cls):
                # A base class (ServiceActionScreen) is checked through the screens that inherit it.
                assert any(issubclass(screen, cls) for screen in listed), f"{cls.__name__} is not in LIVE_TOGETHER"


def test_the_defaults_do_not_clash() -> None:
    assert keymap_problem({}) is None


@pytest.mark.parametrize(
    ("keymap", "binding_id", "message"),
    [
        ({"scale": "x", "rollback": "x"}, "rollback", "'x' is also given to scale"),
        ({"scale": "q"}, "scale", "'q' is already the key of quit"),
        ({"nope": "x"}, "nope", "unknown binding id"),
        ({"scale": "?"}, "scale", "'?' is already the key of help"),
        ({"back": "q"}, "back", "already the key of quit"),
        ({"scale": "x,,y"}, "scale", "empty key"),
        ({"rollback": "ctrl+q"}, "rollback", "Textual's quit key"),
        # Keys a dialog's focused widget takes: the binding would never fire there.
        ({"confirm_yes": "enter"}, "confirm_yes", "'enter' presses the focused button in the confirmation dialog"),
        ({"confirm_no": "space"}, "confirm_no", "'space' is the usual key to press the focused button"),
        ({"confirm_cancel": "tab"}, "confirm_cancel", "'tab' moves the focus between the buttons"),
        ({"confirm_yes": "a,enter"}, "confirm_yes", "'enter' presses the focused button"),
        ({"scale_cancel": "x"}, "scale_cancel", "'x' is typed into the replica count in the scale dialog"),
        ({"scale_cancel": "?"}, "scale_cancel", "'?' is typed into the replica count"),
        ({"scale_cancel": "space"}, "scale_cancel", "'space' is typed into the replica count"),
        ({"scale_cancel": "ctrl+u"}, "scale_cancel", "'ctrl+u' edits the replica count"),
        ({"scale_cancel": "enter"}, "scale_cancel", "'enter' continues to the confirmation"),
        ({"scale_cancel": "tab"}, "scale_cancel", "'tab' moves the focus to the force checkbox"),
        ({"task_detail_close": "home"}, "task_detail_close", "'home' scrolls the text in the task detail"),
        ({"logs": "pagedown"}, "logs", "'pagedown' scrolls the text in the task detail"),
        ({"help_close": "end"}, "help_close", "'end' scrolls the text in the help screen"),
        ({"event_detail_close": "up"}, "event_detail_close", "'up' scrolls the text in the event detail"),
        ({"event_detail": "c"}, "event_detail", "'c' is already the key of next_cluster on the events screen"),
        # Keys the main screens' focused table (or log view) takes first.
        ({"refresh": "up"}, "refresh", "'up' moves the cursor of the table"),
        ({"quit": "end"}, "quit", "'end' moves the cursor of the table"),
        ({"drill_down": "g"}, "drill_down", "'g' moves the cursor of the table"),  # k9s's first row
        ({"command_line_close": "x"}, "command_line_close", "'x' is typed into the command line"),
        ({"search_next": "pagedown"}, "search_next", "'pagedown' moves the cursor of the table (or scrolls the logs)"),
    ],
)
def test_keymap_problems(keymap: dict[str, str], binding_id: str, message: str) -> None:
    problem = keymap_problem(keymap)
    assert problem is not None and problem.binding_id == binding_id and message in problem.message


@pytest.mark.parametrize(
    "keymap",
    [
        {"scale": "x", "help": "h", "drill_down": "b"},
        {"doctor": "D", "events": "E", "follow_logs": "p"},  # p is placement, but not on the logs screen
        {"scale": "q", "quit": "ctrl+x"},  # quit moved away first
        {"rollback": "ctrl+r"},
        {"scale": "s"},
        {"confirm_yes": "a", "confirm_no": "b"},
        {"confirm_yes": "ctrl+y", "confirm_cancel": "x"},
        {"scale_cancel": "f2"},
        {"scale_cancel": "up"},  # a one-line field does not scroll up
        {"task_detail_close": "x", "logs": "b", "event_detail": "i", "event_detail_close": "x"},
    ],
)
def test_keymaps_that_leave_every_binding_a_key_are_accepted(keymap: dict[str, str]) -> None:
    assert keymap_problem(keymap) is None


def test_the_dialog_keys_are_what_textual_widgets_take() -> None:
    """console/keys.py lists them without importing Textual: it must follow the installed Textual."""
    def keys(widget: type[DOMNode]) -> set[str]:
        return set(declared_bindings(widget).key_to_bindings)

    # Less the vertical scrolling a one-line field never does (those keys reach the dialog).
    assert set(INPUT_KEYS) == keys(Input) - {"up", "down", "pageup", "pagedown"}
    assert set(SCROLL_KEYS) == keys(VerticalScroll)
    dialogs = {dialog.name: dialog for dialog in DIALOGS}
    assert keys(Button) <= set(dialogs["the confirmation dialog"].taken)
    assert keys(OptionList) <= set(dialogs["the container choice"].taken)
    scale = dialogs["the scale dialog"]
    assert all(key in scale.taken or is_typed(key) for key in keys(Checkbox))
    for dialog in DIALOGS:
        assert set(dialog.binding_ids) <= set(DEFAULT_KEYS), dialog.name
    # Every default dialog key is usable in its own dialog.
    for dialog in DIALOGS:
        for binding_id in dialog.binding_ids:
            assert keymap_problem({binding_id: DEFAULT_KEYS[binding_id]}) is None, binding_id


@pytest.mark.parametrize("key", [*(chr(code) for code in range(0x20, 0x7f)), "é", "§", "£"])
def test_every_printable_key_is_typed(key: str) -> None:
    normalised = normalise_key(key) if key != " " else "space"
    character = key_to_character(normalised) or key  # Textual has no character for 'plus'; the terminal does
    assert character.isprintable() and is_typed(normalised), key


@pytest.mark.parametrize("key", ["enter", "tab", "shift+tab", "escape", "f1", "ctrl+x", "ctrl+plus", "delete",
                                 "backspace", "up", "home", "ctrl+question_mark"])
def test_named_keys_are_not_typed(key: str) -> None:
    assert not is_typed(key)


def test_config_names_the_file_line_and_key(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    with pytest.raises(ConfigError) as raised:
        parse_config('refresh_interval = 2.0\n[keymap]\nscale = "x"\nrollback = "x"\n', path)
    assert str(raised.value).startswith(f"{path}:4: keymap.rollback: 'x' is also given to scale")


@pytest.mark.parametrize(
    ("keymap", "expected"),
    [
        ('scale = "x"\nrollback = "x"', ":3: keymap.rollback:"),
        ('scale = "q"', ":2: keymap.scale: 'q' is already the key of quit"),
        ('nope = "x"', ":2: keymap.nope: unknown binding id"),
        ('confirm_no = "n"\nconfirm_yes = "enter"',
         ":3: keymap.confirm_yes: 'enter' presses the focused button in the confirmation dialog: pick another key"),
    ],
)
def test_the_cli_refuses_a_bad_keymap_with_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                  keymap: str, expected: str) -> None:
    config = tmp_path / "c.toml"
    config.write_text(f"[keymap]\n{keymap}\n")
    assert main(["--config", str(config), "status", "--demo"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and f"{config}{expected}" in err


def test_the_table_keys_are_what_the_tables_take() -> None:
    from pilothouse.console.keys import TABLE_KEYS
    from pilothouse.widgets.diff_table import DiffTable

    taken = {key for binding in DiffTable.BINDINGS if isinstance(binding, Binding) for key in binding.key.split(",")}
    assert set(TABLE_KEYS) == taken
