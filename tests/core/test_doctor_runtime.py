"""The doctor's runtime rules on the unified model: image-drift (replicas of one reference running different
images) and single-zone (every replica on one node or in one zone), per orchestrator, with the exact fix.
"""

from __future__ import annotations

import json
import shlex

import pytest

from pilothouse.providers.doctor import Finding, examine
from pilothouse.providers.model import (
    Cluster,
    ClusterKind,
    ContainerSpec,
    Node,
    NodeStatus,
    Rollout,
    RolloutState,
    RunningImage,
    Service,
    ServiceMode,
    Task,
    TaskState,
)

A = "sha256:" + "a" * 64
B = "sha256:" + "b" * 64
NAMES: dict[ClusterKind, dict[str, object]] = {
    ClusterKind.SWARM: dict(id="s1", name="shop_web", ref="shop_web", namespace="shop"),
    ClusterKind.KUBERNETES: dict(id="s1", name="web", ref="shop/web", namespace="shop", workload_kind="deployment",
                                 details={"selector": "app=web"}),
    ClusterKind.ECS: dict(id="s1", name="web", ref="prod/web", namespace="prod", version="web:7",
                          details={"launch type": "EC2"}),
}
TASK_IDS = {
    ClusterKind.SWARM: ["t0aaaaaaaaaaaaaaaaaaaaaaaa", "t1aaaaaaaaaaaaaaaaaaaaaaaa", "t2aaaaaaaaaaaaaaaaaaaaaaaa"],
    ClusterKind.KUBERNETES: ["shop/web-7c9-a", "shop/web-7c9-b", "shop/web-7c9-c"],
    ClusterKind.ECS: ["0a1b", "2c3d", "4e5f"],
}
NAMED = {
    ClusterKind.SWARM: ["shop_web.1", "shop_web.2", "shop_web.3"],
    ClusterKind.KUBERNETES: ["web-7c9-a", "web-7c9-b", "web-7c9-c"],
    ClusterKind.ECS: ["0a1b", "2c3d", "4e5f"],
}
KINDS = list(ClusterKind)


def nodes(*zones: str) -> tuple[Node, ...]:
    return tuple(Node(id=f"n{i}", name=f"node-{i}", status=NodeStatus.READY, zone=zone) for i, zone in enumerate(zones))


def tasks(kind: ClusterKind, placement: list[str], digests: list[str] | None = None,
          reference: str = "shop/app:1.2") -> tuple[Task, ...]:
    made = []
    for index, node_id in enumerate(placement):
        images: tuple[RunningImage, ...] = ()
        if digests is not None:
            images = (RunningImage(reference, digests[index], "app"),)
        made.append(Task(id=TASK_IDS[kind][index], service_id="s1", slot=index + 1, node_id=node_id,
                         node_name=node_id.replace("n", "node-"), state=TaskState.RUNNING, images=images))
    return tuple(made)


def examine_one(kind: ClusterKind, service_tasks: tuple[Task, ...], cluster_nodes: tuple[Node, ...], *,
                container: ContainerSpec | None = None, zone_key: str = "", **changes: object) -> list[Finding]:
    fields: dict[str, object] = {**NAMES[kind], "desired": len(service_tasks), "mode": ServiceMode.REPLICATED,
                                 "image": "shop/app:1.2", "tasks": service_tasks,
                                 "containers": (container or ContainerSpec("app", "shop/app:1.2"),), **changes}
    cluster = Cluster(name="c", kind=kind, nodes=cluster_nodes, services=(Service(**fields),),  # type: ignore[arg-type]
                      zone_key=zone_key)
    return [f for f in examine(cluster) if f.rule in ("image-drift", "single-zone")]


@pytest.mark.parametrize("kind", KINDS)
def test_drift_names_the_digests_and_which_replicas_run_them(kind: ClusterKind) -> None:
    (finding,) = examine_one(kind, tasks(kind, ["n0", "n1", "n2"], [A, B, A]), nodes("a", "b", "c"))
    assert finding.rule == "image-drift" and finding.severity == "medium" and finding.container == "app"
    word = {ClusterKind.KUBERNETES: "pod"}.get(kind, "task")
    one, two, three = NAMED[kind]
    assert finding.why.startswith(
        f"shop/app:1.2 runs as 2 different images: sha256:aaaaaaaaaaaa on 2 {word}s ({one}, {three}); "
        f"sha256:bbbbbbbbbbbb on 1 {word} ({two}).")
    pinned = f"shop/app:1.2@{A}"
    expected = {
        ClusterKind.KUBERNETES: f"kubectl -n shop set image deployment/web app={pinned}",
        ClusterKind.SWARM: f"docker service update --image {pinned} shop_web",
        ClusterKind.ECS: f"register a revision of task definition web with image {pinned} on container app "
                         "(aws ecs register-task-definition), then aws ecs update-service --cluster prod --service web "
                         "--task-definition web",
    }[kind]
    assert finding.fix == f"pin one digest (here the one 2 of 3 {word}s run), and every {word} runs it: {expected}"


@pytest.mark.parametrize("kind", KINDS)
def test_no_drift_when_replicas_agree_are_stopping_or_are_rolling_out(kind: ClusterKind) -> None:
    assert examine_one(kind, tasks(kind, ["n0", "n1"], [A, A]), nodes("a", "b")) == []
    stopping = tasks(kind, ["n0", "n1"], [A, B])
    stopping[1].desired_state = TaskState.STOPPED
    assert examine_one(kind, stopping, nodes("a", "b")) == []
    rolling = Rollout(state=RolloutState.UPDATING, updated=1, total=2)
    assert examine_one(kind, tasks(kind, ["n0", "n1"], [A, B]), nodes("a", "b"), rollout=rolling) == []
    # Two references (an old and a new tag) are two versions, not drift.
    different = (*tasks(kind, ["n0"], [A]), *tasks(kind, ["n1"], [B], reference="shop/app:1.3")[:1])
    assert examine_one(kind, different, nodes("a", "b")) == []


def test_drift_seen_through_image_ids_asks_for_the_digest_instead_of_inventing_one() -> None:
    kind = ClusterKind.SWARM
    (finding,) = examine_one(kind, tasks(kind, ["n0", "n1"], ["id:" + A, "id:" + B]), nodes("", ""))
    assert "sha256:aaaaaaaaaaaa on 1 task (shop_web.1); sha256:bbbbbbbbbbbb on 1 task (shop_web.2)" in finding.why
    assert finding.fix.endswith("docker service update --image shop/app:1.2@sha256:DIGEST shop_web")
    assert "imagetools inspect shop/app:1.2" in finding.fix


def test_a_swarm_tag_the_manager_did_not_resolve_is_the_weaker_finding() -> None:
    kind = ClusterKind.SWARM
    unpinned = ContainerSpec("shop_web", "shop/app:1.2", image_pinned=False)
    (finding,) = examine_one(kind, tasks(kind, ["n0", "n1"]), nodes("", ""), container=unpinned)
    assert finding.rule == "image-drift" and finding.severity == "low"
    assert finding.why.startswith("tag not pinned: the manager did not resolve shop/app:1.2 to a digest")
    assert finding.why.endswith("nodes may run different images")
    assert finding.fix.endswith("docker service update --image shop/app:1.2 shop_web")
    # On one node there is nothing to differ; pinned, nothing to say.
    assert examine_one(kind, tasks(kind, ["n0", "n0"]), nodes("", ""), container=unpinned) == [] or all(
        f.rule == "single-zone" for f in examine_one(kind, tasks(kind, ["n0", "n0"]), nodes("", ""),
                                                    container=unpinned))
    pinned = ContainerSpec("shop_web", "shop/app:1.2", image_pinned=True)
    assert examine_one(kind, tasks(kind, ["n0", "n1"]), nodes("", ""), container=pinned) == []
    # Once the node engines say what runs, their answer replaces the guess.
    same = tasks(kind, ["n0", "n1"], ["id:" + A, "id:" + A])
    assert examine_one(kind, same, nodes("", ""), container=unpinned) == []


@pytest.mark.parametrize("kind", KINDS)
def test_every_replica_on_one_node(kind: ClusterKind) -> None:
    (finding,) = examine_one(kind, tasks(kind, ["n0", "n0", "n0"]), nodes("a", "b"))
    node = {ClusterKind.ECS: "container instance"}.get(kind, "node")
    word = {ClusterKind.KUBERNETES: "pods"}.get(kind, "tasks")
    assert finding.rule == "single-zone" and finding.severity == "medium"
    assert finding.why == f"all 3 running {word} on {node} node-0: losing that {node} takes the service down"
    if kind is ClusterKind.KUBERNETES:
        command = finding.fix.split(": ", 1)[1]
        words = shlex.split(command)
        assert words[:5] == ["kubectl", "-n", "shop", "patch", "deployment/web"]
        assert json.loads(words[6]) == {"spec": {"template": {"spec": {"topologySpreadConstraints": [
            {"maxSkew": 1, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "ScheduleAnyway",
             "labelSelector": {"matchLabels": {"app": "web"}}}]}}}}
    elif kind is ClusterKind.SWARM:
        assert finding.fix.endswith("place the tasks again: docker service update --force shop_web")
    else:
        assert finding.fix.endswith("aws ecs update-service --cluster prod --service web --placement-strategy "
                                    "type=spread,field=instanceId --force-new-deployment")


@pytest.mark.parametrize("kind", KINDS)
def test_every_replica_in_one_zone(kind: ClusterKind) -> None:
    (finding,) = examine_one(kind, tasks(kind, ["n0", "n1"]), nodes("eu-1a", "eu-1a", "eu-1b"), zone_key="zone")
    assert finding.severity == "low"
    assert finding.why.endswith("running {} in zone eu-1a: losing that zone takes the service down".format(
        "pods" if kind is ClusterKind.KUBERNETES else "tasks"))
    if kind is ClusterKind.SWARM:
        assert finding.fix == "docker service update --placement-pref-add spread=node.labels.zone shop_web"
    elif kind is ClusterKind.ECS:
        assert finding.fix.endswith("--placement-strategy type=spread,field=attribute:ecs.availability-zone "
                                    "type=spread,field=instanceId --force-new-deployment")
    else:
        assert '"topologyKey":"zone"' in finding.fix
        default = examine_one(kind, tasks(kind, ["n0", "n1"]), nodes("eu-1a", "eu-1a", "eu-1b"))
        assert '"topologyKey":"topology.kubernetes.io/zone"' in default[0].fix


@pytest.mark.parametrize("kind", KINDS)
def test_spread_is_quiet_when_spread_pinned_single_or_the_cluster_has_no_elsewhere(kind: ClusterKind) -> None:
    assert examine_one(kind, tasks(kind, ["n0", "n1"]), nodes("a", "b")) == []
    assert examine_one(kind, tasks(kind, ["n0"]), nodes("a", "b")) == []
    assert examine_one(kind, tasks(kind, ["n0", "n0"]), nodes("a", "b"), pinned_to="node-0") == []
    # One node, or one zone, in the whole cluster: capacity to add, not a service to mend.
    assert examine_one(kind, tasks(kind, ["n0", "n0"]), nodes("a")) == []
    assert examine_one(kind, tasks(kind, ["n0", "n1"]), nodes("a", "a")) == []
    # Zones unknown for a node: not judged by zone.
    assert examine_one(kind, tasks(kind, ["n0", "n1"]), nodes("a", "", "b")) == []
    down = nodes("a", "b")
    down[1].status = NodeStatus.DOWN
    assert examine_one(kind, tasks(kind, ["n0", "n0"]), down) == [], "no other node to go to"


def test_fargate_tasks_in_one_zone_are_told_to_add_subnets() -> None:
    kind = ClusterKind.ECS
    zone = (Node(id="az:us-east-1a", name="us-east-1a", role="zone", status=NodeStatus.READY, zone="us-east-1a"),)
    (finding,) = examine_one(kind, tasks(kind, ["az:us-east-1a", "az:us-east-1a"]), zone,
                             details={"launch type": "FARGATE"}, networks=("subnet-1",))
    assert finding.why == "all 2 running tasks in zone us-east-1a: losing that zone takes the service down"
    assert "add subnets in other Availability Zones" in finding.fix
    assert finding.fix.endswith(
        "aws ecs update-service --cluster prod --service web --network-configuration "
        "'awsvpcConfiguration={subnets=[subnet-1,SUBNET-IN-ANOTHER-AZ],securityGroups=[SECURITY-GROUPS]}' "
        "--force-new-deployment")


def test_image_references_parse_as_each_orchestrator_reports_them() -> None:
    pullable = RunningImage.of("web:2.1", "docker-pullable://web@" + A, "web")
    assert pullable == RunningImage("web:2.1", A, "web") and pullable.pinnable
    assert pullable.short == "sha256:aaaaaaaaaaaa"
    assert RunningImage.of("web:2.1@" + B, "docker.io/library/web@" + A) == RunningImage("web:2.1", A)
    engine = RunningImage.of("web:2.1", "docker://" + B)
    assert engine is not None and engine.digest == "id:" + B and not engine.pinnable
    assert engine.short == "sha256:bbbbbbbbbbbb"
    assert RunningImage.of("web:2.1", A) == RunningImage("web:2.1", A)  # ECS imageDigest
    assert RunningImage.of("web:2.1", "") is None and RunningImage.of("", A) is None


def test_a_tie_does_not_pretend_one_digest_is_the_majority() -> None:
    kind = ClusterKind.KUBERNETES
    (finding,) = examine_one(kind, tasks(kind, ["n0", "n1"], [A, B]), nodes("a", "b"))
    assert finding.fix.startswith("pin one digest (here one of them: choose the one you mean), and every pod runs it: ")
