"""Read-only and bad input, proved at the transport: every request the CLI sends passes the counting proxy."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from ecs_transport import CountingProxy
from ecs_world import add_instances, deployment, moto_service, register

pytestmark = pytest.mark.ecs

READ_PREFIXES = ("List", "Describe", "Get")


@pytest.fixture
def web(admin: Any, ec2: Any) -> dict[str, str]:
    """shop/web in the middle of a rollout, so that both scale and rollback have something to plan."""
    admin.create_cluster(clusterName="shop")
    add_instances(admin, ec2, "shop", 1)
    versions = {f"v{i}": register(admin, "web", f"registry.example.com/web:{i}") for i in (1, 2)}
    admin.create_service(cluster="shop", serviceName="web", taskDefinition=versions["v2"], desiredCount=2)
    moto_service("shop", "web").deployments = [
        deployment(versions["v2"], "PRIMARY", desired=2, running=1, rollout="IN_PROGRESS"),
        deployment(versions["v1"], "ACTIVE", desired=2, running=2, rollout="COMPLETED", age_s=600),
    ]
    return versions


def _mutating(proxy: CountingProxy) -> dict[str, int]:
    return {action: n for action, n in proxy.snapshot_counts().items() if not action.startswith(READ_PREFIXES)}


def _audit() -> list[dict[str, Any]]:
    path = Path(os.environ["XDG_STATE_HOME"]) / "pilothouse" / "audit.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    from pilothouse.console.cli import main

    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_readonly_cluster_sends_no_mutating_request(
    web: dict[str, str], admin: Any, proxy: CountingProxy, write_config: Any, capsys: pytest.CaptureFixture[str],
) -> None:
    readonly = write_config(readonly=True)
    proxy.reset()
    code, out, _ = _run(["--config", readonly, "status", "--json"], capsys)
    assert code == 0 and json.loads(out)["clusters"][0]["services"][0]["ref"] == "shop/web"
    assert proxy.total() > 0  # the session did talk to "AWS" through the proxy

    for argv in (["scale", "aws/shop/web", "3", "--yes"], ["rollback", "aws/shop/web", "--yes"]):
        code, out, err = _run(["--config", readonly, *argv], capsys)
        assert code == 2, (argv, err)
        # It says where read-only comes from: the cluster's entry in this config file.
        assert err.strip() == (f"pilothouse: error: {argv[0]} refused: cluster aws is read-only (readonly = true "
                               f"in its [[clusters]] entry in {readonly})") and out == ""
    # The console-wide switch refuses the same way on a writable cluster.
    code, _, err = _run(["--config", write_config(), "--readonly", "scale", "aws/shop/web", "4", "--yes"], capsys)
    assert code == 2 and "refused: the console runs with --readonly" in err

    assert _mutating(proxy) == {}
    live = admin.describe_services(cluster="shop", services=["web"])["services"][0]
    assert (live["desiredCount"], live["taskDefinition"]) == (2, web["v2"])
    entries = _audit()
    why = f"refused: cluster aws is read-only (readonly = true in its [[clusters]] entry in {readonly})"
    assert [(e["cluster"], e["service"], e["action"], e["result"]) for e in entries] == [
        ("aws", "shop/web", "scale", why),
        ("aws", "shop/web", "rollback", why),
        ("aws", "shop/web", "scale", "refused: the console runs with --readonly"),
    ]


def test_bad_input_sends_no_mutating_request(
    web: dict[str, str], proxy: CountingProxy, write_config: Any, capsys: pytest.CaptureFixture[str],
) -> None:
    config = write_config()
    proxy.reset()
    bad = [
        (["scale", "aws/shop/web", "-1", "--yes"], "replicas cannot be negative (-1)"),
        (["scale", "aws/shop/web", "abc", "--yes"], "not 'abc'"),
        (["scale", "aws/shop/web", "2.5", "--yes"], "not '2.5'"),
        (["scale", "aws/shop/web", "1e9", "--yes"], "not '1e9'"),
        (["scale", "aws/shop/web", "1000000000", "--yes"], "add --force"),
        (["scale", "aws/shop/nope", "3", "--yes"], "no service 'shop/nope' in cluster aws"),
        (["rollback", "aws/shop/nope", "--yes"], "no service 'shop/nope' in cluster aws"),
        (["scale", "elsewhere/shop/web", "3", "--yes"], "unknown cluster 'elsewhere'"),
        (["scale", "aws", "3", "--yes"], "is not CLUSTER/SERVICE"),
    ]
    for argv, message in bad:
        code, out, err = _run(["--config", config, *argv], capsys)
        assert code == 2, (argv, err)
        assert message in err and len(err.strip().splitlines()) == 1 and out == "", (argv, err)
    assert _mutating(proxy) == {}
    assert "DescribeServices" in proxy.snapshot_counts()  # the unknown-service checks looked, read-only

    # The control: the same path does reach the transport when the request is good.
    code, out, _ = _run(["--config", config, "scale", "aws/shop/web", "3", "--yes"], capsys)
    assert code == 0 and "scaled aws/shop/web from 2 to 3" in out
    assert _mutating(proxy) == {"UpdateService": 1}
    assert [e["result"] for e in _audit()][-1] == "ok"


def test_no_audit_no_send_and_int32_even_forced(
    web: dict[str, str], admin: Any, proxy: CountingProxy, write_config: Any, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The write-ahead audit and the API's replica limit, counted at the transport in front of moto."""
    audit_dir = tmp_path / "audit-is-a-directory"
    audit_dir.mkdir()
    config = write_config(extra=f'audit_log = "{audit_dir}"')
    proxy.reset()
    for argv in (["scale", "aws/shop/web", "3", "--yes"], ["rollback", "aws/shop/web", "--yes"]):
        code, out, err = _run(["--config", config, *argv], capsys)
        assert code == 1, (argv, out, err)
        assert err == (f"pilothouse: error: {argv[0]} refused: cannot write the audit log {audit_dir}: Is a "
                       "directory; nothing sent: fix the path or audit_log in the config\n")
    for replicas in ("2147483648", "99999999999999999999"):
        code, _, err = _run(["--config", write_config(), "scale", "aws/shop/web", replicas, "--force", "--yes"],
                            capsys)
        assert code == 2 and err.count("\n") == 1 and "2147483647" in err, err
    assert _mutating(proxy) == {}
    live = admin.describe_services(cluster="shop", services=["web"])["services"][0]
    assert (live["desiredCount"], live["taskDefinition"]) == (2, web["v2"])
