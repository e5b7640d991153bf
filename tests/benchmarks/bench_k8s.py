"""Kubernetes: list requests during 30 s of steady state (the cache is fed by watches only; target 0).

The Kubernetes API test server (tests/kubernetes/apiserver.py) holds a fleet of deployments with their
ReplicaSets and pods; the provider runs inside a real ClusterRefresher loop, as the console runs it. After
the initial list of every kind and every watch open, 30 s pass during which objects keep changing (a
scale or a pod status update every 0.5 s) and the watches end server-side every few seconds (a short
watch_timeout_s, so that resuming after a timeout is part of the window). Lists in that window are the metric;
the model must have followed every change.
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench_common import Metric, metric, wait_until

DEPLOYMENTS = 50
PODS_EACH = 4
NODES = 5
STEADY_S = 30.0
CHANGE_EVERY_S = 0.5
WATCH_TIMEOUT_S = 5.0  # production: 60 s; short here so each watch resumes ~6 times in the window


def set_field(section: str, key: str, value: object) -> Callable[[dict[str, Any]], None]:
    """A change for ApiServer.update: obj[section][key] = value."""
    def change(obj: dict[str, Any]) -> None:
        obj[section][key] = value

    return change


def k8s_list_calls_after_sync(steady_s: float = STEADY_S) -> Metric:
    from bench_common import use_harness

    use_harness("kubernetes")
    from apiserver import ApiServer
    from k8s_objects import deployment, node, pod, replicaset

    from pilothouse.providers.base import ClusterConfig
    from pilothouse.providers.kubernetes import KubernetesProvider
    from pilothouse.providers.kubernetes.objects import WATCHED_KINDS
    from pilothouse.providers.model import Cluster
    from pilothouse.providers.refresh import ClusterRefresher

    server = ApiServer().start()
    kubeconfig = server.write_kubeconfig(Path(tempfile.mkdtemp(prefix="pilothouse-bench-k8s-")) / "kubeconfig")
    api = server.state
    for index in range(NODES):
        api.put(node(f"bench-node-{index}"))
    for index in range(DEPLOYMENTS):
        name = f"bench-{index:03d}"
        owner = api.put(deployment(name, replicas=PODS_EACH))
        rs = api.put(replicaset(owner, "registry.local/web:1.0", 1, f"h{index:03d}", PODS_EACH))
        for number in range(PODS_EACH):
            api.put(pod(rs, f"{name}-h{index:03d}-{number}", node=f"bench-node-{number % NODES}", app=name,
                        version_label=("pod-template-hash", f"h{index:03d}")))

    provider = KubernetesProvider(ClusterConfig(name="bench-k8s", provider="kubernetes",
                                                options={"kubeconfig": str(kubeconfig)}))
    provider.watch_timeout_s = WATCH_TIMEOUT_S
    latest: list[Cluster] = []
    refresher = ClusterRefresher(provider, latest.append)
    thread = threading.Thread(target=refresher.run, name="bench-k8s-refresher", daemon=True)
    thread.start()
    try:
        wait_until(lambda: latest and len(latest[-1].services) == DEPLOYMENTS, 30, what="the first snapshot")
        wait_until(lambda: api.count("watch") >= len(WATCHED_KINDS), 30, what="every watch open")
        lists, watches, gets = api.count("list"), api.count("watch"), api.count("get")
        started = time.monotonic()
        changes = 0
        last_scaled = ("", 0)
        while time.monotonic() - started < steady_s:
            index = changes % DEPLOYMENTS
            name = f"bench-{index:03d}"
            if changes % 2 == 0:
                replicas = PODS_EACH + 1 + (changes // DEPLOYMENTS) % 3
                api.update("deployments", "prod", name, set_field("spec", "replicas", replicas))
                last_scaled = (f"prod/{name}", replicas)
            else:
                api.update("pods", "prod", f"{name}-h{index:03d}-0",
                           set_field("status", "podIP", f"10.244.9.{changes % 250}"))
            changes += 1
            # Pacing the writer, not synchronising with the system under test.
            time.sleep(CHANGE_EVERY_S)
        ref, want = last_scaled
        wait_until(lambda: (s := latest[-1].service(ref)) is not None and s.desired == want, 10,
                   what="the model to follow the last change")
        window_lists = api.count("list") - lists
        return metric(
            "k8s_list_calls_after_sync", window_lists, "lists", "=", 0,
            f"{steady_s:g} s, {changes} changes, {api.count('watch') - watches} watch (re)starts, "
            f"{len(latest)} snapshots",
            initial_lists=lists, watch_requests=api.count("watch") - watches, get_requests=api.count("get") - gets,
            changes=changes, watch_timeout_s=WATCH_TIMEOUT_S)
    finally:
        refresher.stop()
        thread.join(timeout=10)
        server.stop()


SCALE_10K = ("k8s_status_vs_kubectl_10k", "k8s_first_paint_vs_kubectl_10k", "k8s_tui_rss_mb_10k",
             "k8s_tui_rss_mb_churn_10k")
SCALE_50K = ("k8s_rss_mb_50k",)


def k8s_metrics(wanted: set[str] | None = None, *, long: bool = False) -> list[Metric]:
    """The Kubernetes benchmarks named in `wanted` (all by default); `long` churns 10 minutes, not 1."""
    from bench_k8s_scale import scale_10k, scale_50k

    wanted = wanted or {"k8s_list_calls_after_sync", *SCALE_10K, *SCALE_50K}
    metrics = []
    if "k8s_list_calls_after_sync" in wanted:
        metrics.append(k8s_list_calls_after_sync())
    if wanted & set(SCALE_10K):
        metrics += scale_10k(long=long)
    if wanted & set(SCALE_50K):
        metrics += scale_50k()
    return metrics


if __name__ == "__main__":
    print(k8s_metrics())
