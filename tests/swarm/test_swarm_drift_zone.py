"""The doctor's image-drift and single-zone rules on the real swarm.

- A tag the manager did not resolve (`docker service create --no-resolve-image`) on tasks of two nodes is the
  weaker image-drift finding (each node pulls the tag itself); held to one node it is not.
- With `node_engine`, the doctor asks each node's engine what the tasks' containers run: one tag holding two
  different images on two workers is the image-drift finding, naming both image ids and which task runs which;
  an engine it cannot reach leaves the weaker finding, which names that node and why.
- With `zone_label` naming a node label, replicas all on nodes of one zone are a single-zone finding, and
  replicas all on one node (held there by a role constraint, not a node pin) a stronger one; the Swarm fixes
  run as pasted and change the service spec.
"""

from __future__ import annotations

import json
import shlex
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from swarm_helpers import Services, SwarmInfo, docker, run_cli, wait_until, write_config

pytestmark = pytest.mark.swarm


def running_nodes(swarm: SwarmInfo, name: str, count: int) -> set[str]:
    """Waits until `count` tasks of `name` run; the nodes they run on."""
    def placed() -> set[str] | None:
        lines = docker(swarm.manager, "service", "ps", name, "--filter", "desired-state=running",
                       "--format", "{{.Node}} {{.CurrentState}}").splitlines()
        running = [line.split()[0] for line in lines if " Running" in line]
        return set(running) if len(running) == count else None
    return wait_until(placed, 60, what=f"{count} tasks of {name} running")


def doctor(capsys: pytest.CaptureFixture[str], config: Path, *names: str) -> list[dict[str, Any]]:
    result = run_cli(capsys, "--config", str(config), "doctor", "--json")
    assert result.code == 0, result.err
    return [f for f in json.loads(result.out)["findings"]
            if f["service"] in names and f["rule"] in ("image-drift", "single-zone")]


@pytest.fixture
def zones(swarm: SwarmInfo) -> Iterator[str]:
    """A node label of this test's own: the manager and worker 1 in zone a, worker 2 in zone b."""
    label = f"ph-zone-{uuid.uuid4().hex[:6]}"
    manager = docker(swarm.manager, "node", "inspect", "self", "--format", "{{.Description.Hostname}}").strip()
    worker1, worker2 = sorted(swarm.workers)
    for node, zone in ((manager, "a"), (worker1, "a"), (worker2, "b")):
        docker(swarm.manager, "node", "update", "--label-add", f"{label}={zone}", node)
    yield label
    for node in (manager, worker1, worker2):
        docker(swarm.manager, "node", "update", "--label-rm", label, node, check=False)


def test_an_unresolved_tag_on_two_nodes_is_the_weaker_drift(
        swarm: SwarmInfo, services: Services, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spread = services.create("--replicas", "2", "--replicas-max-per-node", "1", "--limit-memory", "32M")
    worker = sorted(swarm.workers)[0]
    pinned = services.create("--replicas", "2", "--constraint", f"node.hostname=={worker}")
    assert len(running_nodes(swarm, spread, 2)) == 2
    assert running_nodes(swarm, pinned, 2) == {worker}
    findings = doctor(capsys, write_config(tmp_path / "config.toml", swarm.manager), spread, pinned)
    assert [(f["service"], f["rule"], f["severity"]) for f in findings] == [(spread, "image-drift", "low")]
    (finding,) = findings
    assert finding["why"].startswith("tag not pinned: the manager did not resolve pilothouse-test/app:1 to a digest")
    assert finding["fix"].endswith(f"docker service update --image pilothouse-test/app:1 {spread}")


def test_replicas_in_one_zone_and_on_one_node(swarm: SwarmInfo, services: Services, zones: str, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    in_a = services.create("--replicas", "2", "--replicas-max-per-node", "1", "--constraint",
                           f"node.labels.{zones}==a")
    on_manager = services.create("--replicas", "2", "--constraint", "node.role==manager")
    spread = services.create("--replicas", "2", "--placement-pref", f"spread=node.labels.{zones}")
    assert len(running_nodes(swarm, in_a, 2)) == 2
    (manager,) = running_nodes(swarm, on_manager, 2)
    running_nodes(swarm, spread, 2)
    config = write_config(tmp_path / "config.toml", swarm.manager, extra=f'zone_label = "{zones}"\n')
    findings = {f["service"]: f for f in doctor(capsys, config, in_a, on_manager, spread)
                if f["rule"] == "single-zone"}
    assert set(findings) == {in_a, on_manager}, "the spread service is in both zones"
    assert findings[in_a]["why"] == "all 2 running tasks in zone a: losing that zone takes the service down"
    assert findings[in_a]["severity"] == "low"
    assert findings[in_a]["fix"] == f"docker service update --placement-pref-add spread=node.labels.{zones} {in_a}"
    assert findings[on_manager]["why"] == (f"all 2 running tasks on node {manager}: losing that node takes the "
                                           "service down")
    assert findings[on_manager]["severity"] == "medium"
    assert findings[on_manager]["fix"].endswith(f"docker service update --force {on_manager}")
    # Pasted as written, the fix lands in the spec.
    words = shlex.split(findings[in_a]["fix"])
    docker(swarm.manager, *words[1:-1], "--detach", words[-1])
    preferences = docker(swarm.manager, "service", "inspect", in_a, "--format",
                         "{{json .Spec.TaskTemplate.Placement.Preferences}}")
    assert json.loads(preferences) == [{"Spread": {"SpreadDescriptor": f"node.labels.{zones}"}}]
    # Without zone_label, only the one-node finding is left.
    plain = write_config(tmp_path / "plain.toml", swarm.manager)
    assert {f["service"] for f in doctor(capsys, plain, in_a, on_manager, spread)
            if f["rule"] == "single-zone"} == {on_manager}


@pytest.fixture
def drifting_tag(swarm: SwarmInfo) -> Iterator[str]:
    """One tag, two images: app:1 under it on the first worker, app:2 on the second (as after a moved tag)."""
    tag = f"pilothouse-test/drift-{uuid.uuid4().hex[:6]}:1"
    first, second = sorted(swarm.workers)
    docker(swarm.workers[first], "tag", "pilothouse-test/app:1", tag)
    docker(swarm.workers[second], "tag", "pilothouse-test/app:2", tag)
    yield tag
    for url in swarm.workers.values():
        docker(url, "rmi", tag, check=False)


@pytest.fixture
def engines(swarm: SwarmInfo, tmp_path: Path) -> str:
    """A node_engine template over the test swarm's engine sockets, one link per node hostname."""
    folder = tmp_path / "engines"
    folder.mkdir()
    manager = docker(swarm.manager, "node", "inspect", "self", "--format", "{{.Description.Hostname}}").strip()
    for name, url in {**swarm.workers, manager: swarm.manager}.items():
        (folder / f"{name}.sock").symlink_to(url.removeprefix("unix://"))
    return f"unix://{folder}/{{node}}.sock"


def image_id(url: str, tag: str) -> str:
    return docker(url, "image", "inspect", tag, "--format", "{{.Id}}").strip()


def test_node_engines_tell_which_task_runs_which_image(
        swarm: SwarmInfo, services: Services, drifting_tag: str, engines: str, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    name = services.create("--replicas", "2", "--replicas-max-per-node", "1", "--constraint", "node.role==worker",
                           image=drifting_tag)
    assert running_nodes(swarm, name, 2) == set(swarm.workers)
    first, second = sorted(swarm.workers)
    ids = {first: image_id(swarm.workers[first], drifting_tag), second: image_id(swarm.workers[second], drifting_tag)}
    assert ids[first] != ids[second]
    slots = dict(line.split() for line in docker(
        swarm.manager, "service", "ps", name, "--filter", "desired-state=running", "--format",
        "{{.Node}} {{.Name}}").splitlines())
    # Without node_engine: the weaker finding only.
    plain = write_config(tmp_path / "plain.toml", swarm.manager)
    assert [(f["rule"], f["severity"]) for f in doctor(capsys, plain, name)] == [("image-drift", "low")]
    config = write_config(tmp_path / "config.toml", swarm.manager, extra=f'node_engine = "{engines}"\n')
    (finding,) = doctor(capsys, config, name)
    assert (finding["rule"], finding["severity"]) == ("image-drift", "medium")
    runs = sorted(f"{ids[node][:19]} on 1 task ({slots[node]})" for node in (first, second))
    assert finding["why"].startswith(f"{drifting_tag} runs as 2 different images: {runs[0]}; {runs[1]}.")
    # Image ids cannot be pulled by: the fix asks for the registry's digest instead of inventing one.
    assert finding["fix"].endswith(f"docker service update --image {drifting_tag}@sha256:DIGEST {name}")


def test_an_engine_out_of_reach_leaves_the_weaker_finding_naming_it(
        swarm: SwarmInfo, services: Services, engines: str, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    name = services.create("--replicas", "2", "--replicas-max-per-node", "1", "--constraint", "node.role==worker")
    assert running_nodes(swarm, name, 2) == set(swarm.workers)
    first, second = sorted(swarm.workers)
    # The second worker's engine socket does not exist: its task cannot be told, the first's can.
    folder = engines.removeprefix("unix://").rsplit("/", 1)[0]
    (Path(folder) / f"{second}.sock").unlink()
    config = write_config(tmp_path / "config.toml", swarm.manager, extra=f'node_engine = "{engines}"\n')
    (finding,) = doctor(capsys, config, name)
    assert (finding["rule"], finding["severity"]) == ("image-drift", "low")
    assert finding["why"].endswith(f"; node engines not read: {second} (nothing answers at unix://{folder}/"
                                   f"{second}.sock (connection refused or no such socket))")
    assert first not in finding["why"]
    # No engine at all: every node named, on one line.
    gone = write_config(tmp_path / "gone.toml", swarm.manager,
                        extra=f'node_engine = "unix://{tmp_path}/missing/{{node}}.sock"\n')
    (finding,) = doctor(capsys, gone, name)
    assert (finding["rule"], finding["severity"]) == ("image-drift", "low")
    assert "\n" not in finding["why"]
    assert finding["why"].count("nothing answers at") == 2
    assert f"node engines not read: {first} (nothing answers at unix://{tmp_path}/missing/{first}.sock" in (
        finding["why"])
