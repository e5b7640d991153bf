from __future__ import annotations

import threading
import time
from itertools import pairwise
from pathlib import Path

import pytest
from waiting import wait_until

from pilothouse.console.actions import ActionLayer, ReadOnlyRefused, Status
from pilothouse.console.audit import AuditLog
from pilothouse.providers.base import Action, ClusterConfig, MutationPlan
from pilothouse.providers.demo import DemoProvider, demo_cluster_configs
from pilothouse.providers.errors import CredentialsError, InvalidInput, ProviderError, Unreachable
from pilothouse.providers.model import Cluster, ConnectionState
from pilothouse.providers.refresh import ClusterRefresher


class FlakyDemo(DemoProvider):
    """The demo, made unreachable (or its credentials expired) on demand: for the refresh loop's error path."""

    def __init__(self, config: ClusterConfig) -> None:
        super().__init__(config)
        self.down = False
        self.failure: ProviderError = Unreachable("cannot reach demo", "is it running?")
        self.connects = 0

    def connect(self) -> None:
        self.connects += 1
        if self.down:
            raise self.failure

    def snapshot(self) -> Cluster:
        if self.down:
            raise self.failure
        return super().snapshot()


def layer(tmp_path: Path, *, readonly: bool = False) -> tuple[ActionLayer, DemoProvider, AuditLog]:
    provider = DemoProvider(demo_cluster_configs(frozen_at=5)[0])
    audit = AuditLog(tmp_path / "audit.jsonl")
    return ActionLayer({provider.name: provider}, readonly=readonly, audit=audit), provider, audit


@pytest.mark.parametrize("text", ["-1", "abc", "2.5", "1e9", "", " ", "3x"])
def test_parse_replicas_rejects_nonsense(text: str) -> None:
    with pytest.raises(InvalidInput):
        ActionLayer.parse_replicas(text)


def test_parse_replicas_limit_and_force() -> None:
    assert ActionLayer.parse_replicas(" 7 ") == 7
    with pytest.raises(InvalidInput, match="--force"):
        ActionLayer.parse_replicas("10001")
    assert ActionLayer.parse_replicas("10001", force=True) == 10001
    # The range an error gives is the one that applies: forced, up to what the orchestrator accepts.
    with pytest.raises(InvalidInput, match=r"\(0 to 10000\)"):
        ActionLayer.parse_replicas("abc")
    with pytest.raises(InvalidInput, match=r"\(0 to 2147483647\)"):
        ActionLayer.parse_replicas("abc", force=True)


@pytest.mark.parametrize("text", ["2147483648", "99999999999999999999", "9" * 5000])
def test_force_never_lifts_what_the_orchestrator_accepts(text: str) -> None:
    with pytest.raises(InvalidInput, match="2147483647") as raised:
        ActionLayer.parse_replicas(text, force=True)
    assert len(str(raised.value)) < 200 and "\n" not in str(raised.value)
    assert ActionLayer.parse_replicas("2147483647", force=True) == 2**31 - 1
    with pytest.raises(InvalidInput, match="at most 200"):
        ActionLayer.parse_replicas("300", force=True, maximum=200)


def test_a_sent_change_leaves_an_intent_then_its_outcome(tmp_path: Path) -> None:
    actions, provider, audit = layer(tmp_path)
    web = provider.snapshot().services[1]
    seen_at_confirmation: list[list[dict[str, object]]] = []

    def confirm(plan: MutationPlan) -> bool:
        seen_at_confirmation.append(audit.read())
        return True

    outcome = actions.run(Action.SCALE, provider.name, lambda: web, confirm, replicas=9)
    assert outcome.status is Status.DONE and outcome.sent and not outcome.audit_warning
    assert seen_at_confirmation == [[]]  # nothing is written before the operator said yes
    intent, result = audit.read()
    assert (intent["phase"], intent["result"], result["phase"], result["result"]) == \
        ("intent", "pending", "outcome", "ok")
    assert intent["attempt"] == result["attempt"]
    assert (result["before"], result["after"]) == (str(web.desired), "9")
    assert provider.snapshot().services[1].desired == 9


class InterruptedDemo(DemoProvider):
    """The demo, its apply cut by Ctrl+C half-way (a drain between two evictions)."""

    def apply(self, plan: MutationPlan) -> str:
        super().apply(plan)
        raise KeyboardInterrupt


def test_ctrl_c_while_sending_leaves_an_interrupted_outcome(tmp_path: Path) -> None:
    provider = InterruptedDemo(demo_cluster_configs(frozen_at=5)[0])
    audit = AuditLog(tmp_path / "audit.jsonl")
    actions = ActionLayer({provider.name: provider}, audit=audit)
    web = provider.snapshot().services[1]
    with pytest.raises(KeyboardInterrupt):
        actions.run(Action.SCALE, provider.name, lambda: web, lambda plan: True, replicas=9)
    intent, result = audit.read()
    assert (intent["phase"], intent["result"]) == ("intent", "pending")
    assert result["phase"] == "outcome" and result["result"].startswith("interrupted: may be partly applied")
    assert intent["attempt"] == result["attempt"]


def test_readonly_refuses_before_the_plan_and_after_the_confirmation(tmp_path: Path) -> None:
    actions, provider, audit = layer(tmp_path)
    web = provider.snapshot().services[1]

    def switch_on(plan: MutationPlan) -> bool:  # switched on between the plan and the confirmation
        actions.readonly = True
        return True

    outcome = actions.run(Action.SCALE, provider.name, lambda: web, switch_on, replicas=9)
    assert outcome.status is Status.REFUSED and isinstance(outcome.error, ReadOnlyRefused)
    assert actions.refusal(provider.name, Action.SCALE, web)
    outcome = actions.run(Action.ROLLBACK, provider.name, lambda: web, lambda plan: True)
    assert outcome.status is Status.REFUSED and isinstance(outcome.error, ReadOnlyRefused)
    assert provider.snapshot().services[1].desired == web.desired
    assert [entry["result"].split(":")[0] for entry in audit.read()] == ["refused", "refused"]


def test_cancel_is_audited(tmp_path: Path) -> None:
    actions, provider, audit = layer(tmp_path)
    api = provider.snapshot().services[0]
    outcome = actions.run(Action.ROLLBACK, provider.name, lambda: api, lambda plan: False)
    assert outcome.status is Status.CANCELLED and not outcome.sent
    (entry,) = audit.read()
    assert entry["result"] == "cancelled" and "phase" not in entry


def test_refresher_keeps_last_data_when_unreachable_and_recovers() -> None:
    provider = FlakyDemo(demo_cluster_configs(frozen_at=5)[0])
    refresher = ClusterRefresher(provider, lambda cluster: None, interval=1.0)
    good = refresher.refresh_once()
    assert good.state is ConnectionState.CONNECTED and good.last_sync is not None
    provider.down = True
    stale = refresher.refresh_once()
    assert stale.state is ConnectionState.UNREACHABLE
    assert "cannot reach demo" in stale.error
    assert stale.services == good.services and stale.last_sync == good.last_sync
    assert refresher.next_delay() == 2.0
    refresher.refresh_once()
    assert refresher.next_delay() == 4.0
    provider.down = False
    back = refresher.refresh_once()
    assert back.state is ConnectionState.CONNECTED and refresher.next_delay() == 1.0
    assert provider.connects >= 2, "an unreachable cluster is reconnected"


def test_a_credentials_failure_marks_the_cluster_as_needing_a_login() -> None:
    provider = FlakyDemo(demo_cluster_configs(frozen_at=5)[0])
    refresher = ClusterRefresher(provider, lambda cluster: None, interval=1.0)
    assert not refresher.refresh_once().needs_login
    provider.down = True
    assert not refresher.refresh_once().needs_login  # unreachable: logging in would not help
    provider.failure = CredentialsError("token expired", "run `aws sso login --profile ops`")
    expired = refresher.refresh_once()
    assert expired.needs_login and expired.state is ConnectionState.UNREACHABLE and expired.services
    provider.down = False
    assert not refresher.refresh_once().needs_login


def test_refresher_loop_delivers_snapshots_and_poke_wakes_it() -> None:
    provider = DemoProvider(demo_cluster_configs(frozen_at=5)[0])
    seen: list[Cluster] = []
    first, two = threading.Event(), threading.Event()

    def collect(cluster: Cluster) -> None:
        seen.append(cluster)
        first.set()
        if len(seen) >= 2:
            two.set()

    refresher = ClusterRefresher(provider, collect, interval=3600)
    thread = threading.Thread(target=refresher.run, daemon=True)
    thread.start()
    # With an hour's interval only poke() can explain a second snapshot.
    assert first.wait(5)
    refresher.poke()
    assert two.wait(5), "poke() did not trigger a refresh"
    refresher.stop()
    thread.join(5)
    assert not thread.is_alive()


class CostlyDemo(DemoProvider):
    """The demo, whose every snapshot costs its thread SPIN_S of CPU, as a 10k-pod cluster's mapping does."""

    SPIN_S = 0.1

    def __init__(self, config: ClusterConfig) -> None:
        super().__init__(config)
        self.spans: list[tuple[float, float]] = []  # (started, ended) of each snapshot, monotonic

    def snapshot(self) -> Cluster:
        started = time.monotonic()
        spin_until = time.thread_time() + self.SPIN_S
        while time.thread_time() < spin_until:
            pass
        cluster = super().snapshot()
        self.spans.append((started, time.monotonic()))
        return cluster


def test_under_a_storm_of_pokes_snapshots_leave_the_thread_idle_as_long_as_they_kept_it_busy() -> None:
    """Watch events poke the refresher hundreds of times a second: it never snapshots back to back, so the UI
    thread sharing the interpreter keeps answering keys; the gap after a snapshot is at least its CPU."""
    provider = CostlyDemo(demo_cluster_configs(frozen_at=5)[0])
    done = threading.Event()
    refresher = ClusterRefresher(provider, lambda _cluster: None, interval=3600)

    def storm() -> None:
        while not done.is_set():
            refresher.poke()
            done.wait(0.005)

    threads = [threading.Thread(target=refresher.run, daemon=True), threading.Thread(target=storm, daemon=True)]
    for thread in threads:
        thread.start()
    try:
        wait_until(lambda: len(provider.spans) >= 5, 30, what="5 snapshots")
    finally:
        done.set()
        refresher.stop()
        for thread in threads:
            thread.join(5)
    # From the second on: the first snapshot's cycle also connected, which is no measure of a refresh's cost.
    spans = provider.spans[1:]
    for (_, ended), (started, _) in pairwise(spans):
        assert started - ended >= CostlyDemo.SPIN_S * 0.9
