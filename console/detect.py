"""Clusters found without a config, read the way the native tools read their own settings:

- Docker: DOCKER_HOST, else the context named by DOCKER_CONTEXT, else the current context of `docker context use`
  ($DOCKER_CONFIG/config.json currentContext, endpoint in contexts/meta/*/meta.json), else the local socket
  if that engine is a swarm manager.
- Kubernetes: every file of KUBECONFIG merged as kubectl merges them (the first file that sets current-context
  wins; contexts are looked up by name, first file wins), parsed as YAML (JSON is YAML too).
- AWS: the region from AWS_REGION, AWS_DEFAULT_REGION or the profile's `region` in ~/.aws/config, when a
  profile or keys are there to use.

Cheap checks only: no SDK is imported and no cluster is contacted (except a half-second /info on a local
engine socket, skipped with probe=False). Only names, paths, hosts and regions are kept, never a credential.
"""

from __future__ import annotations

import configparser
import json
import os
import re
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pilothouse.providers.base import ClusterConfig

PROBE_TIMEOUT_S = 0.5


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-")[:60] or "cluster"


# -- Docker ---------------------------------------------------------------------------------------------------


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


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None


def docker_context() -> tuple[str, str]:
    """(context name, its engine endpoint) as the docker CLI picks it; ("", "") for the default context."""
    config_dir = Path(os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker").expanduser()
    name = os.environ.get("DOCKER_CONTEXT", "")
    if not name:
        config = _read_json(config_dir / "config.json")
        name = config.get("currentContext", "") if isinstance(config, dict) else ""
    if not isinstance(name, str) or name in ("", "default"):
        return "", ""
    # The CLI keeps each context in a directory named by the SHA-256 of its name; matching the Name inside
    # meta.json finds it without depending on that.
    for meta_path in sorted((config_dir / "contexts" / "meta").glob("*/meta.json")):
        meta = _read_json(meta_path)
        if isinstance(meta, dict) and meta.get("Name") == name:
            endpoint = (meta.get("Endpoints") or {}).get("docker") or {}
            host = endpoint.get("Host", "") if isinstance(endpoint, dict) else ""
            return name, host if isinstance(host, str) else ""
    return name, ""


def _docker(probe: bool) -> list[ClusterConfig]:
    host = os.environ.get("DOCKER_HOST", "")
    name, context = "docker", ""
    if not host:
        context, host = docker_context()
        if context:
            name = f"docker-{context}"
    if host and not host.startswith("unix://"):
        # Remote engines are not probed at startup; the provider reports what it finds. A context is named, not
        # copied as a host: its TLS material (contexts/tls/...) comes with it, as with the docker CLI.
        options = {"docker_context": context} if context else {"docker_host": host}
        return [ClusterConfig(name=_safe_name(name), provider="swarm", options=options)]
    path = host.removeprefix("unix://") or "/var/run/docker.sock"
    if probe and Path(path).exists() and _unix_swarm_manager(path):
        return [ClusterConfig(name="local-swarm", provider="swarm", options={"docker_host": f"unix://{path}"})]
    return []


# -- Kubernetes -----------------------------------------------------------------------------------------------


def kubeconfig_paths() -> tuple[str, list[Path]]:
    """(the value to hand the provider, the files in kubectl's order): KUBECONFIG's list, else ~/.kube/config."""
    raw = os.environ.get("KUBECONFIG", "")
    entries = [entry for entry in raw.split(os.pathsep) if entry]
    if not entries:
        default = Path.home() / ".kube" / "config"
        return str(default), [default]
    return os.pathsep.join(entries), [Path(entry).expanduser() for entry in entries]


def _load_yaml(path: Path) -> dict[str, Any]:
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return {}  # kubectl would stop here; detection just finds nothing in this file
    return data if isinstance(data, dict) else {}


def _named(items: Any) -> Iterator[tuple[str, Any]]:
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict) and isinstance(item.get("name"), str):
            yield item["name"], item.get("context")


def merged_current_context() -> str:
    """The current context of the merged kubeconfig, if that context is defined in one of the files."""
    current = ""
    contexts: dict[str, Any] = {}
    for path in kubeconfig_paths()[1]:
        data = _load_yaml(path)
        value = data.get("current-context")
        if not current and isinstance(value, str):
            current = value.strip()
        for name, context in _named(data.get("contexts")):
            contexts.setdefault(name, context)
    return current if current in contexts else ""


def _kubernetes() -> list[ClusterConfig]:
    context = merged_current_context()
    if not context:
        return []
    raw, _paths = kubeconfig_paths()
    return [ClusterConfig(name=_safe_name(f"k8s-{context}"), provider="kubernetes",
                          options={"kubeconfig": raw, "context": context})]


# -- AWS ------------------------------------------------------------------------------------------------------


def _ini(path: Path) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser()
    try:
        parser.read(path, encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError):
        return configparser.RawConfigParser()  # a damaged file detects nothing, as a missing one
    return parser


def aws_profile_region() -> tuple[str, str, bool]:
    """(profile name, its region, whether the profile is defined) from the AWS config and credentials files."""
    profile = os.environ.get("AWS_PROFILE") or os.environ.get("AWS_DEFAULT_PROFILE") or "default"
    config = _ini(Path(os.environ.get("AWS_CONFIG_FILE") or Path.home() / ".aws" / "config").expanduser())
    credentials = _ini(Path(os.environ.get("AWS_SHARED_CREDENTIALS_FILE") or Path.home() / ".aws" / "credentials")
                       .expanduser())
    section = profile if profile == "default" else f"profile {profile}"
    region = config.get(section, "region", fallback="").strip() if config.has_section(section) else ""
    defined = config.has_section(section) or credentials.has_section(profile)
    return profile, region, defined


def _ecs() -> list[ClusterConfig]:
    profile, profile_region, defined = aws_profile_region()
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or profile_region
    has_credentials = bool(os.environ.get("AWS_ACCESS_KEY_ID") or os.environ.get("AWS_PROFILE") or defined)
    if not (region and has_credentials):
        return []
    options = {"region": region}
    if profile != "default" and not os.environ.get("AWS_ACCESS_KEY_ID"):
        options["profile"] = profile
    return [ClusterConfig(name=_safe_name(f"ecs-{region}"), provider="ecs", options=options)]


def detect_clusters(*, probe: bool = True) -> tuple[ClusterConfig, ...]:
    """probe=False: files and environment only (shell completion), not even the local engine's socket."""
    return (*_docker(probe), *_kubernetes(), *_ecs())
