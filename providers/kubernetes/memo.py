"""What one snapshot's mapping can reuse from the last: an event storm changes a few hundred of 10,000 pods
between two snapshots, and mapping all of them again cost 0.5-1 s of CPU on a thread that shares the interpreter
with the UI (issue 15).

The watch caches replace an object whenever it changes (a projection made from the event), never edit it, so
"the same object" (identity) means "unchanged": a workload is mapped again only when its own object, one of its
pods, one of its ReplicaSets or ControllerRevisions, its ref or the cluster's PersistentVolumeClaims changed, and
its Service is otherwise copied from the last mapping. The one input that is not an object is the clock: a pod
failing readiness for less than the grace period turns unhealthy by time alone, so a workload with such a pod is
always mapped again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from pilothouse.providers.model import Health, Service, TaskState
from pilothouse.providers.priority import checkpoint

Obj = dict[str, Any]
OwnerKey = tuple[str, str, str]
WorkloadKey = tuple[str, str, str]  # kind, namespace, name


def same(first: Sequence[object], second: Sequence[object]) -> bool:
    return len(first) == len(second) and all(a is b for a, b in zip(first, second, strict=True))


def time_dependent(service: Service) -> bool:
    """A running pod not ready yet and not failing long: its health changes with the clock alone."""
    return any(task.health is Health.STARTING and task.state is TaskState.RUNNING for task in service.tasks)


class MappingMemo:
    """Kept by a provider across its snapshots (one thread at a time: its refresher's)."""

    def __init__(self) -> None:
        self._owners: dict[int, tuple[Obj, OwnerKey]] = {}
        self._next_owners: dict[int, tuple[Obj, OwnerKey]] = {}
        # (kind, namespace, name) -> (the objects it was mapped from, its ref, the Service as mapped)
        self._workloads: dict[WorkloadKey, tuple[tuple[Obj, ...], str, Service]] = {}
        self._seen: set[WorkloadKey] = set()
        self._claims: tuple[Obj, ...] = ()
        self.mapped = self.reused = 0  # workloads of the last snapshot, for tests and benchmarks

    def begin(self, claims: Sequence[Obj]) -> None:
        claims = tuple(claims)
        if not same(claims, self._claims):  # rare: claims feed every workload's volumes
            self._workloads.clear()
            self._claims = claims
        self._next_owners = {}
        self._seen = set()
        self.mapped = self.reused = 0

    def owner(self, obj: Obj, compute: Callable[[Obj], OwnerKey]) -> OwnerKey:
        checkpoint()  # per pod: a key pressed meanwhile is answered first (providers/priority.py)
        known = self._owners.get(id(obj))
        key = known[1] if known is not None and known[0] is obj else compute(obj)
        self._next_owners[id(obj)] = (obj, key)  # holds obj: its id cannot be reused while remembered
        return key

    def reuse(self, key: WorkloadKey, inputs: tuple[Obj, ...], ref: str) -> Service | None:
        """The workload's Service as last mapped, if it was mapped from these very objects; else None."""
        checkpoint()
        self._seen.add(key)
        known = self._workloads.get(key)
        if known is None or known[1] != ref or not same(known[0], inputs):
            return None
        self.reused += 1
        # A copy: each snapshot sets the autoscaler, staleness and reachability on its own Services.
        return replace(known[2])

    def keep(self, key: WorkloadKey, inputs: tuple[Obj, ...], ref: str, service: Service) -> Service:
        """Remember a freshly mapped Service (unless the clock alone may change it); the copy to hand out."""
        self.mapped += 1
        if time_dependent(service):
            self._workloads.pop(key, None)
            return service
        self._workloads[key] = (inputs, ref, service)
        return replace(service)

    def end(self) -> None:
        self._owners, self._next_owners = self._next_owners, {}
        for key in [key for key in self._workloads if key not in self._seen]:
            del self._workloads[key]
