"""The doctor's image-drift and single-zone rules over real HTTP: pods of one tag whose containerStatuses
report different imageIDs, a Deployment whose pods all sit on nodes of one zone, and a spread one that must
not fire; through the provider's mapping and `pilothouse doctor --json`."""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from apiserver import ApiServer
from k8s_objects import deployment, node, pod, replicaset
from k8s_support import run, write_config
from kubectl import Kubectl, Unreachable, obtain

from pilothouse.providers.kubernetes import KubernetesProvider
from pilothouse.providers.kubernetes.mapping import map_pod
from pilothouse.providers.model import RunningImage

pytestmark = pytest.mark.kubernetes


@pytest.fixture(scope="session")
def kubectl_binary() -> Path:
    try:
        return obtain()
    except Unreachable as error:
        pytest.skip(str(error))


@pytest.fixture
def apiserver() -> Iterator[ApiServer]:
    """The conftest's server, also answering kubectl's anonymous requests."""
    server = ApiServer(anonymous=True).start()
    yield server
    server.stop()


@pytest.fixture
def kubectl(kubectl_binary: Path, kubeconfig: Path, tmp_path: Path) -> Kubectl:
    return Kubectl(kubectl_binary, kubeconfig, tmp_path / "kubectl-home")

Obj = dict[str, Any]
IMAGE = "registry.local/web:1.0"
OLD = "sha256:" + "1" * 64
NEW = "sha256:" + "2" * 64


def placed_pod(owner: Obj, name: str, node_name: str, image_id: str, template_hash: str) -> Obj:
    made = pod(owner, name, node=node_name, version_label=("pod-template-hash", template_hash),
               app=owner["metadata"]["name"])
    made["spec"]["containers"][0]["image"] = owner["spec"]["template"]["spec"]["containers"][0]["image"]
    made["status"]["containerStatuses"][0]["image"] = "registry.local/web:1.0"
    made["status"]["containerStatuses"][0]["imageID"] = image_id
    return made


def workload(api: ApiServer, name: str, template_hash: str, placement: list[tuple[str, str]]) -> None:
    """A Deployment with its ReplicaSet and one running pod per (node, imageID)."""
    owner = api.state.put(deployment(name, IMAGE, len(placement)))
    api.state.put(replicaset(owner, IMAGE, 1, template_hash, len(placement)))
    for index, (node_name, image_id) in enumerate(placement):
        api.state.put(placed_pod(owner, f"{name}-{template_hash}-{index}", node_name, image_id, template_hash))


@pytest.fixture
def seeded(apiserver: ApiServer) -> ApiServer:
    for name, zone in (("node-a1", "eu-west-1a"), ("node-a2", "eu-west-1a"), ("node-b1", "eu-west-1b")):
        apiserver.state.put(node(name, zone=zone))
    # web: one tag, two images (a node pulled the tag after it moved); its pods are spread over both zones.
    workload(apiserver, "web", "5f6b7c", [("node-a1", f"docker-pullable://registry.local/web@{OLD}"),
                                          ("node-b1", f"registry.local/web@{NEW}"),
                                          ("node-a2", f"docker-pullable://registry.local/web@{OLD}")])
    # api: the same image everywhere, every pod on nodes of eu-west-1a.
    workload(apiserver, "api", "7d8e9f", [("node-a1", f"registry.local/web@{OLD}"),
                                          ("node-a2", f"registry.local/web@{OLD}")])
    # spread: one image, pods in both zones: neither rule may fire.
    workload(apiserver, "spread", "1a2b3c", [("node-a1", f"registry.local/web@{OLD}"),
                                             ("node-b1", f"registry.local/web@{OLD}")])
    return apiserver


def test_imageids_are_mapped_per_container(seeded: ApiServer, provider: KubernetesProvider) -> None:
    cluster = provider.snapshot()
    web = cluster.service("prod/web")
    assert web is not None
    assert [task.images for task in web.tasks] == [
        (RunningImage(IMAGE, OLD, "app"),), (RunningImage(IMAGE, NEW, "app"),), (RunningImage(IMAGE, OLD, "app"),)]
    assert {n.name: n.zone for n in cluster.nodes} == {
        "node-a1": "eu-west-1a", "node-a2": "eu-west-1a", "node-b1": "eu-west-1b"}


def test_doctor_finds_the_drift_and_the_zone_and_spares_the_spread_one(
        seeded: ApiServer, kubeconfig: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path / "config.toml", kubeconfig)
    code, out, _err = run(capsys, "--config", str(config), "doctor", "--json")
    assert code == 0
    findings = [f for f in json.loads(out)["findings"] if f["rule"] in ("image-drift", "single-zone")]
    assert [(f["service"], f["rule"], f["severity"]) for f in findings] == [
        ("prod/api", "single-zone", "low"), ("prod/web", "image-drift", "medium")]
    zone, drift = findings
    assert drift["container"] == "app"
    assert drift["why"].startswith(
        "registry.local/web:1.0 runs as 2 different images: sha256:111111111111 on 2 pods (web-5f6b7c-0, "
        "web-5f6b7c-2); sha256:222222222222 on 1 pod (web-5f6b7c-1). The tag was moved in the registry")
    assert drift["fix"].endswith(f"kubectl -n prod set image deployment/web app=registry.local/web:1.0@{OLD}")
    assert zone["why"] == "all 2 running pods in zone eu-west-1a: losing that zone takes the service down"
    words = shlex.split(zone["fix"].split(": ", 1)[1])
    assert words[:5] == ["kubectl", "-n", "prod", "patch", "deployment/api"]
    assert json.loads(words[6])["spec"]["template"]["spec"]["topologySpreadConstraints"] == [
        {"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "ScheduleAnyway",
         "labelSelector": {"matchLabels": {"app": "api"}}}]


def test_both_fixes_run_as_pasted_with_a_real_kubectl(seeded: ApiServer, kubeconfig: Path, tmp_path: Path,
                                                       kubectl: Kubectl, capsys: pytest.CaptureFixture[str]) -> None:
    """Copied from the command on, each fix runs as written: kubectl sends it and the Deployment changes."""
    config = write_config(tmp_path / "config.toml", kubeconfig)
    _code, out, _err = run(capsys, "--config", str(config), "doctor", "--json")
    fixes = {f["rule"]: f["fix"] for f in json.loads(out)["findings"] if f["rule"] in ("image-drift", "single-zone")}
    for rule, fix in fixes.items():
        words = shlex.split(fix[fix.index("kubectl "):])
        assert words[0] == "kubectl"
        result = kubectl(*words[1:], check=False)
        assert result.returncode == 0, (rule, result.stderr)
    web = seeded.state.get("deployments", "prod", "web")["spec"]["template"]["spec"]
    assert web["containers"][0]["image"] == f"registry.local/web:1.0@{OLD}"
    api = seeded.state.get("deployments", "prod", "api")["spec"]["template"]["spec"]
    assert api["topologySpreadConstraints"] == [
        {"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "ScheduleAnyway",
         "labelSelector": {"matchLabels": {"app": "api"}}}]


def test_a_bare_image_id_is_the_runtimes_own_not_a_digest_to_pin() -> None:
    """containerd reports a local image's imageID as a bare sha256: it tells images apart but cannot be pulled."""
    owner = deployment("web", IMAGE, 1)
    owner["metadata"]["uid"] = "uid-web"
    task = map_pod(placed_pod(owner, "web-1", "node-a1", NEW, "5f6b7c"), "deployment/prod/web")
    assert task.images == (RunningImage(IMAGE, "id:" + NEW, "app"),)
    assert not task.images[0].pinnable
