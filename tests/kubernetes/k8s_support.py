"""Test helpers for the Kubernetes tests (module name unique: pytest puts this directory on sys.path)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from apiserver import ApiServer
from waiting import wait_until as wait_until

from pilothouse.console.audit import default_audit_path
from pilothouse.console.cli import main
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


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """The CLI in-process: (exit code, stdout, stderr)."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def audit_lines() -> list[dict[str, Any]]:
    path = default_audit_path()
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
