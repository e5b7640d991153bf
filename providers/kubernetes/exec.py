"""Exec into a pod's container through the pods/exec subresource (what `kubectl exec` does).

plan_exec reads the live pod (one GET, nothing mutating) and picks what kubectl would: the pod named, or the
first Running one of the workload; the container named, the pod's only one, or the one its
`kubectl.kubernetes.io/default-container` annotation names (several and none named is bad input listing
them). Init and ephemeral containers are never picked.

run_exec opens the websocket with the official client's stream support (kubernetes.stream, channel
protocol v5.channel.k8s.io or v4) on an ApiClient of its own (stream() swaps the client's request method
while it connects, which must not touch the reflectors' shared client), then bridges the streams' file
descriptors byte for byte: stdin to channel 0 (v5 closes it at EOF), channels 1 and 2 to stdout and stderr,
the terminal size on channel 4 at the start and on every SIGWINCH (providers/exec.following_size), and the
exit code from the Status on channel 3. The session's bytes are the user's own terminal session (as with
kubectl): never logged.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
from typing import Any

from pilothouse.providers.base import Action, MutationPlan
from pilothouse.providers.errors import (
    ConnectionRefused,
    CredentialsError,
    Forbidden,
    InvalidInput,
    NotFound,
    ProviderError,
)
from pilothouse.providers.exec import (
    DEFAULT_SHELL,
    ExecStreams,
    command_text,
    following_size,
    one_of,
    raw_terminal,
)
from pilothouse.providers.kubernetes.client import Connection, Request
from pilothouse.providers.kubernetes.errors import _status_message, translate_error
from pilothouse.providers.kubernetes.objects import PODS, Obj, _dict, _list, _str, collection_path, meta_of
from pilothouse.providers.model import Service, TaskState

DEFAULT_CONTAINER = "kubectl.kubernetes.io/default-container"
STDIN, STDOUT, STDERR, ERROR, RESIZE = 0, 1, 2, 3, 4
READ_CHUNK = 32768


def refusal(service: Service) -> str | None:
    """Why no pod of `service` can take an exec now, from the snapshot alone (pure: the UI asks it)."""
    if service.tasks_known and not any(task.state is TaskState.RUNNING for task in service.tasks):
        return f"{service.ref} has no running pod to exec into"
    return None


def _pod_names(service: Service, task_id: str) -> list[str]:
    """The pods to try, in order: the one `task_id` names ("POD" or "NAMESPACE/POD", as Task.id), else the
    workload's running pods first."""
    pods = [task.id.rpartition("/")[2] for task in service.tasks]
    text = task_id.strip()
    if text:
        name = text.rpartition("/")[2] if text.startswith(f"{service.namespace}/") else text
        if "/" in name or not name:
            raise InvalidInput(f"--task {task_id!r} is not POD or NAMESPACE/POD")
        return [one_of(pods, name, "pod", service.ref)]
    running = [task.id.rpartition("/")[2] for task in service.tasks if task.state is TaskState.RUNNING]
    if not running:
        raise NotFound(f"{service.ref} has no running pod to exec into",
                       f"see why: pilothouse events --service {service.ref}")
    return running


def pick_container(pod: Obj, container: str) -> str:
    """The container to run in, as kubectl picks it (regular containers only)."""
    name = _str(meta_of(pod).get("name"))
    names = [_str(_dict(c).get("name")) for c in _list(_dict(pod.get("spec")).get("containers"))]
    names = [n for n in names if n]
    if container:
        if container not in names:
            raise InvalidInput(f"pod {name} has no container {container!r}",
                               f"its containers: {', '.join(names) or 'none'}")
        return container
    if len(names) == 1:
        return names[0]
    default = _str(_dict(meta_of(pod).get("annotations")).get(DEFAULT_CONTAINER))
    if default in names:
        return default
    raise InvalidInput(f"pod {name} has {len(names)} containers: {', '.join(names)}",
                       "choose one with --container NAME")


def _running_reason(pod: Obj, container: str) -> str:
    """Why `container` of `pod` cannot take an exec now ("" = it can)."""
    meta, status = meta_of(pod), _dict(pod.get("status"))
    if meta.get("deletionTimestamp"):
        return "is being deleted"
    phase = _str(status.get("phase"))
    if phase != "Running":
        return f"is {phase or 'not running'}"
    for entry in map(_dict, _list(status.get("containerStatuses"))):
        if _str(entry.get("name")) == container:
            state = _dict(entry.get("state"))
            if "running" not in state:
                waiting = _dict(state.get("waiting"))
                return f"has container {container} {_str(waiting.get('reason')) or 'not running'}"
    return ""


def plan_exec(request: Request, cluster: str, service: Service, namespace: str, *, task_id: str,
              container: str, command: tuple[str, ...], tty: bool) -> MutationPlan:
    if not all(isinstance(part, str) for part in command):
        raise InvalidInput("the command must be a list of words")
    explicit = bool(task_id.strip())
    reasons: list[str] = []
    for name in _pod_names(service, task_id):
        pod = _dict(request("GET", f"{collection_path(PODS, namespace)}/{name}", doing=f"reading pod {name}"))
        chosen = pick_container(pod, container)
        reason = _running_reason(pod, chosen)
        if reason:
            if explicit:
                raise InvalidInput(f"pod {name} {reason}: cannot exec into it", "pick a running pod with --task")
            reasons.append(f"{name} {reason}")
            continue
        node = _str(_dict(pod.get("spec")).get("nodeName")) or "?"
        words = list(command or DEFAULT_SHELL)
        return MutationPlan(
            Action.EXEC, cluster, service.ref, service.id,
            before=f"pod {name} on node {node}, container {chosen}",
            after=command_text(command),
            detail=f"kubectl exec -n {namespace} {name} -c {chosen}{' -it' if tty else ''} -- {command_text(command)}",
            payload={"namespace": namespace, "pod": name, "container": chosen, "command": words, "tty": tty},
        )
    raise NotFound(f"{service.ref} has no running pod to exec into", "; ".join(reasons[:3]))


def exec_error(error: BaseException, doing: str, endpoint: str, namespace: str) -> ProviderError:
    """A failed websocket upgrade as a typed error. The client wraps the handshake's failure in an
    ApiException with status 0; the websocket library's own exception (status code, body) is its context."""
    cause: BaseException | None = error
    while cause is not None:
        status = getattr(cause, "status_code", None)
        if isinstance(status, int):
            body = getattr(cause, "resp_body", b"") or b""
            message = _status_message(body) or f"HTTP {status}"
            if status == 403:
                return Forbidden(f"{doing}: {message}",
                                 f"exec needs RBAC permission to create pods/exec in namespace {namespace} "
                                 f"(kubectl auth can-i create pods/exec -n {namespace})")
            if status == 404:
                return NotFound(f"{doing}: {message}", "the pod is gone; refresh and pick another")
            if status == 401:
                return CredentialsError(f"{doing}: {message}", f"the credentials for {endpoint} were refused; "
                                                               "log in again")
            if status in (400, 422):
                return InvalidInput(f"{doing}: {message}")
            return ProviderError(f"{doing}: {message} (HTTP {status})")
        if isinstance(cause, ConnectionRefusedError):
            return ConnectionRefused(f"{doing}: cannot reach {endpoint} (connection refused)",
                                     "check the cluster address in the kubeconfig")
        cause = cause.__cause__ or cause.__context__
    return translate_error(error, doing, endpoint)


def exit_code(raw: bytes, doing: str) -> int:
    """The command's exit code from the error channel's metav1.Status."""
    if not raw.strip():
        raise ProviderError(f"{doing}: the session ended without an exit status",
                            "the connection was cut; the command may still be running")
    try:
        status = _dict(json.loads(raw))
    except ValueError:
        raise ProviderError(f"{doing}: {raw.decode('utf-8', 'replace').strip()[:200]}") from None
    if _str(status.get("status")) == "Success":
        return 0
    if _str(status.get("reason")) == "NonZeroExitCode":
        for cause in map(_dict, _list(_dict(status.get("details")).get("causes"))):
            if _str(cause.get("reason")) == "ExitCode":
                with contextlib.suppress(ValueError):
                    return int(_str(cause.get("message")))
    raise ProviderError(f"{doing}: {_str(status.get('message')) or 'failed'}")


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _send_size(ws: Any, size: tuple[int, int]) -> None:
    ws.write_channel(RESIZE, json.dumps({"Width": size[0], "Height": size[1]}).encode())


def _receive(ws: Any, streams: ExecStreams, error: bytearray) -> bool:
    """Read one frame and deliver it: stdout and stderr to their descriptors, the error channel kept.
    False once the server has closed the session. (WSClient's read_channel would read a further frame into
    its buffers whenever the channel asked for is empty, leaving output unshown until the next frame.)"""
    from websocket import ABNF

    opcode, frame = ws.sock.recv_data_frame(True)
    if opcode == ABNF.OPCODE_CLOSE:
        return False
    data = frame.data if isinstance(frame.data, bytes) else str(frame.data).encode()
    if opcode in (ABNF.OPCODE_BINARY, ABNF.OPCODE_TEXT) and data:
        channel, body = data[0], data[1:]
        if channel == STDOUT:
            _write_all(streams.stdout, body)
        elif channel == STDERR:
            _write_all(streams.stderr, body)
        elif channel == ERROR:
            error.extend(body)
    return True


def _bridge(ws: Any, streams: ExecStreams, forward_stdin: bool) -> bytes:
    """Pump until the server closes the session; returns what the error channel carried."""
    from websocket import WebSocketConnectionClosedException

    sock = ws.sock.sock
    error = bytearray()
    inputs: list[Any] = [sock, streams.stdin] if forward_stdin else [sock]
    sizes: list[tuple[int, int]] = []  # set by following_size (at once, then on SIGWINCH); sent from the loop,
    # never from the signal handler, which may interrupt a frame being written
    with following_size(streams, lambda columns, rows: sizes.append((columns, rows))):
        while True:
            if sizes:
                size = sizes[-1]
                sizes.clear()
                if streams.tty:
                    _send_size(ws, size)
            try:
                readable, _, _ = select.select(inputs, [], [], 0.5)
            except InterruptedError:
                continue
            try:
                # A TLS socket may hold decrypted frames that select() cannot see.
                incoming = sock in readable or (hasattr(sock, "pending") and sock.pending())
                if incoming and not _receive(ws, streams, error):
                    return bytes(error)
                if streams.stdin in readable:
                    data = os.read(streams.stdin, READ_CHUNK)
                    if data:
                        ws.write_channel(STDIN, data)
                    else:  # EOF: v5 tells the command; v4 has no way to, kubectl's behaviour too
                        ws.close_channel(STDIN)
                        inputs.remove(streams.stdin)
            except (WebSocketConnectionClosedException, ConnectionError):
                return bytes(error)


def run_exec(connection: Connection, plan: MutationPlan, streams: ExecStreams) -> int:
    from kubernetes import client
    from kubernetes.stream import stream

    payload = plan.payload
    namespace, pod, container = _str(payload.get("namespace")), _str(payload.get("pod")), _str(payload.get("container"))
    command = [_str(word) for word in _list(payload.get("command"))] or list(DEFAULT_SHELL)
    tty = bool(payload.get("tty")) and streams.tty
    # stdin goes to the command in a terminal session and when it is piped in; a terminal without a TTY
    # session (a script's command typed at a prompt) keeps it, as `kubectl exec` without -i.
    forward_stdin = tty or not os.isatty(streams.stdin)
    doing = f"exec in pod {namespace}/{pod} container {container}"
    api = client.ApiClient(connection.client().configuration)
    try:
        try:
            ws = stream(client.CoreV1Api(api).connect_get_namespaced_pod_exec, pod, namespace,
                        container=container, command=command, stdin=forward_stdin, stdout=True, stderr=not tty,
                        tty=tty, _preload_content=False, binary=True)
        except Exception as error:
            raise exec_error(error, doing, connection.endpoint, namespace) from None
        try:
            with raw_terminal(streams) if tty else contextlib.nullcontext():
                status = _bridge(ws, streams, forward_stdin)
            return exit_code(status, doing)
        finally:
            with contextlib.suppress(Exception):
                ws.close()
    finally:
        with contextlib.suppress(Exception):
            api.close()
