"""Docker Swarm benchmarks on the real three-node test swarm (tests/swarm/swarm.sh, started if needed).

- swarm_calls_per_refresh: HTTP requests per provider refresh, counted at the transport by the unix-socket
  counting proxy (tests/support/http_count_proxy.py) between the provider and the manager, at two sizes.
- swarm_change_to_model_s: `docker service scale` run outside pilothouse -> a snapshot delivered by the
  provider's real refresher loop (events watch on, the default 2 s poll interval) shows the new desired
  count; clock from just before the CLI is launched.
- swarm_status_vs_cli: `pilothouse status --json` vs the docker CLI doing `docker service ls` then
  `docker service ps` for every service, 30 services, ratio of the medians.
Every service made here is named bench-* and removed at the end (leftovers from a killed run too).
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench_common import Metric, isolated_env, metric, use_harness, wait_until

PREFIX = "bench-"
IMAGE = "pilothouse-test/app:1"
SERVICE_FLAGS = ("--detach", "--no-resolve-image", "--stop-grace-period", "1s")
SIZES = (5, 30)  # services, 2 replicas each
REPLICAS = 2
SCALE_ROUNDS = 5
STATUS_RUNS = 5


class Swarm:
    def __init__(self) -> None:
        use_harness("swarm", "support")
        from swarm_helpers import parse_env, swarm_script

        env = parse_env(swarm_script("up"))
        self.manager = env["DOCKER_HOST"]
        self.manager_socket = self.manager.removeprefix("unix://")
        self.run_id = uuid.uuid4().hex[:4]

    def docker(self, *args: str, check: bool = True) -> str:
        from swarm_helpers import docker

        return str(docker(self.manager, *args, check=check))

    def bench_services(self) -> list[str]:
        names = self.docker("service", "ls", "--format", "{{.Name}}").split()
        return [name for name in names if name.startswith(PREFIX)]

    def remove_bench_services(self) -> None:
        names = self.bench_services()
        if names:
            self.docker("service", "rm", *names, check=False)
        wait_until(lambda: not self.bench_services(), 60, 0.2, "bench services removed")

    def grow_to(self, count: int) -> list[str]:
        """Make sure `count` bench services exist, each with REPLICAS running tasks."""
        have = self.bench_services()
        for index in range(len(have), count):
            self.docker("service", "create", "--name", f"{PREFIX}{self.run_id}-{index:02d}", "--replicas",
                        str(REPLICAS), *SERVICE_FLAGS, IMAGE)
        names = self.bench_services()

        def all_running() -> bool:
            lines = self.docker("service", "ls", "--format", "{{.Name}} {{.Replicas}}").splitlines()
            counts = dict(line.split(" ", 1) for line in lines)
            return all(counts.get(name, "").startswith(f"{REPLICAS}/{REPLICAS}") for name in names)

        wait_until(all_running, 180, 0.5, f"{count} bench services running")
        return names

    def provider(self, url: str, name: str = "bench-swarm") -> Any:
        from pilothouse.providers.base import ClusterConfig
        from pilothouse.providers.swarm import SwarmProvider

        return SwarmProvider(ClusterConfig(name=name, provider="swarm", options={"docker_host": url}))


def calls_per_refresh(swarm: Swarm, services: int) -> tuple[int, dict[str, Any]]:
    from http_count_proxy import CountingProxy

    swarm.grow_to(services)
    socket_path = str(Path(tempfile.mkdtemp(prefix="pilothouse-bench-")) / "docker.sock")
    with CountingProxy(upstream=swarm.manager_socket, listen=socket_path) as proxy:
        provider = swarm.provider(proxy.url)
        try:
            provider.connect()
            provider.snapshot()  # the first one may look up network names once
            per_refresh: list[int] = []
            paths: list[str] = []
            for _ in range(3):
                proxy.taken()
                cluster = provider.snapshot()
                seen = proxy.taken()
                per_refresh.append(len(seen))
                paths = sorted(request.split("?")[0] for request in seen)
        finally:
            provider.close()
    tasks = sum(len(service.tasks) for service in cluster.services)
    return max(per_refresh), {"services": len(cluster.services), "tasks": tasks, "per_refresh": per_refresh,
                              "requests": paths}


def change_to_model(swarm: Swarm) -> tuple[float, dict[str, Any]]:
    from pilothouse.providers.model import Cluster
    from pilothouse.providers.refresh import ClusterRefresher

    name = f"{PREFIX}{swarm.run_id}-scale"
    swarm.docker("service", "create", "--name", name, "--replicas", "1", *SERVICE_FLAGS, IMAGE)
    provider = swarm.provider(swarm.manager)
    latest: list[Cluster] = []
    arrived = threading.Event()

    def on_snapshot(cluster: Cluster) -> None:
        latest.append(cluster)
        arrived.set()

    refresher = ClusterRefresher(provider, on_snapshot)  # the configured default interval (2 s)
    thread = threading.Thread(target=refresher.run, name="bench-swarm-refresher", daemon=True)
    thread.start()

    def desired() -> int:
        service = latest[-1].service(name) if latest else None
        return -1 if service is None else service.desired

    try:
        wait_until(lambda: desired() == 1, 30, what="the scale service in the model")
        samples, after_cli = [], []
        for number in range(SCALE_ROUNDS):
            want = 2 + number % 2  # 2, 3, 2, 3, ...
            started = time.monotonic()
            swarm.docker("service", "scale", "--detach", f"{name}={want}")
            returned = time.monotonic()
            wait_until(lambda w=want: desired() == w, 30, 0.005, f"desired {want} in the model")  # type: ignore[misc]
            seen = time.monotonic()
            samples.append(seen - started)
            after_cli.append(seen - returned)
    finally:
        refresher.stop()
        thread.join(timeout=10)
    return statistics.median(samples), {
        "samples_s": [round(s, 3) for s in samples], "after_cli_returned_s": [round(s, 3) for s in after_cli],
        "refresh_interval_s": refresher.interval}


def status_vs_cli(swarm: Swarm) -> tuple[float, dict[str, Any]]:
    swarm.grow_to(SIZES[-1])
    config = Path(tempfile.mkdtemp(prefix="pilothouse-bench-")) / "config.toml"
    config.write_text(f'[[clusters]]\nname = "bench"\nprovider = "swarm"\ndocker_host = "{swarm.manager}"\n')
    env = isolated_env()

    command = [sys.executable, "-m", "pilothouse", "status", "--json", "--config", str(config)]

    def pilothouse_status() -> float:
        started = time.perf_counter()
        # Exit 1 means "something is not healthy" (a node down...), still a full answer: not checked here.
        subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)
        return time.perf_counter() - started

    def docker_cli() -> float:
        started = time.perf_counter()
        names = swarm.docker("service", "ls", "--format", "{{.Name}}").split()
        for name in names:
            swarm.docker("service", "ps", name)
        return time.perf_counter() - started

    def medians(measure: Callable[[], float]) -> tuple[float, list[float]]:
        samples = [measure() for _ in range(STATUS_RUNS)]
        return statistics.median(samples), samples

    services = len(swarm.docker("service", "ls", "--format", "{{.Name}}").split())
    # Once untimed (.pyc and page cache, as for the CLI binary), and to check it answers for every service.
    answer = json.loads(subprocess.run(command, env=env, capture_output=True, text=True, timeout=120).stdout)
    shown = sum(len(cluster.get("services", [])) for cluster in answer["clusters"])
    if shown != services:
        raise RuntimeError(f"pilothouse status showed {shown} services, the swarm has {services}")
    ours, ours_samples = medians(pilothouse_status)
    cli, cli_samples = medians(docker_cli)
    return ours / cli, {"pilothouse_s": round(ours, 3), "docker_cli_s": round(cli, 3), "services": services,
                        "pilothouse_samples": [round(s, 3) for s in ours_samples],
                        "cli_samples": [round(s, 3) for s in cli_samples]}


def swarm_metrics() -> list[Metric]:
    swarm = Swarm()
    metrics: list[Metric] = []
    try:
        swarm.remove_bench_services()
        worst = 0
        by_size: dict[str, Any] = {}
        for size in SIZES:
            calls, details = calls_per_refresh(swarm, size)
            worst = max(worst, calls)
            by_size[f"{details['services']} services / {details['tasks']} tasks"] = details
        sizes = ", ".join(by_size)
        metrics.append(metric("swarm_calls_per_refresh", worst, "requests", "=", 3,
                              f"worst of 3 refreshes at each size ({sizes})", **by_size))
        ratio, details = status_vs_cli(swarm)
        metrics.append(metric("swarm_status_vs_cli", round(ratio, 3), "x", "<", 1.0,
                              f"{details['pilothouse_s']} s vs {details['docker_cli_s']} s, "
                              f"{details['services']} services, medians of {STATUS_RUNS}", **details))
        seconds, details = change_to_model(swarm)
        metrics.append(metric("swarm_change_to_model_s", round(seconds, 3), "s", "<=", 1.0,
                              f"median of {SCALE_ROUNDS}, from launching the docker CLI", **details))
    finally:
        swarm.remove_bench_services()
    return metrics


if __name__ == "__main__":
    for one in swarm_metrics():
        print(one)
