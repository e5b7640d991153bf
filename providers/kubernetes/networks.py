"""Kubernetes Services as networks: type, selector, ports, and ready/total endpoints from EndpointSlices.

One Network per Service. A Service's endpoints are counted from the EndpointSlices labelled with its name
(kubernetes.io/service-name), one per endpoint (a dual-stack pod's IPv4 and IPv6 slices count once);
`conditions.ready` unset means ready, as the API documents. Each workload gets a Reachability per Service
whose endpoints point at its own pods (targetRef), so a Service shared by two workloads is judged per
workload. An ExternalName Service has no endpoints (None), and so has every Service while the
EndpointSlices could not be read (unknown is not zero). NetworkPolicies are counted per namespace.
Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Generic, TypeVar

from pilothouse.providers.kubernetes.objects import (
    ENDPOINT_SLICES,
    NETWORK_POLICIES,
    SERVICES,
    WORKLOAD_KINDS,
    Obj,
    _dict,
    _key,
    _list,
    _str,
    labels_of,
    meta_of,
)
from pilothouse.providers.model import Network, Reachability, Service

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
Item = TypeVar("Item")


def _selects(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    return bool(selector) and all(labels.get(key) == value for key, value in selector.items())


class _LabelIndex(Generic[Item]):
    """Items of each namespace by label pair: a selector's matches are found from its rarest pair instead of by
    checking every item of the namespace (1,000 Services over 10,000 pods and 1,000 workloads was millions of
    label checks on every refresh). Matches come back in the order the items were added."""

    def __init__(self) -> None:
        self._items: list[tuple[Item, Mapping[str, str]]] = []
        self._postings: dict[tuple[str, str, str], list[int]] = {}

    def add(self, namespace: str, labels: Mapping[str, str], item: Item) -> None:
        position = len(self._items)
        self._items.append((item, labels))
        for key, value in labels.items():
            self._postings.setdefault((namespace, key, value), []).append(position)

    def select(self, namespace: str, selector: Mapping[str, str]) -> list[Item]:
        if not selector:
            return []
        postings = []
        for key, value in selector.items():
            found = self._postings.get((namespace, key, value))
            if found is None:
                return []
            postings.append(found)
        rarest = min(postings, key=len)
        return [item for item, labels in (self._items[position] for position in rarest)
                if _selects(selector, labels)]


def _ports(spec: Obj) -> tuple[str, ...]:
    """As kubectl prints them: "80/TCP", "80:30080/TCP" (a nodePort), with the target port when it differs."""
    shown = []
    for port in _list(spec.get("ports")):
        port = _dict(port)
        number, node = _str(port.get("port")), _str(port.get("nodePort"))
        target = _str(port.get("targetPort"))
        text = f"{number}:{node}" if node else number
        if target and target != number:
            text += f"->{target}"
        shown.append(f"{text}/{_str(port.get('protocol')) or 'TCP'}")
    return tuple(shown)


def _endpoints(slices: Sequence[Obj]) -> dict[str, bool]:
    """Each endpoint once (by its pod, else its addresses): ready or not."""
    found: dict[str, bool] = {}
    for item in slices:
        for endpoint in _list(item.get("endpoints")):
            endpoint = _dict(endpoint)
            target = _dict(endpoint.get("targetRef"))
            key = (f"pod:{_str(target.get('name'))}" if target.get("kind") == "Pod" and target.get("name")
                   else "addr:" + ",".join(sorted(_str(a) for a in _list(endpoint.get("addresses")))))
            ready = _dict(endpoint.get("conditions")).get("ready")
            found[key] = found.get(key, False) or ready is not False
    return found


def build_networks(
    objects: Mapping[str, list[Obj]], services: Sequence[Service], *, slices_known: bool,
    policies_known: bool,
) -> tuple[tuple[Network, ...], dict[str, int] | None]:
    """The Services as networks, and NetworkPolicies per namespace (None when they could not be read).
    Sets each workload's `reachability` from the endpoints of the Services that select it."""
    fronts = objects.get(SERVICES.resource, [])
    by_id = {service.id: service for service in services}
    # Pod template labels per workload, and which workload each pod belongs to: only for Services to match
    # (per pod on every snapshot: a tenth of a 10k-pod refresh spent for none).
    templates = _LabelIndex[Service]()
    for kind, k in WORKLOAD_KINDS.items() if fronts else ():
        for obj in objects.get(k.resource, []):
            namespace, name = _key(obj)
            service = by_id.get(f"{kind}/{namespace}/{name}")
            if service is not None:
                labels = {str(a): _str(b) for a, b in _dict(meta_of(_dict(_dict(obj.get("spec")).get("template")))
                                                            .get("labels")).items()}
                templates.add(namespace, labels, service)
    pod_owner = {(service.namespace, task.id.split("/", 1)[-1]): service
                 for service in services for task in service.tasks} if fronts else {}
    pods = _LabelIndex[Obj]()
    for pod in objects.get("pods", []) if fronts else ():
        pods.add(_key(pod)[0], labels_of(pod), pod)
    slices_by_service: dict[tuple[str, str], list[Obj]] = {}
    for item in objects.get(ENDPOINT_SLICES.resource, []):
        owner = labels_of(item).get(SERVICE_NAME_LABEL, "")
        if owner:
            slices_by_service.setdefault((_key(item)[0], owner), []).append(item)
    policies: dict[str, int] | None = None
    if policies_known:
        policies = {}
        for policy in objects.get(NETWORK_POLICIES.resource, []):
            namespace = _key(policy)[0]
            policies[namespace] = policies.get(namespace, 0) + 1

    reach: dict[str, list[Reachability]] = {}
    networks: list[Network] = []
    for obj in fronts:
        namespace, name = _key(obj)
        spec = _dict(obj.get("spec"))
        service_type = _str(spec.get("type")) or "ClusterIP"
        selector = {str(k): _str(v) for k, v in _dict(spec.get("selector")).items()}
        selected = {service.ref: service for service in templates.select(namespace, selector)}
        matching_pods = pods.select(namespace, selector)
        for pod in matching_pods:
            found = pod_owner.get(_key(pod))
            if found is not None:
                selected.setdefault(found.ref, found)
        notes: list[str] = []
        if service_type == "ExternalName":
            notes.append(f"external name {_str(spec.get('externalName'))}")
        elif not selector:
            notes.append("no selector: endpoints are managed by hand")
        elif not matching_pods and not selected:
            notes.append("selects no pods")
        if selector:
            notes.append("selector " + ",".join(f"{k}={v}" for k, v in sorted(selector.items())))
        if policies is not None and policies.get(namespace):
            count = policies[namespace]
            notes.append(f"{count} NetworkPolic{'y' if count == 1 else 'ies'} in namespace {namespace}")
        ready: int | None = None
        total: int | None = None
        if slices_known and service_type != "ExternalName":
            endpoints = _endpoints(slices_by_service.get((namespace, name), []))
            ready, total = sum(endpoints.values()), len(endpoints)
            if total and not ready:
                notes.insert(0, f"0 of {total} endpoints ready")
            for service in selected.values():
                own = {key: up for key, up in endpoints.items()
                       if key.startswith("pod:") and pod_owner.get((namespace, key[4:])) is service}
                if own:
                    reach.setdefault(service.id, []).append(Reachability(
                        f"Service {namespace}/{name}", sum(own.values()), len(own)))
        vips = tuple(_str(ip) for ip in _list(spec.get("clusterIPs")) if _str(ip) and _str(ip) != "None") or (
            (_str(spec.get("clusterIP")),) if _str(spec.get("clusterIP")) not in ("", "None") else ())
        ingress = [_str(_dict(i).get("ip")) or _str(_dict(i).get("hostname"))
                   for i in _list(_dict(_dict(obj.get("status")).get("loadBalancer")).get("ingress"))]
        networks.append(Network(
            name=f"{namespace}/{name}", kind=service_type, scope=namespace,
            services=tuple(sorted(selected)), ready=ready, total=total, ports=_ports(spec),
            vips=vips + tuple(i for i in ingress if i), notes=tuple(notes), id=f"service/{namespace}/{name}",
        ))
    for service in services:
        service.reachability = tuple(reach.get(service.id, ()))
    return tuple(sorted(networks, key=lambda network: network.name)), policies
