"""The cooperative gate that puts the operator's keys before refresh threads (providers/priority.py)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from pilothouse.providers import priority

WAIT_S = 5.0


@pytest.fixture(autouse=True)
def opened() -> Iterator[None]:
    priority.release()
    yield
    priority.release()


def checkpoint_in_thread() -> threading.Event:
    passed = threading.Event()

    def refresh() -> None:
        priority.checkpoint()
        passed.set()

    threading.Thread(target=refresh, daemon=True).start()
    return passed


def test_an_open_gate_costs_nothing() -> None:
    assert not priority.held()
    assert checkpoint_in_thread().wait(WAIT_S)


def test_a_refresh_waits_while_input_is_answered_and_goes_on_when_released() -> None:
    priority.hold(WAIT_S * 4)
    assert priority.held()
    passed = checkpoint_in_thread()
    assert not passed.wait(0.2), "the refresh went on while the gate was held"
    priority.release()
    assert passed.wait(WAIT_S)
    assert not priority.held()


def test_a_hold_never_stops_a_refresh_for_longer_than_it_lasts() -> None:
    priority.hold(0.2)
    started = time.monotonic()
    assert checkpoint_in_thread().wait(WAIT_S), "a hold nobody released stopped the refresh"
    assert time.monotonic() - started >= 0.15
    assert not priority.held()


def test_the_thread_holding_the_gate_never_waits_at_its_own_checkpoints() -> None:
    """The doctor and attention passes wait at checkpoints; on the UI thread (a snapshot posted without them)
    they must not wait for the gate that thread itself opens only once it has drawn."""
    priority.hold(WAIT_S * 4)
    started = time.monotonic()
    priority.checkpoint()
    assert time.monotonic() - started < WAIT_S, "the holder waited for itself"
    assert priority.held(), "other threads still wait"
    assert not checkpoint_in_thread().wait(0.2)
