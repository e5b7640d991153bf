"""Swarm networks: the swarm-scoped networks (overlay, and the ingress network that routes published ports),
with the services attached to each, their virtual IPs, and the published ports on the ingress.

From the engine's /networks list (read on a slower tier: see provider.py) and the services list's own
Endpoint (VirtualIPs per network, Ports as published). Swarm has no endpoint readiness of its own: the tasks
are the endpoints, so `ready`/`total` stay None. Local-scope networks (bridge, host, docker_gwbridge) serve
containers of one engine, not services, and are left out. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pilothouse.providers.model import Network
from pilothouse.providers.swarm.mapping import network_ids
from pilothouse.providers.swarm.raw import as_dict, as_int, as_list, as_str


def published(port: Any) -> str:
    """"8080->80/tcp", as `docker service ls` prints it; " (host)" for a host-mode port."""
    port = as_dict(port)
    target, public = as_int(port.get("TargetPort")), as_int(port.get("PublishedPort"))
    text = f"{public}->{target}/{as_str(port.get('Protocol')) or 'tcp'}" if public else f"{target}/" + (
        as_str(port.get("Protocol")) or "tcp")
    return text + (" (host)" if as_str(port.get("PublishMode")) == "host" else "")


def build_networks(raw_networks: Iterable[Any], raw_services: Iterable[Any]) -> tuple[Network, ...]:
    attached: dict[str, list[str]] = {}
    vips: dict[str, list[str]] = {}
    ingress_ports: list[str] = []
    for raw in raw_services:
        service = as_dict(raw)
        name = as_str(as_dict(service.get("Spec")).get("Name")) or as_str(service.get("ID"))[:12]
        endpoint = as_dict(service.get("Endpoint"))
        ids = network_ids(as_dict(service.get("Spec")))
        for vip in as_list(endpoint.get("VirtualIPs")):
            vip = as_dict(vip)
            network_id = as_str(vip.get("NetworkID"))
            if network_id:
                ids.append(network_id)
                address = as_str(vip.get("Addr")).split("/", 1)[0]
                if address:
                    vips.setdefault(network_id, []).append(f"{address} ({name})")
        for network_id in dict.fromkeys(ids):
            attached.setdefault(network_id, []).append(name)
        ingress_ports.extend(f"{published(port)} ({name})" for port in as_list(endpoint.get("Ports"))
                             if as_str(as_dict(port).get("PublishMode")) != "host")
    networks = []
    for raw in raw_networks:
        network = as_dict(raw)
        if as_str(network.get("Scope")) != "swarm":
            continue
        network_id = as_str(network.get("Id"))
        ingress = network.get("Ingress") is True
        subnets = tuple(as_str(as_dict(config).get("Subnet"))
                        for config in as_list(as_dict(network.get("IPAM")).get("Config"))
                        if as_str(as_dict(config).get("Subnet")))
        notes = [word for word, on in (("ingress: routes the published ports", ingress),
                                       ("internal", network.get("Internal") is True),
                                       ("attachable", network.get("Attachable") is True)) if on]
        driver = as_str(network.get("Driver"))
        networks.append(Network(
            name=as_str(network.get("Name")) or network_id[:12], kind="ingress" if ingress else driver or "network",
            driver=driver, scope="swarm", subnets=subnets,
            services=tuple(sorted(attached.get(network_id, []))),
            ports=tuple(ingress_ports) if ingress else (), vips=tuple(vips.get(network_id, [])),
            notes=tuple(notes), id=network_id,
        ))
    return tuple(sorted(networks, key=lambda n: (n.kind != "ingress", n.name)))


def names_of(raw_networks: Iterable[Any]) -> Mapping[str, str]:
    return {as_str(as_dict(n).get("Id")): as_str(as_dict(n).get("Name")) or as_str(as_dict(n).get("Id"))[:12]
            for n in raw_networks if as_str(as_dict(n).get("Id"))}
