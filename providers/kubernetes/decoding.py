"""Typed decoding of pod and Event list pages and watch events straight into their cache projections.

json.loads builds every field of a 3 KB pod (some 20 KB of dicts) only for projection.py to keep a tenth of
it: at 10k pods that is most of the CPU of a first sync (a 500-pod page: 10 ms of json, 12 ms of projection).
msgspec decodes the same page into TypedDicts mirroring exactly what projection.py keeps, skipping every
other field without building it (2 ms), and TypedDicts decode to plain dicts, so the caches hold the same
shapes as before and every reader works unchanged.

The types are strict where the projection looks inside a value (metadata, containers, conditions, statuses
must be objects and lists) and nullable where it keeps a value as it came. Anything else (a mistyped field
anywhere, JSON msgspec reads differently, an ERROR watch event) makes typed decoding refuse, and that page or
event is decoded as before: json.loads and the Python projection, so hostile data reads exactly as it always
did. A small pass then does what a type cannot say: only the Ready and PodScheduled conditions, `running`
emptied, repeated strings interned (as projection.py does).
"""

from __future__ import annotations

import json
import sys
from typing import Any, TypedDict

import msgspec

from pilothouse.providers.kubernetes.objects import EVENTS, PODS, Kind, Obj, _dict, _key, _list
from pilothouse.providers.kubernetes.projection import POD_CONDITIONS, project


class _Owner(TypedDict, total=False):
    kind: str | None
    name: str | None
    uid: str | None
    controller: bool | None


class _EventMeta(TypedDict, total=False):  # an Event's owners are never read
    name: str | None
    namespace: str | None
    uid: str | None
    resourceVersion: str | None
    creationTimestamp: str | None
    deletionTimestamp: str | None
    labels: dict[str, str] | None


class _Meta(_EventMeta, total=False):
    ownerReferences: list[_Owner]


class _Container(TypedDict, total=False):
    name: str | None
    image: str | None


class _PodSpec(TypedDict, total=False):
    nodeName: str | None
    containers: list[_Container]


class _Condition(TypedDict, total=False):
    type: str | None
    status: str | None
    reason: str | None
    message: str | None
    lastTransitionTime: str | None


class _ContainerStatus(TypedDict, total=False):
    name: str | None
    restartCount: int | None
    image: str | None
    imageID: str | None
    state: dict[str, Any] | None
    lastState: dict[str, Any] | None


class _PodStatus(TypedDict, total=False):
    phase: str | None
    reason: str | None
    message: str | None
    startTime: str | None
    podIP: str | None
    conditions: list[_Condition]
    initContainerStatuses: list[_ContainerStatus] | None
    containerStatuses: list[_ContainerStatus] | None


class PodProjection(TypedDict, total=False):
    """What projection.project_pod keeps of a pod."""

    metadata: _Meta
    spec: _PodSpec
    status: _PodStatus


class _Involved(TypedDict, total=False):
    kind: str | None
    namespace: str | None
    name: str | None


class EventProjection(TypedDict, total=False):
    """What projection.project_event keeps of an Event."""

    metadata: _EventMeta
    involvedObject: _Involved | None
    reason: str | None
    message: str | None
    type: str | None
    count: int | None
    lastTimestamp: str | None
    eventTime: str | None
    firstTimestamp: str | None


class _PodListPage(TypedDict, total=False):
    metadata: dict[str, Any]
    items: list[PodProjection]


class _EventListPage(TypedDict, total=False):
    metadata: dict[str, Any]
    items: list[EventProjection]


class _PodWatchEvent(TypedDict, total=False):
    type: str
    object: PodProjection


class _EventWatchEvent(TypedDict, total=False):
    type: str
    object: EventProjection


_PAGES: dict[Kind, msgspec.json.Decoder[Any]] = {
    PODS: msgspec.json.Decoder(_PodListPage), EVENTS: msgspec.json.Decoder(_EventListPage)}
_EVENTS: dict[Kind, msgspec.json.Decoder[Any]] = {
    PODS: msgspec.json.Decoder(_PodWatchEvent), EVENTS: msgspec.json.Decoder(_EventWatchEvent)}


# The pass runs 30-odd times a pod: sys.intern inline (what projection.shared does, bar its length cap, which
# only spares long messages the intern table) instead of a call per string halves its cost.
_intern = sys.intern


def _interned(source: Obj) -> None:
    """Every string value of `source` interned, in place."""
    for field, value in source.items():
        if value.__class__ is str:
            source[field] = _intern(value)


def _finish_meta(meta: Obj) -> None:
    value = meta.get("namespace")
    if value is not None:
        meta["namespace"] = _intern(value)
    value = meta.get("creationTimestamp")
    if value is not None:
        meta["creationTimestamp"] = _intern(value)
    labels = meta.get("labels")
    if labels:
        meta["labels"] = {_intern(key): _intern(value) for key, value in labels.items()}
    for owner in meta.get("ownerReferences", ()):
        _interned(owner)


def _finish_statuses(statuses: list[Obj] | None) -> None:
    for status in statuses or ():
        _interned(status)
        for field in ("state", "lastState"):
            state = status.get(field)
            if state:
                status[field] = {_intern(phase): {} if phase == "running" else detail
                                 for phase, detail in state.items()}


def _finish_pod(pod: Obj) -> Obj:
    """What the types cannot say, done to a typed-decoded pod: see the module's docstring."""
    meta = pod.get("metadata")
    if meta is None:
        pod["metadata"] = {}
    else:
        _finish_meta(meta)
    spec = pod.get("spec")
    if spec is not None:
        node = spec.get("nodeName")
        if node is not None:
            spec["nodeName"] = _intern(node)
        for container in spec.get("containers", ()):
            _interned(container)
    status = pod.get("status")
    if status is not None:
        _interned(status)
        conditions = status.get("conditions")
        if conditions is not None:
            kept = [condition for condition in conditions if condition.get("type") in POD_CONDITIONS]
            for condition in kept:
                _interned(condition)
            status["conditions"] = kept
        _finish_statuses(status.get("initContainerStatuses"))
        _finish_statuses(status.get("containerStatuses"))
    return pod


def _finish_event(event: Obj) -> Obj:
    _interned(event)
    meta = event.get("metadata")
    if meta is None:
        event["metadata"] = {}
    else:
        _finish_meta(meta)
    involved = event.get("involvedObject")
    if involved is None:
        event["involvedObject"] = None
    else:
        _interned(involved)
    return event


def _finish(kind: Kind, obj: Obj) -> Obj:
    return _finish_pod(obj) if kind is PODS else _finish_event(obj)


def decode_typed_page(kind: Kind, body: bytes) -> Obj | None:
    """A pod or Event list page decoded typed, its items the cache's projections; None where the page is of
    another kind or typed decoding refuses it."""
    decoder = _PAGES.get(kind)
    if decoder is None or not body:
        return None
    try:
        page: Obj = decoder.decode(body)
    except msgspec.DecodeError:  # hostile or unusual: the caller reads it the old way, exactly as before
        return None
    page["items"] = [_finish(kind, item) for item in page.get("items") or ()]
    return page


def decode_page(kind: Kind, body: bytes, into: dict[tuple[str, str], Obj]) -> Obj:
    """A list page decoded and its items projected into `into`; the page without its items is returned."""
    page = decode_typed_page(kind, body)
    if page is not None:
        for kept in page.pop("items"):
            into[_key(kept)] = kept
        return page
    page = _dict(json.loads(body)) if body else {}
    for whole in _list(page.pop("items", None)):
        if isinstance(whole, dict):
            kept = project(kind, whole)
            into[_key(kept)] = kept
    return page


def decode_watch_event(kind: Kind, line: bytes | str) -> tuple[Obj, bool]:
    """One watch event, and whether its object is already the cache's projection (else it is whole)."""
    decoder = _EVENTS.get(kind)
    if decoder is not None:
        try:
            event: Obj = decoder.decode(line)
        except msgspec.DecodeError:
            pass
        else:
            obj = event.get("object")
            # An ERROR's object is a Status, read whole; an event without an object is read as before.
            if obj is not None and event.get("type") != "ERROR":
                event["object"] = _finish(kind, obj)
                return event, True
    return _dict(json.loads(line)), False
