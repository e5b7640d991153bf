"""The Swarm provider against the real three-node test swarm (tests/swarm/swarm.sh)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from http_count_proxy import CountingProxy
from swarm_helpers import Services, SwarmInfo, docker, make_provider, swarm_script, wait_until

from pilothouse.providers.base import Action, ClusterConfig
from pilothouse.providers.errors import Conflict, NotSupported, Unreachable
from pilothouse.providers.model import Cluster, Health, NodeStatus, RolloutState, Service, ServiceMode, TaskState
from pilothouse.providers.refresh import ClusterRefresher
from pilothouse.providers.swarm import SwarmProvider
from pilothouse.providers.swarm.errors import NOT_A_MANAGER, NotSwarmManager

pytestmark = pytest.mark.swarm


def service_in(provider: SwarmProvider, name: str) -> Service | None:
    return provider.snapshot().service(name)


def running_tasks(service: Service) -> list[str]:
    """Node names of the tasks that are meant to run and do."""
    return sorted(
        task.node_name for task in service.tasks
        if task.desired_state is TaskState.RUNNING and task.state is TaskState.RUNNING
    )


def converged(provider: SwarmProvider, name: str, replicas: int) -> Service | None:
    service = service_in(provider, name)
    if service and service.running == service.desired == replicas and len(running_tasks(service)) == replicas:
        return service
    return None


def test_scale_converges_in_the_model(provider: SwarmProvider, services: Services) -> None:
    name = services.create("--replicas", "1")
    service = wait_until(lambda: converged(provider, name, 1), 30, what="1/1 running")
    plan = provider.plan_scale(service, 3)
    assert (plan.before, plan.after) == ("1", "3")
    assert provider.apply(plan) == f"scaled {name} from 1 to 3"
    scaled = wait_until(lambda: converged(provider, name, 3), 30, what="3/3 running")
    assert scaled.mode is ServiceMode.REPLICATED
    assert int(scaled.version) > int(service.version)


def test_scale_with_a_stale_version_is_a_conflict(provider: SwarmProvider, services: Services) -> None:
    name = services.create("--replicas", "1")
    service = wait_until(lambda: service_in(provider, name), 10, what="the service")
    plan = provider.plan_scale(service, 4)
    services.cli("service", "update", "--detach", "--replicas", "2", name)
    with pytest.raises(Conflict, match="refresh"):
        provider.apply(plan)
    # Never a silent overwrite: the other operator's 2 stands.
    wait_until(lambda: converged(provider, name, 2), 30, what="2/2 running")


def test_rolling_update_to_a_healthy_image_shows_progress_then_completed(
    provider: SwarmProvider, services: Services
) -> None:
    name = services.create("--replicas", "3", "--health-interval", "1s", "--update-parallelism", "1")
    wait_until(lambda: converged(provider, name, 3), 30, what="3/3 running")
    services.cli("service", "update", "--detach", "--no-resolve-image", "--image", "pilothouse-test/app:healthy",
                 name)
    seen_progress: set[int] = set()
    seen_starting = False

    def completed() -> Service | None:
        nonlocal seen_starting
        service = service_in(provider, name)
        assert service is not None
        if service.rollout.state is RolloutState.UPDATING:
            seen_progress.add(service.rollout.updated)
            assert service.rollout.total == 3
        seen_starting = seen_starting or any(task.health is Health.STARTING for task in service.tasks)
        done = service.rollout.state is RolloutState.STABLE and service.rollout.updated == 3
        return service if done and service.health.healthy == 3 else None

    service = wait_until(completed, 60, interval=0.05, what="the update to complete")
    assert seen_progress and min(seen_progress) < 3, f"no partial progress seen: {seen_progress}"
    assert seen_starting, "no task was seen waiting for its first health check"
    rollout = service.rollout
    assert (rollout.from_version, rollout.to_version) == ("pilothouse-test/app:1", "pilothouse-test/app:healthy")
    assert rollout.started is not None and rollout.finished is not None and rollout.finished >= rollout.started
    assert rollout.message == "update completed"
    assert service.image == "pilothouse-test/app:healthy"
    assert service.containers[0].healthcheck is True


@pytest.mark.parametrize(
    ("failure_action", "final_state", "final_image"),
    [
        ("pause", RolloutState.PAUSED, "pilothouse-test/app:unhealthy"),
        ("rollback", RolloutState.ROLLED_BACK, "pilothouse-test/app:1"),
    ],
)
def test_update_to_a_failing_healthcheck_shows_the_reason(
    provider: SwarmProvider, services: Services, failure_action: str, final_state: RolloutState,
    final_image: str,
) -> None:
    name = services.create("--replicas", "2", "--update-failure-action", failure_action)
    wait_until(lambda: converged(provider, name, 2), 30, what="2/2 running")
    services.cli("service", "update", "--detach", "--no-resolve-image", "--image",
                 "pilothouse-test/app:unhealthy", name)

    def settled() -> Service | None:
        service = service_in(provider, name)
        assert service is not None
        return service if service.rollout.state is final_state else None

    service = wait_until(settled, 60, what=f"the update to end {final_state}")
    failed = [task for task in service.tasks if task.state is TaskState.FAILED]
    assert failed, "the failed task and its reason must be shown"
    assert all(task.health is Health.UNHEALTHY for task in failed)
    assert "dockerexec: unhealthy container" in failed[0].error
    assert failed[0].version == "pilothouse-test/app:unhealthy"
    assert service.image == final_image
    if final_state is RolloutState.PAUSED:
        assert "paused" in service.rollout.message and "failure" in service.rollout.message
    else:
        assert service.rollout.message.startswith("rollback")
        wait_until(lambda: converged(provider, name, 2), 30, what="rolled back tasks running")


def test_rollback_restores_the_previous_image(provider: SwarmProvider, services: Services) -> None:
    name = services.create("--replicas", "2")
    services.cli("service", "update", "--detach", "--no-resolve-image", "--image", "pilothouse-test/app:2",
                 name)

    def updated() -> Service | None:
        service = converged(provider, name, 2)
        return service if service and service.rollout.state is RolloutState.STABLE and \
            service.rollout.updated == 2 and service.image.endswith(":2") else None

    service = wait_until(updated, 60, what="the update to app:2")
    plan = provider.plan_rollback(service)
    assert plan.before == f"pilothouse-test/app:2 (v{service.version})"
    assert plan.after == "pilothouse-test/app:1"
    assert "previous spec: image" in plan.detail  # what changed, named field by field
    assert provider.apply(plan) == f"rolling back {name} to pilothouse-test/app:1"

    def rolled_back() -> Service | None:
        current = converged(provider, name, 2)
        if not current or current.rollout.state is not RolloutState.ROLLED_BACK:
            return None
        versions = {task.version for task in current.tasks if task.desired_state is TaskState.RUNNING}
        return current if versions == {"pilothouse-test/app:1"} else None

    done = wait_until(rolled_back, 60, what="the rollback to app:1")
    assert done.image == "pilothouse-test/app:1"
    assert done.rollout.to_version == "pilothouse-test/app:1"


def test_rollback_with_no_previous_spec_is_refused(provider: SwarmProvider, services: Services) -> None:
    name = services.create("--replicas", "1")
    service = wait_until(lambda: service_in(provider, name), 10, what="the service")
    # Known from the snapshot (no PreviousSpec): the console does not even offer the key.
    assert "nothing to roll back to" in (provider.refusal(Action.ROLLBACK, service) or "")
    with pytest.raises(NotSupported, match="nothing to roll back to"):
        provider.plan_rollback(service)


def test_scaling_a_global_service_is_refused(provider: SwarmProvider, services: Services) -> None:
    name = services.create("--mode", "global")
    service = wait_until(lambda: converged(provider, name, 3), 30, what="one task on each of 3 nodes")
    assert service.mode is ServiceMode.GLOBAL
    reason = provider.refusal(Action.SCALE, service)
    assert reason and "cannot be scaled" in reason
    with pytest.raises(NotSupported, match="cannot be scaled"):
        provider.plan_scale(service, 5)


def test_stopped_worker_shows_down_and_its_tasks_move(
    provider: SwarmProvider, services: Services, swarm: SwarmInfo
) -> None:
    worker = sorted(swarm.workers)[0]
    name = services.create("--replicas", "3", "--replicas-max-per-node", "2")
    wait_until(
        lambda: (service := converged(provider, name, 3)) and worker in running_tasks(service), 30,
        what=f"a task on {worker}",
    )
    swarm_script("stop-worker", swarm.worker_numbers[worker])
    try:
        def node_down() -> Cluster | None:
            cluster = provider.snapshot()
            node = next(node for node in cluster.nodes if node.name == worker)
            return cluster if node.status is NodeStatus.DOWN else None

        wait_until(node_down, 60, interval=0.2, what=f"{worker} Down")

        def rescheduled() -> Service | None:
            service = service_in(provider, name)
            placed = running_tasks(service) if service else []
            return service if len(placed) == 3 and worker not in placed else None

        service = wait_until(rescheduled, 60, interval=0.2, what="the tasks rescheduled off the lost node")
        # The lost task is still "running" to the manager (its node cannot say otherwise): shown as unknown.
        lost = [task for task in service.tasks if task.node_name == worker]
        assert lost and all(task.state is TaskState.UNKNOWN for task in lost)
        assert f"node {worker} is down" in lost[0].error
    finally:
        swarm_script("start-worker", swarm.worker_numbers[worker])
    wait_until(
        lambda: all(node.status is NodeStatus.READY for node in provider.snapshot().nodes), 60,
        what="every node Ready again",
    )


def test_service_created_outside_appears_through_events(swarm: SwarmInfo, services: Services) -> None:
    watched = make_provider(swarm.manager, "watched")
    seen: list[tuple[float, Cluster]] = []
    arrived = threading.Condition()

    def on_snapshot(cluster: Cluster) -> None:
        with arrived:
            seen.append((time.monotonic(), cluster))
            arrived.notify_all()

    # A refresh interval far beyond the test: only the /events watch can explain a quick refresh.
    refresher = ClusterRefresher(watched, on_snapshot, interval=600)
    thread = threading.Thread(target=refresher.run, daemon=True)
    thread.start()
    try:
        wait_until(lambda: seen, 20, what="the first snapshot")
        name = services.adopt(f"{services.prefix}-{int(time.time() * 1000) % 100000}")
        docker(swarm.manager, "service", "create", "--detach", "--no-resolve-image", "--name", name,
               "pilothouse-test/app:1")
        created_at = time.monotonic()
        arrival = wait_until(
            lambda: next((when for when, cluster in seen if cluster.service(name)), None), 5,
            interval=0.02, what=f"{name} in a snapshot",
        )
        assert arrival - created_at < 1.0, f"took {arrival - created_at:.2f}s"
        latest = seen[-1][1]
        assert any(event.service_ref == name and event.kind == "create" for event in latest.events)
    finally:
        refresher.stop()
        thread.join(timeout=10)
    assert not thread.is_alive()


def test_watch_reconnects_after_the_stream_breaks(
    swarm: SwarmInfo, services: Services, tmp_path: Path
) -> None:
    socket_path = str(tmp_path / "events.sock")
    proxy = CountingProxy(upstream=swarm.manager_socket, listen=socket_path).start()
    watched = make_provider(proxy.url, "watched")
    changes = threading.Event()
    try:
        watched.connect()
        assert watched.start_watch(changes.set)
        proxy.close()  # drops the events stream mid-flight
        # Created while the watch is down: the reopened stream must replay it.
        name = services.create("--replicas", "1")
        proxy = CountingProxy(upstream=swarm.manager_socket, listen=socket_path).start()
        changes.clear()
        wait_until(lambda: changes.is_set() and any(event.service_ref == name for event in watched.snapshot().events),
                   10, interval=0.05, what="the watch to come back and replay the event it missed")
        assert any(request.startswith("GET") and "/events" in request for request in proxy.taken())
    finally:
        watched.close()
        proxy.close()


def test_snapshot_is_exactly_three_requests_plus_networks_on_a_slower_tier(
        swarm: SwarmInfo, services: Services, tmp_path: Path) -> None:
    network = f"{services.prefix}-net"
    docker(swarm.manager, "network", "create", "--driver", "overlay", network)
    try:
        for _ in range(3):
            services.create("--replicas", "2", "--network", network, "--publish", "80")
        with CountingProxy(upstream=swarm.manager_socket, listen=str(tmp_path / "docker.sock")) as proxy:
            counted = make_provider(proxy.url)
            counted.connect()
            def paths() -> list[str]:
                return sorted(request.split("?")[0].rsplit("/", 1)[-1] for request in proxy.taken())

            try:
                proxy.taken()
                # The first refresh warms the caches (images inspected once) and reads the networks list.
                counted.snapshot()
                assert "networks" in paths()
                for _ in range(3):
                    cluster = counted.snapshot()
                    assert paths() == ["nodes", "services", "tasks"]
                more = services.create("--replicas", "2", "--network", network)
                proxy.taken()
                cluster = counted.snapshot()
                assert len(proxy.taken()) == 3
                counted.networks_refresh_s = 0.0  # the slower tier comes due: one more call, and only then
                counted.snapshot()
                assert paths() == ["networks", "nodes", "services", "tasks"]
            finally:
                counted.close()
        service = cluster.service(more)
        assert service is not None and service.networks == (network,)
    finally:
        services.remove_all()
        services.created.clear()
        wait_until(lambda: docker(swarm.manager, "network", "rm", network, check=False) is not None
                   and network not in docker(swarm.manager, "network", "ls", "--format", "{{.Name}}"),
                   30, what="the network removed")


View = dict[str, tuple[str, list[str]]]  # service -> ("running/desired", nodes of its running tasks)


def docker_cli_view(services: Services, names: list[str]) -> View:
    listed = services.cli("service", "ls", "--format", "{{.Name}} {{.Replicas}}")
    replicas = dict(line.split(" ", 1) for line in listed.splitlines() if line.split(" ")[0] in names)
    view: View = {}
    for name in names:
        tasks = services.cli("service", "ps", name, "--filter", "desired-state=running",
                             "--format", "{{.Node}} {{.CurrentState}}")
        nodes = sorted(line.split(" ")[0] for line in tasks.splitlines() if " Running " in f"{line} ")
        view[name] = (replicas[name], nodes)
    return view


def test_status_json_agrees_with_docker_service_ls_and_ps(
    provider: SwarmProvider, services: Services, swarm: SwarmInfo, tmp_path: Path
) -> None:
    names = [services.create("--replicas", "3"), services.create("--replicas", "1")]
    wait_until(lambda: all(converged(provider, name, want) for name, want in zip(names, (3, 1), strict=True)),
               30, what="both services converged")
    config = tmp_path / "config.toml"
    config.write_text(f'[[clusters]]\nname = "test"\nprovider = "swarm"\ndocker_host = "{swarm.manager}"\n')

    def status_view() -> View:
        result = subprocess.run(
            [sys.executable, "-c", "from console.cli import main; raise SystemExit(main())",
             "status", "--json", "--config", str(config)],
            capture_output=True, text=True, timeout=60, check=True,
        )
        cluster = json.loads(result.stdout)["clusters"][0]
        assert cluster["state"] == "connected", cluster["error"]
        view: View = {}
        for service in cluster["services"]:
            if service["name"] in names:
                nodes = sorted(task["node"] for task in service["tasks"]
                               if task["state"] == "running" and task["desired_state"] == "running")
                view[service["name"]] = (f"{service['running']}/{service['desired']}", nodes)
        return view

    wait_until(lambda: docker_cli_view(services, names) == status_view(), 30, interval=0.3,
               what="pilothouse status --json to agree with the docker CLI")


def test_model_agrees_with_docker_service_ls_and_ps(provider: SwarmProvider, services: Services) -> None:
    names = [services.create("--replicas", "3"), services.create("--replicas", "2")]
    wait_until(lambda: all(converged(provider, name, want) for name, want in zip(names, (3, 2), strict=True)),
               30, what="both services converged")

    def model_view() -> View:
        cluster = provider.snapshot()
        view: View = {}
        for name in names:
            service = cluster.service(name)
            assert service is not None
            view[name] = (f"{service.running}/{service.desired}", running_tasks(service))
        return view

    # Both views are read at slightly different moments; they must agree once nothing moves.
    wait_until(lambda: docker_cli_view(services, names) == model_view(), 20, interval=0.3,
               what="the model to agree with the CLI")
    assert docker_cli_view(services, names)[names[0]][0] == "3/3"


def test_a_worker_engine_is_not_a_manager(swarm: SwarmInfo) -> None:
    worker = make_provider(next(iter(swarm.workers.values())))
    with pytest.raises(NotSwarmManager, match=NOT_A_MANAGER) as raised:
        worker.connect()
    assert "worker" in str(raised.value)


def test_connection_refused_names_the_endpoint(tmp_path: Path) -> None:
    url = f"unix://{tmp_path / 'nobody.sock'}"
    with pytest.raises(Unreachable) as raised:
        make_provider(url).connect()
    assert url in str(raised.value) and "dockerd" in str(raised.value)


def test_connection_order_option_then_env_then_context(
    swarm: SwarmInfo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dead = f"unix://{tmp_path / 'dead.sock'}"
    # The config option beats DOCKER_HOST.
    monkeypatch.setenv("DOCKER_HOST", dead)
    chosen = make_provider(swarm.manager)
    chosen.connect()
    assert chosen.snapshot().endpoint == swarm.manager
    chosen.close()
    # Without the option, DOCKER_HOST decides (here: a dead socket, named in the error).
    env_only = SwarmProvider(ClusterConfig(name="env", provider="swarm"))
    with pytest.raises(Unreachable, match=r"dead\.sock"):
        env_only.connect()
    # Without either, the current docker context.
    monkeypatch.delenv("DOCKER_HOST")
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker-config"))
    for args in (["create", "ph-test", "--docker", f"host={swarm.manager}"], ["use", "ph-test"]):
        subprocess.run(["docker", "context", *args], check=True, capture_output=True, timeout=30)
    from_context = SwarmProvider(ClusterConfig(name="ctx", provider="swarm"))
    from_context.connect()
    cluster = from_context.snapshot()
    from_context.close()
    assert cluster.endpoint == swarm.manager and len(cluster.nodes) == 3
