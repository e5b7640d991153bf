"""One task, every field of it: what the service table's columns cut (the full error, the orchestrator's own
state word, exit code, restarts, address, when it started and stopped). A dialog over the service screen,
which keeps it current as snapshots arrive; escape closes it, `l` opens the task's logs, `!` a shell in it.
It closes with what to do next: (LOGS or EXEC, the task's id), or None."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, ClassVar, cast

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from pilothouse.console.key_display import key_display
from pilothouse.providers.model import Task
from pilothouse.providers.text import display_text
from pilothouse.providers.vocabulary import GENERIC, SLOT, Vocabulary
from pilothouse.widgets.clock import stamp
from pilothouse.widgets.render import HEALTH_STYLES, TASK_STATE_STYLES, age

if TYPE_CHECKING:
    from pilothouse.console.screens.base import ConsoleHost

LOGS = "logs"
EXEC = "exec"


def when(moment: datetime | None, now: datetime) -> Text:
    """`2026-11-27 10:00:00 CET (3h ago)`, in the operator's zone (UTC with --utc); `-` when unknown."""
    if moment is None:
        return Text("-", style="dim")
    text = Text(stamp(moment))
    text.append(f"  ({age(moment, now)} ago)", style="dim")
    return text


def task_fields(task: Task, now: datetime, words: Vocabulary = GENERIC) -> list[tuple[str, Text]]:
    """(label, value) for every field of the task, in the order an operator reads them, labelled in the
    orchestrator's words (pod, container instance, lastStatus, desiredStatus...); a slot only where the
    orchestrator has slots."""
    dash = Text("-", style="dim")
    node = Text(display_text(task.node_name or task.node_id or "-"))
    if task.node_name and task.node_id and task.node_id != task.node_name:
        node.append(display_text(f"  (id {task.node_id})"), style="dim")
    state = Text(task.state.value, style=TASK_STATE_STYLES.get(task.state, ""))
    raw = Text(display_text(task.raw_state)) if task.raw_state else dash
    exit_code = Text(str(task.exit_code), style="bold red" if task.exit_code else "") \
        if task.exit_code is not None else dash
    fields = [(words.task, Text(display_text(task.id), style="bold"))]
    if SLOT in words.task_extras or task.slot is not None:
        fields.append((words.slot_label, Text(str(task.slot)) if task.slot is not None else dash))
    fields += [
        (words.node, node),
        ("state", state),
        (words.state_label, raw),
        (words.desired_label, Text(task.desired_state.value)),
        ("health", Text(task.health.value, style=HEALTH_STYLES.get(task.health, ""))),
        ("version", Text(display_text(task.version)) if task.version else dash),
        ("started", when(task.started, now)),
        ("stopped", when(task.stopped, now)),
        ("exit code", exit_code),
        (words.restarts_label, Text(str(task.restarts), style="yellow" if task.restarts else "")),
        ("address", Text(display_text(task.address)) if task.address else dash),
    ]
    return fields


def task_detail(title: str, task: Task, now: datetime, gone: bool = False, words: Vocabulary = GENERIC) -> Group:
    fields = task_fields(task, now, words)
    table = Table(show_header=False, box=None, expand=True, padding=(0, 1), pad_edge=False)
    table.add_column("field", style="bold cyan", no_wrap=True, width=max(13, *(len(label) for label, _ in fields)))
    table.add_column("value", ratio=1, overflow="fold")
    for label, value in fields:
        table.add_row(label, value)
    parts: list[RenderableType] = [Text(display_text(title), style="bold")]
    if gone:
        parts.append(Text(f"this {words.task} is no longer in the latest snapshot: as last seen", style="bold yellow"))
    parts += [Text(""), table, Text(""), Text(words.error_label, style="bold cyan")]
    # Wrapped, never cut: this is the one place the whole failure reason can be read.
    parts.append(Text(display_text(task.error, multiline=True), style="red", overflow="fold") if task.error
                 else Text("none", style="dim"))
    return Group(*parts)


class TaskDetailScreen(ModalScreen[tuple[str, str] | None]):
    """Dismissed with the task's id when the operator asks for its logs, else None."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close", id="task_detail_close"),
        # The same id as the service screen's task logs key: one remap moves both.
        Binding("l", "logs", "Task logs", id=LOGS, tooltip="Logs of this task, followed live"),
        Binding("exclamation_mark", "exec", "Shell", id=EXEC,
                tooltip="A shell in this task's container, with the console suspended (confirm first)"),
    ]

    def __init__(self, title: str, task: Task, now: datetime, logs_refusal: str | None = None,
                 words: Vocabulary = GENERIC, exec_refusal: str | None = None) -> None:
        super().__init__(id="task-detail")
        self.words = words
        self.title_text = title
        self.shown_task = task
        self.now = now
        self.gone = False
        self.logs_refusal = logs_refusal
        # Not offered (read-only, a provider without exec): pressed, the key says why; the service screen
        # audits the refusal as it does its own.
        self.exec_refusal = exec_refusal

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="task-detail-box", classes="dialog"):
            yield Static(task_detail(self.title_text, self.shown_task, self.now, words=self.words),
                         id="task-detail-body")
            yield Static(self._hint(), id="task-detail-hint", classes="dim")

    def _hint(self) -> Text:
        """The keys as the config's keymap sets them (this dialog has no footer)."""
        close = key_display(self.app, self.BINDINGS, "task_detail_close")
        shell = "" if self.exec_refusal else f" · {key_display(self.app, self.BINDINGS, EXEC)}: a shell in it"
        return Text(f"{close}: close · {key_display(self.app, self.BINDINGS, LOGS)}: logs of this {self.words.task}"
                    + shell)

    def host(self) -> ConsoleHost:
        return cast("ConsoleHost", self.app)

    def show(self, task: Task | None, now: datetime) -> None:
        """The latest snapshot of the task; None when it is gone (the last one seen stays, marked)."""
        if task is None:
            if self.gone:
                return
            self.gone = True
        else:
            self.shown_task, self.now, self.gone = task, now, False
        self.query_one("#task-detail-body", Static).update(task_detail(self.title_text, self.shown_task, self.now,
                                                                       self.gone, self.words))

    def action_close(self) -> None:
        self.dismiss(None)

    def action_logs(self) -> None:
        if self.logs_refusal:
            self.notify(self.logs_refusal, title="Not available", severity="warning", markup=False)
            return
        self.dismiss((LOGS, self.shown_task.id))

    def action_exec(self) -> None:
        # The service screen runs it (or says why not and audits the refusal), as if pressed on the task's row.
        self.dismiss((EXEC, self.shown_task.id))
