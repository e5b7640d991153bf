"""The CLI contract of issue 2 §5 and §7, run through the real entry point on the demo fleet."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from cli_support import audit_lines, run

pytestmark = pytest.mark.usefixtures("no_detected_clusters")


def test_status_json_has_three_kinds_tasks_on_nodes_and_a_rollout(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "status", "--demo", "--json")
    assert code == 0
    data = json.loads(out)
    assert [c["kind"] for c in data["clusters"]] == ["swarm", "kubernetes", "ecs"]
    for cluster in data["clusters"]:
        assert {"name", "kind", "reachable", "error", "nodes", "services"} <= cluster.keys()
        assert cluster["reachable"] is True
        assert all({"name", "status", "availability"} <= node.keys() for node in cluster["nodes"])
        node_names = {node["name"] for node in cluster["nodes"]}
        for service in cluster["services"]:
            assert {"id", "name", "namespace", "image", "mode", "desired", "running", "health", "rollout",
                    "tasks"} <= service.keys()
            assert set(service["health"]) == {"healthy", "unhealthy", "starting"}
            assert {"state", "updated", "total", "message"} <= service["rollout"].keys()
            for task in service["tasks"]:
                assert {"id", "node", "state", "health", "error"} <= task.keys()
                assert task["node"] in node_names
        assert any(s["rollout"]["state"] == "updating" for s in cluster["services"])


def test_status_json_never_contains_env_values(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(capsys, "status", "--demo", "--json")
    assert "demo-not-a-real-key" not in out


def test_status_for_one_cluster_and_unknown_cluster(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "status", "--demo", "--json", "--cluster", "demo-ecs")
    assert code == 0 and [c["name"] for c in json.loads(out)["clusters"]] == ["demo-ecs"]
    code, out, err = run(capsys, "status", "--demo", "--cluster", "nope")
    assert code == 2 and out == "" and "unknown cluster 'nope'" in err


def test_demo_tasks_sizes_the_fleet(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "status", "--json", "--demo-tasks", "3000")
    assert code == 0
    desired = sum(s["desired"] for c in json.loads(out)["clusters"] for s in c["services"] if s["mode"] == "replicated")
    assert 2_800 <= desired <= 3_200


def test_scale_with_yes_changes_desired_and_is_audited(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "scale", "demo-swarm/shop_web", "5", "--yes", "--demo")
    assert code == 0, err
    assert "7 -> 5" in out
    # Write-ahead: the intent (pending) first, then the outcome, paired by their attempt id.
    intent, entry = audit_lines()
    assert (intent["phase"], intent["result"], entry["phase"]) == ("intent", "pending", "outcome")
    assert intent["attempt"] == entry["attempt"]
    for line in (intent, entry):
        assert line["cluster"] == "demo-swarm" and line["service"] == "shop_web"
        assert line["action"] == "scale" and (line["before"], line["after"]) == ("7", "5")
    assert entry["result"] == "ok"
    assert {"time", "user", "host"} <= entry.keys()


def test_rollback_kubernetes_service_by_namespace_and_name(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "rollback", "demo-k8s/prod/web", "--yes", "--demo")
    assert code == 0
    assert "web:2.7.0 -> registry.example.com/shop/web:2.6.3" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["scale", "demo-swarm/shop_web", "-1"], "replicas cannot be negative"),
        (["scale", "demo-swarm/shop_web", "abc"], "whole number"),
        (["scale", "demo-swarm/shop_web", "2.5"], "whole number"),
        (["scale", "demo-swarm/shop_web", "1e9"], "whole number"),
        (["scale", "demo-swarm/shop_web", "20000"], "add --force"),
        (["scale", "demo-swarm/monitoring_node-exporter", "4"], "cannot be scaled"),
        (["scale", "demo-k8s/kube-system/node-exporter", "4"], "cannot be scaled"),
        (["rollback", "demo-swarm/shop_cache"], "nothing to roll back to"),
        (["scale", "nowhere/web", "3"], "unknown cluster 'nowhere'"),
        (["scale", "demo-swarm/shop_wbe", "3"], "did you mean shop_web"),
        (["scale", "demo-swarm", "3"], "is not CLUSTER/SERVICE"),
        (["scale", "demo-swarm/shop_web"], "required"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_changes_nothing(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, _, err = run(capsys, *argv, "--yes", "--demo")
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("pilothouse: error: ")
    assert message in err
    assert "Traceback" not in err
    assert all(entry["result"] != "ok" for entry in audit_lines())


def test_scale_over_the_limit_with_force_is_allowed(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "scale", "demo-ecs/prod/web", "10001", "--force", "--yes", "--demo")
    assert code == 0, err


def test_readonly_refuses_and_audits(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "--readonly", "scale", "demo-swarm/shop_web", "5", "--yes", "--demo")
    assert code == 2 and "--readonly" in err
    (entry,) = audit_lines()
    assert entry["result"].startswith("refused")


def test_per_cluster_readonly_from_config(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[[clusters]]\nname = "lab"\nprovider = "demo"\nflavor = "ecs"\nreadonly = true\n'
                      '[[clusters]]\nname = "rw"\nprovider = "demo"\nflavor = "ecs"\nfrozen_at = 40\n')
    code, _, err = run(capsys, "--config", str(config), "scale", "lab/prod/web", "5", "--yes")
    assert code == 2 and "cluster lab is read-only" in err
    code, _, err = run(capsys, "--config", str(config), "scale", "rw/prod/web", "5", "--yes")
    assert code == 0, err


def test_declined_confirmation_changes_nothing(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # A real process with a pseudo-terminal would be needed to answer; without a tty we refuse to guess.
    code, _, err = run(capsys, "scale", "demo-swarm/shop_web", "5", "--demo")
    assert code == 2 and "pass --yes" in err


def test_bad_config_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("[[clusters]]\nname = 'x'\nprovider = 'nomad'\n")
    code, _, err = run(capsys, "--config", str(config), "status")
    assert code == 2 and ":3: clusters.provider: provider 'nomad' is not installed" in err


def test_config_from_environment_variable(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "c.toml"
    config.write_text("[[clusters]]\nname = 'only'\nprovider = 'demo'\nflavor = 'kubernetes'\n")
    monkeypatch.setenv("PILOTHOUSE_CONFIG", str(config))
    code, out, _ = run(capsys, "status", "--json")
    assert code == 0 and [c["name"] for c in json.loads(out)["clusters"]] == ["only"]


def test_status_without_any_cluster_says_what_to_do(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "status")
    assert code == 2 and "pass --demo" in err


def test_real_process_help_and_bad_input() -> None:
    help_run = subprocess.run([sys.executable, "-m", "pilothouse", "--help"], capture_output=True, text=True,
                              check=False)
    assert help_run.returncode == 0 and "status" in help_run.stdout
    bad = subprocess.run([sys.executable, "-m", "pilothouse", "scale", "demo-swarm/shop_web", "abc", "--demo"],
                         capture_output=True, text=True, check=False)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "Traceback" not in bad.stderr


def test_help_does_not_import_textual_or_sdks() -> None:
    probe = ("import sys; from console.cli import build_parser; build_parser(); "
             "print(sorted(m for m in ('textual','docker','kubernetes','boto3','botocore') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
