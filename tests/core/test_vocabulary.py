"""Each orchestrator in its own words: the built-in providers' vocabularies, found by kind through the registry
(the demo speaks the words of what it imitates), and the open cluster kind."""

from __future__ import annotations

import pytest

from pilothouse.providers import registry
from pilothouse.providers.base import Action, ClusterConfig
from pilothouse.providers.demo import DemoProvider
from pilothouse.providers.model import Availability, ClusterKind, Node, NodeStatus, Service, ServiceMode
from pilothouse.providers.vocabulary import GENERIC


def node(status: NodeStatus, availability: Availability = Availability.ACTIVE, message: str = "") -> Node:
    return Node(id="n1", name="n1", status=status, availability=availability, message=message)


def test_the_kind_is_open_and_interned() -> None:
    assert ClusterKind("kubernetes") is ClusterKind.KUBERNETES
    assert ClusterKind(" Nomad-Like ") == "nomad-like" and ClusterKind("nomad-like").value == "nomad-like"
    assert list(ClusterKind) == [ClusterKind.SWARM, ClusterKind.KUBERNETES, ClusterKind.ECS]
    for bad in ("", "9lives", "a b", "x" * 41, "swarm;rm"):
        with pytest.raises(ValueError, match="cluster kind"):
            ClusterKind(bad)


@pytest.mark.parametrize(("kind", "ready", "down", "cordoned", "drained"), [
    ("kubernetes", "Ready", "NotReady", "Ready,SchedulingDisabled", "Ready,SchedulingDisabled"),
    ("swarm", "Ready", "Down", "Ready Pause", "Ready Drain"),
    ("ecs", "ACTIVE", "INACTIVE", "ACTIVE DRAINING", "ACTIVE DRAINING"),
])
def test_node_states_in_their_words(kind: str, ready: str, down: str, cordoned: str, drained: str) -> None:
    words = registry.vocabulary_for(kind)
    assert words.node_state(node(NodeStatus.READY)) == ready
    assert words.node_state(node(NodeStatus.DOWN)) == down
    assert words.node_state(node(NodeStatus.READY, Availability.PAUSE)) == cordoned
    assert words.node_state(node(NodeStatus.READY, Availability.DRAIN)) == drained


def test_an_ecs_instance_whose_agent_is_gone_is_not_called_inactive() -> None:
    words = registry.vocabulary_for("ecs")
    assert words.node_state(node(NodeStatus.DOWN, message="ECS agent disconnected")) == \
        "down (ECS agent disconnected)"


@pytest.mark.parametrize(("kind", "task", "node_word", "extras", "state"), [
    ("kubernetes", "pod", "node", ("restarts",), "STATUS"),
    ("swarm", "task", "node", ("slot",), "CURRENT STATE"),
    ("ecs", "task", "container instance", ("desired",), "LAST STATUS"),
])
def test_task_words(kind: str, task: str, node_word: str, extras: tuple[str, ...], state: str) -> None:
    words = registry.vocabulary_for(kind)
    assert (words.task, words.node, words.task_extras, words.state_column) == (task, node_word, extras, state)


def test_an_unknown_kind_gets_plain_words() -> None:
    assert registry.vocabulary_for("no-such-orchestrator") is GENERIC


@pytest.mark.parametrize(("flavor", "refusal"), [
    ("kubernetes", "prod/node-exporter is a DaemonSet: it runs one pod per node and cannot be scaled; "
                   "change its nodeSelector, affinity or tolerations to change where it runs"),
    ("swarm", "monitoring_node-exporter is a global service: it runs one task per node and cannot be scaled; "
              "change its placement constraints to change where it runs"),
])
def test_scale_refusals_in_the_demo_imitations_words(flavor: str, refusal: str) -> None:
    provider = DemoProvider(ClusterConfig(name=f"demo-{flavor}", provider="demo", options={"flavor": flavor,
                                                                                         "frozen_at": 12.0}))
    assert provider.words is registry.vocabulary_for(flavor)
    daemon = next(service for service in provider.snapshot().services if service.mode is ServiceMode.GLOBAL)
    expected = refusal.replace("prod/node-exporter", daemon.ref)
    assert provider.refusal(Action.SCALE, daemon) == expected


def test_ecs_daemon_refusal() -> None:
    words = registry.vocabulary_for("ecs")
    service = Service(id="s", name="agent", ref="agent", mode=ServiceMode.GLOBAL)
    assert words.scale_refusal(service).startswith("agent is a DAEMON service: it runs one task per container "
                                                   "instance")
