"""Restart with `kubectl rollout restart` semantics, over real HTTP to the API test server: the patch body and
Content-Type kubectl sends, on Deployments, StatefulSets and DaemonSets; a paused Deployment refused; the CLI
verb audited before the PATCH, and read-only or bad input sending nothing mutating."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
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
from pilothouse.providers.errors import Conflict, NotSupported
from pilothouse.providers.kubernetes import KubernetesProvider
from pilothouse.providers.kubernetes.actions import RESTARTED_AT

pytestmark = pytest.mark.kubernetes

Obj = dict[str, Any]
# Go's time.RFC3339 to the second, as kubectl formats time.Now().
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)$")




@pytest.mark.parametrize(("build", "resource"), [(deployment, "deployments"), (statefulset, "statefulsets"),
                                                 (daemonset, "daemonsets")])
def test_restart_sends_kubectls_patch(apiserver: ApiServer, provider: KubernetesProvider,
                                      build: Any, resource: str) -> None:
    apiserver.state.put(build("web"))
    before = apiserver.state.get(resource, "prod", "web")
    plan = provider.plan_restart(service(provider, "prod/web"))
    assert plan.action is Action.RESTART and "kubectl rollout restart" in plan.detail
    assert patches(apiserver) == []  # planning sends nothing mutating

    assert provider.apply(plan) == "restarting prod/web (every pod is replaced from the same template)"

    [(_, path, content_type, body)] = patches(apiserver)
    assert path == f"/apis/apps/v1/namespaces/prod/{resource}/web"
    # kubectl: a two-way strategic merge patch of the object with the annotation set, i.e. only this.
    assert content_type == "application/strategic-merge-patch+json"
    stamp = body["spec"]["template"]["metadata"]["annotations"][RESTARTED_AT]
    assert body == {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: stamp}}}}}
    assert RFC3339.match(stamp), stamp
    sent = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S%z")
    assert abs(datetime.now(UTC) - sent) < timedelta(minutes=1)
    stored = apiserver.state.get(resource, "prod", "web")
    assert stored["spec"]["template"]["metadata"]["annotations"][RESTARTED_AT] == stamp
    # The template changed, so the controller sees a new generation; nothing else in the spec moved.
    assert stored["metadata"]["generation"] == before["metadata"]["generation"] + 1
    assert stored["spec"]["template"]["spec"] == before["spec"]["template"]["spec"]


def test_second_restart_replaces_the_stamp(apiserver: ApiServer, provider: KubernetesProvider) -> None:
    apiserver.state.put(deployment("web"))
    apiserver.state.update("deployments", "prod", "web", lambda d: d["spec"]["template"].setdefault(
        "metadata", {}).setdefault("annotations", {}).__setitem__(RESTARTED_AT, "2020-01-01T00:00:00Z"))
    plan = provider.plan_restart(service(provider, "prod/web"))
    assert "restarted 2020-01-01T00:00:00Z" in plan.before
    provider.apply(plan)
    stamp = apiserver.state.get("deployments", "prod", "web")["spec"]["template"]["metadata"]["annotations"][
        RESTARTED_AT]
    assert stamp != "2020-01-01T00:00:00Z"


def test_paused_deployment_refused(apiserver: ApiServer, provider: KubernetesProvider) -> None:
    apiserver.state.put(deployment("web"))
    web = service(provider, "prod/web")  # seen unpaused...
    apiserver.state.update("deployments", "prod", "web", lambda d: d["spec"].__setitem__("paused", True))
    with pytest.raises(NotSupported, match="paused"):  # ...but the live object decides
        provider.plan_restart(web)
    paused = wait_until(lambda: (s := service(provider, "prod/web")).details.get("paused") and s)
    reason = provider.refusal(Action.RESTART, paused)
    assert reason is not None and "kubectl rollout resume" in reason
    assert patches(apiserver) == []


def test_restart_conflicts_when_changed_after_the_plan(apiserver: ApiServer, provider: KubernetesProvider) -> None:
    apiserver.state.put(deployment("web"))
    plan = provider.plan_restart(service(provider, "prod/web"))
    apiserver.state.update("deployments", "prod", "web", lambda d: d["metadata"].__setitem__("generation", 9))
    with pytest.raises(Conflict, match="changed since the plan"):
        provider.apply(plan)
    assert patches(apiserver) == []


# -- the CLI verb ----------------------------------------------------------------------------------


def audit_lines() -> list[Obj]:
    path = default_audit_path()
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_cli_restart_audits_before_the_patch(apiserver: ApiServer, kubeconfig: Path, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    apiserver.state.put(deployment("web"))
    config = str(write_config(tmp_path / "config.toml", kubeconfig))
    seen_at_patch: list[list[Obj]] = []

    def look(method: str, path: str) -> int | None:
        if method == "PATCH":
            seen_at_patch.append(audit_lines())
        return None

    apiserver.state.on_request = look
    code = main(["--config", config, "restart", "k8s/prod/web", "--yes"])
    out, err = capsys.readouterr()
    assert (code, err) == (0, ""), err
    assert "restart k8s/prod/web:" in out and "restarting k8s/prod/web" in out
    [intent_then] = seen_at_patch
    assert intent_then[-1]["action"] == "restart" and intent_then[-1]["result"] == "pending"
    assert audit_lines()[-1]["result"] == "ok"


@pytest.mark.parametrize("argv", [("restart", "k8s/prod/web", "--yes", "--readonly"),
                                  ("restart", "k8s/prod/nope", "--yes"),
                                  ("restart", "k8s-prod-web", "--yes"),
                                  ("restart", "k8s/prod/web")])  # no --yes and stdin not a terminal
def test_cli_restart_readonly_and_bad_input_send_nothing(
    apiserver: ApiServer, kubeconfig: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    argv: tuple[str, ...],
) -> None:
    apiserver.state.put(deployment("web"))
    config = str(write_config(tmp_path / "config.toml", kubeconfig))
    code = main(["--config", config, *argv])
    _, err = capsys.readouterr()
    assert code in (1, 2) and len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err
    assert apiserver.state.methods["PATCH"] == apiserver.state.methods["POST"] == 0
