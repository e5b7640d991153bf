"""Shared fixtures: every test runs with its own config and state dirs, never the developer's."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

# tests/support holds helpers shared by the test dirs (waiting, http_count_proxy); test dirs are not packages.
sys.path.insert(0, str(Path(__file__).parent / "support"))

# Times are shown in the local zone: the suite's expected texts are written for UTC, whatever the machine's zone
# (tests of the zone itself set TZ on purpose). Children inherit it.
os.environ["TZ"] = "UTC"
time.tzset()


@pytest.fixture(autouse=True)
def local_times() -> Iterator[None]:
    """Each test starts showing local times (UTC above) and leaves it so, whatever it set (--utc, TZ)."""
    from pilothouse.widgets.clock import use_utc

    yield
    os.environ["TZ"] = "UTC"
    use_utc(False)


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / "state"))
    monkeypatch.delenv("PILOTHOUSE_CONFIG", raising=False)
    yield home


@pytest.fixture
def no_detected_clusters(isolated_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Detection must not pick up the machine's own engine, kubeconfig or AWS environment."""
    monkeypatch.setenv("KUBECONFIG", str(isolated_home / "no-kubeconfig"))
    monkeypatch.setenv("DOCKER_HOST", f"unix://{isolated_home / 'no-docker.sock'}")
    for name in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_DEFAULT_PROFILE",
                 "DOCKER_CONTEXT"):
        monkeypatch.delenv(name, raising=False)
    # The developer's own docker contexts and AWS profiles are detected too: point those files away.
    monkeypatch.setenv("DOCKER_CONFIG", str(isolated_home / "no-docker-config"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(isolated_home / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(isolated_home / "no-aws-credentials"))
