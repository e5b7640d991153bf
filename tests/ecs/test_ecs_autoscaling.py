"""Application Auto Scaling on moto: a scalable target owns a service's desired count; a manual scale is
refused (exit 2, counted at the proxy: no UpdateService), --force scales, `autoscale` registers new bounds;
targets and policies are read on the slow tier within the API budget."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from ecs_transport import CountingProxy, Fault
from ecs_world import REGION, ProviderFactory, add_instances, register

from pilothouse.console.audit import default_audit_path
from pilothouse.console.cli import main
from pilothouse.providers.ecs.autoscaling import autoscaling_budget
from pilothouse.providers.ecs.fetch import provider_budget
from pilothouse.providers.model import Service

pytestmark = pytest.mark.ecs

RESOURCE = "service/shop/web"
DIMENSION = "ecs:service:DesiredCount"


@pytest.fixture
def autoscaling(moto: str, aws_env: Path) -> Any:
    """Application Auto Scaling straight against moto, bypassing the counting proxy."""
    import boto3

    return boto3.client("application-autoscaling", endpoint_url=moto, region_name=REGION)


@pytest.fixture
def shop(admin: Any, ec2: Any, autoscaling: Any) -> None:
    admin.create_cluster(clusterName="shop")
    add_instances(admin, ec2, "shop", 1)
    definition = register(admin, "web", "registry.example.com/web:1")
    admin.create_service(cluster="shop", serviceName="web", taskDefinition=definition, desiredCount=2)
    admin.create_service(cluster="shop", serviceName="api", taskDefinition=definition, desiredCount=1)
    autoscaling.register_scalable_target(ServiceNamespace="ecs", ResourceId=RESOURCE, ScalableDimension=DIMENSION,
                                         MinCapacity=2, MaxCapacity=10)
    autoscaling.put_scaling_policy(
        PolicyName="cpu60", ServiceNamespace="ecs", ResourceId=RESOURCE, ScalableDimension=DIMENSION,
        PolicyType="TargetTrackingScaling", TargetTrackingScalingPolicyConfiguration={
            "TargetValue": 60.0,
            "PredefinedMetricSpecification": {"PredefinedMetricType": "ECSServiceAverageCPUUtilization"}})


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def service(provider: Any, ref: str) -> Service:
    found: Service | None = provider.snapshot().service(ref)
    assert found is not None
    return found


def test_the_scalable_target_is_on_its_service(shop: None, proxy: CountingProxy,
                                               make_provider: ProviderFactory) -> None:
    provider = make_provider()
    provider.connect()
    proxy.reset()
    cluster = provider.snapshot()
    counts = proxy.snapshot_counts()
    assert (counts["DescribeScalableTargets"], counts["DescribeScalingPolicies"]) == (1, 1)
    web, api = cluster.service("shop/web"), cluster.service("shop/api")
    assert web is not None and api is not None and api.autoscaler is None
    scaler = web.autoscaler
    assert scaler is not None
    assert (scaler.kind, scaler.name, scaler.min, scaler.max, scaler.desired) == (
        "Application Auto Scaling", RESOURCE, 2, 10, 2)
    assert scaler.metrics == "ECSServiceAverageCPUUtilization 60 (target tracking)"
    assert cluster.complete
    # The slow tier: the next refresh reads services only, and keeps the autoscaler.
    proxy.reset()
    again = provider.snapshot()
    assert "DescribeScalableTargets" not in proxy.snapshot_counts()
    kept = again.service("shop/web")
    assert kept is not None and kept.autoscaler == scaler


def test_budget_counts_the_autoscaling_listings() -> None:
    assert autoscaling_budget(0, 0) == 1  # one look, nothing more when nothing is autoscaled
    assert autoscaling_budget(51, 120) == 2 + 3
    assert provider_budget([(205, 150, 3), (5, 0, 0)], 51, 120) == (3 + 21 + 2 + 2 + 2) + (1 + 1) + 5


def test_forbidden_autoscaling_is_a_named_gap(shop: None, proxy: CountingProxy,
                                              make_provider: ProviderFactory) -> None:
    proxy.faults.append(lambda request: Fault(400, "AccessDeniedException", "not authorized")
                        if request.action == "DescribeScalableTargets" else None)
    provider = make_provider()
    provider.connect()
    cluster = provider.snapshot()
    assert [gap.part for gap in cluster.missing] == ["autoscalers"]
    assert "Application Auto Scaling" in cluster.forbidden
    web = cluster.service("shop/web")
    assert web is not None and web.autoscaler is None and web.desired == 2


def test_status_json(shop: None, write_config: Any, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "--config", write_config(), "status", "--json")
    assert code == 0, err
    services = {s["ref"]: s for s in json.loads(out)["clusters"][0]["services"]}
    web = services["shop/web"]["autoscaler"]
    assert {k: web[k] for k in ("kind", "min", "max", "current", "desired")} == {
        "kind": "Application Auto Scaling", "min": 2, "max": 10, "current": 0, "desired": 2}
    assert services["shop/api"]["autoscaler"] is None


def test_manual_scale_is_refused_unless_forced(shop: None, admin: Any, proxy: CountingProxy, write_config: Any,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config()
    proxy.reset()
    code, _, err = run(capsys, "--config", config, "scale", "aws/shop/web", "5", "--yes")
    assert code == 2
    assert err.count("\n") == 1 and f"Application Auto Scaling {RESOURCE} (min 2, max 10)" in err, err
    assert proxy.total(["UpdateService", "RegisterScalableTarget"]) == 0
    assert admin.describe_services(cluster="shop", services=["web"])["services"][0]["desiredCount"] == 2

    code, _, err = run(capsys, "--config", config, "scale", "aws/shop/web", "5", "--yes", "--force")
    assert code == 0, err
    assert proxy.total(["UpdateService"]) == 1
    assert admin.describe_services(cluster="shop", services=["web"])["services"][0]["desiredCount"] == 5


def test_autoscale_registers_new_bounds(shop: None, autoscaling: Any, proxy: CountingProxy, write_config: Any,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    proxy.reset()
    code, out, err = run(capsys, "--config", write_config(), "autoscale", "aws/shop/web", "--min", "3", "--max",
                         "12", "--yes")
    assert code == 0, err
    assert "min 2 -> 3, max 10 -> 12" in out
    assert proxy.total(["RegisterScalableTarget"]) == 1 and proxy.total(["UpdateService"]) == 0
    (target,) = autoscaling.describe_scalable_targets(ServiceNamespace="ecs")["ScalableTargets"]
    assert (target["MinCapacity"], target["MaxCapacity"]) == (3, 12)
    audit = [json.loads(line) for line in default_audit_path().read_text().splitlines()]
    assert [(a["action"], a["before"], a["after"], a["result"]) for a in audit[-2:]] == [
        ("autoscale_bounds", "min 2, max 10", "min 3, max 12", "pending"),
        ("autoscale_bounds", "min 2, max 10", "min 3, max 12", "ok")]


def test_autoscale_in_readonly_sends_nothing(shop: None, proxy: CountingProxy, write_config: Any,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    proxy.reset()
    code, _, err = run(capsys, "--config", write_config(readonly=True), "autoscale", "aws/shop/web", "--min", "3",
                       "--max", "12", "--yes")
    assert code == 2 and "read-only" in err
    assert proxy.total(["RegisterScalableTarget"]) == 0
