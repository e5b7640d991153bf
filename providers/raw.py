"""Raw accessors: reading what a cluster returns (engine JSON, Kubernetes objects, AWS answers) without trusting it.

One set for every provider. None of them raises: a missing, null or mistyped field reads as the empty value
named below, so a surprising answer degrades a cell instead of failing a refresh. Where the formats really
differ there are variants, each with its semantics pinned by tests/core/test_raw.py:

- Strings: `as_str` never converts (a number where a name belongs is not a name: ""); `to_str` converts
  scalars, for formats that put numbers or booleans in string fields (Kubernetes label and annotation values
  written unquoted in YAML reach the API as strings, but some clients send them raw).
- Integers: `opt_int` keeps "absent" apart from 0 (Swarm's Replicas, ECS's exit codes: None is "not
  known"); `as_int` is the same with a default; `parse_int` also reads a decimal string, for Kubernetes,
  whose API writes some counts as strings (revision annotations, intstr fields).
- A bool is never an int here (Python's bool is a subclass of int; `True` is not a replica count), and a
  float counts only when it is a whole, finite number (JSON decoders may give 3.0 for 3).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

Raw = Mapping[str, Any]

_DECIMAL = re.compile(r"[+-]?[0-9]+")


def as_dict(value: Any) -> Raw:
    """A mapping as it is; anything else: {}."""
    # A decoded JSON object is a dict: that test is a type comparison, where the ABC's costs a call (a 10,000-task
    # refresh asks this about 170,000 times).
    return value if type(value) is dict or isinstance(value, Mapping) else {}


def as_object(value: Any) -> dict[str, Any]:
    """A JSON object (a dict) as it is; anything else, other mappings included: {}. For code that keeps dicts."""
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    """A list as it is (the same object), a tuple as a new list; anything else (strings, sets, dicts): []."""
    if isinstance(value, list):
        return value
    return list(value) if isinstance(value, tuple) else []


def dicts(value: Any) -> list[Raw]:
    """The mappings of a list, skipping whatever else it holds."""
    return [item for item in as_list(value) if type(item) is dict or isinstance(item, Mapping)]


def as_str(value: Any) -> str:
    """A string as it is; anything else (None, numbers, bools): ""."""
    return value if isinstance(value, str) else ""


def to_str(value: Any) -> str:
    """A string as it is; None: ""; a number or bool as Python writes it ("3", "True"); containers: ""."""
    if isinstance(value, str):
        return value
    if value is None or isinstance(value, Mapping | list | tuple | set):
        return ""
    return str(value)


def strings(value: Any) -> tuple[str, ...]:
    """The scalars of a list as strings (numbers converted); None, bools and containers in it are skipped."""
    return tuple(str(item) for item in as_list(value)
                 if isinstance(item, str | int | float) and not isinstance(item, bool))


def as_labels(value: Any) -> dict[str, str]:
    """A mapping of labels as strings; entries whose value is None are left out, keys converted."""
    return {str(key): to_str(val) for key, val in as_dict(value).items() if val is not None}


def opt_int(value: Any) -> int | None:
    """An int, or a whole finite float, as an int; anything else (bools, strings, 2.5, NaN): None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    return None


def as_int(value: Any, default: int = 0) -> int:
    """opt_int, with `default` for what it does not read."""
    number = opt_int(value)
    return default if number is None else number


def parse_int(value: Any, default: int = 0) -> int:
    """as_int, and also a decimal string ("3", " -2 "); not "3.0", "1e3", "1_000", "0x10" or "": `default`."""
    if isinstance(value, str):
        text = value.strip()
        return int(text) if _DECIMAL.fullmatch(text) else default
    return as_int(value, default)
