"""Kubernetes drain by eviction, over real HTTP to the API test server.

The server's PodDisruptionBudgets (status derived from the Ready pods; evictions allowed, counted down, or
refused with kube-apiserver's 429 Status and causes), then the drain through the CLI verb (cordon, an eviction
per pod with a line each on stderr, DaemonSet and static pods left, the pod with no controller named and left,
the budget's refusal reported with its name, exit 1 when pods that should have moved are left), a drain whose
refused eviction succeeds on a retry once the budget allows it, and read-only / bad input sending nothing.
"""

from __future__ import annotations

import http.client
import json
from pathlib import Path
from typing import Any

import pytest
from apiserver import ApiServer
from k8s_objects import daemonset, deployment, node, pod, replicaset
from k8s_support import ProviderFactory, audit_lines, run, write_config

from pilothouse.providers.base import Action, Progress
from pilothouse.providers.kubernetes.drain import DrainIncomplete

pytestmark = pytest.mark.kubernetes

Obj = dict[str, Any]
REFUSED = "Cannot evict pod as it would violate the pod's disruption budget."
HASH = ("pod-template-hash", "5d8f")


def budget(name: str, app: str, *, min_available: int | str | None = None,
           max_unavailable: int | str | None = None) -> Obj:
    spec: Obj = {"selector": {"matchLabels": {"app": app}}}
    if min_available is not None:
        spec["minAvailable"] = min_available
    if max_unavailable is not None:
        spec["maxUnavailable"] = max_unavailable
    return {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
            "metadata": {"name": name, "namespace": "prod"}, "spec": spec}


def drain_world(api: ApiServer, *, unmanaged: bool = True) -> None:
    """node-1 holds: web-a and web-b (web has 3 Ready replicas and a budget of minAvailable 2: one may go),
    cache-x (its own ReplicaSet, an emptyDir volume), the agent DaemonSet's pod, a static (mirror) pod and,
    with `unmanaged`, a pod with no controller. web-c runs on node-2."""
    state = api.state
    state.put(node("node-1"))
    state.put(node("node-2"))
    web = state.put(deployment("web", "registry.local/web:1.0", 3, revision=1, status={}))
    web_rs = state.put(replicaset(web, "registry.local/web:1.0", 1, HASH[1], 3))
    for name, on in (("web-a", "node-1"), ("web-b", "node-1"), ("web-c", "node-2")):
        state.put(pod(web_rs, name, node=on, version_label=HASH))
    cache = state.put(deployment("cache", "registry.local/cache:1", 1, revision=1, status={}))
    cache_pod = pod(state.put(replicaset(cache, "registry.local/cache:1", 1, "77aa", 1)), "cache-x",
                    version_label=("pod-template-hash", "77aa"), app="cache")
    cache_pod["spec"]["volumes"] = [{"name": "scratch", "emptyDir": {}}]
    state.put(cache_pod)
    state.put(pod(state.put(daemonset()), "agent-node-1", version_label=("controller-revision-hash", "1"),
                  app="agent"))
    # A static pod: the kubelet's mirror of a file on the node, owned by the Node.
    mirror = pod(web, "kube-proxy-node-1", version_label=("tier", "node"), app="kube-proxy")
    mirror["metadata"].update(namespace="kube-system", annotations={"kubernetes.io/config.mirror": "0f3c"},
                              ownerReferences=[{"apiVersion": "v1", "kind": "Node", "name": "node-1",
                                                "uid": state.get("nodes", "", "node-1")["metadata"]["uid"],
                                                "controller": True}])
    state.put(mirror)
    if unmanaged:
        debug = pod(web, "debug", version_label=("run", "debug"), app="debug")
        debug["metadata"]["ownerReferences"] = []
        state.put(debug)
    state.put(budget("web-pdb", "web", min_available=2))


def on_node(api: ApiServer, name: str) -> list[str]:
    return sorted(f"{ns}/{pod_name}" for (ns, pod_name), obj in api.state.objects["pods"].items()
                  if obj["spec"].get("nodeName") == name)


def post(api: ApiServer, path: str, body: Any) -> tuple[int, Obj]:
    connection = http.client.HTTPConnection("127.0.0.1", api.server_address[1], timeout=10)
    try:
        connection.request("POST", path, body=json.dumps(body), headers={
            "Authorization": f"Bearer {api.token}", "Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def eviction(name: str) -> Obj:
    return {"kind": "Eviction", "apiVersion": "policy/v1", "metadata": {"name": name, "namespace": "prod"},
            "deleteOptions": {}}


def test_budget_status_follows_ready_pods_and_evictions_count_it_down(apiserver: ApiServer) -> None:
    drain_world(apiserver, unmanaged=False)
    state = apiserver.state
    status = state.get("poddisruptionbudgets", "prod", "web-pdb")["status"]
    assert {key: status[key] for key in ("currentHealthy", "desiredHealthy", "disruptionsAllowed", "expectedPods")} \
        == {"currentHealthy": 3, "desiredHealthy": 2, "disruptionsAllowed": 1, "expectedPods": 3}
    # maxUnavailable as a percent: of the Deployment's 3 replicas, 34% rounds up to 2 unavailable, so 1 desired.
    state.put(budget("cache-pdb", "cache", max_unavailable="34%"))
    cache = state.get("poddisruptionbudgets", "prod", "cache-pdb")["status"]
    assert (cache["expectedPods"], cache["desiredHealthy"], cache["disruptionsAllowed"]) == (1, 0, 1)

    assert post(apiserver, "/api/v1/namespaces/prod/pods/web-a/eviction", eviction("web-a"))[0] == 201
    assert ("prod", "web-a") not in state.objects["pods"]
    status = state.get("poddisruptionbudgets", "prod", "web-pdb")["status"]
    assert (status["currentHealthy"], status["disruptionsAllowed"]) == (2, 0)

    code, answer = post(apiserver, "/api/v1/namespaces/prod/pods/web-b/eviction", eviction("web-b"))
    assert (code, answer["reason"], answer["message"]) == (429, "TooManyRequests", REFUSED)
    assert answer["details"]["causes"] == [{
        "reason": "DisruptionBudget",
        "message": "The disruption budget web-pdb needs 2 healthy pods and has 2 currently"}]
    assert ("prod", "web-b") in state.objects["pods"]
    # An unready pod does not count: a budget already short of healthy pods still lets it go.
    state.update("pods", "prod", "web-c", lambda obj: obj["status"]["conditions"][-1].update(status="False"))
    assert post(apiserver, "/api/v1/namespaces/prod/pods/web-c/eviction", eviction("web-c"))[0] == 429
    assert post(apiserver, "/api/v1/namespaces/prod/pods/nope/eviction", eviction("nope"))[0] == 404
    assert post(apiserver, "/api/v1/namespaces/prod/pods/web-b/eviction", eviction("web-c"))[0] == 400


def test_cli_drain_evicts_what_it_may_and_names_what_stays(
    apiserver: ApiServer, kubeconfig: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    drain_world(apiserver)
    config = str(write_config(tmp_path / "config.toml", kubeconfig, extra="drain_timeout = 1\n"))
    before = apiserver.state.mutating_requests()
    for argv in (["--readonly", "node", "k8s/node-1", "drain", "--yes"],
                 ["node", "k8s/node-9", "drain", "--yes"],
                 ["node", "k8s/node-1", "drain"]):  # stdin is not a terminal and no --yes
        code, _, err = run(capsys, "--config", config, *argv)
        assert code == 2 and err.count("\n") == 1, (argv, err)
    assert apiserver.state.mutating_requests() == before == 0

    code, out, err = run(capsys, "--config", config, "node", "k8s/node-1", "drain", "--yes")
    assert code == 1, err
    assert ("drain k8s/node-1: schedulable, 6 pods -> cordon node-1, evict 3 pods (1 DaemonSet pod stays; "
            "1 static pod stays; 1 pod with no controller not evicted (prod/debug)") in out
    lines = err.splitlines()
    assert lines[:4] == [
        "node node-1 cordoned",
        "evicted pod prod/cache-x (1 of 3)",
        "evicted pod prod/web-a (2 of 3)",
        "pod prod/web-b not evicted yet: PodDisruptionBudget web-pdb needs 2 healthy pods and has 2 currently; "
        "no time left to retry (drain_timeout 1s)",
    ]
    assert len(lines) == 5 and lines[4].startswith("pilothouse: error: drain of node-1 incomplete: node node-1 "
                                                   "cordoned; 2 of 3 pods evicted; not evicted: ")
    assert ("prod/web-b (PodDisruptionBudget web-pdb needs 2 healthy pods and has 2 currently, still after 1s)"
            in lines[4])
    assert "prod/debug (no controller: nothing would recreate it; if it may go: kubectl delete pod -n prod debug)" \
        in lines[4]
    assert on_node(apiserver, "node-1") == ["kube-system/kube-proxy-node-1", "prod/agent-node-1", "prod/debug",
                                            "prod/web-b"]
    assert apiserver.state.get("nodes", "", "node-1")["spec"]["unschedulable"] is True
    assert [(method, path) for method, path, _, _ in apiserver.state.writes] == [
        ("PATCH", "/api/v1/nodes/node-1"),
        *[("POST", f"/api/v1/namespaces/prod/pods/{name}/eviction") for name in ("cache-x", "web-a", "web-b")]]
    sent = [(line["action"], line["service"], line["result"].split(":")[0]) for line in audit_lines()
            if line["result"] == "pending" or line["result"].startswith("failed")]
    assert sent == [("drain", "node-1", "pending"), ("drain", "node-1", "failed")]

    # Again, now cordoned: the plan says so and only the refused pod is tried.
    code, out, _ = run(capsys, "--config", config, "node", "k8s/node-1", "drain", "--yes")
    assert code == 1 and "SchedulingDisabled, 4 pods -> cordoned node-1, evict 1 pod" in out
    assert apiserver.state.writes[-1][1] == "/api/v1/namespaces/prod/pods/web-b/eviction"


def test_a_refused_eviction_is_retried_until_the_budget_allows_it(
    apiserver: ApiServer, make_provider: ProviderFactory,
) -> None:
    drain_world(apiserver, unmanaged=False)
    provider = make_provider()
    provider.drain_retry_s = 0.05
    provider.connect()
    target = next(found for found in provider.snapshot().nodes if found.name == "node-1")
    plan = provider.plan_node(Action.DRAIN, target)
    assert plan.after == "cordon node-1, evict 3 pods (1 DaemonSet pod stays; 1 static pod stays)"
    assert "kubectl drain node-1 --ignore-daemonsets --delete-emptydir-data" in plan.detail
    assert "1 pod loses its emptyDir data" in plan.detail
    assert apiserver.state.mutating_requests() == 0  # planning reads only

    heard: list[str] = []

    def progress(line: str) -> None:
        heard.append(line)
        if "not evicted yet" in line:  # web-a's replacement becomes Ready elsewhere: the budget allows one more
            web_rs = apiserver.state.get("replicasets", "prod", f"web-{HASH[1]}")
            apiserver.state.put(pod(web_rs, "web-d", node="node-2", version_label=HASH))

    result = provider.apply_with_progress(plan, Progress(say=progress))
    assert result == "node node-1 cordoned; 3 of 3 pods evicted (1 DaemonSet pod stays; 1 static pod stays)"
    assert heard[:3] == ["node node-1 cordoned", "evicted pod prod/cache-x (1 of 3)",
                         "evicted pod prod/web-a (2 of 3)"]
    assert heard[3].startswith("pod prod/web-b not evicted yet: PodDisruptionBudget web-pdb needs 2 healthy pods and "
                               "has 2 currently; retrying every 0.05s for up to 30")  # drain_timeout: 300 s
    assert heard[4:] == ["evicted pod prod/web-b (3 of 3)"]
    assert on_node(apiserver, "node-1") == ["kube-system/kube-proxy-node-1", "prod/agent-node-1"]
    posts = [path for method, path, _, _ in apiserver.state.writes if method == "POST"]
    assert posts.count("/api/v1/namespaces/prod/pods/web-b/eviction") == 2


def test_a_drain_whose_follower_has_gone_stops_between_evictions(
    apiserver: ApiServer, make_provider: ProviderFactory,
) -> None:
    drain_world(apiserver, unmanaged=False)
    provider = make_provider()
    provider.connect()
    target = next(found for found in provider.snapshot().nodes if found.name == "node-1")
    heard: list[str] = []
    progress = Progress(say=heard.append, stopped=lambda: any(line.startswith("evicted") for line in heard))
    with pytest.raises(DrainIncomplete) as stopped:
        provider.apply_with_progress(provider.plan_node(Action.DRAIN, target), progress)
    assert heard == ["node node-1 cordoned", "evicted pod prod/cache-x (1 of 3)"]
    assert str(stopped.value) == (
        "drain of node-1 incomplete: node node-1 cordoned; 1 of 3 pods evicted; not evicted: "
        "prod/web-a (not tried: the drain was stopped), prod/web-b (not tried: the drain was stopped): "
        "the node stays cordoned; drain again to evict the rest")
    assert [method for method, _, _, _ in apiserver.state.writes] == ["PATCH", "POST"]


def test_an_eviction_the_server_fails_is_reported_and_not_retried(
    apiserver: ApiServer, make_provider: ProviderFactory,
) -> None:
    drain_world(apiserver, unmanaged=False)
    for name in ("cache-a", "cache-b"):  # two budgets over one pod: kube-apiserver cannot evict it (500)
        apiserver.state.put(budget(name, "cache", max_unavailable=1))
    provider = make_provider()
    provider.drain_retry_s = 0.05
    provider.drain_timeout_s = 1.0
    provider.connect()
    target = next(found for found in provider.snapshot().nodes if found.name == "node-1")
    heard: list[str] = []
    with pytest.raises(DrainIncomplete) as incomplete:
        provider.apply_with_progress(provider.plan_node(Action.DRAIN, target), Progress(say=heard.append))
    many = ("evicting pod prod/cache-x: This pod has more than one PodDisruptionBudget, which the eviction "
            "subresource does not support. (HTTP 500)")
    assert f"pod prod/cache-x not evicted: {many}" in heard
    assert f"prod/cache-x ({many})" in str(incomplete.value)
    posts = [path for method, path, _, _ in apiserver.state.writes if method == "POST"]
    assert posts.count("/api/v1/namespaces/prod/pods/cache-x/eviction") == 1  # not retried
    assert posts.count("/api/v1/namespaces/prod/pods/web-b/eviction") > 1  # the budget's refusal is


def test_state_gates_cordon_and_uncordon(apiserver: ApiServer, make_provider: ProviderFactory) -> None:
    apiserver.state.put(node("node-1"))
    apiserver.state.put(node("node-2", ready=False, unschedulable=True))
    provider = make_provider()
    provider.connect()
    nodes = {found.name: found for found in provider.snapshot().nodes}
    assert provider.node_refusal(Action.CORDON, nodes["node-1"]) is None
    assert provider.node_refusal(Action.UNCORDON, nodes["node-1"]) == \
        "node node-1 is schedulable already; nothing to uncordon"
    assert provider.node_refusal(Action.CORDON, nodes["node-2"]) == \
        "node node-2 is already cordoned (SchedulingDisabled); uncordon puts it back in rotation"
    assert provider.node_refusal(Action.UNCORDON, nodes["node-2"]) is None
    assert provider.node_refusal(Action.DRAIN, nodes["node-2"]) is None  # NotReady and cordoned: still drainable

