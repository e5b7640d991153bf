"""The doctor's runtime rules on the unified model: image-drift (replicas of one reference running different
images) and single-zone (every replica on one node or in one zone), per orchestrator, with the exact fix.
"""

from __future__ import annotations

import json
import shlex
import time
from pathlib import Path

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
from pilothouse.providers.swarm import engines as engines_module
from pilothouse.providers.swarm.engines import EngineImages

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


@pytest.mark.parametrize("kind", KINDS)
def test_references_group_normalised_and_findings_show_them_as_written(kind: ClusterKind) -> None:
    written = ["nginx", "docker.io/library/nginx", "index.docker.io/library/nginx:latest"]
    made = [tasks(kind, [f"n{i}"], [digest], reference=reference)[0]
            for i, (reference, digest) in enumerate(zip(written, [A, B, B], strict=True))]
    for index, task in enumerate(made):  # one task each, named as the orchestrator names them
        task.id, task.slot = TASK_IDS[kind][index], index + 1
    (finding,) = examine_one(kind, tuple(made), nodes("a", "b", "c"), container=ContainerSpec("app", "nginx"))
    assert finding.why.startswith("docker.io/library/nginx runs as 2 different images: sha256:bbbbbbbbbbbb on 2 ")
    # The same digest under three spellings is one image: nothing to find.
    same = [tasks(kind, [f"n{i}"], [A], reference=reference)[0] for i, reference in enumerate(written)]
    for index, task in enumerate(same):
        task.id = TASK_IDS[kind][index]
    assert examine_one(kind, tuple(same), nodes("a", "b", "c"), container=ContainerSpec("app", "nginx")) == []
    # A tag is part of the reference: nginx:1.25 beside nginx (:latest) is two versions, not drift.
    other = (*tasks(kind, ["n0"], [A], reference="nginx"), *tasks(kind, ["n1"], [B], reference="nginx:1.25")[:1])
    other[1].id = TASK_IDS[kind][1]
    assert examine_one(kind, other, nodes("a", "b")) == []


@pytest.mark.parametrize("kind", KINDS)
def test_a_registry_digest_and_an_engine_id_are_not_compared(kind: ClusterKind) -> None:
    # One node pulled the tag (a repository digest), another holds it as a local image (only an engine id):
    # these are different words for what may be one image, not two images.
    mixed = tasks(kind, ["n0", "n1", "n2"], [A, "id:" + B, A])
    assert examine_one(kind, mixed, nodes("a", "b", "c")) == []
    # Like with like still finds drift: two digests, whatever the engine ids say.
    drifting = tasks(kind, ["n0", "n1", "n2"], [A, "id:" + A, B])
    (finding,) = examine_one(kind, drifting, nodes("a", "b", "c"))
    assert "sha256:aaaaaaaaaaaa on 1" in finding.why and "sha256:bbbbbbbbbbbb on 1" in finding.why
    assert " 2 different images" in finding.why
    ids = tasks(kind, ["n0", "n1", "n2"], ["id:" + A, "id:" + B, A])
    (finding,) = examine_one(kind, ids, nodes("a", "b", "c"))
    assert " 2 different images" in finding.why and "on 1 " in finding.why
    if kind is ClusterKind.SWARM:
        assert finding.fix.endswith("@sha256:DIGEST shop_web"), "an engine id cannot be pulled by"


def test_a_swarm_tag_seen_in_words_that_cannot_be_compared_is_the_weaker_finding_saying_so() -> None:
    kind = ClusterKind.SWARM
    unpinned = ContainerSpec("shop_web", "shop/app:1.2", image_pinned=False)
    (finding,) = examine_one(kind, tasks(kind, ["n0", "n1"], [A, "id:" + B]), nodes("", ""), container=unpinned)
    assert (finding.rule, finding.severity) == ("image-drift", "low")
    assert finding.why.endswith("nodes may run different images; only a local image id on node-1, a registry "
                                "digest elsewhere: not comparable")


def test_node_engines_not_read_are_named_with_why_in_the_weaker_finding() -> None:
    kind = ClusterKind.SWARM
    unpinned = ContainerSpec("shop_web", "shop/app:1.2", image_pinned=False)
    made = tasks(kind, ["n0", "n1", "n2"], [A, A, A])
    made[1].images = ()
    made[1].unread = "nothing answers at unix:///e/node-1.sock (connection refused or no such socket)"
    made[2].images, made[2].unread = (), "the doctor's look ran out of time"
    (finding,) = examine_one(kind, made, nodes("", "", ""), container=unpinned)
    assert (finding.rule, finding.severity) == ("image-drift", "low")
    assert finding.why.endswith(
        "nodes may run different images; node engines not read: node-1 (nothing answers at unix:///e/node-1.sock "
        "(connection refused or no such socket)), node-2 (the doctor's look ran out of time)")
    assert "\n" not in finding.why
    # Every engine answered and agreed: nothing; one task not asked at all (no reason): the weaker finding, bare.
    assert examine_one(kind, tasks(kind, ["n0", "n1"], [A, A]), nodes("", ""), container=unpinned) == []
    quiet = tasks(kind, ["n0", "n1"], [A, A])
    quiet[1].images = ()
    (bare,) = examine_one(kind, quiet, nodes("", ""), container=unpinned)
    assert bare.why.endswith("nodes may run different images")


def test_an_engine_the_look_cannot_reach_is_named_by_the_finding(tmp_path: Path) -> None:
    """The Swarm look itself (engines.py), against a socket path that does not exist: no engine, no stub."""
    raw_tasks = [{"ID": task_id, "NodeID": node, "DesiredState": "running",
                  "Spec": {"ContainerSpec": {"Image": "shop/app:1.2"}},
                  "Status": {"State": "running", "ContainerStatus": {"ContainerID": "c" * 64}}}
                 for task_id, node in (("t0", "n0"), ("t1", "n1"))]
    raw_nodes = [{"ID": "n0", "Description": {"Hostname": "node-0"}, "Status": {"Addr": "10.0.0.1"}},
                 {"ID": "n1", "Description": {}, "Status": {"Addr": "10.0.0.2"}}]
    engines = EngineImages()
    engines.look(f"unix://{tmp_path}/missing/{{node}}.sock", raw_tasks, raw_nodes, time.monotonic() + 5)
    assert engines.known() == {}
    assert engines.unread() == {
        "t0": f"nothing answers at unix://{tmp_path}/missing/node-0.sock (connection refused or no such socket)",
        "t1": "node_engine needs the node's hostname or address; it has none"}
    made = [Task(id=f"t{i}", service_id="s1", slot=i + 1, node_id=f"n{i}", node_name=f"node-{i}",
                 state=TaskState.RUNNING) for i in range(2)]
    engines.apply(made)
    unpinned = ContainerSpec("shop_web", "shop/app:1.2", image_pinned=False)
    (finding,) = examine_one(ClusterKind.SWARM, tuple(made), nodes("", ""), container=unpinned)
    assert finding.why.endswith(f"node engines not read: node-0 (nothing answers at unix://{tmp_path}/missing/"
                                "node-0.sock (connection refused or no such socket)), node-1 (node_engine needs "
                                "the node's hostname or address; it has none)")
    # Out of time, an engine is not asked at all, and the finding says so; forgotten with its task.
    late = EngineImages()
    late.look(f"unix://{tmp_path}/missing/{{node}}.sock", raw_tasks[:1], raw_nodes, time.monotonic())
    assert late.unread() == {"t0": "the doctor's look ran out of time"}
    late.forget_except([])
    assert late.unread() == {}
    # Beyond the look's bound, a task is not asked, and says why.
    bound = EngineImages()
    many = [{**raw_tasks[0], "ID": f"t{index}"} for index in range(engines_module.MAX_CONTAINERS + 1)]
    bound.look(f"unix://{tmp_path}/missing/{{node}}.sock", many, raw_nodes, time.monotonic())
    assert bound.unread()[f"t{engines_module.MAX_CONTAINERS}"] == (
        f"not asked: a look reads at most {engines_module.MAX_CONTAINERS} containers")
    assert bound.unread()["t0"] == "the doctor's look ran out of time"
