"""Partial data on the API test server: one kind's list failing (500) or forbidden (403) while the others
answer makes the snapshot incomplete, naming the kind; a one-shot command says so and exits 1 (0 with
--allow-partial); a 5xx that passes within --timeout is retried into a complete answer."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from apiserver import ApiServer
from k8s_objects import deployment, node, pod, replicaset
from k8s_support import write_config

from pilothouse.console.cli import main

pytestmark = pytest.mark.kubernetes


def seed(api: ApiServer) -> None:
    web = api.state.put(deployment("web", "registry.local/web:1.1", 2))
    rs = api.state.put(replicaset(web, "registry.local/web:1.1", 1, "7d9f8c", 2))
    api.state.put(pod(rs, "web-7d9f8c-aaaaa", version_label=("pod-template-hash", "7d9f8c")))
    api.state.put(node("node-1"))


def failing(resource: str, times: int | None = None) -> object:
    """An on_request hook: 500 for every request on `resource` (the first `times` only, if given)."""
    served = [0]
    lock = threading.Lock()

    def hook(method: str, path: str) -> int | None:
        if path.rstrip("/").rsplit("/", 1)[-1] != resource:
            return None
        with lock:
            if times is not None and served[0] >= times:
                return None
            served[0] += 1
        return 500
    return hook


@pytest.mark.parametrize("answer", [500, 403])
def test_one_kind_failing_or_forbidden_makes_status_incomplete_naming_it(
    apiserver: ApiServer, kubeconfig: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], answer: int,
) -> None:
    seed(apiserver)
    if answer == 500:
        apiserver.state.on_request = failing("pods")  # type: ignore[assignment]
    else:
        apiserver.state.forbid("pods")
    config = str(write_config(tmp_path / "config.toml", kubeconfig))

    code = main(["--config", config, "status", "--json", "--timeout", "5"])

    out, err = capsys.readouterr()
    assert code == 1, err
    cluster = json.loads(out)["clusters"][0]
    assert cluster["complete"] is False and cluster["reachable"] is True
    # Forbidden cluster-wide, pods are looked for in the context's namespace, and forbidden there too.
    expected = "Kubernetes pods" if answer == 500 else "Kubernetes pods in namespace default"
    assert [gap["what"] for gap in cluster["missing"]] == [expected]
    reason = cluster["missing"][0]["reason"]
    assert ("HTTP 500" in reason) if answer == 500 else reason.startswith("403 forbidden")
    web = {s["ref"]: s for s in cluster["services"]}["prod/web"]
    # The Deployment answered: its counts stand; its pods are unknown, not an empty list with zero health.
    assert (web["running"], web["desired"]) == (2, 2)
    assert web["tasks_known"] is False and web["tasks"] is None and web["health"] is None
    assert web["observed"] is not None
    assert f"pilothouse: incomplete: k8s: {expected}:" in err and "exit 1" in err

    # --allow-partial: exit 0, and it is still said.
    assert main(["--config", config, "status", "--timeout", "5", "--allow-partial"]) == 0
    out, err = capsys.readouterr()
    assert "PARTIAL" in out and "missing: Kubernetes pods" in out and "? tasks unknown" in out
    assert "accepted with --allow-partial" in err


def test_a_deployments_list_failing_names_the_kind(
    apiserver: ApiServer, kubeconfig: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    seed(apiserver)
    apiserver.state.on_request = failing("deployments")  # type: ignore[assignment]
    config = str(write_config(tmp_path / "config.toml", kubeconfig))
    assert main(["--config", config, "doctor", "--json", "--timeout", "5"]) == 1
    cluster = json.loads(capsys.readouterr().out)["clusters"][0]
    assert cluster["complete"] is False
    assert [gap["what"] for gap in cluster["missing"]] == ["Kubernetes deployments"]


def test_500s_that_pass_within_the_timeout_are_retried_into_a_complete_answer(
    apiserver: ApiServer, kubeconfig: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    seed(apiserver)
    apiserver.state.on_request = failing("pods", times=2)  # type: ignore[assignment]
    config = str(write_config(tmp_path / "config.toml", kubeconfig))
    code = main(["--config", config, "status", "--json", "--timeout", "20"])
    out, err = capsys.readouterr()
    assert code == 0, err
    cluster = json.loads(out)["clusters"][0]
    assert cluster["complete"] is True and cluster["missing"] == []
    web = {s["ref"]: s for s in cluster["services"]}["prod/web"]
    assert web["tasks_known"] is True and [t["id"] for t in web["tasks"]] == ["prod/web-7d9f8c-aaaaa"]
    assert apiserver.state.count("list", "pods") >= 1


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf", "abc", "1e400"])
def test_bad_timeouts_are_one_line_exit_2(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status", "--demo", f"--timeout={value}"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--timeout" in err and "Traceback" not in err
