"""Test helpers for the Kubernetes tests (module name unique: pytest puts this directory on sys.path)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from waiting import wait_until as wait_until

from pilothouse.providers.kubernetes import KubernetesProvider

ProviderFactory = Callable[..., KubernetesProvider]


def write_config(path: Path, kubeconfig: Path, *, name: str = "k8s", readonly: bool = False,
                 extra: str = "") -> Path:
    """A pilothouse config (TOML) with one Kubernetes cluster; `extra` is appended as is."""
    path.write_text(
        f'[[clusters]]\nname = "{name}"\nprovider = "kubernetes"\nkubeconfig = "{kubeconfig}"\n'
        f"readonly = {'true' if readonly else 'false'}\n{extra}"
    )
    return path
