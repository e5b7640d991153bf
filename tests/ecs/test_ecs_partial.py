"""Throttling in front of moto, as a new user met it (issue 20): 2 ECS clusters x 65 services behind a proxy
that throttles a fixed share of every ECS request (ThrottleShare: deterministic, counted).

One-shot `status` retries (adaptive mode, within --timeout) into a complete answer at 30%, says exactly what
is missing and exits 1 at 60% with a short --timeout, and never exits 0 with an ECS cluster missing."""

from __future__ import annotations

import json
from typing import Any

import pytest
from ecs_transport import CountingProxy, ThrottleShare
from ecs_world import build_fleet

from pilothouse.console.cli import main

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
