"""The incident verbs beyond scale and rollback: `restart`, and `rollout --pause|--resume`.

Each goes through the one mutation flow (console.actions) by console/cli.py `_mutate`, which talks to the
terminal: the plan is printed, confirmed (or --yes), audited before it is sent.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pilothouse.console.fleet import Fleet

EXAMPLES = {
    "restart": """examples:
  pilothouse restart prod-swarm/shop_web         docker service update --force: new tasks, same spec
  pilothouse restart prod-eks/shop/web --yes     kubectl rollout restart (Deployment, StatefulSet, DaemonSet)
  pilothouse restart prod-ecs/shop/web           UpdateService forceNewDeployment""",
}


def add_action_commands(commands: argparse._SubParsersAction[Any], global_options: Any) -> None:
    restart = commands.add_parser("restart", help="replace every task of a service from its unchanged spec")
    restart.add_argument("target", metavar="CLUSTER/SERVICE")
    restart.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    global_options(restart, suppress=True)
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
    if args.command == "rollout" and (args.pause or args.resume):
        if args.watch or args.timeout is not None:
            raise cli.UsageError("--pause/--resume change the rollout; --watch/--timeout follow it: run them "
                                 "one after the other")
        return cli._mutate(fleet, args, "pause" if args.pause else "resume")
    if args.command == "rollout" and args.yes:
        raise cli.UsageError("--yes goes with --pause or --resume")
    return None
