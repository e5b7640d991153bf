"""`pilothouse config init`: a commented starter config from the clusters detection finds here.

Only names, paths, contexts, regions and profile names are written: never a key, a token or a password
(detection never reads one).
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

from pilothouse.console.config import ConfigError
from pilothouse.providers.base import ClusterConfig

_HEADER = """\
#:schema {schema}
# pilothouse config, written by `pilothouse config init` on {date}.
# Every key is checked when pilothouse starts; `pilothouse config check` checks this file now.
# The line above gives editors (taplo, Even Better TOML) the JSON schema of these keys.

refresh_interval = 2.0       # seconds between polls; Swarm /events and Kubernetes watches push changes sooner
readonly = false             # true: no scale, no rollback, anywhere
# theme = "textual-dark"     # a Textual theme; else the last one picked in the palette (ctrl+p)
# log_buffer_lines = 10000   # a log view keeps at most this many lines

# [keymap]                   # binding id = key (see the README's key table)
# rollback = "ctrl+r"

# [doctor]
# trusted_registries = ["registry.example.com/"]   # empty: image-untrusted is off
"""

_WHAT = {"swarm": "Docker Swarm", "kubernetes": "Kubernetes", "ecs": "AWS ECS"}

_EXAMPLES = """\
# No cluster was detected here (no local swarm manager, kubeconfig context or AWS region); examples:
#
# [[clusters]]
# name = "prod-swarm"
# provider = "swarm"
# docker_host = "ssh://ops@manager-1"
#
# [[clusters]]
# name = "prod-eks"
# provider = "kubernetes"
# context = "prod"
# namespaces = ["shop"]
#
# [[clusters]]
# name = "ecs-eu"
# provider = "ecs"
# region = "eu-west-1"
# profile = "ops"
"""


def _toml_string(text: str) -> str:
    # A JSON string is a valid TOML basic string (same escapes).
    return json.dumps(text, ensure_ascii=False)


def _cluster_table(cluster: ClusterConfig) -> str:
    lines = ["", f"[[clusters]]                 # detected: {_WHAT.get(cluster.provider, cluster.provider)}",
             f"name = {_toml_string(cluster.name)}", f"provider = {_toml_string(cluster.provider)}"]
    for key, value in cluster.options.items():
        if isinstance(value, str):
            lines.append(f"{key} = {_toml_string(value)}")
        elif isinstance(value, list | tuple):
            lines.append(f"{key} = [{', '.join(_toml_string(str(item)) for item in value)}]")
    lines.append("# readonly = true")
    return "\n".join(lines) + "\n"


def starter_text(clusters: tuple[ClusterConfig, ...]) -> str:
    from pilothouse.console.schema import SCHEMA_PATH

    text = _HEADER.format(date=datetime.now(UTC).strftime("%Y-%m-%d"), schema=SCHEMA_PATH)
    if not clusters:
        return text + "\n" + _EXAMPLES
    return text + "".join(_cluster_table(cluster) for cluster in clusters)


def write_starter(path: Path, *, force: bool) -> int:
    """Write the starter config at `path`; the number of clusters it names. Refuses to overwrite unless forced."""
    from pilothouse.console.detect import detect_clusters

    if path.exists() and not force:
        raise ConfigError(f"{path} already exists", "pass --force to overwrite it, or --path for another file")
    clusters = detect_clusters()
    text = starter_text(clusters)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # 0600 like the rest of a user's ops config: it names hosts and accounts.
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as error:
        raise ConfigError(f"{path}: cannot write the config: {error.strerror or error}") from None
    return len(clusters)
