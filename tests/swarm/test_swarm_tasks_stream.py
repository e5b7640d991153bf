"""GET /tasks decoded as it arrives (providers/swarm/tasks.py): every way the answer can be cut into chunks gives
the same items as decoding it whole, and what is not one complete JSON array is an error, never a short list."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pilothouse.providers.swarm.tasks import json_array_items

ITEMS: list[Any] = [
    {"ID": "a", "Spec": {"ContainerSpec": {"Image": "app:1", "Env": ["X=[1, 2]", "Y={\"z\": \"]\"}"]}}},
    {"ID": "b", "Status": {"Err": "caf\u00e9 \u2603 \\\" , ]"}, "Slot": 12},
    [], 3, "text", None, True,
]


def cut(data: bytes, size: int) -> list[bytes]:
    return [data[i:i + size] for i in range(0, len(data), size)]


@pytest.mark.parametrize("indent", [None, 1])
def test_every_chunking_gives_the_items_of_the_whole_answer(indent: int | None) -> None:
    data = json.dumps(ITEMS, indent=indent, ensure_ascii=False).encode()
    for size in range(1, len(data) + 1):  # cuts inside strings, escapes, multi-byte characters and numbers
        assert list(json_array_items(iter(cut(data, size)))) == ITEMS, size


def test_an_empty_array_and_surrounding_whitespace() -> None:
    assert list(json_array_items(iter([b" \n[", b" ]\n"]))) == []


@pytest.mark.parametrize("data", [b"", b"[", b'[{"ID": "a"},', b'[{"ID": "a"}', b'{"ID": "a"}', b'[{"ID": }]',
                                  b'[{"ID": "a"}] [', b"[1, 2"])
def test_anything_but_one_complete_array_is_an_error(data: bytes) -> None:
    with pytest.raises(ValueError):
        list(json_array_items(iter(cut(data, 3) if data else [])))
