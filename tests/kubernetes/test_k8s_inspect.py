"""Inspect over real HTTP on the API test server: a Deployment as YAML without managedFields, env values of
secret-looking names masked wherever they appear (the spec, args, kubectl's last-applied annotation), a
secretKeyRef named but never read (no request for a Secret); a pod and a node; `pilothouse inspect`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from apiserver import ApiServer
from k8s_objects import deployment, node, pod, replicaset
from k8s_support import write_config

from pilothouse.console.cli import main
from pilothouse.providers.inspect import InspectTarget, TargetKind
from pilothouse.providers.kubernetes import KubernetesProvider
from pilothouse.providers.secrets import MASK

pytestmark = pytest.mark.kubernetes

Obj = dict[str, Any]
PASSWORD = "hunter2-very-secret"


def seed(api: ApiServer) -> None:
    state = api.state
    web = deployment("web", "registry.local/web:1.0", 2)
    app = web["spec"]["template"]["spec"]["containers"][0]
    app["env"] = [{"name": "DB_PASSWORD", "value": PASSWORD}, {"name": "LOG_LEVEL", "value": "debug"},
                  {"name": "API_TOKEN", "valueFrom": {"secretKeyRef": {"name": "api-creds", "key": "token"}}}]
    app["args"] = ["--db-password", PASSWORD, "--verbose"]
    web["metadata"]["managedFields"] = [{"manager": "kubectl-client-side-apply", "operation": "Update",
                                         "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {}}}]
    web["metadata"]["annotations"] = {"kubectl.kubernetes.io/last-applied-configuration": json.dumps(
        {"spec": {"template": {"spec": {"containers": [{"env": [{"name": "DB_PASSWORD", "value": PASSWORD}]}]}}}})}
    web = state.put(web)
    rs = state.put(replicaset(web, "registry.local/web:1.0", 1, "5f6b7c", 2))
    state.put(pod(rs, "web-5f6b7c-aaaaa", version_label=("pod-template-hash", "5f6b7c")))
    state.put(node("node-1"))


def test_inspect_masks_drops_managed_fields_and_reads_no_secret(apiserver: ApiServer,
                                                                provider: KubernetesProvider) -> None:
    seed(apiserver)
    cluster = provider.snapshot()
    web = cluster.service("prod/web")
    assert web is not None
    result = provider.inspect(InspectTarget(TargetKind.SERVICE, web.id, web.ref))
    assert (result.title, result.format) == ("deployment prod/web", "yaml")
    assert PASSWORD not in result.text and "managedFields" not in result.text
    spec = yaml.safe_load(result.text)
    assert spec["kind"] == "Deployment" and spec["metadata"]["name"] == "web"
    container = spec["spec"]["template"]["spec"]["containers"][0]
    env = {entry["name"]: entry for entry in container["env"]}
    assert env["DB_PASSWORD"]["value"] == MASK and env["LOG_LEVEL"]["value"] == "debug"
    assert env["API_TOKEN"]["valueFrom"]["secretKeyRef"]["name"] == "api-creds"
    assert container["args"] == ["--db-password", MASK, "--verbose"]  # masked by value
    applied = spec["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
    assert applied["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"] == MASK
    assert sum(n for (_, resource), n in apiserver.state.counts.items() if resource == "secrets") == 0

    pod_result = provider.inspect(InspectTarget(TargetKind.TASK, web.id, web.ref, "prod/web-5f6b7c-aaaaa"))
    assert pod_result.title == "pod prod/web-5f6b7c-aaaaa"
    assert yaml.safe_load(pod_result.text)["spec"]["nodeName"] == "node-1"
    node_result = provider.inspect(InspectTarget(TargetKind.NODE, object_id="node-1"))
    assert yaml.safe_load(node_result.text)["status"]["nodeInfo"]["kubeletVersion"] == "v1.30.2"


def test_inspect_verb(apiserver: ApiServer, kubeconfig: Path, tmp_path: Path,
                      capsys: pytest.CaptureFixture[str]) -> None:
    seed(apiserver)
    config = str(write_config(tmp_path / "config.toml", kubeconfig))
    assert main(["--config", config, "inspect", "k8s/prod/web"]) == 0
    out = capsys.readouterr().out
    assert PASSWORD not in out and yaml.safe_load(out)["metadata"]["name"] == "web"
    assert main(["--config", config, "inspect", "k8s/prod/web", "--task", "web-5f6b"]) == 0
    assert yaml.safe_load(capsys.readouterr().out)["metadata"]["name"] == "web-5f6b7c-aaaaa"
    assert main(["--config", config, "inspect", "k8s", "--node", "node-1"]) == 0
    assert yaml.safe_load(capsys.readouterr().out)["kind"] == "Node"
    code = main(["--config", config, "inspect", "k8s/prod/web", "--task", "nope"])
    assert code != 0 and "no task 'nope' in k8s/prod/web" in capsys.readouterr().err
