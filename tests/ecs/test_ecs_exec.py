"""Exec on ECS: the refusals said in one line with what to do (no session-manager-plugin; enableExecuteCommand
off on the service or the task), the task and container choice, the ExecuteCommand request as sent (at the
counting proxy: moto does not implement ExecuteCommand, so its answer is canned there) and the plugin run as
the AWS CLI runs it. The real plugin cannot be had here (not on PyPI or in Debian): a recording executable
named session-manager-plugin stands in on PATH, writing down its arguments and exiting with a chosen code.

moto keeps neither a service's nor a task's enableExecuteCommand, nor a container's runtimeId, nor more than
one container per task: the tests set them on its models as AWS would hold them (ecs_world's way)."""

from __future__ import annotations

import copy
import json
import logging
import os
import pty
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from ecs_transport import CountingProxy, Fault, Request
from ecs_world import ProviderFactory, add_instances, moto_service, moto_task, register, run_service_tasks
from terminal import read_until
from toasts import toasts

from pilothouse.providers.base import Action, MutationPlan
from pilothouse.providers.ecs import EcsProvider
from pilothouse.providers.errors import InvalidInput, NotFound, NotSupported, ProviderError
from pilothouse.providers.exec import ExecStreams
from pilothouse.providers.model import Service

pytestmark = pytest.mark.ecs

TOKEN = "AAEAAd-session-token-never-shown-3f9c"
SESSION = {"sessionId": "ecs-execute-command-0a1b2c3d", "streamUrl": "wss://ssmmessages.us-east-1.amazonaws.com/"
           "v1/data-channel/ecs-execute-command-0a1b2c3d?role=publish_subscribe", "tokenValue": TOKEN}
PLUGIN = """#!{python}
import json, os, sys
if sys.argv[1:] == ["--version"]:
    print(os.environ.get("PLUGIN_VERSION", "1.2.707.0"))
    sys.exit(0)
with open(os.environ["PLUGIN_RECORD"], "w") as record:
    json.dump({{"argv": sys.argv[1:], "session": os.environ.get("AWS_SSM_START_SESSION_RESPONSE"),
               "terminal": os.isatty(0) and os.isatty(1)}}, record)
sys.stdout.write("plugin on the terminal\\n")
sys.exit(int(os.environ.get("PLUGIN_EXIT", "0")))
"""


@pytest.fixture
def plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The recording session-manager-plugin, first on PATH; returns where it records."""
    folder = tmp_path / "bin"
    folder.mkdir()
    program = folder / "session-manager-plugin"
    program.write_text(PLUGIN.format(python=sys.executable))
    program.chmod(0o755)
    record = tmp_path / "plugin-record.json"
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.setenv("PLUGIN_RECORD", str(record))
    return record


@pytest.fixture
def shop(admin: Any, ec2: Any) -> dict[str, Any]:
    """Cluster shop: service web (exec enabled, two RUNNING tasks with it) and service plain (without)."""
    admin.create_cluster(clusterName="shop")
    add_instances(admin, ec2, "shop", 1)
    definition = register(admin, "web", "registry.example.com/web:1")
    tasks: dict[str, list[str]] = {}
    for name, enabled in (("web", True), ("plain", False)):
        admin.create_service(cluster="shop", serviceName=name, taskDefinition=definition, desiredCount=2,
                             enableExecuteCommand=enabled)
        tasks[name] = run_service_tasks(admin, "shop", name, definition, 2)
        moto_service("shop", name).enable_execute_command = enabled
        for index, arn in enumerate(tasks[name]):
            task = moto_task(arn)
            task.enable_execute_command = enabled
            task.containers[0].runtime_id = f"{arn.rsplit('/', 1)[-1]}-{index}"
    return tasks


def service(provider: EcsProvider, ref: str = "shop/web") -> Service:
    found = provider.snapshot().service(ref)
    assert found is not None, ref
    return found


def sent_exec(proxy: CountingProxy) -> list[Request]:
    """Every ExecuteCommand as sent, answered with a session as AWS answers it."""
    seen: list[Request] = []

    def answer(request: Request) -> dict[str, Any]:
        seen.append(request)
        body = request.body
        return {"clusterArn": body["cluster"], "taskArn": body["task"], "containerName": body["container"],
                "containerArn": f"{body['task']}/container", "interactive": True, "session": SESSION}

    proxy.answers["ExecuteCommand"] = answer
    return seen


def ready(make_provider: ProviderFactory, proxy: CountingProxy) -> EcsProvider:
    provider = make_provider()
    provider.connect()
    provider.snapshot()
    proxy.reset()
    return provider


def run(provider: EcsProvider, plan: MutationPlan, tmp_path: Path) -> tuple[int, str]:
    out = tmp_path / "terminal"
    with open(os.devnull, "rb") as stdin, open(out, "wb") as stdout:
        code = provider.run_exec(plan, ExecStreams(stdin.fileno(), stdout.fileno(), stdout.fileno()))
    return code, out.read_text()


def test_exec_sends_execute_command_and_runs_the_plugin_as_the_aws_cli(
    shop: dict[str, Any], plugin: Path, proxy: CountingProxy, make_provider: ProviderFactory, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="pilothouse")  # SDK loggers stay at WARNING (console/logsetup.py)
    provider = ready(make_provider, proxy)
    first = shop["web"][0]
    task_id = first.rsplit("/", 1)[-1]
    plan = provider.plan(Action.EXEC, service(provider), task_id=task_id, command=("sh", "-c", "echo hi"))
    assert plan.before.startswith(f"task {task_id} on ") and plan.before.endswith(", container app")
    assert plan.after == "sh -c 'echo hi'"
    assert plan.detail == (f"aws ecs execute-command --cluster shop --task {task_id} --container app "
                           "--interactive --command \"sh -c 'echo hi'\"")
    assert proxy.snapshot_counts().get("ExecuteCommand", 0) == 0  # planning only reads
    assert all(action.startswith(("Describe", "List")) for action in proxy.snapshot_counts())
    sent = sent_exec(proxy)
    monkeypatch.setenv("PLUGIN_EXIT", "4")

    assert run(provider, plan, tmp_path) == (4, "plugin on the terminal\n")

    [request] = sent
    assert request.body == {"cluster": "arn:aws:ecs:us-east-1:123456789012:cluster/shop", "task": first,
                            "container": "app", "command": "sh -c 'echo hi'", "interactive": True}
    record = json.loads(plugin.read_text())
    target = {"Target": f"ecs:shop_{task_id}_{task_id}-0"}
    assert record["argv"] == ["AWS_SSM_START_SESSION_RESPONSE", "us-east-1", "StartSession", "",
                              json.dumps(target), proxy.url]
    assert json.loads(record["session"]) == SESSION  # the token only in the plugin's environment
    assert TOKEN not in plan.describe() + json.dumps(dict(plan.payload)) + caplog.text


def test_an_older_plugin_gets_the_session_as_its_first_argument(
    shop: dict[str, Any], plugin: Path, proxy: CountingProxy, make_provider: ProviderFactory, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PLUGIN_VERSION", "1.2.497.0")  # the last version that cannot read the variable
    provider = ready(make_provider, proxy)
    sent_exec(proxy)
    assert run(provider, provider.plan(Action.EXEC, service(provider)), tmp_path)[0] == 0
    record = json.loads(plugin.read_text())
    assert json.loads(record["argv"][0]) == SESSION and record["session"] is None
    assert record["argv"][2] == "StartSession"


def test_exec_off_on_the_service_is_one_line_with_the_fix(
    shop: dict[str, Any], plugin: Path, proxy: CountingProxy, make_provider: ProviderFactory,
) -> None:
    provider = ready(make_provider, proxy)
    plain = service(provider, "shop/plain")
    proxy.reset()
    with pytest.raises(NotSupported) as raised:
        provider.plan(Action.EXEC, plain)
    assert str(raised.value) == (
        "ECS service shop/plain has enableExecuteCommand off, so no task can take an exec: enable it: "
        "aws ecs update-service --cluster shop --service plain --enable-execute-command --force-new-deployment")
    assert proxy.snapshot_counts() == {"DescribeServices": 1}  # the live flag read, nothing else


def test_a_task_started_before_exec_was_enabled(
    shop: dict[str, Any], plugin: Path, proxy: CountingProxy, make_provider: ProviderFactory,
) -> None:
    old = shop["web"][1]
    moto_task(old).enable_execute_command = False
    provider = ready(make_provider, proxy)
    with pytest.raises(NotSupported, match=f"task {old.rsplit('/', 1)[-1]} was started without "
                                           "enableExecuteCommand .*--force-new-deployment"):
        provider.plan(Action.EXEC, service(provider), task_id=old)  # by ARN
    # Without --task, the task that can take it is picked.
    assert provider.plan(Action.EXEC, service(provider)).payload["task"] == shop["web"][0]


def test_no_plugin_sends_nothing(shop: dict[str, Any], proxy: CountingProxy, make_provider: ProviderFactory,
                                 monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    provider = ready(make_provider, proxy)
    web = service(provider)
    proxy.reset()
    with pytest.raises(NotSupported) as raised:
        provider.plan(Action.EXEC, web)
    text = str(raised.value)
    assert text.startswith("session-manager-plugin is not on PATH, and ECS exec needs it: install AWS's Session "
                           "Manager plugin (https://docs.aws.amazon.com/")
    assert "not on PyPI or in Debian" in text and "\n" not in text
    assert proxy.snapshot_counts() == {}


def test_container_and_task_choice(shop: dict[str, Any], plugin: Path, proxy: CountingProxy,
                                   make_provider: ProviderFactory) -> None:
    for arn in shop["web"]:  # a sidecar beside app, as AWS lists a task's containers
        task = moto_task(arn)
        sidecar = copy.copy(task.containers[0])
        sidecar.name, sidecar.runtime_id = "envoy", "envoy-1"
        task.containers.append(sidecar)
    provider = ready(make_provider, proxy)
    web = service(provider)
    with pytest.raises(InvalidInput) as raised:
        provider.plan(Action.EXEC, web)
    assert str(raised.value).endswith("has 2 containers: app, envoy: choose one with --container NAME")
    with pytest.raises(InvalidInput, match="has no container 'nginx': its containers: app, envoy"):
        provider.plan(Action.EXEC, web, container="nginx")
    plan = provider.plan(Action.EXEC, web, container="envoy")
    assert plan.payload["container"] == "envoy" and plan.payload["runtime_id"] == "envoy-1"
    first = shop["web"][0]
    assert provider.plan(Action.EXEC, web, task_id=first.rsplit("/", 1)[-1][:8],  # an ID prefix, as docker takes
                         container="app").payload["task"] == first
    with pytest.raises(NotFound, match="no task 'abc' in shop/web: its tasks: "):
        provider.plan(Action.EXEC, web, task_id="abc")
    assert proxy.snapshot_counts().get("ExecuteCommand", 0) == 0


def test_execute_command_refused_runs_no_plugin(
    shop: dict[str, Any], plugin: Path, proxy: CountingProxy, make_provider: ProviderFactory, tmp_path: Path,
) -> None:
    provider = ready(make_provider, proxy)
    plan = provider.plan(Action.EXEC, service(provider))
    proxy.faults.append(lambda request: Fault(400, "AccessDeniedException", "User is not authorized to perform: "
                                              "ecs:ExecuteCommand") if request.action == "ExecuteCommand" else None)
    with pytest.raises(ProviderError) as raised:
        run(provider, plan, tmp_path)
    assert "ExecuteCommand" in str(raised.value) and "\n" not in str(raised.value)
    assert not plugin.exists()


# -- the CLI verb end to end (console/exec_verbs.py): the one flow, the audit before ExecuteCommand --


def audit() -> list[dict[str, Any]]:
    path = Path(os.environ["XDG_STATE_HOME"]) / "pilothouse" / "audit.jsonl"
    lines = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
    return [line for line in lines if line["action"] == "exec"]


def test_cli_exec_runs_the_plugin_and_exits_with_its_code(
    shop: dict[str, Any], plugin: Path, proxy: CountingProxy, write_config: Any, capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from pilothouse.console.cli import main

    intent_on_disk: list[bool] = []
    answer = sent_exec(proxy)

    def at_the_proxy(request: Request) -> Fault | None:
        if request.action == "ExecuteCommand":
            intent_on_disk.append([line["result"] for line in audit()] == ["pending"])
        return None

    proxy.faults.append(at_the_proxy)
    monkeypatch.setenv("PLUGIN_EXIT", "6")
    capfd.readouterr()
    code = main(["--config", write_config(), "exec", "aws/shop/web", "--yes", "--", "sh", "-c", "echo hi"])
    out, err = capfd.readouterr()
    assert (code, out) == (6, "plugin on the terminal\n"), err
    assert err.startswith("exec aws/shop/web: task ") and TOKEN not in out + err
    assert intent_on_disk == [True] and len(answer) == 1
    intent, outcome = audit()
    assert intent["after"] == "sh -c 'echo hi'" and outcome["exit_code"] == 6
    assert TOKEN not in json.dumps(audit())


def test_cli_refusals_send_no_execute_command(
    shop: dict[str, Any], plugin: Path, proxy: CountingProxy, write_config: Any,
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    from pilothouse.console.cli import main

    def cli(*argv: str, readonly: bool = False) -> tuple[int, str]:
        code = main(["--config", write_config(readonly=readonly), "exec", *argv])
        return code, capsys.readouterr().err

    code, err = cli("aws/shop/web", "--yes", "--", "ls", readonly=True)
    assert code == 2 and err.count("\n") == 1 and "exec refused" in err
    code, err = cli("aws/shop/plain", "--yes", "--", "ls")
    assert code == 2 and err.count("\n") == 1
    assert err.rstrip().endswith("aws ecs update-service --cluster shop --service plain --enable-execute-command "
                                 "--force-new-deployment")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    code, err = cli("aws/shop/web", "--yes", "--", "ls")
    assert code == 2 and err.count("\n") == 1 and "session-manager-plugin is not on PATH" in err
    assert proxy.snapshot_counts().get("ExecuteCommand", 0) == 0


def test_no_running_task_is_refused_before_anything_is_read(
    shop: dict[str, Any], plugin: Path, proxy: CountingProxy, make_provider: ProviderFactory,
) -> None:
    for arn in shop["web"]:
        moto_task(arn).last_status = "STOPPED"
    provider = ready(make_provider, proxy)
    web = service(provider)
    proxy.reset()
    assert provider.refusal(Action.EXEC, web) == "shop/web has no RUNNING task to exec into"
    with pytest.raises(NotSupported, match="no RUNNING task"):
        provider.plan(Action.EXEC, web)
    assert proxy.snapshot_counts() == {}


def test_cli_shell_hands_the_terminal_to_the_plugin(
    shop: dict[str, Any], plugin: Path, proxy: CountingProxy, write_config: Any, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`pilothouse exec` with no command, on a terminal: confirmed, ExecuteCommand for /bin/sh, then the plugin
    runs on that same terminal (its stdin and stdout are the TTY) and its exit code is pilothouse's."""
    sent = sent_exec(proxy)
    monkeypatch.setenv("PLUGIN_EXIT", "9")
    config = write_config()
    pid, terminal = pty.fork()
    if pid == 0:  # the child: pilothouse on the pty, as an operator runs it
        os.execvpe(sys.executable, [sys.executable, "-m", "pilothouse", "--config", config, "exec", "aws/shop/web"],
                   os.environ)
    try:
        assert b"[y/N]" in read_until(terminal, b"[y/N]", timeout=60)
        os.write(terminal, b"y\n")
        assert b"plugin on the terminal" in read_until(terminal, b"plugin on the terminal", timeout=60)
        _, status = os.waitpid(pid, 0)
        pid = 0
        assert os.waitstatus_to_exitcode(status) == 9
    finally:
        if pid:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
        os.close(terminal)
    [request] = sent
    assert request.body["command"] == "/bin/sh" and request.body["interactive"] is True
    record = json.loads(plugin.read_text())
    assert record["terminal"] and record["argv"][2] == "StartSession"


async def test_exec_key_in_the_console(shop: dict[str, Any], plugin: Path, proxy: CountingProxy,
                                       monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The ! key: on a service without enableExecuteCommand a toast says so with the fix and nothing is sent; on
    web the confirmation, then the plugin on the handed-over terminal and its exit code in a toast."""
    from pilothouse.console.app import PilothouseApp
    from pilothouse.console.config import AppConfig
    from pilothouse.console.fleet import Fleet
    from pilothouse.console.screens.confirm import ConfirmScreen
    from pilothouse.console.screens.fleet import FleetScreen, row_key
    from pilothouse.providers.base import ClusterConfig

    sent = sent_exec(proxy)
    monkeypatch.setenv("PLUGIN_EXIT", "3")
    cluster = ClusterConfig(name="aws", provider="ecs", refresh_interval=0.5,
                            options={"endpoint_url": proxy.url, "region": "us-east-1"})
    config = AppConfig(clusters=(cluster,))
    app = PilothouseApp(Fleet(config), config)
    out_r, out_w = os.pipe()
    handed: list[str] = []

    @contextmanager
    def terminal() -> Iterator[ExecStreams]:  # the seam a headless driver cannot suspend for real
        handed.append("suspended")
        with open(os.devnull, "rb") as stdin:
            yield ExecStreams(stdin=stdin.fileno(), stdout=out_w, stderr=out_w)
        handed.append("resumed")

    app.terminal_session = terminal  # type: ignore[method-assign]

    def said() -> str:
        return " | ".join(f"{toast.title}: {toast.message}" for toast in toasts(app))

    async def press_exec_on(pilot: Any, name: str) -> None:
        for _ in range(300):
            snapshot = app.state.get("aws")
            found = snapshot.service(f"shop/{name}") if snapshot else None
            if found and isinstance(app.screen, FleetScreen) and app.screen.table.move_to_key(row_key("aws", found.id)):
                break
            await pilot.pause(0.05)
        await pilot.pause()
        await pilot.press("exclamation_mark")

    async def until(pilot: Any, predicate: Any, what: str) -> None:
        for _ in range(300):
            if predicate():
                return
            await pilot.pause(0.05)
        raise AssertionError(f"timed out waiting for {what}; toasts: {said()}")

    async with app.run_test(size=(160, 50), notifications=True) as pilot:
        await press_exec_on(pilot, "plain")
        await until(pilot, lambda: "--enable-execute-command --force-new-deployment" in said(), "the refusal")
        await press_exec_on(pilot, "web")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the exec confirmation")
        assert not sent and not handed
        await pilot.press("y")
        await until(pilot, lambda: handed == ["suspended", "resumed"], "the session")
        await until(pilot, lambda: "exited with code 3" in said(), "the exit code toast")
    os.close(out_w)
    with os.fdopen(out_r, "rb") as output:
        assert output.read() == b"plugin on the terminal\n"
    assert len(sent) == 1 and sent[0].body["command"] == "/bin/sh"
