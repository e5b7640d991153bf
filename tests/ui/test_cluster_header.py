"""The per-cluster header line says what an operator must not miss: stale data, forbidden kinds, narrow scope."""

from __future__ import annotations

from datetime import UTC, datetime

from pilothouse.providers.model import Cluster, ClusterKind, ConnectionState
from pilothouse.widgets.cluster_header import MAX_LINES, cluster_line, header_lines


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


def test_many_clusters_never_drop_one_silently() -> None:
    healthy = [Cluster(name=f"ok-{index}", kind=ClusterKind.SWARM, state=ConnectionState.CONNECTED)
               for index in range(5)]
    broken = [Cluster(name=f"down-{index}", kind=ClusterKind.ECS, state=ConnectionState.UNREACHABLE,
                      error=f"reason {index}") for index in range(4)]
    lines = [line.plain for line in header_lines([*healthy, *broken])]
    assert len(lines) <= MAX_LINES
    text = "\n".join(lines)
    # The broken ones first (with their reasons as room allows), the healthy ones counted and named.
    assert "down-0" in text and "reason 0" in text
    assert "+5 connected: ok-0, ok-1, ok-2, ok-3, ok-4" in lines[-1]
    shown_broken = sum(f"down-{index}" in text for index in range(4))
    assert shown_broken == 4 or f"+{4 - shown_broken} more with problems" in lines[-1]


def test_a_few_clusters_show_in_config_order_with_their_notes() -> None:
    clusters = [Cluster(name="a", kind=ClusterKind.SWARM, state=ConnectionState.CONNECTED),
                Cluster(name="b", kind=ClusterKind.ECS, state=ConnectionState.UNREACHABLE, error="why")]
    lines = [line.plain for line in header_lines(clusters)]
    assert len(lines) == 3 and lines[0].lstrip().startswith("a ") and "why" in lines[2]


def test_an_attention_summary_of_hundreds_of_services_stops_past_the_widest_line() -> None:
    """An event storm puts hundreds of services on the line; only what a terminal line can show is built."""
    from pilothouse.providers.attention import Attention, Level, Reason
    from pilothouse.widgets.cluster_header import SUMMARY_MAX_CHARS, attention_summary

    restarting = Attention(Level.WARNING, (Reason(Level.WARNING, "restarting", "restarting 3x", "3 restarts"),))
    needing = [(f"team-{index % 20:02d}/svc-{index:04d}", restarting) for index in range(600)]
    summary = attention_summary(needing).plain
    assert summary.startswith("! 600 need attention: ! team-00/svc-0000 restarting 3x · ")
    assert SUMMARY_MAX_CHARS < len(summary) < SUMMARY_MAX_CHARS + 100
    assert summary.endswith(" · …")
    assert len(attention_summary(needing[:3]).plain) < 200  # a short list is whole, no ellipsis
