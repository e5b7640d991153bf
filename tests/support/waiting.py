"""Waiting for a condition with a deadline: the only way tests synchronise with a backend (never a bare sleep)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


class Timeout(AssertionError):
    """The condition did not hold by the deadline: a test failure, with what was awaited and the last value."""


def wait_until(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.02, what: str = "") -> Any:
    """Poll `predicate` until it returns something truthy and return that; fail at the deadline."""
    deadline = time.monotonic() + timeout
    last = predicate()
    while not last:
        if time.monotonic() > deadline:
            raise Timeout(f"timed out after {timeout}s waiting for {what or predicate!r}; last value: {last!r}")
        time.sleep(interval)
        last = predicate()
    return last
