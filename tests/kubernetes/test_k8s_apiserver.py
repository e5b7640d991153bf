"""The test server against the official client's own typed API and Watch: proof it speaks the protocol."""

from __future__ import annotations

import http.client
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from api_tables import human_duration
from apiserver import ApiServer
from k8s_objects import deployment, pod
from kubernetes import client, config, watch

from pilothouse.providers.base import ClusterConfig
from pilothouse.providers.kubernetes import KubernetesProvider

pytestmark = pytest.mark.kubernetes


@pytest.fixture
def apps(kubeconfig: Path) -> Iterator[client.AppsV1Api]:
    api = config.new_client_from_config(config_file=str(kubeconfig), persist_config=False)
    yield client.AppsV1Api(api)
    api.close()


def test_the_three_patch_types_as_the_client_sends_them(apiserver: ApiServer, apps: client.AppsV1Api) -> None:
    apiserver.state.put(deployment("web"))
    # A dict body goes out as strategic merge: containers merge by name, the others are kept.
    sidecar = {"name": "proxy", "image": "registry.local/proxy:1"}
    apps.patch_namespaced_deployment("web", "prod", {"spec": {"template": {"spec": {"containers": [
        {"name": "app", "image": "registry.local/web:2.0"}, sidecar]}}}})
    stored = apiserver.state.get("deployments", "prod", "web")
    containers = stored["spec"]["template"]["spec"]["containers"]
    assert [(c["name"], c["image"]) for c in containers] == [("app", "registry.local/web:2.0"),
                                                             ("proxy", "registry.local/proxy:1")]
    assert "readinessProbe" in containers[0]  # merged, not replaced
    # A list body goes out as JSON patch.
    apps.patch_namespaced_deployment("web", "prod", [
        {"op": "replace", "path": "/spec/template/spec/containers/1/image", "value": "registry.local/proxy:2"}])
    # Merge patch replaces lists wholesale.
    apps.patch_namespaced_deployment("web", "prod", {"spec": {"template": {"spec": {"containers": [sidecar]}}}},
                                     _content_type="application/merge-patch+json")
    stored = apiserver.state.get("deployments", "prod", "web")
    assert stored["spec"]["template"]["spec"]["containers"] == [sidecar]
    assert stored["metadata"]["generation"] == 4
    assert apiserver.state.count("patch", "deployments") == 3


def test_scale_subresource_with_the_typed_client(apiserver: ApiServer, apps: client.AppsV1Api) -> None:
    apiserver.state.put(deployment("web", replicas=2))
    scale = apps.read_namespaced_deployment_scale("web", "prod")
    assert (scale.spec.replicas, scale.status.selector) == (2, "app=web")
    apps.patch_namespaced_deployment_scale("web", "prod", {"spec": {"replicas": 4}})
    assert apiserver.state.get("deployments", "prod", "web")["spec"]["replicas"] == 4
    scale = apps.read_namespaced_deployment_scale("web", "prod")
    scale.spec.replicas = 1
    apps.replace_namespaced_deployment_scale("web", "prod", scale)
    assert apiserver.state.get("deployments", "prod", "web")["spec"]["replicas"] == 1


def test_official_watch_streams_changes(apiserver: ApiServer, apps: client.AppsV1Api) -> None:
    apiserver.state.put(deployment("web"))
    listing = apps.list_deployment_for_all_namespaces()
    apiserver.state.update("deployments", "prod", "web", lambda d: d["spec"].__setitem__("replicas", 9))
    apiserver.state.delete("deployments", "prod", "web")
    events = list(watch.Watch().stream(apps.list_deployment_for_all_namespaces,
                                       resource_version=listing.metadata.resource_version, timeout_seconds=1))
    assert [(e["type"], e["object"].spec.replicas) for e in events] == [("MODIFIED", 9), ("DELETED", 9)]


def test_exec_credential_plugin(apiserver: ApiServer, tmp_path: Path) -> None:
    """A context whose token comes from an exec plugin (as on EKS/GKE) works through the client."""
    plugin = tmp_path / "plugin.py"
    plugin.write_text(
        "import json\nprint(json.dumps({'apiVersion': 'client.authentication.k8s.io/v1beta1',"
        f" 'kind': 'ExecCredential', 'status': {{'token': {apiserver.token!r}}}}}))\n"
    )
    kubeconfig = apiserver.write_kubeconfig(tmp_path / "kubeconfig", exec_command=[sys.executable, str(plugin)])
    apiserver.state.put(deployment("web"))
    provider = KubernetesProvider(ClusterConfig(name="eks", provider="kubernetes",
                                                options={"kubeconfig": str(kubeconfig)}))
    try:
        provider.connect()
        assert provider.snapshot().service("prod/web") is not None
    finally:
        provider.close()


def test_pod_log_endpoint_with_the_typed_client(apiserver: ApiServer, kubeconfig: Path) -> None:
    api_client = config.new_client_from_config(config_file=str(kubeconfig), persist_config=False)
    core = client.CoreV1Api(api_client)
    state = apiserver.state
    web = state.put(deployment("web"))
    state.put(pod(web, "web-1", version_label=("pod-template-hash", "h"), restarts=2,
                  waiting=("CrashLoopBackOff", "back-off")))
    state.add_log("prod", "web-1", "app", "one", "two", "three")
    state.add_log("prod", "web-1", "app", "crashed", previous=True)

    def read_log(**options: Any) -> str:
        # The typed client turns a text body into "b'...'" (its 'str' response type is never decoded),
        # one reason the provider reads the endpoint raw.
        response = core.read_namespaced_pod_log("web-1", "prod", _preload_content=False, **options)
        return str(response.data.decode())

    try:
        # Waiting to restart: kubelet serves the last terminated instance, previous or not.
        assert read_log() == "crashed\n"
        assert read_log(previous=True) == "crashed\n"
        state.update("pods", "prod", "web-1", lambda p: p["status"]["containerStatuses"][0].update(
            state={"running": {}}, lastState={}))
        assert read_log(tail_lines=2) == "two\nthree\n"
        stamped = read_log(tail_lines=1, timestamps=True)
        assert stamped.endswith("Z three\n") and stamped[:4].isdigit()
        with pytest.raises(client.ApiException) as caught:
            read_log(container="nope")
        assert caught.value.status == 400
        with pytest.raises(client.ApiException, match="previous terminated container"):
            read_log(previous=True)
    finally:
        api_client.close()


def _get(server: ApiServer, path: str, token: str | None) -> tuple[int, Any]:
    connection = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=10)
    try:
        connection.request("GET", path, headers={"Authorization": f"Bearer {token}"} if token else {})
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def test_anonymous_requests_only_where_allowed_and_a_wrong_token_never() -> None:
    closed, anonymous = ApiServer().start(), ApiServer(anonymous=True).start()
    try:
        assert _get(closed, "/api/v1/pods", None)[0] == 401
        assert _get(anonymous, "/api/v1/pods", None)[0] == 200
        assert _get(anonymous, "/api/v1/pods", "wrong")[0] == 401
        assert _get(anonymous, "/api/v1/pods", anonymous.token)[0] == 200
    finally:
        closed.stop()
        anonymous.stop()


def test_field_selectors_and_watch_list_requests_are_validated(apiserver: ApiServer) -> None:
    apiserver.state.put(deployment("web"))
    apiserver.state.put(deployment("api"))
    token = apiserver.token
    code, body = _get(apiserver, "/apis/apps/v1/deployments?fieldSelector=metadata.name%3Dapi", token)
    assert (code, [item["metadata"]["name"] for item in body["items"]]) == (200, ["api"])
    code, body = _get(apiserver, "/apis/apps/v1/deployments?fieldSelector=metadata.name!%3Dapi", token)
    assert [item["metadata"]["name"] for item in body["items"]] == ["web"]
    code, body = _get(apiserver, "/apis/apps/v1/deployments?fieldSelector=spec.replicas%3D3", token)
    assert (code, body["reason"]) == (400, "BadRequest")
    # kube-apiserver refuses a watch-list that could not say where the initial events end.
    code, body = _get(apiserver, "/apis/apps/v1/deployments?watch=true&sendInitialEvents=true", token)
    assert (code, body["reason"]) == (422, "Invalid")


@pytest.mark.parametrize(("seconds", "text"), [
    (45, "45s"), (119, "119s"), (200, "3m20s"), (300, "5m"), (600, "10m"), (5 * 3600, "5h"),
    (5 * 3600 + 7 * 60, "5h7m"), (30 * 3600, "30h"), (3 * 86400 + 4 * 3600, "3d4h"), (30 * 86400, "30d"),
    ((2 * 365 + 214) * 86400, "2y214d"), (9 * 365 * 86400, "9y"),
])
def test_table_ages_are_kubectls_human_durations(seconds: int, text: str) -> None:
    assert human_duration(seconds) == text
