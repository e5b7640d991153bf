from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pilothouse.console.cli import main
from pilothouse.console.follow import Outcome, RolloutFollower
from pilothouse.console.timeline import audit_events, merge, parse_since
from pilothouse.providers.demo import DemoProvider, demo_cluster_configs
from pilothouse.providers.errors import InvalidInput
from pilothouse.providers.model import Cluster, ClusterKind, Event, Rollout, RolloutState, Service, Task, TaskState


def api_at(seconds: float) -> Service:
    return DemoProvider(demo_cluster_configs(frozen_at=seconds)[0]).snapshot().services[0]


def test_follower_reports_progress_then_completion() -> None:
    follower = RolloutFollower("demo-swarm/shop_api")
    lines, outcome = follower.observe(api_at(5))
    assert outcome is None and "updating 1/9" in lines[0]
    lines, outcome = follower.observe(api_at(20))
    assert outcome is None and any("updating 6/9" in line for line in lines)
    assert any(line.startswith("  task ") for line in lines), "new tasks of the rollout are shown"
    lines, outcome = follower.observe(api_at(31))
    assert outcome is Outcome.COMPLETED and outcome.exit_code == 0


def test_follower_failure_and_rollback_exit_1() -> None:
    task = Task(id="t1", service_id="s", state=TaskState.RUNNING, node_name="n1")
    service = Service(id="s", name="web", ref="web", tasks=(task,),
                      rollout=Rollout(state=RolloutState.UPDATING, updated=1, total=3))
    follower = RolloutFollower("c/web")
    assert follower.observe(service)[1] is None
    failed_task = replace(task, state=TaskState.FAILED, error="unhealthy container")
    failed = replace(service, tasks=(failed_task,),
                     rollout=Rollout(state=RolloutState.FAILED, message="update paused due to failure"))
    lines, outcome = follower.observe(failed)
    assert outcome is Outcome.FAILED and outcome.exit_code == 1
    assert "  task t1 on n1: running -> failed (unhealthy container)" in lines
    rolled = replace(service, rollout=Rollout(state=RolloutState.ROLLED_BACK))
    assert RolloutFollower("c/web").observe(rolled)[1] is Outcome.ROLLED_BACK
    assert RolloutFollower("c/web").observe(None)[1] is Outcome.GONE


def test_follower_lines_tell_tasks_apart() -> None:
    follower = RolloutFollower("demo-swarm/shop_api")
    follower.observe(api_at(5))
    lines = [line for line in follower.observe(api_at(20))[0] if line.startswith("  task ")]
    ids = [line.split()[1] for line in lines]
    assert len(ids) > 1 and len(set(ids)) == len(ids), lines  # not all "demo-swarm-s"
    assert set(ids) <= {task.id for task in api_at(20).tasks}
    # Kubernetes: "namespace/pod", pods of one ReplicaSet differ only at the end.
    pods = [Task(id=f"prod/web-7c9f8d6b5-{suffix}", service_id="s", state=TaskState.RUNNING, node_name="n1")
            for suffix in ("x2kqz", "p8wmn")]
    service = Service(id="s", name="web", ref="prod/web", tasks=tuple(pods),
                      rollout=Rollout(state=RolloutState.UPDATING, updated=1, total=2))
    follower = RolloutFollower("c/prod/web")
    follower.observe(service)
    failed = replace(service, tasks=tuple(replace(pod, state=TaskState.FAILED, error="OOMKilled") for pod in pods))
    lines = follower.observe(failed)[0]
    assert "  task prod/web-7c9f8d6b5-x2kqz on n1: running -> failed (OOMKilled)" in lines
    assert "  task prod/web-7c9f8d6b5-p8wmn on n1: running -> failed (OOMKilled)" in lines


def test_stable_service_has_nothing_to_follow() -> None:
    outcome = RolloutFollower("x").observe(api_at(40))[1]
    assert outcome is Outcome.NOTHING and outcome.exit_code == 0


@pytest.mark.parametrize(("text", "seconds"), [("45s", 45), ("30m", 1800), ("2h", 7200), ("1d", 86400)])
def test_parse_since(text: str, seconds: int) -> None:
    assert parse_since(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "10", "1x", "-5m", "m"])
def test_parse_since_rejects(text: str) -> None:
    with pytest.raises(InvalidInput):
        parse_since(text)


def test_merge_orders_filters_and_includes_audit() -> None:
    now = datetime(2026, 1, 1, 12, tzinfo=UTC)
    a = Cluster(name="a", kind=ClusterKind.SWARM, events=(
        Event(now - timedelta(minutes=5), "a", "service web", "update", "updating", "web"),
        Event(now - timedelta(hours=2), "a", "node n1", "state", "down"),
    ))
    b = Cluster(name="b", kind=ClusterKind.ECS, events=(
        Event(now - timedelta(minutes=10), "b", "service api", "update", "deploying", "api"),
    ))
    audit = audit_events([{"time": (now - timedelta(minutes=1)).isoformat(), "cluster": "a", "service": "web",
                           "action": "scale", "before": "3", "after": "5", "result": "ok", "user": "ops",
                           "host": "bastion"}, {"time": "garbage"}])
    events = merge([a, b], audit, since=timedelta(minutes=30), now=now)
    assert [e.message.split(":")[0] for e in events] == ["deploying", "updating", "ops@bastion"]
    assert [e.kind for e in merge([a, b], audit, service="a/web", now=now)] == ["update", "audit"]
    assert [e.cluster for e in merge([a, b], cluster="b", now=now)] == ["b"]


def test_an_intent_and_its_outcome_are_one_timeline_entry() -> None:
    now = datetime(2026, 1, 1, 12, tzinfo=UTC)

    def line(attempt: str, phase: str, result: str, minute: int) -> dict[str, str]:
        return {"time": (now + timedelta(minutes=minute)).isoformat(), "cluster": "a", "service": "web",
                "action": "scale", "before": "3", "after": "5", "result": result, "user": "ops", "host": "b",
                "attempt": attempt, "phase": phase}

    events = audit_events([
        line("1", "intent", "pending", 0), line("1", "outcome", "ok", 1),
        line("2", "intent", "pending", 2), line("2", "outcome", "failed: conflict", 3),
        line("3", "intent", "pending", 4),  # the console stopped (or the outcome could not be written)
        {"time": now.isoformat(), "cluster": "a", "service": "web", "action": "scale", "result": "cancelled"},
        ["not", "an", "entry"],  # type: ignore[list-item]
    ])
    assert [event.message.split(": ", 1)[1] for event in events] == [
        "scale 3 -> 5: ok", "scale 3 -> 5: failed: conflict",
        "scale 3 -> 5: sent, outcome not recorded (check the cluster)", "scale: cancelled"]


def test_events_cli_shows_the_operators_actions_beside_cluster_events(
    capsys: pytest.CaptureFixture[str], no_detected_clusters: None, tmp_path: Path
) -> None:
    assert main(["scale", "demo-ecs/prod/web", "4", "--yes", "--demo"]) == 0
    capsys.readouterr()
    assert main(["events", "--json", "--demo", "--since", "1h"]) == 0
    events = json.loads(capsys.readouterr().out)["events"]
    kinds = {(e["cluster"], e["kind"]) for e in events}
    assert ("demo-ecs", "audit") in kinds and ("demo-swarm", "update") in kinds
    assert main(["events", "--json", "--demo", "--kind", "audit"]) == 0
    assert {e["kind"] for e in json.loads(capsys.readouterr().out)["events"]} == {"audit"}
    assert main(["events", "--demo", "--since", "soon"]) == 2
    assert "not a duration" in capsys.readouterr().err


def test_rollout_cli_without_watch(capsys: pytest.CaptureFixture[str], no_detected_clusters: None) -> None:
    assert main(["rollout", "demo-swarm/shop_api", "--demo"]) == 0
    assert "updating" in capsys.readouterr().out
    assert main(["rollout", "demo-swarm/nope", "--demo"]) == 2


def test_logs_cli_tail_and_task_filter(capsys: pytest.CaptureFixture[str], no_detected_clusters: None) -> None:
    assert main(["logs", "demo-swarm/shop_payments", "--tail", "5", "--demo"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 5 and all(" | " in line for line in lines)
    assert any("ERROR" in line for line in lines), "the unhealthy service says why"
    assert main(["logs", "demo-swarm/shop_payments", "--task", "nope", "--demo"]) == 2
    assert main(["logs", "demo-swarm/shop_payments", "--tail", "-1", "--demo"]) == 2


def test_demo_logs_follow_stops_when_asked() -> None:
    import threading

    provider = DemoProvider(demo_cluster_configs()[0])  # live clock: following yields new lines
    service = provider.snapshot().services[1]
    stop = threading.Event()
    stream = provider.logs(service, tail=0, follow=True, stop=stop)
    first = next(stream)
    assert first.text.startswith("INFO")
    stop.set()
    assert list(stream) == []


def test_frozen_demo_follow_yields_only_history() -> None:
    import threading

    provider = DemoProvider(demo_cluster_configs(frozen_at=5)[0])
    service = provider.snapshot().services[1]
    stop = threading.Event()
    stream = provider.logs(service, tail=3, follow=True, stop=stop)
    assert len([next(stream) for _ in range(3)]) == 3
    stop.set()
    assert list(stream) == []


def test_an_unreadable_audit_log_is_one_timeline_line_not_a_crash(tmp_path: Path) -> None:
    from pilothouse.console.audit import AuditLog
    from pilothouse.console.screens.audit_feed import AuditFeed

    path = tmp_path / "audit.jsonl"
    path.mkdir()
    (event,) = AuditFeed(AuditLog(path)).events()
    assert (event.kind, event.object) == ("audit", "audit log")
    assert event.message == f"cannot read the audit log {path}: Is a directory: check audit_log in the config"
