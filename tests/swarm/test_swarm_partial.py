"""Partial reads on the real swarm: the manager's `/tasks` (or `/nodes`) failing while `/services` answers,
made by a proxy in front of the manager socket that answers those requests 500 itself."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from http_count_proxy import CountingProxy
from swarm_helpers import Services, SwarmInfo, make_provider, run_cli, wait_until, write_config

pytestmark = pytest.mark.swarm


def failing(path: str, times: int | None = None) -> Callable[[str], int | None]:
    """500 for every GET of `path` (".../tasks"), or only for the first `times` of them."""
    served = [0]
    lock = threading.Lock()

    def fail(request: str) -> int | None:
        method, _, target = request.partition(" ")
        if method != "GET" or target.split("?", 1)[0].rsplit("/", 1)[-1] != path:
            return None
        with lock:
            if times is not None and served[0] >= times:
                return None
            served[0] += 1
        return 500
    return fail


@pytest.fixture
def proxy(swarm: SwarmInfo, tmp_path: Path) -> Iterator[CountingProxy]:
    with CountingProxy(upstream=swarm.manager_socket, listen=str(tmp_path / "failing.sock")) as counting:
        yield counting


@pytest.fixture
def running_service(swarm: SwarmInfo, services: Services) -> str:
    name = services.create("--replicas", "2")
    provider = make_provider(swarm.manager)
    try:
        wait_until(lambda: (s := provider.snapshot().service(name)) and s.running == 2, 60, what="2 running")
    finally:
        provider.close()
    return name


def test_tasks_failing_while_services_answer_are_unknown_not_zero(
    running_service: str, proxy: CountingProxy, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    proxy.fail = failing("tasks")
    config = str(write_config(tmp_path / "config.toml", proxy.url))

    result = run_cli(capsys, "--config", config, "status", "--json", "--timeout", "2")

    assert result.code == 1, result.err
    cluster = json.loads(result.out)["clusters"][0]
    assert cluster["reachable"] is True and cluster["complete"] is False
    assert [(gap["what"], gap["part"]) for gap in cluster["missing"]] == [("Swarm tasks", "tasks")]
    assert "500" in cluster["missing"][0]["reason"]
    service = {s["name"]: s for s in cluster["services"]}[running_service]
    # The service list's own counts stand; the tasks are unknown, not an empty list with zero health.
    assert (service["running"], service["desired"]) == (2, 2)
    assert service["tasks_known"] is False and service["tasks"] is None and service["health"] is None
    assert service["rollout"]["updated"] is None  # progress is counted from tasks: unknown, not 0 of 2
    assert service["attention"]["level"] == "none"  # not critical because its tasks could not be read
    assert len(cluster["nodes"]) == 3  # /nodes answered
    assert "pilothouse: incomplete: swarm: Swarm tasks:" in result.err
    assert proxy.failed >= 2  # retried within the timeout before giving up

    text = run_cli(capsys, "--config", config, "status", "--timeout", "1", "--allow-partial")
    assert text.code == 0
    row = next(line for line in text.out.splitlines() if running_service in line)
    assert "2/2" in row and "? tasks unknown" in row
    assert "missing: Swarm tasks" in text.out and "accepted with --allow-partial" in text.err


def test_nodes_failing_are_named_and_not_shown_as_none(
    running_service: str, proxy: CountingProxy, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    proxy.fail = failing("nodes")
    config = str(write_config(tmp_path / "config.toml", proxy.url))
    result = run_cli(capsys, "--config", config, "status", "--json", "--timeout", "1", "--allow-partial")
    assert result.code == 0, result.err
    cluster = json.loads(result.out)["clusters"][0]
    assert cluster["complete"] is False and [gap["what"] for gap in cluster["missing"]] == ["Swarm nodes"]
    service = {s["name"]: s for s in cluster["services"]}[running_service]
    assert service["tasks_known"] is True and len(service["tasks"]) == 2


def test_a_failure_that_passes_within_the_timeout_is_retried_into_a_complete_answer(
    running_service: str, proxy: CountingProxy, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    proxy.fail = failing("tasks", times=2)
    config = str(write_config(tmp_path / "config.toml", proxy.url))
    result = run_cli(capsys, "--config", config, "status", "--json", "--timeout", "20")
    assert result.code == 0, result.err
    cluster = json.loads(result.out)["clusters"][0]
    assert cluster["complete"] is True and cluster["missing"] == []
    assert proxy.failed == 2
    service = {s["name"]: s for s in cluster["services"]}[running_service]
    assert service["tasks_known"] is True and len(service["tasks"]) == 2
