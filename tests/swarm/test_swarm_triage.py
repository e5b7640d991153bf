"""Incident triage on the real swarm (issue 9): service logs, the events timeline, following a rollout."""

from __future__ import annotations

import json
import threading
import time
import uuid
from pathlib import Path

import pytest
from swarm_helpers import Services, SwarmInfo, run_cli, wait_until, write_config

from pilothouse.providers.base import Capability, LogLine
from pilothouse.providers.model import Service
from pilothouse.providers.swarm import SwarmProvider
from pilothouse.providers.swarm.events import MAX_EVENTS, EventBuffer

pytestmark = pytest.mark.swarm

# Numbered lines, `tick N` on stdout and `oops N` on stderr, every 0.2 s: a follow proves it streams by
# receiving a number that did not exist yet when it began.
TICKER = "i=0; while true; do echo tick $i; echo oops $i >&2; i=$((i+1)); sleep 0.2; done"


def ticker(services: Services) -> str:
    return services.create("--replicas", "2", command=("sh", "-c", TICKER))


def numbered(lines: list[LogLine], word: str) -> list[int]:
    return [int(line.text.split()[1]) for line in lines if line.text.startswith(f"{word} ")]


def ready_service(provider: SwarmProvider, name: str, running: int) -> Service | None:
    service = provider.snapshot().service(name)
    return service if service and service.running == running else None


@pytest.fixture
def ticking(provider: SwarmProvider, services: Services) -> Service:
    name = ticker(services)
    service = wait_until(lambda: ready_service(provider, name, 2), 30, what="2 ticker tasks running")

    def printed_enough() -> bool:
        return len(numbered(list(provider.logs(service, tail=100)), "tick")) >= 6

    wait_until(printed_enough, 20, interval=0.2, what="a few ticks logged")
    return service


def test_logs_tail_prefixes_task_and_node_in_time_order(provider: SwarmProvider, ticking: Service) -> None:
    assert Capability.LOGS in provider.CAPABILITIES
    lines = list(provider.logs(ticking, tail=6))
    assert len(lines) == 6
    times = [line.time for line in lines]
    assert None not in times and times == sorted(times)  # type: ignore[type-var]
    # stdout and stderr both arrive, demultiplexed: no frame header bytes leak into the text.
    assert {line.text.split()[0] for line in lines} <= {"tick", "oops"}
    tasks = {task.id: task for task in ticking.tasks}
    for line in lines:
        slot_and_id, _, node = line.source.partition("@")
        slot, _, short_id = slot_and_id.partition("/")
        task = next(task for task in tasks.values() if task.id.startswith(short_id))
        assert (int(slot), node) == (task.slot, task.node_name)


def test_logs_of_one_task_only(provider: SwarmProvider, ticking: Service) -> None:
    task = ticking.tasks[0]
    lines = list(provider.logs(ticking, task_id=task.id[:6], tail=10))
    assert lines and all(line.source.startswith(f"{task.slot}/{task.id[:12]}@") for line in lines)
    assert {line.source for line in provider.logs(ticking, tail=40)} == {
        f"{t.slot}/{t.id[:12]}@{t.node_name}" for t in ticking.tasks
    }


def test_follow_picks_up_new_lines_and_stop_ends_it(provider: SwarmProvider, ticking: Service) -> None:
    before = max(numbered(list(provider.logs(ticking, tail=20)), "tick"))
    stop = threading.Event()
    received: list[LogLine] = []

    def follow() -> None:
        for line in provider.logs(ticking, tail=0, follow=True, stop=stop):
            received.append(line)

    thread = threading.Thread(target=follow, daemon=True)
    thread.start()
    # A tick numbered past what existed before following began can only have come through the stream.
    wait_until(lambda: any(n > before + 2 for n in numbered(list(received), "tick")), 20, interval=0.05,
               what="a tick printed after the follow started")
    stopped_at = time.monotonic()
    stop.set()
    thread.join(timeout=5)
    assert not thread.is_alive(), "follow did not end after stop"
    assert time.monotonic() - stopped_at < 1.5


def test_follow_of_a_quiet_service_stops_promptly(provider: SwarmProvider, services: Services) -> None:
    name = services.create("--replicas", "1")
    service = wait_until(lambda: ready_service(provider, name, 1), 30, what="1 task running")
    stop = threading.Event()
    thread = threading.Thread(target=lambda: list(provider.logs(service, follow=True, stop=stop)), daemon=True)
    thread.start()
    wait_until(lambda: thread.is_alive(), 5, what="the follow to start")
    stop.set()
    thread.join(timeout=3)
    assert not thread.is_alive(), "a follow with nothing to read must end when stopped"


def test_logs_of_a_tty_service_are_raw_not_multiplexed(provider: SwarmProvider, services: Services) -> None:
    name = services.create("--replicas", "1", "--tty",
                           command=("sh", "-c", "echo first line; echo second line; sleep 86400"))
    service = wait_until(lambda: ready_service(provider, name, 1), 30, what="the tty task running")

    def both_lines() -> list[LogLine] | None:
        lines = list(provider.logs(service, tail=10))
        return lines if [line.text for line in lines] == ["first line", "second line"] else None

    lines = wait_until(both_lines, 20, interval=0.2, what="the tty service's two lines")
    task = service.tasks[0]
    assert all(line.source == f"{task.slot}/{task.id[:12]}@{task.node_name}" for line in lines)


def test_unknown_task_is_one_clear_error(provider: SwarmProvider, ticking: Service) -> None:
    from pilothouse.providers.errors import NotFound

    with pytest.raises(NotFound, match="no task 'zzzz'"):
        list(provider.logs(ticking, task_id="zzzz"))


def test_cli_logs_tail(ticking: Service, swarm: SwarmInfo, tmp_path: Path,
                       capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path / "config.toml", swarm.manager)
    result = run_cli(capsys, "--config", str(config), "logs", f"swarm/{ticking.name}", "--tail", "5")
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert len(lines) == 5
    for line in lines:
        # "HH:MM:SS SLOT/TASKID@NODE | tick N"
        prefix, _, text = line.partition(" | ")
        assert text.split()[0] in ("tick", "oops"), line
        assert "@ph-" in prefix, line


# -- events ----------------------------------------------------------------------------------------------


def test_events_are_buffered_and_bounded() -> None:
    # No engine needed: the buffer takes raw engine events, each key once, and keeps the newest MAX_EVENTS.
    buffer = EventBuffer("test")
    for number in range(MAX_EVENTS + 500):
        raw = {"Type": "service", "Action": "update", "timeNano": number + 1,
               "Actor": {"ID": "abc", "Attributes": {"name": f"web-{number}"}}}
        assert buffer.take(raw)
        assert not buffer.take(raw)
    events = buffer.events()
    assert len(events) == MAX_EVENTS
    assert events[-1].service_ref == f"web-{MAX_EVENTS + 499}"


def events_json(capsys: pytest.CaptureFixture[str], config: Path, *args: str) -> list[dict[str, str]]:
    result = run_cli(capsys, "--config", str(config), "events", "--json", *args)
    assert result.code == 0, result.err
    events: list[dict[str, str]] = json.loads(result.out)["events"]
    return events


def test_watch_and_cli_show_create_update_remove(
    provider: SwarmProvider, services: Services, swarm: SwarmInfo, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert provider.start_watch(lambda: None)
    name = services.create("--replicas", "1")
    services.cli("service", "update", "--detach", "--no-resolve-image", "--image", "pilothouse-test/app:2", name)

    def update_completed() -> bool:
        return any("updatestate updating -> completed" in event.message
                   for event in provider.snapshot().events if event.service_ref == name)

    wait_until(update_completed, 60, interval=0.2, what="the update to complete")
    services.cli("service", "rm", name)
    services.created.remove(name)

    def seen_by_the_watch() -> list[tuple[str, str]] | None:
        events = [(event.kind, event.message) for event in provider.snapshot().events if event.service_ref == name]
        return events if any(kind == "remove" for kind, _ in events) else None

    watched = wait_until(seen_by_the_watch, 10, interval=0.1, what="the remove event")
    kinds = [kind for kind, _ in watched]
    assert kinds[0] == "create" and kinds[-1] == "remove" and "update" in kinds
    messages = " | ".join(message for _, message in watched)
    assert "image pilothouse-test/app:1 -> pilothouse-test/app:2" in messages
    assert "updatestate -> updating" in messages
    # A one-shot CLI has a fresh provider that saw none of it live: the engine's recent history fills in.
    config = write_config(tmp_path / "config.toml", swarm.manager)
    events = events_json(capsys, config, "--service", f"swarm/{name}")
    assert [event["kind"] for event in events] == kinds
    assert all(event["object"] == f"service {name}" and event["cluster"] == "swarm" for event in events)
    assert any("updatestate updating -> completed" in event["message"] for event in events)
    assert events == sorted(events, key=lambda event: event["time"])


def test_node_changes_reach_the_timeline(
    swarm: SwarmInfo, services: Services, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    worker = sorted(swarm.workers)[0]
    # Pause (not drain): no task moves, so the rest of the session is undisturbed.
    services.cli("node", "update", "--availability", "pause", worker)
    try:
        config = write_config(tmp_path / "config.toml", swarm.manager)

        def paused() -> list[dict[str, str]]:
            return [event for event in events_json(capsys, config, "--cluster", "swarm")
                    if event["object"] == f"node {worker}" and "availability active -> pause" in event["message"]]

        (event, *_) = wait_until(paused, 10, interval=0.2, what=f"{worker} paused in the timeline")
    finally:
        services.cli("node", "update", "--availability", "active", worker)
    assert event["kind"] == "update" and event["service"] == "" and event["cluster"] == "swarm"


# -- rollout follow --------------------------------------------------------------------------------------


def test_rollout_watch_follows_a_healthy_update_to_completion(
    provider: SwarmProvider, services: Services, swarm: SwarmInfo, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    name = services.create("--replicas", "3", "--health-interval", "1s", "--update-delay", "1s")
    wait_until(lambda: ready_service(provider, name, 3), 30, what="3 tasks running")
    services.cli("service", "update", "--detach", "--no-resolve-image", "--image", "pilothouse-test/app:healthy",
                 name)
    config = write_config(tmp_path / "config.toml", swarm.manager, refresh_interval=0.3)
    result = run_cli(capsys, "--config", str(config), "rollout", f"swarm/{name}", "--watch", "--timeout", "120")
    assert result.code == 0, result.out + result.err
    lines = result.out.splitlines()
    assert lines[-1] == f"swarm/{name}: completed"
    assert any(" -> " in line and line.strip().startswith("task ") for line in lines), result.out
    assert any("updating" in line and "pilothouse-test/app:healthy" in line for line in lines)


@pytest.mark.parametrize(("failure_action", "outcome"), [("pause", "paused"), ("rollback", "rolled back")])
def test_rollout_watch_exits_1_when_the_update_fails(
    provider: SwarmProvider, services: Services, swarm: SwarmInfo, tmp_path: Path,
    capsys: pytest.CaptureFixture[str], failure_action: str, outcome: str,
) -> None:
    name = services.create("--replicas", "2", "--update-failure-action", failure_action)
    wait_until(lambda: ready_service(provider, name, 2), 30, what="2 tasks running")
    services.cli("service", "update", "--detach", "--no-resolve-image", "--image", "pilothouse-test/app:unhealthy",
                 name)
    config = write_config(tmp_path / "config.toml", swarm.manager, refresh_interval=0.3)
    result = run_cli(capsys, "--config", str(config), "rollout", f"swarm/{name}", "--watch", "--timeout", "120")
    assert result.code == 1, result.out + result.err
    assert result.out.splitlines()[-1] == f"swarm/{name}: {outcome}"
    assert "unhealthy container" in result.out


def test_rollout_without_watch_on_a_stable_service_exits_0(
    provider: SwarmProvider, services: Services, swarm: SwarmInfo, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    name = services.create("--replicas", "0", name=f"{services.prefix}-{uuid.uuid4().hex[:6]}")
    wait_until(lambda: provider.snapshot().service(name), 10, what="the service")
    config = write_config(tmp_path / "config.toml", swarm.manager)
    result = run_cli(capsys, "--config", str(config), "rollout", f"swarm/{name}")
    assert result.code == 0, result.err
    assert "stable" in result.out
