"""Attention rules (providers/attention.py), one by one, on hand-built snapshots: each orchestrator's words."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from pilothouse.providers.attention import (
    CRASH_LOOP_RESTARTS,
    RECENT_S,
    SHORT_CRITICAL_S,
    SHORT_GRACE_S,
    AttentionAssessor,
    Level,
    assess_once,
)
from pilothouse.providers.model import (
    Availability,
    Cluster,
    ClusterKind,
    ConnectionState,
    Health,
    Node,
    NodeStatus,
    Rollout,
    RolloutState,
    Service,
    Task,
    TaskState,
)

NOW = datetime(2026, 12, 2, 5, 0, tzinfo=UTC)


def task(index: int, *, node: str = "n1", state: TaskState = TaskState.RUNNING, health: Health = Health.HEALTHY,
         desired: TaskState = TaskState.RUNNING, **extra: object) -> Task:
    return Task(id=f"t{index}", service_id="s1", node_id=node, node_name=node, state=state, desired_state=desired,
                health=health, **extra)  # type: ignore[arg-type]


def service(tasks: list[Task], *, desired: int | None = None, running: int | None = None,
            rollout: Rollout | None = None, ref: str = "shop/api") -> Service:
    meant = [t for t in tasks if t.desired_state is TaskState.RUNNING]
    return Service(id="s1", name="api", ref=ref, desired=len(meant) if desired is None else desired,
                   running=sum(1 for t in meant if t.state is TaskState.RUNNING) if running is None else running,
                   tasks=tuple(tasks), rollout=rollout or Rollout())


def cluster(svc: Service, kind: ClusterKind = ClusterKind.KUBERNETES, nodes: tuple[Node, ...] | None = None,
            forbidden: tuple[str, ...] = ()) -> Cluster:
    if nodes is None:
        nodes = (Node(id="n1", name="n1", status=NodeStatus.READY), Node(id="n2", name="n2", status=NodeStatus.READY))
    return Cluster(name="c", kind=kind, state=ConnectionState.CONNECTED, nodes=nodes, services=(svc,),
                   forbidden=forbidden)


def one(c: Cluster, now: datetime = NOW, **kwargs: object) -> tuple[Level, list[str]]:
    attention = assess_once(c, now, **kwargs)["s1"]  # type: ignore[arg-type]
    return attention.level, attention.texts()


def test_a_healthy_service_needs_nothing() -> None:
    assert one(cluster(service([task(1), task(2)]))) == (Level.NONE, [])


@pytest.mark.parametrize(("state", "message", "level", "words"), [
    (RolloutState.FAILED, 'deployment "api" exceeded its progress deadline', Level.CRITICAL, "rollout failed"),
    (RolloutState.PAUSED, "update paused due to failure or early termination of task x", Level.CRITICAL,
     "rollout paused"),
    (RolloutState.PAUSED, 'deployment "api" is paused', Level.WARNING, "rollout paused"),
    (RolloutState.ROLLING_BACK, "rollback started", Level.WARNING, "rolling back"),
    (RolloutState.ROLLED_BACK, "rolled back", Level.NONE, ""),
])
def test_rollout_states(state: RolloutState, message: str, level: Level, words: str) -> None:
    svc = service([task(1), task(2)], rollout=Rollout(state=state, updated=1, total=2, message=message))
    got, texts = one(cluster(svc))
    assert got is level
    if words:
        assert texts[0].startswith(words) and message in texts[0]
    else:
        assert texts == []


def test_crash_loop_back_off_is_critical_in_kubernetes_words() -> None:
    looping = task(1, health=Health.UNHEALTHY, raw_state="CrashLoopBackOff", restarts=7,
                   error="api: back-off 5m0s restarting failed container (last exit 1, Error)")
    level, texts = one(cluster(service([looping, task(2)], running=1)))
    assert level is Level.CRITICAL
    assert texts[0].startswith("1 pod in CrashLoopBackOff (t1, 7 restarts): api: back-off")
    # The unhealthy pod is said once, as crash-looping; the shortfall says pods ready.
    assert not any("unhealthy" in text for text in texts)
    assert any(text.startswith("1/2 pods ready") for text in texts)
    attention = assess_once(cluster(service([looping, task(2)], running=1)), NOW)["s1"]
    assert attention.headline == "crash-looping 1/2"


def test_restarts_rising_between_snapshots() -> None:
    assessor = AttentionAssessor()
    first = cluster(service([task(1, restarts=2), task(2)]))
    assert assessor.assess(first, NOW)["s1"].level is Level.NONE  # old restarts: no news
    once_more = cluster(service([task(1, restarts=3), task(2)]))
    second = assessor.assess(once_more, NOW + timedelta(seconds=10))["s1"]
    assert second.level is Level.WARNING and second.texts() == ["restarting: 1 restart in the last 5m"]
    many = cluster(service([task(1, restarts=3 + CRASH_LOOP_RESTARTS), task(2)]))
    third = assessor.assess(many, NOW + timedelta(seconds=20))["s1"]
    assert third.level is Level.CRITICAL and third.reasons[0].rule == "crash-looping"
    # The rises age out of the window.
    later = assessor.assess(many, NOW + timedelta(seconds=RECENT_S + 30))["s1"]
    assert later.level is Level.NONE


def test_a_restart_time_in_the_window_counts_on_a_one_shot_look() -> None:
    recent = task(1, restarts=1, restarted=NOW - timedelta(seconds=30))
    assert one(cluster(service([recent, task(2)])))[0] is Level.WARNING
    old = task(1, restarts=1, restarted=NOW - timedelta(seconds=RECENT_S + 1))
    assert one(cluster(service([old, task(2)])))[0] is Level.NONE


def test_swarm_failures_in_the_window_are_a_crash_loop_in_task_words() -> None:
    failed = [task(10 + i, state=TaskState.FAILED, desired=TaskState.STOPPED,
                   health=Health.UNKNOWN, error="task: non-zero exit (137): dockerexec: unhealthy container",
                   stopped=NOW - timedelta(seconds=20 * i)) for i in range(3)]
    level, texts = one(cluster(service([task(1), task(2), *failed]), ClusterKind.SWARM))
    assert level is Level.CRITICAL
    assert texts[0].startswith("crash-looping: 3 tasks failed in the last 5m, latest: task: non-zero exit (137)")
    # Two failures: the latest error is a warning, with the count.
    level, texts = one(cluster(service([task(1), task(2), *failed[:2]]), ClusterKind.SWARM))
    assert level is Level.WARNING
    assert texts == ["task t10 stopped 0s ago (2 in the last 5m), error: task: non-zero exit (137): dockerexec: "
                     "unhealthy container"]


def test_ecs_stopped_reason_in_the_window() -> None:
    stopped = task(9, state=TaskState.FAILED, desired=TaskState.STOPPED,
                   error="Essential container in task exited", stopped=NOW - timedelta(seconds=120))
    level, texts = one(cluster(service([task(1), stopped]), ClusterKind.ECS))
    assert level is Level.WARNING
    assert texts == ["task t9 stopped 2m ago, stoppedReason: Essential container in task exited"]
    # Older than the window, or with no stop time (unknown is not recent): nothing.
    old = dataclasses.replace(stopped, stopped=NOW - timedelta(seconds=RECENT_S + 1))
    assert one(cluster(service([task(1), old]), ClusterKind.ECS))[0] is Level.NONE
    timeless = dataclasses.replace(stopped, stopped=None)
    assert one(cluster(service([task(1), timeless]), ClusterKind.ECS))[0] is Level.NONE


def test_image_pull_back_off_cannot_start() -> None:
    pulling = task(1, state=TaskState.STARTING, health=Health.UNHEALTHY, raw_state="ImagePullBackOff",
                   error='api: Back-off pulling image "shop/api:9"')
    level, texts = one(cluster(service([pulling, task(2)], running=1)))
    assert level is Level.CRITICAL
    assert texts[0] == '1 pod cannot start (ImagePullBackOff): api: Back-off pulling image "shop/api:9"'


def test_unhealthy_is_a_warning_until_no_task_is_healthy() -> None:
    bad = task(1, health=Health.UNHEALTHY, error="health check failed 3 times")
    level, texts = one(cluster(service([bad, task(2)]), ClusterKind.SWARM))
    assert (level, texts) == (Level.WARNING, ["1 task unhealthy, 1 healthy (t1: health check failed 3 times)"])
    worse = task(2, health=Health.UNHEALTHY)
    assert one(cluster(service([bad, worse]), ClusterKind.SWARM))[0] is Level.CRITICAL


def test_running_below_desired_and_for_how_long() -> None:
    short = service([task(1)], desired=3, running=1)
    level, texts = one(cluster(short, ClusterKind.SWARM))
    # A one-shot look cannot tell since when: no duration.
    assert (level, texts) == (Level.WARNING, ["1/3 tasks running"])
    assessor = AttentionAssessor()
    assessor.assess(cluster(short, ClusterKind.SWARM), NOW)
    later = assessor.assess(cluster(short, ClusterKind.SWARM), NOW + timedelta(seconds=90))["s1"]
    assert later.level is Level.WARNING
    assert later.texts() == ["1/3 tasks running for 1m (since 05:00:00)"]
    long = assessor.assess(cluster(short, ClusterKind.SWARM), NOW + timedelta(seconds=SHORT_CRITICAL_S))["s1"]
    assert long.level is Level.CRITICAL
    # Back to full strength forgets; the next shortfall starts its own clock.
    assessor.assess(cluster(service([task(1), task(2), task(3)]), ClusterKind.SWARM), NOW + timedelta(seconds=400))
    again = assessor.assess(cluster(short, ClusterKind.SWARM), NOW + timedelta(seconds=410))["s1"]
    assert again.texts() == ["1/3 tasks running"]


def test_nothing_running_is_critical() -> None:
    level, texts = one(cluster(service([], desired=2, running=0), ClusterKind.ECS))
    assert (level, texts) == (Level.CRITICAL, ["0/2 tasks running"])


def test_an_old_rollout_has_no_grace_on_a_first_look() -> None:
    stuck = service([task(1)], desired=2, running=1, rollout=Rollout(
        state=RolloutState.UPDATING, total=2, started=NOW - timedelta(seconds=SHORT_GRACE_S + 1)))
    assert one(cluster(stuck)) == (Level.WARNING, ["1/2 pods ready"])
    young = dataclasses.replace(stuck, rollout=dataclasses.replace(stuck.rollout, started=NOW))
    assert one(cluster(young)) == (Level.NONE, [])


def test_a_rollout_shortfall_has_its_grace() -> None:
    rolling = service([task(1)], desired=2, running=1, rollout=Rollout(state=RolloutState.UPDATING, total=2))
    assessor = AttentionAssessor()
    assert assessor.assess(cluster(rolling), NOW)["s1"].level is Level.NONE  # a first look too
    assert assessor.assess(cluster(rolling), NOW + timedelta(seconds=10))["s1"].level is Level.NONE
    late = assessor.assess(cluster(rolling), NOW + timedelta(seconds=SHORT_GRACE_S + 1))["s1"]
    assert late.level is Level.WARNING and late.texts()[0].startswith("1/2 pods ready for 1m")


def test_pending_and_unschedulable_with_the_schedulers_reason() -> None:
    unschedulable = task(2, node="", state=TaskState.PENDING, health=Health.STARTING,
                         error="0/3 nodes are available: 3 Insufficient cpu.")
    plain = task(3, node="", state=TaskState.PENDING, health=Health.STARTING)
    level, texts = one(cluster(service([task(1), unschedulable, plain], desired=3, running=1)))
    assert level is Level.WARNING
    assert "1 pod unschedulable: 0/3 nodes are available: 3 Insufficient cpu." in texts
    assert "1 pod pending" in texts
    swarm = dataclasses.replace(unschedulable, error="no suitable node (insufficient resources on 3 nodes)")
    _, texts = one(cluster(service([task(1), swarm], desired=2, running=1), ClusterKind.SWARM))
    assert "1 task unschedulable: no suitable node (insufficient resources on 3 nodes)" in texts


@pytest.mark.parametrize(("kind", "node", "words"), [
    (ClusterKind.KUBERNETES, Node(id="n2", name="ip-10-0-0-2", status=NodeStatus.DOWN),
     "1 pod on node ip-10-0-0-2, which is NotReady"),
    (ClusterKind.SWARM, Node(id="n2", name="worker-2", status=NodeStatus.DOWN),
     "1 task on node worker-2, which is Down"),
    (ClusterKind.ECS, Node(id="n2", name="i-0abc", status=NodeStatus.DOWN, message="ECS agent disconnected"),
     "1 task on container instance i-0abc, which is down (ECS agent disconnected)"),
    (ClusterKind.ECS, Node(id="n2", name="i-0abc", status=NodeStatus.READY, availability=Availability.DRAIN),
     "1 task on DRAINING container instance i-0abc"),
])
def test_tasks_on_a_node_that_is_down_or_draining(kind: ClusterKind, node: Node, words: str) -> None:
    nodes = (Node(id="n1", name="n1", status=NodeStatus.READY), node)
    level, texts = one(cluster(service([task(1), task(2, node="n2")]), kind, nodes))
    assert level is Level.WARNING and texts == [words]
    # Every task on a down node: critical.
    if node.status is NodeStatus.DOWN:
        assert one(cluster(service([task(2, node="n2")]), kind, nodes))[0] is Level.CRITICAL


def test_doctor_high_findings_are_at_most_a_warning() -> None:
    level, texts = one(cluster(service([task(1), task(2)])),
                       high_findings={"shop/api": ["image-unversioned", "hardcoded-credential"]})
    assert (level, texts) == (Level.WARNING, ["doctor: 2 high-severity findings (image-unversioned, "
                                              "hardcoded-credential)"])


def test_unknown_tasks_are_unknown_not_critical() -> None:
    looping = task(1, health=Health.UNHEALTHY, raw_state="CrashLoopBackOff", restarts=7)
    # Pods forbidden: no pod-based reason, only what the Deployment itself says.
    assert one(cluster(service([looping, task(2)]), forbidden=("pods",))) == (Level.NONE, [])
    assert one(cluster(service([looping, task(2)]), forbidden=("pods in shop",))) == (Level.NONE, [])
    failed = service([looping], desired=2, running=2, rollout=Rollout(state=RolloutState.FAILED, message="x"))
    level, texts = one(cluster(failed, forbidden=("pods",)))
    assert level is Level.CRITICAL and texts == ["rollout failed: x"]


def test_reasons_come_worst_first_and_are_deterministic() -> None:
    svc = service([task(1, health=Health.UNHEALTHY), task(2)], desired=3, running=2,
                  rollout=Rollout(state=RolloutState.FAILED, message="deadline"))
    c = cluster(svc, ClusterKind.SWARM)
    first = assess_once(c, NOW, {"shop/api": ["image-unversioned"]})["s1"]
    assert [reason.level for reason in first.reasons] == sorted((r.level for r in first.reasons),
                                                                 key=lambda level: level.rank)
    assert first.reasons[0].rule == "rollout"
    assert first == assess_once(c, NOW, {"shop/api": ["image-unversioned"]})["s1"]


def test_vanished_services_are_forgotten() -> None:
    assessor = AttentionAssessor()
    short = service([task(1)], desired=2, running=1)
    assessor.assess(cluster(short), NOW)
    gone = Cluster(name="c", kind=ClusterKind.KUBERNETES, services=())
    assert assessor.assess(gone, NOW + timedelta(seconds=5)) == {}
    back = assessor.assess(cluster(short), NOW + timedelta(seconds=400))["s1"]
    assert back.texts() == ["1/2 pods ready"]  # a new clock, not 400 s of shortfall


def test_reachability_endpoints_and_unhealthy_targets() -> None:
    """Rule 9: none ready is critical, some not ready a warning (not during a rollout), with ELB's reasons."""
    from pilothouse.providers.model import Reachability

    def with_fronts(*fronts: Reachability, rollout: Rollout | None = None) -> Cluster:
        svc = service([task(1), task(2)], rollout=rollout)
        svc.reachability = fronts
        return cluster(svc)

    assert one(with_fronts(Reachability("Service shop/api", 0, 2))) == (
        Level.CRITICAL, ["0 of 2 endpoints ready (Service shop/api)"])
    assert one(with_fronts(Reachability("Service shop/api", 1, 2))) == (
        Level.WARNING, ["1 of 2 endpoints ready (Service shop/api)"])
    targets = Reachability("target group api-tg", 1, 3, "targets", ("Target.ResponseCodeMismatch",))
    assert one(with_fronts(targets)) == (
        Level.WARNING, ["2 targets unhealthy: Target.ResponseCodeMismatch (target group api-tg)"])
    assert one(with_fronts(Reachability("target group api-tg", 0, 2, "targets", ("Target.Timeout",)))) == (
        Level.CRITICAL, ["0 of 2 targets ready (target group api-tg): Target.Timeout"])
    # A rollout replaces endpoints on purpose; a front with nothing behind it says nothing here.
    updating = Rollout(state=RolloutState.UPDATING, updated=1, total=2, started=NOW)
    assert one(with_fronts(Reachability("Service shop/api", 1, 2), rollout=updating))[1] == []
    assert one(with_fronts(Reachability("Service shop/api", 0, 0))) == (Level.NONE, [])
