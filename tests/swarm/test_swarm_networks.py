"""Swarm networks on the real swarm: an overlay network with two services attached, one publishing a port
through the ingress network; `pilothouse networks --json` shows both services, the subnet, the ingress
with the published port, and each service's virtual IP.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from swarm_helpers import Services, SwarmInfo, docker, run_cli, write_config

pytestmark = pytest.mark.swarm


def test_overlay_network_with_two_services_and_the_ingress(swarm: SwarmInfo, services: Services, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    network = f"{services.prefix}-net"
    docker(swarm.manager, "network", "create", "--driver", "overlay", "--subnet", "10.231.7.0/24", network)
    try:
        front = services.create("--replicas", "1", "--network", network, "--publish", "published=18431,target=80")
        back = services.create("--replicas", "1", "--network", network)
        config = str(write_config(tmp_path / "config.toml", swarm.manager))

        result = run_cli(capsys, "--config", config, "networks", "--json")

        assert result.code == 0, result.err
        [cluster] = json.loads(result.out)["clusters"]
        by_name = {entry["name"]: entry for entry in cluster["networks"]}
        overlay = by_name[network]
        assert (overlay["kind"], overlay["driver"], overlay["scope"]) == ("overlay", "overlay", "swarm")
        assert overlay["subnets"] == ["10.231.7.0/24"]
        assert overlay["services"] == sorted([front, back])
        assert overlay["endpoints"] is None  # Swarm has no endpoint readiness of its own
        # Each service has a virtual IP inside the subnet.
        vips = {vip.split(" ")[1].strip("()"): vip.split(" ")[0] for vip in overlay["vips"]}
        assert sorted(vips) == sorted([front, back])
        assert all(address.startswith("10.231.7.") for address in vips.values())
        ingress = [entry for entry in cluster["networks"] if entry["kind"] == "ingress"]
        assert len(ingress) == 1
        assert front in ingress[0]["services"] and back not in ingress[0]["services"]
        assert f"18431->80/tcp ({front})" in ingress[0]["ports"]
        assert ingress[0]["subnets"]  # the ingress has its own subnet

        table = run_cli(capsys, "--config", config, "networks")
        assert table.code == 0, table.err
        line = next(row for row in table.out.splitlines() if row.startswith(network))
        assert "10.231.7.0/24" in line and front in line and back in line
    finally:
        services.remove_all()
        services.created.clear()
        docker(swarm.manager, "network", "rm", network, check=False)
