"""Clusters found without a config: the local Docker engine if it is a swarm manager, the current
kubeconfig context, and an AWS environment. Cheap checks only; no SDK is imported here."""

from __future__ import annotations

import json
import os
import re
import socket
from pathlib import Path

from pilothouse.providers.base import ClusterConfig

PROBE_TIMEOUT_S = 0.5


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-")[:60] or "cluster"


def _unix_swarm_manager(path: str) -> bool:
    """GET /info over the socket: is this engine a swarm manager? Half a second at most."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(PROBE_TIMEOUT_S)
            sock.connect(path)
            sock.sendall(b"GET /info HTTP/1.0\r\nHost: docker\r\n\r\n")
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
    except OSError:
        return False
    _, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    try:
        info = json.loads(body)
    except ValueError:
        return False
    swarm = info.get("Swarm") or {}
    return bool(swarm.get("ControlAvailable"))


def _docker(probe: bool) -> list[ClusterConfig]:
    host = os.environ.get("DOCKER_HOST", "")
    if host and not host.startswith("unix://"):
        # Remote engines are not probed at startup; the provider reports what it finds.
        return [ClusterConfig(name="docker", provider="swarm", options={"docker_host": host})]
    path = host.removeprefix("unix://") or "/var/run/docker.sock"
    if probe and Path(path).exists() and _unix_swarm_manager(path):
        return [ClusterConfig(name="local-swarm", provider="swarm", options={"docker_host": f"unix://{path}"})]
    return []


def _current_context(kubeconfig: Path) -> str:
    try:
        text = kubeconfig.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""
    match = re.search(r"^current-context:\s*['\"]?([^'\"\n]+)", text, re.MULTILINE)
    return match.group(1).strip() if match else ""


def _kubernetes() -> list[ClusterConfig]:
    paths = os.environ.get("KUBECONFIG", "").split(os.pathsep) if os.environ.get("KUBECONFIG") else []
    paths = paths or [str(Path.home() / ".kube" / "config")]
    for raw in paths:
        path = Path(raw).expanduser()
        context = _current_context(path)
        if context:
            return [ClusterConfig(name=_safe_name(f"k8s-{context}"), provider="kubernetes",
                                  options={"kubeconfig": str(path), "context": context})]
    return []


def _ecs() -> list[ClusterConfig]:
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    has_credentials = any(os.environ.get(name) for name in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID"))
    if not (region and has_credentials):
        return []
    return [ClusterConfig(name=_safe_name(f"ecs-{region}"), provider="ecs", options={"region": region})]


def detect_clusters(*, probe: bool = True) -> tuple[ClusterConfig, ...]:
    """probe=False: files and environment only (shell completion), not even the local engine's socket."""
    return (*_docker(probe), *_kubernetes(), *_ecs())
