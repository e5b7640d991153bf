"""Real-shaped Kubernetes objects for the test server (shapes from the Kubernetes API reference).

Each builder returns what the API server would hold, status included; controllers do not run in the test
server, so tests write the status a controller would.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

Obj = dict[str, Any]

NS = "prod"
TS = "2024-05-01T10:00:00Z"


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def owner_ref(owner: Obj) -> Obj:
    return {
        "apiVersion": owner.get("apiVersion", "apps/v1"), "kind": owner["kind"],
        "name": owner["metadata"]["name"], "uid": owner["metadata"]["uid"],
        "controller": True, "blockOwnerDeletion": True,
    }


def container(image: str, name: str = "app", readiness: bool = True, liveness: bool = False) -> Obj:
    spec: Obj = {
        "name": name, "image": image, "imagePullPolicy": "IfNotPresent",
        "ports": [{"containerPort": 8080, "protocol": "TCP"}],
        "env": [
            {"name": "MODE", "value": "prod"},
            {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}},
        ],
        "resources": {"limits": {"memory": "256Mi", "cpu": "500m"}},
        "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
    }
    if readiness:
        spec["readinessProbe"] = {
            "httpGet": {"path": "/ready", "port": 8080, "scheme": "HTTP"}, "periodSeconds": 10,
            "timeoutSeconds": 1, "successThreshold": 1, "failureThreshold": 3,
        }
    if liveness:
        spec["livenessProbe"] = {"tcpSocket": {"port": 8080}, "periodSeconds": 10, "failureThreshold": 3}
    return spec


def pod_template(app: str, image: str, extra_labels: dict[str, str] | None = None) -> Obj:
    labels = {"app": app, **(extra_labels or {})}
    return {
        "metadata": {"labels": labels},
        "spec": {
            "containers": [container(image)], "restartPolicy": "Always", "dnsPolicy": "ClusterFirst",
            "terminationGracePeriodSeconds": 30, "schedulerName": "default-scheduler",
            "securityContext": {},
        },
    }


def deployment(
    name: str = "web", image: str = "registry.local/web:1.0", replicas: int = 3, *, ns: str = NS,
    revision: int = 1, paused: bool = False, status: Obj | None = None,
) -> Obj:
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {
            "name": name, "namespace": ns, "labels": {"app": name}, "creationTimestamp": TS,
            "annotations": {"deployment.kubernetes.io/revision": str(revision)},
        },
        "spec": {
            "replicas": replicas, "selector": {"matchLabels": {"app": name}},
            "template": pod_template(name, image), "paused": paused, "revisionHistoryLimit": 10,
            "progressDeadlineSeconds": 600,
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
        },
        "status": status if status is not None else stable_deployment_status(replicas),
    }


def stable_deployment_status(replicas: int, generation: int = 1) -> Obj:
    return {
        "observedGeneration": generation, "replicas": replicas, "updatedReplicas": replicas,
        "readyReplicas": replicas, "availableReplicas": replicas,
        "conditions": [
            {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable",
             "lastUpdateTime": TS, "lastTransitionTime": TS},
            {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable",
             "message": "ReplicaSet has successfully progressed.", "lastUpdateTime": TS,
             "lastTransitionTime": TS},
        ],
    }


def replicaset(owner: Obj, image: str, revision: int, template_hash: str, replicas: int) -> Obj:
    name = owner["metadata"]["name"]
    template = pod_template(name, image, {"pod-template-hash": template_hash})
    return {
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {
            "name": f"{name}-{template_hash}", "namespace": owner["metadata"]["namespace"],
            "labels": {"app": name, "pod-template-hash": template_hash},
            "annotations": {
                "deployment.kubernetes.io/revision": str(revision),
                "deployment.kubernetes.io/desired-replicas": str(owner["spec"]["replicas"]),
                "kubernetes.io/change-cause": f"deploy {image}",
            },
            "ownerReferences": [owner_ref(owner)],
            "creationTimestamp": f"2024-05-0{min(revision, 9)}T10:00:00Z",
        },
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name, "pod-template-hash": template_hash}},
            "template": template,
        },
        "status": {"replicas": replicas, "readyReplicas": replicas, "availableReplicas": replicas,
                   "fullyLabeledReplicas": replicas, "observedGeneration": 1},
    }


def pod(
    owner: Obj, name: str, *, node: str = "node-1", ip: str = "10.244.1.5", version_label: tuple[str, str],
    phase: str = "Running", ready: bool = True, restarts: int = 0, waiting: tuple[str, str] | None = None,
    app: str = "web", ready_since: str = TS,
) -> Obj:
    container_state: Obj = {"running": {"startedAt": TS}}
    last_state: Obj = {}
    if waiting is not None:
        container_state = {"waiting": {"reason": waiting[0], "message": waiting[1]}}
        if restarts:
            last_state = {"terminated": {"exitCode": 1, "reason": "Error", "startedAt": TS, "finishedAt": TS}}
    status = "True" if ready else "False"
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {
            "name": name, "namespace": owner["metadata"]["namespace"],
            "labels": {"app": app, version_label[0]: version_label[1]},
            "ownerReferences": [owner_ref(owner)], "creationTimestamp": TS,
        },
        "spec": {"nodeName": node, "containers": [container("registry.local/web:1.0")]},
        "status": {
            "phase": phase, "podIP": ip if phase == "Running" else None, "hostIP": "192.168.0.11",
            "startTime": TS, "qosClass": "Burstable",
            "conditions": [
                {"type": "PodScheduled", "status": "True", "lastTransitionTime": TS},
                {"type": "Initialized", "status": "True", "lastTransitionTime": TS},
                {"type": "ContainersReady", "status": status, "lastTransitionTime": ready_since},
                {"type": "Ready", "status": status, "lastTransitionTime": ready_since},
            ],
            "containerStatuses": [{
                "name": "app", "image": "registry.local/web:1.0", "imageID": "", "ready": ready,
                "started": waiting is None, "restartCount": restarts, "state": container_state,
                "lastState": last_state,
            }],
        },
    }


def node(
    name: str, *, ready: bool = True, unschedulable: bool = False, taints: list[Obj] | None = None,
    zone: str = "eu-west-1a", roles: tuple[str, ...] = (),
) -> Obj:
    labels = {"kubernetes.io/hostname": name, "topology.kubernetes.io/zone": zone,
              **{f"node-role.kubernetes.io/{role}": "" for role in roles}}
    ready_condition = (
        {"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "kubelet is posting ready status"}
        if ready else
        {"type": "Ready", "status": "Unknown", "reason": "NodeStatusUnknown",
         "message": "Kubelet stopped posting node status."}
    )
    spec: Obj = {"podCIDR": "10.244.1.0/24"}
    if unschedulable:
        spec["unschedulable"] = True
    if taints:
        spec["taints"] = taints
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": labels, "creationTimestamp": TS},
        "spec": spec,
        "status": {
            "conditions": [{"type": "MemoryPressure", "status": "False"},
                           {**ready_condition, "lastHeartbeatTime": TS, "lastTransitionTime": TS}],
            "addresses": [{"type": "InternalIP", "address": f"192.168.0.{len(name)}"},
                          {"type": "Hostname", "address": name}],
            "nodeInfo": {"kubeletVersion": "v1.30.2", "containerRuntimeVersion": "containerd://1.7.13"},
        },
    }


def event(kind: str, name: str, reason: str, message: str, *, ns: str = NS, warning: bool = False,
          count: int = 1, at: str = TS) -> Obj:
    return {
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": f"{name}.{reason.lower()}", "namespace": ns, "creationTimestamp": at},
        "involvedObject": {"kind": kind, "namespace": ns, "name": name,
                           "apiVersion": "v1" if kind == "Pod" else "apps/v1"},
        "reason": reason, "message": message, "type": "Warning" if warning else "Normal", "count": count,
        "firstTimestamp": at, "lastTimestamp": at, "source": {"component": "kubelet"},
    }


def statefulset(name: str = "db", image: str = "registry.local/db:15", replicas: int = 3, *, ns: str = NS,
                partition: int = 0, status: Obj | None = None) -> Obj:
    return {
        "apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": name, "namespace": ns, "labels": {"app": name}, "creationTimestamp": TS},
        "spec": {
            "replicas": replicas, "serviceName": name, "selector": {"matchLabels": {"app": name}},
            "template": pod_template(name, image), "podManagementPolicy": "OrderedReady",
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": partition}},
        },
        "status": status or {},
    }


def daemonset(name: str = "agent", image: str = "registry.local/agent:2", *, ns: str = NS,
              status: Obj | None = None) -> Obj:
    return {
        "apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": {"name": name, "namespace": ns, "labels": {"app": name}, "creationTimestamp": TS},
        "spec": {
            "selector": {"matchLabels": {"app": name}}, "template": pod_template(name, image),
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}},
        },
        "status": status or {},
    }


def controller_revision(owner: Obj, revision: int, image: str, revision_hash: str) -> Obj:
    """What the StatefulSet/DaemonSet controller stores: the template as a "$patch": "replace" patch."""
    name = owner["metadata"]["name"]
    template = pod_template(name, image)
    template["$patch"] = "replace"
    return {
        "apiVersion": "apps/v1", "kind": "ControllerRevision",
        "metadata": {
            "name": f"{name}-{revision_hash}", "namespace": owner["metadata"]["namespace"],
            "labels": {"app": name, "controller-revision-hash": revision_hash},
            "ownerReferences": [owner_ref(owner)], "creationTimestamp": TS,
        },
        "data": {"spec": {"template": template}},
        "revision": revision,
    }


def persistent_volume_claim(name: str, *modes: str, ns: str = NS, bound: bool = True) -> Obj:
    """A claim as the API server holds it: the modes asked for, and (bound) those of its volume."""
    claim: Obj = {
        "apiVersion": "v1", "kind": "PersistentVolumeClaim",
        "metadata": {"name": name, "namespace": ns, "creationTimestamp": TS},
        "spec": {"accessModes": list(modes), "resources": {"requests": {"storage": "1Gi"}},
                 "storageClassName": "standard", "volumeMode": "Filesystem"},
        "status": {"phase": "Pending"},
    }
    if bound:
        claim["spec"]["volumeName"] = f"pvc-{name}"
        claim["status"] = {"phase": "Bound", "accessModes": list(modes), "capacity": {"storage": "1Gi"}}
    return claim


def service(name: str, selector: dict[str, str] | None, *, ns: str = NS, service_type: str = "ClusterIP",
            cluster_ip: str = "10.96.0.10", port: int = 80, target_port: int = 8080) -> Obj:
    spec: Obj = {"type": service_type, "clusterIP": cluster_ip, "clusterIPs": [cluster_ip],
                 "ports": [{"name": "http", "port": port, "targetPort": target_port, "protocol": "TCP"}]}
    if selector is not None:
        spec["selector"] = selector
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": ns, "creationTimestamp": TS}, "spec": spec}


def endpoint_slice(service_name: str, *endpoints: tuple[str, str, bool | None], ns: str = NS,
                   suffix: str = "abcde") -> Obj:
    """An EndpointSlice of a Service; each endpoint is (pod name, address, ready), ready None = unset."""
    items = []
    for pod_name, address, ready in endpoints:
        conditions: Obj = {} if ready is None else {"ready": ready, "serving": ready, "terminating": False}
        items.append({"addresses": [address], "conditions": conditions, "nodeName": "node-1",
                      "targetRef": {"kind": "Pod", "namespace": ns, "name": pod_name}})
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
            "metadata": {"name": f"{service_name}-{suffix}", "namespace": ns, "creationTimestamp": TS,
                         "labels": {"kubernetes.io/service-name": service_name}},
            "endpoints": items, "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]}


def network_policy(name: str, *, ns: str = NS) -> Obj:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": name, "namespace": ns, "creationTimestamp": TS},
            "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}}


def hpa(target: str, minimum: int = 2, maximum: int = 10, *, name: str = "", ns: str = NS, current: int = 3,
        desired: int = 3, cpu: int = 45, limited: str = "") -> Obj:
    """An autoscaling/v2 HorizontalPodAutoscaler on the Deployment `target`, targeting 70% CPU."""
    conditions: list[Obj] = [
        {"type": "AbleToScale", "status": "True", "reason": "ReadyForNewScale", "lastTransitionTime": TS},
        {"type": "ScalingActive", "status": "True", "reason": "ValidMetricFound", "lastTransitionTime": TS},
        {"type": "ScalingLimited", "status": "True" if limited else "False", "reason": limited or "DesiredWithinRange",
         "message": "the desired replica count is more than the maximum replica count" if limited else "",
         "lastTransitionTime": TS},
    ]
    return {
        "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": name or target, "namespace": ns, "creationTimestamp": TS},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target},
            "minReplicas": minimum, "maxReplicas": maximum,
            "metrics": [{"type": "Resource", "resource": {
                "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}}],
        },
        "status": {
            "currentReplicas": current, "desiredReplicas": desired,
            "currentMetrics": [{"type": "Resource", "resource": {
                "name": "cpu", "current": {"averageUtilization": cpu, "averageValue": "45m"}}}],
            "conditions": conditions,
        },
    }


EXEC_HASH = "5d4f8b7c9"


def exec_world(api: Any, *, sidecar: bool = False, annotations: dict[str, str] | None = None) -> None:
    """prod/web: web-…-a Pending (first by name), web-…-b Running on node-2; with `sidecar`, two containers
    (and an init container, never picked)."""
    api.state.put({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}, "status": {"phase": "Active"}})
    def with_sidecar(obj: Obj) -> Obj:  # the templates too: the console offers the containers the template names
        if sidecar:
            obj["spec"]["template"]["spec"]["containers"].append(container("registry.local/proxy:2", name="proxy"))
        return obj

    dep = api.state.put(with_sidecar(deployment("web", replicas=2)))
    rs = api.state.put(with_sidecar(replicaset(dep, "registry.local/web:1.0", 1, EXEC_HASH, 2)))
    for suffix, phase, node in (("a", "Pending", "node-1"), ("b", "Running", "node-2")):
        item = pod(rs, f"web-{EXEC_HASH}-{suffix}", node=node, version_label=("pod-template-hash", EXEC_HASH),
                   phase=phase)
        if sidecar:
            item["spec"]["containers"].append(container("registry.local/proxy:2", name="proxy"))
            item["spec"]["initContainers"] = [container("registry.local/migrate:1", name="migrate")]
            item["status"]["containerStatuses"].append({**item["status"]["containerStatuses"][0], "name": "proxy"})
        item["metadata"]["annotations"] = annotations or {}
        api.state.put(item)
