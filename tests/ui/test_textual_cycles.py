"""widgets/textual_cycles.py: Textual's strips and LRU caches give the same answers and leave no reference cycles,
so what a repaint drew is freed by reference counting instead of waiting for a full GC pass."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from rich.segment import Segment
from rich.style import Style
from textual.cache import LRUCache
from textual.strip import Strip

from pilothouse.widgets import textual_cycles

WIDTH = 12


@pytest.fixture(autouse=True)
def installed() -> None:
    assert textual_cycles.install(), "this Textual's Strip or LRUCache is not the one the patch recognises"


@contextmanager
def no_collector() -> Iterator[None]:
    """Only reference counting frees objects inside; frozen objects are handed back first (the app may have
    frozen them) so that a collection afterwards sees everything."""
    gc.unfreeze()
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def garbage_cycles_left(make_and_drop: Callable[[], None]) -> int:
    """Objects the cyclic collector had to free after `make_and_drop` ran with only reference counting."""
    with no_collector():
        make_and_drop()
        return gc.collect()


def line(text: str = "pod web-1 ok") -> Strip:
    return Strip([Segment(text[:4], Style(bold=True)), Segment(text[4:].ljust(WIDTH - 4))], WIDTH)


def cycles_after_drawing(use: Callable[[Strip], object]) -> int:
    """Garbage cycles left by `use` on 200 lines drawn and dropped, as a repaint does."""

    def draw_lines() -> None:
        for index in range(200):
            use(line(f"pod {index}"))

    return garbage_cycles_left(draw_lines)


def test_a_strip_divided_at_its_own_width_is_itself_and_no_cycle() -> None:
    strip = line()
    assert strip.divide([WIDTH]) == [strip]
    assert strip.divide([WIDTH, WIDTH + 5]) == [strip], "cuts beyond the strip are ignored, as Textual does"
    assert cycles_after_drawing(lambda strip: strip.divide([WIDTH])) == 0


def test_other_divisions_are_textuals_own() -> None:
    strip = line("abcdefghijkl")
    parts = strip.divide([3, 8, WIDTH])
    assert [part.text for part in parts] == ["abc", "defgh", "ijkl"]
    assert [part.cell_length for part in parts] == [3, 5, 4]
    assert strip.divide([3, 8, WIDTH]) is parts, "Textual's cache still answers the repeated division"


def test_crop_extend_of_the_whole_strip_is_itself_and_no_cycle() -> None:
    strip = line()
    assert strip.crop_extend(0, WIDTH, None) is strip
    assert strip.crop_extend(2, 6, None).text == strip.text[2:6]
    longer = strip.crop_extend(0, WIDTH + 3, Style(dim=True))
    assert longer.cell_length == WIDTH + 3 and longer.text == strip.text + "   "
    assert cycles_after_drawing(lambda strip: strip.crop_extend(0, WIDTH, None)) == 0


def test_a_cleared_lru_cache_leaves_no_ring_behind() -> None:
    def fill_and_clear() -> None:
        cache: LRUCache[int, list[str]] = LRUCache(50)
        for index in range(20):
            cache[index] = [f"line {index}"]
        assert cache.get(3) == ["line 3"]
        cache.clear()
        assert len(cache) == 0 and cache.get(3) is None
        cache[1] = ["again"]
        assert cache.get(1) == ["again"], "a cleared cache is used again as before"
        cache.clear()  # a cache dropped with entries in it is a ring still: its widget's garbage, not ours

    assert garbage_cycles_left(fill_and_clear) == 0


def test_discarding_every_entry_leaves_no_link_behind() -> None:
    def fill_and_discard() -> None:
        cache: LRUCache[int, list[str]] = LRUCache(10)
        for index in range(5):
            cache[index] = [f"line {index}"]
        cache.discard(2)
        assert sorted(cache.keys()) == [0, 1, 3, 4]
        for index in (0, 1, 3, 4):
            cache.discard(index)
        assert len(cache) == 0
        cache[7] = ["seven"]
        assert cache.get(7) == ["seven"]
        cache.discard(7)

    assert garbage_cycles_left(fill_and_discard) == 0


def test_an_evicting_cache_keeps_its_newest_entries() -> None:
    cache: LRUCache[int, int] = LRUCache(3)
    for index in range(6):
        cache[index] = index
    assert sorted(cache.keys()) == [3, 4, 5]
