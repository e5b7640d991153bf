"""Operator review fixes in the action layer, the timeline and the doctor: replicas are absolute ASCII counts,
a refusal reads once, a result names CLUSTER/SERVICE, and every "an update stops every replica" is HIGH."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from pilothouse.console.actions import ActionLayer, OverLimit, Status, changes_nothing, qualified_result
from pilothouse.console.audit import AuditLog
from pilothouse.console.timeline import audit_events, check_kinds
from pilothouse.providers.base import Action, MutationPlan
from pilothouse.providers.demo import DemoProvider, demo_cluster_configs
from pilothouse.providers.doctor import Severity, examine
from pilothouse.providers.errors import InvalidInput
from pilothouse.providers.model import Cluster, ClusterKind, Event, Service, ServiceMode, UpdatePolicy


def layer(tmp_path: Path, *, readonly: bool = False) -> tuple[ActionLayer, DemoProvider, AuditLog]:
    provider = DemoProvider(demo_cluster_configs(frozen_at=5)[0])
    audit = AuditLog(tmp_path / "audit.jsonl")
    return ActionLayer({provider.name: provider}, readonly=readonly, audit=audit), provider, audit


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("+3", "replicas is an absolute count (the total you want), not a change like '+3'"),
        ("+0", "absolute count"),
        ("-0", "absolute count"),
        ("-3", "replicas cannot be negative (-3): it is an absolute count"),
        ("\uff13", "write it with the digits 0-9"),  # fullwidth three: int() would read 3
        ("1\u0663", "write it with the digits 0-9"),  # Arabic-Indic three
    ],
)
def test_replicas_are_an_unsigned_count_in_ascii_digits(text: str, message: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        ActionLayer.parse_replicas(text)
    assert message in str(raised.value)


def test_over_the_limit_is_its_own_error_so_each_front_end_words_the_way_out() -> None:
    with pytest.raises(OverLimit) as raised:
        ActionLayer.parse_replicas("20000")
    assert raised.value.replicas == 20000 and "add --force" in str(raised.value)


def _never(plan: MutationPlan) -> bool:
    raise AssertionError(f"nothing to confirm, yet asked about {plan.describe()}")


def test_scaling_to_the_current_count_changes_nothing(tmp_path: Path) -> None:
    actions, provider, audit = layer(tmp_path)
    web = provider.snapshot().services[1]
    outcome = actions.run(Action.SCALE, provider.name, lambda: web, _never, replicas=web.desired)
    assert outcome.status is Status.UNCHANGED and outcome.plan is not None and changes_nothing(outcome.plan)
    assert audit.read() == []
    asked: list[MutationPlan] = []

    def say_no(plan: MutationPlan) -> bool:
        asked.append(plan)
        return False

    outcome = actions.run(Action.SCALE, provider.name, lambda: web, say_no, replicas=web.desired + 1)
    assert outcome.status is Status.CANCELLED and not changes_nothing(asked[0])


def _plan(ref: str = "prod/web", cluster: str = "demo-k8s") -> MutationPlan:
    return MutationPlan(action=Action.SCALE, cluster=cluster, service_ref=ref, service_id="x", before="7", after="3")


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("scaled prod/web from 7 to 3", "scaled demo-k8s/prod/web from 7 to 3"),
        ("scaled prod/web from 7 to 3 replicas", "scaled demo-k8s/prod/web from 7 to 3 replicas"),
        ("rolled back prod/web", "rolled back demo-k8s/prod/web"),
        ("scaled demo-k8s/prod/web from 7 to 3", "scaled demo-k8s/prod/web from 7 to 3"),
        ("done", "demo-k8s/prod/web: done"),
        ("scaled prod/webshop too", "demo-k8s/prod/web: scaled prod/webshop too"),
    ],
)
def test_results_name_cluster_and_service(message: str, expected: str) -> None:
    assert qualified_result(_plan(), message) == expected


def _audit_messages(audit: AuditLog) -> list[str]:
    return [event.message for event in audit_events(audit.read())]


def test_a_refusal_reads_once_in_the_timeline(tmp_path: Path) -> None:
    actions, provider, audit = layer(tmp_path, readonly=True)
    web = provider.snapshot().services[1]
    # A key pressed in read-only mode: the screen passes the refusal it showed.
    reason = actions.refusal(provider.name, Action.SCALE, web)
    assert reason == "scale refused: the console runs with --readonly"
    actions.record_refusal(provider.name, web.ref, Action.SCALE, reason)
    outcome = actions.run(Action.SCALE, provider.name, lambda: web, _never, replicas=3)
    assert outcome.status is Status.REFUSED and isinstance(outcome.error, InvalidInput)
    results = [entry["result"] for entry in audit.read()]
    assert results == ["refused: the console runs with --readonly"] * 2
    first, second = _audit_messages(audit)
    assert first.endswith(": scale: refused: the console runs with --readonly")
    assert second.endswith(": scale to 3: refused: the console runs with --readonly")


def test_a_refusal_at_execute_reads_once(tmp_path: Path) -> None:
    actions, provider, audit = layer(tmp_path)
    web = provider.snapshot().services[1]

    def switch_on(plan: MutationPlan) -> bool:  # read-only switched on while the confirmation was open
        actions.readonly_clusters = frozenset({provider.name})
        return True

    outcome = actions.run(Action.SCALE, provider.name, lambda: web, switch_on, replicas=9)
    assert outcome.status is Status.REFUSED and isinstance(outcome.error, InvalidInput)
    assert provider.snapshot().services[1].desired == web.desired
    (entry,) = audit.read()
    assert entry["result"] == f"refused: cluster {provider.name} is read-only"


def test_entries_written_doubled_before_the_fix_read_once(tmp_path: Path) -> None:
    audit = AuditLog(tmp_path / "audit.jsonl")
    audit.write(cluster="c", service="web", action="scale", before="", after="",
                result="refused: scale refused: the console runs with --readonly")
    assert _audit_messages(audit)[0].endswith(": scale: refused: the console runs with --readonly")


def test_an_interrupted_confirmation_is_audited_as_a_cancel(tmp_path: Path) -> None:
    actions, provider, audit = layer(tmp_path)
    web = provider.snapshot().services[1]
    assert actions.run(Action.SCALE, provider.name, lambda: web, lambda plan: False, replicas=9).status \
        is Status.CANCELLED

    def interrupted(plan: MutationPlan) -> bool:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        actions.run(Action.SCALE, provider.name, lambda: web, interrupted, replicas=9)
    assert [entry["result"] for entry in audit.read()] == ["cancelled", "cancelled: interrupted"]


def test_an_event_kind_must_exist() -> None:
    now = datetime.now(UTC)
    seen = [Event(now, "c", "service web", "custom-plugin-kind", "m")]
    check_kinds(["update", "audit", "warning", "custom-plugin-kind"], seen)
    with pytest.raises(InvalidInput, match="unknown event kind 'nope'"):
        check_kinds(["update", "nope"], seen)


def _severities(kind: ClusterKind, policy: UpdatePolicy, desired: int = 3) -> list[Severity]:
    service = Service(id="s", name="app", ref="app", desired=desired, mode=ServiceMode.REPLICATED,
                      image="registry.example.com/app:1", update_policy=policy)
    cluster = Cluster(name="c", kind=kind, services=(service,))
    return [finding.severity for finding in examine(cluster) if finding.rule == "unsafe-update"]


@pytest.mark.parametrize(
    ("kind", "policy"),
    [
        (ClusterKind.KUBERNETES, UpdatePolicy(max_unavailable="100%")),
        (ClusterKind.KUBERNETES, UpdatePolicy(max_unavailable="3")),
        (ClusterKind.ECS, UpdatePolicy(circuit_breaker=True, min_healthy_percent=0)),
        (ClusterKind.SWARM, UpdatePolicy(parallelism=0, order="stop-first", failure_action="rollback",
                                         has_rollback_policy=True)),
        (ClusterKind.SWARM, UpdatePolicy(parallelism=3, order="stop-first", failure_action="rollback",
                                         has_rollback_policy=True)),
    ],
)
def test_an_update_that_can_stop_every_replica_is_high_everywhere(kind: ClusterKind, policy: UpdatePolicy) -> None:
    assert _severities(kind, policy) == [Severity.HIGH]


@pytest.mark.parametrize(
    ("policy", "desired"),
    [
        (UpdatePolicy(parallelism=0, order="start-first"), 3),  # new tasks start before the old stop
        (UpdatePolicy(parallelism=1, order="stop-first"), 3),
        (UpdatePolicy(parallelism=1, order="stop-first"), 1),  # the single-replica rule says it
        (UpdatePolicy(parallelism=2, order="stop-first"), 3),
    ],
)
def test_swarm_updates_that_keep_a_replica_up_are_not_flagged(policy: UpdatePolicy, desired: int) -> None:
    safe = UpdatePolicy(parallelism=policy.parallelism, order=policy.order, failure_action="rollback",
                        has_rollback_policy=True)
    assert _severities(ClusterKind.SWARM, safe, desired) == []
