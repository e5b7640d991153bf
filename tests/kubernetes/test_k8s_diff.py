"""What changed, on the API test server: a Deployment's two newest ReplicaSets compared field by field (env
names only), `pilothouse diff` (exit 2 with one revision), and the rollback confirmation naming the revisions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from apiserver import ApiServer
from k8s_objects import deployment, replicaset
from k8s_support import write_config

from pilothouse.console.cli import main
from pilothouse.providers.base import Action
from pilothouse.providers.kubernetes import KubernetesProvider

pytestmark = pytest.mark.kubernetes

Obj = dict[str, Any]


def _app(rs: Obj) -> Obj:
    container: Obj = rs["spec"]["template"]["spec"]["containers"][0]
    return container


def seed(api: ApiServer) -> None:
    state = api.state
    web = state.put(deployment("web", "registry.local/web:1.1", 2, revision=2))
    old = replicaset(web, "registry.local/web:1.0", 1, "5f6b7c", 0)
    _app(old)["env"] = [{"name": "DB_PASSWORD", "value": "old-secret"}, {"name": "MODE", "value": "a"}]
    new = replicaset(web, "registry.local/web:1.1", 2, "7d9f8c", 2)
    _app(new)["env"] = [{"name": "DB_PASSWORD", "value": "new-secret"}, {"name": "FLAG", "value": "1"}]
    _app(new)["resources"] = {"limits": {"memory": "256Mi"}}
    new["spec"]["template"]["metadata"]["labels"]["team"] = "core"
    state.put(old)
    state.put(new)
    state.update("deployments", "prod", "web",
                 lambda d: d["spec"].__setitem__("template", {**new["spec"]["template"], "metadata": {
                     "labels": {k: v for k, v in new["spec"]["template"]["metadata"]["labels"].items()
                                if k != "pod-template-hash"}}}))
    api_dep = state.put(deployment("api", "registry.local/api:3", 1))
    state.put(replicaset(api_dep, "registry.local/api:3", 1, "9a9a9a", 1))


def test_diff_between_two_replicasets(apiserver: ApiServer, provider: KubernetesProvider) -> None:
    seed(apiserver)
    web = provider.snapshot().service("prod/web")
    assert web is not None
    found = provider.revisions_diff(web)
    assert (found.from_label, found.to_label) == ("revision 1", "revision 2")
    changes = {change.field: change for change in found.changes}
    assert list(changes) == ["image", "env", "resources", "labels"]
    assert (changes["image"].before, changes["image"].after) == ("registry.local/web:1.0", "registry.local/web:1.1")
    assert (changes["env"].before, changes["env"].after) == ("MODE, DB_PASSWORD=(value)",
                                                             "FLAG, DB_PASSWORD=(value changed)")
    assert "secret" not in repr(found)
    plan = provider.plan(Action.ROLLBACK, web)
    assert "revision 2 -> revision 1: image, env, resources, labels" in plan.detail


def test_diff_verb(apiserver: ApiServer, kubeconfig: Path, tmp_path: Path,
                   capsys: pytest.CaptureFixture[str]) -> None:
    seed(apiserver)
    config = str(write_config(tmp_path / "config.toml", kubeconfig))
    assert main(["--config", config, "diff", "k8s/prod/web"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("revision 1 -> revision 2\nimage:\n  - registry.local/web:1.0\n  + registry.local/web:1.1")
    assert "secret" not in out
    assert main(["--config", config, "diff", "k8s/prod/api"]) == 2
    assert "prod/api has one revision only" in capsys.readouterr().err
