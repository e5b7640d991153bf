"""Kubernetes Services at 10k pods: the cost of matching every Service to its workloads and pods on one refresh.

A cluster the way most are deployed: 1,000 Deployments in 20 namespaces (10 pods each, 10,000 pods), each with
its own Service (selector app=NAME) and an EndpointSlice listing its ready pods. The objects are built with the
Kubernetes API test server's own builders (tests/kubernetes/k8s_objects.py) and reduced to what the provider's
watch caches keep (providers/kubernetes/projection.py), then mapped once (build_cluster); each sample is the CPU
time of build_networks over them, as the provider runs it after the mapping on every snapshot.

Matching each Service against every workload and pod of its namespace was 1,000 x (1,000 + 500) label checks
per refresh; the selector index looks up its rarest label pair.
"""

from __future__ import annotations

import time
from typing import Any

from bench_common import Metric, median_of, metric, use_harness

NAMESPACES = 20
DEPLOYMENTS = 1_000
PODS_EACH = 10
SAMPLES = 9
TARGET_MS = 100.0  # the whole 10k-pod mapping (build_cluster) takes about as long; was 1,074 ms


def fleet_objects() -> dict[str, list[Any]]:
    from k8s_objects import deployment, endpoint_slice, pod, replicaset, service

    from pilothouse.providers.kubernetes.objects import DEPLOYMENTS as DEPLOYMENT_KIND
    from pilothouse.providers.kubernetes.objects import ENDPOINT_SLICES, PODS, REPLICASETS, SERVICES
    from pilothouse.providers.kubernetes.projection import project

    objects: dict[str, list[Any]] = {kind.resource: [] for kind in (DEPLOYMENT_KIND, REPLICASETS, PODS, SERVICES,
                                                                    ENDPOINT_SLICES)}
    for index in range(DEPLOYMENTS):
        namespace, name = f"team-{index % NAMESPACES:02d}", f"app-{index:04d}"
        owner = deployment(name, replicas=PODS_EACH, ns=namespace)
        owner["metadata"]["uid"] = f"uid-deployment-{index}"  # what the API server's put() assigns
        replica_set = replicaset(owner, "registry.local/web:1.0", 1, "5f6d7c8b9", PODS_EACH)
        replica_set["metadata"]["uid"] = f"uid-replicaset-{index}"
        pods = [pod(replica_set, f"{name}-5f6d7c8b9-{number:05d}", node=f"node-{number % 50}",
                    ip=f"10.{index // 250}.{index % 250}.{number}", version_label=("pod-template-hash", "5f6d7c8b9"),
                    app=name) for number in range(PODS_EACH)]
        objects[DEPLOYMENT_KIND.resource].append(project(DEPLOYMENT_KIND, owner))
        objects[REPLICASETS.resource].append(project(REPLICASETS, replica_set))
        objects[PODS.resource].extend(project(PODS, one) for one in pods)
        objects[SERVICES.resource].append(project(SERVICES, service(name, {"app": name}, ns=namespace,
                                                                    cluster_ip=f"10.96.{index // 250}.{index % 250}")))
        objects[ENDPOINT_SLICES.resource].append(project(ENDPOINT_SLICES, endpoint_slice(
            name, *((one["metadata"]["name"], one["status"]["podIP"], True) for one in pods), ns=namespace)))
    return objects


def networks_metrics() -> list[Metric]:
    use_harness("kubernetes")
    from pilothouse.providers.kubernetes.mapping import build_cluster
    from pilothouse.providers.kubernetes.networks import build_networks

    objects = fleet_objects()
    cluster = build_cluster("bench", objects)
    networks, _ = build_networks(objects, cluster.services, slices_known=True, policies_known=False)
    reached = sum(1 for service in cluster.services if service.reachability)

    def once() -> float:
        started = time.thread_time()
        build_networks(objects, cluster.services, slices_known=True, policies_known=False)
        return (time.thread_time() - started) * 1000

    value, samples = median_of(SAMPLES, once)
    pods = sum(len(service.tasks) for service in cluster.services)
    return [metric("k8s_networks_ms_10k", round(value, 1), "ms", "<=", TARGET_MS,
                   f"thread CPU of build_networks, median of {SAMPLES}; {len(networks)} Services over "
                   f"{len(cluster.services)} Deployments, {pods} pods; {reached} workloads reached",
                   samples=[round(sample, 1) for sample in samples])]
