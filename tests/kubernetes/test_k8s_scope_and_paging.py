"""Big clusters and narrow credentials: paged lists, an expired continue token, and namespace-scoped RBAC.

An application team's credentials are usually a Role in their namespace, not a ClusterRole: listing the
whole cluster is forbidden. Like kubectl, the provider then reads the context's namespace, and says so.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from apiserver import ApiServer
from k8s_objects import deployment, node, pod, replicaset
from k8s_support import ProviderFactory, wait_until, write_config

from pilothouse.console.cli import main
from pilothouse.providers.base import ClusterConfig
from pilothouse.providers.kubernetes import KubernetesProvider
from pilothouse.providers.kubernetes.objects import WATCHED_KINDS
from pilothouse.providers.model import ConnectionState

pytestmark = pytest.mark.kubernetes


def web_with_pods(api: ApiServer, count: int, ns: str = "prod", name: str = "web") -> list[str]:
    dep = api.state.put(deployment(name, replicas=count, ns=ns))
    rs = api.state.put(replicaset(dep, "registry.local/web:1.0", 1, "aaa111", count))
    names = [f"{name}-aaa111-{index:02d}" for index in range(count)]
    for pod_name in names:
        api.state.put(pod(rs, pod_name, app=name, version_label=("pod-template-hash", "aaa111")))
    return [f"{ns}/{pod_name}" for pod_name in names]


def task_ids(provider: KubernetesProvider, ref: str) -> list[str]:
    service = provider.snapshot().service(ref)
    assert service is not None, ref
    return sorted(task.id for task in service.tasks)


def test_lists_are_read_in_pages(apiserver: ApiServer, make_provider: ProviderFactory) -> None:
    pods = web_with_pods(apiserver, 7)
    provider = make_provider()
    provider.list_page_size = 2
    provider.start_watch(lambda: None)

    assert task_ids(provider, "prod/web") == pods
    assert apiserver.state.list_pages["pods"] == math.ceil(7 / 2)
    assert apiserver.state.list_pages["deployments"] == 1


def test_an_expired_continue_token_restarts_the_list(apiserver: ApiServer, make_provider: ProviderFactory) -> None:
    pods = web_with_pods(apiserver, 5)  # only pods need a second page
    apiserver.state.expire_continue_tokens = True
    provider = make_provider()
    provider.list_page_size = 2
    provider.start_watch(lambda: None)

    assert task_ids(provider, "prod/web") == pods
    assert apiserver.state.expire_continue_tokens is False  # the 410 was served
    # The first page, then (after the 410) the whole list again: 1 + 3 pages.
    assert apiserver.state.list_pages["pods"] == 1 + math.ceil(5 / 2)

    # Changes made while it listed are not lost: the watch resumes from the list's version.
    extra = apiserver.state.put(pod(apiserver.state.get("replicasets", "prod", "web-aaa111"), "web-aaa111-zz",
                                    version_label=("pod-template-hash", "aaa111")))
    wait_until(lambda: f"prod/{extra['metadata']['name']}" in task_ids(provider, "prod/web"))


@pytest.fixture
def team_kubeconfig(apiserver: ApiServer, tmp_path: Path) -> Path:
    return apiserver.write_kubeconfig(tmp_path / "team-kubeconfig", namespace="team-a")


def team_provider(make_provider: ProviderFactory, kubeconfig: Path, **options: object) -> KubernetesProvider:
    return make_provider(kubeconfig=str(kubeconfig), **options)


def test_namespace_scoped_credentials_read_the_context_namespace(
    apiserver: ApiServer, make_provider: ProviderFactory, team_kubeconfig: Path
) -> None:
    ours = web_with_pods(apiserver, 2, ns="team-a")
    web_with_pods(apiserver, 3, ns="team-b")
    apiserver.state.put(node("node-1"))
    apiserver.state.grant_only_namespaces("team-a")
    provider = team_provider(make_provider, team_kubeconfig)
    provider.start_watch(lambda: None)

    cluster = wait_until(lambda: (c := provider.snapshot()).service("team-a/web") and c)
    assert [service.ref for service in cluster.services] == ["team-a/web"]
    assert task_ids(provider, "team-a/web") == ours
    assert cluster.scope == "namespace team-a only (listing the whole cluster is forbidden)"
    # Nodes are cluster-scoped: a Role cannot grant them. Shown as forbidden, not as "no nodes".
    assert cluster.forbidden == ("nodes",)
    assert cluster.state is ConnectionState.DEGRADED
    # Every namespaced kind asked the cluster once, then stayed in team-a; nothing was asked of team-b.
    namespaced = sum(1 for kind in WATCHED_KINDS if kind.namespaced)
    forbidden_cluster_wide = [entry for entry in apiserver.state.request_log if entry[3] == 403]
    assert len([entry for entry in forbidden_cluster_wide if entry[2] != "nodes"]) == namespaced

    # Changes in the namespace still arrive by watch.
    apiserver.state.update("deployments", "team-a", "web", lambda d: d["spec"].__setitem__("replicas", 5))
    wait_until(lambda: (s := provider.snapshot().service("team-a/web")) is not None and s.desired == 5)


def test_a_context_without_a_namespace_falls_back_to_default(
    apiserver: ApiServer, make_provider: ProviderFactory
) -> None:
    web_with_pods(apiserver, 1, ns="default")
    web_with_pods(apiserver, 1, ns="prod")
    apiserver.state.grant_only_namespaces("default")
    provider = make_provider()
    provider.start_watch(lambda: None)

    cluster = wait_until(lambda: (c := provider.snapshot()).service("default/web") and c)
    assert [service.ref for service in cluster.services] == ["default/web"]
    assert cluster.scope.startswith("namespace default only")


def test_configured_namespaces_are_not_widened_or_narrowed(
    apiserver: ApiServer, make_provider: ProviderFactory, team_kubeconfig: Path
) -> None:
    web_with_pods(apiserver, 1, ns="team-a")
    web_with_pods(apiserver, 1, ns="team-b")
    apiserver.state.grant_only_namespaces("team-a")
    # team-b is configured but not granted: forbidden there, and no fallback to the context's team-a.
    provider = team_provider(make_provider, team_kubeconfig, namespaces=["team-b"])
    provider.start_watch(lambda: None)

    cluster = provider.snapshot()
    assert cluster.services == ()
    assert "deployments in team-b" in cluster.forbidden
    assert cluster.scope == "namespace team-b"
    assert not any(entry[3] == 200 and entry[1] in ("list", "watch") and entry[2] != "nodes"
                   for entry in apiserver.state.request_log), "read something outside team-b"


def test_status_json_and_text_say_what_part_of_the_cluster_is_shown(
    apiserver: ApiServer, team_kubeconfig: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    web_with_pods(apiserver, 1, ns="team-a")
    apiserver.state.grant_only_namespaces("team-a")
    config = write_config(tmp_path / "config.toml", team_kubeconfig, name="team")

    # Nodes are cluster-scoped: a namespace Role cannot read them, so the look is partial and says so
    # (exit 1); --allow-partial accepts it.
    assert main(["--config", str(config), "status", "--json"]) == 1
    capsys.readouterr()
    code = main(["--config", str(config), "status", "--json", "--allow-partial"])
    status = json.loads(capsys.readouterr().out)
    cluster = status["clusters"][0]
    assert code == 0, status
    assert [(gap["what"], gap["reason"][:13]) for gap in cluster["missing"]] == [("Kubernetes nodes", "403 forbidden")]
    assert cluster["scope"] == "namespace team-a only (listing the whole cluster is forbidden)"
    assert [service["name"] for service in cluster["services"]] == ["web"]

    main(["--config", str(config), "status"])
    first_line = capsys.readouterr().out.splitlines()[0]
    assert "namespace team-a only" in first_line


def test_the_kubeconfig_context_namespace_is_read_from_the_named_context(tmp_path: Path) -> None:
    api = ApiServer()  # not started: only its kubeconfig writer is used
    try:
        path = api.write_kubeconfig(tmp_path / "kc", context="ctx", namespace="payments")
        data = json.loads(path.read_text())
        data["contexts"].append({"name": "other", "context": {"cluster": "test-cluster", "user": "test-user",
                                                                "namespace": "search"}})
        path.write_text(json.dumps(data))
        for context, expected in ((None, "payments"), ("other", "search")):
            options: dict[str, object] = {"kubeconfig": str(path)}
            if context:
                options["context"] = context
            provider = KubernetesProvider(ClusterConfig(name="k", provider="kubernetes", options=options))
            provider.connection.load().close()
            assert provider.context_namespace == expected
    finally:
        api.server_close()
