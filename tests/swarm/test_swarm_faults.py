"""Faults survived, bad input refused, read-only proven at the transport (issue 7), on the real swarm."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from http_count_proxy import CountingProxy
from swarm_helpers import (
    Services,
    SwarmInfo,
    make_provider,
    mutating,
    run_cli,
    swarm_script,
    wait_until,
    write_config,
)

from pilothouse.console.actions import ActionLayer, Status
from pilothouse.console.audit import AuditLog, default_audit_path
from pilothouse.providers.base import Action
from pilothouse.providers.model import Cluster, ConnectionState, RolloutState, Service
from pilothouse.providers.refresh import ClusterRefresher
from pilothouse.providers.swarm import SwarmProvider

pytestmark = pytest.mark.swarm


def audit_lines() -> list[dict[str, str]]:
    # $XDG_STATE_HOME is a fresh dir per test (tests/conftest.py): every line here is this test's.
    return AuditLog(default_audit_path()).read()


@pytest.fixture
def proxy(swarm: SwarmInfo, tmp_path: Path) -> Iterator[CountingProxy]:
    with CountingProxy(upstream=swarm.manager_socket, listen=str(tmp_path / "counted.sock")) as counting:
        yield counting


# -- the manager goes away mid-session -------------------------------------------------------------------


def test_manager_killed_then_back_unreachable_then_recovered(swarm: SwarmInfo, services: Services) -> None:
    interval = 1.5
    name = services.create("--replicas", "0")
    watched = make_provider(swarm.manager, "watched")
    seen: list[tuple[float, Cluster]] = []
    lock = threading.Lock()

    def on_snapshot(cluster: Cluster) -> None:
        with lock:
            seen.append((time.monotonic(), cluster))

    def first_since(moment: float, state: ConnectionState) -> tuple[float, Cluster] | None:
        with lock:
            return next(((when, cluster) for when, cluster in seen if when >= moment and cluster.state is state),
                        None)

    refresher = ClusterRefresher(watched, on_snapshot, interval=interval)
    thread = threading.Thread(target=refresher.run, daemon=True)
    thread.start()
    try:
        wait_until(lambda: (found := first_since(0, ConnectionState.CONNECTED)) and found[1].service(name), 20,
                   what="a first snapshot with the service")
        stopping = time.monotonic()
        swarm_script("stop-manager")
        stopped = time.monotonic()  # dockerd went away somewhere between `stopping` and now
        try:
            when, down = wait_until(lambda: first_since(stopping, ConnectionState.UNREACHABLE), interval + 2,
                                    interval=0.05, what="the cluster shown unreachable")
            assert when - stopped <= interval, f"unreachable shown {when - stopped:.2f}s after the stop"
            # Stale, not gone: the last good data stays, with the time of the last good sync.
            assert down.service(name) is not None and down.last_sync is not None
            assert down.last_sync.timestamp() < time.time() - (time.monotonic() - when)
            assert swarm.manager in down.error
        finally:
            starting = time.monotonic()
            swarm_script("start-manager")
        back = time.monotonic()  # the engine answers and serves the swarm again
        when, recovered = wait_until(lambda: first_since(starting, ConnectionState.CONNECTED), 2 * interval + 2,
                                     interval=0.05, what="the cluster connected again")
        assert when - back <= 2 * interval, f"recovered {when - back:.2f}s after the manager was back"
        assert recovered.last_sync is not None and recovered.last_sync > down.last_sync
        assert recovered.service(name) is not None
        assert not recovered.error
    finally:
        refresher.stop()
        thread.join(timeout=10)
    assert not thread.is_alive()


# -- read-only, proven at the transport ------------------------------------------------------------------


@pytest.fixture
def updated_service(provider: SwarmProvider, services: Services) -> str:
    """A service with a previous spec, so a rollback would have something to do."""
    name = services.create("--replicas", "1")
    services.cli("service", "update", "--detach", "--no-resolve-image", "--image", "pilothouse-test/app:2", name)
    wait_until(lambda: (service := provider.snapshot().service(name)) and service.image.endswith(":2"), 30,
               what="the update recorded")
    return name


@pytest.mark.parametrize("how", ["config", "flag"])
def test_readonly_sends_no_mutating_request(
    how: str, updated_service: str, proxy: CountingProxy, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    config = write_config(tmp_path / "config.toml", proxy.url, readonly=how == "config")
    flag = ["--readonly"] if how == "flag" else []
    target = f"swarm/{updated_service}"
    status = run_cli(capsys, "--config", str(config), *flag, "status", "--json")
    assert status.code == 0, status.err
    assert any(s["name"] == updated_service for s in json.loads(status.out)["clusters"][0]["services"])
    for verb in (["scale", target, "3", "--yes"], ["rollback", target, "--yes"]):
        result = run_cli(capsys, "--config", str(config), *flag, *verb)
        assert result.code == 2, result.out + result.err
        assert result.err.count("\n") == 1 and "refused" in result.err
        assert ("is read-only" if how == "config" else "--readonly") in result.err
    requests = proxy.taken()
    assert any(request.startswith("GET") and "/services" in request for request in requests)
    assert mutating(requests) == []
    refusals = [line for line in audit_lines() if line["result"].startswith("refused")]
    assert sorted(line["action"] for line in refusals) == ["rollback", "scale"]
    assert all(line["service"] == updated_service and line["cluster"] == "swarm" for line in refusals)


# -- bad input: one line, exit 2, nothing sent -----------------------------------------------------------


def test_bad_input_is_refused_before_anything_is_sent(
    provider: SwarmProvider, services: Services, proxy: CountingProxy, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    replicated = services.create("--replicas", "0")
    global_service = services.create("--mode", "global", "--constraint", "node.role==manager")
    wait_until(lambda: provider.snapshot().service(global_service), 10, what="the services")
    config = str(write_config(tmp_path / "config.toml", proxy.url))
    cases = {
        "negative": ["scale", f"swarm/{replicated}", "-1", "--yes"],
        "word": ["scale", f"swarm/{replicated}", "abc", "--yes"],
        "fraction": ["scale", f"swarm/{replicated}", "2.5", "--yes"],
        "exponent": ["scale", f"swarm/{replicated}", "1e9", "--yes"],
        "huge": ["scale", f"swarm/{replicated}", "1000000000", "--yes"],
        "global": ["scale", f"swarm/{global_service}", "3", "--yes"],
        "no history": ["rollback", f"swarm/{replicated}", "--yes"],
        "unknown service": ["scale", f"swarm/{replicated}-nope", "2", "--yes"],
        "unknown cluster": ["rollback", f"elsewhere/{replicated}", "--yes"],
    }
    for case, args in cases.items():
        result = run_cli(capsys, "--config", config, *args)
        assert result.code == 2, f"{case}: {result.code} {result.err}"
        assert result.err.startswith("pilothouse: error: ") and result.err.count("\n") == 1, f"{case}: {result.err}"
        assert result.out == "", f"{case}: {result.out}"
    assert mutating(proxy.taken()) == []
    assert provider.snapshot().service(replicated) is not None


def test_a_docker_host_that_refuses_connections_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dead = f"unix://{tmp_path / 'refused.sock'}"
    config = str(write_config(tmp_path / "config.toml", dead))
    for args in (["status"], ["scale", "swarm/web", "2", "--yes"], ["rollback", "swarm/web", "--yes"]):
        result = run_cli(capsys, "--config", config, *args)
        # Nothing listens there: most often a wrong address, so a mutation is refused as bad input (exit 2,
        # issue 7); status still reports every cluster and exits 1 when one is unreachable.
        expected = 1 if args == ["status"] else 2
        assert result.code == expected, f"{args}: {result.code} {result.err}"
        text = result.err if args != ["status"] else result.out + result.err
        assert dead in text and "dockerd" in text, text
    assert "Traceback" not in result.err and result.err.count("\n") == 1


# -- rollback through the action layer and the CLI -------------------------------------------------------


def settled_on(provider: SwarmProvider, name: str, image: str) -> Service | None:
    service = provider.snapshot().service(name)
    if service is None or service.image != image or service.rollout.active:
        return None
    versions = {task.version for task in service.tasks if task.desired_state.value == "running"
                and task.state.value == "running"}
    return service if versions == {image} else None


def test_rollback_via_action_layer_and_cli_restores_the_previous_image(
    provider: SwarmProvider, updated_service: str, swarm: SwarmInfo, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    name = updated_service
    service = wait_until(lambda: settled_on(provider, name, "pilothouse-test/app:2"), 30, what="app:2 running")
    actions = ActionLayer({provider.name: provider}, audit=AuditLog(default_audit_path()))
    outcome = actions.run(Action.ROLLBACK, provider.name, lambda: service, lambda plan: True)
    assert outcome.status is Status.DONE, outcome.message
    assert outcome.message == f"rolling back {provider.name}/{name} to pilothouse-test/app:1"
    rolled = wait_until(lambda: settled_on(provider, name, "pilothouse-test/app:1"), 60, what="back on app:1")
    assert rolled.rollout.state is RolloutState.ROLLED_BACK
    intent, entry = audit_lines()
    assert (intent["result"], intent["attempt"]) == ("pending", entry["attempt"])
    assert entry["result"] == "ok" and entry["action"] == "rollback"
    assert entry["before"].startswith("pilothouse-test/app:2") and entry["after"] == "pilothouse-test/app:1"

    # The CLI: the previous spec is now app:2's, so rolling back again returns to it.
    config = write_config(tmp_path / "config.toml", swarm.manager)
    result = run_cli(capsys, "--config", str(config), "rollback", f"swarm/{name}", "--yes")
    assert result.code == 0, result.err
    assert f"rolling back swarm/{name} to pilothouse-test/app:2" in result.out
    wait_until(lambda: settled_on(provider, name, "pilothouse-test/app:2"), 60, what="back on app:2")
    last = audit_lines()[-1]
    assert last["result"] == "ok" and last["before"].startswith("pilothouse-test/app:1")
    assert last["after"] == "pilothouse-test/app:2"


def test_no_audit_no_send_and_the_replica_ceiling_holds_with_force(
    services: Services, proxy: CountingProxy, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    """The write-ahead audit on the real swarm, counted at the socket: an intent that cannot be written
    (audit_log is a directory) sends nothing, and --force never lifts the ceiling."""
    name = services.create("--replicas", "0")
    audit_dir = tmp_path / "audit-dir"
    audit_dir.mkdir()
    config = write_config(tmp_path / "config.toml", proxy.url)
    config.write_text(f'audit_log = "{audit_dir}"\n' + config.read_text())
    for verb in (["scale", f"swarm/{name}", "2", "--yes"], ["rollback", f"swarm/{name}", "--yes"]):
        result = run_cli(capsys, "--config", str(config), *verb)
        assert result.err.count("\n") == 1, result.err
        if verb[0] == "scale":
            assert result.code == 1
            assert result.err == (f"pilothouse: error: scale refused: cannot write the audit log {audit_dir}: Is a "
                                  "directory; nothing sent: fix the path or audit_log in the config\n")
        else:  # no previous spec: refused by the provider before any intent is due, and said to be unaudited
            assert result.code == 2 and "nothing to roll back to" in result.err
            assert f"(not in the audit log: cannot write the audit log {audit_dir}: Is a directory)" in result.err
    forced = run_cli(capsys, "--config", str(config), "scale", f"swarm/{name}", "2147483648", "--force", "--yes")
    assert forced.code == 2 and "2147483647" in forced.err and forced.err.count("\n") == 1
    requests = proxy.taken()
    assert mutating(requests) == []
    assert any(request.startswith("GET") for request in requests)  # the control: it did talk to the swarm
