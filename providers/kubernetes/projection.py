"""What the watch caches keep of each object: compact projections, made once as an object is decoded.

A realistic pod is about 3 KB of JSON and, decoded whole, some 20 KB of Python dicts; 10,000 of them held whole
cost more memory than the whole console is allowed. A pod keeps only what mapping.map_pod, the log readers
(logs.py, follow.py), the network view and the image-drift rule read: its identity, labels and controller, node,
phase, IP, its Ready and PodScheduled conditions, and each container's name, image, image id, restarts and
state. An Event keeps what map_event reads. Every other kind (workloads, ReplicaSets with the templates a
rollback writes back, nodes...) is kept whole but for metadata.managedFields, which nothing reads and which is
often longer than the spec. Strings that repeat across thousands of pods (label keys and values, node names,
namespaces, phases, timestamps) are interned, so the cache holds each once.

The projection keeps the shape of the API object (same keys, same nesting), so everything reading the cache
reads a projection as it read the whole object, with the same tolerant accessors. Pure: no I/O. Pods and
Events are mostly decoded straight into these shapes by decoding.py, whose types mirror this file: change both.
"""

from __future__ import annotations

import sys
from typing import Any

from pilothouse.providers.kubernetes.objects import EVENTS, PODS, Kind, Obj

_intern = sys.intern
# The pod conditions the mapping reads (Ready for health, PodScheduled for why a pod is pending).
POD_CONDITIONS = ("Ready", "PodScheduled")
_CONDITION_FIELDS = ("type", "status", "reason", "message", "lastTransitionTime")
_META_FIELDS = ("name", "namespace", "uid", "resourceVersion", "creationTimestamp", "deletionTimestamp")
_OWNER_FIELDS = ("kind", "name", "uid", "controller")
_EVENT_FIELDS = ("reason", "message", "type", "count", "lastTimestamp", "eventTime", "firstTimestamp")
_EVENT_INVOLVED_FIELDS = ("kind", "namespace", "name")


def shared(value: Any) -> Any:
    """`value`, interned when it is a string of the size of an image reference with its digest (what every
    replica repeats); longer ones are messages, which rarely repeat."""
    return _intern(value) if type(value) is str and len(value) <= 200 else value


def _pick(source: Any, fields: tuple[str, ...], interned: bool = False) -> Obj:
    if not isinstance(source, dict):
        return {}
    if interned:
        return {field: shared(source[field]) for field in fields if field in source}
    return {field: source[field] for field in fields if field in source}


def _strings(source: Any) -> Any:
    """A str -> str map (labels) with keys and values interned; anything else as it came."""
    if not isinstance(source, dict):
        return source
    return {shared(key): shared(value) for key, value in source.items()}


def _metadata(meta: Any, owners: bool = True) -> Obj:
    kept = _pick(meta, _META_FIELDS)
    if not isinstance(meta, dict):
        return kept
    if "namespace" in kept:
        kept["namespace"] = shared(kept["namespace"])
    if "creationTimestamp" in kept:
        kept["creationTimestamp"] = shared(kept["creationTimestamp"])
    if "labels" in meta:
        kept["labels"] = _strings(meta["labels"])
    references = meta.get("ownerReferences")
    if owners and references is not None:
        kept["ownerReferences"] = ([_pick(ref, _OWNER_FIELDS, interned=True) if isinstance(ref, dict) else ref
                                    for ref in references] if isinstance(references, list) else references)
    return kept


def _container_state(state: Any) -> Any:
    """A container's state or lastState: waiting and terminated kept as they came (small, and only there for
    containers in trouble), running emptied (only its presence is read)."""
    if not isinstance(state, dict):
        return state
    return {shared(phase): {} if phase == "running" else detail for phase, detail in state.items()}


def _container_statuses(statuses: Any) -> Any:
    if not isinstance(statuses, list):
        return statuses
    kept = []
    for status in statuses:
        if not isinstance(status, dict):
            kept.append(status)
            continue
        one = _pick(status, ("name", "restartCount", "image", "imageID"), interned=True)
        for field in ("state", "lastState"):
            if field in status:
                one[field] = _container_state(status[field])
        kept.append(one)
    return kept


def project_pod(obj: Obj) -> Obj:
    spec, status = obj.get("spec"), obj.get("status")
    kept: Obj = {"metadata": _metadata(obj.get("metadata"))}
    if isinstance(spec, dict):
        kept_spec: Obj = {}
        if "nodeName" in spec:
            kept_spec["nodeName"] = shared(spec["nodeName"])
        containers = spec.get("containers")
        if containers is not None:
            # The log readers need the container names, the image-drift rule the images they name; the
            # rest of the spec is the template's, mapped there.
            kept_spec["containers"] = ([_pick(c, ("name", "image"), interned=True) if isinstance(c, dict) else c
                                        for c in containers] if isinstance(containers, list) else containers)
        kept["spec"] = kept_spec
    elif spec is not None:
        kept["spec"] = spec
    if isinstance(status, dict):
        kept_status = _pick(status, ("phase", "reason", "message", "startTime", "podIP"), interned=True)
        conditions = status.get("conditions")
        if isinstance(conditions, list):
            kept_status["conditions"] = [_pick(c, _CONDITION_FIELDS, interned=True) for c in conditions
                                         if isinstance(c, dict) and c.get("type") in POD_CONDITIONS]
        elif conditions is not None:
            kept_status["conditions"] = conditions
        for field in ("initContainerStatuses", "containerStatuses"):
            if field in status:
                kept_status[field] = _container_statuses(status[field])
        kept["status"] = kept_status
    elif status is not None:
        kept["status"] = status
    return kept


def project_event(obj: Obj) -> Obj:
    kept = _pick(obj, _EVENT_FIELDS, interned=True)
    kept["metadata"] = _metadata(obj.get("metadata"), owners=False)
    involved = obj.get("involvedObject")
    kept["involvedObject"] = _pick(involved, _EVENT_INVOLVED_FIELDS, interned=True) if isinstance(
        involved, dict) else involved
    return kept


def without_managed_fields(obj: Obj) -> Obj:
    meta = obj.get("metadata")
    if isinstance(meta, dict) and "managedFields" in meta:
        obj["metadata"] = {key: value for key, value in meta.items() if key != "managedFields"}
    return obj


def project(kind: Kind, obj: Obj) -> Obj:
    """What the cache keeps of `obj`, an object of `kind` as the API server sent it."""
    if kind is PODS:
        return project_pod(obj)
    if kind is EVENTS:
        return project_event(obj)
    return without_managed_fields(obj)
