"""Malformed or partial Engine API payloads never crash the Swarm mapping (issue 7): real-shaped objects with
fields removed, nulled or replaced by values of the wrong type or unknown enum words."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pilothouse.providers.model import Event, Node, Service
from pilothouse.providers.swarm.events import map_event
from pilothouse.providers.swarm.mapping import map_node, map_service, select_tasks

SERVICE: dict[str, Any] = {
    "ID": "svc1", "Version": {"Index": 12}, "CreatedAt": "2026-01-01T10:00:00.123456789Z",
    "UpdatedAt": "2026-01-01T10:05:00Z",
    "Spec": {
        "Name": "shop_web", "Labels": {"com.docker.stack.namespace": "shop"},
        "TaskTemplate": {
            "ContainerSpec": {"Image": "app:2@sha256:" + "a" * 64, "Args": ["sh", "-c", "run"],
                              "Env": ["A=1", "DB_PASSWORD=x"], "Healthcheck": {"Test": ["CMD", "true"]},
                              "Mounts": [{"Type": "bind", "Source": "/src", "Target": "/app"},
                                         {"Type": "volume", "Source": "data", "Target": "/data", "ReadOnly": False,
                                          "VolumeOptions": {"DriverConfig": {"Name": "local",
                                                                             "Options": {"type": "nfs"}}}}],
                              "Secrets": [{"SecretName": "db", "File": {"Name": "db"}}]},
            "Resources": {"Limits": {"MemoryBytes": 1024}},
            "Networks": [{"Target": "net1"}], "ForceUpdate": 0,
            "Placement": {"Constraints": ["node.role==worker", "node.hostname == worker-1"]},
        },
        "Mode": {"Replicated": {"Replicas": 3}},
        "UpdateConfig": {"Parallelism": 1, "Delay": 5_000_000_000, "FailureAction": "pause",
                         "Monitor": 5_000_000_000, "Order": "start-first"},
        "RollbackConfig": {"Parallelism": 1},
        "EndpointSpec": {"Ports": [{"PublishedPort": 80, "TargetPort": 8080, "Protocol": "tcp"}]},
    },
    "PreviousSpec": {"Name": "shop_web", "TaskTemplate": {"ContainerSpec": {"Image": "app:1"}}},
    "Endpoint": {"Ports": [{"PublishedPort": 80, "TargetPort": 8080, "Protocol": "tcp"}]},
    "UpdateStatus": {"State": "updating", "StartedAt": "2026-01-01T10:05:00Z", "Message": "update in progress"},
    "ServiceStatus": {"RunningTasks": 2, "DesiredTasks": 3},
}
TASK: dict[str, Any] = {
    "ID": "task1", "ServiceID": "svc1", "NodeID": "node1", "Slot": 1, "Version": {"Index": 20},
    "CreatedAt": "2026-01-01T10:05:01Z", "DesiredState": "running",
    "Spec": copy.deepcopy(SERVICE["Spec"]["TaskTemplate"]),
    "Status": {"State": "failed", "Timestamp": "2026-01-01T10:05:09Z",
               "Err": "task: non-zero exit (137): dockerexec: unhealthy container",
               "ContainerStatus": {"ExitCode": 137}},
    "NetworksAttachments": [{"Network": {"ID": "net1", "Spec": {"Name": "shop_default"}},
                             "Addresses": ["10.0.1.5/24"]}],
}
NODE: dict[str, Any] = {
    "ID": "node1", "Spec": {"Role": "worker", "Availability": "drain", "Labels": {"zone": "a"}},
    "Description": {"Hostname": "worker-1", "Engine": {"EngineVersion": "20.10.24"}},
    "Status": {"State": "down", "Addr": "10.0.0.2", "Message": "heartbeat failure"},
}
EVENT: dict[str, Any] = {
    "Type": "service", "Action": "update", "time": 1767261600, "timeNano": 1767261600000000000,
    "Actor": {"ID": "svc1", "Attributes": {"name": "shop_web", "updatestate.old": "updating",
                                           "updatestate.new": "completed"}},
}

ODD_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**63), 2**63), st.floats(allow_nan=True),
    st.text(max_size=12), st.sampled_from(["", "bogus-state", "rollback_paused", "-1", "9" * 40]),
    st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
)


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key/index path inside a real-shaped object."""
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            found += paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += paths(item, (*prefix, index))
    return found


def corrupt(original: dict[str, Any], data: st.DataObject) -> dict[str, Any]:
    mangled = copy.deepcopy(original)
    for path in data.draw(st.lists(st.sampled_from(paths(original)), min_size=1, max_size=4)):
        parent: Any = mangled
        try:
            for step in path[:-1]:
                parent = parent[step]
            if data.draw(st.booleans()) and isinstance(parent, dict):
                parent.pop(path[-1], None)
            else:
                parent[path[-1]] = data.draw(ODD_VALUES)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier corruption removed the parent
    return mangled


FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(st.data())
def test_service_and_tasks_mapping_survives_corruption(data: st.DataObject) -> None:
    service = corrupt(SERVICE, data)
    tasks = [corrupt(TASK, data), copy.deepcopy(TASK)]
    selected = select_tasks(tasks)
    mapped = map_service(service, [task for group in selected.values() for task in group],
                         {"node1": "worker-1"}, {"net1": "shop_default"}, frozenset({"node1"}))
    assert isinstance(mapped, Service)
    assert isinstance(mapped.desired, int) and isinstance(mapped.running, int)


@FUZZ
@given(st.data())
def test_node_mapping_survives_corruption(data: st.DataObject) -> None:
    assert isinstance(map_node(corrupt(NODE, data)), Node)


@FUZZ
@given(st.data())
def test_event_mapping_survives_corruption(data: st.DataObject) -> None:
    event = map_event(corrupt(EVENT, data), "swarm")
    assert event is None or isinstance(event, Event)


@settings(max_examples=200, deadline=None)
@given(st.recursive(ODD_VALUES, lambda inner: st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=8))
def test_arbitrary_junk_is_not_a_crash(junk: Any) -> None:
    for raw in (junk, {"Spec": junk}, {"Status": junk, "Spec": junk}):
        if not isinstance(raw, dict):
            continue
        map_node(raw)
        map_event(raw, "swarm")
        map_service(raw, [raw], {}, {})
