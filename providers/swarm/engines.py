"""What Swarm tasks really run, read from each node's own engine: the doctor's slow path for image drift.

A manager records the image a task was given, not what the node pulled: a tag it did not resolve to a digest
(`--no-resolve-image`, or a registry it could not reach) is pulled by each node on its own, and two nodes may
hold two images under it. Only the node's engine knows: container inspect gives the image id, image inspect
its RepoDigests. The engine is reached through the cluster's `node_engine` template (`ssh://ops@{node}`,
`unix:///run/engines/{node}.sock`; {node} the node's hostname, {addr} its address).

Read only when the doctor asks (Provider.doctor_look): never on a refresh. A look lists the running tasks
again, whole (a snapshot keeps them compacted, without container ids), then asks the engines. Bounded: by
the look's deadline (each engine's timeout shrinks to what is left), at most MAX_CONTAINERS containers a
look, and only tasks of services whose spec leaves the tag unpinned (a pinned digest is what every node
runs). Answers are kept per task (a task's container never changes image) and shown by every later snapshot
at no cost. A task the look could not tell (its engine unreachable, no hostname or address for the template,
out of time, beyond the bound) keeps why, in the words of completeness.reason_of, until the next look
(Task.unread): the weaker finding names those nodes instead of falling back to it in silence.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from pilothouse.providers.completeness import reason_of
from pilothouse.providers.errors import ProviderError
from pilothouse.providers.model import RunningImage, Task
from pilothouse.providers.swarm.client import API_TIMEOUT_S, new_client, resolve_endpoint
from pilothouse.providers.swarm.errors import translate_error
from pilothouse.providers.swarm.raw import Raw, as_dict, as_list, as_str
from pilothouse.providers.swarm.spec import display_image

if TYPE_CHECKING:
    from docker.api.client import APIClient

log = logging.getLogger(__name__)

MAX_CONTAINERS = 500
# A look reaches an engine only with this much time left: a connection needs at least a round trip or two.
MIN_LEFT_S = 0.5


def engine_url(template: str, hostname: str, address: str) -> str:
    """The node's engine from the template; "" when the node lacks what a placeholder needs."""
    if ("{node}" in template and not hostname) or ("{addr}" in template and not address):
        return ""
    return template.replace("{node}", hostname).replace("{addr}", address)


def _unpinned_image(task: Raw) -> str:
    image = as_str(as_dict(as_dict(task.get("Spec")).get("ContainerSpec")).get("Image"))
    return "" if "@" in image else image


def _running_container(task: Raw) -> str:
    status = as_dict(task.get("Status"))
    if as_str(status.get("State")) != "running" or as_str(task.get("DesiredState")) != "running":
        return ""
    return as_str(as_dict(status.get("ContainerStatus")).get("ContainerID"))


def _repository(reference: str) -> str:
    last = reference.rsplit("/", 1)[-1]
    return reference.rsplit(":", 1)[0] if ":" in last else reference


class EngineImages:
    """task id -> what its container runs, as its node's engine says."""

    def __init__(self) -> None:
        self._known: dict[str, RunningImage] = {}
        # task id -> why its node's engine could not be read on the last look (shown by the weaker finding).
        self._unread: dict[str, str] = {}

    def look(self, template: str, tasks: Iterable[Any], nodes: Iterable[Any], deadline: float) -> None:
        """Ask each node's engine about the running containers of unpinned tasks not yet known, by `deadline`."""
        listed = [as_dict(task) for task in tasks]
        by_node: dict[str, list[tuple[str, str, str]]] = {}
        beyond: list[tuple[str, str, str]] = []
        wanted = 0
        for task in listed:
            task_id, image, container = as_str(task.get("ID")), _unpinned_image(task), _running_container(task)
            if not image or not container or task_id in self._known:
                continue
            if wanted >= MAX_CONTAINERS:
                beyond.append((task_id, container, image))
                continue
            by_node.setdefault(as_str(task.get("NodeID")), []).append((task_id, container, image))
            wanted += 1
        described = {as_str(as_dict(node).get("ID")): as_dict(node) for node in nodes}
        self._unread = {}
        self._note_unread(beyond, f"not asked: a look reads at most {MAX_CONTAINERS} containers")
        for node_id, containers in by_node.items():
            node = described.get(node_id, {})
            hostname = as_str(as_dict(node.get("Description")).get("Hostname"))
            address = as_str(as_dict(node.get("Status")).get("Addr"))
            url = engine_url(template, hostname, address)
            left = deadline - time.monotonic()
            if not url:
                self._note_unread(containers, "node_engine needs the node's hostname or address; it has none")
            elif left < MIN_LEFT_S:
                self._note_unread(containers, "the doctor's look ran out of time")
            else:
                self._ask(url, containers, min(float(API_TIMEOUT_S), left))

    def _note_unread(self, containers: list[tuple[str, str, str]], reason: str) -> None:
        for task_id, _container, _image in containers:
            if task_id not in self._known:
                self._unread[task_id] = reason

    def forget_except(self, task_ids: Iterable[str]) -> None:
        """Tasks no longer listed are forgotten: the cache holds the tasks of one fleet, not its history."""
        listed = set(task_ids)
        self._known = {task_id: image for task_id, image in self._known.items() if task_id in listed}
        self._unread = {task_id: reason for task_id, reason in self._unread.items() if task_id in listed}

    def _ask(self, url: str, containers: list[tuple[str, str, str]], timeout: float) -> None:
        try:
            client = new_client(resolve_endpoint(url, os.environ), timeout=max(1, int(timeout)))
        except Exception as error:  # an engine we cannot reach leaves its tasks to the weaker finding, which says so
            log.warning("node engine %s: %s", url, error)
            self._note_unread(containers, _reason(error, url))
            return
        try:
            repo_digests: dict[str, list[str]] = {}
            for task_id, container, image in containers:
                known = self._inspect(client, container, image, repo_digests)
                if known is not None:
                    self._known[task_id] = known
        except Exception as error:
            log.warning("node engine %s: %s", url, error)
            self._note_unread(containers, _reason(error, url))
        finally:
            client.close()

    @staticmethod
    def _inspect(client: APIClient, container: str, image: str,
                 repo_digests: dict[str, list[str]]) -> RunningImage | None:
        image_id = as_str(as_dict(client.inspect_container(container)).get("Image"))
        if not image_id:
            return None
        if image_id not in repo_digests:
            digests = as_list(as_dict(client.inspect_image(image_id)).get("RepoDigests"))
            repo_digests[image_id] = [digest for digest in digests if isinstance(digest, str)]
        reference = display_image(image)
        repository = _repository(reference)
        # A repository digest of this repository is what `image@sha256:...` pulls; else the engine's own id.
        pullable = next((d for d in repo_digests[image_id] if d.split("@", 1)[0] == repository), "")
        return RunningImage.of(reference, pullable or f"engine://{image_id}")

    def apply(self, tasks: Iterable[Task]) -> None:
        for task in tasks:
            known = self._known.get(task.id)
            if known is not None:
                task.images = (known,)
            else:
                task.unread = self._unread.get(task.id, "")

    def known(self) -> Mapping[str, RunningImage]:
        return self._known

    def unread(self) -> Mapping[str, str]:
        return self._unread


def _reason(error: Exception, url: str) -> str:
    """One short line, in the words every gap uses (completeness.reason_of): "nothing answers at unix://..."."""
    typed = error if isinstance(error, ProviderError) else translate_error(error, url)
    return reason_of(typed, "the engine")
