"""The doctor's image-drift and single-zone rules on moto: tasks of one revision reporting different
imageDigests, tasks all on container instances of one Availability Zone, and a spread service that must not
fire; through DescribeTasks/DescribeContainerInstances over HTTP and `pilothouse doctor --json`.

moto reports no imageDigest (ECS's agent does, once it has pulled): as ecs_world does for what moto does not
simulate, the digest is written on moto's own container model, then read back over HTTP like any field.
"""

from __future__ import annotations

import json
import os
import subprocess
from typing import Any

import pytest
from ecs_world import add_instances, deployment, moto_service, moto_task, register

from pilothouse.console.cli import main

pytestmark = pytest.mark.ecs

A = "sha256:" + "a" * 64
B = "sha256:" + "b" * 64
IMAGE = "registry.example.com/web:1.4.2"


def service_on(admin: Any, name: str, definition: str, instances: list[str], digests: list[str]) -> list[str]:
    admin.create_service(cluster="zone", serviceName=name, taskDefinition=definition, desiredCount=len(instances))
    tasks = admin.start_task(cluster="zone", taskDefinition=definition, containerInstances=instances,
                             group=f"service:{name}")["tasks"]
    arns = [str(task["taskArn"]) for task in tasks]
    for arn, digest in zip(arns, digests, strict=True):
        moto_task(arn).containers[0].imageDigest = digest
    # A deployment that has completed: nothing is rolling out, so placement and images are what they will stay.
    service = moto_service("zone", name)
    service.running_count, service.pending_count = len(instances), 0
    service.deployments = [deployment(definition, "PRIMARY", desired=len(instances), running=len(instances),
                                      rollout="COMPLETED", age_s=600)]
    return arns


@pytest.fixture
def planted(admin: Any, ec2: Any) -> dict[str, list[str]]:
    admin.create_cluster(clusterName="zone")
    one_a, two_a, one_b = add_instances(admin, ec2, "zone", 3, zones=("us-east-1a", "us-east-1a", "us-east-1b"))
    definition = register(admin, "web", IMAGE, extra={"memory": 64})
    return {
        # web: over both zones, one task on another image of the same tag.
        "web": service_on(admin, "web", definition, [one_a, one_b, two_a], [A, B, A]),
        # api: the same image, both tasks on container instances of us-east-1a.
        "api": service_on(admin, "api", definition, [one_a, two_a], [A, A]),
        # spread: the same image, one task per zone: neither rule.
        "spread": service_on(admin, "spread", definition, [one_a, one_b], [A, A]),
    }


def doctor(config: str, capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    assert main(["--config", config, "doctor", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    return [f for f in report["findings"] if f["rule"] in ("image-drift", "single-zone")]


def test_doctor_finds_the_drift_and_the_zone(planted: dict[str, list[str]], write_config: Any,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    findings = doctor(write_config(), capsys)
    assert [(f["service"], f["rule"], f["severity"]) for f in findings] == [
        ("zone/api", "single-zone", "low"), ("zone/web", "image-drift", "medium")]
    zone, drift = findings
    ids = [arn.rsplit("/", 1)[-1] for arn in planted["web"]]
    first, second = sorted([ids[0], ids[2]]), ids[1]
    assert drift["why"].startswith(
        f"{IMAGE} runs as 2 different images: sha256:aaaaaaaaaaaa on 2 tasks ({first[0]}, {first[1]}); "
        f"sha256:bbbbbbbbbbbb on 1 task ({second}). ECS resolves a tag to a digest when a deployment starts")
    assert drift["fix"].endswith(
        f"register a revision of task definition web with image registry.example.com/web:1.4.2@{A} on container "
        "app (aws ecs register-task-definition), then aws ecs update-service --cluster zone --service web "
        "--task-definition web")
    assert zone["why"] == "all 2 running tasks in zone us-east-1a: losing that zone takes the service down"


def test_the_spread_fix_runs_as_written(planted: dict[str, list[str]], moto: str, write_config: Any,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    (zone,) = [f for f in doctor(write_config(), capsys) if f["rule"] == "single-zone"]
    command = zone["fix"][zone["fix"].index("aws ecs update-service"):]
    pasted = subprocess.run(["sh", "-c", command], env={**os.environ, "AWS_ENDPOINT_URL": moto},
                            capture_output=True, text=True, timeout=120, check=False)
    assert pasted.returncode == 0, f"{command}: {pasted.stderr}"
    assert moto_service("zone", "api").placement_strategy == [
        {"type": "spread", "field": "attribute:ecs.availability-zone"}, {"type": "spread", "field": "instanceId"}]



def test_fargate_tasks_in_one_zone_are_told_to_add_subnets(
        admin: Any, ec2: Any, write_config: Any, capsys: pytest.CaptureFixture[str]) -> None:
    """Fargate tasks are placed on their availabilityZone (written on moto's task, which has none)."""
    admin.create_cluster(clusterName="zone")
    # The default VPC's subnet (moto cannot give a task an ENI in a subnet made here: private_dns_name).
    subnet = ec2.describe_subnets(Filters=[{"Name": "availability-zone", "Values": ["us-east-1a"]}])["Subnets"][0]
    fargate = admin.register_task_definition(
        family="edge", requiresCompatibilities=["FARGATE"], networkMode="awsvpc", cpu="256", memory="512",
        containerDefinitions=[{"name": "edge", "image": "edge:3", "memory": 64}])["taskDefinition"]["taskDefinitionArn"]
    network = {"awsvpcConfiguration": {"subnets": [subnet["SubnetId"]], "securityGroups": []}}
    admin.create_service(cluster="zone", serviceName="edge", taskDefinition=fargate, desiredCount=2,
                         launchType="FARGATE", networkConfiguration=network)
    arns = [t["taskArn"] for t in admin.run_task(
        cluster="zone", taskDefinition=fargate, count=2, launchType="FARGATE", group="service:edge",
        networkConfiguration=network)["tasks"]]
    for arn in arns:
        moto_task(arn).availability_zone = "us-east-1a"
    service = moto_service("zone", "edge")
    service.running_count, service.pending_count = 2, 0
    service.deployments = [deployment(fargate, "PRIMARY", desired=2, running=2, rollout="COMPLETED", age_s=600)]
    (finding,) = [f for f in doctor(write_config(), capsys) if f["rule"] == "single-zone"]
    assert finding["why"] == "all 2 running tasks in zone us-east-1a: losing that zone takes the service down"
    assert finding["fix"].startswith("Fargate places tasks in the subnets given, one zone each: add subnets in "
                                     "other Availability Zones")
    assert (f"--network-configuration 'awsvpcConfiguration={{subnets=[{subnet['SubnetId']},SUBNET-IN-ANOTHER-AZ],"
            "securityGroups=[SECURITY-GROUPS]}' --force-new-deployment") in finding["fix"]
