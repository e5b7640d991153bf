"""The audit log: JSON lines, append-only, 0600 in a 0700 directory.

Lives in the XDG state dir ($XDG_STATE_HOME/pilothouse/audit.jsonl) unless the config names a file.

A mutation that is sent leaves two lines sharing one `attempt` id: the intent (`phase: intent`,
`result: pending`), written and fsynced before anything goes to the cluster, then the outcome
(`phase: outcome`, `result: ok`, `failed: WHY`, or `interrupted: ...` after Ctrl+C while sending). An
attempt that never reached the cluster (refused, cancelled, failed while planning) is one line.
Readers pair the lines (console.timeline).
"""

from __future__ import annotations

import getpass
import json
import os
import socket
import threading
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pilothouse.console.config import state_home
from pilothouse.console.private_files import open_private_append
from pilothouse.providers.errors import ProviderError

PENDING = "pending"
# A huge or binary audit file must not take the console's memory: the newest lines are what a timeline shows.
MAX_READ_BYTES = 16 * 1024 * 1024


def default_audit_path() -> Path:
    return state_home() / "audit.jsonl"


def demo_audit_path() -> Path:
    """Where the demo's mutations are audited: beside the real audit log, never in it (a simulated scale must
    not read as an operator's change to a real cluster)."""
    return state_home() / "demo-audit.jsonl"


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid())


def os_reason(error: OSError) -> str:
    """'Permission denied' rather than "[Errno 13] Permission denied: '/x'": the caller names the path."""
    return error.strerror or type(error).__name__


class AuditUnavailable(ProviderError):
    """The audit log cannot be written (or read); a mutation that cannot be audited is not sent."""


def new_attempt() -> str:
    return uuid.uuid4().hex[:12]


class AuditLog:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_audit_path()
        # Our own state dir is made private; a directory the operator named in the config is theirs.
        self._owns_dir = path is None
        self._lock = threading.Lock()

    @classmethod
    def demo(cls) -> AuditLog:
        """The demo fleet's own audit log (demo_audit_path), in our state dir."""
        audit = cls()
        audit.path = demo_audit_path()
        return audit

    def write(self, *, cluster: str, service: str, action: str, before: str, after: str, result: str,
              detail: str = "", extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Append one entry and fsync it. Raises OSError when it cannot be written."""
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
            # O_APPEND: concurrent consoles on one bastion interleave whole lines, never overwrite.
            fd = open_private_append(self.path, tighten_dir=self._owns_dir)
            try:
                data = line.encode("utf-8")
                written = os.write(fd, data)
                if written != len(data):  # a full disk can take part of a line: that is not a record
                    raise OSError(28, "No space left on device (short write)")
                os.fsync(fd)
            finally:
                os.close(fd)
        return entry

    def read(self) -> list[dict[str, Any]]:
        """Every parseable entry; a missing file is an empty log. Raises AuditUnavailable (one line)."""
        try:
            with open(self.path, "rb") as handle:
                size = os.fstat(handle.fileno()).st_size
                if size > MAX_READ_BYTES:
                    handle.seek(size - MAX_READ_BYTES)
                    handle.readline()  # a partial first line
                data = handle.read(MAX_READ_BYTES)
        except FileNotFoundError:
            return []
        except OSError as error:
            raise AuditUnavailable(f"cannot read the audit log {self.path}: {os_reason(error)}",
                                   "check audit_log in the config") from None
        entries = []
        for line in data.decode("utf-8", errors="replace").splitlines():
            try:
                entry = json.loads(line)
            except (json.JSONDecodeError, RecursionError):
                continue
            if isinstance(entry, dict):
                entries.append(entry)
        return entries
