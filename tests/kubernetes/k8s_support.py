"""Test helpers for the Kubernetes tests (module name unique: pytest puts this directory on sys.path)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from apiserver import ApiServer
from waiting import wait_until as wait_until

from pilothouse.providers.kubernetes import KubernetesProvider
from pilothouse.providers.model import Service

ProviderFactory = Callable[..., KubernetesProvider]


def write_config(path: Path, kubeconfig: Path, *, name: str = "k8s", readonly: bool = False,
                 extra: str = "") -> Path:
    """A pilothouse config (TOML) with one Kubernetes cluster; `extra` is appended as is."""
    path.write_text(
        f'[[clusters]]\nname = "{name}"\nprovider = "kubernetes"\nkubeconfig = "{kubeconfig}"\n'
        f"readonly = {'true' if readonly else 'false'}\n{extra}"
    )
    return path


def service_of(provider: KubernetesProvider, ref: str) -> Service:
    """The service `ref` in a fresh snapshot (it must be there)."""
    found = provider.snapshot().service(ref)
    assert found is not None, ref
    return found


def patches(api: ApiServer) -> list[tuple[str, str, str, Any]]:
    """The PATCH requests the test server received: (method, path, Content-Type, body)."""
    return [write for write in api.state.writes if write[0] == "PATCH"]
