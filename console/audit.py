"""The audit log: one JSON line per mutation attempt (refused ones included), append-only.

Lives in the XDG state dir ($XDG_STATE_HOME/pilothouse/audit.jsonl) unless the config names a file.
"""

from __future__ import annotations

import getpass
import json
import os
import socket
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pilothouse.console.config import state_home


def default_audit_path() -> Path:
    return state_home() / "audit.jsonl"


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid())


class AuditLog:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_audit_path()
        self._lock = threading.Lock()

    def write(self, *, cluster: str, service: str, action: str, before: str, after: str, result: str,
              detail: str = "", extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "user": _user(),
            "host": socket.gethostname(),
            "cluster": cluster,
            "service": service,
            "action": action,
            "before": before,
            "after": after,
            "result": result,
        }
        if detail:
            entry["detail"] = detail
        if extra:
            entry.update(extra)
        line = json.dumps(entry, sort_keys=False) + "\n"
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # O_APPEND: concurrent consoles on one bastion interleave whole lines, never overwrite.
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                os.write(fd, line.encode("utf-8"))
                os.fsync(fd)
            finally:
                os.close(fd)
        return entry

    def read(self) -> list[dict[str, Any]]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        entries = []
        for line in text.splitlines():
            try:
                entries.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        return entries
