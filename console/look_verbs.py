"""The verbs that look closer at one part of a cluster: `nodes`, `inspect` and `diff`.

Kept out of console/cli.py (which holds the parser, the flow and the other verbs) so each stays short.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pilothouse.console.fleet import Fleet
    from pilothouse.providers.inspect import InspectTarget
    from pilothouse.providers.model import Cluster

EXAMPLES = {
    "nodes": """examples:
  pilothouse nodes                               every cluster's nodes, troubled first
  pilothouse nodes --cluster prod-eks --json | jq '.clusters[].nodes[] | select(.state != "Ready")'""",
    "inspect": """examples:
  pilothouse inspect prod-eks/shop/web                 the Deployment as YAML (managedFields dropped)
  pilothouse inspect prod-swarm/shop_web --task 3f9a   one task (an id prefix is enough)
  pilothouse inspect prod-eks --node ip-10-0-1-5       a node; secrets are masked everywhere""",
    "diff": """examples:
  pilothouse diff prod-eks/shop/web        the two newest ReplicaSets' templates, field by field
  pilothouse diff prod-swarm/shop_web      PreviousSpec -> Spec; exit 2 when there is no previous revision""",
}


def add_look_commands(commands: argparse._SubParsersAction[Any], global_options: Any, look_options: Any) -> None:
    nodes = commands.add_parser("nodes", help="list nodes: state, availability, role, version, tasks, conditions")
    nodes.add_argument("--cluster", action="append", metavar="NAME", help="only this cluster (repeatable)")
    nodes.add_argument("--json", action="store_true", help="machine-readable output")
    look_options(nodes)
    inspect = commands.add_parser("inspect", help="a service's, task's or node's spec in the orchestrator's "
                                                  "format (YAML, or JSON for ECS), secrets masked")
    inspect.add_argument("target", metavar="CLUSTER/SERVICE", help="the service (with --node: the cluster)")
    which = inspect.add_mutually_exclusive_group()
    which.add_argument("--task", metavar="ID", default="", help="one task of the service (an id prefix)")
    which.add_argument("--node", metavar="NODE", default="", help="a node of the cluster (name or id)")
    global_options(inspect, suppress=True)
    diff = commands.add_parser("diff", help="what changed from the previous revision to the current one: image, "
                                            "command, env names, resources, ports, probes, policy, replicas, labels")
    diff.add_argument("target", metavar="CLUSTER/SERVICE")
    global_options(diff, suppress=True)
    global_options(nodes, suppress=True)
    for name, parser in commands.choices.items():
        if name in EXAMPLES:
            parser.epilog = EXAMPLES[name]
            parser.formatter_class = argparse.RawDescriptionHelpFormatter


def run_look_command(fleet: Fleet, args: argparse.Namespace) -> int | None:
    """Run `nodes`, `inspect` or `diff`; None for any other verb."""
    if args.command == "nodes":
        return _nodes(fleet, args)
    if args.command == "inspect":
        return _inspect(fleet, args)
    if args.command == "diff":
        return _diff(fleet, args)
    return None


def _diff(fleet: Fleet, args: argparse.Namespace) -> int:
    from pilothouse.console import cli

    cluster_name, ref = cli._split_target(args.target)
    service = cli._find_service(cli._snapshot_for(fleet, cluster_name), ref)
    found = fleet.providers[cluster_name].revisions_diff(service)
    from pilothouse.providers.text import display_text

    return cli._output(cli.EXIT_OK, lambda: print("\n".join(display_text(line) for line in found.lines())))


def inspect_target(cluster: Cluster, service_ref: str, task: str = "", node: str = "") -> InspectTarget:
    """What `inspect` names, resolved against a snapshot: NotFound (exit 1) when it is not there."""
    from pilothouse.console import cli
    from pilothouse.providers.errors import NotFound
    from pilothouse.providers.inspect import InspectTarget, TargetKind
    from pilothouse.providers.nodes import find_node

    if node:
        found_node = find_node(cluster, node) or next(
            (candidate for candidate in cluster.nodes if candidate.id.startswith(node)), None)
        prefixed = [candidate for candidate in cluster.nodes if candidate.name.startswith(node)]
        if found_node is None and len(prefixed) == 1:
            found_node = prefixed[0]
        if found_node is None:
            names = ", ".join(candidate.name for candidate in cluster.nodes[:10]) or "none"
            raise NotFound(f"no node {node!r} in cluster {cluster.name}", f"known: {names}")
        return InspectTarget(TargetKind.NODE, object_id=found_node.id)
    service = cli._find_service(cluster, service_ref)
    if not task:
        return InspectTarget(TargetKind.SERVICE, service.id, service.ref)
    matches = [candidate for candidate in service.tasks if task in (candidate.id, candidate.id.split("/")[-1])] or [
        candidate for candidate in service.tasks
        if candidate.id.startswith(task) or candidate.id.split("/")[-1].startswith(task)]
    if len(matches) != 1:
        problem = "no task" if not matches else f"{len(matches)} tasks match"
        raise NotFound(f"{problem} {task!r} in {cluster.name}/{service.ref}",
                       "give more of the id (see 'pilothouse status' or the service screen)")
    return InspectTarget(TargetKind.TASK, service.id, service.ref, matches[0].id)


def _inspect(fleet: Fleet, args: argparse.Namespace) -> int:
    from pilothouse.console import cli

    if args.node:
        cluster_name, ref = args.target.split("/", 1)[0], ""
    else:
        cluster_name, ref = cli._split_target(args.target)
    cluster = cli._snapshot_for(fleet, cluster_name)
    target = inspect_target(cluster, ref, args.task, args.node)
    result = fleet.providers[cluster_name].inspect(target)
    return cli._output(cli.EXIT_OK, lambda: print(result.text.rstrip("\n")))


def _nodes(fleet: Fleet, args: argparse.Namespace) -> int:
    from pilothouse.console import cli
    from pilothouse.console.export import missing_dict
    from pilothouse.providers.nodes import node_dict, ordered_nodes, task_counts

    clusters = cli._selected_snapshots(fleet, args)
    code = cli._completeness_code(cli.EXIT_OK if all(cluster.reachable for cluster in clusters)
                                  else cli.EXIT_FAILED, clusters, args)

    def write() -> None:
        if args.json:
            listed: list[dict[str, Any]] = []
            for cluster in clusters:
                counts = task_counts(cluster)
                entry: dict[str, Any] = {"name": cluster.name, "kind": cluster.kind.value,
                                         "reachable": cluster.reachable, "error": cluster.error or None,
                                         "complete": cluster.complete,
                                         "missing": [missing_dict(gap) for gap in cluster.missing],
                                         "nodes": [node_dict(node, counts[node.id])
                                                   for node in ordered_nodes(cluster.nodes)]}
                listed.append(entry)
            json.dump({"clusters": listed}, sys.stdout, indent=1)
            sys.stdout.write("\n")
        else:
            _print_nodes(clusters)

    code = cli._output(code, write)
    cli._report_partial(clusters, args)
    return code


def _print_nodes(clusters: list[Cluster]) -> None:
    from pilothouse.console.status_text import print_table
    from pilothouse.providers.nodes import ordered_nodes, resources_text, task_counts
    from pilothouse.providers.text import display_text

    now = datetime.now(UTC)
    header = ["CLUSTER", "NODE", "STATE", "AVAILABILITY", "ROLE", "VERSION", "TASKS", "SINCE", "CONDITIONS"]
    rows: list[list[str]] = []
    for cluster in clusters:
        if not cluster.reachable:
            print(display_text(f"{cluster.name}: {cluster.state.value}: {cluster.error}"), file=sys.stderr)
            continue
        counts = task_counts(cluster)
        for node in ordered_nodes(cluster.nodes):
            since = f"{_age(node.since, now)} ago" if node.since else "-"
            notes = [*node.conditions]
            if node.agent_connected is False:
                notes.append("agent disconnected")
            if resources_text(node):
                notes.append(resources_text(node))
            rows.append([display_text(cell) for cell in (
                cluster.name, node.name, node.state_word, node.availability_word, node.role or "-",
                node.version or "-", str(counts[node.id]), since, ", ".join(notes) or "-")])
    if rows:
        print_table(header, rows)


def _age(moment: datetime, now: datetime) -> str:
    from pilothouse.widgets.render import age

    return age(moment, now)
