"""The console's paced garbage collection (console/collector.py): while the operator types, what is alive after
each snapshot is frozen and cycles among it wait for a full pass that comes only when the frozen set grew by
half or typing went on for FORCE_S; once the keys stop, everything goes back to CPython's own pacing."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from pilothouse.console.collector import FORCE_S, FORCED_FLOOR, FORCED_GROWTH, IDLE_S, PacedCollector


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Heap:
    """The heap's size as the collector reads it (allocated blocks), set by the test."""

    def __init__(self) -> None:
        self.blocks = FORCED_FLOOR

    def __call__(self) -> int:
        return self.blocks


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


def typing_collector(heap: Heap | None = None) -> tuple[Clock, PacedCollector]:
    clock = Clock()
    collector = PacedCollector(clock, heap or Heap())
    collector.input_seen()
    return clock, collector


def test_while_typing_a_snapshot_is_frozen_so_collections_skip_it() -> None:
    _clock, collector = typing_collector()
    alive = dead_cycle_after_settle(collector)
    assert gc.get_freeze_count() > 0
    gc.collect()  # what CPython's own passes do: frozen cycles are not walked
    assert alive() is not None
    assert not collector.tick(), "nothing grew: no full pass"
    assert alive() is not None


def test_without_input_nothing_is_frozen() -> None:
    collector = PacedCollector(Clock())
    alive = dead_cycle_after_settle(collector)
    assert gc.get_freeze_count() == 0
    gc.collect()
    assert alive() is None


def test_when_the_keys_stop_cpython_paces_again() -> None:
    clock, collector = typing_collector()
    alive = dead_cycle_after_settle(collector)
    clock.now += IDLE_S / 2
    collector.tick()
    assert gc.get_freeze_count() > 0, "still typing"
    clock.now += IDLE_S
    assert not collector.tick()
    assert gc.get_freeze_count() == 0
    gc.collect()
    assert alive() is None


def test_a_heap_grown_by_half_gets_a_full_pass_while_typing() -> None:
    heap = Heap()
    _clock, collector = typing_collector(heap)
    alive = dead_cycle_after_settle(collector)
    heap.blocks = int(FORCED_FLOOR * FORCED_GROWTH * 0.9)
    collector.settle()
    assert not collector.tick(), "not yet half again"
    assert alive() is not None
    heap.blocks = int(FORCED_FLOOR * FORCED_GROWTH) + 1
    assert collector.tick()
    assert alive() is None
    assert gc.get_freeze_count() > 0, "survivors of the full pass are frozen again"
    assert not collector.tick(), "the pass resets what growth counts from"
    heap.blocks = int(heap.blocks * FORCED_GROWTH * 0.9)
    assert not collector.tick(), "growth counts from the heap after the pass"
    assert collector.full_passes == 1


def test_a_small_heap_is_measured_from_the_floor() -> None:
    heap = Heap()
    heap.blocks = FORCED_FLOOR // 10
    _clock, collector = typing_collector(heap)
    collector.settle()
    heap.blocks = FORCED_FLOOR  # ten times what it was, still less than half again the floor
    assert not collector.tick()


def test_the_default_heap_measure_counts_what_is_allocated_frozen_or_not() -> None:
    """Garbage cycles kept frozen must count towards the next full pass: they are allocated blocks."""
    heap_size = PacedCollector().heap_size
    before = heap_size()
    kept = [[index] for index in range(200_000)]
    gc.freeze()
    assert heap_size() >= before + 200_000
    del kept


def test_typing_without_a_pause_cannot_put_a_full_pass_off_forever() -> None:
    clock, collector = typing_collector()
    alive = dead_cycle_after_settle(collector)
    passes = []
    while clock.now < 1000.0 + FORCE_S + 1:
        clock.now += 0.25
        collector.input_seen()
        passes.append(collector.tick())
    assert passes.count(True) == 1
    assert passes.index(True) >= (FORCE_S / 0.25) - 1
    assert alive() is None


def test_release_hands_frozen_objects_back_to_cpython() -> None:
    _clock, collector = typing_collector()
    alive = dead_cycle_after_settle(collector)
    collector.release()
    assert gc.get_freeze_count() == 0
    gc.collect()
    assert alive() is None
