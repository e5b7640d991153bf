"""What the console shows of a Kubernetes cluster: workloads, pods, nodes, events, rollouts.

Everything goes over real HTTP: the official client, configured from a real kubeconfig, lists and watches
the stateful test server.
"""

from __future__ import annotations

from typing import Any

import pytest
from apiserver import ApiServer
from k8s_objects import (
    controller_revision,
    daemonset,
    deployment,
    event,
    node,
    now_iso,
    pod,
    replicaset,
    stable_deployment_status,
    statefulset,
)

from pilothouse.providers.kubernetes import KubernetesProvider
from pilothouse.providers.kubernetes.mapping import build_cluster, map_node, map_pod, map_workload
from pilothouse.providers.model import (
    Availability,
    ConnectionState,
    Health,
    NodeStatus,
    RolloutState,
    ServiceMode,
    TaskState,
)

pytestmark = pytest.mark.kubernetes

Obj = dict[str, Any]


def seed_rollout(api: ApiServer) -> tuple[Obj, Obj, Obj]:
    """web: rolling from 1.0 (rev 1) to 1.1 (rev 2), 2 of 3 pods updated, one old pod left."""
    state = api.state
    dep = state.put(deployment("web", "registry.local/web:1.1", 3, revision=2, status={
        "observedGeneration": 2, "replicas": 4, "updatedReplicas": 2, "readyReplicas": 3,
        "availableReplicas": 3,
        "conditions": [{"type": "Progressing", "status": "True", "reason": "ReplicaSetUpdated",
                        "message": 'ReplicaSet "web-7d9f8c" is progressing.',
                        "lastUpdateTime": "2024-05-02T10:00:00Z"}],
    }))
    state.update("deployments", "prod", "web", lambda d: d["metadata"].__setitem__("generation", 2))
    old = state.put(replicaset(dep, "registry.local/web:1.0", 1, "5f6b7c", 2))
    new = state.put(replicaset(dep, "registry.local/web:1.1", 2, "7d9f8c", 2))
    state.put(pod(old, "web-5f6b7c-aaaaa", node="node-1", version_label=("pod-template-hash", "5f6b7c")))
    state.put(pod(old, "web-5f6b7c-bbbbb", node="node-2", version_label=("pod-template-hash", "5f6b7c")))
    state.put(pod(new, "web-7d9f8c-ccccc", node="node-1", ip="10.244.1.9",
                  version_label=("pod-template-hash", "7d9f8c")))
    state.put(pod(new, "web-7d9f8c-ddddd", node="node-3", ready=False, ready_since=now_iso(),
                  version_label=("pod-template-hash", "7d9f8c")))
    # Not ready for days: its readiness probe is failing, it is not starting.
    state.put(pod(old, "web-5f6b7c-stale", node="node-3", ready=False,
                  version_label=("pod-template-hash", "5f6b7c")))
    for name in ("node-1", "node-2", "node-3"):
        state.put(node(name, roles=("worker",) if name != "node-1" else ("control-plane",)))
    return state.get("deployments", "prod", "web"), old, new


def test_rollout_in_progress_with_two_replicasets(apiserver: ApiServer, provider: KubernetesProvider) -> None:
    seed_rollout(apiserver)
    provider.connect()
    cluster = provider.snapshot()

    assert cluster.state is ConnectionState.CONNECTED, cluster.error
    assert cluster.endpoint.startswith("context test (http://127.0.0.1:")
    web = cluster.service("prod/web")
    assert web is not None
    assert (web.id, web.workload_kind, web.namespace, web.mode) == ("deployment/prod/web", "deployment", "prod",
                                                                   ServiceMode.REPLICATED)
    assert web.rollout.state is RolloutState.UPDATING
    assert (web.rollout.updated, web.rollout.total) == (2, 3)
    assert web.rollout.message == (
        'Waiting for deployment "web" rollout to finish: 2 out of 3 new replicas have been updated...')
    assert web.rollout.from_version == "registry.local/web:1.0 (rev 1)"
    assert web.rollout.to_version == "registry.local/web:1.1 (rev 2)"
    assert web.version == "7d9f8c"
    assert web.image == "registry.local/web:1.1"
    assert (web.desired, web.running) == (3, 3)
    assert web.details["ready"] == "3/3"
    assert web.details["up-to-date"] == "2"
    assert web.details["selector"] == "app=web"
    assert web.details["revision"] == "2"
    assert (web.update_policy.max_surge, web.update_policy.max_unavailable) == ("25%", "25%")
    assert web.containers[0].readiness_probe is True and web.containers[0].liveness_probe is False
    assert web.containers[0].secret_env == ("DB_PASSWORD",)
    assert web.containers[0].memory_limit_bytes == 256 * 2**20

    tasks = {task.id: task for task in web.tasks}
    assert set(tasks) == {"prod/web-5f6b7c-aaaaa", "prod/web-5f6b7c-bbbbb", "prod/web-7d9f8c-ccccc",
                          "prod/web-7d9f8c-ddddd", "prod/web-5f6b7c-stale"}
    assert sum(task.version == web.version for task in web.tasks) == 2
    fresh = tasks["prod/web-7d9f8c-ccccc"]
    assert (fresh.state, fresh.health, fresh.node_name, fresh.address) == (
        TaskState.RUNNING, Health.HEALTHY, "node-1", "10.244.1.9")
    assert tasks["prod/web-7d9f8c-ddddd"].health is Health.STARTING
    stale = tasks["prod/web-5f6b7c-stale"]
    assert (stale.health, stale.error) == (Health.UNHEALTHY, "not ready (readiness failing)")
    assert (web.health.healthy, web.health.starting, web.health.unhealthy) == (3, 1, 1)

    roles = {n.name: n.role for n in cluster.nodes}
    assert roles == {"node-1": "control-plane", "node-2": "worker", "node-3": "worker"}


def test_progress_deadline_exceeded_is_failed_with_its_message(
    apiserver: ApiServer, provider: KubernetesProvider
) -> None:
    seed_rollout(apiserver)

    def exceed(dep: Obj) -> None:
        dep["status"]["conditions"] = [{
            "type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
            "message": 'ReplicaSet "web-7d9f8c" has timed out progressing.',
        }]

    apiserver.state.update("deployments", "prod", "web", exceed)
    web = provider.snapshot().service("prod/web")
    assert web is not None
    assert web.rollout.state is RolloutState.FAILED
    assert web.rollout.message == ('deployment "web" exceeded its progress deadline: '
                                   'ReplicaSet "web-7d9f8c" has timed out progressing.')


def test_paused_and_stable_deployments(apiserver: ApiServer, provider: KubernetesProvider) -> None:
    state = apiserver.state
    stable = state.put(deployment("api", "registry.local/api:3", 2))
    state.put(replicaset(stable, "registry.local/api:3", 4, "aaa111", 2))
    state.put(deployment("batch", "registry.local/batch:1", 1, paused=True))
    cluster = provider.snapshot()
    api, batch = cluster.service("prod/api"), cluster.service("prod/batch")
    assert api is not None and batch is not None
    assert api.rollout.state is RolloutState.STABLE
    assert api.rollout.message == 'deployment "api" successfully rolled out'
    assert batch.rollout.state is RolloutState.PAUSED
    assert batch.details["paused"] == "true"


def test_crashloop_and_image_pull_pods_are_unhealthy_with_reasons(
    apiserver: ApiServer, provider: KubernetesProvider
) -> None:
    state = apiserver.state
    dep = state.put(deployment("web", "registry.local/web:1.0", 2, status={
        "observedGeneration": 1, "replicas": 2, "updatedReplicas": 2, "readyReplicas": 0, "availableReplicas": 0}))
    rs = state.put(replicaset(dep, "registry.local/web:1.0", 1, "5f6b7c", 2))
    state.put(pod(rs, "web-5f6b7c-crash", ready=False, restarts=7, version_label=("pod-template-hash", "5f6b7c"),
                  waiting=("CrashLoopBackOff", "back-off 5m0s restarting failed container=app")))
    state.put(pod(rs, "web-5f6b7c-pull", phase="Pending", ready=False, version_label=("pod-template-hash", "5f6b7c"),
                  waiting=("ImagePullBackOff", 'Back-off pulling image "registry.local/web:1.0"')))
    web = provider.snapshot().service("prod/web")
    assert web is not None
    tasks = {task.id.split("/")[1]: task for task in web.tasks}
    crash, pull = tasks["web-5f6b7c-crash"], tasks["web-5f6b7c-pull"]
    assert (crash.state, crash.raw_state, crash.health, crash.restarts) == (
        TaskState.RUNNING, "CrashLoopBackOff", Health.UNHEALTHY, 7)
    assert "back-off 5m0s" in crash.error and "last exit 1" in crash.error
    assert crash.exit_code == 1
    assert (pull.state, pull.raw_state, pull.health) == (TaskState.STARTING, "ImagePullBackOff", Health.UNHEALTHY)
    assert "Back-off pulling image" in pull.error
    assert web.health.unhealthy == 2
    assert web.pending == 1


def test_nodes_cordoned_tainted_not_ready(apiserver: ApiServer, provider: KubernetesProvider) -> None:
    state = apiserver.state
    state.put(node("node-1", zone="eu-west-1a", roles=("control-plane",),
                   taints=[{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]))
    state.put(node("node-2", zone="eu-west-1b", unschedulable=True, taints=[
        {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}]))
    state.put(node("node-3", ready=False))
    nodes = {n.name: n for n in provider.snapshot().nodes}
    assert nodes["node-1"].status is NodeStatus.READY
    assert nodes["node-1"].availability is Availability.ACTIVE
    assert nodes["node-1"].message == "taints node-role.kubernetes.io/control-plane:NoSchedule"
    assert (nodes["node-1"].role, nodes["node-1"].zone, nodes["node-1"].version) == (
        "control-plane", "eu-west-1a", "v1.30.2")
    cordoned = nodes["node-2"]
    assert cordoned.availability is Availability.PAUSE
    assert cordoned.message == "cordoned; taints node.kubernetes.io/unschedulable:NoSchedule"
    assert nodes["node-3"].status is NodeStatus.UNKNOWN
    assert "Kubelet stopped posting node status" in nodes["node-3"].message


def test_events_of_workloads_and_their_pods(apiserver: ApiServer, provider: KubernetesProvider) -> None:
    seed_rollout(apiserver)
    state = apiserver.state
    state.put(event("Deployment", "web", "ScalingReplicaSet", "Scaled up replica set web-7d9f8c to 2",
                    at="2024-05-02T10:00:00Z"))
    state.put(event("ReplicaSet", "web-7d9f8c", "SuccessfulCreate", "Created pod: web-7d9f8c-ddddd",
                    at="2024-05-02T10:00:01Z"))
    state.put(event("Pod", "web-7d9f8c-ddddd", "Unhealthy", "Readiness probe failed: HTTP probe failed",
                    warning=True, count=4, at="2024-05-02T10:00:05Z"))
    state.put(event("Pod", "someone-elses-pod", "Pulled", "image pulled", at="2024-05-02T10:00:06Z"))
    events = provider.snapshot().events
    assert [(e.object, e.kind, e.service_ref) for e in events] == [
        ("deployment prod/web", "normal", "prod/web"),
        ("replicaset prod/web-7d9f8c", "normal", "prod/web"),
        ("pod prod/web-7d9f8c-ddddd", "warning", "prod/web"),
    ]
    assert events[-1].message == "Unhealthy: Readiness probe failed: HTTP probe failed (x4)"


def test_statefulset_and_daemonset(apiserver: ApiServer, provider: KubernetesProvider) -> None:
    state = apiserver.state
    sts = state.put(statefulset("db", "registry.local/db:16", 3, partition=1))
    state.put(controller_revision(sts, 1, "registry.local/db:15", "6c8d9"))
    state.put(controller_revision(sts, 2, "registry.local/db:16", "7f4b2"))
    state.update("statefulsets", "prod", "db", lambda s: s.__setitem__("status", {
        "observedGeneration": 1, "replicas": 3, "readyReplicas": 3, "currentReplicas": 2, "updatedReplicas": 1,
        "currentRevision": "db-6c8d9", "updateRevision": "db-7f4b2"}))
    for ordinal, revision in ((0, "db-6c8d9"), (1, "db-6c8d9"), (2, "db-7f4b2")):
        state.put(pod(sts, f"db-{ordinal}", version_label=("controller-revision-hash", revision), app="db"))
    ds = state.put(daemonset("agent", "registry.local/agent:2"))
    state.put(controller_revision(ds, 1, "registry.local/agent:1", "55d7"))
    state.put(controller_revision(ds, 2, "registry.local/agent:2", "66e8"))
    state.update("daemonsets", "prod", "agent", lambda d: d.__setitem__("status", {
        "observedGeneration": 1, "desiredNumberScheduled": 3, "currentNumberScheduled": 3, "numberReady": 3,
        "updatedNumberScheduled": 1, "numberAvailable": 3}))
    state.put(pod(ds, "agent-x1", version_label=("controller-revision-hash", "66e8"), app="agent"))

    cluster = provider.snapshot()
    db, agent = cluster.service("prod/db"), cluster.service("prod/agent")
    assert db is not None and agent is not None
    assert db.workload_kind == "statefulset"
    assert db.update_policy.partition == 1
    # kubectl: with a partition, done when updatedReplicas >= replicas - partition (here 1 < 3 - 1).
    assert db.rollout.state is RolloutState.UPDATING
    assert db.rollout.message == "Waiting for partitioned roll out to finish: 1 out of 2 new pods have been updated..."
    assert (db.rollout.updated, db.rollout.total) == (1, 2)
    assert [task.slot for task in db.tasks] == [0, 1, 2]
    assert db.version == "db-7f4b2"
    assert [task.version == db.version for task in db.tasks] == [False, False, True]
    assert db.rollout.from_version == "registry.local/db:15 (rev 1)"
    assert db.rollout.to_version == "registry.local/db:16 (rev 2)"

    assert (agent.workload_kind, agent.mode, agent.desired, agent.running) == ("daemonset", ServiceMode.GLOBAL, 3, 3)
    assert agent.rollout.state is RolloutState.UPDATING
    assert agent.rollout.message == (
        'Waiting for daemon set "agent" rollout to finish: 1 out of 3 new pods have been updated...')
    assert (agent.rollout.updated, agent.rollout.total) == (1, 3)
    assert agent.version == "66e8"
    assert agent.tasks[0].version == agent.version


def test_same_name_in_two_kinds_gets_distinct_refs(apiserver: ApiServer, provider: KubernetesProvider) -> None:
    apiserver.state.put(deployment("web"))
    apiserver.state.put(statefulset("web"))
    refs = sorted(service.ref for service in provider.snapshot().services)
    assert refs == ["prod/statefulset/web", "prod/web"]


def test_namespaces_option_limits_what_is_watched(apiserver: ApiServer, make_provider: Any) -> None:
    apiserver.state.put(deployment("web", ns="prod"))
    apiserver.state.put(deployment("web", ns="staging"))
    apiserver.state.put(deployment("tool", ns="kube-system"))
    cluster = make_provider(namespaces=["prod", "staging"]).snapshot()
    assert sorted(s.ref for s in cluster.services) == ["prod/web", "staging/web"]
    assert apiserver.state.count("list", "deployments") == 2  # one per namespace, none cluster-wide


def test_mapping_survives_empty_and_junk_objects() -> None:
    junk: list[Any] = [{}, {"metadata": None}, {"metadata": {"name": 5}, "spec": [], "status": "x"}]
    for obj in junk:
        map_node(obj)
        map_pod(obj, "deployment/x/y")
        for kind in ("deployment", "statefulset", "daemonset"):
            map_workload(kind, obj, [obj], [obj])
    cluster = build_cluster("c", {"deployments": junk, "pods": junk, "nodes": junk, "events": junk,
                                  "replicasets": junk, "controllerrevisions": junk})
    assert len(cluster.services) == 3
    status = stable_deployment_status(2)
    status["replicas"] = "two"
    service = map_workload("deployment", {"spec": {"replicas": None}, "status": status}, [], [])
    assert service.desired == 1  # the API default when spec.replicas is absent
