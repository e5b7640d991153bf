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
from textual.screen import Screen

import console.screens
from console.app import PilothouseApp
from console.cli import main
from console.config import ConfigError, parse_config
from console.keys import DEFAULT_KEYS, LIVE_TOGETHER, keymap_problem, normalise_key
from console.screens.confirm import ConfirmScreen
from console.screens.doctor import DoctorScreen
from console.screens.events import EventsScreen
from console.screens.fleet import FleetScreen
from console.screens.help import HelpScreen
from console.screens.logs import LogScreen
from console.screens.placement import PlacementScreen
from console.screens.scale import ScaleDialog
from console.screens.service import ServiceScreen
from console.screens.task_detail import TaskDetailScreen

SCREENS: dict[str, type[Screen[Any]]] = {
    "fleet": FleetScreen, "service": ServiceScreen, "placement": PlacementScreen, "doctor": DoctorScreen,
    "events": EventsScreen, "logs": LogScreen, "scale dialog": ScaleDialog, "confirmation": ConfirmScreen,
    "help": HelpScreen, "task detail": TaskDetailScreen,
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
    assert set(app) == {"quit", "help", "command_palette"}
    for name, screen in SCREENS.items():
        bound = {**app, **_bound(screen)}
        assert bound == {binding_id: DEFAULT_KEYS[binding_id] for binding_id in LIVE_TOGETHER[name]}, name


def test_every_screen_with_bindings_is_in_the_registry() -> None:
    listed = set(SCREENS.values())
    for module in pkgutil.iter_modules(console.screens.__path__):
        loaded = importlib.import_module(f"console.screens.{module.name}")
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
    ],
)
def test_keymap_problems(keymap: dict[str, str], binding_id: str, message: str) -> None:
    problem = keymap_problem(keymap)
    assert problem is not None and problem.binding_id == binding_id and message in problem.message


@pytest.mark.parametrize(
    "keymap",
    [
        {"scale": "x", "help": "h", "drill_down": "g"},
        {"doctor": "D", "events": "E", "follow_logs": "p"},  # p is placement, but not on the logs screen
        {"scale": "q", "quit": "ctrl+x"},  # quit moved away first
        {"rollback": "ctrl+r"},
        {"scale": "s"},
    ],
)
def test_keymaps_that_leave_every_binding_a_key_are_accepted(keymap: dict[str, str]) -> None:
    assert keymap_problem(keymap) is None


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
    ],
)
def test_the_cli_refuses_a_bad_keymap_with_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                  keymap: str, expected: str) -> None:
    config = tmp_path / "c.toml"
    config.write_text(f"[keymap]\n{keymap}\n")
    assert main(["--config", str(config), "status", "--demo"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and f"{config}{expected}" in err
