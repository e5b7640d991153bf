"""The Swarm mapping functions are pure: dicts in, model out; missing and odd fields never crash."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from pilothouse.providers.base import LogLine
from pilothouse.providers.model import Health, NodeStatus, RolloutState, ServiceMode, TaskState
from pilothouse.providers.swarm.events import event_changes, map_event
from pilothouse.providers.swarm.logs import MAX_LOG_LINE_BYTES, LogFrames, log_source, newest_lines, parse_log_line
from pilothouse.providers.swarm.mapping import (
    FAILED_TASKS_PER_SERVICE,
    compact_tasks,
    map_node,
    map_service,
    map_task,
    select_tasks,
)
from pilothouse.providers.swarm.raw import parse_time
from pilothouse.providers.swarm.spec import display_image, image_healthcheck, same_spec, spec_fingerprint


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("pilothouse-test/app:2@sha256:" + "a" * 64, "pilothouse-test/app:2"),
        ("registry:5000/team/web:1.4", "registry:5000/team/web:1.4"),
        ("nginx@sha256:" + "b" * 64, "nginx@bbbbbbbbbbbb"),
        ("registry:5000/web@sha256:" + "c" * 64, "registry:5000/web@cccccccccccc"),
        (None, ""),
        (42, ""),
    ],
)
def test_display_image_strips_digests_but_keeps_tags(raw: Any, shown: str) -> None:
    assert display_image(raw) == shown


def test_parse_time_keeps_microseconds_and_drops_the_zero_time() -> None:
    assert parse_time("2026-11-27T20:31:26.435677934Z") == datetime(2026, 11, 27, 20, 31, 26, 435677, UTC)
    assert parse_time("2026-11-27T21:31:26+01:00") == datetime(2026, 11, 27, 20, 31, 26, tzinfo=UTC)
    assert parse_time("0001-01-01T00:00:00Z") is None
    assert parse_time("yesterday") is None
    assert parse_time(None) is None


@pytest.mark.parametrize("raw", [{}, {"Spec": None, "Status": None}, {"Spec": {"Mode": {"Weird": {}}}}])
def test_empty_and_odd_objects_map_without_crashing(raw: dict[str, Any]) -> None:
    service = map_service(raw, [raw], {}, {})
    assert service.mode is ServiceMode.REPLICATED
    assert service.rollout.state is RolloutState.STABLE
    assert map_node(raw).status is NodeStatus.UNKNOWN
    assert map_task(raw, {}).state is TaskState.UNKNOWN
    assert map_event(raw, "c") is None


def test_unknown_enum_values_are_kept_visible() -> None:
    service = map_service({"UpdateStatus": {"State": "sideways"}}, [], {}, {})
    assert service.rollout.state is RolloutState.STABLE
    assert "sideways" in service.rollout.message
    task = map_task({"Status": {"State": "levitating"}, "DesiredState": "dancing"}, {})
    assert (task.state, task.desired_state, task.raw_state) == (TaskState.UNKNOWN, TaskState.UNKNOWN, "levitating")


def test_unhealthy_failure_and_health_table() -> None:
    failed = {"Status": {"State": "failed", "Err": "task: non-zero exit (137): dockerexec: unhealthy container"}}
    assert map_task(failed, {}).health is Health.UNHEALTHY
    assert map_task({"Status": {"State": "starting"}}, {}, healthcheck=True).health is Health.STARTING
    assert map_task({"Status": {"State": "running"}}, {}, healthcheck=True).health is Health.HEALTHY
    assert map_task({"Status": {"State": "running"}}, {}, healthcheck=False).health is Health.NONE
    assert map_task({"Status": {"State": "running"}}, {}, healthcheck=None).health is Health.NONE


def test_an_ended_task_says_when_it_ended() -> None:
    """Status.Timestamp is the last state change: for a failed or shut down task, its stop time (attention's
    "failed in the last minutes" needs it); a running task's is when it started."""
    failed = map_task({"Status": {"State": "failed", "Timestamp": "2026-01-01T00:00:19Z", "Err": "boom"}}, {})
    assert failed.stopped is not None and failed.stopped.isoformat() == "2026-01-01T00:00:19+00:00"
    assert failed.started is None
    running = map_task({"Status": {"State": "running", "Timestamp": "2026-01-01T00:00:19Z"}}, {})
    assert running.stopped is None and running.started is not None


def test_failed_history_is_bounded_per_service() -> None:
    tasks = [
        {"ServiceID": "s", "DesiredState": "shutdown",
         "Status": {"State": "failed", "Timestamp": f"2026-01-01T00:00:{second:02d}Z"}}
        for second in range(20)
    ] + [{"ServiceID": "s", "DesiredState": "running", "Status": {"State": "running"}},
         {"ServiceID": "s", "DesiredState": "shutdown", "Status": {"State": "shutdown"}}]
    kept = select_tasks(tasks)["s"]
    assert len(kept) == 1 + FAILED_TASKS_PER_SERVICE
    assert kept[1]["Status"]["Timestamp"] == "2026-01-01T00:00:19Z"  # the most recent failure first


def test_compact_tasks_keeps_what_the_mapping_reads_and_one_object_per_equal_spec() -> None:
    spec = {"ContainerSpec": {"Image": "app:1"}, "ForceUpdate": 0}

    def task(service: str, state: str = "running", **extra: Any) -> dict[str, Any]:
        return {"ID": f"t{len(extra)}{service}{state}", "ServiceID": service, "DesiredState": state,
                "Spec": dict(spec), "Version": {"Index": 7}, "CreatedAt": "2026-01-01T00:00:00Z",
                "Status": {"State": state, "Timestamp": "2026-01-01T00:00:01Z", "PortStatus": {},
                           "ContainerStatus": {"ContainerID": "c" * 64, "PID": 9, "ExitCode": 0}}, **extra}

    history = task("a", "shutdown")  # an old replaced task: select_tasks shows none of these
    tasks: list[Any] = [task("a"), task("a", Slot=2), task("b"), task("a", Spec={**spec, "ForceUpdate": 1}),
                        history, "not a task"]
    kept = compact_tasks(tasks)
    assert history not in kept and len(kept) == 4
    a1, a2, a3 = (t for t in kept if t["ServiceID"] == "a")
    b = next(t for t in kept if t["ServiceID"] == "b")
    assert a1["Spec"] is a2["Spec"] and b["Spec"] is not a1["Spec"]  # equal specs of a service: one object
    assert a3["Spec"]["ForceUpdate"] == 1  # another version is never replaced
    assert a1["Status"] == {"State": "running", "Timestamp": "2026-01-01T00:00:01Z", "ContainerStatus": {"ExitCode": 0}}
    assert "Version" not in a1 and "CreatedAt" not in a1
    # What the mapping shows is the same from the compacted tasks as from whole ones.
    assert map_task(a1, {}) == map_task(task("a"), {})


def test_progress_ignores_the_runtime_field_only_the_service_copy_carries() -> None:
    template = {"ContainerSpec": {"Image": "app:2"}, "ForceUpdate": 0, "Runtime": "container"}
    task_spec = {"ContainerSpec": {"Image": "app:2"}, "ForceUpdate": 0}
    assert spec_fingerprint(template) == spec_fingerprint(task_spec)
    assert same_spec(task_spec, template)  # the refresh's comparison agrees with the fingerprint
    assert not same_spec({**task_spec, "ForceUpdate": 1}, template)
    service = {
        "Spec": {"Name": "web", "TaskTemplate": template, "Mode": {"Replicated": {"Replicas": 2}}},
        "PreviousSpec": {"TaskTemplate": {"ContainerSpec": {"Image": "app:1@sha256:" + "d" * 64}}},
        "UpdateStatus": {"State": "updating", "Message": "update in progress"},
        "ServiceStatus": {"RunningTasks": 2, "DesiredTasks": 2},
    }
    tasks = [
        {"ServiceID": "s", "DesiredState": "running", "Status": {"State": "running"}, "Spec": task_spec},
        {"ServiceID": "s", "DesiredState": "running", "Status": {"State": "running"},
         "Spec": {"ContainerSpec": {"Image": "app:1"}, "ForceUpdate": 0}},
    ]
    rollout = map_service(service, tasks, {}, {}).rollout
    assert (rollout.state, rollout.updated, rollout.total) == (RolloutState.UPDATING, 1, 2)
    assert (rollout.from_version, rollout.to_version) == ("app:1", "app:2")


def test_event_messages_pair_old_and_new_values() -> None:
    event = map_event({"Type": "service", "Action": "update", "timeNano": 1_795_812_584_548_514_327,
                       "Actor": {"ID": "kc8m", "Attributes": {"name": "web", "updatestate.new": "updating",
                                                              "updatestate.old": "paused",
                                                              "image.old": "app:1", "image.new": "app:2"}}}, "c")
    assert event is not None
    assert (event.kind, event.object, event.service_ref) == ("update", "service web", "web")
    assert event.message == "service web update: updatestate paused -> updating, image app:1 -> app:2"
    assert event_changes({"name": "n1", "state.new": "down"}) == ["state -> down"]
    node = map_event({"Type": "node", "Action": "update", "time": 1,
                      "Actor": {"Attributes": {"name": "w1", "state.old": "ready", "state.new": "down"}}}, "c")
    assert node is not None and node.service_ref == "" and node.message == "node w1 update: state ready -> down"
    assert map_event({"Type": "service", "timeNano": 10**30, "Actor": None}, "c") is not None


def test_log_lines_split_time_labels_and_text() -> None:
    labels = "com.docker.swarm.node.id=n1,com.docker.swarm.service.id=s1,com.docker.swarm.task.id=t123456789012345"
    when, parsed, text = parse_log_line(f"2026-11-27T20:48:33.142260917Z {labels} hello  world")
    assert when is not None and when.microsecond == 142260
    assert parsed["com.docker.swarm.task.id"] == "t123456789012345" and text == "hello  world"
    assert log_source(parsed, {"t123456789012345": 2}, {"n1": "worker-1"}) == "2/t12345678901@worker-1"
    assert log_source(parsed, {}, {}) == "t12345678901@n1"
    assert parse_log_line("2026-11-27T20:48:33Z a=b,c plain") == (parse_time("2026-11-27T20:48:33Z"), {},
                                                                    "a=b,c plain")
    assert parse_log_line("no time here") == (None, {}, "no time here")
    assert parse_log_line("") == (None, {}, "")


def test_log_frames_demultiplex_across_chunk_boundaries() -> None:
    def frame(stream: int, payload: bytes) -> bytes:
        return bytes([stream, 0, 0, 0]) + len(payload).to_bytes(4, "big") + payload

    data = frame(1, b"out one\n") + frame(2, b"err \xff two\r\n") + frame(1, b"partial")
    frames = LogFrames(multiplexed=True)
    lines = [line for cut in range(0, len(data), 5) for line in frames.feed(data[cut:cut + 5])]
    assert lines == ["out one", "err \ufffd two"]
    assert frames.flush() == ["partial"]
    raw = LogFrames(multiplexed=False)
    assert raw.feed(b"a\nb") == ["a"] and raw.feed(b"c\n") == ["bc"]
    # A writer that never ends its line cannot grow the buffer without bound.
    assert len(raw.feed(b"x" * (MAX_LOG_LINE_BYTES + 1))) == 1


def test_secret_files_are_references_and_ports_belong_to_the_service() -> None:
    service = {"Spec": {"Name": "db", "TaskTemplate": {"ContainerSpec": {
        "Image": "db:1",
        "Env": ["DB_PASSWORD_FILE=/run/secrets/db_password", "API_TOKEN=literal", "OTHER_FILE=/etc/x",
                "KEY_PATH=/vault/key"],
        "Secrets": [{"SecretName": "db-pass", "File": {"Name": "db_password"}},
                    {"SecretName": "key", "File": {"Name": "/vault/key"}}, None],
    }}}, "Endpoint": {"Ports": [{"TargetPort": 9229, "PublishedPort": 30000}]}}
    mapped = map_service(service, [], {}, {})
    (container,) = mapped.containers
    assert set(container.secret_env) == {"db-pass", "key", "DB_PASSWORD_FILE", "KEY_PATH"}
    assert "API_TOKEN" not in container.secret_env and "OTHER_FILE" not in container.secret_env
    assert mapped.ports == ("30000:9229/tcp",) and container.ports == ()


def test_health_from_the_image_when_the_spec_says_nothing() -> None:
    assert image_healthcheck({"Config": {"Healthcheck": {"Test": ["CMD-SHELL", "true"]}}}) is True
    assert image_healthcheck({"Config": {"Healthcheck": {"Test": ["NONE"]}}}) is False
    assert image_healthcheck({"Config": None}) is False
    service = {"Spec": {"TaskTemplate": {"ContainerSpec": {"Image": "app:1"}}}}
    assert map_service(service, [], {}, {}).containers[0].healthcheck is None
    assert map_service(service, [], {}, {}, image_checks={"app:1": False}).containers[0].healthcheck is False
    spec_says = {"Spec": {"TaskTemplate": {"ContainerSpec": {"Image": "app:1", "Healthcheck": {"Test": ["CMD", "x"]}}}}}
    assert map_service(spec_says, [], {}, {}, image_checks={"app:1": False}).containers[0].healthcheck is True


def test_newest_lines_across_tasks_in_time_order() -> None:
    def at(second: int | None, text: str) -> LogLine:
        return LogLine(None if second is None else datetime(2026, 1, 1, 0, 0, second, tzinfo=UTC), "t", text)

    # Two tasks' tails arrive one task after the other; the newest 3 overall, oldest first.
    lines = [at(1, "a1"), at(4, "a4"), at(5, "a5"), at(2, "b2"), at(4, "b4"), at(6, "b6"), at(None, "x")]
    # Equal times: the later arrival counts as newer, and arrival order is kept.
    assert [line.text for line in newest_lines(lines, 3)] == ["b4", "a5", "b6"]
    assert [line.text for line in newest_lines(lines, 4)] == ["a4", "b4", "a5", "b6"]
    assert newest_lines(lines, 0) == []
