"""Scale through the scale subresource and rollback with `kubectl rollout undo` semantics, over real HTTP."""

from __future__ import annotations

from typing import Any

import pytest
from apiserver import ApiServer
from k8s_objects import controller_revision, daemonset, deployment, replicaset, statefulset
from k8s_support import wait_until

from pilothouse.providers.base import Action
from pilothouse.providers.errors import Conflict, NotSupported
from pilothouse.providers.kubernetes import KubernetesProvider
from pilothouse.providers.model import Service

pytestmark = pytest.mark.kubernetes

Obj = dict[str, Any]


def service(provider: KubernetesProvider, ref: str) -> Service:
    found = provider.snapshot().service(ref)
    assert found is not None, ref
    return found


def image_of(obj: Obj) -> str:
    return str(obj["spec"]["template"]["spec"]["containers"][0]["image"])


def test_scale_deployment_changes_server_state(apiserver: ApiServer, provider: KubernetesProvider) -> None:
    apiserver.state.put(deployment("web", replicas=3))
    web = service(provider, "prod/web")
    plan = provider.plan_scale(web, 5)
    assert (plan.before, plan.after) == ("3", "5")
    assert apiserver.state.count("patch") == 0  # planning sends nothing mutating

    result = provider.apply(plan)

    assert result == "scaled prod/web from 3 to 5 replicas"
    stored = apiserver.state.get("deployments", "prod", "web")
    assert stored["spec"]["replicas"] == 5
    assert stored["metadata"]["generation"] == 2
    assert apiserver.state.count("patch", "deployments") == 1
    # The watch brings the change back without a new list.
    lists = apiserver.state.count("list")
    wait_until(lambda: service(provider, "prod/web").desired == 5)
    assert apiserver.state.count("list") == lists


def test_scale_statefulset(apiserver: ApiServer, provider: KubernetesProvider) -> None:
    apiserver.state.put(statefulset("db", replicas=3))
    provider.apply(provider.plan_scale(service(provider, "prod/db"), 1))
    assert apiserver.state.get("statefulsets", "prod", "db")["spec"]["replicas"] == 1


def test_scale_conflicts_when_replicas_changed_after_the_plan(
    apiserver: ApiServer, provider: KubernetesProvider
) -> None:
    apiserver.state.put(deployment("web", replicas=3))
    plan = provider.plan_scale(service(provider, "prod/web"), 5)
    apiserver.state.update("deployments", "prod", "web", lambda d: d["spec"].__setitem__("replicas", 4))
    with pytest.raises(Conflict, match="now has 4 replicas"):
        provider.apply(plan)
    assert apiserver.state.get("deployments", "prod", "web")["spec"]["replicas"] == 4


def test_daemonset_scale_refused(apiserver: ApiServer, provider: KubernetesProvider) -> None:
    apiserver.state.put(daemonset("agent"))
    agent = service(provider, "prod/agent")
    reason = provider.refusal(Action.SCALE, agent)
    assert reason is not None and "DaemonSet" in reason and "cannot be scaled" in reason
    with pytest.raises(NotSupported, match="cannot be scaled"):
        provider.plan_scale(agent, 3)
    assert apiserver.state.count("get") == apiserver.state.count("patch") == 0


def seed_history(api: ApiServer) -> Obj:
    """web at revision 3 (1.2) with ReplicaSets for revisions 1 (1.0) and 2 (1.1), plus a stranger's RS."""
    state = api.state
    current_image = "registry.local/web:1.2"
    dep = state.put(deployment("web", current_image, 3, revision=3))
    state.put(replicaset(dep, "registry.local/web:1.0", 1, "aaa111", 0))
    state.put(replicaset(dep, "registry.local/web:1.1", 2, "bbb222", 0))
    state.put(replicaset(dep, current_image, 3, "ccc333", 3))
    # Same labels, higher revision, but owned by another (deleted and recreated) Deployment: ignored.
    stranger = replicaset(dep, "registry.local/web:0.9", 9, "zzz999", 0)
    stranger["metadata"]["ownerReferences"][0]["uid"] = "another-uid"
    state.put(stranger)
    return state.get("deployments", "prod", "web")


def test_rollback_picks_the_second_highest_owned_revision(
    apiserver: ApiServer, provider: KubernetesProvider
) -> None:
    seed_history(apiserver)
    plan = provider.plan_rollback(service(provider, "prod/web"))
    assert plan.before == "registry.local/web:1.2 (rev 3)"
    assert plan.after == "registry.local/web:1.1 (rev 2)"
    assert "web-bbb222" in plan.detail
    assert apiserver.state.count("patch") == 0

    assert provider.apply(plan) == "rolled back prod/web to registry.local/web:1.1 (rev 2)"

    stored = apiserver.state.get("deployments", "prod", "web")
    assert image_of(stored) == "registry.local/web:1.1"
    assert "pod-template-hash" not in stored["spec"]["template"]["metadata"]["labels"]
    assert stored["metadata"]["annotations"]["kubernetes.io/change-cause"] == "deploy registry.local/web:1.1"
    # The Deployment's own revision annotation is kept (the controller bumps it), not copied from the RS.
    assert stored["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"
    assert stored["metadata"]["generation"] == 2
    assert stored["spec"]["replicas"] == 3


def test_rollback_refused_when_paused(apiserver: ApiServer, provider: KubernetesProvider) -> None:
    seed_history(apiserver)
    web = service(provider, "prod/web")  # seen unpaused...
    apiserver.state.update("deployments", "prod", "web", lambda d: d["spec"].__setitem__("paused", True))
    with pytest.raises(NotSupported, match="paused"):  # ...but the live object decides
        provider.plan_rollback(web)
    paused = wait_until(lambda: (s := service(provider, "prod/web")).details.get("paused") and s)
    reason = provider.refusal(Action.ROLLBACK, paused)
    assert reason is not None and "resume" in reason
    assert apiserver.state.count("patch") == 0


def test_rollback_does_nothing_when_templates_already_match(
    apiserver: ApiServer, provider: KubernetesProvider
) -> None:
    # Someone set the image back to 1.1 and the controller has not yet made that revision 4: revision 2,
    # the one undo would pick, is already the template.
    seed_history(apiserver)
    state = apiserver.state

    def set_image(dep: Obj) -> None:
        dep["spec"]["template"]["spec"]["containers"][0]["image"] = "registry.local/web:1.1"

    state.update("deployments", "prod", "web", set_image)
    with pytest.raises(NotSupported, match="already matches revision 2"):
        provider.plan_rollback(service(provider, "prod/web"))
    assert state.count("patch") == 0


def test_rollback_without_history(apiserver: ApiServer, provider: KubernetesProvider) -> None:
    dep = apiserver.state.put(deployment("web"))
    apiserver.state.put(replicaset(dep, "registry.local/web:1.0", 1, "aaa111", 3))
    web = service(provider, "prod/web")
    # Known from the watch cache already: the console does not offer the key (no request needed).
    assert provider.refusal(Action.ROLLBACK, web) == 'no rollout history found for deployment "web"'
    with pytest.raises(NotSupported, match="no rollout history"):
        provider.plan_rollback(web)


def test_rollback_is_offered_when_history_has_a_target(apiserver: ApiServer, provider: KubernetesProvider) -> None:
    seed_history(apiserver)
    assert provider.refusal(Action.ROLLBACK, service(provider, "prod/web")) is None


def test_rollback_conflicts_when_spec_changed_after_the_plan(
    apiserver: ApiServer, provider: KubernetesProvider
) -> None:
    seed_history(apiserver)
    plan = provider.plan_rollback(service(provider, "prod/web"))
    apiserver.state.update("deployments", "prod", "web", lambda d: d["metadata"].__setitem__("generation", 7))
    with pytest.raises(Conflict, match="changed since the plan"):
        provider.apply(plan)


@pytest.mark.parametrize("kind", ["statefulset", "daemonset"])
def test_rollback_through_controller_revisions(
    apiserver: ApiServer, provider: KubernetesProvider, kind: str
) -> None:
    state = apiserver.state
    build = statefulset if kind == "statefulset" else daemonset
    workload = state.put(build("store", "registry.local/store:3"))
    for revision, image in ((1, "registry.local/store:1"), (2, "registry.local/store:2"),
                            (3, "registry.local/store:3")):
        state.put(controller_revision(workload, revision, image, f"h{revision}"))
    plan = provider.plan_rollback(service(provider, "prod/store"))
    assert (plan.before, plan.after) == ("registry.local/store:3 (rev 3)", "registry.local/store:2 (rev 2)")
    provider.apply(plan)
    stored = state.get(f"{kind}s", "prod", "store")
    assert image_of(stored) == "registry.local/store:2"
    assert "$patch" not in stored["spec"]["template"]
