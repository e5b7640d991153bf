"""Keys as the operator sees them, beside the keymap (console/keys.py): a binding's key under the config's
[keymap], spelled the way the footer spells it (`esc`, `^r`). Dialogs, hints and placeholders that name a key
take it from here, so a remapped key is named right everywhere.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, cast

from textual.app import App
from textual.binding import Binding, BindingType

if TYPE_CHECKING:
    from pilothouse.console.screens.base import ConsoleHost


def effective(bindings: Iterable[BindingType], keymap: Mapping[str, str]) -> list[Binding]:
    """The bindings with their keys as the keymap sets them."""
    result: list[Binding] = []
    for binding in bindings:
        if not isinstance(binding, Binding):
            continue
        if binding.id and binding.id in keymap:
            binding = dataclasses.replace(binding, key=keymap[binding.id], key_display=None)
        result.append(binding)
    return result


def key_display(app: App[Any], bindings: Iterable[BindingType], binding_id: str) -> str:
    """The binding's key as the config's keymap sets it, the way the footer shows keys (`esc`, `^r`); its
    first key when it has several."""
    keymap = cast("ConsoleHost", app).console_config.keymap
    binding = next(binding for binding in effective(bindings, keymap) if binding.id == binding_id)
    return app.get_key_display(dataclasses.replace(binding, key=binding.key.split(",")[0].strip()))
