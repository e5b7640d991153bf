"""The per-cluster header line says what an operator must not miss: stale data, forbidden kinds, narrow scope."""

from __future__ import annotations

from datetime import UTC, datetime

from providers.model import Cluster, ClusterKind, ConnectionState
from widgets.cluster_header import cluster_line


def test_a_narrowed_cluster_says_which_part_is_shown() -> None:
    cluster = Cluster(name="team", kind=ClusterKind.KUBERNETES, state=ConnectionState.DEGRADED,
                      last_sync=datetime(2026, 1, 1, 12, 0, tzinfo=UTC), forbidden=("nodes",),
                      scope="namespace team-a only (listing the whole cluster is forbidden)")
    line = cluster_line(cluster).plain
    assert "namespace team-a only" in line
    assert "forbidden: nodes" in line
    assert line.index("namespace team-a") < line.index("forbidden: nodes")
    assert line.count("forbidden: nodes") == 1


def test_a_whole_cluster_has_no_scope_note() -> None:
    line = cluster_line(Cluster(name="prod", kind=ClusterKind.SWARM, state=ConnectionState.CONNECTED)).plain
    assert "namespace" not in line and "forbidden" not in line


def test_a_cluster_whose_credentials_failed_says_how_to_log_in() -> None:
    cluster = Cluster(name="eks", kind=ClusterKind.KUBERNETES, state=ConnectionState.UNREACHABLE,
                      needs_login=True, error="connecting: Unauthorized: log in again")
    hint = "to log in: ctrl+p, then 'log in eks'"
    assert hint in cluster_line(cluster, hint).plain
    assert "to log in" not in cluster_line(cluster).plain  # no login command: nothing to offer
    healthy = Cluster(name="eks", kind=ClusterKind.KUBERNETES, state=ConnectionState.CONNECTED)
    assert "to log in" not in cluster_line(healthy, hint).plain
