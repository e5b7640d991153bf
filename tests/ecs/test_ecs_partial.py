"""Throttling in front of moto, as a new user met it (issue 20): 2 ECS clusters x 65 services behind a proxy
that throttles a fixed share of every ECS request (ThrottleShare: deterministic, counted).

One-shot `status` retries (adaptive mode, within --timeout) into a complete answer at 30%, says exactly what
is missing and exits 1 at 60% with a short --timeout, and never exits 0 with an ECS cluster missing."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from ecs_transport import THROTTLE, CountingProxy, Fault, Request, ThrottleShare
from ecs_world import REGION, build_fleet
from textual.pilot import Pilot

from pilothouse.console.app import PilothouseApp
from pilothouse.console.cli import main
from pilothouse.console.config import AppConfig
from pilothouse.console.fleet import Fleet
from pilothouse.console.screens.fleet import FleetScreen, row_key
from pilothouse.providers.base import ClusterConfig
from pilothouse.widgets.cluster_header import ClusterHeader

pytestmark = pytest.mark.ecs

CLUSTERS = ("alpha", "beta")
SERVICES = 65


@pytest.fixture
def fleet(admin: Any, ec2: Any) -> None:
    build_fleet(admin, ec2, clusters=CLUSTERS, services=SERVICES, services_with_tasks=6, tasks_each=1, instances=1)


def status(write_config: Any, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any], str]:
    capsys.readouterr()
    code = main(["--config", write_config(), "status", "--json", *args])
    out, err = capsys.readouterr()
    return code, json.loads(out), err


def never_a_silent_gap(code: int, report: dict[str, Any]) -> None:
    """Exit 0 only with every ECS cluster's every service; anything less is named and exits non-zero."""
    (cluster,) = report["clusters"]
    shown = {s["namespace"] for s in cluster["services"]}
    count = len(cluster["services"])
    if code == 0:
        assert cluster["complete"] is True and cluster["missing"] == []
        assert shown == set(CLUSTERS) and count == SERVICES * len(CLUSTERS)
        assert all(s["tasks_known"] and not s["stale"] for s in cluster["services"])
    else:
        assert cluster["complete"] is False
        if cluster["reachable"]:
            named = " ".join(gap["what"] for gap in cluster["missing"])
            for name in set(CLUSTERS) - shown:
                assert f"ECS cluster {name}" in named, f"{name} missing without being named"


@pytest.mark.parametrize("share", [0.0, 0.3])
def test_one_shot_status_retries_into_a_complete_answer(
    fleet: None, proxy: CountingProxy, write_config: Any, capsys: pytest.CaptureFixture[str], share: float,
) -> None:
    throttle = ThrottleShare(share)
    proxy.faults.append(throttle)
    code, report, err = status(write_config, capsys, "--timeout", "60")
    never_a_silent_gap(code, report)
    assert code == 0, err
    assert (throttle.throttled > 0) == (share > 0)  # at 30% requests were refused, and retried
    assert "incomplete" not in err


def test_sixty_percent_with_a_short_timeout_says_what_is_missing_and_exits_1(
    fleet: None, proxy: CountingProxy, write_config: Any, capsys: pytest.CaptureFixture[str],
) -> None:
    throttle = ThrottleShare(0.6)
    proxy.faults.append(throttle)
    code, report, err = status(write_config, capsys, "--timeout", "3")
    never_a_silent_gap(code, report)
    assert code == 1
    (cluster,) = report["clusters"]
    assert cluster["reachable"] and cluster["missing"], err
    assert all(gap["reason"] for gap in cluster["missing"])
    # Nothing missing is filled in: a service with unread tasks says so; no service shows tasks it lacks.
    for service in cluster["services"]:
        assert service["observed"] is not None
        assert (service["tasks"] is None) == (not service["tasks_known"])
    for gap in cluster["missing"]:
        assert f"pilothouse: incomplete: aws: {gap['what']}" in err
    assert "exit 1" in err

    # --allow-partial: the same look exits 0 and still names the gaps.
    throttle.counter = 0
    code, report, err = status(write_config, capsys, "--timeout", "3", "--allow-partial")
    if not report["clusters"][0]["complete"]:
        assert code == 0 and "accepted with --allow-partial" in err


def test_everything_throttled_is_a_clear_exit_1(
    fleet: None, proxy: CountingProxy, write_config: Any, capsys: pytest.CaptureFixture[str],
) -> None:
    proxy.faults.append(ThrottleShare(1.0))
    code, report, err = status(write_config, capsys, "--timeout", "2")
    never_a_silent_gap(code, report)
    assert code == 1
    (cluster,) = report["clusters"]
    assert cluster["services"] == [] and not cluster["reachable"]
    assert "throttled" in (cluster["error"] or "") or "--timeout" in (cluster["error"] or "")
    assert err.startswith("pilothouse:") or err == ""  # one-line report, no traceback
    assert "Traceback" not in err


# -- the console over the same proxy ---------------------------------------------------------------------


def _always(*actions: str) -> Any:
    def rule(request: Request) -> Fault | None:
        return THROTTLE if request.action in actions else None
    return rule


async def _until(pilot: Pilot[Any], predicate: Callable[[], object], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await pilot.pause(0.05)


def _cells(app: PilothouseApp, ref: str) -> list[str]:
    fleet = app.screen
    assert isinstance(fleet, FleetScreen)
    snapshot = app.state.get("aws")
    service = snapshot.service(ref) if snapshot else None
    assert service is not None, ref
    return [cell.text.plain for cell in fleet.table.get_row(row_key("aws", service.id))]


def _header(app: PilothouseApp) -> str:
    return app.screen.query_one(ClusterHeader).plain


async def test_console_marks_unknown_tasks_and_stale_rows_never_zeros(
    fleet: None, proxy: CountingProxy, aws_env: Any, tmp_path: Any,
) -> None:
    # Tasks never readable: the services show, their health is "?", not "-" or zeros.
    proxy.faults.append(_always("ListTasks"))
    cluster = ClusterConfig(name="aws", provider="ecs", refresh_interval=0.2,
                            options={"endpoint_url": proxy.url, "region": REGION})
    config = AppConfig(clusters=(cluster,), audit_log=tmp_path / "audit.jsonl")
    app = PilothouseApp(Fleet(config), config)
    async with app.run_test(size=(160, 50)) as pilot:
        await _until(pilot, lambda: isinstance(app.screen, FleetScreen)
                     and app.screen.table.row_count == SERVICES * len(CLUSTERS), "every service's row")
        with_tasks = _cells(app, "alpha/svc-000")  # moto runs 1 task of it (its runningCount stays 0)
        assert "? unknown" in with_tasks and not with_tasks[1].startswith(("~", "✗"))
        assert "0/1" in with_tasks  # ECS's own count (DescribeServices), not one made of the missing tasks
        header = _header(app)
        assert "PARTIAL" in header and "missing: ECS cluster alpha tasks (ListTasks): throttled by AWS" in header

        # Tasks readable again, then the services throttled: the rows keep their earlier data, marked stale,
        # and the header says from when.
        proxy.faults.clear()
        await _until(pilot, lambda: "? unknown" not in _cells(app, "alpha/svc-000"), "tasks read")
        proxy.faults.append(_always("DescribeServices"))
        # (A refresh already past alpha's DescribeServices when the throttling began marks beta first.)
        await _until(pilot, lambda: all(_cells(app, ref)[1].startswith("~ ")
                                        for ref in ("alpha/svc-000", "beta/svc-064")), "stale marks")
        stale = _cells(app, "alpha/svc-000")
        assert stale[1].startswith("~ ") and "0/1" in stale and "? unknown" not in stale
        assert "showing data from" in _header(app) and "DescribeServices" in _header(app)
        screen = app.screen
        assert isinstance(screen, FleetScreen)
        assert screen.table.row_count == SERVICES * len(CLUSTERS)  # nothing dropped, nothing zeroed


def test_a_denied_call_is_named_at_once_not_retried_until_the_timeout(
    admin: Any, ec2: Any, proxy: CountingProxy, write_config: Any, capsys: pytest.CaptureFixture[str],
) -> None:
    build_fleet(admin, ec2, clusters=("alpha",), services=3, services_with_tasks=1, tasks_each=1, instances=1)
    proxy.faults.append(lambda request: Fault(400, "AccessDeniedException", "not allowed")
                        if request.action == "ListContainerInstances" else None)
    code, report, err = status(write_config, capsys, "--timeout", "30")
    assert code == 1 and "pilothouse: incomplete: aws: ECS cluster alpha container instances" in err
    (cluster,) = report["clusters"]
    assert [gap["what"] for gap in cluster["missing"]] == ["ECS cluster alpha container instances "
                                                           "(ListContainerInstances)"]
    assert cluster["missing"][0]["reason"].startswith("access denied")
    assert proxy.snapshot_counts()["ListContainerInstances"] == 1  # RBAC does not change in a retry
    assert all(service["tasks_known"] for service in cluster["services"])
