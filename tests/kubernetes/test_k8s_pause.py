"""Pause and resume a Deployment's rollout with kubectl rollout pause/resume semantics, over real HTTP: the
patch kubectl sends (spec.paused true; on resume the field removed), refusals for StatefulSets, DaemonSets and
a state that is already what was asked; the CLI verb `rollout --pause|--resume` audited, read-only refused."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from apiserver import ApiServer
from k8s_objects import daemonset, deployment, statefulset
from k8s_support import patches, wait_until, write_config
from k8s_support import service_of as service

from pilothouse.console.audit import default_audit_path
from pilothouse.console.cli import main
from pilothouse.providers.base import Action
from pilothouse.providers.errors import NotSupported
from pilothouse.providers.kubernetes import KubernetesProvider
from pilothouse.providers.model import RolloutState

pytestmark = pytest.mark.kubernetes




def test_pause_then_resume(apiserver: ApiServer, provider: KubernetesProvider) -> None:
    apiserver.state.put(deployment("web", replicas=3))
    web = service(provider, "prod/web")
    assert provider.refusal(Action.RESUME, web) == "prod/web is not paused: nothing to resume"
    plan = provider.plan_pause(web)
    assert plan.after == "paused where it is" and "kubectl rollout pause" in plan.detail
    assert patches(apiserver) == []
    assert provider.apply(plan) == "paused the rollout of prod/web"
    [(_, path, content_type, body)] = patches(apiserver)
    assert (path, content_type) == ("/apis/apps/v1/namespaces/prod/deployments/web",
                                    "application/strategic-merge-patch+json")
    assert body == {"spec": {"paused": True}}
    assert apiserver.state.get("deployments", "prod", "web")["spec"]["paused"] is True

    paused = wait_until(lambda: (s := service(provider, "prod/web")).rollout.state is RolloutState.PAUSED and s)
    assert provider.refusal(Action.PAUSE, paused) == "prod/web is already paused"
    assert provider.refusal(Action.RESUME, paused) is None
    assert provider.apply(provider.plan_resume(paused)) == "resumed the rollout of prod/web"
    # kubectl's two-way diff of paused=false (omitted when false) deletes the field.
    assert patches(apiserver)[-1][3] == {"spec": {"paused": None}}
    assert "paused" not in apiserver.state.get("deployments", "prod", "web")["spec"]


def test_the_live_object_decides(apiserver: ApiServer, provider: KubernetesProvider) -> None:
    apiserver.state.put(deployment("web"))
    web = service(provider, "prod/web")  # seen unpaused...
    apiserver.state.update("deployments", "prod", "web", lambda d: d["spec"].__setitem__("paused", True))
    with pytest.raises(NotSupported, match="already paused"):  # ...but someone paused it meanwhile
        provider.plan_pause(web)
    assert patches(apiserver) == []


@pytest.mark.parametrize(("build", "word"), [(statefulset, "StatefulSet"), (daemonset, "DaemonSet")])
def test_only_deployments_pause(apiserver: ApiServer, provider: KubernetesProvider, build: Any, word: str) -> None:
    apiserver.state.put(build("store"))
    store = service(provider, "prod/store")
    for action in (Action.PAUSE, Action.RESUME):
        reason = provider.refusal(action, store)
        assert reason is not None and word in reason and "only a Deployment" in reason
    with pytest.raises(NotSupported):
        provider.plan_pause(store)
    assert apiserver.state.methods["PATCH"] == 0


def audit_lines() -> list[dict[str, Any]]:
    path = default_audit_path()
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_cli_rollout_pause_and_resume(apiserver: ApiServer, kubeconfig: Path, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    apiserver.state.put(deployment("web"))
    config = str(write_config(tmp_path / "config.toml", kubeconfig))
    for argv in (["--readonly", "rollout", "k8s/prod/web", "--pause", "--yes"],
                 ["rollout", "k8s/prod/web", "--pause", "--watch"],
                 ["rollout", "k8s/prod/web", "--pause", "--resume"],
                 ["rollout", "k8s/prod/web", "--resume", "--yes"],  # not paused: refused with the reason
                 ["rollout", "k8s/prod/web", "--pause"]):  # stdin is not a terminal and no --yes
        code = main(["--config", config, *argv])
        _, err = capsys.readouterr()
        assert code in (1, 2) and err.count("\n") == 1, (argv, err)
    assert apiserver.state.methods["PATCH"] == 0
    assert main(["--config", config, "rollout", "k8s/prod/web", "--pause", "--yes"]) == 0
    out, _ = capsys.readouterr()
    assert "paused the rollout of k8s/prod/web" in out
    assert apiserver.state.get("deployments", "prod", "web")["spec"]["paused"] is True
    assert main(["--config", config, "rollout", "k8s/prod/web", "--resume", "--yes"]) == 0
    assert "paused" not in apiserver.state.get("deployments", "prod", "web")["spec"]
    results = [(line["action"], line["result"]) for line in audit_lines() if line["action"] in ("pause", "resume")]
    assert results[-4:] == [("pause", "pending"), ("pause", "ok"), ("resume", "pending"), ("resume", "ok")]
