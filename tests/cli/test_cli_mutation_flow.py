"""The CLI side of the one mutation flow: where a refusal comes from is named, a confirmation that cannot be
asked is an audited refusal, and files the console writes are private."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cli_support import audit_lines, run

from pilothouse.console.audit import demo_audit_path
from pilothouse.console.config import state_home


def test_a_config_readonly_names_the_file_not_a_flag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "config.toml"
    config.write_text("readonly = true\n")
    code, out, err = run(capsys, "--config", str(config), "scale", "demo-swarm/shop_web", "5", "--yes", "--demo")
    assert code == 2 and out == ""
    assert err == f"pilothouse: error: scale refused: readonly = true in {config}\n"
    (entry,) = audit_lines()
    assert entry["result"] == f"refused: readonly = true in {config}"


def test_no_terminal_to_confirm_on_is_an_audited_refusal(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "pilothouse", "scale", "demo-swarm/shop_web", "5", "--demo"],
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines()[-1] == ("pilothouse: error: confirmation needed but stdin is not a terminal: "
                                            "pass --yes to confirm")
    (entry,) = audit_lines()
    assert (entry["action"], entry["before"], entry["after"]) == ("scale", "7", "5")
    assert entry["result"] == "refused: confirmation needed but stdin is not a terminal: pass --yes to confirm"


def test_state_files_are_private_and_the_log_does_not_repeat_the_audit(capsys: pytest.CaptureFixture[str]) -> None:
    state = state_home()
    state.mkdir(parents=True, mode=0o755)
    os.chmod(state, 0o755)  # an existing, too lax directory is tightened
    log = state / "pilothouse.log"
    log.write_text("")
    os.chmod(log, 0o644)
    code, _, err = run(capsys, "scale", "demo-swarm/shop_web", "5", "--yes", "--demo")
    assert code == 0, err
    for path in (demo_audit_path(), log):  # the demo's mutations are audited to the demo's own log
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    text = log.read_text()
    assert "7 -> 5" not in text and "shop_web" not in text


@pytest.mark.parametrize("kind", ["directory", "unreadable"])
def test_events_with_an_audit_log_it_cannot_read_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                             monkeypatch: pytest.MonkeyPatch, kind: str) -> None:
    # The demo reads (and writes) its own audit log, never the configured one: the obstacle is put there.
    if kind == "directory":
        demo_audit_path().mkdir(parents=True)
        reason = "Is a directory"
    else:
        monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
        (tmp_path / "state").mkdir()
        state_home().write_text("")  # the state dir is a plain file
        reason = "Not a directory"
    audit = demo_audit_path()
    config = tmp_path / "config.toml"
    config.write_text("")
    code, out, err = run(capsys, "--config", str(config), "events", "--demo")
    assert code == 1 and out == ""
    assert err == f"pilothouse: error: cannot read the audit log {audit}: {reason}: check audit_log in the config\n"


def test_a_refusal_that_cannot_be_audited_says_both_on_one_line(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    audit = demo_audit_path()  # the demo's audit log
    audit.mkdir(parents=True)
    config = tmp_path / "config.toml"
    config.write_text("readonly = true\n")
    code, out, err = run(capsys, "--config", str(config), "rollback", "demo-k8s/prod/web", "--yes", "--demo")
    assert code == 2 and out == ""
    assert err == (f"pilothouse: error: rollback refused: readonly = true in {config} (not in the audit log: "
                   f"cannot write the audit log {audit}: Is a directory)\n")
