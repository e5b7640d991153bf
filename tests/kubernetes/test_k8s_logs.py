"""Pod logs through the pod log endpoint, over real HTTP: tail, one pod or container, a crash loop's previous
container, follow (appended lines, resumption after a quiet spell, stop, pods that appear meanwhile), and the
`logs` CLI verb.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from apiserver import ApiServer
from k8s_objects import deployment, pod, replicaset
from k8s_support import wait_until, write_config

from pilothouse.console.cli import main
from pilothouse.providers.base import LogLine
from pilothouse.providers.errors import InvalidInput, NotFound
from pilothouse.providers.kubernetes import KubernetesProvider
from pilothouse.providers.kubernetes.logs import (
    LogStream,
    log_target,
    pod_log_streams,
    resolve_log_target,
    workload_pods,
)
from pilothouse.providers.model import Service, Task

pytestmark = pytest.mark.kubernetes

Obj = dict[str, Any]
NS = "prod"
T0 = datetime(2024, 5, 1, 10, 0, 0, tzinfo=UTC)
RUNNING, CRASHING, SIDECARS = "web-7d9f8c-aaaaa", "web-7d9f8c-bbbbb", "web-7d9f8c-ccccc"


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def with_sidecar(obj: Obj) -> Obj:
    """The pod with a second container, "proxy", running."""
    obj["spec"]["containers"].append({"name": "proxy", "image": "registry.local/proxy:1.4"})
    obj["status"]["containerStatuses"].append({
        "name": "proxy", "ready": True, "restartCount": 0, "state": {"running": {"startedAt": "2024-05-01T10:00:00Z"}},
        "lastState": {},
    })
    return obj


@pytest.fixture
def web(apiserver: ApiServer, provider: KubernetesProvider) -> Service:
    """prod/web: a running pod, a crash-looping one, and one with a sidecar; each with known log lines."""
    state = apiserver.state
    rs = state.put(replicaset(state.put(deployment("web", replicas=3)), "registry.local/web:1.0", 1, "7d9f8c", 3))
    label = ("pod-template-hash", "7d9f8c")
    state.put(pod(rs, RUNNING, node="node-1", version_label=label))
    state.put(pod(rs, CRASHING, node="node-2", version_label=label, ready=False, restarts=4,
                  waiting=("CrashLoopBackOff", "back-off 1m20s restarting failed container=app")))
    state.put(with_sidecar(pod(rs, SIDECARS, node="node-3", version_label=label)))
    state.add_log(NS, RUNNING, "app", *[f"running line {i}" for i in range(1, 11)], at=at(0))
    state.add_log(NS, CRASHING, "app", "starting", "panic: cannot connect to db", previous=True, at=at(5))
    state.add_log(NS, SIDECARS, "app", "sidecar pod app line", at=at(3))
    state.add_log(NS, SIDECARS, "proxy", "proxy listening on :15001", at=at(4))
    service = provider.snapshot().service("prod/web")
    assert service is not None and len(service.tasks) == 3
    return service


def texts(lines: Iterator[LogLine] | list[LogLine]) -> list[tuple[str, str]]:
    return [(line.source, line.text) for line in lines]


def test_tail_of_every_pod_and_container_merged_in_time_order(
    apiserver: ApiServer, provider: KubernetesProvider, web: Service
) -> None:
    lines = list(provider.logs(web, tail=2))

    assert texts(lines) == [
        (f"{RUNNING}/app@node-1", "running line 9"),
        (f"{RUNNING}/app@node-1", "running line 10"),
        (f"{SIDECARS}/app@node-3", "sidecar pod app line"),
        (f"{SIDECARS}/proxy@node-3", "proxy listening on :15001"),
        (f"{CRASHING}/app@node-2 (previous)", "starting"),
        (f"{CRASHING}/app@node-2 (previous)", "panic: cannot connect to db"),
    ]
    assert lines[1].time == at(0) + timedelta(microseconds=9)  # the nanosecond stamp, parsed
    # One request per container, nothing else: the pods came from the watch cache.
    assert apiserver.state.count("get", "pods/log") == 4
    assert apiserver.state.count("get", "pods") == 0


def test_one_pod_by_id_or_prefix_and_one_container(provider: KubernetesProvider, web: Service) -> None:
    running = [("web-7d9f8c-aaaaa/app@node-1", f"running line {i}") for i in (8, 9, 10)]
    assert texts(provider.logs(web, task_id="web-7d9f8c-aaa", tail=3)) == running
    assert texts(provider.logs(web, task_id=f"{NS}/{RUNNING}", tail=3)) == running
    assert texts(provider.logs(web, task_id=f"{SIDECARS}/proxy")) == [
        (f"{SIDECARS}/proxy@node-3", "proxy listening on :15001")]
    assert texts(provider.logs(web, task_id=f"{NS}/{SIDECARS}/proxy")) == [
        (f"{SIDECARS}/proxy@node-3", "proxy listening on :15001")]
    # A prefix may select several pods: here all three, since they share the ReplicaSet's hash.
    assert len(list(provider.logs(web, task_id="web-7d9f8c", tail=1))) == 4


@pytest.mark.parametrize(("task_id", "error", "message"), [
    ("web-nope", NotFound, "no pod 'web-nope' in prod/web"),
    (f"{RUNNING}/sidecar", NotFound, f"no container 'sidecar' in pod {RUNNING}: its containers: app"),
    ("staging/web-7d9f8c-aaaaa/app", NotFound, "no pods in namespace 'staging'"),
    ("a/b/c/d", InvalidInput, "is not POD"),
])
def test_bad_task_ids_send_no_log_request(
    apiserver: ApiServer, provider: KubernetesProvider, web: Service, task_id: str, error: type[Exception],
    message: str,
) -> None:
    with pytest.raises(error, match=message.replace("(", r"\(")):
        provider.logs(web, task_id=task_id)
    assert apiserver.state.count("get", "pods/log") == 0


def test_crash_loop_shows_the_previous_container_marked(
    apiserver: ApiServer, provider: KubernetesProvider, web: Service
) -> None:
    assert texts(provider.logs(web, task_id=CRASHING)) == [
        (f"{CRASHING}/app@node-2 (previous)", "starting"),
        (f"{CRASHING}/app@node-2 (previous)", "panic: cannot connect to db"),
    ]
    # Restarted and running again: the crashed instance first, then the current one.
    def restarted(obj: Obj) -> None:
        status = obj["status"]["containerStatuses"][0]
        status["state"] = {"running": {"startedAt": "2024-05-01T10:00:10Z"}}
        status["lastState"]["terminated"]["finishedAt"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    apiserver.state.update("pods", NS, CRASHING, restarted)
    apiserver.state.add_log(NS, CRASHING, "app", "starting again", at=at(10))
    web = wait_until(lambda: (s := provider.snapshot().service("prod/web")) and all(
        t.raw_state == "Running" for t in s.tasks) and s)
    assert texts(provider.logs(web, task_id=CRASHING)) == [
        (f"{CRASHING}/app@node-2 (previous)", "starting"),
        (f"{CRASHING}/app@node-2 (previous)", "panic: cannot connect to db"),
        (f"{CRASHING}/app@node-2", "starting again"),
    ]


def test_container_that_never_started_says_why(apiserver: ApiServer, provider: KubernetesProvider,
                                               web: Service) -> None:
    def pulling(obj: Obj) -> None:
        obj["status"]["containerStatuses"][0].update(
            state={"waiting": {"reason": "ImagePullBackOff"}}, lastState={}, restartCount=0)
    apiserver.state.update("pods", NS, RUNNING, pulling)
    web = wait_until(lambda: (s := provider.snapshot().service("prod/web")) and any(
        t.raw_state == "ImagePullBackOff" for t in s.tasks) and s)
    assert texts(provider.logs(web, task_id=RUNNING)) == [
        (f"{RUNNING}/app@node-1", "[container waiting to start: ImagePullBackOff]")]
    assert apiserver.state.count("get", "pods/log") == 0


class Follower:
    """Consumes a follow in a thread, as the CLI and the log screen do."""

    def __init__(self, provider: KubernetesProvider, service: Service, **options: Any) -> None:
        self.stop = threading.Event()
        self.lines: list[LogLine] = []
        self.error: BaseException | None = None
        self._stream = provider.logs(service, follow=True, stop=self.stop, **options)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            for line in self._stream:
                self.lines.append(line)
        except BaseException as error:  # reported to the test
            self.error = error

    def texts(self) -> list[str]:
        return [line.text for line in self.lines]


def test_follow_picks_up_appended_lines_and_stop_ends_it_promptly(
    apiserver: ApiServer, provider: KubernetesProvider, web: Service
) -> None:
    state = apiserver.state
    follower = Follower(provider, web, task_id=RUNNING, tail=2)
    wait_until(lambda: follower.texts() == ["running line 9", "running line 10"])
    wait_until(lambda: state.open_log_streams == 1)

    state.add_log(NS, RUNNING, "app", "appended after following started")
    wait_until(lambda: follower.texts()[-1:] == ["appended after following started"])

    follower.stop.set()
    follower.thread.join(timeout=2.0)
    assert not follower.thread.is_alive() and follower.error is None
    # The connection was closed, not left waiting for its read timeout (300 s).
    wait_until(lambda: state.open_log_streams == 0, timeout=3.0)
    assert follower.texts() == ["running line 9", "running line 10", "appended after following started"]


def test_follow_of_the_workload_outlives_its_containers_and_of_one_pod_ends_with_it(
    apiserver: ApiServer, provider: KubernetesProvider, web: Service
) -> None:
    state, provider.log_new_pod_interval_s = apiserver.state, 0.1
    follower = Follower(provider, web, tail=1)
    one_pod = Follower(provider, web, task_id=RUNNING, tail=0)
    # Three running containers stream (and RUNNING's twice); the crash-looping one has only its previous
    # instance to show.
    wait_until(lambda: state.open_log_streams == 4)
    wait_until(lambda: sorted(follower.texts()) == [
        "panic: cannot connect to db", "proxy listening on :15001", "running line 10", "sidecar pod app line"])
    state.add_log(NS, SIDECARS, "proxy", "GET /healthz 200")
    wait_until(lambda: "GET /healthz 200" in follower.texts())
    for pod_name, container in ((RUNNING, "app"), (SIDECARS, "app"), (SIDECARS, "proxy")):
        state.end_log(NS, pod_name, container)
    one_pod.thread.join(timeout=3.0)
    assert not one_pod.thread.is_alive() and one_pod.error is None  # as kubectl logs -f POD

    # Every container stopped (a Recreate rollout's gap): the workload's follow waits for the next pods.
    wait_until(lambda: state.open_log_streams == 0)
    assert follower.thread.is_alive()
    roll_out(state, "after the gap")
    wait_until(lambda: "after the gap" in follower.texts())
    follower.stop.set()
    follower.thread.join(timeout=2.0)
    assert not follower.thread.is_alive() and follower.error is None


def restarted(restart_count: int) -> Any:
    """A pod status change, as kubelet writes it when a container's next instance runs."""
    def change(obj: Obj) -> None:
        status = obj["status"]["containerStatuses"][0]
        status.update(restartCount=restart_count, ready=True, started=True,
                      state={"running": {"startedAt": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}},
                      lastState={"terminated": {"exitCode": 1, "reason": "Error", "startedAt": "2024-05-01T10:00:00Z",
                                                "finishedAt": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}})
    return change


def test_follow_of_the_workload_reads_each_restarted_containers_next_instance(
    apiserver: ApiServer, provider: KubernetesProvider, web: Service
) -> None:
    state, provider.log_new_pod_interval_s = apiserver.state, 0.1
    follower = Follower(provider, web, tail=1)
    wait_until(lambda: state.open_log_streams == 3)
    wait_until(lambda: "panic: cannot connect to db" in follower.texts())

    # A running container dies and comes back: its last words, then a marker, then its next life.
    state.add_log(NS, RUNNING, "app", "fatal: out of memory")
    state.restart_log(NS, RUNNING, "app")
    state.update("pods", NS, RUNNING, restarted(1))
    state.add_log(NS, RUNNING, "app", "second life line 1")
    wait_until(lambda: "second life line 1" in follower.texts())
    running = [line.text for line in follower.lines if line.source.startswith(RUNNING)]
    assert running == ["running line 10", "fatal: out of memory", "[container restarted: restart 1]",
                       "second life line 1"]

    # The crash-looping container finally starts: its new instance is followed, its old one not read again.
    state.update("pods", NS, CRASHING, restarted(5))
    state.add_log(NS, CRASHING, "app", "connected at last")
    wait_until(lambda: "connected at last" in follower.texts())
    crashing = [line.text for line in follower.lines if line.source.startswith(CRASHING)]
    assert crashing == ["panic: cannot connect to db", "[container restarted: restart 5]", "connected at last"]
    wait_until(lambda: state.open_log_streams == 4)
    follower.stop.set()
    follower.thread.join(timeout=2.0)
    assert not follower.thread.is_alive() and follower.error is None


def test_quiet_follow_is_resumed_without_repeating_lines(
    apiserver: ApiServer, provider: KubernetesProvider, web: Service
) -> None:
    state = apiserver.state
    provider.log_follow_read_timeout_s = 0.3
    follower = Follower(provider, web, task_id=RUNNING, tail=3)
    # The stream times out while quiet and is reopened from the last line's time (twice at least).
    wait_until(lambda: state.count("get", "pods/log") >= 3)
    state.add_log(NS, RUNNING, "app", "after the quiet spell")
    wait_until(lambda: "after the quiet spell" in follower.texts())
    wait_until(lambda: state.count("get", "pods/log") >= 5)
    follower.stop.set()
    follower.thread.join(timeout=2.0)
    assert follower.texts() == ["running line 8", "running line 9", "running line 10", "after the quiet spell"]


def test_following_too_many_containers_is_refused(
    apiserver: ApiServer, provider: KubernetesProvider, web: Service
) -> None:
    provider.max_log_follow_streams = 2
    with pytest.raises(InvalidInput, match="following 3 containers of prod/web at once is more than 2"):
        provider.logs(web, follow=True)
    assert len(list(provider.logs(web, tail=1))) == 4  # without follow there is no such limit
    provider.logs(web, follow=True, task_id=SIDECARS)  # two containers: within the limit
    assert apiserver.state.count("get", "pods/log") == 4


def test_an_endless_line_is_cut(apiserver: ApiServer, provider: KubernetesProvider, web: Service) -> None:
    apiserver.state.add_log(NS, RUNNING, "app", "x" * 200_000, "next line")
    (cut, following) = list(provider.logs(web, task_id=RUNNING, tail=2))
    assert cut.text.endswith(" [line cut]") and len(cut.text) < 70_000
    assert following.text == "next line"


def test_logs_cli_verb(apiserver: ApiServer, kubeconfig: Path, web: Service, tmp_path: Path,
                       capsys: pytest.CaptureFixture[str]) -> None:
    config = str(write_config(tmp_path / "config.toml", kubeconfig))
    assert main(["--config", config, "logs", "k8s/prod/web", "--tail", "5", "--task", RUNNING]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"10:00:00 UTC {RUNNING}/app@node-1 | running line {i}" for i in range(6, 11)]

    assert main(["--config", config, "logs", "k8s/prod/web", "--tail", "5"]) == 0
    out = capsys.readouterr().out
    assert f"{CRASHING}/app@node-2 (previous) | panic: cannot connect to db" in out
    assert f"{SIDECARS}/proxy@node-3 | proxy listening" in out

    assert main(["--config", config, "logs", "k8s/prod/web", "--task", "nope"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no pod 'nope' in prod/web" in err


# -- a follow picks up the pods a rolling update makes ----------------------------------------------------

NEW_POD, REPLACEMENT = "web-5c6b7a-ddddd", "web-7d9f8c-eeeee"


def roll_out(state: Any, *texts: str, name: str = NEW_POD, template_hash: str = "5c6b7a", **pod_options: Any) -> None:
    """A pod of prod/web's new ReplicaSet (revision 2), with log lines written before it is seen."""
    web = state.get("deployments", NS, "web")
    rs = state.put(replicaset(web, "registry.local/web:2.0", 2, template_hash, 1))
    state.add_log(NS, name, "app", *texts)
    state.put(pod(rs, name, node="node-2", version_label=("pod-template-hash", template_hash), **pod_options))


def other_workload(state: Any) -> None:
    """prod/web-canary: a Deployment whose pod name starts "web-" too, with log lines."""
    canary = state.put(deployment("web-canary", replicas=1))
    rs = state.put(replicaset(canary, "registry.local/web:2.0", 1, "9f9f9f", 1))
    state.add_log(NS, "web-canary-9f9f9f-zzzzz", "app", "canary line")
    state.put(pod(rs, "web-canary-9f9f9f-zzzzz", version_label=("pod-template-hash", "9f9f9f"), app="web-canary"))


def test_follow_picks_up_a_new_replicasets_pod_from_the_cache_and_not_another_workloads(
    apiserver: ApiServer, provider: KubernetesProvider, web: Service
) -> None:
    state = apiserver.state
    follower = Follower(provider, web, tail=1)
    wait_until(lambda: state.open_log_streams == 3)
    lists_before = state.count("list")

    other_workload(state)
    roll_out(state, "new pod line 1", "new pod line 2")
    # The default look interval (2 s): the new pod's lines, from its first, within a few seconds.
    wait_until(lambda: [(line.source, line.text) for line in follower.lines if line.source.startswith(NEW_POD)] == [
        (f"{NEW_POD}/app@node-2", "new pod line 1"), (f"{NEW_POD}/app@node-2", "new pod line 2")], timeout=6.0)
    state.add_log(NS, NEW_POD, "app", "new pod line 3")
    wait_until(lambda: follower.texts()[-1:] == ["new pod line 3"])

    # The canary's pod was in the cache before the new one, and is not followed.
    assert state.open_log_streams == 4
    assert "canary line" not in follower.texts() and follower.error is None
    # Found in the watch cache: no list and no pod read on the way.
    assert state.count("list") == lists_before and state.count("get", "pods") == 0

    follower.stop.set()
    follower.thread.join(timeout=2.0)
    assert not follower.thread.is_alive()
    wait_until(lambda: state.open_log_streams == 0, timeout=3.0)


def test_follow_of_a_prefix_picks_up_only_new_pods_it_names(
    apiserver: ApiServer, provider: KubernetesProvider, web: Service
) -> None:
    state, provider.log_new_pod_interval_s = apiserver.state, 0.2
    follower = Follower(provider, web, task_id="web-7d9f8c", tail=1)
    wait_until(lambda: state.open_log_streams == 3)
    roll_out(state, "other replicaset line")
    roll_out(state, "replacement line", name=REPLACEMENT, template_hash="7d9f8c")
    wait_until(lambda: "replacement line" in follower.texts())
    wait_until(lambda: state.open_log_streams == 4)
    assert "other replicaset line" not in follower.texts()

    # One pod named exactly: no other pod ever joins.
    exact = Follower(provider, web, task_id=RUNNING, tail=1)
    wait_until(lambda: exact.texts() == ["running line 10"])
    wait_until(lambda: state.open_log_streams == 5)
    state.add_log(NS, RUNNING, "app", "marker")
    wait_until(lambda: exact.texts()[-1:] == ["marker"])
    assert state.open_log_streams == 5 and exact.error is None and follower.error is None
    for each in (follower, exact):
        each.stop.set()
        each.thread.join(timeout=2.0)


def test_new_pod_over_the_follow_bound_waits_for_a_slot_and_says_so_once(
    apiserver: ApiServer, provider: KubernetesProvider, web: Service
) -> None:
    state, provider.log_new_pod_interval_s = apiserver.state, 0.1
    provider.max_log_follow_streams = 3
    follower = Follower(provider, web, tail=0)
    wait_until(lambda: state.open_log_streams == 3)
    roll_out(state, "first line of the new pod")
    notice = wait_until(lambda: [line for line in follower.lines if line.source == "pilothouse"])
    assert f"[not following {NEW_POD}/app@node-2 yet: 3 containers are followed" in notice[0].text
    wait_until(lambda: state.count("get", "pods/log") >= 4)  # the crash loop's previous log was read
    assert state.open_log_streams == 3

    state.end_log(NS, RUNNING, "app")  # an old pod's container stops: its slot goes to the new pod
    wait_until(lambda: "first line of the new pod" in follower.texts())
    wait_until(lambda: state.open_log_streams == 3)
    assert sum(line.source == "pilothouse" for line in follower.lines) == 1
    follower.stop.set()
    follower.thread.join(timeout=2.0)
    assert follower.error is None


def test_new_pod_still_creating_is_followed_once_it_starts(
    apiserver: ApiServer, provider: KubernetesProvider, web: Service
) -> None:
    state, provider.log_new_pod_interval_s = apiserver.state, 0.1
    follower = Follower(provider, web, tail=0)
    wait_until(lambda: state.open_log_streams == 3)
    roll_out(state, "up at last", phase="Pending", ready=False, waiting=("ContainerCreating", ""))
    wait_until(lambda: f"{NEW_POD}/app@node-2" in [line.source for line in follower.lines])
    assert texts(line for line in follower.lines if line.source.startswith(NEW_POD)) == [
        (f"{NEW_POD}/app@node-2", "[new pod, container waiting to start: ContainerCreating]")]

    def started(obj: Obj) -> None:
        obj["status"]["phase"] = "Running"
        obj["status"]["containerStatuses"][0]["state"] = {"running": {"startedAt": "2024-05-01T10:01:00Z"}}
    state.update("pods", NS, NEW_POD, started)
    wait_until(lambda: "up at last" in follower.texts())
    # Every old container stops; the follow goes on with the new pod's, until it is stopped.
    for pod_name, container in ((RUNNING, "app"), (SIDECARS, "app"), (SIDECARS, "proxy")):
        state.end_log(NS, pod_name, container)
    state.add_log(NS, NEW_POD, "app", "still here")
    wait_until(lambda: "still here" in follower.texts())
    wait_until(lambda: state.open_log_streams == 1)
    assert follower.thread.is_alive()
    follower.stop.set()
    follower.thread.join(timeout=2.0)
    assert not follower.thread.is_alive() and follower.error is None


# -- the pure parts ------------------------------------------------------------------------------------


def test_stream_selection_follows_kubelet() -> None:
    base = pod({"kind": "ReplicaSet", "metadata": {"name": "rs", "namespace": NS, "uid": "u"}}, "p",
               version_label=("pod-template-hash", "h"))
    assert pod_log_streams(base) == [LogStream(NS, "p", "app", "node-1")]
    pending = {"metadata": {"name": "p", "namespace": NS}, "spec": {"containers": [{"name": "app"}]},
               "status": {"phase": "Pending"}}
    assert pod_log_streams(pending) == [LogStream(NS, "p", "app", waiting="not started")]
    # Restarted long ago: the old crash is not shown again.
    old_crash = with_sidecar(pod({"kind": "ReplicaSet", "metadata": {"name": "rs", "namespace": NS, "uid": "u"}},
                                 "p", version_label=("pod-template-hash", "h"), restarts=1))
    old_crash["status"]["containerStatuses"][0]["lastState"] = {
        "terminated": {"exitCode": 1, "finishedAt": "2024-05-01T10:00:00Z"}}
    now = datetime(2024, 5, 2, tzinfo=UTC)
    assert [s.source for s in pod_log_streams(old_crash, now=now)] == ["p/app@node-1", "p/proxy@node-1"]
    assert [s.source for s in pod_log_streams(old_crash, now=at(60))] == [
        "p/app@node-1 (previous)", "p/app@node-1", "p/proxy@node-1"]


def test_namespace_slash_pod_wins_over_pod_slash_container() -> None:
    service = Service(id="deployment/web/web", name="web", ref="web/web", namespace="web",
                      tasks=(Task(id="web/web-1", service_id=""), Task(id="web/web-2", service_id="")))
    assert resolve_log_target(service, "web/web-1") == (["web-1"], "")
    assert resolve_log_target(service, "web-1/app") == (["web-1"], "app")
    assert resolve_log_target(service, "web") == (["web-1", "web-2"], "")
    assert resolve_log_target(service, "") == (["web-1", "web-2"], "")
    with pytest.raises(NotFound, match="has no pods"):
        resolve_log_target(Service(id="deployment/a/b", name="b", ref="a/b"), "")


def test_workload_pods_follow_the_owner_chain() -> None:
    def owned(name: str, owner_kind: str, owner: str, ns: str = NS) -> Obj:
        reference = {"kind": owner_kind, "name": owner, "controller": True}
        return {"kind": "ReplicaSet" if owner_kind == "Deployment" else "Pod",
                "metadata": {"name": name, "namespace": ns, "ownerReferences": [reference]}}
    rs_web, rs_other = owned("web-1", "Deployment", "web"), owned("web-x-1", "Deployment", "web-x")
    pods: list[Obj] = [owned("web-1-b", "ReplicaSet", "web-1"), owned("web-1-a", "ReplicaSet", "web-1"),
                       owned("web-x-1-a", "ReplicaSet", "web-x-1"), owned("web-1-c", "ReplicaSet", "web-1", "staging"),
                       {"metadata": {"name": "bare", "namespace": NS}}, {}, {"metadata": None}]
    names = [p["metadata"]["name"] for p in workload_pods("deployment", NS, "web", [rs_web, rs_other], pods)]
    assert names == ["web-1-a", "web-1-b"]
    assert workload_pods("statefulset", NS, "web", [rs_web], pods) == []
    db_0 = owned("db-0", "StatefulSet", "db")
    assert workload_pods("statefulset", NS, "db", [], [*pods, db_0]) == [db_0]


def test_log_target_says_which_new_pods_may_join() -> None:
    service = Service(id="deployment/web/web", name="web", ref="web/web", namespace="web",
                      tasks=(Task(id="web/web-1", service_id=""), Task(id="web/web-10", service_id="")))
    assert log_target(service, "").prefix == ""
    assert log_target(service, "web-1").prefix is None  # exactly one pod, though "web-10" starts with it
    assert log_target(service, "web-1").pods == ("web-1",)
    prefixed = log_target(service, "web-/app")
    assert (prefixed.pods, prefixed.container, prefixed.prefix) == (("web-1", "web-10"), "app", "web-")
    assert prefixed.admits("web-2") and not prefixed.admits("api-1")
    assert not log_target(service, "web/web-1").admits("web-1x")
