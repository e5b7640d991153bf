"""The watch caches keep compact projections (providers/kubernetes/projection.py): whatever the API server
sends, a projection must read exactly as the whole object does for everything that reads the cache: the
mapping into tasks and events, the log readers and the owner lookups. Checked on the fuzz tests' corrupted
objects (fields removed, nulled, mistyped) and on the test server's own. Pods and Events are read through both
decoders (decoding.py): typed straight into the projection, or, where typed decoding refuses, json.loads and
projection.py; either way the cache must hold exactly what projection.py makes of the whole object."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_k8s_mapping_fuzz import CRASHING, EVENT, FUZZ, NODE, POD, RS, corrupted

from pilothouse.providers.errors import ProviderError
from pilothouse.providers.kubernetes.decoding import decode_page, decode_typed_page, decode_watch_event
from pilothouse.providers.kubernetes.logs import pod_identity, pod_log_streams
from pilothouse.providers.kubernetes.mapping import event_time, map_event, map_pod
from pilothouse.providers.kubernetes.objects import (
    EVENTS,
    NODES,
    PODS,
    Kind,
    _key,
    controller_owner,
    labels_of,
    meta_of,
)
from pilothouse.providers.kubernetes.projection import project

pytestmark = pytest.mark.kubernetes

Obj = dict[str, Any]
NOW = datetime(2024, 5, 2, tzinfo=UTC)


def _outcome(read: Any, obj: Obj) -> Any:
    try:
        return read(obj)
    except ProviderError as error:  # a typed refusal (no such container) must be the same refusal
        return type(error), str(error)


def _canonical(value: Any) -> str:
    """Equality that also holds for NaN (a NaN equals no other), key order aside; 1, 1.0 and True differ."""
    return json.dumps(value, sort_keys=True)


def _decoded(kind: Kind, whole: Obj) -> tuple[Obj, bool]:
    """`whole` sent as a one-item list page and as a watch event, read through decoding.py: what the cache
    keeps (both must be what projection.py makes of the whole), and whether typed decoding took it."""
    expected = _canonical(project(kind, json.loads(json.dumps(whole))))
    body = json.dumps({"kind": "List", "metadata": {"resourceVersion": "7"}, "items": [whole]}).encode()
    into: dict[tuple[str, str], Obj] = {}
    assert meta_of(decode_page(kind, body, into)) == {"resourceVersion": "7"}
    (kept,) = into.values()
    assert _canonical(kept) == expected
    typed = decode_typed_page(kind, body)
    event, projected = decode_watch_event(kind, json.dumps({"type": "MODIFIED", "object": whole}))
    assert projected == (typed is not None)  # the page and the event refuse alike
    assert _canonical(event["object"] if projected else project(kind, event["object"])) == expected
    return kept, typed is not None


def _same_pod_reading(whole: Obj) -> None:
    kept, _ = _decoded(PODS, whole)
    for read in (lambda o: map_pod(o, "deployment/prod/web", NOW), lambda o: pod_log_streams(o, "", NOW),
                 lambda o: pod_log_streams(o, "app", NOW), _key, labels_of, pod_identity,
                 lambda o: [controller_owner(o).get(field) for field in ("kind", "name", "uid", "controller")],
                 lambda o: bool(o.get("metadata", {}).get("deletionTimestamp") if isinstance(o.get("metadata"),
                                                                                             dict) else None)):
        assert _outcome(read, kept) == _outcome(read, whole)


@FUZZ
@given(pod_obj=st.one_of(corrupted(POD), corrupted(CRASHING)))
def test_a_projected_pod_reads_as_the_whole_pod(pod_obj: Obj) -> None:
    _same_pod_reading(pod_obj)


@FUZZ
@given(event_obj=corrupted(EVENT))
def test_a_projected_event_reads_as_the_whole_event(event_obj: Obj) -> None:
    kept, _ = _decoded(EVENTS, event_obj)
    for read in (lambda o: map_event(o, "prod", "prod/web"), event_time, _key):
        assert read(kept) == read(event_obj)


def test_the_real_shapes_read_the_same_and_keep_less() -> None:
    for whole in (POD, CRASHING):
        _same_pod_reading(whole)
        kept = project(PODS, whole)
        assert "containers" in kept["spec"] and "env" not in kept["spec"]["containers"][0]
        assert len(repr(kept)) < len(repr(whole)) * 0.7
    # Kinds kept whole lose only managedFields, which nothing reads.
    managed = {**NODE, "metadata": {**NODE["metadata"], "managedFields": [{"manager": "kubelet"}]}}
    assert project(NODES, managed) == NODE
    assert project(NODES, RS) is RS


def test_the_real_shapes_decode_typed_and_a_mistyped_field_falls_back() -> None:
    for kind, whole in ((PODS, POD), (PODS, CRASHING), (EVENTS, EVENT)):
        kept, typed = _decoded(kind, whole)
        assert typed, "the shapes a real API server sends take the fast path"
        namespace = kept["metadata"]["namespace"]
        assert namespace is sys.intern(namespace)  # repeated strings are still held once
    mistyped = {**POD, "metadata": {**POD["metadata"], "labels": {"app": 7}}}
    kept, typed = _decoded(PODS, mistyped)
    assert not typed and kept["metadata"]["labels"] == {"app": 7}
    # A Status in an ERROR event is read whole, for its code.
    event, projected = decode_watch_event(PODS, json.dumps({"type": "ERROR", "object": {"code": 410}}))
    assert not projected and event["object"] == {"code": 410}
