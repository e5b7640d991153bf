"""Live data: list once, then watch; 410 -> relist, 403 -> forbidden, dropped watch and 500s -> recovery."""

from __future__ import annotations

import itertools
import threading
from pathlib import Path

import pytest
from apiserver import RESOURCES, ApiServer
from k8s_objects import deployment, node, pod, replicaset
from k8s_support import ProviderFactory, wait_until

from pilothouse.providers.base import ClusterConfig
from pilothouse.providers.errors import CredentialsError, InvalidInput, Unreachable
from pilothouse.providers.kubernetes import KubernetesProvider
from pilothouse.providers.kubernetes.objects import WATCHED_KINDS
from pilothouse.providers.model import Cluster, ConnectionState
from pilothouse.providers.refresh import ClusterRefresher

pytestmark = pytest.mark.kubernetes

KINDS = len(WATCHED_KINDS)


def replicas_seen(provider: KubernetesProvider, ref: str = "prod/web") -> int:
    found = provider.snapshot().service(ref)
    return found.desired if found else -1


def set_replicas(api: ApiServer, replicas: int) -> None:
    api.state.update("deployments", "prod", "web", lambda d: d["spec"].__setitem__("replicas", replicas))


def synced(api: ApiServer, provider: KubernetesProvider) -> None:
    """Started, listed every kind once, and every watch open."""
    provider.start_watch(lambda: None)
    provider.snapshot()
    wait_until(lambda: api.state.count("watch") >= KINDS)


def test_steady_state_makes_no_list_calls(apiserver: ApiServer, provider: KubernetesProvider) -> None:
    apiserver.state.put(deployment("web", replicas=1))
    provider.watch_timeout_s = 1  # watches end every 1-1.5 s and must resume, not relist
    synced(apiserver, provider)
    lists, watches = apiserver.state.count("list"), apiserver.state.count("watch")
    assert lists == KINDS

    for replicas in (2, 3, 4):
        set_replicas(apiserver, replicas)
        wait_until(lambda r=replicas: replicas_seen(provider) == r)  # type: ignore[misc]
    wait_until(lambda: apiserver.state.count("watch") >= watches + KINDS, timeout=5)  # every watch rolled over

    requests = sum(apiserver.state.counts.values())
    provider.snapshot()
    assert sum(apiserver.state.counts.values()) == requests  # a snapshot reads the cache only
    assert apiserver.state.count("list") == lists
    assert apiserver.state.count("get") == 0


def test_refresher_is_woken_by_watch_events(apiserver: ApiServer, provider: KubernetesProvider) -> None:
    apiserver.state.put(deployment("web", replicas=1))
    seen: list[Cluster] = []
    refresher = ClusterRefresher(provider, seen.append, interval=60)  # polling alone would take a minute
    thread = threading.Thread(target=refresher.run, daemon=True)
    thread.start()
    try:
        wait_until(lambda: seen and seen[-1].service("prod/web") is not None)
        wait_until(lambda: apiserver.state.count("watch") >= KINDS)
        set_replicas(apiserver, 6)
        wait_until(lambda: (web := seen[-1].service("prod/web")) is not None and web.desired == 6, timeout=5)
        assert seen[-1].state is ConnectionState.CONNECTED
    finally:
        refresher.stop()
        thread.join(timeout=5)


@pytest.mark.parametrize("gone_as_http", [False, True], ids=["error-event", "http-410"])
def test_410_gone_relists(apiserver: ApiServer, provider: KubernetesProvider, gone_as_http: bool) -> None:
    apiserver.state.put(deployment("web", replicas=1))
    synced(apiserver, provider)
    apiserver.state.gone_as_http = gone_as_http
    apiserver.state.compact()
    apiserver.state.drop_watches()  # every watch must resume from a resourceVersion that is now too old
    wait_until(lambda: apiserver.state.count("list") >= 2 * KINDS)
    assert all(apiserver.state.count("list", r.resource) == 2 for r in WATCHED_KINDS)
    set_replicas(apiserver, 4)
    wait_until(lambda: replicas_seen(provider) == 4)


def test_forbidden_kind_is_shown_not_hidden(apiserver: ApiServer, provider: KubernetesProvider) -> None:
    dep = apiserver.state.put(deployment("web", replicas=1))
    rs = apiserver.state.put(replicaset(dep, "registry.local/web:1.0", 1, "aaa111", 1))
    apiserver.state.put(pod(rs, "web-aaa111-x", version_label=("pod-template-hash", "aaa111")))
    apiserver.state.forbid("pods")
    provider.start_watch(lambda: None)

    cluster = provider.snapshot()
    assert cluster.state is ConnectionState.DEGRADED
    # Refused cluster-wide, then in the context's namespace too (kubectl's fallback, "default" here).
    assert cluster.forbidden == ("pods in default",)
    assert cluster.error == ""  # said once, in cluster.forbidden
    web = cluster.service("prod/web")
    assert web is not None and web.tasks == ()  # the rest still shows

    apiserver.state.allow("pods")  # RBAC fixed: looked at again, no restart needed
    cluster = wait_until(lambda: (c := provider.snapshot()).state is ConnectionState.CONNECTED and c)
    assert cluster.forbidden == ()
    web = cluster.service("prod/web")
    assert web is not None and [t.id for t in web.tasks] == ["prod/web-aaa111-x"]


def test_dropped_watch_reconnects_and_changes_still_arrive(
    apiserver: ApiServer, provider: KubernetesProvider
) -> None:
    apiserver.state.put(deployment("web", replicas=1))
    synced(apiserver, provider)
    lists, watches = apiserver.state.count("list"), apiserver.state.count("watch")

    apiserver.state.drop_watches()
    wait_until(lambda: apiserver.state.count("watch") >= watches + KINDS)
    set_replicas(apiserver, 3)
    apiserver.state.put(node("node-9"))

    wait_until(lambda: replicas_seen(provider) == 3)
    wait_until(lambda: [n.name for n in provider.snapshot().nodes] == ["node-9"])
    assert apiserver.state.count("list") == lists  # resumed from the last resourceVersion


def test_500s_back_off_then_recover(apiserver: ApiServer, provider: KubernetesProvider) -> None:
    apiserver.state.put(deployment("web", replicas=1))
    synced(apiserver, provider)

    apiserver.state.fail_for(1.5)  # also kills the open watches, like an API server restart
    # Kinds fail one by one as their watches are cut: wait for the one web is made of, not merely the first.
    def web_stale() -> Cluster | None:
        cluster = provider.snapshot()
        web = cluster.service("prod/web")
        return cluster if cluster.state is ConnectionState.DEGRADED and web is not None and web.stale else None

    degraded = wait_until(web_stale)  # the cache is kept meanwhile, said to be earlier data
    assert degraded.missing and all("HTTP 500" in gap.reason for gap in degraded.missing)
    assert not degraded.complete
    set_replicas(apiserver, 2)  # made while failing: must arrive once the watch resumes

    wait_until(lambda: provider.snapshot().state is ConnectionState.CONNECTED, timeout=10)
    wait_until(lambda: replicas_seen(provider) == 2)
    # Exponential backoff (0.05 s doubling to 0.4 s here): a handful of tries per kind, not a hot loop.
    assert KINDS <= apiserver.state.failures_served <= KINDS * 12
    failed_at = sorted(t for t, _, resource, code in apiserver.state.request_log
                       if code == 500 and resource == "deployments")
    gaps = [b - a for a, b in itertools.pairwise(failed_at)]
    assert gaps and max(gaps) > 2 * min(gaps)  # the waits grew (0.1 s -> 0.4 s with jitter)


def test_unreachable_api_server(apiserver: ApiServer, make_provider: ProviderFactory, tmp_path: Path) -> None:
    port = apiserver.server_address[1]
    apiserver.stop()
    provider = make_provider()
    with pytest.raises(Unreachable, match=f"127.0.0.1:{port}"):
        provider.connect()


def test_missing_kubeconfig_names_the_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = tmp_path / "nope" / "config"
    # Configured: a config error at once.
    with pytest.raises(InvalidInput, match=f"kubeconfig {missing} not found: fix `kubeconfig` for cluster 'x'"):
        KubernetesProvider(ClusterConfig(name="x", provider="kubernetes", options={"kubeconfig": str(missing)}))
    # From the environment: found missing on connect, which the console retries.
    monkeypatch.setenv("KUBECONFIG", str(missing))
    provider = KubernetesProvider(ClusterConfig(name="x", provider="kubernetes"))
    with pytest.raises(InvalidInput, match=f"kubeconfig {missing} not found"):
        provider.connect()


def test_unknown_context_is_invalid_input(make_provider: ProviderFactory) -> None:
    with pytest.raises(InvalidInput, match="no-such-context"):
        make_provider(context="no-such-context").connect()


def test_wrong_token_is_a_credentials_error(apiserver: ApiServer, make_provider: ProviderFactory) -> None:
    apiserver.token = "rotated"
    with pytest.raises(CredentialsError):
        make_provider().connect()


def test_kubeconfig_is_never_rewritten(apiserver: ApiServer, kubeconfig: Path,
                                       provider: KubernetesProvider) -> None:
    before = kubeconfig.read_bytes()
    provider.connect()
    provider.snapshot()
    provider.close()
    assert kubeconfig.read_bytes() == before


def test_every_kind_the_provider_watches_is_served() -> None:
    assert {kind.resource for kind in WATCHED_KINDS} <= set(RESOURCES)
