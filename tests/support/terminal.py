"""A program in a real pseudo-terminal, read as a terminal would receive it."""

from __future__ import annotations

import os
import select
import time


def _read_chunk(fd: int, wait: float) -> bytes | None:
    """What the pty holds within `wait` seconds (b"" if nothing yet); None once the child has closed it."""
    if fd not in select.select([fd], [], [], wait)[0]:
        return b""
    try:
        return os.read(fd, 65536) or None
    except OSError:
        return None


def read_until(fd: int, needle: bytes, timeout: float) -> bytes:
    """Read the pty until `needle` shows up (or the deadline passes, or the child closes it)."""
    seen = b""
    deadline = time.monotonic() + timeout
    while needle not in seen and time.monotonic() < deadline:
        chunk = _read_chunk(fd, 0.1)
        if chunk is None:
            break
        seen += chunk
    return seen


def drain(fd: int) -> bytes:
    """Whatever the pty holds right now, without waiting for more."""
    seen = b""
    while chunk := _read_chunk(fd, 0):
        seen += chunk
    return seen
