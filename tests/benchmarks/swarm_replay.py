"""An Engine API replay server: responses recorded on the real test swarm, scaled up (benchmark only, not CI).

- `record()` takes the swarm lock (/tmp/ph-swarm.lock, as every swarm test does), creates one template service
  on the test swarm, and lets the real SwarmProvider take a snapshot and the real docker CLI run `service ls` and
  `service ps` through tests/support/http_count_proxy.py, which notes every request they make. Each GET they
  made (and the few resources the replay is built from) is then read once more from the manager and kept,
  status, headers and body, in a JSON recording; the template service is removed.
- `ScaledSwarm` clones the recorded template service, its tasks and the worker nodes with new IDs, names,
  slots and nodes: 1,000 services / 10,000 running tasks on 30 nodes by default.
- `ReplayServer` answers over TCP what an Engine 1.41 swarm manager answers to the provider and the docker CLI:
  API version negotiation (/_ping, HEAD or GET, with its API-Version header; /version), /info, /swarm,
  /services[/{id|name}], /tasks[/{id}], /nodes[/{id|hostname}], /networks[/{id}], /images/{name}/json, and
  /events (a finite answer with `until`, else a stream held open until the client goes). The filters the
  provider and the CLI send are honoured: id and name prefixes, service (ID or name), node (ID or hostname),
  desired-state, role, label. Anything else is answered 404, as the engine does, and noted in `unknown`.
"""

from __future__ import annotations

import contextlib
import copy
import fcntl
import hashlib
import http.client
import json
import re
import select
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

TEMPLATE = "bench-replay-src"
IMAGE = "pilothouse-test/app:1"
SWARM_LOCK = "/tmp/ph-swarm.lock"
VERSIONED = re.compile(r"^/v[0-9.]+(/.*)$")
Raw = dict[str, Any]


# -- recording -------------------------------------------------------------------------------------------


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str) -> None:
        super().__init__("localhost", timeout=30)
        self._path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self._path)


def _fetch(socket_path: str, path: str) -> Raw:
    connection = _UnixConnection(socket_path)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        body = response.read().decode()
        headers = {k: v for k, v in response.getheaders()
                   if k.lower() in ("api-version", "docker-experimental", "ostype", "server", "content-type",
                                    "swarm", "builder-version")}
        return {"status": response.status, "headers": headers, "body": body}
    finally:
        connection.close()


@contextlib.contextmanager
def swarm_lock() -> Iterator[None]:
    with open(SWARM_LOCK, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def record(manager_socket: str, work_dir: Path) -> Raw:
    """Record what the provider and the docker CLI read from the real test swarm, one template service on it."""
    from http_count_proxy import CountingProxy

    from pilothouse.providers.base import ClusterConfig
    from pilothouse.providers.swarm import SwarmProvider

    manager = f"unix://{manager_socket}"

    def docker(*args: str, host: str = manager) -> str:
        done = subprocess.run(["docker", "-H", host, *args], capture_output=True, text=True, timeout=120,
                              check=False)
        if done.returncode != 0:
            raise RuntimeError(f"docker {' '.join(args)}: {done.stderr.strip()}")
        return done.stdout

    with swarm_lock():
        if TEMPLATE in docker("service", "ls", "--format", "{{.Name}}").split():
            docker("service", "rm", TEMPLATE)
        docker("service", "create", "--name", TEMPLATE, "--replicas", "2", "--detach", "--no-resolve-image",
               "--stop-grace-period", "1s", "--label", "team=bench", "--env", "LOG_LEVEL=info", IMAGE)
        try:
            deadline = time.monotonic() + 120
            while "2/2" not in docker("service", "ls", "--filter", f"name={TEMPLATE}", "--format", "{{.Replicas}}"):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{TEMPLATE} did not get 2 running tasks within 120 s")
                time.sleep(0.5)
            listen = str(work_dir / "recording.sock")
            with CountingProxy(upstream=manager_socket, listen=listen) as proxy:
                provider = SwarmProvider(ClusterConfig(name="record", provider="swarm",
                                                       options={"docker_host": proxy.url}))
                try:
                    provider.connect()
                    provider.snapshot()
                finally:
                    provider.close()
                docker("service", "ls", host=proxy.url)
                docker("service", "ps", TEMPLATE, host=proxy.url)
                seen = proxy.taken()
            wanted = {line.split(" ", 1)[1] for line in seen if line.startswith(("GET ", "HEAD "))}
            wanted |= {"/_ping", "/version", "/info", "/swarm", "/v1.41/services?status=true", "/v1.41/tasks",
                       "/v1.41/nodes", "/v1.41/networks", f"/v1.41/images/{IMAGE}/json"}
            # A stream without `until` would never end: the replay answers those itself.
            wanted = {path for path in wanted if not (path.split("?")[0].endswith("/events") and "until" not in path)}
            responses = {path: _fetch(manager_socket, path) for path in sorted(wanted)}
        finally:
            docker("service", "rm", TEMPLATE)
    return {"recorded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "requests": seen,
            "responses": responses}


# -- scaling ---------------------------------------------------------------------------------------------


def _id(kind: str, number: int) -> str:
    return hashlib.sha256(f"{kind}-{number}".encode()).hexdigest()[:25]


def _body(recording: Raw, path: str) -> Any:
    return json.loads(recording["responses"][path]["body"])


class ScaledSwarm:
    """The recorded template service, its tasks and the worker nodes cloned to `services` x `tasks_each`."""

    def __init__(self, recording: Raw, services: int = 1000, tasks_each: int = 10, nodes: int = 30) -> None:
        recorded_services = _body(recording, "/v1.41/services?status=true")
        template = next(s for s in recorded_services if s["Spec"]["Name"] == TEMPLATE)
        template_tasks = [t for t in _body(recording, "/v1.41/tasks") if t.get("ServiceID") == template["ID"]
                          and t.get("DesiredState") == "running"]
        if not template_tasks:
            raise RuntimeError("the recording holds no running task of the template service")
        recorded_nodes = _body(recording, "/v1.41/nodes")
        self.nodes: list[Raw] = list(recorded_nodes)
        worker = next((n for n in recorded_nodes if n["Spec"].get("Role") == "worker"), recorded_nodes[0])
        for number in range(len(recorded_nodes), nodes):
            node = copy.deepcopy(worker)
            node["ID"] = _id("node", number)
            node["Description"]["Hostname"] = f"replay-worker-{number:02d}"
            node["Status"]["Addr"] = f"10.99.{number // 250}.{number % 250 + 1}"
            node.pop("ManagerStatus", None)
            node["Spec"]["Role"] = "worker"
            self.nodes.append(node)
        self.services: list[Raw] = []
        self.tasks: list[Raw] = []
        for number in range(services):
            service = copy.deepcopy(template)
            service["ID"] = _id("service", number)
            service["Spec"]["Name"] = f"replay-{number:04d}"
            service["Version"] = {"Index": 10_000 + number}
            service["Spec"].setdefault("Mode", {})["Replicated"] = {"Replicas": tasks_each}
            service["ServiceStatus"] = {"RunningTasks": tasks_each, "DesiredTasks": tasks_each, "CompletedTasks": 0}
            self.services.append(service)
            for slot in range(1, tasks_each + 1):
                task = copy.deepcopy(template_tasks[slot % len(template_tasks)])
                index = number * tasks_each + slot
                task["ID"] = _id("task", index)
                task["ServiceID"] = service["ID"]
                task["Slot"] = slot
                task["NodeID"] = self.nodes[index % len(self.nodes)]["ID"]
                task["Version"] = {"Index": 100_000 + index}
                container = task.get("Status", {}).get("ContainerStatus")
                if isinstance(container, dict):
                    container["ContainerID"] = hashlib.sha256(f"container-{index}".encode()).hexdigest()
                self.tasks.append(task)
        self.networks: list[Raw] = _body(recording, "/v1.41/networks")
        self.by_service: dict[str, list[Raw]] = {}
        for task in self.tasks:
            self.by_service.setdefault(task["ServiceID"], []).append(task)
        info = _body(recording, "/info")
        info["Swarm"]["Nodes"] = len(self.nodes)
        info["Swarm"]["Managers"] = sum(1 for n in self.nodes if n["Spec"].get("Role") == "manager")
        self.info = info

    # Lookups as the engine resolves them: full ID, then name, then a unique ID prefix.
    def find(self, items: list[Raw], key: str, name_of: Any) -> Raw | None:
        exact = [item for item in items if item["ID"] == key or name_of(item) == key]
        if exact:
            return exact[0]
        prefixed = [item for item in items if item["ID"].startswith(key)]
        return prefixed[0] if len(prefixed) == 1 else None


def service_name(service: Raw) -> str:
    return str(service["Spec"]["Name"])


def node_name(node: Raw) -> str:
    return str(node.get("Description", {}).get("Hostname", ""))


def _filters(query: dict[str, list[str]]) -> dict[str, list[str]]:
    """The engine's filters query: {"name": {"x": true}} (or the older {"name": ["x"]})."""
    raw = query.get("filters", [""])[0]
    if not raw:
        return {}
    data = json.loads(raw)
    return {key: list(value) if isinstance(value, dict | list) else [str(value)] for key, value in data.items()}


def _service_matches(service: Raw, filters: dict[str, list[str]]) -> bool:
    spec = service["Spec"]
    for key, values in filters.items():
        if key == "id" and not any(service["ID"].startswith(v) for v in values):
            return False
        if key == "name" and not any(service_name(service).startswith(v) for v in values):
            return False
        if key == "label" and not _labels_match(spec.get("Labels") or {}, values):
            return False
        if key == "mode" and not any(v.capitalize() in spec.get("Mode", {}) for v in values):
            return False
    return True


def _labels_match(labels: dict[str, str], wanted: list[str]) -> bool:
    for item in wanted:
        key, has_value, value = item.partition("=")
        if key not in labels or (has_value and labels[key] != value):
            return False
    return True


# -- serving ---------------------------------------------------------------------------------------------


class ReplayServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, recording: Raw, swarm: ScaledSwarm) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.recording = recording
        self.swarm = swarm
        self.unknown: list[str] = []
        self.requests: list[str] = []
        self.lock = threading.Lock()
        self.closing = threading.Event()
        ping = recording["responses"]["/_ping"]["headers"]
        self.api_version = ping.get("Api-Version") or ping.get("API-Version") or "1.41"
        self.ping_headers = ping
        # The big unfiltered answers, serialised once: the engine would build them on each request, but what
        # is measured is the client's side.
        without_status = [{k: v for k, v in s.items() if k != "ServiceStatus"} for s in swarm.services]
        self.cached = {"/services?status": json.dumps(swarm.services).encode(),
                       "/services": json.dumps(without_status).encode(),
                       "/tasks": json.dumps(swarm.tasks).encode(), "/nodes": json.dumps(swarm.nodes).encode()}
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"tcp://127.0.0.1:{self.server_address[1]}"

    def start(self) -> ReplayServer:
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.closing.set()
        self.shutdown()
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: ReplayServer

    def setup(self) -> None:
        super().setup()
        # Headers and body leave in two writes: with Nagle's algorithm on, the second waits for the client's
        # delayed ACK (40 ms per request here), a cost no engine has; the docker CLI makes a dozen per `service ps`.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_HEAD(self) -> None:
        self._route(head=True)

    def do_GET(self) -> None:
        self._route(head=False)

    def _send(self, status: int, body: bytes, content_type: str = "application/json", head: bool = False,
              extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Api-Version", self.server.api_version)
        self.send_header("Docker-Experimental", "false")
        self.send_header("Ostype", "linux")
        self.send_header("Server", "Docker/20.10.24 (linux)")
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def _json(self, value: Any, status: int = 200) -> None:
        self._send(status, json.dumps(value).encode())

    def _missing(self, what: str) -> None:
        self._json({"message": what}, 404)

    def _route(self, head: bool) -> None:
        parts = urlsplit(self.path)
        path = unquote(parts.path)
        versioned = VERSIONED.match(path)
        if versioned:
            path = versioned.group(1)
        query = parse_qs(parts.query)
        swarm = self.server.swarm
        with self.server.lock:
            self.server.requests.append(f"{self.command} {self.path}")
        if path == "/_ping":
            self._send(200, b"OK", "text/plain; charset=utf-8", head,
                       {"Swarm": "active/manager", "Cache-Control": "no-cache, no-store, must-revalidate",
                        "Pragma": "no-cache", "Builder-Version": "1"})
        elif head:
            self._send(405, b"", head=True)
        elif path == "/version":
            self._send(200, self.server.recording["responses"]["/version"]["body"].encode())
        elif path == "/info":
            self._json(swarm.info)
        elif path == "/swarm":
            self._send(200, self.server.recording["responses"]["/swarm"]["body"].encode())
        elif path == "/events":
            self._events(query)
        elif path.startswith("/images/") and path.endswith("/json"):
            self._send(200, self.server.recording["responses"][f"/v1.41/images/{IMAGE}/json"]["body"].encode())
        elif path in ("/services", "/tasks", "/nodes", "/networks"):
            self._list(path, query)
        elif path.startswith(("/services/", "/tasks/", "/nodes/", "/networks/")):
            kind, _, key = path[1:].partition("/")
            items, name_of = {"services": (swarm.services, service_name), "tasks": (swarm.tasks, lambda t: ""),
                              "nodes": (swarm.nodes, node_name),
                              "networks": (swarm.networks, lambda n: n.get("Name", ""))}[kind]
            found = swarm.find(items, key, name_of)
            if found is None:
                self._missing(f"{kind[:-1]} {key} not found")
            else:
                self._json(found)
        else:
            with self.server.lock:
                self.server.unknown.append(f"{self.command} {self.path}")
            self._missing("page not found")

    def _list(self, path: str, query: dict[str, list[str]]) -> None:
        swarm = self.server.swarm
        filters = _filters(query)
        status = query.get("status", [""])[0].lower() in ("1", "true")
        if not filters and path != "/networks":
            self._send(200, self.server.cached[path + ("?status" if path == "/services" and status else "")])
            return
        if path == "/services":
            items = [s for s in swarm.services if _service_matches(s, filters)]
            if not status:
                items = [{k: v for k, v in s.items() if k != "ServiceStatus"} for s in items]
        elif path == "/tasks":
            items = self._tasks(filters)
        elif path == "/nodes":
            items = [n for n in swarm.nodes
                     if all(any(n["ID"].startswith(v) or node_name(n) == v for v in vs) if k in ("id", "name") else
                            any(n["Spec"].get("Role") == v for v in vs) if k == "role" else
                            True for k, vs in filters.items())]
        else:
            items = swarm.networks
        self._json(items)

    def _tasks(self, filters: dict[str, list[str]]) -> list[Raw]:
        swarm = self.server.swarm
        items = swarm.tasks
        if "service" in filters:
            chosen = [swarm.find(swarm.services, key, service_name) for key in filters["service"]]
            items = [t for s in chosen if s is not None for t in swarm.by_service.get(s["ID"], [])]
        if "node" in filters:
            nodes = {n["ID"] for key in filters["node"] if (n := swarm.find(swarm.nodes, key, node_name))}
            items = [t for t in items if t.get("NodeID") in nodes]
        if "desired-state" in filters:
            items = [t for t in items if t.get("DesiredState") in filters["desired-state"]]
        if "id" in filters:
            items = [t for t in items if any(t["ID"].startswith(v) for v in filters["id"])]
        if "label" in filters:
            items = [t for t in items if _labels_match(t.get("Labels") or {}, filters["label"])]
        return items

    def _events(self, query: dict[str, list[str]]) -> None:
        if query.get("until"):
            self._send(200, b"")  # nothing happened on the replayed swarm
            return
        # A live stream: headers now, then nothing until the client goes away (or the server stops).
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Api-Version", self.server.api_version)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.flush()
        while not self.server.closing.is_set():
            readable, _, _ = select.select([self.connection], [], [], 0.5)
            if readable:
                with contextlib.suppress(OSError):
                    if not self.connection.recv(1024):
                        break
        self.close_connection = True


def main() -> None:
    """`python swarm_replay.py --recording FILE [--services N --tasks-each M --nodes K]`: serve until stdin closes,
    after printing one JSON line (the URL, the sizes); a process of its own, as an engine is."""
    import argparse
    import sys

    parser = argparse.ArgumentParser()
    parser.add_argument("--recording", required=True)
    parser.add_argument("--services", type=int, default=1000)
    parser.add_argument("--tasks-each", type=int, default=10)
    parser.add_argument("--nodes", type=int, default=30)
    parser.add_argument("--verbose", action="store_true", help="every request served, on stderr at the end")
    args = parser.parse_args()
    recording = json.loads(Path(args.recording).read_text())
    swarm = ScaledSwarm(recording, args.services, args.tasks_each, args.nodes)
    server = ReplayServer(recording, swarm).start()
    print(json.dumps({"url": server.url, "services": len(swarm.services), "tasks": len(swarm.tasks),
                      "nodes": len(swarm.nodes), "tasks_bytes": len(server.cached["/tasks"])}), flush=True)
    sys.stdin.read()
    server.stop()
    if args.verbose:
        print(json.dumps({"requests": server.requests}), file=sys.stderr)
    if server.unknown:
        print(json.dumps({"unknown": server.unknown[:20]}), file=sys.stderr)


if __name__ == "__main__":
    main()
