"""The operator's keys before background refreshes: a cooperative gate for the threads of one interpreter.

Python threads share one interpreter lock and trade it every 5 ms: a refresh mapping 10k pods on its thread
halves the UI thread's speed while both run, so a key that meets a refresh is answered twice as late (the
slowest keys of the event storm benchmark). The console closes the gate when input arrives (`hold`) and
refresh threads wait at their checkpoints (the Kubernetes mapping, per pod and per workload; the doctor and
attention passes, per service) until it opens, or at most HOLD_S after it closed: delayed by input, never
stopped. The app itself applies a snapshot handed over while the gate is held right after the key's frame.
"""

from __future__ import annotations

import threading
import time

HOLD_S = 0.15

_opened = threading.Event()
_opened.set()
_until = 0.0  # monotonic time the current hold ends at the latest
_holder = 0  # the thread that holds the gate (the UI thread): its own checkpoints never wait on it


def hold(seconds: float = HOLD_S) -> None:
    """Input arrived (UI thread): refresh threads pause at their next checkpoint for up to `seconds`."""
    global _until, _holder
    _until = time.monotonic() + seconds
    _holder = threading.get_ident()
    _opened.clear()


def release() -> None:
    """The answer to the input is on screen: refresh threads go on."""
    _opened.set()


def checkpoint() -> None:
    """Called often by refresh work: returns at once unless the gate is held, then when it opens or expires."""
    if _opened.is_set() or threading.get_ident() == _holder:
        return  # the holder waiting for itself would only delay the answer it holds the gate for
    remaining = _until - time.monotonic()
    if remaining > 0:
        _opened.wait(remaining)


def held() -> bool:
    """Whether a key's answer is still to be drawn: a refresh thread's checkpoint would wait now."""
    return not _opened.is_set() and time.monotonic() < _until
