"""The CLI verbs on a Kubernetes cluster, proved at the transport: the events timeline of a workload,
read-only mode and bad input send nothing mutating (the test server counts every request by HTTP method).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from apiserver import ApiServer
from k8s_objects import daemonset, deployment, event, node, pod, replicaset
from k8s_support import ProviderFactory, audit_lines, run, wait_until, write_config

pytestmark = pytest.mark.kubernetes

Obj = dict[str, Any]


def seed(api: ApiServer) -> None:
    """prod/web with history (so rollback has a target), prod/api, a DaemonSet, and a node."""
    state = api.state
    web = state.put(deployment("web", "registry.local/web:1.1", 3, revision=2))
    state.put(replicaset(web, "registry.local/web:1.0", 1, "5f6b7c", 0))
    rs = state.put(replicaset(web, "registry.local/web:1.1", 2, "7d9f8c", 3))
    state.put(pod(rs, "web-7d9f8c-aaaaa", version_label=("pod-template-hash", "7d9f8c")))
    api_dep = state.put(deployment("api", "registry.local/api:3", 2))
    state.put(replicaset(api_dep, "registry.local/api:3", 1, "9a9a9a", 2))
    state.put(daemonset("agent"))
    state.put(node("node-1"))


# -- events ----------------------------------------------------------------------------------------


def test_events_of_one_workload_and_its_pods(apiserver: ApiServer, kubeconfig: Path, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    seed(apiserver)
    state = apiserver.state
    state.put(event("Deployment", "web", "ScalingReplicaSet", "Scaled up replica set web-7d9f8c to 3",
                    at="2024-05-02T10:00:00Z"))
    state.put(event("Pod", "web-7d9f8c-aaaaa", "Pulled", "Container image pulled", at="2024-05-02T10:00:02Z"))
    # A pod a rollout already replaced: gone from the API, its crash events are what the on-call wants.
    state.put(event("Pod", "web-5f6b7c-zzzzz", "BackOff", "Back-off restarting failed container app",
                    warning=True, count=7, at="2024-05-02T10:00:03Z"))
    state.put(event("Deployment", "api", "ScalingReplicaSet", "Scaled up replica set api-9a9a9a to 2",
                    at="2024-05-02T10:00:04Z"))
    node_event = event("Node", "node-1", "NodeNotReady", "Node node-1 status is now: NodeNotReady", ns="default",
                       warning=True, at="2024-05-02T10:00:05Z")
    node_event["involvedObject"] = {"kind": "Node", "name": "node-1", "uid": "node-1"}
    state.put(node_event)
    config = str(write_config(tmp_path / "config.toml", kubeconfig))

    code, out, err = run(capsys, "--config", config, "events", "--json", "--service", "k8s/prod/web")

    assert code == 0, err
    events = json.loads(out)["events"]
    assert [(e["object"], e["kind"], e["service"]) for e in events] == [
        ("deployment prod/web", "normal", "prod/web"),
        ("pod prod/web-7d9f8c-aaaaa", "normal", "prod/web"),
        ("pod prod/web-5f6b7c-zzzzz", "warning", "prod/web"),
    ]
    assert events[2]["message"] == "BackOff: Back-off restarting failed container app (x7)"
    assert events[0]["time"] == "2024-05-02T10:00:00+00:00"

    code, out, _ = run(capsys, "--config", config, "events", "--json", "--cluster", "k8s")
    every = [(e["object"], e["service"]) for e in json.loads(out)["events"]]
    assert ("deployment prod/api", "prod/api") in every
    assert every[-1] == ("node node-1", "")
    assert state.mutating_requests() == 0


def test_event_cache_keeps_the_most_recent(apiserver: ApiServer, make_provider: ProviderFactory) -> None:
    apiserver.state.put(deployment("web"))
    for second in range(30):
        apiserver.state.put(event("Deployment", "web", f"Listed{second:02d}", "listed",
                                  at=f"2024-05-02T10:00:{second:02d}Z"))
    provider = make_provider()
    provider.max_event_cache = 10
    events = provider.snapshot().events
    assert [e.message for e in events] == [f"Listed{second:02d}: listed" for second in range(20, 30)]
    # Arriving through the watch, still capped: the oldest make way.
    for second in range(30, 35):
        apiserver.state.put(event("Deployment", "web", f"Watched{second}", "watched",
                                  at=f"2024-05-02T10:00:{second}Z"))
    wait_until(lambda: provider.snapshot().events[-1].message == "Watched34: watched")
    assert len(provider.cached("events")) == 10
    assert provider.snapshot().events[0].message == "Listed25: listed"


# -- read-only ----------------------------------------------------------------------------------------


def test_readonly_sends_nothing_mutating(apiserver: ApiServer, kubeconfig: Path, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    seed(apiserver)
    readonly_config = str(write_config(tmp_path / "ro.toml", kubeconfig, readonly=True))
    writable_config = str(write_config(tmp_path / "rw.toml", kubeconfig))
    sessions = [("--config", readonly_config), ("--config", writable_config, "--readonly")]

    for session in sessions:
        code, out, err = run(capsys, *session, "status", "--json")
        assert code == 0, err
        assert json.loads(out)["clusters"][0]["state"] == "connected"
        for verb in (("scale", "k8s/prod/web", "5", "--yes"), ("rollback", "k8s/prod/web", "--yes")):
            code, _, err = run(capsys, *session, *verb)
            assert code == 2
            assert err.count("\n") == 1 and "refused" in err and "Traceback" not in err

    assert apiserver.state.mutating_requests() == 0
    assert apiserver.state.count("patch") == apiserver.state.count("update") == 0
    assert sum(apiserver.state.methods.values()) == apiserver.state.methods["GET"] > 0
    entries = audit_lines()
    assert [(e["cluster"], e["service"], e["action"]) for e in entries] == [
        ("k8s", "prod/web", "scale"), ("k8s", "prod/web", "rollback")] * 2
    assert all(e["result"].startswith("refused") for e in entries)
    assert "cluster k8s is read-only" in entries[0]["result"]
    assert "--readonly" in entries[2]["result"]
    assert apiserver.state.get("deployments", "prod", "web")["spec"]["replicas"] == 3


# -- bad input -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("argv", "message"), [
    (("scale", "k8s/prod/web", "-1"), "cannot be negative"),
    (("scale", "k8s/prod/web", "abc"), "whole number"),
    (("scale", "k8s/prod/web", "2.5"), "whole number"),
    (("scale", "k8s/prod/web", "1e9"), "whole number"),
    (("scale", "k8s/prod/agent", "3"), "DaemonSet: it runs one pod per matching node"),
    (("scale", "k8s/prod/nope", "3"), "no service 'prod/nope' in cluster k8s"),
    (("rollback", "k8s/prod/api"), "no rollout history found for deployment \"api\""),
    (("rollback", "k8s/prod/nope"), "no service 'prod/nope'"),
    (("scale", "elsewhere/prod/web", "3"), "unknown cluster 'elsewhere'"),
])
def test_bad_input_is_one_line_exit_2_and_nothing_mutating(
    apiserver: ApiServer, kubeconfig: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    argv: tuple[str, ...], message: str,
) -> None:
    seed(apiserver)
    config = str(write_config(tmp_path / "config.toml", kubeconfig))
    code, out, err = run(capsys, "--config", config, *argv, "--yes")
    assert code == 2, (out, err)
    assert err.count("\n") == 1 and err.startswith("pilothouse: error: ") and message in err
    assert apiserver.state.mutating_requests() == 0
    assert all(entry["result"].startswith("refused") for entry in audit_lines())


@pytest.mark.parametrize("verb", [("status",), ("scale", "k8s/prod/web", "3", "--yes"), ("logs", "k8s/prod/web")])
def test_kubeconfig_that_does_not_exist(apiserver: ApiServer, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                        verb: tuple[str, ...]) -> None:
    missing = tmp_path / "no-such-kubeconfig"
    config = str(write_config(tmp_path / "config.toml", missing))
    code, _, err = run(capsys, "--config", config, *verb)
    assert code == 2
    assert err == (f"pilothouse: error: kubeconfig {missing} not found: fix `kubeconfig` for cluster 'k8s' "
                   "in the config\n")
    assert sum(apiserver.state.methods.values()) == 0
