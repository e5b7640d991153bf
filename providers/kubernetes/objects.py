"""Reading raw Kubernetes API objects: the kinds watched, their URLs, and tolerant accessors.

Everything the API server returns is untrusted JSON: the accessors never raise on a missing or
mistyped field, they fall back to an empty value. Pure: no I/O, no SDK.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pilothouse.providers import raw

Obj = dict[str, Any]

REVISION_ANNOTATION = "deployment.kubernetes.io/revision"
POD_TEMPLATE_HASH = "pod-template-hash"
CONTROLLER_REVISION_HASH = "controller-revision-hash"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Kind:
    resource: str  # plural, as in the URL
    prefix: str  # "/api/v1" or "/apis/apps/v1"
    namespaced: bool = True


DEPLOYMENTS = Kind("deployments", "/apis/apps/v1")
REPLICASETS = Kind("replicasets", "/apis/apps/v1")
STATEFULSETS = Kind("statefulsets", "/apis/apps/v1")
DAEMONSETS = Kind("daemonsets", "/apis/apps/v1")
CONTROLLER_REVISIONS = Kind("controllerrevisions", "/apis/apps/v1")
PODS = Kind("pods", "/api/v1")
EVENTS = Kind("events", "/api/v1")
NODES = Kind("nodes", "/api/v1", namespaced=False)
# For the doctor: a claim's access modes (ReadWriteOnce on several replicas) are on the claim, not the pod.
PERSISTENT_VOLUME_CLAIMS = Kind("persistentvolumeclaims", "/api/v1")
# What owns a workload's replica count (a manual scale is undone by it).
HORIZONTAL_POD_AUTOSCALERS = Kind("horizontalpodautoscalers", "/apis/autoscaling/v2")
# Networking: Services and the EndpointSlices that say which of their endpoints are ready, and how many
# NetworkPolicies each namespace has (networks.py).
SERVICES = Kind("services", "/api/v1")
ENDPOINT_SLICES = Kind("endpointslices", "/apis/discovery.k8s.io/v1")
NETWORK_POLICIES = Kind("networkpolicies", "/apis/networking.k8s.io/v1")
NETWORK_KINDS = (SERVICES, ENDPOINT_SLICES, NETWORK_POLICIES)
WATCHED_KINDS = (DEPLOYMENTS, REPLICASETS, STATEFULSETS, DAEMONSETS, CONTROLLER_REVISIONS, PODS, EVENTS, NODES,
                 PERSISTENT_VOLUME_CLAIMS, *NETWORK_KINDS, HORIZONTAL_POD_AUTOSCALERS)
WORKLOAD_KINDS = {"deployment": DEPLOYMENTS, "statefulset": STATEFULSETS, "daemonset": DAEMONSETS}
OWNER_KIND = {"deployment": "Deployment", "statefulset": "StatefulSet", "daemonset": "DaemonSet"}


def collection_path(kind: Kind, namespace: str = "") -> str:
    if namespace and kind.namespaced:
        return f"{kind.prefix}/namespaces/{namespace}/{kind.resource}"
    return f"{kind.prefix}/{kind.resource}"


# -- small pure helpers ------------------------------------------------------------------------------


# The shared accessors (providers/raw.py), under the names this package has always used. Kubernetes reads
# counts written as strings (parse_int) and converts scalars in string fields (to_str).
_dict = raw.as_object
_list = raw.as_list
_int = raw.parse_int
_str = raw.to_str


def parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


_QUANTITY = re.compile(r"^([0-9.]+(?:[eE][-+]?[0-9]+)?)([a-zA-Z]*)$")
_SUFFIX = {
    "": 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18,
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60, "m": 0.001,
}


def parse_quantity_bytes(value: Any) -> int | None:
    """A Kubernetes quantity ("512Mi", "1G", "1e9") as bytes; None when absent or unreadable."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        # Python's json accepts NaN and Infinity, which no quantity is.
        return int(value) if math.isfinite(value) else None
    match = _QUANTITY.match(value.strip()) if isinstance(value, str) else None
    if not match or match.group(2) not in _SUFFIX:
        return None
    try:
        return int(float(match.group(1)) * _SUFFIX[match.group(2)])
    except (ValueError, OverflowError):
        return None


def meta_of(obj: Obj) -> Obj:
    return _dict(obj.get("metadata"))


def labels_of(obj: Obj) -> dict[str, str]:
    return {str(k): _str(v) for k, v in _dict(meta_of(obj).get("labels")).items()}


def controller_owner(obj: Obj) -> Obj:
    """The ownerReference with controller: true (or the only one)."""
    owners = [ref for ref in _list(meta_of(obj).get("ownerReferences")) if isinstance(ref, dict)]
    for ref in owners:
        if ref.get("controller") is True:
            return ref
    return owners[0] if len(owners) == 1 else {}


def owned_by(obj: Obj, owner: Obj, owner_kind: str) -> bool:
    ref = controller_owner(obj)
    if ref.get("kind") != owner_kind or ref.get("name") != meta_of(owner).get("name"):
        return False
    uid, owner_uid = ref.get("uid"), meta_of(owner).get("uid")
    return not (uid and owner_uid) or uid == owner_uid


def revision_of(obj: Obj) -> int:
    """A ReplicaSet's deployment.kubernetes.io/revision, or a ControllerRevision's revision; -1 if none."""
    if "revision" in obj:
        return _int(obj.get("revision"), -1)
    return _int(_dict(meta_of(obj).get("annotations")).get(REVISION_ANNOTATION), -1)


def selector_text(selector: Any) -> str:
    selector = _dict(selector)
    parts = [f"{k}={v}" for k, v in sorted(_dict(selector.get("matchLabels")).items())]
    for expression in _list(selector.get("matchExpressions")):
        expression = _dict(expression)
        values = ",".join(_str(v) for v in _list(expression.get("values")))
        operator = _str(expression.get("operator")).lower()
        key = _str(expression.get("key"))
        parts.append(f"{key} {operator} ({values})" if values else f"{operator} {key}")
    return ",".join(parts)


def template_without_hash(template: Any) -> Obj:
    """A pod template with the controller's hash labels removed (what `kubectl rollout undo` compares).

    Only the levels it changes are copied (the template, its metadata and labels): every snapshot compares
    each Deployment's template with its ReplicaSets', and deep copies of them all were most of that cost.
    The spec is shared with `template`, so the result is read, never changed in place."""
    result: Obj = dict(_dict(template))
    result.pop("$patch", None)
    metadata = dict(_dict(result.get("metadata")))
    labels = dict(_dict(metadata.get("labels")))
    for key in (POD_TEMPLATE_HASH, CONTROLLER_REVISION_HASH):
        labels.pop(key, None)
    if labels:
        metadata["labels"] = labels
    else:
        metadata.pop("labels", None)
    if metadata:
        result["metadata"] = metadata
    else:
        result.pop("metadata", None)
    return result


def template_images(template: Any) -> str:
    containers = _list(_dict(_dict(template).get("spec")).get("containers"))
    images: list[str] = []
    for container in containers:
        image = _str(_dict(container).get("image"))
        if image and image not in images:
            images.append(image)
    return ", ".join(images)


def describe_revision(template: Any, revision: int) -> str:
    images = template_images(template) or "?"
    return f"{images} (rev {revision})" if revision >= 0 else images


def _conditions(status: Obj) -> dict[str, Obj]:
    return {_str(_dict(c).get("type")): _dict(c) for c in _list(status.get("conditions"))}


def _key(obj: Obj) -> tuple[str, str]:
    meta = meta_of(obj)
    return _str(meta.get("namespace")), _str(meta.get("name"))


def _revision_by_name(revisions: list[Obj], name: str) -> Obj | None:
    return next((r for r in revisions if meta_of(r).get("name") == name), None)


def _revision_template(revision: Obj | None) -> Obj:
    return _dict(_dict(_dict(_dict(revision).get("data")).get("spec")).get("template"))


