"""Fixtures: a fresh API test server per test, a real kubeconfig pointing at it, providers built from it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# pytest puts this directory on sys.path (prepend import mode, no __init__.py).
from apiserver import ApiServer
from k8s_support import ProviderFactory

from pilothouse.providers.base import ClusterConfig
from pilothouse.providers.kubernetes import KubernetesProvider


@pytest.fixture
def apiserver() -> Iterator[ApiServer]:
    server = ApiServer().start()
    yield server
    server.stop()


@pytest.fixture
def kubeconfig(apiserver: ApiServer, tmp_path: Path) -> Path:
    return apiserver.write_kubeconfig(tmp_path / "kubeconfig")


@pytest.fixture
def make_provider(kubeconfig: Path) -> Iterator[ProviderFactory]:
    made: list[KubernetesProvider] = []

    def make(**options: Any) -> KubernetesProvider:
        options.setdefault("kubeconfig", str(kubeconfig))
        provider = KubernetesProvider(ClusterConfig(name="k8s-test", provider="kubernetes", options=options))
        # Short timings so failure paths run in well under a second; the logic is the production one.
        provider.connect_timeout_s = 2.0
        provider.request_timeout_s = 5.0
        provider.backoff_initial_s = 0.05
        provider.backoff_max_s = 0.4
        provider.forbidden_retry_s = 0.3
        provider.sync_timeout_s = 5.0
        made.append(provider)
        return provider

    yield make
    for provider in made:
        provider.close()


@pytest.fixture
def provider(make_provider: ProviderFactory) -> KubernetesProvider:
    return make_provider()
