"""A real kubectl v1.36 (tests/support/kubectl.py) as the oracle for the API test server and the provider.

Against the same server, kubectl and pilothouse must agree: kubectl's discovery, `get`, watch-list (rollout
status), `scale` and `rollout undo` work on the test server (where they do not, the server is wrong), and
pilothouse's rollout messages, counts, scale and rollback are kubectl's; `kubectl drain` evicts through the
server's PodDisruptionBudgets as on a real cluster, and pilothouse's drain sends what it sends. The server
accepts anonymous requests
here because kubectl sends no bearer token over plain http; pilothouse still sends its token.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from apiserver import ApiServer
from k8s_objects import (
    TS,
    controller_revision,
    daemonset,
    deployment,
    node,
    pod,
    replicaset,
    stable_deployment_status,
    statefulset,
)
from k8s_support import ProviderFactory, wait_until, write_config
from kubectl import Kubectl, Unreachable, obtain
from test_k8s_drain import HASH, drain_world, on_node

from pilothouse.console.cli import main

pytestmark = pytest.mark.kubernetes

Obj = dict[str, Any]
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"


@pytest.fixture(scope="session")
def kubectl_binary() -> Path:
    try:
        return obtain()
    except Unreachable as error:
        pytest.skip(str(error))


@pytest.fixture
def apiserver() -> Iterator[ApiServer]:
    """The conftest's server, also answering kubectl's anonymous requests."""
    server = ApiServer(anonymous=True).start()
    yield server
    server.stop()


@pytest.fixture
def kubectl(kubectl_binary: Path, kubeconfig: Path, tmp_path: Path) -> Kubectl:
    return Kubectl(kubectl_binary, kubeconfig, tmp_path / "kubectl-home")


def pilothouse(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def status_json(capsys: pytest.CaptureFixture[str], config: Path) -> Obj:
    code, out, err = pilothouse(capsys, "--config", str(config), "status", "--json")
    assert code == 0, err
    cluster: Obj = json.loads(out)["clusters"][0]
    assert cluster["state"] == "connected", cluster["error"]
    return cluster


def deployment_with_history(api: ApiServer, name: str, replicas: int, status: Obj) -> None:
    """NAME rolling from :1.0 (revision 1) to :1.1 (revision 2), with the status a controller would write."""
    dep = api.state.put(deployment(name, f"registry.local/{name}:1.1", replicas, revision=2, status=status))
    api.state.put(replicaset(dep, f"registry.local/{name}:1.0", 1, "5f6b7c", 0))
    api.state.put(replicaset(dep, f"registry.local/{name}:1.1", 2, "7d9f8c", replicas))


def progressing(reason: str, message: str) -> Obj:
    return {"type": "Progressing", "status": "False" if reason == "ProgressDeadlineExceeded" else "True",
            "reason": reason, "message": message, "lastUpdateTime": TS, "lastTransitionTime": TS}


def seed_rollouts(api: ApiServer) -> None:
    """One workload per rollout state kubectl words differently.

    Left out on purpose: a paused Deployment, where kubectl reports the counts ("successfully rolled out") and
    pilothouse says it is paused (its PAUSED state, which also refuses a rollback as kubectl does).
    """
    deployment_with_history(api, "done", 3, stable_deployment_status(3))
    deployment_with_history(api, "terminating", 3, {
        "observedGeneration": 1, "replicas": 4, "updatedReplicas": 3, "readyReplicas": 4, "availableReplicas": 4,
        "conditions": [progressing("ReplicaSetUpdated", 'ReplicaSet "terminating-7d9f8c" is progressing.')]})
    deployment_with_history(api, "unavailable", 3, {
        "observedGeneration": 1, "replicas": 3, "updatedReplicas": 3, "readyReplicas": 2, "availableReplicas": 2,
        "conditions": [progressing("ReplicaSetUpdated", 'ReplicaSet "unavailable-7d9f8c" is progressing.')]})
    deployment_with_history(api, "stuck", 3, {
        "observedGeneration": 1, "replicas": 4, "updatedReplicas": 1, "readyReplicas": 3, "availableReplicas": 3,
        "conditions": [progressing("ProgressDeadlineExceeded",
                                   'ReplicaSet "stuck-7d9f8c" has timed out progressing.')]})
    sts = api.state.put(statefulset("db", replicas=3, partition=1, status={
        "observedGeneration": 1, "replicas": 3, "readyReplicas": 3, "currentReplicas": 2, "updatedReplicas": 1,
        "currentRevision": "db-6c8b9d", "updateRevision": "db-7f9a1e"}))
    api.state.put(controller_revision(sts, 1, "registry.local/db:14", "6c8b9d"))
    api.state.put(controller_revision(sts, 2, "registry.local/db:15", "7f9a1e"))
    deployment_with_history(api, "observing", 3, stable_deployment_status(3))
    api.state.update("deployments", "prod", "observing", lambda d: d["metadata"].__setitem__("generation", 2))
    api.state.put(statefulset("cache", replicas=3, partition=0, status={
        "observedGeneration": 1, "replicas": 3, "readyReplicas": 1, "currentReplicas": 3, "updatedReplicas": 3,
        "currentRevision": "cache-1a2b3c", "updateRevision": "cache-1a2b3c"}))
    on_delete = statefulset("queue", replicas=3, status={
        "observedGeneration": 1, "replicas": 3, "readyReplicas": 3, "currentRevision": "queue-1",
        "updateRevision": "queue-2"})
    on_delete["spec"]["updateStrategy"] = {"type": "OnDelete"}
    api.state.put(on_delete)
    api.state.put(daemonset("logs", status={
        "observedGeneration": 1, "desiredNumberScheduled": 3, "updatedNumberScheduled": 1, "numberAvailable": 3}))
    ds = api.state.put(daemonset("agent", status={
        "observedGeneration": 1, "desiredNumberScheduled": 3, "currentNumberScheduled": 3,
        "updatedNumberScheduled": 3, "numberAvailable": 2, "numberReady": 2}))
    api.state.put(controller_revision(ds, 1, "registry.local/agent:2", "5d5d5d"))


def test_rollout_status_messages_are_kubectls(apiserver: ApiServer, kubectl: Kubectl, kubeconfig: Path,
                                              tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    seed_rollouts(apiserver)
    refs = {"done": "deploy/done", "terminating": "deploy/terminating", "unavailable": "deploy/unavailable",
            "stuck": "deploy/stuck", "observing": "deploy/observing", "db": "statefulset/db", "cache": "sts/cache",
            "queue": "sts/queue", "agent": "daemonset/agent", "logs": "ds/logs"}
    said: dict[str, str] = {}
    for name, ref in refs.items():
        result = kubectl("rollout", "status", ref, "-n", "prod", "--watch=false", check=False)
        # A failed rollout, or one kubectl cannot follow (OnDelete), is its error (exit 1); else its status line.
        assert result.returncode == (1 if name in ("stuck", "queue") else 0), result.stderr
        said[name] = result.stdout.strip() or result.stderr.strip().removeprefix("error: ")
    # kubectl 1.36 read each through a watch-list: initial events, then the initial-events-end bookmark.
    assert apiserver.state.count("watch", "deployments") == 5
    assert apiserver.state.count("watch", "statefulsets") == 3 and apiserver.state.count("watch", "daemonsets") == 2

    services = {s["name"]: s for s in status_json(capsys, write_config(tmp_path / "c.toml", kubeconfig))["services"]}
    shown = {name: services[name]["rollout"]["message"] for name in refs}
    # pilothouse adds the Progressing condition's message after kubectl's words for a failed rollout.
    assert shown["stuck"] == f'{said["stuck"]}: ReplicaSet "stuck-7d9f8c" has timed out progressing.'
    shown["stuck"] = said["stuck"]
    assert shown == said
    assert said == {
        "done": 'deployment "done" successfully rolled out',
        "terminating": 'Waiting for deployment "terminating" rollout to finish: 1 old replicas are pending '
                       "termination...",
        "unavailable": 'Waiting for deployment "unavailable" rollout to finish: 2 of 3 updated replicas are '
                       "available...",
        "stuck": 'deployment "stuck" exceeded its progress deadline',
        "observing": "Waiting for deployment spec update to be observed...",
        "db": "Waiting for partitioned roll out to finish: 1 out of 2 new pods have been updated...",
        "cache": "Waiting for 2 pods to be ready...",
        "queue": "rollout status is only available for RollingUpdate strategy type",
        "logs": 'Waiting for daemon set "logs" rollout to finish: 1 out of 3 new pods have been updated...',
        "agent": 'Waiting for daemon set "agent" rollout to finish: 2 of 3 updated pods are available...',
    }


def test_rollout_status_follows_the_watch_after_the_bookmark(apiserver: ApiServer, kubectl: Kubectl) -> None:
    """Without --watch=false kubectl waits on the watch-list's stream: changes after the bookmark reach it."""
    deployment_with_history(apiserver, "web", 3, {
        "observedGeneration": 1, "replicas": 3, "updatedReplicas": 1, "readyReplicas": 3, "availableReplicas": 3,
        "conditions": [progressing("ReplicaSetUpdated", 'ReplicaSet "web-7d9f8c" is progressing.')]})
    deployment_with_history(apiserver, "other", 1, stable_deployment_status(1))
    with subprocess.Popen([str(kubectl.binary), "rollout", "status", "deploy/web", "-n", "prod", "--timeout=20s"],
                          env=kubectl.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as waiting:
        try:
            wait_until(lambda: apiserver.state.count("watch", "deployments") == 1, timeout=20)
            apiserver.state.update("deployments", "prod", "other", lambda d: d["spec"].__setitem__("replicas", 2))
            apiserver.state.update("deployments", "prod", "web",
                                   lambda d: d.__setitem__("status", stable_deployment_status(3)))
            out, err = waiting.communicate(timeout=30)
        finally:
            waiting.kill()
    assert waiting.returncode == 0, err
    lines = out.splitlines()
    assert lines[-1] == 'deployment "web" successfully rolled out'
    assert lines[0] == 'Waiting for deployment "web" rollout to finish: 1 out of 3 new replicas have been updated...'
    assert not any("other" in line for line in lines)  # the field selector kept the other Deployment out


def kubectl_table(text: str) -> list[dict[str, str]]:
    """kubectl's printed table (columns split on runs of 2+ spaces), one dict per row, by column header."""
    lines = [line for line in text.splitlines() if line.strip()]
    header = re.split(r"\s{2,}", lines[0].strip())
    return [dict(zip(header, re.split(r"\s{2,}", line.strip()), strict=True)) for line in lines[1:]]


def test_kubectl_get_agrees_with_status(apiserver: ApiServer, kubectl: Kubectl, kubeconfig: Path,
                                        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state = apiserver.state
    for namespace, name, replicas in (("prod", "web", 3), ("prod", "api", 2), ("staging", "web", 1)):
        dep = state.put(deployment(name, f"registry.local/{name}:1", replicas, ns=namespace))
        rs = state.put(replicaset(dep, f"registry.local/{name}:1", 1, "abc123", replicas))
        for index in range(replicas):
            crashing = (namespace, name, index) == ("prod", "api", 1)
            state.put(pod(rs, f"{name}-abc123-{index}", app=name, version_label=("pod-template-hash", "abc123"),
                          node=f"node-{index + 1}", ready=not crashing, restarts=4 if crashing else 0,
                          waiting=("CrashLoopBackOff", "back-off 5m0s restarting failed container") if crashing
                          else None))
    state.update("deployments", "prod", "api", lambda d: d["status"].update(readyReplicas=1, availableReplicas=1))
    state.put(node("node-1"))

    # Server-side printing, as kube-apiserver answers kubectl get (the Table it asks for).
    def wide(kind: str) -> dict[str, dict[str, str]]:
        rows = kubectl_table(kubectl("get", kind, "-A", "-o", "wide").stdout)
        return {f"{row['NAMESPACE']}/{row['NAME']}": row for row in rows}

    deployments, pods = wide("deploy"), wide("po")
    both = kubectl("get", "deploy,po", "-A").stdout  # short names resolved through discovery
    headers = [" ".join(line.split()) for line in both.splitlines() if line.startswith("NAMESPACE")]
    assert headers == ["NAMESPACE NAME READY UP-TO-DATE AVAILABLE AGE", "NAMESPACE NAME READY STATUS RESTARTS AGE"]

    cluster = status_json(capsys, write_config(tmp_path / "c.toml", kubeconfig))
    services = {s["ref"]: s for s in cluster["services"] if s["kind"] == "deployment"}
    tasks = {t["id"]: t for s in cluster["services"] for t in s["tasks"]}
    assert (len(deployments), len(pods)) == (3, 6)
    assert set(deployments) == set(services) and set(pods) == set(tasks)
    for ref, row in deployments.items():
        assert row["READY"] == f"{services[ref]['running']}/{services[ref]['desired']}"
        assert row["IMAGES"] == services[ref]["image"]
    for ref, row in pods.items():
        assert (row["NODE"], int(row["RESTARTS"].split()[0])) == (tasks[ref]["node"], tasks[ref]["restarts"])
    assert pods["prod/api-abc123-1"]["STATUS"] == "CrashLoopBackOff" and pods["prod/api-abc123-1"]["READY"] == "0/1"
    assert deployments["prod/api"]["READY"] == "1/2"


def test_kubectl_scale_is_seen_through_the_providers_watch(
    apiserver: ApiServer, kubectl: Kubectl, make_provider: ProviderFactory
) -> None:
    deployment_with_history(apiserver, "web", 3, stable_deployment_status(3))
    provider = make_provider()
    provider.connect()
    assert provider.snapshot().service("prod/web") is not None

    result = kubectl("scale", "deploy/web", "-n", "prod", "--replicas=5")

    assert result.stdout.strip() == "deployment.apps/web scaled"
    assert apiserver.state.get("deployments", "prod", "web")["spec"]["replicas"] == 5
    wait_until(lambda: (service := provider.snapshot().service("prod/web")) is not None and service.desired == 5)


@pytest.fixture
def twin(apiserver: ApiServer) -> Iterator[ApiServer]:
    """A second server holding the same web Deployment as `apiserver`: kubectl acts on one, pilothouse on this."""
    server = ApiServer(anonymous=True).start()
    for copy in (apiserver, server):
        deployment_with_history(copy, "web", 3, stable_deployment_status(3))
    yield server
    server.stop()


def pilothouse_on(server: ApiServer, tmp_path: Path, capsys: pytest.CaptureFixture[str], *argv: str) -> None:
    config = write_config(tmp_path / "twin.toml", server.write_kubeconfig(tmp_path / "twin-kubeconfig"))
    code, _, err = pilothouse(capsys, "--config", str(config), *argv)
    assert code == 0, err


def test_rollout_undo_and_pilothouse_rollback_leave_the_same_template(
    apiserver: ApiServer, twin: ApiServer, kubectl: Kubectl, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    result = kubectl("rollout", "undo", "deploy/web", "-n", "prod")
    assert result.stdout.strip() == "deployment.apps/web rolled back"
    pilothouse_on(twin, tmp_path, capsys, "rollback", "k8s/prod/web", "--yes")

    by_kubectl = apiserver.state.get("deployments", "prod", "web")
    by_pilothouse = twin.state.get("deployments", "prod", "web")
    assert by_pilothouse["spec"]["template"] == by_kubectl["spec"]["template"]
    assert by_kubectl["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.local/web:1.0"
    assert by_pilothouse["metadata"]["annotations"] == by_kubectl["metadata"]["annotations"]


def test_rollout_restart_and_pilothouse_restart_send_the_same_patch(
    apiserver: ApiServer, twin: ApiServer, kubectl: Kubectl, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    result = kubectl("rollout", "restart", "deploy/web", "-n", "prod")
    assert result.stdout.strip() == "deployment.apps/web restarted"
    pilothouse_on(twin, tmp_path, capsys, "restart", "k8s/prod/web", "--yes")

    templates = [server.state.get("deployments", "prod", "web")["spec"]["template"] for server in (apiserver, twin)]
    stamps = [template["metadata"]["annotations"].pop(RESTARTED_AT) for template in templates]
    for stamp in stamps:  # each a time, the moment of its own restart
        assert abs(datetime.now(UTC) - datetime.fromisoformat(stamp)) < timedelta(minutes=5)
    assert templates[0] == templates[1]
    # The request as sent: the same kind of patch with the same shape.
    (_, kubectl_path, kubectl_type, kubectl_body), = apiserver.state.writes
    (_, our_path, our_type, our_body), = twin.state.writes
    assert (our_path, our_type.split(";")[0]) == (kubectl_path, kubectl_type.split(";")[0])
    for body in (kubectl_body, our_body):
        body["spec"]["template"]["metadata"]["annotations"][RESTARTED_AT] = "TIME"
    assert our_body == kubectl_body


def test_kubectl_drain_retries_the_budget_and_pilothouse_sends_what_it_sends(
    apiserver: ApiServer, kubectl: Kubectl, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    drain_world(apiserver, unmanaged=False)
    command = [str(kubectl.binary), "--request-timeout=10s", "drain", "node-1", "--ignore-daemonsets",
               "--delete-emptydir-data", "--timeout=40s"]
    process = subprocess.Popen(command, env=kubectl.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # kubectl evicts in parallel: once both web pods were asked for, the budget (one disruption) refused one.
        def both_asked() -> bool:
            with apiserver.state.cond:
                paths = [path for _, path, _, _ in apiserver.state.writes]
            return all(f"/api/v1/namespaces/prod/pods/{name}/eviction" in paths for name in ("web-a", "web-b"))

        wait_until(both_asked, 30, what="kubectl's evictions of both web pods")
        [refused] = [name for name in ("web-a", "web-b") if ("prod", name) in apiserver.state.objects["pods"]]
        # The evicted one's replacement becomes Ready elsewhere: kubectl's retry (after 5 s) gets through.
        web_rs = apiserver.state.get("replicasets", "prod", f"web-{HASH[1]}")
        apiserver.state.put(pod(web_rs, "web-d", node="node-2", version_label=HASH))
        out, err = process.communicate(timeout=40)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    assert out.splitlines()[0] == "node/node-1 cordoned" and out.splitlines()[-1] == "node/node-1 drained"
    assert {f"pod/{name} evicted" for name in ("cache-x", "web-a", "web-b")} <= set(out.splitlines())
    assert "Warning: ignoring DaemonSet-managed Pods: prod/agent-node-1" in err
    assert (f'error when evicting pods/"{refused}" -n "prod" (will retry after 5s): Cannot evict pod as it would '
            "violate the pod's disruption budget.") in err
    assert on_node(apiserver, "node-1") == ["kube-system/kube-proxy-node-1", "prod/agent-node-1"]
    posts = [path for method, path, _, _ in apiserver.state.writes if method == "POST"]
    assert posts.count(f"/api/v1/namespaces/prod/pods/{refused}/eviction") == 2

    # pilothouse on a second server with the same world: the same cordon patch and eviction bodies.
    ours = ApiServer(anonymous=True).start()
    try:
        drain_world(ours, unmanaged=False)
        config = write_config(tmp_path / "ours.toml", ours.write_kubeconfig(tmp_path / "ours-kubeconfig"),
                              extra="drain_timeout = 0\n")
        code, _, _ = pilothouse(capsys, "--config", str(config), "node", "k8s/node-1", "drain", "--yes")
        assert code == 1  # web-b refused and no time to retry
        theirs = {path: (content_type.split(";")[0], body) for _, path, content_type, body in apiserver.state.writes}
        for _, path, content_type, body in ours.state.writes:
            assert theirs[path] == (content_type.split(";")[0], body), path
    finally:
        ours.stop()


def test_kubectl_refuses_a_pod_with_no_controller_where_pilothouse_drains_the_rest(
    apiserver: ApiServer, kubectl: Kubectl,
) -> None:
    """The one deliberate difference: kubectl drain without --force evicts nothing when a pod has no controller;
    pilothouse evicts the others and names that one (test_k8s_drain.py)."""
    drain_world(apiserver)
    result = kubectl("drain", "node-1", "--ignore-daemonsets", "--delete-emptydir-data", "--timeout=10s", check=False)
    assert result.returncode == 1
    assert "cannot delete Pods that declare no controller (use --force to override): prod/debug" in result.stderr
    assert [method for method, _, _, _ in apiserver.state.writes] == ["PATCH"]  # cordoned, nothing evicted
