"""A kubeconfig split over KUBECONFIG's files, detected and then used by the real provider against the API
test server: the context in one file, its cluster and user in others, as kubectl merges them."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml
from apiserver import ApiServer
from k8s_objects import deployment

from pilothouse.console.detect import detect_clusters
from pilothouse.providers.kubernetes import KubernetesProvider


def test_detected_split_kubeconfig_connects(apiserver: ApiServer, tmp_path: Path, no_detected_clusters: None,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    whole = json.loads(apiserver.write_kubeconfig(tmp_path / "whole.json", context="work").read_text())
    current = tmp_path / "current.yaml"  # only the current context, as `kubectl config use-context` leaves it
    current.write_text("apiVersion: v1\nkind: Config\ncurrent-context: work  # set by kubectl\n")
    contexts = tmp_path / "contexts.json"  # JSON is a kubeconfig too
    contexts.write_text(json.dumps({"apiVersion": "v1", "kind": "Config", "contexts": whole["contexts"],
                                    "users": whole["users"]}))
    clusters = tmp_path / "clusters.yaml"
    clusters.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "Config", "current-context": "elsewhere",
                                        "clusters": whole["clusters"]}))
    monkeypatch.setenv("KUBECONFIG", os.pathsep.join(map(str, (current, contexts, clusters))))
    apiserver.state.put(deployment("web", "nginx:1.27", replicas=2))

    (config,) = [cluster for cluster in detect_clusters(probe=False) if cluster.provider == "kubernetes"]
    assert config.name == "k8s-work" and config.options["context"] == "work"
    provider = KubernetesProvider(config)
    try:
        provider.connect()
        snapshot = provider.snapshot()
    finally:
        provider.close()
    assert snapshot.reachable, snapshot.error
    assert [service.name for service in snapshot.services] == ["web"]
