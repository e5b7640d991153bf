"""Discovery documents of the Kubernetes API test server, in kube-apiserver's shapes (legacy, non-aggregated).

kubectl asks for aggregated discovery (Accept: ...;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList, with
plain application/json last) and falls back to the legacy documents when the answer is plain JSON, so only
these are served: /api (APIVersions), /apis (APIGroupList), /api/v1 and /apis/GROUP/VERSION
(APIResourceList). Names, short names and categories are kube-apiserver's own: `kubectl get deploy,po`
resolves through them. Verbs are those the test server serves (it refuses create and delete, but for evictions).
"""

from __future__ import annotations

from typing import Any, Protocol

Obj = dict[str, Any]

SERVED_VERBS = ["get", "list", "patch", "update", "watch"]

# resource -> (singular name, short names, categories), as kube-apiserver v1.36 reports them.
NAMES: dict[str, tuple[str, list[str], list[str]]] = {
    "deployments": ("deployment", ["deploy"], ["all"]),
    "replicasets": ("replicaset", ["rs"], ["all"]),
    "statefulsets": ("statefulset", ["sts"], ["all"]),
    "daemonsets": ("daemonset", ["ds"], ["all"]),
    "controllerrevisions": ("controllerrevision", [], []),
    "pods": ("pod", ["po"], ["all"]),
    "events": ("event", ["ev"], []),
    "nodes": ("node", ["no"], []),
    "persistentvolumeclaims": ("persistentvolumeclaim", ["pvc"], []),
    "namespaces": ("namespace", ["ns"], []),
    "services": ("service", ["svc"], ["all"]),
    "endpointslices": ("endpointslice", [], []),
    "networkpolicies": ("networkpolicy", ["netpol"], []),
    "poddisruptionbudgets": ("poddisruptionbudget", ["pdb"], []),
}


class Served(Protocol):
    """What discovery needs of the server's ResourceType."""

    @property
    def prefix(self) -> str: ...
    @property
    def api_version(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def namespaced(self) -> bool: ...


def _group_versions(resources: dict[str, Served]) -> list[str]:
    """The non-core group versions served ("apps/v1"), in a stable order."""
    return sorted({rt.api_version for rt in resources.values() if "/" in rt.api_version})


def _resource_list(group_version: str, resources: dict[str, Served], scalable: set[str]) -> Obj:
    entries: list[Obj] = []
    for name, rt in sorted(resources.items()):
        if rt.api_version != group_version:
            continue
        singular, short_names, categories = NAMES.get(name, (rt.kind.lower(), [], []))
        entry: Obj = {"name": name, "singularName": singular, "namespaced": rt.namespaced, "kind": rt.kind,
                      "verbs": SERVED_VERBS}
        if short_names:
            entry["shortNames"] = short_names
        if categories:
            entry["categories"] = categories
        entries.append(entry)
        if name in scalable:
            entries.append({"name": f"{name}/scale", "singularName": "", "namespaced": rt.namespaced,
                            "group": "autoscaling", "version": "v1", "kind": "Scale",
                            "verbs": ["get", "patch", "update"]})
        if name == "pods":
            entries.append({"name": "pods/log", "singularName": "", "namespaced": True, "kind": "Pod",
                            "verbs": ["get"]})
            # kubectl drain looks for this entry (group and version set) to evict rather than delete.
            entries.append({"name": "pods/eviction", "singularName": "", "namespaced": True, "group": "policy",
                            "version": "v1", "kind": "Eviction", "verbs": ["create"]})
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": entries}


def discovery(path: str, resources: dict[str, Served], scalable: set[str], address: str) -> Obj | None:
    """The discovery document at `path` (no query string), or None when the path is not a discovery path."""
    path = path.rstrip("/") or "/"
    if path == "/api":
        return {"kind": "APIVersions", "versions": ["v1"],
                "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": address}]}
    if path == "/api/v1":
        return _resource_list("v1", resources, scalable)
    versions = _group_versions(resources)
    if path == "/apis":
        groups: dict[str, list[Obj]] = {}
        for group_version in versions:
            group, _, version = group_version.partition("/")
            groups.setdefault(group, []).append({"groupVersion": group_version, "version": version})
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [
            {"name": group, "versions": served, "preferredVersion": served[0]}
            for group, served in groups.items()
        ]}
    for group_version in versions:
        group, _, version = group_version.partition("/")
        if path == f"/apis/{group_version}":
            return _resource_list(group_version, resources, scalable)
        if path == f"/apis/{group}":
            served = {"groupVersion": group_version, "version": version}
            return {"kind": "APIGroup", "apiVersion": "v1", "name": group, "versions": [served],
                    "preferredVersion": served}
    return None
