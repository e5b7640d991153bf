"""The console's paced garbage collection (console/collector.py): long-lived objects frozen after each snapshot,
cycles among them found by a full pass only when the operator pauses, or when no pause comes for too long."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from pilothouse.console.collector import (
    FORCE_S,
    FORCED_FLOOR,
    FORCED_GROWTH,
    GROWTH,
    IDLE_S,
    MIN_INTERVAL_S,
    PacedCollector,
)


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


def grow_frozen_set(collector: PacedCollector, factor: float) -> list[list[int]]:
    """Containers enough to make the frozen set `factor` times what it was, frozen by the next settle."""
    frozen = gc.get_freeze_count()
    grown: list[list[int]] = [[] for _ in range(int(max(frozen, FORCED_FLOOR) * factor) - frozen + 1000)]
    collector.settle()
    return grown


def test_a_heap_grown_by_a_quarter_is_collected_at_the_next_pause_not_during_input() -> None:
    clock = Clock()
    collector = PacedCollector(clock)
    collector.settle()
    clock.now += IDLE_S
    assert not collector.due(), "idle, but nothing grew and the last pass is recent"
    grown = grow_frozen_set(collector, GROWTH + 0.05)
    assert collector.due()
    collector.input_seen()
    assert not collector.due(), "a quarter more is not worth a pause while keys come"
    del grown


def test_a_heap_grown_by_half_is_collected_even_during_input() -> None:
    clock = Clock()
    collector = PacedCollector(clock)
    collector.settle()
    grown = grow_frozen_set(collector, FORCED_GROWTH + 0.05)
    collector.input_seen()
    assert collector.collect_if_due()
    collector.input_seen()
    assert not collector.due(), "the pass resets what growth counts from"
    del grown


def test_release_hands_frozen_objects_back_to_cpython() -> None:
    collector = PacedCollector(Clock())
    alive = dead_cycle_after_settle(collector)
    collector.release()
    assert gc.get_freeze_count() == 0
    gc.collect()
    assert alive() is None
