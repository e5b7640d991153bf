"""ECS networks on moto: a service's awsvpc subnets and security groups, and its load balancer's target
group with registered targets and their health as moto reports it (healthy: moto has no API to make one
unhealthy), read with one DescribeTargetHealth per target group, on the task tier only.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from ecs_transport import CountingProxy
from ecs_world import REGION, ProviderFactory, register

from pilothouse.console.cli import main

pytestmark = pytest.mark.ecs


def world(admin: Any, ec2: Any, moto: str) -> dict[str, str]:
    elbv2 = boto3.client("elbv2", endpoint_url=moto, region_name=REGION)
    vpc = ec2.create_vpc(CidrBlock="10.42.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.42.{index}.0/24",
                                 AvailabilityZone=f"{REGION}{zone}")["Subnet"]["SubnetId"]
               for index, zone in ((1, "a"), (2, "b"))]
    group = ec2.create_security_group(GroupName="web-sg", Description="web", VpcId=vpc)["GroupId"]
    balancer = elbv2.create_load_balancer(Name="shop-lb", Subnets=subnets, SecurityGroups=[group])
    target_group = elbv2.create_target_group(Name="web-tg", Protocol="HTTP", Port=8080, VpcId=vpc,
                                             TargetType="ip")["TargetGroups"][0]["TargetGroupArn"]
    elbv2.create_listener(LoadBalancerArn=balancer["LoadBalancers"][0]["LoadBalancerArn"], Protocol="HTTP",
                          Port=80, DefaultActions=[{"Type": "forward", "TargetGroupArn": target_group}])
    elbv2.register_targets(TargetGroupArn=target_group,
                           Targets=[{"Id": "10.42.1.10", "Port": 8080}, {"Id": "10.42.2.11", "Port": 8080}])
    admin.create_cluster(clusterName="shop")
    definition = register(admin, "web", "registry.local/web:1", extra={})
    admin.create_service(
        cluster="shop", serviceName="web", taskDefinition=definition, desiredCount=2, launchType="FARGATE",
        loadBalancers=[{"targetGroupArn": target_group, "containerName": "app", "containerPort": 8080}],
        networkConfiguration={"awsvpcConfiguration": {"subnets": subnets, "securityGroups": [group],
                                                      "assignPublicIp": "DISABLED"}})
    admin.create_service(cluster="shop", serviceName="worker", taskDefinition=definition, desiredCount=1)
    return {"target_group": target_group, "subnets": ",".join(subnets), "group": group}


def test_awsvpc_and_target_health_in_networks_json(
    admin: Any, ec2: Any, moto: str, proxy: CountingProxy, write_config: Any, capsys: pytest.CaptureFixture[str],
) -> None:
    made = world(admin, ec2, moto)
    proxy.reset()

    code = main(["--config", write_config(), "networks", "--json"])

    out, err = capsys.readouterr()
    assert code == 0, err
    [cluster] = json.loads(out)["clusters"]
    by_name = {network["name"]: network for network in cluster["networks"]}
    vpc = by_name["shop/web awsvpc"]
    assert (vpc["kind"], vpc["scope"], vpc["services"]) == ("awsvpc", "shop", ["shop/web"])
    assert vpc["subnets"] == made["subnets"].split(",")
    assert f"security groups {made['group']}" in vpc["notes"] and "public IP disabled" in vpc["notes"]
    assert vpc["endpoints"] is None
    target_group = by_name["web-tg"]
    assert (target_group["kind"], target_group["services"]) == ("target group", ["shop/web"])
    assert target_group["endpoints"] == {"ready": 2, "total": 2}  # moto reports registered targets healthy
    assert target_group["ports"] == ["app:8080"]
    assert "shop/worker awsvpc" not in by_name  # no awsvpc configuration, no entry
    assert proxy.snapshot_counts().get("DescribeTargetHealth") == 1


def test_target_health_is_read_on_the_task_tier_only(
    admin: Any, ec2: Any, moto: str, proxy: CountingProxy, make_provider: ProviderFactory,
) -> None:
    world(admin, ec2, moto)
    provider = make_provider()
    provider.connect()
    proxy.reset()
    first = provider.snapshot()
    assert proxy.snapshot_counts().get("DescribeTargetHealth") == 1
    web = first.service("shop/web")
    assert web is not None
    assert [(r.via, r.ready, r.total, r.word) for r in web.reachability] == [("target group web-tg", 2, 2,
                                                                              "targets")]
    proxy.reset()
    second = provider.snapshot()  # services only: the targets kept from the last task refresh
    assert "DescribeTargetHealth" not in proxy.snapshot_counts()
    assert [n.ready for n in second.networks if n.kind == "target group"] == [2]
    proxy.reset()
    provider.snapshot()
    assert proxy.snapshot_counts().get("DescribeTargetHealth") == 1
