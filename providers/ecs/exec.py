"""Exec into an ECS task's container: ExecuteCommand, then AWS's session-manager-plugin on our terminal (what
`aws ecs execute-command --interactive` does).

plan_exec (reads only) refuses in one line what cannot work, with what to do: no session-manager-plugin on
PATH (AWS ships it; it is not on PyPI or in Debian), or `enableExecuteCommand` off on the service or on the
task (tasks started before it was enabled keep it off until replaced), or the task's ExecuteCommandAgent not
running. It picks a RUNNING task (or the one named by ARN or ID) and its container (several and none named
is bad input listing them).

run_exec calls ExecuteCommand(interactive=True) and runs the plugin with the arguments the AWS CLI passes it:
the session, the region, "StartSession", the profile, {"Target": "ecs:CLUSTER_TASKID_RUNTIMEID"} and the ECS
endpoint. The session (its token) goes through the AWS_SSM_START_SESSION_RESPONSE variable when the plugin is
new enough to read it (as `aws ssm start-session` does), so no other user sees it in the process list; it is
never logged, printed or kept in the plan. The plugin owns the terminal (it sets raw mode itself) and its exit
code is returned: SSM does not carry the remote command's own code back.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import threading
from collections.abc import Iterator

from pilothouse.providers.base import Action, MutationPlan
from pilothouse.providers.ecs.actions import live_service
from pilothouse.providers.ecs.client import AwsClients
from pilothouse.providers.ecs.raw import Raw, as_str, dicts, short_id
from pilothouse.providers.errors import InvalidInput, NotFound, NotSupported, ProviderError
from pilothouse.providers.exec import DEFAULT_SHELL, ExecStreams, command_text, one_of
from pilothouse.providers.model import Service, TaskState

PLUGIN = "session-manager-plugin"
PLUGIN_SOURCE = ("install AWS's Session Manager plugin (https://docs.aws.amazon.com/systems-manager/latest/"
                 "userguide/session-manager-working-with-install-plugin.html; it is not on PyPI or in Debian)")
# Plugins after this version read the session from the variable named in place of the session JSON.
LAST_PLUGIN_VERSION_WITHOUT_ENV_VAR = (1, 2, 497, 0)
SESSION_VARIABLE = "AWS_SSM_START_SESSION_RESPONSE"
AGENT = "ExecuteCommandAgent"


def plugin_path() -> str:
    path = shutil.which(PLUGIN)
    if path is None:
        raise NotSupported(f"{PLUGIN} is not on PATH, and ECS exec needs it", PLUGIN_SOURCE)
    return path


def enable_hint(cluster: str, service: str) -> str:
    return (f"enable it: aws ecs update-service --cluster {cluster} --service {service} "
            "--enable-execute-command --force-new-deployment")


def refusal(service: Service) -> str | None:
    """Why no task of `service` can take an exec now, from the snapshot alone (pure: the UI asks it)."""
    if service.tasks_known and not any(task.state is TaskState.RUNNING for task in service.tasks):
        return f"{service.ref} has no RUNNING task to exec into"
    return None


def _tasks_to_try(service: Service, task_id: str) -> list[str]:
    ids = [task.id for task in service.tasks]
    text = task_id.strip()
    if text:
        return [one_of(ids, short_id(text), "task", service.ref)]
    running = [task.id for task in service.tasks if task.state is TaskState.RUNNING]
    if not running:
        raise NotFound(f"{service.ref} has no RUNNING task to exec into",
                       f"see why: pilothouse events --service {service.ref}")
    return running


def pick_container(task: Raw, container: str) -> Raw:
    task_short = short_id(as_str(task.get("taskArn")))
    containers = dicts(task.get("containers"))
    names = [as_str(c.get("name")) for c in containers]
    if container:
        for entry in containers:
            if as_str(entry.get("name")) == container:
                return entry
        raise InvalidInput(f"task {task_short} has no container {container!r}",
                           f"its containers: {', '.join(names) or 'none'}")
    if len(containers) == 1:
        return containers[0]
    raise InvalidInput(f"task {task_short} has {len(containers)} containers: {', '.join(names)}",
                       "choose one with --container NAME")


def _refusal(task: Raw, chosen: Raw, cluster: str, service: str) -> str:
    """Why ExecuteCommand would fail on this task and container ("" = it should work)."""
    status = as_str(task.get("lastStatus")).upper()
    if status != "RUNNING":
        return f"is {status or 'not running'}"
    if not task.get("enableExecuteCommand"):
        return ("was started without enableExecuteCommand (a new deployment replaces it; "
                f"{enable_hint(cluster, service)})")
    for agent in dicts(chosen.get("managedAgents")):
        agent_status = as_str(agent.get("lastStatus")).upper()
        if as_str(agent.get("name")) == AGENT and agent_status not in ("", "RUNNING"):
            return f"has its {AGENT} {agent_status} in container {as_str(chosen.get('name'))}"
    return ""


def plan_exec(api: AwsClients, cluster_name: str, service: Service, *, task_id: str, container: str,
              command: tuple[str, ...], tty: bool) -> MutationPlan:
    if not all(isinstance(word, str) for word in command):
        raise InvalidInput("the command must be a list of words")
    plugin_path()
    live = live_service(api, service)
    cluster = as_str(live.get("clusterArn")) or service.namespace
    cluster_short, service_short = short_id(cluster), as_str(live.get("serviceName")) or service.name
    if not live.get("enableExecuteCommand"):
        raise NotSupported(f"ECS service {service.ref} has enableExecuteCommand off, so no task can take an exec",
                           enable_hint(cluster_short, service_short))
    explicit = bool(task_id.strip())
    candidates = _tasks_to_try(service, task_id)[:100]  # DescribeTasks takes 100
    described = {short_id(as_str(t.get("taskArn"))): t
                 for t in dicts(api.call("describe_tasks", cluster=cluster, tasks=candidates).get("tasks"))}
    nodes = {task.id: task.node_name for task in service.tasks}
    reasons: list[str] = []
    for task_short in candidates:
        task = described.get(task_short)
        if task is None:
            reasons.append(f"{task_short} is gone")
            continue
        chosen = pick_container(task, container)
        reason = _refusal(task, chosen, cluster_short, service_short)
        if reason:
            if explicit:
                raise NotSupported(f"task {task_short} {reason}")
            reasons.append(f"{task_short} {reason}")
            continue
        name = as_str(chosen.get("name"))
        text = command_text(command)
        return MutationPlan(
            Action.EXEC, cluster_name, service.ref, as_str(live.get("serviceArn")) or service.id,
            before=f"task {task_short} on {nodes.get(task_short) or 'Fargate'}, container {name}",
            after=text,
            detail=(f"aws ecs execute-command --cluster {cluster_short} --task {task_short} --container {name} "
                    f"--interactive --command {json.dumps(text)}"),
            payload={"cluster": cluster, "task": as_str(task.get("taskArn")), "container": name,
                     "runtime_id": as_str(chosen.get("runtimeId")), "command": text, "tty": tty},
        )
    raise NotSupported(f"no task of {service.ref} can take an exec", "; ".join(reasons[:3]))


def _plugin_version(path: str) -> tuple[int, ...]:
    try:
        said = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return ()
    text = re.sub(r"\s+", "", said)
    return tuple(int(part) for part in text.split(".")) if re.fullmatch(r"\d+(\.\d+){0,3}", text) else ()


@contextlib.contextmanager
def _keys_to_the_plugin() -> Iterator[None]:
    """Ctrl+C, Ctrl+\\ and Ctrl+Z go to the plugin (which sends them on), not to us: ignored here while it
    runs, as the AWS CLI does. Only the main thread may change signal handling."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    names = ("SIGINT", "SIGQUIT", "SIGTSTP")
    saved = {name: signal.signal(getattr(signal, name), signal.SIG_IGN) for name in names}
    try:
        yield
    finally:
        for name, handler in saved.items():
            signal.signal(getattr(signal, name), handler)


def run_exec(api: AwsClients, profile: str, plan: MutationPlan, streams: ExecStreams) -> int:
    path = plugin_path()
    payload = plan.payload
    cluster, task_arn = as_str(payload.get("cluster")), as_str(payload.get("task"))
    container, command = as_str(payload.get("container")), as_str(payload.get("command")) or command_text(DEFAULT_SHELL)
    answer = api.call("execute_command", cluster=cluster, task=task_arn, container=container, command=command,
                      interactive=True)
    session = answer.get("session")
    if not isinstance(session, dict) or not session.get("sessionId"):
        raise ProviderError(f"ExecuteCommand on task {short_id(task_arn)} answered without a session")
    runtime_id = as_str(payload.get("runtime_id"))
    if not runtime_id:  # not known when planned (a container just started): AWS CLI reads it here too
        described = dicts(api.call("describe_tasks", cluster=cluster, tasks=[task_arn]).get("tasks"))
        for entry in dicts(described[0].get("containers")) if described else []:
            if as_str(entry.get("name")) == container:
                runtime_id = as_str(entry.get("runtimeId"))
    if not runtime_id:
        raise ProviderError(f"container {container} of task {short_id(task_arn)} has no runtime id yet",
                            "try again in a few seconds")
    target = {"Target": f"ecs:{short_id(cluster)}_{short_id(task_arn)}_{runtime_id}"}
    session_json = json.dumps(session)
    env = dict(os.environ)
    if _plugin_version(path) > LAST_PLUGIN_VERSION_WITHOUT_ENV_VAR:
        env[SESSION_VARIABLE], session_json = session_json, SESSION_VARIABLE
    region, endpoint = str(api.ecs.meta.region_name or ""), str(api.ecs.meta.endpoint_url or "")
    argv = [path, session_json, region, "StartSession", profile, json.dumps(target), endpoint]
    try:
        with _keys_to_the_plugin():
            return subprocess.run(argv, stdin=streams.stdin, stdout=streams.stdout, stderr=streams.stderr,
                                  env=env, check=False).returncode
    except OSError as error:  # the message names the program only: argv holds the session
        raise ProviderError(f"{PLUGIN} could not be started ({error.strerror})", PLUGIN_SOURCE) from None
