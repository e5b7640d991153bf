"""console/state.py: what screens read to know whether their cluster changed since they drew it."""

from __future__ import annotations

from pilothouse.console.state import FleetState
from pilothouse.providers.model import Cluster, ClusterKind, ConnectionState


def snapshot(name: str) -> Cluster:
    return Cluster(name=name, kind=ClusterKind.SWARM, state=ConnectionState.CONNECTED)


def test_a_clusters_revision_changes_with_its_own_updates_only() -> None:
    state = FleetState.connecting({"a": ClusterKind.SWARM, "b": ClusterKind.KUBERNETES}, demo=set())
    assert state.revision("a") == state.revision("b") == 0, "placeholders: nothing drawn from a snapshot yet"
    state.update(snapshot("a"))
    first = state.revision("a")
    assert first != 0 and state.revision("b") == 0
    state.update(snapshot("b"))
    assert state.revision("a") == first, "another cluster's snapshot is not a change of this one"
    state.update(snapshot("a"))
    assert state.revision("a") not in (0, first)
    assert state.revision("gone") == 0


def test_the_same_snapshot_handed_over_again_is_a_new_revision() -> None:
    """Findings and attention come with each update: a screen draws them again even for the same object."""
    state = FleetState()
    same = snapshot("a")
    state.update(same)
    first = state.revision("a")
    state.update(same, findings=[])
    assert state.revision("a") != first
