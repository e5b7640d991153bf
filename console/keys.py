"""The console's key bindings as data: every binding id, its default key, and which bindings are live together.

The config's [keymap] check reads this without importing Textual (every CLI verb loads the config).
tests/core/test_keys.py keeps it equal to the BINDINGS of console/app.py and console/screens/*.py.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Final

# Binding id -> default key, in Textual's long form ("question_mark", not "?"). An id means the same
# action, with the same default key, on every screen that has it.
DEFAULT_KEYS: Final[Mapping[str, str]] = {
    # console/app.py: live on every screen unless the screen binds the key itself
    "quit": "q",
    "help": "question_mark",
    "command_palette": "ctrl+p",
    "command_line": "colon",
    # console/screens/fleet.py, service.py, placement.py, doctor.py, events.py, logs.py (an id is shared
    # where the action is: logs is the task logs key of the service screen and of the task detail)
    "drill_down": "enter",
    "placement": "p",
    "nodes": "n",
    "networks": "N",
    "node_detail": "enter",
    "inspect": "y",
    "inspect_task": "Y",
    "what_changed": "D",
    "filter": "slash",
    "logs": "l",
    "logs_service": "L",
    "doctor": "d",
    "events": "e",
    "sort": "o",
    "sort_reverse": "O",
    "problems_first": "t",
    "attention_only": "a",
    "refresh": "r",
    "back": "escape",
    "follow_rollout": "w",
    "task_detail": "enter",
    "event_detail": "enter",
    "next_cluster": "c",
    "services_prev": "left_square_bracket",
    "services_next": "right_square_bracket",
    "follow_logs": "f",
    "wrap_logs": "w",
    "search": "slash",
    "search_next": "n",
    "search_prev": "N",
    # console/screens/service_actions.py
    "scale": "s",
    "scale_up": "plus",
    "scale_down": "minus",
    "rollback": "R",
    "restart": "X",
    "pause": "P",
    "resume": "U",
    "exec": "exclamation_mark",
    # console/screens/node_actions.py (the nodes list and the node screen)
    "cordon": "C",
    "uncordon": "U",
    "drain": "D",
    # dialogs: console/screens/scale.py, confirm.py, help.py, task_detail.py, events.py
    "scale_cancel": "escape",
    "confirm_yes": "y",
    "confirm_no": "n",
    "confirm_cancel": "escape",
    "help_close": "escape",
    "task_detail_close": "escape",
    "event_detail_close": "escape",
    # console/screens/command_line.py
    "command_line_close": "escape",
    "typed_confirm_cancel": "escape",
    # console/screens/container_choice.py
    "container_choice_cancel": "escape",
}

_EVERYWHERE = ("quit", "help", "command_palette", "command_line")
_SERVICE_ACTIONS = ("scale", "scale_up", "scale_down", "rollback", "restart", "pause", "resume", "exec")

# Screen -> the binding ids live on it at once: its own, the inherited ones and the app's. Two of them
# on one key means one of the two can never be pressed there.
LIVE_TOGETHER: Final[Mapping[str, tuple[str, ...]]] = {
    "fleet": (*_EVERYWHERE, *_SERVICE_ACTIONS, "drill_down", "placement", "filter", "logs", "doctor", "events",
              "sort", "sort_reverse", "problems_first", "attention_only", "refresh", "back", "nodes", "inspect",
              "networks"),
    "service": (*_EVERYWHERE, *_SERVICE_ACTIONS, "back", "placement", "logs", "logs_service", "follow_rollout",
                "task_detail", "inspect", "inspect_task", "what_changed"),
    "placement": (*_EVERYWHERE, "back", "next_cluster", "services_prev", "services_next", "node_detail"),
    "nodes": (*_EVERYWHERE, "back", "node_detail", "next_cluster", "inspect", "cordon", "uncordon", "drain"),
    "node": (*_EVERYWHERE, "back", "inspect", "cordon", "uncordon", "drain"),
    "inspect": (*_EVERYWHERE, "back", "search", "search_next", "search_prev"),
    "networks": (*_EVERYWHERE, "back", "next_cluster"),
    "doctor": (*_EVERYWHERE, "back", "drill_down", "filter", "next_cluster"),
    "events": (*_EVERYWHERE, "back", "filter", "next_cluster", "event_detail"),
    "logs": (*_EVERYWHERE, "back", "follow_logs", "wrap_logs", "search", "search_next", "search_prev"),
    "scale dialog": (*_EVERYWHERE, "scale_cancel"),
    "confirmation": (*_EVERYWHERE, "confirm_yes", "confirm_no", "confirm_cancel"),
    "typed confirmation": (*_EVERYWHERE, "typed_confirm_cancel"),
    "container choice": (*_EVERYWHERE, "container_choice_cancel"),
    "help": (*_EVERYWHERE, "help_close"),
    "task detail": (*_EVERYWHERE, "task_detail_close", "logs", "exec"),
    "event detail": (*_EVERYWHERE, "event_detail_close"),
    "command line": (*_EVERYWHERE, "command_line_close"),
}

# The main screens' focused widget is a table (widgets/diff_table.py) or a log view: these keys move its
# cursor or scroll it before any screen binding sees them (tests/core/test_keys.py checks them against
# DiffTable's bindings).
TABLE_KEYS: Final = ("up", "down", "left", "right", "pageup", "pagedown", "home", "end", "ctrl+home", "ctrl+end",
                     "j", "k", "g", "G")
_MAIN_SCREENS = ("fleet", "service", "placement", "doctor", "events", "logs", "nodes", "node", "inspect", "networks")


# Textual's own priority keys: a binding given one of them would never fire.
RESERVED: Final[Mapping[str, str]] = {"ctrl+q": "Textual's quit key", "ctrl+c": "Textual's copy and quit key"}


@dataclass(frozen=True, slots=True)
class Dialog:
    """Keys a dialog's focused widget takes before the dialog's bindings see them (Textual asks the focused
    widget first): bound to one of them, a dialog binding would never fire, or would fire where the operator
    meant the focused widget."""

    name: str  # as a config error names it: "the confirmation dialog"
    binding_ids: tuple[str, ...]
    taken: Mapping[str, str] = field(default_factory=dict)  # key -> what it does there instead
    typed_into: str = ""  # a focused text field takes every printable key: what the field is


# Textual's Button takes enter only; space is refused all the same: most toolkits press the focused button on
# it, and a yes on space would apply a change to an operator who meant the focused No.
_BUTTONS = {"enter": "presses the focused button", "space": "is the usual key to press the focused button",
            "tab": "moves the focus between the buttons", "shift+tab": "moves the focus between the buttons"}
# Textual's Input keys (tests/core/test_keys.py checks them against the installed Textual), less up/down and
# pageup/pagedown: a one-line field never scrolls up or down, so those reach the dialog.
INPUT_KEYS: Final = ("alt+backspace", "backspace", "ctrl+a", "ctrl+backspace", "ctrl+c", "ctrl+d", "ctrl+e",
                     "ctrl+k", "ctrl+left", "ctrl+pagedown", "ctrl+pageup", "ctrl+right", "ctrl+shift+a",
                     "ctrl+shift+left", "ctrl+shift+right", "ctrl+u", "ctrl+v", "ctrl+w", "ctrl+x", "delete",
                     "end", "enter", "home", "left", "right", "shift+end", "shift+home", "shift+left",
                     "shift+right", "super+backspace", "super+c")
# Textual's scrolling container keys: taken whenever the dialog's text is longer than the screen.
SCROLL_KEYS: Final = ("up", "down", "left", "right", "pageup", "pagedown", "home", "end", "ctrl+pageup",
                      "ctrl+pagedown")
_SCROLLING = {key: "scrolls the text" for key in SCROLL_KEYS}

DIALOGS: Final[tuple[Dialog, ...]] = (
    Dialog("the confirmation dialog", ("confirm_yes", "confirm_no", "confirm_cancel"), _BUTTONS),
    Dialog("the scale dialog", ("scale_cancel",),
           {**{key: "edits the replica count" for key in INPUT_KEYS}, "enter": "continues to the confirmation",
            "tab": "moves the focus to the force checkbox", "shift+tab": "moves the focus to the force checkbox"},
           typed_into="the replica count"),
    Dialog("the help screen", ("help_close",), _SCROLLING),
    Dialog("the task detail", ("task_detail_close", "logs", "exec"), _SCROLLING),
    Dialog("the event detail", ("event_detail_close",), _SCROLLING),
    Dialog("the command line", ("command_line_close",),
           {**{key: "edits the command" for key in INPUT_KEYS}, "enter": "runs the command",
            "tab": "completes the command"}, typed_into="the command line"),
    Dialog("the container choice", ("container_choice_cancel",),
           {"enter": "picks the highlighted container", "up": "moves in the list", "down": "moves in the list",
            "home": "moves in the list", "end": "moves in the list", "pageup": "moves in the list",
            "pagedown": "moves in the list", "ctrl+pageup": "moves in the list", "ctrl+pagedown": "moves in the list",
            "left": "moves in the list", "right": "moves in the list"}),
    Dialog("the typed confirmation (drain)", ("typed_confirm_cancel",),
           {**{key: "edits the typed name" for key in INPUT_KEYS}, "enter": "confirms when the name matches"},
           typed_into="the node's name"),
)

_NAME_REPLACEMENTS = {"solidus": "slash", "reverse_solidus": "backslash", "commercial_at": "at",
                      "hyphen_minus": "minus", "plus_sign": "plus", "low_line": "underscore"}


def normalise_key(key: str) -> str:
    """A key as Textual matches it: '?' is 'question_mark', '+' is 'plus' (mirrors its keymap normalisation)."""
    return _key_of(key.strip())


def _key_of(character: str) -> str:
    if len(character) != 1 or character.isalnum():
        return character
    if character == "\t":
        return "tab"
    try:
        name = unicodedata.name(character).lower().replace("-", "_").replace(" ", "_")
    except ValueError:
        return character
    return _NAME_REPLACEMENTS.get(name, name)


@cache
def _printable_names() -> frozenset[str]:
    # Latin, Greek, Cyrillic, punctuation, symbols: what a keyboard types as one named key ('question_mark').
    return frozenset(_key_of(chr(code)) for code in range(0x20, 0x3000) if chr(code).isprintable())


def is_typed(key: str) -> bool:
    """Whether the key types a character (a focused text field takes it): 'x', 'question_mark', 'space'."""
    if len(key) == 1:
        return key.isprintable()
    return "+" not in key and key in _printable_names()


def _dialog_problem(binding_id: str, key: str, spelled: str) -> str | None:
    for dialog in DIALOGS:
        if binding_id not in dialog.binding_ids:
            continue
        if key in dialog.taken:
            return f"{spelled!r} {dialog.taken[key]} in {dialog.name}: pick another key"
        if dialog.typed_into and is_typed(key):
            return f"{spelled!r} is typed into {dialog.typed_into} in {dialog.name}: pick another key"
    return None


def _on_main_screen(binding_id: str) -> bool:
    return any(binding_id in LIVE_TOGETHER[screen] for screen in _MAIN_SCREENS)


@dataclass(frozen=True, slots=True)
class KeymapProblem:
    binding_id: str  # the [keymap] entry to fix
    message: str


def keymap_problem(keymap: Mapping[str, str]) -> KeymapProblem | None:
    """The first thing wrong with a [keymap] table (in file order), or None.

    Wrong: an unknown binding id, an empty key, a reserved key, a key a dialog's focused widget takes (enter
    presses the confirmation's focused button), or a key two bindings live on one screen would share (both
    remapped to it, or one remapped onto the other's default key).
    """
    keys: dict[str, tuple[str, ...]] = {}
    written: dict[tuple[str, str], str] = {}  # (binding id, key) -> the key as the file spells it
    for binding_id, value in keymap.items():
        if binding_id not in DEFAULT_KEYS:
            known = ", ".join(sorted(DEFAULT_KEYS))
            return KeymapProblem(binding_id, f"unknown binding id (known: {known})")
        parts = tuple(normalise_key(part) for part in value.split(","))
        if not all(parts):
            return KeymapProblem(binding_id, f"{value!r} has an empty key: give a key such as 'x' or 'ctrl+r'")
        for part, spelled in zip(parts, value.split(","), strict=True):
            if part in RESERVED:
                return KeymapProblem(binding_id, f"{spelled.strip()!r} is {RESERVED[part]}: pick another key")
            taken = _dialog_problem(binding_id, part, spelled.strip())
            if taken is not None:
                return KeymapProblem(binding_id, taken)
            if part in TABLE_KEYS and _on_main_screen(binding_id):
                return KeymapProblem(binding_id, f"{spelled.strip()!r} moves the cursor of the table (or scrolls "
                                                 "the logs) before a binding sees it: pick another key")
            written[(binding_id, part)] = spelled.strip()
        keys[binding_id] = parts
    order = {binding_id: position for position, binding_id in enumerate(keymap)}
    problems: list[tuple[int, KeymapProblem]] = []
    for screen, binding_ids in LIVE_TOGETHER.items():
        # Defaults first, then remaps in file order: a clash is blamed on the remap that made it.
        ordered = sorted(binding_ids, key=lambda binding_id: order.get(binding_id, -1))
        owner: dict[str, str] = {}
        for binding_id in ordered:
            for key in keys.get(binding_id, (DEFAULT_KEYS[binding_id],)):
                other = owner.setdefault(key, binding_id)
                if other == binding_id or binding_id not in keymap:
                    continue
                spelled = written.get((binding_id, key), key)
                if other in keymap:
                    message = (f"{spelled!r} is also given to {other} (both work on the {screen} screen): "
                               "give each binding its own key")
                else:
                    message = (f"{spelled!r} is already the key of {other} on the {screen} screen: "
                               f"pick another key, or remap {other} as well")
                problems.append((order[binding_id], KeymapProblem(binding_id, message)))
    return min(problems, key=lambda problem: problem[0])[1] if problems else None
