"""The console's own audit entries as timeline events, re-read only when the audit file changed.

Reading the file is I/O: call `events()` from a thread worker, never on the UI thread.
"""

from __future__ import annotations

import os
import threading
from datetime import UTC, datetime

from pilothouse.console.audit import AuditLog, AuditUnavailable
from pilothouse.console.timeline import audit_events
from pilothouse.providers.model import Event


class AuditFeed:
    def __init__(self, audit: AuditLog) -> None:
        self.audit = audit
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._events: list[Event] = []

    def events(self) -> list[Event]:
        """Every audit entry, oldest first; cached by the file's (mtime, size)."""
        with self._lock:
            try:
                stat = os.stat(self.audit.path)
            except OSError:
                self._stamp, self._events = None, []
                return []
            stamp = (stat.st_mtime_ns, stat.st_size)
            if stamp != self._stamp:
                try:
                    self._events = audit_events(self.audit.read())
                except AuditUnavailable as error:
                    # Unreadable (a directory, no permission): one line in the timeline, not a crash.
                    self._events = [Event(time=datetime.now(UTC), cluster="", object="audit log", kind="audit",
                                          message=str(error))]
                self._stamp = stamp
            return list(self._events)

    def for_service(self, cluster: str, service_ref: str) -> list[Event]:
        return [event for event in self.events() if event.cluster == cluster and event.service_ref == service_ref]
