"""Times as the operator reads them: in the local zone (the TZ environment variable honoured, as `date`
does), or in UTC when asked (`--utc`), always with the zone shown. The model keeps aware UTC times and JSON
output stays ISO 8601 with its offset; only what is printed for people passes through here. Pure: no Textual.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, tzinfo

_state = {"utc": False}


def use_utc(utc: bool) -> None:
    """Set once at start-up from `--utc`; re-reads TZ so a zone set since the process began is honoured."""
    _state["utc"] = utc
    if hasattr(time, "tzset"):
        time.tzset()


def showing_utc() -> bool:
    return _state["utc"]


def _zone() -> tzinfo | None:
    return UTC if _state["utc"] else None  # None: astimezone() takes the local zone


def shown(moment: datetime) -> datetime:
    """The moment in the zone times are shown in (a naive time is taken as UTC, as the model means it)."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    try:
        return aware.astimezone(_zone())
    except (OverflowError, ValueError, OSError):
        return aware  # out of the platform's range: as it came


def zone_name(moment: datetime | None = None) -> str:
    """`UTC`, `CET`, `CEST` (the abbreviation in force at `moment`), or `+0530` when the zone has none."""
    local = shown(moment or datetime.now(UTC))
    name = local.tzname() or ""
    if not name or name[0] in "+-":
        return local.strftime("%z") or "UTC"
    return name


def clock(moment: datetime) -> str:
    """`14:03:07`: for columns and lines whose zone is said once nearby (a header, a title)."""
    return f"{shown(moment):%H:%M:%S}"


def clock_zoned(moment: datetime) -> str:
    """`14:03:07 CET`."""
    return f"{clock(moment)} {zone_name(moment)}"


def stamp(moment: datetime) -> str:
    """`2026-11-27 14:03:07 CET`: a full time with its zone."""
    return f"{shown(moment):%Y-%m-%d %H:%M:%S} {zone_name(moment)}"
