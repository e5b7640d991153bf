"""HorizontalPodAutoscalers over real HTTP: watched like the other kinds, matched to their scaleTargetRef,
shown in `status --json`; a manual scale of a workload an HPA owns is refused (exit 2, nothing sent, counted
at the server) unless --force; `autoscale` patches the HPA's min/maxReplicas through the audited flow."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from apiserver import ApiServer
from k8s_objects import deployment, hpa, replicaset
from k8s_support import audit_lines, run, wait_until, write_config

from pilothouse.providers.kubernetes import KubernetesProvider
from pilothouse.widgets.cluster_header import cluster_lines

pytestmark = pytest.mark.kubernetes

Obj = dict[str, Any]


def seed(api: ApiServer) -> None:
    web = api.state.put(deployment("web", "registry.local/web:1.0", 3))
    api.state.put(replicaset(web, "registry.local/web:1.0", 1, "5f6b7c", 3))
    api.state.put(deployment("api", "registry.local/api:3", 2))
    api.state.put(hpa("web", 2, 10, limited="TooManyReplicas"))


def test_hpa_is_matched_to_its_workload(apiserver: ApiServer, provider: KubernetesProvider) -> None:
    seed(apiserver)
    cluster = provider.snapshot()
    web, api = cluster.service("prod/web"), cluster.service("prod/api")
    assert web is not None and api is not None
    assert api.autoscaler is None
    scaler = web.autoscaler
    assert scaler is not None
    assert (scaler.kind, scaler.name, scaler.min, scaler.max, scaler.current, scaler.desired) == (
        "HorizontalPodAutoscaler", "web", 2, 10, 3, 3)
    assert scaler.metrics == "cpu 45%/70%"
    assert scaler.conditions == (
        "ScalingLimited: TooManyReplicas (the desired replica count is more than the maximum replica count)",)
    assert cluster.complete


def test_forbidden_hpas_are_a_named_gap(apiserver: ApiServer, provider: KubernetesProvider) -> None:
    seed(apiserver)
    apiserver.state.forbid("horizontalpodautoscalers")
    cluster = provider.snapshot()
    # As every namespaced kind: the cluster-wide list falls back to the context's namespace, forbidden too.
    assert cluster.forbidden == ("horizontalpodautoscalers in default",)
    assert [gap.part for gap in cluster.missing] == ["autoscalers"]
    web = cluster.service("prod/web")
    assert web is not None and web.autoscaler is None


def test_hpa_change_arrives_through_the_watch(apiserver: ApiServer, provider: KubernetesProvider) -> None:
    seed(apiserver)
    provider.snapshot()
    apiserver.state.update("horizontalpodautoscalers", "prod", "web",
                           lambda obj: obj["spec"].update(maxReplicas=20))

    def max_of_web() -> int | None:
        web = provider.snapshot().service("prod/web")
        return web.autoscaler.max if web is not None and web.autoscaler is not None else None

    wait_until(lambda: max_of_web() == 20)


def test_status_json_has_the_autoscaler(apiserver: ApiServer, kubeconfig: Path, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    seed(apiserver)
    config = str(write_config(tmp_path / "config.toml", kubeconfig))
    code, out, err = run(capsys, "--config", config, "status", "--json")
    assert code == 0, err
    services = {s["ref"]: s for s in json.loads(out)["clusters"][0]["services"]}
    web = services["prod/web"]["autoscaler"]
    assert {key: web[key] for key in ("kind", "min", "max", "current", "desired")} == {
        "kind": "HorizontalPodAutoscaler", "min": 2, "max": 10, "current": 3, "desired": 3}
    assert services["prod/api"]["autoscaler"] is None


def test_scale_of_an_autoscaled_workload_is_refused_and_sends_nothing(
    apiserver: ApiServer, kubeconfig: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    seed(apiserver)
    config = str(write_config(tmp_path / "config.toml", kubeconfig))

    code, _out, err = run(capsys, "--config", config, "scale", "k8s/prod/web", "5", "--yes")

    assert code == 2
    assert err.count("\n") == 1, err
    assert "HorizontalPodAutoscaler web (min 2, max 10)" in err and "--force" in err
    assert apiserver.state.mutating_requests() == 0
    assert apiserver.state.get("deployments", "prod", "web")["spec"]["replicas"] == 3
    audit = audit_lines()
    assert audit[-1]["result"].startswith("refused: ")

    # The workload without an HPA scales as before.
    code, _, err = run(capsys, "--config", config, "scale", "k8s/prod/api", "3", "--yes")
    assert code == 0, err
    assert apiserver.state.count("patch", "deployments") == 1


def test_force_scales_an_autoscaled_workload(apiserver: ApiServer, kubeconfig: Path, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    seed(apiserver)
    config = str(write_config(tmp_path / "config.toml", kubeconfig))
    code, _out, err = run(capsys, "--config", config, "scale", "k8s/prod/web", "5", "--yes", "--force")
    assert code == 0, err
    assert apiserver.state.count("patch", "deployments") == 1
    assert apiserver.state.get("deployments", "prod", "web")["spec"]["replicas"] == 5


def test_autoscale_patches_the_hpa_bounds(apiserver: ApiServer, kubeconfig: Path, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    seed(apiserver)
    config = str(write_config(tmp_path / "config.toml", kubeconfig))

    code, out, err = run(capsys, "--config", config, "autoscale", "k8s/prod/web", "--min", "3", "--max", "12",
                         "--yes")

    assert code == 0, err
    assert "min 2 -> 3, max 10 -> 12" in out
    stored = apiserver.state.get("horizontalpodautoscalers", "prod", "web")
    assert (stored["spec"]["minReplicas"], stored["spec"]["maxReplicas"]) == (3, 12)
    assert apiserver.state.count("patch", "horizontalpodautoscalers") == 1
    assert apiserver.state.count("patch", "deployments") == 0
    audit = audit_lines()
    assert [(line["action"], line["before"], line["after"], line["result"]) for line in audit[-2:]] == [
        ("autoscale_bounds", "min 2, max 10", "min 3, max 12", "pending"),
        ("autoscale_bounds", "min 2, max 10", "min 3, max 12", "ok"),
    ]


@pytest.mark.parametrize(("minimum", "maximum", "says"), [
    ("5", "4", "--min 5 is more than --max 4"),
    ("x", "4", "--min must be a whole number"),
    ("0", "4", "minReplicas is at least 1"),
])
def test_autoscale_bad_bounds_send_nothing(apiserver: ApiServer, kubeconfig: Path, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str], minimum: str, maximum: str,
                                           says: str) -> None:
    seed(apiserver)
    config = str(write_config(tmp_path / "config.toml", kubeconfig))
    code, _, err = run(capsys, "--config", config, "autoscale", "k8s/prod/web", "--min", minimum, "--max", maximum,
                       "--yes")
    assert code == 2
    assert says in err and err.count("\n") == 1, err
    assert apiserver.state.mutating_requests() == 0


def test_autoscale_without_an_autoscaler_is_refused(apiserver: ApiServer, kubeconfig: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    seed(apiserver)
    config = str(write_config(tmp_path / "config.toml", kubeconfig))
    code, _, err = run(capsys, "--config", config, "autoscale", "k8s/prod/api", "--min", "1", "--max", "4", "--yes")
    assert code == 2
    assert "no autoscaler owns the replicas of prod/api" in err
    assert apiserver.state.mutating_requests() == 0


def test_hpas_on_other_targets(apiserver: ApiServer, provider: KubernetesProvider,
                               capsys: pytest.CaptureFixture[str], kubeconfig: Path, tmp_path: Path) -> None:
    """An HPA on a ReplicaSet a Deployment owns goes onto that Deployment, saying why it fights it; an HPA on
    a custom resource (even one named Deployment), or on nothing that exists, is an autoscaler of a target not
    shown here: in the snapshot, the cluster header's notes and status --json."""
    web = apiserver.state.put(deployment("web", "registry.local/web:1.0", 3))
    apiserver.state.put(replicaset(web, "registry.local/web:1.0", 1, "5f6b7c", 3))
    on_rs = hpa("web-5f6b7c", 2, 6, name="web-rs")
    on_rs["spec"]["scaleTargetRef"] = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-5f6b7c"}
    rollout = hpa("shop", 3, 9, name="shop")
    rollout["spec"]["scaleTargetRef"] = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "name": "shop"}
    lookalike = hpa("web", 1, 4, name="crd-web")
    lookalike["spec"]["scaleTargetRef"] = {"apiVersion": "example.com/v1", "kind": "Deployment", "name": "web"}
    for obj in (on_rs, rollout, lookalike):
        apiserver.state.put(obj)
    cluster = provider.snapshot()
    service = cluster.service("prod/web")
    assert service is not None and service.autoscaler is not None
    assert (service.autoscaler.name, service.autoscaler.min, service.autoscaler.max) == ("web-rs", 2, 6)
    assert service.autoscaler.target == "ReplicaSet prod/web-5f6b7c"
    assert service.autoscaler.conditions[0] == (
        "targets ReplicaSet web-5f6b7c, which Deployment web owns: the Deployment sets its replicas back (target "
        "the Deployment instead)")
    assert [(a.name, a.target, a.min, a.max) for a in cluster.stray_autoscalers] == [
        ("prod/crd-web", "Deployment prod/web", 1, 4), ("prod/shop", "Rollout prod/shop", 3, 9)]
    notes = cluster_lines(cluster)[1].plain
    assert ("autoscalers of a target not shown here: HorizontalPodAutoscaler prod/crd-web -> Deployment prod/web, "
            "HorizontalPodAutoscaler prod/shop -> Rollout prod/shop") in notes
    config = write_config(tmp_path / "config.toml", kubeconfig)
    code, out, _err = run(capsys, "--config", str(config), "status", "--json")
    assert code == 0
    (exported,) = json.loads(out)["clusters"]
    assert [(a["name"], a["target"]) for a in exported["stray_autoscalers"]] == [
        ("prod/crd-web", "Deployment prod/web"), ("prod/shop", "Rollout prod/shop")]
