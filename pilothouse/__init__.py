"""pilothouse: one terminal console for services on Docker Swarm, Kubernetes and AWS ECS.

The only top-level import package the distribution installs. The card's folders stay at the top of the
repository (console/, widgets/, providers/) and are its subpackages here, so a distribution that claims one of
those generic names (PyPI has `console` and `providers`) cannot overwrite or shadow pilothouse's files.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version


def _version() -> str:
    try:
        return version("pilothouse")
    except PackageNotFoundError:  # running from a checkout that was never installed
        return "0+unknown"


__version__ = _version()
