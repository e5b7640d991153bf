"""moto in server mode behind tests/ecs's counting proxy, in a process of its own, holding a fleet built to size.

Run by bench_ecs.py as `python ecs_backend.py --clusters a,b,c --services 2000 --tasks-each 10 ...`: it starts
moto (ThreadedMotoServer, tasks kept RUNNING by the manual transition), builds the fleet through moto's HTTP
API (RegisterTaskDefinition, CreateCluster, RegisterContainerInstance, CreateService with desiredCount, then
one RunTask per service with count = desiredCount and group service:NAME, as an ECS service scheduler would),
prints one JSON line (the proxy's URL, the fixture's seconds) and serves until its stdin closes.
A process of its own so that moto's CPU is not the provider's: AWS answers from elsewhere too.

The proxy answers two paths of its own: GET /__bench/counts (requests by action, seconds spent in moto by
action) and POST /__bench/reset.

Two things stand between the proxy and moto, said here because they shape the figures:
- moto's DescribeTasks compares every task it holds with every ARN asked (O(all tasks x 100) per call, about
  1 s per call at 20,000 tasks). It is given an index by task id; the answer is the same tasks, each advanced
  as moto advances them.
- moto's generic response serializer takes about 3 ms per task and 10 ms per service described: 80 s of CPU
  for one pass over this fleet, where AWS answers a DescribeTasks in tens of milliseconds. So a small cache
  (DescribedCache) between the counting proxy and moto keeps each task and service as moto described it, by
  ARN, and answers a describe whose every ARN it holds from those; the fixture describes everything once to
  fill it. Nothing changes the fleet while the benchmark runs, so the answers are moto's own. Every request is
  still counted, paged and batch-limited by the counting proxy in front.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_common import use_harness

Environ = dict[str, Any]


def index_describe_tasks() -> None:
    """moto's describe_tasks with a lookup by task id instead of a scan per ARN asked."""
    from moto.ecs.exceptions import InvalidParameterException
    from moto.ecs.models import EC2ContainerServiceBackend

    def describe_tasks(self: Any, cluster_str: str, tasks: list[str]) -> list[Any]:
        self._get_cluster(cluster_str)
        if not tasks:
            raise InvalidParameterException("Tasks cannot be empty.")
        by_id = {task.id: task for held in self.tasks.values() for task in held.values()}
        found = []
        for asked in tasks:
            task = by_id.get(asked.rsplit("/", 1)[-1])
            if task is not None:
                task.advance()
                found.append(task)
        return found

    EC2ContainerServiceBackend.describe_tasks = describe_tasks  # type: ignore[method-assign]


class DescribedCache:
    """A WSGI app in front of moto: DescribeTasks/DescribeServices answered from what moto said before, by ARN."""

    KINDS = {"DescribeTasks": ("tasks", "taskArn"), "DescribeServices": ("services", "serviceArn")}

    def __init__(self, moto: str) -> None:
        from urllib.parse import urlsplit

        parts = urlsplit(moto)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.items: dict[tuple[str, str], Any] = {}  # (action, ARN): ARNs are unique, clusters asked by name or ARN
        self.hits = 0
        self.misses = 0

    def __call__(self, environ: Environ, start_response: Callable[..., Any]) -> list[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        action = environ.get("HTTP_X_AMZ_TARGET", "").rsplit(".", 1)[-1]
        kind = self.KINDS.get(action)
        asked: dict[str, Any] = json.loads(body) if kind and body else {}
        if kind:
            held = [self.items.get((action, arn)) for arn in asked.get(kind[0], [])]
            if held and all(item is not None for item in held):
                self.hits += 1
                answer = json.dumps({kind[0]: held, "failures": []}).encode()
                start_response("200 OK", [("Content-Type", "application/x-amz-json-1.1"),
                                          ("Content-Length", str(len(answer)))])
                return [answer]
            self.misses += 1
        status, headers, answer = self._forward(environ, body)
        if kind and status == 200:
            for item in json.loads(answer).get(kind[0], []):
                self.items[(action, str(item.get(kind[1])))] = item
        start_response(f"{status} {'OK' if status == 200 else 'Error'}",
                       [*headers, ("Content-Length", str(len(answer)))])
        return [answer]

    def _forward(self, environ: Environ, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        import http.client

        headers = {key[5:].replace("_", "-").title(): value for key, value in environ.items()
                   if key.startswith("HTTP_") and key not in ("HTTP_HOST", "HTTP_CONTENT_LENGTH", "HTTP_CONNECTION")}
        if environ.get("CONTENT_TYPE"):
            headers["Content-Type"] = environ["CONTENT_TYPE"]
        headers["Content-Length"] = str(len(body))
        path = environ.get("RAW_URI") or environ.get("PATH_INFO", "/")
        connection = http.client.HTTPConnection(*self.upstream, timeout=60)
        try:
            connection.request(environ["REQUEST_METHOD"], path, body=body, headers=headers)
            response = connection.getresponse()
            answer = response.read()
            kept = [(k, v) for k, v in response.getheaders()
                    if k.lower() not in ("content-length", "transfer-encoding", "connection", "content-encoding")]
            return response.status, kept, answer
        finally:
            connection.close()


def describe_everything(url: str, clusters: list[str], workers: int) -> None:
    """Describe every service and task once through the cache, in AWS-sized batches, to fill it."""
    import boto3
    from ecs_world import REGION

    client = boto3.client("ecs", endpoint_url=url, region_name=REGION)
    jobs: list[tuple[str, str, list[str]]] = []
    for cluster in clusters:
        services = client.list_services(cluster=cluster, maxResults=100)["serviceArns"]  # moto: one page
        tasks = client.list_tasks(cluster=cluster, desiredStatus="RUNNING")["taskArns"]
        jobs += [("describe_services", cluster, services[i:i + 10]) for i in range(0, len(services), 10)]
        jobs += [("describe_tasks", cluster, tasks[i:i + 100]) for i in range(0, len(tasks), 100)]

    def run(job: tuple[str, str, list[str]]) -> None:
        operation, cluster, arns = job
        if operation == "describe_services":
            client.describe_services(cluster=cluster, services=arns, include=["TAGS"])
        else:
            client.describe_tasks(cluster=cluster, tasks=arns)

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(run, jobs))


def build(moto: str, clusters: list[str], services: int, tasks_each: int, instances: int,
          workers: int) -> dict[str, Any]:
    """`services` services spread over the clusters, each running `tasks_each` tasks; every 4th on Fargate."""
    import boto3
    from ecs_world import REGION, add_instances, register

    admin = boto3.client("ecs", endpoint_url=moto, region_name=REGION)
    ec2 = boto3.client("ec2", endpoint_url=moto, region_name=REGION)
    definitions = [register(admin, "bench-api", "registry.example.com/api:1", memory=4),
                   register(admin, "bench-worker", "registry.example.com/worker:7", memory=4, healthcheck=False)]
    plan: list[tuple[str, str, str, str]] = []  # (cluster, service, task definition, launch type)
    for cluster in clusters:
        admin.create_cluster(clusterName=cluster)
        if instances:
            add_instances(admin, ec2, cluster, instances, zones=("us-east-1a", "us-east-1b", "us-east-1c"))
    for index in range(services):
        launch = "FARGATE" if index % 4 == 3 or not instances else "EC2"
        plan.append((clusters[index % len(clusters)], f"bench-svc-{index:04d}", definitions[index % 2], launch))

    def create(item: tuple[str, str, str, str]) -> int:
        cluster, name, definition, launch = item
        admin.create_service(cluster=cluster, serviceName=name, taskDefinition=definition, desiredCount=tasks_each,
                             launchType=launch)
        if not tasks_each:
            return 0
        placed = admin.run_task(cluster=cluster, taskDefinition=definition, count=tasks_each,
                                group=f"service:{name}", launchType=launch)["tasks"]
        if len(placed) != tasks_each:
            raise RuntimeError(f"moto placed {len(placed)} of {tasks_each} tasks for {name}")
        return len(placed)

    with ThreadPoolExecutor(workers) as pool:
        placed = sum(pool.map(create, plan))
    return {"services": services, "tasks": placed, "instances": instances * len(clusters),
            "definitions": definitions}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clusters", required=True, help="comma-separated ECS cluster names")
    parser.add_argument("--services", type=int, required=True, help="in all, spread over the clusters")
    parser.add_argument("--tasks-each", type=int, default=10)
    parser.add_argument("--instances", type=int, default=0, help="container instances per cluster")
    parser.add_argument("--workers", type=int, default=4, help="concurrent fixture requests")
    args = parser.parse_args()

    use_harness("ecs")
    from bench_ecs import _aws_environment, _post

    _aws_environment()
    from ecs_transport import CountingProxy
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    index_describe_tasks()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    moto = f"http://{host}:{port}"
    transition = {"model_name": "ecs::task", "transition": {"progression": "manual", "times": 1_000_000_000}}
    _post(f"{moto}/moto-api/state-manager/set-transition", json.dumps(transition).encode())
    clusters = args.clusters.split(",")
    started = time.perf_counter()
    built = build(moto, clusters, args.services, args.tasks_each, args.instances, args.workers)
    built["fixture_s"] = round(time.perf_counter() - started, 1)

    from werkzeug.serving import make_server

    cache = DescribedCache(moto)
    cache_server = make_server("127.0.0.1", 0, cache, threaded=True)
    threading.Thread(target=cache_server.serve_forever, daemon=True).start()
    cache_url = f"http://127.0.0.1:{cache_server.server_port}"
    started = time.perf_counter()
    describe_everything(cache_url, clusters, args.workers)
    built["cache_fill_s"] = round(time.perf_counter() - started, 1)
    built["cache"] = {"items": len(cache.items)}

    proxy = CountingProxy(cache_url, keep_listings=True)
    counting: Callable[[Environ, Callable[..., Any]], list[bytes]] = proxy.__call__

    def app(environ: Environ, start_response: Callable[..., Any]) -> list[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/__bench/counts":
            with proxy._lock:
                body = json.dumps({"counts": dict(proxy.counts), "cache_hits": cache.hits,
                                   "cache_misses": cache.misses,
                                   "upstream_s": {k: round(v, 3) for k, v in proxy.upstream_s.items()}}).encode()
            start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return [body]
        if path == "/__bench/reset":
            proxy.reset()
            start_response("204 No Content", [])
            return []
        return counting(environ, start_response)

    proxy._server.app = app
    proxy.start()
    print(json.dumps({"proxy": proxy.url, **built}), flush=True)
    sys.stdin.read()  # until the benchmark closes our stdin (or dies)
    proxy.stop()
    cache_server.shutdown()
    server.stop()


if __name__ == "__main__":
    main()
