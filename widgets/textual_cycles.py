"""Textual's render caches without the reference cycles they leave on every repaint.

Three places in Textual turn what a repaint drew into garbage that only CPython's cyclic collector can free
(a full pass walks every tracked object with the interpreter held: 0.3-0.7 s at 10k pods, which a key press
waits out):

- `Strip.divide(cuts)` caches its answer in the strip; when the only cut is the strip's own width (the
  compositor divides every full-width line so) the answer is `[self]`: the strip holds itself, with its eight
  caches. `Strip.crop_extend` does the same when the crop is the whole strip.
- `LRUCache` keeps its entries in a ring of linked lists; `clear()` drops the ring whole, still linked, with
  every cached line in it (DataTable clears its line caches whenever a row changes); `discard()` of the last
  entry leaves that entry linked to itself.

Under a Kubernetes event storm (10k pods, 200 changes a second, tests/benchmarks/bench_storm.py) that was
5,000-10,000 objects a second, and console/collector.py had to run a full pass every 15-20 s of typing.

`install()` wraps these methods: the self-answers are returned without being cached (the answer is the strip
itself: nothing to compute, nothing lost) and a cleared or discarded entry is unlinked; everything else runs
Textual's own code. It patches only what it recognises, so another Textual is left as it is.
tests/ui/test_textual_cycles.py checks that answers are unchanged and that the objects are freed by reference
counting alone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from rich.style import Style
from textual.cache import LRUCache
from textual.strip import Strip

_INSTALLED = "_pilothouse_no_cycles"


def install() -> bool:
    """Patch once per interpreter; True when everything is (now or already) patched."""
    patched = [_patch_strip(), _patch_lru_cache()]
    return all(patched)


def _patch_strip() -> bool:
    if getattr(Strip, _INSTALLED, False):
        return True
    divide: Callable[[Strip, Iterable[int]], Sequence[Strip]] | None = getattr(Strip, "divide", None)
    crop_extend: Callable[[Strip, int, int, Style | None], Strip] | None = getattr(Strip, "crop_extend", None)
    if divide is None or crop_extend is None:
        return False

    def divide_without_cycle(self: Strip, cuts: Iterable[int]) -> Sequence[Strip]:
        cell_length = self.cell_length
        kept = [cut for cut in cuts if cut <= cell_length]
        if kept == [cell_length]:
            return [self]
        return divide(self, kept)

    def crop_extend_without_cycle(self: Strip, start: int, end: int, style: Style | None) -> Strip:
        if start <= 0 and end == self.cell_length:
            return self
        return crop_extend(self, start, end, style)

    _replace(Strip, {"divide": divide_without_cycle, "crop_extend": crop_extend_without_cycle})
    return True


def _patch_lru_cache() -> bool:
    if getattr(LRUCache, _INSTALLED, False):
        return True
    clear: Callable[[LRUCache[Any, Any]], None] | None = getattr(LRUCache, "clear", None)
    discard: Callable[[LRUCache[Any, Any], Any], None] | None = getattr(LRUCache, "discard", None)
    links: dict[Any, list[Any]] | None = getattr(LRUCache(1), "_cache", None)
    if clear is None or discard is None or not isinstance(links, dict):
        return False

    def clear_unlinked(self: LRUCache[Any, Any]) -> None:
        for link in self._cache.values():  # PRIVATE_TEXTUAL_ALLOWED: the ring's links, to unlink them
            link.clear()
        clear(self)

    def discard_unlinked(self: LRUCache[Any, Any], key: Any) -> None:
        link = self._cache.get(key)  # PRIVATE_TEXTUAL_ALLOWED
        discard(self, key)
        if link is not None:
            link.clear()

    _replace(LRUCache, {"clear": clear_unlinked, "discard": discard_unlinked})
    return True


def _replace(cls: type, functions: dict[str, Any]) -> None:
    for name, function in functions.items():
        function.__doc__ = getattr(cls, name).__doc__
        setattr(cls, name, function)
    setattr(cls, _INSTALLED, True)
