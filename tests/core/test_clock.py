"""Times in the operator's zone with the zone shown (TZ honoured), UTC with --utc; JSON stays ISO 8601."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone

import pytest

from pilothouse.providers.model import Cluster, ClusterKind, ConnectionState
from pilothouse.widgets.clock import clock, clock_zoned, stamp, use_utc, zone_name
from pilothouse.widgets.cluster_header import cluster_line

WINTER = datetime(2026, 11, 27, 9, 0, 12, tzinfo=UTC)
SUMMER = datetime(2026, 7, 1, 9, 0, 12, tzinfo=UTC)


def in_zone(monkeypatch: pytest.MonkeyPatch, zone: str, utc: bool = False) -> None:
    monkeypatch.setenv("TZ", zone)
    use_utc(utc)  # re-reads TZ


def test_local_zone_from_tz(monkeypatch: pytest.MonkeyPatch) -> None:
    in_zone(monkeypatch, "Europe/Paris")
    assert stamp(WINTER) == "2026-11-27 10:00:12 CET"
    assert stamp(SUMMER) == "2026-07-01 11:00:12 CEST"  # the abbreviation in force at that moment
    assert clock(WINTER) == "10:00:12" and clock_zoned(WINTER) == "10:00:12 CET"


def test_a_zone_without_abbreviation_shows_its_offset(monkeypatch: pytest.MonkeyPatch) -> None:
    in_zone(monkeypatch, "<+0530>-5:30")
    assert stamp(WINTER) == "2026-11-27 14:30:12 +0530"


def test_utc_forced(monkeypatch: pytest.MonkeyPatch) -> None:
    in_zone(monkeypatch, "Asia/Kolkata", utc=True)
    assert stamp(WINTER) == "2026-11-27 09:00:12 UTC" and zone_name() == "UTC"
    # An aware time in another offset and a naive one (the model's UTC) read the same.
    assert stamp(WINTER.astimezone(timezone(timedelta(hours=-5)))) == "2026-11-27 09:00:12 UTC"
    assert stamp(WINTER.replace(tzinfo=None)) == "2026-11-27 09:00:12 UTC"


def test_the_cluster_header_says_the_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    cluster = Cluster(name="c", kind=ClusterKind.SWARM, state=ConnectionState.CONNECTED, last_sync=WINTER)
    in_zone(monkeypatch, "Europe/Paris")
    assert "synced 10:00:12 CET" in cluster_line(cluster).plain
    use_utc(True)
    assert "synced 09:00:12 UTC" in cluster_line(cluster).plain


def _events(zone: str, *flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pilothouse", "--demo", "events", *flags],
                          capture_output=True, text=True, timeout=60, env={**os.environ, "TZ": zone})


def test_cli_events_in_the_local_zone_or_utc() -> None:
    local = _events("Asia/Kolkata")
    assert local.returncode == 0, local.stderr
    lines = local.stdout.splitlines()
    assert lines and all(line[20:23] == "IST" for line in lines), lines[:2]
    forced = _events("Asia/Kolkata", "--utc")
    assert forced.returncode == 0, forced.stderr
    assert all(line[20:23] == "UTC" for line in forced.stdout.splitlines())
    # Same events (the live demo moves between the two runs: a minute's slack), 5:30 apart on the clock.
    first_local = datetime.strptime(lines[0][:19], "%Y-%m-%d %H:%M:%S")
    first_utc = datetime.strptime(forced.stdout.splitlines()[0][:19], "%Y-%m-%d %H:%M:%S")
    assert abs(first_local - first_utc - timedelta(hours=5, minutes=30)) < timedelta(minutes=1)


def test_json_stays_iso_with_offset() -> None:
    done = _events("Asia/Kolkata", "--json")
    assert done.returncode == 0, done.stderr
    times = [event["time"] for event in json.loads(done.stdout)["events"]]
    assert times and all(datetime.fromisoformat(time).utcoffset() == timedelta(0) for time in times)
