"""A fourth orchestrator from a plugin: found through the `pilothouse.providers` entry-point group, its kind an
open identifier, its words used for refusals, in `status` and `status --json`, with no change to console/ or the
model. (The screens: tests/ui/test_ui_plugin_provider.py.)"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from plugin_site import KIND, installed_plugin, subprocess_env

from pilothouse.providers import registry
from pilothouse.providers.base import Action, ClusterConfig
from pilothouse.providers.model import ClusterKind
from pilothouse.providers.vocabulary import GENERIC


def test_not_installed_means_generic_words() -> None:
    assert KIND not in registry.available()
    assert registry.vocabulary_for(KIND) is GENERIC


def test_the_entry_point_brings_the_kind_and_its_words(tmp_path: Path) -> None:
    with installed_plugin(tmp_path):
        assert KIND in registry.available()
        provider = registry.create(ClusterConfig(name="nomad-lab", provider=KIND))
        assert provider.kind == ClusterKind(KIND) and provider.kind is ClusterKind("Nomad-Like")
        words = registry.vocabulary_for(provider.kind)
        assert (words.task, words.node, words.node_down, words.global_mode) == (
            "allocation", "client", "disconnected", "system job")
        cluster = provider.snapshot()
        agent = cluster.service("default/log-agent")
        assert agent is not None
        refusal = provider.refusal(Action.SCALE, agent)
        assert refusal is not None
        assert "system job" in refusal and "one allocation per client" in refusal
        assert "task" not in refusal and "node" not in refusal
        # Rollback is not among its capabilities: refused in its own name.
        assert provider.refusal(Action.ROLLBACK, agent) == "the Nomad-like provider cannot rollback"
    assert KIND not in registry.available()


def _config(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text('[[clusters]]\nname = "nomad-lab"\nprovider = "nomad-like"\n')
    return path


def _cli(site: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pilothouse", *argv], capture_output=True, text=True,
                          env=subprocess_env(site), timeout=60)


def test_status_speaks_its_words(tmp_path: Path) -> None:
    with installed_plugin(tmp_path) as site:
        done = _cli(site, "--config", str(_config(tmp_path)), "status")
    assert done.returncode == 0, done.stderr
    first = done.stdout.splitlines()[0]
    assert first.startswith("nomad-lab (nomad-like) connected; 3 clients, 1 not ready"), first
    assert "default/web" in done.stdout and "default/log-agent" in done.stdout


def test_status_json_carries_the_kind(tmp_path: Path) -> None:
    with installed_plugin(tmp_path) as site:
        done = _cli(site, "--config", str(_config(tmp_path)), "status", "--json")
    assert done.returncode == 0, done.stderr
    (cluster,) = json.loads(done.stdout)["clusters"]
    assert cluster["name"] == "nomad-lab" and cluster["kind"] == KIND
    assert {service["ref"] for service in cluster["services"]} == {"default/web", "default/log-agent", "default/cron"}


def test_without_the_plugin_the_config_says_so(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "pilothouse", "--config", str(_config(tmp_path)), "status"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "nomad-like" in done.stderr and "not installed" in done.stderr
    assert "Traceback" not in done.stderr
