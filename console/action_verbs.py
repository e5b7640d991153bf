"""The incident verbs beyond scale and rollback: `restart`, `rollout --pause|--resume`, and
`node CLUSTER/NODE cordon|uncordon|drain` (a drain asks for the node's name typed back).

Each goes through the one mutation flow (console.actions) by console/cli.py `_mutate`, which talks to the
terminal: the plan is printed, confirmed (or --yes), audited before it is sent.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pilothouse.console.fleet import Fleet
    from pilothouse.providers.model import Node

EXAMPLES = {
    "restart": """examples:
  pilothouse restart prod-swarm/shop_web         docker service update --force: new tasks, same spec
  pilothouse restart prod-eks/shop/web --yes     kubectl rollout restart (Deployment, StatefulSet, DaemonSet)
  pilothouse restart prod-ecs/shop/web           UpdateService forceNewDeployment""",
    "node": """examples:
  pilothouse node prod-swarm/worker-2 cordon      no new tasks there (Swarm availability pause)
  pilothouse node prod-swarm/worker-2 drain       its tasks move off; asks for the node's name typed back
  pilothouse node prod-swarm/worker-2 uncordon --yes
  pilothouse node prod-eks/ip-10-0-1-7 drain       cordon, then evict its pods (PodDisruptionBudgets respected)

A Kubernetes drain prints a line per evicted pod on stderr; it exits 1 when pods it should have moved are
left (a budget still refusing at the deadline, a pod with no controller), naming each and why.""",
}


def add_action_commands(commands: argparse._SubParsersAction[Any], global_options: Any) -> None:
    restart = commands.add_parser("restart", help="replace every task of a service from its unchanged spec")
    restart.add_argument("target", metavar="CLUSTER/SERVICE")
    restart.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    global_options(restart, suppress=True)
    node = commands.add_parser("node", help="take a node out of rotation (cordon, drain) or back (uncordon)")
    node.add_argument("target", metavar="CLUSTER/NODE")
    node.add_argument("verb", choices=("cordon", "uncordon", "drain"))
    node.add_argument("--yes", "-y", action="store_true",
                      help="do not ask (a drain otherwise asks for the node's name typed back)")
    global_options(node, suppress=True)
    # Pause and resume are rollout verbs in kubectl's words: options of the existing `rollout`.
    rollout = commands.choices["rollout"]
    change = rollout.add_mutually_exclusive_group()
    change.add_argument("--pause", action="store_true",
                        help="pause the rollout where it is (Kubernetes Deployments; not Swarm or ECS)")
    change.add_argument("--resume", action="store_true",
                        help="resume a paused rollout (a Kubernetes Deployment, a Swarm update paused on failure)")
    rollout.add_argument("--yes", "-y", action="store_true", help="with --pause/--resume: do not ask")
    for name, parser in commands.choices.items():
        if name in EXAMPLES:
            parser.epilog = EXAMPLES[name]
            parser.formatter_class = argparse.RawDescriptionHelpFormatter


def run_action_command(fleet: Fleet, args: argparse.Namespace) -> int | None:
    """Run `restart` or `rollout --pause|--resume`; None for any other verb."""
    from pilothouse.console import cli

    if args.command == "restart":
        return cli._mutate(fleet, args)
    if args.command == "node":
        return _node(fleet, args)
    if args.command == "rollout" and (args.pause or args.resume):
        if args.watch or args.timeout is not None:
            raise cli.UsageError("--pause/--resume change the rollout; --watch/--timeout follow it: run them "
                                 "one after the other")
        return cli._mutate(fleet, args, "pause" if args.pause else "resume")
    if args.command == "rollout" and args.yes:
        raise cli.UsageError("--yes goes with --pause or --resume")
    return None


def _find_node(nodes: Sequence[Node], ref: str, cluster: str) -> Node:
    from pilothouse.providers.errors import NotFound

    for node in nodes:
        if ref in (node.name, node.id):
            return node
    names = ", ".join(sorted(node.name for node in nodes)[:8]) or "none"
    raise NotFound(f"no node {ref!r} in cluster {cluster}", f"its nodes: {names} (see 'pilothouse nodes')")


def _typed(question: str, expected: str) -> bool:
    """The operator types `expected` back: a drain moves every task off a node, so a reflexive y is not enough."""
    from pilothouse.console.actions import ConfirmationRefused

    if not sys.stdin.isatty():
        raise ConfirmationRefused("confirmation needed but stdin is not a terminal: pass --yes to confirm")
    sys.stdout.write(f"{question} ")
    sys.stdout.flush()
    return sys.stdin.readline().strip() == expected


def _node(fleet: Fleet, args: argparse.Namespace) -> int:
    from pilothouse.console import cli
    from pilothouse.console.status_text import say
    from pilothouse.providers.base import Action, MutationPlan, Progress

    cluster_name, _, ref = args.target.partition("/")
    if not cluster_name or not ref:
        raise cli.UsageError(f"{args.target!r} is not CLUSTER/NODE (e.g. prod/worker-2)")
    action = Action(args.verb)

    def locate() -> Node:
        return _find_node(cli._snapshot_for(fleet, cluster_name).nodes, ref, cluster_name)

    def confirm(plan: MutationPlan) -> bool:
        print(plan.describe(), flush=True)
        if args.yes:
            return True
        if action is Action.DRAIN:
            return _typed(f"type the node's name ({plan.service_ref}) to drain it:", plan.service_ref)
        return cli._confirm(f"{action.value} node {cluster_name}/{plan.service_ref}?")

    def step(line: str) -> None:  # a drain's evictions, one line each, beside the final summary on stdout
        say(line, err=True, flush=True)

    return cli._report(fleet.actions.run(action, cluster_name, locate, confirm, service_ref=ref,
                                         progress=Progress(say=step)))
