"""Exec into a Swarm task: on the engine of the node that runs it.

A manager cannot exec into a container on another node: `docker exec` talks to the engine that runs the
container. That engine is reached through the cluster's `node_engine` template (`ssh://ops@{node}`,
`unix:///run/engines/{node}.sock`, `tcp://{addr}:2376`; {node} is the node's hostname, {addr} its address),
or, for a task on the manager we are connected to, through our own connection. Otherwise the plan is refused
with the docker command to run on that node.

The session is the engine's exec API: create, start with the connection hijacked (a raw stream; multiplexed
stdout/stderr frames without a TTY), resize, then the exit code from the exec's inspect.
"""

from __future__ import annotations

import os
import select
import shlex
import struct
from collections.abc import Callable, Mapping, Sequence
from contextlib import nullcontext
from typing import Any

from pilothouse.providers.base import Action, MutationPlan
from pilothouse.providers.errors import InvalidInput, NotSupported
from pilothouse.providers.exec import (
    DEFAULT_SHELL,
    ExecStreams,
    command_text,
    following_size,
    raw_terminal,
    write_all,
)
from pilothouse.providers.model import Service
from pilothouse.providers.swarm import engines
from pilothouse.providers.swarm.raw import Raw, as_dict, as_str, opt_int

_CHUNK = 64 * 1024


def _task_name(service: Service, task: Raw) -> str:
    """As `docker service ps` names a task: web.2, or web.NODEID for a global service's."""
    slot = opt_int(task.get("Slot"))
    return f"{service.name}.{slot}" if slot else f"{service.name}.{as_str(task.get('NodeID'))}"


def _running(task: Raw) -> bool:
    status = as_dict(task.get("Status"))
    return (status.get("State") == "running" and task.get("DesiredState") == "running"
            and bool(as_str(as_dict(status.get("ContainerStatus")).get("ContainerID"))))


def _by_slot(service: Service, tasks: Sequence[Raw]) -> list[Raw]:
    return sorted((task for task in tasks if _running(task)),
                  key=lambda task: (opt_int(task.get("Slot")) or 0, _task_name(service, task)))


def _listing(service: Service, tasks: Sequence[Raw]) -> str:
    names = [f"{_task_name(service, task)} ({as_str(task.get('ID'))[:12]})" for task in _by_slot(service, tasks)]
    return f"its running tasks: {', '.join(names[:6])}" if names else f"{service.ref} has no running task"


def choose_task(service: Service, tasks: Sequence[Raw], wanted: str) -> Raw:
    """The running task `wanted` names (an ID prefix, web.2, or the full web.2.ID), else the first running
    one by slot. A task that exists but is not running is bad input with its state; none at all too."""
    running = _by_slot(service, tasks)
    if not wanted:
        if not running:
            raise NotSupported(f"{service.ref} has no running task to exec into",
                               f"see its tasks: docker service ps {service.name}")
        return running[0]

    def named(task: Raw) -> bool:
        task_id, name = as_str(task.get("ID")), _task_name(service, task)
        return wanted in (name, f"{name}.{task_id}") or (len(wanted) >= 3 and task_id.startswith(wanted))

    matches = [task for task in tasks if named(task)]
    live = [task for task in matches if _running(task)]
    if len(live) == 1:
        return live[0]
    if len(live) > 1:
        raise InvalidInput(f"{wanted!r} names {len(live)} running tasks of {service.ref}",
                           "give more of the task ID")
    if matches:
        state = as_str(as_dict(matches[0].get("Status")).get("State")) or "unknown"
        raise InvalidInput(f"task {wanted!r} of {service.ref} is not running (it is {state})",
                           _listing(service, tasks))
    raise InvalidInput(f"no task {wanted!r} in {service.ref}", _listing(service, tasks))


def engine_url(template: str, hostname: str, address: str) -> str:
    """The node's engine from the template (engines.engine_url); a placeholder the node cannot fill, or one
    the template should not have, is one line."""
    url = engines.engine_url(template, hostname, address)
    if not url:
        missing = "hostname" if "{node}" in template and not hostname else "address"
        raise NotSupported(f"node_engine {template!r} needs the node's {missing}, which the manager does not "
                           "report for this node")
    if "{" in url:
        raise InvalidInput(f"node_engine {template!r} has an unknown placeholder",
                           "use {node} (the node's hostname) and {addr} (its address)")
    return url


def docker_command(container_id: str, command: tuple[str, ...], tty: bool) -> str:
    """What to run on the node itself (the -it a shell needs, plain for a command)."""
    flags = ["-it"] if tty or not command else []
    return shlex.join(["docker", "exec", *flags, container_id, *(command or DEFAULT_SHELL)])


def plan_exec(cluster: str, service: Service, task: Raw, node: Raw, *, manager_node_id: str, template: str,
              container: str, command: tuple[str, ...], tty: bool) -> MutationPlan:
    """Which container and engine for the chosen task (choose_task); refused, with the docker command to
    paste, when no engine is known for its node."""
    status = as_dict(task.get("Status"))
    container_id = as_str(as_dict(status.get("ContainerStatus")).get("ContainerID"))
    full_task_id = as_str(task.get("ID"))
    container_name = f"{_task_name(service, task)}.{full_task_id}"
    if container and container not in (container_name, service.name) and not (
            len(container) >= 3 and container_id.startswith(container)):
        raise InvalidInput(f"task {_task_name(service, task)} has no container {container!r}",
                           f"a Swarm task runs one container, {container_name} ({container_id[:12]}): "
                           "leave --container out")
    node_id = as_str(task.get("NodeID"))
    hostname = as_str(as_dict(node.get("Description")).get("Hostname")) or node_id[:12]
    address = as_str(as_dict(node.get("Status")).get("Addr"))
    if address in ("0.0.0.0", "127.0.0.1"):
        address = ""
    where = f"task {_task_name(service, task)} ({full_task_id[:12]}) on node {hostname}, container {container_id[:12]}"
    if template:
        engine, through = engine_url(template, hostname, address), "node_engine"
    elif node_id and node_id == manager_node_id:
        engine, through = "", "the manager's own engine"
    else:
        paste = docker_command(container_id, command, tty)
        remote = f"; or from here: docker -H ssh://USER@{address} {paste.removeprefix('docker ')}" if address else ""
        raise NotSupported(
            f"exec on Swarm runs on the engine of node {hostname}, which runs {_task_name(service, task)}, and "
            f"cluster {cluster} has no node_engine",
            f"set node_engine (e.g. \"ssh://USER@{{node}}\"), or run on {hostname}: {paste}{remote}")
    return MutationPlan(
        Action.EXEC, cluster, service.ref, service.id, before=where, after=command_text(command),
        detail=f"through {engine or through}" if engine else f"through {through}",
        payload={"container_id": container_id, "node": hostname, "engine": engine,
                 "command": list(command or DEFAULT_SHELL), "tty": tty})


# -- the session ------------------------------------------------------------------------------------------


class Frames:
    """The engine's multiplexed stream without a TTY: 8-byte headers (stream 1 stdout, 2 stderr; big-endian
    size), then the payload. Fed bytes as they come, it gives (stream, bytes) pieces, never waiting for a
    whole frame."""

    def __init__(self) -> None:
        self._header = b""
        self._stream = 0
        self._left = 0

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        pieces: list[tuple[int, bytes]] = []
        while data:
            if self._left == 0:
                need = 8 - len(self._header)
                self._header += data[:need]
                data = data[need:]
                if len(self._header) < 8:
                    break
                self._stream, self._left = struct.unpack(">BxxxL", self._header)
                self._header = b""
                continue
            piece, data = data[:self._left], data[self._left:]
            self._left -= len(piece)
            pieces.append((self._stream, piece))
        return pieces


def _raw_socket(sock: Any) -> Any:
    """Something with recv/sendall/fileno: a unix or TCP response's socket.SocketIO wraps a socket; TLS
    sockets and paramiko channels have them already."""
    return getattr(sock, "_sock", sock)


def bridge(sock: Any, streams: ExecStreams, *, tty: bool, resize: Callable[[int, int], None] | None = None) -> None:
    """Bytes between the streams' fds and the engine's hijacked connection until the engine closes it.

    With a TTY the stream is raw both ways, our terminal is in raw mode and `resize(columns, rows)` is told
    its size at the start and after every SIGWINCH (from this loop, never from the signal handler); without
    one, stdin is not sent (a command, as `docker exec` without -i) and the frames go to stdout and stderr."""
    connection = _raw_socket(sock)
    frames = None if tty else Frames()
    sources: list[Any] = [connection]
    if tty:
        sources.append(streams.stdin)
    outputs = {1: streams.stdout, 2: streams.stderr}
    sizes: list[tuple[int, int]] = []
    following = following_size(streams, lambda columns, rows: sizes.append((columns, rows))) if tty and resize \
        else nullcontext()
    with following, raw_terminal(streams):
        while True:
            if sizes and resize is not None:
                columns, rows = sizes[-1]
                sizes.clear()
                resize(columns, rows)
            pending = getattr(connection, "pending", None)  # TLS keeps decrypted bytes select cannot see
            # A timeout: a resize signalled while select waits is sent within half a second.
            ready = [connection] if pending is not None and pending() else select.select(sources, [], [], 0.5)[0]
            if connection in ready:
                data = connection.recv(_CHUNK)
                if not data:
                    return
                if frames is None:
                    write_all(streams.stdout, data)
                else:
                    for stream, piece in frames.feed(data):
                        write_all(outputs.get(stream, streams.stdout), piece)
            if streams.stdin in ready:
                typed = os.read(streams.stdin, _CHUNK)
                if typed:
                    connection.sendall(typed)
                else:  # our input ended: the container's shell goes on until it exits
                    sources.remove(streams.stdin)


def exit_code(inspect: Mapping[str, Any]) -> int | None:
    """The exec's exit code once it has ended; None while it still runs."""
    if inspect.get("Running"):
        return None
    return opt_int(inspect.get("ExitCode"))
