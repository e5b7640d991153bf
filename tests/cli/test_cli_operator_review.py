"""Operator review of the CLI: filters that cannot match, replica counts, no-op scales, options that do
nothing, health wording, closed pipes, and what a cancelled confirmation exits with and leaves in the audit."""

from __future__ import annotations

import os
import pty
import signal
import subprocess
import sys

import pytest
from cli_support import audit_lines, run
from terminal import read_until

pytestmark = pytest.mark.usefixtures("no_detected_clusters")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["events", "--service", "demo-swarm/nope"], "no service 'nope' in cluster demo-swarm"),
        (["events", "--service", "demo-swarm/shop_wbe"], "did you mean shop_web"),
        (["events", "--service", "nowhere/web"], "unknown cluster 'nowhere'"),
        (["events", "--cluster", "nowhere"], "unknown cluster 'nowhere'"),
        (["events", "--kind", "nope"], "unknown event kind 'nope'"),
        (["events", "--kind", "update", "--kind", "nope"], "unknown event kind 'nope'"),
        (["events", "--cluster", "demo-k8s", "--service", "demo-swarm/shop_web"], "is not in --cluster demo-k8s"),
        (["scale", "demo-swarm/shop_web", "+3"], "replicas is an absolute count"),
        (["scale", "demo-swarm/shop_web", "-3"], "replicas cannot be negative (-3)"),
        (["scale", "demo-swarm/shop_web", "\uff13"], "digits 0-9"),
        (["rollout", "demo-swarm/shop_api", "--timeout", "5"], "--timeout only applies with --watch"),
        (["rollout", "demo-swarm/shop_api", "--timeout", "0"], "--timeout only applies with --watch"),
    ],
)
def test_input_that_cannot_mean_what_it_says_is_one_line_exit_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, out, err = run(capsys, *argv, "--demo")
    assert code == 2, (out, err)
    assert out == "" and err.count("\n") == 1 and err.startswith("pilothouse: error: ")
    assert message in err
    assert audit_lines() == []


def test_events_filters_that_match_still_work(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "events", "--demo", "--service", "demo-swarm/shop_api", "--kind", "update")
    assert code == 0 and "service shop_api: rolling update started" in out
    code, out, _ = run(capsys, "events", "--demo", "--cluster", "demo-k8s", "--kind", "audit")
    assert code == 0 and out == ""  # a kind that exists but has no event now is an empty timeline


def test_events_of_a_service_known_only_from_its_history(capsys: pytest.CaptureFixture[str]) -> None:
    # Not running now, but the audit log names it: its history is what the operator is after.
    code, _, _ = run(capsys, "--readonly", "scale", "demo-swarm/gone", "3", "--yes", "--demo")
    assert code == 2
    code, out, err = run(capsys, "events", "--demo", "--service", "demo-swarm/gone")
    assert code == 0, err
    assert "scale to 3: refused: the console runs with --readonly" in out and "refused: scale refused" not in out


def test_scaling_to_the_current_count_sends_and_audits_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "scale", "demo-swarm/shop_web", "7", "--yes", "--demo")
    assert code == 0, err
    assert out == "demo-swarm/shop_web already has 7 replicas; nothing sent\n"
    assert audit_lines() == []


def test_the_success_line_names_cluster_and_service(capsys: pytest.CaptureFixture[str]) -> None:
    # demo-k8s and demo-ecs both have prod/web.
    code, out, err = run(capsys, "scale", "demo-k8s/prod/web", "3", "--yes", "--demo")
    assert code == 0, err
    assert out.splitlines()[-1] == "scaled demo-k8s/prod/web from 7 to 3"
    code, out, err = run(capsys, "rollback", "demo-ecs/prod/web", "--yes", "--demo")
    assert code == 0, err
    assert out.splitlines()[-1].startswith("rolled back demo-ecs/prod/web ")


def test_rollout_watch_takes_a_timeout(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "rollout", "demo-swarm/shop_web", "--watch", "--timeout", "5", "--demo")
    assert code == 0, err
    assert "demo-swarm/shop_web" in out


def test_status_says_when_a_service_has_no_health_check(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "status", "--demo", "--cluster", "demo-swarm")
    assert code == 0
    # A header row and aligned columns (kubectl's way): rows are keyed by the SERVICE column.
    lines = out.splitlines()
    header = next(index for index, line in enumerate(lines) if line.startswith("CLUSTER "))
    assert lines[header].split() == ["CLUSTER", "SERVICE", "ATTENTION", "RUNNING", "HEALTH", "IMAGE", "ROLLOUT"]
    rows = {line.split()[1]: line for line in lines[header + 1:]}
    start = lines[header].index("HEALTH")
    assert all(line[start - 3:start] == "   " and line[start] != " " for line in rows.values())
    assert "no health check" in rows["shop_worker"] and "ok 0" not in rows["shop_worker"]
    assert "ok 7 bad 0 starting 0" in rows["shop_web"]
    assert "ok 6 bad 1 starting 0" in rows["shop_payments"]


def _with_closed_stdout(*argv: str) -> subprocess.CompletedProcess[str]:
    """The command writing into a pipe whose reader has already gone (`... | head`, head done)."""
    read, write = os.pipe()
    os.close(read)
    try:
        return subprocess.run([sys.executable, "-m", "pilothouse", *argv], stdout=write, stderr=subprocess.PIPE,
                              text=True, check=False, timeout=60)
    finally:
        os.close(write)


def test_a_closed_pipe_does_not_mask_the_doctor_gate() -> None:
    gated = _with_closed_stdout("doctor", "--fail-on", "high", "--demo")
    assert gated.returncode == 1, gated.stderr
    assert gated.stderr == ""
    passed = _with_closed_stdout("status", "--demo")
    assert passed.returncode == 0 and passed.stderr == ""
    events = _with_closed_stdout("events", "--demo", "--json")
    assert events.returncode == 0 and events.stderr == ""


def _prompted_scale() -> tuple[subprocess.Popen[bytes], int]:
    controller, terminal = pty.openpty()
    child = subprocess.Popen([sys.executable, "-m", "pilothouse", "scale", "demo-swarm/shop_web", "5", "--demo"],
                             stdin=terminal, stdout=terminal, stderr=terminal)
    os.close(terminal)
    seen = read_until(controller, b"[y/N]", timeout=30)
    assert b"[y/N]" in seen, seen
    return child, controller


def test_answering_no_exits_1_and_is_audited() -> None:
    child, controller = _prompted_scale()
    try:
        os.write(controller, b"n\n")
        code = child.wait(timeout=10)
        tail = read_until(controller, b"nothing changed", timeout=2)
    finally:
        if child.poll() is None:
            child.kill()
        os.close(controller)
    assert code == 1
    assert b"cancelled; nothing changed" in tail
    (entry,) = audit_lines()
    assert (entry["action"], entry["before"], entry["after"], entry["result"]) == ("scale", "7", "5", "cancelled")


def test_ctrl_c_at_the_prompt_exits_130_and_is_audited() -> None:
    child, controller = _prompted_scale()
    try:
        child.send_signal(signal.SIGINT)
        code = child.wait(timeout=10)
        tail = read_until(controller, b"interrupted", timeout=2)
    finally:
        if child.poll() is None:
            child.kill()
        os.close(controller)
    assert code == 130
    assert b"pilothouse: interrupted" in tail and b"Traceback" not in tail
    (entry,) = audit_lines()
    assert (entry["action"], entry["after"], entry["result"]) == ("scale", "5", "cancelled: interrupted")
