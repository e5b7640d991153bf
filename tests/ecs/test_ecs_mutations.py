"""Scale and rollback change moto's state; what the plan promises is what AWS then describes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from ecs_transport import CountingProxy
from ecs_world import ProviderFactory, add_instances, deployment, moto_service, register

from pilothouse.providers.base import Action
from pilothouse.providers.errors import Conflict, InvalidInput, NotSupported
from pilothouse.providers.model import Service

pytestmark = pytest.mark.ecs


@pytest.fixture
def web(admin: Any, ec2: Any) -> dict[str, str]:
    admin.create_cluster(clusterName="shop")
    add_instances(admin, ec2, "shop", 1)
    versions = {f"v{i}": register(admin, "web", f"registry.example.com/web:{i}") for i in (1, 2, 3)}
    admin.create_service(cluster="shop", serviceName="web", taskDefinition=versions["v1"], desiredCount=2)
    return versions


def _describe(admin: Any) -> dict[str, Any]:
    service: dict[str, Any] = admin.describe_services(cluster="shop", services=["web"])["services"][0]
    return service


def _service(provider: Any, ref: str = "shop/web") -> Service:
    service: Service | None = provider.snapshot().service(ref)
    assert service is not None
    return service


def test_scale_changes_desired_count(admin: Any, web: dict[str, str], make_provider: ProviderFactory) -> None:
    provider = make_provider()
    provider.connect()
    service = _service(provider)
    plan = provider.plan_scale(service, 5)
    assert (plan.action, plan.before, plan.after) == (Action.SCALE, "2", "5")
    assert plan.describe() == "scale aws/shop/web: 2 -> 5"
    assert _describe(admin)["desiredCount"] == 2  # planning sends nothing mutating
    assert provider.apply(plan) == "scaled shop/web from 2 to 5"
    assert _describe(admin)["desiredCount"] == 5
    assert _service(provider).desired == 5

    with pytest.raises(InvalidInput):
        provider.plan_scale(service, -1)
    # Someone else scaled between the plan and its confirmation: refuse rather than overwrite.
    stale = provider.plan_scale(service, 1)
    admin.update_service(cluster="shop", service="web", desiredCount=7)
    with pytest.raises(Conflict, match="changed to 7"):
        provider.apply(stale)
    assert _describe(admin)["desiredCount"] == 7


def test_daemon_service_cannot_scale(admin: Any, web: dict[str, str], make_provider: ProviderFactory) -> None:
    admin.create_service(cluster="shop", serviceName="agent", taskDefinition=web["v1"],
                         schedulingStrategy="DAEMON")
    provider = make_provider()
    provider.connect()
    agent = _service(provider, "shop/agent")
    assert provider.refusal(Action.SCALE, agent) is not None
    with pytest.raises(NotSupported):
        provider.plan_scale(agent, 3)


def test_rollback_during_rollout_goes_to_the_active_deployment(
    admin: Any, web: dict[str, str], make_provider: ProviderFactory,
) -> None:
    admin.update_service(cluster="shop", service="web", taskDefinition=web["v2"])
    moto_service("shop", "web").deployments = [
        deployment(web["v2"], "PRIMARY", desired=2, running=1, rollout="IN_PROGRESS", reason="in progress"),
        deployment(web["v1"], "ACTIVE", desired=2, running=2, rollout="COMPLETED", age_s=900),
    ]
    provider = make_provider()
    provider.connect()
    service = _service(provider)
    plan = provider.plan_rollback(service)
    assert (plan.before, plan.after) == ("web:2", "web:1")
    assert "web:2 -> web:1" in plan.detail and "deployment in progress" in plan.detail
    assert _describe(admin)["taskDefinition"] == web["v2"]
    assert provider.apply(plan) == "rolled back shop/web from web:2 to web:1"
    assert _describe(admin)["taskDefinition"] == web["v1"]
    # Applying the same plan twice is a conflict: the service no longer runs web:2.
    with pytest.raises(Conflict, match="now runs web:1"):
        provider.apply(plan)


def test_rollback_after_completion_uses_the_consoles_record(
    admin: Any, web: dict[str, str], proxy: CountingProxy, make_provider: ProviderFactory, aws_env: Path,
    tmp_path: Path,
) -> None:
    provider = make_provider()
    provider.connect()
    assert _service(provider).version == "web:1"
    # Someone deploys web:3 and it completes (moto does not simulate that part: script it).
    admin.update_service(cluster="shop", service="web", taskDefinition=web["v3"])
    moto_service("shop", "web").deployments = [
        deployment(web["v3"], "PRIMARY", desired=2, running=2, rollout="COMPLETED", reason="completed")]
    service = _service(provider)
    assert service.version == "web:3" and not service.rollout.active
    proxy.reset()
    plan = provider.plan_rollback(service)
    assert (plan.before, plan.after) == ("web:3", "web:1")
    assert "saw before" in plan.detail
    # The deployment-history API was asked once (moto answers 500, no retries), then the record was used.
    assert proxy.snapshot_counts().get("ListServiceDeployments") == 1
    record_path = tmp_path / "state" / "pilothouse" / "ecs-revisions.json"
    record = json.loads(record_path.read_text())
    assert record[service.id] == [web["v1"], web["v3"]]
    # A state file: private (0600 in a 0700 directory), like the audit log.
    assert (record_path.stat().st_mode & 0o777, record_path.parent.stat().st_mode & 0o777) == (0o600, 0o700)

    # The record outlives the process: a fresh provider knows the same previous revision.
    fresh = make_provider()
    fresh.connect()
    assert fresh.plan_rollback(_service(fresh)).after == "web:1"
    provider.apply(plan)
    assert _describe(admin)["taskDefinition"] == web["v1"]


def test_without_a_state_dir_the_record_stays_in_memory(
    admin: Any, web: dict[str, str], make_provider: ProviderFactory, tmp_path: Path,
) -> None:
    # No state dir from the console: the provider still remembers what it saw, but writes no file anywhere.
    provider = make_provider(keep_state=False)
    provider.connect()
    assert _service(provider).version == "web:1"
    admin.update_service(cluster="shop", service="web", taskDefinition=web["v3"])
    moto_service("shop", "web").deployments = [
        deployment(web["v3"], "PRIMARY", desired=2, running=2, rollout="COMPLETED", reason="completed")]
    assert provider.plan_rollback(_service(provider)).after == "web:1"
    provider.close()
    assert not [path for path in tmp_path.rglob("ecs-revisions*")]
    fresh = make_provider(keep_state=False)
    fresh.connect()
    with pytest.raises(NotSupported):
        fresh.plan_rollback(_service(fresh))


def test_rollback_without_history_asks_for_a_revision(
    admin: Any, web: dict[str, str], make_provider: ProviderFactory,
) -> None:
    provider = make_provider()
    provider.connect()
    with pytest.raises(NotSupported) as refused:
        provider.plan_rollback(_service(provider))
    text = str(refused.value)
    assert "no earlier revision of web" in text and "list-task-definitions --family-prefix web" in text
    assert "\n" not in text


def test_rollback_after_completion_prefers_the_deployment_history_api(
    admin: Any, web: dict[str, str], proxy: CountingProxy, make_provider: ProviderFactory,
) -> None:
    # moto lacks these three actions; the proxy answers them as AWS documents them.
    revision = "arn:aws:ecs:us-east-1:123456789012:service-revision/shop/web/{}"
    proxy.answers["ListServiceDeployments"] = lambda request: {"serviceDeployments": [
        {"serviceDeploymentArn": "arn:aws:ecs:us-east-1:123456789012:service-deployment/shop/web/old",
         "status": "SUCCESSFUL", "createdAt": 1_700_000_000.0, "targetServiceRevisionArn": revision.format(2)},
        {"serviceDeploymentArn": "arn:aws:ecs:us-east-1:123456789012:service-deployment/shop/web/new",
         "status": "SUCCESSFUL", "createdAt": 1_700_000_900.0, "targetServiceRevisionArn": revision.format(3)},
    ]}
    proxy.answers["DescribeServiceDeployments"] = lambda request: {"serviceDeployments": [
        {"serviceDeploymentArn": request.body["serviceDeploymentArns"][0],
         "targetServiceRevision": {"arn": revision.format(3)},
         "sourceServiceRevisions": [{"arn": revision.format(2)}]}
        if request.body["serviceDeploymentArns"][0].endswith("/new") else {}]}
    proxy.answers["DescribeServiceRevisions"] = lambda request: {"serviceRevisions": [
        {"serviceRevisionArn": revision.format(n), "taskDefinition": web[f"v{n}"]} for n in (2, 3)]}
    admin.update_service(cluster="shop", service="web", taskDefinition=web["v3"])
    moto_service("shop", "web").deployments = [
        deployment(web["v3"], "PRIMARY", desired=2, running=2, rollout="COMPLETED", reason="completed")]
    provider = make_provider()
    provider.connect()
    plan = provider.plan_rollback(_service(provider))
    # The console never saw web:2 run; AWS's own history knows it was the source of the last deployment.
    assert (plan.before, plan.after) == ("web:3", "web:2")
    assert "last successful deployment" in plan.detail
    provider.apply(plan)
    assert _describe(admin)["taskDefinition"] == web["v2"]
