"""A small stateful Kubernetes API server for tests: real HTTP on 127.0.0.1, real-shaped objects.

No control plane can be installed on this machine kind, so the provider is tested with the official client
against this server. It keeps objects per resource with one global resourceVersion counter and an
append-only change log per resource, which is what list (resourceVersion), watch (resume from N, 410 Gone
below the compaction point) and get/patch need. It runs no controllers: tests write status themselves
through `put()`, the way a controller would.

Served: /version; discovery (api_discovery.py); list (cluster-wide and namespaced, labelSelector equality,
fieldSelector on metadata.name/namespace; a Table when asked, api_tables.py), watch (JSON lines over a chunked
response, honouring timeoutSeconds; the watch-list with its initial-events-end bookmark), get, patch
(json-patch, merge-patch, a practical subset of strategic-merge-patch), the scale subresource (get/patch/put),
the pod log subresource with kubelet's semantics (tailLines, sinceTime, timestamps, container, previous;
follow=true streams appended lines over a chunked response), PodDisruptionBudgets with the pods/eviction
subresource (api_disruption.py: budget status derived from the pods, evictions allowed or refused with 429), and
pods/exec as a real websocket speaking the remote command channel protocols, the command run as a local
subprocess (api_exec.py; forbid("pods/exec") refuses it alone).

A real kubectl v1.36 is its oracle (test_k8s_kubectl_oracle.py): where they disagree, this server is wrong.
ApiServer(anonymous=True) also serves requests without credentials, as kubectl sends no token over plain http.
Test controls: compact() (410 for older watches), forbid(resource) (403), grant_only_namespaces(...) (a
namespaced Role: 403 at cluster scope), paged lists (limit/continue; expire_continue_tokens for 410 Expired),
drop_watches(), fail_for(seconds) / fail_next(n) (500s), add_log()/end_log(), request counts by verb and by
HTTP method (DELETE, and POST anywhere but pods/NAME/eviction, are counted and refused, so a test can prove
nothing mutating was sent).
"""

from __future__ import annotations

import base64
import bisect
import contextlib
import copy
import json
import select
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from api_discovery import discovery
from api_disruption import Refusal, evict, refresh_budgets, refusal_status
from api_exec import ExecRunner, ExecSession, serve_exec
from api_tables import table, wants_table

Obj = dict[str, Any]


@dataclass(frozen=True)
class ResourceType:
    prefix: str  # "/api/v1" or "/apis/apps/v1"
    api_version: str
    kind: str
    namespaced: bool
    # Resources whose spec changes bump metadata.generation (what controllers observe).
    has_generation: bool = False


RESOURCES: dict[str, ResourceType] = {
    "deployments": ResourceType("/apis/apps/v1", "apps/v1", "Deployment", True, True),
    "replicasets": ResourceType("/apis/apps/v1", "apps/v1", "ReplicaSet", True, True),
    "statefulsets": ResourceType("/apis/apps/v1", "apps/v1", "StatefulSet", True, True),
    "daemonsets": ResourceType("/apis/apps/v1", "apps/v1", "DaemonSet", True, True),
    "controllerrevisions": ResourceType("/apis/apps/v1", "apps/v1", "ControllerRevision", True),
    "pods": ResourceType("/api/v1", "v1", "Pod", True),
    "events": ResourceType("/api/v1", "v1", "Event", True),
    "nodes": ResourceType("/api/v1", "v1", "Node", False),
    "persistentvolumeclaims": ResourceType("/api/v1", "v1", "PersistentVolumeClaim", True),
    "namespaces": ResourceType("/api/v1", "v1", "Namespace", False),
    "services": ResourceType("/api/v1", "v1", "Service", True),
    "endpointslices": ResourceType("/apis/discovery.k8s.io/v1", "discovery.k8s.io/v1", "EndpointSlice", True),
    "networkpolicies": ResourceType("/apis/networking.k8s.io/v1", "networking.k8s.io/v1", "NetworkPolicy", True),
    "horizontalpodautoscalers": ResourceType("/apis/autoscaling/v2", "autoscaling/v2", "HorizontalPodAutoscaler",
                                             True, True),
    "poddisruptionbudgets": ResourceType("/apis/policy/v1", "policy/v1", "PodDisruptionBudget", True, True),
}
# Every group version served, for routing (longest first).
PREFIXES = tuple(sorted({rt.prefix for rt in RESOURCES.values()}, key=len, reverse=True))
KIND_TO_RESOURCE = {rt.kind: name for name, rt in RESOURCES.items()}
SCALABLE = {"deployments", "statefulsets", "replicasets"}
# Budgets' status is derived from these (api_disruption.refresh_budgets, the disruption controller's job).
BUDGET_INPUTS = {"pods", "poddisruptionbudgets", "replicasets", "deployments", "statefulsets"}
# Field selectors beyond metadata.name/namespace, per resource (kube-apiserver's pod fields that kubectl uses).
FIELDS = {"pods": {"spec.nodeName": ("spec", "nodeName"), "status.phase": ("status", "phase")}}

# Strategic merge: lists of objects merge by these keys (the practical subset of the Kubernetes patch
# strategies: containers/env/volumes by name, ports by containerPort, volumeMounts by mountPath,
# conditions by type); any other list is replaced.
MERGE_KEYS = ("name", "containerPort", "mountPath", "type")


class PatchError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def status_body(code: int, reason: str, message: str, details: Obj | None = None) -> Obj:
    return {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": message, "reason": reason, "details": details or {}, "code": code,
    }


# -- patches -------------------------------------------------------------------------------------------


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _merge_key(items: list[Any]) -> str | None:
    if not items or not all(isinstance(item, dict) for item in items):
        return None
    for key in MERGE_KEYS:
        if all(key in item for item in items if item.get("$patch") != "delete" or key in item):
            return key
    return None


def strategic_merge_patch(target: Any, patch: Any) -> Any:
    """A practical subset of strategic merge patch: keyed list merge, $patch replace/delete."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    directive = patch.get("$patch")
    if directive == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if key.startswith("$"):  # $retainKeys, $setElementOrder/...: ordering hints, not data
            continue
        if value is None or (isinstance(value, dict) and value.get("$patch") == "delete"):
            result.pop(key, None)
        elif isinstance(value, list) and isinstance(result.get(key), list):
            result[key] = _merge_list(result[key], value)
        elif isinstance(value, dict):
            result[key] = strategic_merge_patch(result.get(key), value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def _merge_list(current: list[Any], patch: list[Any]) -> list[Any]:
    key = _merge_key(patch)
    if key is None or not all(isinstance(item, dict) and key in item for item in current):
        return copy.deepcopy(patch)
    merged = copy.deepcopy(current)
    for item in patch:
        index = next((i for i, old in enumerate(merged) if old.get(key) == item.get(key)), None)
        if item.get("$patch") == "delete":
            if index is not None:
                merged.pop(index)
        elif index is None:
            merged.append(copy.deepcopy(item))
        else:
            merged[index] = strategic_merge_patch(merged[index], item)
    return merged


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise PatchError(422, f"invalid JSON pointer {path!r}")
    return [part.replace("~1", "/").replace("~0", "~") for part in path[1:].split("/")]


def _walk(doc: Any, parts: list[str]) -> Any:
    for part in parts:
        if isinstance(doc, list):
            doc = doc[int(part)]
        elif isinstance(doc, dict):
            doc = doc[part]
        else:
            raise KeyError(part)
    return doc


def json_patch(target: Any, operations: Any) -> Any:
    """RFC 6902: add, remove, replace, test (what clients send)."""
    if not isinstance(operations, list):
        raise PatchError(400, "json patch must be a list of operations")
    doc = copy.deepcopy(target)
    for op in operations:
        name, parts = op.get("op"), _pointer(op.get("path", ""))
        try:
            if not parts:
                if name in ("add", "replace"):
                    doc = copy.deepcopy(op.get("value"))
                    continue
                raise PatchError(422, f"unsupported root operation {name}")
            parent, leaf = _walk(doc, parts[:-1]), parts[-1]
            if name == "test":
                if _walk(doc, parts) != op.get("value"):
                    raise PatchError(422, f"test operation failed at {op.get('path')}")
            elif name == "remove":
                if isinstance(parent, list):
                    parent.pop(int(leaf))
                else:
                    del parent[leaf]
            elif name in ("add", "replace"):
                value = copy.deepcopy(op.get("value"))
                if isinstance(parent, list):
                    if leaf == "-":
                        parent.append(value)
                    elif name == "add":
                        parent.insert(int(leaf), value)
                    else:
                        parent[int(leaf)] = value
                else:
                    if name == "replace" and leaf not in parent:
                        raise PatchError(422, f"replace of missing path {op.get('path')}")
                    parent[leaf] = value
            else:
                raise PatchError(422, f"unsupported json patch op {name!r}")
        except (KeyError, IndexError, ValueError, TypeError) as error:
            raise PatchError(422, f"json patch {name} {op.get('path')}: {error!r}") from error
    return doc


def apply_patch(content_type: str, target: Obj, body: Any) -> Obj:
    content_type = content_type.split(";")[0].strip().lower()
    if content_type == "application/json-patch+json":
        result = json_patch(target, body)
    elif content_type == "application/merge-patch+json":
        result = merge_patch(target, body)
    elif content_type == "application/strategic-merge-patch+json":
        result = strategic_merge_patch(target, body)
    else:
        raise PatchError(415, f"the body of the request was in an unknown format - accepted media types "
                              f"include: json-patch, merge-patch, strategic-merge-patch (got {content_type})")
    if not isinstance(result, dict):
        raise PatchError(422, "patch did not produce an object")
    return result


# -- state ---------------------------------------------------------------------------------------------


def _list_item(obj: Obj) -> Obj:
    """Items of a typed list carry no kind/apiVersion on the wire."""
    return {k: v for k, v in obj.items() if k not in ("kind", "apiVersion")}


@dataclass
class Change:
    rv: int
    type: str
    obj: Obj


class ApiState:
    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.rv = 0
        self.objects: dict[str, dict[tuple[str, str], Obj]] = {name: {} for name in RESOURCES}
        self.log: dict[str, list[Change]] = {name: [] for name in RESOURCES}
        self.compacted: dict[str, int] = {name: 0 for name in RESOURCES}
        self.encoded: dict[str, dict[tuple[str, str], tuple[Obj, bytes]]] = {name: {} for name in RESOURCES}
        self._sorted_keys: dict[str, list[tuple[str, str]]] = {}
        self.forbidden: set[str] = set()
        # RBAC of a namespaced Role: None = every namespace (a ClusterRole); else reads of namespaced
        # resources are allowed in these namespaces only, and cluster-scoped resources not at all.
        self.readable_namespaces: set[str] | None = None
        self.expire_continue_tokens = False  # the next continued list answers 410 (etcd compacted it)
        self.gone_as_http = False  # False: 200 + ERROR event (what kube-apiserver does); True: HTTP 410
        self.fail_until = 0.0
        self.fail_remaining = 0
        self.failures_served = 0
        self.drop_generation = 0
        self.stopping = False
        self.counts: Counter[tuple[str, str]] = Counter()
        self.list_pages: Counter[str] = Counter()  # list answers served, by resource
        self.request_log: list[tuple[float, str, str, int]] = []  # (time, verb, resource, status)
        self.methods: Counter[str] = Counter()  # every request by HTTP method, routed or not
        # Every write as sent: (method, path without query, Content-Type, body), to compare with kubectl's.
        self.writes: list[tuple[str, str, str, Any]] = []
        # Called with (method, path) as each request arrives, before it is served: a test can look at the
        # world at that moment (e.g. that the audit intent is already on disk when the PATCH arrives). A
        # returned HTTP status is answered instead of serving the request.
        self.on_request: Callable[[str, str], int | None] | None = None
        # Container logs by (namespace, pod, container, previous): (RFC 3339 nano timestamp, text) lines.
        self.logs: dict[tuple[str, str, str, bool], list[tuple[str, str]]] = {}
        self.ended_logs: set[tuple[str, str, str]] = set()  # containers whose current log has ended
        self.log_instances: Counter[tuple[str, str, str]] = Counter()  # restarts seen by restart_log()
        self.open_log_streams = 0
        # pods/exec (api_exec.py): every session as asked and ended, and the commands still running.
        self.exec_sessions: list[ExecSession] = []
        self.exec_runners: list[ExecRunner] = []
        self._last_log_time = datetime.fromtimestamp(0, UTC)

    # -- writes, as the API server (and the tests, standing in for controllers) make them --

    def _bump(self) -> int:
        self.rv += 1
        return self.rv

    def _record(self, resource: str, change_type: str, obj: Obj) -> None:
        self.log[resource].append(Change(self.rv, change_type, copy.deepcopy(obj)))
        self.cond.notify_all()

    def put(self, obj: Obj) -> Obj:
        """Create or replace an object as given (status included); returns the stored copy."""
        obj = copy.deepcopy(obj)
        resource = KIND_TO_RESOURCE[obj["kind"]]
        rtype = RESOURCES[resource]
        meta = obj.setdefault("metadata", {})
        key = (meta.get("namespace", "") if rtype.namespaced else "", meta["name"])
        with self.cond:
            old = self.objects[resource].get(key)
            meta.setdefault("uid", old["metadata"]["uid"] if old else str(uuid.uuid4()))
            meta.setdefault(
                "creationTimestamp", old["metadata"]["creationTimestamp"] if old else now_iso()
            )
            if rtype.has_generation:
                meta.setdefault("generation", old["metadata"].get("generation", 1) if old else 1)
            obj.setdefault("apiVersion", rtype.api_version)
            meta["resourceVersion"] = str(self._bump())
            if old is None:
                self._sorted_keys.pop(resource, None)
            self.objects[resource][key] = obj
            self._record(resource, "MODIFIED" if old else "ADDED", obj)
            stored = copy.deepcopy(obj)
            if resource in BUDGET_INPUTS:
                refresh_budgets(self)
            return stored

    def sorted_keys(self, resource: str) -> list[tuple[str, str]]:
        """The keys of `resource` in list order, sorted again only when one came or went (lock held)."""
        keys = self._sorted_keys.get(resource)
        if keys is None:
            keys = self._sorted_keys[resource] = sorted(self.objects[resource])
        return keys

    def encoded_item(self, resource: str, key: tuple[str, str], obj: Obj) -> bytes:
        """An object as a list item on the wire, serialised once per version, as kube-apiserver's watch
        cache keeps its objects' serialisations (the lock is held by the caller)."""
        cached = self.encoded[resource].get(key)
        if cached is None or cached[0] is not obj:  # put() stores a new dict for every write
            cached = self.encoded[resource][key] = (obj, json.dumps(_list_item(obj)).encode())
        return cached[1]

    def delete(self, resource: str, namespace: str, name: str) -> None:
        with self.cond:
            obj = self.objects[resource].pop((namespace, name))
            self._sorted_keys.pop(resource, None)
            obj["metadata"]["resourceVersion"] = str(self._bump())
            self._record(resource, "DELETED", obj)
            if resource in BUDGET_INPUTS:
                refresh_budgets(self)

    def get(self, resource: str, namespace: str, name: str) -> Obj:
        with self.cond:
            return copy.deepcopy(self.objects[resource][(namespace, name)])

    def update(self, resource: str, namespace: str, name: str, change: Callable[[Obj], None]) -> Obj:
        """Read-modify-write one object (a controller's status update, a user's edit)."""
        with self.cond:
            obj = self.get(resource, namespace, name)
            change(obj)
            return self.put(obj)

    # -- test controls --

    def compact(self) -> None:
        """Forget history: a watch from any resourceVersion older than now gets 410 Gone."""
        with self.cond:
            for name in RESOURCES:
                self.compacted[name] = self.rv + 1
            self.rv += 1

    def forbid(self, resource: str) -> None:
        self.forbidden.add(resource)

    def allow(self, resource: str) -> None:
        self.forbidden.discard(resource)

    def grant_only_namespaces(self, *namespaces: str) -> None:
        """Credentials bound by a Role in these namespaces only (no ClusterRole)."""
        self.readable_namespaces = set(namespaces)

    def is_forbidden(self, route: Route) -> bool:
        if route.resource in self.forbidden:
            return True
        if self.readable_namespaces is None:
            return False
        if not RESOURCES[route.resource].namespaced:
            return True
        return route.namespace not in self.readable_namespaces

    def drop_watches(self) -> None:
        with self.cond:
            self.drop_generation += 1
            self.cond.notify_all()

    def fail_for(self, seconds: float) -> None:
        with self.cond:
            self.fail_until = time.monotonic() + seconds
            self.drop_generation += 1  # open watches die too, as when an API server restarts
            self.cond.notify_all()

    def fail_next(self, count: int) -> None:
        with self.cond:
            self.fail_remaining = count

    def add_log(self, namespace: str, pod: str, container: str, *texts: str, previous: bool = False,
                at: datetime | None = None) -> None:
        """Append lines to a container's log (the previous instance's with `previous`); followers get them.

        Lines are stamped `at` (then a microsecond apart), or now; stamps never go backwards.
        """
        with self.cond:
            lines = self.logs.setdefault((namespace, pod, container, previous), [])
            when = at or datetime.now(UTC)
            for text in texts:
                if at is None:
                    when = max(when, self._last_log_time + timedelta(microseconds=1))
                    self._last_log_time = when
                lines.append((when.strftime("%Y-%m-%dT%H:%M:%S.%f") + "000Z", text))
                when += timedelta(microseconds=1)
            self.cond.notify_all()

    def restart_log(self, namespace: str, pod: str, container: str) -> None:
        """The container died and kubelet started its next instance: the current log becomes the previous
        one (its follow streams end after its last line) and the new instance's log starts empty. The pod's
        status (restartCount, lastState) is the test's to write, as kubelet would."""
        with self.cond:
            current = self.logs.pop((namespace, pod, container, False), [])
            self.logs[(namespace, pod, container, True)] = current
            self.logs[(namespace, pod, container, False)] = []
            self.ended_logs.discard((namespace, pod, container))
            self.log_instances[(namespace, pod, container)] += 1
            self.cond.notify_all()

    def end_log(self, namespace: str, pod: str, container: str) -> None:
        """The container stopped: its follow streams end."""
        with self.cond:
            self.ended_logs.add((namespace, pod, container))
            self.cond.notify_all()

    def mutating_requests(self) -> int:
        with self.cond:
            return sum(n for method, n in self.methods.items() if method not in ("GET", "HEAD", "OPTIONS"))

    def count(self, verb: str, resource: str | None = None) -> int:
        with self.cond:
            return sum(n for (v, r), n in self.counts.items() if v == verb and resource in (None, r))

    def _should_fail(self) -> bool:
        with self.cond:
            if time.monotonic() < self.fail_until:
                self.failures_served += 1
                return True
            if self.fail_remaining > 0:
                self.fail_remaining -= 1
                self.failures_served += 1
                return True
            return False


# -- HTTP ----------------------------------------------------------------------------------------------


@dataclass
class Route:
    resource: str
    namespace: str
    name: str
    subresource: str


def parse_route(path: str) -> Route | None:
    for prefix in PREFIXES:
        if path.startswith(prefix + "/"):
            parts = [p for p in path[len(prefix) + 1:].split("/") if p]
            break
    else:
        return None
    namespace = ""
    if len(parts) >= 3 and parts[0] == "namespaces":
        namespace, parts = parts[1], parts[2:]
    if not parts or parts[0] not in RESOURCES:
        return None
    resource = parts[0]
    if not path.startswith(RESOURCES[resource].prefix + "/"):
        return None
    name = parts[1] if len(parts) > 1 else ""
    sub = parts[2] if len(parts) > 2 else ""
    return Route(resource, namespace, name, sub)


def matches_labels(obj: Obj, selector: str) -> bool:
    labels = (obj.get("metadata") or {}).get("labels") or {}
    for term in filter(None, (t.strip() for t in selector.split(","))):
        key, _, value = term.partition("=")
        if labels.get(key.rstrip("!")) != value.lstrip("="):
            return False
    return True


def matches_fields(obj: Obj, selector: str, resource: str = "") -> bool:
    """Field selectors every resource supports, metadata.name and metadata.namespace, plus the resource's own
    (FIELDS: a pod's spec.nodeName, as kubectl drain lists a node's pods); =, == and !=."""
    extra = FIELDS.get(resource, {})
    for term in filter(None, (t.strip() for t in selector.split(","))):
        negate = "!=" in term
        field, _, value = term.replace("!=", "=", 1).replace("==", "=", 1).partition("=")
        if field in ("metadata.name", "metadata.namespace"):
            section, key = "metadata", field.removeprefix("metadata.")
        elif field in extra:
            section, key = extra[field]
        else:
            known = ", ".join(f'"{name}"' for name in ("metadata.name", "metadata.namespace", *extra))
            raise PatchError(400, f'"{field}" is not a known field selector: only {known}')
        if (((obj.get(section) or {}).get(key) or "") == value) == negate:
            return False
    return True


def scale_view(route: Route, obj: Obj) -> Obj:
    selector = ((obj.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    return {
        "kind": "Scale", "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": obj["metadata"]["name"], "namespace": route.namespace,
            "uid": obj["metadata"]["uid"], "resourceVersion": obj["metadata"]["resourceVersion"],
            "creationTimestamp": obj["metadata"]["creationTimestamp"],
        },
        "spec": {"replicas": (obj.get("spec") or {}).get("replicas", 1)},
        "status": {
            "replicas": (obj.get("status") or {}).get("replicas", 0),
            "selector": ",".join(f"{k}={v}" for k, v in sorted(selector.items())),
        },
    }


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: ApiServer

    def log_message(self, format: str, *args: Any) -> None:  # quiet: pytest shows failures
        pass

    def handle(self) -> None:
        # A client gone mid-stream (an earlier CLI run's watch, fed by a later change) is no error of the
        # server's: no traceback on the stderr a test reads.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            super().handle()

    @property
    def state(self) -> ApiState:
        return self.server.state

    def _send_json(self, code: int, body: Any) -> None:
        self._send_bytes(code, json.dumps(body).encode())

    def _send_bytes(self, code: int, data: bytes) -> None:
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _status(self, code: int, reason: str, message: str) -> None:
        self._send_json(code, status_body(code, reason, message))

    def _read_body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        return json.loads(raw) if raw else None

    def _handle(self, method: str) -> None:
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        with self.state.cond:
            self.state.methods[method] += 1
        injected = self.state.on_request(method, url.path) if self.state.on_request is not None else None
        if injected is not None:
            if method in ("PATCH", "PUT", "POST"):
                self._read_body()  # drained, so the connection stays usable
            self._status(injected, "InternalError", "Internal error occurred: injected by the test")
            return
        authorization = self.headers.get("Authorization")
        anonymous = authorization is None and self.server.anonymous
        if authorization != f"Bearer {self.server.token}" and not anonymous:
            self._status(401, "Unauthorized", "Unauthorized")
            return
        if url.path == "/version":
            self._send_json(200, {"major": "1", "minor": "30", "gitVersion": "v1.30.0-pilothouse-test"})
            return
        document = discovery(url.path, dict(RESOURCES), SCALABLE, self.server.url.removeprefix("http://"))
        if document is not None:
            if method != "GET":
                self._read_body()
                self._status(405, "MethodNotAllowed", f"{method} is not supported on {url.path}")
            else:
                self._send_json(200, document)
            return
        route = parse_route(url.path)
        if route is None:
            self._status(404, "NotFound", f"the server could not find the requested resource ({url.path})")
            return
        verb = self._verb(method, route, query)
        failing = self.state._should_fail()
        code = 500 if failing else 0
        resource = (f"{route.resource}/{route.subresource}" if route.subresource in ("log", "eviction", "exec")
                    else route.resource)
        if resource == "pods/exec":
            verb = "create"  # GET (websocket) or POST (SPDY): RBAC's verb is create either way
        if not failing and (self.state.is_forbidden(route) or resource in self.state.forbidden):
            code = 403
        with self.state.cond:
            self.state.counts[(verb, resource)] += 1
            self.state.request_log.append((time.monotonic(), verb, resource, code or 200))
        if failing:
            self._status(500, "InternalError", "Internal error occurred: injected by the test")
            return
        if code == 403:
            scope = f'in the namespace "{route.namespace}"' if route.namespace else "at the cluster scope"
            exec_call = route.subresource == "exec"
            subject = f'{route.resource} "{route.name}"' if exec_call else route.resource
            named = resource if exec_call else route.resource
            self._status(
                403, "Forbidden",
                f'{subject} is forbidden: User "system:serviceaccount:test:viewer" cannot {verb} '
                f'resource "{named}" in API group "{RESOURCES[route.resource].prefix[6:-3]}" {scope}',
            )
            return
        if resource == "pods/exec":
            serve_exec(self, route.namespace, route.name, url.query)
            return
        try:
            matches_fields({}, query.get("fieldSelector", ""), route.resource)  # an unknown field: refused first
            if verb == "watch":
                self._watch(route, query)
            elif verb == "list":
                self._list(route, query)
            elif verb == "get" and route.resource == "pods" and route.subresource == "log":
                self._log(route, query)
            elif verb == "get":
                self._get(route)
            elif verb in ("patch", "update"):
                self._write(route, method)
            elif verb == "create" and route.resource == "pods" and route.subresource == "eviction":
                self._evict(route)
            else:
                self.close_connection = True  # its body, if any, is left unread
                self._status(405, "MethodNotAllowed", f"{method} is not supported here")
        except PatchError as error:
            reason = {400: "BadRequest", 409: "Conflict", 415: "UnsupportedMediaType",
                      404: "NotFound"}.get(error.code, "Invalid")
            self._status(error.code, reason, str(error))

    @staticmethod
    def _verb(method: str, route: Route, query: dict[str, str]) -> str:
        if method == "GET":
            if route.name:
                return "get"
            # Go's strconv.ParseBool, as the API server: the typed Python client sends "True".
            return "watch" if query.get("watch", "").lower() in ("true", "t", "1") else "list"
        return {"PATCH": "patch", "PUT": "update", "POST": "create"}.get(method, method.lower())

    def _in_scope(self, route: Route, key: tuple[str, str], obj: Obj, query: dict[str, str]) -> bool:
        if route.namespace and key[0] != route.namespace:
            return False
        selector = query.get("labelSelector")
        if selector and not matches_labels(obj, selector):
            return False
        fields = query.get("fieldSelector")
        return not fields or matches_fields(obj, fields, route.resource)

    def _list(self, route: Route, query: dict[str, str]) -> None:
        """A list, paged with limit/continue as the API server does.

        The continue token carries the first page's resourceVersion and the last key served. Later pages are
        cut from the current objects rather than a snapshot at that version (etcd's job); a watch from the
        list's version replays what changed meanwhile, so the client's cache still converges.
        """
        rtype = RESOURCES[route.resource]
        limit = int(query.get("limit") or 0)
        token = query.get("continue", "")
        with self.state.cond:
            if token:
                start_rv, after = json.loads(base64.urlsafe_b64decode(token))
                if self.state.expire_continue_tokens or start_rv < self.state.compacted[route.resource]:
                    self.state.expire_continue_tokens = False
                    self._status(410, "Expired", "The provided continue parameter is too old to display a "
                                 "consistent list result. You can start a new list without the continue parameter.")
                    return
                after_key: tuple[str, str] | None = (after[0], after[1])
                rv = start_rv
            else:
                after_key, rv = None, self.state.rv
            objects = self.state.objects[route.resource]
            keys = self.state.sorted_keys(route.resource)
            # A page costs its own size, not the collection's, as in kube-apiserver's watch cache.
            start = bisect.bisect_right(keys, after_key) if after_key is not None else 0
            page: list[tuple[tuple[str, str], Obj]] = []
            remaining = 0
            for key in keys[start:] if route.namespace or "labelSelector" in query or "fieldSelector" in query \
                    or not limit else keys[start:start + limit]:
                obj = objects[key]
                if not self._in_scope(route, key, obj, query):
                    continue
                if limit and len(page) == limit:
                    remaining += 1
                else:
                    page.append((key, obj))
            if limit and len(page) == limit and not remaining:
                remaining = len(keys) - start - limit  # unfiltered: counted, not scanned
            metadata: Obj = {"resourceVersion": str(rv)}
            if limit and remaining > 0:
                last = page[-1][0]
                metadata["continue"] = base64.urlsafe_b64encode(json.dumps([rv, list(last)]).encode()).decode()
                metadata["remainingItemCount"] = remaining
            self.state.list_pages[route.resource] += 1
            # Serialised here, under the lock, so not deep-copied: a stored object is replaced on write,
            # never changed in place (a deep copy of each item cost more than the rest of the list).
            if self._wants_table():
                items = [_list_item(obj) for _, obj in page]
                data = json.dumps(table(route.resource, items, metadata)).encode()
            else:
                head = json.dumps({"kind": f"{rtype.kind}List", "apiVersion": rtype.api_version,
                                   "metadata": metadata}).encode()
                encoded = [self.state.encoded_item(route.resource, key, obj) for key, obj in page]
                data = head[:-1] + b', "items": [' + b", ".join(encoded) + b"]}"
        self._send_bytes(200, data)

    def _evict(self, route: Route) -> None:
        body = self._read_body()
        with self.state.cond:
            self.state.writes.append(("POST", self.path.split("?", 1)[0], self.headers.get("Content-Type", ""),
                                      copy.deepcopy(body)))
            try:
                code, answer = 201, evict(self.state, route.namespace, route.name, body)
            except Refusal as refusal:
                code, answer = refusal.code, refusal_status(refusal)
        self._send_json(code, answer)

    def _lookup(self, route: Route) -> Obj | None:
        key = (route.namespace if RESOURCES[route.resource].namespaced else "", route.name)
        return self.state.objects[route.resource].get(key)

    def _get(self, route: Route) -> None:
        with self.state.cond:
            obj = copy.deepcopy(self._lookup(route))
        if obj is None:
            self._not_found(route)
        elif route.subresource == "scale" and route.resource in SCALABLE:
            self._send_json(200, scale_view(route, obj))
        elif route.subresource:
            self._status(404, "NotFound", f"no subresource {route.subresource}")
        elif self._wants_table():
            self._send_json(200, table(route.resource, [obj], {"resourceVersion": obj["metadata"]["resourceVersion"]}))
        else:
            self._send_json(200, obj)

    def _wants_table(self) -> bool:
        return wants_table(self.headers.get("Accept") or "")

    def _log(self, route: Route, query: dict[str, str]) -> None:
        """GET pods/NAME/log, answering as kubelet does (pkg/kubelet/kubelet_pods.go validateContainerLogStatus)."""
        state = self.state
        with state.cond:
            pod = copy.deepcopy(self._lookup(route))
        if pod is None:
            self._not_found(route)
            return
        name = route.name
        containers = [c.get("name") for c in (pod.get("spec") or {}).get("containers") or []]
        container = query.get("container") or (containers[0] if len(containers) == 1 else "")
        if not container:
            self._status(400, "BadRequest", f"a container name must be specified for pod {name}, "
                                            f"choose one of: [{' '.join(containers)}]")
            return
        if container not in containers:
            self._status(400, "BadRequest", f"container {container} is not valid for pod {name}")
            return
        statuses = {s.get("name"): s for s in (pod.get("status") or {}).get("containerStatuses") or []}
        status = statuses.get(container) or {}
        current = status.get("state") or {}
        last_terminated = (status.get("lastState") or {}).get("terminated")
        previous = query.get("previous", "").lower() in ("true", "1")
        if previous and not last_terminated:
            self._status(400, "BadRequest", f'previous terminated container "{container}" in pod "{name}" not found')
            return
        if not previous and "waiting" in current:
            if not last_terminated:
                reason = (current.get("waiting") or {}).get("reason", "ContainerCreating")
                self._status(400, "BadRequest",
                             f'container "{container}" in pod "{name}" is waiting to start: {reason}')
                return
            previous = True  # a container waiting to restart serves its last terminated instance
        key = (route.namespace, name, container, previous)
        follow = query.get("follow", "").lower() in ("true", "1") and not previous
        with state.cond:
            lines = list(state.logs.get(key, []))
        since = query.get("sinceTime", "")
        if since:
            lines = [line for line in lines if line[0][:19] >= since.rstrip("Z")[:19]]
        if "tailLines" in query:
            tail = int(query["tailLines"])
            lines = lines[-tail:] if tail > 0 else []
        timestamps = query.get("timestamps", "").lower() in ("true", "1")

        def render(line: tuple[str, str]) -> bytes:
            return (f"{line[0]} {line[1]}" if timestamps else line[1]).encode() + b"\n"

        if not follow:
            data = b"".join(render(line) for line in lines)
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        self._follow_log(key, lines, render)

    def _follow_log(self, key: tuple[str, str, str, bool], initial: list[tuple[str, str]],
                    render: Callable[[tuple[str, str]], bytes]) -> None:
        state = self.state
        with state.cond:
            # This instance's lines: restart_log() moves this list to the previous key, and the stream ends.
            lines = state.logs.setdefault(key, [])
            position = len(lines)
            instance = state.log_instances[key[:3]]
            drop_generation = state.drop_generation
            state.open_log_streams += 1
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            if initial:
                self._write_raw_chunk(b"".join(render(line) for line in initial))
            while True:
                with state.cond:
                    while (position >= len(lines) and key[:3] not in state.ended_logs and not state.stopping
                           and state.drop_generation == drop_generation and state.log_instances[key[:3]] == instance):
                        state.cond.wait(0.05)
                        if self._client_gone():
                            return
                    pending, position = lines[position:], len(lines)
                    ended = key[:3] in state.ended_logs or state.log_instances[key[:3]] != instance
                    dropped = state.stopping or state.drop_generation != drop_generation
                if dropped:
                    self.close_connection = True
                    with contextlib.suppress(OSError):
                        self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if pending:
                    self._write_raw_chunk(b"".join(render(line) for line in pending))
                if ended:
                    self._end_chunked()
                    return
        except OSError:  # the client went away mid-write
            self.close_connection = True
        finally:
            with state.cond:
                state.open_log_streams -= 1
                state.cond.notify_all()

    def _client_gone(self) -> bool:
        """The client closed its end (a follow it stopped): the socket reads EOF."""
        readable, _, _ = select.select([self.connection], [], [], 0)
        if not readable:
            return False
        try:
            return bool(self.connection.recv(1, socket.MSG_PEEK) == b"")
        except OSError:
            return True

    def _write_raw_chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _not_found(self, route: Route) -> None:
        group = RESOURCES[route.resource].prefix[6:-3] if route.resource != "pods" else ""
        kind = f"{route.resource}.{group}" if group else route.resource
        self._status(404, "NotFound", f'{kind} "{route.name}" not found')

    def _write(self, route: Route, method: str) -> None:
        body = self._read_body()
        content_type = self.headers.get("Content-Type", "")
        with self.state.cond:
            self.state.writes.append((method, self.path.split("?", 1)[0], content_type, copy.deepcopy(body)))
            current = self._lookup(route)
            if current is None:
                self._not_found(route)
                return
            current = copy.deepcopy(current)
            if route.subresource == "scale" and route.resource in SCALABLE:
                view = scale_view(route, current)
                new_view = body if method == "PUT" else apply_patch(content_type, view, body)
                self._check_precondition(current, new_view)
                replicas = int((new_view.get("spec") or {}).get("replicas", 0))
                updated = copy.deepcopy(current)
                updated.setdefault("spec", {})["replicas"] = replicas
                stored = self._store_update(route, current, updated)
                response = scale_view(route, stored)
            elif route.subresource:
                raise PatchError(404, f"no subresource {route.subresource}")
            else:
                updated = copy.deepcopy(body) if method == "PUT" else apply_patch(content_type, current, body)
                self._check_precondition(current, updated)
                response = self._store_update(route, current, updated)
        self._send_json(200, response)

    @staticmethod
    def _check_precondition(current: Obj, updated: Obj) -> None:
        wanted = (updated.get("metadata") or {}).get("resourceVersion")
        have = current["metadata"]["resourceVersion"]
        if wanted and wanted != have:
            name = current["metadata"]["name"]
            raise PatchError(409, f'Operation cannot be fulfilled on "{name}": the object has been modified; '
                                  "please apply your changes to the latest version and try again")

    def _store_update(self, route: Route, current: Obj, updated: Obj) -> Obj:
        # Identity and bookkeeping are the server's, whatever the patch said.
        meta = updated.setdefault("metadata", {})
        for field in ("name", "namespace", "uid", "creationTimestamp"):
            if field in current["metadata"]:
                meta[field] = current["metadata"][field]
        updated["kind"] = current.get("kind", RESOURCES[route.resource].kind)
        updated["apiVersion"] = current.get("apiVersion", RESOURCES[route.resource].api_version)
        if RESOURCES[route.resource].has_generation:
            generation = current["metadata"].get("generation", 1)
            meta["generation"] = generation + 1 if updated.get("spec") != current.get("spec") else generation
        meta.pop("resourceVersion", None)
        return self.state.put(updated)

    def _watch(self, route: Route, query: dict[str, str]) -> None:
        state = self.state
        timeout = float(query.get("timeoutSeconds") or 1800)
        deadline = time.monotonic() + timeout
        since_raw = query.get("resourceVersion") or ""
        # A watch-list (KEP-3157, kubectl's default since 1.35): the current objects as ADDED events, then a
        # BOOKMARK marked initial-events-end, then changes. The API server's own validation of the request.
        watch_list = query.get("sendInitialEvents", "").lower() == "true"
        bookmarks = query.get("allowWatchBookmarks", "").lower() == "true"
        if watch_list and (not bookmarks or query.get("resourceVersionMatch") != "NotOlderThan"):
            raise PatchError(422, "sendInitialEvents requires allowWatchBookmarks=true and "
                                  "resourceVersionMatch=NotOlderThan")
        with state.cond:
            drop_generation = state.drop_generation
            initial: list[Change] = []
            if since_raw in ("", "0") or watch_list:
                since = state.rv
                initial = [Change(since, "ADDED", copy.deepcopy(obj))
                           for key, obj in sorted(state.objects[route.resource].items())
                           if self._in_scope(route, key, obj, query)]
            else:
                since = int(since_raw)
            too_old = since < state.compacted[route.resource]
            log = state.log[route.resource]
            position = next((i for i, change in enumerate(log) if change.rv > since), len(log))
        if too_old:
            message = f"too old resource version: {since} ({state.compacted[route.resource]})"
            if state.gone_as_http:
                self._status(410, "Expired", message)
                return
            self._start_chunked()
            self._write_chunk({"type": "ERROR", "object": status_body(410, "Expired", message)})
            self._end_chunked()
            return
        self._start_chunked()
        for change in initial:
            self._write_chunk({"type": change.type, "object": change.obj})
        if watch_list:
            rtype = RESOURCES[route.resource]
            self._write_chunk({"type": "BOOKMARK", "object": {
                "kind": rtype.kind, "apiVersion": rtype.api_version,
                "metadata": {"resourceVersion": str(since), "annotations": {"k8s.io/initial-events-end": "true"}},
            }})
        while True:
            with state.cond:
                while (position >= len(log) and state.drop_generation == drop_generation
                       and not state.stopping and time.monotonic() < deadline):
                    state.cond.wait(min(0.5, max(0.0, deadline - time.monotonic())))
                dropped = state.drop_generation != drop_generation or state.stopping
                pending = log[position:]
                position = len(log)
            if dropped:
                # Die mid-stream with no terminating chunk, as a broken connection does.
                self.close_connection = True
                with contextlib.suppress(OSError):
                    self.connection.shutdown(socket.SHUT_RDWR)
                return
            for change in pending:
                key = ((change.obj.get("metadata") or {}).get("namespace", ""), "")
                if self._in_scope(route, key, change.obj, query):
                    self._write_chunk({"type": change.type, "object": change.obj})
            if time.monotonic() >= deadline:
                self._end_chunked()
                return

    def _start_chunked(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def _write_chunk(self, event: Obj) -> None:
        data = json.dumps(event).encode() + b"\n"
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _end_chunked(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def do_GET(self) -> None:
        self._handle("GET")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_DELETE(self) -> None:
        self._handle("DELETE")


class ApiServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, token: str = "test-token", *, anonymous: bool = False) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.state = ApiState()
        self.token = token
        # Also serve requests that carry no credentials (kube-apiserver's --anonymous-auth with RBAC allowing
        # it): kubectl sends no bearer token over plain http. A wrong token is still refused.
        self.anonymous = anonymous
        self._thread = threading.Thread(target=self.serve_forever, args=(0.05,), name="k8s-test-apiserver", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def start(self) -> ApiServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        with self.state.cond:
            self.state.stopping = True
            self.state.cond.notify_all()
            runners = list(self.state.exec_runners)
        for runner in runners:  # a session still open ends with the server
            runner.kill()
        self.shutdown()
        self.server_close()

    def write_kubeconfig(self, path: Path, context: str = "test", exec_command: list[str] | None = None,
                         namespace: str = "") -> Path:
        """A real kubeconfig (JSON is valid YAML) pointing at this server with a token user.

        With `exec_command`, the user gets its token from that credential plugin instead (as EKS/GKE do).
        """
        user: Obj = {"token": self.token}
        if exec_command:
            user = {"exec": {
                "apiVersion": "client.authentication.k8s.io/v1beta1", "command": exec_command[0],
                "args": exec_command[1:], "interactiveMode": "Never",
            }}
        config = {
            "apiVersion": "v1", "kind": "Config", "current-context": context, "preferences": {},
            "clusters": [{"name": "test-cluster", "cluster": {"server": self.url}}],
            "users": [{"name": "test-user", "user": user}],
            "contexts": [{"name": context, "context": {"cluster": "test-cluster", "user": "test-user",
                                                       **({"namespace": namespace} if namespace else {})}}],
        }
        path.write_text(json.dumps(config, indent=2))
        return path

