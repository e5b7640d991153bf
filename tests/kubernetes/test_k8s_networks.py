"""Kubernetes Services as networks, on the API test server: ready/total endpoints from EndpointSlices, a
Service selecting nothing, NetworkPolicies per namespace, the attention reason of a workload none of whose
endpoints is ready, and EndpointSlices forbidden (endpoints unknown, never zero).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from apiserver import ApiServer
from k8s_objects import deployment, endpoint_slice, network_policy, pod, replicaset, service
from k8s_support import write_config

from pilothouse.console.cli import main

pytestmark = pytest.mark.kubernetes


def seed(api: ApiServer) -> None:
    state = api.state
    web = state.put(deployment("web", "registry.local/web:1.0", 2))
    rs = state.put(replicaset(web, "registry.local/web:1.0", 1, "7d9f8c", 2))
    for index in (1, 2):
        state.put(pod(rs, f"web-7d9f8c-{index}", ip=f"10.244.1.{index}", version_label=("pod-template-hash",
                                                                                         "7d9f8c")))
    api_dep = state.put(deployment("api", "registry.local/api:3", 2))
    api_rs = state.put(replicaset(api_dep, "registry.local/api:3", 1, "9a9a9a", 2))
    for index in (1, 2):
        state.put(pod(api_rs, f"api-9a9a9a-{index}", app="api", ip=f"10.244.2.{index}",
                      version_label=("pod-template-hash", "9a9a9a")))
    state.put(service("web", {"app": "web"}, cluster_ip="10.96.0.10"))
    # web: one endpoint ready, one not; ready unset counts as ready (the API's rule).
    state.put(endpoint_slice("web", ("web-7d9f8c-1", "10.244.1.1", True), ("web-7d9f8c-2", "10.244.1.2", None)))
    state.put(service("api", {"app": "api"}, cluster_ip="10.96.0.11", service_type="NodePort"))
    state.put(endpoint_slice("api", ("api-9a9a9a-1", "10.244.2.1", False), ("api-9a9a9a-2", "10.244.2.2", False)))
    state.put(service("ghost", {"app": "gone"}, cluster_ip="10.96.0.12"))
    state.put(network_policy("deny-all"))
    state.put(network_policy("allow-web"))


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_services_endpoints_and_policies_as_json(apiserver: ApiServer, kubeconfig: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    seed(apiserver)
    config = str(write_config(tmp_path / "config.toml", kubeconfig))

    code, out, err = run(capsys, "--config", config, "networks", "--json", "--cluster", "k8s")

    assert code == 0, err
    cluster = json.loads(out)["clusters"][0]
    by_name = {network["name"]: network for network in cluster["networks"]}
    assert sorted(by_name) == ["prod/api", "prod/ghost", "prod/web"]
    web = by_name["prod/web"]
    assert (web["kind"], web["scope"], web["services"], web["endpoints"]) == (
        "ClusterIP", "prod", ["prod/web"], {"ready": 2, "total": 2})
    assert web["ports"] == ["80->8080/TCP"] and web["vips"] == ["10.96.0.10"]
    api = by_name["prod/api"]
    assert (api["kind"], api["endpoints"]) == ("NodePort", {"ready": 0, "total": 2})
    assert "0 of 2 endpoints ready" in api["notes"]
    ghost = by_name["prod/ghost"]
    assert ghost["services"] == [] and ghost["endpoints"] == {"ready": 0, "total": 0}
    assert "selects no pods" in ghost["notes"]
    assert cluster["network_policies"] == {"prod": 2}
    assert "2 NetworkPolicies in namespace prod" in web["notes"]
    assert apiserver.state.mutating_requests() == 0

    code, out, err = run(capsys, "--config", config, "networks")
    assert code == 0, err
    assert "selects no pods" in out and "NetworkPolicies: prod 2" in out


def test_selectors_match_every_label_and_only_their_own_namespace(
        apiserver: ApiServer, kubeconfig: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Services are matched through a label index (1,000 Services over 10k pods): a selector of two labels
    needs both, a label pair of another namespace selects nothing, an unknown pair nothing."""
    seed(apiserver)
    state = apiserver.state
    state.put(service("web-current", {"app": "web", "pod-template-hash": "7d9f8c"}, cluster_ip="10.96.0.20"))
    state.put(service("web-old", {"app": "web", "pod-template-hash": "000000"}, cluster_ip="10.96.0.21"))
    state.put(service("web-elsewhere", {"app": "web"}, ns="staging", cluster_ip="10.96.0.22"))
    config = str(write_config(tmp_path / "config.toml", kubeconfig))

    code, out, err = run(capsys, "--config", config, "networks", "--json", "--cluster", "k8s")

    assert code == 0, err
    by_name = {network["name"]: network for network in json.loads(out)["clusters"][0]["networks"]}
    assert by_name["prod/web-current"]["services"] == ["prod/web"]
    assert "selects no pods" not in by_name["prod/web-current"]["notes"]
    assert by_name["prod/web-old"]["services"] == [] and "selects no pods" in by_name["prod/web-old"]["notes"]
    assert by_name["staging/web-elsewhere"]["services"] == []
    assert "selects no pods" in by_name["staging/web-elsewhere"]["notes"]
    assert by_name["prod/web"]["services"] == ["prod/web"] and by_name["prod/api"]["services"] == ["prod/api"]


def test_no_ready_endpoint_is_a_critical_attention_reason(apiserver: ApiServer, kubeconfig: Path, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    seed(apiserver)
    # One of web's two endpoints goes unready: a warning, not critical.
    apiserver.state.put(endpoint_slice("web", ("web-7d9f8c-1", "10.244.1.1", True),
                                       ("web-7d9f8c-2", "10.244.1.2", False)))
    config = str(write_config(tmp_path / "config.toml", kubeconfig))

    code, out, err = run(capsys, "--config", config, "status", "--json")

    assert code == 0, err
    services = {s["ref"]: s["attention"] for s in json.loads(out)["clusters"][0]["services"]}
    assert services["prod/api"]["level"] == "critical"
    assert "0 of 2 endpoints ready (Service prod/api)" in services["prod/api"]["reasons"]
    assert services["prod/web"]["level"] == "warning"
    assert "1 of 2 endpoints ready (Service prod/web)" in services["prod/web"]["reasons"]


def test_forbidden_endpointslices_leave_endpoints_unknown(apiserver: ApiServer, kubeconfig: Path,
                                                          tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    seed(apiserver)
    apiserver.state.forbid("endpointslices")
    config = str(write_config(tmp_path / "config.toml", kubeconfig))

    code, out, err = run(capsys, "--config", config, "networks", "--json", "--timeout", "2")

    assert code == 1  # incomplete: named on stderr
    assert "endpointslices" in err and "403 forbidden" in err
    cluster = json.loads(out)["clusters"][0]
    assert {n["name"]: n["endpoints"] for n in cluster["networks"]} == {
        "prod/api": None, "prod/ghost": None, "prod/web": None}
    assert [gap["part"] for gap in cluster["missing"]] == ["networks"]

    code, out, err = run(capsys, "--config", config, "status", "--json", "--allow-partial", "--timeout", "2")
    assert code == 0, err
    services = {s["ref"]: s["attention"] for s in json.loads(out)["clusters"][0]["services"]}
    assert services["prod/api"]["level"] == "none"  # unknown endpoints are not "0 ready"


def test_discovery_lists_the_network_kinds(apiserver: ApiServer) -> None:
    import urllib.request

    def get(path: str) -> dict[str, object]:
        request = urllib.request.Request(apiserver.url + path,
                                         headers={"Authorization": f"Bearer {apiserver.token}"})
        with urllib.request.urlopen(request, timeout=5) as answer:
            loaded: dict[str, object] = json.loads(answer.read())
            return loaded

    groups = get("/apis")["groups"]
    assert isinstance(groups, list)
    assert {g["name"] for g in groups} >= {"apps", "discovery.k8s.io", "networking.k8s.io"}
    resources = get("/apis/discovery.k8s.io/v1")["resources"]
    assert isinstance(resources, list) and [r["name"] for r in resources] == ["endpointslices"]
    core = get("/api/v1")["resources"]
    assert isinstance(core, list)
    assert {"name": "services", "shortNames": ["svc"]}.items() <= next(r for r in core
                                                                        if r["name"] == "services").items()
