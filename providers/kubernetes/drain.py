"""Drain a Kubernetes node by eviction, as `kubectl drain NODE --ignore-daemonsets --delete-emptydir-data` does:
cordon (spec.unschedulable), list the node's pods (fieldSelector spec.nodeName), then POST a policy/v1
Eviction for each, so PodDisruptionBudgets are respected; a budget's refusal (429) is retried every few seconds
until a deadline, as kubectl retries every 5 s until --timeout.

What stays, and why (the plan and the result say so):
- DaemonSet pods: their controller would start them again on the node at once (kubectl --ignore-daemonsets);
- mirror (static) pods: the kubelet runs them from a file on the node; the API cannot remove them;
- pods with no controller: nothing would start them elsewhere, so an eviction loses them for good. kubectl
  refuses the whole drain without --force; here the rest is drained and these are named, with the command.
Pods with emptyDir volumes are evicted (their scratch data goes with them, as with --delete-emptydir-data):
an operator draining a node expects every replaceable pod to move. Finished pods (Succeeded, Failed) are
evicted whatever owns them, as kubectl deletes them.

A drain that leaves pods that should have moved (refused until the deadline, failed, or unmanaged) raises
DrainIncomplete after doing what it could: the CLI exits 1 and the audit's outcome says failed, with each
pod left and why (the budget's own words, naming it).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pilothouse.providers.base import Action, MutationPlan, Progress
from pilothouse.providers.errors import ProviderError
from pilothouse.providers.kubernetes.client import Connection
from pilothouse.providers.kubernetes.errors import translate_error
from pilothouse.providers.kubernetes.node_actions import cordon_patch, node_path
from pilothouse.providers.kubernetes.objects import _dict, _list, _str
from pilothouse.providers.model import Node

MIRROR_ANNOTATION = "kubernetes.io/config.mirror"
_BUDGET = re.compile(r"^The disruption budget (\S+) (.*)$")
PAGE = 500  # kubectl's page size


class DrainIncomplete(ProviderError):
    """The node is cordoned and some pods were evicted, but not all that should have moved."""


class Fate(StrEnum):
    EVICT = "evict"
    DAEMONSET = "DaemonSet"
    MIRROR = "mirror"
    UNMANAGED = "unmanaged"


@dataclass(frozen=True, slots=True)
class PodOnNode:
    namespace: str
    name: str
    fate: Fate
    empty_dir: bool = False

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.name}"


def classify(pod: Any) -> PodOnNode:
    meta, spec = _dict(_dict(pod).get("metadata")), _dict(_dict(pod).get("spec"))
    phase = _str(_dict(_dict(pod).get("status")).get("phase"))
    controller = next((_dict(ref) for ref in _list(meta.get("ownerReferences")) if _dict(ref).get("controller")),
                      None)
    empty_dir = any("emptyDir" in _dict(volume) for volume in _list(spec.get("volumes")))
    if MIRROR_ANNOTATION in _dict(meta.get("annotations")):
        fate = Fate.MIRROR
    elif controller is not None and controller.get("kind") == "DaemonSet":
        fate = Fate.DAEMONSET
    elif controller is None and phase not in ("Succeeded", "Failed"):
        fate = Fate.UNMANAGED
    else:
        fate = Fate.EVICT
    return PodOnNode(_str(meta.get("namespace")), _str(meta.get("name")), fate, empty_dir)


def pods_on(connection: Connection, node: str) -> list[PodOnNode]:
    """Every pod bound to `node`, in every namespace, page by page."""
    found: list[PodOnNode] = []
    token = ""
    while True:
        query: dict[str, Any] = {"fieldSelector": f"spec.nodeName={node}", "limit": PAGE}
        if token:
            query["continue"] = token
        page = _dict(connection.request("GET", "/api/v1/pods", query=query, doing=f"listing the pods on {node}"))
        found.extend(classify(item) for item in _list(page.get("items")))
        token = _str(_dict(page.get("metadata")).get("continue"))
        if not token:
            return sorted(found, key=lambda pod: pod.ref)


def _count(n: int, what: str) -> str:
    return f"{n} {what}" if n == 1 else f"{n} {what}s"


def staying(pods: list[PodOnNode]) -> list[str]:
    """What a drain leaves on the node, in the orchestrator's words."""
    by_fate = {fate: [pod for pod in pods if pod.fate is fate] for fate in Fate}
    notes = []
    for fate, what in ((Fate.DAEMONSET, "DaemonSet pod"), (Fate.MIRROR, "static pod")):
        if by_fate[fate]:
            n = len(by_fate[fate])
            notes.append(f"{_count(n, what)} {'stays' if n == 1 else 'stay'}")
    unmanaged = by_fate[Fate.UNMANAGED]
    if unmanaged:
        names = ", ".join(pod.ref for pod in unmanaged[:3]) + (", ..." if len(unmanaged) > 3 else "")
        them = "it" if len(unmanaged) == 1 else "them"
        notes.append(f"{_count(len(unmanaged), 'pod')} with no controller not evicted ({names}): nothing would "
                     f"recreate {them}; kubectl drain refuses {them} without --force")
    return notes


def plan_drain(connection: Connection, cluster: str, node: Node, *, timeout_s: float) -> MutationPlan:
    live = _dict(connection.request("GET", node_path(node.name), doing=f"reading node {node.name}"))
    cordoned = _dict(live.get("spec")).get("unschedulable") is True
    pods = pods_on(connection, node.name)
    evict = [pod for pod in pods if pod.fate is Fate.EVICT]
    notes = staying(pods)
    summary = f"{'cordoned' if cordoned else 'cordon'} {node.name}, evict {_count(len(evict), 'pod')}"
    if notes:
        summary += f" ({'; '.join(notes)})"
    emptied = sum(1 for pod in evict if pod.empty_dir)
    detail = (f"kubectl drain {node.name} --ignore-daemonsets --delete-emptydir-data: each pod is evicted through "
              f"the eviction API, so PodDisruptionBudgets hold; a budget's refusal is retried for up to "
              f"{timeout_s:g}s")
    if emptied:
        detail += f"; {_count(emptied, 'pod')} {'loses its' if emptied == 1 else 'lose their'} emptyDir data"
    return MutationPlan(
        action=Action.DRAIN, cluster=cluster, service_ref=node.name, service_id=node.name,
        before=f"{'SchedulingDisabled' if cordoned else 'schedulable'}, {_count(len(pods), 'pod')}",
        after=summary, detail=detail, payload={"cordoned": cordoned},
    )


@dataclass(frozen=True, slots=True)
class Refused:
    """An eviction not done: retry (a budget's 429) or not (any other answer)."""

    reason: str
    retry: bool


def _budget_reason(body: Any) -> str:
    """kube-apiserver's 429: "Cannot evict pod ..." with a cause naming the budget; in our words, the budget first."""
    try:
        status = _dict(json.loads(body))
    except (TypeError, ValueError):
        return "a PodDisruptionBudget refuses the eviction"
    for cause in _list(_dict(status.get("details")).get("causes")):
        message = _str(_dict(cause).get("message"))
        named = _BUDGET.match(message)
        if named:
            return f"PodDisruptionBudget {named.group(1)} {named.group(2)}"
        if message:
            return message
    return _str(status.get("message")) or "a PodDisruptionBudget refuses the eviction"


def evict_one(connection: Connection, pod: PodOnNode) -> Refused | None:
    """POST the Eviction kubectl sends; None when the pod is evicted (or already gone)."""
    body = {"kind": "Eviction", "apiVersion": "policy/v1",
            "metadata": {"name": pod.name, "namespace": pod.namespace}, "deleteOptions": {}}
    doing = f"evicting pod {pod.ref}"
    try:
        connection.request("POST", f"/api/v1/namespaces/{pod.namespace}/pods/{pod.name}/eviction", body=body,
                           content_type="application/json")
    except Exception as error:  # the client's own exception: its status and body say which refusal
        status = getattr(error, "status", None)
        if status == 404:
            return None  # gone meanwhile: nothing left to move
        if status == 429:
            return Refused(_budget_reason(getattr(error, "body", b"")), retry=True)
        # The message only: the translated hint speaks of retrying, which a drain does for budgets alone.
        return Refused(translate_error(error, doing, connection.endpoint).message, retry=False)
    return None


@dataclass
class Drain:
    """One drain's run: evictions with retries until the deadline, reported line by line. It stops between
    steps when its follower has gone (progress.stopped: the console is closing)."""

    connection: Connection
    plan: MutationPlan
    progress: Progress
    timeout_s: float
    retry_s: float
    sleep: Callable[[float], None] = time.sleep

    def run(self) -> str:
        name = self.plan.service_ref
        if self.plan.payload.get("cordoned") is not True:
            self.connection.request("PATCH", node_path(name), body=cordon_patch(True),
                                    content_type="application/strategic-merge-patch+json",
                                    doing=f"cordoning node {name}")
            self.progress.say(f"node {name} cordoned")
        pods = pods_on(self.connection, name)  # again: the plan's list may be minutes old
        todo = [pod for pod in pods if pod.fate is Fate.EVICT]
        left = self._evict(todo)
        notes = staying(pods)
        done = f"node {name} cordoned; {len(todo) - len(left)} of {_count(len(todo), 'pod')} evicted"
        unmanaged = [pod for pod in pods if pod.fate is Fate.UNMANAGED]
        if not left and not unmanaged:
            return done + (f" ({'; '.join(notes)})" if notes else "")
        why = [f"{ref} ({reason})" for ref, reason in left.items()]
        why += [f"{pod.ref} (no controller: nothing would recreate it; if it may go: kubectl delete pod "
                f"-n {pod.namespace} {pod.name})" for pod in unmanaged]
        hint = "the node stays cordoned" + ("; drain again to evict the rest" if left else "")
        raise DrainIncomplete(f"drain of {name} incomplete: {done}; not evicted: {', '.join(why)}", hint)

    def _evict(self, todo: list[PodOnNode]) -> dict[str, str]:
        """Evict each pod, retrying budget refusals until the deadline; the pods left, with why."""
        deadline = time.monotonic() + self.timeout_s
        total, evicted = len(todo), 0
        left: dict[str, str] = {}
        pending = todo
        while pending and not self.progress.stopped():
            waiting: list[PodOnNode] = []
            for index, pod in enumerate(pending):
                if self.progress.stopped():
                    waiting.extend(pending[index:])
                    break
                refused = evict_one(self.connection, pod)
                if refused is None:
                    evicted += 1
                    left.pop(pod.ref, None)
                    self.progress.say(f"evicted pod {pod.ref} ({evicted} of {total})")
                    continue
                if refused.retry and pod.ref not in left:
                    remaining = deadline - time.monotonic()
                    then = (f"retrying every {self.retry_s:g}s for up to {remaining:.0f}s" if remaining >= self.retry_s
                            else f"no time left to retry (drain_timeout {self.timeout_s:g}s)")
                    self.progress.say(f"pod {pod.ref} not evicted yet: {refused.reason}; {then}")
                elif not refused.retry:
                    self.progress.say(f"pod {pod.ref} not evicted: {refused.reason}")
                left[pod.ref] = refused.reason
                if refused.retry:
                    waiting.append(pod)
            pending = waiting
            if not pending or time.monotonic() + self.retry_s > deadline:
                break
            self._wait(self.retry_s)
        stopped = self.progress.stopped()
        for pod in pending:
            before = left.get(pod.ref)
            ending = "the drain was stopped" if stopped else f"still after {self.timeout_s:g}s"
            left[pod.ref] = f"{before}, {ending}" if before else f"not tried: {ending}"
        return left

    def _wait(self, seconds: float) -> None:
        """The pause before the next round of retries, cut short when the follower has gone."""
        end = time.monotonic() + seconds
        while not self.progress.stopped() and (remaining := end - time.monotonic()) > 0:
            self.sleep(min(remaining, 0.25))
