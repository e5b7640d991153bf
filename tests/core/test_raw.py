"""The shared raw accessors (providers/raw.py): each one's answer to odd input pinned, since every provider
reads what a cluster returns through them (a change here changes what every screen shows)."""

from __future__ import annotations

import math
from types import MappingProxyType
from typing import Any

import pytest

from pilothouse.providers import raw
from pilothouse.providers.ecs import raw as ecs_raw
from pilothouse.providers.kubernetes import objects
from pilothouse.providers.swarm import raw as swarm_raw

ODD: list[Any] = [None, True, False, 3, 3.0, 2.5, math.nan, math.inf, "3", " 3 ", "", "x", [1], (1,), {"a": 1}, {1}]


@pytest.mark.parametrize(("value", "expected"), [
    ("web", "web"), ("", ""), (None, ""), (3, ""), (3.5, ""), (True, ""), (b"web", ""), (["web"], ""),
])
def test_as_str_never_converts(value: Any, expected: str) -> None:
    assert raw.as_str(value) == expected


@pytest.mark.parametrize(("value", "expected"), [
    ("web", "web"), (None, ""), (3, "3"), (2.5, "2.5"), (True, "True"), (False, "False"), ({"a": 1}, ""),
    ([1], ""), ((1,), ""), ({1}, ""),
])
def test_to_str_converts_scalars_only(value: Any, expected: str) -> None:
    assert raw.to_str(value) == expected


@pytest.mark.parametrize(("value", "expected"), [
    (3, 3), (-2, -2), (0, 0), (3.0, 3), (-0.0, 0), (2.5, None), (math.nan, None), (math.inf, None),
    (True, None), (False, None), ("3", None), (None, None), ([3], None), (2**63, 2**63),
])
def test_opt_int_keeps_absent_apart_from_zero(value: Any, expected: int | None) -> None:
    assert raw.opt_int(value) == expected
    assert raw.as_int(value, -1) == (-1 if expected is None else expected)
    assert raw.as_int(value) == (0 if expected is None else expected)


@pytest.mark.parametrize(("value", "expected"), [
    ("3", 3), (" 3 ", 3), ("+4", 4), ("-2", -2), ("007", 7), ("3.0", -1), ("1e3", -1), ("1_000", -1),
    ("0x10", -1), ("", -1), ("  ", -1), ("three", -1), (3, 3), (3.0, 3), (True, -1), (None, -1), ([3], -1),
    ("٣", -1),  # an Arabic-Indic digit: int() would read it, a Kubernetes count never has one
])
def test_parse_int_reads_decimal_strings_only(value: Any, expected: int) -> None:
    assert raw.parse_int(value, -1) == expected


def test_containers() -> None:
    same = [1, 2]
    assert raw.as_list(same) is same  # not copied: the caller reads it
    assert raw.as_list((1, 2)) == [1, 2]
    for odd in ("ab", {"a": 1}, {1}, None, 3):
        assert raw.as_list(odd) == []
    ordered = MappingProxyType({"a": 1})
    assert raw.as_dict(ordered) is ordered  # any mapping
    assert raw.as_object(ordered) == {}  # only a JSON object (a dict)
    assert raw.as_object({"a": 1}) == {"a": 1}
    for other in (None, [("a", 1)], "a", 3):
        assert raw.as_dict(other) == {} and raw.as_object(other) == {}
    assert raw.dicts([{"a": 1}, None, "x", [1], ordered]) == [{"a": 1}, ordered]
    assert raw.dicts({"a": 1}) == []


def test_strings_and_labels() -> None:
    assert raw.strings(["a", 1, 2.5, True, None, ["b"]]) == ("a", "1", "2.5")
    assert raw.strings("ab") == ()
    assert raw.as_labels({"app": "web", "tier": None, 1: 2, "on": True, "nested": {"a": 1}}) == {
        "app": "web", "1": "2", "on": "True", "nested": ""}
    assert raw.as_labels(["app"]) == {}


@pytest.mark.parametrize("value", ODD)
def test_nothing_raises(value: Any) -> None:
    for accessor in (raw.as_dict, raw.as_object, raw.as_list, raw.dicts, raw.as_str, raw.to_str, raw.strings,
                     raw.as_labels, raw.opt_int, raw.as_int, raw.parse_int):
        accessor(value)


def test_each_provider_uses_the_shared_set() -> None:
    """One implementation: the providers' names are the shared functions, with the variant each format needs."""
    assert objects._int is raw.parse_int and objects._str is raw.to_str  # Kubernetes: counts as strings
    assert objects._dict is raw.as_object and objects._list is raw.as_list
    assert swarm_raw.as_str is raw.as_str and swarm_raw.opt_int is raw.opt_int  # Swarm: absent is None
    assert ecs_raw.as_int is raw.as_int and ecs_raw.as_str is raw.as_str  # ECS: absent counts are 0
