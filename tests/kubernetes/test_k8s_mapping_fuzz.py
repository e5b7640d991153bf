"""Property tests: malformed or partial API objects never crash the mapping (issue 7).

Real-shaped objects (the test server's builders) are corrupted at random places: fields removed, nulled,
given the wrong type or an enum value no Kubernetes version has. The pure mapping functions must return
well-typed model objects; the only exceptions allowed are the typed provider errors (e.g. NotSupported
from a rollback target search).
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from k8s_objects import (
    controller_revision,
    daemonset,
    deployment,
    event,
    node,
    pod,
    replicaset,
    stable_deployment_status,
    statefulset,
)

from pilothouse.providers.errors import ProviderError
from pilothouse.providers.kubernetes.logs import parse_log_line, pod_log_streams, resolve_log_target
from pilothouse.providers.kubernetes.mapping import (
    build_cluster,
    map_container,
    map_event,
    map_node,
    map_pod,
    map_workload,
)
from pilothouse.providers.kubernetes.objects import parse_quantity_bytes
from pilothouse.providers.kubernetes.rollout import deployment_rollback_target, revision_rollback_target
from pilothouse.providers.model import Cluster, Health, Service, TaskState

pytestmark = pytest.mark.kubernetes

Obj = dict[str, Any]
NOW = datetime(2024, 5, 2, tzinfo=UTC)
FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Values that mean something somewhere, in the wrong place, and enum values from no Kubernetes version.
ODD_VALUES: list[Any] = [
    None, "junk", "", "True", "False", "Unknown", "Running", "Pending", "Warp", "CrashLoopBackOff", "RollingUpdate",
    "Recreate", "OnDelete", "Sideways", "100%", "-1", "1e9", "512Mi", "Warning", "2024-05-01T10:00:00Z",
    "2024-13-45T99:00:00Z", "Deployment", "ReplicaSet", "Node", -1, 0, 2**63, 1.5, float("nan"), True, [], {},
    [None], {"": None},
]
SCALARS = st.one_of(
    st.sampled_from(ODD_VALUES), st.text(min_size=1, max_size=12), st.integers(-(2**63), 2**63),
    st.floats(allow_nan=True, allow_infinity=True),
)
VALUES = st.recursive(
    SCALARS,
    lambda children: st.one_of(st.lists(children, max_size=3), st.dictionaries(st.text(max_size=8), children,
                                                                                  max_size=3)),
    max_leaves=8,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(value, dict):
        for key, child in value.items():
            yield (*prefix, key)
            yield from _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield (*prefix, index)
            yield from _paths(child, (*prefix, index))


@st.composite
def corrupted(draw: st.DrawFn, base: Obj) -> Obj:
    obj = copy.deepcopy(base)
    paths = list(_paths(obj))
    for path in draw(st.lists(st.sampled_from(paths), min_size=1, max_size=12)):
        parent: Any = obj
        try:
            for step in path[:-1]:
                parent = parent[step]
            if draw(st.booleans()) and isinstance(parent, dict):
                parent.pop(path[-1], None)
            else:
                parent[path[-1]] = draw(VALUES)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier corruption removed this path
    return obj


WEB = deployment("web")
WEB["metadata"]["uid"] = "uid-web"
RS = replicaset(WEB, "registry.local/web:1.0", 1, "aaa111", 3)
RS["metadata"]["uid"] = "uid-rs"
RS_NEW = replicaset(WEB, "registry.local/web:1.1", 2, "bbb222", 3)
POD = pod(RS, "web-aaa111-xxxxx", version_label=("pod-template-hash", "aaa111"))
CRASHING = pod(RS, "web-aaa111-yyyyy", version_label=("pod-template-hash", "aaa111"), ready=False, restarts=3,
               waiting=("CrashLoopBackOff", "back-off"))
STS = statefulset("db", status={"observedGeneration": 1, "replicas": 3, "readyReplicas": 3,
                                "currentRevision": "db-1", "updateRevision": "db-2"})
STS["metadata"]["uid"] = "uid-db"
DS = daemonset("agent", status={"desiredNumberScheduled": 2, "numberReady": 2, "updatedNumberScheduled": 1})
DS["metadata"]["uid"] = "uid-agent"
REVISIONS = [controller_revision(STS, 1, "registry.local/db:1", "1"), controller_revision(STS, 2, "db:2", "2")]
NODE = node("node-1", unschedulable=True, taints=[{"key": "k", "value": "v", "effect": "NoSchedule"}])
EVENT = event("Pod", "web-aaa111-xxxxx", "BackOff", "restarting", warning=True, count=3)
WEB_WITH_STATUS = deployment("web", status=stable_deployment_status(3))


def _check_service(service: Service) -> None:
    assert isinstance(service.ref, str) and isinstance(service.desired, int) and isinstance(service.running, int)
    assert 0.0 <= service.rollout.fraction <= 1.0
    for task in service.tasks:
        assert isinstance(task.state, TaskState) and isinstance(task.health, Health)
        assert isinstance(task.restarts, int)
    for container in service.containers:
        assert all(isinstance(value, str) for value in container.env.values())
        assert all(isinstance(mount, str) for mount in container.mounts)


@FUZZ
@given(obj=corrupted(WEB), rs=corrupted(RS), rs_new=corrupted(RS_NEW), pod_obj=corrupted(POD),
       crashing=corrupted(CRASHING))
def test_deployment_mapping_survives(obj: Obj, rs: Obj, rs_new: Obj, pod_obj: Obj, crashing: Obj) -> None:
    _check_service(map_workload("deployment", obj, [pod_obj, crashing], [rs, rs_new], now=NOW))
    with contextlib.suppress(ProviderError):
        deployment_rollback_target(obj, [rs, rs_new])


@FUZZ
@given(sts=corrupted(STS), ds=corrupted(DS), revision=corrupted(REVISIONS[0]), other=corrupted(REVISIONS[1]))
def test_statefulset_and_daemonset_mapping_survives(sts: Obj, ds: Obj, revision: Obj, other: Obj) -> None:
    _check_service(map_workload("statefulset", sts, [], [revision, other], now=NOW))
    _check_service(map_workload("daemonset", ds, [], [revision, other], now=NOW))
    for kind, workload in (("statefulset", sts), ("daemonset", ds)):
        with contextlib.suppress(ProviderError):
            revision_rollback_target(kind, workload, [revision, other])


@FUZZ
@given(pod_obj=st.one_of(corrupted(POD), corrupted(CRASHING)), node_obj=corrupted(NODE), event_obj=corrupted(EVENT))
def test_pod_node_and_event_mapping_survives(pod_obj: Obj, node_obj: Obj, event_obj: Obj) -> None:
    task = map_pod(pod_obj, "deployment/prod/web", NOW)
    assert isinstance(task.id, str) and isinstance(task.state, TaskState)
    for stream in pod_log_streams(pod_obj, now=NOW):
        assert isinstance(stream.source, str) and isinstance(stream.query(tail=5, follow=True), dict)
    mapped_node = map_node(node_obj)
    assert isinstance(mapped_node.name, str) and isinstance(mapped_node.message, str)
    mapped_event = map_event(event_obj, "c")
    assert mapped_event.time.tzinfo is not None and isinstance(mapped_event.message, str)


@FUZZ
@given(objects=st.fixed_dictionaries({
    "deployments": st.lists(st.one_of(corrupted(WEB), corrupted(WEB_WITH_STATUS)), max_size=2),
    "replicasets": st.lists(st.one_of(corrupted(RS), corrupted(RS_NEW)), max_size=2),
    "statefulsets": st.lists(corrupted(STS), max_size=1),
    "daemonsets": st.lists(corrupted(DS), max_size=1),
    "controllerrevisions": st.lists(corrupted(REVISIONS[0]), max_size=1),
    "pods": st.lists(st.one_of(corrupted(POD), corrupted(CRASHING)), max_size=3),
    "events": st.lists(corrupted(EVENT), max_size=3),
    "nodes": st.lists(corrupted(NODE), max_size=2),
}))
def test_build_cluster_survives(objects: dict[str, list[Obj]]) -> None:
    cluster = build_cluster("c", objects, now=NOW, max_events=2)
    assert isinstance(cluster, Cluster) and len(cluster.events) <= 2
    for service in cluster.services:
        _check_service(service)
        with contextlib.suppress(ProviderError):
            resolve_log_target(service, "")


@FUZZ
@given(anything=st.dictionaries(st.sampled_from(["metadata", "spec", "status", "involvedObject", "data",
                                                 "revision", "name", "image", "env", "ports", "volumeMounts"]),
                                VALUES, max_size=6),
       text=st.text(max_size=40))
def test_arbitrary_json_never_crashes(anything: Obj, text: str) -> None:
    map_container(anything, anything.get("spec"))
    map_pod(anything, "x", NOW)
    map_node(anything)
    map_event(anything, "c")
    for kind in ("deployment", "statefulset", "daemonset"):
        map_workload(kind, anything, [anything], [anything], now=NOW)
    pod_log_streams(anything, now=NOW)
    when, rest = parse_log_line(text)
    assert isinstance(rest, str) and (when is None or when.tzinfo is not None)
    parse_quantity_bytes(anything.get("spec"))
    parse_quantity_bytes(text)


def _with(base: Obj, path: tuple[Any, ...], value: Any) -> Obj:
    obj = copy.deepcopy(base)
    parent: Any = obj
    for step in path[:-1]:
        parent = parent[step]
    if value is _DELETE:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return obj


_DELETE = object()


def test_every_single_field_removed_or_replaced_by_every_odd_value() -> None:
    """Exhaustive over one corruption at a time, where the random tests above combine several."""
    checks: list[tuple[Obj, Callable[[Obj], object]]] = [
        (WEB, lambda obj: _check_service(map_workload("deployment", obj, [POD, CRASHING], [RS, RS_NEW], now=NOW))),
        (RS, lambda obj: _check_service(map_workload("deployment", WEB, [POD], [obj, RS_NEW], now=NOW))),
        (STS, lambda obj: _check_service(map_workload("statefulset", obj, [], REVISIONS, now=NOW))),
        (DS, lambda obj: _check_service(map_workload("daemonset", obj, [], REVISIONS, now=NOW))),
        (CRASHING, lambda obj: (map_pod(obj, "x", NOW), pod_log_streams(obj, now=NOW))),
        (NODE, map_node),
        (EVENT, lambda obj: map_event(obj, "c")),
        (EVENT, lambda obj: build_cluster("c", {"deployments": [WEB], "replicasets": [RS], "pods": [POD],
                                                "events": [obj]})),
    ]
    tried = 0
    for base, check in checks:
        for path in _paths(base):
            for value in [_DELETE, *ODD_VALUES]:
                check(_with(base, path, value))
                tried += 1
    assert tried > 10_000
