"""A real kubectl v1.36 (tests/support/kubectl.py) as the oracle for the API test server and the provider.

Against the same server, kubectl and pilothouse must agree: kubectl's discovery, `get`, watch-list (rollout
status), `scale` and `rollout undo` work on the test server (where they do not, the server is wrong), and
pilothouse's rollout messages, counts, scale and rollback are kubectl's. The server accepts anonymous requests
here because kubectl sends no bearer token over plain http; pilothouse still sends its token.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from apiserver import ApiServer
from k8s_objects import deployment, node, pod, replicaset
from k8s_support import write_config
from kubectl import Kubectl, Unreachable, obtain

from pilothouse.console.cli import main

pytestmark = pytest.mark.kubernetes

Obj = dict[str, Any]


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


def pilothouse(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def status_json(capsys: pytest.CaptureFixture[str], config: Path) -> Obj:
    code, out, err = pilothouse(capsys, "--config", str(config), "status", "--json")
    assert code == 0, err
    cluster: Obj = json.loads(out)["clusters"][0]
    assert cluster["state"] == "connected", cluster["error"]
    return cluster


def test_kubectl_get_agrees_with_status_counts(apiserver: ApiServer, kubectl: Kubectl, kubeconfig: Path,
                                               tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state = apiserver.state
    for namespace, name, replicas in (("prod", "web", 3), ("prod", "api", 2), ("staging", "web", 1)):
        dep = state.put(deployment(name, f"registry.local/{name}:1", replicas, ns=namespace))
        rs = state.put(replicaset(dep, f"registry.local/{name}:1", 1, "abc123", replicas))
        for index in range(replicas):
            state.put(pod(rs, f"{name}-abc123-{index}", app=name, version_label=("pod-template-hash", "abc123")))
    state.put(node("node-1"))

    table = kubectl("get", "deploy,po", "-A")
    listed = json.loads(kubectl("get", "deploy,po", "-A", "-o", "json").stdout)["items"]

    cluster = status_json(capsys, write_config(tmp_path / "c.toml", kubeconfig))
    deployments = {f"{i['metadata']['namespace']}/{i['metadata']['name']}" for i in listed if i["kind"] == "Deployment"}
    pods = {f"{i['metadata']['namespace']}/{i['metadata']['name']}" for i in listed if i["kind"] == "Pod"}
    assert deployments == {s["ref"] for s in cluster["services"] if s["kind"] == "deployment"}
    assert pods == {t["id"] for s in cluster["services"] for t in s["tasks"]}
    assert (len(deployments), len(pods)) == (3, 6)
    # The short names resolved through discovery, and every object is in kubectl's table too.
    for ref in (*deployments, *pods):
        assert ref.split("/")[1] in table.stdout
