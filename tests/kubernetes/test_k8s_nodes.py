"""Kubernetes Nodes in their own words over real HTTP: NotReady since its Ready condition's transition, the
pressure conditions that hold, cordoned; `pilothouse nodes` (text and --json) with the pods counted per node,
and the node's own events."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from apiserver import ApiServer
from k8s_objects import deployment, event, node, pod, replicaset
from k8s_support import write_config

from pilothouse.console.cli import main
from pilothouse.providers.kubernetes import KubernetesProvider
from pilothouse.providers.model import NodeStatus
from pilothouse.providers.nodes import lost_tasks, node_events, node_tasks, task_counts

pytestmark = pytest.mark.kubernetes

Obj = dict[str, Any]
DOWN_SINCE = "2024-05-02T09:58:00Z"


def seed(api: ApiServer) -> None:
    state = api.state
    state.put(node("node-1", roles=("control-plane",)))
    state.put(node("node-2", unschedulable=True))
    sick = node("node-3")
    sick["status"]["conditions"] = [
        {"type": "MemoryPressure", "status": "True", "reason": "KubeletHasInsufficientMemory"},
        {"type": "DiskPressure", "status": "True", "reason": "KubeletHasDiskPressure"},
        {"type": "PIDPressure", "status": "False"},
        {"type": "Ready", "status": "False", "reason": "KubeletNotReady", "message": "PLEG is not healthy",
         "lastTransitionTime": DOWN_SINCE},
    ]
    state.put(sick)
    web = state.put(deployment("web", "registry.local/web:1.0", 3))
    rs = state.put(replicaset(web, "registry.local/web:1.0", 1, "5f6b7c", 3))
    for suffix, where in (("aaaaa", "node-1"), ("bbbbb", "node-1"), ("ccccc", "node-3")):
        state.put(pod(rs, f"web-5f6b7c-{suffix}", node=where, version_label=("pod-template-hash", "5f6b7c")))
    state.put(event("Node", "node-3", "NodeNotReady", "Node node-3 status is now: NodeNotReady", warning=True,
                    ns="default", at=DOWN_SINCE))


def test_nodes_not_ready_with_conditions_and_cordoned(apiserver: ApiServer, provider: KubernetesProvider) -> None:
    seed(apiserver)
    cluster = provider.snapshot()
    nodes = {n.name: n for n in cluster.nodes}
    sick = nodes["node-3"]
    assert (sick.status, sick.state_word) == (NodeStatus.DOWN, "NotReady")
    assert sick.conditions == ("MemoryPressure", "DiskPressure")
    assert sick.since is not None and sick.since.isoformat() == "2024-05-02T09:58:00+00:00"
    assert (nodes["node-2"].state_word, nodes["node-2"].availability_word) == ("Ready", "cordoned")
    assert nodes["node-2"].since is None and nodes["node-2"].conditions == ()
    assert nodes["node-1"].availability_word == "schedulable"
    counts = task_counts(cluster)
    assert (counts["node-1"], counts["node-2"], counts["node-3"]) == (2, 0, 1)
    assert [placed.task.id for placed in node_tasks(cluster, nodes["node-1"])] == [
        "prod/web-5f6b7c-aaaaa", "prod/web-5f6b7c-bbbbb"]
    # While it is NotReady, the pod still bound to it is stranded there.
    assert [placed.task.id for placed in lost_tasks(cluster, sick)] == ["prod/web-5f6b7c-ccccc"]
    assert [e.message for e in node_events(cluster, sick)] == [
        "NodeNotReady: Node node-3 status is now: NodeNotReady"]


def test_nodes_verb_json_and_table(apiserver: ApiServer, kubeconfig: Path, tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    seed(apiserver)
    config = write_config(tmp_path / "config.toml", kubeconfig)
    assert main(["--config", str(config), "nodes", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    (cluster,) = data["clusters"]
    assert cluster["name"] == "k8s"
    listed = cluster["nodes"]
    assert [n["name"] for n in listed] == ["node-3", "node-2", "node-1"]  # NotReady, cordoned, then the rest
    assert {key: listed[0][key] for key in ("name", "state", "availability", "role", "version", "tasks",
                                            "conditions", "since")} == {
        "name": "node-3", "state": "NotReady", "availability": "schedulable", "role": "", "version": "v1.30.2",
        "tasks": 1, "conditions": ["MemoryPressure", "DiskPressure"], "since": "2024-05-02T09:58:00+00:00"}
    assert listed[1]["availability"] == "cordoned" and listed[2]["tasks"] == 2
    assert main(["--config", str(config), "nodes", "--cluster", "k8s"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["CLUSTER", "NODE", "STATE", "AVAILABILITY", "ROLE", "VERSION", "TASKS", "SINCE",
                                "CONDITIONS"]
    assert lines[1].split()[:7] == ["k8s", "node-3", "NotReady", "schedulable", "-", "v1.30.2", "1"]
    assert "MemoryPressure, DiskPressure" in lines[1]
    code = main(["--config", str(config), "nodes", "--cluster", "nope"])
    assert code == 2 and "unknown cluster 'nope'" in capsys.readouterr().err
