"""Cordon and uncordon a node as kubectl does, over real HTTP to the API test server, through the CLI verb:
the strategic merge patch of spec.unschedulable, audited before it is sent; read-only, an unknown node and
a state with nothing to change send nothing mutating. Drain is test_k8s_drain.py's."""

from __future__ import annotations

from pathlib import Path

import pytest
from apiserver import ApiServer
from k8s_objects import node
from k8s_support import patches, write_config

from pilothouse.console.cli import main

pytestmark = pytest.mark.kubernetes


def test_cordon_then_uncordon(apiserver: ApiServer, kubeconfig: Path, tmp_path: Path,
                              capsys: pytest.CaptureFixture[str]) -> None:
    apiserver.state.put(node("node-1"))
    config = str(write_config(tmp_path / "config.toml", kubeconfig))
    for argv in (["--readonly", "node", "k8s/node-1", "cordon", "--yes"],
                 ["node", "k8s/node-9", "cordon", "--yes"],
                 ["node", "k8s/node-1", "uncordon", "--yes"],  # already schedulable
                 ["node", "k8s/node-1", "cordon"]):  # stdin is not a terminal and no --yes
        code = main(["--config", config, *argv])
        _, err = capsys.readouterr()
        assert code in (1, 2) and err.count("\n") == 1, (argv, err)
        if argv[2:3] == ["uncordon"]:
            assert "node node-1 is schedulable already; nothing to uncordon" in err
    assert patches(apiserver) == []

    assert main(["--config", config, "node", "k8s/node-1", "cordon", "--yes"]) == 0
    out, _ = capsys.readouterr()
    assert "node node-1: schedulable -> SchedulingDisabled" in out
    [(_, path, content_type, body)] = patches(apiserver)
    assert (path, content_type, body) == ("/api/v1/nodes/node-1", "application/strategic-merge-patch+json",
                                          {"spec": {"unschedulable": True}})
    assert apiserver.state.get("nodes", "", "node-1")["spec"]["unschedulable"] is True

    assert main(["--config", config, "node", "k8s/node-1", "uncordon", "--yes"]) == 0
    assert patches(apiserver)[-1][3] == {"spec": {"unschedulable": None}}
    assert "unschedulable" not in apiserver.state.get("nodes", "", "node-1")["spec"]
