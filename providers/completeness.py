"""What a provider could not read, kept across refreshes so that each gap says since when it has lasted.

Providers note a gap each refresh it persists; a gap not noted again has closed. The words of a reason are
shared (`reason_of`), so "throttled by AWS" or "403 forbidden" read the same whatever the provider.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from pilothouse.providers.errors import Forbidden, ProviderError, Throttled
from pilothouse.providers.model import Missing


class DeadlineExceeded(ProviderError):
    """A one-shot command's --timeout ran out before this call could be (re)tried."""


def reason_of(error: Exception, throttled_by: str = "the API", denied: str = "403 forbidden") -> str:
    """One short reason for a gap: "throttled by AWS", "403 forbidden", "HTTP 500 ...", the error's message.
    `denied`: how the orchestrator says no (AWS answers "access denied" with HTTP 400, not 403)."""
    if isinstance(error, Throttled):
        return f"throttled by {throttled_by}"
    if isinstance(error, Forbidden):
        return f"{denied}: {error.message}"
    if isinstance(error, DeadlineExceeded):
        return error.message
    if isinstance(error, ProviderError):
        return error.message
    return f"unexpected error: {type(error).__name__}"


class Gaps:
    """The open gaps of one provider, by a key the provider chooses (e.g. ("beta", "services"))."""

    def __init__(self) -> None:
        self._open: dict[object, Missing] = {}
        self._noted: set[object] = set()
        self._lock = threading.Lock()

    def begin(self) -> None:
        """A refresh starts: gaps not noted again before `end()` have closed."""
        with self._lock:
            self._noted = set()

    def note(self, key: object, what: str, reason: str, *, part: str = "",
             shown_from: datetime | None = None) -> Missing:
        with self._lock:
            earlier = self._open.get(key)
            since = earlier.since if earlier is not None else datetime.now(UTC)
            gap = Missing(what=what, reason=reason, since=since, part=part, shown_from=shown_from)
            self._open[key] = gap
            self._noted.add(key)
            return gap

    def close(self, key: object) -> None:
        with self._lock:
            self._open.pop(key, None)
            self._noted.discard(key)

    def end(self) -> tuple[Missing, ...]:
        """The gaps of the refresh just done, oldest first."""
        with self._lock:
            self._open = {key: gap for key, gap in self._open.items() if key in self._noted}
            return tuple(self._open.values())

    def is_open(self, key: object) -> bool:
        with self._lock:
            return key in self._open

    def open_keys(self) -> list[object]:
        with self._lock:
            return list(self._open)

    def current(self) -> tuple[Missing, ...]:
        with self._lock:
            return tuple(self._open.values())
