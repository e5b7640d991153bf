from __future__ import annotations

import pytest

from pilothouse.providers.base import Action
from pilothouse.providers.demo import DemoProvider, demo_cluster_configs
from pilothouse.providers.errors import InvalidInput, NotSupported
from pilothouse.providers.model import Cluster, ClusterKind, Health, NodeStatus, RolloutState, ServiceMode, TaskState


def snapshot_at(seconds: float, tasks: int | None = None) -> list[Cluster]:
    return [DemoProvider(config).snapshot() for config in demo_cluster_configs(tasks, frozen_at=seconds)]


def test_three_clusters_one_of_each_kind_with_nodes_and_services() -> None:
    clusters = snapshot_at(5)
    assert [cluster.kind for cluster in clusters] == [ClusterKind.SWARM, ClusterKind.KUBERNETES, ClusterKind.ECS]
    for cluster in clusters:
        assert cluster.demo
        assert len(cluster.nodes) >= 3
        assert len(cluster.services) >= 8
        used_nodes = {task.node_id for service in cluster.services for task in service.tasks}
        assert len(used_nodes) >= 3, "tasks are spread over the nodes"


def test_rolling_update_progresses_over_thirty_seconds() -> None:
    def api_rollout(seconds: float) -> tuple[RolloutState, int, int]:
        api = snapshot_at(seconds)[0].services[0]
        return api.rollout.state, api.rollout.updated, api.rollout.total

    early, late, done = api_rollout(3), api_rollout(25), api_rollout(31)
    assert early[0] is RolloutState.UPDATING and late[0] is RolloutState.UPDATING
    assert early[1] < late[1] < late[2]
    assert done[0] is RolloutState.STABLE and done[1] == done[2]


def test_one_service_has_failing_health() -> None:
    payments = next(s for s in snapshot_at(5)[0].services if s.name.endswith("payments"))
    assert payments.health.unhealthy == 1
    assert any("unhealthy container" in task.error for task in payments.tasks)


def test_node_goes_down_and_its_tasks_move() -> None:
    before = snapshot_at(5)[0]
    during = snapshot_at(20)[0]
    down = [node for node in during.nodes if node.status is NodeStatus.DOWN]
    assert len(down) == 1 and all(node.status is NodeStatus.READY for node in before.nodes)
    down_id = down[0].id
    assert any(task.node_id == down_id for s in before.services for task in s.tasks)
    live_on_down = [task for s in during.services for task in s.tasks
                    if task.node_id == down_id and task.desired_state is TaskState.RUNNING]
    assert live_on_down == []
    assert any(task.error == "node is down: task rescheduled" for s in during.services for task in s.tasks)
    for service in during.services:
        if service.mode is ServiceMode.REPLICATED:
            assert service.running == service.desired


def test_rescheduled_tasks_start_before_they_run() -> None:
    starting = [t for s in snapshot_at(11)[0].services for t in s.tasks if t.state is TaskState.STARTING]
    assert starting and all(t.health in (Health.STARTING, Health.NONE) for t in starting)


def test_demo_tasks_sets_the_fleet_size() -> None:
    clusters = snapshot_at(40, tasks=10_000)
    desired = sum(service.desired for cluster in clusters for service in cluster.services
                  if service.mode is ServiceMode.REPLICATED)
    assert 9_500 <= desired <= 10_500


def test_demo_tasks_out_of_range_is_refused() -> None:
    with pytest.raises(InvalidInput):
        demo_cluster_configs(50_001)


def test_scale_and_rollback_change_the_simulation() -> None:
    provider = DemoProvider(demo_cluster_configs(frozen_at=5)[0])
    web = provider.snapshot().services[1]
    provider.apply(provider.plan_scale(web, web.desired + 2))
    assert provider.snapshot().services[1].desired == web.desired + 2

    api = provider.snapshot().services[0]
    plan = provider.plan_rollback(api)
    assert plan.before.endswith(":1.5.0") and plan.after.endswith(":1.4.2")
    provider.apply(plan)
    rolled = provider.snapshot().services[0]
    assert rolled.rollout.state is RolloutState.ROLLED_BACK
    assert rolled.image.endswith(":1.4.2")


def test_global_service_cannot_scale_and_service_without_history_cannot_roll_back() -> None:
    provider = DemoProvider(demo_cluster_configs(frozen_at=5)[0])
    services = provider.snapshot().services
    exporter = next(s for s in services if s.mode is ServiceMode.GLOBAL)
    assert provider.refusal(Action.SCALE, exporter)
    with pytest.raises(NotSupported):
        provider.plan_scale(exporter, 3)
    cache = next(s for s in services if s.name.endswith("cache"))
    with pytest.raises(NotSupported, match="nothing to roll back to"):
        provider.plan_rollback(cache)


def _at(provider: DemoProvider, seconds: float) -> None:
    """Move the frozen scenario clock (the demo reads it on every snapshot)."""
    provider.frozen_at = seconds


def test_after_a_rollback_every_task_is_new_and_runs_the_version_rolled_back_to() -> None:
    provider = DemoProvider(demo_cluster_configs(frozen_at=5)[0])
    api = provider.snapshot().services[0]
    _at(provider, 20)
    provider.apply(provider.plan_rollback(provider.snapshot().services[0]))
    _at(provider, 25)
    snapshot = provider.snapshot()
    rolled = snapshot.services[0]
    assert rolled.id == api.id and rolled.image.endswith(":1.4.2")
    live = [task for task in rolled.tasks if task.desired_state is TaskState.RUNNING]
    assert live and {task.version for task in live} == {"1.4.2"}
    # replaced at the rollback (t=20), five seconds before this look (t=25)
    assert snapshot.last_sync is not None
    assert all(task.started is not None and (snapshot.last_sync - task.started).total_seconds() == 5 for task in live)


def test_scaled_up_tasks_are_young_and_the_others_keep_their_age() -> None:
    provider = DemoProvider(demo_cluster_configs(frozen_at=70)[0])
    web = provider.snapshot().services[1]
    old = {task.slot: task.started for task in web.tasks}
    provider.apply(provider.plan_scale(web, web.desired + 2))
    _at(provider, 75)
    snapshot = provider.snapshot()
    scaled = snapshot.services[1]
    for task in scaled.tasks:
        assert task.started is not None
        if task.slot in old:
            assert task.started == old[task.slot]
        else:
            assert snapshot.last_sync is not None and (snapshot.last_sync - task.started).total_seconds() == 5
            assert task.version == web.image.rsplit(":", 1)[-1]


def test_node_loss_replacements_stay_where_they_went_and_keep_the_time_they_started() -> None:
    provider = DemoProvider(demo_cluster_configs(frozen_at=12)[0])
    lost_node = provider.nodes[2]
    down = provider.snapshot()
    # (the api's rollout replaces its tasks again later: the others)
    replaced = {task.id: task for service in down.services[1:] for task in service.tasks if task.id.endswith("-r")}
    assert replaced and all(task.node_id != lost_node.id for task in replaced.values())
    _at(provider, 90)  # the node is back
    back = provider.snapshot()
    tasks = {task.id: task for service in back.services for task in service.tasks}
    for task_id, task in replaced.items():
        assert tasks[task_id].node_id == task.node_id and tasks[task_id].started == task.started
    assert not any(task.id.endswith("-lost") for task in tasks.values())


def test_log_lines_of_a_task_never_predate_its_start() -> None:
    provider = DemoProvider(demo_cluster_configs(frozen_at=70)[0])
    web = provider.snapshot().services[1]
    provider.apply(provider.plan_scale(web, web.desired + 3))
    _at(provider, 80)
    scaled = provider.snapshot().services[1]
    started = {task.id: task.started for task in scaled.tasks}
    lines = list(provider.logs(scaled, tail=200))
    assert lines
    for line in lines:
        task_id = line.source.split("@", 1)[0]
        at = started[task_id]
        assert at is not None and line.time is not None and line.time >= at, line
    # the tasks scaled up at t=70 speak in the last ten seconds, and only there
    young = {task.id for task in scaled.tasks if (task.slot or 0) > web.desired}
    assert young and any(line.source.split("@", 1)[0] in young for line in lines[-10:])
