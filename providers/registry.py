"""Providers are found through the `pilothouse.providers` entry-point group, built-ins included.

Listing names imports nothing; a provider's module (and so its SDK) is loaded only when used.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import EntryPoint, entry_points

from pilothouse.providers.base import ClusterConfig, Provider
from pilothouse.providers.errors import ProviderUnavailable

GROUP = "pilothouse.providers"


@cache
def _entry_points() -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def available() -> list[str]:
    return sorted(_entry_points())


def provider_class(name: str) -> type[Provider]:
    entry = _entry_points().get(name)
    if entry is None:
        known = ", ".join(available()) or "none"
        raise ProviderUnavailable(
            f"provider {name!r} is not installed",
            f"installed providers: {known}",
        )
    try:
        loaded = entry.load()
    except ImportError as error:
        raise ProviderUnavailable(
            f"provider {name!r} could not be loaded ({error})", "reinstall pilothouse or that plugin"
        ) from error
    if not (isinstance(loaded, type) and issubclass(loaded, Provider)):
        raise ProviderUnavailable(f"entry point {name!r} is not a pilothouse Provider")
    return loaded


def create(config: ClusterConfig) -> Provider:
    return provider_class(config.provider)(config)
