"""Model values -> Rich Text, shared by every screen. Pure functions: no Textual, no SDK.

Every state is spelled out in words or symbols as well as colour, so NO_COLOR terminals lose nothing.
Cluster strings become Text through `shown` (or `safe_text` for a Text already assembled): built from plain
strings, never parsed as markup, with escape sequences, controls and secret-looking values gone
(providers/text.py).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

from rich.console import OverflowMethod
from rich.text import Text

from pilothouse.providers.model import (
    ConnectionState,
    Health,
    HealthCounts,
    Node,
    NodeStatus,
    Rollout,
    RolloutState,
    Task,
    TaskState,
)
from pilothouse.providers.secrets import may_hold_secret, shown_value
from pilothouse.providers.text import display_text, is_clean
from pilothouse.providers.vocabulary import Vocabulary

ROLLOUT_STYLES: dict[RolloutState, str] = {
    RolloutState.STABLE: "green",
    RolloutState.UPDATING: "cyan",
    RolloutState.PAUSED: "yellow",
    RolloutState.ROLLING_BACK: "magenta",
    RolloutState.ROLLED_BACK: "yellow",
    RolloutState.FAILED: "bold red",
}

CONNECTION_STYLES: dict[ConnectionState, str] = {
    ConnectionState.CONNECTING: "yellow",
    ConnectionState.CONNECTED: "green",
    ConnectionState.DEGRADED: "yellow",
    ConnectionState.UNREACHABLE: "bold red",
}

HEALTH_STYLES: dict[Health, str] = {
    Health.HEALTHY: "green",
    Health.UNHEALTHY: "bold red",
    Health.STARTING: "yellow",
    Health.NONE: "",
    Health.UNKNOWN: "dim",
}

TASK_STATE_STYLES: dict[TaskState, str] = {
    TaskState.RUNNING: "green",
    TaskState.PENDING: "yellow",
    TaskState.STARTING: "yellow",
    TaskState.STOPPING: "dim",
    TaskState.STOPPED: "dim",
    TaskState.COMPLETE: "dim",
    TaskState.FAILED: "bold red",
    TaskState.UNKNOWN: "dim",
}

def shown(value: str, style: str = "", *, multiline: bool = False, no_wrap: bool | None = None,
          overflow: OverflowMethod | None = None) -> Text:
    """Cluster text as a Text: one line (a multi-line field keeps its lines), never markup."""
    return Text(display_text(value, multiline=multiline), style=style, no_wrap=no_wrap, overflow=overflow)


def safe_text(text: Text) -> Text:
    """`text` as display text: itself when it already is (the common case, one check), else rebuilt piece
    by piece between its style boundaries, each piece cleaned and masked, so the styles survive."""
    plain = text.plain
    if is_clean(plain) and not may_hold_secret(plain):
        return text
    if display_text(plain) == plain:
        return text
    offsets = sorted({offset for span in text.spans for offset in (span.start, span.end)})
    result = text.blank_copy()
    for piece in text.divide(offsets):
        cleaned = Text(display_text(piece.plain))
        for span in piece.spans:
            cleaned.stylize(span.style)
        result.append_text(cleaned)
    return result


BAR_FULL = "█"
BAR_EMPTY = "░"


def progress_bar(fraction: float, width: int) -> str:
    filled = round(max(0.0, min(1.0, fraction)) * width)
    return BAR_FULL * filled + BAR_EMPTY * (width - filled)


def rollout_text(rollout: Rollout, bar_width: int = 8) -> Text:
    """`████░░░░ 2/4 updating`: a bar only while something moves, else just the state."""
    style = ROLLOUT_STYLES.get(rollout.state, "")
    text = Text(no_wrap=True, overflow="ellipsis")
    if rollout.active or rollout.state in (RolloutState.PAUSED, RolloutState.FAILED):
        bar = progress_bar(rollout.fraction, bar_width) if rollout.updated_known else "?" * bar_width
        text.append(bar, style=style)
        text.append(f" {rollout.counts} ")
    text.append(rollout.state.value.replace("_", " "), style=style)
    return text


def health_text(counts: HealthCounts) -> Text:
    """`✓3 ✗1 ~1`: only the non-zero parts, `-` when no task reports health."""
    text = Text(no_wrap=True)
    parts = (
        ("✓", counts.healthy, HEALTH_STYLES[Health.HEALTHY]),
        ("✗", counts.unhealthy, HEALTH_STYLES[Health.UNHEALTHY]),
        ("~", counts.starting, HEALTH_STYLES[Health.STARTING]),
    )
    for symbol, count, style in parts:
        if count:
            if text:
                text.append(" ")
            text.append(f"{symbol}{count}", style=style)
    if not text:
        text.append("-", style="dim")
    return text


def autoscaled_mark() -> str:
    """The mark beside the replicas of a service an autoscaler owns: a symbol, or a word under NO_COLOR
    (a terminal without colour may lack the glyph's font too)."""
    return "auto" if os.environ.get("NO_COLOR") else "⇅"


def replicas_text(running: int, desired: int, global_mode: bool, autoscaled: bool = False) -> Text:
    style = "green" if running >= desired else ("yellow" if running else "bold red")
    text = Text(f"{running}/{desired}", style=style, no_wrap=True)
    if global_mode:
        text.append(" g", style="dim")
    if autoscaled:
        text.append(f" {autoscaled_mark()}", style="cyan")
    return text


def connection_text(state: ConnectionState) -> Text:
    return Text(state.value, style=CONNECTION_STYLES.get(state, ""))


def node_state_text(node: Node, words: Vocabulary) -> Text:
    """`Ready`, `NotReady`, `Ready,SchedulingDisabled`, `ACTIVE DRAINING`: in the orchestrator's words."""
    style = {NodeStatus.READY: "green", NodeStatus.DOWN: "bold red"}.get(node.status, "yellow")
    text = Text(words.node_condition(node), style=style, no_wrap=True)
    extra = words.availability(node.availability)
    if extra:
        text.append(f"{words.state_separator}{extra}", style="yellow")
    return text


def task_state_text(task: Task) -> Text:
    word = display_text(task.raw_state) if task.raw_state else task.state.value
    return Text(word, style=TASK_STATE_STYLES.get(task.state, ""), no_wrap=True, overflow="ellipsis")


def task_health_text(health: Health) -> Text:
    return Text(health.value, style=HEALTH_STYLES.get(health, ""), no_wrap=True)


def image_tag(image: str) -> str:
    """`registry.example.com/shop/api:1.4.2` -> `api:1.4.2`: the repository path is noise in a table."""
    name = image.rsplit("/", 1)[-1]
    return name or image


def age(since: datetime | None, now: datetime | None = None) -> str:
    """`42s`, `7m`, `3h`, `5d`; `-` when unknown."""
    if since is None:
        return "-"
    reference = now or datetime.now(UTC)
    if since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    seconds = int((reference - since).total_seconds())
    if seconds < 0:
        seconds = 0
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def masked_env(name: str, value: str) -> str:
    """An env value as shown: secret-looking names are masked whatever their value, and secret-looking
    values (a URL's password, an access key) whatever their name."""
    return display_text(shown_value(name, value))
