"""The write-ahead audit and the replica bounds, proved at the transport: the intent line is on disk when the
PATCH arrives; when it cannot be written, nothing mutating reaches the server (CLI and console alike); a
change that was sent is never reported as refused, and a failed one never as done."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from apiserver import ApiServer
from k8s_support import run, write_config
from test_k8s_cli import seed
from toasts import toasts as shown

from pilothouse.console.app import PilothouseApp
from pilothouse.console.audit import default_audit_path
from pilothouse.console.config import AppConfig
from pilothouse.console.fleet import Fleet
from pilothouse.console.screens.confirm import ConfirmScreen
from pilothouse.console.screens.fleet import FleetScreen, row_key
from pilothouse.providers.base import ClusterConfig

pytestmark = pytest.mark.kubernetes

IS_ROOT = os.geteuid() == 0


@pytest.fixture
def tiny_tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 16 KiB tmpfs of our own: fills up, or is remounted read-only, without touching the machine."""
    if not IS_ROOT:
        pytest.skip("mounting a tmpfs needs root")
    mount = tmp_path / "tiny"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16k,mode=0700", "tmpfs", str(mount)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(mount: Path) -> None:
    fd = os.open(mount / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while os.write(fd, b"x" * 4096):
            pass
    except OSError:
        pass  # ENOSPC: full, as wanted
    finally:
        os.close(fd)


Setup = Callable[[Path, pytest.MonkeyPatch, Path], tuple[str, Path, str]]


def _audit_is_a_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mount: Path) -> tuple[str, Path, str]:
    path = tmp_path / "audit-dir"
    path.mkdir()
    return f'audit_log = "{path}"\n', path, "Is a directory"


def _audit_under_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mount: Path) -> tuple[str, Path, str]:
    (tmp_path / "plain").write_text("a file, not a directory\n")
    path = tmp_path / "plain" / "audit.jsonl"
    return f'audit_log = "{path}"\n', path, "Not a directory"


def _state_home_under_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                             mount: Path) -> tuple[str, Path, str]:
    (tmp_path / "plain").write_text("a file\n")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "plain" / "state"))
    return "", default_audit_path(), "Not a directory"


def _state_home_read_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mount: Path) -> tuple[str, Path, str]:
    subprocess.run(["mount", "-o", "remount,ro", str(mount)], check=True)
    monkeypatch.setenv("XDG_STATE_HOME", str(mount / "state"))
    return "", default_audit_path(), "Read-only file system"


def _disk_full(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mount: Path) -> tuple[str, Path, str]:
    (mount / "state" / "pilothouse").mkdir(parents=True)
    _fill(mount)
    monkeypatch.setenv("XDG_STATE_HOME", str(mount / "state"))
    return "", default_audit_path(), "No space left on device"


PLAIN: dict[str, Setup] = {"audit_log is a directory": _audit_is_a_directory,
                           "audit_log under a regular file": _audit_under_a_file,
                           "XDG_STATE_HOME under a regular file": _state_home_under_a_file}
MOUNTED: dict[str, Setup] = {"XDG_STATE_HOME read-only": _state_home_read_only, "disk full": _disk_full}


def _unwritable(request: pytest.FixtureRequest, name: str, tmp_path: Path,
                monkeypatch: pytest.MonkeyPatch) -> tuple[str, Path, str]:
    if name in MOUNTED:
        return MOUNTED[name](tmp_path, monkeypatch, request.getfixturevalue("tiny_tmpfs"))
    return PLAIN[name](tmp_path, monkeypatch, tmp_path)


@pytest.mark.parametrize("case", [*PLAIN, *MOUNTED])
@pytest.mark.parametrize("verb", [("scale", "k8s/prod/web", "5"), ("rollback", "k8s/prod/web")])
def test_cli_sends_nothing_when_the_intent_cannot_be_written(
    apiserver: ApiServer, kubeconfig: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str], request: pytest.FixtureRequest, case: str, verb: tuple[str, ...],
) -> None:
    seed(apiserver)
    extra, path, reason = _unwritable(request, case, tmp_path, monkeypatch)
    config = write_config(tmp_path / "config.toml", kubeconfig)
    config.write_text(extra + config.read_text())  # top-level keys come before [[clusters]]
    code, out, err = run(capsys, "--config", str(config), *verb, "--yes")
    assert code == 1, (out, err)
    lines = err.splitlines()
    assert lines[-1] == (f"pilothouse: error: {verb[0]} refused: cannot write the audit log {path}: {reason}; "
                         "nothing sent: fix the path or audit_log in the config"), err
    assert "Traceback" not in err
    assert apiserver.state.mutating_requests() == 0
    assert apiserver.state.get("deployments", "prod", "web")["spec"]["replicas"] == 3


def _audit(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.is_file() else []


def test_the_intent_is_on_disk_when_the_patch_arrives(apiserver: ApiServer, kubeconfig: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    seed(apiserver)
    audit = default_audit_path()
    seen: list[tuple[str, list[dict[str, Any]]]] = []

    def at_arrival(method: str, path: str) -> int | None:
        if method != "GET":
            seen.append((method, _audit(audit)))
        return None

    apiserver.state.on_request = at_arrival
    code, _, err = run(capsys, "--config", str(write_config(tmp_path / "c.toml", kubeconfig)),
                       "scale", "k8s/prod/web", "5", "--yes")
    assert code == 0, err
    assert seen, "no mutating request reached the server"
    for _, lines in seen:
        (intent,) = lines
        assert (intent["phase"], intent["result"], intent["before"], intent["after"]) == ("intent", "pending", "3", "5")
    intent, outcome = _audit(audit)
    assert (outcome["phase"], outcome["result"], outcome["attempt"]) == ("outcome", "ok", intent["attempt"])
    assert apiserver.state.get("deployments", "prod", "web")["spec"]["replicas"] == 5


def _break_audit_on_patch(apiserver: ApiServer, audit: Path, keep: Path) -> None:
    """When the change arrives, the audit file turns into a directory: the outcome line cannot follow."""

    def at_arrival(method: str, path: str) -> int | None:
        if method in ("PATCH", "PUT") and audit.is_file():
            audit.rename(keep)
            audit.mkdir()
        return None

    apiserver.state.on_request = at_arrival


def test_cli_a_sent_change_whose_outcome_cannot_be_written_says_it_was_sent(
    apiserver: ApiServer, kubeconfig: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    seed(apiserver)
    audit = default_audit_path()
    _break_audit_on_patch(apiserver, audit, tmp_path / "kept.jsonl")
    code, out, err = run(capsys, "--config", str(write_config(tmp_path / "c.toml", kubeconfig)),
                         "scale", "k8s/prod/web", "5", "--yes")
    assert code == 0, err
    assert "scaled" in out and "k8s/prod/web" in out
    assert err.startswith("pilothouse: warning: the change WAS sent, but its outcome is not in the audit log: "
                          f"cannot write the audit log {audit}: Is a directory"), err
    assert err.count("\n") == 1
    assert apiserver.state.get("deployments", "prod", "web")["spec"]["replicas"] == 5
    (intent,) = _audit(tmp_path / "kept.jsonl")
    assert intent["result"] == "pending"


@pytest.mark.parametrize("replicas", ["2147483648", "99999999999999999999", "9" * 400])
def test_force_never_sends_a_count_the_api_cannot_take(apiserver: ApiServer, kubeconfig: Path, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str], replicas: str) -> None:
    seed(apiserver)
    config = str(write_config(tmp_path / "c.toml", kubeconfig))
    code, out, err = run(capsys, "--config", config, "scale", "k8s/prod/web", replicas, "--force", "--yes")
    assert code == 2, (out, err)
    assert err.count("\n") == 1 and "2147483647" in err and len(err) < 200, err
    assert "--force does not lift" in err or "far beyond" in err
    assert sum(apiserver.state.methods.values()) == 0  # refused before anything was asked of the cluster
    code, out, err = run(capsys, "--config", config, "scale", "k8s/prod/web", "2147483647", "--force", "--yes")
    assert code == 0, err
    assert apiserver.state.get("deployments", "prod", "web")["spec"]["replicas"] == 2147483647


# -- the console ---------------------------------------------------------------------------------------


async def _press_plus_and_confirm(apiserver: ApiServer, kubeconfig: Path, audit_log: Path | None,
                                  ) -> tuple[PilothouseApp, list[tuple[str, str, str]]]:
    """+1 on prod/web, answer yes; the toasts (severity, title, message) once the flow has ended."""
    cluster = ClusterConfig(name="k8s", provider="kubernetes", refresh_interval=0.5,
                            options={"kubeconfig": str(kubeconfig)})
    config = AppConfig(clusters=(cluster,), audit_log=audit_log)
    app = PilothouseApp(Fleet(config), config)
    toasts: list[tuple[str, str, str]] = []
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        for _ in range(400):
            if isinstance(app.screen, FleetScreen) and app.screen.table.row_count >= 3:
                break
            await pilot.pause(0.05)
        fleet = app.screen
        assert isinstance(fleet, FleetScreen) and fleet.table.row_count >= 3
        web = app.state.clusters["k8s"].service("prod/web")
        assert web is not None and fleet.table.move_to_key(row_key("k8s", web.id))
        await pilot.press("plus")
        for _ in range(400):
            if isinstance(app.screen, ConfirmScreen):
                break
            await pilot.pause(0.05)
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        for _ in range(400):  # the flow ends with one toast that is not the audit warning
            toasts = [(n.severity, n.title, n.message) for n in shown(app)]
            if any(title != "Audit log" for _, title, _ in toasts):
                break
            await pilot.pause(0.05)
        await pilot.pause(0.2)
        toasts = [(n.severity, n.title, n.message) for n in shown(app)]
    return app, toasts


@pytest.mark.parametrize("case", [*PLAIN, *MOUNTED])
async def test_console_sends_nothing_when_the_intent_cannot_be_written(
    apiserver: ApiServer, kubeconfig: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest, case: str,
) -> None:
    seed(apiserver)
    extra, path, reason = _unwritable(request, case, tmp_path, monkeypatch)
    audit_log = path if extra else None
    _, toasts = await _press_plus_and_confirm(apiserver, kubeconfig, audit_log)
    assert apiserver.state.mutating_requests() == 0
    assert apiserver.state.get("deployments", "prod", "web")["spec"]["replicas"] == 3
    (toast,) = toasts
    assert toast[0] == "error" and toast[1] == "Refused · k8s"
    assert f"cannot write the audit log {path}: {reason}; nothing sent" in toast[2]


async def test_console_a_failed_send_is_a_failure_never_refused(apiserver: ApiServer, kubeconfig: Path) -> None:
    seed(apiserver)
    apiserver.state.on_request = lambda method, path: 500 if method in ("PATCH", "PUT") else None
    _, toasts = await _press_plus_and_confirm(apiserver, kubeconfig, None)
    assert apiserver.state.methods["PATCH"] + apiserver.state.methods["PUT"] >= 1
    (toast,) = toasts
    assert toast[0] == "error" and toast[1] == "Failed · k8s", toasts
    intent, outcome = _audit(default_audit_path())
    assert intent["result"] == "pending" and outcome["result"].startswith("failed: ")


async def test_console_a_sent_change_with_an_unwritable_outcome_is_done_plus_a_warning(
    apiserver: ApiServer, kubeconfig: Path, tmp_path: Path,
) -> None:
    seed(apiserver)
    audit = default_audit_path()
    _break_audit_on_patch(apiserver, audit, tmp_path / "kept.jsonl")
    _, toasts = await _press_plus_and_confirm(apiserver, kubeconfig, None)
    assert apiserver.state.get("deployments", "prod", "web")["spec"]["replicas"] == 4
    by_title = {title: (severity, message) for severity, title, message in toasts}
    assert set(by_title) == {"Done · k8s", "Audit log"}, toasts
    assert by_title["Done · k8s"][0] == "information"
    assert by_title["Audit log"] == ("warning", "the change WAS sent, but its outcome is not in the audit log: "
                                                f"cannot write the audit log {audit}: Is a directory")
