"""Attention end to end on the Kubernetes API test server, over HTTP: a CrashLoopBackOff pod and a Deployment
whose rollout exceeded its progress deadline are critical in `status --json`, with reasons in Kubernetes' words;
an Unschedulable pod gives the scheduler's message; a healthy Deployment needs nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from apiserver import ApiServer
from k8s_objects import TS, deployment, node, now_iso, pod, replicaset, stable_deployment_status
from k8s_support import write_config

from pilothouse.console.cli import main

pytestmark = pytest.mark.kubernetes

Obj = dict[str, Any]


def seed(api: ApiServer) -> None:
    state = api.state
    state.put(node("node-1"))
    # prod/api: 1 of 2 pods crash-looping.
    api_dep = state.put(deployment("api", "registry.local/api:2", 2, status={
        **stable_deployment_status(2), "readyReplicas": 1, "availableReplicas": 1}))
    rs = state.put(replicaset(api_dep, "registry.local/api:2", 1, "a1a1a1", 2))
    state.put(pod(rs, "api-a1a1a1-good1", version_label=("pod-template-hash", "a1a1a1"), app="api"))
    state.put(pod(rs, "api-a1a1a1-crash", version_label=("pod-template-hash", "a1a1a1"), app="api", ready=False,
                  restarts=6, waiting=("CrashLoopBackOff", "back-off 5m0s restarting failed container=app")))
    # prod/stuck: its rollout exceeded the progress deadline.
    stuck_status = stable_deployment_status(2)
    stuck_status["conditions"][1] = {
        "type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
        "message": 'ReplicaSet "stuck-b2b2b2" has timed out progressing.', "lastUpdateTime": TS,
        "lastTransitionTime": TS}
    stuck = state.put(deployment("stuck", "registry.local/stuck:2", 2, status=stuck_status))
    state.put(replicaset(stuck, "registry.local/stuck:2", 1, "b2b2b2", 2))
    # prod/big: one pod the scheduler cannot place.
    big = state.put(deployment("big", "registry.local/big:1", 2, status={
        **stable_deployment_status(2), "readyReplicas": 1, "availableReplicas": 1}))
    big_rs = state.put(replicaset(big, "registry.local/big:1", 1, "c3c3c3", 2))
    state.put(pod(big_rs, "big-c3c3c3-ok", version_label=("pod-template-hash", "c3c3c3"), app="big"))
    pending = pod(big_rs, "big-c3c3c3-wait", version_label=("pod-template-hash", "c3c3c3"), app="big",
                  phase="Pending", ready=False)
    pending["spec"].pop("nodeName")
    pending["status"]["conditions"] = [{
        "type": "PodScheduled", "status": "False", "reason": "Unschedulable", "lastTransitionTime": TS,
        "message": "0/1 nodes are available: 1 Insufficient memory."}]
    pending["status"]["containerStatuses"] = []
    state.put(pending)
    # prod/flaky: running and ready, but a container restarted a moment ago (lastState.terminated.finishedAt).
    flaky = state.put(deployment("flaky", "registry.local/flaky:1", 1))
    flaky_rs = state.put(replicaset(flaky, "registry.local/flaky:1", 1, "e5e5e5", 1))
    restarted = pod(flaky_rs, "flaky-e5e5e5-ok", version_label=("pod-template-hash", "e5e5e5"), app="flaky",
                    restarts=1)
    restarted["status"]["containerStatuses"][0]["lastState"] = {"terminated": {
        "exitCode": 137, "reason": "OOMKilled", "startedAt": TS, "finishedAt": now_iso()}}
    state.put(restarted)
    # prod/web: fine.
    web = state.put(deployment("web", "registry.local/web:1.0", 1))
    web_rs = state.put(replicaset(web, "registry.local/web:1.0", 1, "d4d4d4", 1))
    state.put(pod(web_rs, "web-d4d4d4-ok", version_label=("pod-template-hash", "d4d4d4")))


def test_crash_loop_and_deadline_exceeded_are_critical_in_status_json(
        apiserver: ApiServer, kubeconfig: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    seed(apiserver)
    config = str(write_config(tmp_path / "config.toml", kubeconfig))
    code = main(["--config", config, "status", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    services = {s["ref"]: s["attention"] for s in json.loads(out)["clusters"][0]["services"]}
    api = services["prod/api"]
    assert api["level"] == "critical"
    assert api["reasons"][0].startswith("1 pod in CrashLoopBackOff (prod/api-a1a1a1-crash, 6 restarts)")
    assert "1/2 pods ready" in api["reasons"]
    stuck = services["prod/stuck"]
    assert stuck["level"] == "critical"
    assert stuck["reasons"][0].startswith('rollout failed: deployment "stuck" exceeded its progress deadline')
    big = services["prod/big"]
    assert big["level"] == "warning"
    assert "1 pod unschedulable: 0/1 nodes are available: 1 Insufficient memory." in big["reasons"]
    assert services["prod/web"] == {"level": "none", "reasons": []}
    # A restart time inside the window: a one-shot look sees it (no earlier snapshot to compare with).
    assert services["prod/flaky"] == {"level": "warning", "reasons": ["restarting: 1 restart in the last 5m"]}

    # The text form: problems first, then --attention with the reasons.
    assert main(["--config", config, "status"]) == 0
    lines = capsys.readouterr().out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("CLUSTER "))
    order = [line.split()[1] for line in lines[header + 1:]]
    assert order.index("prod/web") == len(order) - 1 and {"prod/api", "prod/stuck"} == set(order[:2])
    assert main(["--config", config, "status", "--attention"]) == 0
    text = capsys.readouterr().out
    assert "prod/web" not in text and "CrashLoopBackOff" in text and "exceeded its progress deadline" in text


def test_pods_forbidden_make_no_pod_reason(apiserver: ApiServer, kubeconfig: Path, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    """Unknown is unknown: with pods forbidden, the crash loop cannot be seen, and nothing claims it; the
    Deployment's own counts still say 1/2 ready."""
    seed(apiserver)
    apiserver.state.forbid("pods")
    config = str(write_config(tmp_path / "config.toml", kubeconfig))
    assert main(["--config", config, "status", "--json"]) in (0, 1)
    data = json.loads(capsys.readouterr().out)["clusters"][0]
    assert any(kind.startswith("pods") for kind in data["forbidden"])
    api = {s["ref"]: s["attention"] for s in data["services"]}["prod/api"]
    assert api["level"] == "warning" and api["reasons"] == ["1/2 pods ready"]
