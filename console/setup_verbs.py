"""The verbs that set pilothouse up rather than look at clusters: `completion`, `config init|check|path`, the
hidden `__complete` the completion scripts call, and the examples under every verb's --help.

None of them contacts a cluster; they run before the config is loaded for the console, so a broken config
can still be checked and a missing one written.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

EXAMPLES = {
    "status": """examples:
  pilothouse status                          every cluster, one line per service
  pilothouse status --cluster prod-eks       only one cluster
  pilothouse status --json | jq '.clusters[].services[] | select(.running < .desired)'""",
    "scale": """examples:
  pilothouse scale prod-swarm/shop_web 5         Swarm: NAME
  pilothouse scale prod-eks/shop/web 3 --yes     Kubernetes: NAMESPACE/NAME, no question asked
  pilothouse scale ecs-eu/prod/web 0             ECS: ECSCLUSTER/SERVICE""",
    "autoscale": """examples:
  pilothouse autoscale prod-eks/shop/web --min 3 --max 12     Kubernetes: patches the HPA's min/maxReplicas
  pilothouse autoscale ecs-eu/prod/web --min 2 --max 8 --yes  ECS: registers the scalable target's new bounds""",
    "rollback": """examples:
  pilothouse rollback prod-swarm/shop_web         shows image before -> after, asks, then rolls back
  pilothouse rollback prod-eks/shop/web --yes""",
    "rollout": """examples:
  pilothouse rollout prod-eks/shop/web                          where the rollout stands now
  pilothouse rollout prod-swarm/shop_web --watch --timeout 600  exit 0 completed, 1 failed or rolled back
  pilothouse rollout prod-eks/shop/web --pause                   kubectl rollout pause (Deployments)
  pilothouse rollout prod-swarm/shop_web --resume --yes         carry on an update the engine paused""",
    "events": """examples:
  pilothouse events --since 30m
  pilothouse events --service prod-swarm/shop_web --kind warning
  pilothouse events --kind audit --json          the console's own actions (scale, rollback)""",
    "logs": """examples:
  pilothouse logs prod-swarm/shop_web --tail 50 --follow
  pilothouse logs prod-eks/shop/web --task web-7d9f      one pod (an id prefix is enough)""",
    "doctor": """examples:
  pilothouse doctor
  pilothouse doctor --cluster prod-eks --json
  pilothouse doctor --fail-on high               a CI gate: exit 1 on an unsilenced high finding""",
    "networks": """examples:
  pilothouse networks                            every cluster's networks, Services and target groups
  pilothouse networks --cluster prod-eks --json | jq '.clusters[].networks[] | select(.endpoints.ready == 0)'""",
    "completion": """examples:
  eval "$(pilothouse completion bash)"          in ~/.bashrc
  eval "$(pilothouse completion zsh)"           in ~/.zshrc
  pilothouse completion fish > ~/.config/fish/completions/pilothouse.fish""",
    "config": """examples:
  pilothouse config init                         write a starter config from the clusters found here
  pilothouse config check                        exit 0 when valid, else one line and exit 2
  pilothouse config path                         where the config is read from""",
}


def add_setup_commands(commands: argparse._SubParsersAction[Any]) -> None:
    completion = commands.add_parser("completion", help="print a shell completion script (bash, zsh, fish)")
    completion.add_argument("shell", choices=("bash", "zsh", "fish"), metavar="SHELL",
                            help="bash, zsh or fish")
    config = commands.add_parser("config", help="write, check or locate the config file")
    actions = config.add_subparsers(dest="config_command", metavar="ACTION", required=True,
                                    parser_class=type(config))
    init = actions.add_parser("init", help="write a commented starter config from the clusters detected here")
    init.add_argument("--path", metavar="PATH", help="where to write (default: the config path)")
    init.add_argument("--force", action="store_true", help="overwrite an existing file")
    check = actions.add_parser("check", help="validate the config: exit 0 when valid, 2 with one line if not")
    check.add_argument("--path", metavar="PATH", help="the file to check (default: the config path)")
    actions.add_parser("path", help="print where the config is read from")


def add_examples(commands: argparse._SubParsersAction[Any]) -> None:
    """Examples under each verb's --help, laid out as written."""
    for name, parser in commands.choices.items():
        if name in EXAMPLES:
            parser.epilog = EXAMPLES[name]
            parser.formatter_class = argparse.RawDescriptionHelpFormatter


def _config_path(args: argparse.Namespace) -> tuple[Path, bool]:
    from pilothouse.console.config import resolve_config_path

    if getattr(args, "path", None):
        return Path(args.path).expanduser(), True
    return resolve_config_path(args.config)


def run_setup_command(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int | None:
    """Run a setup verb and return its exit code, or None when the command is not one of them."""
    if args.command == "completion":
        from pilothouse.console.completion import script

        sys.stdout.write(script(parser, args.shell))
        return 0
    if args.command != "config":
        return None
    path, named = _config_path(args)
    if args.config_command == "path":
        print(path)
        if not path.exists():
            print(f"pilothouse: {path} does not exist yet (built-in defaults apply; "
                  "'pilothouse config init' writes one)", file=sys.stderr)
        return 0
    if args.config_command == "check":
        from pilothouse.console.config import load_config

        config = load_config(path, required=True)
        print(f"{path}: ok ({len(config.clusters)} cluster(s))")
        return 0
    from pilothouse.console.starter import write_starter

    written = write_starter(path, force=args.force)
    print(f"wrote {path} ({written} cluster(s) detected); check it with 'pilothouse config check"
          f"{'' if not named else ' --path ' + str(path)}'")
    return 0


def complete_words(argv: Sequence[str]) -> list[str]:
    """`__complete clusters|targets [--config PATH]`: words for the completion scripts, from the config only.

    Never contacts a cluster and never fails loudly: a broken config completes nothing.
    """
    from pilothouse.console.config import load_config, resolve_config_path
    from pilothouse.providers.errors import ProviderError

    what = argv[0] if argv else ""
    explicit = argv[argv.index("--config") + 1] if "--config" in argv[:-1] else None
    try:
        path, named = resolve_config_path(explicit)
        config = load_config(path, required=named)
    except ProviderError:
        return []
    names = [cluster.name for cluster in config.clusters]
    if not names:
        from pilothouse.console.detect import detect_clusters

        names = [cluster.name for cluster in detect_clusters(probe=False)]
    if what == "clusters":
        return names
    if what == "targets":
        # CLUSTER/ for each cluster, and the CLUSTER/SERVICE the config itself names (silences).
        named_services = [s.service for s in config.doctor.silences
                          if "*" not in s.service and s.service.split("/", 1)[0] in names]
        return [f"{name}/" for name in names] + sorted(set(named_services))
    return []
