"""The incident verbs beyond scale and rollback: `restart` (and the rollout and node actions as they land).

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
    for name, parser in commands.choices.items():
        if name in EXAMPLES:
            parser.epilog = EXAMPLES[name]
            parser.formatter_class = argparse.RawDescriptionHelpFormatter


def run_action_command(fleet: Fleet, args: argparse.Namespace) -> int | None:
    """Run `restart`; None for any other verb."""
    from pilothouse.console import cli

    if args.command == "restart":
        return cli._mutate(fleet, args)
    return None
