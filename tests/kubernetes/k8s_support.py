"""Test helpers for the Kubernetes tests (module name unique: pytest puts this directory on sys.path)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from providers.kubernetes import KubernetesProvider

ProviderFactory = Callable[..., KubernetesProvider]


def wait_until(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.02) -> Any:
    """Poll until `predicate()` is truthy; returns its value, fails the test at the deadline."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s (last value: {last!r})")


def write_config(path: Path, kubeconfig: Path, *, name: str = "k8s", readonly: bool = False,
                 extra: str = "") -> Path:
    """A pilothouse config (TOML) with one Kubernetes cluster; `extra` is appended as is."""
    path.write_text(
        f'[[clusters]]\nname = "{name}"\nprovider = "kubernetes"\nkubeconfig = "{kubeconfig}"\n'
        f"readonly = {'true' if readonly else 'false'}\n{extra}"
    )
    return path
