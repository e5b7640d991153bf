"""The pods/exec subresource of the API test server: a real websocket upgrade speaking the remote command
channel protocols, the command run for real as a local subprocess (on a pty when tty=true).

What a kube-apiserver (and the kubelet behind it) does, written from the Kubernetes docs and code:
- GET (websocket) or POST .../pods/NAME/exec?command=..&command=..&container=C&stdin=&stdout=&stderr=&tty=
  is the verb `create` on `pods/exec`; a pod that is missing is 404, a container the pod does not have, or
  none named when it has several, is 400; a pod that has completed is 400.
- The subprotocol is the first of the client's Sec-WebSocket-Protocol list that the server speaks:
  v5.channel.k8s.io, v4.channel.k8s.io or channel.k8s.io. Each binary message is one channel byte then data:
  0 stdin (client -> server), 1 stdout, 2 stderr, 3 error (the exit Status), 4 resize (client -> server, JSON
  {"Width": W, "Height": H}). v5 adds a close signal: 255 then the channel (the client closes stdin).
- Once upgraded, an empty message on the lowest writable channel tells the client the streams are ready.
- At the end, channel 3 carries a metav1.Status (v4 and v5): {"status": "Success"} or status Failure with
  reason NonZeroExitCode and a cause ExitCode whose message is the code; channel.k8s.io carries the error
  text only. Then a close frame.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import json
import os
import struct
import subprocess
import termios
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, BinaryIO

WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
# In the server's own order; the client's order decides which one is spoken (as golang.org/x/net/websocket).
PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io", "channel.k8s.io")
STDIN, STDOUT, STDERR, ERROR, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255
OP_CONTINUATION, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA

Obj = dict[str, Any]


@dataclass
class ExecSession:
    """What one exec asked for and what happened, for tests to look at."""

    namespace: str
    pod: str
    container: str
    command: list[str]
    tty: bool
    stdin: bool
    protocol: str = ""
    sizes: list[tuple[int, int]] = field(default_factory=list)  # (width, height) per resize message
    stdin_closed: bool = False  # the v5 close signal for stdin arrived
    exit_code: int | None = None
    done: threading.Event = field(default_factory=threading.Event)


class ExecRefused(Exception):
    """Answered as a Status before any upgrade."""

    def __init__(self, code: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.code, self.reason = code, reason


def choose_container(pod: Obj, name: str) -> str:
    """The container an exec runs in, as the API server decides (init and ephemeral ones are not offered)."""
    meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
    names = [str(c.get("name", "")) for c in spec.get("containers") or []]
    pod_name = meta.get("name", "")
    phase = (pod.get("status") or {}).get("phase", "")
    if phase in ("Succeeded", "Failed"):
        raise ExecRefused(400, "BadRequest",
                          f"cannot exec into a container in a completed pod; current phase is {phase}")
    if not name:
        if len(names) == 1:
            return names[0]
        raise ExecRefused(400, "BadRequest", f"a container name must be specified for pod {pod_name}, "
                                             f"choose one of: [{' '.join(names)}]")
    if name not in names:
        raise ExecRefused(400, "BadRequest", f"container {name} is not valid for pod {pod_name}")
    return name


def accept_key(key: str) -> str:
    return base64.b64encode(hashlib.sha1((key + WEBSOCKET_GUID).encode()).digest()).decode()


def negotiate(offered: str) -> str | None:
    """The first protocol the client offers that the server speaks; "" (none offered) means channel.k8s.io."""
    wanted = [p.strip() for p in offered.split(",") if p.strip()]
    if not wanted:
        return "channel.k8s.io"
    return next((p for p in wanted if p in PROTOCOLS), None)


class WebSocket:
    """The server side of one websocket connection (RFC 6455): masked frames in, unmasked frames out."""

    def __init__(self, reader: BinaryIO, send: Callable[[bytes], None]) -> None:
        self._reader, self._send = reader, send
        self._lock = threading.Lock()
        self.closed = False

    def send(self, opcode: int, payload: bytes) -> None:
        length = len(payload)
        if length < 126:
            header = struct.pack("!BB", 0x80 | opcode, length)
        elif length < 2**16:
            header = struct.pack("!BBH", 0x80 | opcode, 126, length)
        else:
            header = struct.pack("!BBQ", 0x80 | opcode, 127, length)
        with self._lock:
            if self.closed:
                return
            with contextlib.suppress(OSError):
                self._send(header + payload)
            if opcode == OP_CLOSE:
                self.closed = True

    def channel(self, number: int, data: bytes) -> None:
        self.send(OP_BINARY, bytes([number]) + data)

    def _exactly(self, count: int) -> bytes:
        data = self._reader.read(count) if count else b""
        if len(data) != count:
            raise EOFError
        return data

    def receive(self) -> tuple[int, bytes]:
        """The next whole message (fragments joined; pings answered here). EOFError when the peer is gone."""
        message, kind = bytearray(), OP_BINARY
        while True:
            first, second = self._exactly(2)
            opcode, length = first & 0x0F, second & 0x7F
            if length == 126:
                length = struct.unpack("!H", self._exactly(2))[0]
            elif length == 127:
                length = struct.unpack("!Q", self._exactly(8))[0]
            mask = self._exactly(4) if second & 0x80 else b""
            payload = bytearray(self._exactly(length))
            if mask:
                for index in range(length):
                    payload[index] ^= mask[index % 4]
            if opcode == OP_PING:
                self.send(OP_PONG, bytes(payload))
                continue
            if opcode == OP_PONG:
                continue
            if opcode == OP_CLOSE:
                return OP_CLOSE, bytes(payload)
            if opcode != OP_CONTINUATION:
                kind = opcode
            message.extend(payload)
            if first & 0x80:
                return kind, bytes(message)


def exit_status(protocol: str, command: list[str], code: int | None, failure: str = "") -> bytes:
    """What channel 3 carries at the end: a metav1.Status (v4, v5) or the error text (channel.k8s.io)."""
    if failure:
        message = f"Internal error occurred: error executing command in container: {failure}"
        status: Obj = {"metadata": {}, "status": "Failure", "message": message, "reason": "InternalError",
                       "details": {"causes": [{"message": failure}]}, "code": 500}
    elif code == 0:
        status = {"metadata": {}, "status": "Success"}
    else:
        message = (f"command terminated with non-zero exit code: error executing command "
                   f"[{' '.join(command)}], exit code {code}")
        status = {"metadata": {}, "status": "Failure", "message": message, "reason": "NonZeroExitCode",
                  "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]}}
    if protocol == "channel.k8s.io":
        return b"" if status["status"] == "Success" else str(status["message"]).encode()
    return json.dumps(status).encode()


def _controlling_tty() -> None:  # runs in the child, after setsid: the pty becomes its terminal
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class ExecRunner:
    """Runs one session's command and pumps bytes between it and the websocket until it exits."""

    def __init__(self, socket: WebSocket, session: ExecSession, stdout: bool, stderr: bool) -> None:
        self.ws, self.session = socket, session
        self.want_stdout, self.want_stderr = stdout, stderr
        self.process: subprocess.Popen[bytes] | None = None
        self.master = -1
        self.stdin_pipe: BinaryIO | None = None

    def start(self) -> str:
        """Start the command; returns a failure text when it cannot start (as the runtime words it)."""
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": "/root",
               "HOSTNAME": self.session.pod, "TERM": "xterm" if self.session.tty else "dumb"}
        try:
            if self.session.tty:
                self.master, slave = os.openpty()
                try:
                    self.process = subprocess.Popen(
                        self.session.command, stdin=slave, stdout=slave, stderr=slave, env=env,
                        start_new_session=True, preexec_fn=_controlling_tty, close_fds=True)
                finally:
                    os.close(slave)
            else:
                self.process = subprocess.Popen(
                    self.session.command, env=env, start_new_session=True,
                    stdin=subprocess.PIPE if self.session.stdin else subprocess.DEVNULL,
                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                self.stdin_pipe = self.process.stdin  # type: ignore[assignment]
        except (FileNotFoundError, PermissionError) as error:
            # runc's words, which containerd passes on.
            why = "executable file not found in $PATH" if isinstance(error, FileNotFoundError) else error.strerror
            return (f'OCI runtime exec failed: exec failed: unable to start container process: exec: '
                    f'"{self.session.command[0] if self.session.command else ""}": {why}: unknown')
        return ""

    def pumps(self) -> list[threading.Thread]:
        process = self.process
        assert process is not None
        if self.session.tty:
            sources = [(self.master, STDOUT)]
        else:
            assert process.stdout is not None and process.stderr is not None
            sources = [(process.stdout.fileno(), STDOUT), (process.stderr.fileno(), STDERR)]
        threads = [threading.Thread(target=self._pump, args=source, daemon=True) for source in sources]
        for thread in threads:
            thread.start()
        return threads

    def _pump(self, fd: int, channel: int) -> None:
        wanted = self.want_stdout if channel == STDOUT else self.want_stderr
        while True:
            try:
                data = os.read(fd, 32768)
            except OSError:  # EIO: the pty's last writer has gone
                return
            if not data:
                return
            if wanted:
                self.ws.channel(channel, data)

    def resize(self, width: int, height: int) -> None:
        self.session.sizes.append((width, height))
        if self.master >= 0:
            fcntl.ioctl(self.master, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))

    def write_stdin(self, data: bytes) -> None:
        with contextlib.suppress(OSError, ValueError):
            if self.master >= 0:
                os.write(self.master, data)
            elif self.stdin_pipe is not None:
                self.stdin_pipe.write(data)
                self.stdin_pipe.flush()

    def close_stdin(self) -> None:
        self.session.stdin_closed = True
        if self.stdin_pipe is not None:
            with contextlib.suppress(OSError, ValueError):
                self.stdin_pipe.close()

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(OSError):
                os.killpg(self.process.pid, 9)


def run_session(ws: WebSocket, session: ExecSession, *, stdout: bool, stderr: bool,
                register: Callable[[ExecRunner], None]) -> None:
    """The whole session after the upgrade: start, pump, read the client, send the exit Status, close."""
    runner = ExecRunner(ws, session, stdout, stderr)
    register(runner)
    # The kubelet's "ready" signal: an empty message on the lowest writable channel.
    ws.channel(STDOUT if stdout else STDERR if stderr else ERROR, b"")
    failure = runner.start()
    reader = threading.Thread(target=_read_client, args=(ws, runner), daemon=True)
    reader.start()
    if not failure:
        for pump in runner.pumps():
            pump.join()
        assert runner.process is not None
        code = runner.process.wait()
        session.exit_code = code if code >= 0 else 128 - code  # killed by a signal: the shell's convention
        if runner.master >= 0:
            os.close(runner.master)
    ws.channel(ERROR, exit_status(session.protocol, session.command, session.exit_code, failure))
    ws.send(OP_CLOSE, struct.pack("!H", 1000))
    session.done.set()


def _read_client(ws: WebSocket, runner: ExecRunner) -> None:
    base64_codec = False  # only binary protocols are offered
    while True:
        try:
            opcode, message = ws.receive()
        except (EOFError, OSError, ValueError):
            runner.kill()
            return
        if opcode == OP_CLOSE:
            ws.send(OP_CLOSE, message[:2] or struct.pack("!H", 1000))
            runner.kill()
            return
        if not message or base64_codec:
            continue
        channel, data = message[0], message[1:]
        if channel == STDIN:
            runner.write_stdin(data)
        elif channel == RESIZE:
            with contextlib.suppress(ValueError, TypeError, KeyError):
                size = json.loads(data)
                runner.resize(int(size["Width"]), int(size["Height"]))
        elif channel == CLOSE and runner.session.protocol == "v5.channel.k8s.io" and data[:1] == bytes([STDIN]):
            runner.close_stdin()


def serve_exec(handler: Any, namespace: str, name: str, raw_query: str) -> None:
    """Answer one exec request on `handler` (the API server's BaseHTTPRequestHandler): refuse it with a
    Status, or upgrade and run the session to its end. Sessions are kept in handler.server.state."""
    from urllib.parse import parse_qs

    state = handler.server.state
    query = parse_qs(raw_query, keep_blank_values=True)

    def flag(key: str) -> bool:
        return query.get(key, [""])[-1].lower() in ("true", "1", "t")

    command = query.get("command", [])
    with state.cond:
        found = state.objects["pods"].get((namespace, name))
        pod = json.loads(json.dumps(found)) if found is not None else None
    try:
        if pod is None:
            raise ExecRefused(404, "NotFound", f'pods "{name}" not found')
        container = choose_container(pod, query.get("container", [""])[-1])
        if not command:
            raise ExecRefused(400, "BadRequest", "you must specify at least 1 command")
        if not (flag("stdin") or flag("stdout") or flag("stderr")):
            raise ExecRefused(400, "BadRequest", "you must specify at least one of stdin, stdout, stderr")
        if handler.headers.get("Upgrade", "").lower() != "websocket":
            # SPDY/3.1 (kubectl's fallback) is not spoken here: a client must come by websocket.
            raise ExecRefused(400, "BadRequest", "Upgrade request required (this server speaks websocket only)")
        protocol = negotiate(handler.headers.get("Sec-WebSocket-Protocol", ""))
        if protocol is None:
            raise ExecRefused(400, "BadRequest", "requested protocol(s) are not supported: "
                                                 f"{handler.headers.get('Sec-WebSocket-Protocol')}; "
                                                 f"supports {list(PROTOCOLS)}")
    except ExecRefused as refused:
        handler.close_connection = True
        handler._status(refused.code, refused.reason, str(refused))
        return
    session = ExecSession(namespace, name, container, command, tty=flag("tty"), stdin=flag("stdin"),
                          protocol=protocol)
    with state.cond:
        state.exec_sessions.append(session)
    handler.close_connection = True
    handler.send_response(101, "Switching Protocols")
    handler.send_header("Upgrade", "websocket")
    handler.send_header("Connection", "Upgrade")
    handler.send_header("Sec-WebSocket-Accept", accept_key(handler.headers.get("Sec-WebSocket-Key", "")))
    if handler.headers.get("Sec-WebSocket-Protocol"):
        handler.send_header("Sec-WebSocket-Protocol", protocol)
    handler.end_headers()
    handler.wfile.flush()

    def register(runner: ExecRunner) -> None:
        with state.cond:
            state.exec_runners.append(runner)

    socket = WebSocket(handler.rfile, handler.connection.sendall)
    run_session(socket, session, stdout=flag("stdout"), stderr=flag("stderr"), register=register)
