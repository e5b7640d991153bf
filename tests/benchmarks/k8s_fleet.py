"""A realistic Kubernetes fleet on the API test server, in a process of its own (benchmark only).

`python k8s_fleet.py --pods 10000 --kubeconfig FILE` builds ~PODS pods the way a real cluster shows them
(labels, annotations, env from fields and secrets, a projected service-account volume, the default
tolerations, ownerReferences, status with conditions and containerStatuses: about 2.2 KB of JSON each),
their Deployments and ReplicaSets, 53 nodes and some Events, serves them from tests/kubernetes/apiserver.py
(anonymous reads allowed: kubectl sends no token over plain http), writes a kubeconfig and prints one JSON
line: {"url", "pods", "deployments", "pod_list_bytes"}. It then reads commands from stdin:
- `churn SECONDS RATE`: RATE changes a second for SECONDS (pod status flips, pods replaced under new names
  as a rollout or a crash does, scales, Events); answers `churned N`;
- `quit` (or end of input): stops.
The server runs apart from the client measured, so the client's RSS and CPU are its own; on this 2-core
machine both sides compete for the same cores, for kubectl and for pilothouse alike.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

sys.path[:0] = [str(Path(__file__).resolve().parents[1] / name) for name in ("kubernetes", "support")]

Obj = dict[str, Any]
NODES = 53
NAMESPACES = 24
TS = "2026-11-30T08:00:00Z"


def _hex(text: str, length: int = 64) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def pod_spec(app: str, image: str, node: str = "") -> Obj:
    """A pod template's spec, as a Helm chart renders it (and the admission chain completes it)."""
    spec: Obj = {
        "volumes": [
            {"name": "kube-api-access-" + _hex(app, 5), "projected": {"defaultMode": 420, "sources": [
                {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
            ]}},
        ],
        "containers": [{
            "name": "app", "image": image, "imagePullPolicy": "IfNotPresent",
            "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"},
                      ],
            "env": [
                {"name": "APP_ENV", "value": "production"},
                {"name": "POD_NAME", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}},
                {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": f"{app}-db", "key": "password"}}},
            ],
            "resources": {"limits": {"cpu": "1", "memory": "512Mi"}},
            "volumeMounts": [
                {"name": "kube-api-access-" + _hex(app, 5), "readOnly": True,
                 "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"},
            ],
            "readinessProbe": {"httpGet": {"path": "/ready", "port": 8080, "scheme": "HTTP"}, "timeoutSeconds": 1,
                               "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3},
            "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
        }],
        "restartPolicy": "Always", "terminationGracePeriodSeconds": 30, "dnsPolicy": "ClusterFirst",
        "serviceAccountName": app, "securityContext": {},
        "schedulerName": "default-scheduler",
        "tolerations": [
            {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute",
             "tolerationSeconds": 300},
            {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute",
             "tolerationSeconds": 300},
        ],
        "priority": 0,
    }
    if node:
        spec["nodeName"] = node
    return spec


def labels(app: str, extra: Obj | None = None) -> Obj:
    return {"app": app, "app.kubernetes.io/instance": app, "app.kubernetes.io/version": "1.4.2", **(extra or {})}


def owner_ref(owner: Obj) -> Obj:
    return {"apiVersion": "apps/v1", "kind": owner["kind"], "name": owner["metadata"]["name"],
            "uid": owner["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}


def deployment(namespace: str, app: str, replicas: int, image: str) -> Obj:
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": app, "namespace": namespace, "labels": labels(app), "creationTimestamp": TS,
                     "generation": 1, "uid": _hex("d" + namespace + app, 32),
                     "annotations": {"deployment.kubernetes.io/revision": "1",
                                     "meta.helm.sh/release-name": app, "meta.helm.sh/release-namespace": namespace}},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": app}},
                 "template": {"metadata": {"labels": labels(app),
                                           "annotations": {"checksum/config": _hex("c" + app)}},
                              "spec": pod_spec(app, image)},
                 "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
                 "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600},
        "status": {"observedGeneration": 1, "replicas": replicas, "updatedReplicas": replicas,
                   "readyReplicas": replicas, "availableReplicas": replicas, "conditions": [
                       {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable",
                        "message": "Deployment has minimum availability.", "lastUpdateTime": TS,
                        "lastTransitionTime": TS},
                       {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable",
                        "message": f'ReplicaSet "{app}-{_hex(app, 10)}" has successfully progressed.',
                        "lastUpdateTime": TS, "lastTransitionTime": TS}]},
    }


def replicaset(owner: Obj, image: str) -> Obj:
    app, namespace = owner["metadata"]["name"], owner["metadata"]["namespace"]
    template_hash = _hex(app, 10)
    template = json.loads(json.dumps(owner["spec"]["template"]))
    template["metadata"]["labels"]["pod-template-hash"] = template_hash
    replicas = owner["spec"]["replicas"]
    return {
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": f"{app}-{template_hash}", "namespace": namespace, "creationTimestamp": TS,
                     "uid": _hex("r" + namespace + app, 32), "generation": 1,
                     "labels": {**labels(app), "pod-template-hash": template_hash},
                     "annotations": {"deployment.kubernetes.io/revision": "1",
                                     "deployment.kubernetes.io/desired-replicas": str(replicas),
                                     "deployment.kubernetes.io/max-replicas": str(replicas + 1)},
                     "ownerReferences": [owner_ref(owner)]},
        "spec": {"replicas": replicas,
                 "selector": {"matchLabels": {"app": app, "pod-template-hash": template_hash}},
                 "template": template},
        "status": {"replicas": replicas, "fullyLabeledReplicas": replicas, "readyReplicas": replicas,
                   "availableReplicas": replicas, "observedGeneration": 1},
    }


def pod(rs: Obj, suffix: str, node: str, ip: str, image: str, *, ready: bool = True, restarts: int = 0) -> Obj:
    app = rs["metadata"]["labels"]["app"]
    name = f"{rs['metadata']['name']}-{suffix}"
    template = rs["spec"]["template"]
    status = "True" if ready else "False"
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "generateName": rs["metadata"]["name"] + "-",
                     "namespace": rs["metadata"]["namespace"], "uid": _hex("p" + name, 32), "creationTimestamp": TS,
                     "labels": dict(template["metadata"]["labels"]),
                     "annotations": {**template["metadata"]["annotations"],
                                     "prometheus.io/scrape": "true"},
                     "ownerReferences": [owner_ref(rs)]},
        "spec": pod_spec(app, image, node),
        "status": {
            "phase": "Running", "hostIP": "10.0.0." + node.rsplit("-", 1)[-1], "podIP": ip, "podIPs": [{"ip": ip}],
            "startTime": TS, "qosClass": "Burstable",
            "conditions": [
                {"type": "Initialized", "status": "True", "lastTransitionTime": TS},
                {"type": "Ready", "status": status, "lastTransitionTime": TS},
                {"type": "ContainersReady", "status": status, "lastTransitionTime": TS},
                {"type": "PodScheduled", "status": "True", "lastTransitionTime": TS},
            ],
            "containerStatuses": [{
                "name": "app", "state": {"running": {"startedAt": TS}}, "lastState": {}, "ready": ready,
                "restartCount": restarts, "image": image, "imageID": "sha256:" + _hex(image),
                "containerID": "containerd://" + _hex(name), "started": True,
            }],
        },
    }


def node(index: int) -> Obj:
    name = f"node-{index}"
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "uid": _hex(name, 32), "creationTimestamp": TS, "labels": {
            "kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
            "topology.kubernetes.io/zone": f"eu-west-1{'abc'[index % 3]}",
            "node.kubernetes.io/instance-type": "m6i.2xlarge",
            **({"node-role.kubernetes.io/control-plane": ""} if index < 3 else {})}},
        "spec": {"podCIDR": f"10.244.{index}.0/24", "providerID": f"aws:///eu-west-1a/i-{_hex(name, 17)}"},
        "status": {
            "capacity": {"cpu": "8", "memory": "32386436Ki", "pods": "250"},
            "allocatable": {"cpu": "7910m", "memory": "31235460Ki", "pods": "250"},
            "conditions": [{"type": kind, "status": "False", "reason": f"Kubelet{kind}", "lastHeartbeatTime": TS,
                            "lastTransitionTime": TS} for kind in ("MemoryPressure", "DiskPressure", "PIDPressure")]
                          + [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                              "message": "kubelet is posting ready status", "lastHeartbeatTime": TS,
                              "lastTransitionTime": TS}],
            "addresses": [{"type": "InternalIP", "address": f"10.0.0.{index}"}, {"type": "Hostname", "address": name}],
            "nodeInfo": {"kubeletVersion": "v1.30.2", "containerRuntimeVersion": "containerd://1.7.13",
                         "osImage": "Bottlerocket OS 1.20.1", "kernelVersion": "6.1.90", "architecture": "amd64"},
        },
    }


class Fleet:
    """The fleet on an ApiState; `churn` changes it as a busy cluster does."""

    def __init__(self, state: Any, pods: int) -> None:
        self.state = state
        self.random = random.Random(15)
        self.replicasets: list[Obj] = []
        self.pods: list[tuple[str, str, int]] = []  # (namespace, name, index of its ReplicaSet)
        self.generation = 0
        for index in range(NODES):
            state.put(node(index))
        deployments = max(1, round(pods / 9.96))
        per, extra = divmod(pods, deployments)
        count = 0
        for index in range(deployments):
            namespace, app = f"team-{index % NAMESPACES:02d}", f"svc-{index:05d}"
            image = f"registry.example.com/{app}:1.4.{index % 9}"
            replicas = per + (1 if index < extra else 0)
            owner = state.put(deployment(namespace, app, replicas, image))
            rs = state.put(replicaset(owner, image))
            self.replicasets.append(rs)
            for number in range(replicas):
                self._add_pod(len(self.replicasets) - 1, f"{number:05x}", count)
                count += 1
        self.deployments = deployments

    def _add_pod(self, rs_index: int, suffix: str, count: int) -> None:
        rs = self.replicasets[rs_index]
        image = rs["spec"]["template"]["spec"]["containers"][0]["image"]
        node_name = f"node-{3 + count % (NODES - 3)}"
        ip = f"10.{(count >> 16) % 256 + 100}.{(count >> 8) % 256}.{count % 256}"
        made = self.state.put(pod(rs, suffix, node_name, ip, image))
        self.pods.append((made["metadata"]["namespace"], made["metadata"]["name"], rs_index))

    def churn(self, seconds: float, rate: float) -> int:
        """RATE changes a second: 70% pod status flips, 20% pods replaced, 5% scales, 5% Events."""
        from k8s_objects import event

        started, changes = time.monotonic(), 0
        while time.monotonic() - started < seconds:
            roll = self.random.random()
            position = self.random.randrange(len(self.pods))
            namespace, name, rs_index = self.pods[position]
            if roll < 0.7:
                def flip(obj: Obj) -> None:
                    ready = obj["status"]["containerStatuses"][0]["ready"]
                    obj["status"]["containerStatuses"][0]["ready"] = not ready
                    obj["status"]["containerStatuses"][0]["restartCount"] += 0 if ready else 1
                    for condition in obj["status"]["conditions"][2:4]:
                        condition["status"] = "False" if ready else "True"
                self.state.update("pods", namespace, name, flip)
            elif roll < 0.9:
                self.state.delete("pods", namespace, name)
                self.pods[position] = self.pods[-1]
                self.pods.pop()
                self.generation += 1
                self._add_pod(rs_index, f"r{self.generation:06x}", self.generation)
            elif roll < 0.95:
                owner = self.replicasets[rs_index]["metadata"]["ownerReferences"][0]["name"]

                def scale(obj: Obj) -> None:
                    obj["spec"]["replicas"] = obj["status"]["replicas"] + self.random.choice((0, 1))
                self.state.update("deployments", namespace, owner, scale)
            else:
                self.state.put(event("Pod", name, "Unhealthy", "Readiness probe failed: HTTP probe failed with "
                                     "statuscode: 503", ns=namespace, warning=True, count=changes % 5 + 1)
                               | {"metadata": {"name": f"{name}.{changes:x}", "namespace": namespace}})
            changes += 1
            # Pacing the generator, not synchronising with anything.
            time.sleep(max(0.0, started + changes / rate - time.monotonic()))
        return changes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pods", type=int, default=10_000)
    parser.add_argument("--kubeconfig", required=True)
    args = parser.parse_args()
    from apiserver import ApiServer

    class QuietServer(ApiServer):
        def handle_error(self, request: Any, client_address: Any) -> None:
            """A client gone mid-watch (every pilothouse and kubectl run ends so) is no news here."""

    server = QuietServer(anonymous=True)
    fleet = Fleet(server.state, args.pods)
    for changes in server.state.log.values():  # the build's history is no watch's business, only memory
        changes.clear()
    # The fleet is long-lived: out of the collector's way, as it would be in kube-apiserver's Go heap, so
    # that the server's full collections (a second each at 10k pods) do not land in the measured walls.
    gc.collect()
    gc.freeze()
    server.start()
    server.write_kubeconfig(Path(args.kubeconfig))
    size = sum(len(json.dumps(obj)) for obj in server.state.objects["pods"].values())
    print(json.dumps({"url": server.url, "pods": len(fleet.pods), "deployments": fleet.deployments,
                      "pod_list_bytes": size}), flush=True)
    for line in sys.stdin:
        words = line.split()
        if words[:1] == ["churn"]:
            print(f"churned {fleet.churn(float(words[1]), float(words[2]))}", flush=True)
        elif words[:1] == ["quit"]:
            break
    server.stop()


if __name__ == "__main__":
    main()
