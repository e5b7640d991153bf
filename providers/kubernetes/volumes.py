"""A pod template's volumes as the mounts the doctor judges, with the access modes of their claims.

A PersistentVolumeClaim's access modes live on the claim, not in the pod template: the claims come from
their own reflector (`claims`, by (namespace, name)); a claim not in the cache (not created yet, or the
kind is forbidden) has unknown access modes. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping

from pilothouse.providers.kubernetes.objects import Obj, _dict, _list, _str
from pilothouse.providers.model import Mount, VolumeKind

Claims = Mapping[tuple[str, str], Obj]

_CONFIG_SOURCES = {"configMap": "name", "secret": "secretName", "projected": "", "downwardAPI": ""}
_EPHEMERAL_SOURCES = ("emptyDir", "ephemeral")
HOSTNAME_LABEL = "kubernetes.io/hostname"


def access_modes(claim: Obj) -> tuple[str, ...]:
    """What the bound volume allows (status), else what was asked for (spec)."""
    status = [_str(mode) for mode in _list(_dict(claim.get("status")).get("accessModes")) if _str(mode)]
    spec = [_str(mode) for mode in _list(_dict(claim.get("spec")).get("accessModes")) if _str(mode)]
    return tuple(status or spec)


def _volume_mount(volume: Obj, target: str, read_only: bool, namespace: str, claims: Claims) -> Mount:
    name = _str(volume.get("name"))
    if isinstance(volume.get("hostPath"), dict):
        return Mount(VolumeKind.HOST_PATH, target, _str(volume["hostPath"].get("path")), read_only, name)
    if isinstance(volume.get("persistentVolumeClaim"), dict):
        source = volume["persistentVolumeClaim"]
        claim = _str(source.get("claimName"))
        modes = access_modes(claims[(namespace, claim)]) if (namespace, claim) in claims else ()
        return Mount(VolumeKind.PVC, target, claim, read_only or source.get("readOnly") is True, name,
                     access_modes=modes)
    for key, field in _CONFIG_SOURCES.items():
        if key in volume:
            return Mount(VolumeKind.CONFIG, target, _str(_dict(volume[key]).get(field)) if field else name,
                         read_only, name)
    if any(key in volume for key in _EPHEMERAL_SOURCES):
        return Mount(VolumeKind.EPHEMERAL, target, name, read_only, name)
    kind = next((key for key, value in volume.items() if key != "name" and isinstance(value, dict)), "volume")
    source = _dict(volume.get(kind))
    return Mount(VolumeKind.OTHER, target, _str(source.get("path") or source.get("server")) or name, read_only,
                 name, driver=kind)


def map_mounts(container: Obj, volumes: object, namespace: str = "", claims: Claims | None = None,
               claim_templates: object = None) -> tuple[Mount, ...]:
    """One container's volumeMounts; `volumes` is the pod's spec.volumes, `claim_templates` a StatefulSet's
    volumeClaimTemplates (a claim per pod: mounted by name, absent from spec.volumes)."""
    by_name = {_str(_dict(v).get("name")): _dict(v) for v in _list(volumes)}
    templates = {_str(_dict(t.get("metadata")).get("name")): t for t in map(_dict, _list(claim_templates))}
    mounts = []
    for raw in _list(container.get("volumeMounts")):
        raw = _dict(raw)
        name, target, read_only = _str(raw.get("name")), _str(raw.get("mountPath")), raw.get("readOnly") is True
        if name in by_name:
            mounts.append(_volume_mount(by_name[name], target, read_only, namespace, claims or {}))
        elif name in templates:
            mounts.append(Mount(VolumeKind.PVC, target, name, read_only, name,
                                access_modes=access_modes(templates[name]), per_task=True))
        else:
            mounts.append(Mount(VolumeKind.OTHER, target, name, read_only, name))
    return tuple(mounts)


def pinned_node(pod_spec: Obj) -> str:
    """The node a pod template is held to: nodeName, or a nodeSelector on the hostname label."""
    return _str(pod_spec.get("nodeName")) or _str(_dict(pod_spec.get("nodeSelector")).get(HOSTNAME_LABEL))
