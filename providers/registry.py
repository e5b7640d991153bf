"""Providers are found through the `pilothouse.providers` entry-point group, built-ins included.

Listing names imports nothing; a provider's module (and so its SDK) is loaded only when used.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import EntryPoint, entry_points

from pilothouse.providers.advice import DoctorAdvice
from pilothouse.providers.base import ClusterConfig, Provider
from pilothouse.providers.errors import ProviderUnavailable
from pilothouse.providers.vocabulary import GENERIC, Vocabulary

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


@cache
def advice_for(kind: str) -> DoctorAdvice:
    """The doctor's knowledge of an orchestrator: that of the provider registered under the kind's name (a
    demo cluster has the kind it imitates, so it gets the real provider's advice). A kind no provider
    answers to gets the generic advice, in plain words."""
    try:
        return provider_class(str(kind)).ADVICE
    except ProviderUnavailable:
        return DoctorAdvice()


@cache
def vocabulary_for(kind: str) -> Vocabulary:
    """The words of the orchestrator a cluster's kind names: those of the provider registered under that name
    (the built-ins and a plugin alike; a demo cluster has the kind it imitates). Loading a provider class
    imports no SDK (providers import theirs inside methods). A kind no provider answers to gets plain words."""
    try:
        return provider_class(str(kind)).VOCABULARY
    except ProviderUnavailable:
        return GENERIC
