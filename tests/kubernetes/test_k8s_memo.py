"""Snapshots map again only the workloads whose objects changed (providers/kubernetes/memo.py, issue 15): after
any sequence of changes to pods, ReplicaSets, Deployments, StatefulSets, nodes, claims and the clock, a mapping
that reuses the last one's Services is exactly the full mapping of the same caches."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from k8s_objects import (
    controller_revision,
    deployment,
    hpa,
    node,
    persistent_volume_claim,
    pod,
    replicaset,
    statefulset,
)

from pilothouse.providers.kubernetes.mapping import build_cluster
from pilothouse.providers.kubernetes.memo import MappingMemo
from pilothouse.providers.kubernetes.objects import (
    CONTROLLER_REVISIONS,
    DEPLOYMENTS,
    HORIZONTAL_POD_AUTOSCALERS,
    NODES,
    PERSISTENT_VOLUME_CLAIMS,
    PODS,
    REPLICASETS,
    STATEFULSETS,
    Kind,
    _key,
)
from pilothouse.providers.kubernetes.projection import project
from pilothouse.providers.model import Cluster

Obj = dict[str, Any]
START = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
APPS = ("web", "api", "worker")


def iso(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


class Caches:
    """The watch caches as the reflectors keep them: projections by key, replaced whole on every change."""

    def __init__(self) -> None:
        self.items: dict[str, dict[tuple[str, str], Obj]] = {}
        self.owners: dict[str, Obj] = {}
        self.serial = 0
        for index in range(2):
            self.put(NODES, node(f"node-{index}"))
        for app in APPS:
            owner = self.put(DEPLOYMENTS, deployment(app, f"registry.local/{app}:1", replicas=3))
            rs = self.put(REPLICASETS, replicaset(owner, f"registry.local/{app}:1", 1, f"h{app}", 3))
            self.owners[app] = rs
            for _ in range(3):
                self.add_pod(app)
        db = self.put(STATEFULSETS, statefulset("db", replicas=2))
        self.put(CONTROLLER_REVISIONS, controller_revision(db, 1, "registry.local/db:15", "db-1"))
        self.put(PERSISTENT_VOLUME_CLAIMS, persistent_volume_claim("data-db-0", "ReadWriteOnce"))
        self.put(HORIZONTAL_POD_AUTOSCALERS, hpa("web"))

    def put(self, kind: Kind, obj: Obj) -> Obj:
        meta = obj["metadata"]  # as the API server gives them; a replaced object keeps its uid
        meta.setdefault("uid", f"{kind.resource}/{meta.get('namespace', '')}/{meta['name']}")
        kept = project(kind, copy.deepcopy(obj))
        self.items.setdefault(kind.resource, {})[_key(kept)] = kept
        return obj

    def objects(self) -> dict[str, list[Obj]]:
        return {resource: list(items.values()) for resource, items in self.items.items()}

    def pods(self) -> list[Obj]:
        return list(self.items[PODS.resource].values())

    def add_pod(self, app: str, **fields: Any) -> None:
        self.serial += 1
        self.put(PODS, pod(self.owners[app], f"{app}-h{app}-{self.serial:03d}", app=app,
                           node=f"node-{self.serial % 2}", version_label=("pod-template-hash", f"h{app}"), **fields))


# One change each: (what, which object, a number)
CHANGES = st.tuples(st.sampled_from(("unready_long", "unready_now", "ready", "restart", "delete", "add", "scale",
                                     "replicaset", "node", "claim", "clock")),
                    st.integers(0, 50), st.integers(0, 400))


def apply(caches: Caches, change: tuple[str, int, int], now: datetime) -> datetime:
    what, index, number = change
    pods = caches.pods()
    target = pods[index % len(pods)] if pods else None
    app = APPS[index % len(APPS)]
    if what == "clock":  # readiness failing for a while turns unhealthy by the clock alone
        return now + timedelta(seconds=number)
    if what in ("unready_long", "unready_now", "ready", "restart") and target is not None:
        fresh = copy.deepcopy(target)
        status = fresh["status"]
        ready = what == "ready"
        since = iso(now - timedelta(seconds=5)) if what == "unready_now" else "2024-01-01T00:00:00Z"
        for condition in status.get("conditions", []):
            if condition["type"] == "Ready":
                condition["status"] = "True" if ready else "False"
                condition["lastTransitionTime"] = since
        container = status["containerStatuses"][0]
        if what == "restart":
            container["restartCount"] = container.get("restartCount", 0) + 1
        else:
            container["ready"] = ready
        caches.put(PODS, fresh)
    elif what == "delete" and target is not None:
        del caches.items[PODS.resource][_key(target)]
    elif what == "add":
        caches.add_pod(app, ready=number % 2 == 0, ready_since=iso(now - timedelta(seconds=number)))
    elif what == "scale":
        caches.put(DEPLOYMENTS, deployment(app, f"registry.local/{app}:1", replicas=number % 6))
    elif what == "replicaset":
        owner = caches.items[DEPLOYMENTS.resource].get(("default", app))
        if owner is not None:
            rs = replicaset(owner, f"registry.local/{app}:1", 1, f"h{app}", 3)
            rs["status"]["readyReplicas"] = number % 4
            caches.put(REPLICASETS, rs)
    elif what == "node":
        caches.put(NODES, node(f"node-{index % 2}", ready=number % 2 == 0, unschedulable=number % 3 == 0))
    elif what == "claim":
        caches.put(PERSISTENT_VOLUME_CLAIMS, persistent_volume_claim("data-db-0", "ReadWriteOnce",
                                                                     bound=number % 2 == 0))
    return now


def as_provider_leaves_it(cluster: Cluster) -> Cluster:
    """The provider sets staleness on the Services it hands out: the memo must not see it."""
    for service in cluster.services:
        service.stale = True
        service.tasks_known = False
    return cluster


@settings(max_examples=60, deadline=None)
@given(st.lists(CHANGES, min_size=1, max_size=25))
def test_an_incremental_mapping_is_the_full_mapping_after_any_changes(changes: list[tuple[str, int, int]]) -> None:
    caches = Caches()
    memo = MappingMemo()
    now = START
    as_provider_leaves_it(build_cluster("c", caches.objects(), now=now, memo=memo))
    for change in changes:
        now = apply(caches, change, now)
        objects = caches.objects()
        full = build_cluster("c", objects, now=now)
        incremental = build_cluster("c", objects, now=now, memo=memo)
        assert incremental == full, change
        as_provider_leaves_it(incremental)


def test_one_changed_pod_maps_its_workload_alone() -> None:
    caches = Caches()
    memo = MappingMemo()
    build_cluster("c", caches.objects(), now=START, memo=memo)
    assert (memo.mapped, memo.reused) == (4, 0)
    build_cluster("c", caches.objects(), now=START, memo=memo)
    assert (memo.mapped, memo.reused) == (0, 4)
    apply(caches, ("restart", 4, 0), START)  # a pod of the second Deployment
    cluster = build_cluster("c", caches.objects(), now=START, memo=memo)
    assert (memo.mapped, memo.reused) == (1, 3)
    api = next(service for service in cluster.services if service.name == "api")
    assert sum(task.restarts for task in api.tasks) == 1


def test_a_workload_whose_health_waits_on_the_clock_is_mapped_every_time() -> None:
    caches = Caches()
    memo = MappingMemo()
    apply(caches, ("unready_now", 0, 0), START)
    build_cluster("c", caches.objects(), now=START, memo=memo)
    later = START + timedelta(minutes=10)
    cluster = build_cluster("c", caches.objects(), now=later, memo=memo)
    assert (memo.mapped, memo.reused) == (1, 3)
    assert cluster == build_cluster("c", caches.objects(), now=later)
    assert sum(service.health.unhealthy for service in cluster.services) == 1
