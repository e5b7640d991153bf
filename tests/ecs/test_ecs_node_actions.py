"""Container instance drain and back to ACTIVE through the CLI verb, against moto behind the counting proxy:
UpdateContainerInstancesState with DRAINING / ACTIVE, seen in describe_container_instances; cordon refused with
the reason (ECS has none that keeps tasks running), a drain of a DRAINING instance and an uncordon of an ACTIVE one
refused from its state; read-only and an unknown instance send nothing mutating."""

from __future__ import annotations

from typing import Any

import pytest
from ecs_transport import CountingProxy
from ecs_world import add_instances

pytestmark = pytest.mark.ecs

READ_PREFIXES = ("List", "Describe", "Get")


def _mutating(proxy: CountingProxy) -> dict[str, int]:
    return {action: n for action, n in proxy.snapshot_counts().items() if not action.startswith(READ_PREFIXES)}


def test_drain_then_active(admin: Any, ec2: Any, proxy: CountingProxy, write_config: Any,
                           capsys: pytest.CaptureFixture[str]) -> None:
    from pilothouse.console.cli import main

    admin.create_cluster(clusterName="shop")
    [arn] = add_instances(admin, ec2, "shop", 1)
    instance = admin.describe_container_instances(cluster="shop", containerInstances=[arn])[
        "containerInstances"][0]["ec2InstanceId"]

    def status() -> str:
        return str(admin.describe_container_instances(cluster="shop", containerInstances=[arn])[
            "containerInstances"][0]["status"])

    proxy.reset()
    for readonly, argv in ((True, ["node", f"aws/{instance}", "drain", "--yes"]),
                           (False, ["node", "aws/i-nope", "drain", "--yes"]),
                           (False, ["node", f"aws/{instance}", "cordon", "--yes"]),
                           (False, ["node", f"aws/{instance}", "uncordon", "--yes"])):  # already ACTIVE
        code = main(["--config", write_config(readonly=readonly), *argv])
        _, err = capsys.readouterr()
        assert code in (1, 2) and err.count("\n") == 1, (argv, err)
        if argv[2] == "cordon":
            assert "ECS has no cordon" in err
        if argv[2] == "uncordon":
            assert f"container instance {instance} is already ACTIVE" in err
    assert _mutating(proxy) == {} and status() == "ACTIVE"

    config = write_config()
    assert main(["--config", config, "node", f"aws/{instance}", "drain", "--yes"]) == 0
    out, _ = capsys.readouterr()
    assert f"container instance {instance}: ACTIVE -> DRAINING" in out
    assert status() == "DRAINING" and _mutating(proxy) == {"UpdateContainerInstancesState": 1}
    # Drained already: a second drain is refused from the state the snapshot shows, and sends nothing.
    assert main(["--config", config, "node", f"aws/{instance}", "drain", "--yes"]) == 2
    assert f"container instance {instance} is already DRAINING" in capsys.readouterr().err
    assert _mutating(proxy) == {"UpdateContainerInstancesState": 1}
    assert main(["--config", config, "node", f"aws/{instance}", "uncordon", "--yes"]) == 0
    assert status() == "ACTIVE"
