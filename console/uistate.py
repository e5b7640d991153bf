"""What the console remembers between runs that is not config: the theme last picked in the palette.

Kept in $XDG_STATE_HOME/pilothouse/state.json (0600), never written into the user's config file, whose
comments and layout a rewrite would lose. A `theme` in the config wins over the remembered one.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from pilothouse.console.config import state_home


def state_path() -> Path:
    return state_home() / "state.json"


def _read() -> dict[str, Any]:
    try:
        data = json.loads(state_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}  # missing or damaged: start from nothing, it only holds preferences
    return data if isinstance(data, dict) else {}


def remembered_theme() -> str | None:
    theme = _read().get("theme")
    return theme if isinstance(theme, str) else None


def remember_theme(name: str) -> None:
    data = _read()
    if data.get("theme") == name:
        return
    data["theme"] = name
    path = state_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump(data, handle)
        os.replace(temporary, path)
    except OSError:
        pass  # a preference not kept is not worth interrupting the operator for
