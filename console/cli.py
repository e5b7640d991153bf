"""The `pilothouse` command: the console, and the headless verbs status / scale / rollback / restart.

Exit codes: 0 ok, 1 the cluster refused or failed (or the confirmation was declined, or a one-shot look
stayed incomplete without --allow-partial), 2 bad input or bad config, 130 interrupted. Every foreseeable
error is one line on stderr, never a traceback. Heavy imports (Textual, SDKs) happen only when a verb needs
them, so `--help` stays fast.

Over 600 lines on purpose: the argument parser of every verb stays here as one table (help, completion and
the global options read it whole); the verbs' bodies move out as they grow (look_verbs, action_verbs,
network_verbs, setup_verbs).
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import json
import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from pilothouse import __version__
from pilothouse.console.action_verbs import add_action_commands, run_action_command
from pilothouse.console.exec_verbs import add_exec_command, run_exec, split_command
from pilothouse.console.look_verbs import add_look_commands, run_look_command
from pilothouse.console.network_verbs import add_networks_command, run_networks
from pilothouse.console.setup_verbs import add_examples, add_setup_commands, complete_words, run_setup_command
from pilothouse.console.status_text import say, t
from pilothouse.providers.errors import InvalidInput, NotFound, ProviderError
from pilothouse.providers.text import clean_text, display_text

if TYPE_CHECKING:
    from pilothouse.console.actions import Outcome
    from pilothouse.console.config import AppConfig
    from pilothouse.console.fleet import Fleet
    from pilothouse.providers.doctor import Finding
    from pilothouse.providers.model import Cluster, Event, Service

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130
MAX_WATCH_TIMEOUT_S = 7 * 86400  # a week; 0 already means "no limit"
# A one-shot look's patience with throttling and failing calls: long enough to ride out AWS throttling on a
# bastion, short enough for a script.
DEFAULT_LOOK_TIMEOUT_S = 30.0
MAX_LOOK_TIMEOUT_S = 3600.0


class UsageError(InvalidInput):
    pass


def _number_text(value: int) -> str:
    """A number as an error repeats it: a 400-digit one would make the one-line error a screenful."""
    text = str(value)
    return text if len(text) <= 20 else f"a {len(text)}-digit number"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # One line, not argparse's usage block: scripts and humans both read the first line.
        raise UsageError(f"{message} (see '{self.prog} --help')")


def _global_options(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    default = argparse.SUPPRESS if suppress else None
    parser.add_argument("--config", metavar="PATH", default=default,
                        help="config file (default $XDG_CONFIG_HOME/pilothouse/config.toml; env PILOTHOUSE_CONFIG)")
    parser.add_argument("--readonly", action="store_true", default=argparse.SUPPRESS if suppress else False,
                        help="refuse every mutation (scale, rollback, restart, pause, resume, exec, node changes)")
    parser.add_argument("--demo", action="store_true", default=argparse.SUPPRESS if suppress else False,
                        help="use the built-in simulated fleet")
    parser.add_argument("--demo-tasks", metavar="N", type=int, default=default,
                        help="total tasks in the demo fleet (0-50000; implies --demo)")
    parser.add_argument("--utc", action="store_true", default=argparse.SUPPRESS if suppress else False,
                        help="show times in UTC (default: the local zone, TZ honoured; JSON is ISO 8601 either way)")


def _look_timeout(text: str) -> float:
    shown = text if len(text) <= 30 else text[:30] + "…"
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of seconds (e.g. 30), not {shown!r}") from None
    if not (math.isfinite(value) and 0 < value <= MAX_LOOK_TIMEOUT_S):
        raise argparse.ArgumentTypeError(f"must be more than 0 and at most {MAX_LOOK_TIMEOUT_S:g} seconds, "
                                         f"not {shown}")
    return value


def _look_options(parser: argparse.ArgumentParser) -> None:
    """A one-shot look tries to be complete: it retries throttled and failing calls until --timeout."""
    parser.add_argument("--timeout", metavar="SECONDS", type=_look_timeout, default=DEFAULT_LOOK_TIMEOUT_S,
                        help=f"retry throttled or failing reads for at most this long (default "
                             f"{DEFAULT_LOOK_TIMEOUT_S:g}); what is still missing then is named and exits 1")
    parser.add_argument("--allow-partial", action="store_true",
                        help="exit 0 even when some data could not be read (it is still named)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="pilothouse",
        description="One terminal console for services on Docker Swarm, Kubernetes and AWS ECS.",
        epilog="Without a command, the console starts. Exit codes: 0 ok, 1 cluster refused/failed or declined, "
               "2 bad input.",
    )
    _global_options(parser, suppress=False)
    parser.add_argument("--version", action="version", version=f"pilothouse {__version__}",
                        help="print the installed version and exit")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    status = commands.add_parser("status", help="print a one-shot snapshot of every cluster")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.add_argument("--cluster", metavar="NAME", action="append", help="only this cluster (repeatable)")
    status.add_argument("--attention", action="store_true",
                        help="only the services needing attention, with the reasons")
    _look_options(status)
    _global_options(status, suppress=True)

    scale = commands.add_parser("scale", help="set the replica count of a service")
    scale.add_argument("target", metavar="CLUSTER/SERVICE")
    scale.add_argument("replicas", metavar="N")
    scale.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    scale.add_argument("--force", action="store_true",
                       help=f"allow more than {10_000} replicas, or scale a service an autoscaler owns")
    _global_options(scale, suppress=True)

    autoscale = commands.add_parser("autoscale", help="change the min/max of the autoscaler that owns a service")
    autoscale.add_argument("target", metavar="CLUSTER/SERVICE")
    autoscale.add_argument("--min", metavar="N", required=True, dest="minimum", help="the fewest replicas")
    autoscale.add_argument("--max", metavar="M", required=True, dest="maximum", help="the most replicas")
    autoscale.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    _global_options(autoscale, suppress=True)

    doctor = commands.add_parser("doctor", help="check live services for the classic container pitfalls")
    doctor.add_argument("--json", action="store_true", help="machine-readable output")
    doctor.add_argument("--cluster", metavar="NAME", action="append", help="only this cluster (repeatable)")
    doctor.add_argument("--fail-on", metavar="SEVERITY", choices=("high", "medium", "low"),
                        help="exit 1 when an unsilenced finding of this severity or worse exists (for CI gates)")
    _look_options(doctor)
    _global_options(doctor, suppress=True)

    events = commands.add_parser("events", help="one timeline of cluster events and console actions")
    events.add_argument("--json", action="store_true", help="machine-readable output")
    events.add_argument("--since", metavar="DURATION", help="only newer events: 45s, 30m, 2h, 1d")
    events.add_argument("--cluster", metavar="NAME", help="only this cluster")
    events.add_argument("--service", metavar="CLUSTER/SERVICE", help="only this service")
    events.add_argument("--kind", metavar="KIND", action="append",
                        help="only this kind of event (update, state, warning, audit, ...; repeatable)")
    _look_options(events)
    _global_options(events, suppress=True)

    rollout = commands.add_parser("rollout", help="show a service's rollout; --watch follows it to the end")
    rollout.add_argument("target", metavar="CLUSTER/SERVICE")
    rollout.add_argument("--watch", "-w", action="store_true",
                         help="follow until it completes (exit 0), fails or is rolled back (exit 1)")
    rollout.add_argument("--timeout", metavar="SECONDS", type=float, default=None,
                         help="with --watch: give up after this long (exit 1); 0 waits forever")
    _global_options(rollout, suppress=True)

    logs = commands.add_parser("logs", help="a service's logs, from all its tasks or one")
    logs.add_argument("target", metavar="CLUSTER/SERVICE")
    logs.add_argument("--tail", metavar="N", type=int, default=100, help="lines of history (default 100)")
    logs.add_argument("--follow", "-f", action="store_true", help="keep streaming new lines")
    logs.add_argument("--task", metavar="ID", default="", help="only this task or pod (an id prefix is enough)")
    _global_options(logs, suppress=True)

    rollback = commands.add_parser("rollback", help="roll a service back to its previous version")
    rollback.add_argument("target", metavar="CLUSTER/SERVICE")
    rollback.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    _global_options(rollback, suppress=True)
    add_look_commands(commands, _global_options, _look_options)
    add_action_commands(commands, _global_options)
    add_exec_command(commands, _global_options)
    add_networks_command(commands, _look_options, _global_options)
    add_setup_commands(commands)
    add_examples(commands)
    return parser


def _load(args: argparse.Namespace, *, for_console: bool) -> AppConfig:
    from pilothouse.console.config import demo_config, load_config, resolve_config_path

    path, named = resolve_config_path(args.config)
    config = load_config(path, required=named)
    if args.demo or args.demo_tasks is not None:
        return demo_config(args.demo_tasks, base=config)
    if config.clusters:
        return config
    from pilothouse.console.detect import detect_clusters

    detected = detect_clusters()
    if detected:
        return dataclasses.replace(config, clusters=detected)
    if for_console:
        return demo_config(base=config)
    raise InvalidInput(f"no cluster configured in {path} and none detected",
                       "add [[clusters]] to the config, or pass --demo")


def _split_target(target: str) -> tuple[str, str]:
    cluster, _, service = target.partition("/")
    if not cluster or not service:
        raise UsageError(f"{target!r} is not CLUSTER/SERVICE (e.g. prod/web, or prod/default/web for Kubernetes)")
    return cluster, service


def _find_service(cluster: Cluster, ref: str) -> Service:
    service = cluster.service(ref)
    if service is not None:
        return service
    raise _no_service(cluster, ref)


def _no_service(cluster: Cluster, ref: str) -> NotFound:
    refs = [candidate.ref for candidate in cluster.services]
    close = difflib.get_close_matches(ref, refs, n=3)
    hint = f"did you mean {', '.join(close)}?" if close else "see 'pilothouse status'"
    return NotFound(f"no service {ref!r} in cluster {cluster.name}", hint)


def _unknown_cluster(fleet: Fleet, name: str) -> NotFound:
    return NotFound(f"unknown cluster {name!r}", f"known clusters: {', '.join(fleet.names) or 'none'}")


def _snapshot_for(fleet: Fleet, cluster_name: str) -> Cluster:
    if cluster_name not in fleet.providers:
        raise _unknown_cluster(fleet, cluster_name)
    provider = fleet.providers[cluster_name]
    # Directly, not through a refresher: the typed error (refused = bad address, exit 2) must reach the user.
    provider.connect()
    return provider.snapshot()


_t, _say = t, say  # every verb's text output goes through these (console/status_text.py)


def _confirm(question: str) -> bool:
    from pilothouse.console.actions import ConfirmationRefused

    if not sys.stdin.isatty():
        raise ConfirmationRefused("confirmation needed but stdin is not a terminal: pass --yes to confirm")
    # Not input(): with GNU readline, a Ctrl+C that lands between the prompt and readline's own read is lost
    # and the prompt waits for a second one. A plain read is interrupted by the signal (or never entered).
    sys.stdout.write(display_text(f"{question} [y/N] "))
    sys.stdout.flush()
    answer = sys.stdin.readline()  # "" at end of input: a no
    return answer.strip().lower() in ("y", "yes")


def _mutate(fleet: Fleet, args: argparse.Namespace, action_name: str = "") -> int:
    """scale / rollback / restart through the one mutation flow; this function only talks to the terminal."""
    from pilothouse.providers.base import Action, MutationPlan

    cluster_name, ref = _split_target(args.target)
    actions = fleet.actions
    params: dict[str, Any] = {}  # replicas, minimum, maximum: whole numbers
    if args.command == "scale":
        # Parse before contacting anything: bad input must send nothing (and is not an attempt).
        params["replicas"] = actions.parse_replicas(args.replicas, force=args.force,
                                                    maximum=actions.max_replicas(cluster_name))
    command = Action.AUTOSCALE_BOUNDS if args.command == "autoscale" else Action(action_name or args.command)
    if command is Action.AUTOSCALE_BOUNDS:
        ceiling = actions.max_replicas(cluster_name)
        params["minimum"], params["maximum"] = actions.check_bounds(
            _bound(args.minimum, "--min"), _bound(args.maximum, "--max"), ceiling=ceiling)

    def locate() -> Service:
        return _find_service(_snapshot_for(fleet, cluster_name), ref)

    def confirm(plan: MutationPlan) -> bool:
        _say(plan.describe(), flush=True)
        return bool(args.yes) or _confirm(f"{plan.action.value} {cluster_name}/{plan.service_ref}?")

    outcome = actions.run(command, cluster_name, locate, confirm,
                          force=bool(getattr(args, "force", False)), service_ref=ref, **params)
    return _report(outcome)


def _report(outcome: Outcome) -> int:
    """A mutation's outcome on the terminal: its exit code."""
    from pilothouse.console.actions import Status

    if outcome.error is not None and outcome.status is not Status.DONE:
        if outcome.audit_warning:  # still one line: the refusal (or failure), and why it is not audited
            _say(f"pilothouse: error: {outcome.error} (not in the audit log: {outcome.audit_warning})", err=True)
            return outcome.error.exit_code
        raise outcome.error
    if outcome.audit_warning:
        _say(f"pilothouse: warning: {outcome.audit_warning}", err=True, flush=True)
    if outcome.status is Status.DONE or outcome.status is Status.UNCHANGED:
        _say(outcome.message)
        return EXIT_OK
    if outcome.status is Status.CANCELLED:
        _say("cancelled; nothing changed")
        # Not 0: a deploy script must not read "nothing was done" as success.
        return EXIT_FAILED
    raise AssertionError(f"unhandled outcome {outcome.status}")


def _bound(text: str, option: str) -> int:
    """An autoscaler bound as typed: ASCII digits only (as replicas), else one line and exit 2."""
    if not text.strip().isascii() or not text.strip().isdigit() or len(text.strip()) > 12:
        raise UsageError(f"{option} must be a whole number of replicas, not {text[:40]!r}")
    return int(text.strip())


def _selected_snapshots(fleet: Fleet, args: argparse.Namespace, *, doctor: bool = False) -> list[Cluster]:
    names = args.cluster or fleet.names
    unknown = [name for name in names if name not in fleet.providers]
    if unknown:
        raise _unknown_cluster(fleet, unknown[0])
    deadline = time.monotonic() + args.timeout
    if doctor:  # the doctor's slow path, within the same time limit (Provider.doctor_look)
        for name in names:
            fleet.providers[name].doctor_look(deadline)
    return fleet.snapshot_all(names, deadline=deadline)


def _completeness_code(code: int, clusters: list[Cluster], args: argparse.Namespace) -> int:
    """Exit 1 for a look that stayed incomplete, unless --allow-partial; a worse code stands."""
    partial = [cluster for cluster in clusters if cluster.reachable and not cluster.complete]
    if partial and code == EXIT_OK and not args.allow_partial:
        return EXIT_FAILED
    return code


def _report_partial(clusters: list[Cluster], args: argparse.Namespace) -> None:
    """Under the output, on stderr: exactly what is missing, and what the exit code means."""
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    partial = [cluster for cluster in clusters if cluster.reachable and not cluster.complete]
    for cluster in partial:
        for gap in cluster.missing:
            _say(f"pilothouse: incomplete: {_t(cluster.name)}: {gap.describe(now, _t)}", err=True)
    if partial:
        verdict = ("accepted with --allow-partial" if args.allow_partial
                   else "exit 1 (--allow-partial accepts it)")
        print(f"pilothouse: the output above is partial after {args.timeout:g}s of retries: {verdict}",
              file=sys.stderr)


def _drop_stdout() -> None:
    """The reader left (`| head`): later writes, and the flush at exit, go nowhere instead of raising."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _output(code: int, write: Callable[[], None]) -> int:
    """Write a verb's report for an exit code decided before it: a reader that leaves early
    (`doctor --fail-on high | head`) must not turn a failed gate into a 0."""
    try:
        write()
        sys.stdout.flush()
    except BrokenPipeError:
        _drop_stdout()
    return code


def _doctor(fleet: Fleet, config: AppConfig, args: argparse.Namespace) -> int:
    from pilothouse.providers.doctor import examine

    clusters = _selected_snapshots(fleet, args, doctor=True)
    findings = [finding for cluster in clusters if cluster.reachable for finding in examine(cluster, config.doctor)]
    code = _completeness_code(_doctor_code(clusters, findings, args.fail_on), clusters, args)
    code = _output(code, lambda: _print_doctor(clusters, findings, args))
    _report_partial(clusters, args)
    return code


def _print_doctor(clusters: list[Cluster], findings: list[Finding], args: argparse.Namespace) -> None:
    from pilothouse.console.export import missing_dict

    if args.json:
        json.dump({
            "clusters": [{"name": c.name, "kind": c.kind.value, "reachable": c.reachable, "error": c.error or None,
                          "complete": c.complete, "missing": [missing_dict(gap) for gap in c.missing]}
                         for c in clusters],
            "findings": [{"rule": f.rule, "severity": f.severity.value, "cluster": f.cluster, "service": f.service,
                          "container": f.container, "why": f.why, "fix": f.fix, "silenced": f.silenced or None}
                         for f in findings],
        }, sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        for cluster in clusters:
            if not cluster.reachable:
                _say(f"{_t(cluster.name)}: unreachable: {_t(cluster.error)}")
            elif not cluster.complete:
                _say(f"{_t(cluster.name)}: PARTIAL: not checked: {'; '.join(_t(gap.what) for gap in cluster.missing)}")
        for f in findings:
            silenced = f"  [silenced: {_t(f.silenced)}]" if f.silenced else ""
            _say(f"{f.severity.value:<6} {f.rule:<20} {_t(f.cluster)}/{_t(f.service)}: {_t(f.why)}{silenced}")
            _say(f"{'':27}fix: {_t(f.fix)}")
        active = sum(1 for f in findings if not f.silenced)
        _say(f"{active} finding(s), {len(findings) - active} silenced")


def _doctor_code(clusters: list[Cluster], findings: list[Finding], fail_on: str | None) -> int:
    if not all(cluster.reachable for cluster in clusters):
        return EXIT_FAILED
    if fail_on:
        worst = ("high", "medium", "low")[: ("high", "medium", "low").index(fail_on) + 1]
        if any(f.severity.value in worst and not f.silenced for f in findings):
            return EXIT_FAILED
    return EXIT_OK


def _events(fleet: Fleet, args: argparse.Namespace) -> int:
    from pilothouse.console.timeline import audit_events, check_kinds, merge, parse_since

    since = parse_since(args.since) if args.since is not None else None
    service_cluster, ref = _split_target(args.service) if args.service else (None, "")
    if args.cluster and args.cluster not in fleet.providers:
        raise _unknown_cluster(fleet, args.cluster)
    if service_cluster is not None:
        if service_cluster not in fleet.providers:
            raise _unknown_cluster(fleet, service_cluster)
        if args.cluster and service_cluster != args.cluster:
            raise UsageError(f"--service {args.service} is not in --cluster {args.cluster}: nothing could match")
    cluster_name = args.cluster or service_cluster
    clusters = fleet.snapshot_all([cluster_name] if cluster_name else fleet.names,
                                  deadline=time.monotonic() + args.timeout)
    audit = audit_events(fleet.actions.audit.read())
    everything = merge(clusters, audit, cluster=cluster_name)
    # A filter that cannot match is a typo, not an empty timeline: say so, exit 2.
    check_kinds(args.kind or (), everything)
    if service_cluster is not None:
        (cluster,) = clusters
        # A removed service still has its history: known means running now or named by an event.
        known = cluster.service(ref) is not None or any(event.service_ref == ref for event in everything)
        if cluster.reachable and not known:
            raise _no_service(cluster, ref)
    events = merge(clusters, audit, since=since, cluster=cluster_name, service=args.service, kinds=args.kind or ())
    code = EXIT_OK if all(cluster.reachable for cluster in clusters) else EXIT_FAILED
    code = _output(_completeness_code(code, clusters, args), lambda: _print_events(events, json_output=args.json))
    _report_partial(clusters, args)
    return code


def _print_events(events: list[Event], *, json_output: bool) -> None:
    from pilothouse.widgets.clock import stamp

    if json_output:
        json.dump({"events": [{"time": e.time.isoformat(), "cluster": e.cluster, "object": e.object, "kind": e.kind,
                               "service": e.service_ref, "message": e.message} for e in events]},
                  sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        for e in events:
            _say(f"{stamp(e.time)}  {_t(e.cluster):<14} {_t(e.kind):<8} {_t(e.object)}: {_t(e.message)}")


def _rollout(fleet: Fleet, args: argparse.Namespace) -> int:
    import time

    from pilothouse.console.follow import RolloutFollower
    from pilothouse.providers.refresh import ClusterRefresher

    cluster_name, ref = _split_target(args.target)
    if args.timeout is not None and not 0 <= args.timeout <= MAX_WATCH_TIMEOUT_S:
        # nan compares false with everything: it lands here too, instead of a watch that never ends.
        raise UsageError(f"--timeout must be between 0 and {MAX_WATCH_TIMEOUT_S} seconds (0 waits forever), "
                         f"not {args.timeout:g}")
    if args.timeout is not None and not args.watch:
        raise UsageError("--timeout only applies with --watch (without it, rollout looks once and exits)")
    cluster = _snapshot_for(fleet, cluster_name)
    _find_service(cluster, ref)
    follower = RolloutFollower(f"{cluster_name}/{ref}")
    refresher = ClusterRefresher(fleet.providers[cluster_name], lambda _cluster: None)
    deadline = time.monotonic() + args.timeout if args.timeout else None
    result: int | None = None
    try:
        while True:
            lines, outcome = follower.observe(cluster.service(ref) if cluster.reachable
                                              else _service_or_none(cluster, ref))
            if outcome is not None and cluster.reachable:
                result = outcome.exit_code
            for line in lines:
                _say(line, flush=True)
            if not cluster.reachable:
                _say(f"{cluster_name}: unreachable ({_t(cluster.error)}); retrying", err=True, flush=True)
            if outcome is not None and result is not None:
                _say(f"{cluster_name}/{ref}: {outcome.value}", flush=True)
                return result
            if not args.watch:
                return EXIT_OK
            if deadline is not None and time.monotonic() >= deadline:
                _say(f"{cluster_name}/{ref}: still in progress after {args.timeout:g}s", err=True)
                return EXIT_FAILED
            refresher.wait_next()
            cluster = refresher.refresh_once()
    except BrokenPipeError:
        _drop_stdout()
        # A known outcome stands; a watch cut short before one has none, and 0 would read as "completed".
        if result is not None:
            return result
        return EXIT_FAILED if args.watch else EXIT_OK


def _logs(fleet: Fleet, args: argparse.Namespace) -> int:
    import threading

    from pilothouse.widgets.clock import clock_zoned

    cluster_name, ref = _split_target(args.target)
    if not 0 <= args.tail <= 100_000:
        raise UsageError(f"--tail must be between 0 and 100000, not {_number_text(args.tail)}")
    service = _find_service(_snapshot_for(fleet, cluster_name), ref)
    stop = threading.Event()
    try:
        for line in fleet.providers[cluster_name].logs(service, task_id=args.task, tail=args.tail,
                                                        follow=args.follow, stop=stop):
            when = f"{clock_zoned(line.time)} " if line.time else ""
            # The application's own output, asked for: not masked, but no escape sequence or control either.
            print(clean_text(f"{when}{line.source} | {line.text}"), flush=args.follow)
    except KeyboardInterrupt:
        # Ctrl-C is how a follow ends.
        stop.set()
    except BrokenPipeError:
        # So is a reader that leaves (`logs -f | grep -m1 ERROR`).
        stop.set()
        _drop_stdout()
    return EXIT_OK


def _service_or_none(cluster: Cluster, ref: str) -> Service | None:
    # While unreachable, the last good data stands; the follower must not call the service removed.
    return cluster.service(ref)


def _status(fleet: Fleet, config: AppConfig, args: argparse.Namespace) -> int:
    from pilothouse.console.export import fleet_dict
    from pilothouse.console.fleet import BrokenProvider
    from pilothouse.providers.attention import AttentionAssessor
    from pilothouse.providers.doctor import assess_attention, examine

    clusters = _selected_snapshots(fleet, args)
    # One look: no history, so no "for how long" and no restarts rising between snapshots (a restart time
    # inside the window still counts).
    attention = {cluster.name: assess_attention(AttentionAssessor(), cluster, examine(cluster, config.doctor))
                 for cluster in clusters}
    # A cluster whose config is wrong (not merely down) is bad input: said on stderr, exit 2; the others
    # are still reported.
    providers = [fleet.providers[cluster.name] for cluster in clusters]
    broken = [provider for provider in providers if isinstance(provider, BrokenProvider)]
    if any(provider.error.exit_code == EXIT_BAD_INPUT for provider in broken):
        code = EXIT_BAD_INPUT
    else:
        code = EXIT_OK if all(cluster.reachable for cluster in clusters) else EXIT_FAILED
    code = _completeness_code(code, clusters, args)

    def write() -> None:
        if args.json:
            data = fleet_dict(clusters, attention)
            if args.attention:
                for cluster in data["clusters"]:
                    cluster["services"] = [s for s in cluster["services"] if s["attention"]["level"] != "none"]
            # Compact into a pipe: the standard library's C encoder does not indent, and the pure-Python one
            # took longer than the snapshot itself at 10k pods. Indented on a terminal, where a person reads it.
            sys.stdout.write(json.dumps(data, indent=1 if sys.stdout.isatty() else None))
            sys.stdout.write("\n")
        else:
            from pilothouse.console.status_text import print_status

            print_status(clusters, attention, only_attention=args.attention)

    code = _output(code, write)  # flushed: the report first, then the errors under it
    for provider in broken:
        _say(f"pilothouse: error: {provider.error}", err=True)
    _report_partial(clusters, args)
    return code


def _run(argv: Sequence[str] | None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    if words[:1] == ["__complete"]:
        # The completion scripts' helper: before argparse, so it stays fast and never prints usage.
        print("\n".join(complete_words(words[1:])))
        return EXIT_OK
    parser = build_parser()
    words, command = split_command(words)  # exec's CMD after `--` is not for argparse
    args = parser.parse_args(words)
    setup_code = run_setup_command(args, parser)
    if setup_code is not None:
        return setup_code
    if args.demo_tasks is not None and not 0 <= args.demo_tasks <= 50_000:
        raise UsageError(f"--demo-tasks must be between 0 and 50000, not {_number_text(args.demo_tasks)}")
    from pilothouse.console.logsetup import setup_logging
    from pilothouse.widgets.clock import use_utc

    use_utc(args.utc)
    setup_logging()
    config = _load(args, for_console=args.command is None)
    from pilothouse.console.fleet import Fleet

    fleet = Fleet(config, readonly=args.readonly)
    try:
        if args.command is None:
            from pilothouse.console.app import run_console

            return int(run_console(fleet, config))
        if args.command == "status":
            return _status(fleet, config, args)
        if args.command == "doctor":
            return _doctor(fleet, config, args)
        if args.command == "events":
            return _events(fleet, args)
        if args.command == "exec":
            return run_exec(fleet, args, command)
        acted = run_action_command(fleet, args)
        if acted is not None:
            return acted
        if args.command == "rollout":
            return _rollout(fleet, args)
        if args.command == "logs":
            return _logs(fleet, args)
        looked = run_look_command(fleet, args)
        if looked is not None:
            return looked
        if args.command == "networks":
            return run_networks(fleet, args)
        return _mutate(fleet, args)
    finally:
        fleet.close()


def main(argv: Sequence[str] | None = None) -> int:
    try:
        code = _run(argv)
    except ProviderError as error:
        _say(f"pilothouse: error: {error}", err=True)
        return error.exit_code
    except KeyboardInterrupt:
        print("pilothouse: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader left before the verb had a result to report: not a traceback, and not a success.
        _drop_stdout()
        return EXIT_FAILED
    # Flushed here, not at interpreter exit: a reader that left (`| head`) must neither print a traceback
    # nor change the exit code.
    return _output(code, lambda: None)


if __name__ == "__main__":
    sys.exit(main())
