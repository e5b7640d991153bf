"""The text of `pilothouse status`: a line per cluster, then one table of services aligned like kubectl's,
problems first. Every line goes out as display text (cluster text is untrusted)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from pilothouse.providers.text import display_text

if TYPE_CHECKING:
    from datetime import datetime

    from pilothouse.providers.attention import Attention
    from pilothouse.providers.model import Cluster, Service


def t(field: str) -> str:
    """One field of cluster text, cleaned on its own before it joins a line: a sequence it opens cannot
    reach into (and hide) the fields after it."""
    return display_text(field)


def say(line: object = "", *, err: bool = False, flush: bool = False) -> None:
    """One line of text output: every verb's text output goes through here, as display text (cluster text
    is untrusted: no escape sequence or control reaches the terminal, secret-looking values are masked, a
    field's newline cannot forge a line). JSON output does not: json.dumps escapes, and stays exact."""
    print(display_text(str(line)), file=sys.stderr if err else sys.stdout, flush=flush)


def print_status(clusters: list[Cluster], attention: dict[str, dict[str, Attention]], *,
                  only_attention: bool = False) -> None:
    """A line per cluster, then one table of services, problems first (critical, warning, then the
    configured order), aligned like kubectl's; with `only_attention`, those needing it and every reason."""
    from datetime import UTC, datetime

    from pilothouse.providers.attention import NOTHING
    from pilothouse.providers.registry import vocabulary_for

    now = datetime.now(UTC)
    for cluster in clusters:
        label = " DEMO" if cluster.demo else ""
        state = cluster.state.value + (f": {t(cluster.error)}" if cluster.error else "")
        if cluster.forbidden:
            state += f"; forbidden: {t(', '.join(cluster.forbidden))}"
        words = vocabulary_for(cluster.kind)
        down = sum(1 for node in cluster.nodes if node.status.value != "ready")
        scope = f"; {t(cluster.scope)}" if cluster.scope else ""
        partial = " PARTIAL" if cluster.reachable and not cluster.complete else ""
        say(f"{t(cluster.name)} ({cluster.kind.value}{label}){partial} {state}; "
            f"{words.node_count(len(cluster.nodes))}, {down} not ready{scope}")
        for gap in cluster.missing:
            say(f"  missing: {gap.describe(now, t)}")
    listed = [(cluster, service, attention.get(cluster.name, {}).get(service.id, NOTHING))
              for cluster in clusters for service in cluster.services]
    listed.sort(key=lambda item: item[2].level.rank)  # stable: the configured order within a level
    if only_attention:
        listed = [item for item in listed if item[2].needed]
        if not listed:
            say("nothing needs attention")
            return
        header = ["CLUSTER", "SERVICE", "ATTENTION", "RUNNING", "REASONS"]
        rows: list[list[str]] = []
        for cluster, service, found in listed:
            texts = found.texts()
            rows.append([cluster.name, service.ref, found.level.value, running_text(service, now), texts[0]])
            rows.extend(["", "", "", "", text] for text in texts[1:])
        print_table(header, rows)
        return
    if not listed:
        return
    header = ["CLUSTER", "SERVICE", "ATTENTION", "RUNNING", "HEALTH", "IMAGE", "ROLLOUT"]
    rows = []
    for cluster, service, found in listed:
        rollout = service.rollout
        progress = rollout.state.value if rollout.state.value == "stable" else (
            f"{rollout.state.value} {rollout.counts} {rollout.message}".rstrip())
        rows.append([cluster.name, service.ref, found.level.value if found.needed else "-",
                     running_text(service, now), health_text(service), service.image or "-", progress])
    print_table(header, rows)


def print_table(header: list[str], rows: list[list[str]]) -> None:
    """Columns padded to their widest cell and three spaces apart, as kubectl prints; the last one is not
    padded (it may be long)."""
    # Each cell is display text before the widths are measured: cluster text cannot skew the columns.
    shown = [[display_text(cell) for cell in row] for row in [header, *rows]]
    widths = [max(len(row[index]) for row in shown) for index in range(len(header) - 1)]
    for row in shown:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        say("   ".join([*cells, row[-1]]).rstrip())


def running_text(service: Service, now: datetime) -> str:
    """"3/5", and how old when it is earlier data this look could not refresh."""
    text = f"{service.running}/{service.desired}"
    if service.stale:
        age = f" {max(0, int((now - service.observed).total_seconds()))}s old" if service.observed else ""
        text += f" (stale{age})"
    return text


def health_text(service: Service) -> str:
    from pilothouse.providers.model import Health, TaskState

    if not service.tasks_known:
        return "? tasks unknown"
    health = service.health
    if not (health.healthy or health.unhealthy or health.starting):
        # "ok 0" for tasks that run without any health check reads as "nothing is healthy".
        running = [task for task in service.tasks if task.desired_state is TaskState.RUNNING]
        if running and all(task.health is Health.NONE for task in running):
            return "no health check"
    return f"ok {health.healthy} bad {health.unhealthy} starting {health.starting}"
