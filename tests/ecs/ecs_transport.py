"""A small HTTP proxy in front of moto: the provider's real transport, observed and shaped like AWS.

- counts every ECS call by its X-Amz-Target action, and elbv2's by the query protocol's Action;
- pages ListServices/ListTasks/ListContainerInstances/ListClusters as AWS does (moto answers in one page),
  so the provider's nextToken loop and the API-budget formula are exercised for real;
- enforces AWS's batch limits (DescribeServices 10, DescribeTasks/DescribeContainerInstances 100);
- injects faults (throttling, expired credentials) decided by a callable, per request;
- answers, from canned JSON, the AWS actions moto lacks (ListServiceDeployments & co).
"""

from __future__ import annotations

import http.client
import json
import math
import threading
import time
import urllib.parse
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from werkzeug.serving import make_server

Environ = dict[str, Any]
StartResponse = Callable[..., Any]

# action -> (list key in the answer, AWS's page size when maxResults is not given)
PAGED = {
    "ListServices": ("serviceArns", 10),
    "ListTasks": ("taskArns", 100),
    "ListContainerInstances": ("containerInstanceArns", 100),
    "ListClusters": ("clusterArns", 100),
}
BATCH_LIMITS = {"DescribeServices": ("services", 10), "DescribeTasks": ("tasks", 100),
                "DescribeContainerInstances": ("containerInstances", 100)}
HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "content-length", "host", "content-encoding"}


@dataclass(frozen=True, slots=True)
class Fault:
    status: int
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class Request:
    action: str
    body: dict[str, Any]
    authorization: str
    number: int  # 1-based count of this action so far, this one included


FaultRule = Callable[[Request], Fault | None]

THROTTLE = Fault(400, "ThrottlingException", "Rate exceeded")


class ThrottleShare:
    """A fault rule that throttles `share` of all ECS requests, deterministically: the n-th request seen
    (counting on from `seed`) is throttled when floor(n * share) steps up, so 0.6 throttles 3 of every 5
    and never more than 2 in a row, whatever the timing. Counts what it throttled and let through."""

    def __init__(self, share: float, seed: int = 0) -> None:
        self.share = share
        self.counter = seed
        self.throttled = 0
        self.passed = 0
        self._lock = threading.Lock()

    def __call__(self, request: Request) -> Fault | None:
        with self._lock:
            self.counter += 1
            n = self.counter
            hit = math.floor(n * self.share) > math.floor((n - 1) * self.share)
            if hit:
                self.throttled += 1
            else:
                self.passed += 1
        return THROTTLE if hit else None


class CountingProxy:
    def __init__(self, upstream: str, *, keep_listings: bool = False) -> None:
        parts = urlsplit(upstream)
        self._upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.counts: Counter[str] = Counter()
        # Seconds spent waiting for moto, by action: what the backend costs, apart from the client's own time.
        self.upstream_s: defaultdict[str, float] = defaultdict(float)
        # keep_listings: a List* call's later pages come from the listing its first page fetched (as AWS's
        # opaque nextToken does), instead of moto building the whole list again for every page.
        self.keep_listings = keep_listings
        self._listings: dict[str, list[Any]] = {}
        self.faults: list[FaultRule] = []
        self.answers: dict[str, Callable[[Request], dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self._server = make_server("127.0.0.1", 0, self, threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def start(self) -> CountingProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=10)

    def reset(self) -> None:
        with self._lock:
            self.counts.clear()
            self.upstream_s.clear()
            self._listings.clear()
            self.faults.clear()
            self.answers.clear()

    def snapshot_counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self.counts)

    def total(self, actions: Iterable[str] | None = None) -> int:
        counts = self.snapshot_counts()
        return sum(v for k, v in counts.items() if actions is None or k in set(actions))

    # -- WSGI ---------------------------------------------------------------------------------

    def __call__(self, environ: Environ, start_response: StartResponse) -> list[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw_body = environ["wsgi.input"].read(length) if length else b""
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        action = target.rsplit(".", 1)[-1] if target else ""
        if not action and environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
            # The query protocol (elbv2: DescribeTargetHealth) names its action in the form body.
            action = urllib.parse.parse_qs(raw_body.decode()).get("Action", [""])[0]
        try:
            body = json.loads(raw_body) if raw_body else {}
        except ValueError:
            body = {}
        if action:
            with self._lock:
                self.counts[action] += 1
                number = self.counts[action]
                rules = list(self.faults)
                canned = self.answers.get(action)
            request = Request(action, body, environ.get("HTTP_AUTHORIZATION", ""), number)
            for rule in rules:
                fault = rule(request)
                if fault is not None:
                    return self._error(start_response, fault)
            if canned is not None:
                answer = json.dumps(canned(request)).encode()
                start_response("200 OK", [("Content-Type", "application/x-amz-json-1.1"),
                                          ("Content-Length", str(len(answer)))])
                return [answer]
            limit = BATCH_LIMITS.get(action)
            if limit and len(body.get(limit[0], [])) > limit[1]:
                return self._error(start_response, Fault(
                    400, "InvalidParameterException", f"{limit[0]} can have at most {limit[1]} items"))
        offset, page, listing = 0, 0, ""
        if action in PAGED:
            listing, _, offset_text = str(body.pop("nextToken", "") or "").rpartition(":")
            offset = int(offset_text or 0)
            page = int(body.pop("maxResults", 0) or PAGED[action][1])
            if not 1 <= page <= 100:
                return self._error(start_response, Fault(400, "InvalidParameterException", "maxResults 1-100"))
            raw_body = json.dumps(body).encode()
        with self._lock:
            kept = self._listings.get(listing) if listing else None
        if kept is not None:
            status, headers = 200, [("Content-Type", "application/x-amz-json-1.1")]
            data: dict[str, Any] = {PAGED[action][0]: kept}
        else:
            status, headers, answer = self._forward(environ, raw_body, action)
            data = json.loads(answer) if action in PAGED and status == 200 else {}
        if action in PAGED and status == 200:
            key = PAGED[action][0]
            items = data.get(key, [])
            data[key] = items[offset:offset + page]
            data.pop("nextToken", None)
            if offset + page < len(items):
                if self.keep_listings and not listing:
                    with self._lock:
                        listing = f"L{len(self._listings)}"
                        self._listings[listing] = items
                data["nextToken"] = f"{listing}:{offset + page}" if listing else str(offset + page)
            answer = json.dumps(data).encode()
        start_response(f"{status} {http.client.responses.get(status, '')}",
                       [*headers, ("Content-Length", str(len(answer)))])
        return [answer]

    def _forward(self, environ: Environ, body: bytes, action: str) -> tuple[int, list[tuple[str, str]], bytes]:
        path = environ.get("RAW_URI") or environ.get("PATH_INFO", "/")
        if environ.get("QUERY_STRING") and "?" not in path:
            path += "?" + environ["QUERY_STRING"]
        headers = {
            key[5:].replace("_", "-").title(): value
            for key, value in environ.items() if key.startswith("HTTP_")
        }
        if environ.get("CONTENT_TYPE"):
            headers["Content-Type"] = environ["CONTENT_TYPE"]
        headers = {k: v for k, v in headers.items() if k.lower() not in HOP_HEADERS}
        headers["Content-Length"] = str(len(body))
        connection = http.client.HTTPConnection(*self._upstream, timeout=30)
        started = time.perf_counter()
        try:
            connection.request(environ["REQUEST_METHOD"], path, body=body, headers=headers)
            response = connection.getresponse()
            answer = response.read()
            kept = [(k, v) for k, v in response.getheaders() if k.lower() not in HOP_HEADERS]
            return response.status, kept, answer
        finally:
            connection.close()
            with self._lock:
                self.upstream_s[action or "other"] += time.perf_counter() - started

    @staticmethod
    def _error(start_response: StartResponse, fault: Fault) -> list[bytes]:
        answer = json.dumps({"__type": fault.code, "message": fault.message}).encode()
        start_response(f"{fault.status} {http.client.responses.get(fault.status, '')}", [
            ("Content-Type", "application/x-amz-json-1.1"), ("Content-Length", str(len(answer))),
            ("x-amzn-RequestId", "pilothouse-test-fault"),
        ])
        return [answer]
