"""A third-party provider installed the way pip leaves a distribution: a .dist-info with entry_points.txt in a
directory on sys.path. The plugin's package lives in tests/plugin/pilothouse_nomadlike; its metadata goes to a
temporary site directory, on sys.path only inside `installed_plugin`, so no other test sees the plugin."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pilothouse.providers import registry

PLUGIN_HOME = Path(__file__).resolve().parent.parent / "plugin"
DIST = "pilothouse_nomadlike-0.1.dist-info"
ENTRY_POINTS = "[pilothouse.providers]\nnomad-like = pilothouse_nomadlike.provider:NomadLikeProvider\n"
KIND = "nomad-like"


def forget() -> None:
    """The registry caches what it found (entry points, vocabularies, advice): start afresh."""
    for value in list(vars(registry).values()):
        clear = getattr(value, "cache_clear", None)
        if callable(clear):
            clear()


def write_site(site: Path) -> Path:
    info = site / DIST
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: pilothouse-nomadlike\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(ENTRY_POINTS)
    (info / "top_level.txt").write_text("pilothouse_nomadlike\n")
    return site


@contextmanager
def installed_plugin(tmp_path: Path) -> Iterator[Path]:
    """The plugin installed for the duration (its site directory is returned)."""
    site = write_site(tmp_path / "site")
    added = [str(site), str(PLUGIN_HOME)]
    sys.path[:0] = added
    forget()
    try:
        yield site
    finally:
        for path in added:
            sys.path.remove(path)
        sys.modules.pop("pilothouse_nomadlike.provider", None)
        sys.modules.pop("pilothouse_nomadlike", None)
        forget()


def subprocess_env(site: Path) -> dict[str, str]:
    """The environment a `python -m pilothouse` child needs to find the plugin (and this checkout)."""
    paths = [str(site), str(PLUGIN_HOME), *filter(None, [os.environ.get("PYTHONPATH")])]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
