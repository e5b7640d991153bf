"""ECS API economy: requests per refresh on moto (2 clusters, 250 services, 2,000 tasks) / issue 4's formula.

moto runs in this process in server mode (as tests/ecs/conftest.py starts it) behind tests/ecs's counting
proxy, which also pages and batch-limits like AWS. The provider polls in tiers (providers/ecs/fetch.py: services
every refresh, tasks and container instances every TASKS_EVERY-th), so the count is taken over whole tier
cycles and compared with the formula applied to the same cycles: ListServices + DescribeServices on every
refresh, ListTasks + DescribeTasks + 2 * container-instance calls on the task refreshes.
"""

from __future__ import annotations

import json
import logging
import math
import os
import tempfile
import urllib.request

from bench_common import Metric, metric, use_harness

CLUSTERS = ("bench-alpha", "bench-beta")
SERVICES_PER_CLUSTER = 125  # 250 in all
TASKED_SERVICES_PER_CLUSTER = 100
TASKS_PER_SERVICE = 10  # 100 * 10 * 2 = 2,000 tasks
INSTANCES_PER_CLUSTER = 4
CYCLES = 3


def _post(url: str, body: bytes) -> None:
    request = urllib.request.Request(url, data=body, method="POST")
    with urllib.request.urlopen(request, timeout=10) as answer:
        answer.read()


def _aws_environment() -> None:
    """Fake credentials and no developer AWS config, for this process (boto3 reads os.environ)."""
    home = tempfile.mkdtemp(prefix="pilothouse-bench-aws-")
    os.environ.update({
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing-secret-value",
        "AWS_DEFAULT_REGION": "us-east-1", "AWS_CONFIG_FILE": f"{home}/config",
        "AWS_SHARED_CREDENTIALS_FILE": f"{home}/credentials", "AWS_EC2_METADATA_DISABLED": "true",
        "XDG_STATE_HOME": f"{home}/state",
    })
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_REGION", "AWS_ENDPOINT_URL",
                 "AWS_ENDPOINT_URL_ECS", "AWS_MAX_ATTEMPTS", "AWS_RETRY_MODE"):
        os.environ.pop(name, None)


def formula(services: int, tasks: int, instances: int, *, with_tasks: bool) -> dict[str, int]:
    """Issue 4's minimum for one refresh of one ECS cluster."""
    counts = {"ListServices": math.ceil(services / 100), "DescribeServices": math.ceil(services / 10)}
    if with_tasks:
        counts |= {"ListTasks": math.ceil(tasks / 100), "DescribeTasks": math.ceil(tasks / 100),
                   "ListContainerInstances": math.ceil(instances / 100),
                   "DescribeContainerInstances": math.ceil(instances / 100)}
    return counts


def ecs_calls_ratio() -> Metric:
    use_harness("ecs")
    _aws_environment()
    import boto3
    from ecs_transport import CountingProxy
    from ecs_world import REGION, add_instances, register, run_service_tasks
    from moto.server import ThreadedMotoServer

    from pilothouse.providers.base import ClusterConfig
    from pilothouse.providers.ecs import EcsProvider
    from pilothouse.providers.ecs.fetch import TASKS_EVERY

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    proxy: CountingProxy | None = None
    provider: EcsProvider | None = None
    try:
        host, port = server.get_host_and_port()
        moto = f"http://{host}:{port}"
        transition = {"model_name": "ecs::task", "transition": {"progression": "manual", "times": 1_000_000_000}}
        _post(f"{moto}/moto-api/state-manager/set-transition", json.dumps(transition).encode())
        admin = boto3.client("ecs", endpoint_url=moto, region_name=REGION)
        ec2 = boto3.client("ec2", endpoint_url=moto, region_name=REGION)
        definitions = [register(admin, "bench-api", "registry.example.com/api:1", memory=4),
                       register(admin, "bench-worker", "registry.example.com/worker:7", memory=4, healthcheck=False)]
        for cluster in CLUSTERS:
            admin.create_cluster(clusterName=cluster)
            add_instances(admin, ec2, cluster, INSTANCES_PER_CLUSTER, zones=("us-east-1a", "us-east-1b"))
            for index in range(SERVICES_PER_CLUSTER):
                name = f"bench-svc-{index:03d}"
                tasked = index < TASKED_SERVICES_PER_CLUSTER
                definition = definitions[index % len(definitions)]
                admin.create_service(cluster=cluster, serviceName=name, taskDefinition=definition,
                                     desiredCount=TASKS_PER_SERVICE if tasked else 0)
                if tasked:
                    run_service_tasks(admin, cluster, name, definition, TASKS_PER_SERVICE)

        proxy = CountingProxy(moto).start()
        provider = EcsProvider(ClusterConfig(name="bench-ecs", provider="ecs", options={
            "endpoint_url": proxy.url, "region": REGION, "clusters": list(CLUSTERS)}))
        provider.connect()
        first = provider.snapshot()  # warms the task-definition cache, as the console's first refresh does
        n = SERVICES_PER_CLUSTER
        m = TASKED_SERVICES_PER_CLUSTER * TASKS_PER_SERVICE
        shown_tasks = sum(len(service.tasks) for service in first.services)
        if len(first.services) != n * len(CLUSTERS) or shown_tasks != m * len(CLUSTERS):
            raise RuntimeError(f"fleet not as built: {len(first.services)} services, {shown_tasks} tasks")

        proxy.reset()
        refreshes = CYCLES * TASKS_EVERY
        expected: dict[str, int] = {}
        for number in range(refreshes):
            # The first measured refresh is a services-only one (the warm-up refresh read tasks).
            with_tasks = (number + 1) % TASKS_EVERY == 0
            for _ in CLUSTERS:
                for action, count in formula(n, m, INSTANCES_PER_CLUSTER, with_tasks=with_tasks).items():
                    expected[action] = expected.get(action, 0) + count
            provider.snapshot()
        actual = proxy.snapshot_counts()
        every_refresh_bound = sum(formula(n, m, INSTANCES_PER_CLUSTER, with_tasks=True).values()) \
            * len(CLUSTERS) * refreshes
        ratio = sum(actual.values()) / sum(expected.values())
        result = metric(
            "ecs_calls_ratio", round(ratio, 3), "x", "=", 1.0,
            f"{sum(actual.values())} requests in {refreshes} refreshes ({CYCLES} tier cycles) vs formula "
            f"{sum(expected.values())}; vs all-tiers-every-refresh bound {every_refresh_bound}",
            actual=actual, formula=expected, refreshes=refreshes, tasks_every=TASKS_EVERY,
            per_refresh=round(sum(actual.values()) / refreshes, 2),
            vs_every_refresh_bound=round(sum(actual.values()) / every_refresh_bound, 3))
        # The same total made of different calls would be a coincidence, not the formula.
        result.passed = bool(result.passed) and actual == expected
        return result
    finally:
        if provider is not None:
            provider.close()
        if proxy is not None:
            proxy.stop()
        server.stop()


def ecs_metrics() -> list[Metric]:
    return [ecs_calls_ratio()]


if __name__ == "__main__":
    print(ecs_metrics())
