"""A small HTTP/1.1 proxy that counts requests at the transport, for "N calls per refresh" tests.

It listens on a unix socket or a TCP port, forwards bytes unchanged to an upstream unix socket or TCP
address, and parses only the client's side far enough to find request boundaries (request line, headers,
Content-Length or chunked body). Responses are copied back raw, so streams (Docker /events) work too.
`fail`, when set, is asked about each request ("GET /v1.41/tasks"): a status it returns is answered by
the proxy itself (a JSON error, as the engine writes them) and the request never reaches the upstream.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

Address = str | tuple[str, int]  # a unix socket path, or (host, port)


def _connect(address: Address) -> socket.socket:
    if isinstance(address, str):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    else:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.connect(address)
    return sock


@dataclass
class CountingProxy:
    upstream: Address
    listen: Address
    requests: list[str] = field(default_factory=list)  # "GET /v1.41/services?status=true", in order
    fail: Callable[[str], int | None] | None = None
    failed: int = 0  # requests answered by `fail`

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._server: socket.socket | None = None
        self._threads: list[threading.Thread] = []
        self._sockets: list[socket.socket] = []

    # -- public ---------------------------------------------------------------------------------------

    def start(self) -> CountingProxy:
        if isinstance(self.listen, str):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.listen)
            server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        else:
            server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(self.listen)
        if not isinstance(self.listen, str):
            self.listen = server.getsockname()[:2]
        server.listen(64)
        self._server = server
        self._spawn(self._accept_loop)
        return self

    @property
    def url(self) -> str:
        if isinstance(self.listen, str):
            return f"unix://{self.listen}"
        return f"tcp://{self.listen[0]}:{self.listen[1]}"

    def count(self) -> int:
        with self._lock:
            return len(self.requests)

    def taken(self) -> list[str]:
        """The requests seen so far, and start counting afresh."""
        with self._lock:
            seen, self.requests = self.requests, []
        return seen

    def close(self) -> None:
        self._stop.set()
        if self._server is not None:
            with contextlib.suppress(OSError):
                self._server.close()
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()
        if isinstance(self.listen, str):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.listen)

    def __enter__(self) -> CountingProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals ------------------------------------------------------------------------------------

    def _spawn(self, target: object, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)  # type: ignore[arg-type]
        thread.start()
        self._threads.append(thread)

    def _accept_loop(self) -> None:
        assert self._server is not None
        while not self._stop.is_set():
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            try:
                upstream = _connect(self.upstream)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets += [client, upstream]
            self._spawn(self._client_to_upstream, client, upstream)
            self._spawn(self._copy, upstream, client)

    def _copy(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                sink.shutdown(socket.SHUT_WR)

    def _client_to_upstream(self, client: socket.socket, upstream: socket.socket) -> None:
        """Forward every byte, recording each request line as its head goes by."""
        buffer = b""
        body_left = 0  # bytes of a Content-Length body still to pass
        chunked = False
        try:
            while True:
                chunk = client.recv(65536)
                if not chunk:
                    break
                answered = False  # a request in this chunk was answered by `fail`: nothing goes upstream
                buffer += chunk
                while buffer:
                    if body_left:
                        taken = min(body_left, len(buffer))
                        buffer, body_left = buffer[taken:], body_left - taken
                        continue
                    if chunked:
                        # A chunked body ends with a zero-size chunk; requests to Docker rarely use it.
                        end = buffer.find(b"\r\n0\r\n\r\n")
                        if end < 0 and not buffer.startswith(b"0\r\n\r\n"):
                            buffer = buffer[-8:]
                            break
                        buffer = buffer[end + 7:] if end >= 0 else buffer[5:]
                        chunked = False
                        continue
                    head_end = buffer.find(b"\r\n\r\n")
                    if head_end < 0:
                        break
                    head, buffer = buffer[:head_end].decode("latin-1"), buffer[head_end + 4:]
                    lines = head.split("\r\n")
                    request = " ".join(lines[0].split(" ")[:2])
                    with self._lock:
                        self.requests.append(request)
                    status = self.fail(request) if self.fail is not None else None
                    if status is not None:
                        # Bodiless GETs, one at a time per connection (docker-py): answered here, not sent on.
                        with self._lock:
                            self.failed += 1
                        body = json.dumps({"message": f"injected by the test ({status})"}).encode()
                        client.sendall(f"HTTP/1.1 {status} Injected\r\nContent-Type: application/json\r\n"
                                       f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
                        answered = True
                        continue
                    headers = {
                        name.strip().lower(): value.strip()
                        for name, _, value in (line.partition(":") for line in lines[1:])
                    }
                    body_left = int(headers.get("content-length", "0") or 0)
                    chunked = "chunked" in headers.get("transfer-encoding", "").lower()
                # Recorded before it is forwarded: once the client holds the answer, the count is complete.
                if not answered:
                    upstream.sendall(chunk)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                upstream.shutdown(socket.SHUT_WR)
