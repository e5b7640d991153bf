"""The console tells each provider where it may keep state: the dir the audit log lives in."""

from __future__ import annotations

from pathlib import Path

from pilothouse.console.audit import default_audit_path
from pilothouse.console.config import AppConfig
from pilothouse.console.fleet import Fleet
from pilothouse.providers.base import ClusterConfig


def test_providers_get_the_consoles_state_dir(tmp_path: Path) -> None:
    own = tmp_path / "elsewhere"
    config = AppConfig(clusters=(
        ClusterConfig(name="plain", provider="demo"),
        ClusterConfig(name="given", provider="demo", state_dir=own),
    ))
    fleet = Fleet(config)
    assert fleet.providers["plain"].config.state_dir == default_audit_path().parent
    assert fleet.providers["given"].config.state_dir == own
