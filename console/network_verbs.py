"""`pilothouse networks`: every cluster's networks and fronts (Swarm overlay networks, Kubernetes Services,
ECS awsvpc networks and target groups), with attached services and ready/total endpoints.

JSON: {"clusters": [{"name", "kind", "networks": [{"name", "kind", "driver", "scope", "subnets", "services",
"endpoints": {"ready", "total"} | null, "ports", "vips", "notes"}], "network_policies", "missing"}]}.
`endpoints` is null where the orchestrator has none to count (a Swarm network, an ExternalName Service) or
they could not be read. The exit code follows `status`: 1 when a cluster is unreachable or the look stayed
incomplete (unless --allow-partial).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pilothouse.console.fleet import Fleet
    from pilothouse.providers.model import Cluster, Network


def add_networks_command(commands: Any, look_options: Callable[[argparse.ArgumentParser], None],
                         global_options: Callable[..., None]) -> None:
    networks = commands.add_parser("networks", help="networks and endpoints of every cluster")
    networks.add_argument("--json", action="store_true", help="machine-readable output")
    networks.add_argument("--cluster", metavar="NAME", action="append", help="only this cluster (repeatable)")
    look_options(networks)
    global_options(networks, suppress=True)


def run_networks(fleet: Fleet, args: argparse.Namespace) -> int:
    """The verb: one look at the selected clusters, exit 1 when one is unreachable or the look incomplete."""
    from pilothouse.console import cli
    from pilothouse.console.status_text import print_table

    clusters = cli._selected_snapshots(fleet, args)
    code = cli.EXIT_OK if all(cluster.reachable for cluster in clusters) else cli.EXIT_FAILED
    code = cli._completeness_code(code, clusters, args)
    code = cli._output(code, lambda: print_networks(clusters, json_output=args.json, print_table=print_table))
    cli._report_partial(clusters, args)
    return code


def network_dict(network: Network) -> dict[str, Any]:
    endpoints = (None if network.ready is None or network.total is None
                 else {"ready": network.ready, "total": network.total})
    return {
        "name": network.name, "kind": network.kind, "driver": network.driver, "scope": network.scope,
        "subnets": list(network.subnets), "services": list(network.services), "endpoints": endpoints,
        "ports": list(network.ports), "vips": list(network.vips), "notes": list(network.notes),
    }


def networks_dict(clusters: list[Cluster]) -> dict[str, Any]:
    from pilothouse.console.export import missing_dict

    return {"clusters": [{
        "name": cluster.name, "kind": cluster.kind.value, "state": cluster.state.value, "error": cluster.error,
        "networks": [network_dict(network) for network in cluster.networks],
        "network_policies": cluster.network_policies,
        "missing": [missing_dict(gap) for gap in cluster.missing],
    } for cluster in clusters]}


def endpoints_text(network: Network) -> str:
    if network.ready is None or network.total is None:
        return "-"
    return f"{network.ready}/{network.total}"


def plain(text: str) -> str:
    """Cluster text as a terminal line shows it: the one rule (providers/text.py), cleaned and masked."""
    from pilothouse.providers.text import display_text

    return display_text(text)


def network_rows(cluster: Cluster) -> list[list[str]]:
    """One row per network: the cells the table and the screen show, as plain, printable text."""
    return [[plain(cell) for cell in row] for row in _raw_rows(cluster)]


def _raw_rows(cluster: Cluster) -> list[list[str]]:
    return [[network.name, network.kind, network.driver or "-", network.scope or "-",
             ", ".join(network.subnets) or "-", ", ".join(network.services) or "-", endpoints_text(network),
             ", ".join((*network.ports, *network.vips)) or "-", "; ".join(network.notes)]
            for network in cluster.networks]


HEADER = ["NETWORK", "KIND", "DRIVER", "SCOPE", "SUBNETS", "SERVICES", "ENDPOINTS", "PORTS/VIPS", "NOTES"]


def print_networks(clusters: list[Cluster], *, json_output: bool,
                   print_table: Callable[[list[str], list[list[str]]], None]) -> None:
    if json_output:
        json.dump(networks_dict(clusters), sys.stdout, indent=1)
        sys.stdout.write("\n")
        return
    for cluster in clusters:
        state = cluster.state.value + (f": {cluster.error}" if cluster.error else "")
        print(plain(f"{cluster.name} ({cluster.kind.value}) {state}; {len(cluster.networks)} networks"))
        for gap in cluster.missing:
            if gap.part == "networks":
                print(plain(f"  missing: {gap.describe()}"))
        if cluster.network_policies:
            counts = ", ".join(f"{ns} {n}" for ns, n in sorted(cluster.network_policies.items()))
            print(plain(f"  NetworkPolicies: {counts}"))
        rows = network_rows(cluster)
        if rows:
            print_table(HEADER, rows)
