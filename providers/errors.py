"""Typed provider errors. No raw SDK exception ever crosses providers/."""

from __future__ import annotations


class ProviderError(Exception):
    """Base of every error a provider raises; `str()` is one line an operator can act on."""

    # What the CLI exits with: 1 the cluster refused or failed, 2 bad input.
    exit_code = 1
    # The API call that failed, in the API's own words ("DescribeServices"), when one did.
    operation = ""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}: {self.hint}" if self.hint else self.message


class Unreachable(ProviderError):
    """The cluster's API cannot be reached (connection refused, DNS, timeout)."""


class ConnectionRefused(Unreachable):
    """Nothing listens at the configured address (refused, no such socket, unknown host): most often the
    config is wrong, so the CLI treats it as bad input."""

    exit_code = 2


class Forbidden(ProviderError):
    """The credentials are valid but not allowed to do this."""


class CredentialsError(ProviderError):
    """Credentials are missing or expired; the hint says what to run."""


class Throttled(ProviderError):
    """The API asks us to slow down."""


class Conflict(ProviderError):
    """Someone else changed the object first (a stale version); refresh and decide again."""


class InvalidInput(ProviderError):
    """The request itself is wrong; nothing was sent to the cluster."""

    exit_code = 2


class NotFound(InvalidInput):
    """No such cluster, service or task."""


class NotSupported(InvalidInput):
    """The action does not apply to this object (scaling a global service, rolling back with no history)."""


class ProviderUnavailable(InvalidInput):
    """A config names a provider that is not installed."""
