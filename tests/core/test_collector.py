"""The console's paced garbage collection (console/collector.py): long-lived objects frozen after each snapshot,
cycles among them found by a full pass only when the operator pauses, or when no pause comes for too long."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from pilothouse.console.collector import FORCE_S, IDLE_S, MIN_INTERVAL_S, PacedCollector


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Node:
    """A container in a reference cycle: only the cyclic collector frees it."""

    def __init__(self) -> None:
        self.me = self


@pytest.fixture(autouse=True)
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


def dead_cycle_after_settle(collector: PacedCollector) -> weakref.ref[Node]:
    node = Node()
    alive = weakref.ref(node)
    collector.settle()
    del node
    return alive


def test_settle_freezes_what_is_alive_so_collections_skip_it() -> None:
    collector = PacedCollector(Clock())
    alive = dead_cycle_after_settle(collector)
    assert gc.get_freeze_count() > 0
    gc.collect()  # what CPython's own passes do: frozen cycles are not walked
    assert alive() is not None


def test_a_full_pass_waits_for_the_operators_pause() -> None:
    clock = Clock()
    collector = PacedCollector(clock)
    alive = dead_cycle_after_settle(collector)
    clock.now += MIN_INTERVAL_S
    collector.input_seen()
    clock.now += IDLE_S / 2
    assert not collector.collect_if_due()
    assert alive() is not None
    clock.now += IDLE_S
    assert collector.collect_if_due()
    assert alive() is None
    assert collector.full_passes == 1
    assert gc.get_freeze_count() > 0, "survivors of the full pass are frozen again"


def test_full_passes_are_spaced_even_when_idle() -> None:
    clock = Clock()
    collector = PacedCollector(clock)
    clock.now += MIN_INTERVAL_S
    assert collector.collect_if_due()
    clock.now += MIN_INTERVAL_S / 2
    assert not collector.collect_if_due()
    clock.now += MIN_INTERVAL_S / 2
    assert collector.collect_if_due()


def test_keys_without_a_pause_cannot_put_a_full_pass_off_forever() -> None:
    clock = Clock()
    collector = PacedCollector(clock)
    alive = dead_cycle_after_settle(collector)
    passes = []
    while clock.now < 1000.0 + FORCE_S + 1:
        clock.now += 0.25
        collector.input_seen()
        passes.append(collector.collect_if_due())
    assert passes.count(True) == 1
    assert passes.index(True) >= (FORCE_S / 0.25) - 1
    assert alive() is None


def test_release_hands_frozen_objects_back_to_cpython() -> None:
    collector = PacedCollector(Clock())
    alive = dead_cycle_after_settle(collector)
    collector.release()
    assert gc.get_freeze_count() == 0
    gc.collect()
    assert alive() is None
