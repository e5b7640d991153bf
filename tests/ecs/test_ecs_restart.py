"""Restart on ECS: UpdateService with forceNewDeployment (seen at the counting proxy in front of moto), the
same task definition kept; a CodeDeploy service refused; read-only and bad input send nothing mutating."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from ecs_transport import CountingProxy, Fault, Request
from ecs_world import ProviderFactory, add_instances, register

from pilothouse.providers.base import Action
from pilothouse.providers.errors import Conflict, NotSupported
from pilothouse.providers.model import Service

pytestmark = pytest.mark.ecs

READ_PREFIXES = ("List", "Describe", "Get")


@pytest.fixture
def web(admin: Any, ec2: Any) -> dict[str, str]:
    admin.create_cluster(clusterName="shop")
    add_instances(admin, ec2, "shop", 1)
    versions = {f"v{i}": register(admin, "web", f"registry.example.com/web:{i}") for i in (1, 2)}
    admin.create_service(cluster="shop", serviceName="web", taskDefinition=versions["v1"], desiredCount=2)
    return versions


def capture(proxy: CountingProxy) -> list[Request]:
    """Every UpdateService as sent, recorded at the proxy (the rule answers None: the request goes on)."""
    seen: list[Request] = []

    def record(request: Request) -> Fault | None:
        if request.action == "UpdateService":
            seen.append(request)
        return None

    proxy.faults.append(record)
    return seen


def _service(provider: Any, ref: str = "shop/web") -> Service:
    service: Service | None = provider.snapshot().service(ref)
    assert service is not None
    return service


def test_restart_forces_a_new_deployment_of_the_same_task_definition(
    admin: Any, web: dict[str, str], proxy: CountingProxy, make_provider: ProviderFactory,
) -> None:
    provider = make_provider()
    provider.connect()
    sent = capture(proxy)
    plan = provider.plan_restart(_service(provider))
    assert plan.action is Action.RESTART and plan.before.startswith("web:1")
    assert "forceNewDeployment" in plan.detail
    assert sent == []  # planning sends nothing mutating

    assert provider.apply(plan) == "restarting shop/web (a new deployment replaces every task)"

    [request] = sent
    assert request.body["forceNewDeployment"] is True
    assert request.body["service"].endswith("service/shop/web")
    # Nothing else in the service changes: no task definition, no count.
    assert set(request.body) == {"cluster", "service", "forceNewDeployment"}
    described = admin.describe_services(cluster="shop", services=["web"])["services"][0]
    assert described["taskDefinition"] == web["v1"] and described["desiredCount"] == 2


def test_restart_conflicts_when_the_task_definition_changed(
    admin: Any, web: dict[str, str], proxy: CountingProxy, make_provider: ProviderFactory,
) -> None:
    provider = make_provider()
    provider.connect()
    sent = capture(proxy)
    plan = provider.plan_restart(_service(provider))
    admin.update_service(cluster="shop", service="web", taskDefinition=web["v2"])
    with pytest.raises(Conflict, match="refresh"):
        provider.apply(plan)
    assert sent == []


def test_codedeploy_service_refused(admin: Any, web: dict[str, str], make_provider: ProviderFactory) -> None:
    admin.create_service(cluster="shop", serviceName="blue", taskDefinition=web["v1"], desiredCount=1,
                         deploymentController={"type": "CODE_DEPLOY"})
    provider = make_provider()
    provider.connect()
    blue = _service(provider, "shop/blue")
    reason = provider.refusal(Action.RESTART, blue)
    assert reason is not None and "CODE_DEPLOY" in reason
    with pytest.raises(NotSupported):
        provider.plan_restart(blue)


def _mutating(proxy: CountingProxy) -> dict[str, int]:
    return {action: n for action, n in proxy.snapshot_counts().items() if not action.startswith(READ_PREFIXES)}


def _audit() -> list[dict[str, Any]]:
    path = Path(os.environ["XDG_STATE_HOME"]) / "pilothouse" / "audit.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_cli_restart_readonly_bad_input_then_done(
    web: dict[str, str], proxy: CountingProxy, write_config: Any, capsys: pytest.CaptureFixture[str],
) -> None:
    from pilothouse.console.cli import main

    proxy.reset()
    # One config file is rewritten per case: written just before its run.
    for readonly, argv in ((True, ["restart", "aws/shop/web", "--yes"]),
                           (False, ["restart", "aws/shop/nope", "--yes"]),
                           (False, ["restart", "aws/shop/web"])):  # no --yes, stdin not a terminal
        code = main(["--config", write_config(readonly=readonly), *argv])
        _, err = capsys.readouterr()
        assert code in (1, 2) and err.count("\n") == 1, err
    assert _mutating(proxy) == {}
    code = main(["--config", write_config(), "restart", "aws/shop/web", "--yes"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "restarting aws/shop/web" in out
    assert _mutating(proxy) == {"UpdateService": 1}
    assert [line["result"] for line in _audit() if line["action"] == "restart"][-2:] == ["pending", "ok"]


def test_pause_and_resume_not_offered_with_the_reason(
    web: dict[str, str], proxy: CountingProxy, write_config: Any, make_provider: ProviderFactory,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from pilothouse.console.cli import main

    provider = make_provider()
    provider.connect()
    for action in (Action.PAUSE, Action.RESUME):
        reason = provider.refusal(action, _service(provider))
        assert reason is not None and "ECS deployments cannot be paused or resumed" in reason
    proxy.reset()
    code = main(["--config", write_config(), "rollout", "aws/shop/web", "--pause", "--yes"])
    _, err = capsys.readouterr()
    assert code == 2 and "cannot be paused" in err and err.count("\n") == 1
    assert _mutating(proxy) == {}
